"""3D detection of files: one JSON per image, read on the executor, and the images matched on it.

Ground truth and predictions are read on a process pool (``jobs``) into
:class:`~.box3d.Boxes3d` per image; each image ``(key, predictions, ground
truth, camera)`` then gives the :class:`~.box3d.Box3dAccumulator` of that
image, merged by the executor in file order.
"""
import functools
import os

from .. import parallel
from ..errors import AnnotationError, PredictionError
from ..io.jsonfile import read_json
from .box3d import Box3dAccumulator, ground_truth_from_json, predictions_from_json


def image_key(path: str) -> str:
    """``CITY_SEQ_FRAME`` of a file: its name cut at the last ``_``."""
    base = os.path.basename(path)
    return base[:base.rfind("_")]


def _read_ground_truth(path, labels, image_size_from_file):
    return ground_truth_from_json(read_json(path, AnnotationError), labels, path, image_size_from_file)


def _read_predictions(path, labels):
    return predictions_from_json(read_json(path, PredictionError), labels, path)


def read_ground_truth_files(paths, labels, image_size_from_file=False, jobs=None) -> list:
    """``[(Boxes3d, camera)]`` of ground-truth JSON files, in order, read on the executor."""
    task = functools.partial(_read_ground_truth, labels=labels, image_size_from_file=image_size_from_file)
    return parallel.collect(task, paths, jobs, "ground truth")


def read_prediction_files(paths, labels, jobs=None) -> list:
    """``[(Boxes3d, skipped boxes)]`` of prediction JSON files, in order, read on the executor."""
    return parallel.collect(functools.partial(_read_predictions, labels=labels), paths, jobs, "predictions")


def evaluate_images(images, settings: Box3dAccumulator, jobs=None) -> Box3dAccumulator:
    """The merged accumulator (settings as ``settings``) of images ``(key, predictions, ground truth,
    camera)``, matched on the executor."""
    task = functools.partial(_evaluate_image, settings=settings)
    return parallel.merge_into(settings.empty_like(), task, images, jobs, "images")


def _evaluate_image(image, settings):
    """A new accumulator like ``settings`` holding one image ``(key, predictions, ground truth, camera)``;
    the predictions' amodal boxes are recomputed from their 3D boxes, as the original does."""
    _, predictions, ground_truth, camera = image
    accumulator = settings.empty_like()
    accumulator.add(predictions.with_amodal_from_3d(camera), ground_truth)
    return accumulator
