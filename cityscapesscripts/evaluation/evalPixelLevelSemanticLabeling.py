"""csEvalPixelLevelSemanticLabeling: class and category IoU / iIoU, the original's face.

Downstream code (mmsegmentation, detectron2) sets attributes of the module
level ``args`` and calls :func:`getPrediction` and :func:`evaluateImgLists`;
both keep the original's signatures and result dict.  The work is done by
:mod:`cityscapesscripts.evaluation.semantic` on a process pool.

Differences from the original, on purpose:

* with ``args.evalPixelAccuracy`` the per-image ``nbNotIgnoredPixels`` counts
  pixels whose ground truth is evaluated, and ``nbCorrectPixels`` those of
  them predicted right (the original counted ignored pixels and wrong ones;
  ``args.evalPixelAccuracyOriginal = True`` gives the original's numbers);
* unknown ids, size mismatches and multi-channel predictions raise an error
  naming the file;
* ``args.trainIds = True`` (``--trainids``) accepts predictions in train ids;
* ``args.jobs`` sets the number of worker processes (default: all cores);
* ``args.labelSet`` (``--labels FILE``) evaluates another label set than
  Cityscapes' (a :class:`~cityscapesscripts.helpers.labelset.LabelSet`).
"""
import fnmatch  # noqa: F401  (the original module's namespace)
import os
import platform
import sys

import numpy as np

from cityscapesscripts import cli, kernels
from cityscapesscripts.evaluation import addToConfusionMatrix  # noqa: F401  (the original module's namespace)
from cityscapesscripts.errors import ArgumentError
from cityscapesscripts.evaluation import commands, reports, semantic, semantic_files
from cityscapesscripts.helpers.csHelpers import colors, ensurePath, writeDict2JSON
from cityscapesscripts.helpers.labelset import CITYSCAPES
from cityscapesscripts.io import layout
from cityscapesscripts.lazy import star_import

# the original module's namespace: csHelpers' names (it star-imported csHelpers), Pillow's when first asked for
__getattr__ = star_import(__name__, "cityscapesscripts.helpers.csHelpers")

izip = zip  # the original's Python 2 alias
CSUPPORT = kernels.HAVE_EXTENSION  # whether the compiled counting loop is used


class CArgs:
    """Settings of the evaluation; any attribute may be added."""


def _default_args():
    a = CArgs()
    a.cityscapesPath = layout.default_root()
    export_dir = os.environ.get("CITYSCAPES_EXPORT_DIR")
    if export_dir:
        a.exportFile = os.path.join(export_dir, "resultPixelLevelSemanticLabeling.json")
    else:
        a.exportFile = os.path.join(a.cityscapesPath, "evaluationResults", "resultPixelLevelSemanticLabeling.json")
    a.groundTruthSearch = layout.ground_truth_search(a.cityscapesPath, "val", "labelIds")
    commands.guessed_search(a)
    a.evalInstLevelScore = True
    a.evalPixelAccuracy = False
    a.evalPixelAccuracyOriginal = False  # per-image counts as the original stored them (see the docstring)
    a.evalLabels = []
    a.printRow = 5
    a.normalized = True
    a.colorized = hasattr(sys.stderr, "isatty") and sys.stderr.isatty() and platform.system() == "Linux"
    a.bold = colors.BOLD if a.colorized else ""
    a.nocol = colors.ENDC if a.colorized else ""
    a.JSONOutput = True
    a.quiet = False
    a.avgClassSize = dict(semantic.AVG_CLASS_SIZE)
    a.predictionPath = None
    a.predictionWalk = None
    a.trainIds = False
    a.jobs = None
    a.labelSet = CITYSCAPES
    a.classSubset = None  # label ids scored (a domain-adaptation protocol's classes), None: all
    return a


args = _default_args()


