"""The hot loops, compiled (``_kernels.pyx``) or as their NumPy twins.

Each public function validates and shapes its inputs, then calls the Cython
kernel when the extension is built, else the NumPy twin below it, which
states the same result plainly and serves as the test oracle.  Without the
extension the package still works and warns once.
"""
import warnings

import numpy as np

try:
    from . import _kernels
except ImportError:  # pragma: no cover - exercised by the fallback test via HAVE_EXTENSION
    _kernels = None
    warnings.warn("cityscapesscripts: the compiled extension is not built; using the slower NumPy "
                  "kernels (reinstall with 'pip install .' to build it)", RuntimeWarning, stacklevel=2)

HAVE_EXTENSION = _kernels is not None
INSTANCE_ID_SPACE = 65536


def _use_compiled(compiled):
    return HAVE_EXTENSION if compiled is None else compiled


# ---- pixel-level evaluation --------------------------------------------------
def pixel_counts(gt, pred, inst, same_category, conf, inst_size, inst_tp, inst_tp_category, compiled=None):
    """Add one image to the confusion matrix and the per-instance counters.

    gt, pred : (H, W) uint8 label ids; inst : (H, W) uint16 instance ids or None.
    same_category : (256, 256) uint8, 1 where a prediction counts for the
    category of a label.  conf : (256, 256) int64; inst_* : (65536,) int64.
    """
    gt = np.ascontiguousarray(gt, dtype=np.uint8)
    pred = np.ascontiguousarray(pred, dtype=np.uint8)
    with_instances = inst is not None
    inst = np.ascontiguousarray(inst if with_instances else np.zeros((1, 1)), dtype=np.uint16)
    if _use_compiled(compiled):
        _kernels.pixel_counts(gt, pred, inst, same_category, conf, inst_size, inst_tp, inst_tp_category,
                              with_instances)
        return
    conf += np.bincount(gt.ravel().astype(np.int64) * 256 + pred.ravel(), minlength=65536).reshape(256, 256)
    if with_instances:
        ids = inst.ravel()
        keep = ids >= 1000
        ids, p = ids[keep], pred.ravel()[keep]
        label = ids // 1000
        inst_size += np.bincount(ids, minlength=INSTANCE_ID_SPACE)
        inst_tp += np.bincount(ids, weights=(p == label), minlength=INSTANCE_ID_SPACE).astype(np.int64)
        inst_tp_category += np.bincount(ids, weights=same_category[label, p],
                                        minlength=INSTANCE_ID_SPACE).astype(np.int64)


# ---- instance-level evaluation ------------------------------------------------
def mask_histogram(mask, ids, hist, compiled=None):
    """hist[ids[p]] += 1 for each pixel p where mask is non-zero; returns the mask's pixel count.

    mask : (H, W) uint8 (views of a larger array allowed); ids : (H, W) uint16; hist : (65536,) int64.
    """
    if mask.dtype != np.uint8:
        mask = mask.astype(np.uint8)
    if _use_compiled(compiled):
        return _kernels.mask_histogram(mask, ids, hist)
    under = ids[mask != 0]
    hist += np.bincount(under, minlength=INSTANCE_ID_SPACE)
    return int(under.size)


# ---- panoptic evaluation ------------------------------------------------------
def rgb_to_id(rgb):
    """(H, W, 3) uint8 -> (H, W) uint32 ids, R + 256 G + 65536 B."""
    rgb = np.asarray(rgb)
    return (rgb[..., 0].astype(np.uint32) | (rgb[..., 1].astype(np.uint32) << 8)
            | (rgb[..., 2].astype(np.uint32) << 16))


def segment_pair_counts(gt_rgb, pred_rgb, gt_keys, pred_keys, compiled=None):
    """Pixel counts of every (gt segment, pred segment) pair.

    gt_keys, pred_keys : sorted uint32 segment ids.  Returns ``(counts, unknown)``:
    counts (len(gt_keys) + 1, len(pred_keys) + 1) int64 with ids missing from
    the keys counted in the last row / column, and the first pred id missing
    from ``pred_keys`` (-1 if none).
    """
    gt_keys = np.ascontiguousarray(gt_keys, dtype=np.uint32)
    pred_keys = np.ascontiguousarray(pred_keys, dtype=np.uint32)
    counts = np.zeros((len(gt_keys) + 1, len(pred_keys) + 1), dtype=np.int64)
    gt_rgb = np.ascontiguousarray(gt_rgb, dtype=np.uint8)
    pred_rgb = np.ascontiguousarray(pred_rgb, dtype=np.uint8)
    if _use_compiled(compiled):
        unknown = _kernels.segment_pair_counts(gt_rgb, pred_rgb, gt_keys, pred_keys, counts)
        return counts, int(unknown)
    g_ids, p_ids = rgb_to_id(gt_rgb).ravel(), rgb_to_id(pred_rgb).ravel()
    gi = _index_in(gt_keys, g_ids)
    pi = _index_in(pred_keys, p_ids)
    counts += np.bincount(gi * counts.shape[1] + pi, minlength=counts.size).reshape(counts.shape)
    missing = pi == len(pred_keys)
    unknown = int(p_ids[np.argmax(missing)]) if missing.any() else -1
    return counts, unknown


def _index_in(keys, values):
    """Index of each value in sorted keys, len(keys) where absent."""
    if len(keys) == 0:
        return np.zeros(values.shape, dtype=np.int64)
    pos = np.searchsorted(keys, values).clip(0, len(keys) - 1)
    return np.where(keys[pos] == values, pos, len(keys)).astype(np.int64)


# ---- panoptic conversion ----------------------------------------------------------
def segment_stats(ids, compiled=None):
    """Pixel count and bounding box of every id of an (H, W) uint16 map.

    Returns ``(counts, boxes)``: (65536,) int64 and (65536, 4) int64 rows
    ``(min x, min y, max x, max y)``; ids absent from the map keep count 0 and
    box ``(W, H, -1, -1)``.
    """
    ids = np.ascontiguousarray(ids, dtype=np.uint16)
    h, w = ids.shape
    counts = np.zeros(INSTANCE_ID_SPACE, dtype=np.int64)
    boxes = np.empty((INSTANCE_ID_SPACE, 4), dtype=np.int64)
    boxes[:] = (w, h, -1, -1)
    if _use_compiled(compiled):
        _kernels.segment_stats(ids, counts, boxes)
        return counts, boxes
    counts += np.bincount(ids.ravel(), minlength=INSTANCE_ID_SPACE)
    for value in np.nonzero(counts)[0]:
        ys, xs = np.nonzero(ids == value)
        boxes[value] = (xs.min(), ys.min(), xs.max(), ys.max())
    return counts, boxes
