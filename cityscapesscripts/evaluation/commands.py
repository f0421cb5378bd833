"""The evaluators' modern command lines: options, several prediction folders in one pass, summary lines.

The compat modules' ``main`` delegate here.  A command works on a copy of
its module's ``args`` (the original's settings, and whatever the user set
before calling ``main``): running it leaves the module's ``args`` as they
were.  The original forms (no arguments, or lists of ``*gt*`` and ``*pred*``
files) call the module's ``evaluateImgLists`` with that copy.
"""
import copy
import functools
import glob
import os
import sys

from .. import cli, plotting
from ..errors import ArgumentError, LayoutError
from ..io import layout
from . import plots, protocols, semantic_files


def _main(module, argv, parser, evaluate, find_prediction):
    """One evaluator's entry on a copy of ``module.args``: options go to ``evaluate(opts, run, args)``, the
    original forms to ``module.evaluateImgLists``; ``find_prediction(args, ground truth)`` pairs them."""
    args = copy.copy(module.args)

    def modern(argv):
        opts = parser().parse_args(argv)
        with cli.run_of(opts) as run:
            return evaluate(opts, run, args)

    def original(argv):
        find = functools.partial(find_prediction, args)
        module.evaluateImgLists(*original_form_lists(argv, args.groundTruthSearch, find, args), args)
    return run_evaluator(argv, modern, original)


# ---- the scaffold and options the two evaluators share ----------------------------------------
NO_DATASET = "no dataset given: pass --gt DIR, or set CITYSCAPES_DATASET (with --split NAME to choose its split)"


def guessed_search(args):
    """Mark the evaluator ``args`` made without ``CITYSCAPES_DATASET``: their ground-truth search is a guess
    (the working folder), which the console scripts refuse (:func:`check_dataset_given`)."""
    args.guessedSearch = None if "CITYSCAPES_DATASET" in os.environ else args.groundTruthSearch


def check_dataset_given(args):
    """Refuse to search the ground truth where :func:`guessed_search` marked a guess: nobody asked for it."""
    if "CITYSCAPES_DATASET" not in os.environ and args.groundTruthSearch == getattr(args, "guessedSearch", None):
        raise LayoutError(NO_DATASET)


def original_form_lists(argv, search, find_prediction, args=None):
    """The original evaluators' arguments: none (search the ground truth and pair predictions), or more
    than three paths, sorted into ground truth ('gt' or 'groundtruth' in the path) and predictions ('pred')."""
    if len(argv) > 3:
        ground_truths = [a for a in argv if "gt" in a or "groundtruth" in a]
        predictions = [a for a in argv if not ("gt" in a or "groundtruth" in a) and "pred" in a]
        return predictions, ground_truths
    if argv:
        raise ArgumentError("give no arguments, more than three *gt* / *pred* files, or options (see --help)")
    if args is not None:
        check_dataset_given(args)
    ground_truths = sorted(glob.glob(search))
    if not ground_truths:
        raise LayoutError(f"Cannot find any ground truth images to use for evaluation. Searched for: {search}")
    return [find_prediction(gt) for gt in ground_truths], ground_truths


@cli.entry_point
def run_evaluator(argv, modern_main, original_main):
    """Entry of an evaluator: options go to ``modern_main``, the original forms to ``original_main``."""
    argv = sys.argv[1:] if argv is None else list(argv)
    if any(a.startswith("-") for a in argv):
        return modern_main(argv)
    original_main(argv)
    return cli.OK


def add_evaluation_options(parser, modality, pred_help):
    """``--gt DIR | --split NAME``, ``--pred DIR``, ``--labels``, ``--json OUT``, ``-j``, ``-q`` and the cluster
    and size options of the pixel and instance evaluators."""
    where = parser.add_mutually_exclusive_group()
    where.add_argument("--gt", metavar="DIR",
                       help=f"folder searched for {os.path.basename(layout.ground_truth_search_below('', modality))}")
    cli.add_split_option(where)
    parser.add_argument("--pred", metavar="DIR", nargs="+",
                        help=pred_help + "; several folders (or glob patterns) are scored in one pass")
    cli.add_labels_option(parser)
    cli.add_json_option(parser)
    cli.add_jobs_option(parser)
    cli.add_quiet_option(parser, "print only the summary line")
    cli.add_scheduler_option(parser)
    cli.add_max_pixels_option(parser)


