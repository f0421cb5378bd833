"""Reading and writing label-map PNGs: 8-bit, 16-bit, RGB(A).

Reading uses a decoder of our own for the PNGs label maps are stored in
(8-bit grey, palette as indices, 16-bit grey, RGB, RGBA): a chunk walk that
checks every CRC, libdeflate (the ``deflate`` package) inflating the image
data into a buffer of the exact size, and a compiled unfilter.  Most of
Pillow's decoding time is zlib's; libdeflate inflates a full-size label map
about 15 times faster, so reading takes a half to a third of Pillow's time
(benchmarks/REPORT.md).  Pillow decodes what we leave to it, chosen per file:
interlaced images, bit depths below 8, grey with alpha, 16-bit colour, other
formats, and everything when libdeflate or the compiled extension is missing.
A corrupted file is an :class:`ImageError` naming it: every chunk's CRC is
checked, also of the PNGs left to Pillow (which checks none of the image
data and would return other pixels), and an image declaring more pixels than
the limit of :mod:`cityscapesscripts.io.limits` is refused before anything
is allocated.

Writing uses a small encoder of our own: every row takes PNG filter 2 (Up),
and the stream is deflated by the compiled run-length deflater
(``kernels.zlib_rle``: matches of the previous pixel only, Huffman codes made
for each image).  Label maps are large flat regions, so rows mostly repeat
and filtered rows are mostly runs of zeros: this writes one-byte maps
smaller than libdeflate at level 4 and 16-bit and colour maps 15-30% larger,
about ten times faster (libdeflate spends its time hashing the runs), and
Pillow, which spends most of its time choosing a filter per row, slower
still.  Without the extension libdeflate at level 4 deflates, or zlib when it
is missing too.  The files are standard PNGs.

Every write goes through :func:`cityscapesscripts.io.files.write_atomic`.
"""
import io
import struct
import zlib

from PIL import UnidentifiedImageError  # PIL.Image itself only where Pillow reads or writes

from .. import kernels
from ..errors import ImageError
from . import limits
from .files import write_atomic

try:  # libdeflate inflates label maps about 15 times faster than zlib (and deflates without the extension)
    import deflate as _libdeflate
except ImportError:  # pragma: no cover - optional speed-up
    _libdeflate = None
_DeflateError = zlib.error if _libdeflate is None else _libdeflate.DeflateError
# every chunk's CRC is checked: libdeflate's runs 5x faster than zlib's (1 ms of a camera image's 17)
_crc32 = zlib.crc32 if _libdeflate is None else _libdeflate.crc32

_SIGNATURE = b"\x89PNG\r\n\x1a\n"
_COLOR_TYPES = {1: 0, 3: 2, 4: 6}  # channels -> PNG colour type (grey, RGB, RGBA)
# (colour type, bit depth) our decoder handles -> channels: grey, palette (indices), RGB, RGBA
_DECODED = {(0, 8): 1, (0, 16): 1, (3, 8): 1, (2, 8): 3, (6, 8): 4, (2, 16): 3, (6, 16): 4}
# decoded only when a caller's ``accept`` names them (SYNTHIA's labels): Pillow reads them as 8-bit
SIXTEEN_BIT_COLOUR = frozenset({(2, 16), (6, 16)})
_DEFAULT_ACCEPT = frozenset(_DECODED) - SIXTEEN_BIT_COLOUR
EIGHT_BIT_COLOUR = frozenset({(2, 8), (6, 8)})  # RGB, RGBA: what read_rgb decodes itself
_ONE_CHANNEL = {(0, 8), (0, 16), (3, 8)}
_KNOWN_CHUNKS = {b"IHDR", b"PLTE", b"IDAT", b"IEND"}


def _header(width, height, depth, channels):
    return struct.pack(">IIBBBBB", width, height, depth, _COLOR_TYPES[channels], 0, 0, 0)


def encode_png(array, palette=None):
    """PNG bytes of ``array``: (H, W) uint8 or uint16, or (H, W, 3|4) uint8.

    With ``palette`` ((N, 3) uint8 colours, N <= 256), an (H, W) uint8 array
    is written as a palette image of those indices.
    """
    return png_bytes(filter_rows(array), palette)


