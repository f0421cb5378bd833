# cython: language_level=3, boundscheck=False, wraparound=False, cdivision=True, initializedcheck=False
"""PNG codecs and pixel tables: the row unfilter of decoding (rows.pxd), the table lookup of
preparation, the Up filter fused with a lookup and the run-length deflate of encoding.  Contracts
only; validation lives in kernels.py.

Each function writes into caller-allocated outputs and has a twin in kernels.py that states the
same result plainly.
"""
from libc.stdint cimport uint8_t, uint16_t, uint32_t, int32_t, int64_t, uint64_t
from cpython.bytes cimport PyBytes_AS_STRING, PyBytes_FromStringAndSize
from libc.stdlib cimport calloc, free, malloc
from libc.string cimport memcmp, memcpy, memmove, memset

from cityscapesscripts._kernels.rows cimport _unfilter_rows


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
