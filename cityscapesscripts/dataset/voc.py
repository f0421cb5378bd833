"""Pascal VOC segmentation sets to and from the Cityscapes layout.

A VOC set has ``JPEGImages/{id}.jpg``, ``SegmentationClass/{id}.png`` (class
indices), ``SegmentationObject/{id}.png`` (instance indices),
``ImageSets/Segmentation/{split}.txt`` and ``labelmap.txt`` (``name:r,g,b::``
per class, in index order); ids may contain folders (``a/b/1``).

Written: palette PNGs whose colours are the label map's for classes and
Pascal VOC's palette for objects (object ``k`` has colour ``k``; every
instance, stuff class and crowd region is an object, as VOC has no crowd
flag), void
(255) coloured (224, 224, 192) and declared in the label map as
``ignored``, as Datumaro and the VOC tools read them.  By default the classes
are background plus the 19 evaluated Cityscapes classes (index = trainId + 1);
``full_table=True`` keeps every label id as its index.

Read: palette or grey PNGs by index (VOC's convention), colour PNGs by
colour (Datumaro's default export); a colour several classes share decodes to
the first of them.
"""
import functools
import os

import numpy as np

from .. import kernels
from ..errors import ArgumentError, ImageError, ItemError, LayoutError
from ..helpers.labelset import CITYSCAPES, describe_missing_ids, voc_palette
from ..io import layout, png
from ..io.files import make_folders, write_atomic
from .cityscapes import IMAGE_EXTENSIONS, inside, map_frames

IGNORE = 255
VOID_NAME = "ignored"  # Datumaro's name for VOC's void class
VOID_NAMES = (VOID_NAME, "void")
VOID_COLOR = (224, 224, 192)
LIST_DIR = os.path.join("ImageSets", "Segmentation")
# Datumaro's default when a set has no labelmap.txt: the 20 VOC classes after background, colours by index
VOC_CLASSES = ("background aeroplane bicycle bird boat bottle bus car cat chair cow diningtable dog horse "
               "motorbike person pottedplant sheep sofa train tvmonitor").split()


def voc_classes(label_set=CITYSCAPES, full_table=False):
    """``[(name, colour)]`` in index order and the (256,) labelId -> VOC index table (255: void).

    With ``full_table``, a label set whose colours repeat (the Cityscapes
    table) gets Pascal VOC's palette instead, since VOC masks are read by colour.
    """
    table = np.full(256, IGNORE, dtype=np.uint8)
    if full_table:
        drawn = sorted((label for label in label_set.labels if label.id >= 0), key=lambda label: label.id)
        if [label.id for label in drawn] != list(range(len(drawn))) or len(drawn) > IGNORE:
            raise ArgumentError(f"the full VOC table needs label ids 0..N-1 (N < 256); {label_set.name} has "
                                f"{len(drawn)} labels, missing ids {describe_missing_ids(label.id for label in drawn)}")
        colors = [label.color for label in drawn]
        if len(set(colors)) != len(colors):
            colors = [tuple(c) for c in voc_palette()[:len(drawn)].tolist()]
        table[:len(drawn)] = np.arange(len(drawn))
        return [(label.name, color) for label, color in zip(drawn, colors)], table
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


def _palette(colors):
    palette = np.zeros((256, 3), dtype=np.uint8)
    palette[:len(colors)] = colors
    palette[IGNORE] = VOID_COLOR
    return palette


