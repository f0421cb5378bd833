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

from cityscapesscripts import cli
from cityscapesscripts.errors import LayoutError
from cityscapesscripts.evaluation.panoptic import (OFFSET, VOID, PQStat, PQStatCat,  # noqa: F401  (original names)
                                                   PanopticAccumulator, average_pq, image_pq_stat)
from cityscapesscripts.evaluation import commands, panoptic_files, reports
from cityscapesscripts.helpers.csHelpers import printError  # noqa: F401  (the original module's namespace)
from cityscapesscripts.helpers.labels import labels as csLabels  # noqa: F401  (the original module's namespace)
from cityscapesscripts.io.jsonfile import write_json
from cityscapesscripts.io.segment_ids import rgb2id  # noqa: F401  (the original module's name)
from cityscapesscripts.lazy import lazy_names

# the original module's namespace: Pillow's Image when first asked for (the tool does not need it)
__getattr__ = lazy_names(__name__, {"Image": "PIL.Image"})


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
    gt_json, categories = panoptic_files.read_ground_truth_json(gt_json_file)
    pred_json = panoptic_files.read_prediction_json(pred_json_file)
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


def main(argv=None):
    """Command-line entry; returns the exit status (the command line: :mod:`.commands`)."""
    return commands.panoptic_main(argv)


if __name__ == "__main__":
    sys.exit(main())
