"""The largest image the package decodes or draws, checked before any pixel buffer is allocated.

A PNG declares its size in its header and a polygon file in ``imgWidth`` /
``imgHeight``; the readers (:mod:`.png`) and the rasterizer check it here,
against one limit, so a small file cannot make a worker allocate gigabytes.
The limit is :data:`DEFAULT_MAX_PIXELS` unless ``$CITYSCAPES_MAX_PIXELS``
raises or lowers it, or this process chose another: a tool's ``--max-pixels``
(its run, :class:`cityscapesscripts.parallel.Run`, puts it in force in the tool
and in each task of its maps, so every worker, forked or on a Dask cluster,
reads with it) or :func:`set_max_pixels`.  A reader may also pass its own ``limit``.
"""
import contextvars
import io
import os
import struct

from PIL import UnidentifiedImageError  # PIL.Image itself only where Pillow opens a file

from ..errors import ArgumentError, ImageError

DEFAULT_MAX_PIXELS = 64 * 2 ** 20  # 32 full-size Cityscapes frames
VARIABLE = "CITYSCAPES_MAX_PIXELS"
NOT_AN_IMAGE = "not an image file (neither PNG nor another format Pillow reads)"


# the limit of the innermost `applied` block of this thread (a run, or a task in a worker), else this process's
_applied = contextvars.ContextVar("cityscapes_max_pixels", default=None)
_process_limit = None  # set by set_max_pixels()


def max_pixels():
    """The pixel limit in force: the one applied here (:class:`applied`, :func:`set_max_pixels`), else
    ``$CITYSCAPES_MAX_PIXELS`` if set, else :data:`DEFAULT_MAX_PIXELS`."""
    chosen_here = _applied.get()
    if chosen_here is None:
        chosen_here = _process_limit
    if chosen_here is not None:
        return chosen_here
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


def chosen():
    """The limit this process chose (applied, set, or a valid ``$CITYSCAPES_MAX_PIXELS``), or None: the default,
    or a variable that is not a number, which each reader reports as it does without a pool."""
    try:
        return max_pixels() if _applied.get() or _process_limit or os.environ.get(VARIABLE) else None
    except ArgumentError:
        return None


def checked_limit(limit):
    """``limit`` as an int, or an :class:`ArgumentError` unless it is a positive number of pixels."""
    if int(limit) <= 0:
        raise ArgumentError(f"the pixel limit must be positive, got {limit}")
    return int(limit)


def set_max_pixels(limit):
    """Set the limit for this process, in place of ``$CITYSCAPES_MAX_PIXELS``; the maps it runs carry it to
    their workers."""
    global _process_limit
    _process_limit = checked_limit(limit)


class applied:
    """``with applied(limit):`` the limit in force in this thread inside the block (None: left as it is)."""
    __slots__ = ("_limit", "_token")

    def __init__(self, limit):
        self._limit = limit

    def __enter__(self):
        self._token = None if self._limit is None else _applied.set(self._limit)
        return self

    def __exit__(self, *exc):
        if self._token is not None:
            _applied.reset(self._token)


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
