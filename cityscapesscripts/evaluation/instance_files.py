"""Instance evaluation on files: prediction lists, COCO JSON predictions, the ground-truth cache, the pool.

Predictions come as the benchmark's text format (one ``*.txt`` per image,
lines ``relPath labelID confidence`` naming mask PNGs) or as one COCO-style
JSON for the whole split.  :func:`match_folders` and :func:`match_coco_json`
match them with ``*_instanceIds.png`` ground truth on a process pool and
give the original's ``matches`` dict, keyed by the absolute ground-truth path;
:func:`match_folders` gives one :class:`~.instance_ap.InstanceAccumulator` per prediction
folder, merged from one per frame, which also gathers what AP needs and the ground-truth cache
as the frames come back, so little is left to do after the last one.
The ground-truth cache holds the per-image instance dicts, keyed on the
content of the ground-truth files.
"""
import functools
import json
import math
import os
import sys

from .. import kernels, parallel
from ..errors import CityscapesError, ImageError, PredictionError
from ..helpers.annotation import check_finite
from ..helpers.labelset import CITYSCAPES
from ..io import files, layout, png
from ..io.jsonfile import read_json, write_text
from . import instance_ap

_FINGERPRINT_KEY = "__groundTruthFingerprint__"

# 8-bit grey: the mask PNGs' flavour, counted as their rows are unfiltered
_GREY_PNG = {(0, 8)}


def read_prediction_list(path, root=None, label_set=CITYSCAPES):
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
    found, real_folders = {}, {}
    for number, line in enumerate(lines, 1):
        fields = line.split()
        if not fields:
            continue
        where = f"{path} line {number}"
        if len(fields) != 3:
            raise PredictionError(f"expected 'relPath labelID confidence', got {len(fields)} field(s): {line!r}",
                                  where)
        mask = files.resolve_inside(folder, fields[0], PredictionError, where, "mask", root, real_folders)
        try:
            label_id, confidence = int(float(fields[1])), float(fields[2])
        except (ValueError, OverflowError):  # OverflowError: a label id of inf
            raise PredictionError(f"label id and confidence must be numbers: {line!r}", where) from None
        _check_confidence(confidence, where)
        if label_id not in label_set.id2label:
            what = "a Cityscapes label" if label_set == CITYSCAPES else "in the label set"
            raise PredictionError(f"label id {label_id} is not {what}", where)
        if not os.path.isfile(mask):
            raise PredictionError(f"mask {mask} does not exist", where)
        found[mask] = instance_ap.Prediction(mask, label_id, confidence, source=where)
    return list(found.values())


def read_mask(path):
    """A predicted mask PNG as (H, W) uint8 (non-zero = inside), as the original reads it ("L")."""
    return png.read_grey(path)


def mask_file_histogram(path, ids, hist, where=None):
    """:func:`~.instance_ap.mask_histogram` of a mask PNG; 8-bit grey masks are counted as their rows are
    unfiltered, never stored whole.  A mask that cannot be read is a :class:`PredictionError` naming ``where``."""
    try:  # the size from the header first: a huge or wrong-sized mask fails before it is inflated
        mask = png.read_filtered(path, _GREY_PNG, png.read_grey,
                                 check_size=lambda size: instance_ap.check_mask_shape(size[::-1], ids.shape, where))
        if png.is_filtered(mask):
            pixels, touched, bad_row = kernels.grey_png_mask_histogram(mask.rows, ids, hist)
            mask.check_row(bad_row)
            return pixels, touched
    except ImageError as e:
        raise PredictionError(f"mask {path}: {e.reason}", where) from None
    return instance_ap.mask_histogram(mask, ids, hist, where)


def _check_confidence(confidence, where):
    # a NaN would sort anywhere and an infinity ahead of every finite score: AP would be silently wrong
    if not math.isfinite(confidence):
        raise PredictionError(f"confidence {confidence} is not a finite number", where)


