"""The Cityscapes file layout, and nothing else in the package knows it.

Files live at ``{root}/{type}{video}/{split}/{city}/{city}_{seq}_{frame}_{type}[_{type2}].{ext}``
(``seq`` and ``frame`` six digits), for example
``gtFine/val/lindau/lindau_000000_000019_gtFine_labelIds.png``.
"""
from __future__ import annotations

import bisect
import glob
import os
import re
from collections import namedtuple
from typing import Iterator, Sequence

from ..errors import LayoutError
from .files import StrPath

# the original's name of the type, printed in its repr
CsFile = namedtuple("csFile", ["city", "sequenceNb", "frameNb", "type", "type2", "ext"])  # type: ignore[name-match]

FINE, COARSE = "gtFine", "gtCoarse"
ANNOTATION_TYPES = (FINE, COARSE)
CAMERA = "leftImg8bit"  # the camera images' folder and file type
BOX3D, BOX3D_PREDICTIONS = "gtBbox3d", "predBbox3d"  # Cityscapes 3D: ground truth; the results' sub-folder
CITYPERSONS, DISPARITY = "gtBboxCityPersons", "disparity"
SPLITS = ("train", "val", "test", "train_extra")
GT_MODALITIES = ("polygons", "labelIds", "labelTrainIds", "instanceIds", "instanceTrainIds", "color")
GT_EXTENSIONS = {"polygons": "json"}
POLYGONS_SUFFIX = "_polygons.json"
PANOPTIC_PREFIX = "cityscapes_panoptic_"  # COCO panoptic sets: {PANOPTIC_PREFIX}{split}[_trainId](.json)
# a ground-truth file of any tree: {id}_{type}_{modality}.{png,json}, the id anything (Datumaro's trees)
GT_FILE_NAME = re.compile(r"(?P<id>.+)_(?P<type>gt[A-Za-z]+)_(?P<modality>{})\.(?:png|json)$".format(
    "|".join(GT_MODALITIES)))


def parse_name(path: StrPath) -> CsFile:
    """Split a Cityscapes file name into a :data:`CsFile`.

    >>> parse_name("a/lindau_000001_000019_gtFine_labelIds.png")
    csFile(city='lindau', sequenceNb='000001', frameNb='000019', type='gtFine', type2='labelIds', ext='png')
    >>> parse_name("lindau_000001_000019_leftImg8bit.png").type2
    ''
    """
    base = os.path.basename(os.fspath(path))
    parts = base.split("_")
    parts = parts[:-1] + parts[-1].split(".")
    if len(parts) == 5:
        city, seq, frame, kind, ext = parts
        return CsFile(city, seq, frame, kind, "", ext)
    if len(parts) == 6:
        return CsFile(*parts)
    raise LayoutError(f"found {len(parts)} part(s) in the file name, expected 5 or 6 "
                      "('{city}_{seq}_{frame}_{type}[_{type2}].{ext}')", path)


def is_frame_id(name: str) -> bool:
    """Whether ``name`` is ``{city}_{seq}_{frame}`` with six-digit numbers.

    >>> is_frame_id("lindau_000001_000019"), is_frame_id("defaultcity_1_2")
    (True, False)
    """
    parts = name.split("_")
    return len(parts) == 3 and bool(parts[0]) and all(len(p) == 6 and p.isdigit() for p in parts[1:])


def frame_id(path: StrPath) -> str:
    """The part common to every file of a frame: ``{city}_{seq}_{frame}``."""
    f = parse_name(path)
    return f"{f.city}_{f.sequenceNb}_{f.frameNb}"


def frame_city(frame: str) -> str:
    """The city of a frame id ``{city}_{seq}_{frame}``: its first part."""
    return frame.split("_")[0]


def frame_prefix(name: str) -> str:
    """The frame id a prediction file named ``{city}_{seq}_{frame}[_anything].{ext}`` is for (its first
    three parts), without checking them: a name that has fewer is returned as it is."""
    return "_".join(name.split("_")[:3])


