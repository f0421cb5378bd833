"""Instance-level evaluation: accumulators, the fixed behaviours, bad prediction files."""
import functools
import json
import os
import pickle
import shutil
import struct
import zlib

import numpy as np
import pytest
from PIL import Image

from cityscapesscripts.errors import PredictionError
from cityscapesscripts.evaluation import evalInstanceLevelSemanticLabeling as E
from cityscapesscripts.evaluation import instance_ap, instance_files
from cityscapesscripts.evaluation.instance import Instance
from cityscapesscripts.evaluation.instances2dict import instances2dict
from cityscapesscripts.io import layout, png, rle

from conftest import GOLDEN, assert_same_numbers, expected_eval, golden_files, plain

ROOT = os.path.join(GOLDEN, "small")


@pytest.fixture
def args(tmp_path):
    a = E.args
    a.predictionPath = os.path.abspath(os.path.join(ROOT, "results", "instance"))
    a.predictionWalk = None
    a.JSONOutput, a.quiet, a.exportMatches, a.plotFile = False, True, None, None
    a.gtInstancesFile = str(tmp_path / "gt.json")
    return a


def golden_lists(a, root=ROOT):
    gts = golden_files(root, "*_gtFine_instanceIds.png")
    return [E.getPrediction(g, a) for g in gts], gts


def rle_encode(mask):
    """COCO uncompressed RLE (column-major runs, starting with a run of zeros), for the test."""
    flat = np.asarray(mask, dtype=bool).T.ravel().astype(np.int8)
    bounds = np.concatenate([[0], np.flatnonzero(np.diff(flat)) + 1, [flat.size]])
    runs = np.diff(bounds)
    if flat.size and flat[0]:
        runs = np.concatenate([[0], runs])
    return {"size": list(mask.shape), "counts": runs.tolist()}


def test_accumulator_and_merge_equal_file_based(args):
    preds, gts = golden_lists(args)
    whole, parts = instance_ap.InstanceAccumulator(), [instance_ap.InstanceAccumulator() for _ in range(2)]
    for i, (txt, gt) in enumerate(zip(preds, gts)):
        ids = png.read_ids_16bit(gt)
        entries = instance_files.read_prediction_list(txt)
        masks = [instance_files.read_mask(p.name) for p in entries]
        labels = [p.label_id for p in entries]
        scores = [p.confidence for p in entries]
        whole.add(masks, labels, scores, ids, name=gt)
        parts[i % 2].add(masks, labels, scores, ids, name=gt)
    merged = functools.reduce(lambda a, b: a.merge(b), [pickle.loads(pickle.dumps(p)) for p in parts])
    expected = expected_eval("small", "instance")
    assert_same_numbers(expected, plain(whole.result()))
    assert_same_numbers(expected, plain(merged.result()))


def test_rle_predictions_equal_png_masks(args, tmp_path):
    preds, gts = golden_lists(args)
    entries = []
    for txt, gt in zip(preds, gts):
        frame = layout.frame_id(gt)
        for k, p in enumerate(instance_files.read_prediction_list(txt)):
            encoded = rle_encode(instance_files.read_mask(p.name) != 0)
            if k % 2:
                encoded["counts"] = rle.compress(encoded["counts"])
            entries.append({"image_id": frame, "category_id": p.label_id, "score": p.confidence,
                            "segmentation": encoded})
    path = tmp_path / "detections.json"
    path.write_text(json.dumps(entries))
    result = E.evaluate_coco_json(str(path), gts, args)
    assert_same_numbers(expected_eval("small", "instance"), plain(result))


def test_rle_decoding_matches_mask():
    mask = np.zeros((7, 5), bool)
    mask[0, 0] = mask[2:5, 1:4] = mask[6, 4] = True
    encoded = rle_encode(mask)
    flat = instance_ap.coco_mask_indices(encoded, mask.shape)
    assert sorted(flat.tolist()) == np.flatnonzero(mask).tolist()
    encoded["counts"] = rle.compress(encoded["counts"])
    assert sorted(instance_ap.coco_mask_indices(encoded, mask.shape).tolist()) == np.flatnonzero(mask).tolist()
    with pytest.raises(PredictionError, match="RLE size"):
        instance_ap.coco_mask_indices(encoded, (8, 5))


def test_no_matches_json_unless_asked(args, _isolated_cwd, tmp_path):
    preds, gts = golden_lists(args)
    E.evaluateImgLists(preds, gts, args)
    assert list(_isolated_cwd.iterdir()) == []
    args.exportMatches = str(tmp_path / "m.json")
    E.evaluateImgLists(preds, gts, args)
    matches = json.load(open(tmp_path / "m.json"))
    assert sorted(matches) == sorted(os.path.abspath(g) for g in gts)


