import json

import pytest

from cityscapesscripts.errors import AnnotationError
from cityscapesscripts.helpers.annotation import (Annotation, CsBbox2d, CsBbox2dSoft, CsBbox3d, CsIgnore2d,
                                                  CsObjectType, CsPoly, Point)

POLY = {"imgWidth": 100, "imgHeight": 50, "objects": [
    {"label": "car", "polygon": [[1, 2], [30.5, 2], [30, 20]], "deleted": 0, "verified": 1,
     "user": "anna", "date": "01-Jan-2016 10:00:00", "id": 0},
    {"label": "cargroup", "polygon": [[5, 5], [9, 9]], "deleted": 1, "verified": 0, "user": "", "date": "", "id": 1},
]}


def round_trip(data, kind, tmp_path):
    a = Annotation(kind)
    path = tmp_path / "in.json"
    path.write_text(json.dumps(data))
    a.fromJsonFile(str(path))
    a.toJsonFile(str(tmp_path / "out.json"))
    b = Annotation(kind)
    b.fromJsonFile(str(tmp_path / "out.json"))
    return a, b


def test_polygons_round_trip(tmp_path):
    a, b = round_trip(POLY, CsObjectType.POLY, tmp_path)
    assert a.imgWidth == 100 and a.imgHeight == 50 and a.objectType == CsObjectType.POLY
    first = a.objects[0]
    assert isinstance(first, CsPoly) and first.polygon[1] == Point(30.5, 2) and first.user == "anna"
    assert a.objects[1].deleted == 1 and a.objects[1].draw is False
    assert [o.toJsonText() for o in a.objects] == [o.toJsonText() for o in b.objects]
    assert b.toJsonText()["objects"] == POLY["objects"]


def test_boxes_3d_ignore_and_camera_round_trip(tmp_path):
    data = {"imgWidth": 2048, "imgHeight": 1024,
            "sensor": {"fx": 2262.5, "fy": 2265.3, "u0": 1096.9, "v0": 513.1,
                       "sensor_T_ISO_8855": [[1, 0, 0, 1.7], [0, 1, 0, 0.1], [0, 0, 1, 1.2]]},
            "objects": [{"label": "car", "instanceId": 26001, "score": 1.0,
                         "2d": {"amodal": [10, 20, 30, 40], "modal": [12, 22, 20, 30]},
                         "3d": {"center": [20.0, 1.0, 0.8], "dimensions": [4.1, 1.8, 1.5],
                                "rotation": [1.0, 0.0, 0.0, 0.0]}}],
            "ignore": [{"label": "ignore", "instanceId": 0, "2d": [1, 2, 3, 4]}]}
    a, b = round_trip(data, CsObjectType.BBOX3D, tmp_path)
    box = a.objects[0]
    assert isinstance(box, CsBbox3d) and box.bbox_2d.bbox_modal == [12, 22, 32, 52] and box.dims == [4.1, 1.8, 1.5]
    assert isinstance(a.objects[1], CsIgnore2d) and a.objects[1].bbox == [1, 2, 4, 6]
    assert a.camera.fx == 2262.5 and b.camera.sensor_T_ISO_8855 == data["sensor"]["sensor_T_ISO_8855"]
    assert b.toJsonText() == a.toJsonText()
    assert b.objects[0].center == [20.0, 1.0, 0.8] and b.objects[0].rotation == [1.0, 0.0, 0.0, 0.0]


def test_citypersons_boxes_and_soft_labels(tmp_path):
    a, b = round_trip({"imgWidth": 10, "imgHeight": 10, "objects": [
        {"label": "pedestrian", "instanceId": 24001, "bbox": [1, 2, 3, 4], "bboxVis": [1, 2, 2, 2]}]},
        CsObjectType.BBOX2D, tmp_path)
    assert isinstance(a.objects[0], CsBbox2d) and a.objects[0].bbox_amodal == [1, 2, 4, 6]
    assert b.objects[0].bbox_modal_xywh == [1, 2, 2, 2] and b.objects[0].label == "pedestrian"
    soft = {"imgWidth": 10, "imgHeight": 10, "classes": ["car", "bus"],
            "objects": [{"bbox": [1, 2, 5, 8], "soft_label": [0.3, 0.7], "vote_counts": {"bus": 7}}]}
    a, b = round_trip(soft, CsObjectType.BBOX2D_SOFT, tmp_path)
    assert isinstance(a.objects[0], CsBbox2dSoft) and a.objects[0].label == "bus" and a.objects[0].score == 0.7
    assert b.objects[0].bbox_xyxy == [1, 2, 5, 8] and b.objects[0].vote_counts == {"bus": 7}


@pytest.mark.parametrize("data, message", [
    ({"imgHeight": 5, "objects": []}, "missing imgWidth"),
    ({"imgWidth": 5, "objects": []}, "missing imgHeight"),
    ({"imgWidth": "wide", "imgHeight": 5, "objects": []}, "imgWidth must be a positive number"),
    ({"imgWidth": 5, "imgHeight": 5, "objects": [{"label": "car", "polygon": [[1, 2]]},
                                                 {"label": "car", "polygon": [[1, 2, 3]]}]},
     r"object 1: polygon point \[1, 2, 3\] is not a pair"),
    ({"imgWidth": 5, "imgHeight": 5, "objects": [{"label": "car", "polygon": [[1, "x"]]}]},
     "object 0: polygon point .* non-numeric"),
    ({"imgWidth": 5, "imgHeight": 5, "objects": [{"label": "car"}]}, "object 0: missing field 'polygon'"),
])
def test_bad_json_names_file_and_object(tmp_path, data, message):
    path = tmp_path / "bad_polygons.json"
    path.write_text(json.dumps(data))
    with pytest.raises(AnnotationError, match=message) as info:
        Annotation().fromJsonFile(str(path))
    assert str(info.value).startswith(str(path))


def test_unparsable_and_missing_files(tmp_path):
    path = tmp_path / "broken.json"
    path.write_text("{not json")
    with pytest.raises(AnnotationError, match="not valid JSON"):
        Annotation().fromJsonFile(str(path))
    with pytest.raises(AnnotationError, match="cannot read"):
        Annotation().fromJsonFile(str(tmp_path / "missing.json"))
