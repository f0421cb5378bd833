"""The largest image the package decodes or draws, checked before any pixel buffer is allocated.

A PNG declares its size in its header and a polygon file in ``imgWidth`` /
``imgHeight``; the readers (:mod:`.png`) and the rasterizer check it here,
against one limit, so a small file cannot make a worker allocate gigabytes.
The limit is :data:`DEFAULT_MAX_PIXELS` unless ``$CITYSCAPES_MAX_PIXELS``
(set by the tools' ``--max-pixels``) raises or lowers it; worker processes
inherit it.  A reader may also pass its own ``limit``.
"""
import io
import os
import struct

from PIL import UnidentifiedImageError  # PIL.Image itself only where Pillow opens a file

from ..errors import ArgumentError, ImageError

DEFAULT_MAX_PIXELS = 64 * 2 ** 20  # 32 full-size Cityscapes frames
VARIABLE = "CITYSCAPES_MAX_PIXELS"
NOT_AN_IMAGE = "not an image file (neither PNG nor another format Pillow reads)"


def max_pixels():
    """The pixel limit in force: ``$CITYSCAPES_MAX_PIXELS`` if set, else :data:`DEFAULT_MAX_PIXELS`."""
    value = os.environ.get(VARIABLE)
    if not value:
        return DEFAULT_MAX_PIXELS
    try:
        limit = int(value)
    except ValueError:
        limit = 0
    if limit <= 0:
        raise ArgumentError(f"${VARIABLE} must be a positive number of pixels, got {value!r}")
    return limit


def set_max_pixels(limit):
    """Set the limit for this process and the workers it starts (what ``--max-pixels`` does)."""
    if int(limit) <= 0:
        raise ArgumentError(f"the pixel limit must be positive, got {limit}")
    os.environ[VARIABLE] = str(int(limit))


def check_pixels(width, height, source=None, error=ImageError, limit=None):
    """Raise ``error(reason, source)`` when a ``width`` x ``height`` image exceeds ``limit`` (default :func:`max_pixels`)."""
    limit = max_pixels() if limit is None else limit
    if width * height > limit:
        raise error(f"declared size {width}x{height} is more than {limit} pixels (raise the limit with "
                    f"--max-pixels, ${VARIABLE} or max_pixels=)", source)


def pillow_open(source):
    """``PIL.Image.open``, header read and pixels not decoded, with Pillow's own bomb guard left to us.

    Pillow warns above 89 million pixels and refuses twice that at open;
    :func:`check_pixels` is then the one limit, whatever it is set to.
    """
    from PIL import Image
    saved = Image.MAX_IMAGE_PIXELS
    Image.MAX_IMAGE_PIXELS = None
    try:
        return Image.open(source)
    finally:
        Image.MAX_IMAGE_PIXELS = saved


_PNG_HEAD = struct.Struct(">8s4s4sII")  # signature, IHDR length, b"IHDR", width, height


def header_size(path, data=None):
    """``(width, height)`` from an image file's header, without decoding it (nor checking the limit).

    A PNG's size is read from its first 24 bytes (a tenth of the time of Pillow's open, which
    reads every other image format).  With ``data`` (the file's bytes, already read), the file
    is not opened again; ``path`` only names it."""
    try:
        if data is None:
            with open(path, "rb") as f:
                head = f.read(_PNG_HEAD.size)
        else:
            head = data[:_PNG_HEAD.size]
        if len(head) == _PNG_HEAD.size:
            signature, _, kind, width, height = _PNG_HEAD.unpack(head)
            if signature == b"\x89PNG\r\n\x1a\n" and kind == b"IHDR":
                return width, height
        with pillow_open(path if data is None else io.BytesIO(data)) as image:
            return image.size
    except FileNotFoundError:
        raise ImageError("file not found", path) from None
    except UnidentifiedImageError:
        raise ImageError(NOT_AN_IMAGE, path) from None
    except OSError as e:
        raise ImageError(f"cannot read image: {e}", path) from None
