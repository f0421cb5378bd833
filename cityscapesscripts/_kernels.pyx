# cython: language_level=3, boundscheck=False, wraparound=False, cdivision=True, initializedcheck=False
"""Hot loops of the toolkit.  Contracts only; validation lives in kernels.py.

Each function adds into caller-allocated outputs and has a NumPy twin in
kernels.py that states the same result plainly.
"""
from libc.stdint cimport uint8_t, uint16_t, uint32_t, int32_t, int64_t, uint64_t
from libc.string cimport memcpy


def pixel_counts(const uint8_t[:, ::1] gt, const uint8_t[:, ::1] pred,
                 const uint16_t[:, ::1] inst, const uint8_t[:, ::1] same_category,
                 int64_t[:, ::1] conf, int64_t[::1] inst_size, int64_t[::1] inst_tp,
                 int64_t[::1] inst_tp_category, bint with_instances):
    """conf[gt, pred] += 1 for every pixel; for pixels with inst >= 1000 also
    inst_size[inst] += 1, inst_tp[inst] += (pred == inst // 1000) and
    inst_tp_category[inst] += same_category[inst // 1000, pred].
    Shapes: (H, W) images, (256, 256) conf and same_category, (65536,) counters."""
    cdef Py_ssize_t y, x, h = gt.shape[0], w = gt.shape[1]
    cdef uint8_t g, p
    cdef uint16_t i, label
    with nogil:
        for y in range(h):
            for x in range(w):
                g = gt[y, x]
                p = pred[y, x]
                conf[g, p] += 1
                if with_instances:
                    i = inst[y, x]
                    if i >= 1000:
                        label = i // 1000
                        inst_size[i] += 1
                        inst_tp[i] += (p == label)
                        inst_tp_category[i] += same_category[label, p]


def mask_histogram(const uint8_t[:, :] mask, const uint16_t[:, :] ids, int64_t[::1] hist):
    """hist[ids[y, x]] += 1 for every pixel where mask[y, x] != 0; (H, W) inputs, (65536,) hist.
    Returns the number of mask pixels.  Zero runs are skipped eight bytes at a time."""
    cdef Py_ssize_t y, x, h = mask.shape[0], w = mask.shape[1]
    cdef int64_t total = 0
    cdef uint64_t word
    cdef bint contiguous_rows = mask.strides[1] == 1
    with nogil:
        for y in range(h):
            x = 0
            if contiguous_rows:
                while x + 8 <= w:
                    memcpy(&word, &mask[y, x], 8)
                    if word == 0:
                        x += 8
                        continue
                    break
            while x < w:
                if mask[y, x] != 0:
                    hist[ids[y, x]] += 1
                    total += 1
                    x += 1
                elif contiguous_rows and x + 8 <= w:
                    memcpy(&word, &mask[y, x], 8)
                    if word == 0:
                        x += 8
                    else:
                        x += 1
                else:
                    x += 1
    return total


cdef inline Py_ssize_t _find(const uint32_t[::1] keys, uint32_t value) noexcept nogil:
    """Index of value in sorted keys, or len(keys) when absent."""
    cdef Py_ssize_t lo = 0, hi = keys.shape[0], mid
    while lo < hi:
        mid = (lo + hi) >> 1
        if keys[mid] < value:
            lo = mid + 1
        else:
            hi = mid
    if lo < keys.shape[0] and keys[lo] == value:
        return lo
    return keys.shape[0]


def segment_pair_counts(const uint8_t[:, :, ::1] gt_rgb, const uint8_t[:, :, ::1] pred_rgb,
                        const uint32_t[::1] gt_keys, const uint32_t[::1] pred_keys,
                        int64_t[:, ::1] counts):
    """counts[a, b] += 1 per pixel whose gt id (R + 256 G + 65536 B) is gt_keys[a] and pred id
    pred_keys[b]; ids absent from the sorted keys count at index len(keys).  Shapes: (H, W, 3)
    images, counts (len(gt_keys) + 1, len(pred_keys) + 1).  Returns the first pred id that is
    not in pred_keys, or -1."""
    cdef Py_ssize_t y, x, h = gt_rgb.shape[0], w = gt_rgb.shape[1]
    cdef uint32_t g, p, last_g = 0xFFFFFFFF, last_p = 0xFFFFFFFF
    cdef Py_ssize_t gi = 0, pi = 0, n_pred = pred_keys.shape[0]
    cdef int64_t unknown = -1
    with nogil:
        for y in range(h):
            for x in range(w):
                g = gt_rgb[y, x, 0] | (<uint32_t>gt_rgb[y, x, 1] << 8) | (<uint32_t>gt_rgb[y, x, 2] << 16)
                p = pred_rgb[y, x, 0] | (<uint32_t>pred_rgb[y, x, 1] << 8) | (<uint32_t>pred_rgb[y, x, 2] << 16)
                if g != last_g:  # segments come in runs: look up only on a change
                    gi = _find(gt_keys, g)
                    last_g = g
                if p != last_p:
                    pi = _find(pred_keys, p)
                    last_p = p
                    if pi == n_pred and unknown < 0:
                        unknown = p
                counts[gi, pi] += 1
    return unknown


def segment_stats(const uint16_t[:, ::1] ids, int64_t[::1] counts, int64_t[:, ::1] boxes):
    """For each id v of ids (H, W): counts[v] += its pixels and boxes[v] = (min x, min y, max x,
    max y), taking min / max with the incoming boxes[v] (start from (W, H, -1, -1)).  Works on
    runs of equal values, so a flat map costs about one comparison per pixel.  counts (65536,),
    boxes (65536, 4)."""
    cdef Py_ssize_t y, x, start, h = ids.shape[0], w = ids.shape[1]
    cdef uint16_t v
    with nogil:
        for y in range(h):
            x = 0
            while x < w:
                v = ids[y, x]
                start = x
                while x < w and ids[y, x] == v:
                    x += 1
                counts[v] += x - start
                if start < boxes[v, 0]:
                    boxes[v, 0] = start
                if y < boxes[v, 1]:
                    boxes[v, 1] = y
                if x - 1 > boxes[v, 2]:
                    boxes[v, 2] = x - 1
                if y > boxes[v, 3]:
                    boxes[v, 3] = y
