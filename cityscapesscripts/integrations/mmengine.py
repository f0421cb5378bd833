"""mmengine metrics (mmsegmentation / mmdetection 3.x) with the original toolkit's numbers, no temporary files.

A config names them instead of mmseg's ``CityscapesMetric`` / ``IoUMetric`` or mmdet's
``CityScapesMetric`` after importing this module, which registers them in mmengine's ``METRICS``
(mmseg's and mmdet's registries find them there)::

    custom_imports = dict(imports=["cityscapesscripts.integrations.mmengine"], allow_failed_imports=False)
    val_evaluator = dict(type="CityscapesSemanticMetric")      # mmseg
    val_evaluator = dict(type="CityscapesInstanceMetric")      # mmdet

``process`` adds each data sample to an accumulator of its own (its tensors stay on their device; the
ground truth is read from the sample's files, as the original evaluators read it) and keeps it in
``self.results``; mmengine's ``collect_results`` gathers them from the ranks, in sample order and
without the samples a distributed sampler repeats, and ``compute_metrics`` merges them.
"""
from __future__ import annotations

import functools
import operator
from typing import Any, Sequence

import numpy as np

from ..errors import ArgumentError
from ..evaluation.instance_ap import InstanceAccumulator
from ..evaluation.semantic import SemanticAccumulator, score_average
from ..io import layout, png
from .common import class_label_ids, predicted_label_ids, semantic_ground_truth

try:
    from mmengine.evaluator import BaseMetric
    from mmengine.registry import METRICS
except ImportError as e:
    raise ImportError(f"cityscapesscripts.integrations.mmengine needs mmengine ({e}): "
                      "pip install mmengine") from e

#: The key of the original toolkit's whole result dict among the metrics (``full_result=True``).
FULL_RESULT_KEY = "cityscapes_result"


def _sample_field(sample: dict, key: str) -> Any:
    """``sample[key]``, or an :class:`ArgumentError` saying which key the data sample lacks."""
    if key not in sample:
        raise ArgumentError(f"the data sample has no {key!r} (keys: {sorted(sample)})", sample.get("img_path"))
    return sample[key]


def _merged(empty, parts):
    """``empty`` with every accumulator of ``parts`` merged into it; an error when there are none."""
    parts = list(parts)
    if not parts:
        raise ArgumentError("nothing to evaluate: no data sample was processed")
    return functools.reduce(operator.iadd, parts, empty)


class CityscapesSemanticMetric(BaseMetric):
    """Pixel-level Cityscapes evaluation of mmsegmentation's ``pred_sem_seg``.

    Reports mmseg's ``IoUMetric`` keys ``aAcc``, ``mIoU``, ``mAcc`` (percent, two decimals, as mmseg
    rounds them), its ``CityscapesMetric`` keys ``averageScoreCategories`` and
    ``averageScoreInstCategories`` and the class means ``averageScoreClasses``,
    ``averageScoreInstClasses``, all from one confusion matrix over label ids; with ``full_result``,
    the original's result dict under ``cityscapes_result``.

    Parameters
    ----------
    train_ids : bool
        The predictions are train ids (mmseg's 19 classes; the default) rather than label ids.
    instance_scores : bool
        Compute iIoU, from each frame's ``*_gtFine_instanceIds.png``.
    full_result : bool
        Add the whole result dict (confusion matrix, per-class scores) to the metrics; mmengine
        writes it into the validation log line.
    collect_device, prefix :
        As mmengine's ``BaseMetric``.

    The ground truth of a sample is read from its ``seg_map_path``'s folder: ``*_gtFine_labelIds.png``
    (mmseg's ``CityscapesMetric`` does the same) and ``*_gtFine_instanceIds.png``.
    """

    default_prefix: str | None = None

    def __init__(self, train_ids: bool = True, instance_scores: bool = True, full_result: bool = True,
                 collect_device: str = "cpu", prefix: str | None = None) -> None:
        super().__init__(collect_device=collect_device, prefix=prefix)
        self.train_ids = train_ids
        self.instance_scores = instance_scores
        self.full_result = full_result

    def _accumulator(self) -> SemanticAccumulator:
        return SemanticAccumulator(train_ids=self.train_ids, instance_scores=self.instance_scores)

    def process(self, data_batch: Any, data_samples: Sequence[dict]) -> None:
        """Add each sample: ``pred_sem_seg["data"]`` ((1, H, W) or (H, W) ids) against its ground-truth files."""
        for sample in data_samples:
            prediction = _sample_field(sample, "pred_sem_seg")["data"]
            if prediction.ndim == 3 and prediction.shape[0] == 1:
                prediction = prediction[0]
            label_ids_path = layout.sibling(_sample_field(sample, "seg_map_path"), "labelIds")
            ground_truth, instances = semantic_ground_truth(label_ids_path, self.instance_scores)
            accumulator = self._accumulator()
            accumulator.add(prediction, ground_truth, instances, name=sample.get("img_path"),
                            ground_truth_name=label_ids_path)
            self.results.append(accumulator)

    def compute_metrics(self, results: list) -> dict:
        """mmseg's keys and the Cityscapes averages of the merged accumulators (see the class)."""
        accumulator = _merged(self._accumulator(), results)
        result = accumulator.result()
        conf = accumulator.conf
        evaluated = [i for i in accumulator.eval_ids if not accumulator.label_set.id2label[i].ignoreInEval]
        correct = conf[evaluated, evaluated]
        per_class = conf[evaluated].sum(axis=1)
        with np.errstate(invalid="ignore", divide="ignore"):
            accuracy = correct / per_class
        metrics = {"aAcc": _percent(correct.sum() / per_class.sum()),
                   "mIoU": _percent(result["averageScoreClasses"]),
                   "mAcc": _percent(score_average(dict(enumerate(accuracy.tolist()))))}
        for key in ("averageScoreClasses", "averageScoreInstClasses", "averageScoreCategories",
                    "averageScoreInstCategories"):
            metrics[key] = result[key]
        if self.full_result:
            metrics[FULL_RESULT_KEY] = result
        return metrics


