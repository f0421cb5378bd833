"""Crossings with Datumaro 1.13, pycocotools and the VOC convention, both directions, pixel for pixel.

Datumaro's trees and its readings are committed under ``fixtures/datumaro``
(``make_fixtures.py`` regenerates them and checks that Datumaro reads every
output of ours there); here we read Datumaro's trees and check that we still
write exactly what Datumaro read.
"""
import glob
import io
import json
import os
import pathlib
import re
import shutil

import numpy as np
import pytest
from PIL import Image
from pycocotools.coco import COCO

from cityscapesscripts.dataset import CityscapesDataset, camvid, convert, voc
from cityscapesscripts.dataset.cityscapes import cityscapes_frame_id, save_label_set
from cityscapesscripts.errors import LayoutError
from cityscapesscripts.helpers.labelset import CITYSCAPES, LabelSet, name_key
from cityscapesscripts.io import png

from conftest import GOLDEN
from fixture_trees import TINY_IDS, convert_all, custom_label_set, write_tiny_tree

DATUMARO = os.path.join(os.path.dirname(__file__), "fixtures", "datumaro")
WRITTEN = os.path.join(DATUMARO, "written")
READ = np.load(os.path.join(DATUMARO, "written.npz"))
NAMES = json.load(open(os.path.join(DATUMARO, "written.json"), encoding="utf-8"))
SMALL = os.path.join(GOLDEN, "small")
# Datumaro 1.5, the reference for instance ids (make_fixtures_15.py): its tree, its readings of it and of ours
READ_15 = np.load(os.path.join(DATUMARO, "written15.npz"))
OURS_READ_15 = np.load(os.path.join(DATUMARO, "ours15.npz"))
NAMES_15 = json.load(open(os.path.join(DATUMARO, "written15.json"), encoding="utf-8"))


def datumaro_reading(tree):
    """{(split, item id): (labels, instances)} as Datumaro read ``tree``."""
    out = {}
    for key in READ.files:
        name, rest = key.split("/", 1)
        if name == tree and rest.endswith("/labels"):
            split, item = rest[:-len("/labels")].split("/", 1)
            out[(split, item)] = (READ[key], READ[f"{tree}/{rest[:-len('/labels')]}/instances"])
    return out


def relative_id(frame):
    return f"{frame.city}/{frame.id}" if frame.city else frame.id


@pytest.mark.parametrize("tree", ["cityscapes", "cityscapes_no_black", "cityscapes_meta_names",
                                  "cityscapes_names_only"])
def test_reads_every_cityscapes_tree_datumaro_writes(tree):
    """Datumaro's map (repeated colours, licence plate), no black label, names only: same items, same labels."""
    expected = datumaro_reading(tree)
    dataset = CityscapesDataset(os.path.join(WRITTEN, tree), split=None)
    assert {(f.split, relative_id(f)) for f in dataset} == set(expected)
    assert [name_key(label.name) for label in dataset.label_set.labels] == [name_key(n) for n in NAMES[tree]]
    for frame in dataset:
        labels, _ = expected[(frame.split, relative_id(frame))]
        if not frame.annotated:  # an image alone
            assert (labels < 0).all() and frame.image().shape[:2] == labels.shape
            continue
        ours = frame.semantic()
        seen = labels >= 0  # Datumaro skips label 0
        assert np.array_equal(ours[seen], labels[seen]) and (ours[~seen] == 0).all()
        assert frame.image().shape[:2] == ours.shape


def test_datumaro_names_convert_to_the_cityscapes_table(tmp_path):
    """Datumaro's Cityscapes map keeps the Cityscapes ids and train ids: VOC gets the 19 classes."""
    dataset = CityscapesDataset(os.path.join(WRITTEN, "cityscapes"), split="val")
    assert dataset.label_set.find("licenseplate").id == 34
    assert np.array_equal(dataset.label_set.id_to_train_id[:34], CITYSCAPES.id_to_train_id[:34])
    missing, failed = convert.to_cityscapes(dataset, str(tmp_path / "cs"))
    assert failed == [] and missing == ["license plate"]  # no Cityscapes id: background, with a warning
    for frame in dataset:
        if frame.annotated:
            out = png.read_label_map(tmp_path / "cs" / "gtFine" / "val" / frame.city /
                                     f"{frame.id}_gtFine_labelIds.png")
            source = frame.semantic()
            assert np.array_equal(out, np.where(source == 34, 0, source))
    assert (tmp_path / "cs" / "leftImg8bit" / "val").is_dir()  # Datumaro's importer requires it


