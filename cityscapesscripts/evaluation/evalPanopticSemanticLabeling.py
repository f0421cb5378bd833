"""csEvalPanopticSemanticLabeling: PQ / SQ / RQ on COCO panoptic files, the original's face.

Differences from the original, on purpose: images are mapped over a bounded
process pool (``-j``, default all cores; the original started one worker per
core with a whole split each), PQ counting is one compiled pass per image,
errors name the PNG file, and ``evaluatePanoptic`` takes an optional
``jobs`` argument.
"""
import argparse  # noqa: F401  (the original module's namespace)
import functools
import json  # noqa: F401  (the original module's namespace)
import multiprocessing  # noqa: F401  (the original module's namespace)
import os
import sys
import time
import traceback
from collections import defaultdict  # noqa: F401  (the original module's namespace)

import numpy as np  # noqa: F401  (the original module's namespace)
from PIL import Image  # noqa: F401  (the original module's namespace)

from cityscapesscripts import cli
from cityscapesscripts.errors import LayoutError, PredictionError
from cityscapesscripts.evaluation.panoptic import (OFFSET, VOID, PQStat, PQStatCat,  # noqa: F401  (original names)
                                                   PanopticAccumulator, average_pq, image_pq_stat)
from cityscapesscripts.evaluation import panoptic_files, reports
from cityscapesscripts.evaluation.panoptic import check_panoptic_json
from cityscapesscripts.helpers.csHelpers import printError  # noqa: F401  (the original module's namespace)
from cityscapesscripts.helpers.labels import labels as csLabels  # noqa: F401  (the original module's namespace)
from cityscapesscripts.io import layout
from cityscapesscripts.io.jsonfile import read_json, write_json
from cityscapesscripts.io.segment_ids import rgb2id  # noqa: F401  (the original module's name)


def get_traceback(f):
    """Decorator: print the traceback of an exception raised in ``f`` (e.g. in a worker), then re-raise."""
    @functools.wraps(f)
    def wrapper(*args, **kwargs):
        try:
            return f(*args, **kwargs)
        except Exception:
            print("Caught exception in worker thread:")
            traceback.print_exc()
            raise
    return wrapper



@get_traceback
def pq_compute_single_core(proc_id, annotation_set, gt_folder, pred_folder, categories):
    """PQ counters of a list of ``(gt annotation, prediction annotation)`` pairs, in this process (IoUs added
    one after the other, as the original's one core adds them)."""
    acc = PanopticAccumulator(categories)
    for pair in annotation_set:
        acc += panoptic_files.evaluate_pair_files(pair, gt_folder, pred_folder, categories)
    return acc.stat.summed_as_the_original(parts=1)


def pq_compute_multi_core(matched_annotations_list, gt_folder, pred_folder, categories, jobs=None, progress=None):
    """The same over a bounded process pool (``jobs`` workers, default all cores)."""
    return panoptic_files.evaluate_files(matched_annotations_list, gt_folder, pred_folder, categories, jobs,
                                         progress).summed_stat()


def print_results(results, categories):
    reports.print_pq_table(results, categories)


def evaluatePanoptic(gt_json_file, gt_folder, pred_json_file, pred_folder, resultsFile, jobs=None, quiet=False):
    """PQ of predictions against ground truth in COCO panoptic format; writes ``resultsFile``."""
    start = time.time()
    gt_json, categories = _read_ground_truth(gt_json_file)
    pred_json = _read_predictions(pred_json_file)
    say = cli.printer(quiet)
    say("Evaluation panoptic segmentation metrics:")
    say(f"Ground truth:\n\tSegmentation folder: {gt_folder}\n\tJSON file: {gt_json_file}")
    say(f"Prediction:\n\tSegmentation folder: {pred_folder}\n\tJSON file: {pred_json_file}")
    for folder, what in ((gt_folder, "ground truth"), (pred_folder, "predicted")):
        if not os.path.isdir(folder):
            raise LayoutError(f"Folder with {what} segmentations doesn't exist", folder)
    pairs = panoptic_files.pair_annotations(gt_json, pred_json, pred_json_file)
    stat = pq_compute_multi_core(pairs, gt_folder, pred_folder, categories, jobs, False if quiet else None)
    results = average_pq(stat, categories)
    if not quiet:
        print_results(results, categories)
        print(f"Time elapsed: {time.time() - start:0.2f} seconds")
    if resultsFile:  # after the scores are printed: a file that cannot be written loses none
        say(f"Saving computed results in {resultsFile}")
        write_json(resultsFile, results, sort_keys=True, indent=4)
    return results


