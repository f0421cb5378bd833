"""The Cityscapes 3D detection score, on arrays: 2D AP over confidence thresholds plus
depth-dependent true-positive metrics (DDTP), as the original ``evalObjectDetection3d``.

Per image, :func:`match_image` computes one IoU matrix and one sorted list of
same-class candidate pairs, then sweeps the confidence thresholds: the greedy
matching (highest IoU first, first index on ties) is redone only where a
candidate prediction drops out.  :class:`Box3dAccumulator` keeps summable counts per
class, threshold and depth bin plus the metrics of every true positive;
``add`` one image, ``merge`` partial accumulators (in image order), and
``result()`` gives the original's ``results.json`` dict, number for number.

>>> acc = Box3dAccumulator(labels=["car"])
>>> box = dict(labels=["car"], amodal=[[100, 100, 50, 40]], modal=[[100, 100, 50, 40]],
...            centers=[[20.0, 1.0, 0.8]], dims=[[4.0, 1.8, 1.5]], rotations=[[1.0, 0.0, 0.0, 0.0]])
>>> acc.add(Boxes3d(scores=[0.9], **box), Boxes3d(**box))
>>> acc.result()["AP"]["car"]["auc"]
1.0
"""
import warnings
from collections import OrderedDict

import numpy as np

from ..errors import AnnotationError, PredictionError
from ..helpers.annotation import CsBbox3d, CsIgnore2d, image_size
from ..helpers.box3dImageTransform import Camera, amodal_boxes_2d, box_vertices, normalised_quaternions
from ..helpers.box3dImageTransform import rotation_matrices, scalar_squares, vehicle_to_sensor, yaw_pitch_roll
from . import tensors
from .accumulator import Accumulator

DEFAULT_LABELS = ("car", "truck", "bus", "train", "motorcycle", "bicycle")
DDTP_METRICS = ("Center_Dist", "Size_Similarity", "OS_Yaw", "OS_Pitch_Roll")


def confidence_thresholds(num_conf=50):
    """The score thresholds of the AP sweep: ``np.arange(0, 1.01, 1 / num_conf)`` (51 by default)."""
    return np.arange(0.0, 1.01, 1.0 / num_conf)


def snap_working_confidence(cw, thresholds):
    """``cw`` moved onto the threshold grid (the next threshold up, within [0, 1]); -1 means automatic."""
    if cw == -1.0 or cw in thresholds:
        return cw
    if cw < 0.0:
        return 0.0
    if cw > 1.0:
        return 1.0
    return min(t for t in thresholds if t >= cw)


class Boxes3d:
    """The 3D boxes of one image, as arrays.

    Parameters
    ----------
    labels : sequence of str, length N
    amodal, modal : (N, 4) float
        2D boxes ``[x, y, w, h]`` used for matching (amodal: the whole box; modal:
        its visible part, which is also tested against ignore regions).
    centers : (N, 3) float
        box centres in the vehicle system V (m); the BEV depth is ``int(hypot(x, y))``.
    dims : (N, 3) float
        length, width, height (m).
    rotations : (N, 4) float
        quaternions ``[w, x, y, z]`` (V).
    scores : (N,) float, optional
        confidences (predictions).
    ignore : (K, 4) float, optional
        ignore regions ``[x, y, w, h]`` (ground truth).
    """

    def __init__(self, labels=(), amodal=None, modal=None, centers=None, dims=None, rotations=None,
                 scores=None, ignore=None):
        n = len(labels)
        self.labels = np.asarray(list(labels), dtype=object)
        self.amodal = _array(amodal, (n, 4), "amodal")
        self.modal = self.amodal if modal is None else _array(modal, (n, 4), "modal")
        self.centers = _array(centers, (n, 3), "centers")
        self.dims = _array(dims, (n, 3), "dims")
        self.rotations = _array(rotations, (n, 4), "rotations")
        self.scores = np.ones(n) if scores is None else _array(scores, (n,), "scores")
        self.ignore = _array(ignore, (-1, 4), "ignore")

    def __len__(self):
        return len(self.labels)

    @property
    def depths(self):
        """``(N,)`` int BEV distance from the vehicle origin, truncated to whole metres (squared as ``CsBbox3d.depth``)."""
        return np.sqrt(scalar_squares(self.centers[:, 0]) + scalar_squares(self.centers[:, 1])).astype(int)

    def with_amodal_from_3d(self, camera):
        """A copy whose amodal boxes are the 3D boxes' image boxes on ``camera`` (see ``amodal_boxes_2d``).

        The boxes are stored as ``[x, y, w, h]`` with ``w = xmax - xmin``, as the original does.
        """
        rotations = rotation_matrices(normalised_quaternions(self.rotations))
        vertices = vehicle_to_sensor(box_vertices(self.dims, rotations, self.centers), camera)
        xyxy = amodal_boxes_2d(vertices, camera)
        copy = Boxes3d.__new__(Boxes3d)
        copy.__dict__.update(self.__dict__)
        copy.amodal = np.concatenate([xyxy[:, :2], xyxy[:, 2:] - xyxy[:, :2]], axis=1)
        return copy


