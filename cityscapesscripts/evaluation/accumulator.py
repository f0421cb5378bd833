"""The shape every evaluator shares: add images, merge partial states, compute the result.

An accumulator holds a summable state (a confusion matrix, instance
matches, PQ counters).  ``add`` puts one image into it, predictions first
and ground truth second (the ``update(preds, target)`` order of torchmetrics);
``merge`` (or ``+=``) adds another accumulator's state, from another process
or rank; ``result`` computes the original tool's result dict; ``reset``
empties it.  Accumulators pickle, so a pool or ``torch.distributed.all_gather_object``
can send them back to be merged.

A new evaluator subclasses :class:`Accumulator` and defines ``add``,
``result``, ``settings`` (what changes its results, compared by ``merge``),
``_reset_state`` and ``_merge_state``, and converts its arrays with
:func:`integer_array`: callers pass what they have (any integer dtype, a
CPU tensor), the kernels get the one dtype they take.
"""
import uuid
from typing import Any

import numpy as np

from ..errors import ImageError


class Accumulator:
    """Base class of the evaluators' accumulators; ``images`` counts the images added."""

    def __init__(self, label_set) -> None:
        self.label_set = label_set
        self.reset()

    # ---- for subclasses ------------------------------------------------------
    def add(self, *predictions_then_ground_truth, name=None) -> None:  # pragma: no cover - documented interface
        """Add one image: its predictions, then its ground truth."""
        raise NotImplementedError

    def result(self) -> dict:  # pragma: no cover - documented interface
        """The result dict of the original tool."""
        raise NotImplementedError

    def settings(self) -> dict[str, Any]:
        """``{name: value}`` of the settings that change results; ``merge`` requires them equal."""
        return {}

    def _reset_state(self):  # pragma: no cover - documented interface
        raise NotImplementedError

    def _merge_state(self, other):  # pragma: no cover - documented interface
        raise NotImplementedError

    # ---- shared ----------------------------------------------------------------
    def reset(self) -> None:
        """Forget every image added; the settings stay."""
        self.images = 0
        self._reset_state()

    def merge(self, other: "Accumulator") -> "Accumulator":
        """Add the state of ``other`` (same class, label set and settings); returns self."""
        if type(other) is not type(self):
            raise TypeError(f"cannot merge a {type(other).__name__} into a {type(self).__name__}")
        if other.label_set != self.label_set:
            raise ValueError("cannot merge accumulators of different label sets")
        mine, theirs = self.settings(), other.settings()
        differ = sorted(k for k in mine if not _equal(mine[k], theirs.get(k)))
        if differ:
            raise ValueError("cannot merge accumulators whose settings differ: "
                             + ", ".join(f"{k} {mine[k]!r} vs {theirs.get(k)!r}" for k in differ))
        self._merge_state(other)
        self.images += other.images
        return self

    def __iadd__(self, other: "Accumulator") -> "Accumulator":
        return self.merge(other)

    def _image_name(self, name):
        """``name``, or a name no other image of any process has: ``image <random hex>``."""
        return name if name is not None else f"image {uuid.uuid4().hex}"


def _equal(a, b):
    if isinstance(a, np.ndarray) or isinstance(b, np.ndarray):
        return np.array_equal(np.asarray(a), np.asarray(b))
    return a == b


def disjoint_update(mine, theirs, what):
    """``mine.update(theirs)`` for per-image tables; an image in both is an error (merged twice?)."""
    common = [key for key in theirs if key in mine]  # not set(mine): merging frame by frame stays linear
    if common:
        raise ValueError(f"both accumulators hold {what} {sorted(common)[0]!r}: was an image added twice, "
                         "or were two parts merged twice?")
    mine.update(theirs)


def integer_array(value, argument, dtype, name=None, outside="values outside", high=None):
    """``value`` as a C-contiguous ``dtype`` array, checked first: an array of any integer dtype, or
    anything NumPy converts (``__array__``: a CPU tensor, say).

    An :class:`~cityscapesscripts.errors.ImageError` (``name``: the image) names ``argument`` as the caller
    knows it when ``value`` holds no integers, or values ``dtype`` cannot hold (or above ``high``):
    ``{argument} has {outside}: [values]``.

    >>> integer_array(np.array([[7, 26]], np.int64), "prediction", np.uint8)
    array([[ 7, 26]], dtype=uint8)
    """
    array = np.asarray(value)
    dtype = np.dtype(dtype)
    low, high = np.iinfo(dtype).min, np.iinfo(dtype).max if high is None else high
    if array.dtype == dtype and high == np.iinfo(dtype).max:
        return np.ascontiguousarray(array)
    if array.dtype.kind not in "iu":
        raise ImageError(f"{argument} must hold integer ids, got dtype {array.dtype}", name)
    if array.size and (array.min() < low or array.max() > high):
        bad = np.unique(array[(array < low) | (array > high)]).tolist()
        raise ImageError(f"{argument} has {outside}: {bad[:10] + (['...'] if len(bad) > 10 else [])}", name)
    return np.ascontiguousarray(array, dtype=dtype)
