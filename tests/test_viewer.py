"""csViewer's server side: frames, every layer against the original's images, scores, routes, CLI."""
import http.client
import io
import json
import math
import os
import re
import struct
import subprocess
import sys

import numpy as np
import pytest
from PIL import Image

from cityscapesscripts.helpers.labels import id2label, name2label
from cityscapesscripts.viewer import cityscapesViewer
from cityscapesscripts.web import server
from cityscapesscripts.web.viewer import DISPARITY_COLORS, Viewer, compact, make_router
from viewer_data import (BOX3D, BOX3D_FRAME, CITY, FRAMES, PERSONS, boxes_2d, decode, disparity_map, golden,
                         make_dataset, predicted, read)


@pytest.fixture(scope="module")
def root(tmp_path_factory):
    return make_dataset(str(tmp_path_factory.mktemp("viewer") / "data"))


@pytest.fixture(scope="module")
def viewer(root):
    return Viewer(root, pred=f"{root}/results")


def frame(viewer, index=0):
    return viewer.frame(f"val/{CITY}/{FRAMES[index]}")


def test_frames_and_their_layers(viewer):
    assert [f.key for f in viewer.frames] == [f"val/{CITY}/{name}" for name in FRAMES]
    assert set(viewer.sources(frame(viewer, 0))) == {"gtFine", "gtCoarse", "instances", "citypersons", "bbox3d",
                                                     "bbox3d-modal", "bbox3d-amodal", "disparity", "pred", "pred-instances", "pred-panoptic",
                                                     "errors"}
    assert set(viewer.sources(frame(viewer, 1))) == {"gtFine", "instances", "pred", "pred-instances",
                                                     "pred-panoptic", "errors"}
    described = viewer.describe(frame(viewer, 0))
    assert described["layers"]["pred"] == f"results/semantic/{FRAMES[0]}_pred.png"
    assert described["image"] == f"leftImg8bit/val/{CITY}/{FRAMES[0]}_leftImg8bit.png"


@pytest.mark.parametrize("source", ["polygons", "png"])
@pytest.mark.parametrize("index", [0, 1])
def test_label_layer_colours_are_the_originals_color_png(viewer, source, index):
    """Polygons drawn in file order (or the labelIds PNG) coloured by the table = the original's *_color.png."""
    ids, colors, names = decode(viewer.layer(frame(viewer, index), "gtFine", source))
    expected = golden(FRAMES[index], "color")[..., :3]
    assert (colors[ids][..., :3] == expected).all()
    label_ids, instance_ids = golden(FRAMES[index], "labelIds"), golden(FRAMES[index], "instanceIds")
    things = [tuple(p) for p in np.argwhere(instance_ids > 1000)[::5000]]
    for y, x in [(5, 5), (500, 1000), (900, 300), (300, 1800)] + things:
        name, shown = id2label[label_ids[y, x]].name, names[ids[y, x]]
        if source == "png":
            assert shown == name
        elif instance_ids[y, x] >= 1000:
            assert shown == f"{name} {instance_ids[y, x]}"
        else:
            assert shown in (name, name + "group")


def test_instance_layer_names_carry_the_instance_ids(viewer):
    ids, colors, names = decode(viewer.layer(frame(viewer, 0), "instances"))
    instance_ids = golden(FRAMES[0], "instanceIds")
    shown = np.array([int(n.rsplit(" ", 1)[1]) if n.rsplit(" ", 1)[-1].isdigit() else -1 for n in names])[ids]
    things = instance_ids >= 1000
    assert things.any() and (shown[things] == instance_ids[things]).all()
    assert (shown[~things] == -1).all()
    assert (colors[ids][things][:, 3] == 255).all()
    # from the instanceIds PNG: the same instances
    ids_png, _, names_png = decode(viewer.layer(frame(viewer, 0), "instances", "png"))
    values = np.array([int(n.rsplit(" ", 1)[1]) if n.rsplit(" ", 1)[-1].isdigit() else -1 for n in names_png])
    assert (values[ids_png][things] == instance_ids[things]).all()