def sibling(path: StrPath, modality: str, ext: str = "png") -> str:
    """The path of another ground-truth modality of the same frame, in the same folder.

    >>> sibling("x/a_000001_000002_gtFine_labelIds.png", "instanceIds")
    'x/a_000001_000002_gtFine_instanceIds.png'
    """
    f = parse_name(path)
    name = f"{f.city}_{f.sequenceNb}_{f.frameNb}_{f.type}_{modality}.{ext}"
    return os.path.join(os.path.dirname(os.fspath(path)), name)


def camera_ground_truth(image_path: StrPath, modality: str, annotation_type: str = FINE) -> str:
    """The ground truth of a camera image, as mmdetection finds it: for
    ``{root}/leftImg8bit/{split}/{city}/{frame}_leftImg8bit.png`` the file
    ``{root}/{annotation_type}/{split}/{city}/{frame}_{annotation_type}_{modality}.png``.

    >>> camera_ground_truth("r/leftImg8bit/val/lindau/lindau_000001_000019_leftImg8bit.png", "instanceIds")
    'r/gtFine/val/lindau/lindau_000001_000019_gtFine_instanceIds.png'
    """
    city_folder = os.path.dirname(os.fspath(image_path))
    split_folder = os.path.dirname(city_folder)
    camera_folder = os.path.dirname(split_folder)
    if os.path.basename(camera_folder) != CAMERA:
        raise LayoutError(f"a camera image outside '{CAMERA}/{{split}}/{{city}}/': cannot find its ground truth",
                          image_path)
    return frame_file(os.path.dirname(camera_folder), annotation_type, os.path.basename(split_folder),
                      os.path.basename(city_folder), frame_id(image_path), modality)


def split_file(split_folder: StrPath, frame: str, modality: str, annotation_type: str = FINE) -> str:
    """A frame's ground truth in a split folder such as ``{root}/gtFine/val`` (detectron2's ``gt_dir``):
    ``{split_folder}/{city}/{frame}_{annotation_type}_{modality}.png``.

    >>> split_file("r/gtFine/val", "lindau_000001_000019", "labelIds")
    'r/gtFine/val/lindau/lindau_000001_000019_gtFine_labelIds.png'
    """
    return os.path.join(os.fspath(split_folder), frame_city(frame), f"{frame}_{annotation_type}_{modality}.png")


def frame_file(root: StrPath, kind: str, split: str, city: str, frame: str, modality: str | None = None,
               ext: str = "png") -> str:
    """The file of one frame: ``{root}/{kind}/{split}/{city}/{frame}_{kind}[_{modality}].{ext}``.

    >>> frame_file("r", "gtFine", "val", "lindau", "lindau_000001_000019", "polygons", "json")
    'r/gtFine/val/lindau/lindau_000001_000019_gtFine_polygons.json'
    >>> frame_file("r", "disparity", "val", "lindau", "lindau_000001_000019")
    'r/disparity/val/lindau/lindau_000001_000019_disparity.png'
    """
    name = f"{frame}_{kind}" + (f"_{modality}" if modality else "") + f".{ext}"
    return os.path.join(root, kind, split, city, name)


def dataset_root(path: StrPath | None = None, option: str = "--dataset PATH") -> str:
    """The dataset root: ``path``, else ``$CITYSCAPES_DATASET``.

    Raises :class:`LayoutError` naming the variable and the tool's ``option``
    when neither is given, or when the folder does not exist (the original
    silently used its install folder).
    """
    if path is None:
        path = os.environ.get("CITYSCAPES_DATASET")
        if path is None:
            raise LayoutError(f"no dataset given: pass {option}, or set CITYSCAPES_DATASET")
        if not os.path.isdir(path):
            raise LayoutError("CITYSCAPES_DATASET points to a folder that does not exist", path)
    elif not os.path.isdir(path):
        raise LayoutError("dataset folder does not exist", path)
    return os.fspath(path)


def fine_folder(root: StrPath | None = None, option: str = "--dataset PATH") -> str:
    """``{dataset root}/gtFine`` (the root as :func:`dataset_root` finds it)."""
    return os.path.join(dataset_root(root, option), FINE)


