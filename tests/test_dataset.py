"""Reading, writing and converting Cityscapes trees; COCO RLE; custom label maps."""
import json
import os
import shutil

import numpy as np
import pytest
from PIL import Image
from pycocotools import mask as mask_utils
from pycocotools.coco import COCO

from cityscapesscripts.dataset import CityscapesDataset
from cityscapesscripts.dataset import coco, convert, voc
from cityscapesscripts.dataset.cityscapes import cityscapes_frame_id, save_label_set
from cityscapesscripts.errors import LayoutError, LabelSetError
from cityscapesscripts.helpers.labelset import CITYSCAPES, LabelSet
from cityscapesscripts.io import png, rle

from conftest import GOLDEN, assert_same_png, golden_files

SMALL = os.path.join(GOLDEN, "small")


def test_reads_frames_with_every_modality():
    dataset = CityscapesDataset(SMALL, split="val")
    frames = golden_files(SMALL, "*_polygons.json")
    assert [f.id for f in dataset] == sorted(os.path.basename(p)[:-len("_gtFine_polygons.json")] for p in frames)
    frame = dataset[0]
    assert frame.split == "val" and frame.city == frame.id.split("_")[0]
    assert {"polygons", "labelIds", "instanceIds", "color", "leftImg8bit", "panoptic"} <= set(frame.paths)
    assert frame.image().shape == (256, 512, 3)
    assert np.array_equal(frame.semantic(), png.read_label_map(frame.paths["labelIds"]))
    assert len(frame.annotation().objects) > 10


def test_instances_and_crowd_regions():
    frame = CityscapesDataset(SMALL)[0]
    ids = png.read_ids_16bit(frame.paths["instanceIds"])
    instances = frame.instances()
    assert instances and all(m.label.hasInstances for m in instances)
    for m in instances:
        assert m.is_crowd == (m.instance_id < 1000)
        assert np.array_equal(m.mask, ids == m.instance_id)


def test_accepts_root_annotation_folder_or_split_folder():
    ids = [f.id for f in CityscapesDataset(SMALL)]
    assert [f.id for f in CityscapesDataset(os.path.join(SMALL, "gtFine"))] == ids
    split = CityscapesDataset(os.path.join(SMALL, "gtFine", "val"), split="ignored")
    assert [f.id for f in split] == ids and split.split == "val"


def test_nothing_found_says_what_it_looked_for(tmp_path):
    with pytest.raises(LayoutError, match="no Cityscapes frames found; looked for .*gtFine/val/\\*\\*/\\*_gtFine_\\*"):
        CityscapesDataset(tmp_path)


def test_polygons_only_frames_are_rasterized(tmp_path):
    shutil.copytree(os.path.join(SMALL, "gtFine"), tmp_path / "gtFine",
                    ignore=shutil.ignore_patterns("*.png", "cityscapes_panoptic*"))
    frame = CityscapesDataset(tmp_path)[0]
    expected = os.path.join(SMALL, "gtFine", "val", frame.city, frame.id + "_gtFine_instanceIds.png")
    assert np.array_equal(frame.instance_ids(), png.read_ids_16bit(expected))


def test_custom_label_maps_from_both_files(tmp_path):
    shutil.copytree(os.path.join(SMALL, "gtFine"), tmp_path / "gtFine")
    (tmp_path / "label_colors.txt").write_text("0 0 0 unlabeled\n128 64 128 road\n")
    assert [l.name for l in CityscapesDataset(tmp_path).label_set.labels] == ["unlabeled", "road"]
    (tmp_path / "dataset_meta.json").write_text(json.dumps({"labels": ["unlabeled", "car"]}))
    assert [l.name for l in CityscapesDataset(tmp_path).label_set.labels] == ["background", "unlabeled", "car"]
    (tmp_path / "dataset_meta.json").write_text(json.dumps({"labels": ["a", "b"], "background_label": "zz"}))
    with pytest.raises(LabelSetError, match="background_label 'zz' names no label"):
        CityscapesDataset(tmp_path)


