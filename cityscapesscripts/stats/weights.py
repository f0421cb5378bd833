"""Class weights for a segmentation loss, from pixel counts, in the schemes training code uses.

With ``pixels[c]`` the pixels of class ``c``, ``T`` their sum over the weighted classes, ``K`` the
number of those classes with pixels and ``image_pixels[c]`` the pixels of the images in which ``c`` is present:

* ``inverse_frequency``: ``T / (K * pixels[c])`` (1 for every class when all are equally frequent;
  scikit-learn's "balanced");
* ``median_frequency`` (SegNet, Eigen and Fergus): ``freq[c] = pixels[c] / image_pixels[c]``,
  weight ``median(freq) / freq[c]``, the median over the classes present;
* ``enet`` (ENet, Paszke et al.): ``1 / ln(1.02 + pixels[c] / T)``;
* ``inverse_sqrt``: ``sqrt(T / pixels[c])``.

A class without pixels gets weight 0 in every scheme: it adds no term to the loss, and a
JSON file cannot hold infinity.
"""
from __future__ import annotations

import math
from typing import Any, Sequence

import numpy as np

SCHEMES = ("inverse_frequency", "median_frequency", "enet", "inverse_sqrt")
ENET_C = 1.02


def class_weights(pixels: Sequence[int], image_pixels: Sequence[int]) -> dict[str, list[float]]:
    """``{scheme: [weight per class]}`` for :data:`SCHEMES` (see the module's docstring).

    >>> w = class_weights([30, 10], [40, 40])
    >>> w["inverse_frequency"], w["inverse_sqrt"][1]
    ([0.6666666666666666, 2.0], 2.0)
    """
    pixels = [int(p) for p in pixels]
    image_pixels = [int(p) for p in image_pixels]
    present = [p > 0 for p in pixels]
    total, k = sum(pixels), sum(present)
    freq = [p / q if p > 0 else 0.0 for p, q in zip(pixels, image_pixels)]
    median = float(np.median([f for f, here in zip(freq, present) if here])) if any(present) else 0.0
    return {
        "inverse_frequency": [total / (k * p) if p else 0.0 for p in pixels],
        "median_frequency": [median / f if f else 0.0 for f in freq],
        "enet": [1 / math.log(ENET_C + p / total) if p else 0.0 for p in pixels],
        "inverse_sqrt": [math.sqrt(total / p) if p else 0.0 for p in pixels],
    }


def weights_table(names: Sequence[str], ids: Sequence[int], pixels: Sequence[int],
                  image_pixels: Sequence[int]) -> dict[str, Any]:
    """The weights as ``csStats`` writes them: ``classes`` (names), ``ids`` (the index a loss uses:
    train ids, or label ids), ``pixels``, ``image_pixels`` and one list per scheme, all in ``ids`` order."""
    table: dict[str, Any] = {"classes": list(names), "ids": [int(i) for i in ids],
                             "pixels": [int(p) for p in pixels], "image_pixels": [int(p) for p in image_pixels]}
    table.update(class_weights(pixels, image_pixels))
    return table