def _array(values, shape, name):
    if values is None:
        values = np.zeros((0 if shape[0] == -1 else shape[0],) + shape[1:])
    a = np.asarray(tensors.as_numpy(values), dtype=float)  # a few numbers a box: tensors come to the host
    if a.size == 0 and len(shape) == 2:
        a = a.reshape(0, shape[1])
    if a.ndim != len(shape) or any(want not in (-1, got) for want, got in zip(shape, a.shape)):
        raise ValueError(f"{name} must have shape {shape}, got {a.shape}")
    return a


def xyxy(xywh):
    """``[x, y, w, h]`` boxes as ``[xmin, ymin, xmin + w, ymin + h]``."""
    return np.concatenate([xywh[:, :2], xywh[:, :2] + xywh[:, 2:]], axis=1)


def iou_matrix(gts, preds):
    """``(M, N)`` IoU of ``(M, 4)`` and ``(N, 4)`` [xmin, ymin, xmax, ymax] boxes, pixels inclusive (+1)."""
    gts, preds = _boxes_array(gts), _boxes_array(preds)
    inter = _intersection(gts, preds)
    area_gt = (gts[:, 2] - gts[:, 0] + 1) * (gts[:, 3] - gts[:, 1] + 1)
    area_pred = (preds[:, 2] - preds[:, 0] + 1) * (preds[:, 3] - preds[:, 1] + 1)
    return inter / (area_gt[:, None] + area_pred[None, :] - inter + 1e-10)


def overlap_matrix(ignores, preds):
    """``(K, N)`` share of each prediction box covered by each ignore region (+1 pixel convention)."""
    ignores, preds = _boxes_array(ignores), _boxes_array(preds)
    area_pred = (preds[:, 2] - preds[:, 0] + 1) * (preds[:, 3] - preds[:, 1] + 1)
    return _intersection(ignores, preds) / (area_pred[None, :] + 1e-10)


def _boxes_array(boxes):
    return np.asarray(boxes, dtype=float).reshape(-1, 4)


def _intersection(a, b):
    width = np.minimum(a[:, None, 2], b[None, :, 2]) - np.maximum(a[:, None, 0], b[None, :, 0]) + 1
    height = np.minimum(a[:, None, 3], b[None, :, 3]) - np.maximum(a[:, None, 1], b[None, :, 1]) + 1
    return np.maximum(width, 0) * np.maximum(height, 0)


class ImageMatches:
    """The matching of one image at every threshold, all classes at once.

    ``gt_class`` (m,) / ``pred_class`` (n,): class index of each box (-1: not
    evaluated); ``pairs`` (P, 2): matched (gt, pred) indices in the order the
    greedy matching accepts them; ``tp`` (P, T): which pairs match at each
    threshold; ``fp`` (n, T): unmatched active predictions outside ignore
    regions; ``fn`` (m, T): unmatched ground truth.
    """

    def __init__(self, labels, gt_class, pred_class, pairs, tp, fp, fn):
        self.labels = list(labels)
        self.gt_class, self.pred_class, self.pairs = gt_class, pred_class, pairs
        self.tp, self.fp, self.fn = tp, fp, fn

    def lists(self, label, t):
        """``(tp_idx_gt, tp_idx_pred, fp_idx_pred, fn_idx_gt)`` of ``label`` at threshold index ``t``,
        as the original's lists (in its order)."""
        c = self.labels.index(label)
        pairs = self.pairs[self.tp[:, t] & (self.gt_class[self.pairs[:, 0]] == c)]
        return (pairs[:, 0].tolist(), pairs[:, 1].tolist(),
                np.flatnonzero(self.fp[:, t] & (self.pred_class == c)).tolist(),
                np.flatnonzero(self.fn[:, t] & (self.gt_class == c)).tolist())


