"""Pixel-level evaluation: accumulator, merge, pickling, fixes and bad input."""
import functools
import os
import pickle

import numpy as np
import pytest
from PIL import Image

from cityscapesscripts import kernels
from cityscapesscripts.errors import ImageError
from cityscapesscripts.evaluation import evalPixelLevelSemanticLabeling as E
from cityscapesscripts.evaluation import semantic, semantic_files
from cityscapesscripts.helpers.labelset import CITYSCAPES

from conftest import GOLDEN, assert_same_numbers, expected_eval, golden_files, plain
from golden_arrays import semantic_frames

ROOT = os.path.join(GOLDEN, "small")


def golden_arrays():
    """(prediction, label ids, instance ids) of the small golden set."""
    return [(prediction, labels, instances) for _, prediction, labels, instances in semantic_frames(ROOT)]


def test_in_memory_and_merged_equal_file_based():
    whole = semantic.SemanticAccumulator()
    parts = [semantic.SemanticAccumulator() for _ in range(3)]
    frames = list(golden_arrays())
    for i, (pred, gt, inst) in enumerate(frames):
        whole.add(pred, gt, inst)
        parts[i * 3 // len(frames)].add(pred, gt, inst)  # in frame order: iIoU sums add as in one run
    parts = [pickle.loads(pickle.dumps(p)) for p in parts]  # as gathered from other ranks
    merged = functools.reduce(lambda a, b: a.merge(b), parts)
    expected = expected_eval("small", "pixel")
    assert_same_numbers(expected, plain(whole.result()))
    assert_same_numbers(expected, plain(merged.result()))


def test_train_id_predictions():
    acc_ids, acc_train = semantic.SemanticAccumulator(), semantic.SemanticAccumulator(train_ids=True)
    table = acc_train.label_set.id_to_train_id
    for pred, gt, inst in golden_arrays():
        trained = table[pred]
        acc_ids.add(acc_train.label_set.train_id_to_id[trained], gt, inst)
        acc_train.add(trained, gt, inst)
    assert_same_numbers(plain(acc_ids.result()), plain(acc_train.result()))
    bad = np.full((4, 4), 19, np.uint8)
    with pytest.raises(ImageError, match=r"train ids outside the label set: \[19\]"):
        acc_train.add(bad, np.zeros((4, 4), np.uint8), np.zeros((4, 4), np.uint16))


def test_pixel_accuracy_counts_are_correct():
    acc = semantic.SemanticAccumulator(instance_scores=False, pixel_accuracy=True)
    gt = np.array([[7, 7, 0, 0], [26, 26, 26, 1]], np.uint8)   # 2 ignored pixels (0) + 1 (ego vehicle)
    pred = np.array([[7, 8, 7, 7], [26, 26, 24, 1]], np.uint8)
    acc.add(pred, gt, name="p.png")
    assert acc.result()["perImageScores"]["p.png"] == {"nbNotIgnoredPixels": 5, "nbCorrectPixels": 3}


@pytest.mark.parametrize("pred, gt, message", [
    (np.zeros((4, 5), np.uint8), np.zeros((4, 4), np.uint8), "prediction is 5x4 but its ground truth is 4x4"),
    (np.zeros((4, 4, 3), np.uint8), np.zeros((4, 4), np.uint8), "one channel"),
    (np.full((4, 4), 40, np.uint8), np.zeros((4, 4), np.uint8), r"prediction has ids outside the label set: \[40\]"),
    (np.zeros((4, 4), np.uint8), np.full((4, 4), 255, np.uint8), r"ground truth has ids outside .*\[255\]"),
    (np.full((4, 4), 300), np.zeros((4, 4), np.uint8), "prediction has ids outside the label set"),
])
def test_bad_arrays(pred, gt, message):
    with pytest.raises(ImageError, match=message) as info:
        semantic.SemanticAccumulator(instance_scores=False).add(pred, gt, name="pred.png")
    if "ground truth" not in message:
        assert "pred.png" in str(info.value)


def test_bad_files_name_the_file(tmp_path):
    gt = golden_files(ROOT, "*_gtFine_labelIds.png")[0]
    rgb = tmp_path / "x_pred.png"
    Image.new("RGB", (512, 256)).save(rgb)
    E.args.quiet, E.args.JSONOutput = True, False
    with pytest.raises(ImageError, match="x_pred.png: expected a single-channel image"):
        E.evaluateImgLists([str(rgb)], [gt], E.args)
    small = tmp_path / "y_pred.png"
    Image.new("L", (10, 10)).save(small)
    with pytest.raises(ImageError, match="y_pred.png: prediction is 10x10 but its ground truth is 512x256"):
        E.evaluateImgLists([str(small)], [gt], E.args)


def test_palette_predictions_and_tuples(tmp_path):
    gts = tuple(golden_files(ROOT, "*_gtFine_labelIds.png"))
    E.args.predictionPath, E.args.predictionWalk = os.path.join(ROOT, "results", "semantic"), None
    preds = []
    for gt in gts:
        image = Image.open(E.getPrediction(E.args, gt)).convert("P")
        path = tmp_path / os.path.basename(E.getPrediction(E.args, gt))
        image.putpalette([v for i in range(256) for v in (i, 255 - i, 0)])
        image.save(path)
        preds.append(str(path))
    E.args.quiet, E.args.JSONOutput, E.args.evalInstLevelScore = True, False, True
    result = E.evaluateImgLists(tuple(preds), gts, E.args)
    assert_same_numbers(expected_eval("small", "pixel"), plain(result))


@pytest.mark.parametrize("variant, unfiltered", [("as shipped", 1), ("16-bit predictions", 0.5),
                                                 ("8-bit instance maps", 1), ("train-id predictions", 0),
                                                 ("no instance scores", 1)])
def test_files_counted_as_unfiltered_or_decoded_first_give_the_arrays_numbers(variant, unfiltered, tmp_path,
                                                                              monkeypatch):
    """Label maps of the usual PNG flavours are counted as their rows are unfiltered; other
    flavours (a 16-bit prediction), train ids and mixes of the two are decoded first: all give
    the numbers of the arrays Pillow reads."""
    train_ids, instance_scores = variant == "train-id predictions", variant != "no instance scores"
    table = CITYSCAPES.id_to_train_id if train_ids else np.arange(256, dtype=np.uint8)
    predictions, ground_truths = [], []
    expected = semantic.SemanticAccumulator(train_ids=train_ids, instance_scores=instance_scores)
    E.args.predictionPath, E.args.predictionWalk = os.path.join(ROOT, "results", "semantic"), None
    for k, gt in enumerate(golden_files(ROOT, "*_gtFine_labelIds.png")):
        folder = tmp_path / str(k)
        folder.mkdir()
        labels = np.asarray(Image.open(gt))
        instances = np.asarray(Image.open(gt.replace("labelIds", "instanceIds"))).astype(np.uint16)
        if variant == "8-bit instance maps":
            instances = labels.astype(np.uint16)  # ids below 1000: no instances, yet their rows are unfiltered
        prediction = table[np.asarray(Image.open(E.getPrediction(E.args, gt)))]
        ground_truths.append(str(folder / "a_000000_000001_gtFine_labelIds.png"))
        predictions.append(str(folder / "a_000000_000001_pred.png"))
        Image.fromarray(labels).save(ground_truths[-1])
        Image.fromarray(instances if instances.max() > 255 else instances.astype(np.uint8)).save(
            semantic_files.instance_path(ground_truths[-1]))
        Image.fromarray(prediction.astype(np.uint16) if variant == "16-bit predictions" and k % 2 else prediction
                        ).save(predictions[-1])
        expected.add(prediction, labels, instances)
    counted = []
    monkeypatch.setattr(kernels, "label_png_pixel_counts", lambda *a, f=kernels.label_png_pixel_counts:
                        counted.append(1) or f(*a))
    result = semantic_files.evaluate_files(predictions, ground_truths, jobs=1, train_ids=train_ids,
                                     instance_scores=instance_scores).result()
    assert_same_numbers(plain(expected.result()), plain(result))
    assert len(counted) == unfiltered * len(ground_truths) and len(ground_truths) >= 4  # frames counted unfiltering


def test_export_only_when_asked(tmp_path, _isolated_cwd):
    gts = golden_files(ROOT, "*_gtFine_labelIds.png")[:2]
    E.args.predictionPath, E.args.predictionWalk = os.path.join(ROOT, "results", "semantic"), None
    preds = [E.getPrediction(E.args, g) for g in gts]
    E.args.quiet, E.args.JSONOutput = True, False
    E.evaluateImgLists(preds, gts, E.args)
    assert list(_isolated_cwd.iterdir()) == []
    E.args.JSONOutput, E.args.exportFile = True, str(tmp_path / "out" / "result.json")
    E.evaluateImgLists(preds, gts, E.args)
    assert os.path.isfile(tmp_path / "out" / "result.json")
    E.args.JSONOutput = False


def test_compat_functions_update_in_place():
    gts = golden_files(ROOT, "*_gtFine_labelIds.png")
    E.args.predictionPath, E.args.predictionWalk = os.path.join(ROOT, "results", "semantic"), None
    conf = E.generateMatrix(E.args)
    stats = E.generateInstanceStats(E.args)
    per_image = {}
    for gt in gts:
        E.evaluatePair(E.getPrediction(E.args, gt), gt, conf, stats, per_image, E.args)
    expected = expected_eval("small", "pixel")
    assert conf.tolist() == expected["confMatrix"]
    assert E.getIouScoreForLabel(7, conf, E.args) == expected["classScores"]["road"]
    assert E.getInstanceIouScoreForLabel(26, conf, stats, E.args) == expected["classInstScores"]["car"]
    assert E.getInstanceIouScoreForCategory("vehicle", conf, stats, E.args) == expected["categoryInstScores"]["vehicle"]


def test_printed_report(capsys):
    gts = golden_files(ROOT, "*_gtFine_labelIds.png")
    E.args.predictionPath, E.args.predictionWalk = os.path.join(ROOT, "results", "semantic"), None
    E.args.quiet, E.args.JSONOutput, E.args.colorized = False, False, False
    E.args.bold = E.args.nocol = ""
    result = E.evaluateImgLists([E.getPrediction(E.args, g) for g in gts], gts, E.args)
    out = capsys.readouterr().out
    E.args.quiet = True
    assert "classes          IoU      nIoU" in out and "categories       IoU      nIoU" in out
    assert f"Score Average : {result['averageScoreClasses']:5.3f}    {result['averageScoreInstClasses']:5.3f}" in out
    assert f"road          : {result['classScores']['road']:>5.3f}" in out
    assert "\033[" not in out


def test_modern_cli_with_plot(tmp_path, capsys):
    status = E.main(["--gt", os.path.join(ROOT, "gtFine", "val"), "--pred", os.path.join(ROOT, "results", "semantic"),
                     "--json", str(tmp_path / "r.json"), "--quiet", "-j", "2", "--plot", str(tmp_path / "cm.png")])
    assert status == 0
    out = capsys.readouterr().out
    expected = expected_eval("small", "pixel")
    assert f"IoU classes {expected['averageScoreClasses']:.4f}" in out
    assert Image.open(tmp_path / "cm.png").size[0] > 300
    assert os.path.isfile(tmp_path / "r.json")
    E.args.JSONOutput = False


def test_getprediction_errors(tmp_path):
    args = E.CArgs()
    args.predictionPath, args.predictionWalk = str(tmp_path), None
    with pytest.raises(Exception, match="found no prediction"):
        E.getPrediction(args, "lindau_000000_000019_gtFine_labelIds.png")
