"""The files step of ``csStats``: find a tree's frames, read each one into a one-frame
:class:`~cityscapesscripts.stats.engine.StatsAccumulator`, merge them on the executor.

Per frame the label ids and instance ids are counted as their PNG rows are
unfiltered (the evaluators' fused decode-and-count kernel, never the whole
image in memory); the pixels of the instance map's class-level regions are
then the label pixels no instance of that class covers, which is what the
instance map holds wherever the two maps agree.  ``check=True`` decodes both
maps instead, compares them pixel by pixel and with the frame's polygons drawn
by our rasterizer, and reports each disagreement as a finding.  Camera
images (``images=True``) are counted into value histograms as their rows are
unfiltered, too.
"""
from __future__ import annotations

import functools
import glob
import os
from typing import Any, NamedTuple

import numpy as np

from .. import kernels, parallel
from ..errors import AnnotationError, ImageError, ItemError, LayoutError, failures_error
from ..helpers.annotation import annotation_objects
from ..helpers.labelset import CITYSCAPES, LabelSet
from ..io import layout, png
from ..io.jsonfile import read_json
from .engine import INSTANCE_ID_START, StatsAccumulator, histogram_digest, image_digest, rgb_histogram

MODALITIES = ("labelIds", "instanceIds", "polygons")
_LABEL_PNG = {(0, 8), (3, 8)}  # one byte per pixel: grey, or palette indices (the ids)
_INSTANCE_PNG = {(0, 8), (0, 16)}


class Frame(NamedTuple):
    """One frame of a tree: ``name`` (its first file, which names it in errors and findings),
    ``split``, ``city`` and ``paths`` ``{modality: path}`` of the files it has (``leftImg8bit`` too)."""
    name: str
    split: str
    city: str
    paths: dict


def find_frames(root: str, splits: list[str] | None = None, annotation_type: str = layout.FINE) -> list[Frame]:
    """Every frame of the given splits (all split folders when None) with a label, instance, polygon
    or camera file, in name order."""
    if splits is None:
        splits = sorted(set(layout.splits_of(root, annotation_type)) | set(layout.splits_of(root, layout.CAMERA)))
    frames: dict[tuple[str, str], dict[str, str]] = {}
    for split in splits:
        for modality in MODALITIES:
            for path in glob.glob(layout.annotation_pattern(root, annotation_type, split, modality)):
                frames.setdefault((split, layout.frame_id(path)), {})[modality] = path
        for path in glob.glob(os.path.join(root, layout.CAMERA, split, "*", f"*_{layout.CAMERA}.png")):
            frames.setdefault((split, layout.frame_id(path)), {})[layout.CAMERA] = path
    found = []
    for (split, _), paths in sorted(frames.items()):
        name = next(paths[m] for m in (*MODALITIES, layout.CAMERA) if m in paths)
        found.append(Frame(name, split, layout.parse_name(name).city, paths))
    return found


def frame_statistics(frame: Frame, label_set: LabelSet = CITYSCAPES, images: bool = False,
                     check: bool = False) -> StatsAccumulator:
    """One frame's accumulator from its files (see the module docstring)."""
    acc = StatsAccumulator(label_set)
    paths = frame.paths
    item_id = f"{frame.city}/{layout.frame_id(frame.name)}"  # as Datumaro names the frame
    where = {"split": frame.split, "city": frame.city, "name": frame.name, "item_id": item_id}
    polygons = _read_polygons(paths["polygons"]) if "polygons" in paths else None
    rgb = camera_shape = None
    if images and layout.CAMERA in paths:
        rgb, camera_shape = _camera_values(paths[layout.CAMERA])
        # hashing the pixels of every image would cost a quarter of its decoding: only images of equal
        # histograms are hashed, after the merge (collect_statistics)
        acc.add_image_digest(histogram_digest(rgb, camera_shape), frame.split, item_id)
    if "labelIds" not in paths and "instanceIds" not in paths:
        acc.add_counts(None, None, camera_shape, polygons, rgb, **where)
        return acc
    if check:
        label_ids, instance_ids = _decoded_maps(paths)
        _check_maps(acc, frame, label_ids, instance_ids, label_set)
        label_counts, shape = np.bincount(label_ids.ravel(), minlength=256), label_ids.shape
        instance_counts = None if instance_ids is None else kernels.id_counts(instance_ids)
    else:
        label_counts, instance_counts, shape = _counts(paths, acc)
    if camera_shape is not None and tuple(camera_shape) != tuple(shape):
        acc.add_finding(f"{paths[layout.CAMERA]}: image size {camera_shape[1]}x{camera_shape[0]} differs from its "
                        f"labels' {shape[1]}x{shape[0]}")
    acc.add_counts(label_counts, instance_counts, shape, polygons, rgb, **where)
    return acc