def test_reads_every_voc_set_datumaro_writes(tmp_path):
    """Colour masks, nested and non-ASCII ids, PNG/BMP images in JPEGImages, Datumaro's label names."""
    expected = datumaro_reading("voc")
    colors = dict(voc.read_labelmap(os.path.join(WRITTEN, "voc", "labelmap.txt")))
    for split in ("val", "default"):
        items = [item for s, item in expected if s == split]
        listed = open(os.path.join(WRITTEN, "voc", "ImageSets", "Segmentation", split + ".txt"),
                      encoding="utf-8").read().split("\n")
        ids, missing, failed = convert.from_voc(os.path.join(WRITTEN, "voc"), str(tmp_path), split,
                                                save_images=True)
        assert failed == [] and len(ids) == len(items)
        assert set(missing) == {"licenseplate"}  # VOC's labelmap.txt keeps Datumaro's names
        for position, item in enumerate(i for i in listed if i):
            labels, instances = expected[(split, item)]
            frame_id = cityscapes_frame_id(item, position)
            folder = tmp_path / "gtFine" / split / frame_id.split("_")[0]
            image = np.asarray(Image.open(next(p for p in (os.path.join(WRITTEN, "voc", "JPEGImages", item + e)
                                                           for e in (".png", ".jpg", ".bmp")) if os.path.isfile(p))))
            assert np.array_equal(png.read_rgb(tmp_path / "leftImg8bit" / split / frame_id.split("_")[0] /
                                               f"{frame_id}_leftImg8bit.png"), image[..., :3])
            if (labels < 0).all():
                continue
            ours = png.read_label_map(folder / f"{frame_id}_gtFine_labelIds.png")
            names = NAMES["voc"]
            # the same colour, pixel for pixel (a shared colour is read as its first label here, the last there)
            theirs = np.array([colors[names[v]] if v >= 0 else (0, 0, 0) for v in labels.ravel()])
            assert np.array_equal(CITYSCAPES.id_to_color[ours].reshape(-1, 3), theirs)
            inst = png.read_ids_16bit(folder / f"{frame_id}_gtFine_instanceIds.png")
            things = inst >= 1000
            pairs = set(zip(inst[things].tolist(), instances[things].tolist()))
            assert len(pairs) == len({a for a, _ in pairs}) == len({b for _, b in pairs})


def _same_file(ours, verified):
    if verified.endswith(".png"):
        a, b = Image.open(ours), Image.open(verified)
        assert a.mode == b.mode and np.array_equal(np.asarray(a), np.asarray(b)), ours
        assert a.getpalette() == b.getpalette(), ours
    elif verified.endswith(".json"):
        assert json.load(open(ours)) == json.load(open(verified)), ours
    elif verified.endswith(".jpg"):
        a, b = np.asarray(Image.open(ours), np.int16), np.asarray(Image.open(verified), np.int16)
        assert np.abs(a - b).max() <= 2, ours  # JPEG encoders may round differently
    else:
        assert open(ours, "rb").read() == open(verified, "rb").read(), ours


def _files(root):
    return sorted(os.path.relpath(os.path.join(d, f), root) for d, _, fs in os.walk(root) for f in fs)


def _reading_15(read, key):
    """Datumaro 1.5's (labels, ids, crowd) of one item, and the instanceIds they mean: ``label * 1000 + id``,
    the label alone where the mask is a crowd (1.5 reads every value < 1000 so)."""
    labels, ids, crowd = (read[f"{key}/{name}"].astype(np.int64) for name in ("labels", "ids", "crowd"))
    return labels, ids, crowd, np.where(crowd == 1, labels, labels * 1000 + ids)


