"""CamVid segmentation sets to and from the Cityscapes layout, in the layout Datumaro's CamVid format reads
and writes.

A set has ``label_colors.txt`` (``R G B name`` per class, in index order),
one list per split (``val.txt``: lines ``/val/{id}.png valannot/{id}.png``,
image then mask, relative to the set, each in double quotes when it holds a
space), the images in ``{split}/`` and the masks in ``{split}annot/``.

Written: colour masks (RGB PNGs, the class colours of ``label_colors.txt``);
the classes are background plus the 19 evaluated Cityscapes classes, or every
label id with ``full_table`` (distinct colours then, as for VOC: masks are
read by colour).  CamVid has no void colour apart from its black ``Void``, so
void pixels are background.  Images (``save_images``) are PNGs.  Names in
``label_colors.txt`` are one word each, as Datumaro reads them.

Read: colour masks by colour, palette and grey masks by index (the
SegNet CamVid release has grey index masks); without ``label_colors.txt``,
CamVid's 32 classes (Datumaro's default).  Item ids are the image paths below
their first folder, without extension, as Datumaro names them.
"""
import functools
import os

import numpy as np

from .. import kernels
from ..errors import ItemError, LayoutError
from ..helpers.labelset import LabelSet, label_colors_text
from ..io import layout, png
from ..io.files import make_folders, write_atomic
from .cityscapes import camera_image, inside, map_frames
from .voc import decode_indices, read_split_list, voc_classes

LABEL_COLORS = "label_colors.txt"
# CamVid's 32 classes (Brostow et al., 2009), Datumaro's default when a set has no label_colors.txt
CAMVID_CLASSES = (
    ("Void", (0, 0, 0)), ("Animal", (64, 128, 64)), ("Archway", (192, 0, 128)), ("Bicyclist", (0, 128, 192)),
    ("Bridge", (0, 128, 64)), ("Building", (128, 0, 0)), ("Car", (64, 0, 128)), ("CartLuggagePram", (64, 0, 192)),
    ("Child", (192, 128, 64)), ("Column_Pole", (192, 192, 128)), ("Fence", (64, 64, 128)),
    ("LaneMkgsDriv", (128, 0, 192)), ("LaneMkgsNonDriv", (192, 0, 64)), ("Misc_Text", (128, 128, 64)),
    ("MotorcycycleScooter", (192, 0, 192)), ("OtherMoving", (128, 64, 64)), ("ParkingBlock", (64, 192, 128)),
    ("Pedestrian", (64, 64, 0)), ("Road", (128, 64, 128)), ("RoadShoulder", (128, 128, 192)),
    ("Sidewalk", (0, 0, 192)), ("SignSymbol", (192, 128, 128)), ("Sky", (128, 128, 128)),
    ("SUVPickupTruck", (64, 128, 192)), ("TrafficCone", (0, 0, 64)), ("TrafficLight", (0, 64, 64)),
    ("Train", (192, 64, 128)), ("Tree", (128, 128, 0)), ("Truck_Bus", (192, 128, 192)), ("Tunnel", (64, 0, 64)),
    ("VegetationMisc", (192, 192, 0)), ("Wall", (64, 192, 0)),
)


def _write_item(frame, out, colors, save_images):
    """One frame's colour mask (and PNG image); returns its list line."""
    semantic = frame.semantic()
    item = frame.item_id
    image, mask = f"{frame.split}/{item}.png", f"{frame.split}annot/{item}.png"
    packed = kernels.lookup(semantic, colors).view(np.uint8).reshape(*semantic.shape, 4)
    files = [(os.path.join(out, mask), png.encode_png(np.ascontiguousarray(packed[..., :3])))]
    if save_images and layout.CAMERA in frame.paths:
        camera = camera_image(frame.paths[layout.CAMERA], semantic)
        files.append((os.path.join(out, image), camera if isinstance(camera, bytes) else png.encode_png(camera)))
    for path, data in files:
        os.makedirs(os.path.dirname(path), exist_ok=True)
        write_atomic(path, data)
    image = "/" + image  # Datumaro's lists: the image from the set's root, the mask relative to it
    if " " in image or " " in mask:
        image, mask = f'"{image}"', f'"{mask}"'
    return f"{image} {mask}"