def _read_ground_truth(gt_json_file):
    gt_json = read_json(gt_json_file, LayoutError)
    check_panoptic_json(gt_json, gt_json_file, LayoutError, ground_truth=True)
    if not gt_json["annotations"]:
        raise LayoutError("the ground truth has no image to evaluate ('annotations' is empty)", gt_json_file)
    return gt_json, {el["id"]: el for el in gt_json["categories"]}


def _read_predictions(pred_json_file):
    pred_json = read_json(pred_json_file, PredictionError)
    check_panoptic_json(pred_json, pred_json_file, PredictionError)
    return pred_json


def _summary(results):
    return "  ".join(f"{k} PQ {results[k]['pq']:.4f}" for k in ("All", "Things", "Stuff"))


def _sweep(gt_json_file, gt_folder, pred_json_files, results_file, jobs, quiet):
    """Score several prediction sets (each a JSON and the folder of the same name) in one pass over the
    ground truth; one summary line per set, ``results_file`` maps each JSON to its results."""
    gt_json, categories = _read_ground_truth(gt_json_file)
    pair_lists = [panoptic_files.pair_annotations(gt_json, _read_predictions(f), f) for f in pred_json_files]
    folders = [layout.panoptic_png_folder(f) for f in pred_json_files]
    totals = panoptic_files.evaluate_sweep(pair_lists, gt_folder, folders, categories, jobs, False if quiet else None)
    results = {f: total.result() for f, total in zip(pred_json_files, totals)}
    for f, result in results.items():
        print(f"{f}: {_summary(result)}")
    if results_file:
        write_json(results_file, results, sort_keys=True, indent=4)
    return 0


def _check_exists(path, what):
    if not os.path.isfile(path):
        raise LayoutError(f"Could not find a {what} json file. Please run the script with '--help'", path)


@cli.entry_point
def main(argv=None):
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
    opts = parser.parse_args(sys.argv[1:] if argv is None else argv)
    with cli.run_of(opts) as run:
        return _evaluate(opts, run)


def _evaluate(opts, run):
    split = cli.splits_of(opts, known=())[0]
    option = "--gt-json-file FILE and --prediction-json-file FILE"
    opts.gtJsonFile = opts.gtJsonFile or layout.panoptic_json(layout.fine_folder(option=option), split)
    _check_exists(opts.gtJsonFile, "ground truth")
    opts.predictionJsonFile = opts.predictionJsonFile or [
        layout.panoptic_json(os.environ.get("CITYSCAPES_RESULTS")
                             or os.path.join(layout.dataset_root(option=option), "results"), split)]
    for path in opts.predictionJsonFile:
        _check_exists(path, "prediction")
    gt_folder = opts.gtFolder or layout.panoptic_png_folder(opts.gtJsonFile)
    if len(opts.predictionJsonFile) > 1:
        if opts.predictionFolder:
            raise LayoutError("--prediction-folder goes with a single --prediction-json-file")
        return _sweep(opts.gtJsonFile, gt_folder, opts.predictionJsonFile, opts.json, run, opts.quiet)
    prediction_json = opts.predictionJsonFile[0]
    results = evaluatePanoptic(opts.gtJsonFile, gt_folder, prediction_json,
                               opts.predictionFolder or layout.panoptic_png_folder(prediction_json),
                               None if opts.quiet else opts.json, run, opts.quiet)
    if opts.quiet:
        print(_summary(results))
        if opts.json:
            write_json(opts.json, results, sort_keys=True, indent=4)
    return 0


if __name__ == "__main__":
    sys.exit(main())
