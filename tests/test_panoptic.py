"""Panoptic evaluation: accumulator equals file runs, PQStat merges, errors name the file."""
import contextlib
import functools
import io
import json
import multiprocessing
import os
import pickle
import shutil

import numpy as np
import pytest
from PIL import Image

from cityscapesscripts.errors import PredictionError
from cityscapesscripts.evaluation import evalPanopticSemanticLabeling as E
from cityscapesscripts.evaluation import panoptic
from cityscapesscripts.io import png

from conftest import FIXTURES, GOLDEN, assert_same_numbers, expected_eval, plain

ROOT = os.path.join(GOLDEN, "small")
GT_JSON = os.path.join(ROOT, "gtFine", "cityscapes_panoptic_val.json")
PRED_JSON = os.path.join(ROOT, "results", "panoptic", "cityscapes_panoptic_val.json")


def pairs():
    gt, pred = json.load(open(GT_JSON)), json.load(open(PRED_JSON))
    by_id = {a["image_id"]: a for a in pred["annotations"]}
    categories = {c["id"]: c for c in gt["categories"]}
    return [(g, by_id[g["image_id"]]) for g in gt["annotations"]], categories


@pytest.mark.usefixtures("golden_panoptic_parts")
def test_accumulator_and_merge_equal_file_based():
    items, categories = pairs()
    whole = panoptic.PanopticAccumulator(categories)
    parts = [panoptic.PanopticAccumulator(categories) for _ in range(3)]
    for i, (g, p) in enumerate(items):
        gt_rgb = png.read_rgb(os.path.join(GT_JSON[:-5], g["file_name"]))
        pred_ids = E.rgb2id(png.read_rgb(os.path.join(PRED_JSON[:-5], p["file_name"])))  # ids work too
        whole.add(pred_ids, p["segments_info"], gt_rgb, g["segments_info"])
        parts[i * 3 // len(items)].add(pred_ids, p["segments_info"], gt_rgb, g["segments_info"])  # in frame order
    merged = functools.reduce(lambda a, b: a.merge(b), [pickle.loads(pickle.dumps(x)) for x in parts])
    expected = expected_eval("small", "panoptic")
    assert_same_numbers(expected, plain(whole.result()))
    assert_same_numbers(expected, plain(merged.result()))


def test_single_and_multi_core_functions_agree():
    items, categories = pairs()
    single = E.pq_compute_single_core(0, items, GT_JSON[:-5], PRED_JSON[:-5], categories)
    multi = E.pq_compute_multi_core(items, GT_JSON[:-5], PRED_JSON[:-5], categories, jobs=2, progress=False)
    # the original's multi-core sums add each core's part: one part, replayed, gives the same
    assert_same_numbers(plain(E.average_pq(single.summed_as_the_original(), categories)),
                        plain(E.average_pq(multi, categories)))
    assert isinstance(single[26], E.PQStatCat) and single[26].tp == multi[26].tp


@pytest.mark.usefixtures("golden_panoptic_parts")
@pytest.mark.parametrize("mode", ["RGBA", "P"])
def test_predictions_of_other_flavours_give_the_same_numbers(mode, tmp_path):
    """8-bit RGB PNGs are counted as their rows are unfiltered; RGBA (our decoder) and palette
    (Pillow) predictions are decoded first, beside ground truth counted either way."""
    folder = tmp_path / "pred"
    shutil.copytree(PRED_JSON[:-5], folder)
    for i, path in enumerate(sorted(folder.iterdir())):
        if i % 2:  # every other frame: so both ways meet RGB ground truth
            rgb = png.read_rgb(str(path))
            if mode == "RGBA":
                Image.fromarray(np.dstack([rgb, np.full(rgb.shape[:2], 255, np.uint8)])).save(path)
            else:  # the same colours through a palette
                colours, index = np.unique(rgb.reshape(-1, 3), axis=0, return_inverse=True)
                image = Image.fromarray(index.reshape(rgb.shape[:2]).astype(np.uint8), "P")
                image.putpalette(colours.ravel().tolist())
                image.save(path)
    expected = expected_eval("small", "panoptic")
    with contextlib.redirect_stdout(io.StringIO()):
        result = E.evaluatePanoptic(GT_JSON, GT_JSON[:-5], PRED_JSON, str(folder), None, jobs=1)
    assert_same_numbers(expected, plain(result))


def broken_prediction(tmp_path, edit):
    folder = tmp_path / "pred"
    shutil.copytree(PRED_JSON[:-5], folder)
    data = json.load(open(PRED_JSON))
    edit(data)
    (tmp_path / "pred.json").write_text(json.dumps(data))
    return str(tmp_path / "pred.json"), str(folder)


def _drop_first_segment(data):
    data["annotations"][0]["segments_info"] = data["annotations"][0]["segments_info"][1:]


def _add_segment(data):
    data["annotations"][0]["segments_info"].append({"id": 999999, "category_id": 26, "iscrowd": 0})


def _unknown_category(data):
    data["annotations"][0]["segments_info"][0]["category_id"] = 77


@pytest.mark.parametrize("edit, message", [
    (_drop_first_segment, "segment with ID \\d+ is presented in PNG and not presented in JSON"),
    (_add_segment, "the following segment IDs \\[999999\\] are presented in JSON and not presented in PNG"),
    (_unknown_category, "has unknown category_id 77"),
])
def test_segment_errors_name_the_file(tmp_path, edit, message):
    pred_json, folder = broken_prediction(tmp_path, edit)
    with pytest.raises(KeyError, match=message) as info, contextlib.redirect_stdout(io.StringIO()):
        E.evaluatePanoptic(GT_JSON, GT_JSON[:-5], pred_json, folder, str(tmp_path / "r.json"), jobs=2)
    assert isinstance(info.value, PredictionError) and "_panoptic.png" in str(info.value)
    assert not os.path.exists(tmp_path / "r.json")


def _listed_four_times(tmp_path):
    """The small set's frames listed 4 times (the 8 frames, then again with image ids 'id#1', ...)."""
    paths = []
    for source in (GT_JSON, PRED_JSON):
        with open(source) as f:
            data = json.load(f)
        data["annotations"] = [dict(a, image_id=f"{a['image_id']}#{k}") for k in range(4) for a in data["annotations"]]
        paths.append(tmp_path / os.path.basename(os.path.dirname(source)))
        paths[-1].write_text(json.dumps(data))
    return paths


def test_pq_sums_are_the_originals_for_any_number_of_cores(tmp_path, monkeypatch):
    # the original splits the frames into cpu_count() parts; PQ and SQ's last bits follow
    with open(os.path.join(FIXTURES, "panoptic_parts.json")) as f:
        by_cores = json.load(f)["results_by_cores"]
    assert len({json.dumps(r, sort_keys=True) for r in by_cores.values()}) == len(by_cores)  # all differ
    gt_json, pred_json = _listed_four_times(tmp_path)
    for cores, expected in by_cores.items():
        monkeypatch.setattr(panoptic, "_original_parts", lambda cores=cores: int(cores))
        for jobs in (1, 3):
            with contextlib.redirect_stdout(io.StringIO()):
                result = E.evaluatePanoptic(str(gt_json), GT_JSON[:-5], str(pred_json), PRED_JSON[:-5], None, jobs=jobs)
            assert_same_numbers(expected, plain(result))


def test_pq_parts_are_this_machines_cores_and_hand_set_counters_count(monkeypatch):
    items, categories = pairs()
    stat = E.pq_compute_single_core(0, items * 4, GT_JSON[:-5], PRED_JSON[:-5], categories)
    # one process adds its images' IoUs one after the other, as the original's single core does
    assert {c: s.iou for c, s in stat.pq_per_cat.items()} == stat.ious_as_the_original_adds(1)
    monkeypatch.setattr(multiprocessing, "cpu_count", lambda: 7)
    assert stat.ious_as_the_original_adds() == stat.ious_as_the_original_adds(7)
    assert stat.ious_as_the_original_adds(7) != stat.ious_as_the_original_adds(1)
    summed = stat.summed_as_the_original()
    assert [(s.iou, s.tp, s.fp, s.fn) for s in summed.pq_per_cat.values()] == [
        (stat.ious_as_the_original_adds(7)[c], s.tp, s.fp, s.fn) for c, s in stat.pq_per_cat.items()]
    stat[7].tp, stat[7].iou = stat[7].tp + 1, 0.25  # a counter set by hand, no recorded match: its own sum
    assert stat.summed_as_the_original(7)[7].iou == 0.25


def test_pq_average_without_categories_does_not_divide_by_zero():
    stat = panoptic.PQStat()
    assert stat.pq_average({}, None)[0] == {"pq": 0.0, "sq": 0.0, "rq": 0.0, "n": 0}


@pytest.mark.usefixtures("golden_panoptic_parts")
def test_cli(tmp_path, capsys):
    status = E.main(["--gt-json-file", GT_JSON, "--prediction-json-file", PRED_JSON, "--results_file",
                     str(tmp_path / "r.json"), "--quiet", "-j", "2"])
    assert status == 0
    expected = expected_eval("small", "panoptic")
    assert f"All PQ {expected['All']['pq']:.4f}" in capsys.readouterr().out
    assert_same_numbers(expected, json.load(open(tmp_path / "r.json")))
    assert E.main(["--gt-json-file", str(tmp_path / "none.json")]) == 1


def _road_and_car():
    """A 4x4 ground truth: road (id 7) on the top half, a car (26000) below."""
    import numpy as np
    gt = np.zeros((4, 4), np.int64)
    gt[:2] = 7
    gt[2:] = 26000
    segments = [{"id": 7, "category_id": 7, "area": 8, "iscrowd": 0},
                {"id": 26000, "category_id": 26, "area": 8, "iscrowd": 0}]
    categories = {7: {"id": 7, "isthing": 0}, 26: {"id": 26, "isthing": 1}}
    return gt, segments, categories


def test_listed_id_zero_is_a_segment():
    """panoptic-deeplab gives road (train id 0) the panoptic id 0 and lists it in segments_info."""
    gt, gt_segments, categories = _road_and_car()
    pred = gt.copy()
    pred[:2] = 0
    pred_segments = [{"id": 0, "category_id": 7}, {"id": 26000, "category_id": 26}]
    stat = panoptic.image_pq_stat(panoptic._as_rgb(gt), gt_segments, panoptic._as_rgb(pred), pred_segments,
                                  categories)
    assert (stat[7].tp, stat[7].fp, stat[7].fn, stat[7].iou) == (1, 0, 0, 1.0)
    assert (stat[26].tp, stat[26].iou) == (1, 1.0)


def test_unlisted_id_zero_stays_void():
    gt, gt_segments, categories = _road_and_car()
    pred = gt.copy()
    pred[:2] = 0
    stat = panoptic.image_pq_stat(panoptic._as_rgb(gt), gt_segments, panoptic._as_rgb(pred),
                                  [{"id": 26000, "category_id": 26}], categories)
    assert (stat[7].tp, stat[7].fn) == (0, 1)
    assert stat[26].tp == 1


@pytest.mark.parametrize("pred_segments, message", [
    ([{"id": 0, "category_id": 7}, {"id": 7, "category_id": 7}, {"id": 26000, "category_id": 26}],
     r"segment IDs \[0\] are presented in JSON and not presented in PNG"),
    ([{"id": 7}, {"id": 26000, "category_id": 26}], "predicted segment 0 lacks category_id"),
    ([{"id": 7, "category_id": 7}, {"id": 7, "category_id": 7}, {"id": 26000, "category_id": 26}],
     "segment ID 7 is listed twice"),
])
def test_inconsistent_segments_name_the_png(pred_segments, message):
    gt, gt_segments, categories = _road_and_car()
    with pytest.raises(panoptic.SegmentError, match=message) as error:
        panoptic.image_pq_stat(panoptic._as_rgb(gt), gt_segments, panoptic._as_rgb(gt), pred_segments, categories,
                               "frame", "pred/frame_panoptic.png")
    assert error.value.path == "pred/frame_panoptic.png"


def test_segment_id_colours_round_trip():
    import numpy as np

    from cityscapesscripts.io.segment_ids import id2rgb, rgb2id
    ids = np.array([[0, 7, 26001], [255, 256, 65535]], np.uint16)
    wide = np.array([[0, 7, 26001], [65536, 16777215, 256 * 256 * 3 + 5]], np.int64)
    assert np.array_equal(rgb2id(id2rgb(ids)), ids)
    assert np.array_equal(rgb2id(id2rgb(wide)), wide)
    assert id2rgb(26001) == list(id2rgb(np.array([[26001]]))[0, 0]) == [145, 101, 0]
    assert rgb2id((145, 101, 0)) == 26001
    assert E.rgb2id is rgb2id