def test_rle_encode_decode_round_trip():
    rng = np.random.default_rng(0)
    full = np.zeros((40, 30), bool)
    full[5:20, 7:19] = rng.random((15, 12)) < 0.5
    full[5, 7] = full[19, 18] = True
    crop = full[5:20, 7:19]
    encoded = rle.encode(crop, (5, 7), full.shape)
    assert np.array_equal(rle.decode(encoded), full)
    assert rle.encode(full)["counts"] == encoded["counts"]
    assert np.array_equal(rle.decode(rle.encode(np.ones((3, 4), bool))), np.ones((3, 4), bool))


def test_rle_string_form_derived_by_hand():
    # 0 -> '0'; small values are one character; 100 = 3 * 32 + 4 -> 'T' (4 | 32, +48) then '3';
    # from the fourth run on, the difference to the run two back is written: 1 - 5 = -4 -> 'L'
    assert rle.compress([0, 1, 2]) == "012"
    assert rle.compress([100]) == "T3"
    assert rle.compress([0, 5, 2, 1]) == "052L"
    for counts in ([0, 1, 2], [100], [0, 5, 2, 1], [7, 300, 2, 9000, 1]):
        assert rle.decompress(rle.compress(counts)).tolist() == counts


def _decode_with_reference(segmentation):
    return mask_utils.decode(dict(segmentation, counts=segmentation["counts"].encode())).astype(bool)


