"""The console scripts' one convention: shared options, the error line, exit statuses, interrupts.

Every tool builds its parser with :func:`parser` and its common options here (``-q``, ``-j``,
``--split``, ``--labels``, ``--json``, ``--train-ids``, ``--scheduler``, ``--max-pixels``; the
README's "Options every tool shares" lists them), and runs under :func:`entry_point`.  A batch
tool makes one :class:`~cityscapesscripts.parallel.Run` from its options (:func:`run_of`: jobs,
``--scheduler``, ``--max-pixels``) and passes it down as ``jobs``, inside ``with run:``; parsing
the options sets nothing.

Exit status: :data:`OK` (0); :data:`FAILED` (1), after one ``ERROR: ...`` line per problem on
stderr; :data:`USAGE` (2), a command line that does not parse (its usage, then an ``ERROR:``
line); :data:`INTERRUPTED` (130).  Only this package's errors
(:class:`~cityscapesscripts.errors.CityscapesError`) become lines: any other exception is a bug
and ends with its traceback.  (The compat modules' ``printError`` exits with 255, as the original.)
"""
import argparse
import atexit
import functools
import gc
import os
import signal
import sys

from . import parallel
from .errors import ArgumentError, BatchError, CityscapesError, LayoutError, describe
from .helpers.labelset import CITYSCAPES, LabelSet
from .io import layout, limits

OK, FAILED, USAGE, INTERRUPTED = 0, 1, 2, 130  # INTERRUPTED: the shell's status for a command stopped by SIGINT
DEFAULT_SPLIT = "val"
ALL_SPLITS = "all"


def print_error(problem):
    """The one line a tool prints for a problem: ``ERROR: {file}: {reason}``, on stderr."""
    print(f"ERROR: {problem}", file=sys.stderr)


def print_warning(problem):
    print(f"WARNING: {problem}", file=sys.stderr)


def printer(quiet):
    """``print``, or a function that prints nothing under ``--quiet``."""
    return (lambda *args, **kwargs: None) if quiet else print


class ArgumentParser(argparse.ArgumentParser):
    """argparse with the tools' error line: a command line that does not parse prints its usage and
    ``ERROR: ...``, and exits with :data:`USAGE`."""

    def error(self, message):
        self.print_usage(sys.stderr)
        print_error(message)
        sys.exit(USAGE)


def parser(description, **options):
    """A tool's argument parser (:class:`ArgumentParser`)."""
    return ArgumentParser(description=description, **options)


def add_quiet_option(parser, help="no progress bars or information lines (results and errors still print)"):
    parser.add_argument("-q", "--quiet", action="store_true", help=help)


def add_jobs_option(parser):
    parser.add_argument("-j", "--jobs", type=int, default=0, metavar="N", help="worker processes (default: all cores)")


class _Splits(argparse.Action):
    """Collects ``--split`` values: repeated options, comma lists and several words (the original's ``--set-names``)."""

    def __call__(self, parser, namespace, values, option_string=None):
        found = list(getattr(namespace, self.dest) or [])
        for value in values if isinstance(values, list) else [values]:
            found += [name.strip() for name in value.split(",") if name.strip()]
        setattr(namespace, self.dest, found)


def add_split_option(parser, default=DEFAULT_SPLIT, *aliases, one=False):
    """``--split NAME`` (repeatable, comma lists, ``all``) and the original's ``aliases`` (several words each).

    ``default`` is a split, a list, or None for every split; read the choice with :func:`splits_of`.
    """
    shown = ALL_SPLITS if default is None else ",".join([default] if isinstance(default, str) else default)
    parser.add_argument("--split", dest="split", action=_Splits, metavar="NAME",
                        help=("the split to use" if one else "split(s) to use: repeat the option or give a comma "
                              f"list; '{ALL_SPLITS}': every split") + f" (default: {shown})")
    for alias in aliases:
        parser.add_argument(alias, dest="split", action=_Splits, nargs="+", metavar="NAME",
                            help="the same as --split (the original's name)")
    parser.set_defaults(split_default=default, split_one=one)


def splits_of(opts, root=None, annotation_type=layout.FINE, known=None):
    """The splits chosen by ``--split`` (or its default) as a list; ``all`` (or a default of None) is every
    split folder under ``{root}/{annotation_type}``, or None when no ``root`` is given.

    With a ``root`` (``annotation_type`` may be a list of folders), or with ``known`` split names, a name that is
    neither a Cityscapes split nor a split of the dataset is an :class:`ArgumentError` listing the known ones;
    with a ``root``, a split the dataset lacks is a :class:`LayoutError` when it was asked for, and is left out
    with a note when it is one of the tool's default splits and others are there.
    """
    chosen = opts.split or opts.split_default
    chosen = [chosen] if isinstance(chosen, str) else chosen
    types = [annotation_type] if isinstance(annotation_type, str) else list(annotation_type)
    present = sorted({s for kind in types for s in layout.splits_of(root, kind)}) if root is not None else []
    if chosen is None or ALL_SPLITS in chosen:
        return present if root is not None else None
    if opts.split_one and len(chosen) > 1:
        raise ArgumentError(f"--split takes one split here, got {', '.join(chosen)}")
    if root is None and known is None:
        return list(chosen)
    names = list(dict.fromkeys([*layout.SPLITS, *(known or ()), *present]))
    unknown = [s for s in chosen if s not in names]
    if unknown:
        raise ArgumentError(f"unknown split {', '.join(map(repr, unknown))}; known splits: {', '.join(names)}"
                            + ("" if opts.split_one else f", or '{ALL_SPLITS}'"))
    if root is None:
        return list(chosen)
    where = ", ".join(os.path.join(root, kind) if kind else root for kind in types)
    absent = [s for s in chosen if s not in present]
    if absent and (opts.split or opts.split_one):
        raise LayoutError(f"no {', '.join(absent)} split in {where} (it has: {', '.join(present) or 'none'})")
    if len(absent) == len(chosen):
        return list(chosen)  # none of the default splits: the tool says what it searched
    if absent and not getattr(opts, "quiet", False):
        print(f"note: no {', '.join(absent)} split in {where}; skipped", file=sys.stderr)
    return [s for s in chosen if s in present]


