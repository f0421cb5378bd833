"""Saving edited polygon files: untouched text kept, edits in the file's style, conflicts, drafts."""
import copy
import datetime
import glob
import json
import os
import shutil
import threading

import numpy as np
import pytest

from cityscapesscripts.annotation import editing
from cityscapesscripts.errors import AnnotationError, SaveConflictError
from cityscapesscripts.helpers.annotation import annotation_date
from cityscapesscripts.helpers.labelset import CITYSCAPES
from cityscapesscripts.preparation.json2instanceImg import json2instanceImg
from cityscapesscripts.preparation.json2labelImg import json2labelImg
from cityscapesscripts.preparation.rasterize import encode, rasterize_file

from conftest import GOLDEN, assert_same_png, read_png

POLYGON_FILES = sorted(glob.glob(os.path.join(GOLDEN, "*", "gtFine", "*", "*", "*_polygons.json")))
SMALL = os.path.join(GOLDEN, "small", "gtFine", "val", "lindau", "lindau_001401_000019_gtFine_polygons.json")


@pytest.fixture
def fixed_user_and_date(monkeypatch):
    monkeypatch.setattr(editing, "_user", lambda: "annotator")
    monkeypatch.setattr(editing, "annotation_date", lambda: "22-Nov-2026 06:05:09")


def copy_to(tmp_path, source, name="a_gtFine_polygons.json"):
    target = tmp_path / "data" / name
    target.parent.mkdir(exist_ok=True)
    shutil.copyfile(source, target)
    return str(target)


def write_styled(tmp_path, data, **dump_options):
    path = tmp_path / "data" / "styled_gtFine_polygons.json"
    path.parent.mkdir(exist_ok=True)
    path.write_text(json.dumps(data, **dump_options))
    return str(path)


SCENE = {"imgHeight": 64, "imgWidth": 96, "objects": [
    {"label": "road", "polygon": [[0, 40], [95, 40], [95, 63], [0, 63]]},
    {"label": "car", "polygon": [[10, 30], [40, 30], [40, 50], [10, 50]]},
    {"label": "person", "polygon": [[60, 10], [70, 10], [70, 45], [60, 45]]},
]}


@pytest.mark.parametrize("path", POLYGON_FILES, ids=os.path.basename)
def test_open_and_save_without_edits_keeps_every_byte(tmp_path, path):
    target = copy_to(tmp_path, path)
    loaded = editing.load_annotation(target)
    version = editing.save_annotation(target, loaded["objects"], loaded["version"], CITYSCAPES)
    assert version == loaded["version"]
    with open(path, "rb") as a, open(target, "rb") as b:
        assert a.read() == b.read()
    assert os.listdir(os.path.dirname(target)) == [os.path.basename(target)]


@pytest.mark.parametrize("path", POLYGON_FILES, ids=os.path.basename)
def test_moving_one_vertex_changes_only_that_number(tmp_path, path):
    target = copy_to(tmp_path, path)
    loaded = editing.load_annotation(target)
    objects = copy.deepcopy(loaded["objects"])
    k = len(objects) // 2
    x, y = objects[k]["polygon"][1]
    objects[k]["polygon"][1] = [x, y + 7]
    editing.save_annotation(target, objects, loaded["version"])
    with open(path) as f:
        before = f.read()
    after = open(target).read()
    expected = json.loads(before)
    expected["objects"][k]["polygon"][1][1] = y + 7
    assert json.loads(after) == expected
    changed = [(a, b) for a, b in zip(before.splitlines(), after.splitlines()) if a != b]
    assert len(before.splitlines()) == len(after.splitlines())
    assert changed == [(changed[0][0], changed[0][0].replace(str(y), str(y + 7)))]


STYLES = {
    "indent 4": dict(indent=4),
    "python 2 (trailing spaces)": dict(indent=4, separators=(", ", ": ")),
    "indent 2": dict(indent=2),
    "tabs": dict(indent="\t"),
    "one line": dict(),
    "compact": dict(separators=(",", ":")),
}


@pytest.mark.parametrize("style", STYLES, ids=list(STYLES))
def test_edits_are_written_in_the_style_of_the_file(tmp_path, fixed_user_and_date, style):
    options = STYLES[style]
    path = write_styled(tmp_path, SCENE, **options)
    loaded = editing.load_annotation(path)
    objects = loaded["objects"]
    objects[0]["polygon"].insert(2, [95, 50])                   # insert a vertex
    objects[1]["label"] = "truck"                               # relabel
    objects[2]["deleted"] = 1                                   # delete
    objects.append({"label": "bicycle", "polygon": [[1, 1], [5, 1], [5, 5]]})   # draw
    objects[0], objects[1] = objects[1], objects[0]             # reorder
    editing.save_annotation(path, objects, loaded["version"], CITYSCAPES)

    expected = copy.deepcopy(SCENE)
    road, car, person = expected["objects"]
    road["polygon"].insert(2, [95, 50])
    car.update(label="truck", date="22-Nov-2026 06:05:09")
    person["deleted"] = 1
    new = {"label": "bicycle", "polygon": [[1, 1], [5, 1], [5, 5]], "user": "annotator", "date": "22-Nov-2026 06:05:09"}
    expected["objects"] = [car, road, person, new]
    assert open(path).read() == json.dumps(expected, **options)


