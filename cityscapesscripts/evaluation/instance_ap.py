"""Instance-level evaluation: matches between predicted masks and ground-truth instances, and AP.

Per image, :func:`ground_truth_instances` lists the segments of an
``instanceIds`` map and :func:`match_image` pairs every predicted mask with
the ground-truth instances it overlaps, from one histogram of ground-truth
ids under the mask's pixels.  The result is the original's ``matches``
entry for that image; entries of many images (processes, ranks) are merged
by concatenation, and :func:`average_precision` turns them into AP per class
and overlap, as the Cityscapes benchmark defines it.

One deliberate difference: when a class has ground truth and predictions but
no prediction is left to score (every unmatched one lies mostly in ignored
regions), the original crashes (upstream issue #89).  No detection then
recovers any instance, so the precision-recall curve is the single point
(recall 0, precision 1) and AP is 0.
"""
import math
import os

import numpy as np

from .. import kernels
from ..errors import ImageError, PredictionError
from ..helpers.labelset import CITYSCAPES
from ..io import rle
from . import tensors
from .accumulator import Accumulator, integer_array, disjoint_update

OVERLAPS = np.arange(0.5, 1.0, 0.05)
MIN_REGION_SIZES = np.array([100, 1000, 1000])
DISTANCE_THRESHOLDS = np.array([float("inf"), 100, 50])
DISTANCE_CONFIDENCES = np.array([-float("inf"), 0.5, 0.5])


def instance_labels(label_set=CITYSCAPES):
    """Names of the evaluated classes with instances, in table order."""
    return [label.name for label in label_set.labels if label.hasInstances and not label.ignoreInEval]


def ground_truth_instances(instance_ids, label_set=CITYSCAPES, name=None) -> dict:
    """The original's per-image instance dict: ``{label name: [instance dict]}``.

    Each instance dict has ``instID``, ``labelID``, ``pixelCount``, ``medDist``
    (-1) and ``distConf`` (0.0), for every id present in ``instance_ids``
    ((H, W) integer map), in increasing id order.
    """
    ids = np.asarray(instance_ids)
    if ids.ndim == 2 and ids.dtype in (np.uint8, np.uint16):
        counts = kernels.id_counts(ids)
    else:
        counts = np.bincount(ids.ravel().astype(np.int64), minlength=1) if ids.size else np.zeros(1, np.int64)
    present = np.flatnonzero(counts != 0)  # of a bool array: a sixth of nonzero() of the counts
    return instances_of_counts(present, counts[present], label_set, name)


def instances_of_counts(ids, counts, label_set=CITYSCAPES, name=None) -> dict:
    """:func:`ground_truth_instances` of the ids present in an image (ascending) and their pixel counts."""
    out = {label.name: [] for label in label_set.labels}
    for inst_id, count in zip(np.asarray(ids).tolist(), np.asarray(counts).tolist()):
        label_id = inst_id if inst_id < 1000 else inst_id // 1000
        label = label_set.id2label.get(label_id)
        if label is None:
            raise ImageError(f"instance id {inst_id} has no label (label id {label_id})", name)
        out[label.name].append({"instID": inst_id, "labelID": label_id, "pixelCount": count,
                                "medDist": -1, "distConf": 0.0})
    return out


class Prediction:
    """One predicted instance: a mask source, a label id and a confidence.

    ``mask`` is an (H, W) array, a path to a mask PNG, a COCO RLE dict
    (``{"size": [H, W], "counts": ...}``) or polygon list, or a mask counted
    already (:class:`~.tensors.MaskCounts`); it is loaded only when its label is evaluated.
    """

    __slots__ = ("mask", "label_id", "confidence", "name", "source")

    def __init__(self, mask, label_id, confidence, name=None, source=None):
        self.mask, self.label_id, self.confidence = mask, int(label_id), float(confidence)
        self.name = name if name is not None else (mask if isinstance(mask, str) else None)
        self.source = source or self.name  # where errors point, e.g. "x_pred.txt line 3"


def _void_ids(label_set):
    return np.array([label.id for label in label_set.labels if label.ignoreInEval and label.id >= 0], dtype=np.int64)


