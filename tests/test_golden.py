"""Identity with what the original toolkit produced from the golden fixtures."""
import contextlib
import filecmp
import glob
import io
import os
import subprocess
import sys

import pytest

from cityscapesscripts.evaluation import evalInstanceLevelSemanticLabeling as instance_eval
from cityscapesscripts.evaluation import evalPanopticSemanticLabeling as panoptic_eval
from cityscapesscripts.evaluation import evalPixelLevelSemanticLabeling as pixel_eval
from cityscapesscripts.preparation import createPanopticImgs
from cityscapesscripts.preparation.json2instanceImg import createInstanceImage, json2instanceImg
from cityscapesscripts.preparation.json2labelImg import createLabelImage, json2labelImg
from cityscapesscripts.helpers.annotation import Annotation

from conftest import GOLDEN, assert_same_numbers, assert_same_png, expected_eval, golden_files, plain


def _expected_images(root, json_path):
    base = json_path[:-len("_polygons.json")]
    city = os.path.basename(os.path.dirname(json_path))
    prepared = os.path.join(root, "expected", "prepared", "gtFine", "val", city, os.path.basename(base))
    return [(json2labelImg, "ids", base + "_labelIds.png"), (json2labelImg, "color", base + "_color.png"),
            (json2labelImg, "trainIds", prepared + "_labelTrainIds.png"),
            (json2instanceImg, "ids", base + "_instanceIds.png"),
            (json2instanceImg, "trainIds", prepared + "_instanceTrainIds.png")]


def test_single_file_conversion(golden_root, tmp_path):
    files = golden_files(golden_root, "*_polygons.json")
    assert files
    for js in files:
        for function, encoding, expected in _expected_images(golden_root, js):
            out = str(tmp_path / f"{function.__name__}_{encoding}.png")
            function(js, out, encoding)
            assert_same_png(expected, out)


def test_create_image_functions_return_pil_images(golden_root):
    js = golden_files(golden_root, "*_polygons.json")[0]
    annotation = Annotation()
    annotation.fromJsonFile(js)
    assert createLabelImage(annotation, "color").mode == "RGBA"
    assert createLabelImage(annotation, "ids").mode == "L"
    assert createInstanceImage(annotation, "trainIds").mode == "I;16"


def _console(name):
    return os.path.join(os.path.dirname(sys.executable), name)


def test_prepare_console_scripts(polygons_only, golden_root):
    env = dict(os.environ, CITYSCAPES_DATASET=str(polygons_only))
    for tool in ("csCreateTrainIdLabelImgs", "csCreateTrainIdInstanceImgs"):
        run = subprocess.run([_console(tool)], env=env, capture_output=True, text=True)
        assert run.returncode == 0, run.stderr
    expected = sorted(glob.glob(os.path.join(golden_root, "expected", "prepared", "gtFine", "*", "*", "*.png")))
    assert expected
    for path in expected:
        rel = os.path.relpath(path, os.path.join(golden_root, "expected", "prepared"))
        assert_same_png(path, os.path.join(polygons_only, rel))


@pytest.mark.parametrize("train_id", [False, True])
def test_panoptic_conversion(golden_root, tmp_path, train_id):
    createPanopticImgs.convert2panoptic(os.path.join(golden_root, "gtFine"), str(tmp_path), train_id, ["val"],
                                        progress=False, quiet=True)
    name = "cityscapes_panoptic_val" + ("_trainId" if train_id else "")
    expected = os.path.join(golden_root, "expected", "panoptic")
    assert filecmp.cmp(os.path.join(expected, name + ".json"), tmp_path / (name + ".json"), shallow=False)
    pngs = sorted(glob.glob(os.path.join(expected, name, "*.png")))
    assert pngs
    for path in pngs:
        assert_same_png(path, tmp_path / name / os.path.basename(path))


@pytest.mark.parametrize("instance_scores", [True, False])
def test_pixel_evaluation(golden_root, golden_set, instance_scores):
    args = pixel_eval.args
    args.predictionPath, args.predictionWalk = os.path.join(golden_root, "results", "semantic"), None
    args.JSONOutput, args.quiet, args.evalInstLevelScore = False, True, instance_scores
    gts = golden_files(golden_root, "*_gtFine_labelIds.png")
    preds = [pixel_eval.getPrediction(args, g) for g in gts]
    result = pixel_eval.evaluateImgLists(preds, gts, args)
    name = "pixel" if instance_scores else "pixel_no_instance_score"
    assert_same_numbers(expected_eval(golden_set, name), plain(result))
    args.evalInstLevelScore = True


def test_instance_evaluation(golden_root, golden_set, tmp_path, _isolated_cwd):
    args = instance_eval.args
    args.predictionPath = os.path.abspath(os.path.join(golden_root, "results", "instance"))
    args.predictionWalk = None
    args.JSONOutput, args.quiet = False, True
    args.gtInstancesFile = str(tmp_path / "gtInstances.json")
    gts = golden_files(golden_root, "*_gtFine_instanceIds.png")
    preds = [instance_eval.getPrediction(g, args) for g in gts]
    result = instance_eval.evaluateImgLists(preds, gts, args)
    assert_same_numbers(expected_eval(golden_set, "instance"), plain(result))
    assert list(_isolated_cwd.iterdir()) == []  # no matches.json in the working directory


@pytest.mark.usefixtures("golden_panoptic_parts")
def test_panoptic_evaluation(golden_root, golden_set, tmp_path):
    gt_json = os.path.join(golden_root, "gtFine", "cityscapes_panoptic_val.json")
    pred_json = os.path.join(golden_root, "results", "panoptic", "cityscapes_panoptic_val.json")
    with contextlib.redirect_stdout(io.StringIO()):
        result = panoptic_eval.evaluatePanoptic(gt_json, gt_json[:-5], pred_json, pred_json[:-5],
                                                str(tmp_path / "pq.json"))
    assert_same_numbers(expected_eval(golden_set, "panoptic"), plain(result))
    assert os.path.isfile(tmp_path / "pq.json")


def test_panoptic_conversion_missing_split_names_the_pattern(tmp_path):
    from cityscapesscripts.errors import LayoutError
    with pytest.raises(LayoutError, match=r"train set; searched .*gtFine/train/\*/\*_instanceIds.png"):
        createPanopticImgs.convert2panoptic(os.path.join(GOLDEN, "small", "gtFine"), str(tmp_path), False,
                                            ["train"], quiet=True)
    assert createPanopticImgs.main(["--dataset-folder", os.path.join(GOLDEN, "small", "gtFine"), "--output-folder",
                                    str(tmp_path), "--set-names", "train", "-q"]) == 1
