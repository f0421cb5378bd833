"""Exceptions raised by this package.

Every error names the file (or argument) it concerns and the reason, so a
batch tool can report it and go on.  Command-line tools turn them, and only
them, into one ``ERROR: ...`` line and exit status 1 (:func:`cityscapesscripts.cli.entry_point`);
any other exception is a bug and ends with its traceback.  :class:`ArgumentError`
is also a ``ValueError`` and :class:`FileAccessError` an ``OSError``, the
types such problems raised before.
"""


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