def test_errors_layer_marks_disagreement_and_greys_ignored_ground_truth(viewer):
    ids, colors, names = decode(viewer.layer(frame(viewer, 0), "errors"))
    truth = golden(FRAMES[0], "labelIds")
    prediction = predicted(FRAMES[0])
    ignored = np.array([id2label[i].ignoreInEval if i in id2label else True for i in range(256)])[truth]
    rgba = colors[ids]
    assert (rgba[ignored] == [128, 128, 128, 255]).all()
    wrong = ~ignored & (truth != prediction)
    assert wrong.any() and (rgba[wrong] == [255, 0, 0, 255]).all()
    assert (rgba[~ignored & ~wrong][:, 3] == 0).all()
    y, x = np.argwhere(wrong)[0]
    assert names[ids[y, x]] == (f"wrong: truth {id2label[truth[y, x]].name}, "
                                f"predicted {id2label[prediction[y, x]].name}")


def test_prediction_layers(viewer):
    ids, colors, _ = decode(viewer.layer(frame(viewer, 0), "pred"))
    assert (ids == predicted(FRAMES[0])).all()
    ids, colors, names = decode(viewer.layer(frame(viewer, 0), "pred-instances"))
    with open(f"{viewer.pred}/instance/{FRAMES[0]}_pred.txt") as f:
        lines = [line.split() for line in f if line.strip()]
    top = max(lines, key=lambda fields: float(fields[2]))  # the most confident mask is drawn on top
    mask = read(f"results/instance/{top[0]}") != 0
    assert {names[k] for k in np.unique(ids[mask])} == {f"{id2label[int(top[1])].name} {float(top[2]):.3f}"}
    ids, colors, names = decode(viewer.layer(frame(viewer, 0), "pred-panoptic"))
    with open(f"{viewer.pred}/panoptic/cityscapes_panoptic_val.json") as f:
        annotation = next(a for a in json.load(f)["annotations"] if a["image_id"] == FRAMES[0])
    segment = max(annotation["segments_info"], key=lambda s: s["area"])
    assert f"(segment {segment['id']})" in " ".join(names)
    assert sum(1 for n in names if "(segment" in n) == len(annotation["segments_info"])


def test_disparity_layer_uses_the_original_colour_map(viewer):
    ids, colors, names = decode(viewer.layer(frame(viewer, 0), "disparity"))
    disparity = disparity_map()
    assert (colors[ids][:100, :, 3] == 0).all()  # no disparity: transparent
    level = np.minimum(disparity[500] >> 7, 255)
    assert (ids[500] == level).all()
    # the original viewer's colours (cityscapesscripts 2.3.0): plasma over disparity / 128 in 3..100
    assert tuple(colors[1][:3]) == tuple(DISPARITY_COLORS[0]) == (12, 7, 134)
    assert tuple(colors[200][:3]) == tuple(DISPARITY_COLORS[-1]) == (239, 248, 33)
    assert names[40] == "disparity 20.0 to 20.5 px"


def test_citypersons_boxes(viewer):
    payload = viewer.layer(frame(viewer, 0), "citypersons")
    assert payload["kind"] == "boxes"
    assert [(b["name"], b["box"], b["visible"], b["instance"]) for b in payload["boxes"]] == \
        [(label, box, visible, label == "pedestrian") for label, box, visible in PERSONS]
    assert payload["boxes"][0]["color"] == [220, 20, 60]


def test_3d_boxes_are_projected_as_the_original_projects_them(viewer):
    payload = viewer.layer(frame(viewer, 0), "bbox3d")
    with open(f"{BOX3D}/expected/transform/gt_boxes.json") as f:
        expected = json.load(f)[BOX3D_FRAME]["objects"]
    boxes = [b for b in payload["boxes"] if "faces" in b]
    assert len(boxes) == len(expected) > 0
    sides = ("front", "back", "top", "bottom", "left", "right")
    for box, original in zip(boxes, expected):
        assert box["name"].split(" ")[0] == original["label"]
        assert [face["visible"] for face in box["faces"]] == [original["side_visibilities"][s] for s in sides]
        for face, side in zip(box["faces"], sides):
            assert np.allclose(np.array(face["points"]).reshape(-1, 2),
                               np.array(original["side_polygons_2d"][side]).reshape(-1, 2), atol=1e-6)
        assert np.allclose(np.array(box["arrow"]).reshape(-1, 2),
                           np.array(original["bottom_arrow_2d"]).reshape(-1, 2), atol=1e-6)
    ignores = [b for b in payload["boxes"] if "faces" not in b]
    assert ignores and all(b["name"].endswith("(ignore region)") for b in ignores)


