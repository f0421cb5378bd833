"""Preparation semantics, the batch tool's options, and bad input."""
import json
import os
import pickle
import subprocess
import sys

import numpy as np
import pytest
from PIL import Image

from cityscapesscripts.errors import AnnotationError
from cityscapesscripts.helpers.annotation import Annotation
from cityscapesscripts.helpers.labelset import LabelSet
from cityscapesscripts.io import png
from cityscapesscripts.preparation import prepare, rasterize
from cityscapesscripts.preparation.json2instanceImg import createInstanceImage
from cityscapesscripts.preparation.json2labelImg import createLabelImage, main as json2label_main

from conftest import GOLDEN, assert_same_png, golden_files, read_png


def annotation(objects, w=40, h=20):
    a = Annotation()
    a.fromDict({"imgWidth": w, "imgHeight": h, "objects": objects})
    return a


def box(label, x0, y0, x1, y1, **extra):
    return dict({"label": label, "polygon": [[x0, y0], [x1, y0], [x1, y1], [x0, y1]]}, **extra)


def test_semantics_order_groups_deleted_plates():
    a = annotation([box("road", 0, 0, 39, 19), box("car", 2, 2, 10, 10), box("car", 8, 2, 16, 10),
                    box("cargroup", 20, 2, 25, 8), box("car", 30, 2, 35, 8, deleted=1),
                    box("license plate", 3, 3, 5, 5), box("caravan", 26, 12, 30, 16), box("person", 0, 15, 3, 19)])
    ids = np.asarray(createLabelImage(a, "ids"))
    inst = np.asarray(createInstanceImage(a, "ids")).astype(int)
    train_inst = np.asarray(createInstanceImage(a, "trainIds")).astype(int)
    assert ids[4, 4] == 26 and ids[4, 9] == 26          # the plate (id -1) is not drawn
    assert inst[4, 4] == 26000 and inst[4, 12] == 26001  # the later car lies on top
    assert inst[5, 22] == 26                             # a group keeps the plain id
    assert ids[5, 32] == 7 and inst[5, 32] == 7          # deleted objects are skipped
    assert inst[14, 28] == 29000 and train_inst[14, 28] == 255  # trainId 255: no instance number
    assert train_inst[4, 12] == 13001 and train_inst[17, 1] == 11000
    assert np.asarray(createLabelImage(a, "trainIds"))[4, 4] == 13
    empty = annotation([])
    assert np.asarray(createLabelImage(empty, "trainIds")).max() == 255
    assert np.asarray(createLabelImage(empty, "color"))[0, 0].tolist() == [0, 0, 0, 255]


def test_outline_draws_borders():
    a = annotation([box("car", 5, 5, 15, 15)])
    image = np.asarray(createLabelImage(a, "ids", outline=1))
    assert image[5, 10] == 1 and image[10, 10] == 26 and image[0, 0] == 0


def test_encodings_from_one_rasterization_equal_separate_calls():
    path = golden_files(os.path.join(GOLDEN, "small"), "*_polygons.json")[0]
    a = Annotation()
    a.fromJsonFile(path)
    object_map = rasterize.rasterize(a)
    assert np.array_equal(rasterize.encode(object_map, "labelIds"), np.asarray(createLabelImage(a, "ids")))
    assert np.array_equal(rasterize.encode(object_map, "instanceTrainIds"),
                          np.asarray(createInstanceImage(a, "trainIds")))


@pytest.mark.parametrize("count", [40, 300], ids=["8-bit", "32-bit"])
@pytest.mark.parametrize("outline", [False, True])
def test_the_rasterizer_draws_what_imagedraw_polygon_draws(count, outline):
    """The rasterizer calls Pillow's core as ImageDraw.polygon does: every pixel the same."""
    from PIL import ImageDraw
    rng = np.random.default_rng(count)
    polygons = [(rng.uniform(-5, 65, (rng.integers(2, 9), 2)) * [1, 0.7]).round(rng.integers(0, 3)).tolist()
                for _ in range(count)]  # lines, concave and self-crossing shapes, beyond the edges, fractions
    object_map = rasterize.rasterize_objects(((i, "car", 0, p) for i, p in enumerate(polygons)), 60, 40,
                                             outline=outline)
    canvas = Image.new("L" if count < 255 else "I", (60, 40), 0)
    draw = ImageDraw.Draw(canvas)
    for k, polygon in enumerate(polygons, 1):
        draw.polygon(polygon, fill=k, outline=object_map.outline_index if outline else None)
    assert np.array_equal(object_map.index, np.asarray(canvas)) and len(np.unique(object_map.index)) > 20


def test_the_probe_of_pillows_core_is_what_imagedraw_draws():
    from PIL import ImageDraw
    canvas = Image.new("L", (6, 5), 0)
    draw = ImageDraw.Draw(canvas)
    for points, fill, outline in rasterize._PROBE_POLYGONS:
        draw.polygon(points, fill=fill, outline=outline)
    assert canvas.tobytes() == rasterize._PROBE_PIXELS
    assert rasterize._canvas_type() is rasterize._CoreCanvas


