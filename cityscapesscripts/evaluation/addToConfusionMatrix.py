"""The original's compiled confusion-matrix helper, by its name (``evalPixelLevelSemanticLabeling.CSUPPORT``)."""
import numpy as np

from cityscapesscripts import kernels
from cityscapesscripts.errors import ImageError


def cEvaluatePair(predictionArr, groundTruthArr, confMatrix, evalLabels):
    """Add one image's (ground truth, prediction) pixel counts to ``confMatrix``; returns it.

    predictionArr, groundTruthArr : (H, W) uint8 label ids; confMatrix : (N, N)
    with ground truth along the rows.  ``evalLabels`` is accepted as the
    original did; every id must be below N.
    """
    conf = np.zeros((256, 256), dtype=np.int64)
    unused = np.zeros(1, dtype=np.int64)
    kernels.pixel_counts(groundTruthArr, predictionArr, None, np.zeros((256, 256), dtype=np.uint8), conf,
                         unused, unused, unused)
    n = confMatrix.shape[0]
    if conf[n:].any() or conf[:, n:].any():
        raise ImageError(f"label ids of {n} or more do not fit the {n}x{n} confusion matrix")
    confMatrix += conf[:n, :n].astype(confMatrix.dtype)
    return confMatrix
