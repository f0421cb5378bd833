"""csEvalObjectDetection3d: the Cityscapes 3D detection benchmark, the original's face.

One JSON file of predictions per image (``*_predBbox3d.json`` or any name
whose part before the last ``_`` is the image key)::

    {"objects": [{"2d": {"modal": [x, y, w, h], "amodal": [x, y, w, h]},
                  "3d": {"center": [x, y, z], "dimensions": [l, w, h], "rotation": [w, x, y, z]},
                  "label": "car", "score": 0.9}]}

``modal`` is optional (the amodal box stands in); amodal boxes are recomputed
from the 3D box.  An image without detections needs ``{"objects": []}``.

Differences from the original, on purpose: importing the module writes
nothing (the original opened ``eval.log`` in the working directory); the log
goes to the results folder (none with ``--quiet``); a ground-truth object
without ``score`` and a prediction file without ``objects`` raise an error
naming the file; ``--image-size-from-file`` clips recomputed boxes to the
file's image size instead of 2048 x 1024; files load on a process pool
(``-j``); ``Box3dEvaluator.gts`` / ``preds`` hold :class:`~.box3d.Boxes3d`
arrays per image instead of lists of ``CsBbox3d``.
"""
import argparse  # noqa: F401  (the original module's namespace)
import contextlib
import json  # noqa: F401  (the original module's namespace)
import logging
import os
import sys
from collections import OrderedDict
from typing import List, Tuple  # noqa: F401  (the original module's namespace)

import numpy as np  # noqa: F401  (the original module's namespace)
from tqdm import tqdm  # noqa: F401  (the original module's namespace)

from cityscapesscripts.errors import CityscapesError, DependencyError, LayoutError
from cityscapesscripts.helpers.annotation import CsBbox3d, CsIgnore2d  # noqa: F401  (the original module's namespace)
from cityscapesscripts.helpers.box3dImageTransform import Box3dImageTransform, Camera, Quaternion  # noqa: F401  (same)
from cityscapesscripts.io.jsonfile import write_json
from cityscapesscripts.evaluation import box3d_files, commands, reports
from cityscapesscripts.evaluation.box3d import (DEFAULT_LABELS,  # noqa: F401  (the labels evaluated by default)
                                                Box3dAccumulator, Boxes3d, confidence_thresholds,
                                                snap_working_confidence)
from cityscapesscripts.evaluation.box3d_files import image_key
from cityscapesscripts.evaluation.objectDetectionHelpers import (  # noqa: F401  (the original module's namespace)
    MATCHING_AMODAL, MATCHING_MODAL, EvaluationParameters, calcIouMatrix, calcOverlapMatrix, getFiles)

logger = logging.getLogger("EvalObjectDetection3d")
LOG_FORMAT = "%(asctime)s.%(msecs)03d %(name)s %(levelname)s %(message)s"


class Box3dEvaluator:
    """Data and settings of one evaluation: load ground truth and predictions, evaluate, save.

    ``results`` is the ``results.json`` dict after :meth:`evaluate`.
    """

    def __init__(self, evaluation_params, jobs=None, image_size_from_file=False):
        self.eval_params = evaluation_params
        self.jobs = jobs
        self.image_size_from_file = image_size_from_file
        self.gts = {}
        self.cameras = {}
        self.preds = {}
        self.ap = {}
        self.results = OrderedDict()
        self._conf_thresholds = confidence_thresholds(evaluation_params.num_conf)

    def reset(self):
        """Forget loaded data and results."""
        self.gts, self.preds, self.ap = {}, {}, {}
        self.results = OrderedDict()

    def checkCw(self):
        """Move a given working confidence onto the threshold grid, with a warning."""
        old = self.eval_params.cw
        self.eval_params.cw = snap_working_confidence(old, self._conf_thresholds)
        if self.eval_params.cw != old:
            logger.warning("{:.2f} is used as working confidence instead of {}.".format(self.eval_params.cw, old))

    def loadGT(self, gt_folder):
        """Read every ``*.json`` under ``gt_folder`` (not ``results.json``) as ground truth."""
        logger.info("Loading GT...")
        paths = getFiles(gt_folder)
        if not paths:  # every score would be NaN
            raise LayoutError("no ground-truth *.json files to evaluate", gt_folder)
        logger.info("Found {} GT files.".format(len(paths)))
        read = box3d_files.read_ground_truth_files(paths, self.eval_params.labels_to_evaluate,
                                                   self.image_size_from_file, self.jobs)
        for path, (boxes, camera) in zip(paths, read):
            self.gts[image_key(path)] = boxes
            self.cameras[image_key(path)] = camera

    def loadPredictions(self, pred_folder):
        """Read every ``*.json`` under ``pred_folder`` (not ``results.json``) as predictions."""
        logger.info("Loading predictions...")
        paths = getFiles(pred_folder)
        logger.info("Found {} prediction files.".format(len(paths)))
        read = box3d_files.read_prediction_files(paths, self.eval_params.labels_to_evaluate, self.jobs)
        for path, (boxes, skipped) in zip(paths, read):
            for _ in range(skipped):
                logger.critical("Found incorrect annotation in {}.".format(path))
            self.preds[image_key(path)] = boxes

    def accumulator(self):
        """An empty :class:`~.box3d.Box3dAccumulator` with this evaluation's settings."""
        p = self.eval_params
        return Box3dAccumulator(p.labels_to_evaluate, p.min_iou_to_match, p.max_depth, p.step_size,
                                p.matching_method == MATCHING_MODAL, p.num_conf)

    def evaluate(self):
        """Match every ground-truth image (missing predictions count as none) and compute ``results``."""
        if self.eval_params.matching_method not in (MATCHING_AMODAL, MATCHING_MODAL):
            raise ValueError("Matching method {} not known!".format(self.eval_params.matching_method))
        for key in self.gts:
            if key not in self.preds:
                logger.critical("Could not find any prediction for image {}.".format(key))
                self.preds[key] = Boxes3d()
        logger.info("Evaluating images...")
        images = [(key, self.preds[key], gt, self.cameras[key]) for key, gt in self.gts.items()]
        accumulator = box3d_files.evaluate_images(images, self.accumulator(), self.jobs)
        logger.info("Calculate AP...")
        logger.info("Calculate TP stats...")
        self.results = accumulator.result(self.eval_params.cw)
        log_results(self.results)

    def saveResults(self, result_folder):
        """Write ``results.json`` (indent 4) into ``result_folder``; returns its path."""
        path = os.path.join(result_folder, "results.json")
        write_json(path, self.results, indent=4)
        return path


