"""The Cityscapes tree as a dataset: frames with their files and lazy loaders; writing frames back.

A dataset root holds ``gtFine/`` and/or ``gtCoarse/`` (annotations) and image
folders such as ``leftImg8bit/``; :class:`CityscapesDataset` also accepts a
``gtFine`` folder or one split folder.  A ``dataset_meta.json`` or
``label_colors.txt`` at the root replaces the Cityscapes label table.
"""
from __future__ import annotations

import functools
import json
import os
import zlib
from dataclasses import dataclass, field
from typing import Any, Callable, Iterator, NamedTuple, Optional, Sequence

import numpy as np

from .. import parallel
from ..errors import ImageError, ItemError, LayoutError
from ..helpers.annotation import Annotation
from ..helpers.labelset import CITYSCAPES, LabelSet, save_label_set  # noqa: F401 - save_label_set: a public name here too
from ..io import layout, limits, png
from ..io.files import StrPath, make_folders, real_location, resolve_inside, write_atomic
from ..preparation import rasterize

IMAGE_EXTENSIONS = (".png", ".jpg", ".jpeg", ".jpe", ".bmp", ".tif", ".tiff", ".webp")


@dataclass
class InstanceMask:
    """One object of a frame: its pixels, label, instance id and whether it is a crowd (group) region."""
    mask: np.ndarray
    label: object
    instance_id: int
    is_crowd: bool


