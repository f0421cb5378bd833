import json

import numpy as np
import pytest

from cityscapesscripts.errors import AnnotationError, LabelSetError
from cityscapesscripts.helpers.labels import Label, labels
from cityscapesscripts.helpers.labelset import CITYSCAPES, LabelSet


def test_cityscapes_lookup_tables():
    assert CITYSCAPES.id_to_train_id[7] == 0 and CITYSCAPES.id_to_train_id[0] == 255
    assert CITYSCAPES.id_to_train_id[33] == 18 and CITYSCAPES.id_to_train_id[34] == 255
    assert CITYSCAPES.train_id_to_id[0] == 7 and CITYSCAPES.train_id_to_id[255] == 0
    assert CITYSCAPES.train_id_to_id[18] == 33
    assert tuple(CITYSCAPES.id_to_color[26]) == (0, 0, 142)
    assert CITYSCAPES.eval_ids == list(range(34))
    assert CITYSCAPES.known_train_ids.sum() == 20
    assert CITYSCAPES.resolve("cargroup")[0].name == "car" and CITYSCAPES.resolve("cargroup")[1]
    with pytest.raises(AnnotationError, match="'flying saucer' is not known"):
        CITYSCAPES.resolve("flying saucer")


def test_label_colors_file(tmp_path):
    path = tmp_path / "label_colors.txt"
    path.write_text("# colours\n0 0 0 background\n128 64 128 road\n10 20 30  my thing  # comment\n")
    ls = LabelSet.from_label_colors(path)
    assert [label.name for label in ls.labels] == ["background", "road", "my thing"]
    assert [label.id for label in ls.labels] == [0, 1, 2]
    assert ls.background.name == "background" and ls.background.ignoreInEval
    assert ls.name2label["road"].category == "flat"  # a Cityscapes name keeps its attributes
    assert ls.name2label["my thing"].color == (10, 20, 30)
    assert LabelSet.load(path) == ls


def test_dataset_meta_file(tmp_path):
    path = tmp_path / "dataset_meta.json"
    path.write_text(json.dumps({"label_map": {"0": "background", "1": "car", "5": "tree"},
                                "segmentation_colors": [[0, 0, 0], [0, 0, 142], [0, 255, 0]],
                                "background_label": "0"}))
    ls = LabelSet.load(path)
    assert [(label.name, label.id) for label in ls.labels] == [("background", 0), ("car", 1), ("tree", 5)]
    assert ls.name2label["car"].hasInstances and ls.background.name == "background"
    assert tuple(ls.id_to_color[5]) == (0, 255, 0)


def test_dataset_folder_prefers_meta(tmp_path):
    (tmp_path / "label_colors.txt").write_text("0 0 0 a\n1 1 1 b\n")
    assert [label.name for label in LabelSet.for_dataset(tmp_path).labels] == ["a", "b"]
    (tmp_path / "dataset_meta.json").write_text(json.dumps({"labels": ["x", "y", "z"]}))
    assert [label.name for label in LabelSet.for_dataset(tmp_path).labels] == ["background", "x", "y", "z"]
    assert LabelSet.for_dataset(tmp_path / "nothing") is CITYSCAPES


@pytest.mark.parametrize("text, message", [
    ("0 0 0 a\n1 1 1 a\n", "label name 'a' appears twice"),
    ("0 0 300 a\n", "line 1: colour .* 0..255"),
    ("0 zero 0 a\n", "line 1: colour .* not three integers"),
    ("0 0 a\n", "line 1: expected 'R G B name' or 'name'"),
    ("# nothing\n", "defines no labels"),
])
def test_label_colors_errors(tmp_path, text, message):
    path = tmp_path / "label_colors.txt"
    path.write_text(text)
    with pytest.raises(LabelSetError, match=message) as info:
        LabelSet.from_label_colors(path)
    assert str(path) in str(info.value)


@pytest.mark.parametrize("meta, message", [
    ({"labels": ["a", "b"], "background_label": "c"}, "background_label 'c' names no label"),
    ({"labels": ["a", "b"], "segmentation_colors": [[0, 0, 0]]}, "1 segmentation_colors for 2 labels"),
    ({"labels": ["a"], "label_map": {"0": "b"}}, "disagree"),
    ({"colors": []}, "needs 'labels' or 'label_map'"),
])
def test_dataset_meta_errors(tmp_path, meta, message):
    path = tmp_path / "dataset_meta.json"
    path.write_text(json.dumps(meta))
    with pytest.raises(LabelSetError, match=message):
        LabelSet.from_dataset_meta(path)


def test_label_set_pickles():
    import pickle
    assert pickle.loads(pickle.dumps(CITYSCAPES)) == CITYSCAPES
    assert np.array_equal(pickle.loads(pickle.dumps(CITYSCAPES)).id_to_train_id, CITYSCAPES.id_to_train_id)
    assert len(CITYSCAPES.labels) == len(labels)


