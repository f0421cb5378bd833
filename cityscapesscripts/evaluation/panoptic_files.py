"""Panoptic quality of files: COCO panoptic JSONs paired by image id, their PNGs read and counted per frame.

Each frame gives the :class:`~.panoptic.PanopticAccumulator` of its image
(one per prediction set in a sweep); the executor merges them in file order,
which keeps each image's matched IoUs in order for the original's sums
(:meth:`~.panoptic.PQStat.summed_as_the_original`).  8-bit RGB PNGs are
counted as their rows are unfiltered, never stored whole; other images are
decoded first.
"""
import functools
import os

from .. import kernels, parallel
from ..errors import LayoutError, PredictionError
from ..io import files, png
from ..io.jsonfile import read_json
from .panoptic import PanopticAccumulator, check_panoptic_json, check_same_size, segment_stat

# 8-bit RGB: the panoptic PNGs' flavour, counted as their rows are unfiltered
_RGB = {(2, 8)}


def read_ground_truth_json(path) -> tuple[dict, dict]:
    """``(ground-truth COCO panoptic dict, {category id: category})`` of ``path``, checked; at least one image."""
    gt_json = read_json(path, LayoutError)
    check_panoptic_json(gt_json, path, LayoutError, ground_truth=True)
    if not gt_json["annotations"]:
        raise LayoutError("the ground truth has no image to evaluate ('annotations' is empty)", path)
    return gt_json, {el["id"]: el for el in gt_json["categories"]}


def read_prediction_json(path) -> dict:
    """The predicted COCO panoptic dict of ``path``, checked."""
    pred_json = read_json(path, PredictionError)
    check_panoptic_json(pred_json, path, PredictionError)
    return pred_json


def pair_annotations(gt_json, pred_json, pred_json_file=None) -> list[tuple[dict, dict]]:
    """``[(ground-truth annotation, predicted annotation)]`` by ``image_id``, in ground-truth order.

    A ground-truth image without a prediction is a :class:`PredictionError` naming ``pred_json_file``.
    """
    predictions = {el["image_id"]: el for el in pred_json["annotations"]}
    pairs = []
    for gt_ann in gt_json["annotations"]:
        if gt_ann["image_id"] not in predictions:
            raise PredictionError(f"no prediction for the image with id: {gt_ann['image_id']}", pred_json_file)
        pairs.append((gt_ann, predictions[gt_ann["image_id"]]))
    return pairs


def evaluate_frame_files(item, gt_folder, categories, real_folders=None) -> list[PanopticAccumulator]:
    """One ground-truth image against each of its predictions: a partial accumulator per prediction; the
    ground truth is read once.

    ``item`` is ``(gt annotation, (predicted annotation, prediction folder), ...)``; ``real_folders``:
    the folders resolved once (:func:`cityscapesscripts.io.files.resolved_folders`).
    """
    gt_ann, *predictions = item
    image_id = gt_ann["image_id"]
    where = f"image {image_id}"
    gt_path = files.resolve_inside(gt_folder, gt_ann["file_name"], LayoutError, where, "ground-truth file_name",
                                   real_folders=real_folders)
    gt, partials = None, []
    for pred_ann, pred_folder in predictions:
        pred_path = files.resolve_inside(pred_folder, pred_ann["file_name"], PredictionError, where, "file_name",
                                         real_folders=real_folders)
        if gt is None:
            gt = _read_ids(gt_path)
            if len(predictions) > 1:  # a sweep: decoding the ground truth once costs less than unfiltering it for each
                gt = png.pixels_of(gt)
        # the prediction's size from its header (same read of the file) first: a huge or wrong-sized
        # prediction fails before it is inflated
        pred = _read_ids(pred_path, lambda size, path=pred_path, gt_size=gt.shape[1::-1]: check_same_size(
            gt_size, size, image_id, path))
        acc = PanopticAccumulator(categories)
        acc.add_counts(segment_stat(_pair_counts(gt, pred), gt_ann["segments_info"], pred_ann["segments_info"],
                                    categories, image_id, pred_path))
        partials.append(acc)
    return partials


def _read_ids(path, check_size=None):
    """A panoptic PNG: filtered rows when 8-bit RGB, else its (H, W, 3) RGB array."""
    return png.read_filtered(path, _RGB, png.read_rgb, check_size=check_size)


def _pair_counts(gt, pred):
    """The ``pair_counts`` of :func:`~.panoptic.segment_stat` for two :func:`_read_ids` images of the same size."""
    if not (png.is_filtered(gt) and png.is_filtered(pred)):
        return functools.partial(kernels.segment_pair_counts, png.pixels_of(gt), png.pixels_of(pred))

    def pair_counts(gt_keys, pred_keys):
        counts, unknown, bad_gt, bad_pred = kernels.rgb_png_pair_counts(gt.rows, pred.rows, gt.shape, gt_keys,
                                                                        pred_keys)
        gt.check_row(bad_gt)
        pred.check_row(bad_pred)
        return counts, unknown
    return pair_counts


def evaluate_pair_files(pair, gt_folder, pred_folder, categories) -> PanopticAccumulator:
    """The partial accumulator of one ``(gt annotation, prediction annotation)`` pair, reading its two PNGs."""
    return evaluate_frame_files((pair[0], (pair[1], pred_folder)), gt_folder, categories)[0]


def evaluate_sweep(pair_lists, gt_folder, pred_folders, categories, jobs=None, progress=None,
                   client=None) -> list[PanopticAccumulator]:
    """One merged :class:`~.panoptic.PanopticAccumulator` per prediction set (``pair_annotations`` pairs and
    its PNG folder), each ground-truth image read once for all sets; on a bounded process pool or the Dask
    ``client``."""
    items = [(pairs[0][0], *((pair[1], folder) for pair, folder in zip(pairs, pred_folders)))
             for pairs in zip(*pair_lists)]
    task = functools.partial(evaluate_frame_files, gt_folder=gt_folder, categories=categories,
                             real_folders=files.resolved_folders([gt_folder, *pred_folders]))
    return parallel.merge_each([PanopticAccumulator(categories) for _ in pair_lists], task, items, jobs,
                               "panoptic", progress,
                               name=lambda item: os.path.join(item[1][1], str(item[1][0].get("file_name"))),
                               client=client)


def evaluate_files(pairs, gt_folder, pred_folder, categories, jobs=None, progress=None) -> PanopticAccumulator:
    """The merged accumulator of annotation pairs, over a bounded process pool (``jobs``, default all cores)."""
    return evaluate_sweep([pairs], gt_folder, [pred_folder], categories, jobs, progress)[0]
