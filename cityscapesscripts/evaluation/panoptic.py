"""Panoptic quality (PQ, SQ, RQ), as panopticapi defines it for Cityscapes.

Per image, both id maps (RGB, id = R + 256 G + 65536 B) are mapped to dense
segment indices and every (ground truth, prediction) pair is counted in one
compiled pass (:func:`cityscapesscripts.kernels.segment_pair_counts`).
:class:`PQStat` holds summable per-category counters: images, processes and
ranks merge with ``+=``, in image order.

The summed IoUs are added as the original adds them, so that PQ and SQ equal
its numbers to the last bit: it splits the image list into
``multiprocessing.cpu_count()`` parts (``np.array_split``), adds each match's
IoU to its category's sum within a part, then adds the parts' sums in order.
A PQStat keeps each image's matched IoUs; :meth:`PQStat.summed_as_the_original`
replays that order where the original splits: the file-based evaluation
(``pq_compute_multi_core``) and :meth:`PanopticAccumulator.result`.  Reading
files is :mod:`.panoptic_files`' step.
"""
import functools
import multiprocessing
import operator
from collections import defaultdict

import numpy as np

from .. import kernels
from ..errors import PredictionError
from ..helpers.labelset import CITYSCAPES
from ..io.segment_ids import id2rgb
from . import tensors
from .accumulator import Accumulator, integer_array

VOID = 0
OFFSET = 256 * 256 * 256


class SegmentError(PredictionError, KeyError):
    """A segment missing from the PNG or the JSON, or of an unknown category."""

    def __str__(self):
        return PredictionError.__str__(self)


class PQStatCat:
    """Counters of one category: summed IoU of matches, tp, fp, fn."""

    def __init__(self):
        self.iou = 0.0
        self.tp = 0
        self.fp = 0
        self.fn = 0

    def __iadd__(self, other):
        self.iou += other.iou
        self.tp += other.tp
        self.fp += other.fp
        self.fn += other.fn
        return self

    def __repr__(self):
        return f"PQStatCat(iou={self.iou!r}, tp={self.tp}, fp={self.fp}, fn={self.fn})"


