"""Pixel-level semantic evaluation: confusion matrix, IoU and instance-weighted iIoU.

The state of an evaluation is summable: a confusion matrix over label ids,
one record per ground-truth instance (label, size, true positives for its
class and its category) and optional per-image pixel counts.
:class:`SemanticAccumulator` adds images given as arrays, merges with other
accumulators (other processes, other ranks) and computes the scores the
original ``evalPixelLevelSemanticLabeling`` reports.

>>> import numpy as np
>>> acc = SemanticAccumulator(instance_scores=False)
>>> gt = np.full((4, 4), 7, np.uint8); pred = gt.copy(); pred[0] = 8
>>> acc.add(pred, gt)
>>> round(acc.result()["classScores"]["road"], 2)
0.75

A class subset (here the 13 classes of SYNTHIA -> Cityscapes) scores only its classes; ground
truth outside it (terrain, 22) is ignored:

>>> gt[0] = 22; pred = np.full((4, 4), 7, np.uint8)
>>> for classes in (None, "synthia13"):
...     acc = SemanticAccumulator(instance_scores=False, protocol=classes)
...     acc.add(pred, gt)
...     print(len(acc.result()["classScores"]), round(acc.result()["averageScoreClasses"], 3))
34 0.375
13 1.0
"""
import functools
import math

import numpy as np

from .. import kernels
from ..errors import ImageError
from ..helpers.labelset import CITYSCAPES
from . import protocols, tensors
from .accumulator import Accumulator, disjoint_update, integer_array

# Mean instance size per class over the Cityscapes training set: the weights of iIoU.
AVG_CLASS_SIZE = {
    "bicycle": 4672.3249222261, "caravan": 36771.8241758242, "motorcycle": 6298.7200839748,
    "rider": 3930.4788056518, "bus": 35732.1511111111, "train": 67583.7075812274,
    "car": 12794.0202738185, "person": 3462.4756337644, "truck": 27855.1264367816,
    "trailer": 16926.9763313609,
}


# 255 is no Cityscapes label id but the void of train ids: the usual cause is a missing --train-ids
TRAIN_IDS_HINT = " (255 is void in train ids: pass --train-ids if these are train ids; train_ids=True in Python)"