def test_untouched_number_text_and_fields_survive_an_edit_of_their_object(tmp_path):
    text = ('{"imgHeight": 64, "imgWidth": 96, "objects": [{"label": "car", "id": 7, "extra": {"k": [1.50]},'
            ' "polygon": [[10.50, 3e1], [40, 30], [40, 50]]}]}')
    path = tmp_path / "x_gtFine_polygons.json"
    path.write_text(text)
    loaded = editing.load_annotation(str(path))
    assert loaded["objects"][0]["id"] == 7
    loaded["objects"][0]["polygon"][2] = [41, 50]
    editing.save_annotation(str(path), loaded["objects"], loaded["version"])
    assert path.read_text() == text.replace("[40, 50]", "[41, 50]")


def test_new_objects_follow_the_fields_of_the_file(tmp_path, fixed_user_and_date):
    # a file written by the original tool: every field, keys sorted
    scene = copy.deepcopy(SCENE)
    for i, obj in enumerate(scene["objects"]):
        obj.update(date="", deleted=0, draw=True, id=i, objectType=1, user="", verified=1)
    scene["objects"] = [dict(sorted(o.items())) for o in scene["objects"]]
    path = write_styled(tmp_path, scene, indent=4, sort_keys=True)
    loaded = editing.load_annotation(path)
    loaded["objects"][2]["deleted"] = 1
    loaded["objects"].append({"label": "car", "polygon": [[1, 1], [5, 1], [5, 5]]})
    editing.save_annotation(path, loaded["objects"], loaded["version"])
    saved = json.load(open(path))["objects"]
    assert saved[2]["deleted"] == 1 and saved[2]["draw"] is False
    assert list(saved[3].items()) == [
        ("date", "22-Nov-2026 06:05:09"), ("deleted", 0), ("draw", True), ("id", 3), ("label", "car"),
        ("objectType", 1), ("polygon", [[1, 1], [5, 1], [5, 5]]), ("user", "annotator"), ("verified", 0)]


def test_the_date_is_written_as_the_original_writes_it():
    assert annotation_date(datetime.datetime(2026, 3, 4, 5, 6, 7)) == "04-Mar-2026 05:06:07"


def test_an_edit_prepares_to_the_expected_label_image(tmp_path):
    """Delete an object and draw a car: the label image is the original's, but for those two regions."""
    target = copy_to(tmp_path, SMALL)
    golden_ids = read_png(SMALL.replace("_polygons.json", "_labelIds.png"))
    loaded = editing.load_annotation(target)
    objects = loaded["objects"]
    objects.append({"label": "car", "polygon": [[100, 100], [160, 100], [160, 140], [100, 140]]})
    editing.save_annotation(target, objects, loaded["version"], CITYSCAPES)
    ids = encode(rasterize_file(target), "labelIds")
    inside = np.zeros(ids.shape, bool)
    inside[100:141, 100:161] = True
    assert (ids[inside] == 26).all()
    assert (ids[~inside] == golden_ids[~inside]).all()


def test_a_deleted_object_is_kept_but_not_drawn(tmp_path):
    path = write_styled(tmp_path, SCENE, indent=4)
    loaded = editing.load_annotation(path)
    loaded["objects"][1]["deleted"] = 1
    editing.save_annotation(path, loaded["objects"], loaded["version"])
    assert json.load(open(path))["objects"][1] == dict(SCENE["objects"][1], deleted=1)
    ids = encode(rasterize_file(path), "labelIds")
    assert ids[35, 20] == 0 and ids[45, 20] == 7       # car gone: unlabeled above the road, road below


def test_a_save_after_someone_else_saved_is_refused_and_changes_nothing(tmp_path):
    path = write_styled(tmp_path, SCENE, indent=4)
    first, second = editing.load_annotation(path), editing.load_annotation(path)
    first["objects"][0]["label"] = "sidewalk"
    editing.save_annotation(path, first["objects"], first["version"])
    saved = open(path).read()
    second["objects"][1]["label"] = "truck"
    with pytest.raises(SaveConflictError, match="changed on disk since it was opened") as e:
        editing.save_annotation(path, second["objects"], second["version"])
    assert e.value.path == path
    assert open(path).read() == saved


def test_of_two_concurrent_saves_exactly_one_wins(tmp_path):
    path = write_styled(tmp_path, SCENE, indent=4)
    loaded = editing.load_annotation(path)
    outcomes, start = [], threading.Barrier(2)

    def save(label):
        objects = copy.deepcopy(loaded["objects"])
        objects[0]["label"] = label
        start.wait()
        try:
            editing.save_annotation(path, objects, loaded["version"])
            outcomes.append(("saved", label))
        except SaveConflictError:
            outcomes.append(("refused", label))

    threads = [threading.Thread(target=save, args=(label,)) for label in ("sidewalk", "terrain")]
    for t in threads:
        t.start()
    for t in threads:
        t.join(10)
    assert sorted(o[0] for o in outcomes) == ["refused", "saved"]
    winner = next(label for outcome, label in outcomes if outcome == "saved")
    assert json.load(open(path))["objects"][0]["label"] == winner


