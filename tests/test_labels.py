"""The label table and mappings equal the original's (dumped from cityscapesscripts 2.3.0)."""
import json
import os

import pytest

from cityscapesscripts.helpers import labels as L
from cityscapesscripts.helpers import labels_cityPersons as P

from conftest import FIXTURES

with open(os.path.join(FIXTURES, "original_labels.json")) as f:
    ORIGINAL = json.load(f)


def test_every_field_of_every_label():
    assert [list(label[:7]) + [list(label.color)] for label in L.labels] == ORIGINAL["labels"]
    assert L.Label._fields == ("name", "id", "trainId", "category", "categoryId", "hasInstances",
                               "ignoreInEval", "color")


def test_mappings():
    assert {str(k): v.name for k, v in L.trainId2label.items()} == ORIGINAL["trainId2label"]
    assert {str(k): v.name for k, v in L.id2label.items()} == ORIGINAL["id2label"]
    assert {k: [x.name for x in v] for k, v in L.category2labels.items()} == ORIGINAL["category2labels"]
    assert L.trainId2label[255].name == "unlabeled" and L.trainId2label[-1].name == "license plate"
    assert all(L.name2label[label.name] is label for label in L.labels)


def test_no_group_names():
    with pytest.raises(KeyError):
        L.name2label["cargroup"]


@pytest.mark.parametrize("name", sorted(ORIGINAL["assureSingleInstanceName"]))
def test_assure_single_instance_name(name):
    assert L.assureSingleInstanceName(name) == ORIGINAL["assureSingleInstanceName"][name]


def test_city_persons_table():
    assert [list(label[:4]) + [list(label.color)] for label in P.labelsCp] == ORIGINAL["cityPersons"]
    assert P.name2labelCp["pedestrian"].id == 1 and P.id2labelCp[5].name == "person group"