def test_label_colors_as_datumaro_writes_them(tmp_path):
    """Datumaro's Cityscapes map: repeated colours, names without spaces, the licence plate at 34."""
    path = tmp_path / "label_colors.txt"
    lines = ["{} {} {} ".format(*l.color) + l.name.replace(' ', '') for l in labels if l.id >= 0] + ["0 0 142 licenseplate"]
    path.write_text("\n".join(lines) + "\n")
    ls = LabelSet.from_label_colors(path)
    # Datumaro's spellings read as the Cityscapes names (what save_label_set writes for them)
    assert ls.background.name == "unlabeled" and ls.name2label["ego vehicle"].id == 1
    assert ls.find("egovehicle") is ls.name2label["ego vehicle"]
    assert ls.name2label["license plate"].id == 34 and ls.name2label["license plate"].ignoreInEval
    # the Cityscapes map keeps the Cityscapes train ids, so conversions see the 19 classes
    assert np.array_equal(ls.id_to_train_id[:34], CITYSCAPES.id_to_train_id[:34]) and ls.id_to_train_id[34] == 255
    assert ls.name2label["traffic light"].category == "object" and ls.name2label["car"].hasInstances
    # a repeated colour decodes to the first label that has it
    assert ls.color_to_id[(0, 0, 0)] == 0 and ls.color_to_id[(0, 0, 142)] == 26


@pytest.mark.parametrize("text, names, background", [
    # no black label: a 'background' label is added at id 0 and the others move up (Datumaro's rule)
    ("128 64 128 road\n0 0 142 car\n", ["background", "road", "car"], "background"),
    # a label called background moves to id 0
    ("1 1 1 a\n2 2 2 background\n", ["background", "a"], "background"),
    # lines without a colour, names with spaces
    ("road\ntraffic light\n", ["background", "road", "traffic light"], "background"),
    ("9 9 9 my thing\n0 0 0 void\n", ["my thing", "void"], "void"),
])
def test_label_colors_background_rule(tmp_path, text, names, background):
    path = tmp_path / "label_colors.txt"
    path.write_text(text)
    ls = LabelSet.from_label_colors(path)
    assert [label.name for label in ls.labels] == names and [label.id for label in ls.labels] == list(range(len(names)))
    assert ls.background.name == background


def test_dataset_meta_background_rule(tmp_path):
    path = tmp_path / "dataset_meta.json"
    path.write_text(json.dumps({"labels": ["a", "b"]}))
    ls = LabelSet.load(path)
    assert [(l.name, l.id) for l in ls.labels] == [("background", 0), ("a", 1), ("b", 2)]
    assert ls.labels[1].color == (128, 0, 0) and ls.labels[2].color == (0, 128, 0)  # VOC palette by id
    # Datumaro writes labels, label_map (the coloured ones) and the background
    path.write_text(json.dumps({"labels": ["sky", "x", "y"], "label_map": {"0": "sky", "2": "y"},
                                "segmentation_colors": [[70, 130, 180], [0, 0, 0]], "background_label": "2"}))
    ls = LabelSet.load(path)
    assert [(l.name, l.id, l.color) for l in ls.labels] == [("sky", 0, (70, 130, 180)), ("x", 1, (128, 0, 0)),
                                                            ("y", 2, (0, 0, 0))]
    assert ls.background.name == "y"
    path.write_text(json.dumps({"label_map": {"0": "a", "3": "b"}}))
    with pytest.raises(LabelSetError, match="id 0 is taken; set background_label"):
        LabelSet.load(path)


def test_label_colors_names_round_trip_one_word_each(tmp_path):
    """Both spellings of a Cityscapes name in one set: the second is percent-encoded, and each reads back."""
    from cityscapesscripts.dataset.cityscapes import save_label_set
    from cityscapesscripts.helpers.labelset import label_colors_name, label_colors_name_read
    names = ["unlabeled", "trafficlight", "traffic light", "a\tb", "100%"]
    ls = LabelSet([Label(n, i, i, "x", 0, False, False, (i, i, i)) for i, n in enumerate(names)], "unlabeled")
    text = open(save_label_set(str(tmp_path), ls), encoding="utf-8").read()
    assert text.split() == "0 0 0 unlabeled 1 1 1 trafficlight 2 2 2 traffic%20light 3 3 3 a%09b 4 4 4 100%25".split()
    assert [label.name for label in LabelSet.from_label_colors(tmp_path / "label_colors.txt").labels] == names
    assert label_colors_name_read("licenseplate") == "license plate" and label_colors_name("license plate") == "licenseplate"
