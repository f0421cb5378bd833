# cython: language_level=3, boundscheck=False, wraparound=False, cdivision=True, initializedcheck=False
"""Evaluation counting: confusion matrices, instance and segment-pair counts, mask histograms,
some of them fused with the PNG row unfilter (rows.pxd).  Contracts only; validation lives in
kernels.py.

Each function adds into caller-allocated outputs and has a NumPy twin in
kernels.py that states the same result plainly.
"""
from libc.stdint cimport uint8_t, uint16_t, uint32_t, int64_t, uint64_t
from libc.stdlib cimport calloc, free, malloc
from libc.string cimport memcmp, memcpy, memset

from cityscapesscripts._kernels.rows cimport _unfilter_rows



cdef inline uint64_t _bytes8(const void* at) noexcept nogil:
    cdef uint64_t word
    memcpy(&word, at, 8)
    return word


cdef uint64_t _ONES8 = 0x0101010101010101  # byte * _ONES8: the byte repeated 8 times
cdef uint64_t _ONES16 = 0x0001000100010001  # a uint16 repeated 4 times


cdef extern from *:
    """
    /* Offset of the first (lowest-addressed) non-zero byte of a non-zero word read by memcpy:
       one instruction where the byte order is known, a loop elsewhere. */
    static inline int cs_first_nonzero_byte(uint64_t word) {
    #if defined(__GNUC__) && defined(__BYTE_ORDER__) && __BYTE_ORDER__ == __ORDER_LITTLE_ENDIAN__
        return __builtin_ctzll(word) >> 3;
    #elif defined(__GNUC__) && defined(__BYTE_ORDER__) && __BYTE_ORDER__ == __ORDER_BIG_ENDIAN__
        return __builtin_clzll(word) >> 3;
    #else
        unsigned char bytes[8];
        int k = 0;
        memcpy(bytes, &word, 8);
        while (!bytes[k]) k++;
        return k;
    #endif
    }
    """
    int cs_first_nonzero_byte(uint64_t word) noexcept nogil


def pixel_counts(const uint8_t[:, ::1] gt, const uint8_t[:, ::1] pred,
                 const uint16_t[:, ::1] inst, const uint8_t[:, ::1] same_category,
                 int64_t[:, ::1] conf, int64_t[::1] inst_size, int64_t[::1] inst_tp,
                 int64_t[::1] inst_tp_category, bint with_instances):
    """conf[gt, pred] += 1 for every pixel; for pixels with inst >= 1000 also
    inst_size[inst] += 1, inst_tp[inst] += (pred == inst // 1000) and
    inst_tp_category[inst] += same_category[inst // 1000, pred].
    Shapes: (H, W) images, (256, 256) conf and same_category, (65536,) counters.
    Works on runs of equal (gt, pred, inst), compared eight pixels at a time, a run's end found
    in its last word at once: label maps are flat, and adding once per run avoids a chain of
    increments of one counter."""
    cdef Py_ssize_t y
    with nogil:
        for y in range(gt.shape[0]):
            _pixel_counts_row(&gt[y, 0], &pred[y, 0], &inst[y, 0] if with_instances else NULL, gt.shape[1],
                              same_category, conf, inst_size, inst_tp, inst_tp_category, NULL)


cdef inline void _add_run(uint8_t g, uint8_t p, uint16_t i, int64_t n, const uint8_t[:, ::1] same_category,
                          int64_t[:, ::1] conf, int64_t[::1] inst_size, int64_t[::1] inst_tp,
                          int64_t[::1] inst_tp_category) noexcept nogil:
    # pixel_counts of n pixels of the same (g, p, i)
    cdef uint16_t label
    conf[g, p] += n
    if i >= 1000:
        label = i // 1000
        inst_size[i] += n
        if p == label:
            inst_tp[i] += n
        if same_category[label, p]:
            inst_tp_category[i] += n


