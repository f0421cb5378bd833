"""Cityscapes metrics as ``torchmetrics.Metric`` s: the original's numbers inside a training loop.

:class:`CityscapesSemantic` (IoU, iIoU, categories), :class:`CityscapesInstance` (AP, AP50) and
:class:`CityscapesPanoptic` (PQ, SQ, RQ) take batches of tensors on any device, count each image
where its tensors lie (:mod:`cityscapesscripts.evaluation.tensors`), and ``compute()`` returns the
result dict of the original tool, the same numbers as the original on the same images.

Each metric's state is the partial state of the package's accumulator
(:mod:`cityscapesscripts.evaluation.accumulator`), one per ``update``, kept as the bytes of its
pickle in a ``"cat"`` state of torchmetrics: torchmetrics gathers it across ranks (DDP) as it
gathers its own metrics' states, and ``compute`` merges the parts in rank order.  The images of
rank 0 come first, then those of rank 1, ...: the order in which the original would have read
them decides the last bits of iIoU and PQ, nothing else.

torchmetrics' own ``MeanIoU`` averages per sample and has no iIoU or categories, and its
``PanopticQuality`` has no crowd regions: the numbers here are the Cityscapes benchmark's, not those.

Requires ``pip install torchmetrics`` (and torch).
"""
from __future__ import annotations

import pickle
from typing import Any, Sequence

import numpy as np

from ..evaluation import tensors
from ..evaluation.accumulator import Accumulator
from ..evaluation.instance_ap import InstanceAccumulator
from ..evaluation.panoptic import PanopticAccumulator
from ..evaluation.semantic import SemanticAccumulator
from ..helpers.labelset import CITYSCAPES, LabelSet
from ..preparation.panoptic import categories as panoptic_categories

try:
    import torch
    from torchmetrics import Metric
    from torchmetrics.utilities.data import dim_zero_cat
except ImportError as error:  # pragma: no cover - the message is what an absent extra gives
    raise ImportError(f"cityscapesscripts.integrations.torchmetrics needs torch and torchmetrics ({error}): "
                      "pip install torchmetrics") from None

__all__ = ["CityscapesSemantic", "CityscapesInstance", "CityscapesPanoptic"]


class _AccumulatorMetric(Metric):
    """A Metric whose state is the accumulator parts of its updates, pickled into ``"cat"`` states."""

    is_differentiable = False
    higher_is_better = True
    full_state_update = False

    def __init__(self, **kwargs: Any) -> None:
        super().__init__(**kwargs)
        self.add_state("parts", default=[], dist_reduce_fx="cat")  # the pickles' bytes, one after another
        self.add_state("part_sizes", default=[], dist_reduce_fx="cat")

    def _new_accumulator(self) -> Accumulator:  # pragma: no cover - documented interface
        raise NotImplementedError

    def _keep(self, part: Accumulator) -> None:
        """Add one update's accumulator to the state."""
        data = np.frombuffer(pickle.dumps(part, protocol=pickle.HIGHEST_PROTOCOL), dtype=np.uint8)
        self.parts.append(torch.from_numpy(data.copy()).to(self.device))
        self.part_sizes.append(torch.tensor([data.size], dtype=torch.int64, device=self.device))

    def sync(self, *args: Any, **kwargs: Any) -> None:
        if isinstance(self.parts, list) and not self.parts:
            # a rank without images: typed empty parts, as torchmetrics' own placeholder is a float
            # tensor whose gather would not match the other ranks' bytes
            self.parts.append(torch.zeros(0, dtype=torch.uint8, device=self.device))
            self.part_sizes.append(torch.zeros(0, dtype=torch.int64, device=self.device))
        super().sync(*args, **kwargs)

    def accumulator(self) -> Accumulator:
        """The accumulator of every image added so far (on every rank, after a sync), merged in order."""
        total = self._new_accumulator()
        if isinstance(self.parts, list) and not self.parts:
            return total
        data = dim_zero_cat(self.parts).cpu().numpy().tobytes()
        start = 0
        for size in dim_zero_cat(self.part_sizes).tolist():
            total.merge(pickle.loads(data[start:start + size]))
            start += size
        return total

    def compute(self) -> dict:
        """The original tool's result dict."""
        return self.accumulator().result()


