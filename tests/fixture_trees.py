"""A tiny Cityscapes tree and every csConvert output of it (shared by the tests and the Datumaro fixture script)."""
import os

import numpy as np

from cityscapesscripts.dataset import convert
from cityscapesscripts.dataset.cityscapes import write_frame
from cityscapesscripts.helpers.labels import Label
from cityscapesscripts.helpers.labelset import LabelSet

TINY_IDS = ("tinytown_000000_000001", "tinytown_000000_000002")


def tiny_instance_ids(index):
    """(12, 16) instanceIds: road, sky, ego vehicle (void), two cars, a person crowd, a rider."""
    ids = np.full((12, 16), 7, dtype=np.uint16)
    ids[:4] = 23
    ids[-1] = 1
    ids[5:8, 1 + index:5 + index] = 26000
    ids[6:9, 8:11] = 26001
    ids[4:6, 12:15] = 24
    ids[8:11, 13:15] = 25000 + index
    return ids


def write_tiny_tree(root):
    for index, frame_id in enumerate(TINY_IDS):
        ids = tiny_instance_ids(index)
        labels = np.where(ids >= 1000, ids // 1000, ids).astype(np.uint8)
        image = (np.arange(12 * 16 * 3).reshape(12, 16, 3) * (index + 3) % 251).astype(np.uint8)
        write_frame(root, "val", frame_id, labels, ids, image)


def convert_all(source, out):
    """csConvert to VOC, COCO instances, COCO panoptic, Cityscapes and CamVid; returns the exit statuses."""
    return [convert.main(["--to", target, source, os.path.join(out, folder), "-j", "1"] + extra)
            for target, folder, extra in (("voc", "voc", ["--save-images"]),
                                          ("camvid", "camvid", ["--save-images"]),
                                          ("coco-instances", "coco/annotations", []),
                                          ("coco-panoptic", "panoptic/annotations", []),
                                          ("cityscapes", "cityscapes", ["--save-images"]))]


def custom_label_set():
    """Names with spaces (one a Cityscapes name), '%', '#' and an underscore, as label_colors.txt must carry them."""
    names = ["background", "traffic light", "traffic cone", "50% grey", "lane #2", "Column_Pole"]
    return LabelSet([Label(n, i, i, "x", 0, False, i == 0, (i * 40, 255 - i * 40, i)) for i, n in enumerate(names)],
                    "background", name="custom")
