"""instanceIds maps to COCO panoptic ground truth (the engine of csCreatePanopticImgs).

Every id of an ``instanceIds`` map is a segment: ``id >= 1000`` is one
instance of class ``id // 1000``, a smaller id is a whole class (a crowd
region when that class has instances).  Classes ignored in evaluation are
left out (their pixels become id 0).  A segment's PNG colour encodes its id
as R = id % 256, G = id // 256, B = id // 65536.
"""
import functools
import glob
import os

import numpy as np

from .. import kernels, parallel
from ..errors import ImageError, LayoutError
from ..helpers.labelset import CITYSCAPES
from ..io import layout, png
from ..io.files import make_folders, remove_stale_temporaries
from ..io.jsonfile import write_json
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


def convert_sets(gt_folder, output_folder, use_train_id=False, set_names=("val", "train", "test"),
                 label_set=CITYSCAPES, jobs=None, overwrite=True, progress=None, say=print) -> list[str]:
    """Convert the sets ``set_names`` of the ``gtFine`` folder ``gt_folder`` on the executor (``jobs``): per set
    a folder of panoptic PNGs and ``cityscapes_panoptic_{set}[_trainId].json`` in ``output_folder``; returns
    the JSON paths written.  Raises :class:`LayoutError` naming the pattern when a set has no
    ``*_instanceIds.png``; ``say`` is told what is being done."""
    written = []
    for set_name in set_names:
        pattern = layout.annotation_pattern(gt_folder, "", set_name, "instanceIds")
        files = sorted(glob.glob(pattern))
        if not files:
            raise LayoutError(f"did not find any files for the {set_name} set; searched {pattern}")
        out_json = layout.panoptic_json(output_folder, set_name, use_train_id)
        folder = layout.panoptic_png_folder(out_json)
        make_folders(folder)
        remove_stale_temporaries([output_folder, folder])  # a killed run's
        say(f"Converting {len(files)} annotation files for {set_name} set into {folder}")
        task = functools.partial(convert_file, folder=folder, use_train_id=use_train_id, label_set=label_set,
                                 overwrite=overwrite)
        images, annotations = zip(*parallel.collect(task, files, jobs, set_name, progress))
        data = {"images": list(images), "annotations": list(annotations),
                "categories": categories(label_set, use_train_id)}
        write_json(out_json, data, sort_keys=True, indent=4)
        say(f"Saved {out_json}")
        written.append(out_json)
    return written