class PQStat:
    """Per-category counters; ``+=`` (or :meth:`merge`) adds another PQStat, of the images that follow.

    ``matched_ious``: per image, ``{category id: [IoU of each match, in the original's order]}``.
    """

    def __init__(self):
        self.pq_per_cat = defaultdict(PQStatCat)
        self.matched_ious = []

    def __getitem__(self, category_id):
        return self.pq_per_cat[category_id]

    def __iadd__(self, other):
        for category_id, stat in other.pq_per_cat.items():
            self.pq_per_cat[category_id] += stat
        self.matched_ious.extend(other.matched_ious)
        return self

    merge = __iadd__

    def summed_as_the_original(self, parts=None):
        """A copy whose ``iou`` sums are added as the original's ``pq_compute_multi_core`` adds them, in
        ``parts`` parts (default ``multiprocessing.cpu_count()``, the original's)."""
        summed = PQStat()
        for category_id, iou in self.ious_as_the_original_adds(parts).items():
            summed.pq_per_cat[category_id] += self.pq_per_cat[category_id]
            summed[category_id].iou = iou
        summed.matched_ious = list(self.matched_ious)
        return summed

    def ious_as_the_original_adds(self, parts=None):
        """``{category id: summed IoU}`` of :meth:`summed_as_the_original`; a category whose matches were
        not all recorded (counters set by hand) keeps its ``iou``."""
        parts = _original_parts() if parts is None else parts
        totals = {category_id: 0.0 for category_id in self.pq_per_cat}
        recorded = dict.fromkeys(self.pq_per_cat, 0)
        size, longer = divmod(len(self.matched_ious), parts)
        start = 0
        for part in range(parts):  # np.array_split's parts: the first `longer` ones one image longer
            end = start + size + (part < longer)
            sums = {}
            for image in self.matched_ious[start:end]:
                for category_id, ious in image.items():
                    total = sums.get(category_id, 0.0)
                    for iou in ious:
                        total += iou
                    sums[category_id] = total
                    recorded[category_id] += len(ious)
            for category_id, total in sums.items():
                totals[category_id] += total
            start = end
        return {category_id: totals[category_id] if recorded[category_id] == stat.tp else stat.iou
                for category_id, stat in self.pq_per_cat.items()}

    def pq_average(self, categories, isthing):
        """Mean PQ / SQ / RQ over the categories (things, stuff or all when isthing is None).

        Categories without any segment are left out of the mean and get 0 in
        the per-class dict; with no category at all the means are 0.
        """
        pq = sq = rq = 0.0
        n = 0
        per_class = {}
        for category_id, info in categories.items():
            if isthing is not None and (info["isthing"] == 1) != isthing:
                continue
            stat = self.pq_per_cat[category_id]
            iou, tp, fp, fn = stat.iou, stat.tp, stat.fp, stat.fn
            if tp + fp + fn == 0:
                per_class[category_id] = {"pq": 0.0, "sq": 0.0, "rq": 0.0}
                continue
            n += 1
            pq_class = iou / (tp + 0.5 * fp + 0.5 * fn)
            sq_class = iou / tp if tp != 0 else 0
            rq_class = tp / (tp + 0.5 * fp + 0.5 * fn)
            per_class[category_id] = {"pq": pq_class, "sq": sq_class, "rq": rq_class}
            pq += pq_class
            sq += sq_class
            rq += rq_class
        if n == 0:
            return {"pq": 0.0, "sq": 0.0, "rq": 0.0, "n": 0}, per_class
        return {"pq": pq / n, "sq": sq / n, "rq": rq / n, "n": n}, per_class


def _original_parts():
    """How many parts the original splits the images into on this machine (its worker processes)."""
    return multiprocessing.cpu_count()


def check_panoptic_json(data, source=None, error=PredictionError, ground_truth=False):
    """Check the parts of a COCO panoptic dict the evaluation reads, before any image is read.

    ``annotations`` must be a list of objects with ``image_id``, a
    ``file_name`` string and a ``segments_info`` list; every segment needs an
    integer ``id`` in 0..2^24-1 (an RGB colour) and an integer
    ``category_id``, ground-truth segments also ``area`` and ``iscrowd``
    numbers, and the ground truth a ``categories`` list with ``id``, ``name``
    and ``isthing``.  Raises ``error(reason, source)`` naming the annotation
    and segment.
    """
    if not isinstance(data, dict):
        raise error(f"expected a JSON object at the top level, got {type(data).__name__}", source)
    parts = ("annotations", "categories") if ground_truth else ("annotations",)
    for part in parts:
        if not isinstance(data.get(part), list):
            raise error(f"'{part}' must be a list, got {_kind(data.get(part))}", source)
    if ground_truth:
        for index, category in enumerate(data["categories"]):
            _require(category, {"id": _is_int, "name": _is_str, "isthing": _is_int}, f"category {index}", error,
                     source)
    segment_fields = {"id": _is_segment_id, "category_id": _is_int}
    if ground_truth:
        segment_fields.update(area=_is_number, iscrowd=_is_int)
    for index, annotation in enumerate(data["annotations"]):
        where = f"annotation {index}"
        _require(annotation, {"image_id": _is_id, "file_name": _is_str, "segments_info": _is_list}, where,
                 error, source)
        where += f" (image_id {annotation['image_id']!r})"
        _require_segments(annotation["segments_info"], segment_fields, where, error, source)
    return data["annotations"]


