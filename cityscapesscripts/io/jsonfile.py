"""JSON and text files: reading with errors that name the file, writing atomically.

Every file the package writes (text, JSON, PNG, figure) goes through
:func:`cityscapesscripts.io.files.atomic_target`: a temporary file in the same
folder, renamed when complete, so no half-written file is ever left.

With ``msgspec`` installed (``pip install msgspec``) texts
of :data:`FAST_FROM` bytes or more are parsed by it, about 1.5 times faster
than the standard library and to the same values; whatever it rejects (NaN,
Infinity, numbers beyond the float range, lone surrogates, malformed text) is
parsed again by the standard library, so results and error messages are the
standard library's.  (orjson, faster still, turns integers beyond 64 bits
into floats without a word.)
"""
import json

from .files import write_atomic

# Shorter texts go to the standard library: a 100 kB polygon file takes it 0.7 ms (msgspec 0.45),
# and importing msgspec (about 25 ms) would cost each worker of a batch tool more than it saves.
FAST_FROM = 1 << 20
_msgspec = None  # the module once imported, False when it is not installed


def _fast_parser():
    global _msgspec
    if _msgspec is None:
        try:
            import msgspec
        except ImportError:  # pragma: no cover - the standard library parses alone
            msgspec = False
        _msgspec = msgspec
    return _msgspec or None


def loads(data):
    """Parse JSON text (str, or UTF-8 bytes) to the value ``json.loads`` gives, or raise its error."""
    fast = _fast_parser() if len(data) >= FAST_FROM else None
    if fast is not None:
        try:
            return fast.json.decode(data)
        except (fast.MsgspecError, ValueError, RecursionError):  # the standard library words the error
            pass
    return json.loads(data.decode("utf-8") if isinstance(data, (bytes, bytearray)) else data)


def read_json(path, error):
    """The parsed content of ``path``; raises ``error(reason, path)`` when unreadable or invalid."""
    try:
        with open(path, "rb") as f:
            return loads(f.read())
    except OSError as e:
        raise error(f"cannot read: {e.strerror}", path) from None
    except (ValueError, RecursionError) as e:  # RecursionError: nested too deeply
        raise error(f"not valid JSON: {e}", path) from None


def write_text(path, text):
    """Write ``text`` (UTF-8) to ``path`` atomically."""
    write_atomic(path, text.encode("utf-8"))


def write_json(path, data, default=None, **options):
    """Write ``json.dumps(data, **options)`` to ``path`` atomically.

    NumPy scalars and arrays are written as plain numbers and lists;
    ``default`` handles any other type (as in :func:`json.dumps`).
    """
    import numpy as np

    def plain(value):
        if isinstance(value, np.generic):
            return value.item()
        if isinstance(value, np.ndarray):
            return value.tolist()
        if default is not None:
            return default(value)
        raise TypeError(f"Object of type {type(value).__name__} is not JSON serializable")
    write_text(path, json.dumps(data, default=plain, **options))

