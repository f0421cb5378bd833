"""csPlot3dDetectionResults draws the original's figure (artist by artist) and saves it headless."""
import json
import os

import pytest

from conftest import GOLDEN

matplotlib = pytest.importorskip("matplotlib")  # in the test extra; CI never skips
matplotlib.use("Agg")
import matplotlib.pyplot as plt  # noqa: E402

from cityscapesscripts.evaluation import plot3dResults  # noqa: E402

EXPECTED = os.path.join(GOLDEN, "box3d", "expected")


def _floats(values):
    return [float(v) for v in values]


def artists(figure):
    """The figure's content in the layout of ``expected/plots/*_artists.json`` (without positions)."""
    figure.canvas.draw()
    out = {"size_inches": _floats(figure.get_size_inches()), "dpi": float(figure.dpi), "axes": []}
    for ax in figure.axes:
        entry = {
            "name": ax.name, "axis_on": ax.axison, "title": ax.get_title(), "xlabel": ax.get_xlabel(),
            "ylabel": ax.get_ylabel(), "xlim": _floats(ax.get_xlim()), "ylim": _floats(ax.get_ylim()),
            "xticks": _floats(ax.get_xticks()), "xticklabels": [t.get_text() for t in ax.get_xticklabels()],
            "yticks": _floats(ax.get_yticks()), "yticklabels": [t.get_text() for t in ax.get_yticklabels()],
            "lines": [{"label": line.get_label(), "x": _floats(line.get_xdata()), "y": _floats(line.get_ydata()),
                       "color": _floats(matplotlib.colors.to_rgba(line.get_color())),
                       "linestyle": line.get_linestyle(), "linewidth": float(line.get_linewidth()),
                       "alpha": line.get_alpha()} for line in ax.lines],
            "collections": [{"type": type(c).__name__, "offsets": c.get_offsets().tolist(),
                             "sizes": _floats(c.get_sizes()), "facecolors": c.get_facecolors().tolist(),
                             "alpha": c.get_alpha()} for c in ax.collections],
            "patches": [{"type": type(p).__name__, "xy": p.get_xy().tolist(), "facecolor": _floats(p.get_facecolor()),
                         "alpha": p.get_alpha()} for p in ax.patches],
            "texts": [{"x": float(t.get_position()[0]), "y": float(t.get_position()[1]), "text": t.get_text(),
                       "ha": t.get_horizontalalignment(), "weight": t.get_fontweight(), "size": float(t.get_fontsize())}
                      for t in ax.texts],
        }
        legend = ax.get_legend()
        if legend is not None:
            entry["legend"] = {"labels": [t.get_text() for t in legend.get_texts()], "ncols": legend._ncols}
        out["axes"].append(entry)
    return out


@pytest.mark.parametrize("name", ["results", "results_subset"])
def test_figure_has_the_originals_artists(name):
    with open(os.path.join(EXPECTED, "eval", name + ".json")) as f:
        data = json.load(f)
    figure = plot3dResults.plot_data(data, show=False)
    try:
        actual = artists(figure)
    finally:
        plt.close(figure)
    with open(os.path.join(EXPECTED, "plots", name + "_artists.json")) as f:
        expected = json.load(f)
    for ax in expected["axes"]:
        del ax["position"]  # depends on font metrics
    assert json.loads(json.dumps(actual)) == expected


def test_console_tool_saves_the_figure_headless(_isolated_cwd, monkeypatch, capsys):
    monkeypatch.delenv("DISPLAY", raising=False)
    monkeypatch.delenv("WAYLAND_DISPLAY", raising=False)
    results = os.path.join(EXPECTED, "eval", "results.json")
    assert plot3dResults.main([results, "-o", "figure.png"]) == 0
    with open("figure.png", "rb") as f:
        assert f.read(8) == b"\x89PNG\r\n\x1a\n"
    assert sorted(os.listdir()) == ["figure.png"]
    from PIL import Image
    assert Image.open("figure.png").size == (2000, 1200)
    assert plot3dResults.main([results]) == 1
    assert "save it with -o OUT.png" in capsys.readouterr().err
    assert plot3dResults.main(["missing.json", "-o", "x.png"]) == 1
    assert "ERROR: missing.json: cannot read" in capsys.readouterr().err
    assert sorted(os.listdir()) == ["figure.png"]


def test_without_matplotlib_the_tool_says_what_to_install(_isolated_cwd, monkeypatch, capsys):
    monkeypatch.setattr(plot3dResults, "plt", None)
    assert plot3dResults.main([os.path.join(EXPECTED, "eval", "results.json"), "-o", "figure.png"]) == 1
    assert "pip install matplotlib" in capsys.readouterr().err
    assert os.listdir() == []


def test_evaluation_saves_its_figure(_isolated_cwd):
    from cityscapesscripts.evaluation import evalObjectDetection3d
    root = os.path.join(GOLDEN, "box3d")
    assert evalObjectDetection3d.main(["-gt", os.path.join(root, "gtBbox3d", "val"), "-pred",
                                       os.path.join(root, "results", "predBbox3d"), "--results-folder", "out",
                                       "--noplot", "--plot-file", "figure.png", "-q", "-j", "1"]) == 0
    with open("figure.png", "rb") as f:
        assert f.read(8) == b"\x89PNG\r\n\x1a\n"
    assert sorted(os.listdir()) == ["figure.png", "out"] and os.listdir("out") == ["results.json"]