def _require_segments(segments, fields, where, error, source):
    """:func:`_require` of each segment: valid ones, the rule, checked a field of all of them at a time
    (two thirds of the time of a call per segment); the first invalid segment then found and worded."""
    try:
        if all(all(map(valid, map(operator.itemgetter(field), segments))) for field, valid in fields.items()):
            return
    except (KeyError, TypeError):  # a segment that is not an object, or lacks a field
        pass
    for k, segment in enumerate(segments):
        _require(segment, fields, f"{where} segment {k}", error, source)


def _require(value, fields, where, error, source):
    if not isinstance(value, dict):
        raise error(f"{where}: expected an object, got {_kind(value)}", source)
    for field, valid in fields.items():
        if field not in value:
            raise error(f"{where}: missing '{field}'", source)
        if not valid(value[field]):
            raise error(f"{where}: '{field}' is {value[field]!r}, expected {valid.__doc__}", source)


def _kind(value):
    return "nothing" if value is None else type(value).__name__


def _is_int(v):
    """an integer"""
    return isinstance(v, int) and not isinstance(v, bool)


def _is_segment_id(v):
    """an integer in 0..16777215"""
    return _is_int(v) and 0 <= v < OFFSET


def _is_number(v):
    """a number"""
    return isinstance(v, (int, float)) and not isinstance(v, bool)


def _is_str(v):
    """a non-empty string"""
    return isinstance(v, str) and bool(v)


def _is_id(v):
    """a string or an integer"""
    return isinstance(v, str) or _is_int(v)


def _is_list(v):
    """a list"""
    return isinstance(v, list)


def check_same_size(gt_size, pred_size, image_id=None, source=None):
    """Raise :class:`PredictionError` unless the ``(width, height)`` of prediction and ground truth agree."""
    if tuple(gt_size) != tuple(pred_size):
        raise PredictionError(f"prediction is {pred_size[0]}x{pred_size[1]} but the ground truth is "
                              f"{gt_size[0]}x{gt_size[1]} (image {image_id})", source)


def image_pq_stat(gt_rgb, gt_segments, pred_rgb, pred_segments, categories, image_id=None,
                  source=None) -> "PQStat":
    """The PQ counters of one image.

    gt_rgb, pred_rgb : (H, W, 3) uint8 id maps; *_segments : the COCO
    ``segments_info`` lists; categories : ``{category id: category dict}``.
    Ground-truth areas come from the JSON, predicted areas from the PNG.
    Id 0 is void unless ``pred_segments`` lists it (panoptic-deeplab gives
    road, train id 0, the panoptic id 0); then it is a segment like any other.
    Raises :class:`SegmentError` for a predicted segment in only one of PNG
    and JSON, or of an unknown category.
    """
    check_same_size(gt_rgb.shape[1::-1], pred_rgb.shape[1::-1], image_id, source)
    return segment_stat(functools.partial(kernels.segment_pair_counts, gt_rgb, pred_rgb), gt_segments, pred_segments,
                    categories, image_id, source)


