"""Counting on torch tensors where they lie: the accumulators' per-image counts on any device.

The accumulators take NumPy arrays and torch tensors.  A tensor on an accelerator (CUDA, MPS,
...) is counted there: the per-pixel work is a few ``torch.bincount`` calls, and only the counts
come to the host (a confusion matrix, per-instance counters, per-mask overlap histograms, segment
pair counts), never a full-size array.  The counts are integers, the same as the compiled
kernels' (:mod:`cityscapesscripts.kernels`), so every score is the same number.

A tensor on the CPU is read as the NumPy array it shares memory with and counted by the compiled
kernels, which are faster there; :data:`COUNT_CPU_TENSORS_IN_TORCH` sends CPU tensors through the
torch counting too (the tests use it to check that counting on machines without an accelerator).

torch is never imported by this package: a tensor can only exist when its caller imported torch,
so :func:`is_tensor` looks in ``sys.modules``.
"""
from __future__ import annotations

import sys
from typing import Any, Callable, Sequence

import numpy as np

from ..errors import ImageError, PredictionError

#: Count CPU tensors with torch instead of the compiled kernels (same numbers, slower on a CPU).
COUNT_CPU_TENSORS_IN_TORCH = False

# masks of one image are counted in chunks of this many pixels in all: at most that many keys (int64)
# when every pixel is inside, 2 GiB of device memory; 128 full-size masks
_CHUNK_PIXELS = 1 << 28


def is_tensor(value: Any) -> bool:
    """Whether ``value`` is a ``torch.Tensor`` (without importing torch)."""
    tensor_type = getattr(sys.modules.get("torch"), "Tensor", None)  # None also for a stand-in without tensors
    return tensor_type is not None and isinstance(value, tensor_type)


def counted_in_torch(*values: Any) -> bool:
    """Whether an image given as ``values`` is counted by torch: one of them is a tensor on an
    accelerator (or on the CPU, with :data:`COUNT_CPU_TENSORS_IN_TORCH`)."""
    return any(is_tensor(v) and (v.device.type != "cpu" or COUNT_CPU_TENSORS_IN_TORCH) for v in values)


def as_numpy(value: Any) -> Any:
    """A CPU tensor as the NumPy array it shares memory with (detached from autograd); a tensor elsewhere
    is copied to the host; anything else is returned as it is."""
    if is_tensor(value):
        return value.detach().cpu().numpy()
    return value


def checked_tensors(named: Sequence[tuple[str, Any]], name: str | None, error: type = ImageError) -> list:
    """The tensors (or arrays) of one image on one device, as tensors with integer (or bool) values.

    ``named``: ``(argument, value)`` pairs, None values skipped; the first tensor's device is the
    image's.  An array or a list becomes a tensor on that device; a tensor on another device, or of
    floating-point or complex values, is an ``error`` naming the argument and the image ``name``."""
    import torch
    device = next(v.device for _, v in named if is_tensor(v))
    out = []
    for argument, value in named:
        if value is None:
            out.append(None)
            continue
        if not is_tensor(value):
            value = torch.as_tensor(np.asarray(value), device=device)
        elif value.device != device:
            raise error(f"{argument} is on {value.device} but {named[0][0]} on {device}: put the tensors of an "
                        "image on one device", name)
        if value.dtype.is_floating_point or value.dtype.is_complex:
            raise error(f"{argument} must hold integers (or bools), got dtype {str(value.dtype)[6:]}", name)
        out.append(value.detach())
    return out


def check_range(tensor, argument: str, low: int, high: int, name: str | None, outside: str = "values outside",
                error: type = ImageError) -> None:
    """An ``error`` as :func:`~.accumulator.integer_array` words it when ``tensor`` has values outside
    ``low..high`` (one host synchronisation; none for a dtype that cannot hold such values)."""
    import torch
    if tensor.numel() == 0 or tensor.dtype == torch.bool:
        return
    info = torch.iinfo(tensor.dtype)
    if info.min >= low and info.max <= high:
        return
    lowest, highest = (int(v) for v in torch.aminmax(tensor))
    if lowest < low or highest > high:
        bad = torch.unique(tensor[(tensor < low) | (tensor > high)]).tolist()
        raise error(f"{argument} has {outside}: {bad[:10] + (['...'] if len(bad) > 10 else [])}", name)