@pytest.mark.parametrize("view", ["modal", "amodal"])
def test_2d_boxes_of_the_3d_annotation(viewer, view):
    payload = viewer.layer(frame(viewer, 0), f"bbox3d-{view}")
    expected = boxes_2d(view)
    assert [(b["name"], tuple(b["box"])) for b in payload["boxes"]] == [
        (f"{label} {instance}" if instance is not None else f"{label} (ignore region)", box)
        for label, instance, box in expected]
    assert [b["color"] for b in payload["boxes"]] == [list(name2label[label].color) for label, _, _ in expected]
    assert all("faces" not in b for b in payload["boxes"])


def _mean_iou(prediction, truth):
    """Plain per-image class IoU over evaluated classes present in truth or prediction."""
    scores = []
    evaluated_ids = [label.id for label in id2label.values() if not label.ignoreInEval and label.id >= 0]
    evaluated = np.isin(truth, evaluated_ids)
    for label in id2label.values():
        if label.id not in evaluated_ids:
            continue
        tp = ((prediction == label.id) & (truth == label.id)).sum()
        fp = ((prediction == label.id) & (truth != label.id) & evaluated).sum()
        fn = ((prediction != label.id) & (truth == label.id)).sum()
        if tp + fp + fn:
            scores.append(tp / (tp + fp + fn))
    return float(np.mean(scores))


def test_scores_per_image(viewer):
    for index in (0, 1):
        scores = viewer.scores(frame(viewer, index))
        truth = golden(FRAMES[index], "labelIds")
        prediction = predicted(FRAMES[index])
        assert scores["mIoU"] == pytest.approx(_mean_iou(prediction, truth), abs=1e-12)
        assert set(scores) == {"mIoU", "AP", "PQ"} and all(0 <= v <= 1 for v in scores.values())


def test_summary_numbers_are_the_command_line_evaluators(viewer, root):
    """The grid's per-image numbers: csEvalPixelLevelSemanticLabeling on a one-image list; the ground truth's classes."""
    from cityscapesscripts.evaluation import evalPixelLevelSemanticLabeling as cli_eval
    args = cli_eval._default_args()
    args.quiet, args.JSONOutput, args.jobs = True, False, 1
    for index in (0, 1):
        gt = os.path.join(root, "gtFine", "val", CITY, f"{FRAMES[index]}_gtFine_labelIds.png")
        pred = os.path.join(root, "results", "semantic", f"{FRAMES[index]}_pred.png")
        result = cli_eval.evaluateImgLists([pred], [gt], args)
        summary = viewer.summary(frame(viewer, index))
        assert summary["scores"]["mIoU"] == result["averageScoreClasses"]
        assert summary["classIoU"] == {k: v for k, v in result["classScores"].items() if not math.isnan(v)}
        truth = golden(FRAMES[index], "labelIds")
        assert summary["classes"] == [id2label[i].name for i in sorted(set(np.unique(truth).tolist()))]