def filter_rows(array):
    """The first half of :func:`encode_png`: ``(header, rows)``, every row filtered (Up), ready to deflate.

    A caller that drops ``array`` after this call holds one image-sized
    buffer less while :func:`png_bytes` compresses.
    """
    import numpy as np
    a = np.asarray(array)
    if a.ndim == 2:
        channels = 1
    elif a.ndim == 3 and a.shape[2] in (3, 4):
        channels = a.shape[2]
    else:
        raise ValueError(f"cannot encode an array of shape {a.shape} as PNG")
    if a.dtype == np.uint16 and channels == 1:
        depth, rows = 16, a.astype(">u2", copy=False)
    elif a.dtype == np.uint8:
        depth, rows = 8, a
    else:
        raise ValueError(f"cannot encode dtype {a.dtype} as PNG (uint8, or uint16 for one channel)")
    height, width = a.shape[:2]
    rows = np.ascontiguousarray(rows).view(np.uint8).reshape(height, -1)
    raw = np.empty((height, rows.shape[1] + 1), dtype=np.uint8)
    raw[:, 0] = 2  # filter type Up
    raw[0, 1:] = rows[0]
    np.subtract(rows[1:], rows[:-1], out=raw[1:, 1:])
    return _header(width, height, depth, channels), raw


