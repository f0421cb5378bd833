# cython: language_level=3, boundscheck=False, wraparound=False, cdivision=True, initializedcheck=False
"""Hot loops of the toolkit.  Contracts only; validation lives in kernels.py.

Each function adds into caller-allocated outputs and has a NumPy twin in
kernels.py that states the same result plainly.
"""
from libc.stdint cimport uint8_t, uint16_t, uint32_t, int32_t, int64_t, uint64_t
from cpython.bytes cimport PyBytes_AS_STRING, PyBytes_FromStringAndSize
from libc.stdlib cimport calloc, free, malloc
from libc.string cimport memcmp, memcpy, memmove, memset


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


cdef inline bint _any_nonzero(const uint8_t* row, Py_ssize_t n) noexcept nogil:
    cdef Py_ssize_t x
    cdef uint8_t bits = 0
    for x in range(n):  # a plain reduction: the compiler vectorises it
        bits |= row[x]
    return bits != 0


cdef inline Py_ssize_t _unfilter_rows(const uint8_t* raw, uint8_t* out, const uint8_t* zero_row,
                                      Py_ssize_t h, Py_ssize_t stride, const Py_ssize_t bpp) noexcept nogil:
    # Called with a literal bpp from each branch of png_unfilter, and one row at a time by the
    # kernels that count rows as they are unfiltered: inlined, each call runs with a fixed pixel
    # width (not inlined, the row kernels shared one clone of it and counted masks 1.6x slower).
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


# ---- PNG encoding: Up filter fused with a table lookup, and a run-length deflate ----------------
cdef Py_ssize_t _first_missing(const uint8_t* index, Py_ssize_t index_size, Py_ssize_t pixels,
                               Py_ssize_t entries) noexcept nogil:
    cdef Py_ssize_t p, k
    cdef int32_t i32
    for p in range(pixels):
        if index_size == 1:
            k = index[p]
        else:
            memcpy(&i32, index + 4 * p, 4)
            k = i32
        if k < 0 or k >= entries:
            return p
    return -1


def filter_up_lookup(const uint8_t[::1] index, Py_ssize_t index_size, Py_ssize_t width, Py_ssize_t height,
                     const uint8_t[::1] table, Py_ssize_t bpp, uint8_t[::1] out):
    """PNG rows filtered Up of the image table[index]: index holds H x W values of index_size bytes
    (1: uint8, 4: native int32), table bpp bytes per entry (PNG byte order), out H rows of
    (filter byte 2, W * bpp bytes).  Returns -1, or the position (y * W + x) of the first pixel
    whose index the table lacks (out is then incomplete)."""
    cdef Py_ssize_t entries = table.shape[0] // bpp, stride = width * bpp, y, x, c, k, start, bad = -1
    cdef const uint8_t* cur
    cdef const uint8_t* prev
    cdef const uint8_t* a
    cdef const uint8_t* b
    cdef uint8_t* dst
    cdef uint64_t u, v
    cdef int32_t i32
    cdef Py_ssize_t row_bytes = width * index_size, step = 8 // index_size
    with nogil:
        if index_size == 4 or entries < 256:  # checked once, so the loops below index safely
            bad = _first_missing(&index[0], index_size, width * height, entries)
    if bad >= 0:
        return bad
    with nogil:
        for y in range(height):
            cur = &index[0] + y * row_bytes
            prev = cur - row_bytes
            dst = &out[0] + y * (stride + 1)
            dst[0] = 2
            dst += 1
            if y > 0 and memcmp(cur, prev, row_bytes) == 0:
                memset(dst, 0, stride)  # rows mostly repeat the one above
                continue
            x = 0
            while x < width:
                if y > 0:  # the 8-byte words of indices equal to those above filter to zeros: one memset a run
                    start = x
                    while x + step <= width:
                        memcpy(&u, cur + x * index_size, 8)
                        memcpy(&v, prev + x * index_size, 8)
                        if u != v:
                            break
                        x += step
                    if x > start:
                        memset(dst + start * bpp, 0, (x - start) * bpp)
                        if x == width:
                            break
                for k in range(x, min(x + step, width)):
                    if index_size == 1:
                        a = &table[0] + bpp * cur[k]
                        b = &table[0] + bpp * prev[k] if y > 0 else NULL
                    else:
                        memcpy(&i32, cur + 4 * k, 4)
                        a = &table[0] + bpp * i32
                        if y > 0:
                            memcpy(&i32, prev + 4 * k, 4)
                            b = &table[0] + bpp * i32
                        else:
                            b = NULL
                    for c in range(bpp):
                        dst[k * bpp + c] = a[c] - (b[c] if b != NULL else 0)
                x = min(x + step, width)
    return -1


