"""Pascal VOC segmentation sets to and from the Cityscapes layout.

A VOC set has ``JPEGImages/{id}.jpg``, ``SegmentationClass/{id}.png`` (palette
PNGs of class indices), ``SegmentationObject/{id}.png`` (palette PNGs of
instance indices), ``ImageSets/Segmentation/{split}.txt`` and ``labelmap.txt``
(``name:r,g,b::`` per class, in index order).  By default the classes are
background plus the 19 evaluated Cityscapes classes (index = trainId + 1;
ignored pixels 255); ``full_table=True`` keeps every label id as its index.
"""
import os

import numpy as np
from PIL import Image

from ..errors import LayoutError
from ..helpers.labelset import CITYSCAPES
from ..io import png

IGNORE = 255


def voc_classes(label_set=CITYSCAPES, full_table=False):
    """``[(name, colour)]`` in index order and the (256,) labelId -> VOC index table."""
    table = np.full(256, IGNORE, dtype=np.uint8)
    if full_table:
        drawn = sorted((label for label in label_set.labels if label.id >= 0), key=lambda l: l.id)
        classes = []
        for label in drawn:
            if label.id != len(classes):
                raise ValueError("the full table needs label ids 0..N-1")
            classes.append((label.name, label.color))
            table[label.id] = label.id
        return classes, table
    classes = [("background", (0, 0, 0))]
    by_train = {}
    for label in label_set.labels:
        if not label.ignoreInEval and 0 <= label.trainId < 255 and label.trainId not in by_train:
            by_train[label.trainId] = label
    for train_id in sorted(by_train):
        classes.append((by_train[train_id].name, by_train[train_id].color))
    index = {name: i for i, (name, _) in enumerate(classes)}
    for label in label_set.labels:
        if label.id >= 0:
            if not label.ignoreInEval and label.name in index:
                table[label.id] = index[label.name]
            elif label.id == label_set.background.id:
                table[label.id] = 0
    return classes, table


def _palette(classes):
    palette = np.zeros((256, 3), dtype=np.uint8)
    palette[IGNORE] = (224, 224, 192)  # VOC's colour for void
    for i, (_, color) in enumerate(classes):
        palette[i] = color
    return palette.ravel().tolist()


def _save_palette(path, indices, palette):
    indices = np.ascontiguousarray(indices, dtype=np.uint8)
    image = Image.frombytes("P", (indices.shape[1], indices.shape[0]), indices.tobytes())
    image.putpalette(palette)
    png.save_image_atomic(image, path)


def write_voc(dataset, out, full_table=False, save_images=True):
    """Write the frames of a :class:`CityscapesDataset` as a VOC segmentation set; returns the ids."""
    classes, table = voc_classes(dataset.label_set, full_table)
    palette = _palette(classes)
    for sub in ("JPEGImages", "SegmentationClass", "SegmentationObject", os.path.join("ImageSets", "Segmentation")):
        os.makedirs(os.path.join(out, sub), exist_ok=True)
    ids = []
    for frame in dataset:
        semantic = table[frame.semantic()]
        _save_palette(os.path.join(out, "SegmentationClass", frame.id + ".png"), semantic, palette)
        instance_ids = frame.instance_ids()
        values, position = np.unique(instance_ids, return_inverse=True)
        singles = values >= 1000  # one table lookup numbers the instances 1, 2, ... in id order
        numbers = np.where(singles, np.minimum(np.cumsum(singles), IGNORE - 1), 0).astype(np.uint8)
        objects = numbers[position.reshape(instance_ids.shape)]
        objects[semantic == IGNORE] = IGNORE
        _save_palette(os.path.join(out, "SegmentationObject", frame.id + ".png"), objects, palette)
        if save_images and "leftImg8bit" in frame.paths:
            png.save_image_atomic(Image.open(frame.paths["leftImg8bit"]).convert("RGB"),
                                  os.path.join(out, "JPEGImages", frame.id + ".jpg"), quality=95)
        ids.append(frame.id)
    split = dataset.split or "default"
    png.write_atomic(os.path.join(out, "ImageSets", "Segmentation", split + ".txt"), ("\n".join(ids) + "\n").encode())
    text = "# label:color_rgb:parts:actions\n" + "".join(f"{n}:{c[0]},{c[1]},{c[2]}::\n" for n, c in classes)
    png.write_atomic(os.path.join(out, "labelmap.txt"), text.encode())
    return ids


def read_labelmap(path):
    """Class names of a VOC ``labelmap.txt`` in index order."""
    try:
        with open(path) as f:
            lines = [line.strip() for line in f if line.strip() and not line.startswith("#")]
    except OSError as e:
        raise LayoutError(f"cannot read: {e.strerror}", path) from None
    return [line.split(":")[0] for line in lines]


def read_voc(voc_root, split):
    """Yield ``(item id, class indices, object indices or None, image path or None)`` and the class names."""
    names = read_labelmap(os.path.join(voc_root, "labelmap.txt"))
    list_file = os.path.join(voc_root, "ImageSets", "Segmentation", split + ".txt")
    try:
        with open(list_file) as f:
            items = [line.strip() for line in f if line.strip()]
    except OSError:
        raise LayoutError(f"no VOC split '{split}'", list_file) from None

    def frames():
        for item in items:
            semantic = png.read_label_map(os.path.join(voc_root, "SegmentationClass", item + ".png"))
            obj_path = os.path.join(voc_root, "SegmentationObject", item + ".png")
            objects = png.read_label_map(obj_path) if os.path.isfile(obj_path) else None
            image = os.path.join(voc_root, "JPEGImages", item + ".jpg")
            yield item, semantic, objects, image if os.path.isfile(image) else None
    return names, frames()
