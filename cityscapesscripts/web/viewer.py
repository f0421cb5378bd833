"""csViewer's server side: the frames of a dataset and every overlay, drawn by the engines.

An overlay ("layer") reaches the browser as an *index map* and a table: raw
uint8 (uint32 beyond 256 entries) pixels, deflated on the wire, whose value
``k`` picks entry ``k`` of ``colors`` (RGBA) and ``names`` (what hovering
shows).  The browser colours the map by one table lookup per pixel and keeps
it to answer hovering.  So polygons are drawn once, by the
rasterizer that makes the ground truth (Pillow's coverage, in file order), and
never again by the browser's anti-aliased canvas; changing the transparency
or hovering costs no request.  Boxes travel as coordinates.

The choice is measured (``benchmarks/viewer.py``, ``benchmarks/VIEWER.md``):
for a 2048x1024 frame, sending the index map costs the server less than
encoding a coloured RGBA overlay, the browser colours it about as fast as it
decodes such a PNG, and opacity changes and hovering need no request.  The
camera image comes first as a JPEG at the canvas's size on screen
(``/api/camera``, a fraction of the PNG's bytes and decoding time), then, when
one stays on the image, as the PNG itself (``/api/file``).

Layers (those a frame has files for are offered):

==============  ==========================================================
gtFine          labels drawn from ``*_gtFine_polygons.json`` (or from
                ``*_labelIds.png`` with ``source=png`` or without polygons)
gtCoarse        the same for ``gtCoarse``
instances       gtFine instances, one colour each (polygons or ``*_instanceIds.png``)
citypersons     ``gtBboxCityPersons`` boxes (full box, visible part)
bbox3d          ``gtBbox3d`` boxes projected through the frame's camera
                (``Box3dImageTransform``), and the ignore regions
bbox3d-modal    the 2D boxes of ``gtBbox3d``'s objects: their visible part
bbox3d-amodal   ... their full extent (both views with the ignore regions)
disparity       ``disparity/*_disparity.png`` in the original viewer's colour map
pred            the semantic prediction of ``--pred`` (label ids, or train ids)
pred-instances  instance predictions (txt + masks), highest score on top
pred-panoptic   panoptic predictions (COCO panoptic JSON + PNGs)
errors          where the semantic prediction and the ground truth disagree;
                ground truth ignored in evaluation is grey
==============  ==========================================================
"""
import collections
import functools
import glob
import math
import os
import pickle
import threading
import uuid

import numpy as np
from PIL import Image

from .. import kernels, parallel
from ..dataset.cityscapes import Frame
from ..errors import AnnotationError, ItemError, LayoutError, PredictionError
from ..evaluation import instance_ap, panoptic_files, semantic_files
from ..evaluation import semantic as semantic_eval
from ..evaluation.instance_files import read_mask, read_prediction_list
from ..helpers import box3dImageTransform
from ..helpers.annotation import Annotation, CsObjectType
from ..helpers.labels_cityPersons import name2labelCp
from ..helpers.labelset import LabelSet
from ..io import files, layout, png
from ..io.jsonfile import read_json
from ..preparation import rasterize
from . import server

LAYERS = {
    "gtFine": "gtFine labels",
    "gtCoarse": "gtCoarse labels",
    "instances": "gtFine instances",
    "citypersons": "CityPersons boxes",
    "bbox3d": "3D boxes",
    "bbox3d-modal": "3D boxes: modal 2D boxes",
    "bbox3d-amodal": "3D boxes: amodal 2D boxes",
    "disparity": "disparity",
    "pred": "prediction",
    "pred-instances": "predicted instances",
    "pred-panoptic": "predicted panoptic",
    "errors": "errors",
}
# The original viewer's disparity colours: matplotlib's plasma over disparity/128 in 3..100
# (produced by cityscapesscripts 2.3.0 with matplotlib 3.x); values below 3 take the
# first colour, above 100 the last.
_DISPARITY_PLASMA = (
    "0c07861306891b068c1f058e2505912b05942f04953404983a049a3d039b42039d47029f4a02a04f02a25201a35701a4"
    "5c00a55f00a66400a76800a76c00a87000a87500a87801a87c02a77f03a78405a68807a58b09a48f0da39310a19612a0"
    "9a159e9e199ca01b9ba41e98a82296aa2494ae2791b02a8fb42d8db7308ab93388bc3685bf3982c13c80c43f7ec7427b"
    "c94579cc4876ce4a75d14e72d3516fd5536dd7576bda5a68dc5d66de6064e06461e26660e46a5de56c5be87059ea7356"
    "eb7654ed7952ef7d4ff0804df2844bf38748f48a47f68e44f79241f89540f9993dfa9c3bfaa039fba436fca735fcac32"
    "fdb030fdb32efdb82cfdbc2afdc029fdc427fcc726fccc25fbd124fad524f9d924f8df24f7e225f5e726f3ec26f2f026"
    "f0f525eff821")
DISPARITY_COLORS = np.frombuffer(bytes.fromhex(_DISPARITY_PLASMA), dtype=np.uint8).reshape(-1, 3)
TRANSPARENT = (0, 0, 0, 0)
ERROR_COLOR = (255, 0, 0, 255)
IGNORED_COLOR = (128, 128, 128, 255)
MAX_PREVIEW_SCALE = 8
THUMBNAIL_WIDTH = 256
OBJECT_IOU = 0.5  # the overlap at which the object list calls a prediction a match (AP50's)
THUMBNAIL_CACHE_SIZE = 2000  # ~100 KB each: a whole split of Cityscapes' val
BOX_FILL_ALPHA = 60 / 255  # the original viewer fills 3D boxes' sides and 2D boxes at alpha 60
# the scoring workers yield the cores to the server (thumbnails, images, layers: what the user waits for)
SCORING_NICENESS = 10


