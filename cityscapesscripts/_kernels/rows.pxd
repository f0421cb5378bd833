# cython: language_level=3, boundscheck=False, wraparound=False, cdivision=True, initializedcheck=False
"""The PNG row unfilter both extensions inline: png.png_unfilter for whole images, and the counting
kernels of count.pyx one row at a time as they count (fused decode-and-count)."""
from libc.stdint cimport uint8_t
from libc.string cimport memcpy


cdef extern from *:
    """
    /* PNG's Paeth predictor (a, else b, else c; ties to the earlier) as selects, not branches, for
       rows whose choice is noise (photos): there mispredicted branches made Paeth rows 3.7x slower. */
    static inline int cs_paeth_select(int a, int b, int c) {
        int pa = b - c, pb = a - c, pc = pa + pb;
        pa = pa < 0 ? -pa : pa;
        pb = pb < 0 ? -pb : pb;
        pc = pc < 0 ? -pc : pc;
        int nearer = pa <= pb ? a : b, distance = pa <= pb ? pa : pb;
        int take_c = -(pc < distance);  /* a mask: compilers made this last select a branch */
        return (c & take_c) | (nearer & ~take_c);
    }
    """
    int cs_paeth_select(int a, int b, int c) noexcept nogil


cdef inline uint8_t _paeth_branching(int a, int b, int c) noexcept nogil:
    # for rows of flat regions (label maps), where the choice is predictable: the branches are
    # predicted and the next byte need not wait for the comparisons, 1.7x faster than the selects
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


cdef inline bint _mostly_zero(const uint8_t* row, Py_ssize_t n) noexcept nogil:
    # a filtered row of a label map's flat regions is over 99% zero bytes, one of a photo 30-60%:
    # 32 bytes spread over the row tell them apart
    cdef Py_ssize_t k, zeros = 0
    for k in range(32):
        zeros += row[(k * n) >> 5] == 0
    return zeros >= 28


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
            if _mostly_zero(src, stride):
                for x in range(bpp, stride):
                    dst[x] = src[x] + _paeth_branching(dst[x - bpp], prev[x], prev[x - bpp])
            else:
                for x in range(bpp, stride):
                    dst[x] = src[x] + cs_paeth_select(dst[x - bpp], prev[x], prev[x - bpp])
        else:
            return y
        prev = dst
    return -1