def segment_stat(pair_counts, gt_segments, pred_segments, categories, image_id, source) -> "PQStat":
    """Count one image: :func:`image_pq_stat` of the images whose ``pair_counts(gt_keys, pred_keys)`` gives
    :func:`cityscapesscripts.kernels.segment_pair_counts`' ``(counts, unknown)`` (of arrays, or of PNG
    rows as they are unfiltered: :mod:`.panoptic_files`)."""
    gt_segms = _segments_by_id(gt_segments, ("id", "category_id", "area", "iscrowd"), "ground-truth", image_id,
                               source)
    pred_segms = _segments_by_id(pred_segments, ("id", "category_id"), "predicted", image_id, source)
    gt_keys = np.array(sorted(set(gt_segms) | {VOID}), dtype=np.uint32)
    pred_keys = np.array(sorted(set(pred_segms) | {VOID}), dtype=np.uint32)
    counts, unknown = pair_counts(gt_keys, pred_keys)
    if unknown >= 0:
        raise SegmentError(f"In the image with ID {image_id} segment with ID {unknown} is presented in PNG "
                           "and not presented in JSON.", source)
    # Python lists from here: the loops below index single counts, which NumPy scalars make slow
    gt_ids, pred_ids, table, areas = gt_keys.tolist(), pred_keys.tolist(), counts.tolist(), counts.sum(axis=0).tolist()
    for j, pred_id in enumerate(pred_ids):
        if pred_id not in pred_segms:  # id 0 not listed in the JSON: void
            continue
        if areas[j] == 0:
            missing = [p for k, p in enumerate(pred_ids) if p in pred_segms and areas[k] == 0]
            raise SegmentError(f"In the image with ID {image_id} the following segment IDs {missing} are "
                               "presented in JSON and not presented in PNG.", source)
        pred_segms[pred_id]["area"] = areas[j]
        if pred_segms[pred_id]["category_id"] not in categories:
            raise SegmentError(f"In the image with ID {image_id} segment with ID {pred_id} has unknown "
                               f"category_id {pred_segms[pred_id]['category_id']}.", source)
    void_row = table[gt_ids.index(VOID)]
    stat = PQStat()
    matched_ious = defaultdict(list)
    stat.matched_ious.append(matched_ious)
    gt_matched, pred_matched = set(), set()
    rows, cols = np.nonzero(counts[:len(gt_ids), :len(pred_ids)])
    for i, j in zip(rows.tolist(), cols.tolist()):
        gt_id, pred_id = gt_ids[i], pred_ids[j]
        if gt_id not in gt_segms or pred_id not in pred_segms:
            continue
        gt, pred = gt_segms[gt_id], pred_segms[pred_id]
        if gt["iscrowd"] == 1 or gt["category_id"] != pred["category_id"]:
            continue
        inter = table[i][j]
        union = pred["area"] + gt["area"] - inter - void_row[j]
        iou = inter / union
        if iou > 0.5:  # pairs in the original's order: by ground-truth id, then predicted id
            stat[gt["category_id"]].tp += 1
            stat[gt["category_id"]].iou += iou
            matched_ious[gt["category_id"]].append(iou)
            gt_matched.add(gt_id)
            pred_matched.add(pred_id)
    crowd_by_category = {}
    for gt_id, gt in gt_segms.items():
        if gt_id in gt_matched:
            continue
        if gt["iscrowd"] == 1:
            crowd_by_category[gt["category_id"]] = gt_id
            continue
        stat[gt["category_id"]].fn += 1
    pred_index = {p: j for j, p in enumerate(pred_ids)}
    gt_index = {g: i for i, g in enumerate(gt_ids)}
    for pred_id, pred in pred_segms.items():
        if pred_id in pred_matched:
            continue
        j = pred_index[pred_id]
        inter = void_row[j]
        crowd = crowd_by_category.get(pred["category_id"])
        if crowd is not None:
            inter += table[gt_index[crowd]][j]
        if inter / pred["area"] > 0.5:
            continue
        stat[pred["category_id"]].fp += 1
    return stat


def _segments_by_id(segments, fields, what, image_id, source):
    """``{id: copy of segment}``; a segment missing a field or with a repeated id is a :class:`SegmentError`."""
    out = {}
    for index, segment in enumerate(segments):
        missing = [f for f in fields if not isinstance(segment, dict) or f not in segment]
        if missing:
            raise SegmentError(f"In the image with ID {image_id} {what} segment {index} lacks "
                               f"{', '.join(missing)}.", source)
        if segment["id"] in out:
            raise SegmentError(f"In the image with ID {image_id} {what} segment ID {segment['id']} is listed "
                               "twice.", source)
        out[segment["id"]] = dict(segment)
    return out


def average_pq(pq_stat, categories) -> dict:
    """``{"All"|"Things"|"Stuff": {pq, sq, rq, n}, "per_class": {category id: {pq, sq, rq}}}``."""
    results = {}
    for name, isthing in (("All", None), ("Things", True), ("Stuff", False)):
        results[name], per_class = pq_stat.pq_average(categories, isthing=isthing)
        if name == "All":
            results["per_class"] = per_class
    return results


