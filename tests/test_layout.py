import json
import os

import pytest

from cityscapesscripts.errors import LayoutError
from cityscapesscripts.helpers import csHelpers
from cityscapesscripts.io import layout

from conftest import FIXTURES


def test_names_parse_as_the_original():
    with open(os.path.join(FIXTURES, "original_names.json")) as f:
        expected = json.load(f)
    for name, parts in expected.items():
        assert list(csHelpers.getCsFileInfo(name)) == parts


@pytest.mark.parametrize("name", ["lindau_000001.png", "a_b_c_d_e_f_g.png", "lindau.png"])
def test_malformed_names(name):
    with pytest.raises(LayoutError, match="expected 5 or 6"):
        layout.parse_name(name)


def test_core_name_sibling_directory():
    assert csHelpers.getCoreImageFileName("x/lindau_000001_000019_gtFine_polygons.json") == "lindau_000001_000019"
    assert layout.sibling("d/a_000001_000002_gtFine_labelIds.png", "instanceIds") == \
        os.path.join("d", "a_000001_000002_gtFine_instanceIds.png")
    assert csHelpers.getDirectory("/foo/bar/foobar.txt") == "bar"


def test_dataset_root_errors_name_the_variable(monkeypatch, tmp_path):
    monkeypatch.delenv("CITYSCAPES_DATASET", raising=False)
    with pytest.raises(LayoutError, match="CITYSCAPES_DATASET"):
        layout.dataset_root()
    monkeypatch.setenv("CITYSCAPES_DATASET", str(tmp_path / "missing"))
    with pytest.raises(LayoutError, match="CITYSCAPES_DATASET points to a folder that does not exist"):
        layout.dataset_root()
    monkeypatch.delenv("CITYSCAPES_RESULTS", raising=False)
    with pytest.raises(LayoutError, match="CITYSCAPES_DATASET/results"):
        layout.results_root()


def test_prediction_matching(tmp_path):
    (tmp_path / "a").mkdir()
    for name in ("lindau_000001_000019_pred.png", "lindau_000001_000020_pred.png", "a/munster_000001_000019_x.png",
                 "a/munster_000001_000019_y.png"):
        (tmp_path / name).write_bytes(b"")
    walk = layout.index_folder(str(tmp_path))
    assert layout.match_prediction(walk, "lindau_000001_000019_gtFine_labelIds.png", "png").endswith(
        "lindau_000001_000019_pred.png")
    with pytest.raises(LayoutError, match="found 2 predictions"):
        layout.match_prediction(walk, "munster_000001_000019_gtFine_labelIds.png", "png")
    with pytest.raises(LayoutError, match="found no prediction 'lindau_000002_000019\\*.png'"):
        layout.match_prediction(walk, "lindau_000002_000019_gtFine_labelIds.png", "png")


def test_prediction_matching_in_a_callers_walk(tmp_path):
    # args.predictionWalk set by the caller, as the original built it: names in any order, searched in that order
    walk = [(str(tmp_path), ["lindau_000001_000020_pred.png", "lindau_000001_000019_b.png", "lindau_000001_000019_a.txt",
                             "lindau_000001_000019_a.png"])]
    with pytest.raises(LayoutError, match="found 2 predictions for this ground truth: .*_000019_b.png, .*_000019_a.png"):
        layout.match_prediction(walk, "lindau_000001_000019_gtFine_labelIds.png", "png")
    assert layout.match_prediction(walk, "lindau_000001_000019_gtFine_labelIds.png", "txt").endswith("_a.txt")
    assert layout.match_prediction(walk, "x/lindau_000001_000020_gtFine_labelIds.png", "png").endswith("_000020_pred.png")


def test_prediction_matching_in_an_indexed_folder(tmp_path):
    names = [f"lindau_000001_{i:06d}_pred.png" for i in range(38, -1, -2)]
    for name in names + ["lindau_000001_000010_pred.txt", "lindau_000001_000010_q.png"]:
        (tmp_path / name).write_bytes(b"")
    walk = layout.index_folder(str(tmp_path))
    for i in range(40):
        ground_truth = f"lindau_000001_{i:06d}_gtFine_labelIds.png"
        if i == 10:
            with pytest.raises(LayoutError, match="found 2 predictions"):
                layout.match_prediction(walk, ground_truth, "png")
        elif i % 2:
            with pytest.raises(LayoutError, match="found no prediction"):
                layout.match_prediction(walk, ground_truth, "png")
        else:
            assert layout.match_prediction(walk, ground_truth, "png") == str(tmp_path / f"lindau_000001_{i:06d}_pred.png")


def test_helpers_star_import_names():
    namespace = {}
    exec("from cityscapesscripts.helpers.csHelpers import *", namespace)
    for name in ("printError", "colors", "getColorEntry", "CsFile", "getCsFileInfo", "getCoreImageFileName",
                 "getDirectory", "ensurePath", "writeDict2JSON", "labels", "name2label", "id2label",
                 "trainId2label", "category2labels", "Annotation", "np", "Image", "json", "os", "glob"):
        assert name in namespace, name
    with pytest.raises(SystemExit):
        csHelpers.printError("boom")


@pytest.mark.parametrize("module, modality", [("evalPixelLevelSemanticLabeling", "labelIds"),
                                              ("evalInstanceLevelSemanticLabeling", "instanceIds")])
def test_evaluators_default_ground_truth_search_is_the_originals(module, modality, monkeypatch, tmp_path):
    import importlib
    compat = importlib.import_module("cityscapesscripts.evaluation." + module)
    monkeypatch.setenv("CITYSCAPES_DATASET", str(tmp_path))
    # the original 2.3.0, written out: os.path.join(args.cityscapesPath, "gtFine", "val", "*", "*_gtFine_<m>.png")
    assert compat._default_args().groundTruthSearch == os.path.join(str(tmp_path), "gtFine", "val", "*",
                                                                    f"*_gtFine_{modality}.png")


def test_panoptic_set_names_and_folders():
    json_path = layout.panoptic_json(os.path.join("r", "gtFine"), "val", train_ids=True)
    assert json_path == os.path.join("r", "gtFine", "cityscapes_panoptic_val_trainId.json")
    assert layout.panoptic_png_folder(json_path) == os.path.join("r", "gtFine", "cityscapes_panoptic_val_trainId")
    assert layout.panoptic_png_name("lindau_000001_000019") == "lindau_000001_000019_gtFine_panoptic.png"


def test_panoptic_pngs_by_frame(tmp_path):
    for name in ("b_000001_000002_gtFine_panoptic.png", "a_000001_000002_gtFine_panoptic.png", "notes.txt"):
        (tmp_path / name).write_bytes(b"")
    assert layout.panoptic_pngs(str(tmp_path)) == {
        "a_000001_000002": str(tmp_path / "a_000001_000002_gtFine_panoptic.png"),
        "b_000001_000002": str(tmp_path / "b_000001_000002_gtFine_panoptic.png")}


def test_camera_and_annotation_searches(tmp_path):
    assert layout.camera_search("r") == os.path.join("r", "leftImg8bit", "*", "*", "*_leftImg8bit.png")
    assert layout.annotation_searches("r", ["gtFine", "gtCoarse"], ["train"], "labelIds") == [
        os.path.join("r", "gtFine", "train", "*", "*_gt*_labelIds.png"),
        os.path.join("r", "gtCoarse", "train", "*", "*_gt*_labelIds.png")]
    assert layout.ground_truth_search_below("d", "instanceIds") == os.path.join("d", "**", "*_gtFine_instanceIds.png")
