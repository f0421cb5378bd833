"""Drop-in replacements of detectron2's Cityscapes evaluators: the same results, no temporary files.

detectron2's ``CityscapesSemSegEvaluator`` and ``CityscapesInstanceEvaluator`` write every prediction
(every predicted mask) as a PNG into a temporary folder and run the original toolkit on the files,
on the main process of one machine.  These classes take the same ``dataset_name``, add each
output to an accumulator in memory (tensors stay on their device) and gather the accumulators of all
ranks with ``detectron2.utils.comm``, so they work across machines; ``evaluate`` returns detectron2's
dict on the main process (None elsewhere, as detectron2's), and keeps the original toolkit's whole
result dict in ``cityscapes_result``.

The ground truth of an input is read from the dataset's ``gt_dir`` (``.../gtFine/val``), the file of
the frame its ``file_name`` names, as the original evaluator reads it.  Unlike detectron2's, which
evaluates every ground truth under ``gt_dir``, these evaluate the images processed.
"""
from __future__ import annotations

import functools
import operator
from collections import OrderedDict
from typing import Any, Sequence

from ..errors import ArgumentError
from ..evaluation.accumulator import Accumulator
from ..evaluation.instance_ap import InstanceAccumulator
from ..evaluation.semantic import SemanticAccumulator
from ..io import layout, png
from .common import class_label_ids, predicted_label_ids, semantic_ground_truth

try:
    from detectron2.data import MetadataCatalog
    from detectron2.evaluation import DatasetEvaluator
    from detectron2.utils import comm
except ImportError as e:
    raise ImportError(f"cityscapesscripts.integrations.detectron2 needs detectron2 ({e}): install it as "
                      "https://detectron2.readthedocs.io/en/latest/tutorials/install.html says "
                      "(it is not on the package index)") from e


class _CityscapesEvaluator(DatasetEvaluator):
    """One accumulator per rank, gathered to the main process by :meth:`evaluate`."""

    def __init__(self, dataset_name: str) -> None:
        metadata = MetadataCatalog.get(dataset_name)
        gt_dir = getattr(metadata, "gt_dir", None)
        if gt_dir is None:
            raise ArgumentError(f"dataset {dataset_name!r} has no 'gt_dir' in its metadata (the folder of its "
                                "ground truth, such as cityscapes/gtFine/val)")
        self._metadata = metadata
        self._gt_dir = gt_dir
        self.cityscapes_result: dict | None = None
        self.reset()

    def _new_accumulator(self) -> Accumulator:  # pragma: no cover - defined by the subclasses
        raise NotImplementedError

    def reset(self) -> None:
        self._accumulator = self._new_accumulator()
        self.cityscapes_result = None

    def _ground_truth_path(self, image: dict, modality: str) -> str:
        """The ``modality`` file of the frame ``image["file_name"]`` names, in ``gt_dir``."""
        return layout.split_file(self._gt_dir, layout.frame_id(image["file_name"]), modality)

    def _gathered_result(self) -> dict | None:
        """The original's result dict of every rank's images, on the main process; None elsewhere."""
        comm.synchronize()
        parts = comm.gather(self._accumulator, dst=0)
        if not comm.is_main_process():
            return None
        if not any(part.images for part in parts):
            raise ArgumentError("nothing to evaluate: no image was processed")
        self.cityscapes_result = functools.reduce(operator.iadd, parts, self._new_accumulator()).result()
        return self.cityscapes_result


class CityscapesSemSegEvaluator(_CityscapesEvaluator):
    """Pixel-level evaluation of ``output["sem_seg"]`` ((C, H, W) scores of the 19 train ids).

    ``evaluate()`` returns ``{"sem_seg": {"IoU", "iIoU", "IoU_sup", "iIoU_sup"}}`` (percent), as
    detectron2's; ``instance_scores=False`` skips iIoU (NaN) and the ``instanceIds`` files.
    """

    def __init__(self, dataset_name: str, instance_scores: bool = True) -> None:
        self._instance_scores = instance_scores
        super().__init__(dataset_name)

    def _new_accumulator(self) -> SemanticAccumulator:
        return SemanticAccumulator(train_ids=True, instance_scores=self._instance_scores)

    def process(self, inputs: Sequence[dict], outputs: Sequence[dict]) -> None:
        for image, output in zip(inputs, outputs):
            label_ids_path = self._ground_truth_path(image, "labelIds")
            ground_truth, instances = semantic_ground_truth(label_ids_path, self._instance_scores)
            prediction = output["sem_seg"].argmax(dim=0)  # on the scores' device
            self._accumulator.add(prediction, ground_truth, instances, name=image["file_name"],
                                  ground_truth_name=label_ids_path)

    def evaluate(self) -> dict | None:
        result = self._gathered_result()
        if result is None:
            return None
        return OrderedDict(sem_seg={"IoU": 100.0 * result["averageScoreClasses"],
                                    "iIoU": 100.0 * result["averageScoreInstClasses"],
                                    "IoU_sup": 100.0 * result["averageScoreCategories"],
                                    "iIoU_sup": 100.0 * result["averageScoreInstCategories"]})


class CityscapesInstanceEvaluator(_CityscapesEvaluator):
    """Instance-level evaluation (AP) of ``output["instances"]`` (``pred_masks``, ``pred_classes``
    indexing the dataset's ``thing_classes``, ``scores``).

    ``evaluate()`` returns ``{"segm": {"AP", "AP50"}}`` (percent), as detectron2's.
    """

    def __init__(self, dataset_name: str) -> None:
        super().__init__(dataset_name)
        self._label_ids = class_label_ids(self._metadata.thing_classes, f"the thing_classes of {dataset_name!r}")

    def _new_accumulator(self) -> InstanceAccumulator:
        return InstanceAccumulator()

    def process(self, inputs: Sequence[dict], outputs: Sequence[dict]) -> None:
        for image, output in zip(inputs, outputs):
            name = image["file_name"]
            ground_truth = png.read_ids_16bit(self._ground_truth_path(image, "instanceIds"))
            masks: Any = []
            labels: list[int] = []
            scores: Any = []
            if "instances" in output:  # no instances: an image without detections, its ground truth missed
                instances = output["instances"]
                masks, scores = instances.pred_masks, instances.scores
                labels = predicted_label_ids(instances.pred_classes, self._label_ids, name)
            self._accumulator.add(masks, labels, scores, ground_truth, name=name)

    def evaluate(self) -> dict | None:
        result = self._gathered_result()
        if result is None:
            return None
        averages = result["averages"]
        return OrderedDict(segm={"AP": 100.0 * averages["allAp"], "AP50": 100.0 * averages["allAp50%"]})