class SemanticAccumulator(Accumulator):
    """Accumulates pixel-level evaluation state over images (see :class:`~.accumulator.Accumulator`).

    Parameters
    ----------
    label_set : LabelSet
    instance_scores : bool
        Also count per-instance true positives for iIoU (needs instance maps).
    pixel_accuracy : bool
        Keep per-image counts of evaluated and correct pixels.
    pixel_accuracy_as_original : bool
        Keep the original's per-image numbers instead: pixels whose ground
        truth is ignored as ``nbNotIgnoredPixels``, and those of them
        predicted as another id as ``nbCorrectPixels``.
    train_ids : bool
        Predictions are train ids (0..18, 255) and are mapped to label ids.
    avg_class_size : dict
        iIoU weights by class name.
    classes : sequence of str or int, optional
        Score only this class subset (names or label ids), as the domain-adaptation
        benchmarks do (see :mod:`.protocols`): ground truth outside it is ignored, a
        prediction outside it on a pixel of the subset is wrong, and every score (the
        mean ``averageScoreClasses`` too) is over the subset; the result names it in
        ``classSubset``.
    protocol : str, optional
        A named subset instead (``cityscapes19``, ``synthia16``, ``synthia13``).
    """

    def __init__(self, label_set=CITYSCAPES, instance_scores=True, pixel_accuracy=False, train_ids=False,
                 avg_class_size=None, pixel_accuracy_as_original=False, classes=None, protocol=None):
        self.classes = protocols.subset_ids(label_set, classes, protocol)
        self.instance_scores = instance_scores
        self.pixel_accuracy = pixel_accuracy
        self.pixel_accuracy_as_original = pixel_accuracy_as_original
        self.train_ids = train_ids
        self.avg_class_size = dict(AVG_CLASS_SIZE if avg_class_size is None else avg_class_size)
        self.eval_ids = label_set.eval_ids
        super().__init__(label_set)

    def settings(self) -> dict:
        return {"instance_scores": self.instance_scores, "pixel_accuracy": self.pixel_accuracy,
                "pixel_accuracy_as_original": self.pixel_accuracy_as_original, "train_ids": self.train_ids,
                "avg_class_size": self.avg_class_size, "classes": self.classes}

    def _reset_state(self):
        size = max(self.eval_ids) + 1
        self.conf = np.zeros((size, size), dtype=np.int64)
        self._instance_records = []  # each image's records, joined when read: joining per image is quadratic
        self.per_image = {}

    def _merge_state(self, other):
        self.conf += other.conf
        self._instance_records.extend(other._instance_records)
        disjoint_update(self.per_image, other.per_image, "per-image scores of")

    # ---- update ------------------------------------------------------------
    def add(self, prediction, ground_truth, instances=None, name=None, ground_truth_name=None) -> None:
        """Add one image.

        prediction, ground_truth : (H, W) integer label ids (train ids for
        ``prediction`` when ``train_ids``); instances : (H, W) instance ids
        (``id * 1000 + k``), needed for instance scores.  ``name`` keys the
        per-image scores and names the prediction in errors.
        """
        conf, records = self._image_counts(prediction, ground_truth, instances, name, ground_truth_name)
        self.add_counts(conf, records, self._image_name(name))

    def _image_counts(self, prediction, ground_truth, instances, name, ground_truth_name):
        pred_name = name or "prediction"
        gt_name = ground_truth_name or "ground truth"
        use_instances = self.instance_scores
        if use_instances and instances is None:
            raise ValueError("instance scores need the instance map of each image")
        in_torch = tensors.counted_in_torch(prediction, ground_truth, instances)
        if in_torch:
            prediction, ground_truth, instances = tensors.checked_tensors(
                [("prediction", prediction), ("ground_truth", ground_truth),
                 ("instances", instances if use_instances else None)], pred_name)
        else:
            prediction, ground_truth = (np.asarray(tensors.as_numpy(a)) for a in (prediction, ground_truth))
            if use_instances:
                instances = np.asarray(tensors.as_numpy(instances))
        if prediction.ndim != 2:
            raise ImageError(f"prediction must be one channel (H, W), got shape {tuple(prediction.shape)}", pred_name)
        if ground_truth.ndim != 2:
            raise ImageError(f"ground truth must be one channel (H, W), got shape {tuple(ground_truth.shape)}",
                             gt_name)
        check_same_shape(prediction.shape, ground_truth.shape, pred_name)
        if use_instances and tuple(instances.shape) != tuple(ground_truth.shape):
            raise ImageError(f"instance map is {_size(instances)} but labels are {_size(ground_truth)}", gt_name)
        pixels = int(np.prod(ground_truth.shape))
        if in_torch:
            tensors.check_range(prediction, "prediction", 0, 255, pred_name, "ids outside the label set")
            tensors.check_range(ground_truth, "ground_truth", 0, 255, gt_name, "ids outside the label set")
            if use_instances:
                tensors.check_range(instances, "instances", 0, 65535, gt_name, "ids outside 0..65535")
            if self.train_ids:
                self._check_train_ids(tensors.values_present(prediction, 256), pred_name)
            count = tensors.semantic_counts(prediction, ground_truth, instances if use_instances else None,
                                            instance_category_of(self.label_set),
                                            self.label_set.train_id_to_id if self.train_ids else None)
            return self.count_image(count, pixels, gt_name, pred_name)
        prediction = integer_array(prediction, "prediction", np.uint8, pred_name, "ids outside the label set")
        ground_truth = integer_array(ground_truth, "ground_truth", np.uint8, gt_name, "ids outside the label set")
        if self.train_ids:  # compiled lookups: a tenth of NumPy's fancy indexing of a full frame
            known = self.label_set.known_train_ids
            # all known when every value up to the largest is (a model's 0..18): one pass, no lookup
            if prediction.size and not known[:int(prediction.max()) + 1].all() \
                    and kernels.lookup(prediction, known.view(np.uint8)).min() == 0:
                self._check_train_ids(np.unique(prediction), pred_name)
            prediction = kernels.lookup(prediction, self.label_set.train_id_to_id)
        if use_instances:
            instances = integer_array(instances, "instances", np.uint16, gt_name, "ids outside 0..65535")
        return self.count_image(functools.partial(kernels.pixel_counts, ground_truth, prediction, instances
                                              if use_instances else None), pixels, gt_name, pred_name)

    def _check_train_ids(self, values, pred_name):
        """An :class:`ImageError` when one of the prediction's ``values`` is no train id of the label set."""
        values = np.asarray(values)
        unknown = values[~self.label_set.known_train_ids[values]]
        if unknown.size:
            raise ImageError(f"prediction has train ids outside the label set: {_values(unknown)}", pred_name)

    def count_image(self, count, pixels: int, gt_name: str, pred_name: str) -> tuple[np.ndarray, np.ndarray]:
        """Count one image: ``(conf, records)`` of an image of ``pixels`` pixels that ``count(same_category,
        conf, inst_size, inst_tp, inst_tp_category)`` adds up as :func:`kernels.pixel_counts` does (on
        arrays, or on PNG rows as they are unfiltered: :mod:`.semantic_files`), checked against the label
        set; ``add_counts`` adds them."""
        use_instances = self.instance_scores
        same_category = same_category_table(self.label_set)
        conf = np.zeros((256, 256), dtype=np.int64)
        counters = [np.zeros(kernels.INSTANCE_ID_SPACE, dtype=np.int64) for _ in range(3)] if use_instances \
            else [np.zeros(1, dtype=np.int64)] * 3
        count(same_category, conf, *counters)
        unknown = ~self.label_set.known_ids
        n = self.conf.shape[0]
        # when ids below n are all known, a frame of known ids has every pixel in conf[:n, :n]:
        # one small sum instead of two passes over the whole matrix
        if unknown[:n].any() or conf[:n, :n].sum() != pixels:
            for present, what, where in ((conf.sum(axis=1) > 0, "ground truth", gt_name),
                                         (conf.sum(axis=0) > 0, "prediction", pred_name)):
                bad = np.flatnonzero(unknown & present)
                if bad.size:
                    hint = TRAIN_IDS_HINT if what == "prediction" and 255 in bad and not self.train_ids else ""
                    raise ImageError(f"{what} has ids outside the label set: {bad.tolist()[:10]}{hint}", where)
        records = np.zeros((0, 4), dtype=np.int64)
        if use_instances:
            size, tp, tp_category = counters
            ids = np.flatnonzero(size != 0)  # of a bool array: a tenth of nonzero() of the int64 counts
            ids = ids[ids > 1000]  # the original's threshold: 1000 itself is not an instance
            label = ids // 1000
            unknown = [int(i) for i, l in zip(ids, label) if l not in self.label_set.id2label]
            if unknown:
                raise ImageError(f"instance ids with unknown labels: {unknown[:5]}", gt_name)
            keep = np.array([not self.label_set.id2label[int(l)].ignoreInEval for l in label], dtype=bool)
            ids, label = ids[keep], label[keep]
            records = np.stack([label, size[ids], tp[ids], tp_category[ids]], axis=1)
        return conf[:n, :n], records

    def add_counts(self, conf: np.ndarray, records: np.ndarray, name: str) -> None:
        """Add one image's :meth:`count_image` counts, its per-image scores keyed by ``name``."""
        self.conf += conf
        self._instance_records.append(records)
        self.images += 1
        if self.pixel_accuracy:
            self.per_image[name] = self._pixel_accuracy_counts(conf)

    def _pixel_accuracy_counts(self, conf):
        evaluated = [i for i in self.eval_ids if not self.label_set.id2label[i].ignoreInEval]
        if not self.pixel_accuracy_as_original:
            return {"nbNotIgnoredPixels": int(conf[evaluated].sum()),
                    "nbCorrectPixels": int(conf[evaluated, evaluated].sum())}
        ignored = [i for i in range(conf.shape[0]) if i not in evaluated]
        return {"nbNotIgnoredPixels": int(conf[ignored].sum()),
                "nbCorrectPixels": int(conf[ignored].sum() - conf[ignored, ignored].sum())}

    # ---- compute -----------------------------------------------------------
    @property
    def instances(self) -> np.ndarray:
        """(n, 4) int64: a row per ground-truth instance added (label id, size in pixels, pixels predicted
        as its class, pixels predicted as its category)."""
        if len(self._instance_records) != 1:
            self._instance_records = [np.concatenate(self._instance_records) if self._instance_records
                                      else np.zeros((0, 4), dtype=np.int64)]
        return self._instance_records[0]

    def instance_stats(self) -> dict:
        """The original's ``instanceStats`` dict: weighted tp / fn per class and category."""
        stats = empty_instance_stats(self.label_set)
        for label_id, size, tp, tp_category in self.instances.tolist():
            add_instance(stats, self.label_set.id2label[label_id], size, tp, tp_category, self.avg_class_size)
        return stats

    def result(self) -> dict:
        """The result dict of the original ``evaluateImgLists``."""
        if self.classes is None:
            return result_dict(self.conf, self.instance_stats(), self.label_set, self.eval_ids,
                               self.per_image if self.pixel_accuracy else None)
        # scores over the subset: the evaluated ids are the subset's, so other ground truth adds no
        # false positive, while every prediction on a subset pixel still counts in its row
        out = result_dict(self.conf, self.instance_stats(), self.label_set, list(self.classes),
                          self.per_image if self.pixel_accuracy else None)
        out["classSubset"] = [self.label_set.id2label[i].name for i in self.classes]
        return out