def test_coco_instances_decode_to_the_instance_maps(tmp_path):
    dataset = CityscapesDataset(SMALL)
    path, failed = coco.write_coco_instances(dataset, str(tmp_path / "instances_val.json"), jobs=2, progress=False)
    assert failed == []
    data = json.load(open(path))
    assert [c["id"] for c in data["categories"]] == [24, 25, 26, 27, 28, 31, 32, 33]
    reference = COCO(path)  # pycocotools loads it and indexes every annotation
    assert len(reference.getAnnIds()) == len(data["annotations"]) and reference.getImgIds() == list(range(1, len(dataset) + 1))
    assert len(data["images"]) == len(dataset)
    by_image = {}
    for ann in data["annotations"]:
        by_image.setdefault(ann["image_id"], []).append(ann)
    for image in data["images"]:
        frame = dataset[image["id"] - 1]
        assert image["frame_id"] == frame.id and image["file_name"].startswith("leftImg8bit/val/")
        ids = frame.instance_ids()
        expected = {v for v in np.unique(ids).tolist()
                    if (v // 1000 if v >= 1000 else v) in {24, 25, 26, 27, 28, 31, 32, 33}}
        found = by_image.get(image["id"], [])
        assert {a["cityscapes_id"] for a in found} == expected
        for ann in found:
            mask = _decode_with_reference(ann["segmentation"])
            assert np.array_equal(mask, ids == ann["cityscapes_id"])
            ys, xs = np.nonzero(mask)
            assert ann["bbox"] == [xs.min(), ys.min(), xs.max() - xs.min() + 1, ys.max() - ys.min() + 1]
            assert ann["area"] == mask.sum() and ann["iscrowd"] == int(ann["cityscapes_id"] < 1000)


def test_voc_round_trip_keeps_every_evaluated_pixel(tmp_path):
    dataset = CityscapesDataset(SMALL)
    ids, failed = voc.write_voc(dataset, str(tmp_path / "voc"), save_images=True, jobs=2)
    assert ids == [f.id for f in dataset] and failed == []
    item = Image.open(tmp_path / "voc" / "SegmentationClass" / (ids[0] + ".png"))
    assert item.mode == "P" and (tmp_path / "voc" / "JPEGImages" / (ids[0] + ".jpg")).is_file()
    assert (tmp_path / "voc" / "labelmap.txt").read_text().splitlines()[1] == "background:0,0,0::"
    assert (tmp_path / "voc" / "ImageSets" / "Segmentation" / "val.txt").read_text().split() == ids
    back, missing, failed = convert.from_voc(str(tmp_path / "voc"), str(tmp_path / "cs"), "val")
    assert back == ids and missing == [] and failed == []
    evaluated = np.array([not (CITYSCAPES.id2label.get(i) or CITYSCAPES.background).ignoreInEval
                          for i in range(256)])
    for frame in dataset:
        original = frame.semantic()
        again = png.read_label_map(str(tmp_path / "cs" / "gtFine" / "val" / frame.city /
                                       f"{frame.id}_gtFine_labelIds.png"))
        keep = evaluated[original]
        assert np.array_equal(original[keep], again[keep])
        assert (~evaluated[again[~keep]]).all()
        inst = png.read_ids_16bit(str(tmp_path / "cs" / "gtFine" / "val" / frame.city /
                                      f"{frame.id}_gtFine_instanceIds.png"))
        before = frame.instance_ids()
        labels = np.where(before >= 1000, before // 1000, before)
        things = evaluated[labels] & CITYSCAPES.has_instances[labels]
        # every instance and crowd region of an evaluated class is one object (VOC has no crowd flag)
        pairs = set(zip(before[things].tolist(), inst[things].tolist()))
        assert len(pairs) == len({a for a, _ in pairs}) == len({b for _, b in pairs}) and (inst[things] >= 1000).all()


def test_cityscapes_to_cityscapes_with_label_maps(tmp_path):
    dataset = CityscapesDataset(SMALL)
    assert convert.to_cityscapes(dataset, str(tmp_path / "same")) == ([], [])
    for frame in dataset:
        for kind in ("labelIds", "instanceIds", "color"):
            assert_same_png(frame.paths[kind], tmp_path / "same" / "gtFine" / "val" / frame.city /
                            f"{frame.id}_gtFine_{kind}.png")
    assert LabelSet.load(str(tmp_path / "same" / "dataset_meta.json")).labels[7].name == "road"
    small_map = tmp_path / "label_colors.txt"
    small_map.write_text("0 0 0 unlabeled\n128 64 128 road\n0 0 142 car\n")
    missing, failed = convert.to_cityscapes(dataset, str(tmp_path / "small"), label_map=str(small_map))
    assert "sky" in missing and "road" not in missing and "car" not in missing
    frame = dataset[0]
    out = png.read_label_map(str(tmp_path / "small" / "gtFine" / "val" / frame.city / f"{frame.id}_gtFine_labelIds.png"))
    original = frame.semantic()
    assert set(np.unique(out).tolist()) <= {0, 1, 2}
    assert np.array_equal(out == 1, original == 7) and np.array_equal(out == 2, original == 26)


def test_frame_ids_for_foreign_names():
    assert cityscapes_frame_id("lindau_000001_000019", 5) == "lindau_000001_000019"
    assert cityscapes_frame_id("photo 12.jpg", 3) == cityscapes_frame_id("photo 12.jpg", 3)
    assert cityscapes_frame_id("photo 12.jpg", 3).startswith("default_") and \
        cityscapes_frame_id("photo 12.jpg", 3).endswith("_000003")


def test_label_files_need_contiguous_ids(tmp_path):
    path = save_label_set(str(tmp_path), CITYSCAPES, "label_colors")  # repeated colours are fine
    assert [l.name for l in LabelSet.load(path).labels] == [l.name for l in CITYSCAPES.labels if l.id >= 0]
    path = save_label_set(str(tmp_path), CITYSCAPES, "dataset_meta")
    assert [l.name for l in LabelSet.load(path).labels] == [l.name for l in CITYSCAPES.labels if l.id >= 0]
    gappy = LabelSet.load(_write(tmp_path / "meta.json", json.dumps(
        {"label_map": {"0": "background", "1": "car", "5": "tree"}})))
    for kind in ("label_colors", "dataset_meta"):
        with pytest.raises(LabelSetError, match=r"ids must be 0..2 without gaps.*missing ids \[2, 3, 4\]"):
            save_label_set(str(tmp_path / kind), gappy, kind)
    # every missing id is listed, however many
    sparse = LabelSet.load(_write(tmp_path / "sparse.json", json.dumps(
        {"label_map": {"0": "background", "1": "car", "30": "tree"}})))
    with pytest.raises(LabelSetError, match=r"missing ids \[(\d+, ){27}29\]") as error:
        save_label_set(str(tmp_path / "sparse"), sparse)
    assert ", ".join(str(i) for i in range(2, 30)) in str(error.value)
    dataset = CityscapesDataset(SMALL, label_set=gappy)
    with pytest.raises(LabelSetError, match="without gaps"):
        convert.to_cityscapes(dataset, str(tmp_path / "out"), label_map="source")
    assert not (tmp_path / "out" / "gtFine").exists()  # nothing half-written


def _write(path, text):
    path.write_text(text)
    return path


def test_cli(tmp_path, capsys):
    assert convert.main(["--to", "coco-instances", SMALL, str(tmp_path / "coco"), "-j", "2"]) == 0
    assert (tmp_path / "coco" / "instances_val.json").is_file()
    assert convert.main(["--to", "coco-panoptic", SMALL, str(tmp_path / "pan")]) == 0
    assert (tmp_path / "pan" / "cityscapes_panoptic_val.json").is_file()
    assert convert.main(["--to", "voc", SMALL, str(tmp_path / "voc")]) == 0
    assert convert.main(["--from", "voc", "--to", "cityscapes", str(tmp_path / "voc"), str(tmp_path / "cs")]) == 0
    assert convert.main(["--to", "voc", str(tmp_path / "nothing"), str(tmp_path / "x")]) == 1
    assert "no Cityscapes frames found" in capsys.readouterr().err


def test_voc_names_missing_from_the_label_set_are_reported(tmp_path):
    dataset = CityscapesDataset(SMALL)
    voc.write_voc(dataset, str(tmp_path / "voc"), save_images=False)
    labelmap = tmp_path / "voc" / "labelmap.txt"
    labelmap.write_text(labelmap.read_text().replace("road:", "highway:"))
    ids, missing, failed = convert.from_voc(str(tmp_path / "voc"), str(tmp_path / "cs"), "val")
    assert missing == ["highway"] and len(ids) == len(dataset) and failed == []
    frame = dataset[0]
    out = png.read_label_map(str(tmp_path / "cs" / "gtFine" / "val" / frame.city / f"{frame.id}_gtFine_labelIds.png"))
    assert not (out == 7).any() and (out[frame.semantic() == 7] == 0).all()  # road became background
    with pytest.raises(LayoutError, match="no VOC split 'train'"):
        convert.from_voc(str(tmp_path / "voc"), str(tmp_path / "cs2"), "train")


def test_train_ids_win_only_in_a_frame_without_label_ids_and_polygons(tmp_path):
    """A tree another tool wrote (labelTrainIds beside instanceIds, nothing else): the classes are the train
    ids', instances kept where their class agrees; a real frame (labelIds, polygons) reads its labelIds."""
    ids = np.array([[26001, 26001, 1, 27000], [7, 7, 7, 27000]], dtype=np.uint16)
    train = np.array([[13, 7, 255, 14], [0, 0, 255, 14]], dtype=np.uint8)  # car, traffic sign, -, truck; road
    folder = tmp_path / "gtFine" / "val" / "x"
    folder.mkdir(parents=True)
    png.write_png(folder / "x_1_gtFine_instanceIds.png", ids)
    png.write_png(folder / "x_1_gtFine_labelTrainIds.png", train)
    frame, = CityscapesDataset(tmp_path)
    assert frame.train_ids_win
    # by hand: car 26, traffic sign 20 where the car's second pixel was, unlabeled 0 on ego vehicle, truck 27;
    # road 7 on the last row but where the train ids say void
    assert frame.semantic().tolist() == [[26, 20, 0, 27], [7, 7, 0, 27]]
    assert frame.instance_ids().tolist() == [[26001, 20, 0, 27000], [7, 7, 0, 27000]]
    assert [(m.instance_id, int(m.mask.sum())) for m in frame.instances()] == [(26001, 1), (27000, 2)]
    png.write_png(folder / "x_1_gtFine_labelIds.png", np.where(ids >= 1000, ids // 1000, ids).astype(np.uint8))
    frame, = CityscapesDataset(tmp_path)
    assert not frame.train_ids_win and frame.instance_ids().tolist() == ids.tolist()
