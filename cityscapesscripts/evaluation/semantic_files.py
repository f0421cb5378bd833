"""Pixel-level semantic evaluation of files: pairs of ``*_labelIds.png``, read and counted per frame.

Each frame gives the :class:`~.semantic.SemanticAccumulator` of its image
(one per prediction set in a sweep); the executor merges them in file order.
Label maps in the PNG flavours the dataset and predictions come in are
counted as their rows are unfiltered (:mod:`cityscapesscripts.io.png`'s
:class:`~cityscapesscripts.io.png.FilteredPNG`), never stored whole; other
images are decoded first and counted as arrays.
"""
import functools

import numpy as np

from .. import kernels
from ..io import layout, png
from .semantic import SemanticAccumulator, check_same_shape

# the flavours counted as their rows are unfiltered: one-byte label maps (grey, or palette
# indices, which are the ids) and 8- or 16-bit grey instance maps
_LABEL_PNG = {(0, 8), (3, 8)}
_INSTANCE_PNG = {(0, 8), (0, 16)}


def instance_path(label_ids_path: str) -> str:
    """``*_instanceIds.png`` beside a ``*_labelIds.png``."""
    return layout.sibling(label_ids_path, "instanceIds")


def evaluate_frame_files(prediction_paths, ground_truth_path, settings) -> list[SemanticAccumulator]:
    """One ground-truth frame against several predictions: a partial accumulator per prediction.

    The ground truth (and its instance ids) is read once; ``settings`` are
    the accumulator's keyword arguments.  The ground truth of several
    predictions is decoded first.
    """
    ground_truth = png.read_filtered(ground_truth_path, _LABEL_PNG, png.read_label_map)
    instances = png.read_filtered(instance_path(ground_truth_path), _INSTANCE_PNG, png.read_ids_16bit) \
        if settings.get("instance_scores", True) else None
    if len(prediction_paths) > 1:  # a sweep: decoding the ground truth once costs less than unfiltering it for each
        ground_truth, instances = png.pixels_of(ground_truth), png.pixels_of(instances, np.uint16)
    partials = []
    for prediction_path in prediction_paths:
        acc = SemanticAccumulator(**settings)
        # the prediction's size from its header (same read of the file) first: a huge or wrong-sized
        # file fails before it is inflated
        check_size = functools.partial(_check_size, ground_truth.shape, prediction_path)
        prediction = png.read_filtered(prediction_path, _LABEL_PNG, png.read_label_map, check_size=check_size)
        if not acc.train_ids and png.is_filtered(ground_truth) and png.is_filtered(prediction) and (
                instances is None or png.is_filtered(instances) and instances.shape == ground_truth.shape):
            count = functools.partial(_count_filtered, ground_truth, prediction, instances)
            pixels = ground_truth.shape[0] * ground_truth.shape[1]
            acc.add_counts(*acc.count_image(count, pixels, ground_truth_path, prediction_path), prediction_path)
        else:
            acc.add(png.pixels_of(prediction), png.pixels_of(ground_truth), png.pixels_of(instances, np.uint16),
                    name=prediction_path, ground_truth_name=ground_truth_path)
        partials.append(acc)
    return partials


def _check_size(ground_truth_shape, prediction_path, size):
    check_same_shape(size[::-1], ground_truth_shape, prediction_path)


def _count_filtered(ground_truth, prediction, instances, same_category, conf, inst_size, inst_tp, inst_tp_category):
    """:func:`kernels.pixel_counts` of filtered PNG images, unfiltering them as it goes."""
    inst_rows, inst_bytes = (None, 0) if instances is None else (instances.rows, instances.sample_bytes)
    bad = kernels.label_png_pixel_counts(ground_truth.rows, prediction.rows, inst_rows, inst_bytes,
                                         ground_truth.shape, same_category, conf, inst_size, inst_tp,
                                         inst_tp_category)
    for row, image in zip(bad, (ground_truth, instances, prediction)):
        if row >= 0:  # instances may be None, and then its row is -1
            image.check_row(row)


def evaluate_pair_files(prediction_path, ground_truth_path, settings) -> SemanticAccumulator:
    """One image's partial accumulator from files; ``settings`` are the accumulator's keyword arguments."""
    return evaluate_frame_files([prediction_path], ground_truth_path, settings)[0]


def _frame_task(item, settings):
    *prediction_paths, ground_truth_path = item
    return evaluate_frame_files(prediction_paths, ground_truth_path, settings)


def evaluate_sweep(prediction_lists, ground_truths, jobs=None, progress=None, client=None,
                   **settings) -> list[SemanticAccumulator]:
    """Evaluate several prediction sets (checkpoints, sweep runs) against one ground truth.

    ``prediction_lists`` holds one list of ``*_labelIds.png`` paths per set,
    each parallel to ``ground_truths``.  Each ground-truth frame is read once
    and scored against every set, on a process pool or the Dask ``client``.
    Returns one merged :class:`SemanticAccumulator` per set.
    """
    from .. import parallel
    prediction_lists, ground_truths = [list(p) for p in prediction_lists], list(ground_truths)
    for predictions in prediction_lists:
        if len(predictions) != len(ground_truths):
            raise ValueError(f"{len(predictions)} predictions but {len(ground_truths)} ground-truth images")
    totals = [SemanticAccumulator(**settings) for _ in prediction_lists]
    task = functools.partial(_frame_task, settings=settings)
    items = [(*predictions, gt) for *predictions, gt in zip(*prediction_lists, ground_truths)]
    return parallel.merge_each(totals, task, items, jobs, "evaluating", progress, client=client)


def evaluate_files(predictions, ground_truths, jobs=None, progress=None, client=None,
                   **settings) -> SemanticAccumulator:
    """Evaluate lists of prediction and ground-truth ``*_labelIds.png`` files on a process pool
    (or the Dask ``client``).  Returns the merged :class:`SemanticAccumulator`.
    """
    return evaluate_sweep([predictions], ground_truths, jobs, progress, client, **settings)[0]