@functools.lru_cache(maxsize=8)
def same_category_table(label_set):
    """(256, 256) uint8, 1 where a prediction (column) counts for the category of a label (row);
    made once per label set (each image of a pool is its own accumulator)."""
    table = np.zeros((256, 256), dtype=np.uint8)
    for ids in instance_categories(label_set).values():
        for label_id in ids:
            table[label_id, ids] = 1
    table.flags.writeable = False
    return table


@functools.lru_cache(maxsize=8)
def instance_category_of(label_set):
    """(256,) int64: the index of each label id's instance category, -1 where it has none; two ids count
    for each other's category (:func:`same_category_table`) when they have the same index."""
    index = np.full(256, -1, dtype=np.int64)
    for k, ids in enumerate(instance_categories(label_set).values()):
        index[ids] = k
    index.flags.writeable = False
    return index


# ---- scores (the original's definitions) -----------------------------------------
def instance_categories(label_set):
    """Categories whose every drawn label has instances: ``{category: [label ids]}``."""
    out = {}
    for category, members in label_set.category2labels.items():
        ids = [label.id for label in members if label.id >= 0]
        if ids and all(label.hasInstances for label in members if label.id >= 0):
            out[category] = ids
    return out


def empty_instance_stats(label_set=CITYSCAPES):
    zero = {"tp": 0.0, "tpWeighted": 0.0, "fn": 0.0, "fnWeighted": 0.0}
    stats = {"classes": {label.name: dict(zero) for label in label_set.labels
                         if label.hasInstances and not label.ignoreInEval},
             "categories": {}}
    for category, ids in instance_categories(label_set).items():
        stats["categories"][category] = dict(zero, labelIds=ids)
    return stats