def match_image(gt_instances, instance_ids, predictions, label_set=CITYSCAPES, inst_labels=None,
                name=None) -> tuple[dict, dict]:
    """Pair predictions with the ground-truth instances of one image.

    gt_instances : the image's ``{label name: [instance dict]}`` (only
    evaluated labels are used); instance_ids : (H, W) instanceIds map;
    predictions : iterable of :class:`Prediction` (instance_ids may be None when every mask is counted
    already).  Returns ``(gt_with_matches, predictions_by_label)`` as the original's
    ``assignGt2Preds``.
    """
    inst_labels = instance_labels(label_set) if inst_labels is None else inst_labels
    ids = None if instance_ids is None else _as_uint16(instance_ids, name)
    gt_out = {label: [dict(gt, matchedPred=[]) for gt in gt_instances[label]]
              for label in gt_instances if label in inst_labels}
    pred_out = {label: [] for label in inst_labels}
    void = _void_ids(label_set)
    hist = np.zeros(kernels.INSTANCE_ID_SPACE, dtype=np.int64)
    count = 0
    for pred in predictions:
        label = label_set.id2label.get(pred.label_id)
        if label is None:
            raise PredictionError(f"label id {pred.label_id} is not in the label set", pred.source or name)
        if label.name not in inst_labels:
            continue
        pixels, touched = _histogram(pred, ids, hist, name)
        if pixels:
            instance = {"imgName": pred.name, "predID": count, "labelID": pred.label_id, "pixelCount": pixels,
                        "confidence": pred.confidence, "voidIntersection": int(hist[void].sum())}
            matched = []
            for gt_index, gt in enumerate(gt_instances.get(label.name, [])):
                inter = int(hist[gt["instID"]])
                if inter > 0:
                    matched.append(dict(gt, intersection=inter))
                    gt_out[label.name][gt_index]["matchedPred"].append(dict(instance, intersection=inter))
            instance["matchedGt"] = matched
            pred_out[label.name].append(instance)
            count += 1
        hist[touched] = 0
    return gt_out, pred_out


def _histogram(pred, ids, hist, image_name):
    """Add the ground-truth ids under a prediction's pixels to hist; (pixel count, ids touched)."""
    mask, where = pred.mask, pred.source or image_name
    if isinstance(mask, tensors.MaskCounts):
        return mask.add_to(hist)
    if isinstance(mask, (dict, list)):  # COCO RLE or polygons: only the mask's own pixels are visited
        flat = coco_mask_indices(mask, ids.shape, where)
        counts = np.bincount(ids.reshape(-1)[flat], minlength=hist.size)
        touched = np.flatnonzero(counts)
        hist[touched] += counts[touched]
        return int(flat.size), touched
    if isinstance(mask, (str, os.PathLike)):  # a mask PNG: read by the files step, which may count it as it reads
        from .instance_files import mask_file_histogram
        return mask_file_histogram(mask, ids, hist, where)
    return mask_histogram(mask, ids, hist, where)


def mask_histogram(mask, ids, hist, where=None) -> tuple[int, np.ndarray]:
    """Count one mask: add the ground-truth ids under the (H, W) ``mask`` (non-zero = inside) to ``hist``;
    ``(pixel count, ids touched)``.  ``where`` names the prediction in errors."""
    mask = np.asarray(tensors.as_numpy(mask))
    check_mask_shape(mask.shape, ids.shape, where)
    if mask.dtype.kind not in "biu":
        raise PredictionError(f"a mask must be bool or integer (non-zero = inside), got dtype {mask.dtype}", where)
    if mask.dtype == np.bool_:
        mask = mask.view(np.uint8)
    elif mask.dtype != np.uint8:
        mask = (mask != 0).view(np.uint8)
    return kernels.mask_histogram(mask, ids, hist)


def check_mask_shape(mask_shape, ids_shape, where) -> None:
    """Validate: a :class:`PredictionError` naming ``where`` when a mask's (H, W) is not the ground truth's."""
    if tuple(mask_shape) != tuple(ids_shape):
        size = f"{mask_shape[1]}x{mask_shape[0]}" if len(mask_shape) >= 2 else str(mask_shape)
        raise PredictionError(f"mask is {size} but the ground truth is {ids_shape[1]}x{ids_shape[0]}", where)


def _as_uint16(ids, name):
    ids = np.asarray(ids)
    if ids.dtype == np.uint16:
        return np.ascontiguousarray(ids)
    if ids.size and (ids.min() < 0 or ids.max() > 65535):
        raise ImageError("instance ids outside 0..65535", name)
    return np.ascontiguousarray(ids, dtype=np.uint16)