class CityscapesSemantic(_AccumulatorMetric):
    """Pixel-level scores (``evalPixelLevelSemanticLabeling``): IoU and iIoU per class and category.

    ``update(preds, target, instances=None)``: ``preds`` (B, H, W) ids or (B, C, H, W) scores (the
    argmax over C is taken, on their device); ``target`` (B, H, W) ground truth; ``instances``
    (B, H, W) instance ids, needed for iIoU (``instance_scores``).

    preds_train_ids : predictions are train ids (0..18, what a model trained on
        ``*_labelTrainIds.png`` gives); False: label ids.
    target_train_ids : ground truth is ``*_labelTrainIds.png`` / ``*_instanceTrainIds.png`` rather
        than ``*_labelIds.png`` / ``*_instanceIds.png``.  Every score is the same; the void classes'
        rows of the confusion matrix (and their priors) are merged into ``unlabeled``.
    Other arguments are :class:`~cityscapesscripts.evaluation.semantic.SemanticAccumulator` 's.
    """

    def __init__(self, preds_train_ids: bool = True, target_train_ids: bool = False, instance_scores: bool = True,
                 label_set: LabelSet = CITYSCAPES, classes: Sequence | None = None, protocol: str | None = None,
                 **kwargs: Any) -> None:
        super().__init__(**kwargs)
        self.target_train_ids = target_train_ids
        self.settings = dict(label_set=label_set, train_ids=preds_train_ids, instance_scores=instance_scores,
                             classes=classes, protocol=protocol)
        self._new_accumulator()  # wrong settings fail here, not at the first update

    def _new_accumulator(self) -> SemanticAccumulator:
        return SemanticAccumulator(**self.settings)

    def update(self, preds, target, instances=None) -> None:
        part = self._new_accumulator()
        if preds.ndim == 4:
            preds = preds.argmax(dim=1)
        _check_batch(preds, target, "preds", "target")
        if instances is not None:
            _check_batch(instances, target, "instances", "target")
        label_set = part.label_set
        for k in range(len(target)):
            gt, inst = target[k], None if instances is None else instances[k]
            if self.target_train_ids:
                gt, inst = _label_ids_of_train_ids(gt, inst, label_set)
            part.add(preds[k], gt, inst)
        self._keep(part)


class CityscapesInstance(_AccumulatorMetric):
    """Instance-level AP (``evalInstanceLevelSemanticLabeling``): AP and AP50, overall and per class.

    ``update(preds, target)``: ``preds`` a list with one dict per image, ``{"masks": (N, H, W) bool,
    "labels": (N,), "scores": (N,)}`` (torchmetrics' detection format); ``target`` (B, H, W) instance
    ids (``*_instanceIds.png``: label id * 1000 + k), or a list of (H, W).

    train_id_labels : ``labels`` are train ids (a detector's classes in the train-id order); False: label ids.
    target_train_ids : ``target`` is ``*_instanceTrainIds.png`` (train id * 1000 + k).
    """

    def __init__(self, train_id_labels: bool = False, target_train_ids: bool = False,
                 label_set: LabelSet = CITYSCAPES, **kwargs: Any) -> None:
        super().__init__(**kwargs)
        self.train_id_labels, self.target_train_ids = train_id_labels, target_train_ids
        self.settings = dict(label_set=label_set)
        self._new_accumulator()

    def _new_accumulator(self) -> InstanceAccumulator:
        return InstanceAccumulator(**self.settings)

    def update(self, preds: Sequence[dict], target) -> None:
        if len(preds) != len(target):
            raise ValueError(f"{len(preds)} predictions but {len(target)} targets")
        part = self._new_accumulator()
        label_set = part.label_set
        for k, (image, ids) in enumerate(zip(preds, target)):
            missing = {"masks", "labels", "scores"} - set(image)
            if missing:
                raise ValueError(f"prediction {k} lacks {sorted(missing)}: expected masks, labels and scores")
            labels = np.asarray(tensors.as_numpy(image["labels"])).astype(np.int64).reshape(-1)
            if self.train_id_labels:
                labels = _train_ids_to_ids(labels, label_set, f"prediction {k} labels")
            if self.target_train_ids:
                _, ids = _label_ids_of_train_ids(None, ids, label_set)
            part.add(image["masks"], labels.tolist(), image["scores"], ids)
        self._keep(part)


