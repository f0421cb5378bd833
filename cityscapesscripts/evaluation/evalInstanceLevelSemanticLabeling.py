"""csEvalInstanceLevelSemanticLabeling: AP and AP50 per class, the original's face.

mmdetection and detectron2 set attributes of the module-level ``args`` and
call :func:`evaluateImgLists` (and sometimes the functions under it); all
keep the original's signatures and dicts.  The matching runs in
:mod:`cityscapesscripts.evaluation.instance_ap` on a process pool.

Differences from the original, on purpose:

* ``matches.json`` is written only when asked: ``args.exportMatches`` (a path)
  or ``--matches FILE``;
* the ground-truth cache (``args.gtInstancesFile``, by default in the user
  cache folder, never in the package) is keyed on the ground-truth files'
  paths and bytes, and rebuilt when they change; a cache folder that cannot
  be written disables the cache with a warning;
* a class whose unmatched predictions all lie in ignored regions gets AP 0
  instead of an ``IndexError`` (upstream issue #89);
* bad prediction files raise an error naming the txt file and line;
* predictions may also come as one COCO-style JSON for the whole split
  (``--coco-json``, RLE or polygons), and ``--plot OUT.png`` (``args.plotFile``)
  draws PR curves;
* ``args.labelSet`` (``--labels FILE``) evaluates another label set than
  Cityscapes' (a :class:`~cityscapesscripts.helpers.labelset.LabelSet`); the
  ground-truth cache, made for Cityscapes, is then not used.
"""
import fnmatch  # noqa: F401  (the original module's namespace)
import json  # noqa: F401  (the original module's namespace)
import os
import sys
from copy import deepcopy  # noqa: F401  (the original module's namespace)

import numpy as np

from cityscapesscripts.evaluation import commands, instance_ap, instance_files, plots, reports
from cityscapesscripts.errors import ArgumentError
from cityscapesscripts.evaluation.instances2dict import instances2dict
from cityscapesscripts.helpers.csHelpers import ensurePath, writeDict2JSON
from cityscapesscripts.helpers.labelset import CITYSCAPES
from cityscapesscripts.io import layout, png
from cityscapesscripts.lazy import star_import

# the original module's namespace: csHelpers' names (it star-imported csHelpers), Pillow's when first asked for
__getattr__ = star_import(__name__, "cityscapesscripts.helpers.csHelpers")


class CArgs:
    """Settings of the evaluation; any attribute may be added."""


def _user_cache_file():
    return os.path.join(layout.user_cache_dir(), "gtInstances.json")


def _default_args():
    a = CArgs()
    a.cityscapesPath = layout.default_root()
    a.exportFile = os.path.join(a.cityscapesPath, "evaluationResults", "resultInstanceLevelSemanticLabeling.json")
    a.groundTruthSearch = layout.ground_truth_search(a.cityscapesPath, "val", "instanceIds")
    commands.guessed_search(a)
    a.overlaps = instance_ap.OVERLAPS.copy()
    a.minRegionSizes = instance_ap.MIN_REGION_SIZES.copy()
    a.distanceThs = instance_ap.DISTANCE_THRESHOLDS.copy()
    a.distanceConfs = instance_ap.DISTANCE_CONFIDENCES.copy()
    a.gtInstancesFile = _user_cache_file()
    a.distanceAvailable = False
    a.JSONOutput = True
    a.quiet = False
    a.csv = False
    a.colorized = True
    a.instLabels = []
    a.predictionPath = None
    a.predictionWalk = None
    a.exportMatches = None
    a.plotFile = None
    a.jobs = None
    a.labelSet = CITYSCAPES
    return a


args = _default_args()


def _label_set(args):
    return getattr(args, "labelSet", CITYSCAPES)


def setInstanceLabels(args):
    args.instLabels = instance_ap.instance_labels(_label_set(args))


def getPrediction(groundTruthFile, args):
    """The prediction list ``{city}_{seq}_{frame}*.txt`` for a ground-truth file (walks the folder once)."""
    if not args.predictionPath:
        args.predictionPath = os.path.abspath(layout.results_root())
    if not args.predictionWalk:
        args.predictionWalk = layout.index_folder(args.predictionPath)
    return layout.match_prediction(args.predictionWalk, groundTruthFile, "txt")


def readPredInfo(predInfoFileName, args):
    """``{absolute mask path: {"labelID", "conf"}}`` of a prediction txt file."""
    return {p.name: {"labelID": p.label_id, "conf": p.confidence}
            for p in instance_files.read_prediction_list(predInfoFileName, args.predictionPath)}


def readGTImage(gtImageFileName, args):
    return png.open_image(gtImageFileName)


def _cache_file(args):
    return getattr(args, "gtInstancesFile", None) if _label_set(args) == CITYSCAPES else None


def _load_cache(groundTruthList, args):
    return instance_files.load_cache(_cache_file(args), groundTruthList)


def _save_cache(instances, groundTruthList, args):
    instance_files.save_cache(_cache_file(args), instances, groundTruthList)


def getGtInstances(groundTruthList, args):
    """Ground-truth instances of every file, from the cache when it matches the files."""
    cached = _load_cache(groundTruthList, args)
    if cached is not None:
        if not args.quiet:
            print("Loading ground truth instances from JSON.")
        return cached
    if not args.quiet:
        print("Creating ground truth instances from png files.")
    gtInstances = instances2dict(list(groundTruthList))
    _save_cache(gtInstances, groundTruthList, args)
    return gtInstances


