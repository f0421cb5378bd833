"""Plots: the precision-recall panels draw the envelope, AP and best F1; without matplotlib, one clear line."""
import os
import sys

import numpy as np
import pytest

from cityscapesscripts import plotting
from cityscapesscripts.evaluation import evalInstanceLevelSemanticLabeling as instance_eval
from cityscapesscripts.evaluation import evalPixelLevelSemanticLabeling as pixel_eval
from cityscapesscripts.evaluation import instance_ap, plots

from conftest import GOLDEN

SMALL = os.path.join(GOLDEN, "small")


def test_pr_panel_draws_the_envelope_and_the_best_f1():
    plt = plotting.pyplot()
    fig, ax = plt.subplots()
    # precision / recall at ascending scores, then the end point, as _precision_recall gives them
    precision = np.array([0.5, 0.4, 0.8, 1.0, 1.0])
    recall = np.array([1.0, 0.8, 0.8, 0.4, 0.0])
    thresholds = np.array([0.1, 0.3, 0.5, 0.9, np.inf])
    plots._draw_pr_panel(ax, precision, recall, thresholds, "AP50 0.700")
    raw, envelope, best = ax.lines
    assert list(envelope.get_xdata()) == [0.0, 0.4, 0.8, 0.8, 1.0]
    assert list(envelope.get_ydata()) == [1.0, 1.0, 0.8, 0.8, 0.5]  # never increases with recall
    assert envelope.get_label() == "AP50 0.700"
    # F1: 2PR/(P+R) is highest at recall 0.8, precision 0.8 (score 0.5)
    assert (best.get_xdata()[0], best.get_ydata()[0]) == (0.8, 0.8)
    assert best.get_label() == "best F1 0.80 at score 0.50"
    plt.close(fig)


def test_pr_plot_has_a_panel_per_class(tmp_path, monkeypatch):
    saved = {}
    monkeypatch.setattr(plotting, "save_figure", lambda fig, path, **o: saved.setdefault("fig", fig) and path)
    gt = np.zeros((40, 40), np.uint16)
    gt[0:20, 0:20] = 26000
    gt[20:40, 20:40] = 24000
    acc = instance_ap.InstanceAccumulator()
    acc.add([gt == 26000, gt == 24000], [26, 24], [0.9, 0.2], gt)
    plots.plot_pr_curves(acc.matches, acc.inst_labels, str(tmp_path / "pr.png"))
    axes = [ax for ax in saved["fig"].axes if ax.get_visible()]
    assert [ax.get_title() for ax in axes] == acc.inst_labels
    legends = {ax.get_title(): [t.get_text() for t in ax.get_legend().get_texts()] for ax in axes}
    assert legends["car"][0] == "AP50 1.000" and legends["person"][0] == "AP50 1.000"
    assert legends["truck"] == ["AP50 n/a"]


@pytest.mark.parametrize("module, args", [
    (instance_eval, ["--gt", os.path.join(SMALL, "gtFine", "val"), "--pred", os.path.join(SMALL, "results", "instance")]),
    (pixel_eval, ["--gt", os.path.join(SMALL, "gtFine", "val"), "--pred", os.path.join(SMALL, "results", "semantic")]),
])
def test_plot_without_matplotlib_says_what_to_install(module, args, monkeypatch, capsys, tmp_path):
    monkeypatch.setitem(sys.modules, "matplotlib", None)  # import matplotlib now raises ImportError
    assert module.main(args + ["--plot", str(tmp_path / "x.png"), "--quiet"]) == 1
    captured = capsys.readouterr()
    assert captured.err == "ERROR: plots need matplotlib: pip install matplotlib\n"
    assert captured.out == ""  # said before evaluating anything