# ---- COCO masks -------------------------------------------------------------------
def coco_mask_indices(segmentation, shape, name=None):
    """Row-major flat indices of the pixels of a COCO segmentation (RLE dict or polygons).

    Polygons are filled with Pillow's ``ImageDraw.polygon`` (the Cityscapes
    rasterizer) inside their bounding box.
    """
    height, width = shape
    if isinstance(segmentation, dict):
        size = segmentation.get("size")
        if size is None or list(size) != [height, width]:
            raise PredictionError(f"RLE size {size} differs from the image size {[height, width]}", name)
        try:
            return rle.flat_indices(segmentation)
        except (ValueError, KeyError, TypeError, IndexError) as e:
            raise PredictionError(f"invalid RLE: {e}", name) from None
    from PIL import Image, ImageDraw
    xs = [x for poly in segmentation for x in poly[0::2]]
    ys = [y for poly in segmentation for y in poly[1::2]]
    x0, y0 = max(int(math.floor(min(xs))), 0), max(int(math.floor(min(ys))), 0)
    x1, y1 = min(int(math.ceil(max(xs))) + 1, width), min(int(math.ceil(max(ys))) + 1, height)
    if x1 <= x0 or y1 <= y0:
        return np.zeros(0, dtype=np.int64)
    canvas = Image.new("L", (x1 - x0, y1 - y0), 0)
    draw = ImageDraw.Draw(canvas)
    for poly in segmentation:
        draw.polygon([(x - x0, y - y0) for x, y in zip(poly[0::2], poly[1::2])], fill=1)
    ys_, xs_ = np.nonzero(np.asarray(canvas))
    return (ys_ + y0) * width + (xs_ + x0)


# ---- AP ----------------------------------------------------------------------------
def average_precision(matches, inst_labels, overlaps=OVERLAPS, min_region_sizes=MIN_REGION_SIZES,
                      distance_thresholds=DISTANCE_THRESHOLDS, distance_confidences=DISTANCE_CONFIDENCES,
                      distance_available=False, curves=None):
    """AP per (distance setting, class, overlap): array (D, len(inst_labels), len(overlaps)).

    NaN where a class has no ground truth.  With ``curves`` (a dict), the
    precision-recall points of each class at each overlap are stored in it,
    keyed ``(label, overlap index)``, as ``(precision, recall, score thresholds)``.
    """
    detections = Detections(inst_labels, min_region_sizes, distance_thresholds, distance_confidences,
                            distance_available)
    for entry in matches.values():
        detections.add(entry)
    return detections.average_precision(overlaps, curves)


class Detections:
    """What :func:`average_precision` computes AP from, gathered one image's ``matches`` entry at
    a time (:meth:`add`): a caller can gather while the other images are still being matched."""

    def __init__(self, inst_labels, min_region_sizes=MIN_REGION_SIZES, distance_thresholds=DISTANCE_THRESHOLDS,
                 distance_confidences=DISTANCE_CONFIDENCES, distance_available=False):
        if not distance_available:
            min_region_sizes, distance_thresholds, distance_confidences = (
                [min_region_sizes[0]], [distance_thresholds[0]], [distance_confidences[0]])
        if not len(distance_thresholds) == len(min_region_sizes) == len(distance_confidences):
            raise ValueError("need as many distance thresholds, region sizes and confidences")
        self.inst_labels = list(inst_labels)
        self._classes = [[_ClassDetections(label, *setting) for label in self.inst_labels]
                         for setting in zip(min_region_sizes, distance_thresholds, distance_confidences)]

    def add(self, entry):
        """Gather one image's ``{"groundTruth": ..., "prediction": ...}`` entry."""
        for per_setting in self._classes:
            for detections in per_setting:
                detections.add(entry)

    def average_precision(self, overlaps=OVERLAPS, curves=None):
        """:func:`average_precision` of the entries gathered so far."""
        ap = np.zeros((len(self._classes), len(self.inst_labels), len(overlaps)), dtype=float)
        for d, per_setting in enumerate(self._classes):
            for c, detections in enumerate(per_setting):
                have_gt, have_pred = detections.gt_count > 0, detections.have_pred
                if have_gt and have_pred:
                    detections.sort()
                for o, threshold in enumerate(overlaps):
                    if have_gt and have_pred:
                        y_true, y_score, hard_fns = detections.scored(threshold)
                        precision, recall, thresholds = _precision_recall(y_true, y_score, hard_fns)
                        steps = np.convolve(np.concatenate([[recall[0]], recall, [0.0]]), [-0.5, 0, 0.5], "valid")
                        ap[d, c, o] = np.dot(precision, steps)
                        if curves is not None and d == 0:
                            curves[(detections.label, o)] = (precision, recall, thresholds)
                    else:
                        ap[d, c, o] = 0.0 if have_gt else float("nan")
        return ap


