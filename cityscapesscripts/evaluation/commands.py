"""The evaluators' modern command lines: options, several prediction sets in one pass, summary lines.

The compat modules' ``main`` delegate here (pixel, instance, panoptic, 3D);
each command imports its metric's modules when it runs, so a tool's
start-up loads only its own.  The pixel and instance commands work on a
copy of their module's ``args`` (the original's settings, and whatever the
user set before calling ``main``): running one leaves the module's ``args``
as they were.  Their original forms (no arguments, or lists of ``*gt*`` and
``*pred*`` files) call the module's ``evaluateImgLists`` with that copy.
"""
import copy
import functools
import glob
import logging
import os
import sys

from .. import cli, plotting
from ..errors import ArgumentError, LayoutError
from ..io import layout
from ..io.files import make_folders
from ..io.jsonfile import write_json


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
    from . import protocols
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
    from . import plots, protocols
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
    from . import semantic_files
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


# ---- csEvalPanopticSemanticLabeling ----------------------------------------------------------
@cli.entry_point
def panoptic_main(argv=None) -> int:
    """csEvalPanopticSemanticLabeling; returns the exit status."""
    opts = _panoptic_parser().parse_args(sys.argv[1:] if argv is None else argv)
    with cli.run_of(opts) as run:
        return _panoptic_evaluate(opts, run)


def _panoptic_parser():
    parser = cli.parser("Evaluate panoptic segmentation (PQ, SQ, RQ) on Cityscapes.")
    parser.add_argument("--gt-json-file", dest="gtJsonFile", default=None,
                        help="ground truth in COCO panoptic format (default: "
                             "$CITYSCAPES_DATASET/gtFine/cityscapes_panoptic_{split}.json)")
    parser.add_argument("--gt-folder", dest="gtFolder", default=None,
                        help="folder of ground-truth PNGs (default: the JSON's name without .json)")
    parser.add_argument("--prediction-json-file", dest="predictionJsonFile", nargs="+", default=None,
                        help="predictions in COCO panoptic format (default: $CITYSCAPES_RESULTS/"
                             "cityscapes_panoptic_{split}.json); several are scored in one pass, each with "
                             "the PNG folder of its name")
    parser.add_argument("--prediction-folder", dest="predictionFolder", default=None,
                        help="folder of predicted PNGs (default: the JSON's name without .json)")
    cli.add_split_option(parser, cli.DEFAULT_SPLIT, one=True)
    cli.add_json_option(parser, "--results_file", "--results-file", default="resultPanopticSemanticLabeling.json",
                        what="the results")
    cli.add_jobs_option(parser)
    cli.add_scheduler_option(parser)
    cli.add_quiet_option(parser, "print only the summary line")
    cli.add_max_pixels_option(parser)
    return parser


PANOPTIC_FILES_OPTION = "--gt-json-file FILE and --prediction-json-file FILE"


def panoptic_prediction_default(split):
    """The default prediction JSON: ``cityscapes_panoptic_{split}.json`` in ``$CITYSCAPES_RESULTS``, else in
    ``$CITYSCAPES_DATASET/results``.  Unlike :func:`~cityscapesscripts.io.layout.results_root`, the folder
    is not checked: a missing file is said with its path."""
    folder = os.environ.get("CITYSCAPES_RESULTS") or os.path.join(
        layout.dataset_root(option=PANOPTIC_FILES_OPTION), "results")
    return layout.panoptic_json(folder, split)


def _panoptic_evaluate(opts, run):
    from . import evalPanopticSemanticLabeling as E
    split = cli.splits_of(opts, known=())[0]
    gt_json = opts.gtJsonFile or layout.panoptic_json(layout.fine_folder(option=PANOPTIC_FILES_OPTION), split)
    _check_panoptic_json_exists(gt_json, "ground truth")
    prediction_jsons = opts.predictionJsonFile or [panoptic_prediction_default(split)]
    for path in prediction_jsons:
        _check_panoptic_json_exists(path, "prediction")
    gt_folder = opts.gtFolder or layout.panoptic_png_folder(gt_json)
    if len(prediction_jsons) > 1:
        if opts.predictionFolder:
            raise LayoutError("--prediction-folder goes with a single --prediction-json-file")
        return _panoptic_sweep(gt_json, gt_folder, prediction_jsons, opts.json, run, opts.quiet)
    prediction_json = prediction_jsons[0]
    results = E.evaluatePanoptic(gt_json, gt_folder, prediction_json,
                                 opts.predictionFolder or layout.panoptic_png_folder(prediction_json),
                                 None if opts.quiet else opts.json, run, opts.quiet)
    if opts.quiet:
        print(_panoptic_summary(results))
        if opts.json:
            write_json(opts.json, results, sort_keys=True, indent=4)
    return 0


def _check_panoptic_json_exists(path, what):
    if not os.path.isfile(path):
        raise LayoutError(f"Could not find a {what} json file. Please run the script with '--help'", path)


def _panoptic_summary(results):
    return "  ".join(f"{k} PQ {results[k]['pq']:.4f}" for k in ("All", "Things", "Stuff"))


def _panoptic_sweep(gt_json_file, gt_folder, pred_json_files, results_file, jobs, quiet):
    """Score several prediction sets (each a JSON and the folder of the same name) in one pass over the
    ground truth; one summary line per set, ``results_file`` maps each JSON to its results."""
    from . import panoptic_files
    gt_json, categories = panoptic_files.read_ground_truth_json(gt_json_file)
    pair_lists = [panoptic_files.pair_annotations(gt_json, panoptic_files.read_prediction_json(f), f)
                  for f in pred_json_files]
    folders = [layout.panoptic_png_folder(f) for f in pred_json_files]
    totals = panoptic_files.evaluate_sweep(pair_lists, gt_folder, folders, categories, jobs, False if quiet else None)
    results = {f: total.result() for f, total in zip(pred_json_files, totals)}
    for f, result in results.items():
        print(f"{f}: {_panoptic_summary(result)}")
    if results_file:
        write_json(results_file, results, sort_keys=True, indent=4)
    return 0