cdef inline Py_ssize_t _pixel_counts_row(const uint8_t* g_row, const uint8_t* p_row, const uint16_t* i_row,
                                         Py_ssize_t w, const uint8_t[:, ::1] same_category, int64_t[:, ::1] conf,
                                         int64_t[::1] inst_size, int64_t[::1] inst_tp,
                                         int64_t[::1] inst_tp_category, Py_ssize_t* starts) noexcept nogil:
    # One row of pixel_counts (i_row NULL: no instance counts); returns its number of runs and,
    # unless starts is NULL, writes where each begins there (W entries).
    cdef Py_ssize_t x = 0, start, runs = 0
    while x < w:
        start = x
        x = _run_end(g_row, p_row, i_row, x, w)
        _add_run(g_row[start], p_row[start], i_row[start] if i_row != NULL else 0, x - start, same_category, conf,
                 inst_size, inst_tp, inst_tp_category)
        if starts != NULL:
            starts[runs] = start
        runs += 1
    return runs


cdef inline bint _repeats_above(const uint8_t* row, Py_ssize_t stride) noexcept nogil:
    """Whether a filtered PNG row (its filter byte, then stride bytes) unfilters to the row above
    it: Up or Paeth with every byte zero (both then copy the row above, whatever it holds)."""
    return (row[0] == 2 or row[0] == 4) and not _any_nonzero(row + 1, stride)


def label_png_pixel_counts(const uint8_t[::1] gt_raw, const uint8_t[::1] pred_raw, const uint8_t[::1] inst_raw,
                           Py_ssize_t inst_bytes, Py_ssize_t h, Py_ssize_t w, const uint8_t[:, ::1] same_category,
                           int64_t[:, ::1] conf, int64_t[::1] inst_size, int64_t[::1] inst_tp,
                           int64_t[::1] inst_tp_category):
    """pixel_counts of one-byte label-map PNGs of H x W pixels (grey, or palette indices) and an
    instance-id PNG of inst_bytes (1, 2 big-endian, or 0: no instance counts) per pixel, from their
    inflated rows (H rows of a filter byte and then W, W and W * inst_bytes bytes).  The images are
    never stored: each row is unfiltered into one of two row buffers per image and counted there,
    while in cache; where every image's row repeats the row above (label maps are flat), the runs
    of the row above are added again without unfiltering.  Returns the first row with an unknown
    filter type of (gt, inst, pred), each -1 if none; counting stops at the first such row."""
    cdef Py_ssize_t y, x, k, runs = 0, cur = 0, i_stride = w * inst_bytes, bad_gt = -1, bad_inst = -1, bad_pred = -1
    if h == 0 or w == 0:
        return -1, -1, -1
    # a zero row (of 2 W bytes, the longest row), two rows of each image, the instance row as native uint16
    cdef uint8_t* rows = <uint8_t*>calloc(8 * w + 2 * i_stride, 1)
    cdef Py_ssize_t* starts = <Py_ssize_t*>malloc((w + 1) * sizeof(Py_ssize_t))  # of the last row's runs, then w
    if rows == NULL or starts == NULL:
        free(rows)
        free(starts)
        raise MemoryError()
    cdef uint16_t* ids = <uint16_t*>(rows + 6 * w + 2 * i_stride)
    cdef const uint8_t* g_prev = rows
    cdef const uint8_t* p_prev = rows
    cdef const uint8_t* i_prev = rows
    cdef const uint8_t* g_src
    cdef const uint8_t* p_src
    cdef const uint8_t* i_src = NULL
    cdef uint8_t* g_row
    cdef uint8_t* p_row
    cdef uint8_t* i_row
    with nogil:
        for y in range(h):
            g_src = &gt_raw[y * (w + 1)]
            p_src = &pred_raw[y * (w + 1)]
            if inst_bytes:
                i_src = &inst_raw[y * (i_stride + 1)]
            if y and _repeats_above(g_src, w) and _repeats_above(p_src, w) and (
                    not inst_bytes or _repeats_above(i_src, i_stride)):
                for k in range(runs):
                    x = starts[k]
                    _add_run(g_prev[x], p_prev[x], ids[x] if inst_bytes else 0, starts[k + 1] - x, same_category,
                             conf, inst_size, inst_tp, inst_tp_category)
                continue
            cur ^= 1  # never the row above: Paeth reads it while the row is written
            g_row = rows + (2 + cur) * w
            p_row = rows + (4 + cur) * w
            i_row = rows + 6 * w + cur * i_stride
            if _unfilter_rows(g_src, g_row, g_prev, 1, w, 1) >= 0:
                bad_gt = y
                break
            if inst_bytes == 2:
                if _unfilter_rows(i_src, i_row, i_prev, 1, i_stride, 2) >= 0:
                    bad_inst = y
                    break
                for x in range(w):
                    ids[x] = (<uint16_t>i_row[2 * x] << 8) | i_row[2 * x + 1]
            elif inst_bytes == 1:
                if _unfilter_rows(i_src, i_row, i_prev, 1, i_stride, 1) >= 0:
                    bad_inst = y
                    break
                for x in range(w):
                    ids[x] = i_row[x]
            if _unfilter_rows(p_src, p_row, p_prev, 1, w, 1) >= 0:
                bad_pred = y
                break
            runs = _pixel_counts_row(g_row, p_row, ids if inst_bytes else NULL, w, same_category, conf, inst_size,
                                     inst_tp, inst_tp_category, starts)
            starts[runs] = w
            g_prev, p_prev, i_prev = g_row, p_row, i_row
    free(rows)
    free(starts)
    return bad_gt, bad_inst, bad_pred