def instance_iou(intersection, gt_pixels, pred_pixels):
    """Intersection over union of a ground-truth instance and a predicted mask, from pixel counts."""
    return float(intersection) / (gt_pixels + pred_pixels - intersection)


class _ClassDetections:
    """What one class's detections are at every overlap threshold, gathered once from the images' entries.

    At a threshold, each ground-truth instance (of at least ``min_size`` pixels, within the
    distance limits) is found by the predictions matching it with a higher IoU: the most
    confident is a true positive, the others false positives; it is a hard false negative when
    there are none.  A prediction matching no instance above the threshold is a false positive
    unless more of it than the threshold lies in ignored regions.  The (score, is true) pairs
    are the same as the benchmark's loop gives, in another order (which AP does not depend on).
    """

    def __init__(self, label, min_size, max_dist, min_conf):
        self.label, self.min_size, self.max_dist, self.min_conf = label, min_size, max_dist, min_conf
        self._pair_gt, self._pair_iou, self._pair_score = [], [], []
        self._best_iou, self._ignored_share, self._pred_score = [], [], []
        self.gt_count, self.have_pred = 0, False

    def add(self, entry):
        label, min_size, max_dist, min_conf = self.label, self.min_size, self.max_dist, self.min_conf
        preds = entry["prediction"][label]
        self.have_pred |= bool(preds)
        for gt in entry["groundTruth"][label]:
            if not (gt["instID"] >= 1000 and gt["pixelCount"] >= min_size and gt["medDist"] <= max_dist
                    and gt["distConf"] >= min_conf):
                continue
            for pred in gt["matchedPred"]:
                self._pair_gt.append(self.gt_count)
                self._pair_iou.append(instance_iou(pred["intersection"], gt["pixelCount"], pred["pixelCount"]))
                self._pair_score.append(pred["confidence"])
            self.gt_count += 1
        for pred in preds:
            self._best_iou.append(max((instance_iou(gt["intersection"], gt["pixelCount"], pred["pixelCount"])
                                       for gt in pred["matchedGt"]), default=-math.inf))
            ignored = pred["voidIntersection"]
            for gt in pred["matchedGt"]:
                if gt["instID"] < 1000:
                    ignored += gt["intersection"]
                if gt["pixelCount"] < min_size or gt["medDist"] > max_dist or gt["distConf"] < min_conf:
                    ignored += gt["intersection"]
            self._ignored_share.append(float(ignored) / pred["pixelCount"])
            self._pred_score.append(pred["confidence"])

    def sort(self):
        """The gathered lists as arrays, the pairs by instance, then score: an instance's best comes last."""
        order = np.lexsort((self._pair_score, self._pair_gt))
        self.pair_gt = np.array(self._pair_gt, dtype=np.int64)[order]
        self.pair_iou = np.array(self._pair_iou, dtype=float)[order]
        self.pair_score = np.array(self._pair_score, dtype=float)[order]
        self.best_iou = np.array(self._best_iou, dtype=float)
        self.ignored_share = np.array(self._ignored_share, dtype=float)
        self.pred_score = np.array(self._pred_score, dtype=float)

    def scored(self, threshold):
        """``(is true, score, hard false negatives)`` at one overlap threshold."""
        found = np.flatnonzero(self.pair_iou > threshold)
        instance = self.pair_gt[found]
        best = np.ones(found.size, dtype=bool)
        best[:-1] = instance[1:] != instance[:-1]
        unmatched = (self.best_iou <= threshold) & (self.ignored_share <= threshold)
        y_true = np.concatenate([best.astype(float), np.zeros(int(unmatched.sum()))])
        y_score = np.concatenate([self.pair_score[found], self.pred_score[unmatched]])
        return y_true, y_score, self.gt_count - int(best.sum())


def _precision_recall(y_true, y_score, hard_fns):
    """Precision and recall at each distinct score (the thresholds, ascending), then the end point
    (precision 1, recall 0, threshold infinity)."""
    if y_score.size == 0:  # nothing left to score: only the end point (upstream issue #89)
        return np.array([1.0]), np.array([0.0]), np.array([np.inf])
    order = np.argsort(y_score)
    scores, truth = y_score[order], y_true[order]
    cumsum = np.cumsum(truth)
    unique_scores, first = np.unique(scores, return_index=True)
    n, positives = len(scores), cumsum[-1]
    cumsum = np.append(cumsum, 0)  # index -1 reads 0 before the first score
    below = cumsum[first - 1]  # true detections scored below each threshold
    tp = positives - below
    fp = (n - first) - tp
    fn = below + hard_fns
    precision = np.append(tp / (tp + fp), 1.0)
    recall = np.append(tp / (tp + fn), 0.0)
    return precision, recall, np.append(unique_scores, np.inf)


