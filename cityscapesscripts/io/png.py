"""Reading and writing label-map PNGs: 8-bit, 16-bit, RGB(A); atomic writes.

Writing uses a small encoder of our own: every row takes PNG filter 2 (Up)
and the stream is deflated by libdeflate (the ``deflate`` package) at level 4,
or, when it is missing, by zlib (run-length strategy for one-channel maps,
level 4 for colour, where runs repeat every 4 bytes).  Label maps are large
flat regions, so rows mostly repeat: on full-size Cityscapes frames this
writes files no larger than Pillow's default in a third to a fifth of its
time, because Pillow spends most of its time choosing a filter per row
(benchmarks/REPORT.md has the measurements).  The files are standard PNGs.
Reading uses Pillow: a decoder of our own (zlib plus a compiled unfilter)
was no faster.

Every write goes to a temporary name in the target folder and is renamed
into place, so an interrupted or failed run never leaves a half-written file.
"""
import contextlib
import os
import struct
import tempfile
import zlib

import numpy as np
from PIL import Image

from ..errors import ImageError

try:  # libdeflate compresses label maps about twice as fast as zlib, and smaller
    import deflate as _libdeflate
except ImportError:  # pragma: no cover - optional speed-up
    _libdeflate = None

_SIGNATURE = b"\x89PNG\r\n\x1a\n"
_COLOR_TYPES = {1: 0, 3: 2, 4: 6}  # channels -> PNG colour type (grey, RGB, RGBA)


def encode_png(array):
    """PNG bytes of ``array``: (H, W) uint8 or uint16, or (H, W, 3|4) uint8."""
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
    data = _compress(raw, channels)
    header = struct.pack(">IIBBBBB", width, height, depth, _COLOR_TYPES[channels], 0, 0, 0)
    return b"".join((_SIGNATURE, _chunk(b"IHDR", header), _chunk(b"IDAT", data), _chunk(b"IEND", b"")))


def _compress(raw, channels):
    if _libdeflate is not None:
        return _libdeflate.zlib_compress(raw, 4)
    if channels == 1:
        stream = zlib.compressobj(1, zlib.DEFLATED, 15, 9, zlib.Z_RLE)
    else:
        stream = zlib.compressobj(4, zlib.DEFLATED, 15, 9, zlib.Z_DEFAULT_STRATEGY)
    return stream.compress(raw) + stream.flush()


def _chunk(kind, payload):
    return struct.pack(">I", len(payload)) + kind + payload + struct.pack(">I", zlib.crc32(kind + payload))


def write_png(path, array):
    """Write ``array`` as PNG to ``path`` atomically (temporary name, then rename)."""
    write_atomic(path, encode_png(array))


@contextlib.contextmanager
def atomic_target(path, mode=0o644):
    """A temporary path in the folder of ``path``, renamed to ``path`` (with ``mode``) when the block succeeds."""
    folder = os.path.dirname(os.path.abspath(path))
    fd, tmp = tempfile.mkstemp(prefix=".tmp-", suffix="-" + os.path.basename(path), dir=folder)
    os.close(fd)
    try:
        yield tmp
        os.chmod(tmp, mode)
        os.replace(tmp, path)
    except BaseException:
        try:
            os.unlink(tmp)
        except OSError:
            pass
        raise


def write_atomic(path, data):
    """Write bytes to ``path`` through a temporary file in the same folder."""
    with atomic_target(path) as tmp, open(tmp, "wb") as f:
        f.write(data)


def save_image_atomic(image, path, **params):
    """Save a PIL image atomically, format from the extension of ``path``."""
    fmt = Image.registered_extensions().get(os.path.splitext(path)[1].lower(), "PNG")
    with atomic_target(path) as tmp:
        image.save(tmp, fmt, **params)


def open_image(path):
    """Open an image with Pillow, raising :class:`ImageError` naming the file."""
    try:
        image = Image.open(path)
        image.load()
    except FileNotFoundError:
        raise ImageError("file not found", path) from None
    except OSError as e:
        raise ImageError(f"cannot read image: {e}", path) from None
    return image


def read_label_map(path):
    """A single-channel label map as a 2-D array.

    8-bit grey and palette images give uint8 (palette indices, not colours),
    16-bit images give uint16, 32-bit ones int32.  Raises :class:`ImageError`
    for a missing or unreadable file, or a multi-channel image.
    """
    image = open_image(path)
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


def read_rgb(path):
    """An RGB image as (H, W, 3) uint8."""
    image = open_image(path)
    if image.mode != "RGB":
        image = image.convert("RGB")
    return np.asarray(image)


def read_ids_16bit(path):
    """An id map that must fit 16 bits (instanceIds) as uint16."""
    ids = read_label_map(path)
    if ids.dtype == np.uint8:
        return ids.astype(np.uint16)
    if ids.dtype != np.uint16:
        if ids.size and (ids.min() < 0 or ids.max() > 65535):
            raise ImageError(f"values outside 0..65535 (min {ids.min()}, max {ids.max()})", path)
        ids = ids.astype(np.uint16)
    return ids
