"""COCO instance and panoptic annotations from Cityscapes instance maps (as mmdetection and detectron2
train from), and COCO exports (ours, Datumaro's) read back into the Cityscapes layout.

One JSON per split: ``images`` (the leftImg8bit paths relative to the
dataset root), ``categories`` (Cityscapes ids and names of the evaluated
classes with instances), ``annotations`` with compressed RLE masks, area,
bbox ``[x, y, w, h]`` and ``iscrowd`` (1 for group regions, ids < 1000).
"""
import functools
import json
import os

import numpy as np

from .. import kernels, parallel
from ..errors import ImageError, ItemError, LayoutError
from ..helpers.labelset import GROUP_SUFFIX
from ..io import layout, png, rle
from ..io.files import make_folders, write_atomic
from ..io.jsonfile import read_json
from ..preparation import panoptic
from .cityscapes import SourceItem, cityscapes_frame_id, frame_name, inside


def coco_categories(label_set):
    return [{"id": label.id, "name": label.name, "supercategory": label.category}
            for label in label_set.labels if label.hasInstances and not label.ignoreInEval and label.id >= 0]


def frame_annotations(instance_ids, label_set):
    """COCO annotation dicts (without ids) of one instanceIds map; only the instances' boxes are visited."""
    ids = np.ascontiguousarray(instance_ids, dtype=np.uint16)
    counts, boxes = kernels.segment_stats(ids)
    wanted = {c["id"] for c in coco_categories(label_set)}
    out = []
    for value in np.nonzero(counts)[0].tolist():
        label_id = value // 1000 if value >= 1000 else value
        if label_id not in wanted:
            continue
        x0, y0, x1, y1 = boxes[value].tolist()
        crop = ids[y0:y1 + 1, x0:x1 + 1] == value
        out.append({"category_id": label_id, "iscrowd": int(value < 1000), "area": int(counts[value]),
                    "bbox": [x0, y0, x1 - x0 + 1, y1 - y0 + 1],
                    "segmentation": rle.encode(crop, (y0, x0), ids.shape), "cityscapes_id": value})
    return out


def _frame_task(frame):
    ids = frame.instance_ids()
    return ids.shape, frame_annotations(ids, frame.label_set)


def image_entry(dataset, frame, image_id, shape):
    """The COCO ``images`` entry of a frame: integer id, the leftImg8bit path relative to the root."""
    file_name = frame.paths.get(layout.CAMERA) or layout.frame_file(dataset.root, layout.CAMERA, frame.split,
                                                                     frame.city, frame.id)
    return {"id": image_id, "file_name": os.path.relpath(file_name, dataset.root).replace(os.sep, "/"),
            "height": int(shape[0]), "width": int(shape[1]), "frame_id": frame.item_id}


def write_coco_instances(dataset, out_file, jobs=None, progress=None):
    """Write the COCO instances JSON of a :class:`CityscapesDataset`; returns ``(path, [ItemError] failed)``.

    Frames with only an image are listed without annotations.
    """
    images, annotations, failed = [], [], []
    results = iter(list(parallel.map_items(_frame_task, [f for f in dataset if f.annotated], jobs, "coco",
                                           progress, frame_name)))
    for frame in dataset:
        result = next(results) if frame.annotated else (_image_size(frame), [])
        if isinstance(result, ItemError):
            failed.append(result)
            continue
        shape, found = result
        image_id = len(images) + 1
        images.append(image_entry(dataset, frame, image_id, shape))
        for entry in found:
            entry.update(id=len(annotations) + 1, image_id=image_id)
            annotations.append(entry)
    data = {"images": images, "annotations": annotations, "categories": coco_categories(dataset.label_set)}
    make_folders(os.path.dirname(os.path.abspath(out_file)))
    write_atomic(out_file, json.dumps(data).encode())
    return out_file, failed


def _image_size(frame):
    width, height = png.open_image(frame.paths[layout.CAMERA]).size
    return height, width


def _panoptic_task(frame, folder):
    ids = frame.instance_ids()
    rgb, segments = panoptic.panoptic_frame(ids, frame.label_set, False, frame.item_id)
    name = layout.panoptic_png_name(frame.item_id, frame.annotation_type)
    path = os.path.join(folder, name)
    os.makedirs(os.path.dirname(path), exist_ok=True)
    png.write_png(path, rgb)
    return ids.shape, name, segments