@pytest.fixture
def read_only_folder(tmp_path, make_read_only):
    path = write_styled(tmp_path, SCENE, indent=4)
    make_read_only(os.path.dirname(path))
    return path


def test_a_save_into_a_read_only_folder_is_a_clear_error_and_loses_nothing(read_only_folder, tmp_path,
                                                                           monkeypatch):
    monkeypatch.setenv("XDG_CACHE_HOME", str(tmp_path / "cache"))
    path = read_only_folder
    before = open(path).read()
    loaded = editing.load_annotation(path)
    loaded["objects"][0]["label"] = "sidewalk"
    with pytest.raises(AnnotationError, match="read-only") as e:
        editing.save_annotation(path, loaded["objects"], loaded["version"])
    assert e.value.path == path
    assert open(path).read() == before
    assert os.listdir(os.path.dirname(path)) == [os.path.basename(path)]
    draft = editing.save_draft(path, loaded)            # the edit is kept in the user cache
    assert draft.startswith(str(tmp_path / "cache" / "cityscapesscripts"))
    assert editing.load_draft(path) == loaded


def test_drafts_live_in_the_user_cache_and_go_away_after_a_save(tmp_path, monkeypatch):
    monkeypatch.setenv("XDG_CACHE_HOME", str(tmp_path / "cache"))
    path = write_styled(tmp_path, SCENE, indent=4)
    assert editing.load_draft(path) is None
    kept = {"objects": [1, 2, 3], "version": "v"}
    editing.save_draft(path, kept)
    assert os.listdir(os.path.dirname(path)) == [os.path.basename(path)]
    assert os.listdir(tmp_path / "cache" / "cityscapesscripts") == ["labeltool-drafts"]
    assert editing.load_draft(path) == kept
    editing.discard_draft(path)
    assert editing.load_draft(path) is None


def test_a_new_annotation_file_is_created_once(tmp_path, fixed_user_and_date):
    path = str(tmp_path / "new_gtFine_polygons.json")
    objects = [{"label": "car", "polygon": [[1, 1], [5, 1], [5, 5]]}]
    editing.save_annotation(path, objects, None, image_size=(96, 64))
    assert json.load(open(path)) == {"imgHeight": 64, "imgWidth": 96, "objects": [
        {"label": "car", "polygon": [[1, 1], [5, 1], [5, 5]], "user": "annotator", "date": "22-Nov-2026 06:05:09"}]}
    with pytest.raises(SaveConflictError, match="created by someone else"):
        editing.save_annotation(path, objects, None, image_size=(96, 64))


@pytest.mark.parametrize("edit, message", [
    (lambda objects: objects.pop(1), r"leaves out object\(s\) \[1\]"),
    (lambda objects: objects.append(dict(objects[0])), "appears twice"),
    (lambda objects: objects[0].update(label="spaceship"), "label 'spaceship' is not known"),
    (lambda objects: objects[0].update(polygon=[[1, 2, 3]]), "polygon must be"),
    (lambda objects: objects[0].update(source=9), "names no object"),
])
def test_invalid_edits_are_refused_and_change_nothing(tmp_path, edit, message):
    path = write_styled(tmp_path, SCENE, indent=4)
    before = open(path).read()
    loaded = editing.load_annotation(path)
    edit(loaded["objects"])
    with pytest.raises(ValueError, match=message):
        editing.save_annotation(path, loaded["objects"], loaded["version"], CITYSCAPES)
    assert open(path).read() == before


@pytest.mark.parametrize("text, message", [
    ('{"imgHeight": 4, "imgWidth": 4}', "has no 'objects' list"),
    ('{"imgHeight": 4, "imgWidth": 4, "objects": [{"label": "car"}]}', "object 0: polygon must be"),
    ('{"imgHeight": 4, "objects": []}', "imgWidth must be a positive integer"),
    ('{"imgHeight": 4, "imgWidth": 4, "objects": []', "not valid JSON"),
    ('{"imgHeight": 4, "imgWidth": 4, "objects": []} x', "extra data"),
])
def test_invalid_files_are_named_with_the_problem(tmp_path, text, message):
    path = tmp_path / "bad_gtFine_polygons.json"
    path.write_text(text)
    with pytest.raises(AnnotationError, match=message) as e:
        editing.load_annotation(str(path))
    assert e.value.path == str(path)


@pytest.mark.parametrize("kind, prepare", [("labelIds", json2labelImg), ("instanceIds", json2instanceImg)])
def test_an_edited_file_prepares_as_the_original_prepares_it(tmp_path, kind, prepare):
    """Every kind of edit, saved, then prepared: the original's images of that file (fixtures/labeltool)."""
    from fixtures.labeltool.make_expected import HERE, NAME, save_edited
    path = copy_to(tmp_path, SMALL, NAME)
    save_edited(path)
    out = str(tmp_path / f"{kind}.png")
    prepare(path, out, "ids")
    assert_same_png(os.path.join(HERE, NAME.replace("polygons.json", kind + ".png")), out)
