"""Domain adaptation: GTA5 and SYNTHIA into Cityscapes label ids, and class-subset mIoU (synthia16 / 13)."""
import json
import os
import shutil

import numpy as np
import pytest

from cityscapesscripts.dataset import CityscapesDataset, convert, synthetic
from cityscapesscripts.errors import ArgumentError
from cityscapesscripts.evaluation import evalPixelLevelSemanticLabeling as pixel_cli
from cityscapesscripts.evaluation import protocols
from cityscapesscripts.evaluation.semantic import SemanticAccumulator
from cityscapesscripts.helpers.labelset import CITYSCAPES
from cityscapesscripts.io import png

UDA = os.path.join(os.path.dirname(__file__), "fixtures", "uda")
GTA5, SYNTHIA = os.path.join(UDA, "gta5"), os.path.join(UDA, "synthia")
ID = {label.name: label.id for label in CITYSCAPES.labels}

# tests/fixtures/uda/make_fixtures.py's SYNTHIA ids, mapped by hand with the SYNTHIA README's class names
# (3 road, 4 sidewalk, 2 building, 21 wall / 5 fence, 7 pole, 15 traffic light, 9 traffic sign /
#  1 sky, 10 pedestrian, 22 lane marking, 300 no class; 6 vegetation, 8 car, 11 bicycle, 12 motorcycle /
#  13 parking slot, 16 terrain, 17 rider, 18 truck / 19 bus, 20 train, 0 void, 14 road work)
SYNTHIA_EXPECTED = {
    "synthia_000000_000000": [[7, 8, 11, 12], [13, 17, 19, 20], [23, 24, 0, 0]],
    "synthia_000000_000001": [[21, 26, 33, 32], [0, 22, 25, 27], [28, 31, 0, 0]],
}
GTA5_EXPECTED = {  # Cityscapes ids as they are; 34 and 255 are none of them: unlabeled
    "gta5_000000_000001": [[7, 8, 11, 26], [24, 0, 1, 33], [23, 23, 0, 0]],
    "gta5_000000_000002": [[7, 7, 7, 7], [26, 26, 24, 24], [23, 23, 23, 23]],
}


def test_synthia_table_is_the_published_one():
    """DAFormer's id_to_trainid (SYNTHIA id -> Cityscapes train id), written out by hand from its script."""
    daformer = {3: 0, 4: 1, 2: 2, 21: 3, 5: 4, 7: 5, 15: 6, 9: 7, 6: 8, 16: 9, 1: 10, 10: 11, 17: 12, 8: 13,
                18: 14, 19: 15, 20: 16, 12: 17, 11: 18}
    assert {k: CITYSCAPES.name2label[v].trainId for k, v in synthetic.SYNTHIA_CLASSES.items()} == daformer


def test_reads_synthia_and_gta5_labels_as_cityscapes_ids():
    for name, expected in SYNTHIA_EXPECTED.items():
        path = os.path.join(SYNTHIA, "GT", "LABELS", f"000000{name[-1]}.png")
        assert synthetic.read_synthia_labels(path).tolist() == expected
    # the second channel (an instance number) is not the class
    assert synthetic.read_first_channel(os.path.join(SYNTHIA, "GT", "LABELS", "0000001.png"))[2, 3] == 14
    for name, expected in GTA5_EXPECTED.items():
        path = os.path.join(GTA5, "labels", f"0000{name[-1]}.png")
        assert synthetic.read_gta5_labels(path).tolist() == expected


def _tree_labels(out, split):
    return {frame.id: frame.semantic().tolist() for frame in CityscapesDataset(out, split)}