def test_reads_instance_ids_as_datumaro_15_writes_them():
    """1.5's tree (ids it gives every mask, an instance 0 it renumbers, a crowd): same labels, same
    instanceIds, and the same instances and crowd regions as 1.5 reads back, pixel for pixel."""
    dataset = CityscapesDataset(os.path.join(DATUMARO, "written15", "cityscapes"), split=None)
    keys = {key.rsplit("/", 1)[0] for key in READ_15.files}
    assert {f"cityscapes/{frame.split}/{relative_id(frame)}" for frame in dataset} == keys
    for frame in dataset:
        labels, ids, crowd, meant = _reading_15(READ_15, f"cityscapes/{frame.split}/{relative_id(frame)}")
        assert np.array_equal(frame.semantic(), labels)
        assert {name_key(frame.label_set.id2label[v].name) for v in np.unique(labels).tolist()} == {
            name_key(NAMES_15["cityscapes"][v]) for v in np.unique(labels).tolist()}
        assert np.array_equal(frame.instance_ids(), meant)
        things = frame.instances()
        assert sorted(m.instance_id for m in things) == sorted(
            v for v in np.unique(meant).tolist() if frame.label_set.id2label[v // 1000 if v >= 1000 else v].hasInstances)
        for m in things:
            label = m.instance_id // 1000 if m.instance_id >= 1000 else m.instance_id
            assert np.array_equal(m.mask, (labels == label) & (crowd == m.is_crowd) & (
                (ids == m.instance_id % 1000) | (crowd == 1)))
        assert {m.is_crowd for m in things} == {True, False}


def test_coco_instances_of_a_datumaro_15_tree_are_its_instances(tmp_path):
    """Each COCO annotation (pycocotools) is one of 1.5's masks of a class with instances, crowd flag included."""
    root = os.path.join(DATUMARO, "written15", "cityscapes")
    assert convert.main(["--to", "coco-instances", root, str(tmp_path), "-j", "1"]) == 0
    coco = COCO(str(tmp_path / "instances_val.json"))
    for frame in CityscapesDataset(root):
        labels, ids, crowd, meant = _reading_15(READ_15, f"cityscapes/{frame.split}/{relative_id(frame)}")
        image = next(i for i in coco.imgs.values() if i["frame_id"] == frame.item_id)
        annotations = coco.loadAnns(coco.getAnnIds(imgIds=image["id"]))
        evaluated = {c["id"] for c in coco.cats.values()}
        expected = {v for v in np.unique(meant).tolist() if (v // 1000 if v >= 1000 else v) in evaluated}
        assert sorted(a["cityscapes_id"] for a in annotations) == sorted(expected)
        for a in annotations:
            assert np.array_equal(coco.annToMask(a).astype(bool), meant == a["cityscapes_id"])
            assert a["iscrowd"] == int(crowd[meant == a["cityscapes_id"]].all())


def test_datumaro_15_reads_our_instance_ids():
    """What 1.5 read from csConvert --to cityscapes of the tiny tree: each instance by its id, each
    value < 1000 a crowd of its label, pixel for pixel (our current output is checked equal to
    those files in test_writes_what_datumaro_read)."""
    output = CityscapesDataset(os.path.join(DATUMARO, "ours", "output", "cityscapes"))
    keys = {key.rsplit("/", 1)[0] for key in OURS_READ_15.files}
    assert {f"ours/{frame.split}/{relative_id(frame)}" for frame in output} == keys
    for frame in output:
        labels, ids, crowd, meant = _reading_15(OURS_READ_15, f"ours/{frame.split}/{relative_id(frame)}")
        written = frame.instance_ids().astype(np.int64)
        assert np.array_equal(meant, written)
        assert np.array_equal(crowd == 1, written < 1000)
        assert (written % 1000 == 0)[written >= 1000].any()  # an instance 0 read as id 0, not renumbered


def test_jpeg_images_are_encoded_as_datumaro_encodes_them():
    """Same quantization tables (quality 75) and chroma subsampling as Datumaro's JPEG of the same pixels."""
    theirs = Image.open(os.path.join(WRITTEN, "voc", "JPEGImages", "defaultcity_1_2.jpg"))
    # make_fixtures.py: seed 2, 6x8; Datumaro takes the array as BGR
    pixels = np.random.default_rng(2).integers(0, 255, (6, 8, 3), dtype=np.uint8)[..., ::-1]
    ours = Image.open(io.BytesIO(png.encode_image(pixels, ".jpg")))
    assert ours.quantization == theirs.quantization and ours.layer == theirs.layer
    assert np.abs(np.asarray(ours, np.int16) - np.asarray(theirs, np.int16)).max() <= 1


def test_writes_what_datumaro_read(tmp_path):
    """Every csConvert output of the tiny tree equals the one Datumaro 1.13 read back pixel for pixel."""
    write_tiny_tree(str(tmp_path / "input"))
    for name in _files(os.path.join(DATUMARO, "ours", "input")):
        _same_file(str(tmp_path / "input" / name), os.path.join(DATUMARO, "ours", "input", name))
    assert convert_all(str(tmp_path / "input"), str(tmp_path / "output")) == [0] * 5
    verified = os.path.join(DATUMARO, "ours", "output")
    assert _files(str(tmp_path / "output")) == _files(verified)
    for name in _files(verified):
        _same_file(str(tmp_path / "output" / name), os.path.join(verified, name))
    out = tmp_path / "output"
    labelmap = (out / "voc" / "labelmap.txt").read_text().splitlines()
    assert labelmap[1] == "background:0,0,0::" and labelmap[-1] == "ignored:224,224,192::"
    objects = Image.open(out / "voc" / "SegmentationObject" / f"{TINY_IDS[0]}.png")
    assert objects.getpalette()[3:6] == [128, 0, 0] and objects.getpalette()[-3:] == [224, 224, 192]
    panoptic = json.load(open(out / "panoptic" / "annotations" / "cityscapes_panoptic_val.json"))
    assert [image["id"] for image in panoptic["images"]] == [1, 2]
    assert panoptic["images"][0]["file_name"] == f"leftImg8bit/val/tinytown/{TINY_IDS[0]}_leftImg8bit.png"
    coco = COCO(str(out / "coco" / "annotations" / "instances_val.json"))
    assert sorted(coco.getImgIds()) == [1, 2] and len(coco.getAnnIds()) == 8
    assert (out / "cityscapes" / "leftImg8bit" / "val").is_dir()


def test_cityscapes_panoptic_keeps_string_ids(tmp_path):
    """csCreatePanopticImgs stays the original's (string ids); only csConvert numbers them."""
    from cityscapesscripts.preparation.createPanopticImgs import convert2panoptic
    write_tiny_tree(str(tmp_path))
    path, = convert2panoptic(str(tmp_path / "gtFine"), str(tmp_path / "out"), setNames=["val"], quiet=True)
    assert [image["id"] for image in json.load(open(path))["images"]] == list(TINY_IDS)


def test_tree_variants(tmp_path):
    """Only labelTrainIds; only instanceIds; nothing readable: a message naming what is missing."""
    reference = CityscapesDataset(SMALL)
    shutil.copytree(os.path.join(SMALL, "gtFine", "val"), tmp_path / "gtFine" / "val",
                    ignore=shutil.ignore_patterns("*_labelIds.png", "*_instanceIds.png", "*_polygons.json"))
    for frame in reference:  # the train ids csCreateTrainIdLabelImgs writes
        png.write_png(tmp_path / "gtFine" / "val" / frame.city / f"{frame.id}_gtFine_labelTrainIds.png",
                      CITYSCAPES.id_to_train_id[frame.semantic()])
    dataset = CityscapesDataset(tmp_path, split=None)
    assert dataset.splits() == ["val"] and len(dataset) == len(reference)
    evaluated = CITYSCAPES.id_to_train_id != 255
    for frame, original in zip(dataset, reference):
        source = original.semantic()
        ours = frame.semantic()
        assert np.array_equal(ours[evaluated[source]], source[evaluated[source]])
        assert (~evaluated[ours[~evaluated[source]]]).all() and frame.instances() != []
    for path in (tmp_path / "gtFine" / "val").rglob("*_labelTrainIds.png"):
        path.unlink()
    for path in (tmp_path / "gtFine" / "val").rglob("*_instanceTrainIds.png"):
        path.unlink()
    with pytest.raises(LayoutError, match="has no labelIds, instanceIds, polygons or labelTrainIds "
                                          r"\(found: color"):
        CityscapesDataset(tmp_path)[0].semantic()
    only_instances = tmp_path / "inst"
    shutil.copytree(os.path.join(SMALL, "gtFine", "val"), only_instances / "gtFine" / "val",
                    ignore=shutil.ignore_patterns("*_labelIds.png", "*_polygons.json", "*TrainIds.png"))
    for frame, original in zip(CityscapesDataset(only_instances), reference):
        assert np.array_equal(frame.semantic(), original.semantic())


def test_panoptic_folder_is_not_a_split():
    dataset = CityscapesDataset(SMALL, split=None)
    assert dataset.splits() == ["val"] and {f.split for f in dataset} == {"val"}
    assert all("panoptic" in f.paths for f in dataset)


def test_nothing_found_lists_the_splits_present():
    with pytest.raises(LayoutError, match="splits present: default, val"):
        CityscapesDataset(os.path.join(WRITTEN, "cityscapes"), split="train")


# ---- names from files stay inside their folders (issue 10) ----------------------------------------------

def _voc_set(tmp_path):
    root = tmp_path / "voc"
    voc.write_voc(CityscapesDataset(SMALL), str(root), save_images=False, jobs=1)
    return root


@pytest.mark.parametrize("name, message", [
    ("../../../../tmp/x/evil_000000_000000", "name ../../../../tmp/x/evil_000000_000000.png points outside"),
    ("/tmp/x/evil_000000_000000", "name /tmp/x/evil_000000_000000.png must be a path relative to"),
    ("a/../../evil", "name a/../../evil.png points outside")])
def test_voc_list_names_cannot_leave_the_set(tmp_path, name, message):
    root = _voc_set(tmp_path)
    outside = tmp_path / "tmp" / "x"
    outside.mkdir(parents=True)
    shutil.copy(next((root / "SegmentationClass").iterdir()), outside / "evil_000000_000000.png")
    listing = root / "ImageSets" / "Segmentation" / "val.txt"
    listing.write_text(listing.read_text() + name + "\n")
    listing.write_text(listing.read_text() + "missing_000000_000000\n")
    lines = len(listing.read_text().splitlines())
    ids, _, failed = convert.from_voc(str(root), str(tmp_path / "out"), "val")
    # every refused line is reported, named by its list file and line; the other items are written
    assert [f.item for f in failed] == [f"{listing}, line {lines - 1}", f"{listing}, line {lines}"]
    assert failed[0].reason.startswith(message)
    assert failed[1].reason == "item 'missing_000000_000000' has no SegmentationClass/" \
                               "missing_000000_000000.png and no image"
    assert len(ids) == lines - 2
    assert not any("evil" in f for _, _, files in os.walk(tmp_path / "out") for f in files)


def test_voc_symlinks_cannot_leave_the_set(tmp_path):
    root = _voc_set(tmp_path)
    outside = tmp_path / "elsewhere.png"
    shutil.copy(next((root / "SegmentationClass").iterdir()), outside)
    (root / "SegmentationClass" / "linked_000000_000000.png").symlink_to(outside)
    listing = root / "ImageSets" / "Segmentation" / "val.txt"
    listing.write_text(listing.read_text() + "linked_000000_000000\n")
    ids, _, failed = convert.from_voc(str(root), str(tmp_path / "out"), "val")
    assert len(failed) == 1 and re.match("name linked_000000_000000.png points outside .*elsewhere.png",
                                         failed[0].reason)
    assert len(ids) == len(listing.read_text().splitlines()) - 1 and "linked_000000_000000" not in ids


def test_csconvert_from_voc_goes_on_past_refused_lines_and_reports_each(tmp_path, capsys):
    root = _voc_set(tmp_path)
    listing = root / "ImageSets" / "Segmentation" / "val.txt"
    good = listing.read_text().splitlines()
    listing.write_text("\n".join(["../evil_000000_000000"] + good + ["/abs/evil_000000_000000"]) + "\n")
    status = convert.main(["--from", "voc", "--to", "cityscapes", str(root), str(tmp_path / "out"), "-q"])
    errors = capsys.readouterr().err.splitlines()
    assert status == 1 and len(errors) == 2
    assert errors[0].startswith(f"ERROR: {listing}, line 1: name ../evil_000000_000000.png points outside")
    assert errors[1].startswith(f"ERROR: {listing}, line {len(good) + 2}: name /abs/evil_000000_000000.png")
    written = glob.glob(str(tmp_path / "out" / "gtFine" / "val" / "*" / "*_labelIds.png"))
    assert len(written) == len(good)


def _linked_out_tree(tmp_path):
    """A copy of the small tree where one frame's instanceIds, another frame's image and a city folder
    are symbolic links leading out of their split folders; returns (root, refused paths, frames left out)."""
    root, outside = tmp_path / "tree", tmp_path / "outside"
    shutil.copytree(SMALL, root, ignore=shutil.ignore_patterns("expected", "results"))
    outside.mkdir()
    frames = CityscapesDataset(root).frames
    first, second = frames[0], frames[1]
    ids_file = pathlib.Path(first.paths["instanceIds"])
    image_file = pathlib.Path(second.paths["leftImg8bit"])
    for path in (ids_file, image_file):
        shutil.copy(path, outside / path.name)
        path.unlink()
        path.symlink_to(outside / path.name)
    shutil.copytree(ids_file.parent, outside / "elsewhere")
    (ids_file.parent.parent / "elsewhere").symlink_to(outside / "elsewhere")
    refused = [ids_file, image_file, ids_file.parent.parent / "elsewhere"]
    return root, [str(p) for p in refused], {first.item_id, second.item_id}


def test_a_symlink_leading_out_of_the_tree_fails_only_its_frame(tmp_path):
    """Linked files and folders leading out are refused one by one, each named with its reason."""
    root, refused, left_out = _linked_out_tree(tmp_path)
    dataset = CityscapesDataset(root)
    assert {f.item_id for f in dataset} == {f.item_id for f in CityscapesDataset(SMALL)} - left_out
    assert sorted(f.item for f in dataset.failures) == sorted(refused)
    for failure in dataset.failures:
        assert failure.reason.startswith(f"symbolic link leads out of {root}")
        assert os.path.realpath(failure.item).startswith(str(tmp_path / "outside"))
    assert {f.reason.rsplit("frame val/", 1)[-1] for f in dataset.failures if "skipped" in f.reason} == {
        f"{item} skipped" for item in left_out}


def test_csconvert_goes_on_past_symlinks_leading_out_and_reports_each(tmp_path, capsys):
    root, refused, left_out = _linked_out_tree(tmp_path)
    out = tmp_path / "voc"
    assert convert.main(["--to", "voc", str(root), str(out), "-j", "2"]) == 1
    errors = [line for line in capsys.readouterr().err.splitlines() if line.startswith("ERROR:")]
    assert len(errors) == len(refused)
    for path in refused:
        assert any(line.startswith(f"ERROR: {path}: symbolic link leads out of") for line in errors), path
    for item in left_out:
        assert any(f"frame val/{item} skipped" in line for line in errors), item
    listed = (out / "ImageSets" / "Segmentation" / "val.txt").read_text().split()
    assert sorted(listed) == sorted({f.item_id for f in CityscapesDataset(SMALL)} - left_out)
    assert sorted(p.stem for p in (out / "SegmentationClass").iterdir()) == sorted(listed)


def test_linked_split_folders_are_fine(tmp_path):
    """A linked folder above the split (data on another disk) is inside the tree."""
    shutil.copytree(os.path.join(SMALL, "gtFine"), tmp_path / "gtFine")
    (tmp_path / "leftImg8bit").symlink_to(os.path.abspath(os.path.join(SMALL, "leftImg8bit")))
    dataset = CityscapesDataset(tmp_path)
    assert not dataset.failures and all("leftImg8bit" in frame.paths for frame in dataset)


def test_coco_file_names_stay_inside_the_root(tmp_path):
    from cityscapesscripts.dataset import coco
    path, failed = coco.write_coco_instances(CityscapesDataset(SMALL), str(tmp_path / "i.json"), jobs=1)
    for image in json.load(open(path))["images"]:
        assert not os.path.isabs(image["file_name"]) and ".." not in image["file_name"].split("/")
        assert os.path.isfile(os.path.join(SMALL, image["file_name"]))


def test_a_bad_voc_item_is_reported_and_the_others_written(tmp_path, capsys):
    root = _voc_set(tmp_path)
    bad = sorted((root / "SegmentationClass").iterdir())[1]
    bad.write_bytes(b"\x89PNG broken")
    assert convert.main(["--from", "voc", "--to", "cityscapes", str(root), str(tmp_path / "out")]) == 1
    err = capsys.readouterr().err
    assert err.count("ERROR:") == 1 and bad.stem in err
    written = sorted(p.name for p in (tmp_path / "out" / "gtFine" / "val").rglob("*_labelIds.png"))
    assert len(written) == len(CityscapesDataset(SMALL)) - 1 and not any(bad.stem in n for n in written)
    assert not list((tmp_path / "out").rglob(".tmp-*"))


def test_voc_colour_masks_with_an_unknown_colour_name_the_file(tmp_path):
    root = _voc_set(tmp_path)
    path = sorted((root / "SegmentationClass").iterdir())[0]
    rgb = np.asarray(Image.open(path).convert("RGB")).copy()
    rgb[0, 0] = (1, 2, 3)
    Image.fromarray(rgb).save(path)
    ids, missing, failed = convert.from_voc(str(root), str(tmp_path / "out"), "val")
    assert len(failed) == 1 and "colour (1, 2, 3) is not a class of the label map" in str(failed[0])
    assert path.name in str(failed[0])


def test_full_voc_table_gets_distinct_colours(tmp_path):
    classes, table = voc.voc_classes(CITYSCAPES, full_table=True)
    assert len({color for _, color in classes}) == len(classes) == 34
    gappy = LabelSet.load(_meta(tmp_path, {"label_map": {"0": "background", "2": "car"}}))
    with pytest.raises(ValueError, match="needs label ids 0..N-1"):
        voc.voc_classes(gappy, full_table=True)


def _meta(tmp_path, meta):
    path = tmp_path / "dataset_meta.json"
    path.write_text(json.dumps(meta))
    return path


def test_labelTrainIds_win_over_instanceIds_in_a_tree_without_labelIds_as_datumaro_reads_it():
    """Datumaro's tree with labelTrainIds beside instanceIds (no labelIds, no polygons): Datumaro reads the
    train ids, so do we: ego vehicle (instanceIds 1, train id 255) is background, not ego vehicle."""
    tree = "cityscapes_train_ids"
    expected = datumaro_reading(tree)
    names = NAMES[tree]
    dataset = CityscapesDataset(os.path.join(WRITTEN, tree), split=None)
    assert {(f.split, relative_id(f)) for f in dataset if f.annotated} == {
        key for key, (labels, _) in expected.items() if (labels >= 0).any()}
    ego = CITYSCAPES.name2label["ego vehicle"].id
    saw_ego = False
    for frame in dataset:
        if not frame.annotated:
            continue
        assert frame.train_ids_win
        labels, _ = expected[(frame.split, relative_id(frame))]
        ours = frame.semantic()
        seen = labels >= 0
        assert [name_key(frame.label_set.id2label[v].name) for v in ours[seen].tolist()] == [
            name_key(names[v]) for v in labels[seen].tolist()]
        # Datumaro skips its label 0 (road in its train map) and gives nothing where the train id is 255
        assert set(ours[~seen].tolist()) <= {CITYSCAPES.background.id, CITYSCAPES.name2label["road"].id}
        in_instance_ids = png.read_ids_16bit(frame.paths["instanceIds"]) == ego
        saw_ego |= bool(in_instance_ids.any())
        assert (ours[in_instance_ids] == CITYSCAPES.background.id).all()
        assert np.array_equal(frame.instance_ids(), ours)  # Datumaro 1.13 wrote no instances
    assert saw_ego


LABEL_COLORS = os.path.join(DATUMARO, "ours", "label_colors")
LABEL_COLORS_READ = json.load(open(os.path.join(DATUMARO, "ours", "label_colors.json"), encoding="utf-8"))


@pytest.mark.parametrize("name", ["cityscapes", "custom"])
def test_label_colors_we_write_are_read_by_datumaro_and_back_by_us(tmp_path, name):
    """Our label_colors.txt is the committed one, whose names Datumaro 1.13's Cityscapes and CamVid parsers
    read one per line (make_fixtures.py: with the colours; Datumaro imports our Cityscapes output with it),
    and we read back the names written (spaces, '%', '#' included)."""
    label_set = CITYSCAPES if name == "cityscapes" else custom_label_set()
    path = save_label_set(str(tmp_path), label_set)
    committed = os.path.join(LABEL_COLORS, name, "label_colors.txt")
    assert open(path, "rb").read() == open(committed, "rb").read()
    words = [line.split()[3] for line in open(path, encoding="utf-8").read().splitlines()]
    assert all(len(line.split()) == 4 for line in open(path, encoding="utf-8").read().splitlines())
    assert words == LABEL_COLORS_READ[name]
    drawn = [label for label in label_set.labels if label.id >= 0]
    back = LabelSet.from_label_colors(path)
    assert [(label.name, label.id, label.color) for label in back.labels] == [
        (label.name, label.id, label.color) for label in drawn]
    if name == "cityscapes":  # Datumaro's own spelling of the Cityscapes names
        assert "trafficlight" in words and "egovehicle" in words
        assert np.array_equal(back.id_to_train_id, CITYSCAPES.id_to_train_id)


@pytest.mark.parametrize("kind", ["coco-instances", "coco-panoptic"])
def test_our_coco_exports_round_trip_to_the_same_pixels(tmp_path, kind):
    """Tiny tree -> COCO -> Cityscapes: every pixel COCO carries keeps its label and instance id (instances:
    the evaluated classes with instances, crowd included; panoptic: every evaluated class); the rest is
    background.  -j 2, and the export folder given as written or as its annotations/ folder."""
    write_tiny_tree(str(tmp_path / "input"))
    assert convert_all(str(tmp_path / "input"), str(tmp_path / "output")) == [0] * 5
    folder = {"coco-instances": "coco", "coco-panoptic": "panoptic"}[kind]
    for given in (tmp_path / "output" / folder, tmp_path / "output" / folder / "annotations"):
        out = tmp_path / f"back-{given.name}"
        assert convert.main(["--from", kind, "--to", "cityscapes", str(given), str(out), "--split", "val",
                             "-j", "2", "-q"]) == 0
        back = {frame.id: frame for frame in CityscapesDataset(out)}
        assert sorted(back) == list(TINY_IDS)
        for frame in CityscapesDataset(tmp_path / "input"):
            ids = frame.instance_ids()
            labels = np.where(ids >= 1000, ids // 1000, ids)
            carried = ~np.array([CITYSCAPES.id2label[v].ignoreInEval for v in range(34)])[labels]
            if kind == "coco-instances":
                carried &= CITYSCAPES.has_instances[labels]
            expected = np.where(carried, ids, 0)
            assert np.array_equal(back[frame.id].instance_ids(), expected), (kind, frame.id)
            assert np.array_equal(back[frame.id].semantic(), np.where(carried, labels, 0))


@pytest.mark.parametrize("tree, kind", [("coco_instances", "coco-instances"), ("coco_panoptic", "coco-panoptic")])
def test_reads_the_coco_exports_datumaro_writes(tmp_path, tree, kind):
    """Datumaro 1.13's COCO exports of its Cityscapes items: the classes Datumaro reads back, pixel for
    pixel (its licence plate is no Cityscapes class: background, with a warning); images copied."""
    expected = datumaro_reading(tree)
    names = NAMES[tree]
    for split in ("val", "default"):
        items, missing, refused = convert.coco.read_coco(os.path.join(WRITTEN, tree), kind, split, CITYSCAPES)
        assert refused == [] and missing == ["licenseplate"]
        ids, failed = convert.write_items(items, str(tmp_path), split, save_images=True, jobs=1)
        assert failed == []
        written = {frame.id: frame for frame in CityscapesDataset(tmp_path, split)}
        listed = json.load(open(convert.coco.find_coco_json(os.path.join(WRITTEN, tree), kind, split)))["images"]
        assert len(written) == len(listed) == len([key for key in expected if key[0] == split])
        for position, image in enumerate(listed):
            item = os.path.splitext(image["file_name"])[0]
            labels, _ = expected[(split, item)]
            frame = written[cityscapes_frame_id(item, position)]
            ours = frame.semantic()
            theirs = np.array([CITYSCAPES.find(names[v]).id if v >= 0 and CITYSCAPES.find(names[v]).id >= 0 else 0
                               for v in labels.ravel()]).reshape(labels.shape)
            assert np.array_equal(ours, theirs), item
            assert frame.image().shape[:2] == labels.shape


def test_coco_instances_by_hand_polygons_plain_rle_and_a_bad_item(tmp_path, capsys):
    """A polygon car (drawn as Cityscapes polygons: edges included), a plain-RLE person crowd, an unknown
    category, and an image whose RLE has another size, which fails alone; --save-polygons keeps the car."""
    crowd = np.zeros((3, 5), bool)
    crowd[:, 0] = True  # column-major runs: 3 ones, then 12 zeros
    data = {"images": [{"id": 1, "file_name": "x_000000_000001.png", "height": 3, "width": 5},
                       {"id": 2, "file_name": "x_000000_000002.png", "height": 3, "width": 5}],
            "categories": [{"id": 5, "name": "car"}, {"id": 6, "name": "person"}, {"id": 9, "name": "ufo"}],
            "annotations": [
                {"id": 1, "image_id": 1, "category_id": 5, "iscrowd": 0, "segmentation": [[2, 0, 4, 0, 4, 1, 2, 1]]},
                {"id": 2, "image_id": 1, "category_id": 6, "iscrowd": 1,
                 "segmentation": {"size": [3, 5], "counts": [0, 3, 12]}},
                {"id": 3, "image_id": 1, "category_id": 9, "iscrowd": 0, "segmentation": [[0, 2, 4, 2, 4, 2]]},
                {"id": 4, "image_id": 2, "category_id": 5, "iscrowd": 0,
                 "segmentation": {"size": [4, 5], "counts": [0, 20]}}]}
    (tmp_path / "coco").mkdir()
    (tmp_path / "coco" / "instances_val.json").write_text(json.dumps(data))
    out = tmp_path / "out"
    assert convert.main(["--from", "coco-instances", "--to", "cityscapes", str(tmp_path / "coco"), str(out),
                         "--save-polygons", "-q"]) == 1
    err = capsys.readouterr().err
    assert err.count("ERROR:") == 1 and "image 2" in err and "RLE of size [4, 5]" in err
    assert "WARNING" in err and "'ufo'" in err
    frame, = CityscapesDataset(out)
    assert frame.id == "x_000000_000001"
    assert frame.instance_ids().tolist() == [[24, 0, 26000, 26000, 26000], [24, 0, 26000, 26000, 26000],
                                             [24, 0, 0, 0, 0]]
    assert json.loads(open(frame.paths["polygons"]).read())["objects"] == [
        {"label": "car", "polygon": [[2, 0], [4, 0], [4, 1], [2, 1]]}]


def test_reads_every_camvid_set_datumaro_writes(tmp_path):
    """Datumaro's CamVid export of its Cityscapes items (repeated colours, nested and quoted names, JPEG and
    BMP images): the same colour pixel for pixel (a shared colour is read as its first label here, the last
    there), and the images."""
    expected = datumaro_reading("camvid")
    root = os.path.join(WRITTEN, "camvid")
    colors = {name_key(name): color for name, color in camvid.read_classes(root)}
    names = NAMES["camvid"]
    for split in ("val", "default"):
        ids, missing, failed = convert.from_camvid(root, str(tmp_path), split, save_images=True, jobs=1)
        items = [item for s, item in expected if s == split]
        assert failed == [] and missing == ["license plate"] and len(ids) == len(items)
        listed = [camvid._list_line(line)[0] for line in open(os.path.join(root, split + ".txt"), encoding="utf-8")]
        for position, image in enumerate(listed):
            item = os.path.splitext(image.split("/", 2)[2])[0]
            labels, _ = expected[(split, item)]
            frame_id = cityscapes_frame_id(item, position)
            frame, = [f for f in CityscapesDataset(tmp_path, split) if f.id == frame_id]
            theirs = np.array([colors[name_key(names[v])] if v >= 0 else (0, 0, 0) for v in labels.ravel()])
            assert np.array_equal(CITYSCAPES.id_to_color[frame.semantic()].reshape(-1, 3), theirs), item
            assert np.array_equal(frame.image(), np.asarray(Image.open(os.path.join(root, image.lstrip("/"))))[..., :3])


@pytest.mark.parametrize("full_table", [False, True])
def test_camvid_round_trip(tmp_path, full_table):
    """Tiny tree -> CamVid -> Cityscapes (-j 2): evaluated classes keep their pixels, void is background;
    with the full table every label id comes back (its colours are then distinct)."""
    write_tiny_tree(str(tmp_path / "input"))
    extra = ["--voc-full-table"] if full_table else []
    assert convert.main(["--to", "camvid", str(tmp_path / "input"), str(tmp_path / "camvid"), "-q"] + extra) == 0
    assert convert.main(["--from", "camvid", "--to", "cityscapes", str(tmp_path / "camvid"), str(tmp_path / "back"),
                         "--split", "val", "-j", "2", "-q"]) == 0
    back = {frame.id: frame.semantic() for frame in CityscapesDataset(tmp_path / "back")}
    for frame in CityscapesDataset(tmp_path / "input"):
        source = frame.semantic()
        expected = source if full_table else np.where(CITYSCAPES.id_to_train_id[source] == 255, 0, source)
        assert np.array_equal(back[frame.id], expected)
    assert sorted(os.listdir(tmp_path / "camvid")) == ["label_colors.txt", "val.txt", "valannot"]


def test_camvid_lines_are_checked_and_fail_alone(tmp_path, capsys):
    write_tiny_tree(str(tmp_path / "input"))
    assert convert.main(["--to", "camvid", str(tmp_path / "input"), str(tmp_path / "camvid"), "-q"]) == 0
    lists = tmp_path / "camvid" / "val.txt"
    lists.write_text(lists.read_text() + "/val/x.png ../../outside.png\n/val/y.png valannot/missing.png\n"
                     '"/val/a b.png" "valannot/a b.png" extra\n')
    assert convert.main(["--from", "camvid", "--to", "cityscapes", str(tmp_path / "camvid"), str(tmp_path / "out"),
                         "-q"]) == 1
    err = capsys.readouterr().err
    assert err.count("ERROR:") == 3 and "line 3" in err and "line 4" in err and "line 5" in err
    assert len(CityscapesDataset(tmp_path / "out")) == 2


def test_coco_panoptic_with_large_segment_ids(tmp_path):
    """Segment ids past 16 bits (COCO's own are RGB codes): read through the ids present; a thing's id
    that is no Cityscapes instance id gets the next free number; unlisted pixels are background."""
    ids = np.array([[70000, 70000, 5], [0, 5, 5]])
    rgb = np.stack([ids % 256, ids // 256 % 256, ids // 65536], axis=-1).astype(np.uint8)
    (tmp_path / "coco" / "panoptic_val").mkdir(parents=True)
    png.write_png(tmp_path / "coco" / "panoptic_val" / "x.png", rgb)
    (tmp_path / "coco" / "panoptic_val.json").write_text(json.dumps({
        "images": [{"id": 1, "file_name": "x_000000_000001.jpg", "height": 2, "width": 3}],
        "annotations": [{"image_id": 1, "file_name": "x.png", "segments_info": [
            {"id": 70000, "category_id": 1, "iscrowd": 0}, {"id": 5, "category_id": 2, "iscrowd": 0}]}],
        "categories": [{"id": 1, "name": "car"}, {"id": 2, "name": "road"}]}))
    items, missing, refused = convert.coco.read_coco(str(tmp_path / "coco"), "coco-panoptic", "val", CITYSCAPES)
    assert missing == [] and refused == [] and [frame_id for _, _, frame_id in items] == ["x_000000_000001"]
    item = items[0][1]()
    assert item.instance_ids.tolist() == [[26000, 26000, 7], [0, 7, 7]]
    assert item.label_ids.tolist() == [[26, 26, 7], [0, 7, 7]]


def test_a_malformed_coco_json_is_one_error_line(tmp_path, capsys):
    (tmp_path / "instances_val.json").write_text(json.dumps(
        {"images": [], "annotations": [], "categories": [{"id": 1}]}))
    assert convert.main(["--from", "coco-instances", "--to", "cityscapes", str(tmp_path), str(tmp_path / "out"),
                         "-q"]) == 1
    err = capsys.readouterr().err.strip().splitlines()
    assert len(err) == 1 and err[0].startswith("ERROR: ") and "instances_val.json" in err[0]
    assert "without its fields" in err[0]