# ---- the ground-truth cache ----------------------------------------------------------------
def load_cache(path, ground_truths):
    """The cached ``{absolute path: instances}`` of ``ground_truths``, or None when missing or stale."""
    if not path or not os.path.isfile(path):
        return None
    try:
        with open(path) as f:
            cached = json.load(f)
        # keyed on the files' bytes: changed ground truth is re-read even with the same size and time
        if not isinstance(cached, dict) or cached.pop(_FINGERPRINT_KEY, None) != files.content_digest(ground_truths):
            return None  # made from other or changed ground truth (or by the original): rebuild
    except (OSError, ValueError, RecursionError):  # unreadable cache or ground truth: go without the cache
        return None
    return cached


def save_cache(path, instances, ground_truths):
    """Write the cache of ``{absolute path: instances}``; a folder that cannot be written disables it
    with a warning, not an error."""
    if path:
        _write_cache(path, {key: json.dumps(value) for key, value in instances.items()},
                     files.content_digest(ground_truths))


def _write_cache(path, texts, digest):
    """The cache file of ``{absolute path: JSON text of its instances}`` and the ground truth's digest."""
    folder = os.path.dirname(os.path.abspath(path))
    try:
        os.makedirs(folder, exist_ok=True)
        files.remove_stale_temporaries([folder])
        members = [f"{json.dumps(key)}: {text}" for key, text in texts.items()]
        write_text(path, "{" + ", ".join(members + [f"{json.dumps(_FINGERPRINT_KEY)}: {json.dumps(digest)}"]) + "}")
    except OSError as e:
        print(f"WARNING: ground-truth cache disabled, cannot write {path}: {e.strerror or e}", file=sys.stderr)


# ---- matching on a pool -------------------------------------------------------------------
def _match_task(item, label_set, settings):
    """One ground-truth frame, read once, matched with each of its ``(prediction txt, root)`` sources: one
    :class:`~.instance_ap.InstanceAccumulator` per source holding the frame as ``name``; the first also holds
    the JSON text of the ground-truth instances for the cache when they did not come from it."""
    name, gt_file, gt_instances, *sources = item
    ids = png.read_ids_16bit(gt_file)
    cache_text = None
    if gt_instances is None:
        gt_instances = instance_ap.ground_truth_instances(ids, label_set, gt_file)
        cache_text = json.dumps(gt_instances)  # here, on the pool, not in the parent after it
    inst_labels = settings["inst_labels"]
    evaluated = {k: v for k, v in gt_instances.items() if k in inst_labels}
    partials = []
    for prediction_file, root in sources:
        predictions = read_prediction_list(prediction_file, root, label_set)
        gt, pred = instance_ap.match_image(evaluated, ids, predictions, label_set, inst_labels, gt_file)
        partial = instance_ap.InstanceAccumulator(label_set, **settings)
        partial.add_matches({"groundTruth": gt, "prediction": pred}, name)
        partials.append(partial)
    if cache_text is not None:
        partials[0].ground_truth_json[name] = cache_text
    return partials


def match_folders(prediction_lists, roots, ground_truths, cached=None, label_set=CITYSCAPES, jobs=None,
                  progress=None, cache_file=None, gather=True, **settings) -> list[instance_ap.InstanceAccumulator]:
    """Match prediction txt files with ``*_instanceIds.png`` files on a pool, each ground truth read once.

    prediction_lists : one list of txt files per prediction folder (``roots``),
    each pairwise with ``ground_truths``; cached : ``{absolute path: instances}``
    from :func:`load_cache`, or None; cache_file : where to save the
    ground-truth instances (when not cached); settings : the
    :class:`~.instance_ap.InstanceAccumulator`'s keyword arguments.  Returns one
    merged accumulator per folder, its ``matches`` keyed by absolute
    ground-truth path; with ``gather``, each gathers what AP needs as the
    frames come back, so little is left to do after the last one.
    """
    settings = instance_ap.InstanceAccumulator(label_set, **settings).settings()
    keys = [os.path.abspath(g) for g in ground_truths]
    unique = len(set(keys)) == len(keys)
    # a ground truth listed twice keeps one entry, the last, where the first was (the original's dict):
    # such frames are merged under their positions and keyed by path after
    names = keys if unique else [f"{i}:{key}" for i, key in enumerate(keys)]
    items = [(name, g, None if cached is None else cached[key], *zip(predictions, roots))
             for name, key, g, *predictions in zip(names, keys, ground_truths, *prediction_lists)]
    totals = [instance_ap.InstanceAccumulator(label_set, **settings) for _ in prediction_lists]
    if unique and gather:
        for total in totals:
            total.gather_detections()
    task = functools.partial(_match_task, label_set=label_set, settings=settings)
    parallel.merge_each(totals, task, items, jobs, "matching", progress,
                        name=lambda item: item[3][0])  # named by its (first) prediction file
    if not unique:
        for total in totals:
            total.matches = dict(zip(keys, total.matches.values()))
            total.ground_truth_json = {name.split(":", 1)[1]: text for name, text in total.ground_truth_json.items()}
    if cache_file and cached is None:
        _write_cache(cache_file, totals[0].ground_truth_json, files.content_digest(ground_truths))
    return totals