@pytest.mark.parametrize("jobs", ["1", "2"])
def test_csconvert_synthia_writes_a_cityscapes_tree_and_a_bad_item_fails_alone(tmp_path, capsys, jobs):
    out = tmp_path / "out"
    assert convert.main(["--from", "synthia", "--to", "cityscapes", SYNTHIA, str(out), "--save-images",
                         "-j", jobs, "-q"]) == 1
    err = capsys.readouterr().err
    assert err.count("ERROR:") == 1 and "0000002.png" in err and "truncated" in err
    assert _tree_labels(out, "train") == SYNTHIA_EXPECTED
    image = out / "leftImg8bit" / "train" / "synthia" / "synthia_000000_000000_leftImg8bit.png"
    assert image.read_bytes() == open(os.path.join(SYNTHIA, "RGB", "0000000.png"), "rb").read()
    assert sorted(p.name for p in out.iterdir()) == ["gtFine", "leftImg8bit"]
    assert not list(out.rglob("*.tmp*")) and not list(out.rglob(".tmp-*"))
    assert not (out / "leftImg8bit" / "train" / "synthia" / "synthia_000000_000002_leftImg8bit.png").exists()


def test_csconvert_gta5_checks_image_sizes(tmp_path, capsys):
    """00002's image is a pixel wider than its labels: with images it fails alone; labels alone are fine."""
    out = tmp_path / "out"
    assert convert.main(["--from", "gta5", "--to", "cityscapes", GTA5, str(out), "--split", "val",
                         "--save-images", "-j", "1", "-q"]) == 1
    err = capsys.readouterr().err
    assert "ERROR:" in err and "00002.png: image is 5x3 but its labels are 4x3" in err
    assert _tree_labels(out, "val") == {"gta5_000000_000001": GTA5_EXPECTED["gta5_000000_000001"]}
    assert convert.main(["--from", "gta5", "--to", "cityscapes", GTA5, str(tmp_path / "labels"), "-q"]) == 0
    assert _tree_labels(tmp_path / "labels", "train") == GTA5_EXPECTED
    capsys.readouterr()
    assert convert.main(["--from", "gta5", "--to", "cityscapes", GTA5, str(tmp_path / "x"), "--split", "all"]) != 0
    assert "no splits" in capsys.readouterr().err
    assert convert.main(["--from", "gta5", "--to", "voc", GTA5, str(tmp_path / "x")]) != 0
    assert "converts to 'cityscapes' only" in capsys.readouterr().err
    assert not (tmp_path / "x").exists()


def test_a_symlinked_label_leading_out_fails_alone(tmp_path, capsys):
    root = tmp_path / "gta5"
    shutil.copytree(GTA5, root)
    outside = tmp_path / "secret.png"
    shutil.copy(root / "labels" / "00001.png", outside)
    (root / "labels" / "00003.png").symlink_to(outside)
    assert convert.main(["--from", "gta5", "--to", "cityscapes", str(root), str(tmp_path / "out"), "-q"]) == 1
    assert "00003.png" in capsys.readouterr().err
    assert sorted(_tree_labels(tmp_path / "out", "train")) == sorted(GTA5_EXPECTED)


# ---- class subsets -----------------------------------------------------------------------------
# by hand: road 7, sidewalk 8, terrain 22 (not in synthia16), car 26, unlabeled 0
GT = np.array([[7, 7, 7, 22], [26, 26, 0, 22], [26, 26, 26, 8]], np.uint8)
PRED = np.array([[7, 7, 22, 7], [26, 7, 26, 22], [26, 26, 8, 8]], np.uint8)


@pytest.mark.parametrize("subset, expected", [
    # road: tp 2, fn 1 (predicted terrain: outside the subset, still wrong), fp 1 (a car pixel; the terrain
    # pixel predicted road is ignored) -> 2/4; car: tp 3, fn 2, fp 0 -> 3/5; sidewalk: tp 1, fp 1 -> 1/2
    ({"protocol": "synthia16"}, {"road": 0.5, "car": 0.6, "sidewalk": 0.5}),
    ({"protocol": "synthia13"}, {"road": 0.5, "car": 0.6, "sidewalk": 0.5}),
    # with terrain: road fp 2 -> 2/5; terrain tp 1, fn 1, fp 1 -> 1/3
    ({"protocol": "cityscapes19"}, {"road": 0.4, "car": 0.6, "sidewalk": 0.5, "terrain": 1 / 3}),
    # road and car alone: the sidewalk pixels are ignored, a car predicted sidewalk is still a miss
    ({"classes": ["road", "car"]}, {"road": 0.5, "car": 0.6}),
])
def test_subset_miou_by_hand(subset, expected):
    acc = SemanticAccumulator(instance_scores=False, **subset)
    acc.add(PRED, GT)
    result = acc.result()
    scored = {name: score for name, score in result["classScores"].items() if not np.isnan(score)}
    assert scored == pytest.approx(expected)
    assert result["averageScoreClasses"] == pytest.approx(sum(expected.values()) / len(expected))
    names = protocols.PROTOCOLS[subset["protocol"]] if "protocol" in subset else subset["classes"]
    assert result["classSubset"] == sorted(names, key=lambda n: ID[n]) == list(result["classScores"])