def class_indices(box_labels, labels):
    """``(N,)`` index of each label in ``labels``, -1 for others."""
    lookup = {label: c for c, label in enumerate(labels)}
    return np.fromiter((lookup.get(label, -1) for label in box_labels), dtype=np.int64, count=len(box_labels))


def match_image(predictions, ground_truth, labels, min_iou=0.7, modal=False, thresholds=None):
    """Match one image's predictions to its ground truth, per class, at every threshold.

    A prediction takes part at threshold s when its score >= s.  Pairs of the
    same class with IoU > ``min_iou`` are accepted greedily, highest IoU first
    (ties: lowest ground-truth, then prediction index).  Unmatched predictions
    whose modal box lies inside an ignore region (covered share > ``min_iou``)
    are dropped.  Classes never compete, so one sorted candidate list serves
    them all; the matching is redone only at thresholds where a candidate
    prediction drops out.  Returns an :class:`ImageMatches`.
    """
    if min_iou < 0:
        raise ValueError(f"min_iou must be >= 0, got {min_iou}")
    thresholds = confidence_thresholds() if thresholds is None else np.asarray(thresholds)
    n_thresholds = len(thresholds)
    gt_class = class_indices(ground_truth.labels, labels)
    pred_class = class_indices(predictions.labels, labels)
    key = "modal" if modal else "amodal"
    iou = iou_matrix(xyxy(getattr(ground_truth, key)), xyxy(getattr(predictions, key)))
    candidate = (iou > min_iou) & (gt_class[:, None] == pred_class[None, :]) & (gt_class[:, None] >= 0)
    rows, cols = np.nonzero(candidate)
    order = np.lexsort((cols, rows, -iou[rows, cols]))
    rows, cols = rows[order], cols[order]
    # prediction j is active at threshold t iff t < active_until[j]
    active_until = np.searchsorted(thresholds, predictions.scores, side="right")
    accepted = _sweep(rows, cols, active_until, n_thresholds)
    used = accepted.any(axis=1)
    tp = accepted[used]
    pairs = np.stack([rows[used], cols[used]], axis=1).reshape(-1, 2)
    tp_gt, tp_pred = _any_by(pairs[:, 0], tp, len(gt_class)), _any_by(pairs[:, 1], tp, len(pred_class))
    absorbed = (overlap_matrix(xyxy(ground_truth.ignore), xyxy(predictions.modal)) > min_iou).any(axis=0)
    active = np.arange(n_thresholds)[None, :] < active_until[:, None]
    fp = active & ~tp_pred & ~absorbed[:, None] & (pred_class >= 0)[:, None]
    fn = ~tp_gt & (gt_class >= 0)[:, None]
    return ImageMatches(labels, gt_class, pred_class, pairs, tp, fp, fn)


def _any_by(index, mask, n):
    """``(n, T)``: for each box, whether any of its rows of ``mask`` is set."""
    return (np.eye(n, dtype=np.int64)[index].T @ mask.astype(np.int64)) > 0


def _sweep(rows, cols, until, n_thresholds):
    """``(len(rows), T)`` bool: candidate pair k accepted at threshold t by the greedy matching."""
    accepted = np.zeros((len(rows), n_thresholds), dtype=bool)
    if not len(rows):
        return accepted
    pairs = list(zip(rows.tolist(), cols.tolist()))
    pair_until = until[cols].tolist()
    changes = set(pair_until)  # thresholds where a candidate drops out
    current = None
    for t in range(n_thresholds):
        if current is None or t in changes:
            taken_rows, taken_cols = set(), set()
            current = np.zeros(len(rows), dtype=bool)
            for k, (r, c) in enumerate(pairs):
                if pair_until[k] > t and r not in taken_rows and c not in taken_cols:
                    taken_rows.add(r)
                    taken_cols.add(c)
                    current[k] = True
        accepted[:, t] = current
    return accepted