def filter_rows_of_lookup(index, table, depth=8):
    """:func:`filter_rows` of the image ``table[index]``, without making that image (nor importing NumPy).

    index : (H, W) buffer of uint8 or int32; table : (N, B) buffer of bytes,
    entry k the PNG bytes of value k (B = 1 for grey, 2 for 16-bit grey with
    ``depth=16``, 3 for RGB, 4 for RGBA), an entry for every index value.
    Raises ``ValueError`` naming an index the table lacks.
    """
    index, table = memoryview(index), memoryview(table)
    (height, width), bpp = index.shape, table.shape[1]
    raw = bytearray(height * (1 + width * bpp))
    kernels.filter_up_lookup(index, table, raw)
    return _header(width, height, depth, bpp * 8 // depth), raw


def png_bytes(filtered, palette=None):
    """PNG bytes of :func:`filter_rows`' ``(header, rows)``; a palette image with ``palette``."""
    header, raw = filtered
    channels = {0: 1, 2: 3, 6: 4}[header[9]]
    data = _compress(raw, channels * header[8] // 8)
    colors = b""
    if palette is not None:  # colour type 3: the grey rows are palette indices
        header = header[:9] + b"\x03" + header[10:]
        import numpy as np
        colors = _chunk(b"PLTE", np.asarray(palette, dtype=np.uint8).tobytes())
    return b"".join((_SIGNATURE, _chunk(b"IHDR", header), colors, _chunk(b"IDAT", data), _chunk(b"IEND", b"")))


def _compress(raw, bpp):
    if kernels.HAVE_EXTENSION:
        return kernels.zlib_rle(raw, bpp)
    if _libdeflate is not None:
        return _libdeflate.zlib_compress(raw, 4)
    if bpp in (1, 2):
        stream = zlib.compressobj(1, zlib.DEFLATED, 15, 9, zlib.Z_RLE)
    else:
        stream = zlib.compressobj(4, zlib.DEFLATED, 15, 9, zlib.Z_DEFAULT_STRATEGY)
    return stream.compress(raw) + stream.flush()


def _chunk(kind, payload):
    return struct.pack(">I", len(payload)) + kind + payload + struct.pack(">I", _crc32(kind + payload))


JPEG_QUALITY = 75  # Datumaro's (OpenCV's) and Pillow's default, so our JPEGs are the files Datumaro writes


def encode_image(image, ext=".png"):
    """Bytes of an (H, W, 3) uint8 camera image in the format of ``ext``: PNG by :func:`encode_png`,
    JPEG (quality :data:`JPEG_QUALITY`, 4:2:0) and other formats by Pillow."""
    import numpy as np
    image = np.asarray(image, dtype=np.uint8)
    if ext.lower() == ".png":
        return encode_png(image)
    from PIL import Image
    buffer = io.BytesIO()
    Image.fromarray(image).save(buffer, Image.registered_extensions().get(ext.lower(), "JPEG"),
                                quality=JPEG_QUALITY)
    return buffer.getvalue()


def write_png(path, array):
    """Write ``array`` as PNG to ``path`` atomically (temporary name, then rename)."""
    write_atomic(path, encode_png(array))


def decode_png(data, name=None, accept=None, max_pixels=None):
    """Decode PNG bytes with our decoder; None when the file is left to Pillow.

    Returns (H, W) uint8 for 8-bit grey and palette images (palette indices),
    (H, W) uint16 for 16-bit grey, (H, W, 3) / (H, W, 4) uint8 for RGB / RGBA,
    and uint16 for 16-bit RGB / RGBA (:data:`SIXTEEN_BIT_COLOUR`, which Pillow
    reads as 8-bit) when ``accept`` names them.  Returns None for data that is
    not a PNG, for flavours Pillow decodes (interlaced, bit depths below 8,
    grey with alpha), for flavours not in ``accept`` (``(PNG colour type, bit
    depth)`` pairs; when None, all but 16-bit colour), and, but for 16-bit
    colour, when libdeflate or the compiled extension is missing.  Raises
    :class:`ImageError` naming ``name`` for a corrupted or truncated file, or
    one declaring more than ``max_pixels`` pixels (by default the limit of :mod:`.limits`).

    >>> import numpy as np
    >>> decode_png(encode_png(np.array([[1, 2], [3, 4]], np.uint8))).tolist()
    [[1, 2], [3, 4]]
    """
    inflated = inflate_png(data, name, accept, max_pixels)
    return None if inflated is None else unfilter_png(*inflated, name)


def unfilter_png(raw, header, name=None):
    """The pixels of :func:`inflate_png`'s ``(raw, header)``, as :func:`decode_png` returns them;
    raises :class:`ImageError` naming ``name`` for a row of an unknown filter type."""
    import numpy as np
    height, width, channels, depth = header
    stride = width * channels * depth // 8
    pixels = np.empty((height, stride), np.uint8)
    check_unfiltered(kernels.png_unfilter(raw, pixels, channels * depth // 8), raw, stride, name)
    if depth == 16:
        pixels = pixels.view(">u2").astype(np.uint16)
    if channels > 1:
        pixels = pixels.reshape(height, width, channels)
    return pixels


def inflate_png(data, name=None, accept=None, max_pixels=None):
    """The image data of PNG bytes, inflated and still filtered: ``(raw, (height, width, channels,
    depth))``, raw (H * (1 + W * channels * depth / 8),) uint8, each row a filter-type byte then
    its bytes; None for what :func:`decode_png` leaves to Pillow.  Checks and errors as there:
    every chunk is checked (:func:`check_chunks`), also of a file left to Pillow."""
    import numpy as np
    if data[:8] != _SIGNATURE:
        return None
    header, idat = check_chunks(data, name, max_pixels)
    width, height, depth, color_type, _, _, interlace = header
    flavour = (color_type, depth)
    if (interlace or flavour not in _DECODED or flavour not in (_DEFAULT_ACCEPT if accept is None else accept)
            or (flavour not in SIXTEEN_BIT_COLOUR and (_libdeflate is None or not kernels.HAVE_EXTENSION))):
        return None  # Pillow's; without libdeflate and the extension it decodes faster than our fallbacks
    channels = _DECODED[flavour]
    bpp = channels * depth // 8
    stride = width * bpp
    expected = height * (stride + 1)
    compressed = idat[0] if len(idat) == 1 else b"".join(idat)
    try:
        raw = (zlib.decompress(compressed) if _libdeflate is None
               else _libdeflate.zlib_decompress(compressed, expected))
    except _DeflateError:
        raise ImageError(f"corrupted PNG: the image data does not inflate to the {expected} bytes "
                         f"a {width}x{height} image needs", name) from None
    if len(raw) != expected:
        raise ImageError(f"corrupted PNG: the image data holds {len(raw)} bytes, "
                         f"a {width}x{height} image needs {expected}", name)
    return np.frombuffer(raw, np.uint8), (height, width, channels, depth)


def check_chunks(data, name=None, max_pixels=None):
    """``(IHDR fields, [IDAT bodies])`` of PNG bytes, after checking every chunk up to IEND.

    Raises :class:`ImageError` naming ``name`` for a CRC mismatch in any chunk
    (critical or ancillary), a truncated file, a first chunk other than IHDR,
    an unknown critical chunk, or a declared size over ``max_pixels``.
    Pillow checks no CRC of the image data: a file it decodes is checked here
    first, or a corrupted one would give other pixels.
    """
    view = memoryview(data)
    header, idat, pos = None, [], 8
    while True:
        if pos + 12 > len(data):
            raise ImageError("truncated PNG: the file ends before its IEND chunk", name)
        length, kind = struct.unpack_from(">I4s", data, pos)
        end = pos + 12 + length
        label = kind.decode("latin-1")
        if end > len(data):
            raise ImageError(f"truncated PNG: chunk {label!r} of {length} bytes runs past the end of the file",
                             name)
        if _crc32(view[pos + 4:end - 4]) != struct.unpack_from(">I", data, end - 4)[0]:
            raise ImageError(f"corrupted PNG: CRC mismatch in chunk {label!r} at byte {pos}", name)
        body = view[pos + 8:end - 4]
        if header is None and kind != b"IHDR":
            raise ImageError(f"corrupted PNG: first chunk is {label!r}, not 'IHDR'", name)
        if kind == b"IHDR":
            if length != 13:
                raise ImageError(f"corrupted PNG: IHDR has {length} bytes, not 13", name)
            header = struct.unpack(">IIBBBBB", body)
            width, height = header[:2]
            if width == 0 or height == 0:
                raise ImageError(f"corrupted PNG: declared size {width}x{height}", name)
            limits.check_pixels(width, height, name, limit=max_pixels)
        elif kind == b"IDAT":
            idat.append(body)
        elif kind == b"IEND":
            return header, idat
        elif kind not in _KNOWN_CHUNKS and not kind[0] & 0x20:  # bit 5 of the first letter: ancillary
            raise ImageError(f"unsupported PNG: unknown critical chunk {label!r}", name)
        pos = end


def check_unfiltered(bad_row, raw, stride, name=None):
    """Raise :class:`ImageError` naming ``name`` when an unfilter kernel found a row of an
    unknown filter type (``bad_row`` >= 0) in ``raw`` (rows of a filter byte and ``stride`` bytes)."""
    if bad_row >= 0:
        raise ImageError(f"corrupted PNG: row {bad_row} has unknown filter type {raw[bad_row * (stride + 1)]}",
                         name)


def _read_bytes(path):
    try:
        with open(path, "rb") as f:
            return f.read()
    except FileNotFoundError:
        raise ImageError("file not found", path) from None
    except OSError as e:
        raise ImageError(f"cannot read image: {e}", path) from None


def _read_checked(path, check_size):
    """The bytes of ``path``; ``check_size``, if given, is called with the header's ``(width, height)``
    before anything is inflated (to refuse a wrong-sized or huge file early), from the same read."""
    data = _read_bytes(path)
    if check_size is not None:
        check_size(limits.header_size(path, data))
    return data


def _decode(path, accept, max_pixels, check_size=None, data=None):
    """``(array, None)`` from our decoder, or ``(None, image)`` decoded by Pillow; the file is read once
    (not at all when its ``data`` is given, its size then checked already).  ``check_size``: as in
    :func:`_read_checked`."""
    if data is None:
        data = _read_checked(path, check_size)
    array = decode_png(data, path, accept, max_pixels)
    if array is not None:
        return array, None
    return None, _pillow_image(io.BytesIO(data), path, max_pixels)


def _pillow_image(source, path, max_pixels):
    try:
        image = limits.pillow_open(source)
        limits.check_pixels(image.width, image.height, path, limit=max_pixels)
        image.load()
    except FileNotFoundError:
        raise ImageError("file not found", path) from None
    except UnidentifiedImageError:  # its message names the in-memory buffer, not the file
        raise ImageError(limits.NOT_AN_IMAGE, path) from None
    except (OSError, ValueError, SyntaxError, EOFError, struct.error) as e:
        raise ImageError(f"cannot read image: {e}", path) from None
    return image


def open_image(path, max_pixels=None):
    """Open an image with Pillow, raising :class:`ImageError` naming the file (a PNG's chunks
    checked first, as :func:`check_chunks` does)."""
    data = _read_bytes(path)
    if data[:8] == _SIGNATURE:
        check_chunks(data, path, max_pixels)
    return _pillow_image(io.BytesIO(data), path, max_pixels)


def read_label_map(path, max_pixels=None, check_size=None, data=None):
    """A single-channel label map as a 2-D array.

    8-bit grey and palette images give uint8 (palette indices, not colours),
    16-bit images give uint16, 32-bit ones int32.  Raises :class:`ImageError`
    for a missing or unreadable file, or a multi-channel image.  ``check_size``
    and ``data``: as in :func:`_decode`.
    """
    import numpy as np
    array, image = _decode(path, _ONE_CHANNEL, max_pixels, check_size, data)
    if array is not None:
        return array
    if image.mode in ("L", "P"):
        return np.asarray(image)
    if image.mode in ("I;16", "I;16B", "I;16L"):
        return np.asarray(image).astype(np.uint16, copy=False)
    if image.mode == "I":
        return np.asarray(image)
    if image.mode == "1":
        return np.asarray(image).astype(np.uint8)
    raise ImageError(f"expected a single-channel image, got mode {image.mode} "
                     f"with {len(image.getbands())} channels", path)


def read_grey(path, max_pixels=None, check_size=None, data=None):
    """An image as (H, W) uint8 grey values, converted as Pillow's ``convert("L")`` does.
    ``check_size`` and ``data``: as in :func:`_decode`."""
    array, image = _decode(path, {(0, 8)}, max_pixels, check_size, data)
    return _grey(image) if array is None else array


class FilteredPNG:
    """A PNG as its inflated, still filtered rows, for a kernel that unfilters them as it goes:
    ``raw`` and ``header`` ``(height, width, channels, depth)`` as :func:`inflate_png` gives them,
    ``shape`` ``(height, width)``; :meth:`pixels` decodes it after all."""

    def __init__(self, path, raw, header):
        self.path, self.raw, self.header = path, raw, header
        self.shape = header[:2]

    @property
    def stride(self):
        """Bytes of one unfiltered row."""
        height, width, channels, depth = self.header
        return width * channels * depth // 8

    @property
    def rows(self):
        """The filtered rows (a filter byte before each), for a kernel that unfilters them as it counts."""
        return self.raw

    @property
    def sample_bytes(self):
        """Bytes of one sample (1 for 8-bit, 2 for 16-bit images)."""
        return self.header[3] // 8

    def check_row(self, bad_row):
        """Raise :class:`ImageError` naming the file when a kernel reported ``bad_row`` (>= 0): a row of an
        unknown filter type."""
        check_unfiltered(bad_row, self.raw, self.stride, self.path)

    def pixels(self):
        """The pixels :func:`decode_png` gives."""
        return unfilter_png(self.raw, self.header, self.path)


def is_filtered(image):
    """Whether ``image`` (a :func:`read_filtered` result) is still filtered rows, for a counting kernel."""
    return isinstance(image, FilteredPNG)


def pixels_of(image, dtype=None):
    """The array of a :func:`read_filtered` image (None stays None), as ``dtype`` if given."""
    if isinstance(image, FilteredPNG):
        image = image.pixels()
    return image if dtype is None or image is None else image.astype(dtype, copy=False)


def read_filtered(path, accept, read, max_pixels=None, check_size=None):
    """A PNG of a flavour in ``accept`` (``(colour type, bit depth)`` pairs) as a :class:`FilteredPNG`;
    any other image as ``read`` (the ``read_*`` function of its kind) gives it, from the same read of
    the file.  ``check_size``: as in :func:`_read_checked`."""
    data = _read_checked(path, check_size)
    inflated = inflate_png(data, path, accept, max_pixels)
    return read(path, max_pixels, data=data) if inflated is None else FilteredPNG(path, *inflated)


def _grey(image):
    """A Pillow image as (H, W) uint8, converted as ``convert("L")`` does."""
    import numpy as np
    return np.asarray(image if image.mode == "L" else image.convert("L"))


def read_rgb(path, max_pixels=None, check_size=None, data=None):
    """An RGB image as (H, W, 3) uint8 (alpha dropped, grey and palette images converted).
    ``check_size`` and ``data``: as in :func:`_decode`."""
    import numpy as np
    array, image = _decode(path, EIGHT_BIT_COLOUR, max_pixels, check_size, data)
    if array is not None:
        return array if array.shape[2] == 3 else np.ascontiguousarray(array[..., :3])
    if image.mode != "RGB":
        image = image.convert("RGB")
    return np.asarray(image)


def read_ids_16bit(path, max_pixels=None, data=None):
    """An id map that must fit 16 bits (instanceIds) as uint16; ``data``: as in :func:`_decode`."""
    import numpy as np
    ids = read_label_map(path, max_pixels, data=data)
    if ids.dtype == np.uint8:
        return ids.astype(np.uint16)
    if ids.dtype != np.uint16:
        if ids.size and (ids.min() < 0 or ids.max() > 65535):
            raise ImageError(f"values outside 0..65535 (min {ids.min()}, max {ids.max()})", path)
        ids = ids.astype(np.uint16)
    return ids