def write_camvid(dataset, out, full_table=False, save_images=False, jobs=None, progress=None):
    """Write the frames of a :class:`~.cityscapes.CityscapesDataset` as a CamVid set, on ``jobs`` processes.

    Returns ``(item lines written, [ItemError] failed)``; one list per split.  Frames with only an
    image are left out.
    """
    classes, table = voc_classes(dataset.label_set, full_table)
    table = np.where(table == 255, 0, table)  # void: background (black)
    rgba = np.zeros((256, 4), dtype=np.uint8)
    rgba[:len(classes), :3] = [color for _, color in classes]
    colors = rgba.view(np.uint32).ravel()[table]  # label id -> RGBA packed in 4 bytes: one compiled lookup a pixel
    make_folders(out)
    task = functools.partial(_write_item, out=out, colors=colors, save_images=save_images)
    lists, failed = map_frames(task, dataset, jobs, "camvid", progress)
    for split, lines in lists.items():
        write_atomic(os.path.join(out, split + ".txt"), ("\n".join(lines) + "\n").encode())
    write_atomic(os.path.join(out, LABEL_COLORS), label_colors_text(classes).encode())
    return [line for lines in lists.values() for line in lines], failed


def read_classes(root):
    """``[(name, colour or None)]`` of a CamVid set in index order: its ``dataset_meta.json`` or
    ``label_colors.txt`` (read as the Cityscapes layout reads them), else CamVid's 32 classes."""
    if not any(os.path.isfile(os.path.join(root, name)) for name in ("dataset_meta.json", LABEL_COLORS)):
        return list(CAMVID_CLASSES)
    label_set = LabelSet.for_dataset(root)
    return [(label.name, tuple(label.color)) for label in sorted(label_set.labels, key=lambda label: label.id)
            if label.id >= 0]


def splits_of(root):
    """The splits of a CamVid set: its list files (``*.txt`` but ``label_colors.txt``)."""
    found = sorted(name[:-len(".txt")] for name in os.listdir(root)
                   if name.endswith(".txt") and name != LABEL_COLORS) if os.path.isdir(root) else []
    if not found:
        raise LayoutError("no CamVid split lists (*.txt)", root)
    return found


def _list_line(line):
    """``(image, mask or None)`` of a list line: two paths, each in double quotes when it holds a space."""
    if '"' in line:
        parts = line.split('"')
        if len(parts) != 5 or parts[0].strip() or parts[2].strip() or parts[4].strip():
            raise LayoutError(f"expected '\"image\" \"mask\"', got {line!r}")
        return parts[1], parts[3]
    parts = line.split()
    if len(parts) > 2:
        raise LayoutError(f"expected 'image [mask]', got {line!r}")
    return parts[0], parts[1] if len(parts) > 1 else None


def read_camvid(root, split):
    """The classes ``[(name, colour)]``, the items of one split and the lines refused.

    Items are ``(item id, read)``; ``read()`` gives ``(class indices or None, None, image path or
    None)`` (no objects: the shape of :func:`~.voc.read_voc`'s items).  Every path in the list is
    checked (inside the set) before anything is read; a refused line is an :class:`ItemError`
    naming the list and line, the others are kept.
    """
    classes = read_classes(root)
    color_index = {}
    for index, (_, color) in enumerate(classes):
        color_index.setdefault(color, index)
    list_file = os.path.join(root, split + ".txt")
    lines = read_split_list(list_file, f"no CamVid split '{split}'")
    items, refused = [], []
    for number, line in enumerate(lines, 1):
        if not line.strip() or line.lstrip().startswith("#"):
            continue
        where = f"{list_file}, line {number}"
        try:
            image, mask = _list_line(line.strip())
            item = os.path.splitext("/".join(image.lstrip("/").split("/")[1:]) or image.lstrip("/"))[0]
            image_path = inside(root, image.lstrip("/"), where)
            mask_path = inside(root, mask.lstrip("/"), where) if mask else None
            if mask_path is not None and not os.path.isfile(mask_path):
                raise LayoutError(f"{where}: mask {mask} not found")
        except LayoutError as e:
            refused.append(ItemError(where, str(e).removeprefix(f"{where}: "), e))
            continue
        image_path = image_path if os.path.isfile(image_path) else None
        items.append((item, functools.partial(_read_item, mask_path, image_path, color_index)))
    return classes, items, refused


def _read_item(mask_path, image_path, color_index):
    return (decode_indices(mask_path, color_index, "class") if mask_path else None), None, image_path