def write_coco_panoptic(dataset, out, jobs=None, progress=None):
    """COCO panoptic ground truth of a :class:`CityscapesDataset` for COCO tools.

    ``{out}/cityscapes_panoptic_{split}.json`` and its folder of PNGs, as
    ``csCreatePanopticImgs`` writes them, except that image ids are integers
    (COCO tools reject strings; the Cityscapes name is in ``file_name`` and
    ``frame_id``) and each annotation has an ``id``.  Returns ``(path, failed)``.
    """
    base = os.path.join(out, layout.panoptic_set_name(dataset.split or "all"))
    task = functools.partial(_panoptic_task, folder=base)
    frames = [f for f in dataset if f.annotated]
    images, annotations, failed = [], [], []
    for frame, result in zip(frames, parallel.map_items(task, frames, jobs, "panoptic", progress, frame_name)):
        if isinstance(result, ItemError):
            failed.append(result)
            continue
        shape, name, segments = result
        image_id = len(images) + 1
        images.append(image_entry(dataset, frame, image_id, shape))
        annotations.append({"id": image_id, "image_id": image_id, "file_name": name, "segments_info": segments})
    data = {"images": images, "annotations": annotations, "categories": panoptic.categories(dataset.label_set)}
    write_atomic(base + ".json", json.dumps(data).encode())
    return base + ".json", failed


# ---- reading COCO into the Cityscapes layout --------------------------------------------------
# where a COCO export keeps its JSON, below the folder it was written to: ours (the folder itself)
# or Datumaro's (annotations/); panoptic PNGs are in the folder named as the JSON
_STEMS = {"coco-instances": ("instances_{split}",), "coco-panoptic": ("cityscapes_panoptic_{split}", "panoptic_{split}")}


def find_coco_json(root, kind, split):
    """The JSON of one split of a COCO export (``kind``: ``coco-instances`` or ``coco-panoptic``) written
    to ``root``: ``{root}/`` or ``{root}/annotations/``, named ``instances_{split}.json``,
    ``cityscapes_panoptic_{split}.json`` (ours) or ``panoptic_{split}.json`` (Datumaro's)."""
    candidates = [os.path.join(root, sub, stem.format(split=split) + ".json")
                  for sub in ("", "annotations") for stem in _STEMS[kind]]
    found = next((path for path in candidates if os.path.isfile(path)), None)
    if found is None:
        raise LayoutError(f"no {kind} JSON of split {split!r}; looked for "
                          + ", ".join(os.path.relpath(path, root) for path in candidates), root)
    return found


def coco_splits(root, kind):
    """The splits of a COCO export, from the names of its JSON files."""
    found = set()
    for sub in ("", "annotations"):
        folder = os.path.join(root, sub)
        for name in os.listdir(folder) if os.path.isdir(folder) else ():
            for stem in _STEMS[kind]:
                prefix = stem.format(split="")
                if name.startswith(prefix) and name.endswith(".json") and len(name) > len(prefix) + 5:
                    found.add(name[len(prefix):-len(".json")])
    if not found:
        raise LayoutError(f"no {kind} JSON", root)
    return sorted(found)


def read_coco(root, kind, split, label_set, save_polygons=False):
    """The items of one split of a COCO export, for :func:`~.convert.write_items`.

    Returns ``(items, category names not in label_set, [ItemError] refused)``.  Categories
    are matched to ``label_set`` by name (Datumaro's spellings too); unknown ones become
    background.  Each item reads its masks into label ids and ``id * 1000 + k`` instance
    ids (a crowd, and a class without instances, as the label id); ``k`` is the Cityscapes
    instance number our exports keep (``cityscapes_id``, the panoptic segment id) when it fits,
    else the next free one.  With ``save_polygons``, instance polygons become the frame's
    polygon annotation.  Images are looked for below ``root`` only (``images/{split}/``,
    ``images/``, the root).
    """
    path = find_coco_json(root, kind, split)
    data = read_json(path, LayoutError)
    try:
        images, categories = data["images"], data["categories"]
        annotations = data["annotations"]
    except (KeyError, TypeError):
        raise LayoutError("expected a COCO object with images, annotations and categories", path) from None
    table, missing, by_image = {}, [], {}
    try:
        for category in categories:
            label = label_set.find(str(category["name"]))
            if label is None or label.id < 0:
                missing.append(category["name"])
            else:
                table[category["id"]] = label.id
        for annotation in annotations:
            by_image.setdefault(annotation["image_id"], []).append(annotation)
    except (KeyError, TypeError, AttributeError) as e:
        raise LayoutError(f"a category or annotation without its fields ({e!r})", path) from None
    panoptic_folder = path[:-len(".json")]
    items, refused = [], []
    for position, image in enumerate(images):
        where = f"{path}, image {position + 1}"
        try:
            name = str(image.get("frame_id") or os.path.splitext(image["file_name"])[0].removesuffix("_" + layout.CAMERA))
            image_path = _find_image(root, split, image["file_name"], where)
            found = by_image.get(image["id"], [])
            if kind == "coco-panoptic":
                if len(found) > 1:
                    raise LayoutError(f"{where}: {len(found)} panoptic annotations")
                source = inside(panoptic_folder, found[0]["file_name"], where) if found else None
                read = functools.partial(_panoptic_item, source, found[0]["segments_info"] if found else [],
                                         table, label_set, image_path, (image["height"], image["width"]))
            else:
                read = functools.partial(_instances_item, found, table, label_set, image_path,
                                         (image["height"], image["width"]), save_polygons)
        except (LayoutError, KeyError, TypeError, AttributeError) as e:
            reason = str(e).removeprefix(f"{where}: ") if isinstance(e, LayoutError) else f"missing field {e}"
            refused.append(ItemError(where, reason, e))
            continue
        items.append((where, read, cityscapes_frame_id(name, position)))
    return items, missing, refused