def results_root() -> str:
    """The prediction root: ``$CITYSCAPES_RESULTS``, else ``$CITYSCAPES_DATASET/results``."""
    if "CITYSCAPES_RESULTS" in os.environ:
        path, origin = os.environ["CITYSCAPES_RESULTS"], "CITYSCAPES_RESULTS"
    elif "CITYSCAPES_DATASET" in os.environ:
        path, origin = os.path.join(os.environ["CITYSCAPES_DATASET"], "results"), "CITYSCAPES_DATASET/results"
    else:
        raise LayoutError("no prediction folder given: pass --pred DIR, or set CITYSCAPES_RESULTS or "
                          "CITYSCAPES_DATASET")
    if not os.path.isdir(path):
        raise LayoutError(f"prediction folder ({origin}) does not exist", path)
    return path


def default_root() -> str:
    """``$CITYSCAPES_DATASET`` if set, else the working directory (for defaults shown in help)."""
    return os.environ.get("CITYSCAPES_DATASET", os.getcwd())


def user_cache_dir() -> str:
    """The package's folder in the user cache (``$XDG_CACHE_HOME``, else ``~/.cache``), never the install folder."""
    base = os.environ.get("XDG_CACHE_HOME") or os.path.join(os.path.expanduser("~"), ".cache")
    return os.path.join(base, "cityscapesscripts")


def annotation_searches(root: StrPath, annotation_types: Sequence[str] = ANNOTATION_TYPES,
                        splits: Sequence[str] | None = None, modality: str = "polygons") -> list[str]:
    """The glob patterns of :func:`find_annotations`, one per annotation type and split.

    >>> annotation_searches("r", [FINE], ["val"])
    ['r/gtFine/val/*/*_gt*_polygons.json']
    """
    ext = GT_EXTENSIONS.get(modality, "png")
    return [os.path.join(root, kind, split, "*", f"*_gt*_{modality}.{ext}")
            for kind in annotation_types for split in (splits or ["*"])]


def find_annotations(root: StrPath, annotation_types: Sequence[str] = ANNOTATION_TYPES,
                     splits: Sequence[str] | None = None, modality: str = "polygons") -> list[str]:
    """Sorted ground-truth files ``{root}/{type}/{split}/*/*_{type}_{modality}.{ext}``.

    Fine files come before coarse ones, as the original tools order them.
    """
    return [f for pattern in annotation_searches(root, annotation_types, splits, modality)
            for f in sorted(glob.glob(pattern))]


def ground_truth_search(root: StrPath, split: str = "val", modality: str = "labelIds") -> str:
    """The original evaluators' ``groundTruthSearch``: ``{root}/gtFine/{split}/*/*_gtFine_{modality}.png``.

    >>> ground_truth_search("r", "val", "instanceIds")
    'r/gtFine/val/*/*_gtFine_instanceIds.png'
    """
    return os.path.join(root, FINE, split, "*", f"*_{FINE}_{modality}.png")


def ground_truth_search_below(folder: StrPath, modality: str = "labelIds") -> str:
    """A recursive glob pattern of the fine ground truth below any folder: ``{folder}/**/*_gtFine_{modality}.png``."""
    return os.path.join(folder, "**", f"*_{FINE}_{modality}.png")


def camera_search(root: StrPath) -> str:
    """The glob pattern of every camera image: ``{root}/leftImg8bit/{split}/{city}/*_leftImg8bit.png``."""
    return os.path.join(root, CAMERA, "*", "*", f"*_{CAMERA}.png")


def panoptic_set_name(split: str, train_ids: bool = False) -> str:
    """The name of a COCO panoptic set: ``cityscapes_panoptic_{split}[_trainId]`` (JSON file and PNG folder)."""
    return f"{PANOPTIC_PREFIX}{split}" + ("_trainId" if train_ids else "")


def panoptic_json(folder: StrPath, split: str, train_ids: bool = False) -> str:
    """``{folder}/cityscapes_panoptic_{split}[_trainId].json``; its PNGs are in the folder of the same name.

    >>> panoptic_json("r/gtFine", "val")
    'r/gtFine/cityscapes_panoptic_val.json'
    """
    return os.path.join(folder, panoptic_set_name(split, train_ids) + ".json")