def test_confusion_matrix_of_an_image_is_the_command_line_evaluators(viewer, root):
    """The per-image confusion counts: csEvalPixelLevelSemanticLabeling's matrix on a one-image list, among the
    evaluated classes present; the class IoUs it gives are the evaluator's, and the counts are the pixels'."""
    from cityscapesscripts.evaluation import evalPixelLevelSemanticLabeling as cli_eval
    args = cli_eval._default_args()
    args.quiet, args.JSONOutput, args.jobs = True, False, 1
    evaluated = [label.id for label in id2label.values() if label.id >= 0 and not label.ignoreInEval]
    for index in (0, 1):
        gt = os.path.join(root, "gtFine", "val", CITY, f"{FRAMES[index]}_gtFine_labelIds.png")
        pred = os.path.join(root, "results", "semantic", f"{FRAMES[index]}_pred.png")
        result = cli_eval.evaluateImgLists([pred], [gt], args)
        confusion = viewer.summary(frame(viewer, index))["confusion"]
        matrix = np.array(result["confMatrix"])
        present = [i for i in evaluated if matrix[i, evaluated].any() or matrix[evaluated, i].any()]
        assert confusion["ids"] == present and confusion["labels"] == [id2label[i].name for i in present]
        assert confusion["counts"] == matrix[np.ix_(present, present)].tolist()
        assert confusion["other"] == [int(matrix[i].sum() - matrix[i, present].sum()) for i in present]
        counts = np.array(confusion["counts"])
        for k, name in enumerate(confusion["labels"]):
            tp = counts[k, k]
            iou = tp / (counts[k].sum() + confusion["other"][k] + counts[:, k].sum() - tp)
            assert iou == pytest.approx(result["classScores"][name], abs=1e-15)
        truth, prediction = golden(FRAMES[index], "labelIds"), predicted(FRAMES[index])
        for r, c in ((0, 0), (0, len(present) - 1), (len(present) - 1, 1)):  # pixel by pixel, here
            assert counts[r, c] == ((truth == present[r]) & (prediction == present[c])).sum()


def test_summaries_come_in_the_background_and_equal_the_serial_ones(root):
    serial = Viewer(root, pred=f"{root}/results", jobs=1)
    expected = {f.key: serial.summary(f) for f in serial.frames}
    viewer = Viewer(root, pred=f"{root}/results", jobs=2)
    known, pending = viewer.summaries()
    assert pending == len(expected) - len(known)
    viewer._summarizing.join()
    assert viewer.summaries() == (expected, 0)