def _find_image(root, split, file_name, where):
    for folder in (os.path.join(root, "images", split), os.path.join(root, "images"), root):
        candidate = inside(folder, file_name, where)
        if os.path.isfile(candidate):
            return candidate
    return None


class _InstanceNumbers:
    """``id * 1000 + k`` for the objects of one frame: the number asked for when it is free, else the next."""

    def __init__(self, label_set):
        self.label_set, self.used = label_set, set()

    def value(self, label_id, crowd, wanted=None):
        if crowd or not self.label_set.has_instances[label_id]:
            return label_id
        if not (isinstance(wanted, int) and wanted // 1000 == label_id and wanted not in self.used):
            wanted = next(v for v in range(label_id * 1000, label_id * 1000 + 1000) if v not in self.used)
        self.used.add(wanted)
        return wanted


def _instances_item(annotations, table, label_set, image_path, shape, save_polygons):
    label_ids = np.full(shape, label_set.background.id, dtype=np.uint8)
    instance_ids = label_ids.astype(np.uint16)
    numbers, objects = _InstanceNumbers(label_set), []
    for annotation in annotations:
        label_id = table.get(annotation["category_id"])
        if label_id is None:
            continue
        crowd = bool(annotation.get("iscrowd"))
        segmentation = annotation["segmentation"]
        mask = _mask(segmentation, shape)
        label_ids[mask] = label_id
        instance_ids[mask] = numbers.value(label_id, crowd, annotation.get("cityscapes_id"))
        if save_polygons and isinstance(segmentation, list):
            name = label_set.id2label[label_id].name + (GROUP_SUFFIX if crowd else "")
            objects += [{"label": name, "polygon": np.reshape(polygon, (-1, 2)).tolist()} for polygon in segmentation]
    polygons = {"imgHeight": shape[0], "imgWidth": shape[1], "objects": objects} if objects else None
    return SourceItem(label_ids, instance_ids, image_path, polygons)


def _mask(segmentation, shape):
    """The (H, W) bool mask of a COCO segmentation: compressed or plain RLE, or polygons (drawn as
    Cityscapes polygons are, by Pillow's ``ImageDraw.polygon``)."""
    if isinstance(segmentation, dict):
        counts = segmentation["counts"]
        if list(segmentation["size"]) != list(shape):
            raise ValueError(f"RLE of size {segmentation['size']} on an image of {list(shape)}")
        return rle.decode({"size": shape, "counts": rle.compress(counts) if isinstance(counts, list) else counts})
    from PIL import Image, ImageDraw
    canvas = Image.new("1", (shape[1], shape[0]))
    draw = ImageDraw.Draw(canvas)
    for polygon in segmentation:
        draw.polygon([float(v) for v in polygon], fill=1)
    return np.asarray(canvas, dtype=bool)


def _panoptic_item(png_path, segments, table, label_set, image_path, shape):
    label_ids = np.full(shape, label_set.background.id, dtype=np.uint8)
    instance_ids = label_ids.astype(np.uint16)
    if png_path is not None:
        rgb = png.read_rgb(png_path)
        if rgb.shape[:2] != tuple(shape):
            raise ImageError(f"panoptic PNG is {rgb.shape[1]}x{rgb.shape[0]}, its image {shape[1]}x{shape[0]}",
                             png_path)
        if not rgb[..., 2].any():  # ours and most others: ids below 2^16, tables over them
            index, size = rgb[..., 0] | rgb[..., 1].astype(np.uint16) << 8, kernels.INSTANCE_ID_SPACE
            slot = functools.partial(_slot, size)
        else:
            ids = rgb[..., 0] | rgb[..., 1].astype(np.uint32) << 8 | rgb[..., 2].astype(np.uint32) << 16
            values, index = np.unique(ids, return_inverse=True)
            index, size = index.reshape(shape), len(values)
            slot = {v: i for i, v in enumerate(values.tolist())}.get
        label_of = np.full(size, label_set.background.id, dtype=np.uint8)
        instance_of = label_of.astype(np.uint16)
        numbers = _InstanceNumbers(label_set)
        for segment in segments:
            label_id = table.get(segment["category_id"])
            i = slot(segment["id"])
            if label_id is None or i is None:
                continue
            label_of[i] = label_id
            instance_of[i] = numbers.value(label_id, bool(segment.get("iscrowd")), segment["id"])
        if index.dtype == np.uint16:
            label_ids, instance_ids = kernels.lookup(index, label_of), kernels.lookup(index, instance_of)
        else:
            label_ids, instance_ids = label_of[index], instance_of[index]
    return SourceItem(label_ids, instance_ids, image_path)


def _slot(size, segment_id):
    return segment_id if isinstance(segment_id, int) and 0 <= segment_id < size else None