def _size(text):
    try:
        width, height = (int(v) for v in text.lower().split("x"))
    except ValueError:
        raise argparse.ArgumentTypeError(f"must be WIDTHxHEIGHT, got {text!r}") from None
    return width, height


def add_size_option(parser, default="2048x1024"):
    """``--size WIDTHxHEIGHT`` of the synthetic frames, read as ``(width, height)``."""
    parser.add_argument("--size", type=_size, default=_size(default), metavar="WIDTHxHEIGHT",
                        help=f"frame size (default {default})")


def add_json_option(parser, *aliases, default=None, what="the result dict"):
    """``--json OUT`` and the original's names for it (``--results-file``)."""
    parser.add_argument("--json", *aliases, dest="json", metavar="OUT", default=default,
                        help=f"write {what} to OUT" + (f" (default: {default})" if default else ""))


def add_train_ids_option(parser, help, *aliases):
    """``--train-ids`` and the original's names for it (``--use-train-id``, ``--trainids``)."""
    parser.add_argument("--train-ids", *aliases, dest="train_ids", action="store_true", help=help)


def add_batch_options(parser, labels=True):
    """``--labels``, ``-j/--jobs``, ``--overwrite/--skip-existing``, ``-q/--quiet``, ``--scheduler``, ``--max-pixels``."""
    if labels:
        add_labels_option(parser)
    add_jobs_option(parser)
    policy = parser.add_mutually_exclusive_group()
    policy.add_argument("--overwrite", dest="overwrite", action="store_true", default=True,
                        help="replace existing images (default)")
    policy.add_argument("--skip-existing", dest="overwrite", action="store_false",
                        help="keep images that already exist")
    add_quiet_option(parser)
    add_scheduler_option(parser)
    add_max_pixels_option(parser)


class _Scheduler(argparse.Action):
    """Stores the address, after checking that Dask is installed (a usage error if not)."""

    def __call__(self, parser, namespace, address, option_string=None):
        try:
            parallel.dask_backend.check_installed()
        except CityscapesError as e:
            parser.error(str(e))
        setattr(namespace, self.dest, address)


def add_scheduler_option(parser):
    """``--scheduler ADDRESS``: run the batch on a Dask cluster (connected and closed by the tool's run)."""
    parser.add_argument("--scheduler", metavar="ADDRESS", action=_Scheduler,
                        help="Dask scheduler to run on (tcp://host:8786), or 'local' for a LocalCluster "
                             "of -j workers; needs Dask: pip install \"dask[distributed]\"")


def add_max_pixels_option(parser):
    """``--max-pixels N``: the largest image (width x height) read or drawn."""
    parser.add_argument("--max-pixels", type=int, metavar="N",
                        help=f"refuse images larger than N pixels before allocating them (default "
                             f"{limits.DEFAULT_MAX_PIXELS}, or ${limits.VARIABLE})")


def run_of(opts) -> parallel.Run:
    """The tool's :class:`~cityscapesscripts.parallel.Run` from its ``-j``, ``--scheduler`` and ``--max-pixels``
    (those it has); enter it (``with run_of(opts) as run:``) around the tool's work, and pass it as ``jobs``."""
    return parallel.Run(getattr(opts, "jobs", None), scheduler=getattr(opts, "scheduler", None),
                        max_pixels=getattr(opts, "max_pixels", None))


def add_labels_option(parser):
    parser.add_argument("--labels", metavar="FILE", help="custom label set (label_colors.txt or dataset_meta.json)")


def label_set_of(opts):
    return LabelSet.load(opts.labels) if getattr(opts, "labels", None) else CITYSCAPES


def report(error):
    """Print one ``ERROR:`` line per problem of one of our errors; returns :data:`FAILED`."""
    problems = error.failures if isinstance(error, BatchError) else [describe(error)]
    for problem in problems:
        print_error(problem)
    return FAILED


def entry_point(main):
    """Decorate a console script's ``main``: its errors and interruptions end it cleanly.

    SIGTERM stops it as Ctrl-C does; an interruption prints one line and
    returns :data:`INTERRUPTED` (workers finish their items and print
    nothing); a :class:`CityscapesError` prints its ``ERROR:`` lines and
    returns :data:`FAILED`.  Nothing else is caught: a bug keeps its traceback.
    """
    @functools.wraps(main)
    def guarded(*args, **kwargs):
        try:
            previous, in_main_thread = parallel.stop_on_sigterm(), True
        except ValueError:  # not the main thread, whose signals these are (asked so: no `threading` import)
            previous, in_main_thread = None, False
        _collect_nothing_at_exit()
        try:
            return main(*args, **kwargs)
        except KeyboardInterrupt:
            print("interrupted", file=sys.stderr)
            return INTERRUPTED
        except CityscapesError as e:
            return report(e)
        finally:
            if in_main_thread:
                signal.signal(signal.SIGTERM, previous)
    return guarded


_exit_handler = []  # registered once per process


def _collect_nothing_at_exit():
    """At exit, Python's last collections walk every object still alive, which the system frees all the
    same (a few milliseconds of a short run): freeze them, after the other exit handlers have run.
    Nothing is lost: our files are closed by then, and the standard streams are flushed at exit."""
    if not _exit_handler:
        _exit_handler.append(atexit.register(gc.freeze))
