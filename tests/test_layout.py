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


def test_helpers_star_import_names():
    namespace = {}
    exec("from cityscapesscripts.helpers.csHelpers import *", namespace)
    for name in ("printError", "colors", "getColorEntry", "CsFile", "getCsFileInfo", "getCoreImageFileName",
                 "getDirectory", "ensurePath", "writeDict2JSON", "labels", "name2label", "id2label",
                 "trainId2label", "category2labels", "Annotation", "np", "Image", "json", "os", "glob"):
        assert name in namespace, name
    with pytest.raises(SystemExit):
        csHelpers.printError("boom")
