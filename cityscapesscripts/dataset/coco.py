"""COCO instance annotations from Cityscapes instance maps (as mmdetection and detectron2 train from).

One JSON per split: ``images`` (the leftImg8bit paths relative to the
dataset root), ``categories`` (Cityscapes ids and names of the evaluated
classes with instances), ``annotations`` with compressed RLE masks, area,
bbox ``[x, y, w, h]`` and ``iscrowd`` (1 for group regions, ids < 1000).
"""
import json
import os

import numpy as np

from .. import kernels, parallel
from ..io import png, rle


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


def write_coco_instances(dataset, out_file, jobs=None, progress=None):
    """Write the COCO instances JSON of a :class:`CityscapesDataset`; returns its path."""
    images, annotations = [], []
    for image_id, (frame, (shape, found)) in enumerate(
            zip(dataset, parallel.collect(_frame_task, list(dataset), jobs, "coco", progress)), 1):
        file_name = frame.paths.get("leftImg8bit")
        images.append({"id": image_id, "file_name": os.path.relpath(file_name, dataset.root) if file_name else
                       f"leftImg8bit/{frame.split}/{frame.city}/{frame.id}_leftImg8bit.png",
                       "height": int(shape[0]), "width": int(shape[1]), "frame_id": frame.id})
        for entry in found:
            entry.update(id=len(annotations) + 1, image_id=image_id)
            annotations.append(entry)
    data = {"images": images, "annotations": annotations, "categories": coco_categories(dataset.label_set)}
    os.makedirs(os.path.dirname(os.path.abspath(out_file)), exist_ok=True)
    png.write_atomic(out_file, json.dumps(data).encode())
    return out_file