# deflate (RFC 1951): lengths 3..258 as (code, extra bits, extra value); the code-length alphabet's order
cdef uint16_t _LENGTH_CODE[259]
cdef uint8_t _LENGTH_EXTRA_BITS[259]
cdef uint16_t _LENGTH_EXTRA[259]
cdef uint8_t _CODE_LENGTH_ORDER[19]


def _init_length_codes():
    bases = [3, 4, 5, 6, 7, 8, 9, 10, 11, 13, 15, 17, 19, 23, 27, 31, 35, 43, 51, 59, 67, 83, 99, 115,
             131, 163, 195, 227, 258]
    extra = [0] * 8 + [1] * 4 + [2] * 4 + [3] * 4 + [4] * 4 + [5] * 4 + [0]
    for code in range(29):
        for length in range(bases[code], bases[code] + (1 << extra[code])):
            if length <= 258 and not (code == 27 and length == 258):  # 258 has its own code, 285
                _LENGTH_CODE[length] = 257 + code
                _LENGTH_EXTRA_BITS[length] = extra[code]
                _LENGTH_EXTRA[length] = length - bases[code]
    for i, symbol in enumerate([16, 17, 18, 0, 8, 7, 9, 6, 10, 5, 11, 4, 12, 3, 13, 2, 14, 1, 15]):
        _CODE_LENGTH_ORDER[i] = symbol


_init_length_codes()


cdef void _huffman_lengths(const int64_t* frequencies, int n, int limit, uint8_t* lengths) noexcept nogil:
    """Code lengths of a Huffman code for n symbols, none longer than limit.  Symbols of frequency 0
    get no code unless fewer than two are used (the first unused ones then get one, so the code is
    complete, as zlib's decoder requires).  Past the limit, frequencies are halved and the code rebuilt."""
    cdef int64_t weight[2 * 288]
    cdef int parent[2 * 288]
    cdef int alive[2 * 288]
    cdef int i, j, nodes, used = 0, first, second, depth, deepest
    for i in range(n):
        weight[i] = frequencies[i]
        used += frequencies[i] > 0
    i = 0
    while used < 2:
        if weight[i] == 0:
            weight[i] = 1
            used += 1
        i += 1
    while True:
        for i in range(n):
            alive[i] = weight[i] > 0
            parent[i] = -1
        nodes = n
        for j in range(used - 1):  # join the two lightest alive nodes
            first = second = -1
            for i in range(nodes):
                if alive[i]:
                    if first < 0 or weight[i] < weight[first]:
                        second = first
                        first = i
                    elif second < 0 or weight[i] < weight[second]:
                        second = i
            weight[nodes] = weight[first] + weight[second]
            alive[nodes] = 1
            parent[nodes] = -1
            alive[first] = alive[second] = 0
            parent[first] = parent[second] = nodes
            nodes += 1
        deepest = 0
        for i in range(n):
            lengths[i] = 0
            if weight[i] > 0:
                depth = 0
                j = i
                while parent[j] >= 0:
                    j = parent[j]
                    depth += 1
                lengths[i] = depth
                if depth > deepest:
                    deepest = depth
        if deepest <= limit:
            return
        for i in range(n):
            if weight[i] > 0:
                weight[i] = (weight[i] + 1) >> 1


cdef void _canonical_codes(const uint8_t* lengths, int n, uint16_t* codes) noexcept nogil:
    """RFC 1951 canonical codes, bit-reversed for the LSB-first stream."""
    cdef int count[16]
    cdef int next_code[16]
    cdef int i, bits, code = 0, reversed_code, length
    for i in range(16):
        count[i] = 0
    for i in range(n):
        count[lengths[i]] += 1
    count[0] = 0
    for bits in range(1, 16):
        code = (code + count[bits - 1]) << 1
        next_code[bits] = code
    for i in range(n):
        length = lengths[i]
        codes[i] = 0
        if length:
            code = next_code[length]
            next_code[length] += 1
            reversed_code = 0
            for bits in range(length):
                reversed_code = (reversed_code << 1) | ((code >> bits) & 1)
            codes[i] = reversed_code