@pytest.mark.parametrize("change", ["missing", "different"])
def test_a_pillow_whose_core_differs_draws_through_imagedraw(monkeypatch, change):
    if change == "missing":
        monkeypatch.delattr(rasterize._CoreCanvas, "polygon")
    else:  # a core call whose meaning changed: the fill drawn as an outline
        monkeypatch.setattr(rasterize._CoreCanvas, "polygon",
                            lambda self, points, fill, outline=None: self._draw.draw_polygon(
                                points, self._draw.draw_ink(fill), 0, 1))
    rasterize._canvas_type.cache_clear()
    try:
        assert rasterize._canvas_type() is rasterize._PillowCanvas
        objects = [box("car", 2, 2, 30, 15), box("road", 0, 10, 40, 19), box("person", 5, 0, 8, 19)]
        object_map = rasterize.rasterize(annotation(objects), outline=True)
    finally:
        rasterize._canvas_type.cache_clear()
    assert np.array_equal(object_map.index, rasterize.rasterize(annotation(objects), outline=True).index)
    assert set(np.unique(object_map.index)) == {0, 1, 2, 3, 255}


def test_many_objects_use_a_wide_index_map():
    objects = [box("car", i % 40, 0, i % 40 + 1, 19) for i in range(300)]
    object_map = rasterize.rasterize(annotation(objects))
    assert object_map.index.dtype == np.int32
    assert rasterize.encode(object_map, "instanceIds").max() == 26000 + 299
    assert rasterize.encode_filtered(object_map, "instanceIds")[1] == png.filter_rows(
        rasterize.encode(object_map, "instanceIds"))[1].tobytes()


@pytest.mark.parametrize("encoding", rasterize.ENCODINGS)
def test_filtered_rows_of_the_batch_path_equal_those_of_the_image(encoding):
    path = golden_files(os.path.join(GOLDEN, "small"), "*_polygons.json")[0]
    object_map = rasterize.rasterize_file(path)
    header, rows = rasterize.encode_filtered(object_map, encoding)
    expected_header, expected_rows = png.filter_rows(rasterize.encode(object_map, encoding))
    assert header == expected_header and bytes(rows) == expected_rows.tobytes()


@pytest.mark.parametrize("objects, message", [
    ([box("flying saucer", 0, 0, 3, 3)], "object 0: label 'flying saucer' is not known"),
    ([box("road", 0, 0, 3, 3), {"label": "car", "polygon": [[1, 1]]}], "object 1: polygon has 1 point"),
])
def test_bad_objects_name_the_object(objects, message):
    with pytest.raises(AnnotationError, match=message):
        rasterize.rasterize(annotation(objects))


def write_json(path, data):
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(json.dumps(data) if not isinstance(data, str) else data)


def test_batch_reports_every_failure_and_goes_on(polygons_only, capsys):
    city = polygons_only / "gtFine" / "val" / "zz"
    write_json(city / "zz_000000_000001_gtFine_polygons.json", {"imgWidth": 8, "objects": []})
    write_json(city / "zz_000000_000002_gtFine_polygons.json", "{oops")
    write_json(city / "zz_000000_000003_gtFine_polygons.json",
               {"imgWidth": 8, "imgHeight": 8, "objects": [box("road", 0, 0, 7, 7), box("ufo", 0, 0, 3, 3)]})
    status = prepare.run(["--dataset", str(polygons_only), "-j", "2", "--outputs", "labelTrainIds,instanceIds"],
                         "labelTrainIds", "")
    out, err = capsys.readouterr()
    assert status == 1
    assert "missing imgHeight" in err and "not valid JSON" in err and "object 1: label 'ufo' is not known" in err
    assert err.count("ERROR:") == 3 and "3 failed" in out
    assert not list(city.glob("*.png")) and not list(city.glob(".tmp*"))
    good = golden_files(str(polygons_only), "*_labelTrainIds.png")
    assert len(good) == len(golden_files(str(polygons_only), "*_polygons.json")) - 3


def test_batch_tools_run_without_numpy(polygons_only):
    """Importing NumPy is a third of a short run's start-up, PIL.Image a sixth; the batch path draws and
    writes without them."""
    code = ("import sys\n"
            "from cityscapesscripts.preparation import createTrainIdInstanceImgs as tool\n"
            f"status = tool.main(['--dataset', {str(polygons_only)!r}, '-q', '-j', '1', '--outputs', "
            f"{','.join(rasterize.ENCODINGS)!r}])\n"
            "print(status, 'numpy' in sys.modules, 'PIL.Image' in sys.modules)")
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True).stdout
    assert out.split() == ["0", "False", "False"]
    assert len(golden_files(str(polygons_only), "*_color.png")) == len(golden_files(str(polygons_only), "*.json"))