def filterGtInstances(singleImageInstances, args):
    return {name: v for name, v in singleImageInstances.items() if name in args.instLabels}


def assignGt2Preds(gtInstancesOrig, gtImage, predInfo, args):
    """Match one image's predictions (``predInfo``) with its ground truth; PIL image or array."""
    predictions = [instance_ap.Prediction(path, info["labelID"], info["conf"]) for path, info in predInfo.items()]
    return instance_ap.match_image(gtInstancesOrig, np.asarray(gtImage), predictions, _label_set(args), args.instLabels)


def _match_folders(prediction_lists, roots, groundTruthList, args):
    """One merged :class:`~.instance_ap.InstanceAccumulator` per folder, gathering the AP detections as the
    frames come in; the ground-truth cache read and written."""
    return instance_files.match_folders(prediction_lists, roots, groundTruthList, _load_cache(groundTruthList, args),
                                        _label_set(args), getattr(args, "jobs", None), False if args.quiet else None,
                                        _cache_file(args), **_settings(args))


def matchGtWithPreds(predictionList, groundTruthList, gtInstances, args):
    """The original's ``matches`` dict: per ground-truth file, its matched instances."""
    return instance_files.match_folders([predictionList], [args.predictionPath], groundTruthList, gtInstances,
                                        _label_set(args), getattr(args, "jobs", None), False if args.quiet else None,
                                        gather=False, **_settings(args))[0].matches


def _settings(args):
    """The :class:`~.instance_ap.InstanceAccumulator` keyword arguments of ``args``."""
    return {"inst_labels": args.instLabels, "overlaps": args.overlaps, "min_region_sizes": args.minRegionSizes,
            "distance_thresholds": args.distanceThs, "distance_confidences": args.distanceConfs,
            "distance_available": args.distanceAvailable}


def _detections(args):
    return instance_ap.Detections(args.instLabels, args.minRegionSizes, args.distanceThs, args.distanceConfs,
                                  args.distanceAvailable)


def evaluateMatches(matches, args):
    return instance_ap.average_precision(matches, args.instLabels, args.overlaps, args.minRegionSizes,
                                         args.distanceThs, args.distanceConfs, args.distanceAvailable)


def computeAverages(aps, args):
    return instance_ap.averages(aps, args.instLabels, args.overlaps, args.distanceThs, args.distanceAvailable)


def prepareJSONDataForResults(avgDict, aps, args):
    return instance_ap.result_dict(avgDict, aps, args.instLabels, args.overlaps, args.minRegionSizes,
                                   args.distanceThs, args.distanceConfs)


def printResults(avgDict, args):
    """Print the AP table (``args.csv`` for comma-separated output)."""
    reports.print_ap_table(avgDict, args.instLabels, reports.TableStyle.of(args.colorized), args.distanceAvailable,
                           args.csv)


def evaluateImgLists(predictionList, groundTruthList, args):
    """Evaluate prediction txt files against ``*_instanceIds.png``; the original's result dict."""
    predictionList, groundTruthList = list(predictionList), list(groundTruthList)
    if len(predictionList) != len(groundTruthList):
        raise ArgumentError(f"{len(predictionList)} prediction files but {len(groundTruthList)} ground-truth images")
    setInstanceLabels(args)
    if not args.quiet:
        print(f"Matching {len(predictionList)} pairs of images...")
    total = _match_folders([predictionList], [args.predictionPath], groundTruthList, args)[0]
    return _finish(total.matches, args, total.detections)


def _finish(matches, args, detections=None):
    """Export, score (from ``detections`` when gathered already), write, print and plot ``matches``."""
    export = getattr(args, "exportMatches", None)
    if export:
        writeDict2JSON(matches, "matches.json" if export is True else export)
    result = _scores(matches, args, detections)
    if not args.quiet:
        printResults(result["averages"], args)
    if args.JSONOutput:  # after the scores are printed: a file that cannot be written loses none
        _write_results(result, args)
    plot = getattr(args, "plotFile", None)
    if plot:
        print("precision-recall curves saved to " + plots.plot_pr_curves(matches, args.instLabels, plot,
                                                                               args.overlaps))
    return result


def _scores(matches, args, detections=None):
    """The original's result dict of a ``matches`` dict (or of its ``detections``)."""
    aps = evaluateMatches(matches, args) if detections is None else detections.average_precision(args.overlaps)
    return prepareJSONDataForResults(computeAverages(aps, args), aps, args)


def evaluate_coco_json(json_file, groundTruthList, args):
    """Evaluate predictions given as one COCO-style JSON list for the whole split (see
    :func:`~cityscapesscripts.evaluation.instance_files.read_coco_predictions`); the original's result dict."""
    setInstanceLabels(args)
    matches = instance_files.match_coco_json(json_file, groundTruthList, args.instLabels, _label_set(args),
                                             getattr(args, "jobs", None), False if args.quiet else None)
    return _finish(matches, args)


def main(argv=None):
    """Command-line entry; returns the exit status (the command line: :mod:`.commands`)."""
    return commands.instance_main(argv)


def _write_results(result, args):
    ensurePath(os.path.dirname(args.exportFile))
    writeDict2JSON(result, args.exportFile)


if __name__ == "__main__":
    sys.exit(main())
