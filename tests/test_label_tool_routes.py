"""The label tool's routes: what they list, what they refuse to write, how errors are answered."""
import http.client
import json
import os
import re
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


# ---- over the wire: malformed bodies, linked folders, the remote token -------------------------------------

@pytest.fixture
def served(root):
    srv = server.start_in_thread(labeltool.make_router(root))
    yield srv
    srv.shutdown()
    srv.server_close()


def _post(srv, route, body):
    connection = http.client.HTTPConnection(*srv.server_address[:2], timeout=30)
    connection.request("POST", f"/api/{route}/" + FRAME, body=body, headers={"Content-Type": "application/json"})
    response = connection.getresponse()
    answer = json.loads(response.read())
    connection.close()
    return response.status, answer


@pytest.mark.parametrize("body, reason", [
    (b'{"version": null, "objects": 5}', "objects must be a list, got int"),
    (b'{"version": null, "objects": "abc"}', "objects must be a list, got str"),
    (b'{"version": null, "objects": [5]}', "object 0 must be a JSON object, got int"),
    (b'{"version": null, "objects": [{"label": 3, "polygon": [[0, 0]]}]}', "object 0: label must be a string"),
    (b'{"version": null, "objects": [{"label": "car", "polygon": [["a", 1]]}]}', "object 0: polygon must be"),
    (b'{"version": null, "objects": [{"label": "car", "polygon": [[1, 2, 3]]}]}', "object 0: polygon must be"),
    (b'{"version": null, "objects": [{"label": "car", "polygon": [[true, 2]]}]}', "object 0: polygon must be"),
    (b'{"version": null, "objects": [{"label": "car", "polygon": 7}]}', "object 0: polygon must be"),
    (b'{"version": null, "objects": [{"label": "car", "polygon": [[NaN, 1]]}]}', "NaN is not a JSON number"),
    (b'{"version": null, "objects": [{"label": "car", "polygon": [[1e999, 1]]}]}', "beyond the range"),
    (b'{"version": 5, "objects": []}', "version must be a string or null"),
    (b'{"version": [], "objects": []}', "version must be a string or null"),
    (b"5", "expected a JSON object with version, objects"),
    (b'{"objects": ' + b"[" * 100000 + b"]" * 100000 + b"}", "nests 100001 deep"),
    (b'{"objects": []', "not JSON"),
])
def test_a_malformed_edit_is_a_bad_request_naming_the_problem(root, served, body, reason):
    before = (root / FRAME).read_bytes()
    routes = ["save"] if "version" in reason else ["save", "preview", "draft"] if "deep" in reason else ["save", "preview"]
    for route in routes:
        status, answer = _post(served, route, body)
        assert status == 400 and reason in answer["error"], (route, answer)
    assert (root / FRAME).read_bytes() == before
    assert editing.load_draft(root / FRAME) is None
    status, answer = _post(served, "save", json.dumps({"version": editing.load_annotation(root / FRAME)["version"],
                                                      "objects": editing.load_annotation(root / FRAME)["objects"]}))
    assert status == 200  # and the server goes on


@pytest.fixture
def linked(tmp_path, root):
    """The dataset with gtFine/ and leftImg8bit/ symbolic links to another folder ("disk"), and a polygon file
    that is a link leading out."""
    disk = tmp_path / "disk"
    disk.mkdir()
    for kind in ("gtFine", "leftImg8bit"):
        shutil.move(root / kind, disk / kind)
        os.symlink(disk / kind, root / kind)
    outside = tmp_path / "outside_gtFine_polygons.json"
    shutil.copy(disk / FRAME, outside)
    os.symlink(outside, disk / "gtFine" / "val" / "lindau" / "leak_000000_000000_gtFine_polygons.json")
    return root


def test_linked_dataset_folders_are_opened_and_saved(linked):
    router = labeltool.make_router(linked)
    frames = {f["name"]: f for f in call(router, "GET", "/api/frames")[1]["frames"]}
    assert frames["gtFine/val/lindau_001401_000019"]["image"] == \
        "leftImg8bit/val/lindau/lindau_001401_000019_leftImg8bit.png"
    status, image = call(router, "GET", "/api/image/" + frames["gtFine/val/lindau_001401_000019"]["image"])
    assert status == 200 and image[:8] == b"\x89PNG\r\n\x1a\n"
    status, loaded = call(router, "GET", "/api/annotation/" + FRAME)
    assert status == 200
    objects = loaded["annotation"]["objects"]
    objects[2]["deleted"] = 1
    status, answer = call(router, "POST", "/api/save/" + FRAME, {"version": loaded["annotation"]["version"],
                                                                 "objects": objects})
    assert status == 200 and answer["annotation"]["objects"][2]["deleted"] == 1
    assert editing.load_annotation(linked.parent / "disk" / FRAME)["objects"][2]["deleted"] == 1


@pytest.mark.parametrize("rel", ["gtFine/val/lindau/leak_000000_000000_gtFine_polygons.json",
                                 "gtFine/val/../../outside_gtFine_polygons.json",
                                 "%2e%2e/outside_gtFine_polygons.json", "/outside_gtFine_polygons.json"])
def test_links_and_paths_leading_out_of_a_linked_dataset_are_refused(linked, rel):
    outside = linked.parent / "outside_gtFine_polygons.json"
    before = outside.read_bytes()
    router = labeltool.make_router(linked)
    assert call(router, "GET", "/api/annotation/" + rel)[0] == 403
    status, answer = call(router, "POST", "/api/save/" + rel, {"version": None, "objects": []})
    assert status == 403 and "error" in answer
    assert outside.read_bytes() == before


def test_a_remote_bind_prints_the_token_and_says_anyone_with_it_can_write(root, capsys, monkeypatch):
    served = []
    monkeypatch.setattr(server._Server, "serve_forever", lambda self: served.append(server.url_of(self)))
    assert cityscapesLabelTool.main([str(root), "--host", "0.0.0.0", "--port", "0", "--no-browser"]) == 0
    out, err = capsys.readouterr()
    token = re.search(r"\?token=([\w-]{32})\s", out).group(1)
    assert served == [re.search(r"http://\S+", out).group(0)] and served[0].endswith(token)
    assert "anyone who has the address above" in err and "change their annotations" in err
    assert cityscapesLabelTool.main([str(root), "--port", "0", "--no-browser"]) == 0
    out, err = capsys.readouterr()
    assert "token" not in out and "?" not in served[1] and err == ""  # loopback: as before
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
    frame = FRAME.split("/")[-1][:20]
    for bad, reason in (([{"type": 5, "annotation": "", "bbox": [0, 0, 1, 1]}], frame),
                        ([{"type": 1, "bbox": [0, 0, 1]}], frame), ({"type": 1}, frame),
                        # refused where the body is parsed, before the boxes are looked at
                        ([{"type": 1, "bbox": [0, 0, float("nan"), 1]}], "1e999 is beyond the range of numbers")):
        data = json.dumps({"corrections": bad}).replace("NaN", "1e999").encode()
        response = router.dispatch(server.Request("POST", "/api/corrections/" + FRAME, {}, HEADERS, data))
        assert response.status == 400 and reason in response.body.decode(), response.body
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