def test_outputs_split_and_skip_existing(polygons_only):
    summary = prepare.prepare_dataset(str(polygons_only), ["color", "instanceTrainIds"], splits=["val"],
                                      jobs=1, progress=False)
    frames = golden_files(str(polygons_only), "*_polygons.json")
    assert summary["frames"] == len(frames) and len(summary["written"]) == 2 * len(frames)
    assert Image.open(summary["written"][0]).mode == "RGBA"
    again = prepare.prepare_dataset(str(polygons_only), ["color", "labelIds"], overwrite=False, progress=False)
    assert len(again["skipped"]) == len(frames) and len(again["written"]) == len(frames)
    with pytest.raises(Exception, match="did not find any polygon files"):
        prepare.prepare_dataset(str(polygons_only), splits=["train"], progress=False)


def test_from_png_equals_rasterized_training_labels(golden_root, tmp_path):
    import shutil
    shutil.copytree(os.path.join(golden_root, "gtFine"), tmp_path / "gtFine")
    summary = prepare.prepare_dataset(str(tmp_path), ["labelTrainIds", "instanceTrainIds", "color"],
                                      from_png=True, progress=False)
    assert not summary["failed"]
    for written in summary["written"]:
        city = os.path.basename(os.path.dirname(written))
        name = os.path.basename(written)
        expected = (os.path.join(golden_root, "gtFine", "val", city, name) if "color" in name else
                    os.path.join(golden_root, "expected", "prepared", "gtFine", "val", city, name))
        assert_same_png(expected, written)


def test_custom_label_set(tmp_path):
    write_json(tmp_path / "gtFine" / "val" / "c" / "c_000000_000001_gtFine_polygons.json",
               {"imgWidth": 10, "imgHeight": 10, "objects": [box("tree", 0, 0, 4, 9), box("car", 5, 0, 9, 9)]})
    (tmp_path / "label_colors.txt").write_text("0 0 0 background\n0 255 0 tree\n0 0 142 car\n")
    status = prepare.run(["--dataset", str(tmp_path), "--labels", str(tmp_path / "label_colors.txt"), "--outputs",
                          "labelIds,color,instanceIds", "-q"], "labelTrainIds", "")
    assert status == 0
    base = tmp_path / "gtFine" / "val" / "c" / "c_000000_000001_gtFine_"
    assert read_png(str(base) + "labelIds.png")[5].tolist() == [1] * 5 + [2] * 5
    assert read_png(str(base) + "color.png")[5, 0].tolist() == [0, 255, 0, 255]
    assert read_png(str(base) + "instanceIds.png")[5, 7] == 2000  # 'car' keeps its instances


def test_single_file_cli(tmp_path, capsys):
    path = golden_files(os.path.join(GOLDEN, "edge"), "*_polygons.json")[0]
    assert json2label_main(["-t", path, str(tmp_path / "out.png")]) == 0
    city = os.path.basename(os.path.dirname(path))
    expected = os.path.join(GOLDEN, "edge", "expected", "prepared", "gtFine", "val", city,
                            os.path.basename(path).replace("_polygons.json", "_labelTrainIds.png"))
    assert_same_png(expected, tmp_path / "out.png")
    assert json2label_main([str(tmp_path / "missing.json"), str(tmp_path / "x.png")]) == 1
    assert "cannot read" in capsys.readouterr().err


def test_console_script_exit_status(_isolated_cwd):
    env = dict(os.environ)
    env.pop("CITYSCAPES_DATASET", None)
    tool = os.path.join(os.path.dirname(sys.executable), "csCreateTrainIdLabelImgs")
    run = subprocess.run([tool], env=env, capture_output=True, text=True)
    assert run.returncode == 1 and "CITYSCAPES_DATASET" in run.stderr
    assert list(_isolated_cwd.iterdir()) == []


def test_object_map_pickles():
    object_map = rasterize.rasterize(annotation([box("car", 1, 1, 5, 5)]))
    copy = pickle.loads(pickle.dumps(object_map))
    assert np.array_equal(rasterize.encode(copy, "instanceIds"), rasterize.encode(object_map, "instanceIds"))
    assert copy.label_set == LabelSet(copy.label_set.labels)


@pytest.mark.parametrize("points", [[[1, 2], [3, "x"], [5, 6]], [[1, 2, 3], [4, 5, 6], [7, 8, 9]], "abc"])
def test_batch_path_rejects_malformed_points(tmp_path, points):
    path = tmp_path / "c_000000_000001_gtFine_polygons.json"
    write_json(path, {"imgWidth": 9, "imgHeight": 9, "objects": [box("road", 0, 0, 8, 8),
                                                                 {"label": "car", "polygon": points}]})
    with pytest.raises(AnnotationError, match="object 1: polygon must be a list of \\[x, y\\] number pairs"):
        rasterize.rasterize_file(str(path))