def averages(ap, inst_labels, overlaps=OVERLAPS, distance_thresholds=DISTANCE_THRESHOLDS,
             distance_available=False):
    """The original's ``computeAverages`` dict: allAp, allAp50%, per-class ap and ap50%."""
    import warnings
    d_inf = np.argmax(distance_thresholds)
    d50 = np.where(np.isclose(distance_thresholds, 50.0))
    d100 = np.where(np.isclose(distance_thresholds, 100.0))
    o50 = np.where(np.isclose(overlaps, 0.5))
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", RuntimeWarning)  # nanmean of all-NaN gives NaN, as intended
        out = {"allAp": np.nanmean(ap[d_inf, :, :]), "allAp50%": np.nanmean(ap[d_inf, :, o50])}
        if distance_available:
            out["allAp50m"] = np.nanmean(ap[d50, :, :])
            out["allAp100m"] = np.nanmean(ap[d100, :, :])
            out["allAp50%50m"] = np.nanmean(ap[d50, :, o50])
        out["classes"] = {}
        for c, label in enumerate(inst_labels):
            entry = {"ap": np.average(ap[d_inf, c, :]), "ap50%": np.average(ap[d_inf, c, o50])}
            if distance_available:
                entry["ap50m"] = np.average(ap[d50, c, :])
                entry["ap100m"] = np.average(ap[d100, c, :])
                entry["ap50%50m"] = np.average(ap[d50, c, o50])
            out["classes"][label] = entry
    return out


def result_dict(avg, ap, inst_labels, overlaps=OVERLAPS, min_region_sizes=MIN_REGION_SIZES,
                distance_thresholds=DISTANCE_THRESHOLDS, distance_confidences=DISTANCE_CONFIDENCES):
    """The original's ``prepareJSONDataForResults`` dict."""
    return {"averages": avg, "overlaps": np.asarray(overlaps).tolist(),
            "minRegionSizes": np.asarray(min_region_sizes).tolist(),
            "distanceThresholds": np.asarray(distance_thresholds).tolist(),
            "minStereoDensities": np.asarray(distance_confidences).tolist(),
            "instLabels": list(inst_labels), "resultApMatrix": ap.tolist()}