def test_protocol_lists():
    assert len(protocols.CITYSCAPES19) == 19 and len(protocols.SYNTHIA16) == 16 and len(protocols.SYNTHIA13) == 13
    assert set(protocols.CITYSCAPES19) == {l.name for l in CITYSCAPES.labels if 0 <= l.trainId < 255}
    assert set(protocols.CITYSCAPES19) - set(protocols.SYNTHIA16) == {"terrain", "truck", "train"}
    assert set(protocols.SYNTHIA16) - set(protocols.SYNTHIA13) == {"wall", "fence", "pole"}


def test_subsets_merge_only_with_the_same_subset_and_refuse_bad_names():
    a = SemanticAccumulator(instance_scores=False, protocol="synthia16")
    b = SemanticAccumulator(instance_scores=False, classes=list(protocols.SYNTHIA16))
    a.add(PRED, GT)
    b.add(PRED, GT)
    assert a.merge(b).result()["averageScoreClasses"] == pytest.approx(0.5 + 1 / 30)
    with pytest.raises(ValueError, match="settings differ"):
        a.merge(SemanticAccumulator(instance_scores=False, protocol="synthia13"))
    for bad, message in (({"classes": ["road", "flying saucer"]}, "'flying saucer' is not in"),
                         ({"classes": ["unlabeled"]}, "not evaluated"),
                         ({"protocol": "synthia7"}, "unknown protocol"),
                         ({"protocol": "synthia16", "classes": ["road"]}, "not both")):
        with pytest.raises(ArgumentError, match=message):
            SemanticAccumulator(**bad)


def test_pixel_evaluator_command_line_protocol(tmp_path, capsys):
    """--protocol / --classes on the converted GTA5 tree, its own labels as predictions, one car pixel off."""
    assert convert.main(["--from", "gta5", "--to", "cityscapes", GTA5, str(tmp_path / "cs"), "--split", "val",
                         "-q"]) == 0
    pred = tmp_path / "pred"
    pred.mkdir()
    for frame in CityscapesDataset(tmp_path / "cs", "val"):
        labels = frame.semantic()
        if frame.id.endswith("1"):
            labels[0, 3] = ID["truck"]  # a car pixel predicted truck: outside synthia16, still wrong
        png.write_png(pred / f"{frame.id}_pred.png", labels)
    out = tmp_path / "result.json"
    argv = ["--gt", str(tmp_path / "cs"), "--pred", str(pred), "--no-instance-scores", "--json", str(out), "-q"]
    assert pixel_cli.main(argv + ["--protocol", "synthia16"]) == 0
    assert "IoU classes (16 of them)" in capsys.readouterr().out
    result = json.loads(out.read_text())
    # car: 3 pixels, 2 right -> 2/3; person, road, sidewalk, building, sky, bicycle: 1; the rest absent
    assert result["classScores"]["car"] == pytest.approx(2 / 3) and len(result["classScores"]) == 16
    assert result["averageScoreClasses"] == pytest.approx((6 + 2 / 3) / 7)
    assert pixel_cli.main(argv + ["--classes", "car,sky"]) == 0
    assert json.loads(out.read_text())["averageScoreClasses"] == pytest.approx((2 / 3 + 1) / 2)
    assert pixel_cli.main(argv) == 0  # no subset: the next run is the full evaluation again
    assert "classSubset" not in json.loads(out.read_text())