def voc_indices(instance_ids, table):
    """The VOC class and object indices of an (H, W) uint16 instanceIds map, (H, W) uint8 each.

    ``table``: labelId -> VOC class index.  Classes come from the label part
    of the ids.  Every segment of a VOC class is one object, numbered 1, 2,
    ... in id order (at most 254): instances, and also each stuff class and
    crowd region, since Datumaro reads only the objects when
    ``SegmentationObject`` exists.  Objects are 0 on background, 255 on void.
    Both maps are one lookup each in tables over the ids present.
    """
    counts, _ = kernels.segment_stats(instance_ids)
    values = np.flatnonzero(counts)
    classes = table[np.where(values >= 1000, values // 1000, values)]
    kept = (classes != 0) & (classes != IGNORE)
    numbers = np.where(kept, np.minimum(np.cumsum(kept), IGNORE - 1), np.where(classes == IGNORE, IGNORE, 0))
    class_lookup = np.zeros(kernels.INSTANCE_ID_SPACE, dtype=np.uint8)
    object_lookup = np.zeros(kernels.INSTANCE_ID_SPACE, dtype=np.uint8)
    class_lookup[values], object_lookup[values] = classes, numbers
    return kernels.lookup(instance_ids, class_lookup), kernels.lookup(instance_ids, object_lookup)


_OBJECT_PALETTE = voc_palette()


def _write_item(frame, out, table, class_palette, save_images):
    """One frame's class and object PNGs (and JPEG, from the leftImg8bit image); returns its item id."""
    classes, objects = voc_indices(frame.instance_ids(), table)
    files = [(os.path.join(out, "SegmentationClass", frame.item_id + ".png"), png.encode_png(classes, class_palette)),
             (os.path.join(out, "SegmentationObject", frame.item_id + ".png"), png.encode_png(objects, _OBJECT_PALETTE))]
    if save_images and layout.CAMERA in frame.paths:
        files.append((os.path.join(out, "JPEGImages", frame.item_id + ".jpg"),
                      png.encode_image(png.read_rgb(frame.paths[layout.CAMERA]), ".jpg")))
    for path, data in files:
        os.makedirs(os.path.dirname(path), exist_ok=True)
        write_atomic(path, data)
    return frame.item_id


def write_voc(dataset, out, full_table=False, save_images=True, jobs=None, progress=None):
    """Write the frames of a :class:`CityscapesDataset` as a VOC segmentation set, on ``jobs`` processes.

    Returns ``(item ids written, [ItemError] failed)``; one list file per split.  Frames with only an
    image are left out (VOC lists segmentation items).
    """
    classes, table = voc_classes(dataset.label_set, full_table)
    class_palette = _palette([color for _, color in classes])
    for sub in ("JPEGImages", "SegmentationClass", "SegmentationObject", LIST_DIR):
        make_folders(os.path.join(out, sub))
    task = functools.partial(_write_item, out=out, table=table, class_palette=class_palette, save_images=save_images)
    lists, failed = map_frames(task, dataset, jobs, "voc", progress)
    written = [item for ids in lists.values() for item in ids]
    for split, ids in lists.items():
        write_atomic(os.path.join(out, LIST_DIR, split + ".txt"), ("\n".join(ids) + "\n").encode())
    text = "# label:color_rgb:parts:actions\n" + "".join(
        f"{name}:{r},{g},{b}::\n" for name, (r, g, b) in classes + [(VOID_NAME, VOID_COLOR)])
    write_atomic(os.path.join(out, "labelmap.txt"), text.encode())
    return written, failed


def read_labelmap(path):
    """``[(name, colour or None)]`` of a VOC ``labelmap.txt`` in index order.

    Without the file, Pascal VOC's 21 classes (Datumaro's default).
    """
    if not os.path.exists(path):
        return [(name, tuple(color)) for name, color in zip(VOC_CLASSES, voc_palette().tolist())]
    try:
        with open(path, encoding="utf-8") as f:
            lines = f.read().splitlines()
    except (OSError, UnicodeDecodeError) as e:
        raise LayoutError(f"cannot read: {e}", path) from None
    classes = []
    for number, line in enumerate(lines, 1):
        line = line.strip()
        if not line or line.startswith("#"):
            continue
        fields = line.split(":")
        color = None
        if len(fields) > 1 and fields[1].strip():
            try:
                color = tuple(int(c) for c in fields[1].split(","))
            except ValueError:
                color = ()
            if len(color) != 3 or not all(0 <= c <= 255 for c in color):
                raise LayoutError(f"line {number}: colour {fields[1]!r} is not 'r,g,b' in 0..255", path)
        classes.append((fields[0], color))
    if not classes:
        raise LayoutError("defines no classes", path)
    return classes


def decode_indices(path, color_to_index, what):
    """Indices of a class or object PNG: palette / grey by index, colour images by colour."""
    try:
        with open(path, "rb") as f:
            data = f.read()
    except OSError as e:
        raise ImageError(f"cannot read: {e.strerror}", path) from None
    pixels = png.decode_png(data, path)
    if pixels is None:  # a flavour our decoder leaves to Pillow
        image = png.open_image(path)
        if image.mode not in ("P", "L", "RGB", "RGBA"):
            raise ImageError(f"expected a palette, grey or colour {what} image, got mode {image.mode}", path)
        pixels = np.asarray(image if image.mode in ("P", "L") else image.convert("RGB"))
    if pixels.ndim == 2:
        if pixels.dtype != np.uint8:
            raise ImageError(f"expected a palette, grey or colour {what} image, got 16-bit grey", path)
        return pixels
    rgb = pixels[..., :3].astype(np.uint32)
    codes = rgb[..., 0] << 16 | rgb[..., 1] << 8 | rgb[..., 2]
    indices = _color_table(tuple(sorted(color_to_index.items())))[codes]
    unknown = indices == _UNKNOWN_COLOR
    if unknown.any():
        code = int(codes[unknown][0])
        raise ImageError(f"colour {(code >> 16, code >> 8 & 255, code & 255)} is not a {what} of the label map", path)
    return indices.astype(np.uint8)


_UNKNOWN_COLOR = 0xFFFF


@functools.lru_cache(maxsize=4)
def _color_table(color_index_items):
    """(2^24,) uint16: RGB code -> index, :data:`_UNKNOWN_COLOR` for the colours not listed (one table per
    label map and process: a lookup in it is a tenth of sorting a frame's colours)."""
    table = np.full(1 << 24, _UNKNOWN_COLOR, dtype=np.uint16)
    for (r, g, b), index in color_index_items:
        table[r << 16 | g << 8 | b] = index
    return table


def splits_of(voc_root):
    """The splits of a VOC set: the names of its ``ImageSets/Segmentation/*.txt`` lists."""
    folder = os.path.join(voc_root, LIST_DIR)
    found = sorted(name[:-len(".txt")] for name in os.listdir(folder) if name.endswith(".txt")) \
        if os.path.isdir(folder) else []
    if not found:
        raise LayoutError("no VOC split lists", folder)
    return found


def read_split_list(list_file, missing):
    """The lines of a split's list file; :class:`LayoutError` ``missing`` when it cannot be read."""
    try:
        with open(list_file, encoding="utf-8") as f:
            return f.read().splitlines()
    except OSError:
        raise LayoutError(missing, list_file) from None
    except UnicodeDecodeError:
        raise LayoutError("not UTF-8 text", list_file) from None


def read_voc(voc_root, split):
    """The classes ``[(name, colour)]``, the items of one split and the lines refused.

    Items are ``(item id, read)``; ``read()`` gives ``(class indices or
    None, object indices or None, image path or None)``.  Every name in the
    list file is checked before anything is read: a name leaving the set's
    folders (or naming no files) is refused as an :class:`ItemError` naming
    the list file and line; the other items are still returned.
    """
    classes = read_labelmap(os.path.join(voc_root, "labelmap.txt"))
    class_index = {}
    for index, (_, color) in enumerate(classes):
        if color is not None:
            class_index.setdefault(color, index)
    class_index.setdefault(VOID_COLOR, IGNORE)
    object_index = {tuple(c): i for i, c in enumerate(voc_palette().tolist())}
    list_file = os.path.join(voc_root, LIST_DIR, split + ".txt")
    lines = read_split_list(list_file, f"no VOC split '{split}'")
    images = os.path.join(voc_root, "JPEGImages")
    items, refused = [], []
    for number, line in enumerate(lines, 1):
        name = line.strip()
        if not name or name.startswith("#"):
            continue
        where = f"{list_file}, line {number}"
        try:
            class_path = inside(os.path.join(voc_root, "SegmentationClass"), name, where, ".png")
            object_path = inside(os.path.join(voc_root, "SegmentationObject"), name, where, ".png")
            image_path = next((p for p in (inside(images, name, where, ext) for ext in IMAGE_EXTENSIONS)
                               if os.path.isfile(p)), None)
            if not os.path.isfile(class_path) and image_path is None:
                raise LayoutError(f"{where}: item {name!r} has no SegmentationClass/{name}.png and no image")
        except LayoutError as e:
            refused.append(ItemError(where, str(e).removeprefix(f"{where}: "), e))
            continue
        items.append((name, functools.partial(_read_item, class_path, object_path, image_path,
                                              class_index, object_index)))
    return classes, items, refused


def _read_item(class_path, object_path, image_path, class_index, object_index):
    semantic = decode_indices(class_path, class_index, "class") if os.path.isfile(class_path) else None
    objects = decode_indices(object_path, object_index, "object") if os.path.isfile(object_path) else None
    return semantic, objects, image_path