def prediction_folders(opts):
    """The ``--pred`` folders, absolute, glob patterns expanded (sorted), each once."""
    folders = []
    for pattern in opts.pred or ():
        matches = sorted(glob.glob(pattern)) if glob.has_magic(pattern) else [pattern]
        if not matches:
            raise LayoutError(f"no prediction folder matches {pattern}")
        folders += [os.path.abspath(m) for m in matches if os.path.abspath(m) not in folders]
    return folders


def apply_evaluation_options(opts, args, modality, run):
    """Set an evaluator's ``args`` from those options (``args.jobs``: the tool's ``run``); returns the
    ground-truth files, sorted.

    Without ``--gt`` or ``--split``, ``args.groundTruthSearch`` (the original's: the val split) is used.
    """
    if getattr(opts, "plot", None):
        plotting.pyplot()  # a missing matplotlib is said before the evaluation, not after
    if opts.gt:
        searches = [layout.ground_truth_search_below(opts.gt, modality)]
    elif opts.split:
        root = layout.dataset_root(option="--gt DIR")
        searches = [layout.ground_truth_search(root, split, modality) for split in cli.splits_of(opts, root)]
    else:
        check_dataset_given(args)
        searches = [args.groundTruthSearch]
    args.groundTruthSearch = searches[0]
    if opts.pred:
        args.predictionPath, args.predictionWalk = prediction_folders(opts)[0], None
    args.JSONOutput = bool(opts.json)
    if opts.json:
        args.exportFile = opts.json
    args.labelSet = cli.label_set_of(opts)
    args.jobs = run
    args.quiet = opts.quiet
    ground_truths = sorted(f for search in searches for f in glob.glob(search, recursive=True))
    if not ground_truths:
        raise LayoutError(f"no ground truth found; searched {', '.join(searches)}")
    return ground_truths


# ---- csEvalPixelLevelSemanticLabeling --------------------------------------------------------
def pixel_main(argv=None) -> int:
    """csEvalPixelLevelSemanticLabeling; returns the exit status."""
    from . import evalPixelLevelSemanticLabeling as E
    return _main(E, argv, _pixel_parser, _pixel_evaluate, E.getPrediction)


def _pixel_parser():
    p = cli.parser(
        description="Evaluate pixel-level semantic labeling on Cityscapes (class / category IoU and iIoU). "
                    "Also accepts the original forms: no arguments, or a list of *gt* and *pred* files.")
    add_evaluation_options(p, "labelIds", "prediction folder (default: $CITYSCAPES_RESULTS)")
    cli.add_train_ids_option(p, "predictions hold train ids (0-18, 255)", "--trainids")
    p.add_argument("--no-instance-scores", action="store_true", help="skip iIoU (no instanceIds needed)")
    p.add_argument("--plot", metavar="OUT.png", help="save a confusion-matrix heat map (matplotlib)")
    subset = p.add_mutually_exclusive_group()
    subset.add_argument("--classes", metavar="NAMES", type=lambda text: [n for n in text.split(",") if n.strip()],
                        help="score only these classes (comma list of names, e.g. 'road,car,traffic light'): "
                             "ground truth of other classes is ignored, predictions of them on these classes "
                             "count as wrong, the mean IoU is over these classes")
    subset.add_argument("--protocol", choices=list(protocols.PROTOCOLS),
                        help="the classes of a domain-adaptation benchmark, scored as --classes: cityscapes19 "
                             "(GTA5 -> Cityscapes), synthia16 (SYNTHIA -> Cityscapes, mIoU), synthia13 (mIoU*)")
    return p


def _pixel_evaluate(opts, run, args):
    from . import evalPixelLevelSemanticLabeling as E
    ground_truths = apply_evaluation_options(opts, args, "labelIds", run)
    args.trainIds = opts.train_ids
    args.evalInstLevelScore = not opts.no_instance_scores
    args.classSubset = protocols.subset_ids(args.labelSet, opts.classes, opts.protocol)
    folders = prediction_folders(opts)
    if len(folders) > 1:
        return _pixel_sweep(folders, ground_truths, args)
    predictions = [E.getPrediction(args, gt) for gt in ground_truths]
    args.JSONOutput = False  # written below, after the summary: a file that cannot be written loses no score
    result = E.evaluateImgLists(predictions, ground_truths, args)
    if opts.quiet:
        print(_pixel_summary(result))
    if opts.json:
        E.writeJSONFile(result, args)
    if opts.plot:
        print("confusion matrix saved to " + plots.plot_confusion_matrix(result, opts.plot))
    return 0


