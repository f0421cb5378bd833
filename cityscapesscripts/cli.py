"""Command-line conventions shared by the tools: workers, overwrite policy, labels, quiet, errors, interrupts."""
import argparse
import functools
import glob
import os
import signal
import sys
import threading

from . import parallel, plotting
from .errors import BatchError, CityscapesError, LayoutError
from .helpers.labelset import CITYSCAPES, LabelSet
from .io import layout, limits


def add_batch_options(parser, labels=True):
    """``--labels``, ``-j/--jobs``, ``--overwrite/--skip-existing`` and ``-q/--quiet``."""
    if labels:
        add_labels_option(parser)
    parser.add_argument("-j", "--jobs", type=int, default=0, help="worker processes (default: all cores)")
    policy = parser.add_mutually_exclusive_group()
    policy.add_argument("--overwrite", dest="overwrite", action="store_true", default=True,
                        help="replace existing images (default)")
    policy.add_argument("--skip-existing", dest="overwrite", action="store_false",
                        help="keep images that already exist")
    parser.add_argument("-q", "--quiet", action="store_true", help="no progress bar or summary")
    add_scheduler_option(parser)
    add_max_pixels_option(parser)


class _UseScheduler(argparse.Action):
    def __call__(self, parser, namespace, address, option_string=None):
        try:
            parallel.use_scheduler(address)
        except CityscapesError as e:
            parser.error(str(e))
        setattr(namespace, self.dest, address)


def add_scheduler_option(parser):
    """``--scheduler ADDRESS``: run the batch on a Dask cluster (closed by :func:`entry_point`)."""
    parser.add_argument("--scheduler", metavar="ADDRESS", action=_UseScheduler,
                        help="Dask scheduler to run on (tcp://host:8786), or 'local' for a LocalCluster "
                             "of -j workers; needs pip install 'cityscapesscripts[dask]'")


def add_max_pixels_option(parser):
    """``--max-pixels N``: the largest image (width x height) read or drawn."""
    parser.add_argument("--max-pixels", type=int, metavar="N",
                        help=f"refuse images larger than N pixels before allocating them (default "
                             f"{limits.DEFAULT_MAX_PIXELS}, or ${limits.VARIABLE})")


def apply_max_pixels_option(opts):
    if opts.max_pixels is not None:
        limits.set_max_pixels(opts.max_pixels)


def add_labels_option(parser):
    parser.add_argument("--labels", metavar="FILE", help="custom label set (label_colors.txt or dataset_meta.json)")


def label_set_of(opts):
    return LabelSet.load(opts.labels) if getattr(opts, "labels", None) else CITYSCAPES


def report(error):
    """Print one ``ERROR:`` line per problem of an exception and return exit status 1."""
    problems = error.failures if isinstance(error, BatchError) else [parallel.describe(error)]
    for problem in problems:
        print(f"ERROR: {problem}", file=sys.stderr)
    return 1


INTERRUPTED = 130  # the shell's status for a command stopped by SIGINT


def entry_point(main):
    """Decorate a console script's ``main``: its errors and interruptions end it cleanly.

    SIGTERM stops it as Ctrl-C does; an interruption prints one line and
    returns 130 (workers finish their items and print nothing); library
    errors, ``ValueError`` and ``OSError`` print ``ERROR:`` lines and return 1.
    """
    @functools.wraps(main)
    def guarded(*args, **kwargs):
        in_main_thread = threading.current_thread() is threading.main_thread()
        previous = parallel.stop_on_sigterm() if in_main_thread else None
        try:
            return main(*args, **kwargs)
        except KeyboardInterrupt:
            print("interrupted", file=sys.stderr)
            return INTERRUPTED
        except (CityscapesError, ValueError, OSError, RecursionError, MemoryError) as e:
            return report(e)
        finally:
            parallel.disconnect()
            if in_main_thread:
                signal.signal(signal.SIGTERM, previous)
    return guarded


def original_form_lists(argv, search, find_prediction):
    """The original evaluators' arguments: none (search the ground truth and pair predictions), or more
    than three paths, sorted into ground truth ('gt' or 'groundtruth' in the path) and predictions ('pred')."""
    if len(argv) > 3:
        ground_truths = [a for a in argv if "gt" in a or "groundtruth" in a]
        predictions = [a for a in argv if not ("gt" in a or "groundtruth" in a) and "pred" in a]
        return predictions, ground_truths
    if argv:
        raise ValueError("give no arguments, more than three *gt* / *pred* files, or options (see --help)")
    ground_truths = sorted(glob.glob(search))
    if not ground_truths:
        raise LayoutError(f"Cannot find any ground truth images to use for evaluation. Searched for: {search}")
    return [find_prediction(gt) for gt in ground_truths], ground_truths



@entry_point
def run_evaluator(argv, modern_main, original_main):
    """Entry of an evaluator: options go to ``modern_main``, the original forms to ``original_main``."""
    argv = sys.argv[1:] if argv is None else list(argv)
    if any(a.startswith("-") for a in argv):
        return modern_main(argv)
    original_main(argv)
    return 0


def add_evaluation_options(parser, modality, pred_help):
    """``--gt DIR | --split NAME``, ``--pred DIR``, ``--json OUT``, ``-j`` and ``--quiet``."""
    where = parser.add_mutually_exclusive_group()
    where.add_argument("--gt", metavar="DIR",
                       help=f"folder searched for {os.path.basename(layout.ground_truth_search_below('', modality))}")
    where.add_argument("--split", metavar="NAME",
                       help=f"split of $CITYSCAPES_DATASET/{layout.FINE} to evaluate")
    parser.add_argument("--pred", metavar="DIR", nargs="+",
                        help=pred_help + "; several folders (or glob patterns) are scored in one pass")
    parser.add_argument("--json", metavar="OUT", help="write the result dict to OUT")
    parser.add_argument("-j", "--jobs", type=int, default=0, help="worker processes (default: all cores)")
    parser.add_argument("--quiet", action="store_true", help="print only the summary")
    add_scheduler_option(parser)
    add_max_pixels_option(parser)


def prediction_folders(opts):
    """The ``--pred`` folders, absolute, glob patterns expanded (sorted), each once."""
    folders = []
    for pattern in opts.pred or ():
        matches = sorted(glob.glob(pattern)) if glob.has_magic(pattern) else [pattern]
        if not matches:
            raise LayoutError(f"no prediction folder matches {pattern}")
        folders += [os.path.abspath(m) for m in matches if os.path.abspath(m) not in folders]
    return folders


def apply_evaluation_options(opts, args, modality):
    """Set an evaluator's ``args`` from those options; returns the ground-truth files, sorted."""
    apply_max_pixels_option(opts)
    if getattr(opts, "plot", None):
        plotting.pyplot()  # a missing matplotlib is said before the evaluation, not after
    if opts.gt:
        args.groundTruthSearch = layout.ground_truth_search_below(opts.gt, modality)
    elif opts.split:
        args.groundTruthSearch = layout.ground_truth_search(layout.dataset_root(), opts.split, modality)
    if opts.pred:
        args.predictionPath, args.predictionWalk = prediction_folders(opts)[0], None
    args.JSONOutput = bool(opts.json)
    if opts.json:
        args.exportFile = opts.json
    args.jobs = opts.jobs or None
    args.quiet = opts.quiet
    ground_truths = sorted(glob.glob(args.groundTruthSearch, recursive=True))
    if not ground_truths:
        raise LayoutError(f"no ground truth found; searched {args.groundTruthSearch}")
    return ground_truths