def log_results(results):
    """The original's results table, to the log."""
    reports.log_box3d_table(results, logger)


@contextlib.contextmanager
def log_to(folder):
    """Log this module's messages (INFO and up) to ``folder/eval.log`` meanwhile; nothing when ``folder`` is None."""
    if folder is None:
        yield
        return
    handler = logging.FileHandler(os.path.join(folder, "eval.log"), mode="w")
    handler.setFormatter(logging.Formatter(LOG_FORMAT, datefmt="%H:%M:%S"))
    logger.addHandler(handler)
    level = logger.level
    logger.setLevel(min(level, logging.INFO) if level else logging.INFO)
    try:
        yield
    finally:
        logger.removeHandler(handler)
        logger.setLevel(level)
        handler.close()


def evaluate3dObjectDetection(gt_folder, pred_folder, result_folder, eval_params, plot=True, jobs=None,
                              image_size_from_file=False, plot_file=None, log=True):
    """Evaluate the predictions under ``pred_folder`` against ``gt_folder``; write ``results.json``
    (and ``eval.log`` unless ``log`` is false) into ``result_folder``; returns the results dict.

    ``plot`` shows the figure (as the original: nothing appears without a
    display); ``plot_file`` saves it.  Both need matplotlib.
    """
    with log_to(result_folder if log else None):
        evaluator = Box3dEvaluator(eval_params, jobs, image_size_from_file)
        evaluator.checkCw()
        logger.info("Use the following options")
        logger.info(" -> GT folder    : {}".format(gt_folder))
        logger.info(" -> Pred folder  : {}".format(pred_folder))
        logger.info(" -> Labels       : {}".format(", ".join(eval_params.labels_to_evaluate)))
        logger.info(" -> Min IoU:     : {:.2f}".format(eval_params.min_iou_to_match))
        logger.info(" -> Max depth [m]: {}".format(eval_params.max_depth))
        logger.info(" -> Step size [m]: {}".format(eval_params.step_size))
        if eval_params.cw == -1.0:
            logger.info(" -> cw           : -- automatically determined --")
        else:
            logger.info(" -> cw           : {:.2f}".format(eval_params.cw))
        evaluator.loadGT(gt_folder)
        evaluator.loadPredictions(pred_folder)
        evaluator.evaluate()
        evaluator.saveResults(result_folder)
    if plot or plot_file:
        from cityscapesscripts.evaluation.plot3dResults import plot_data
        try:
            plot_data(evaluator.results, show=plot, path=plot_file)
        except DependencyError as e:  # the results are written; only the figure is missing
            if plot_file:
                raise CityscapesError(str(e)) from None
            logger.warning(str(e))
    return evaluator.results


def main(argv=None):
    """The console script; returns the exit status (the command line: :mod:`.commands`)."""
    return commands.box3d_main(argv)


if __name__ == "__main__":
    sys.exit(main())
