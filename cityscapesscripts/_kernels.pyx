# cython: language_level=3, boundscheck=False, wraparound=False, cdivision=True, initializedcheck=False
"""Hot loops of the toolkit.  Contracts only; validation lives in kernels.py.

Each function adds into caller-allocated outputs and has a NumPy twin in
kernels.py that states the same result plainly.
"""
from libc.stdint cimport uint8_t, uint16_t, uint32_t, int32_t, int64_t, uint64_t
from libc.stdlib cimport calloc, free
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


cdef inline uint8_t _paeth(int a, int b, int c) noexcept nogil:
    cdef int pa = b - c, pb = a - c, pc
    pc = pa + pb
    if pa < 0:
        pa = -pa
    if pb < 0:
        pb = -pb
    if pc < 0:
        pc = -pc
    if pa <= pb and pa <= pc:
        return <uint8_t>a
    if pb <= pc:
        return <uint8_t>b
    return <uint8_t>c


cdef Py_ssize_t _unfilter_rows(const uint8_t* raw, uint8_t* out, const uint8_t* zero_row,
                               Py_ssize_t h, Py_ssize_t stride, const Py_ssize_t bpp) noexcept nogil:
    # Called with a literal bpp from each branch of png_unfilter: at -O3 the compiler clones it
    # per constant, so the Sub, Average and Paeth loops run with a fixed pixel width.
    cdef Py_ssize_t y, x
    cdef uint8_t kind
    cdef const uint8_t* src
    cdef const uint8_t* prev = zero_row
    cdef uint8_t* dst
    for y in range(h):
        kind = raw[y * (stride + 1)]
        src = raw + y * (stride + 1) + 1
        dst = out + y * stride
        if kind == 0:
            memcpy(dst, src, stride)
        elif kind == 1:
            for x in range(bpp):
                dst[x] = src[x]
            for x in range(bpp, stride):
                dst[x] = src[x] + dst[x - bpp]
        elif kind == 2:
            for x in range(stride):
                dst[x] = src[x] + prev[x]
        elif kind == 3:
            for x in range(bpp):
                dst[x] = src[x] + (prev[x] >> 1)
            for x in range(bpp, stride):
                dst[x] = src[x] + ((<int>dst[x - bpp] + prev[x]) >> 1)
        elif kind == 4:
            for x in range(bpp):
                dst[x] = src[x] + prev[x]
            for x in range(bpp, stride):
                dst[x] = src[x] + _paeth(dst[x - bpp], prev[x], prev[x - bpp])
        else:
            return y
        prev = dst
    return -1


def png_unfilter(const uint8_t[::1] raw, uint8_t[:, ::1] out, Py_ssize_t bpp):
    """Undo PNG row filters: raw holds H rows of (filter byte, W * bpp bytes), out is (H, W * bpp)
    and receives the pixels; bpp is 1, 2, 3, 4, 6 or 8.  Returns the index of the first row
    with an unknown filter type (out is then incomplete), or -1."""
    cdef Py_ssize_t h = out.shape[0], stride = out.shape[1], bad
    if h == 0 or stride == 0:
        return -1
    cdef uint8_t* zero_row = <uint8_t*>calloc(stride, 1)
    if zero_row == NULL:
        raise MemoryError()
    with nogil:
        if bpp == 1:
            bad = _unfilter_rows(&raw[0], &out[0, 0], zero_row, h, stride, 1)
        elif bpp == 2:
            bad = _unfilter_rows(&raw[0], &out[0, 0], zero_row, h, stride, 2)
        elif bpp == 3:
            bad = _unfilter_rows(&raw[0], &out[0, 0], zero_row, h, stride, 3)
        elif bpp == 4:
            bad = _unfilter_rows(&raw[0], &out[0, 0], zero_row, h, stride, 4)
        else:
            bad = _unfilter_rows(&raw[0], &out[0, 0], zero_row, h, stride, bpp)
    free(zero_row)
    return bad


ctypedef fused index_t:
    uint8_t
    uint16_t

ctypedef fused value_t:
    uint8_t
    uint16_t
    uint32_t


def lookup(const index_t[:, ::1] index, const value_t[::1] table, value_t[:, ::1] out):
    """out[y, x] = table[index[y, x]] for (H, W) index and out; table covers every index value
    (256 entries for uint8, 65536 for uint16)."""
    cdef Py_ssize_t y, x, h = index.shape[0], w = index.shape[1]
    with nogil:
        for y in range(h):
            for x in range(w):
                out[y, x] = table[index[y, x]]
