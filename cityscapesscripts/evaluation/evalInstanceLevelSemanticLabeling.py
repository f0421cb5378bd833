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
  draws PR curves.
"""
import argparse
import fnmatch  # noqa: F401  (the original module's namespace)
import functools
import json
import os
import sys
from copy import deepcopy  # noqa: F401  (the original module's namespace)

import numpy as np

from cityscapesscripts import cli, parallel
from cityscapesscripts.errors import CityscapesError, PredictionError
from cityscapesscripts.evaluation import instance_ap
from cityscapesscripts.evaluation.instances2dict import instances2dict
from cityscapesscripts.helpers.csHelpers import *  # noqa: F403  (the original module's namespace)
from cityscapesscripts.helpers.csHelpers import colors, ensurePath, getColorEntry, writeDict2JSON
from cityscapesscripts.helpers.labels import id2label
from cityscapesscripts.helpers.labelset import CITYSCAPES
from cityscapesscripts.io import files, layout, png
from cityscapesscripts.io.jsonfile import read_json, write_json

class CArgs:
    """Settings of the evaluation; any attribute may be added."""


def _user_cache_file():
    return os.path.join(layout.user_cache_dir(), "gtInstances.json")


def _default_args():
    a = CArgs()
    a.cityscapesPath = layout.default_root()
    a.exportFile = os.path.join(a.cityscapesPath, "evaluationResults", "resultInstanceLevelSemanticLabeling.json")
    a.groundTruthSearch = os.path.join(a.cityscapesPath, "gtFine", "val", "*", "*_gtFine_instanceIds.png")
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
    return a


args = _default_args()


def setInstanceLabels(args):
    args.instLabels = instance_ap.instance_labels(CITYSCAPES)


def getPrediction(groundTruthFile, args):
    """The prediction list ``{city}_{seq}_{frame}*.txt`` for a ground-truth file (walks the folder once)."""
    if not args.predictionPath:
        args.predictionPath = os.path.abspath(layout.results_root())
    if not args.predictionWalk:
        args.predictionWalk = layout.index_folder(args.predictionPath)
    return layout.match_prediction(args.predictionWalk, groundTruthFile, "txt")


def read_prediction_list(path, root=None):
    """The predictions of one ``.txt`` file, in the original's dict order.

    Each line is ``relPath labelID confidence``; the mask path is relative to
    the txt file and must stay inside ``root`` (default: the txt's folder).
    Later lines naming the same mask replace earlier ones.
    """
    folder = os.path.dirname(os.path.abspath(path))
    root = os.path.abspath(root) if root else folder
    try:
        with open(path, encoding="utf-8") as f:
            lines = f.read().splitlines()
    except OSError as e:
        raise PredictionError(f"cannot read prediction list: {e.strerror}", path) from None
    except UnicodeDecodeError as e:
        raise PredictionError(f"not UTF-8 text: byte {e.object[e.start]:#04x} at offset {e.start}", path) from None
    found = {}
    for number, line in enumerate(lines, 1):
        fields = line.split()
        if not fields:
            continue
        where = f"{path} line {number}"
        if len(fields) != 3:
            raise PredictionError(f"expected 'relPath labelID confidence', got {len(fields)} field(s): {line!r}",
                                  where)
        mask = files.resolve_inside(folder, fields[0], PredictionError, where, "mask", root)
        try:
            label_id, confidence = int(float(fields[1])), float(fields[2])
        except ValueError:
            raise PredictionError(f"label id and confidence must be numbers: {line!r}", where) from None
        if label_id not in id2label:
            raise PredictionError(f"label id {label_id} is not a Cityscapes label", where)
        if not os.path.isfile(mask):
            raise PredictionError(f"mask {mask} does not exist", where)
        found[mask] = instance_ap.Prediction(mask, label_id, confidence, source=where)
    return list(found.values())


def readPredInfo(predInfoFileName, args):
    """``{absolute mask path: {"labelID", "conf"}}`` of a prediction txt file."""
    return {p.name: {"labelID": p.label_id, "conf": p.confidence}
            for p in read_prediction_list(predInfoFileName, args.predictionPath)}


def readGTImage(gtImageFileName, args):
    return png.open_image(gtImageFileName)


_FINGERPRINT_KEY = "__groundTruthFingerprint__"


def _load_cache(groundTruthList, args):
    path = getattr(args, "gtInstancesFile", None)
    if not path or not os.path.isfile(path):
        return None
    try:
        with open(path) as f:
            cached = json.load(f)
        # keyed on the files' bytes: changed ground truth is re-read even with the same size and time
        if not isinstance(cached, dict) or cached.pop(_FINGERPRINT_KEY, None) != files.content_digest(groundTruthList):
            return None  # made from other or changed ground truth (or by the original): rebuild
    except (OSError, ValueError, RecursionError):  # unreadable cache or ground truth: go without the cache
        return None
    return cached


def _save_cache(gtInstances, groundTruthList, args):
    """Write the cache; a folder that cannot be written disables it with a warning, not an error."""
    path = getattr(args, "gtInstancesFile", None)
    if not path:
        return
    folder = os.path.dirname(os.path.abspath(path))
    try:
        ensurePath(folder)
        files.remove_stale_temporaries([folder])
        data = dict(gtInstances)
        data[_FINGERPRINT_KEY] = files.content_digest(groundTruthList)
        write_json(path, data)
    except OSError as e:
        print(f"WARNING: ground-truth cache disabled, cannot write {path}: {e.strerror or e}", file=sys.stderr)


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
    return instance_ap.match_image(gtInstancesOrig, np.asarray(gtImage), predictions, CITYSCAPES, args.instLabels)


def _match_task(item, inst_labels):
    """One ground-truth frame, read once, matched with each of its ``(prediction txt, root)`` sources."""
    gt_file, gt_instances, *sources = item
    ids = png.read_ids_16bit(gt_file)
    if gt_instances is None:
        gt_instances = instance_ap.ground_truth_instances(ids, CITYSCAPES, gt_file)
    evaluated = {k: v for k, v in gt_instances.items() if k in inst_labels}
    entries = []
    for prediction_file, root in sources:
        predictions = read_prediction_list(prediction_file, root)
        gt, pred = instance_ap.match_image(evaluated, ids, predictions, CITYSCAPES, inst_labels, gt_file)
        entries.append({"groundTruth": gt, "prediction": pred})
    return gt_instances, entries


def _match_folders(prediction_lists, roots, groundTruthList, gtInstances, args):
    """Ground-truth instances per file and one ``matches`` dict per prediction list (with its folder ``root``)."""
    items = [(g, None if gtInstances is None else gtInstances[os.path.abspath(g)], *zip(predictions, roots))
             for g, *predictions in zip(groundTruthList, *prediction_lists)]
    task = functools.partial(_match_task, inst_labels=list(args.instLabels))
    found, matches = {}, [{} for _ in prediction_lists]
    results = parallel.collect(task, items, getattr(args, "jobs", None), "matching", False if args.quiet else None,
                               name=lambda item: item[2][0])  # named by its (first) prediction file
    for gt_file, (instances, entries) in zip(groundTruthList, results):
        key = os.path.abspath(gt_file)
        found[key] = instances
        for folder_matches, entry in zip(matches, entries):
            folder_matches[key] = entry
    return found, matches


def _match_files(predictionList, groundTruthList, gtInstances, args):
    found, (matches,) = _match_folders([predictionList], [args.predictionPath], groundTruthList, gtInstances, args)
    return found, matches


def matchGtWithPreds(predictionList, groundTruthList, gtInstances, args):
    """The original's ``matches`` dict: per ground-truth file, its matched instances."""
    return _match_files(predictionList, groundTruthList, gtInstances, args)[1]


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
    sep = "," if args.csv else ""
    col1 = ":" if not args.csv else ""
    no_col = colors.ENDC if args.colorized else ""
    bold = colors.BOLD if args.colorized else ""
    columns = [("AP", "ap", "allAp"), ("AP_50%", "ap50%", "allAp50%")]
    if args.distanceAvailable:
        columns += [("AP_50m", "ap50m", "allAp50m"), ("AP_100m", "ap100m", "allAp100m"),
                    ("AP_50%50m", "ap50%50m", "allAp50%50m")]
    width = 50 + (40 if args.distanceAvailable else 0)
    print("")
    if not args.csv:
        print("#" * width)
    print(bold + f"{'what':<15}" + sep + col1 + "".join(f"{title:>15}" + sep for title, _, _ in columns) + no_col)
    if not args.csv:
        print("#" * width)

    def row(name, values):
        return (f"{name:<15}" + sep + col1
                + "".join(getColorEntry(v, args) + sep + f"{v:>15.3f}" + sep for v in values) + no_col)

    for name in args.instLabels:
        print(row(name, [avgDict["classes"][name][key] for _, key, _ in columns]))
    if not args.csv:
        print("-" * width)
    print(row("average", [avgDict[key] for _, _, key in columns]))
    print("")


def evaluateImgLists(predictionList, groundTruthList, args):
    """Evaluate prediction txt files against ``*_instanceIds.png``; the original's result dict."""
    predictionList, groundTruthList = list(predictionList), list(groundTruthList)
    if len(predictionList) != len(groundTruthList):
        raise ValueError(f"{len(predictionList)} prediction files but {len(groundTruthList)} ground-truth images")
    setInstanceLabels(args)
    cached = _load_cache(groundTruthList, args)
    if not args.quiet:
        print(f"Matching {len(predictionList)} pairs of images...")
    found, matches = _match_files(predictionList, groundTruthList, cached, args)
    if cached is None:
        _save_cache(found, groundTruthList, args)
    return _finish(matches, args)


def _finish(matches, args):
    export = getattr(args, "exportMatches", None)
    if export:
        writeDict2JSON(matches, "matches.json" if export is True else export)
    result = _scores(matches, args)
    if args.JSONOutput:
        ensurePath(os.path.dirname(args.exportFile))
        writeDict2JSON(result, args.exportFile)
    if not args.quiet:
        printResults(result["averages"], args)
    plot = getattr(args, "plotFile", None)
    if plot:
        print("precision-recall curves saved to " + instance_ap.plot_pr_curves(matches, args.instLabels, plot,
                                                                               args.overlaps))
    return result


def _scores(matches, args):
    """The original's result dict of a ``matches`` dict."""
    aps = evaluateMatches(matches, args)
    return prepareJSONDataForResults(computeAverages(aps, args), aps, args)


def evaluate_coco_json(json_file, groundTruthList, args):
    """Evaluate predictions given as one COCO-style JSON list for the whole split.

    Entries: ``image_id`` (the frame id ``{city}_{seq}_{frame}`` or a file
    name starting with it), ``category_id`` (a Cityscapes label id), ``score``
    and ``segmentation`` (RLE dict or polygons).
    """
    entries = read_json(json_file, PredictionError)
    if isinstance(entries, dict):
        entries = entries.get("annotations", [])
    setInstanceLabels(args)
    by_frame = {}
    for index, entry in enumerate(entries):
        where = f"{json_file} entry {index}"
        try:
            frame = layout.frame_id(str(entry["image_id"]) + "_x.png") if "_" in str(entry["image_id"]) else None
            prediction = instance_ap.Prediction(entry["segmentation"], entry["category_id"], entry["score"],
                                                name=where, source=where)
        except (KeyError, TypeError, ValueError, CityscapesError) as e:
            raise PredictionError(f"needs image_id, category_id, score and segmentation ({e})", where) from None
        if frame is None:
            raise PredictionError(f"image_id {entry['image_id']!r} is not a Cityscapes frame id", where)
        by_frame.setdefault(frame, []).append(prediction)
    unmatched = sorted(set(by_frame) - {layout.frame_id(g) for g in groundTruthList})
    if unmatched:
        raise PredictionError(f"{len(unmatched)} image_id(s) match no ground-truth file, e.g. {unmatched[:3]}",
                              json_file)
    task = functools.partial(_coco_task, inst_labels=list(args.instLabels))
    items = [(g, by_frame.get(layout.frame_id(g), [])) for g in groundTruthList]
    matches = {}
    for gt_file, entry in zip(groundTruthList, parallel.collect(task, items, getattr(args, "jobs", None), "matching",
                                                                 False if args.quiet else None)):
        matches[os.path.abspath(gt_file)] = entry
    return _finish(matches, args)


def _coco_task(item, inst_labels):
    gt_file, predictions = item
    ids = png.read_ids_16bit(gt_file)
    gt_instances = instance_ap.ground_truth_instances(ids, CITYSCAPES, gt_file)
    gt, pred = instance_ap.match_image(gt_instances, ids, predictions, CITYSCAPES, inst_labels, gt_file)
    return {"groundTruth": gt, "prediction": pred}


def _modern_parser():
    p = argparse.ArgumentParser(
        description="Evaluate instance-level semantic labeling on Cityscapes (AP, AP50). Also accepts the "
                    "original forms: no arguments, or a list of *gt* and *pred* files.")
    cli.add_evaluation_options(p, "instanceIds", "folder of prediction txt files (default: $CITYSCAPES_RESULTS)")
    p.add_argument("--coco-json", metavar="FILE", help="predictions as one COCO-style JSON (RLE or polygons)")
    p.add_argument("--matches", metavar="FILE", help="also write the matches to FILE")
    p.add_argument("--gt-cache", metavar="FILE", help="ground-truth instance cache (default: user cache folder)")
    p.add_argument("--csv", action="store_true", help="print the table as CSV")
    p.add_argument("--plot", metavar="OUT.png", help="save precision-recall curves at IoU 0.5 (matplotlib)")
    return p


def main(argv=None):
    """Command-line entry; returns the exit status."""
    return cli.run_evaluator(argv, _modern_main, _original_main)


def _original_main(argv):
    find = (lambda gt: getPrediction(gt, args))
    evaluateImgLists(*cli.original_form_lists(argv, args.groundTruthSearch, find), args)


def _modern_main(argv):
    opts = _modern_parser().parse_args(argv)
    ground_truths = cli.apply_evaluation_options(opts, args, "instanceIds")
    if opts.gt_cache:
        args.gtInstancesFile = opts.gt_cache
    args.exportMatches = opts.matches
    args.plotFile = opts.plot
    args.csv = opts.csv
    args.colorized = sys.stdout.isatty() and not opts.csv
    folders = cli.prediction_folders(opts)
    if opts.coco_json:
        result = evaluate_coco_json(opts.coco_json, ground_truths, args)
    elif len(folders) > 1:
        return _sweep(folders, ground_truths)
    else:
        predictions = [getPrediction(gt, args) for gt in ground_truths]
        result = evaluateImgLists(predictions, ground_truths, args)
    if opts.quiet and not opts.csv:
        print(_summary(result))
    return 0


def _summary(result):
    return f"AP {result['averages']['allAp']:.4f}  AP50 {result['averages']['allAp50%']:.4f}"


def _sweep(folders, ground_truths):
    """Score every prediction folder against the ground truth in one pass; one summary line per folder."""
    setInstanceLabels(args)
    prediction_lists = []
    for folder in folders:
        args.predictionPath, args.predictionWalk = folder, None
        prediction_lists.append([getPrediction(gt, args) for gt in ground_truths])
    cached = _load_cache(ground_truths, args)
    found, matches = _match_folders(prediction_lists, folders, ground_truths, cached, args)
    if cached is None:
        _save_cache(found, ground_truths, args)
    results = {}
    for folder, folder_matches in zip(folders, matches):
        results[folder] = _scores(folder_matches, args)
        print(f"{folder}: {_summary(results[folder])}")
    if args.JSONOutput:
        ensurePath(os.path.dirname(args.exportFile))
        writeDict2JSON(results, args.exportFile)
    return 0


if __name__ == "__main__":
    sys.exit(main())