def add_instance(stats, label, size, tp, tp_category, avg_class_size):
    """Add one ground-truth instance to ``stats`` (in place), weighted by mean class size / size."""
    weight = avg_class_size.get(label.name, float(size)) / float(size)
    entry = stats["classes"].get(label.name)
    if entry is None:
        return
    fn = size - tp
    entry["tp"] += tp
    entry["fn"] += fn
    entry["tpWeighted"] += float(tp) * weight
    entry["fnWeighted"] += float(fn) * weight
    entry = stats["categories"].get(label.category)
    if entry is not None:
        fn = size - tp_category
        entry["tp"] += tp_category
        entry["fn"] += fn
        entry["tpWeighted"] += float(tp_category) * weight
        entry["fnWeighted"] += float(fn) * weight


def _evaluated(label_set, eval_ids, exclude=()):
    return [i for i in eval_ids if not label_set.id2label[i].ignoreInEval and i not in exclude]


def class_iou(conf, label_id, label_set=CITYSCAPES, eval_ids=None):
    """IoU of one class: tp / (tp + fp + fn); fp counts only pixels of evaluated classes."""
    eval_ids = label_set.eval_ids if eval_ids is None else eval_ids
    if label_set.id2label[label_id].ignoreInEval:
        return float("nan")
    tp = int(conf[label_id, label_id])
    fn = int(conf[label_id, :].sum()) - tp
    fp = int(conf[_evaluated(label_set, eval_ids, (label_id,)), label_id].sum())
    return _ratio(tp, tp + fp + fn)


