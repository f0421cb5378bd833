"""COCO instance annotations from Cityscapes instance maps (as mmdetection and detectron2 train from).

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
from ..errors import ItemError
from ..io import layout, png, rle
from ..io.files import make_folders
from ..preparation import panoptic
from .cityscapes import frame_name


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
    png.write_atomic(out_file, json.dumps(data).encode())
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
    png.write_atomic(base + ".json", json.dumps(data).encode())
    return base + ".json", failed
