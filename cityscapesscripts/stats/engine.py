"""Dataset statistics on arrays: one frame in, a summable :class:`StatsAccumulator` out.

A frame is its label ids (H, W), its instance ids (H, W) (``id * 1000 + k`` for
single instances, the label id elsewhere), optionally its polygon annotation
(the parsed JSON) and its camera image (H, W, 3).  Everything kept is a count
that adds (pixels, images, instances, polygons and vertices per class, per
split and city; RGB value histograms per split) or a list that concatenates
(segment areas, findings), so ``merge`` is exact and order-free: a process
pool, Dask or ``torch.distributed`` just merges what each worker built.

:meth:`StatsAccumulator.result` turns the counts into the dict ``csStats``
prints and writes: classes, splits and cities, instance sizes, class
weights, Datumaro's ``datum stats`` quantities and the consistency findings.
No file is opened here.
"""
from __future__ import annotations

from collections import Counter, defaultdict
from typing import Any

import numpy as np

from .. import kernels
from ..errors import AnnotationError
from ..evaluation.accumulator import Accumulator
from ..helpers.labelset import CITYSCAPES, LabelSet, name_key
from . import weights as class_weights

# rows of the per-(split, city) count table, each indexed by label id (or train id for TRAIN_*)
(PIXELS, IMAGES, PRESENT_PIXELS, TRAIN_PIXELS, TRAIN_IMAGES, TRAIN_PRESENT_PIXELS, INSTANCES, INSTANCE_PIXELS,
 REGION_PIXELS, REGION_IMAGES, POLYGONS, VERTICES, TRAIN_INSTANCES) = range(13)
ROWS = 13
INSTANCE_ID_START = 1000  # instance ids >= this are ``label id * 1000 + k``
IGNORE_TRAIN_ID = 255
HISTOGRAM_BINS = 10  # Datumaro's segment area histogram (numpy's default)