class CityscapesInstanceMetric(BaseMetric):
    """Instance-level Cityscapes evaluation (AP) of mmdetection's ``pred_instances``.

    Reports mmdet's ``CityScapesMetric`` keys ``mAP`` and ``AP@50`` (fractions, prefixed
    ``cityscapes/`` as mmdet's are) and, with ``full_result``, the original's result dict under
    ``cityscapes/cityscapes_result``.

    Parameters
    ----------
    full_result : bool
        Add the whole result dict (AP per class and overlap) to the metrics.
    collect_device, prefix :
        As mmengine's ``BaseMetric``.

    A sample's ``pred_instances`` gives ``masks`` ((N, H, W) bool), ``labels`` (indices into the
    dataset's ``classes``, which name Cityscapes labels) and ``mask_scores`` or else ``scores``; its
    ground truth is the ``*_gtFine_instanceIds.png`` of its ``img_path`` (``leftImg8bit`` ->
    ``gtFine``), as mmdet finds it.
    """

    default_prefix: str | None = "cityscapes"

    def __init__(self, full_result: bool = True, collect_device: str = "cpu", prefix: str | None = None) -> None:
        super().__init__(collect_device=collect_device, prefix=prefix)
        self.full_result = full_result

    @staticmethod
    def _accumulator() -> InstanceAccumulator:
        return InstanceAccumulator()

    def process(self, data_batch: Any, data_samples: Sequence[dict]) -> None:
        """Add each sample's predicted masks against its ``instanceIds`` file."""
        classes = (self.dataset_meta or {}).get("classes")
        if classes is None:
            raise ArgumentError("CityscapesInstanceMetric needs dataset_meta['classes'] (the Evaluator sets it "
                                "from the dataset) to turn predicted class indices into Cityscapes labels")
        label_ids = class_label_ids(classes, "dataset_meta['classes']")
        for sample in data_samples:
            image = _sample_field(sample, "img_path")
            prediction = _sample_field(sample, "pred_instances")
            scores = prediction["mask_scores"] if "mask_scores" in prediction else prediction["scores"]
            ground_truth = png.read_ids_16bit(layout.camera_ground_truth(image, "instanceIds"))
            accumulator = self._accumulator()
            accumulator.add(prediction["masks"], predicted_label_ids(prediction["labels"], label_ids, image),
                            scores, ground_truth, name=image)
            self.results.append(accumulator)

    def compute_metrics(self, results: list) -> dict:
        """``mAP``, ``AP@50`` (and the result dict) of the merged accumulators."""
        result = _merged(self._accumulator(), results).result()
        metrics = {"mAP": result["averages"]["allAp"], "AP@50": result["averages"]["allAp50%"]}
        if self.full_result:
            metrics[FULL_RESULT_KEY] = result
        return metrics


def _percent(fraction: float) -> float:
    """A fraction as mmseg reports it: percent, rounded to two decimals."""
    return float(np.round(fraction * 100, 2))


for _metric in (CityscapesSemanticMetric, CityscapesInstanceMetric):
    METRICS.register_module(module=_metric)