def test_cache_follows_the_ground_truth(args, tmp_path):
    shutil.copytree(os.path.join(ROOT, "gtFine"), tmp_path / "gtFine")
    preds, gts = golden_lists(args, str(tmp_path))
    first = E.evaluateImgLists(preds, gts, args)
    cache = json.load(open(args.gtInstancesFile))
    assert instance_files._FINGERPRINT_KEY in cache and os.path.abspath(gts[0]) in cache
    # change one ground truth: erase its instances; the cache must not be reused
    ids = png.read_ids_16bit(gts[0])
    png.write_png(gts[0], np.where(ids >= 1000, 7, ids).astype(np.uint16))
    os.utime(gts[0], ns=(1, 1))
    second = E.evaluateImgLists(preds, gts, args)
    assert second["averages"]["allAp"] != first["averages"]["allAp"]
    # an unchanged tree reuses the cache, which is then the only source of ground-truth instances
    E.getGtInstances(gts, args)
    assert E._load_cache(gts, args) is not None


def test_default_cache_is_not_in_the_package():
    default = E._default_args().gtInstancesFile
    assert "cityscapesscripts" in default and not default.startswith(os.path.dirname(E.__file__))
    assert default.startswith(os.environ["XDG_CACHE_HOME"])


def test_all_unmatched_predictions_ignored_gives_zero_ap():
    """Upstream issue #89: the original raises IndexError here."""
    gt = np.zeros((40, 40), np.uint16)
    gt[0:20, 0:20] = 26000         # a car nobody finds
    gt[20:40, 20:40] = 4           # 'static', ignored in evaluation
    pred = np.zeros((40, 40), bool)
    pred[22:38, 22:38] = True      # a car prediction entirely in the ignored region
    acc = instance_ap.InstanceAccumulator()
    acc.add([pred], [26], [0.8], gt)
    result = acc.result()
    assert result["averages"]["classes"]["car"]["ap"] == 0.0
    assert np.isnan(result["averages"]["classes"]["truck"]["ap"])


def write_txt(folder, lines):
    folder.mkdir(parents=True, exist_ok=True)
    path = folder / "lindau_000000_000019_pred.txt"
    path.write_text("\n".join(lines) + "\n")
    return str(path)


@pytest.mark.parametrize("line, message", [
    ("m.png 26", "line 1: expected 'relPath labelID confidence', got 2 field"),
    ("m.png 99 0.5", "line 1: label id 99 is not a Cityscapes label"),
    ("missing.png 26 0.5", "line 1: mask .*missing.png does not exist"),
    ("../outside.png 26 0.5", "line 1: mask ../outside.png points outside .*pred \\(to .*outside.png\\)"),
    ("m.png car 0.5", "line 1: label id and confidence must be numbers"),
])
def test_bad_prediction_lines(tmp_path, line, message):
    (tmp_path / "outside.png").write_bytes(b"")
    folder = tmp_path / "pred"
    folder.mkdir()
    Image.new("L", (4, 4)).save(folder / "m.png")
    txt = write_txt(folder, [line])
    with pytest.raises(PredictionError, match=message) as info:
        instance_files.read_prediction_list(txt, str(folder))
    assert txt in str(info.value)


def test_bad_masks_name_txt_and_line(tmp_path, args):
    folder = tmp_path / "pred"
    folder.mkdir()
    Image.new("L", (10, 10), 255).save(folder / "small.png")
    Image.new("L", (12, 10), 255).save(folder / "small.bmp")  # not a PNG: its size comes from Pillow
    (folder / "broken.png").write_bytes(b"nonsense")
    gt = golden_files(ROOT, "*_gtFine_instanceIds.png")[0]
    encoded = png.encode_png(np.zeros((256, 512), np.uint8))  # signature and IHDR (33 bytes), IDAT, IEND
    rows = bytearray(zlib.decompress(encoded[41:-16]))
    rows[3 * 513] = 9  # row 3 of an unknown filter type, in a file whose CRCs hold
    idat = b"IDAT" + zlib.compress(bytes(rows))
    (folder / "filter.png").write_bytes(encoded[:33] + struct.pack(">I", len(idat) - 4) + idat
                                        + struct.pack(">I", zlib.crc32(idat)) + encoded[-12:])
    args.predictionPath = str(folder)
    for line, message in (("small.png 26 0.9", "line 2: mask is 10x10 but the ground truth is 512x256"),
                          ("small.bmp 26 0.9", "line 2: mask is 12x10 but the ground truth is 512x256"),
                          ("broken.png 26 0.9", "line 2: mask .*broken.png: not an image file"),
                          ("filter.png 26 0.9", "line 2: mask .*filter.png: corrupted PNG: row 3 has unknown filter "
                                                "type 9")):
        txt = write_txt(folder, ["small.png 7 0.1", line])  # line 1 (road) is not evaluated, never loaded
        with pytest.raises(PredictionError, match=message):
            E.evaluateImgLists([txt], [gt], args)