cdef inline Py_ssize_t _run_end(const uint8_t* g_row, const uint8_t* p_row, const uint16_t* i_row,
                                Py_ssize_t x, Py_ssize_t w) noexcept nogil:
    """The first index from x on where (g_row, p_row, i_row if not NULL) differs from its value
    at x, or w."""
    cdef uint8_t g = g_row[x], p = p_row[x]
    cdef uint16_t i = i_row[x] if i_row != NULL else 0
    cdef uint64_t g_word = g * _ONES8, p_word = p * _ONES8, i_word = i * _ONES16, bytes_diff, low, high
    cdef Py_ssize_t end
    while x + 8 <= w:
        bytes_diff = (_bytes8(g_row + x) ^ g_word) | (_bytes8(p_row + x) ^ p_word)
        low = high = 0
        if i_row != NULL:
            low = _bytes8(i_row + x) ^ i_word  # pixels x..x+3, two bytes each
            high = _bytes8(i_row + x + 4) ^ i_word
        if (bytes_diff | low | high) == 0:
            x += 8
            continue
        end = 8
        if bytes_diff:
            end = cs_first_nonzero_byte(bytes_diff)
        if low:
            end = min(end, cs_first_nonzero_byte(low) >> 1)
        elif high:
            end = min(end, 4 + (cs_first_nonzero_byte(high) >> 1))
        return x + end
    while x < w and g_row[x] == g and p_row[x] == p and (i_row == NULL or i_row[x] == i):
        x += 1
    return x


def id_counts(const uint16_t[:, ::1] ids, int64_t[::1] counts):
    """counts[v] += the number of pixels of value v in ids (H, W); counts (65536,).  Works on runs."""
    cdef Py_ssize_t y, x, start, h = ids.shape[0], w = ids.shape[1]
    cdef const uint16_t* row
    cdef uint16_t v
    cdef uint64_t v_word
    with nogil:
        for y in range(h):
            row = &ids[y, 0]
            x = 0
            while x < w:
                start = x
                v = row[x]
                v_word = v * _ONES16
                while x + 4 <= w and _bytes8(row + x) == v_word:
                    x += 4
                while x < w and row[x] == v:
                    x += 1
                counts[v] += x - start