def distinct_color(k):
    """A bright colour for instance ``k``, far from its neighbours' (golden-ratio hues)."""
    hue = (k * 0.618033988749895) % 1.0
    i, f = int(hue * 6), hue * 6 % 1
    v, p, q, t = 255, 40, int(255 * (1 - 0.85 * f)), int(255 * (0.15 + 0.85 * f))
    return [(v, t, p), (q, v, p), (p, v, t), (p, q, v), (t, p, v), (v, p, q)][i % 6] + (255,)


def raster_layer(index, colors, names, **extra):
    """A layer of an index map ((H, W) ints in ``0..len(colors) - 1``) and its table.

    ``extra`` adds fields, e.g. ``labels``: the label name of each entry ("" for none), which the
    page's legend shows and hides by.

    The index travels as uint8 when the table has at most 256 entries, else
    as uint32 (see :func:`server.binary_response`).
    """
    index = np.asarray(index)
    index = index.astype(np.uint8 if len(colors) <= 256 else np.uint32, copy=False)
    return dict({"kind": "raster", "width": int(index.shape[1]), "height": int(index.shape[0]), "index": index,
                 "colors": [list(map(int, c)) for c in colors], "names": list(names)}, **extra)


def compact(values):
    """``(index, present)``: the distinct values of an integer map, and each pixel's position among them."""
    values = np.asarray(values)
    if values.dtype in (np.uint8, np.uint16) and values.ndim == 2:  # compiled: no intp copies of the map
        values = values.astype(np.uint16, copy=False)
        counts = np.zeros(1 << 16, dtype=np.int64)
        kernels.mask_histogram(np.ones(values.shape, dtype=np.uint8), values, counts)
        present = np.flatnonzero(counts)
        positions = np.zeros(1 << 16, dtype=np.uint8 if len(present) <= 256 else np.uint16)
        positions[present] = np.arange(len(present))
        return kernels.lookup(values, positions), present
    if values.dtype.kind in "ui" and values.size and 0 <= values.min() and values.max() < 1 << 17:
        present = np.flatnonzero(np.bincount(values.ravel()))
        lookup = np.zeros(int(present[-1]) + 1, dtype=np.int32)
        lookup[present] = np.arange(len(present), dtype=np.int32)
        return lookup[values], present
    present, inverse = np.unique(values, return_inverse=True)
    return inverse.reshape(values.shape), present


class ViewerFrame:
    """One camera image of the dataset: ``key`` is ``split/city/frame``."""

    def __init__(self, root, image, label_set):
        parsed = layout.parse_name(image)
        self.id = layout.frame_id(image)
        self.city = parsed.city
        self.split = os.path.basename(os.path.dirname(os.path.dirname(image)))
        self.key = f"{self.split}/{self.city}/{self.id}"
        self.image = os.path.relpath(image, root)
        self.root = root
        self.label_set = label_set

    def file(self, kind, modality=None, ext="png"):
        """The path of a file of this frame, or None when it does not exist or is a symbolic link leading
        out of the dataset (the rule of every tool: a linked ``{type}/`` or split folder is part of it)."""
        path = layout.frame_file(self.root, kind, self.split, self.city, self.id, modality, ext)
        inside = files.real_location(path, self.root, files.DATASET_LINKED_LEVELS)[1]
        return path if inside and os.path.isfile(path) else None

    def ground_truth(self, kind=layout.FINE):
        """The dataset's :class:`Frame` of annotation type ``kind`` (its lazy loaders)."""
        paths = {m: self.file(kind, m, layout.GT_EXTENSIONS.get(m, "png")) for m in layout.GT_MODALITIES}
        return Frame(self.id, self.split, self.city, {m: p for m, p in paths.items() if p},
                     self.label_set, kind)

    def describe(self):
        return {"key": self.key, "split": self.split, "city": self.city, "id": self.id, "image": self.image}


def discover(root, label_set):
    """Every ``leftImg8bit/{split}/{city}/*_leftImg8bit.png``, sorted by split, city and name."""
    images = sorted(glob.glob(layout.camera_search(root)))
    frames = []
    for image in images:
        try:
            frames.append(ViewerFrame(root, image, label_set))
        except LayoutError:
            continue
    if not frames:
        raise LayoutError(f"no camera images found; expected {os.path.relpath(layout.camera_search(root), root)}", root)
    return frames