class PanopticAccumulator(Accumulator):
    """Accumulates PQ counters over images given as arrays.

    >>> import numpy as np
    >>> ids = np.zeros((4, 4, 3), np.uint8); ids[:2, :, 0] = 7
    >>> seg = [{"id": 7, "category_id": 7, "area": 8, "iscrowd": 0}]
    >>> acc = PanopticAccumulator({7: {"id": 7, "isthing": 0}})
    >>> acc.add(ids, seg, ids, seg)
    >>> acc.result()["All"]["pq"]
    1.0
    """

    def __init__(self, categories: dict, label_set=CITYSCAPES):
        self.categories = dict(categories)
        super().__init__(label_set)

    def settings(self) -> dict:
        return {"categories": self.categories}

    def _reset_state(self):
        self.stat = PQStat()

    def _merge_state(self, other):
        self.stat += other.stat

    def add(self, pred_ids, pred_segments, gt_ids, gt_segments, name=None) -> None:
        """Add one image: the predicted id map and segments_info, then the ground truth's.

        Id maps are (H, W, 3) RGB (id = R + 256 G + 65536 B) or (H, W) integer ids; tensors on an
        accelerator are counted there (:mod:`.tensors`).
        """
        image_id = name if name is not None else self.images
        if tensors.counted_in_torch(pred_ids, gt_ids):
            gt, pred = tensors.checked_tensors([("gt_ids", gt_ids), ("pred_ids", pred_ids)], name)
            gt, pred = (tensors.segment_ids(_checked_id_tensor(ids, argument, name))
                        for ids, argument in ((gt, "gt_ids"), (pred, "pred_ids")))
            check_same_size(gt.shape[::-1], pred.shape[::-1], image_id, name)
            self.add_counts(segment_stat(tensors.segment_pair_counts(gt, pred), gt_segments, pred_segments,
                                         self.categories, image_id, name))
            return
        self.add_counts(image_pq_stat(_as_rgb(gt_ids, "gt_ids", name), gt_segments,
                                      _as_rgb(pred_ids, "pred_ids", name), pred_segments, self.categories,
                                      image_id, name))

    def add_counts(self, stat: "PQStat") -> None:
        """Add one image's counters (:func:`image_pq_stat`, :func:`segment_stat`)."""
        self.stat += stat
        self.images += 1

    def summed_stat(self) -> "PQStat":
        """The counters, their IoU sums added as the original adds them (:meth:`PQStat.summed_as_the_original`)."""
        return self.stat.summed_as_the_original()

    def result(self) -> dict:
        """The original's result dict (``All``, ``Things``, ``Stuff``, ``per_class``)."""
        return average_pq(self.summed_stat(), self.categories)


def _checked_id_tensor(ids, argument, name):
    """:func:`_as_rgb`'s checks of an id-map tensor: (H, W, 3) colours or (H, W) segment ids."""
    if ids.ndim == 3 and ids.shape[2] == 3:
        tensors.check_range(ids, argument, 0, 255, name, "colour values outside 0..255")
    elif ids.ndim == 2:
        tensors.check_range(ids, argument, 0, OFFSET - 1, name, "segment ids outside 0..16777215")
    else:
        raise PredictionError(f"{argument} must be (H, W, 3) colours or (H, W) ids, got shape {tuple(ids.shape)}",
                              name)
    return ids


def _as_rgb(ids, argument="ids", name=None):
    ids = np.asarray(tensors.as_numpy(ids))
    if ids.ndim == 3:
        return integer_array(ids, argument, np.uint8, name, "colour values outside 0..255")
    return id2rgb(integer_array(ids, argument, np.uint32, name, "segment ids outside 0..16777215", OFFSET - 1))
