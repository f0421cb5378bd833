"""matplotlib, loaded only when a figure is asked for, and figures saved atomically."""
import os

from .errors import DependencyError
from .io.files import atomic_target

MISSING_MATPLOTLIB = "plots need matplotlib: pip install matplotlib"


def pyplot(headless=True):
    """``matplotlib.pyplot`` (on the file-only Agg backend when ``headless``).

    Raises :class:`DependencyError` saying what to install when matplotlib is missing.
    """
    try:
        import matplotlib
    except ImportError:
        raise DependencyError(MISSING_MATPLOTLIB) from None
    if headless:
        matplotlib.use("Agg")
    import matplotlib.pyplot as plt
    return plt


def save_figure(figure, path, **options):
    """Save a matplotlib figure to ``path`` atomically (format from the extension); returns the absolute path."""
    with atomic_target(path) as tmp:  # the temporary name ends with the name of path: same extension
        figure.savefig(tmp, **options)
    return os.path.abspath(path)
