"""What the framework adapters share: class indices to label ids, a frame's ground truth from its files."""
from __future__ import annotations

from typing import Any, Sequence

import numpy as np

from ..errors import ArgumentError, PredictionError
from ..helpers.labelset import CITYSCAPES, LabelSet
from ..io import layout, png


def class_label_ids(class_names: Sequence[str], argument: str, label_set: LabelSet = CITYSCAPES) -> list[int]:
    """The label id of each of a model's classes (its class index -> Cityscapes label id), found by name;
    an :class:`ArgumentError` naming ``argument`` lists the names the label set does not have."""
    unknown = [name for name in class_names if name not in label_set.name2label]
    if unknown:
        raise ArgumentError(f"{argument} has classes that are no label of {label_set.name}: {unknown}")
    return [label_set.name2label[name].id for name in class_names]


def predicted_label_ids(class_indices: Any, label_ids: Sequence[int], name: str) -> list[int]:
    """The label ids of one image's predicted class indices (a tensor, an array or a list); a
    :class:`PredictionError` naming the image when an index is not one of the ``label_ids``' classes."""
    indices = np.asarray(class_indices.tolist() if hasattr(class_indices, "tolist") else class_indices,
                         dtype=np.int64).reshape(-1).tolist()
    outside = sorted({i for i in indices if not 0 <= i < len(label_ids)})
    if outside:
        raise PredictionError(f"predicted class indices outside the {len(label_ids)} classes: {outside[:10]}", name)
    return [label_ids[i] for i in indices]


def semantic_ground_truth(label_ids_path: str, instance_scores: bool) -> tuple[np.ndarray, np.ndarray | None]:
    """A frame's ``labelIds`` map and, for instance scores, its ``instanceIds`` map (the file next to it),
    as the original evaluator reads them."""
    label_ids = png.read_label_map(label_ids_path)
    return label_ids, png.read_ids_16bit(layout.sibling(label_ids_path, "instanceIds")) if instance_scores else None