cdef inline int64_t _row_histogram(const uint8_t* mask, const uint16_t* ids, Py_ssize_t w, int64_t* hist,
                                   uint16_t* touched, Py_ssize_t* n_touched) noexcept nogil:
    # One row of mask_histogram: zero bytes skipped 32 then 8 at a time, equal ids under the mask
    # counted as runs.  Returns the row's mask pixels.
    cdef Py_ssize_t x = 0, start
    cdef int64_t total = 0
    cdef uint16_t v
    while x < w:
        while x + 32 <= w and (_bytes8(mask + x) | _bytes8(mask + x + 8) | _bytes8(mask + x + 16)
                               | _bytes8(mask + x + 24)) == 0:
            x += 32
        while x + 8 <= w and _bytes8(mask + x) == 0:
            x += 8
        if x >= w:
            break
        if mask[x] == 0:
            x += 1
            continue
        start = x
        v = ids[x]
        x += 1
        while x < w and mask[x] != 0 and ids[x] == v:
            x += 1
        if hist[v] == 0:
            touched[n_touched[0]] = v
            n_touched[0] += 1
        hist[v] += x - start
        total += x - start
    return total


def mask_histogram(const uint8_t[:, :] mask, const uint16_t[:, :] ids, int64_t[::1] hist,
                   uint16_t[::1] touched):
    """hist[ids[y, x]] += 1 for every pixel where mask[y, x] != 0; (H, W) inputs whose rows are
    contiguous (unit stride along x), (65536,) hist.  Each id whose count leaves 0 is appended to
    touched (65536,).  Returns (mask pixels, number of ids appended).  Zero runs are skipped 32
    bytes at a time, and equal ids under the mask are counted as runs."""
    cdef Py_ssize_t y, n_touched = 0
    cdef int64_t total = 0
    with nogil:
        for y in range(mask.shape[0]):
            total += _row_histogram(&mask[y, 0], &ids[y, 0], mask.shape[1], &hist[0], &touched[0], &n_touched)
    return total, n_touched


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


cdef inline Py_ssize_t _first_change_8(const uint8_t* g, const uint8_t* p) noexcept nogil:
    """Index (0 to 7) of the first of the 8 RGB pixels at g and at p where either differs from
    the pixel before it, or 8 if none does."""
    cdef uint64_t d0 = (_bytes8(g) ^ _bytes8(g - 3)) | (_bytes8(p) ^ _bytes8(p - 3))
    cdef uint64_t d1 = (_bytes8(g + 8) ^ _bytes8(g + 5)) | (_bytes8(p + 8) ^ _bytes8(p + 5))
    cdef uint64_t d2 = (_bytes8(g + 16) ^ _bytes8(g + 13)) | (_bytes8(p + 16) ^ _bytes8(p + 13))
    if (d0 | d1 | d2) == 0:
        return 8
    if d0:
        return cs_first_nonzero_byte(d0) // 3  # a changed byte's pixel
    if d1:
        return (8 + cs_first_nonzero_byte(d1)) // 3
    return (16 + cs_first_nonzero_byte(d2)) // 3


cdef inline bint _same_3(const uint8_t* at) noexcept nogil:
    cdef const uint8_t* before = at - 3
    return at[0] == before[0] and at[1] == before[1] and at[2] == before[2]


cdef struct _PairRuns:  # what the pair counting carries from run to run and from row to row
    uint32_t last_g, last_p
    Py_ssize_t gi, pi
    int64_t unknown