class Predictions:
    """The prediction files of ``--pred DIR`` by frame id, found by walking it once.

    Semantic PNGs ``{frame}*.png``, instance lists ``{frame}*.txt`` (their
    masks are not semantic PNGs) and COCO panoptic JSON files (with their PNG
    folder, the JSON's name without ``.json``) anywhere below ``DIR``.
    """

    def __init__(self, folder, frame_ids):
        self.folder = folder
        self.panoptic = {}
        panoptic_folders = set()
        files = collections.defaultdict(list)
        for dirpath, names in layout.index_folder(folder):
            for name in names:
                path = os.path.join(dirpath, name)
                prefix = layout.frame_prefix(name)
                if prefix in frame_ids and name.endswith((".png", ".txt")):
                    files[prefix].append(path)
                elif name.endswith(".json"):
                    self._add_panoptic(path, frame_ids, panoptic_folders)
        self.files = {k: [p for p in v if os.path.dirname(p) not in panoptic_folders] for k, v in files.items()}
        self._semantic = {}

    def _add_panoptic(self, path, frame_ids, panoptic_folders):
        try:
            data = read_json(path, PredictionError)
        except PredictionError:
            return
        if not (isinstance(data, dict) and isinstance(data.get("annotations"), list) and "categories" in data):
            return
        folder = layout.panoptic_png_folder(path)
        panoptic_folders.add(folder)
        categories = {c["id"]: c for c in data["categories"]}
        for annotation in data["annotations"]:
            if annotation.get("image_id") in frame_ids:
                png_path = os.path.join(folder, annotation["file_name"])
                self.panoptic[annotation["image_id"]] = (png_path, annotation["segments_info"], categories)

    def instance_list(self, frame_id):
        found = [p for p in self.files.get(frame_id, []) if p.endswith(".txt")]
        return found[0] if found else None

    def instances(self, frame_id):
        """The frame's predicted instances, lowest confidence first."""
        txt = self.instance_list(frame_id)
        if txt is None:
            return []
        return sorted(read_prediction_list(txt, self.folder), key=lambda p: p.confidence)

    def semantic(self, frame_id):
        """The frame's semantic PNG: the one ``{frame}*.png`` no instance list names as a mask."""
        if frame_id not in self._semantic:
            self._semantic[frame_id] = self._find_semantic(frame_id)
        return self._semantic[frame_id]

    def _find_semantic(self, frame_id):
        txt = self.instance_list(frame_id)
        masks = {p.mask for p in read_prediction_list(txt, self.folder)} if txt else set()
        found = [p for p in self.files.get(frame_id, []) if p.endswith(".png") and os.path.abspath(p) not in masks]
        if len(found) > 1:
            raise PredictionError(f"found {len(found)} semantic predictions for frame {frame_id}: "
                                  + ", ".join(os.path.basename(p) for p in found[:3]), self.folder)
        return found[0] if found else None