def _read_polygons(path):
    """A polygon file's parsed JSON, its ``objects`` checked to be a list of objects."""
    data = read_json(path, AnnotationError)
    if not isinstance(data, dict):
        raise AnnotationError("expected a JSON object at the top level", path)
    for index, obj in enumerate(annotation_objects(data, path)):
        if not isinstance(obj, dict):
            raise AnnotationError(f"object {index}: expected a JSON object, got {type(obj).__name__}", path)
    return data


def _counts(paths, acc):
    """``(label counts (256,), instance counts (65536,) or None, (H, W))`` of a frame's maps, counted
    as their rows are unfiltered where both come in the flavours the kernel reads."""
    label_path, instance_path = paths.get("labelIds"), paths.get("instanceIds")
    if label_path is None:  # the label ids are the instance map's
        instance_ids = png.read_ids_16bit(instance_path)
        acc.add_finding(f"{instance_path}: no labelIds beside it (its label ids are taken from the instance map)")
        counts = kernels.id_counts(instance_ids)
        return _label_counts_of_instances(counts), counts, instance_ids.shape
    labels = png.read_filtered(label_path, _LABEL_PNG, png.read_label_map)
    instances = None
    if instance_path is not None:
        instances = png.read_filtered(instance_path, _INSTANCE_PNG, png.read_ids_16bit,
                                      check_size=functools.partial(_check_size, labels.shape, instance_path))
    if not isinstance(labels, png.FilteredPNG) or not (instances is None or isinstance(instances, png.FilteredPNG)):
        label_ids, instance_ids = _pixels(labels), _pixels(instances)
        if label_ids.dtype != np.uint8:
            raise ImageError(f"expected 8-bit label ids, got {label_ids.dtype}", label_path)
        counts = None if instance_ids is None else kernels.id_counts(instance_ids.astype(np.uint16, copy=False))
        return np.bincount(label_ids.ravel(), minlength=256), counts, label_ids.shape
    conf = np.zeros((256, 256), np.int64)
    instance_bytes = 0 if instances is None else instances.header[3] // 8
    sizes = np.zeros(kernels.INSTANCE_ID_SPACE if instances is not None else 1, np.int64)
    unused = np.zeros_like(sizes), np.zeros_like(sizes)
    bad = kernels.label_png_pixel_counts(labels.raw, labels.raw, None if instances is None else instances.raw,
                                         instance_bytes, labels.shape, _NO_CATEGORIES, conf, sizes, *unused)
    for row, image in zip(bad, (labels, instances)):
        if row >= 0:
            png.check_unfiltered(row, image.raw, image.stride, image.path)
    label_counts = np.diagonal(conf).copy()
    if instances is None:
        return label_counts, None, labels.shape
    return label_counts, _with_regions(sizes, label_counts, acc, instance_path), labels.shape


def _camera_values(path):
    """``(rgb_histogram of the image, (H, W))``, counted as its rows are unfiltered where our decoder
    reads it (8-bit RGB or RGBA)."""
    image = png.read_filtered(path, png.EIGHT_BIT_COLOUR, png.read_rgb)
    if not isinstance(image, png.FilteredPNG):
        return rgb_histogram(image), image.shape[:2]
    counts, bad = kernels.rgb_png_value_counts(image.raw, image.shape, image.header[2])
    image.check_row(bad)
    return counts, image.shape


_NO_CATEGORIES = np.zeros((256, 256), np.uint8)  # the kernel's category counts are not used here


def _with_regions(instance_sizes, label_counts, acc, instance_path):
    """The instance map's histogram from its instances' sizes (ids >= 1000) and the label counts: a
    class's region pixels are its label pixels no instance of it covers."""
    covered = np.bincount(np.arange(INSTANCE_ID_START, len(instance_sizes)) // INSTANCE_ID_START,
                          weights=instance_sizes[INSTANCE_ID_START:], minlength=256).astype(np.int64)[:256]
    regions = label_counts - covered
    if (regions < 0).any():
        acc.add_finding(f"{instance_path}: instances cover more pixels of a class than its labelIds hold "
                        f"(label ids {', '.join(map(str, np.flatnonzero(regions < 0)[:10]))}); run with --check")
        regions = np.maximum(regions, 0)
    counts = instance_sizes.copy()
    counts[:256] = regions
    return counts