cdef struct _Bits:
    uint8_t* out
    Py_ssize_t pos
    uint64_t held
    int count


cdef inline void _put(_Bits* w, uint64_t value, int bits) noexcept nogil:
    w.held |= value << w.count
    w.count += bits
    while w.count >= 8:
        w.out[w.pos] = <uint8_t>w.held
        w.pos += 1
        w.held >>= 8
        w.count -= 8


cdef Py_ssize_t _tokens(const uint8_t* data, Py_ssize_t n, Py_ssize_t distance, uint16_t* tokens) noexcept nogil:
    """Literals (the byte) and matches repeating the bytes distance back (256 + length, 3..258),
    as zlib's Z_RLE strategy finds them for distance 1; returns the number of tokens."""
    cdef Py_ssize_t i = 0, j, t = 0, end
    cdef uint64_t word, before
    while i < n:
        if i >= distance:
            end = min(n, i + 258)
            j = i
            while j + 8 <= end:
                memcpy(&word, data + j, 8)
                memcpy(&before, data + j - distance, 8)
                if word != before:
                    break
                j += 8
            while j < end and data[j] == data[j - distance]:
                j += 1
            if j - i >= 3:
                tokens[t] = <uint16_t>(256 + j - i)
                t += 1
                i = j
                continue
        tokens[t] = data[i]
        t += 1
        i += 1
    return t


