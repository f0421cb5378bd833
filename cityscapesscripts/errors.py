"""Exceptions raised by this package.

Every error names the file (or argument) it concerns and the reason, so a
batch tool can report it and go on.  Command-line tools turn them, and only
them, into one ``ERROR: ...`` line and exit status 1 (:func:`cityscapesscripts.cli.entry_point`);
any other exception is a bug and ends with its traceback.  :class:`ArgumentError`
is also a ``ValueError`` and :class:`FileAccessError` an ``OSError``, the
types such problems raised before.

A batch does not stop at a failed item: its failure becomes an :class:`ItemError` record
(:func:`error_record`), and the records of a batch become one exception (:func:`failures_error`).
"""
from __future__ import annotations

import os
import pickle
import sys


class CityscapesError(Exception):
    """Base class: ``path`` (may be None) and a human-readable ``reason``."""

    def __init__(self, reason, path=None):
        self.reason = reason
        self.path = None if path is None else str(path)
        super().__init__(f"{self.path}: {reason}" if self.path else reason)

    def __reduce__(self):  # errors travel back from worker processes
        return type(self), (self.reason, self.path)


class ArgumentError(CityscapesError, ValueError):
    """An argument, option or setting has a value the function or tool cannot use."""


class FileAccessError(CityscapesError, OSError):
    """A file or folder cannot be read, created or written (missing, permissions, disk full, a file in the way)."""

    @classmethod
    def of(cls, error, path=None, doing="write"):
        """The error for an ``OSError`` met while ``doing`` something with ``path`` (default: the error's file)."""
        path = path if path is not None else error.filename
        reason = error.strerror or str(error) or type(error).__name__
        return cls(f"cannot {doing}: {reason}", path)


class LabelSetError(CityscapesError):
    """A label table file (label_colors.txt, dataset_meta.json) is invalid."""


class AnnotationError(CityscapesError):
    """A polygon / bounding-box JSON file is invalid or names an unknown label."""


class LayoutError(CityscapesError):
    """A path does not follow the Cityscapes layout, or nothing was found."""


class ImageError(CityscapesError):
    """An image cannot be read, or has the wrong size, channels or values."""


class PredictionError(CityscapesError):
    """A prediction file or folder is invalid."""


class ResultsError(CityscapesError, ValueError):
    """A results file (a 3D evaluation's ``results.json``) lacks what is asked of it."""


class BatchError(CityscapesError):
    """Several items of a batch failed; ``failures`` holds one line per item (its file and reason)."""

    def __init__(self, failures, path=None):
        self.failures = list(failures)
        super().__init__(f"{len(self.failures)} items failed:\n" + "\n".join(self.failures), path)

    def __reduce__(self):
        return type(self), (self.failures, self.path)


class DownloadError(CityscapesError):
    """csDownload: the site answered with an error, a package failed, or an archive is unsafe."""


class CredentialsError(DownloadError):
    """The Cityscapes site refused the username or password, or none could be obtained."""


class SaveConflictError(AnnotationError):
    """An annotation file changed on disk between opening it for editing and saving it."""


class DependencyError(CityscapesError):
    """An optional dependency is missing; the reason says what to ``pip install``."""


class ItemError:
    """The failure of one item: ``item`` (its name, usually its input file) and ``reason``.

    ``exception`` is the original exception when it survives pickling, so a
    caller with a single failure can raise what a serial run raises.  Immutable, compared and
    hashed by its fields (written out rather than a frozen dataclass: ``dataclasses`` imports
    ``inspect``, a sixth of a batch tool's start-up).
    """
    __slots__ = ("item", "reason", "exception")

    def __init__(self, item, reason, exception=None):
        for name, value in zip(self.__slots__, (item, reason, exception)):
            object.__setattr__(self, name, value)

    def __setattr__(self, name, value):
        raise AttributeError(f"cannot assign to field {name!r} of an ItemError")

    __delattr__ = __setattr__

    def _fields(self):
        return self.item, self.reason, self.exception

    def __eq__(self, other):
        return self._fields() == other._fields() if type(other) is ItemError else NotImplemented

    def __hash__(self):
        return hash(self._fields())

    def __reduce__(self):
        return ItemError, self._fields()

    def __repr__(self):
        return f"ItemError(item={self.item!r}, reason={self.reason!r}, exception={self.exception!r})"

    def __str__(self):
        return f"{self.item}: {self.reason}"


def item_name(item) -> str:
    """How an item is named in its error: a path as is, a tuple by its first element, else ``repr``."""
    if isinstance(item, (str, os.PathLike)):
        return os.fspath(item)
    if isinstance(item, tuple) and item:
        return item_name(item[0])
    text = repr(item)
    return text if len(text) <= 200 else text[:197] + "..."


def describe(error: BaseException, name: str | None = None) -> str:
    """A one-line reason for an exception, without repeating ``name`` when the error names it already."""
    if isinstance(error, CityscapesError):
        return error.reason if error.path in (None, name) else str(error)
    if isinstance(error, OSError) and error.strerror:
        where = error.filename if error.filename not in (None, name) else None
        return f"{where}: {error.strerror}" if where else error.strerror
    if isinstance(error, MemoryError):
        return "out of memory" + (f" ({error})" if str(error) else "")
    if isinstance(error, RecursionError):
        return f"nested too deeply ({error})"
    return f"{type(error).__name__}: {error}" if str(error) else type(error).__name__


# What bad input or the machine raise; any other exception in a worker is a bug of ours.
_INPUT_OR_MACHINE = (CityscapesError, OSError, MemoryError, RecursionError, OverflowError, SystemExit)


def _is_bug(error):
    pillow = sys.modules.get("PIL.Image")  # its size guard is about the input; not imported here for it
    return not isinstance(error, _INPUT_OR_MACHINE) and not (
        pillow is not None and isinstance(error, pillow.DecompressionBombError))


def error_record(name: str, error: BaseException) -> ItemError:
    """The :class:`ItemError` of ``error`` for the item ``name``; keeps the exception if it pickles.

    A bug's reason goes on with its traceback, formatted here because tracebacks do not pickle.
    """
    try:
        kept = pickle.loads(pickle.dumps(error))
    except Exception:  # the record must always reach the parent, the exception object need not
        kept = None
    reason = describe(error, name)
    if _is_bug(error):
        import traceback  # here: only a bug needs it, and it costs every tool's start-up
        reason += "\n" + "".join(traceback.format_exception(type(error), error, error.__traceback__)).rstrip()
    return ItemError(name, reason, kept)


def failures_error(failures: list[ItemError]) -> CityscapesError:
    """The exception for a batch's failures: a single item's own :class:`CityscapesError`, else a :class:`BatchError`."""
    if len(failures) == 1 and isinstance(failures[0].exception, CityscapesError):
        return failures[0].exception
    return BatchError([str(f) for f in failures])