class Viewer:
    """The frames, layers and per-image scores of one dataset root and prediction folder."""

    def __init__(self, root, pred=None, train_ids=False, label_set=None, cache_size=32, jobs=None):
        self.root = os.path.realpath(root)
        self.label_set = label_set or LabelSet.for_dataset(self.root)
        self.frames = discover(self.root, self.label_set)
        self.by_key = {f.key: f for f in self.frames}
        self.pred = os.path.realpath(pred) if pred else None
        if self.pred and not os.path.isdir(self.pred):
            raise LayoutError("prediction folder does not exist", pred)
        self.predictions = Predictions(self.pred, {f.id for f in self.frames}) if self.pred else None
        self.train_ids = train_ids
        self._cache = collections.OrderedDict()  # recent layers
        self._cache_size = cache_size
        self._thumbnails = collections.OrderedDict()
        self._summaries = {}
        self._summarizing = None  # the thread computing every frame's summary, once asked
        self.jobs = jobs
        self._lock = threading.Lock()
        self._panoptic_gt = {}
        self._token = uuid.uuid4().hex  # names this viewer in the worker processes (_worker_viewer)
        self._pickled = None

    def frame(self, key):
        try:
            return self.by_key[key]
        except KeyError:
            raise server.HttpError(404, f"no frame {key!r}") from None

    # ---- what a frame has -------------------------------------------------------------
    def sources(self, frame):
        """``{layer: path}`` of the file each available layer of ``frame`` is drawn from."""
        gt = {kind: frame.file(kind, "polygons", "json") or frame.file(kind, "labelIds")
              for kind in layout.ANNOTATION_TYPES}
        found = {"gtFine": gt[layout.FINE], "gtCoarse": gt[layout.COARSE],
                 "instances": frame.file(layout.FINE, "polygons", "json") or frame.file(layout.FINE, "instanceIds"),
                 "citypersons": frame.file(layout.CITYPERSONS, ext="json"),
                 "bbox3d": frame.file(layout.BOX3D, ext="json"),
                 "bbox3d-modal": frame.file(layout.BOX3D, ext="json"),
                 "bbox3d-amodal": frame.file(layout.BOX3D, ext="json"),
                 "disparity": frame.file(layout.DISPARITY)}
        if self.predictions:
            semantic = self.predictions.semantic(frame.id)
            found["pred"] = semantic
            found["pred-instances"] = self.predictions.instance_list(frame.id)
            found["pred-panoptic"] = self.predictions.panoptic.get(frame.id, (None,))[0]
            found["errors"] = semantic if semantic and gt[layout.FINE] else None
        return {name: path for name, path in found.items() if path}

    def describe(self, frame):
        """The frame, its layers (with their files, relative to the root or the prediction folder)."""
        def shown(path):
            for base, prefix in ((self.root, ""), (self.pred, "--pred/")):
                if base and os.path.commonpath([path, base]) == base:
                    return prefix + os.path.relpath(path, base)
            return path
        try:
            sources = self.sources(frame)
            problem = None
        except PredictionError as e:
            sources, problem = {}, str(e)
        return dict(frame.describe(), layers={name: shown(path) for name, path in sources.items()},
                    problem=problem)

    # ---- layers -----------------------------------------------------------------------
    def layer(self, frame, name, source="polygons"):
        """The payload of layer ``name`` of ``frame`` (cached: prefetching and showing share it)."""
        key = (frame.key, name, source)
        with self._lock:
            if key in self._cache:
                self._cache.move_to_end(key)
                return self._cache[key]
        payload = self._draw(frame, name, source)
        with self._lock:
            self._cache[key] = payload
            while len(self._cache) > self._cache_size:
                self._cache.popitem(last=False)
        return payload

    def _draw(self, frame, name, source):
        if name not in LAYERS:
            raise server.HttpError(404, f"no layer {name!r}; layers: {', '.join(LAYERS)}")
        path = self.sources(frame).get(name)
        if path is None:
            raise server.HttpError(404, f"frame {frame.id} has no {LAYERS[name]}")
        if name in ("gtFine", "gtCoarse", "instances"):
            instances = name == "instances"
            kind = layout.COARSE if name == "gtCoarse" else layout.FINE  # the layer's annotation folder
            if path.endswith(".json") and source != "png":
                return self._polygon_layer(path, instances)
            if instances:
                ids = frame.file(layout.FINE, "instanceIds")
                if ids is None:
                    raise server.HttpError(404, f"frame {frame.id} has no gtFine instanceIds PNG")
                return self._instance_ids_layer(png.read_ids_16bit(ids), ids)
            ids = frame.file(kind, "labelIds")
            if ids is None:
                raise server.HttpError(404, f"frame {frame.id} has no {kind} labelIds PNG")
            return self._label_ids_layer(png.read_label_map(ids), ids)
        if name == "citypersons":
            return self._citypersons_layer(path)
        if name.startswith("bbox3d"):
            return self._boxes3d_layer(path, name.partition("-")[2] or "3d")
        if name == "disparity":
            return self._disparity_layer(path)
        if name == "pred":
            return self._label_ids_layer(self._predicted_ids(path), path)
        if name == "pred-instances":
            return self._predicted_instances_layer(frame)
        if name == "pred-panoptic":
            return self._panoptic_layer(*self.predictions.panoptic[frame.id])
        return self._errors_layer(frame, path)

    def _polygon_layer(self, path, instances):
        object_map = rasterize.rasterize_file(path, self.label_set)  # without the annotation model: twice as fast
        ids = rasterize.object_values(object_map, "instanceIds")
        labels = [self.label_set.background] + object_map.labels
        groups = [False] + object_map.groups
        names, colors = [], []
        for k, (label, group, value) in enumerate(zip(labels, groups, ids.tolist())):
            names.append(label.name + ("group" if group else "") + (f" {value}" if value >= 1000 else ""))
            if not instances:
                colors.append(tuple(label.color) + (255,))
            elif value >= 1000:
                colors.append(distinct_color(k))
            else:  # groups in their label colour; stuff stays transparent
                colors.append(tuple(label.color) + (255,) if group else TRANSPARENT)
        return raster_layer(object_map.index, colors, names, labels=[label.name for label in labels], source=path)

    def _label_ids_layer(self, ids, path):
        by_id = self.label_set.id2label
        names = [by_id[i].name if i in by_id else f"unknown id {i}" for i in range(256)]
        colors = [tuple(c) + (255,) for c in self.label_set.id_to_color.tolist()]
        return raster_layer(ids, colors, names, labels=[by_id[i].name if i in by_id else "" for i in range(256)],
                            source=path)

    def _instance_ids_layer(self, ids, path):
        index, present = compact(ids)
        by_id = self.label_set.id2label
        names, colors, labels = [], [], []
        for k, value in enumerate(present.tolist()):
            label = by_id.get(value // 1000 if value >= 1000 else value)
            name = label.name if label else f"unknown id {value}"
            labels.append(label.name if label else "")
            names.append(f"{name} {value}" if value >= 1000 else name)
            colors.append(distinct_color(k) if value >= 1000 else
                          (tuple(label.color) + (255,) if label and label.hasInstances else TRANSPARENT))
        return raster_layer(index, colors, names, labels=labels, source=path)

    def _citypersons_layer(self, path):
        annotation = Annotation(CsObjectType.BBOX2D)
        annotation.fromJsonFile(path)
        boxes = []
        for obj in annotation.objects:
            label = name2labelCp.get(obj.label)
            boxes.append({"name": obj.label if label else f"unknown label {obj.label}",
                          "color": list(label.color) if label else [255, 255, 255],
                          "box": obj.bbox_amodal_xywh, "visible": obj.bbox_modal_xywh,
                          "instance": bool(label and label.hasInstances)})
        return {"kind": "boxes", "width": annotation.imgWidth, "height": annotation.imgHeight,
                "boxes": boxes, "source": path}

    def _boxes3d_layer(self, path, view):
        """The objects of a ``gtBbox3d`` JSON as the original's three views show them.

        ``view`` "3d": each box's sides projected through the frame's camera; "modal" / "amodal": its
        2D box (visible part / full extent), outlined and filled faintly (``fill``: the opacity).
        Ignore regions are in every view.
        """
        annotation = Annotation(CsObjectType.BBOX3D)
        annotation.fromJsonFile(path)
        c = annotation.camera
        if view == "3d":
            if c is None:
                raise AnnotationError("no camera ('sensor') to project the 3D boxes with", path)
            camera = box3dImageTransform.Camera(c.fx, c.fy, c.u0, c.v0, c.sensor_T_ISO_8855,
                                                annotation.imgWidth, annotation.imgHeight)
        boxes = []
        for obj in annotation.objects:
            label = self.label_set.name2label.get(obj.label)
            color = list(label.color) if label else [255, 255, 255]
            if obj.objectType != CsObjectType.BBOX3D:  # an ignore region
                boxes.append({"name": f"{obj.label} (ignore region)", "color": color, "box": obj.bbox_xywh,
                              "visible": obj.bbox_xywh, "instance": False})
                continue
            name = f"{obj.label} {obj.instanceId}" if obj.instanceId >= 0 else obj.label
            if view != "3d":
                xywh = obj.bbox_2d.bbox_modal_xywh if view == "modal" else obj.bbox_2d.bbox_amodal_xywh
                boxes.append({"name": name, "color": color, "box": xywh, "fill": BOX_FILL_ALPHA, "instance": True})
                continue
            box = box3dImageTransform.Box3dImageTransform(camera)
            box.initialize_box_from_annotation(obj)
            faces = [{"points": np.asarray(side, dtype=float).tolist(), "visible": visible}
                     for side, visible in zip(box.get_all_side_polygons_2d(), box.get_all_side_visibilities())]
            boxes.append({"name": name, "color": color, "box": obj.bbox_2d.bbox_amodal_xywh,
                          "visible": obj.bbox_2d.bbox_modal_xywh, "instance": True, "faces": faces,
                          "fill": BOX_FILL_ALPHA,
                          "arrow": np.asarray(box.bottom_arrow_2d, dtype=float).tolist()})
        return {"kind": "boxes", "width": annotation.imgWidth, "height": annotation.imgHeight,
                "boxes": boxes, "source": path}

    def _disparity_layer(self, path):
        disparity = png.read_label_map(path).astype(np.int64)
        # the original viewer shows disparity / 128 (truncated) through its colour map; 0 is invalid
        level = np.minimum(disparity >> 7, 255)
        table = DISPARITY_COLORS[np.clip(np.arange(256) - 3, 0, len(DISPARITY_COLORS) - 1)]
        colors = [TRANSPARENT] + [tuple(c) + (255,) for c in table[1:].tolist()]
        names = ["no disparity"] + [f"disparity {q * 0.5:.1f} to {q * 0.5 + 0.5:.1f} px" for q in range(1, 256)]
        level[disparity == 0] = 0
        return raster_layer(level, colors, names, source=path)

    def _predicted_ids(self, path):
        prediction = png.read_label_map(path)
        if prediction.dtype != np.uint8:
            raise PredictionError(f"expected an 8-bit label map, got {prediction.dtype}", path)
        return self.label_set.train_id_to_id[prediction] if self.train_ids else prediction

    def _predicted_instances_layer(self, frame):
        predictions = self.predictions.instances(frame.id)
        index = None
        names, colors, labels = [""], [TRANSPARENT], [""]
        for k, prediction in enumerate(predictions, 1):
            mask = read_mask(prediction.mask) != 0
            if index is None:
                index = np.zeros(mask.shape, dtype=np.int32)
            index[mask] = k
            label = self.label_set.id2label.get(prediction.label_id)
            labels.append(label.name if label else "")
            names.append(f"{label.name if label else prediction.label_id} {prediction.confidence:.3f}")
            colors.append(distinct_color(k))
        if index is None:
            image = png.open_image(os.path.join(self.root, frame.image))
            index = np.zeros((image.height, image.width), dtype=np.int32)
        return raster_layer(index, colors, names, labels=labels, source=self.predictions.instance_list(frame.id))

    def _panoptic_layer(self, path, segments, categories):
        ids = png.read_rgb(path).astype(np.int64)
        ids = ids[..., 0] + 256 * ids[..., 1] + 65536 * ids[..., 2]
        index, present = compact(ids)
        by_id = {s["id"]: s for s in segments}
        names, colors, labels = [], [], []
        for k, value in enumerate(present.tolist()):
            segment = by_id.get(value)
            category = categories.get(segment["category_id"]) if segment else None
            labels.append(category["name"] if category else "")
            if category is None:
                names.append("void" if value == 0 else f"segment {value} (not in the JSON)")
                colors.append(TRANSPARENT)
                continue
            names.append(f"{category['name']} (segment {value})")
            colors.append(distinct_color(k) if category.get("isthing") else tuple(category["color"]) + (255,))
        return raster_layer(index, colors, names, labels=labels, source=path)

    def _errors_layer(self, frame, path):
        truth = frame.ground_truth().semantic()
        prediction = self._predicted_ids(path)
        if truth.shape != prediction.shape:
            raise PredictionError(f"prediction is {prediction.shape[1]}x{prediction.shape[0]}, "
                                  f"ground truth {truth.shape[1]}x{truth.shape[0]}", path)
        index, present = compact((truth.astype(np.uint16) << 8) | prediction)
        by_id = self.label_set.id2label

        def name(i):
            return by_id[i].name if i in by_id else f"id {i}"
        names, colors, labels, pairs = [], [], [], []
        for pair in present.tolist():
            t, p = pair >> 8, pair & 255
            pairs.append([t, p])
            labels.append(by_id[t].name if t in by_id else "")
            if t not in by_id or by_id[t].ignoreInEval:
                names.append(f"ignored: truth {name(t)}, predicted {name(p)}")
                colors.append(IGNORED_COLOR)
            elif t != p:
                names.append(f"wrong: truth {name(t)}, predicted {name(p)}")
                colors.append(ERROR_COLOR)
            else:
                names.append(f"correct: {name(t)}")
                colors.append(TRANSPARENT)
        # pairs: each entry's (ground truth, prediction) label ids, by which the confusion matrix highlights
        return raster_layer(index, colors, names, labels=labels, pairs=pairs, source=path)

    def thumbnail(self, frame):
        """The camera image about ``THUMBNAIL_WIDTH`` pixels wide (Pillow image; the last ones kept)."""
        with self._lock:
            if frame.key in self._thumbnails:
                return self._thumbnails[frame.key]
        image = Image.fromarray(png.read_rgb(server.resolve_inside(self.root, frame.image)))
        image = image.reduce(max(1, round(image.width / THUMBNAIL_WIDTH)))
        with self._lock:
            self._thumbnails[frame.key] = image
            while len(self._thumbnails) > THUMBNAIL_CACHE_SIZE:
                self._thumbnails.popitem(last=False)
        return image

    # ---- scores -----------------------------------------------------------------------
    def scores(self, frame):
        """Per-image scores of the predictions of ``frame``: mIoU, AP and PQ as available (None: undefined)."""
        return self.summary(frame)["scores"]

    def summary(self, frame):
        """What the grid and the side panel show of ``frame`` (computed once, then cached).

        ``scores`` as :meth:`scores`; ``classes``: the names of the labels its
        ground truth has; ``classIoU``: ``{label name: IoU}`` of the labels the
        semantic evaluation scores on this image (in the ground truth or the
        prediction); ``confusion``: its confusion counts among those labels
        (:func:`image_confusion`).  Every number comes from the evaluators'
        accumulators, as the command-line evaluators compute it for a one-image
        list, and from the files as they count them (each PNG unfiltered and
        counted in one pass, never decoded whole).
        """
        with self._lock:
            cached = self._summaries.get(frame.key)
        if cached is not None and "error" not in cached:  # a failure is raised again, with its message
            return cached
        summary = self._summarize(frame)
        with self._lock:
            self._summaries[frame.key] = summary
        return summary

    def _summarize(self, frame):
        scores, summary = {}, {"classIoU": {}}
        sources = self.sources(frame) if self.predictions else {}
        truth = frame.ground_truth()
        has_semantic = "labelIds" in truth.paths or "polygons" in truth.paths
        conf = None
        if "pred" in sources and has_semantic:
            accumulator = self._semantic_accumulator(sources["pred"], truth)
            result = accumulator.result()
            scores["mIoU"] = result["averageScoreClasses"]
            summary["classIoU"] = {name: float(v) for name, v in result["classScores"].items() if not math.isnan(v)}
            conf = accumulator.conf
            summary["confusion"] = image_confusion(conf, self.label_set)
        if "pred-instances" in sources and ("instanceIds" in truth.paths or "polygons" in truth.paths):
            predictions = self.predictions.instances(frame.id)
            accumulator = instance_ap.InstanceAccumulator(self.label_set)
            # mask paths: counted as their rows are inflated, as the command-line evaluator does
            accumulator.add(masks=[p.mask for p in predictions],
                            labels=[p.label_id for p in predictions], scores=[p.confidence for p in predictions],
                            ground_truth=truth.instance_ids(), name=frame.id)
            scores["AP"] = accumulator.result()["averages"]["allAp"]
        if "pred-panoptic" in sources:
            scores.update(self._panoptic_scores(frame))
        if conf is None and has_semantic:
            counts = np.zeros(1 << 16, dtype=np.int64)
            kernels.mask_histogram(np.ones(truth.semantic().shape, dtype=np.uint8),
                                   truth.semantic().astype(np.uint16), counts)
            present = np.flatnonzero(counts)
        else:
            present = np.flatnonzero(conf.sum(axis=1)) if conf is not None else []
        by_id = self.label_set.id2label
        summary["classes"] = [by_id[i].name for i in present if i in by_id]
        summary["scores"] = {k: (None if v is None or math.isnan(v) else float(v)) for k, v in scores.items()}
        return summary

    def _semantic_accumulator(self, prediction, truth):
        """The semantic accumulator of one image: from its ``*_labelIds.png`` as csEvalPixelLevelSemanticLabeling
        counts it (both files in one pass), else from the ground truth drawn from its polygons."""
        settings = {"label_set": self.label_set, "instance_scores": False, "train_ids": self.train_ids}
        if "labelIds" in truth.paths:
            return semantic_files.evaluate_pair_files(prediction, truth.paths["labelIds"], settings)
        accumulator = semantic_eval.SemanticAccumulator(**settings)
        accumulator.add(prediction=png.read_label_map(prediction), ground_truth=truth.semantic(), name=prediction)
        return accumulator

    def _panoptic_scores(self, frame):
        """``{"PQ": ...}`` of the frame's panoptic prediction, counted from the two PNGs as csEvalPanopticSemanticLabeling
        does (one pass, never decoded whole); nothing when the split has no panoptic ground truth for it."""
        ground_truth = self._panoptic_ground_truth(frame.split).get(frame.id)
        if not ground_truth:
            return {}
        path, segments, categories = self.predictions.panoptic[frame.id]
        gt_path, gt_segments, gt_categories = ground_truth
        item = ({"image_id": frame.id, "file_name": os.path.basename(gt_path), "segments_info": gt_segments},
                ({"image_id": frame.id, "file_name": os.path.basename(path), "segments_info": segments},
                 os.path.dirname(path)))
        accumulator = panoptic_files.evaluate_frame_files(item, os.path.dirname(gt_path), gt_categories)[0]
        return {"PQ": accumulator.result()["All"]["pq"]}

    def objects(self, frame, threshold=OBJECT_IOU):
        """The frame's predicted instances and ground-truth instances, each a true positive, false
        positive or false negative at IoU ``threshold``, as the instance evaluator matches them.

        Each ground-truth instance is matched to the most confident prediction of its label that
        overlaps it by more than ``threshold``; other predictions are false positives, unless more
        than ``threshold`` of them lies on void or group pixels (``ignored``).  Predictions carry
        ``entry``: their entry in the ``pred-instances`` layer; instances their ``instance`` id.
        """
        sources = self.sources(frame) if self.predictions else {}
        truth = frame.ground_truth()
        if "pred-instances" not in sources or not ("instanceIds" in truth.paths or "polygons" in truth.paths):
            return []
        predictions = self.predictions.instances(frame.id)
        accumulator = instance_ap.InstanceAccumulator(self.label_set)
        accumulator.add(masks=[p.mask for p in predictions], labels=[p.label_id for p in predictions],
                        scores=[p.confidence for p in predictions], ground_truth=truth.instance_ids(), name=frame.id)
        matches = accumulator.matches[frame.id]
        entry = {f"{frame.id}#{i}": i + 1 for i in range(len(predictions))}  # the layer draws them from 1

        def iou(a, b):
            return instance_ap.instance_iou(a["intersection"], a["pixelCount"], b["pixelCount"])
        chosen, objects = {}, []
        for label, instances in matches["groundTruth"].items():
            for gt in instances:
                if gt["instID"] < 1000:
                    continue
                over = [p for p in gt["matchedPred"] if iou(p, gt) > threshold]
                best = max(over, key=lambda p: p["confidence"], default=None)
                if best is not None:
                    chosen[best["imgName"]] = iou(best, gt)
                found = max((iou(p, gt) for p in gt["matchedPred"]), default=0.0)
                objects.append({"kind": "truth", "label": label, "instance": gt["instID"], "status":
                                "TP" if best else "FN", "iou": iou(best, gt) if best else found})
        for label, instances in matches["prediction"].items():
            for pred in instances:
                best = max((iou(gt, pred) for gt in pred["matchedGt"] if gt["instID"] >= 1000), default=0.0)
                ignored = pred["voidIntersection"] + sum(gt["intersection"] for gt in pred["matchedGt"]
                                                         if gt["instID"] < 1000)
                status = "TP" if pred["imgName"] in chosen else (
                    "ignored" if ignored / pred["pixelCount"] > threshold else "FP")
                objects.append({"kind": "prediction", "label": label, "entry": entry[pred["imgName"]],
                                "confidence": pred["confidence"], "status": status,
                                "iou": chosen.get(pred["imgName"], best)})
        return objects

    def summaries(self):
        """``({frame key: summary}, pending)``: the summaries known so far and how many are to come.

        The first call starts computing the others in the background, on the
        executor seam (every core), in the order of the frames; a frame whose
        summary fails gets ``{"error": reason}``.
        """
        with self._lock:
            if self._summarizing is None:
                todo = [f.key for f in self.frames if f.key not in self._summaries]
                self._summarizing = threading.Thread(target=self._summarize_all, args=(todo,), daemon=True)
                self._summarizing.start()
            return dict(self._summaries), len(self.frames) - len(self._summaries)

    def _summarize_all(self, todo):
        results = parallel.map_items(functools.partial(_summary_of, self), todo, jobs=self.jobs, progress=False)
        try:
            for key, result in zip(todo, results):
                summary = {"error": str(result)} if isinstance(result, ItemError) else result
                with self._lock:
                    self._summaries.setdefault(key, summary)
        except Exception as e:  # the pool itself failed: no frame is left waiting for ever
            with self._lock:
                for key in todo:
                    self._summaries.setdefault(key, {"error": f"not computed: {e}"})
            raise

    def all_scores(self):
        """``{frame key: scores}`` of every frame (``{"error": reason}`` where they failed), once all are known."""
        self.summaries()
        self._summarizing.join()
        with self._lock:
            return {f.key: self._summaries[f.key].get("scores", self._summaries[f.key])
                    for f in self.frames}

    def __reduce__(self):
        """For the worker processes: the frames, predictions and settings, without lock, thread or caches,
        pickled once (a few MB for a 500-image split) and unpickled once per worker (:func:`_worker_viewer`),
        not with every chunk of frames the pool sends."""
        with self._lock:
            if self._pickled is None:
                state = dict(self.__dict__)
                del state["_lock"]
                state.update(_cache=collections.OrderedDict(), _thumbnails=collections.OrderedDict(),
                             _summaries={}, _summarizing=None, _pickled=None, _server_pid=os.getpid())
                self._pickled = pickle.dumps(state, pickle.HIGHEST_PROTOCOL)
        return _worker_viewer, (self._token, self._pickled)

    def _panoptic_ground_truth(self, split):
        """``{frame id: (png path, segments, categories)}`` of ``gtFine/cityscapes_panoptic_{split}.json``."""
        if split not in self._panoptic_gt:
            path = layout.panoptic_json(os.path.join(self.root, layout.FINE), split)
            found = {}
            if os.path.isfile(path):
                data = read_json(path, LayoutError)
                categories = {c["id"]: c for c in data["categories"]}
                for annotation in data["annotations"]:
                    found[annotation["image_id"]] = (os.path.join(layout.panoptic_png_folder(path), annotation["file_name"]),
                                                     annotation["segments_info"], categories)
            self._panoptic_gt[split] = found
        return self._panoptic_gt[split]


def image_confusion(conf, label_set):
    """An image's confusion counts among the evaluated labels its ground truth or prediction has.

    ``conf``: the semantic accumulator's confusion matrix (rows ground truth,
    columns prediction, by label id).  ``{"ids", "labels", "counts", "other"}``:
    ``counts[r][c]`` pixels of label ``ids[r]`` predicted as ``ids[c]``;
    ``other[r]`` of them predicted as a label not evaluated.  Ground truth not
    evaluated counts nowhere, as in the class IoU, which these numbers give:
    ``counts[c][c] / (sum(counts[c]) + other[c] + sum of column c - counts[c][c])``.
    """
    evaluated = [i for i in label_set.eval_ids if not label_set.id2label[i].ignoreInEval]
    among = conf[np.ix_(evaluated, evaluated)]
    ids = [i for k, i in enumerate(evaluated) if among[k].any() or among[:, k].any()]
    counts = conf[np.ix_(ids, ids)]
    return {"ids": ids, "labels": [label_set.id2label[i].name for i in ids], "counts": counts.tolist(),
            "other": (conf[ids].sum(axis=1) - counts.sum(axis=1)).tolist()}


_WORKER_VIEWERS = {}  # token -> the Viewer a worker process unpickled, kept for its next tasks (and their caches)


def _worker_viewer(token, pickled):
    viewer = _WORKER_VIEWERS.get(token)
    if viewer is None:
        viewer = Viewer.__new__(Viewer)
        viewer.__dict__.update(pickle.loads(pickled))
        viewer._lock = threading.Lock()
        _WORKER_VIEWERS[token] = viewer
        if os.getppid() == viewer._server_pid:  # a worker of the server's own pool (not, say, a Dask worker's)
            os.nice(SCORING_NICENESS)
    return viewer


def _summary_of(viewer, key):
    return viewer.summary(viewer.frame(key))


def make_router(viewer):
    """The viewer's routes (all GET: the viewer never writes)."""
    router = server.Router(static_page="viewer.html")

    @router.get("/api/frames")
    def frames(request):
        labels = [{"name": label.name, "color": list(label.color), "evaluated": not label.ignoreInEval}
                  for label in viewer.label_set.labels if label.id >= 0]
        return server.json_response({"root": viewer.root, "pred": viewer.pred, "layers": LAYERS, "labels": labels,
                                     "frames": [f.describe() for f in viewer.frames]})

    @router.get("/api/frame/<path:key>")
    def frame(request):
        return server.json_response(viewer.describe(viewer.frame(request.params["key"])))

    @router.get("/api/layer/<name>/<path:key>")
    def layer(request):
        frame = viewer.frame(request.params["key"])
        payload = viewer.layer(frame, request.params["name"], request.arg("source", "polygons"))
        if "index" in payload:
            return server.binary_response({k: v for k, v in payload.items() if k != "index"}, payload["index"])
        return server.json_response(payload)

    @router.get("/api/scores/<path:key>")
    def scores(request):
        return server.json_response(viewer.scores(viewer.frame(request.params["key"])))

    @router.get("/api/scores")
    def all_scores(request):
        return server.json_response(viewer.all_scores())

    @router.get("/api/summary/<path:key>")
    def summary(request):
        return server.json_response(viewer.summary(viewer.frame(request.params["key"])))

    @router.get("/api/objects/<path:key>")
    def objects(request):
        return server.json_response({"threshold": OBJECT_IOU,
                                     "objects": viewer.objects(viewer.frame(request.params["key"]))})

    @router.get("/api/summaries")
    def summaries(request):
        """The grid asks again while ``pending`` > 0: the summaries arrive as they are computed."""
        known, pending = viewer.summaries()
        return server.json_response({"summaries": known, "pending": pending})

    @router.get("/api/thumbnail/<path:key>")
    def thumbnail(request):
        return server.jpeg_response(viewer.thumbnail(viewer.frame(request.params["key"])), quality=80)

    @router.get("/api/camera/<path:key>")
    def camera(request):
        """The camera image as a JPEG, ``?scale=N`` times smaller (the page asks for its screen's size);
        shown at once, replaced by the exact PNG (/api/file) when one stays on the image."""
        frame = viewer.frame(request.params["key"])
        scale = request.int_arg("scale", 1, 1, MAX_PREVIEW_SCALE)
        image = Image.fromarray(png.read_rgb(server.resolve_inside(viewer.root, frame.image)))
        response = server.jpeg_response(image.reduce(scale) if scale != 1 else image)
        response.headers["X-Image-Size"] = f"{image.width}x{image.height}"  # of the original
        return response

    @router.get("/api/file/<path:rel>")
    def file(request):
        return server.file_response(server.resolve_inside(viewer.root, request.params["rel"]))

    return router
