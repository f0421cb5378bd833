"""NaN and infinite numbers in the inputs: an error naming the file and the object or line, in every
tool that reads them (never a polygon drawn somewhere, a score sorted anywhere, a box scored as garbage)."""
import json
import math
import os

import numpy as np
import pytest

from cityscapesscripts.annotation import editing
from cityscapesscripts.errors import AnnotationError, PredictionError
from cityscapesscripts.evaluation import box3d, instance_files
from cityscapesscripts.helpers.annotation import Annotation, CsObjectType, polygon_finite_problem
from cityscapesscripts.helpers.labelset import CITYSCAPES
from cityscapesscripts.io import jsonfile, png
from cityscapesscripts.preparation import prepare, rasterize

# the ways a JSON file spells a number that is not finite; 1e999 is beyond the float range
NOT_FINITE = {"NaN": "nan", "Infinity": "inf", "-Infinity": "-inf", "1e999": "inf"}


def polygon_text(number):
    return ('{"imgWidth": 8, "imgHeight": 6, "objects": ['
            '{"label": "road", "polygon": [[0, 0], [7, 0], [7, 5]]}, '
            f'{{"label": "car", "deleted": 0, "polygon": [[1, 1], [{number}, 3], [3, 4]]}}]}}')


@pytest.mark.parametrize("number", NOT_FINITE)
def test_a_polygon_coordinate_that_is_not_finite_is_an_error_of_its_object(tmp_path, number):
    path = tmp_path / "a_000000_000001_gtFine_polygons.json"
    path.write_text(polygon_text(number))
    reason = f"object 1: polygon point [{NOT_FINITE[number]}, 3] is not finite (NaN or Infinity)"
    with pytest.raises(AnnotationError) as batch:  # the batch tools' path, without the annotation model
        rasterize.rasterize_file(str(path))
    with pytest.raises(AnnotationError) as model:  # the viewer's, the dataset's and the one-file tools' path
        Annotation().fromJsonFile(str(path))
    with pytest.raises(AnnotationError) as label_tool:
        editing.load_annotation(str(path))
    for error in (batch, model, label_tool):
        assert (error.value.path, error.value.reason) == (str(path), reason)


def test_a_finite_polygon_is_drawn_as_before(tmp_path):
    path = tmp_path / "a_000000_000001_gtFine_polygons.json"
    path.write_text(polygon_text("5"))
    assert rasterize.rasterize_file(str(path)).index.tolist() == rasterize.rasterize(_annotation(path)).index.tolist()
    # huge but finite coordinates overflow the one-pass check's sum: they are looked at and accepted
    huge = json.loads(polygon_text("1e308"))
    huge["objects"][1]["polygon"].append([1e308, 1])
    assert polygon_finite_problem(huge["objects"][1]["polygon"]) is None


def _annotation(path):
    annotation = Annotation()
    annotation.fromJsonFile(str(path))
    return annotation


def test_the_preparation_tool_names_the_file_and_goes_on(tmp_path, capsys):
    city = tmp_path / "gtFine" / "val" / "a"
    city.mkdir(parents=True)
    good, bad = city / "a_000000_000001_gtFine_polygons.json", city / "a_000000_000002_gtFine_polygons.json"
    good.write_text(polygon_text("5"))
    bad.write_text(polygon_text("NaN"))
    assert prepare.run(["--dataset", str(tmp_path), "-j", "1", "-q"], "labelTrainIds", "") == 1
    assert capsys.readouterr().err == (f"ERROR: {bad}: object 1: polygon point [nan, 3] is not finite "
                                       "(NaN or Infinity)\n")
    assert sorted(os.listdir(city)) == sorted([good.name, bad.name, "a_000000_000001_gtFine_labelTrainIds.png"])


def test_json_parses_the_same_with_and_without_msgspec():
    """Long texts go to msgspec, which refuses NaN and 1e999: they are parsed again as short ones are."""
    filler = " " * jsonfile.FAST_FROM
    for number, value in NOT_FINITE.items():
        for text in (f"[{number}, 1]", f"[{number}, 1]{filler}"):
            parsed = jsonfile.loads(text.encode())
            assert str(parsed[0]) == value and parsed[1] == 1
    assert jsonfile.loads(f'{{"a": [1.5, 2]}}{filler}') == {"a": [1.5, 2]}