def values_present(tensor, size: int) -> np.ndarray:
    """The values present in a tensor of values in ``0..size-1``, ascending (one small host copy)."""
    import torch
    return torch.nonzero(torch.bincount(tensor.reshape(-1).long(), minlength=size)).reshape(-1).cpu().numpy()


# ---- pixel-level semantic ----------------------------------------------------------------------
def semantic_counts(prediction, ground_truth, instances, category_of: np.ndarray,
                    id_of_prediction: np.ndarray | None) -> Callable:
    """A ``count`` of :meth:`~.semantic.SemanticAccumulator.count_image` for tensors of one image: the
    confusion counts and per-instance counters on the tensors' device, added to the host arrays
    that ``count`` is given.

    prediction, ground_truth : (H, W) checked integer tensors, values in 0..255; instances : (H, W)
    in 0..65535 or None; category_of : (256,) the instance category of each label id (-1: none), the
    rows of the kernels' ``same_category`` table; id_of_prediction : (256,) the label id of each
    prediction value (train ids), None for label ids."""
    import torch
    device = ground_truth.device
    pred = prediction.reshape(-1).long()
    if id_of_prediction is not None:
        pred = torch.tensor(np.asarray(id_of_prediction, np.int64), device=device)[pred]
    gt = ground_truth.reshape(-1).long()
    conf_counts = torch.bincount(gt * 256 + pred, minlength=256 * 256)
    instance_counts = None
    if instances is not None:
        inst = instances.reshape(-1).long()
        label = torch.div(inst, 1000, rounding_mode="floor")
        category = torch.tensor(np.asarray(category_of, np.int64), device=device)
        label_category = category[label]
        same_category = (label_category == category[pred]) & (label_category >= 0)
        # one histogram of (instance, prediction is its class, prediction is in its category)
        key = inst * 4 + (pred == label).long() + 2 * same_category.long()
        by_kind = torch.bincount(key, minlength=65536 * 4).reshape(65536, 4)
        size = by_kind.sum(dim=1)
        present = torch.nonzero(size).reshape(-1)
        instance_counts = torch.stack([present, size[present], by_kind[present, 1] + by_kind[present, 3],
                                       by_kind[present, 2] + by_kind[present, 3]]).cpu().numpy()
    conf_host = conf_counts.reshape(256, 256).cpu().numpy()

    def count(same_category_table, conf, inst_size, inst_tp, inst_tp_category):
        conf += conf_host
        if instance_counts is not None:
            ids, size_, tp, tp_category = instance_counts
            inst_size[ids] += size_
            inst_tp[ids] += tp
            inst_tp_category[ids] += tp_category
    return count


# ---- instance-level ---------------------------------------------------------------------------
class MaskCounts:
    """A predicted mask already counted: its pixels and the ground-truth ids under them (``ids``, ``counts``)."""

    __slots__ = ("pixels", "ids", "counts")

    def __init__(self, pixels: int, ids: np.ndarray, counts: np.ndarray):
        self.pixels, self.ids, self.counts = pixels, ids, counts

    def add_to(self, hist: np.ndarray) -> tuple[int, np.ndarray]:
        """``hist[ids] += counts``: what counting the mask over the ground truth adds; ``(pixels, ids)``."""
        hist[self.ids] += self.counts
        return self.pixels, self.ids


