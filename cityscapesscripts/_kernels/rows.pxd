# cython: language_level=3, boundscheck=False, wraparound=False, cdivision=True, initializedcheck=False
"""The PNG row unfilter both extensions inline: png.png_unfilter for whole images, and the counting
kernels of count.pyx one row at a time as they count (fused decode-and-count)."""
from libc.stdint cimport uint8_t
from libc.string cimport memcpy


cdef extern from *:
    """
    /* PNG's Paeth predictor (a, else b, else c; ties to the earlier) as selects, not branches: on
       camera images the choice is noise, and mispredicted branches made Paeth rows 3.7x slower. */
    static inline int cs_paeth(int a, int b, int c) {
        int pa = b - c, pb = a - c, pc = pa + pb;
        pa = pa < 0 ? -pa : pa;
        pb = pb < 0 ? -pb : pb;
        pc = pc < 0 ? -pc : pc;
        int nearer = pa <= pb ? a : b, distance = pa <= pb ? pa : pb;
        int take_c = -(pc < distance);  /* a mask: compilers made this last select a branch */
        return (c & take_c) | (nearer & ~take_c);
    }
    """
    int cs_paeth(int a, int b, int c) noexcept nogil


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
                dst[x] = src[x] + cs_paeth(dst[x - bpp], prev[x], prev[x - bpp])
        else:
            return y
        prev = dst
    return -1
