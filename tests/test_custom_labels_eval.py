"""The evaluators' ``--labels FILE``: a custom label set, scored as worked out by hand."""
import json

import numpy as np
import pytest

from cityscapesscripts.evaluation import evalInstanceLevelSemanticLabeling as instance_eval
from cityscapesscripts.evaluation import evalPixelLevelSemanticLabeling as pixel_eval
from cityscapesscripts.io import png

FRAME = "lindau_000000_000019"


def write_label_colors(tmp_path, names):
    path = tmp_path / "label_colors.txt"
    path.write_text("0 0 0 background\n" + "".join(f"{i * 40} {i * 40} 0 {name}\n"
                                                   for i, name in enumerate(names, 1)))
    return str(path)


def test_pixel_cli_with_custom_labels(tmp_path, monkeypatch):
    monkeypatch.setattr(pixel_eval.args, "labelSet", pixel_eval.args.labelSet)  # restored after the test
    labels = write_label_colors(tmp_path, ["cat", "dog"])  # ids: background 0 (ignored), cat 1, dog 2
    gt = np.array([[1, 1, 1, 1],
                   [1, 1, 2, 2],
                   [2, 2, 2, 2],
                   [0, 0, 0, 0]], np.uint8)
    pred = np.array([[1, 1, 1, 2],
                     [1, 1, 2, 2],
                     [2, 1, 1, 2],
                     [1, 2, 1, 2]], np.uint8)  # the last row lies on ignored ground truth
    (tmp_path / "gt" / "lindau").mkdir(parents=True)
    (tmp_path / "pred").mkdir()
    png.write_png(str(tmp_path / "gt" / "lindau" / f"{FRAME}_gtFine_labelIds.png"), gt)
    png.write_png(str(tmp_path / "pred" / f"{FRAME}_pred.png"), pred)
    out = tmp_path / "r.json"
    assert pixel_eval.main(["--gt", str(tmp_path / "gt"), "--pred", str(tmp_path / "pred"), "--labels", labels,
                            "--no-instance-scores", "--json", str(out), "--quiet", "-j", "1"]) == 0
    result = json.loads(out.read_text())
    cat, dog = 5 / (5 + 1 + 2), 4 / (4 + 2 + 1)  # tp / (tp + fn + fp)
    assert result["labels"] == {"background": 0, "cat": 1, "dog": 2}
    assert result["classScores"]["cat"] == pytest.approx(cat)
    assert result["classScores"]["dog"] == pytest.approx(dog)
    assert result["averageScoreClasses"] == pytest.approx((cat + dog) / 2)
    assert result["categoryScores"]["cat"] == pytest.approx(cat)


def test_instance_cli_with_custom_labels(tmp_path, monkeypatch):
    monkeypatch.setattr(instance_eval.args, "labelSet", instance_eval.args.labelSet)
    labels = write_label_colors(tmp_path, ["car", "tree"])  # car (id 1) keeps the Cityscapes instance flag
    gt = np.zeros((20, 20), np.uint16)
    gt[:12, :12] = 1000  # car instance 0 (144 pixels, above the 100-pixel minimum)
    gt[12:, 12:] = 2  # tree: no instances
    (tmp_path / "gt" / "lindau").mkdir(parents=True)
    (tmp_path / "pred").mkdir()
    png.write_png(str(tmp_path / "gt" / "lindau" / f"{FRAME}_gtFine_instanceIds.png"), gt)
    png.write_png(str(tmp_path / "pred" / "car.png"), (gt == 1000).astype(np.uint8))
    (tmp_path / "pred" / f"{FRAME}_pred.txt").write_text("car.png 1 0.9\n")
    out, cache = tmp_path / "r.json", tmp_path / "cache.json"
    assert instance_eval.main(["--gt", str(tmp_path / "gt"), "--pred", str(tmp_path / "pred"), "--labels", labels,
                               "--json", str(out), "--gt-cache", str(cache), "--quiet", "-j", "1"]) == 0
    result = json.loads(out.read_text())
    assert list(result["averages"]["classes"]) == ["car"]
    assert result["averages"]["allAp"] == pytest.approx(1.0)  # the one car found exactly
    assert result["averages"]["allAp50%"] == pytest.approx(1.0)
    assert not cache.exists()  # the ground-truth cache holds Cityscapes instances only