def instance_class_iou(conf, label_id, stats, label_set=CITYSCAPES, eval_ids=None):
    """iIoU of one class: instance-weighted tp and fn, plain fp."""
    eval_ids = label_set.eval_ids if eval_ids is None else eval_ids
    label = label_set.id2label[label_id]
    if label.ignoreInEval or label.name not in stats["classes"]:
        return float("nan")
    entry = stats["classes"][label.name]
    fp = int(conf[_evaluated(label_set, eval_ids, (label_id,)), label_id].sum())
    return _ratio(entry["tpWeighted"], entry["tpWeighted"] + fp + entry["fnWeighted"])


def category_iou(conf, category, label_set=CITYSCAPES, eval_ids=None):
    """IoU of a category: all its evaluated classes merged."""
    eval_ids = label_set.eval_ids if eval_ids is None else eval_ids
    ids = [label.id for label in label_set.category2labels[category]
           if not label.ignoreInEval and label.id in eval_ids]
    if not ids:
        return float("nan")
    tp = int(conf[np.ix_(ids, ids)].sum())
    fn = int(conf[ids, :].sum()) - tp
    others = [i for i in _evaluated(label_set, eval_ids) if label_set.id2label[i].category != category]
    fp = int(conf[np.ix_(others, ids)].sum())
    return _ratio(tp, tp + fp + fn)


def instance_category_iou(conf, category, stats, label_set=CITYSCAPES, eval_ids=None):
    """iIoU of a category with instances."""
    eval_ids = label_set.eval_ids if eval_ids is None else eval_ids
    entry = stats["categories"].get(category)
    if entry is None:
        return float("nan")
    others = [i for i in _evaluated(label_set, eval_ids) if label_set.id2label[i].category != category]
    fp = int(conf[np.ix_(others, entry["labelIds"])].sum())
    return _ratio(entry["tpWeighted"], entry["tpWeighted"] + fp + entry["fnWeighted"])


def score_average(scores):
    """Mean of the non-NaN values of a ``{name: score}`` dict (NaN if none)."""
    valid = [v for v in scores.values() if not math.isnan(v)]
    return sum(valid) / len(valid) if valid else float("nan")


def prior(conf, label_id):
    return float(conf[label_id, :].sum()) / conf.sum()


def result_dict(conf, stats, label_set, eval_ids, per_image=None) -> dict:
    name = {i: label_set.id2label[i].name for i in eval_ids}
    class_scores = {name[i]: class_iou(conf, i, label_set, eval_ids) for i in eval_ids}
    class_inst = {name[i]: instance_class_iou(conf, i, stats, label_set, eval_ids) for i in eval_ids}
    categories = list(label_set.category2labels)
    category_scores = {c: category_iou(conf, c, label_set, eval_ids) for c in categories}
    category_inst = {c: instance_category_iou(conf, c, stats, label_set, eval_ids) for c in categories}
    out = {
        "confMatrix": conf.tolist(),
        "priors": {name[i]: prior(conf, i) for i in eval_ids},
        "labels": {name[i]: i for i in eval_ids},
        "classScores": class_scores,
        "classInstScores": class_inst,
        "categoryScores": category_scores,
        "categoryInstScores": category_inst,
        "averageScoreClasses": score_average(class_scores),
        "averageScoreInstClasses": score_average(class_inst),
        "averageScoreCategories": score_average(category_scores),
        "averageScoreInstCategories": score_average(category_inst),
    }
    if per_image:
        out["perImageScores"] = per_image
    return out


def _ratio(num, den):
    return float(num) / den if den else float("nan")


def _size(a):
    return f"{a.shape[1]}x{a.shape[0]}"


def check_same_shape(prediction_shape, ground_truth_shape, name) -> None:
    """Validate: an :class:`ImageError` naming the prediction when its (H, W) is not its ground truth's."""
    if tuple(prediction_shape) != tuple(ground_truth_shape):
        raise ImageError(f"prediction is {prediction_shape[1]}x{prediction_shape[0]} but its ground truth is "
                         f"{ground_truth_shape[1]}x{ground_truth_shape[0]}", name)


def _values(a):
    values = np.unique(np.asarray(a)).tolist()
    return values[:10] + (["..."] if len(values) > 10 else [])
