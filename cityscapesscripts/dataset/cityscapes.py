"""The Cityscapes tree as a dataset: frames with their files and lazy loaders; writing frames back.

A dataset root holds ``gtFine/`` and/or ``gtCoarse/`` (annotations) and image
folders such as ``leftImg8bit/``; :class:`CityscapesDataset` also accepts a
``gtFine`` folder or one split folder.  A ``dataset_meta.json`` or
``label_colors.txt`` at the root replaces the Cityscapes label table.
"""
import glob
import os
import zlib
from dataclasses import dataclass, field

import numpy as np

from ..errors import LayoutError
from ..helpers.annotation import Annotation
from ..helpers.labelset import CITYSCAPES, LabelSet
from ..io import layout, png
from ..preparation import rasterize

IMAGE_EXTENSIONS = (".png", ".jpg", ".jpeg")


@dataclass
class InstanceMask:
    """One object of a frame: its pixels, label, instance id and whether it is a crowd (group) region."""
    mask: np.ndarray
    label: object
    instance_id: int
    is_crowd: bool


@dataclass
class Frame:
    """One frame: ``{city}_{seq}_{frame}``, its split and city, and the paths of every modality present.

    ``paths`` keys are ground-truth modalities (``polygons``, ``labelIds``,
    ``labelTrainIds``, ``instanceIds``, ``instanceTrainIds``, ``color``,
    ``panoptic``) and image types (``leftImg8bit``, ...).
    """
    id: str
    split: str
    city: str
    paths: dict = field(default_factory=dict)
    label_set: object = CITYSCAPES
    annotation_type: str = "gtFine"

    def image(self, kind="leftImg8bit"):
        """The camera image as an (H, W, 3) uint8 array."""
        if kind not in self.paths:
            raise LayoutError(f"frame {self.id} has no {kind} image")
        return png.read_rgb(self.paths[kind])

    def annotation(self):
        """The polygon annotation (:class:`Annotation`)."""
        if "polygons" not in self.paths:
            raise LayoutError(f"frame {self.id} has no polygon file")
        annotation = Annotation()
        annotation.fromJsonFile(self.paths["polygons"])
        return annotation

    def _object_map(self):
        return rasterize.rasterize(self.annotation(), self.label_set)

    def semantic(self):
        """Label ids, (H, W) uint8: from ``*_labelIds.png``, else drawn from the polygons."""
        if "labelIds" in self.paths:
            return png.read_label_map(self.paths["labelIds"])
        return rasterize.encode(self._object_map(), "labelIds")

    def instance_ids(self):
        """Instance ids, (H, W) uint16: from ``*_instanceIds.png``, else drawn from the polygons."""
        if "instanceIds" in self.paths:
            return png.read_ids_16bit(self.paths["instanceIds"])
        return rasterize.encode(self._object_map(), "instanceIds")

    def instances(self):
        """Objects of classes with instances, in id order.

        A value ``>= 1000`` is one instance; a smaller value on a class with
        instances is a crowd (group) region.
        """
        ids = self.instance_ids()
        out = []
        for value in np.unique(ids).tolist():
            label_id = value // 1000 if value >= 1000 else value
            label = self.label_set.id2label.get(label_id)
            if label is None or not label.hasInstances:
                continue
            out.append(InstanceMask(ids == value, label, value, value < 1000))
        return out


class CityscapesDataset:
    """The frames of a Cityscapes tree, in a stable (sorted) order.

    Parameters
    ----------
    root : path
        Dataset root, an annotation folder (``gtFine``) or a split folder.
    split : str or None
        Split to read (None: every split found).
    annotations : str
        ``gtFine`` or ``gtCoarse``.
    label_set : LabelSet or None
        Default: the root's ``dataset_meta.json`` / ``label_colors.txt``, else Cityscapes.
    """

    def __init__(self, root, split="val", annotations="gtFine", label_set=None):
        root = os.path.abspath(os.fspath(root))
        base, parent = os.path.basename(root), os.path.basename(os.path.dirname(root))
        if base in layout.ANNOTATION_TYPES:
            root, annotations = os.path.dirname(root), base
        elif parent in layout.ANNOTATION_TYPES:
            root, annotations, split = os.path.dirname(os.path.dirname(root)), parent, base
        self.root, self.split, self.annotation_type = root, split, annotations
        self.label_set = label_set or LabelSet.for_dataset(root)
        self.frames = self._discover() if os.path.isdir(root) else []
        if not self.frames:
            looked = os.path.join(root, annotations, split or "*", "*", f"*_{annotations}_*")
            raise LayoutError(f"no Cityscapes frames found; looked for {looked} and "
                              f"{os.path.join(root, '*', split or '*', '*', '*_*.png')}")

    def _discover(self):
        frames = {}
        splits = [self.split] if self.split else layout.splits_of(self.root, self.annotation_type) or ["*"]
        for split in splits:
            gt_pattern = os.path.join(self.root, self.annotation_type, split, "*", "*")
            for path in sorted(glob.glob(gt_pattern)):
                try:
                    parsed = layout.parse_name(path)
                except LayoutError:
                    continue
                frame = self._frame(frames, path, parsed)
                frame.paths[parsed.type2 or parsed.type] = path
            panoptic = os.path.join(self.root, self.annotation_type, f"cityscapes_panoptic_{split}", "*_panoptic.png")
            for path in sorted(glob.glob(panoptic)):
                key = layout.frame_id(path)
                if key in frames:
                    frames[key].paths["panoptic"] = path
            for folder in sorted(os.listdir(self.root)):
                if folder.startswith("gt") or not os.path.isdir(os.path.join(self.root, folder, split if
                                                                                 split != "*" else "")):
                    continue
                for path in sorted(glob.glob(os.path.join(self.root, folder, split, "*", "*"))):
                    if os.path.splitext(path)[1].lower() not in IMAGE_EXTENSIONS:
                        continue
                    try:
                        key = layout.frame_id(path)
                    except LayoutError:
                        continue
                    if key in frames:
                        frames[key].paths[folder] = path
        return [frames[k] for k in sorted(frames)]

    def _frame(self, frames, path, parsed):
        key = f"{parsed.city}_{parsed.sequenceNb}_{parsed.frameNb}"
        if key not in frames:
            split = os.path.basename(os.path.dirname(os.path.dirname(path)))
            frames[key] = Frame(key, split, parsed.city, {}, self.label_set, self.annotation_type)
        return frames[key]

    def __len__(self):
        return len(self.frames)

    def __iter__(self):
        return iter(self.frames)

    def __getitem__(self, index):
        return self.frames[index]