def instance_counts(masks, ground_truth, counted: Sequence[int], name: str | None):
    """The ground truth's id counts and each counted mask's overlap, on the tensors' device.

    masks : (N, H, W) checked tensor (non-zero = inside; None when there are none), ground_truth :
    (H, W) ids in 0..65535, counted : the indices of the masks to count (those of evaluated classes).  Returns
    ``(gt_ids, gt_counts, {index: MaskCounts})`` as NumPy arrays."""
    import torch
    if masks is not None and (masks.dim() != 3 or tuple(masks.shape[1:]) != tuple(ground_truth.shape)):
        raise PredictionError(f"masks must be (N, H, W) with the ground truth's (H, W) {tuple(ground_truth.shape)}, "
                              f"got {tuple(masks.shape)}", name)
    ground_truth = ground_truth.reshape(-1).long()
    counts = torch.bincount(ground_truth, minlength=65536)  # no sort (torch.unique): one pass
    gt_ids = torch.nonzero(counts).reshape(-1)
    gt_counts = counts[gt_ids]
    segments = gt_ids.numel()
    out = {}
    if counted and segments:
        segment_of = torch.zeros(65536, dtype=torch.int64, device=ground_truth.device)
        segment_of[gt_ids] = torch.arange(segments, device=ground_truth.device)
        inverse = segment_of[ground_truth]
        all_counted = list(counted) == list(range(len(masks)))
        chosen = torch.as_tensor(list(counted), dtype=torch.int64, device=masks.device)
        pixels = inverse.numel()
        per_chunk = max(1, _CHUNK_PIXELS // max(pixels, 1))
        overlaps = []
        for start in range(0, len(counted), per_chunk):
            chunk = masks[start:start + per_chunk] if all_counted else masks.index_select(0, chosen[start:start + per_chunk])
            chunk = chunk.reshape(-1, pixels) != 0
            n = chunk.shape[0]
            # only the masks' own pixels: key of a pixel inside mask k is k * segments + its ground-truth segment
            mask_index, pixel = torch.nonzero(chunk, as_tuple=True)
            key = mask_index * segments + inverse[pixel]
            overlaps.append(torch.bincount(key, minlength=n * segments).reshape(n, segments))
        table = torch.cat(overlaps).cpu().numpy()
        host_ids = gt_ids.cpu().numpy().astype(np.int64)
        for row, index in zip(table, counted):
            touched = np.flatnonzero(row)
            out[index] = MaskCounts(int(row.sum()), host_ids[touched], row[touched])
    return gt_ids.cpu().numpy().astype(np.int64), gt_counts.cpu().numpy().astype(np.int64), out


# ---- panoptic ---------------------------------------------------------------------------------
def segment_ids(ids):
    """An id map as int64 segment ids on its device: (H, W, 3) colours R + 256 G + 65536 B, or (H, W) ids."""
    ids = ids.long()
    if ids.dim() == 3:
        return ids[..., 0] + 256 * ids[..., 1] + 65536 * ids[..., 2]
    return ids


def segment_pair_counts(gt_ids, pred_ids) -> Callable:
    """A ``pair_counts(gt_keys, pred_keys)`` of :func:`~.panoptic.segment_stat` for two (H, W) int64
    segment-id tensors: :func:`cityscapesscripts.kernels.segment_pair_counts`' ``(counts, unknown)``,
    counted on their device."""
    import torch

    def pair_counts(gt_keys, pred_keys):
        device = gt_ids.device
        g_keys = torch.as_tensor(np.asarray(gt_keys, np.int64), device=device)
        p_keys = torch.as_tensor(np.asarray(pred_keys, np.int64), device=device)
        g, p = gt_ids.reshape(-1), pred_ids.reshape(-1)
        gi, pi = _index_in(g_keys, g), _index_in(p_keys, p)
        columns = len(pred_keys) + 1
        counts = torch.bincount(gi * columns + pi, minlength=(len(gt_keys) + 1) * columns)
        counts = counts.reshape(len(gt_keys) + 1, columns).cpu().numpy()
        unknown = -1
        if counts[:, -1].any():  # a predicted id missing from the keys: the first in raster order
            missing = pi == len(pred_keys)
            unknown = int(p[int(torch.argmax(missing.to(torch.uint8)))])
        return counts, unknown
    return pair_counts


def _index_in(keys, values):
    """Index of each value in the sorted ``keys``, ``len(keys)`` where absent."""
    import torch
    if keys.numel() == 0:
        return torch.zeros_like(values)
    position = torch.searchsorted(keys, values).clamp_(max=keys.numel() - 1)
    return torch.where(keys[position] == values, position, keys.numel())