def zlib_rle(const uint8_t[::1] data, uint32_t adler, Py_ssize_t distance):
    """A zlib stream of data (whose Adler-32 is adler): one deflate block with Huffman codes made
    for it, its only matches repeating the bytes distance (1 to 4: a pixel) back.  On PNG rows
    filtered Up, where repeated rows are runs of zeros, this compresses about as well as zlib's
    Z_RLE strategy, many times faster."""
    cdef Py_ssize_t n = data.shape[0], count, t, bits, i, run, size
    cdef int64_t literal_frequencies[286]
    cdef int64_t distance_frequencies[30]
    cdef int64_t length_frequencies[19]
    cdef uint8_t lengths[286 + 30]
    cdef uint8_t length_lengths[19]
    cdef uint16_t literal_codes[286]
    cdef uint16_t distance_codes[30]
    cdef uint16_t length_codes[19]
    cdef uint16_t header_symbols[286 + 30]
    cdef uint8_t header_extra[286 + 30]
    cdef int literals, distances, header_count = 0, last_length_code, symbol, value
    cdef uint16_t token
    cdef _Bits w
    if not 1 <= distance <= 4:
        raise ValueError(f"distance must be 1 to 4, got {distance}")
    cdef uint16_t* tokens = <uint16_t*>malloc(max(n, 1) * sizeof(uint16_t))
    if tokens == NULL:
        raise MemoryError()
    try:
        with nogil:
            count = _tokens(&data[0] if n else NULL, n, distance, tokens)
            memset(literal_frequencies, 0, sizeof(literal_frequencies))
            memset(distance_frequencies, 0, sizeof(distance_frequencies))
            memset(length_frequencies, 0, sizeof(length_frequencies))
            for t in range(count):
                token = tokens[t]
                if token < 256:
                    literal_frequencies[token] += 1
                else:
                    literal_frequencies[_LENGTH_CODE[token - 256]] += 1
                    distance_frequencies[distance - 1] += 1
            literal_frequencies[256] = 1  # end of block
            _huffman_lengths(literal_frequencies, 286, 15, lengths)
            _huffman_lengths(distance_frequencies, 30, 15, lengths + 286)
            literals = 286
            while lengths[literals - 1] == 0:
                literals -= 1
            distances = 30
            while lengths[286 + distances - 1] == 0:
                distances -= 1
            memmove(lengths + literals, lengths + 286, distances)
            # the code lengths, run-length coded: 16 repeats the last 3-6 times, 17 and 18 zeros
            i = 0
            while i < literals + distances:
                value = lengths[i]
                run = 1
                while i + run < literals + distances and lengths[i + run] == value:
                    run += 1
                if value == 0 and run >= 3:
                    run = min(run, 138)
                    header_symbols[header_count] = 17 if run <= 10 else 18
                    header_extra[header_count] = run - 3 if run <= 10 else run - 11
                    header_count += 1
                    i += run
                    continue
                header_symbols[header_count] = value
                header_extra[header_count] = 0
                header_count += 1
                i += 1
                run -= 1
                if run >= 3:
                    run = min(run, 6)
                    header_symbols[header_count] = 16
                    header_extra[header_count] = run - 3
                    header_count += 1
                    i += run
            for t in range(header_count):
                length_frequencies[header_symbols[t]] += 1
            _huffman_lengths(length_frequencies, 19, 7, length_lengths)
            last_length_code = 19
            while length_lengths[_CODE_LENGTH_ORDER[last_length_code - 1]] == 0:
                last_length_code -= 1
            last_length_code = max(last_length_code, 4)
            _canonical_codes(lengths, literals, literal_codes)
            _canonical_codes(lengths + literals, distances, distance_codes)
            _canonical_codes(length_lengths, 19, length_codes)
            # the exact size, so the bytes object is made once
            bits = 3 + 14 + 3 * last_length_code
            for t in range(header_count):
                symbol = header_symbols[t]
                bits += length_lengths[symbol] + (2 if symbol == 16 else 3 if symbol == 17 else 7 if symbol == 18 else 0)
            for symbol in range(literals):
                bits += literal_frequencies[symbol] * lengths[symbol]
            for t in range(count):
                if tokens[t] >= 256:
                    bits += _LENGTH_EXTRA_BITS[tokens[t] - 256]
            bits += distance_frequencies[distance - 1] * lengths[literals + distance - 1]
        size = 2 + (bits + 7) // 8 + 4
        result = PyBytes_FromStringAndSize(NULL, size)
        w.out = <uint8_t*>PyBytes_AS_STRING(result)
        w.pos = 0
        w.held = 0
        w.count = 0
        with nogil:
            w.out[0] = 0x78  # zlib: deflate, 32 kB window
            w.out[1] = 0x01
            w.pos = 2
            _put(&w, 1, 1)  # the final block
            _put(&w, 2, 2)  # dynamic Huffman codes
            _put(&w, literals - 257, 5)
            _put(&w, distances - 1, 5)
            _put(&w, last_length_code - 4, 4)
            for t in range(last_length_code):
                _put(&w, length_lengths[_CODE_LENGTH_ORDER[t]], 3)
            for t in range(header_count):
                symbol = header_symbols[t]
                _put(&w, length_codes[symbol], length_lengths[symbol])
                if symbol >= 16:
                    _put(&w, header_extra[t], 2 if symbol == 16 else 3 if symbol == 17 else 7)
            for t in range(count):
                token = tokens[t]
                if token < 256:
                    _put(&w, literal_codes[token], lengths[token])
                else:
                    symbol = _LENGTH_CODE[token - 256]
                    _put(&w, literal_codes[symbol], lengths[symbol])
                    _put(&w, _LENGTH_EXTRA[token - 256], _LENGTH_EXTRA_BITS[token - 256])
                    _put(&w, distance_codes[distance - 1], lengths[literals + distance - 1])
            _put(&w, literal_codes[256], lengths[256])
            if w.count:
                _put(&w, 0, 8 - w.count)
            w.out[w.pos] = adler >> 24
            w.out[w.pos + 1] = (adler >> 16) & 0xFF
            w.out[w.pos + 2] = (adler >> 8) & 0xFF
            w.out[w.pos + 3] = adler & 0xFF
            w.pos += 4
        if w.pos != size:
            raise AssertionError(f"zlib_rle wrote {w.pos} bytes, expected {size}")
        return result
    finally:
        free(tokens)


cdef extern from *:
    """
    #ifdef __linux__
    #include <sys/prctl.h>
    static int cs_set_death_signal(int signum) { return prctl(PR_SET_PDEATHSIG, (unsigned long)signum); }
    #else
    static int cs_set_death_signal(int signum) { return -1; }
    #endif
    #ifdef __GLIBC__
    #include <malloc.h>
    static int cs_mallopt(int param, int value) { return mallopt(param, value); }
    #else
    static int cs_mallopt(int param, int value) { return 0; }
    #endif
    """
    int cs_set_death_signal(int signum)
    int cs_mallopt(int param, int value)


def set_death_signal(int signum):
    """Linux ``prctl(PR_SET_PDEATHSIG, signum)``: this process gets ``signum`` when its parent dies.
    Returns 0 on success, -1 where unsupported."""
    return cs_set_death_signal(signum)


def mallopt(int param, int value):
    """glibc ``mallopt(param, value)``: 1 on success, 0 on failure or where not glibc."""
    return cs_mallopt(param, value)