def read_coco_predictions(json_file, ground_truths):
    """``{frame id: [Prediction]}`` of a COCO-style JSON list (or ``{"annotations": [...]}``).

    Entries: ``image_id`` (the frame id ``{city}_{seq}_{frame}`` or a file
    name starting with it), ``category_id`` (a label id), ``score`` and
    ``segmentation`` (RLE dict or polygons).  An image_id that matches no
    ground-truth file is an error.
    """
    entries = read_json(json_file, PredictionError)
    if isinstance(entries, dict):
        entries = entries.get("annotations", [])
    by_frame = {}
    for index, entry in enumerate(entries):
        where = f"{json_file} entry {index}"
        try:
            frame = layout.frame_id(str(entry["image_id"]) + "_x.png") if "_" in str(entry["image_id"]) else None
            prediction = instance_ap.Prediction(entry["segmentation"], entry["category_id"], entry["score"],
                                                name=where, source=where)
        except (KeyError, TypeError, ValueError, OverflowError, CityscapesError) as e:
            raise PredictionError(f"needs image_id, category_id, score and segmentation ({e})", where) from None
        if frame is None:
            raise PredictionError(f"image_id {entry['image_id']!r} is not a Cityscapes frame id", where)
        _check_confidence(prediction.confidence, where)
        if isinstance(prediction.mask, list):  # polygons, flat [x0, y0, x1, y1, ...] lists
            for polygon in prediction.mask:
                check_finite(polygon, "segmentation polygon", PredictionError, where)
        by_frame.setdefault(frame, []).append(prediction)
    unmatched = sorted(set(by_frame) - {layout.frame_id(g) for g in ground_truths})
    if unmatched:
        raise PredictionError(f"{len(unmatched)} image_id(s) match no ground-truth file, e.g. {unmatched[:3]}",
                              json_file)
    return by_frame


def _coco_task(item, inst_labels, label_set):
    gt_file, predictions = item
    ids = png.read_ids_16bit(gt_file)
    gt_instances = instance_ap.ground_truth_instances(ids, label_set, gt_file)
    gt, pred = instance_ap.match_image(gt_instances, ids, predictions, label_set, inst_labels, gt_file)
    return {"groundTruth": gt, "prediction": pred}


def match_coco_json(json_file, ground_truths, inst_labels=None, label_set=CITYSCAPES, jobs=None, progress=None):
    """The ``matches`` of the predictions of one COCO-style JSON with ``*_instanceIds.png`` files."""
    inst_labels = instance_ap.instance_labels(label_set) if inst_labels is None else list(inst_labels)
    by_frame = read_coco_predictions(json_file, ground_truths)
    task = functools.partial(_coco_task, inst_labels=inst_labels, label_set=label_set)
    items = [(g, by_frame.get(layout.frame_id(g), [])) for g in ground_truths]
    return {os.path.abspath(g): entry
            for g, entry in zip(ground_truths, parallel.collect(task, items, jobs, "matching", progress))}