def test_object_list_matches_each_instance_by_its_overlap(viewer, root):
    """TP / FP / FN of the object list against overlaps counted here, pixel by pixel."""
    from cityscapesscripts.io import png
    instance_ids = golden(FRAMES[0], "instanceIds")
    predictions = sorted((line.split() for line in
                          open(os.path.join(root, "results", "instance", f"{FRAMES[0]}_pred.txt"))),
                         key=lambda p: float(p[2]))  # as the layer draws them: lowest confidence first
    masks = [png.read_grey(os.path.join(root, "results", "instance", p[0])) != 0 for p in predictions]
    objects = viewer.objects(frame(viewer, 0))
    truths = [o for o in objects if o["kind"] == "truth"]
    evaluated = {name2label[n].id for n in ("person", "rider", "car", "truck", "bus", "train", "motorcycle",
                                            "bicycle")}
    assert sorted(o["instance"] for o in truths) == sorted(
        int(i) for i in np.unique(instance_ids) if i >= 1000 and i // 1000 in evaluated)
    assert sorted(o["entry"] for o in objects if o["kind"] == "prediction") == [  # empty or unevaluated: none
        k + 1 for k, p in enumerate(predictions) if int(p[1]) in evaluated and masks[k].any()]

    def overlap(mask, instance):
        gt = instance_ids == instance
        return (mask & gt).sum() / (mask | gt).sum()
    chosen = {}  # prediction -> IoU with the instance it matched
    for o in truths:
        same_label = [k for k, p in enumerate(predictions) if id2label[int(p[1])].name == o["label"]]
        over = [k for k in same_label if overlap(masks[k], o["instance"]) > 0.5]
        assert o["status"] == ("TP" if over else "FN")
        if over:  # the most confident of those that overlap it enough
            best = max(over, key=lambda k: float(predictions[k][2]))
            chosen[best] = overlap(masks[best], o["instance"])
            assert o["iou"] == pytest.approx(chosen[best], abs=1e-12)
    for o in objects:
        if o["kind"] == "prediction" and o["status"] != "ignored":
            k = o["entry"] - 1
            ids = [i for i in np.unique(instance_ids[masks[k]]) if i >= 1000 and id2label[i // 1000].name == o["label"]]
            best = max((overlap(masks[k], i) for i in ids), default=0.0)
            assert o["status"] == ("TP" if k in chosen else "FP")
            assert o["iou"] == pytest.approx(chosen.get(k, best), abs=1e-12)
    assert {o["status"] for o in objects} >= {"TP", "FN"}


def test_all_scores_on_worker_processes_equal_the_serial_ones(root):
    serial = Viewer(root, pred=f"{root}/results")
    expected = {f.key: serial.scores(f) for f in serial.frames}
    assert Viewer(root, pred=f"{root}/results", jobs=2).all_scores() == expected


def test_a_worker_process_unpickles_the_viewer_once_for_all_its_tasks(viewer):
    """Each chunk of frames the pool sends carries the viewer: pickled once here, unpickled once per process."""
    import pickle

    from cityscapesscripts.web import viewer as viewer_module
    niceness = os.nice(0)
    first, again = pickle.dumps(viewer), pickle.dumps(viewer)
    assert first == again and len(first) < 2 * len(pickle.dumps(viewer._pickled))
    try:
        copy = pickle.loads(first)
        assert pickle.loads(again) is copy and copy is not viewer
        assert [f.key for f in copy.frames] == [f.key for f in viewer.frames] and copy.pred == viewer.pred
        assert copy.summary(frame(copy, 0)) == viewer.summary(frame(viewer, 0))
        assert os.nice(0) == niceness  # only a worker of the server's own pool yields the cores
    finally:
        viewer_module._WORKER_VIEWERS.pop(viewer._token, None)


def _niceness(viewer, key):
    return {"scores": {"niceness": os.nice(0)}}


def test_scoring_workers_yield_the_cores_to_the_server(root, monkeypatch):
    from cityscapesscripts.web import viewer as viewer_module
    monkeypatch.setattr(viewer_module, "_summary_of", _niceness)  # what each worker runs: its niceness
    scores = Viewer(root, pred=f"{root}/results", jobs=2).all_scores()
    expected = min(19, os.nice(0) + viewer_module.SCORING_NICENESS)
    assert [s["niceness"] for s in scores.values()] == [expected] * len(scores)


def test_a_bad_prediction_is_reported_and_the_other_frames_are_scored(root, tmp_path):
    from cityscapesscripts.io import png
    pred = tmp_path / "pred"
    pred.mkdir()
    png.write_png(str(pred / f"{FRAMES[0]}_pred.png"), np.zeros((10, 10), np.uint8))  # wrong size
    png.write_png(str(pred / f"{FRAMES[1]}_pred.png"), predicted(FRAMES[1]).astype(np.uint8))
    viewer = Viewer(root, pred=str(pred), jobs=1)
    scores = viewer.all_scores()
    assert "prediction is 10x10 but its ground truth is 2048x1024" in scores[f"val/{CITY}/{FRAMES[0]}"]["error"]
    assert set(scores[f"val/{CITY}/{FRAMES[1]}"]) == {"mIoU"}
    # asked for alone, the image's failure comes with its message (not as a server error)
    response = make_router(viewer).dispatch(server.Request("GET", f"/api/summary/val/{CITY}/{FRAMES[0]}", {}, {}, b""))
    assert response.status == 422 and "prediction is 10x10" in json.loads(response.body)["error"]


def test_train_id_predictions(root, tmp_path):
    from cityscapesscripts.helpers.labelset import CITYSCAPES
    from cityscapesscripts.io import png
    pred = tmp_path / "pred"
    pred.mkdir()
    ids = predicted(FRAMES[0]).astype(np.uint8)
    png.write_png(str(pred / f"{FRAMES[0]}_pred.png"), CITYSCAPES.id_to_train_id[ids])
    viewer = Viewer(root, pred=str(pred), train_ids=True)
    shown, _, _ = decode(viewer.layer(frame(viewer, 0), "pred"))
    assert (shown == CITYSCAPES.train_id_to_id[CITYSCAPES.id_to_train_id[ids]]).all()


@pytest.mark.parametrize("dtype", [np.int64, np.uint16, np.uint8])
def test_compact_keeps_values_in_order(dtype):
    values = np.array([[201, 7], [7, 33000 % np.iinfo(dtype).max]], dtype=dtype)
    index, present = compact(values)
    assert present.tolist() == sorted({201, 7, 33000 % np.iinfo(dtype).max}) and (present[index] == values).all()


def test_compact_of_more_than_256_values():
    values = (np.arange(600 * 4, dtype=np.uint16) * 97 % 600 * 100).reshape(40, 60)
    index, present = compact(values)
    assert present.tolist() == list(range(0, 60000, 100)) and (present[index] == values).all()


def test_routes(viewer):
    srv = server.start_in_thread(make_router(viewer))
    try:
        def get(path, headers=False):
            connection = http.client.HTTPConnection(*srv.server_address[:2], timeout=30)
            connection.request("GET", path)
            response = connection.getresponse()
            return (response.status, response.read()) + ((response.headers,) if headers else ())
        status, body = get("/api/frames")
        assert status == 200 and [f["id"] for f in json.loads(body)["frames"]] == list(FRAMES)
        assert get(f"/api/layer/gtFine/val/{CITY}/nothing_000000_000000")[0] == 404
        assert get(f"/api/layer/nothing/val/{CITY}/{FRAMES[0]}")[0] == 404
        assert get(f"/api/layer/gtCoarse/val/{CITY}/{FRAMES[1]}")[0] == 404
        status, body = get(f"/api/file/leftImg8bit/val/{CITY}/{FRAMES[0]}_leftImg8bit.png")
        assert status == 200 and body[:4] == b"\x89PNG"
        original = read(f"leftImg8bit/val/{CITY}/{FRAMES[0]}_leftImg8bit.png")[..., :3]
        for scale in (1, 2, 4):  # the JPEG shown first, at the page's screen size
            status, body, headers = get(f"/api/camera/val/{CITY}/{FRAMES[0]}?scale={scale}", headers=True)
            assert status == 200 and Image.open(io.BytesIO(body)).format == "JPEG"
            assert headers["X-Image-Size"] == "2048x1024"  # of the image, not of the preview
            camera = np.asarray(Image.open(io.BytesIO(body))).astype(np.int64)
            reduced = original.reshape(1024 // scale, scale, 2048 // scale, scale, 3).mean(axis=(1, 3))
            assert camera.shape == reduced.shape and np.abs(camera - reduced).mean() < 3  # quality 90
        assert get(f"/api/camera/val/{CITY}/{FRAMES[0]}")[0] == 200  # scale 1 by default
        for scale in ("0", "9", "x", "-1", "%C2%B2", "%EF%BC%92", "1" * 30):  # "²" and "２" are no digits
            assert get(f"/api/camera/val/{CITY}/{FRAMES[0]}?scale={scale}")[0] == 400
        assert get(f"/api/camera/val/{CITY}/nothing_000000_000000")[0] == 404
        assert get("/api/file/../../../../etc/passwd")[0] in (403, 404)
        assert get("/api/file/%2e%2e/%2e%2e/etc/passwd")[0] == 403
        status, body = get("/")
        assert status == 200 and b"viewer.js" in body
        status, body = get(f"/api/layer/gtFine/val/{CITY}/{FRAMES[0]}")
        length = struct.unpack("<I", body[:4])[0]
        header = json.loads(body[4:4 + length])
        index = np.frombuffer(body[4 + length:], dtype=header["dtype"]).reshape(header["shape"])
        expected = viewer.layer(frame(viewer, 0), "gtFine")
        assert status == 200 and (index == expected["index"]).all() and header["names"] == expected["names"]
        connection = http.client.HTTPConnection(*srv.server_address[:2], timeout=30)
        connection.request("POST", f"/api/layer/gtFine/val/{CITY}/{FRAMES[0]}", body=b"{}")
        assert connection.getresponse().status == 405  # read-only
    finally:
        srv.shutdown()
        srv.server_close()


def test_grid_routes_answer_known_frames_only_to_this_machine(viewer):
    """The new routes: thumbnails, summaries and objects of the frames found, GET only, loopback Host only."""
    srv = server.start_in_thread(make_router(viewer))
    try:
        def request(path, method="GET", host=None):
            connection = http.client.HTTPConnection(*srv.server_address[:2], timeout=30)
            connection.request(method, path, body=b"{}" if method == "POST" else None,
                               headers={"Host": host} if host else {})
            response = connection.getresponse()
            return response.status, response.read()
        key = f"val/{CITY}/{FRAMES[0]}"
        status, body = request(f"/api/thumbnail/{key}")
        thumbnail = np.asarray(Image.open(io.BytesIO(body))).astype(np.int64)
        original = read(f"leftImg8bit/val/{CITY}/{FRAMES[0]}_leftImg8bit.png")[..., :3]
        assert status == 200 and thumbnail.shape == (128, 256, 3)
        assert np.abs(thumbnail - original.reshape(128, 8, 256, 8, 3).mean(axis=(1, 3))).mean() < 8  # JPEG 80
        status, body = request(f"/api/summary/{key}")
        assert status == 200 and json.loads(body) == viewer.summary(frame(viewer, 0))
        viewer.summaries()
        viewer._summarizing.join()
        status, body = request("/api/summaries")
        assert status == 200 and json.loads(body) == {"pending": 0, "summaries": viewer.summaries()[0]}
        status, body = request(f"/api/objects/{key}")
        assert status == 200 and json.loads(body) == {"threshold": 0.5, "objects": viewer.objects(frame(viewer, 0))}
        for route in ("thumbnail", "summary", "objects"):
            for bad in (f"val/{CITY}/nothing_000000_000000", "../../../etc/passwd", "%2e%2e/%2e%2e/etc/passwd"):
                assert request(f"/api/{route}/{bad}")[0] == 404
            assert request(f"/api/{route}/{key}", "POST")[0] == 405
            assert request(f"/api/{route}/{key}", host="evil.example:80")[0] == 403
        assert request("/api/summaries", host="evil.example:80")[0] == 403
        assert request("/api/summaries", "POST")[0] == 405
    finally:
        srv.shutdown()
        srv.server_close()


def test_cli_errors(monkeypatch, tmp_path, capsys):
    monkeypatch.delenv("CITYSCAPES_DATASET", raising=False)
    assert cityscapesViewer.main(["--no-browser"]) == 1
    assert "CITYSCAPES_DATASET" in capsys.readouterr().err
    assert cityscapesViewer.main([str(tmp_path), "--no-browser"]) == 1
    assert "no camera images found" in capsys.readouterr().err
    (tmp_path / "leftImg8bit" / "val" / "x").mkdir(parents=True)
    (tmp_path / "leftImg8bit" / "val" / "x" / "x_000000_000000_leftImg8bit.png").write_bytes(b"")
    assert cityscapesViewer.main([str(tmp_path), "--pred", str(tmp_path / "missing"), "--no-browser"]) == 1
    assert "prediction folder does not exist" in capsys.readouterr().err


def test_cli_serves_on_loopback_and_prints_the_url(root):
    """csViewer as a user starts it: prints the URL, answers there, binds 127.0.0.1 only."""
    process = subprocess.Popen([sys.executable, "-m", "cityscapesscripts.viewer.cityscapesViewer", root,
                                "--pred", f"{root}/results", "--port", "0", "--no-browser"],
                               stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    try:
        lines = [process.stdout.readline(), process.stdout.readline()]
        url = re.search(r"http://127\.0\.0\.1:(\d+)/", lines[1])
        assert "2 images" in lines[0] and url, lines
        connection = http.client.HTTPConnection("127.0.0.1", int(url.group(1)), timeout=30)
        connection.request("GET", "/api/frames")
        assert [f["id"] for f in json.loads(connection.getresponse().read())["frames"]] == list(FRAMES)
    finally:
        process.terminate()
        process.wait(timeout=30)
        process.stdout.close()
        process.stderr.close()


def test_a_remote_bind_needs_the_printed_token(root):
    """csViewer --host 0.0.0.0 (reached here through 127.0.0.1): the printed URL carries a token, requests
    without it are refused, the warning says who can read."""
    process = subprocess.Popen([sys.executable, "-m", "cityscapesscripts.viewer.cityscapesViewer", root,
                                "--host", "0.0.0.0", "--port", "0", "--no-browser"],
                               stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    try:
        lines = [process.stdout.readline(), process.stdout.readline()]
        url = re.search(r"http://127\.0\.0\.1:(\d+)/\?token=([\w-]{32})\s", lines[1])
        assert url, lines
        port, token = int(url.group(1)), url.group(2)

        def get(path, headers=None):
            connection = http.client.HTTPConnection("127.0.0.1", port, timeout=30)
            connection.request("GET", path, headers=headers or {})
            response = connection.getresponse()
            return response.status, response.read(), response.getheader("Set-Cookie")
        status, body, _ = get("/api/frames")
        assert status == 403 and "token" in json.loads(body)["error"]
        assert get(f"/api/file/leftImg8bit/val/{CITY}/{FRAMES[0]}_leftImg8bit.png")[0] == 403
        status, body, cookie = get(f"/api/frames?token={token}")
        assert status == 200 and [f["id"] for f in json.loads(body)["frames"]] == list(FRAMES)
        status, body, _ = get(f"/api/file/leftImg8bit/val/{CITY}/{FRAMES[0]}_leftImg8bit.png",
                              {"Cookie": cookie.split(";")[0]})
        assert status == 200 and body[:4] == b"\x89PNG"
    finally:
        process.terminate()
        process.wait(timeout=30)
        process.stdout.close()
        warning = process.stderr.read()
        process.stderr.close()
    assert "anyone who has the address above" in warning and "can read the served folders" in warning
    assert "change" not in warning  # the viewer writes nothing


def test_the_page_works_through_the_token_cookie(browser, viewer):
    """In Chromium: the URL's token sets the cookie, and the page's own requests (frames, layers, images) pass."""
    from browser import Page
    srv = server.start_in_thread(make_router(viewer), host="0.0.0.0", token="browser-token")
    try:
        page = Page(browser, server.url_of(srv))
        page.wait("window.viewer && viewer.ready")
        assert "browser-token" not in page.js("return document.cookie")  # HttpOnly: no script reads it
        statuses = page.driver.execute_async_script("""
            const done = arguments[arguments.length - 1];
            Promise.all([fetch('/api/frames'), fetch('/api/frames', {credentials: 'omit'})])
                .then(responses => done(responses.map(r => r.status)));
        """)
        assert statuses == [200, 403]
    finally:
        srv.shutdown()
        srv.server_close()


def test_linked_dataset_folders_are_served(root, tmp_path):
    """leftImg8bit/ and gtFine/ as symbolic links to another disk: images and overlays are served; a file that
    is a link leading out, ``..`` and absolute paths are still refused."""
    linked = tmp_path / "linked"
    linked.mkdir()
    for kind in ("leftImg8bit", "gtFine"):
        os.symlink(os.path.join(root, kind), linked / kind)
    (tmp_path / "secret.png").write_bytes(b"SECRET")
    (linked / "disparity" / "val" / CITY).mkdir(parents=True)
    os.symlink(tmp_path / "secret.png", linked / "disparity" / "val" / CITY / f"{FRAMES[0]}_disparity.png")
    viewer = Viewer(str(linked))
    assert set(viewer.sources(frame(viewer, 0))) == {"gtFine", "instances"}  # no disparity from the link out
    srv = server.start_in_thread(make_router(viewer))
    try:
        def get(path):
            connection = http.client.HTTPConnection(*srv.server_address[:2], timeout=30)
            connection.request("GET", path)
            response = connection.getresponse()
            return response.status, response.read()
        status, body = get(f"/api/camera/val/{CITY}/{FRAMES[0]}?scale=2")
        assert status == 200 and Image.open(io.BytesIO(body)).size == (1024, 512)
        status, body = get(f"/api/file/leftImg8bit/val/{CITY}/{FRAMES[0]}_leftImg8bit.png")
        assert status == 200 and body == read_bytes(root, f"leftImg8bit/val/{CITY}/{FRAMES[0]}_leftImg8bit.png")
        status, body = get(f"/api/layer/gtFine/val/{CITY}/{FRAMES[0]}")
        length = struct.unpack("<I", body[:4])[0]
        index = np.frombuffer(body[4 + length:], dtype=json.loads(body[4:4 + length])["dtype"])
        assert status == 200 and (index == viewer.layer(frame(viewer, 0), "gtFine")["index"].ravel()).all()
        for path in (f"/api/file/disparity/val/{CITY}/{FRAMES[0]}_disparity.png",
                     "/api/file/leftImg8bit/../../secret.png", "/api/file/%2e%2e/secret.png",
                     "/api/file/" + str(tmp_path / "secret.png")):
            status, body = get(path)
            assert status == 403 and b"SECRET" not in body, path
    finally:
        srv.shutdown()
        srv.server_close()


def read_bytes(root, rel):
    with open(os.path.join(root, rel), "rb") as f:
        return f.read()