# ---- csEvalObjectDetection3d ------------------------------------------------------------------
def _box3d_parser():
    from .box3d import DEFAULT_LABELS
    p = cli.parser("Cityscapes 3D detection evaluation (2D AP and DDTP detection score).")
    p.add_argument("-gt", "--gt-folder", "--gt", dest="gtFolder", default=None,
                   help="folder of ground-truth *.json files (default: $CITYSCAPES_DATASET/gtBbox3d/{split})")
    p.add_argument("-pred", "--prediction-folder", "--pred", dest="predictionFolder", default=None,
                   help="folder of prediction *.json files (default: $CITYSCAPES_RESULTS/predBbox3d)")
    cli.add_split_option(p, cli.DEFAULT_SPLIT, one=True)
    p.add_argument("--results-folder", dest="resultsFolder", default="",
                   help="where results.json and eval.log go (default: the prediction folder)")
    cli.add_json_option(p, what="the results (results.json) also")
    p.add_argument("--labels", dest="evalLabels", default=list(DEFAULT_LABELS), nargs="+",
                   help="labels to evaluate (default: {})".format(" ".join(DEFAULT_LABELS)))
    p.add_argument("--min-iou", dest="minIou", default=0.7, type=float,
                   help="minimum IoU of a true positive (default: 0.7)")
    p.add_argument("--max-depth", dest="maxDepth", default=100, type=int,
                   help="maximum depth for DDTP metrics (default: 100)")
    p.add_argument("--step-size", dest="stepSize", default=5, type=int,
                   help="depth bin size for DDTP metrics (default: 5)")
    p.add_argument("--cw", dest="cw", default=-1., type=float,
                   help="working confidence (default: the threshold with the best precision x recall)")
    p.add_argument("--modal", action="store_true", help="match modal 2D boxes")
    p.add_argument("--noplot", dest="plot_results", action="store_false", help="do not show the figure")
    p.add_argument("--plot-file", metavar="OUT.png", help="save the figure (needs matplotlib)")
    p.add_argument("--image-size-from-file", action="store_true",
                   help="clip recomputed 2D boxes to each file's imgWidth x imgHeight, not 2048 x 1024")
    cli.add_jobs_option(p)
    cli.add_quiet_option(p, "no eval.log and only warnings on the console")
    cli.add_scheduler_option(p)
    return p


@cli.entry_point
def box3d_main(argv=None) -> int:
    """csEvalObjectDetection3d; returns the exit status (1 with one ``ERROR:`` line per problem)."""
    from .evalObjectDetection3d import logger
    opts = _box3d_parser().parse_args(argv)
    console = logging.StreamHandler(sys.stderr)
    console.setFormatter(logging.Formatter("%(name)s %(levelname)s %(message)s"))
    console.setLevel(logging.WARNING if opts.quiet else logging.INFO)
    logger.addHandler(console)
    logger.setLevel(logging.INFO)
    try:
        with cli.run_of(opts) as run:
            return _box3d_run(opts, run)
    finally:
        logger.removeHandler(console)


def _box3d_run(opts, run):
    from . import evalObjectDetection3d as E
    from .objectDetectionHelpers import EvaluationParameters
    needs_dataset = not opts.gtFolder or not (opts.predictionFolder or "CITYSCAPES_RESULTS" in os.environ)
    if needs_dataset and "CITYSCAPES_DATASET" not in os.environ:
        raise LayoutError("no folders given: pass -gt DIR and -pred DIR, or set CITYSCAPES_DATASET")
    gt_folder = opts.gtFolder or os.path.join(layout.dataset_root(option="-gt DIR"), layout.BOX3D,
                                              cli.splits_of(opts, layout.dataset_root(), layout.BOX3D)[0])
    pred_folder = opts.predictionFolder or os.path.join(layout.results_root(), layout.BOX3D_PREDICTIONS)
    for folder, what in ((gt_folder, "ground-truth"), (pred_folder, "prediction")):
        if not os.path.isdir(folder):
            raise LayoutError(f"{what} folder not found (see --help)", folder)
    if not 0 <= opts.minIou < 1:
        raise ArgumentError(f"--min-iou must be in [0, 1), got {opts.minIou}")
    if opts.stepSize <= 0 or opts.maxDepth < 0:
        raise ArgumentError("--step-size must be positive and --max-depth not negative")
    results_folder = opts.resultsFolder or pred_folder
    make_folders(results_folder)
    params = EvaluationParameters(opts.evalLabels, min_iou_to_match=opts.minIou, max_depth=opts.maxDepth,
                                  step_size=opts.stepSize, matching_method=int(opts.modal), cw=opts.cw)
    with E.log_to(None if opts.quiet else results_folder):
        E.logger.info("========================")
        E.logger.info("=== Start evaluation ===")
        E.logger.info("========================")
        plot = False
        if opts.plot_results:  # matplotlib is imported only when a figure is wanted
            from .plot3dResults import have_display
            plot = have_display()
        results = E.evaluate3dObjectDetection(gt_folder, pred_folder, results_folder, params, plot=plot,
                                              jobs=run, image_size_from_file=opts.image_size_from_file,
                                              plot_file=opts.plot_file, log=False)
        E.logger.info("========================")
        E.logger.info("=== Stop evaluation ====")
        E.logger.info("========================")
    if opts.json:
        write_json(opts.json, results, indent=4)  # as results.json
    return 0