def _pixel_summary(result):
    subset = f" ({len(result['classSubset'])} of them)" if "classSubset" in result else ""
    return (f"IoU classes{subset} {result['averageScoreClasses']:.4f}  iIoU classes {result['averageScoreInstClasses']:.4f}  "
            f"IoU categories {result['averageScoreCategories']:.4f}  "
            f"iIoU categories {result['averageScoreInstCategories']:.4f}")


def _pixel_sweep(folders, ground_truths, args):
    """Score every prediction folder against the ground truth in one pass; one summary line per folder."""
    from . import evalPixelLevelSemanticLabeling as E
    prediction_lists = []
    for folder in folders:
        args.predictionPath, args.predictionWalk = folder, None
        prediction_lists.append([E.getPrediction(args, gt) for gt in ground_truths])
    totals = semantic_files.evaluate_sweep(prediction_lists, ground_truths, args.jobs,
                                           False if args.quiet else None, **E._settings(args))
    results = {folder: total.result() for folder, total in zip(folders, totals)}
    for folder, total in zip(folders, totals):
        E._warn_of_train_ids(total, args, folder)
    for folder, result in results.items():
        print(f"{folder}: {_pixel_summary(result)}")
    if args.JSONOutput:
        E.writeJSONFile(results, args)
    return 0


# ---- csEvalInstanceLevelSemanticLabeling -----------------------------------------------------
def instance_main(argv=None) -> int:
    """csEvalInstanceLevelSemanticLabeling; returns the exit status."""
    from . import evalInstanceLevelSemanticLabeling as E
    return _main(E, argv, _instance_parser, _instance_evaluate, lambda args, gt: E.getPrediction(gt, args))


def _instance_parser():
    p = cli.parser(
        description="Evaluate instance-level semantic labeling on Cityscapes (AP, AP50). Also accepts the "
                    "original forms: no arguments, or a list of *gt* and *pred* files.")
    add_evaluation_options(p, "instanceIds", "folder of prediction txt files (default: $CITYSCAPES_RESULTS)")
    p.add_argument("--coco-json", metavar="FILE", help="predictions as one COCO-style JSON (RLE or polygons)")
    p.add_argument("--matches", metavar="FILE", help="also write the matches to FILE")
    p.add_argument("--gt-cache", metavar="FILE", help="ground-truth instance cache (default: user cache folder)")
    p.add_argument("--csv", action="store_true", help="print the table as CSV")
    p.add_argument("--plot", metavar="OUT.png", help="save precision-recall curves at IoU 0.5 (matplotlib)")
    return p


def _instance_evaluate(opts, run, args):
    from . import evalInstanceLevelSemanticLabeling as E
    ground_truths = apply_evaluation_options(opts, args, "instanceIds", run)
    if opts.gt_cache:
        args.gtInstancesFile = opts.gt_cache
    args.exportMatches = opts.matches
    args.plotFile = opts.plot
    args.csv = opts.csv
    args.colorized = sys.stdout.isatty() and not opts.csv
    folders = prediction_folders(opts)
    args.JSONOutput = False  # the single-set results are written below, after the summary line
    if opts.coco_json:
        result = E.evaluate_coco_json(opts.coco_json, ground_truths, args)
    elif len(folders) > 1:
        args.JSONOutput = bool(opts.json)
        return _instance_sweep(folders, ground_truths, args)
    else:
        predictions = [E.getPrediction(gt, args) for gt in ground_truths]
        result = E.evaluateImgLists(predictions, ground_truths, args)
    if opts.quiet and not opts.csv:
        print(_instance_summary(result))
    if opts.json:
        E._write_results(result, args)
    return 0


def _instance_summary(result):
    return f"AP {result['averages']['allAp']:.4f}  AP50 {result['averages']['allAp50%']:.4f}"


def _instance_sweep(folders, ground_truths, args):
    """Score every prediction folder against the ground truth in one pass; one summary line per folder."""
    from . import evalInstanceLevelSemanticLabeling as E
    E.setInstanceLabels(args)
    prediction_lists = []
    for folder in folders:
        args.predictionPath, args.predictionWalk = folder, None
        prediction_lists.append([E.getPrediction(gt, args) for gt in ground_truths])
    totals = E._match_folders(prediction_lists, folders, ground_truths, args)
    results = {}
    for folder, total in zip(folders, totals):
        results[folder] = E._scores(total.matches, args, total.detections)
        print(f"{folder}: {_instance_summary(results[folder])}")
    if args.JSONOutput:
        E._write_results(results, args)
    return 0