def getPrediction(args, groundTruthFile):
    """The prediction file ``{city}_{seq}_{frame}*.png`` for a ground-truth file.

    Walks ``args.predictionPath`` (default ``$CITYSCAPES_RESULTS`` or
    ``$CITYSCAPES_DATASET/results``) once and caches it in ``args.predictionWalk``.
    Raises :class:`LayoutError` when none or several files match.
    """
    if not args.predictionPath:
        args.predictionPath = layout.results_root()
    if not args.predictionWalk:
        args.predictionWalk = layout.index_folder(args.predictionPath)
    return layout.match_prediction(args.predictionWalk, groundTruthFile, "png")


def _label_set(args):
    return getattr(args, "labelSet", CITYSCAPES)


def generateMatrix(args):
    """A zero confusion matrix over all label ids; sets ``args.evalLabels``."""
    args.evalLabels = list(_label_set(args).eval_ids)
    return np.zeros((max(args.evalLabels) + 1,) * 2, dtype=np.ulonglong)


def generateInstanceStats(args):
    return semantic.empty_instance_stats(_label_set(args))


def getMatrixFieldValue(confMatrix, i, j, args):
    if args.normalized:
        row = confMatrix[i].sum()
        return float("nan") if row == 0 else float(confMatrix[i][j]) / row
    return confMatrix[i][j]


def getIouScoreForLabel(label, confMatrix, args):
    return semantic.class_iou(np.asarray(confMatrix), label, _label_set(args), args.evalLabels)


def getInstanceIouScoreForLabel(label, confMatrix, instStats, args):
    return semantic.instance_class_iou(np.asarray(confMatrix), label, instStats, _label_set(args), args.evalLabels)


def getPrior(label, confMatrix):
    return semantic.prior(np.asarray(confMatrix), label)


def getScoreAverage(scoreList, args):
    return semantic.score_average(scoreList)


def getIouScoreForCategory(category, confMatrix, args):
    return semantic.category_iou(np.asarray(confMatrix), category, _label_set(args), args.evalLabels)


def getInstanceIouScoreForCategory(category, confMatrix, instStats, args):
    return semantic.instance_category_iou(np.asarray(confMatrix), category, instStats, _label_set(args), args.evalLabels)


def createResultDict(confMatrix, classScores, classInstScores, categoryScores, categoryInstScores,
                     perImageStats, args):
    conf = np.asarray(confMatrix)
    id2label = _label_set(args).id2label
    out = {"confMatrix": conf.tolist(),
           "priors": {id2label[i].name: getPrior(i, conf) for i in args.evalLabels},
           "labels": {id2label[i].name: i for i in args.evalLabels},
           "classScores": classScores, "classInstScores": classInstScores,
           "categoryScores": categoryScores, "categoryInstScores": categoryInstScores,
           "averageScoreClasses": getScoreAverage(classScores, args),
           "averageScoreInstClasses": getScoreAverage(classInstScores, args),
           "averageScoreCategories": getScoreAverage(categoryScores, args),
           "averageScoreInstCategories": getScoreAverage(categoryInstScores, args)}
    if perImageStats:
        out["perImageScores"] = perImageStats
    return out


def writeJSONFile(wholeData, args):
    ensurePath(os.path.dirname(args.exportFile))
    writeDict2JSON(wholeData, args.exportFile)


def _settings(args):
    return {"label_set": _label_set(args), "instance_scores": bool(args.evalInstLevelScore),
            "pixel_accuracy": bool(args.evalPixelAccuracy),
            "pixel_accuracy_as_original": bool(getattr(args, "evalPixelAccuracyOriginal", False)),
            "train_ids": bool(getattr(args, "trainIds", False)),
            "avg_class_size": dict(args.avgClassSize), "classes": getattr(args, "classSubset", None)}