def _label_counts_of_instances(instance_counts):
    labels = np.arange(len(instance_counts))
    labels = np.where(labels >= INSTANCE_ID_START, labels // INSTANCE_ID_START, labels)
    return np.bincount(labels, weights=instance_counts, minlength=256).astype(np.int64)


def _check_size(shape, path, size):
    if tuple(size[::-1]) != tuple(shape):
        raise ImageError(f"image size {size[0]}x{size[1]} differs from its labelIds' {shape[1]}x{shape[0]}", path)


def _pixels(image):
    return image.pixels() if isinstance(image, png.FilteredPNG) else image


def _decoded_maps(paths):
    label_path, instance_path = paths.get("labelIds"), paths.get("instanceIds")
    instance_ids = None if instance_path is None else png.read_ids_16bit(instance_path)
    if label_path is None:
        return _labels_of_instances(instance_ids), instance_ids
    label_ids = png.read_label_map(label_path)
    if label_ids.dtype != np.uint8:
        raise ImageError(f"expected 8-bit label ids, got {label_ids.dtype}", label_path)
    if instance_ids is not None:
        _check_size(label_ids.shape, instance_path, instance_ids.shape[::-1])
    return label_ids, instance_ids


def _labels_of_instances(instance_ids):
    labels = np.where(instance_ids >= INSTANCE_ID_START, instance_ids // INSTANCE_ID_START, instance_ids)
    return labels.astype(np.uint8)


def _check_maps(acc, frame, label_ids, instance_ids, label_set):
    """Findings of ``--check``: instance map against label map, label map against the polygons."""
    paths = frame.paths
    if instance_ids is not None and "labelIds" in paths:
        differ = int(np.count_nonzero(_labels_of_instances(instance_ids) != label_ids))
        if differ:
            acc.add_finding(f"{paths['instanceIds']}: {differ} pixels hold another label than its labelIds")
    if "polygons" in paths and "labelIds" in paths:
        from ..preparation import rasterize
        try:
            drawn = rasterize.encode(rasterize.rasterize_file(paths["polygons"], label_set), "labelIds")
        except AnnotationError as e:
            acc.add_finding(f"{paths['polygons']}: cannot draw its polygons: {e.reason}")
            return
        if drawn.shape != label_ids.shape:
            acc.add_finding(f"{paths['labelIds']}: size {label_ids.shape[1]}x{label_ids.shape[0]} differs from its "
                            f"polygons' {drawn.shape[1]}x{drawn.shape[0]}")
            return
        differ = int(np.count_nonzero(drawn != label_ids))
        if differ:
            acc.add_finding(f"{paths['labelIds']}: {differ} pixels ({100 * differ / drawn.size:.2f}%) differ from "
                            "its polygons drawn")


def collect_statistics(root: str | None = None, splits: list[str] | None = None,
                       label_set: LabelSet = CITYSCAPES, images: bool = False, check: bool = False,
                       jobs: int | parallel.Run | None = None, progress: bool | None = None,
                       client: Any = None) -> tuple[StatsAccumulator, list[ItemError]]:
    """The merged accumulator of a tree's frames and the failures (one :class:`ItemError` per bad
    frame; the other frames are counted).  ``root``: the dataset (default ``$CITYSCAPES_DATASET``)."""
    root = layout.dataset_root(root)
    frames = find_frames(root, splits)
    if not frames:
        raise LayoutError(f"no frames found (gtFine or leftImg8bit, split {', '.join(splits) if splits else 'any'})",
                          root)
    total = StatsAccumulator(label_set)
    failures = []
    task = functools.partial(frame_statistics, label_set=label_set, images=images, check=check)
    for partial in parallel.map_items(task, frames, jobs, "counting", progress, client=client):
        if isinstance(partial, ItemError):
            failures.append(partial)
        else:
            total.merge(partial)
    if images:
        failures += _refine_repeated_images(total, frames, jobs, progress, client)
    return total, failures


def _camera_image_digest(path):
    return image_digest(png.read_rgb(path))


def _refine_repeated_images(total, frames, jobs, progress, client):
    """Hash the pixels of the camera images that share a histogram digest, and regroup them by it;
    returns the failures (an image that cannot be read again keeps a group of its own)."""
    camera = {(f"{f.city}/{layout.frame_id(f.name)}", f.split): f.paths.get(layout.CAMERA) for f in frames}
    groups = total.repeated_images()
    paths = [camera[tuple(member)] for members in groups.values() for member in members]
    digests = list(parallel.map_items(_camera_image_digest, paths, jobs, "comparing images", progress,
                                      client=client))
    failures = [d for d in digests if isinstance(d, ItemError)]
    digests = [f"unreadable {path}" if isinstance(d, ItemError) else d for d, path in zip(digests, paths)]
    start = 0
    for digest, members in groups.items():
        total.regroup_images(digest, digests[start:start + len(members)])
        start += len(members)
    return failures


def dataset_statistics(root: str | None = None, splits: list[str] | None = None,
                       label_set: LabelSet = CITYSCAPES, train_ids: bool = False, images: bool = False,
                       check: bool = False, jobs: int | parallel.Run | None = None, progress: bool | None = None,
                       client: Any = None) -> dict[str, Any]:
    """The statistics dict of ``csStats`` for a Cityscapes tree (see docs/stats.md).

    Raises after the whole tree was read when any frame failed: its own error for a single
    failure, else a :class:`~cityscapesscripts.errors.BatchError` listing them.
    """
    total, failures = collect_statistics(root, splits, label_set, images, check, jobs, progress, client)
    if failures:
        raise failures_error(failures)
    return total.result(train_ids)