class InstanceAccumulator(Accumulator):
    """Accumulates matches over images given as arrays; merge and compute AP.

    >>> import numpy as np
    >>> gt = np.zeros((32, 32), np.uint16); gt[4:20, 4:20] = 26000   # 256 pixels of car 26000
    >>> acc = InstanceAccumulator()
    >>> acc.add([gt == 26000], [26], [0.9], gt)
    >>> float(acc.result()["averages"]["classes"]["car"]["ap"])
    1.0

    ``inst_labels`` (default: the label set's instance classes) are the classes scored.
    """

    def __init__(self, label_set=CITYSCAPES, overlaps=OVERLAPS, min_region_sizes=MIN_REGION_SIZES,
                 distance_thresholds=DISTANCE_THRESHOLDS, distance_confidences=DISTANCE_CONFIDENCES,
                 distance_available=False, inst_labels=None):
        self.inst_labels = instance_labels(label_set) if inst_labels is None else list(inst_labels)
        self.overlaps = np.asarray(overlaps)
        self.min_region_sizes = np.asarray(min_region_sizes)
        self.distance_thresholds = np.asarray(distance_thresholds)
        self.distance_confidences = np.asarray(distance_confidences)
        self.distance_available = distance_available
        super().__init__(label_set)

    def settings(self) -> dict:
        return {"overlaps": self.overlaps, "min_region_sizes": self.min_region_sizes,
                "distance_thresholds": self.distance_thresholds, "distance_confidences": self.distance_confidences,
                "distance_available": self.distance_available, "inst_labels": self.inst_labels}

    def _reset_state(self):
        self.matches = {}
        self.ground_truth_json = {}  # image: JSON text of its ground-truth instances, when a files step read them
        self.detections = None

    def _merge_state(self, other):
        disjoint_update(self.matches, other.matches, "image")
        disjoint_update(self.ground_truth_json, other.ground_truth_json, "the ground-truth instances of")
        if self.detections is not None:
            for entry in other.matches.values():
                self.detections.add(entry)

    def gather_detections(self) -> None:
        """From now on, gather what AP needs as images are added or merged (a caller merging frames from a
        pool has little left to do after the last one); only on an empty accumulator."""
        if self.matches:
            raise ValueError("gather detections before adding images")
        self.detections = Detections(self.inst_labels, self.min_region_sizes, self.distance_thresholds,
                                     self.distance_confidences, self.distance_available)

    def add(self, masks, labels, scores, ground_truth, name=None) -> None:
        """Add one image: its predictions, then its ``instanceIds`` map.

        masks : an (N, H, W) array or tensor (non-zero = inside), or N (H, W) masks or COCO RLE dicts;
        labels : label ids; scores : confidences, one per mask.  ground_truth : (H, W) instance ids.
        Tensors on an accelerator are counted there (:mod:`.tensors`).
        """
        name = self._image_name(name)
        if not len(masks) == len(labels) == len(scores):
            raise ValueError(f"{len(masks)} masks, {len(labels)} labels and {len(scores)} scores")
        labels, scores = (tensors.as_numpy(v).tolist() if tensors.is_tensor(v) else v for v in (labels, scores))
        if isinstance(masks, (list, tuple)) and masks and all(tensors.is_tensor(m) for m in masks):
            import torch
            masks = torch.stack(masks)
        if tensors.counted_in_torch(masks, ground_truth):
            gt_instances, counted = self._count_in_torch(masks, labels, ground_truth, name)
            predictions = [Prediction(counted.get(i), l, s, f"{name}#{i}")
                           for i, (l, s) in enumerate(zip(labels, scores))]
            ground_truth = None
        else:
            ground_truth = integer_array(ground_truth, "ground_truth", np.uint16, name, "ids outside 0..65535")
            gt_instances = ground_truth_instances(ground_truth, self.label_set, name)
            predictions = [Prediction(m, l, s, f"{name}#{i}")
                           for i, (m, l, s) in enumerate(zip(masks, labels, scores))]
        gt, pred = match_image(gt_instances, ground_truth, predictions, self.label_set, self.inst_labels, name)
        self.add_matches({"groundTruth": gt, "prediction": pred}, name)

    def _count_in_torch(self, masks, labels, ground_truth, name):
        """The ground-truth instances and the masks of evaluated classes, counted on the tensors' device:
        ``(gt_instances, {mask index: MaskCounts})``."""
        ground_truth, masks = tensors.checked_tensors(
            [("ground_truth", ground_truth), ("masks", masks if len(masks) else None)], name)
        if ground_truth.ndim != 2:
            raise ImageError(f"ground truth must be one channel (H, W), got shape {tuple(ground_truth.shape)}", name)
        tensors.check_range(ground_truth, "ground_truth", 0, 65535, name, "ids outside 0..65535")
        evaluated = {label.id for label in self.label_set.labels if label.name in self.inst_labels}
        counted = [i for i, label_id in enumerate(labels) if int(label_id) in evaluated]
        ids, counts, masks_counted = tensors.instance_counts(masks, ground_truth, counted, name)
        return instances_of_counts(ids, counts, self.label_set, name), masks_counted

    def add_matches(self, entry: dict, name: str) -> None:
        """Add one image's :func:`match_image` entry ``{"groundTruth": ..., "prediction": ...}``, keyed ``name``."""
        self.matches[name] = entry
        if self.detections is not None:
            self.detections.add(entry)
        self.images += 1

    def average_precision(self, curves=None) -> np.ndarray:
        """AP per (distance setting, class, overlap), as :func:`average_precision`."""
        if self.detections is not None and curves is None:
            return self.detections.average_precision(self.overlaps)
        return average_precision(self.matches, self.inst_labels, self.overlaps, self.min_region_sizes,
                                 self.distance_thresholds, self.distance_confidences, self.distance_available,
                                 curves)

    def result(self) -> dict:
        """The original's result dict (``averages``, ``resultApMatrix``, ...)."""
        ap = self.average_precision()
        avg = averages(ap, self.inst_labels, self.overlaps, self.distance_thresholds, self.distance_available)
        return result_dict(avg, ap, self.inst_labels, self.overlaps, self.min_region_sizes,
                           self.distance_thresholds, self.distance_confidences)