cdef inline Py_ssize_t _pair_counts_row(const uint8_t* g_row, const uint8_t* p_row, Py_ssize_t w,
                                        const uint32_t[::1] gt_keys, const uint32_t[::1] pred_keys,
                                        int64_t[:, ::1] counts, _PairRuns* runs, Py_ssize_t* at,
                                        int64_t* lengths) noexcept nogil:
    # One row of segment_pair_counts (W RGB pixels each): runs of equal (gt, pred) pairs, eight
    # pixels at a time, a run's end found in its last eight pixels at once.  Returns the number of
    # runs and, unless at is NULL, writes each one's flat index into counts and its length to at
    # and lengths (W entries).
    cdef Py_ssize_t x = 0, start, step, n = 0
    cdef uint32_t g, p
    while x < w:
        start = x
        g = g_row[3 * x] | (<uint32_t>g_row[3 * x + 1] << 8) | (<uint32_t>g_row[3 * x + 2] << 16)
        p = p_row[3 * x] | (<uint32_t>p_row[3 * x + 1] << 8) | (<uint32_t>p_row[3 * x + 2] << 16)
        if g != runs.last_g:
            runs.gi = _find(gt_keys, g)
            runs.last_g = g
        if p != runs.last_p:
            runs.pi = _find(pred_keys, p)
            runs.last_p = p
            if runs.pi == pred_keys.shape[0] and runs.unknown < 0:
                runs.unknown = p
        x += 1
        step = 8
        while step == 8 and x + 8 <= w:
            step = _first_change_8(g_row + 3 * x, p_row + 3 * x)
            x += step
        if step == 8:
            while x < w and _same_3(g_row + 3 * x) and _same_3(p_row + 3 * x):
                x += 1
        counts[runs.gi, runs.pi] += x - start
        if at != NULL:
            at[n] = runs.gi * counts.shape[1] + runs.pi
            lengths[n] = x - start
        n += 1
    return n


def segment_pair_counts(const uint8_t[:, :, ::1] gt_rgb, const uint8_t[:, :, ::1] pred_rgb,
                        const uint32_t[::1] gt_keys, const uint32_t[::1] pred_keys,
                        int64_t[:, ::1] counts):
    """counts[a, b] += 1 per pixel whose gt id (R + 256 G + 65536 B) is gt_keys[a] and pred id
    pred_keys[b]; ids absent from the sorted keys count at index len(keys).  Shapes: (H, W, 3)
    images, counts (len(gt_keys) + 1, len(pred_keys) + 1).  Returns the first pred id that is
    not in pred_keys, or -1.  Works on runs of equal (gt, pred) pairs."""
    cdef Py_ssize_t y
    cdef _PairRuns runs = _PairRuns(0xFFFFFFFF, 0xFFFFFFFF, 0, 0, -1)
    with nogil:
        for y in range(gt_rgb.shape[0]):
            _pair_counts_row(&gt_rgb[y, 0, 0], &pred_rgb[y, 0, 0], gt_rgb.shape[1], gt_keys, pred_keys, counts,
                             &runs, NULL, NULL)
    return runs.unknown


def rgb_png_pair_counts(const uint8_t[::1] gt_raw, const uint8_t[::1] pred_raw, Py_ssize_t h, Py_ssize_t w,
                        const uint32_t[::1] gt_keys, const uint32_t[::1] pred_keys, int64_t[:, ::1] counts):
    """segment_pair_counts of two 8-bit RGB PNGs of H x W pixels from their inflated rows (H rows
    of a filter byte and 3 W bytes each).  The images are never stored: each row is unfiltered
    into one of two row buffers per image and counted there, while in cache; where both rows
    repeat the rows above, the runs of the rows above are added again without unfiltering.
    Returns (first pred id not in pred_keys or -1, first gt row with an unknown filter type or
    -1, the same of pred); counting stops at such a row."""
    cdef Py_ssize_t y, k, n = 0, cur = 0, stride = 3 * w, bad_gt = -1, bad_pred = -1
    cdef _PairRuns runs = _PairRuns(0xFFFFFFFF, 0xFFFFFFFF, 0, 0, -1)
    if h == 0 or w == 0:
        return -1, -1, -1
    cdef uint8_t* rows = <uint8_t*>calloc(5 * stride, 1)  # a zero row, two gt rows, two pred rows
    cdef Py_ssize_t* at = <Py_ssize_t*>malloc(w * sizeof(Py_ssize_t))  # the last row's runs
    cdef int64_t* lengths = <int64_t*>malloc(w * sizeof(int64_t))
    if rows == NULL or at == NULL or lengths == NULL:
        free(rows)
        free(at)
        free(lengths)
        raise MemoryError()
    cdef int64_t* flat = &counts[0, 0]
    cdef const uint8_t* g_prev = rows
    cdef const uint8_t* p_prev = rows
    cdef const uint8_t* g_src
    cdef const uint8_t* p_src
    cdef uint8_t* g_row
    cdef uint8_t* p_row
    with nogil:
        for y in range(h):
            g_src = &gt_raw[y * (stride + 1)]
            p_src = &pred_raw[y * (stride + 1)]
            if y and _repeats_above(g_src, stride) and _repeats_above(p_src, stride):
                for k in range(n):
                    flat[at[k]] += lengths[k]
                continue
            cur ^= 1  # never the row above: Paeth reads it while the row is written
            g_row = rows + (1 + cur) * stride
            p_row = rows + (3 + cur) * stride
            if _unfilter_rows(g_src, g_row, g_prev, 1, stride, 3) >= 0:
                bad_gt = y
                break
            if _unfilter_rows(p_src, p_row, p_prev, 1, stride, 3) >= 0:
                bad_pred = y
                break
            n = _pair_counts_row(g_row, p_row, w, gt_keys, pred_keys, counts, &runs, at, lengths)
            g_prev, p_prev = g_row, p_row
    free(rows)
    free(at)
    free(lengths)
    return runs.unknown, bad_gt, bad_pred


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