class StatsAccumulator(Accumulator):
    """Statistics of a set of frames; ``add`` one frame, ``merge`` another accumulator, ``result``.

    Parameters
    ----------
    label_set : LabelSet
        The labels whose ids the maps hold (Cityscapes by default).

    >>> acc = StatsAccumulator()
    >>> ids = np.array([[7, 7], [26, 26]], np.uint8)
    >>> acc.add(ids, np.array([[7, 7], [26001, 26001]], np.uint16), split="val", city="x")
    >>> r = acc.result()
    >>> r["classes"]["road"]["pixels"], r["classes"]["car"]["instances"]
    (2, 1)
    """

    def __init__(self, label_set: LabelSet = CITYSCAPES) -> None:
        super().__init__(label_set)

    def _reset_state(self) -> None:
        self.counts: dict[tuple[str, str], np.ndarray] = {}  # (split, city) -> (ROWS, 256) int64
        self.frames: Counter = Counter()  # (split, city) -> frames added
        # (split) -> per-frame arrays: segment label id, area, whether an instance (not a class-level region)
        self.segments: dict[str, list[tuple[np.ndarray, np.ndarray, np.ndarray]]] = defaultdict(list)
        self.rgb: dict[str, np.ndarray] = {}  # split -> (3, 256) int64 histogram of the camera images' values
        # pixel digest -> [item id, split] of the frames with that camera image (Datumaro's repeated images)
        self.image_hashes: dict[str, list[list[str]]] = defaultdict(list)
        self.sizes: dict[tuple[int, int], list[str]] = defaultdict(list)  # (width, height) -> frames
        self.unannotated: list[str] = []  # item ids of frames without any mask in Datumaro's sense
        self.findings: list[str] = []

    def _merge_state(self, other: StatsAccumulator) -> None:
        for key, table in other.counts.items():
            self._table(key)[...] += table
        self.frames.update(other.frames)
        for mine, theirs in ((self.segments, other.segments), (self.image_hashes, other.image_hashes),
                             (self.sizes, other.sizes)):
            for key, values in theirs.items():
                mine[key].extend(values)
        for split, histogram in other.rgb.items():
            self._rgb(split)[...] += histogram
        self.unannotated += other.unannotated
        self.findings += other.findings

    def _table(self, key):
        table = self.counts.get(key)
        if table is None:
            table = self.counts[key] = np.zeros((ROWS, 256), np.int64)
        return table

    def _rgb(self, split):
        histogram = self.rgb.get(split)
        if histogram is None:
            histogram = self.rgb[split] = np.zeros((3, 256), np.int64)
        return histogram

    # ---- one frame ----------------------------------------------------------------
    def add(self, label_ids: np.ndarray | None, instance_ids: np.ndarray | None = None,
            polygons: dict | None = None, image: np.ndarray | None = None, *, split: str = "", city: str = "",
            name: str | None = None) -> None:
        """Add one frame.

        label_ids : (H, W) uint8 label ids, or None for a frame without labels (an image alone);
        instance_ids : (H, W) uint16 instance ids, or None (then the label ids stand for them:
        no instances); polygons : the frame's parsed ``*_polygons.json``, or None; image : (H, W, 3)
        uint8 RGB camera image, or None.  ``split`` and ``city`` group the counts; ``name`` names the
        frame in findings.
        """
        name = self._image_name(name)
        label_counts = instance_counts = shape = None
        if label_ids is not None:
            label_ids = np.asarray(label_ids)
            shape = label_ids.shape
            label_counts = np.bincount(label_ids.ravel(), minlength=256)
            if instance_ids is not None:
                instance_ids = np.asarray(instance_ids)
                if instance_ids.shape != shape:
                    raise ValueError(f"{name}: instance ids {instance_ids.shape} and label ids {shape} differ in shape")
                instance_counts = np.bincount(instance_ids.ravel(), minlength=65536)
        elif image is not None:
            shape = np.asarray(image).shape[:2]
        rgb = None if image is None else rgb_histogram(image)
        self.add_counts(label_counts, instance_counts, shape, polygons, rgb, split=split, city=city, name=name)
        if image is not None:
            self.add_image_digest(image_digest(image), split, name)

    def add_counts(self, label_counts: np.ndarray | None, instance_counts: np.ndarray | None,
                   shape: tuple[int, int] | None, polygons: dict | None = None, rgb: np.ndarray | None = None, *,
                   split: str = "", city: str = "", name: str | None = None, item_id: str | None = None) -> None:
        """:meth:`add` from counts: ``label_counts`` (>= 256,) pixels per label id, ``instance_counts``
        (65536,) pixels per instance id (or None), ``shape`` (H, W), ``rgb`` (3, 256) value histogram
        of the camera image (or None).  The files step hands these straight from its decoders; ``item_id``
        names the frame in Datumaro's lists (``{city}/{frame}``; default ``name``)."""
        name = self._image_name(name)
        item_id = name if item_id is None else item_id
        self.images += 1
        key = (split, city)
        table = self._table(key)
        self.frames[key] += 1
        if shape is not None:
            self.sizes[(int(shape[1]), int(shape[0]))].append(name)
        if rgb is not None:
            self._rgb(split)[...] += rgb
        if polygons is not None:
            self._add_polygons(table, polygons, name)
        if label_counts is None:
            self.findings.append(f"{name}: no annotation (an image without labelIds)")
            self.unannotated.append(item_id)
            return
        label_counts = np.asarray(label_counts, np.int64)
        outside = np.flatnonzero(label_counts[:256] * ~self.label_set.known_ids)
        if len(label_counts) > 256 and label_counts[256:].any():
            outside = np.concatenate([outside, 256 + np.flatnonzero(label_counts[256:])])
        if len(outside):
            self.findings.append(f"{name}: label ids outside the label set: {', '.join(map(str, outside[:10]))}"
                                 + (" ..." if len(outside) > 10 else ""))
        label_counts = label_counts[:256]
        pixels = int(shape[0]) * int(shape[1])
        present = label_counts > 0
        table[PIXELS] += label_counts
        table[IMAGES] += present
        table[PRESENT_PIXELS] += present * pixels
        train = np.bincount(self.label_set.id_to_train_id, weights=label_counts, minlength=256).astype(np.int64)
        table[TRAIN_PIXELS] += train
        table[TRAIN_IMAGES] += train > 0
        table[TRAIN_PRESENT_PIXELS] += (train > 0) * pixels

        given_instances = instance_counts is not None
        if not given_instances:
            instance_counts = np.zeros(65536, np.int64)
            instance_counts[:256] = label_counts
        instance_counts = np.asarray(instance_counts, np.int64)
        values = np.flatnonzero(instance_counts)
        areas = instance_counts[values]
        is_instance = values >= INSTANCE_ID_START
        labels = np.where(is_instance, values // INSTANCE_ID_START, values)
        if labels.max(initial=0) > 255:
            self.findings.append(f"{name}: instance ids without a label id (above 255999): "
                                 f"{', '.join(map(str, values[labels > 255][:10]))}")
            keep = labels <= 255
            values, areas, is_instance, labels = values[keep], areas[keep], is_instance[keep], labels[keep]
        table[INSTANCES] += np.bincount(labels[is_instance], minlength=256)
        table[INSTANCE_PIXELS] += np.bincount(labels[is_instance], weights=areas[is_instance],
                                              minlength=256).astype(np.int64)
        train_of = self.label_set.id_to_train_id[labels[is_instance]]
        table[TRAIN_INSTANCES] += np.bincount(train_of[train_of != IGNORE_TRAIN_ID], minlength=256)
        regions = ~is_instance
        table[REGION_PIXELS, labels[regions]] += areas[regions]
        table[REGION_IMAGES, labels[regions]] += 1
        self.segments[split].append((labels.astype(np.int16), areas, is_instance))
        background = self.label_set.background.id
        if not (regions & (labels != background)).any():
            self.unannotated.append(item_id)
        if given_instances and self.label_set.has_instances[present].any() and not is_instance.any():
            found = [self.label_set.id2label[i].name for i in np.flatnonzero(self.label_set.has_instances & present)]
            self.findings.append(f"{name}: empty instance map, though classes with instances are labelled "
                                 f"({', '.join(found)})")

    def _add_polygons(self, table, annotation, name):
        for index, obj in enumerate(annotation.get("objects", ())):
            if obj.get("deleted"):
                continue
            try:
                label, _ = self.label_set.resolve(str(obj.get("label")))
            except AnnotationError:  # an unknown label is a finding here, not a failure of the frame
                self.findings.append(f"{name}: object {index}: label {obj.get('label')!r} is not in the label set")
                continue
            if label.id < 0:
                continue
            table[POLYGONS, label.id] += 1
            polygon = obj.get("polygon")
            table[VERTICES, label.id] += len(polygon) if isinstance(polygon, list) else 0

    def add_image_digest(self, digest: str, split: str, item_id: str) -> None:
        """Note a camera image's digest (Datumaro's repeated images: frames of equal digests).  A coarse
        digest (:func:`histogram_digest`) is refined later by :meth:`regroup_images`."""
        self.image_hashes[digest].append([item_id, split])

    def repeated_images(self) -> dict[str, list[list[str]]]:
        """``{digest: [[item id, split], ...]}`` of the digests noted for more than one frame."""
        return {digest: members for digest, members in self.image_hashes.items() if len(members) > 1}

    def regroup_images(self, digest: str, finer: list[str]) -> None:
        """Split the frames noted under ``digest`` by ``finer`` digests, one per frame in their order."""
        for member, new in zip(self.image_hashes.pop(digest), finer):
            self.image_hashes[new].append(member)

    def add_finding(self, finding: str) -> None:
        """Note a consistency finding (one line naming the file)."""
        self.findings.append(finding)

    # ---- result --------------------------------------------------------------------
    def result(self, train_ids: bool = False) -> dict[str, Any]:
        """The statistics as a JSON-ready dict (see docs/stats.md); ``train_ids``: classes, weights
        and the split tables by train id (the 19 Cityscapes classes and ``ignore``)."""
        total = sum(self.counts.values(), np.zeros((ROWS, 256), np.int64))
        splits = sorted({split for split, _ in self.counts})
        out: dict[str, Any] = {
            "label_set": self.label_set.name,
            "train_ids": train_ids,
            "images": self.images,
            "classes": self._classes(total, train_ids),
            "splits": {},
            "weights": class_weights.weights_table(*self._weight_inputs(total, train_ids)),
            "instance_sizes": {},
            "datumaro": self._datumaro(total, splits),
            "image_sizes": {f"{w}x{h}": len(names) for (w, h), names in sorted(self.sizes.items())},
            "findings": sorted(self.findings + self._size_findings()),
        }
        for split in splits:
            cities = sorted(city for s, city in self.counts if s == split)
            split_total = sum((self.counts[(split, c)] for c in cities), np.zeros((ROWS, 256), np.int64))
            entry = {"images": sum(self.frames[(split, c)] for c in cities),
                     "classes": self._class_counts(split_total, train_ids),
                     "cities": {c: {"images": self.frames[(split, c)],
                                    "classes": self._class_counts(self.counts[(split, c)], train_ids)}
                                for c in cities}}
            if split in self.rgb:
                entry["image_mean"], entry["image_std"] = mean_std(self.rgb[split])
            out["splits"][split] = entry
        out["instance_sizes"] = self._instance_sizes(train_ids)
        return out

    def class_names(self, train_ids=False):
        """``[(index, name)]`` of the classes the result lists: label ids of the set (>= 0), or train ids
        (0..254 in use) and ``ignore`` (255)."""
        if train_ids:
            seen = {}
            for label in self.label_set.labels:
                if 0 <= label.trainId < IGNORE_TRAIN_ID and label.trainId not in seen and label.id >= 0:
                    seen[label.trainId] = label.name
            return sorted(seen.items()) + [(IGNORE_TRAIN_ID, "ignore")]
        return [(i, self.label_set.id2label[i].name) for i in self.label_set.eval_ids]

    def _class_counts(self, table, train_ids):
        pixel_row, image_row, instance_row = (TRAIN_PIXELS, TRAIN_IMAGES, TRAIN_INSTANCES) if train_ids else (
            PIXELS, IMAGES, INSTANCES)
        return {name: {"pixels": int(table[pixel_row, i]), "images": int(table[image_row, i]),
                       "instances": int(table[instance_row, i])} for i, name in self.class_names(train_ids)}

    def _classes(self, total, train_ids):
        all_pixels = int(total[PIXELS].sum())
        classes = {}
        for i, name in self.class_names(train_ids):
            if train_ids:
                ids = [label.id for label in self.label_set.labels
                       if label.id >= 0 and self.label_set.id_to_train_id[label.id] == i]
                entry = {"train_id": i, "label_ids": ids, "pixels": int(total[TRAIN_PIXELS, i]),
                         "images": int(total[TRAIN_IMAGES, i]), "instances": int(total[TRAIN_INSTANCES, i])}
            else:
                ids = [i]
                entry = {"id": i, "train_id": int(self.label_set.id_to_train_id[i]),
                         "pixels": int(total[PIXELS, i]), "images": int(total[IMAGES, i]),
                         "instances": int(total[INSTANCES, i])}
            entry["pixel_ratio"] = entry["pixels"] / all_pixels if all_pixels else 0.0
            entry["crowd_pixels"] = int(sum(total[REGION_PIXELS, j] for j in ids if self.label_set.has_instances[j]))
            entry["instance_pixels"] = int(sum(total[INSTANCE_PIXELS, j] for j in ids))
            entry["polygons"] = int(sum(total[POLYGONS, j] for j in ids))
            entry["vertices"] = int(sum(total[VERTICES, j] for j in ids))
            classes[name] = entry
        return classes

    def _weight_inputs(self, total, train_ids):
        """Class names, pixels and the pixels of the images holding each class, for the weights: the
        classes a model is trained on (train ids 0..254, or label ids of labels with one)."""
        if train_ids:
            named = self.class_names(True)[:-1]
            rows = TRAIN_PIXELS, TRAIN_PRESENT_PIXELS
        else:
            named = [(i, n) for i, n in self.class_names(False)
                     if self.label_set.id_to_train_id[i] != IGNORE_TRAIN_ID]
            rows = PIXELS, PRESENT_PIXELS
        index = [i for i, _ in named]
        return [n for _, n in named], index, total[rows[0], index], total[rows[1], index]

    def _instance_sizes(self, train_ids):
        """Per class with instances: count and size distribution of the single instances, all splits."""
        labels, areas = self._segments(instances=True)
        out = {}
        for i, name in self.class_names(train_ids):
            if train_ids:
                sizes = areas[self.label_set.id_to_train_id[labels] == i] if i != IGNORE_TRAIN_ID else areas[:0]
            else:
                sizes = areas[labels == i]
            if len(sizes):
                out[name] = size_summary(sizes)
        return out

    def _segments(self, instances=None, split=None):
        """Concatenated (labels, areas) of segments: instances only (True), regions only (False), or all."""
        parts = [p for s, frames in self.segments.items() if split in (None, s) for p in frames]
        if not parts:
            return np.zeros(0, np.int64), np.zeros(0, np.int64)
        labels = np.concatenate([p[0] for p in parts]).astype(np.int64)
        areas = np.concatenate([p[1] for p in parts])
        if instances is not None:
            kind = np.concatenate([p[2] for p in parts])
            keep = kind if instances else ~kind
            labels, areas = labels[keep], areas[keep]
        return labels, areas

    def _size_findings(self):
        if len(self.sizes) < 2:
            return []
        usual = max(self.sizes, key=lambda size: len(self.sizes[size]))
        return [f"{name}: unusual image size {w}x{h} (most frames are {usual[0]}x{usual[1]})"
                for (w, h), names in self.sizes.items() if (w, h) != usual for name in names]

    def _datumaro(self, total, splits):
        """The quantities of ``datum stats`` (Datumaro 1.13) on this tree, by its definitions: a mask
        is a class-level region of the instance map (label ids 1..; instances and 'unlabeled' are no
        masks), its area the region's pixels."""
        labels, areas = self._segments(instances=False)
        keep = labels != self.label_set.background.id
        labels, areas = labels[keep], areas[keep]
        names = {label.id: name_key(label.name) for label in reversed(self.label_set.labels) if label.id >= 0}
        never_drawn = [name_key(label.name) for label in self.label_set.labels if label.id < 0]
        mask_count = int(len(areas))
        total_pixels = int(areas.sum())
        per_label_masks = np.bincount(labels, minlength=256)
        per_label_pixels = np.bincount(labels, weights=areas, minlength=256).astype(np.int64)
        distribution = {n: [int(per_label_masks[i]), int(per_label_masks[i]) / (mask_count or 1)]
                        for i, n in sorted(names.items())} | {n: [0, 0.0] for n in never_drawn}
        pixels = {n: [int(per_label_pixels[i]), int(per_label_pixels[i]) / (total_pixels or 1)]
                  for i, n in sorted(names.items())} | {n: [0, 0.0] for n in never_drawn}
        histogram = []
        if mask_count:
            counts, edges = np.histogram(areas, bins=HISTOGRAM_BINS)
            histogram = [{"min": float(lo), "max": float(hi), "count": int(c), "percent": int(c) / mask_count}
                         for c, lo, hi in zip(counts, edges[:-1], edges[1:])]
        unique = len(self.image_hashes)
        repeated = sorted(sorted(v) for v in self.image_hashes.values() if len(v) > 1)
        subsets = {}
        for split in splits:
            images = sum(n for (s, _), n in self.frames.items() if s == split)
            entry = {"images count": images}
            if split in self.rgb:
                entry["image mean (RGB)"], entry["image std (RGB)"] = mean_std(self.rgb[split])
            subsets[split] = entry
        return {
            "dataset": {"images count": self.images, "unique images count": unique if self.image_hashes else None,
                        "repeated images count": len(repeated), "repeated images": repeated},
            "subsets": subsets,
            "images count": self.images,
            "annotations count": mask_count,
            "unannotated images count": len(self.unannotated),
            "unannotated images": sorted(self.unannotated),
            "annotations by type": {"mask": {"count": mask_count}},
            "annotations": {
                "labels": {"count": mask_count, "distribution": distribution},
                "segments": {"avg. area": total_pixels / (mask_count or 1.0), "area distribution": histogram,
                             "pixel distribution": pixels},
            },
        }


# ---- small helpers on arrays ---------------------------------------------------------
def rgb_histogram(image: np.ndarray) -> np.ndarray:
    """(3, 256) int64: how many pixels of an (H, W, 3) uint8 image hold each value, per channel.

    >>> rgb_histogram(np.array([[[1, 2, 3], [1, 5, 6]]], np.uint8))[:, :7].tolist()
    [[0, 2, 0, 0, 0, 0, 0], [0, 0, 1, 0, 0, 1, 0], [0, 0, 0, 1, 0, 0, 1]]
    """
    image = np.asarray(image)
    if image.ndim != 3 or image.shape[2] != 3 or image.dtype != np.uint8:
        raise ValueError(f"expected an (H, W, 3) uint8 image, got {image.shape} {image.dtype}")
    return kernels.channel_value_counts(image)


def histogram_digest(histogram: np.ndarray, shape: tuple[int, int]) -> str:
    """A digest of an image's size and (3, 256) value histogram: equal images have equal ones, and
    different images rarely do, so only the frames that share one need their pixels compared."""
    import hashlib
    key = np.concatenate([np.asarray(shape, np.int64), np.asarray(histogram, np.int64).ravel()])
    return "histogram " + hashlib.sha1(key.tobytes(), usedforsecurity=False).hexdigest()


def image_digest(image: np.ndarray) -> str:
    """A digest of an image's pixels: equal images, equal digests (Datumaro compares MD5s of pixels)."""
    import hashlib
    return hashlib.sha1(np.ascontiguousarray(image), usedforsecurity=False).hexdigest()  # the fastest here


def mean_std(histogram: np.ndarray) -> tuple[list[float], list[float]]:
    """Per-channel mean and sample standard deviation (ddof 1, as Datumaro) of all the pixels a (3, 256)
    value histogram counts; exact sums in integers, so neither depends on the order frames came in."""
    values = np.arange(256, dtype=np.int64)
    means, stds = [], []
    for channel in histogram:
        n = int(channel.sum())
        total = int(channel @ values)
        squares = int(channel @ (values * values))
        means.append(total / n if n else 0.0)
        # n * sum(x^2) - sum(x)^2 in Python integers: no cancellation
        stds.append(((n * squares - total * total) / (n * (n - 1))) ** 0.5 if n > 1 else 0.0)
    return means, stds


def size_summary(sizes: np.ndarray) -> dict[str, Any]:
    """Count, mean, quartiles, a 10-bin histogram (numpy's bins) and one of power-of-two bins
    (``log_histogram``, for sizes spanning orders of magnitude) of instance sizes in pixels."""
    sizes = np.asarray(sizes, np.int64)
    counts, edges = np.histogram(sizes, bins=HISTOGRAM_BINS)
    powers = 2 ** np.arange(int(np.log2(sizes.min())), int(np.log2(sizes.max())) + 2)
    log_counts, _ = np.histogram(sizes, bins=powers)
    q1, median, q3 = np.percentile(sizes, [25, 50, 75])
    return {"count": int(len(sizes)), "mean": float(sizes.mean()), "min": int(sizes.min()), "q1": float(q1),
            "median": float(median), "q3": float(q3), "max": int(sizes.max()),
            "histogram": {"edges": [float(e) for e in edges], "counts": [int(c) for c in counts]},
            "log_histogram": {"edges": [int(e) for e in powers], "counts": [int(c) for c in log_counts]}}