def evaluatePair(predictionImgFileName, groundTruthImgFileName, confMatrix, instanceStats, perImageStats, args):
    """Add one pair of files to ``confMatrix``, ``instanceStats`` and ``perImageStats`` in place.

    Returns the number of pixels of the image.
    """
    partial = semantic_files.evaluate_pair_files(predictionImgFileName, groundTruthImgFileName, _settings(args))
    n = min(confMatrix.shape[0], partial.conf.shape[0])
    confMatrix[:n, :n] += partial.conf[:n, :n].astype(confMatrix.dtype)
    if args.evalInstLevelScore:
        for label_id, size, tp, tp_category in partial.instances.tolist():
            semantic.add_instance(instanceStats, _label_set(args).id2label[label_id], size, tp, tp_category,
                                  args.avgClassSize)
    perImageStats.update(partial.per_image)
    return int(partial.conf.sum())


def evaluateImgLists(predictionImgList, groundTruthImgList, args):
    """Evaluate prediction files against ground-truth ``*_labelIds.png`` files; the original's result dict."""
    predictionImgList, groundTruthImgList = list(predictionImgList), list(groundTruthImgList)
    if len(predictionImgList) != len(groundTruthImgList):
        raise ArgumentError("List of images for prediction and groundtruth are not of equal size.")
    confMatrix = generateMatrix(args)
    if not args.quiet:
        print(f"Evaluating {len(predictionImgList)} pairs of images...")
    total = semantic_files.evaluate_files(predictionImgList, groundTruthImgList, getattr(args, "jobs", None),
                                    None if not args.quiet else False, **_settings(args))
    confMatrix += total.conf.astype(confMatrix.dtype)
    result = total.result()
    _warn_of_train_ids(total, args)
    if not args.quiet:
        print(f"Images Processed: {total.images}\n")
        printConfMatrix(confMatrix, args)
        print("\n")
        printClassScores(result["classScores"], result["classInstScores"], args)
        _print_average(result["averageScoreClasses"], result["averageScoreInstClasses"], args)
        print("")
        printCategoryScores(result["categoryScores"], result["categoryInstScores"], args)
        _print_average(result["averageScoreCategories"], result["averageScoreInstCategories"], args)
    if args.JSONOutput:
        writeJSONFile(result, args)
    return result


TRAIN_IDS_WARNING = ("every predicted id is a train id (0..18): if the predictions hold train ids, pass "
                     "--train-ids (args.trainIds = True); scored as label ids")


def _warn_of_train_ids(total, args, folder=None):
    if not getattr(args, "trainIds", False) and looks_like_train_ids(total.conf, _label_set(args)):
        cli.print_warning((f"{folder}: " if folder else "") + TRAIN_IDS_WARNING)


def looks_like_train_ids(conf, label_set):
    """True when every pixel of the predictions counted in ``conf`` (rows: ground truth, columns: prediction)
    holds a train id of ``label_set`` and its train ids are not its label ids: predictions in train ids
    scored as label ids, the usual slip (a network's argmax is in train ids)."""
    train_ids = np.flatnonzero(label_set.known_train_ids[:255])
    if not train_ids.size or np.array_equal(label_set.train_id_to_id[train_ids], train_ids):
        return False
    predicted = np.asarray(conf).sum(axis=0)
    return bool(predicted.sum()) and not predicted[train_ids.max() + 1:].any()


def _style(args):
    return reports.TableStyle(args.colorized, args.bold, args.nocol)


def _print_average(iou, niou, args):
    reports.print_average(iou, niou, _style(args))


def printConfMatrix(confMatrix, args):
    """Print the (row-normalised) confusion matrix with the prior of each class."""
    reports.print_confusion_matrix(confMatrix, args.evalLabels, _label_set(args), _style(args), args.printRow,
                                   args.normalized)


def printClassScores(scoreList, instScoreList, args):
    if not args.quiet:
        reports.print_class_scores(scoreList, instScoreList, args.evalLabels, _label_set(args), _style(args))


def printCategoryScores(scoreDict, instScoreDict, args):
    if not args.quiet:
        reports.print_category_scores(scoreDict, instScoreDict, _label_set(args), _style(args))


def main(argv=None):
    """Command-line entry; returns the exit status (the command line: :mod:`.commands`)."""
    return commands.pixel_main(argv)


if __name__ == "__main__":
    sys.exit(main())