class CityscapesPanoptic(_AccumulatorMetric):
    """Panoptic quality (``evalPanopticSemanticLabeling``): PQ, SQ, RQ for all, things and stuff, per class.

    ``update(preds, target)``: per image a ``(id map, segments_info)`` pair, as COCO panoptic gives them:
    (H, W) segment ids or (H, W, 3) colours, and the list of ``{"id", "category_id"}`` dicts (ground
    truth also ``"area"`` and ``"iscrowd"``: what ``csCreatePanopticImgs`` writes).

    categories : ``{category id: {"id", "name", "isthing"}}`` or the list of the panoptic JSON's
    ``categories``; default: those ``csCreatePanopticImgs`` writes (the label set's evaluated classes,
    by label id).
    """

    def __init__(self, categories: dict | Sequence[dict] | None = None, label_set: LabelSet = CITYSCAPES,
                 **kwargs: Any) -> None:
        super().__init__(**kwargs)
        if categories is None:
            categories = panoptic_categories(label_set)
        if not isinstance(categories, dict):
            categories = {c["id"]: c for c in categories}
        self.settings = dict(categories=categories, label_set=label_set)

    def _new_accumulator(self) -> PanopticAccumulator:
        return PanopticAccumulator(**self.settings)

    def update(self, preds: Sequence[tuple], target: Sequence[tuple]) -> None:
        if len(preds) != len(target):
            raise ValueError(f"{len(preds)} predictions but {len(target)} targets")
        part = self._new_accumulator()
        for (pred_ids, pred_segments), (gt_ids, gt_segments) in zip(preds, target):
            part.add(pred_ids, pred_segments, gt_ids, gt_segments)
        self._keep(part)


def _check_batch(value, target, name, target_name) -> None:
    if tuple(value.shape) != tuple(target.shape) or len(target.shape) != 3:
        raise ValueError(f"{name} must be (B, H, W) like {target_name}, got {tuple(value.shape)} and "
                         f"{tuple(target.shape)}")


def _train_ids_to_ids(train_ids: np.ndarray, label_set: LabelSet, what: str) -> np.ndarray:
    known = (train_ids >= 0) & (train_ids < 255)
    known[known] = label_set.known_train_ids[train_ids[known]]
    if not known.all():
        raise ValueError(f"{what} has values that are no train ids: {sorted(set(train_ids[~known].tolist()))[:10]}")
    return label_set.train_id_to_id[train_ids].astype(np.int64)


def _label_ids_of_train_ids(labels, instances, label_set: LabelSet):
    """Train-id ground truth as label ids: labels by the label set's table (void, 255, to
    ``unlabeled``), instances ``train id * 1000 + k`` to ``label id * 1000 + k``, on their device."""
    table = label_set.train_id_to_id.astype(np.int64)
    if labels is not None:
        labels = _lookup(labels, table)
    if instances is not None:
        instances = _as_tensor(instances, labels).long()
        train_id = torch.div(instances, 1000, rounding_mode="floor")
        mapped = _lookup(train_id.clamp(max=255), table) * 1000 + instances % 1000
        instances = torch.where(instances >= 1000, mapped, _lookup(instances.clamp(max=255), table))
    return labels, instances


def _as_tensor(value, like):
    if isinstance(value, torch.Tensor):
        return value
    return torch.as_tensor(np.asarray(value), device=like.device if isinstance(like, torch.Tensor) else None)


def _lookup(values, table: np.ndarray):
    values = _as_tensor(values, None).long()
    return torch.as_tensor(table, device=values.device)[values]
