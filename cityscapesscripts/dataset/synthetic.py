"""The synthetic source domains of the domain-adaptation benchmarks, read as Cityscapes label ids.

GTA5 (Richter et al., "Playing for Data", ECCV 2016): ``images/00001.png`` and
``labels/00001.png``, the labels Cityscapes label ids (palette PNGs in the
released set, the palette index being the id; grey PNGs read the same).  Ids
outside the Cityscapes table (0..33) become ``unlabeled`` (0), as the UDA
conversion scripts ignore them.

SYNTHIA-RAND-CITYSCAPES (Ros et al., CVPR 2016): ``RGB/0000000.png`` and
``GT/LABELS/0000000.png``, the labels 16-bit colour PNGs holding the SYNTHIA
class id in their first channel (Pillow reads only the high byte of such
files, so they are decoded here).  :data:`SYNTHIA_CLASSES` maps the SYNTHIA
ids to Cityscapes classes; it is the table of DAFormer's
``tools/convert_datasets/synthia.py`` (Hoyer et al., CVPR 2022; "based on
README.txt from SYNTHIA_RAND_CITYSCAPES"), there written as SYNTHIA id ->
Cityscapes train id, here as class names.  Every other id (void 0,
parking-slot 13, road-work 14, lane-marking 22) becomes ``unlabeled`` (0),
ignored by the evaluation as the 255 of the train-id files there.

Frames are named ``gta5_000000_{number}`` / ``synthia_000000_{number}`` (six
digits) in a city folder of that name; other names as
:func:`~.cityscapes.cityscapes_frame_id` gives them.
"""
import functools
import os

import numpy as np

from .. import kernels
from ..errors import ImageError, ItemError, LayoutError
from ..helpers.labelset import CITYSCAPES
from ..io import png
from .cityscapes import IMAGE_EXTENSIONS, SourceItem, cityscapes_frame_id, inside

# SYNTHIA-RAND-CITYSCAPES class id -> Cityscapes class (DAFormer's id_to_trainid, by name)
SYNTHIA_CLASSES = {
    1: "sky", 2: "building", 3: "road", 4: "sidewalk", 5: "fence", 6: "vegetation", 7: "pole", 8: "car",
    9: "traffic sign", 10: "person", 11: "bicycle", 12: "motorcycle", 15: "traffic light", 16: "terrain",
    17: "rider", 18: "truck", 19: "bus", 20: "train", 21: "wall",
}
# (folder of images, folder of labels) of each set
LAYOUTS = {"gta5": ("images", "labels"), "synthia": ("RGB", os.path.join("GT", "LABELS"))}


def _synthia_table():
    table = np.zeros(65536, dtype=np.uint8)  # every 16-bit value: unknown ones are unlabeled
    for synthia_id, name in SYNTHIA_CLASSES.items():
        table[synthia_id] = CITYSCAPES.name2label[name].id
    return table


def _gta5_table():
    table = np.zeros(256, dtype=np.uint8)
    table[CITYSCAPES.known_ids] = np.flatnonzero(CITYSCAPES.known_ids)
    return table


def read_gta5_labels(path):
    """Cityscapes label ids, (H, W) uint8, of a GTA5 label PNG."""
    ids = png.read_label_map(path)
    if ids.dtype != np.uint8:
        raise ImageError(f"expected 8-bit labels (palette or grey), got {ids.dtype.itemsize * 8}-bit", path)
    return kernels.lookup(ids, _GTA5_TABLE)


def read_synthia_labels(path):
    """Cityscapes label ids, (H, W) uint8, of a SYNTHIA label PNG (the class id in the first channel)."""
    return kernels.lookup(np.ascontiguousarray(read_first_channel(path)), _SYNTHIA_TABLE)


def read_first_channel(path):
    """The first channel of a PNG as (H, W) uint16: 16-bit colour PNGs decoded whole by our decoder
    (Pillow keeps their high bytes), any other image through :mod:`..io.png`."""
    with open(path, "rb") as f:
        data = f.read()
    pixels = png.decode_png(data, path, accept=png.SIXTEEN_BIT_COLOUR)
    if pixels is not None:
        return pixels[..., 0]
    try:
        return png.read_label_map(path, data=data).astype(np.uint16)
    except ImageError:
        return png.read_rgb(path, data=data)[..., 0].astype(np.uint16)


_GTA5_TABLE = _gta5_table()
_SYNTHIA_TABLE = _synthia_table()
READERS = {"gta5": read_gta5_labels, "synthia": read_synthia_labels}


def frame_id(kind, stem, position):
    """``{kind}_000000_{number:06d}`` for a numbered file (``00001`` -> ``gta5_000000_000001``), else
    :func:`~.cityscapes.cityscapes_frame_id`.

    >>> frame_id("gta5", "00001", 0), frame_id("synthia", "0009399", 5)
    ('gta5_000000_000001', 'synthia_000000_009399')
    """
    if stem.isdigit() and int(stem) < 1000000:
        return f"{kind}_000000_{int(stem):06d}"
    return cityscapes_frame_id(stem, position)


def read_set(root, kind):
    """The items of a GTA5 (``kind='gta5'``) or SYNTHIA set, for :func:`~.convert.write_items`, and the
    files refused.

    Items are ``(label file, read, frame id)``, one per label PNG (sorted); ``read()`` gives the
    Cityscapes label ids and the image of the same name, if any.  A label file or image that is a
    symbolic link leading out of its folder is refused (an :class:`ItemError`), the others are kept.
    """
    image_dir, label_dir = (os.path.join(root, folder) for folder in LAYOUTS[kind])
    if not os.path.isdir(label_dir):
        raise LayoutError(f"no {kind.upper()} label folder (expected {LAYOUTS[kind][1]}/*.png with "
                          f"{LAYOUTS[kind][0]}/ beside it)", label_dir)
    images = {}
    if os.path.isdir(image_dir):
        for name in sorted(os.listdir(image_dir)):
            stem, ext = os.path.splitext(name)
            if ext.lower() in IMAGE_EXTENSIONS:
                images.setdefault(stem, name)
    items, refused = [], []
    names = sorted(name for name in os.listdir(label_dir) if name.lower().endswith(".png"))
    for position, name in enumerate(names):
        stem = name[:-len(".png")]
        try:
            label_path = inside(label_dir, name, label_dir)
            image_path = inside(image_dir, images[stem], image_dir) if stem in images else None
        except LayoutError as e:
            refused.append(ItemError(os.path.join(label_dir, name), str(e), e))
            continue
        read = functools.partial(_read_item, READERS[kind], label_path, image_path)
        items.append((label_path, read, frame_id(kind, stem, position)))
    return items, refused


def _read_item(read_labels, label_path, image_path):
    return SourceItem(read_labels(label_path), None, image_path)
