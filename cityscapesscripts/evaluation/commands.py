"""The evaluators' modern command lines: options, several prediction folders in one pass, summary lines.

The compat modules' ``main`` delegate here.  A command works on a copy of
its module's ``args`` (the original's settings, and whatever the user set
before calling ``main``): running it leaves the module's ``args`` as they
were.  The original forms (no arguments, or lists of ``*gt*`` and ``*pred*``
files) call the module's ``evaluateImgLists`` with that copy.
"""
import copy
import functools
import sys

from .. import cli
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
        module.evaluateImgLists(*cli.original_form_lists(argv, args.groundTruthSearch, find, args), args)
    return cli.run_evaluator(argv, modern, original)


# ---- csEvalPixelLevelSemanticLabeling --------------------------------------------------------
def pixel_main(argv=None) -> int:
    """csEvalPixelLevelSemanticLabeling; returns the exit status."""
    from . import evalPixelLevelSemanticLabeling as E
    return _main(E, argv, _pixel_parser, _pixel_evaluate, E.getPrediction)


def _pixel_parser():
    p = cli.parser(
        description="Evaluate pixel-level semantic labeling on Cityscapes (class / category IoU and iIoU). "
                    "Also accepts the original forms: no arguments, or a list of *gt* and *pred* files.")
    cli.add_evaluation_options(p, "labelIds", "prediction folder (default: $CITYSCAPES_RESULTS)")
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
    ground_truths = cli.apply_evaluation_options(opts, args, "labelIds", run)
    args.trainIds = opts.train_ids
    args.evalInstLevelScore = not opts.no_instance_scores
    args.classSubset = protocols.subset_ids(args.labelSet, opts.classes, opts.protocol)
    folders = cli.prediction_folders(opts)
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
    cli.add_evaluation_options(p, "instanceIds", "folder of prediction txt files (default: $CITYSCAPES_RESULTS)")
    p.add_argument("--coco-json", metavar="FILE", help="predictions as one COCO-style JSON (RLE or polygons)")
    p.add_argument("--matches", metavar="FILE", help="also write the matches to FILE")
    p.add_argument("--gt-cache", metavar="FILE", help="ground-truth instance cache (default: user cache folder)")
    p.add_argument("--csv", action="store_true", help="print the table as CSV")
    p.add_argument("--plot", metavar="OUT.png", help="save precision-recall curves at IoU 0.5 (matplotlib)")
    return p


def _instance_evaluate(opts, run, args):
    from . import evalInstanceLevelSemanticLabeling as E
    ground_truths = cli.apply_evaluation_options(opts, args, "instanceIds", run)
    if opts.gt_cache:
        args.gtInstancesFile = opts.gt_cache
    args.exportMatches = opts.matches
    args.plotFile = opts.plot
    args.csv = opts.csv
    args.colorized = sys.stdout.isatty() and not opts.csv
    folders = cli.prediction_folders(opts)
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