class Box3dAccumulator(Accumulator):
    """Summable state of a Cityscapes 3D evaluation (see :class:`~.accumulator.Accumulator`).

    Parameters
    ----------
    labels : sequence of str
        classes to evaluate, in the order of the result dict (the label set of the base class).
    min_iou : float
        a match needs IoU > min_iou (and an ignore region, coverage > min_iou).
    max_depth, step_size : int
        DDTP depth bins ``range(0, max_depth + 1, step_size)``; objects at or
        beyond ``max_depth`` count in AP only.
    modal : bool
        match modal instead of amodal 2D boxes.
    num_conf : int
        the thresholds are ``np.arange(0, 1.01, 1 / num_conf)``.

    Images must be added and merged in the order of the original (ground-truth
    files sorted): the DDTP means add their values image by image.
    """

    def __init__(self, labels=DEFAULT_LABELS, min_iou=0.7, max_depth=100, step_size=5, modal=False, num_conf=50):
        if step_size <= 0:
            raise ValueError(f"step_size must be positive, got {step_size}")
        if min_iou < 0:
            raise ValueError(f"min_iou must be >= 0, got {min_iou}")
        self.labels = list(labels)
        self.min_iou, self.max_depth, self.step_size, self.modal = min_iou, max_depth, step_size, modal
        self.num_conf = num_conf
        self.thresholds = confidence_thresholds(num_conf)
        self.depth_bins = list(range(0, max_depth + 1, step_size))
        super().__init__(tuple(self.labels))

    def settings(self) -> dict:
        return {"min_iou": self.min_iou, "max_depth": self.max_depth, "step_size": self.step_size,
                "modal": self.modal, "num_conf": self.num_conf}

    def _reset_state(self):
        self.gt_counts = np.zeros(len(self.labels), dtype=np.int64)
        # per box and kind (tp pair, fp prediction, fn ground truth): class, depth bin (the extra last bin is
        # beyond max_depth) and its (T,) mask; summed into _dense on demand, so partial states pickle small
        self._box_rows = []  # (kind (R,), class (R,), bin (R,), mask (R, T))
        self._dense = None  # (3, C, bins + 1, T) counts
        # one row per matched pair below max_depth, in image then matching order
        self._tp_rows = []  # (class (R,), bin (R,), tp mask (R, T), metrics (R, 4))

    def _merge_state(self, other):
        self.gt_counts += other.gt_counts
        if other._dense is not None:
            self._fold()
            self._dense += other._dense
        self._box_rows.extend(other._box_rows)
        self._tp_rows.extend(other._tp_rows)

    def empty_like(self) -> "Box3dAccumulator":
        """A new, empty accumulator with the same settings."""
        return Box3dAccumulator(self.labels, self.min_iou, self.max_depth, self.step_size, self.modal, self.num_conf)

    def add(self, predictions, ground_truth, name=None) -> None:
        """Add one image: two :class:`Boxes3d` (predictions with scores, ground truth with ignore regions)."""
        matches = match_image(predictions, ground_truth, self.labels, self.min_iou, self.modal, self.thresholds)
        self.add_matches(matches, predictions, ground_truth)

    def add_matches(self, matches, predictions, ground_truth):
        """Add one image already matched by :func:`match_image` with this accumulator's settings."""
        m = matches
        gt_bins, pred_bins = self._bins(ground_truth.depths), self._bins(predictions.depths)
        self.gt_counts += np.bincount(m.gt_class[m.gt_class >= 0], minlength=len(self.labels))
        pair_class, pair_bins = m.gt_class[m.pairs[:, 0]], gt_bins[m.pairs[:, 0]]
        classes = np.concatenate([pair_class, m.pred_class, m.gt_class])
        keep = classes >= 0
        kinds = np.repeat([0, 1, 2], [len(pair_class), len(m.pred_class), len(m.gt_class)])
        self._box_rows.append((kinds[keep], classes[keep], np.concatenate([pair_bins, pred_bins, gt_bins])[keep],
                               np.concatenate([m.tp, m.fp, m.fn])[keep]))
        if len(self._box_rows) >= 4096:
            self._fold()
        near = pair_bins < len(self.depth_bins)
        if near.any():
            g, p = m.pairs[near, 0], m.pairs[near, 1]
            self._tp_rows.append((pair_class[near], pair_bins[near], m.tp[near],
                                  tp_metrics(ground_truth, g, predictions, p, self.max_depth)))
        self.images += 1

    def _bins(self, depths):
        """Depth bin index per object; objects at or beyond max_depth go to the extra last bin."""
        return np.where(depths < self.max_depth, depths // self.step_size, len(self.depth_bins))

    def _fold(self):
        """Sum the pending box rows into the dense counts."""
        if self._dense is None:
            self._dense = np.zeros((3, len(self.labels), len(self.depth_bins) + 1, len(self.thresholds)), np.int64)
        if self._box_rows:
            kinds, classes, bins, masks = (np.concatenate(parts) for parts in zip(*self._box_rows))
            np.add.at(self._dense, (kinds, classes, bins), masks.astype(np.int64))
            self._box_rows = []
        return self._dense

    @property
    def depth_counts(self):
        """``(3, C, bins + 1, T)`` int: tp, fp, fn per class, depth bin (last: beyond max_depth), threshold."""
        return self._fold()

    @property
    def counts(self):
        """``(3, C, T)`` int: tp, fp, fn per class and threshold."""
        return self._fold().sum(axis=2)

    def working_confidences(self, cw=-1.0):
        """Per class, the threshold with the best precision x recall (first on ties, 0.0 if none), or ``cw``."""
        cw = snap_working_confidence(cw, self.thresholds)
        if cw != -1.0:
            return OrderedDict((label, cw) for label in self.labels)
        precision, recall = _precision_recall(*self.counts)
        out = OrderedDict()
        for c, label in enumerate(self.labels):
            best_auc, best = 0.0, 0.0
            for t, s in enumerate(self.thresholds):
                auc = precision[c][t] * recall[c][t]
                if auc > best_auc:
                    best_auc, best = auc, s
            out[label] = best
        return out

    def result(self, cw: float = -1.0) -> dict:
        """The original's ``results.json`` dict (same keys, order and numbers)."""
        results = OrderedDict()
        results["AP"], results["AP_per_depth"] = self._average_precisions()
        working = self.working_confidences(cw)
        for metric in DDTP_METRICS:
            results[metric] = OrderedDict()
        for c, label in enumerate(self.labels):
            per_metric = self._ddtp(c, list(self.thresholds).index(working[label]))
            for metric, entry in zip(DDTP_METRICS, per_metric):
                results[metric][label] = entry
        results["GT_stats"] = OrderedDict((label, int(n)) for label, n in zip(self.labels, self.gt_counts))
        results["working_confidence"] = working
        results["eval_params"] = OrderedDict([
            ("labels", self.labels), ("min_iou_to_match", self.min_iou), ("max_depth", self.max_depth),
            ("step_size", self.step_size), ("matching_method", "Modal" if self.modal else "Amodal")])
        results["Detection_Score"] = OrderedDict()
        for label in self.labels:
            d = [results[metric][label]["auc"] for metric in DDTP_METRICS]
            results["Detection_Score"][label] = results["AP"][label]["auc"] * (d[0] + d[1] + d[2] + d[3]) / 4.
        with_gt = [label for label, n in zip(self.labels, self.gt_counts) if n > 0]
        with warnings.catch_warnings():  # no class with ground truth: the means are NaN, as in the original
            warnings.simplefilter("ignore", RuntimeWarning)
            results["mDetection_Score"] = np.mean([results["Detection_Score"][label] for label in with_gt])
            for metric in ("AP",) + DDTP_METRICS:
                results["m" + metric] = np.mean([results[metric][label]["auc"] for label in with_gt])
        return results

    def _average_precisions(self):
        precision, recall = _precision_recall(*self.counts)
        ap = OrderedDict()
        for c, label in enumerate(self.labels):
            ap[label] = OrderedDict([("data", OrderedDict([("recall", [float(x) for x in recall[c]]),
                                                           ("precision", [float(x) for x in precision[c]])])),
                                     ("auc", float(_area(recall[c], precision[c])))])
        ap_per_depth = OrderedDict((label, OrderedDict()) for label in self.labels)
        tp, fp, fn = self.depth_counts.tolist()
        for c, label in enumerate(self.labels):
            for b, depth in enumerate(self.depth_bins):
                points = [_ratios(*counts) for counts in zip(tp[c][b], fp[c][b], fn[c][b])]
                points = [(r, p) for p, r in points if r >= 0 and p >= 0]
                if points:
                    recalls, precisions = [r for r, _ in points], [p for _, p in points]
                    ap_per_depth[label][depth] = OrderedDict([
                        ("data", OrderedDict([("recall", [float(x) for x in recalls]),
                                              ("precision", [float(x) for x in precisions])])),
                        ("auc", float(_area(recalls, precisions)))])
        return ap, ap_per_depth

    def _ddtp(self, c, t):
        """The four DDTP entries (data, items, auc) of class index ``c`` at threshold index ``t``."""
        values = {metric: OrderedDict((d, []) for d in self.depth_bins) for metric in DDTP_METRICS}
        for classes, bins, mask, metrics in self._tp_rows:
            take = (classes == c) & mask[:, t]
            for b, row in zip(bins[take].tolist(), metrics[take]):
                for metric, v in zip(DDTP_METRICS, row):
                    values[metric][self.depth_bins[b]].append(v)
        entries = []
        for metric in DDTP_METRICS:
            data, items = OrderedDict(), OrderedDict()
            for depth, vs in values[metric].items():
                if vs:
                    total = 0
                    for v in vs:  # left to right, as the original's sum(); fsum would round differently
                        total = total + v
                    data[depth], items[depth] = total / float(len(vs)), len(vs)
            auc = np.mean(list(data.values())) if len(data) > 1 else 0.
            entries.append(OrderedDict([("data", data), ("items", items), ("auc", auc)]))
        return entries


def tp_metrics(ground_truth, gt_index, predictions, pred_index, max_depth):
    """``(R, 4)`` DDTP values of matched pairs: centre distance score, size similarity, OS yaw, OS pitch/roll."""
    g_center, p_center = ground_truth.centers[gt_index], predictions.centers[pred_index]
    delta = g_center - p_center
    center_dist = np.sqrt(delta[:, 0] ** 2 + delta[:, 1] ** 2)
    center_score = 1. - np.minimum(center_dist / float(max_depth), 1.)
    g_dims, p_dims = ground_truth.dims[gt_index], predictions.dims[pred_index]
    size_similarity = np.prod(np.minimum(g_dims / p_dims, p_dims / g_dims), axis=1)
    g_angles = yaw_pitch_roll(ground_truth.rotations[gt_index])
    p_angles = yaw_pitch_roll(predictions.rotations[pred_index])
    os_yaw = (1. + np.cos(g_angles[:, 0] - p_angles[:, 0])) / 2.
    os_pitch_roll = 0.5 + (np.cos(g_angles[:, 1] - p_angles[:, 1]) + np.cos(g_angles[:, 2] - p_angles[:, 2])) / 4.
    return np.stack([center_score, size_similarity, os_yaw, os_pitch_roll], axis=1)


def _ratios(tp, fp, fn):
    """(precision, recall) of one depth bin: (-1, -1) without TP and FN, (0, 0) without TP."""
    if tp == 0 and fn == 0:
        return -1, -1
    if tp == 0:
        return 0, 0
    return tp / float(tp + fp), tp / float(tp + fn)


def _precision_recall(tp, fp, fn):
    """Per class and threshold, Python-float precision and recall lists (0 where there is no TP)."""
    precision, recall = [], []
    for tps, fps, fns in zip(tp.tolist(), fp.tolist(), fn.tolist()):
        precision.append([t / float(t + f) if t else 0 for t, f in zip(tps, fps)])
        recall.append([t / float(t + f) if t else 0 for t, f in zip(tps, fns)])
    return precision, recall


def _area(recalls, precisions):
    """Area under the precision-recall points, framed by (0, 0) and (1, 0), precision made non-increasing."""
    pairs = sorted(zip(recalls, precisions), key=lambda pair: pair[0])
    recall = np.asarray([0] + [r for r, _ in pairs] + [1])
    precision = np.asarray([0] + [p for _, p in pairs] + [0])
    precision = np.maximum.accumulate(precision[::-1])[::-1]
    steps = np.where(recall[1:] != recall[:-1])[0] + 1
    return np.sum((recall[steps] - recall[steps - 1]) * precision[steps])


# ----------------------------------------------------------------------------------------------
# Cityscapes 3D JSON (gtBbox3d and the prediction format) to arrays


def ground_truth_from_json(data, labels, source=None, image_size_from_file=False):
    """``(Boxes3d, Camera)`` of a parsed ``*_gtBbox3d.json``: the boxes of ``labels`` and every ignore region.

    The camera's image size is 2048 x 1024 (the original's clip for recomputed
    amodal boxes) unless ``image_size_from_file``, which takes ``imgWidth`` /
    ``imgHeight``.  Raises AnnotationError naming ``source`` when a field is missing.
    """
    if not isinstance(data, dict):
        raise AnnotationError("expected a JSON object at the top level", source)
    for key in ("objects", "sensor", "ignore"):
        if key not in data:
            raise AnnotationError(f"'{key}' missing in ground-truth file", source)
    try:
        s = data["sensor"]
        size = image_size(data, source) if image_size_from_file else (2048, 1024)
        camera = Camera(s["fx"], s["fy"], s["u0"], s["v0"], s["sensor_T_ISO_8855"], *size)
    except KeyError as e:
        raise AnnotationError(f"'sensor' has no {e.args[0]!r}", source) from None
    wanted = set(labels)
    boxes = []
    for index, item in enumerate(data["objects"]):
        if isinstance(item, dict) and item.get("label") in wanted:
            if "score" not in item:
                raise AnnotationError(f"object {index} has no 'score' (ground-truth boxes carry \"score\": 1.0)",
                                      source)
            boxes.append(_parse_box(item, index, source))
    ignores = []
    for index, item in enumerate(data["ignore"]):
        region = CsIgnore2d()
        try:
            region.fromJsonText(item)
        except (KeyError, TypeError, AttributeError):
            raise AnnotationError(f"ignore region {index} has no '2d' box", source) from None
        except AnnotationError as e:  # a value that is not finite
            raise AnnotationError(f"ignore region {index}: {e.reason}", source) from None
        ignores.append(region.bbox_xywh)
    gt = _boxes(boxes, source)
    gt.ignore = _array(ignores, (-1, 4), f"{source}: ignore regions")
    return gt, camera


def predictions_from_json(data, labels, source=None):
    """``(Boxes3d, skipped)`` of a parsed prediction file: its boxes of ``labels``.

    Objects of those labels that miss a field are skipped and counted, as the
    original does ("Found incorrect annotation"); a file without ``objects``
    raises PredictionError naming ``source``.  Amodal boxes are those of the
    file; the evaluation recomputes them from the 3D boxes.
    """
    if not isinstance(data, dict) or "objects" not in data:
        raise PredictionError("'objects' missing in prediction file (write {\"objects\": []} for no detections)",
                              source)
    wanted = set(labels)
    boxes, skipped = [], 0
    for index, item in enumerate(data["objects"]):
        if not (isinstance(item, dict) and item.get("label") in wanted):
            continue
        try:
            boxes.append(_parse_box(item, index, source, PredictionError))
        except AnnotationError:
            skipped += 1
    return _boxes(boxes, source), skipped


def _parse_box(item, index, source, error=AnnotationError):
    """The box of ``item``; AnnotationError for a missing field, ``error`` for a value that is not finite."""
    box = CsBbox3d()
    try:
        box.fromJsonText(item)
    except (KeyError, TypeError, AttributeError) as e:
        raise AnnotationError(f"object {index}: missing field {e}", source) from None
    except AnnotationError as e:  # NaN or Infinity: an error even where incomplete objects are skipped
        raise error(f"object {index}: {e.reason}", source) from None
    return box


def _boxes(boxes, source):
    try:
        return Boxes3d([b.label for b in boxes], [b.bbox_2d.bbox_amodal_xywh for b in boxes],
                       [b.bbox_2d.bbox_modal_xywh for b in boxes], [b.center for b in boxes],
                       [b.dims for b in boxes], [b.rotation for b in boxes], [b.score for b in boxes])
    except (ValueError, TypeError) as e:
        raise AnnotationError(f"malformed box: {e}", source) from None