@pytest.mark.parametrize("bad, value", [("nan", "nan"), ("inf", "inf"), ("-Infinity", "-inf")])
def test_a_prediction_list_confidence_that_is_not_finite_names_its_line(tmp_path, bad, value):
    mask = tmp_path / "m.png"
    png.write_png(mask, np.zeros((2, 2), np.uint8))
    listing = tmp_path / "a_000000_000001_pred.txt"
    listing.write_text(f"m.png 26 0.5\n\nm.png 26 {bad}\n")
    with pytest.raises(PredictionError) as e:
        instance_files.read_prediction_list(str(listing))
    assert (e.value.path, e.value.reason) == (f"{listing} line 3", f"confidence {value} is not a finite number")
    listing.write_text("m.png inf 0.5\n")  # a label id of inf is a bad number, not a traceback
    with pytest.raises(PredictionError, match="label id and confidence must be numbers"):
        instance_files.read_prediction_list(str(listing))


def coco_entry(**fields):
    entry = {"image_id": "a_000000_000001", "category_id": 26, "score": 0.5,
             "segmentation": [[1, 1, 5, 1, 5, 4]]}
    entry.update(fields)
    return entry


@pytest.mark.parametrize("entry, reason", [
    (coco_entry(score=math.nan), "confidence nan is not a finite number"),
    (coco_entry(score=-math.inf), "confidence -inf is not a finite number"),
    (coco_entry(segmentation=[[1, 1, 5, 1, 5, 4], [1, 1, 5, math.inf, 5, 4]]),
     "segmentation polygon: value 3 (inf) is not finite (NaN or Infinity)"),
    (coco_entry(category_id=math.inf), "needs image_id, category_id, score and segmentation"),
])
def test_a_coco_prediction_that_is_not_finite_names_its_entry(tmp_path, entry, reason):
    path = tmp_path / "predictions.json"
    path.write_text(json.dumps([coco_entry(), entry]))  # json writes NaN and Infinity
    with pytest.raises(PredictionError) as e:
        instance_files.read_coco_predictions(str(path), ["gt/a_000000_000001_gtFine_instanceIds.png"])
    assert e.value.path == f"{path} entry 1" and e.value.reason.startswith(reason)


def box_3d(**changes):
    box = {"label": "car", "score": 0.9, "instanceId": 26001,
           "2d": {"amodal": [10, 10, 40, 30], "modal": [12, 10, 30, 30]},
           "3d": {"center": [20.0, 1.0, 0.5], "dimensions": [4.0, 1.8, 1.5], "rotation": [1.0, 0.0, 0.0, 0.0]}}
    for key, value in changes.items():
        if key in ("center", "dimensions", "rotation"):
            box["3d"][key] = value
        elif key in ("amodal", "modal"):
            box["2d"][key] = value
        else:
            box[key] = value
    return box


SENSOR = {"fx": 2000.0, "fy": 2000.0, "u0": 1000.0, "v0": 500.0,
          "sensor_T_ISO_8855": [[1, 0, 0, -1.6], [0, 1, 0, 0], [0, 0, 1, -1.3]]}


@pytest.mark.parametrize("changes, reason", [
    ({"center": [20.0, math.nan, 0.5]}, "center [20.0, nan, 0.5]"),
    ({"dimensions": [4.0, math.inf, 1.5]}, "dimensions [4.0, inf, 1.5]"),
    ({"rotation": [math.nan, 0, 0, 0]}, "rotation [nan, 0, 0, 0]"),
    ({"score": math.inf}, "score [inf]"),
    ({"modal": [12, 10, -math.inf, 30]}, "box [12, 10, -inf, 30]"),
])
def test_a_3d_box_that_is_not_finite_is_an_error_in_ground_truth_predictions_and_viewer(tmp_path, changes, reason):
    gt_path, pred_path = tmp_path / "a_gtBbox3d.json", tmp_path / "a_pred.json"
    objects = [box_3d(), box_3d(**changes)]
    gt_path.write_text(json.dumps({"imgWidth": 2048, "imgHeight": 1024, "sensor": SENSOR,
                                   "objects": objects, "ignore": []}))
    pred_path.write_text(json.dumps({"objects": objects}))
    expected = f"object 1: {reason} is not finite (NaN or Infinity)"
    with pytest.raises(AnnotationError) as gt:
        box3d.ground_truth_from_json(jsonfile.read_json(gt_path, AnnotationError), ["car"], str(gt_path))
    with pytest.raises(PredictionError) as pred:  # never skipped as an incomplete object is
        box3d.predictions_from_json(jsonfile.read_json(pred_path, PredictionError), ["car"], str(pred_path))
    with pytest.raises(AnnotationError) as viewer:
        Annotation(CsObjectType.BBOX3D).fromJsonFile(str(gt_path))
    assert (gt.value.path, gt.value.reason) == (str(gt_path), expected)
    assert (pred.value.path, pred.value.reason) == (str(pred_path), expected)
    assert (viewer.value.path, viewer.value.reason) == (str(gt_path), expected)