def panoptic_png_name(frame: str, annotation_type: str = FINE) -> str:
    """A frame's PNG in a COCO panoptic set's folder: ``{frame}_{annotation_type}_panoptic.png``."""
    return f"{frame}_{annotation_type}_panoptic.png"


def panoptic_pngs(folder: StrPath) -> dict[str, str]:
    """``{frame: path}`` of the panoptic PNGs in a set's folder (by :func:`panoptic_png_name`), in name order."""
    return {os.path.basename(path).rsplit("_", 2)[0]: path
            for path in sorted(glob.glob(os.path.join(folder, panoptic_png_name("*", "*"))))}


def panoptic_png_folder(json_path: StrPath) -> str:
    """The folder of a COCO panoptic JSON's PNGs: its path without ``.json``."""
    return os.path.splitext(os.fspath(json_path))[0]


def panoptic_names(instance_ids_path: StrPath) -> dict[str, str]:
    """The COCO panoptic names of a frame, as the original tool gives them.

    >>> names = panoptic_names("x/lindau_000001_000019_gtFine_instanceIds.png")
    >>> names["image_id"], names["panoptic"], names["image"]
    ('lindau_000001_000019', 'lindau_000001_000019_gtFine_panoptic.png', 'lindau_000001_000019_gtFine_leftImg8bit.png')
    """
    return {"image_id": frame_id(instance_ids_path),
            "panoptic": os.path.basename(sibling(instance_ids_path, "panoptic")),
            "image": os.path.basename(sibling(instance_ids_path, CAMERA))}


def annotation_pattern(root: StrPath, annotation_type: str, split: str, modality: str) -> str:
    ext = GT_EXTENSIONS.get(modality, "png")
    return os.path.join(root, annotation_type, split, "*", f"*_{modality}.{ext}")


def splits_of(root: StrPath, annotation_type: str = FINE) -> list[str]:
    """Split folders present under ``{root}/{annotation_type}`` (COCO panoptic set folders are not splits)."""
    base = os.path.join(root, annotation_type)
    if not os.path.isdir(base):
        return []
    return sorted(d for d in os.listdir(base)
                  if os.path.isdir(os.path.join(base, d)) and not d.startswith(PANOPTIC_PREFIX))


class FolderIndex(list):
    """:func:`index_folder`'s walk, ``[(dirpath, [filenames])]`` with each folder's names sorted, so that
    :func:`match_prediction` finds a frame's files by bisection instead of reading every name."""


def index_folder(folder: StrPath) -> FolderIndex:
    """All files below ``folder`` as ``[(dirpath, [filenames])]``, walked once, each folder's names sorted."""
    return FolderIndex((root, sorted(files)) for root, _, files in os.walk(folder))


def _names_starting_with(names: Sequence[str], prefix: str, sorted_names: bool) -> Iterator[str]:
    if not sorted_names:  # a walk built by the caller (the original's ``args.predictionWalk``), in its order
        yield from (name for name in names if name.startswith(prefix))
        return
    for i in range(bisect.bisect_left(names, prefix), len(names)):
        if not names[i].startswith(prefix):
            return
        yield names[i]


def match_prediction(walk: Sequence[tuple[str, Sequence[str]]], ground_truth: StrPath, ext: str) -> str:
    """The one file in a walked folder named ``{city}_{seq}_{frame}*.{ext}`` for ``ground_truth``.

    Raises :class:`LayoutError` when there is none or more than one.
    """
    prefix = frame_id(ground_truth)
    indexed = isinstance(walk, FolderIndex)
    found = [os.path.join(root, name) for root, names in walk for name in _names_starting_with(names, prefix, indexed)
             if name.endswith("." + ext)]
    if not found:
        raise LayoutError(f"found no prediction '{prefix}*.{ext}' for this ground truth", ground_truth)
    if len(found) > 1:
        raise LayoutError(f"found {len(found)} predictions for this ground truth: "
                          + ", ".join(found[:3]) + (" ..." if len(found) > 3 else ""), ground_truth)
    return found[0]
