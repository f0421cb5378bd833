"""The label tool's routes: what they list, what they refuse to write, how errors are answered."""
import json
import os
import shutil

import numpy as np
import pytest

from cityscapesscripts.annotation import cityscapesLabelTool, editing
from cityscapesscripts.io import png
from cityscapesscripts.web import labeltool, server
from conftest import GOLDEN

FRAME = "gtFine/val/lindau/lindau_001401_000019_gtFine_polygons.json"


@pytest.fixture
def root(tmp_path):
    root = tmp_path / "dataset"
    for kind in ("gtFine", "leftImg8bit"):
        shutil.copytree(os.path.join(GOLDEN, "small", kind, "val", "lindau"), root / kind / "val" / "lindau")
    os.remove(root / "leftImg8bit" / "val" / "lindau" / "lindau_045302_000019_leftImg8bit.png")
    return root


HEADERS = {"Content-Type": "application/json", "Host": "127.0.0.1:8050"}


def call(router, method, path, body=None, headers=HEADERS):
    data = b"" if body is None else json.dumps(body).encode()
    response = router.dispatch(server.Request(method, path, {}, headers, data))
    if response.content_type == "application/json":
        return response.status, json.loads(response.body)
    return response.status, response.body


def test_frames_list_every_polygon_file_with_its_image(root):
    status, answer = call(labeltool.make_router(root), "GET", "/api/frames")
    frames = {f["name"]: f for f in answer["frames"]}
    assert status == 200 and len(frames) == 4
    assert frames["gtFine/val/lindau_001401_000019"] == {
        "name": "gtFine/val/lindau_001401_000019", "polygons": FRAME,
        "image": "leftImg8bit/val/lindau/lindau_001401_000019_leftImg8bit.png"}
    assert frames["gtFine/val/lindau_045302_000019"]["image"] is None


def test_labels_offer_groups_and_the_original_default(root, tmp_path):
    status, answer = call(labeltool.make_router(root), "GET", "/api/labels")
    names = [label["name"] for label in answer["labels"]]
    assert names == sorted(names) and {"car", "cargroup", "license plate"} <= set(names)
    assert "roadgroup" not in names and answer["default"] == "static"
    assert len(answer["idColors"]) == 256 and answer["idColors"][7] == [128, 64, 128]
    (root / "label_colors.txt").write_text("0 0 0 background\n255 0 0 crack\n")
    status, answer = call(labeltool.make_router(root), "GET", "/api/labels")
    assert answer["labels"] == [{"name": "background", "id": 0, "color": [0, 0, 0]},
                                {"name": "crack", "id": 1, "color": [255, 0, 0]}]
    assert answer["default"] == "background"


@pytest.mark.parametrize("rel", ["gtFine/val/lindau/lindau_001401_000019_gtFine_labelIds.png",
                                 "../outside_gtFine_polygons.json", "%2e%2e/outside_gtFine_polygons.json"])
def test_only_polygon_files_inside_the_root_are_written(root, rel):
    target = root / "gtFine" / "val" / "lindau" / "lindau_001401_000019_gtFine_labelIds.png"
    before = target.read_bytes()
    status, answer = call(labeltool.make_router(root), "POST", "/api/save/" + rel, {"version": None, "objects": []})
    assert status == 403 and "error" in answer
    assert target.read_bytes() == before
    assert not (root.parent / "outside_gtFine_polygons.json").exists()


def test_a_save_answers_with_the_file_as_saved(root):
    router = labeltool.make_router(root)
    status, loaded = call(router, "GET", "/api/annotation/" + FRAME)
    assert status == 200 and loaded["draft"] is None
    objects = loaded["annotation"]["objects"]
    objects[3]["deleted"] = 1
    status, answer = call(router, "POST", "/api/save/" + FRAME,
                          {"version": loaded["annotation"]["version"], "objects": objects})
    assert status == 200
    assert answer["annotation"] == editing.load_annotation(root / FRAME)
    assert answer["annotation"]["objects"][3]["deleted"] == 1