cdef inline bint _any_nonzero(const uint8_t* row, Py_ssize_t n) noexcept nogil:
    cdef Py_ssize_t x
    cdef uint8_t bits = 0
    for x in range(n):  # a plain reduction: the compiler vectorises it
        bits |= row[x]
    return bits != 0



def grey_png_mask_histogram(const uint8_t[::1] raw, const uint16_t[:, ::1] ids, int64_t[::1] hist,
                            uint16_t[::1] touched):
    """mask_histogram of an 8-bit grey PNG of the size of ids (H, W), from its inflated rows: raw
    holds H rows of (filter byte, W bytes).  The image is never stored: each row is unfiltered
    into one of two row buffers and counted there, and a row whose filtered bytes are zero under
    a zero row is zero (every filter type adds zeros) and skipped unfiltered.  Returns (mask
    pixels, number of ids appended to touched, index of the first row with an unknown filter type
    or -1)."""
    cdef Py_ssize_t y, h = ids.shape[0], w = ids.shape[1], n_touched = 0, bad = -1
    cdef int64_t total = 0
    cdef uint8_t kind
    cdef const uint8_t* src
    cdef uint8_t* dst
    if h == 0 or w == 0:
        return 0, 0, -1
    cdef uint8_t* zero_row = <uint8_t*>calloc(3 * w, 1)  # a zero row, then the two row buffers
    if zero_row == NULL:
        raise MemoryError()
    cdef const uint8_t* prev = zero_row
    with nogil:
        for y in range(h):
            kind = raw[y * (w + 1)]
            src = &raw[y * (w + 1) + 1]
            if prev == zero_row and kind <= 4 and not _any_nonzero(src, w):
                continue
            dst = zero_row + (1 + (y & 1)) * w
            if _unfilter_rows(src - 1, dst, prev, 1, w, 1) >= 0:  # one row, below prev
                bad = y
                break
            if _any_nonzero(dst, w):
                total += _row_histogram(dst, &ids[y, 0], w, &hist[0], &touched[0], &n_touched)
                prev = dst
            else:
                prev = zero_row
    free(zero_row)
    return total, n_touched, bad


cdef struct _ValueTables:
    # per channel two tables, even and odd pixels apart: consecutive equal values (the common case)
    # then do not wait on each other's increment; uint32 bins, flushed before one could overflow
    uint32_t even[4][256]
    uint32_t odd[4][256]


