"""instanceIds maps to COCO panoptic ground truth (the engine of csCreatePanopticImgs).

Every id of an ``instanceIds`` map is a segment: ``id >= 1000`` is one
instance of class ``id // 1000``, a smaller id is a whole class (a crowd
region when that class has instances).  Classes ignored in evaluation are
left out (their pixels become id 0).  A segment's PNG colour encodes its id
as R = id % 256, G = id // 256, B = id // 65536.
"""
import os

import numpy as np

from .. import kernels
from ..errors import ImageError
from ..helpers.labelset import CITYSCAPES
from ..io import layout, png
from ..io.segment_ids import id2rgb


def categories(label_set=CITYSCAPES, use_train_id=False):
    """The COCO ``categories`` list: evaluated labels, by id (or trainId)."""
    return [{"id": int(label.trainId) if use_train_id else int(label.id), "name": label.name,
             "color": list(label.color), "supercategory": label.category,
             "isthing": 1 if label.hasInstances else 0}
            for label in label_set.labels if not label.ignoreInEval]


def panoptic_frame(instance_ids, label_set=CITYSCAPES, use_train_id=False, name=None):
    """``(rgb, segments_info)`` of one instanceIds map ((H, W) uint16 -> (H, W, 3) uint8)."""
    ids = np.ascontiguousarray(instance_ids, dtype=np.uint16)
    counts, boxes = kernels.segment_stats(ids)
    present = np.nonzero(counts)[0]
    kept = np.zeros(kernels.INSTANCE_ID_SPACE, dtype=np.uint16)
    segments = []
    for segment_id in present.tolist():
        semantic = segment_id if segment_id < 1000 else segment_id // 1000
        label = label_set.id2label.get(semantic)
        if label is None:
            raise ImageError(f"segment {segment_id} has unknown label id {semantic}", name)
        if label.ignoreInEval:
            continue
        x0, y0, x1, y1 = boxes[segment_id].tolist()
        segments.append({"id": segment_id,
                         "category_id": int(label.trainId if use_train_id else label.id),
                         "area": int(counts[segment_id]),
                         "bbox": [x0, y0, x1 - x0 + 1, y1 - y0 + 1],
                         "iscrowd": 1 if segment_id < 1000 and label.hasInstances else 0})
        kept[segment_id] = segment_id
    return id2rgb(kernels.lookup(ids, kept)), segments


def convert_file(path, folder, use_train_id=False, label_set=CITYSCAPES, overwrite=True):
    """Write the panoptic PNG of one ``*_instanceIds.png`` into ``folder``; returns its COCO (image, annotation)."""
    ids = png.read_ids_16bit(path)
    rgb, segments = panoptic_frame(ids, label_set, use_train_id, path)
    names = layout.panoptic_names(path)
    out_path = os.path.join(folder, names["panoptic"])
    if overwrite or not os.path.exists(out_path):
        png.write_png(out_path, rgb)
    image = {"id": names["image_id"], "width": int(ids.shape[1]), "height": int(ids.shape[0]),
             "file_name": names["image"]}
    return image, {"image_id": names["image_id"], "file_name": names["panoptic"], "segments_info": segments}