def cityscapes_frame_id(name, index):
    """The frame id to write an item under.

    A name that already is ``{city}_{seq}_{frame}`` (six-digit numbers) is
    kept; any other name becomes ``default_{crc}_{index}``: ``crc`` is the
    CRC-32 of the name modulo 10^6 and ``index`` its position, both six digits,
    so the same input always gives the same ids.
    """
    parts = name.split("_")
    if len(parts) >= 3 and all(len(p) == 6 and p.isdigit() for p in parts[-2:]) and parts[0]:
        return "_".join(parts[-3:]) if len(parts) == 3 else f"{'-'.join(parts[:-2])}_{parts[-2]}_{parts[-1]}"
    return f"default_{zlib.crc32(name.encode()) % 1000000:06d}_{index:06d}"


def write_frame(root, split, frame_id, label_ids=None, instance_ids=None, image=None, label_set=CITYSCAPES,
                outputs=("labelIds", "instanceIds", "color"), image_ext=".png", annotation_type="gtFine",
                polygons=None):
    """Write one frame into the Cityscapes layout; returns the paths written.

    label_ids : (H, W) uint8 label ids of ``label_set``; instance_ids : (H, W)
    ``id * 1000 + k`` map (default: the label ids); image : (H, W, 3) uint8;
    polygons : an annotation dict to save as ``*_polygons.json``.
    """
    city = frame_id.split("_")[0]
    gt_dir = os.path.join(root, annotation_type, split, city)
    os.makedirs(gt_dir, exist_ok=True)
    base = os.path.join(gt_dir, f"{frame_id}_{annotation_type}_")
    written = []
    if polygons is not None:
        import json
        png.write_atomic(base + "polygons.json", json.dumps(polygons, indent=4).encode())
        written.append(base + "polygons.json")
    if label_ids is not None:
        label_ids = np.asarray(label_ids, dtype=np.uint8)
        inst = label_ids.astype(np.uint16) if instance_ids is None else np.asarray(instance_ids, dtype=np.uint16)
        for encoding in outputs:
            if encoding == "instanceIds":
                data = inst
            elif encoding == "instanceTrainIds":
                data = rasterize.instances_from_ids(inst, label_set)
            else:
                data = rasterize.from_label_ids(label_ids, encoding, label_set)
            path = base + encoding + ".png"
            png.write_png(path, data)
            written.append(path)
    if image is not None:
        img_dir = os.path.join(root, "leftImg8bit", split, city)
        os.makedirs(img_dir, exist_ok=True)
        path = os.path.join(img_dir, f"{frame_id}_leftImg8bit{image_ext}")
        if image_ext == ".png":
            png.write_png(path, np.asarray(image, dtype=np.uint8))
        else:
            from PIL import Image
            png.save_image_atomic(Image.fromarray(np.asarray(image, dtype=np.uint8)), path, quality=95)
        written.append(path)
    return written


def save_label_set(root, label_set, kind="label_colors"):
    """Write ``label_colors.txt`` (``kind='label_colors'``) or ``dataset_meta.json`` describing ``label_set``."""
    import json
    drawn = [label for label in label_set.labels if label.id >= 0]
    if kind == "label_colors":
        colors = [label.color for label in drawn]
        if len(set(colors)) != len(colors):
            raise ValueError("the label set repeats colours, which label_colors.txt cannot hold; "
                             "save a dataset_meta.json instead")
        text = "".join(f"{r} {g} {b} {label.name}\n" for label in drawn for r, g, b in [label.color])
        path = os.path.join(root, "label_colors.txt")
        png.write_atomic(path, text.encode())
    else:
        meta = {"label_map": {str(label.id): label.name for label in drawn},
                "segmentation_colors": [list(label.color) for label in drawn],
                "background_label": str(label_set.background.id)}
        path = os.path.join(root, "dataset_meta.json")
        png.write_atomic(path, json.dumps(meta, indent=4).encode())
    return path