def test_a_save_conflict_answers_with_the_file_as_it_is_now(root):
    router = labeltool.make_router(root)
    loaded = call(router, "GET", "/api/annotation/" + FRAME)[1]["annotation"]
    (root / FRAME).write_text((root / FRAME).read_text() + " ")
    status, answer = call(router, "POST", "/api/save/" + FRAME, {"version": loaded["version"], "objects": []})
    assert status == 409 and "changed on disk" in answer["error"]
    assert answer["current"] == editing.load_annotation(root / FRAME) != loaded
    (root / FRAME).write_text("{")
    status, answer = call(router, "POST", "/api/save/" + FRAME, {"version": loaded["version"], "objects": []})
    assert status == 409 and answer["current"] is None


def test_an_invalid_edit_is_a_bad_request_naming_the_file(root):
    router = labeltool.make_router(root)
    loaded = call(router, "GET", "/api/annotation/" + FRAME)[1]["annotation"]
    objects = loaded["objects"][1:]
    status, answer = call(router, "POST", "/api/save/" + FRAME, {"version": loaded["version"], "objects": objects})
    assert status == 400 and FRAME in answer["error"] and "leaves out object(s) [0]" in answer["error"]
    status, answer = call(router, "POST", "/api/save/" + FRAME, {"objects": objects})
    assert status == 400 and "version, objects" in answer["error"]


def test_the_preview_is_the_label_ids_image_of_the_edited_polygons(root):
    router = labeltool.make_router(root)
    objects = [{"label": "road", "polygon": [[0, 0], [511, 0], [511, 255], [0, 255]]},
               {"label": "car", "polygon": [[10, 10], [20, 10], [20, 20], [10, 20]], "deleted": 1},
               {"label": "person", "polygon": [[100, 100], [110, 100], [110, 110], [100, 110]]}]
    status, body = call(router, "POST", "/api/preview/" + FRAME, {"objects": objects})
    assert status == 200
    path = root / "preview.png"
    path.write_bytes(body)
    ids = png.read_label_map(str(path))
    assert ids.shape == (256, 512) and ids.dtype == np.uint8
    assert ids[15, 15] == 7 and ids[105, 105] == 24 and ids[200, 300] == 7
    status, answer = call(router, "POST", "/api/preview/" + FRAME, {"objects": [{"label": "ufo", "polygon": [[0, 0], [1, 1]]}]})
    assert status == 422 and "'ufo' is not known" in answer["error"]


def test_the_command_names_a_missing_dataset(tmp_path, capsys, monkeypatch):
    monkeypatch.delenv("CITYSCAPES_DATASET", raising=False)
    assert cityscapesLabelTool.main([str(tmp_path / "nowhere"), "--no-browser"]) == 1
    assert "nowhere" in capsys.readouterr().err
    assert cityscapesLabelTool.main(["--no-browser"]) == 1
    assert "CITYSCAPES_DATASET" in capsys.readouterr().err


@pytest.mark.parametrize("headers, status", [
    ({"Content-Type": "text/plain", "Host": "127.0.0.1:8050"}, 415),       # a form or a no-cors fetch
    ({"Host": "127.0.0.1:8050"}, 415),
    (dict(HEADERS, Origin="http://evil.example"), 403),
    (dict(HEADERS, Origin="http://127.0.0.1:9999"), 403),
])
def test_writes_from_other_sites_are_refused(root, headers, status):
    router = labeltool.make_router(root)
    before = (root / FRAME).read_bytes()
    loaded = call(router, "GET", "/api/annotation/" + FRAME)[1]["annotation"]
    loaded["objects"][0]["deleted"] = 1
    for route in ("save", "draft", "discard-draft"):
        body = {"version": loaded["version"], "objects": loaded["objects"], "draft": loaded}
        assert call(router, "POST", f"/api/{route}/" + FRAME, body, headers)[0] == status
    assert (root / FRAME).read_bytes() == before
    assert editing.load_draft(root / FRAME) is None
    same_site = dict(HEADERS, Origin="http://127.0.0.1:8050")
    assert call(router, "POST", "/api/draft/" + FRAME, {"draft": loaded}, same_site)[0] == 200


@pytest.mark.parametrize("how", ["module", "file"])
def test_the_original_module_runs_as_before(how):
    """``python -m cityscapesscripts.annotation.cityscapesLabelTool`` and the module's file by its path."""
    import subprocess
    import sys
    target = (["-m", "cityscapesscripts.annotation.cityscapesLabelTool"] if how == "module"
              else [cityscapesLabelTool.__file__])
    done = subprocess.run([sys.executable, *target, "--help"], capture_output=True, text=True, timeout=60)
    assert done.returncode == 0 and "csLabelTool" in done.stdout and "--no-browser" in done.stdout


