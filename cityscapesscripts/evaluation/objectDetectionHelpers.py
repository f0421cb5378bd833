"""Helpers of the 3D detection evaluation under their original names: evaluation
parameters, the IoU and ignore-overlap matrices, and the recursive file search."""
import os
from typing import List  # noqa: F401  (the original module's namespace)

import numpy as np  # noqa: F401  (the original module's namespace)

from .box3d import iou_matrix as calcIouMatrix, overlap_matrix as calcOverlapMatrix  # noqa: F401 (original names)

MATCHING_AMODAL = 0
MATCHING_MODAL = 1


class EvaluationParameters:
    """Settings of a 3D detection evaluation (read-only but for ``cw``).

    ``labels_to_evaluate``; ``min_iou_to_match`` (a TP needs IoU above it);
    ``max_depth`` and ``step_size`` (m, DDTP depth bins); ``matching_method``
    (``MATCHING_AMODAL`` or ``MATCHING_MODAL``); ``cw`` (working confidence, -1
    for automatic); ``num_conf`` (thresholds ``np.arange(0, 1.01, 1 / num_conf)``).
    """

    def __init__(self, labels_to_evaluate, min_iou_to_match=0.7, max_depth=100, step_size=5,
                 matching_method=MATCHING_AMODAL, cw=-1., num_conf=50):
        self._labels_to_evaluate = labels_to_evaluate
        self._min_iou_to_match = min_iou_to_match
        self._max_depth = max_depth
        self._step_size = step_size
        self._matching_method = matching_method
        self.cw = cw
        self._num_conf = num_conf

    labels_to_evaluate = property(lambda self: self._labels_to_evaluate)
    min_iou_to_match = property(lambda self: self._min_iou_to_match)
    max_depth = property(lambda self: self._max_depth)
    step_size = property(lambda self: self._step_size)
    matching_method = property(lambda self: self._matching_method)
    num_conf = property(lambda self: self._num_conf)


def getFiles(folder, suffix=".json", exclude=("results.json",)):
    """All files under ``folder`` (recursively) whose names end with ``suffix``, except ``exclude``; sorted."""
    found = []
    for root, _, names in os.walk(folder):
        found.extend(os.path.join(root, name) for name in names if name.endswith(suffix) and name not in exclude)
    return sorted(found)