@dataclass
class Frame:
    """One frame: its name, split and folder, and the paths of every modality present.

    ``id`` is the file name's frame part (``{city}_{seq}_{frame}`` in a real
    tree, any name in trees other tools write); ``city`` is the folder below
    the split that holds it (``''`` at the top, ``a/b`` nested).  ``paths``
    keys are ground-truth modalities (``polygons``, ``labelIds``,
    ``labelTrainIds``, ``instanceIds``, ``instanceTrainIds``, ``color``,
    ``panoptic``) and image folders (``leftImg8bit``, ...).  A frame may have
    only an image.
    """
    id: str
    split: str
    city: str
    paths: dict = field(default_factory=dict)
    label_set: LabelSet = CITYSCAPES
    annotation_type: str = "gtFine"

    @property
    def item_id(self) -> str:
        """The frame's name in other formats: the frame id when its folder is its city, else its path
        below the split (``a/b/1``), as Datumaro names items."""
        if not self.city or (layout.is_frame_id(self.id) and self.city == layout.frame_city(self.id)):
            return self.id
        return f"{self.city}/{self.id}"

    @property
    def annotated(self) -> bool:
        """Whether the frame has any ground truth (else it is an image alone)."""
        return any(kind in self.paths for kind in layout.GT_MODALITIES)

    def image(self, kind: str = layout.CAMERA) -> np.ndarray:
        """The camera image as an (H, W, 3) uint8 array."""
        if kind not in self.paths:
            raise LayoutError(f"frame {self.item_id} has no {kind} image")
        return png.read_rgb(self.paths[kind])

    def annotation(self) -> Annotation:
        """The polygon annotation (:class:`Annotation`)."""
        if "polygons" not in self.paths:
            raise LayoutError(f"frame {self.item_id} has no polygon file")
        annotation = Annotation()
        annotation.fromJsonFile(self.paths["polygons"])
        return annotation

    def _object_map(self):
        return rasterize.rasterize(self.annotation(), self.label_set)

    def _missing(self, what):
        found = ", ".join(sorted(self.paths)) or "nothing"
        return LayoutError(f"frame {self.item_id} ({self.split}) has no {what} (found: {found})")

    @property
    def train_ids_win(self) -> bool:
        """Whether ``*_labelTrainIds.png`` gives the classes before ``*_instanceIds.png``: in a frame with
        neither labelIds nor polygons, a tree another tool wrote (Datumaro reads labelTrainIds whenever
        they exist); a real Cityscapes frame has both and reads its labelIds."""
        return "labelTrainIds" in self.paths and "labelIds" not in self.paths and "polygons" not in self.paths

    def semantic(self) -> np.ndarray:
        """Label ids, (H, W) uint8, from the first present of ``*_labelIds.png``, ``*_instanceIds.png``,
        the polygons and ``*_labelTrainIds.png`` (train ids mapped back to ids; 255 to the background);
        labelTrainIds before instanceIds when :attr:`train_ids_win`."""
        if "labelIds" in self.paths:
            return png.read_label_map(self.paths["labelIds"])
        if self.train_ids_win:
            return self._from_train_ids()
        if "instanceIds" in self.paths:
            ids = png.read_ids_16bit(self.paths["instanceIds"])
            return np.where(ids >= 1000, ids // 1000, ids).astype(np.uint8)
        if "polygons" in self.paths:
            return rasterize.encode(self._object_map(), "labelIds")
        if "labelTrainIds" in self.paths:
            return self._from_train_ids()
        raise self._missing("labelIds, instanceIds, polygons or labelTrainIds")

    def _from_train_ids(self):
        return self.label_set.train_id_to_id[png.read_label_map(self.paths["labelTrainIds"])]

    def instance_ids(self) -> np.ndarray:
        """Instance ids, (H, W) uint16, from the first present of ``*_instanceIds.png``, the polygons,
        ``*_instanceTrainIds.png`` (train ids mapped back) and the label ids (no instances).

        When :attr:`train_ids_win`, an instanceIds value is kept only where its class is the
        labelTrainIds class; elsewhere the pixel gets that class's label id."""
        if "instanceIds" in self.paths:
            ids = png.read_ids_16bit(self.paths["instanceIds"])
            if not self.train_ids_win:
                return ids
            classes = self._from_train_ids()
            agree = np.where(ids >= 1000, ids // 1000, ids) == classes
            return np.where(agree, ids, classes).astype(np.uint16)
        if "polygons" in self.paths:
            return rasterize.encode(self._object_map(), "instanceIds")
        if "instanceTrainIds" in self.paths:
            ids = png.read_ids_16bit(self.paths["instanceTrainIds"]).astype(np.int64)
            label_ids = self.label_set.train_id_to_id[np.where(ids >= 1000, ids // 1000, ids)]
            return np.where(ids >= 1000, label_ids.astype(np.int64) * 1000 + ids % 1000, label_ids).astype(np.uint16)
        if "labelIds" in self.paths or "labelTrainIds" in self.paths:
            return self.semantic().astype(np.uint16)
        raise self._missing("instanceIds, polygons, instanceTrainIds, labelIds or labelTrainIds")

    def instances(self) -> list[InstanceMask]:
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

    Reads real Cityscapes trees and every tree Datumaro writes: frames at any
    depth below ``{annotations}/{split}`` named ``{id}_{annotations}_{modality}``,
    images ``leftImg8bit/{split}/{id}_leftImg8bit.{png,jpg,bmp,...}`` (items
    with only an image are frames too); ``{annotations}/cityscapes_panoptic_{split}``
    holds the panoptic PNGs and is not a split.

    Nothing outside the split folders is read: a file that is a symbolic link
    leading out of its split folder leaves its frame out, a linked folder
    leading out is not entered, and each becomes an :class:`ItemError` (file
    and reason) in :attr:`failures`, which batch tools report with their own.
    A linked split folder, or a linked folder above it, is fine.

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

    def __init__(self, root: StrPath, split: str | None = "val", annotations: str = "gtFine",
                 label_set: LabelSet | None = None) -> None:
        root = os.path.abspath(os.fspath(root))
        base, parent = os.path.basename(root), os.path.basename(os.path.dirname(root))
        if base in layout.ANNOTATION_TYPES:
            root, annotations = os.path.dirname(root), base
        elif parent in layout.ANNOTATION_TYPES or parent == layout.CAMERA:
            root, split = os.path.dirname(os.path.dirname(root)), base
            annotations = parent if parent != layout.CAMERA else annotations
        self.root, self.split, self.annotation_type = root, split, annotations
        self.label_set = label_set or LabelSet.for_dataset(root)
        self.failures: list[ItemError] = []
        self.frames = self._discover() if os.path.isdir(root) else []
        if not self.frames and not self.failures:
            found = self.splits()
            raise LayoutError(
                "no Cityscapes frames found; looked for "
                f"{os.path.join(root, annotations, split or '*', '**', f'*_{annotations}_*')} and "
                f"{os.path.join(root, layout.CAMERA, split or '*', '**', f'*_{layout.CAMERA}.*')}"
                + (f"; splits present: {', '.join(found)}" if found else ""))

    def splits(self) -> list[str]:
        """Split folders present under the annotation and image folders (not the panoptic folders)."""
        names: set[str] = set()
        for folder in (self.annotation_type, layout.CAMERA):
            names.update(s for s in layout.splits_of(self.root, folder) if not s.startswith(layout.PANOPTIC_PREFIX))
        return sorted(names)

    def _discover(self):
        """The frames found, sorted; fills :attr:`failures` with the files refused and leaves their frames out."""
        frames, refused = {}, {}

        def take(frame, kind, path, refusal):
            if refusal is None:
                frame.paths[kind] = path
            else:
                refused.setdefault(id(frame), []).append(ItemError(
                    path, f"{refusal}; frame {frame_name(frame)} skipped"))

        for split in [self.split] if self.split else self.splits():
            split_dir = os.path.join(self.root, self.annotation_type, split)
            files, folders_refused = _walk(split_dir)
            self.failures += folders_refused  # their frames are unknown
            for path, rel, refusal in files:
                match = layout.GT_FILE_NAME.fullmatch(os.path.basename(rel))
                if match and match["type"] == self.annotation_type:
                    frame = self._frame(frames, split, os.path.dirname(rel), match["id"])
                    take(frame, match["modality"], path, refusal)
            for folder in sorted(os.listdir(self.root)):
                if folder.startswith("gt") or not os.path.isdir(os.path.join(self.root, folder, split)):
                    continue
                suffix = "_" + folder
                files, folders_refused = _walk(os.path.join(self.root, folder, split))
                self.failures += folders_refused
                for path, rel, refusal in files:
                    stem, ext = os.path.splitext(rel)
                    if ext.lower() not in IMAGE_EXTENSIONS:
                        continue
                    stem = stem[:-len(suffix)] if stem.endswith(suffix) else stem
                    if folder == layout.CAMERA:  # an image alone is an item (Datumaro's rule)
                        frame = self._frame(frames, split, os.path.dirname(stem), os.path.basename(stem))
                    else:
                        frame = frames.get((split, stem))
                    if frame is not None:
                        take(frame, folder, path, refusal)
            panoptic = os.path.join(self.root, self.annotation_type, layout.panoptic_set_name(split))
            by_id = {frame.id: frame for (s, _), frame in frames.items() if s == split}
            for frame_id, path in layout.panoptic_pngs(panoptic).items():
                frame = by_id.get(frame_id)
                if frame is not None:
                    take(frame, "panoptic", path, _refusal(path, panoptic))
        kept = []
        for key in sorted(frames):
            if id(frames[key]) in refused:
                self.failures.extend(refused[id(frames[key])])
            else:
                kept.append(frames[key])
        return kept

    def _frame(self, frames, split, folder, name):
        key = (split, f"{folder}/{name}" if folder else name)
        if key not in frames:
            frames[key] = Frame(name, split, folder, {}, self.label_set, self.annotation_type)
        return frames[key]

    def __len__(self) -> int:
        return len(self.frames)

    def __iter__(self) -> Iterator[Frame]:
        return iter(self.frames)

    def __getitem__(self, index: int) -> Frame:
        return self.frames[index]


def map_frames(task: Callable[[Frame], Any], dataset: CityscapesDataset, jobs: parallel.Run | int | None = None,
               desc: str = "frames", progress: bool | None = None) -> tuple[dict[str, list[Any]], list[ItemError]]:
    """Run ``task(frame)`` on the annotated frames of ``dataset`` on ``jobs`` processes (frames with
    only an image are left out, as the formats written from them list annotated items).

    Returns ``({split: [results]}, [ItemError] failed)``, results in frame order.
    """
    frames = [frame for frame in dataset if frame.annotated]
    by_split: dict[str, list[Any]] = {}
    failed: list[ItemError] = []
    for frame, result in zip(frames, parallel.map_items(task, frames, jobs, desc, progress, frame_name)):
        if isinstance(result, ItemError):
            failed.append(result)
        else:
            by_split.setdefault(frame.split, []).append(result)
    return by_split, failed


def frame_name(frame: Frame) -> str:
    """How a frame is named in its error: its split and item id."""
    return f"{frame.split}/{frame.item_id}"


def _walk(folder):
    """The files below ``folder`` and the folders refused there.

    Files: ``(path, path relative to folder with '/', refusal)``, sorted;
    ``refusal`` is None, or why a file that is a symbolic link leading out of
    ``folder`` is refused.  Folders: ``[ItemError]`` of the symbolic links to
    folders outside ``folder``, which are not entered.
    """
    if not os.path.isdir(folder):
        return [], []
    real_folders = {}  # each folder resolved once
    files, folders = [], []
    for dirpath, dirnames, filenames in os.walk(folder, followlinks=True):
        for name in sorted(dirnames):
            path = os.path.join(dirpath, name)
            refusal = _refusal(path, folder, real_folders)
            if refusal:
                dirnames.remove(name)
                folders.append(ItemError(path, refusal))
        for name in filenames:
            path = os.path.join(dirpath, name)
            files.append((path, os.path.relpath(path, folder).replace(os.sep, "/"),
                          _refusal(path, folder, real_folders)))
    return sorted(files, key=lambda p: p[1]), folders


def _refusal(path, folder, real_folders=None):
    """Why ``path`` is refused (a symbolic link leading out of ``folder``), or None."""
    real, inside = real_location(path, folder, real_folders=real_folders)
    return None if inside else f"symbolic link leads out of {folder} to {real}"


def inside(folder: str, name: str, source: str, suffix: str = "") -> str:
    """``folder/{name}{suffix}`` for a ``name`` read from a file (``source``: ``"list.txt, line 3"``).

    Absolute names, and ``..`` or symbolic links leading out of ``folder``,
    raise :class:`LayoutError`.
    """
    return resolve_inside(folder, name + suffix if name else name, LayoutError, source, "name")


def cityscapes_frame_id(name: str, index: int) -> str:
    """The frame id to write an item under.

    A name whose last part already is ``{city}_{seq}_{frame}`` (six-digit
    numbers) keeps that part; any other name becomes
    ``default_{crc}_{index}``: ``crc`` is the CRC-32 of the name modulo 10^6
    and ``index`` its position, both six digits, so the same input always
    gives the same ids.
    """
    base = name.replace("\\", "/").rsplit("/", 1)[-1]
    parts = base.split("_")
    if len(parts) >= 3 and layout.is_frame_id("_".join([parts[0]] + parts[-2:])):
        return base if len(parts) == 3 else f"{'-'.join(parts[:-2])}_{parts[-2]}_{parts[-1]}"
    return f"default_{zlib.crc32(name.encode()) % 1000000:06d}_{index:06d}"


class SourceItem(NamedTuple):
    """One item of another format, read: what :func:`write_items` writes as a Cityscapes frame.

    label_ids : (H, W) uint8 label ids or None (an image alone); instance_ids : (H, W) ``id * 1000 + k``
    or None (the label ids); image_path : the camera image or None; polygons : an annotation dict or None.
    """
    label_ids: Optional[np.ndarray]
    instance_ids: Optional[np.ndarray] = None
    image_path: Optional[str] = None
    polygons: Optional[dict] = None


def camera_image(path: StrPath, label_ids: np.ndarray | None = None) -> bytes | np.ndarray:
    """A camera image to write: a PNG's bytes as they are (no decoding, the same pixels), another format
    decoded; :class:`ImageError` when its size is not that of ``label_ids``."""
    try:
        with open(path, "rb") as f:
            data = f.read()
    except OSError as e:
        raise ImageError(f"cannot read: {e.strerror}", path) from None
    width, height = limits.header_size(path, data)
    if label_ids is not None and label_ids.shape != (height, width):
        raise ImageError(f"image is {width}x{height} but its labels are {label_ids.shape[1]}x{label_ids.shape[0]}",
                         path)
    return data if data.startswith(b"\x89PNG\r\n\x1a\n") else png.read_rgb(path, data=data)


def make_split_folders(root: StrPath, split: str, annotation_type: str = "gtFine") -> None:
    """Create ``{annotation_type}/{split}`` and ``leftImg8bit/{split}`` (Datumaro's importer needs both)."""
    for folder in (annotation_type, layout.CAMERA):
        make_folders(os.path.join(root, folder, split))


def write_frame(root: StrPath, split: str, frame_id: str, label_ids: np.ndarray | None = None,
                instance_ids: np.ndarray | None = None, image: np.ndarray | bytes | None = None,
                label_set: LabelSet = CITYSCAPES, outputs: Sequence[str] = ("labelIds", "instanceIds", "color"),
                image_ext: str = ".png", annotation_type: str = "gtFine", polygons: dict | None = None,
                folder: str | None = None) -> list[str]:
    """Write one frame into the Cityscapes layout; returns the paths written.

    label_ids : (H, W) uint8 label ids of ``label_set``; instance_ids : (H, W)
    ``id * 1000 + k`` map (default: the label ids); image : (H, W, 3) uint8, or
    the bytes of an image file in the format ``image_ext`` names (written as they are);
    polygons : an annotation dict to save as ``*_polygons.json``; folder : the
    folder below the split (default: the city of ``frame_id``).  Every file is
    encoded before the first is written, and each is written atomically.
    """
    folder = layout.frame_city(frame_id) if folder is None else folder
    files = []
    ground_truth = functools.partial(layout.frame_file, root, annotation_type, split, folder, frame_id)
    if polygons is not None:
        files.append((ground_truth("polygons", "json"), json.dumps(polygons, indent=4).encode()))
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
            files.append((ground_truth(encoding), png.encode_png(data)))
    if image is not None:
        path = layout.frame_file(root, layout.CAMERA, split, folder, frame_id, ext=image_ext.lstrip("."))
        files.append((path, image if isinstance(image, bytes) else png.encode_image(image, image_ext)))
    for path, encoded in files:
        os.makedirs(os.path.dirname(path), exist_ok=True)
        write_atomic(path, encoded)
    return [path for path, _ in files]