CORRECTIONS = "gtFine_corrections/val/lindau/lindau_001401_000019.xml"
# written by hand after the original's CorrectionBox.appendToXMLNode and save(); 20.5 rounds to 20 (Python 3)
EXPECTED_XML = (
    "<correction>\n<filename>lindau_001401_000019_leftImg8bit.png</filename>\n"
    "<folder>StereoDataset/lindau</folder>\n"
    "<source>\n<sourceImage>Label Cities</sourceImage>\n<sourceAnnotation>mcLabelTool</sourceAnnotation>\n</source>\n"
    "<imagesize>\n<nrows>256</nrows>\n<ncols>512</ncols>\n</imagesize>\n"
    "<correction>\n<type>1</type>\n<annotation>fix the pole</annotation>\n"
    "<bbox>\n<x>10</x>\n<y>20</y>\n<width>30</width>\n<height>40</height>\n</bbox>\n</correction>\n"
    "<correction>\n<type>4</type>\n<annotation>car or truck? &lt;&amp;&gt;</annotation>\n"
    "<bbox>\n<x>100</x>\n<y>0</y>\n<width>5</width>\n<height>6</height>\n</bbox>\n</correction>\n"
    "</correction>\n")


def test_correction_boxes_are_written_as_the_original_writes_them(root):
    router = labeltool.make_router(root)
    assert call(router, "GET", "/api/corrections/" + FRAME) == (200, {"file": CORRECTIONS, "corrections": []})
    boxes = [{"type": 1, "annotation": "fix the pole", "bbox": [10, 20.5, 30, 40]},
             {"type": 4, "annotation": "car or truck? <&>", "bbox": [100.4, 0, 5, 6]}]
    status, answer = call(router, "POST", "/api/corrections/" + FRAME, {"corrections": boxes})
    assert status == 200 and (root / CORRECTIONS).read_text() == EXPECTED_XML
    assert answer["corrections"] == [dict(boxes[0], bbox=[10, 20, 30, 40]), dict(boxes[1], bbox=[100, 0, 5, 6])]
    assert call(router, "GET", "/api/corrections/" + FRAME)[1]["corrections"] == answer["corrections"]
    for bad in ([{"type": 5, "annotation": "", "bbox": [0, 0, 1, 1]}], [{"type": 1, "bbox": [0, 0, 1]}],
                [{"type": 1, "bbox": [0, 0, float("nan"), 1]}], {"type": 1}):
        data = json.dumps({"corrections": bad}).replace("NaN", "1e999").encode()
        response = router.dispatch(server.Request("POST", "/api/corrections/" + FRAME, {}, HEADERS, data))
        assert response.status == 400 and FRAME.split("/")[-1][:20] in response.body.decode()
    assert (root / CORRECTIONS).read_text() == EXPECTED_XML  # a refused write changes nothing


@pytest.mark.parametrize("rel, status", [
    ("../outside_gtFine_polygons.json", 403), ("%2e%2e/outside_gtFine_polygons.json", 403),
    ("gtFine/val/lindau/lindau_001401_000019_gtFine_labelIds.png", 403),
])
def test_correction_routes_stay_inside_the_root(root, rel, status):
    router = labeltool.make_router(root)
    for method, body in (("GET", None), ("POST", {"corrections": []})):
        assert call(router, method, "/api/corrections/" + rel, body)[0] == status
    assert not (root / "gtFine_corrections").exists() and not (root.parent / "gtFine_corrections").exists()


@pytest.mark.parametrize("headers, status", [
    ({"Content-Type": "text/plain", "Host": "127.0.0.1:8050"}, 415),
    (dict(HEADERS, Origin="http://evil.example"), 403),
])
def test_correction_writes_from_other_sites_are_refused(root, headers, status):
    router = labeltool.make_router(root)
    body = json.dumps({"corrections": [{"type": 1, "annotation": "", "bbox": [0, 0, 1, 1]}]}).encode()
    response = router.dispatch(server.Request("POST", "/api/corrections/" + FRAME, {}, headers, body))
    assert response.status == status and not (root / CORRECTIONS).exists()