def test_a_3d_ignore_region_that_is_not_finite_names_its_index(tmp_path):
    data = {"imgWidth": 2048, "imgHeight": 1024, "sensor": SENSOR, "objects": [],
            "ignore": [{"2d": [0, 0, 5, 5]}, {"2d": [0, math.nan, 5, 5]}]}
    with pytest.raises(AnnotationError, match=r"^x: ignore region 1: box \[0, nan, 5, 5\] is not finite"):
        box3d.ground_truth_from_json(data, ["car"], "x")


# ---- the label tool refuses to save such vertices ------------------------------------------
@pytest.fixture
def polygon_file(tmp_path):
    path = tmp_path / "a_000000_000001_gtFine_polygons.json"
    path.write_text(json.dumps({"imgWidth": 100, "imgHeight": 50, "objects": [
        {"label": "car", "polygon": [[1, 1], [5, 1], [5, 5]]}]}, indent=4))
    return path


@pytest.mark.parametrize("vertex, reason", [
    ([math.nan, 1], "polygon point [nan, 1] is not finite (NaN or Infinity)"),
    ([1, math.inf], "polygon point [1, inf] is not finite (NaN or Infinity)"),
    ([1001, 1], "polygon point [1001, 1] lies beyond 10 times the image size (100x50)"),
    ([1, -501], "polygon point [1, -501] lies beyond 10 times the image size (100x50)"),
    ([10 ** 400, 1], f"polygon point [{10 ** 400}, 1] lies beyond 10 times"),  # beyond the float range: no crash
])
@pytest.mark.parametrize("new_object", [False, True])
def test_the_label_tool_refuses_to_save_such_vertices(polygon_file, vertex, reason, new_object):
    before = polygon_file.read_bytes()
    loaded = editing.load_annotation(polygon_file)
    polygon = [[1, 1], vertex, [5, 5]]
    if new_object:
        loaded["objects"].append({"label": "car", "polygon": polygon})
    else:
        loaded["objects"][0]["polygon"] = polygon
    index = 1 if new_object else 0
    with pytest.raises(ValueError) as e:
        editing.save_annotation(polygon_file, loaded["objects"], loaded["version"], CITYSCAPES)
    assert str(e.value).startswith(f"edited object {index}: {reason}")
    assert polygon_file.read_bytes() == before
    loaded["objects"][index]["polygon"] = [[1, 1], [1000, -500], [5, 5]]  # at ten times: kept
    editing.save_annotation(polygon_file, loaded["objects"], loaded["version"], CITYSCAPES)
    assert editing.load_annotation(polygon_file)["objects"][index]["polygon"][1] == [1000, -500]


def test_the_label_tool_server_answers_400_with_the_reason(tmp_path):
    from cityscapesscripts.web import labeltool, server
    root = tmp_path / "dataset"
    city = root / "gtFine" / "val" / "a"
    city.mkdir(parents=True)
    rel = "gtFine/val/a/a_000000_000001_gtFine_polygons.json"
    (root / rel).write_text(json.dumps({"imgWidth": 100, "imgHeight": 50, "objects": []}))
    router = labeltool.make_router(str(root))
    version = editing.load_annotation(root / rel)["version"]
    body = json.dumps({"version": version, "objects": [{"label": "car", "polygon": [[1, 1], [5000, 1], [5, 5]]}]})
    headers = {"Content-Type": "application/json", "Host": "127.0.0.1:8050"}
    response = router.dispatch(server.Request("POST", "/api/save/" + rel, {}, headers, body.encode()))
    assert response.status == 400
    assert json.loads(response.body)["error"] == (f"{rel}: edited object 0: polygon point [5000, 1] lies beyond "
                                                  "10 times the image size (100x50); a slip of the mouse or a bad number")


def test_the_label_tool_preview_refuses_such_vertices(tmp_path):
    from cityscapesscripts.web import labeltool, server
    root = tmp_path / "dataset"
    (root / "gtFine" / "val" / "a").mkdir(parents=True)
    rel = "gtFine/val/a/a_000000_000001_gtFine_polygons.json"
    (root / rel).write_text(json.dumps({"imgWidth": 100, "imgHeight": 50, "objects": []}))
    objects = [{"label": "road", "polygon": [[1, 1], [50, 1], [50, 40]]},
               {"label": "car", "polygon": [[1, 1], [math.inf, 1], [5, 5]]}]
    headers = {"Content-Type": "application/json", "Host": "127.0.0.1:8050"}
    request = server.Request("POST", "/api/preview/" + rel, {}, headers, json.dumps({"objects": objects}).encode())
    response = labeltool.make_router(str(root)).dispatch(request)
    # refused where the request body is parsed, before any drawing
    assert response.status == 400
    assert json.loads(response.body)["error"] == "request body is not JSON: Infinity is not a JSON number"