def test_masks_pillow_decodes_give_the_same_numbers(args, tmp_path):
    """Palette and 1-bit masks are read by Pillow, not counted from their filtered rows: same scores."""
    folder = tmp_path / "instance"
    shutil.copytree(args.predictionPath, folder)
    for i, path in enumerate(sorted(folder.glob("**/*.png"))):
        mask = Image.open(path)
        (mask.convert("P") if i % 2 else mask.convert("1")).save(path)
    args.predictionPath = str(folder)
    preds, gts = golden_lists(args)
    assert_same_numbers(expected_eval("small", "instance"), plain(E.evaluateImgLists(preds, gts, args)))


def test_scores_gathered_from_the_pool_equal_those_of_the_matches(args):
    """AP gathered as frames come back equals AP of the matches dict, a ground truth listed twice included
    (its dict keeps one entry)."""
    preds, gts = golden_lists(args)
    E.setInstanceLabels(args)
    for pred_list, gt_list in ((preds, gts), (preds + preds[:1], gts + gts[:1])):
        aps = E.evaluateMatches(E.matchGtWithPreds(pred_list, gt_list, None, args), args)
        expected = E.prepareJSONDataForResults(E.computeAverages(aps, args), aps, args)
        assert_same_numbers(plain(expected), plain(E.evaluateImgLists(pred_list, gt_list, args)))


def test_each_mask_file_is_opened_once(args, monkeypatch):
    preds, gts = golden_lists(args)
    masks = {os.path.abspath(p.name) for txt in preds for p in instance_files.read_prediction_list(txt)}
    opened = []
    real_open = open

    def counting_open(file, *a, **k):
        if isinstance(file, str) and os.path.abspath(file) in masks:
            opened.append(os.path.abspath(file))
        return real_open(file, *a, **k)
    monkeypatch.setattr("builtins.open", counting_open)
    monkeypatch.setattr(args, "jobs", 1, raising=False)  # in this process, where open is counted
    assert_same_numbers(expected_eval("small", "instance"), plain(E.evaluateImgLists(preds, gts, args)))
    evaluated = {m for m in masks if m in opened}
    assert evaluated and sorted(opened) == sorted(evaluated)  # no mask opened twice


def test_assign_accepts_pil_images_and_arrays(args):
    preds, gts = golden_lists(args)
    E.setInstanceLabels(args)
    gt_instances = instances2dict([gts[0]])[os.path.abspath(gts[0])]
    info = E.readPredInfo(preds[0], args)
    from_pil = E.assignGt2Preds(E.filterGtInstances(gt_instances, args), Image.open(gts[0]), info, args)
    from_np = E.assignGt2Preds(E.filterGtInstances(gt_instances, args), np.array(Image.open(gts[0])), info, args)
    assert from_pil == from_np
    assert any(p["matchedGt"] for preds_ in from_pil[1].values() for p in preds_)


def test_instance_class():
    image = np.array([[26001, 26001, 7], [7, 7, 24000]])
    inst = Instance(image, 26001)
    assert (inst.labelID, inst.pixelCount) == (26, 2) and Instance(image, 7).labelID == 7
    copy = Instance(None, -1)
    copy.fromJSON(json.loads(inst.toJSON()))
    assert copy.toDict() == inst.toDict()


def test_printed_table_and_csv(args, capsys):
    preds, gts = golden_lists(args)
    args.quiet, args.csv, args.colorized = False, True, False
    result = E.evaluateImgLists(preds, gts, args)
    out = capsys.readouterr().out
    args.quiet, args.csv = True, False
    # the original's CSV layout, doubled separators included
    assert f"average        ,,{result['averages']['allAp']:>15.3f},," in out and "#####" not in out


def test_modern_cli_and_plot(tmp_path, capsys):
    status = E.main(["--gt", os.path.join(ROOT, "gtFine", "val"), "--pred", os.path.join(ROOT, "results", "instance"),
                     "--quiet", "--gt-cache", str(tmp_path / "c.json"), "--plot", str(tmp_path / "pr.png")])
    assert status == 0
    expected = expected_eval("small", "instance")["averages"]
    assert f"AP {expected['allAp']:.4f}  AP50 {expected['allAp50%']:.4f}" in capsys.readouterr().out
    assert Image.open(tmp_path / "pr.png").size[0] > 300


def test_coco_json_with_unknown_images_is_an_error(args, tmp_path):
    gts = golden_files(ROOT, "*_gtFine_instanceIds.png")
    path = tmp_path / "d.json"
    path.write_text(json.dumps([{"image_id": "nowhere_000000_000001", "category_id": 26, "score": 0.5,
                                 "segmentation": {"size": [256, 512], "counts": [131072]}}]))
    with pytest.raises(PredictionError, match="1 image_id\\(s\\) match no ground-truth file"):
        E.evaluate_coco_json(str(path), gts, args)