cdef inline void _count_row_values(const uint8_t* row, Py_ssize_t w, Py_ssize_t bpp, Py_ssize_t channels,
                                   _ValueTables* t) noexcept nogil:
    """Count the first ``channels`` values of each of a row's ``w`` pixels of ``bpp`` bytes."""
    cdef Py_ssize_t x = 0, c
    if channels == 3 and bpp == 3:  # camera images: the channel loop unrolled
        while x + 2 <= w:
            t.even[0][row[0]] += 1
            t.even[1][row[1]] += 1
            t.even[2][row[2]] += 1
            t.odd[0][row[3]] += 1
            t.odd[1][row[4]] += 1
            t.odd[2][row[5]] += 1
            row += 6
            x += 2
    while x + 2 <= w:
        for c in range(channels):
            t.even[c][row[c]] += 1
            t.odd[c][row[bpp + c]] += 1
        row += 2 * bpp
        x += 2
    if x < w:
        for c in range(channels):
            t.even[c][row[c]] += 1


cdef inline void _flush_values(_ValueTables* t, Py_ssize_t channels, int64_t[:, ::1] counts) noexcept nogil:
    cdef Py_ssize_t c, v
    for c in range(channels):
        for v in range(256):
            counts[c, v] += t.even[c][v] + <int64_t>t.odd[c][v]
    memset(t, 0, sizeof(_ValueTables))


def channel_value_counts(const uint8_t[:, :, ::1] image, int64_t[:, ::1] counts):
    """counts[c, v] += the number of pixels whose channel c holds v, in image (H, W, C <= 4);
    counts (C, 256)."""
    cdef Py_ssize_t y, h = image.shape[0], w = image.shape[1], channels = image.shape[2]
    cdef Py_ssize_t rows_per_flush = max(1, (1 << 30) // max(1, w))
    cdef _ValueTables tables
    if channels > 4:
        raise ValueError(f"at most 4 channels, got {channels}")
    if h == 0 or w == 0:
        return
    memset(&tables, 0, sizeof(tables))
    with nogil:
        for y in range(h):
            _count_row_values(&image[y, 0, 0], w, channels, channels, &tables)
            if (y + 1) % rows_per_flush == 0 or y == h - 1:
                _flush_values(&tables, channels, counts)


def rgb_png_value_counts(const uint8_t[::1] raw, Py_ssize_t h, Py_ssize_t w, Py_ssize_t bpp,
                         int64_t[:, ::1] counts):
    """channel_value_counts of the R, G and B channels of an 8-bit RGB (bpp 3) or RGBA (bpp 4) PNG of
    H x W pixels from its inflated rows (H rows of a filter byte and bpp W bytes each), each row
    unfiltered into one of two row buffers and counted there, while in cache: the image is never
    stored.  Returns the first row with an unknown filter type (counting stops there), or -1."""
    cdef Py_ssize_t y, cur = 0, stride = bpp * w, bad = -1
    cdef Py_ssize_t rows_per_flush = max(1, (1 << 30) // max(1, w))
    cdef _ValueTables tables
    if h == 0 or w == 0:
        return -1
    cdef uint8_t* rows = <uint8_t*>calloc(3 * stride, 1)  # a zero row, then two rows
    if rows == NULL:
        raise MemoryError()
    cdef const uint8_t* prev = rows
    cdef uint8_t* row
    memset(&tables, 0, sizeof(tables))
    with nogil:
        for y in range(h):
            cur ^= 1  # never the row above: Paeth reads it while the row is written
            row = rows + (1 + cur) * stride
            if bpp == 3:
                bad = _unfilter_rows(&raw[y * (stride + 1)], row, prev, 1, stride, 3)
            else:
                bad = _unfilter_rows(&raw[y * (stride + 1)], row, prev, 1, stride, 4)
            if bad >= 0:
                bad = y
                break
            _count_row_values(row, w, bpp, 3, &tables)
            if (y + 1) % rows_per_flush == 0:
                _flush_values(&tables, 3, counts)
            prev = row
        _flush_values(&tables, 3, counts)
    free(rows)
    return bad
