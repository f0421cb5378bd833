"""A viewer test dataset: the golden ``full`` set (2048x1024, with predictions) plus the modalities
it lacks: gtCoarse polygons, disparity maps and CityPersons boxes made here, and the 3D boxes of
a golden ``box3d`` frame."""
import json
import os
import shutil

import numpy as np
from PIL import Image

from conftest import GOLDEN

FULL = os.path.join(GOLDEN, "full")
BOX3D = os.path.join(GOLDEN, "box3d")
BOX3D_FRAME = "frankfurt_000005_000019"  # its 3D boxes are shown on the first frame
BOX3D_JSON = os.path.join(BOX3D, "gtBbox3d", "val", "frankfurt", f"{BOX3D_FRAME}_gtBbox3d.json")
CITY = "lindau"
FRAMES = ("lindau_066600_000019", "lindau_094101_000019")
PERSONS = [  # label, full box, visible part (x, y, w, h)
    ("pedestrian", [100, 300, 60, 150], [100, 300, 60, 100]),
    ("ignore", [1500, 200, 120, 80], [1500, 200, 120, 80]),
]


def disparity_map(height=1024, width=2048):
    """A disparity PNG's values: rising from left to right, 0 (invalid) in the top 100 rows."""
    values = np.tile(np.linspace(1, 30000, width).astype(np.uint16), (height, 1))
    values[:100] = 0
    return values


def make_dataset(root):
    """Copy the golden full set to ``root``; add gtCoarse, disparity, CityPersons and 3D boxes to the first frame."""
    for folder in ("gtFine", "leftImg8bit", "results"):
        shutil.copytree(os.path.join(FULL, folder), os.path.join(root, folder))
    first = FRAMES[0]
    coarse = os.path.join(root, "gtCoarse", "val", CITY)
    os.makedirs(coarse)
    with open(os.path.join(FULL, "gtFine", "val", CITY, f"{first}_gtFine_polygons.json")) as f:
        polygons = json.load(f)
    polygons["objects"] = polygons["objects"][:13]  # sky, buildings, vegetation, fence, bridge, road
    with open(os.path.join(coarse, f"{first}_gtCoarse_polygons.json"), "w") as f:
        json.dump(polygons, f)
    disparity = os.path.join(root, "disparity", "val", CITY)
    os.makedirs(disparity)
    Image.fromarray(disparity_map()).save(os.path.join(disparity, f"{first}_disparity.png"))
    persons = os.path.join(root, "gtBboxCityPersons", "val", CITY)
    os.makedirs(persons)
    objects = [{"label": label, "bbox": box, "bboxVis": visible, "instanceId": i}
               for i, (label, box, visible) in enumerate(PERSONS)]
    with open(os.path.join(persons, f"{first}_gtBboxCityPersons.json"), "w") as f:
        json.dump({"imgWidth": 2048, "imgHeight": 1024, "objects": objects}, f)
    boxes = os.path.join(root, "gtBbox3d", "val", CITY)
    os.makedirs(boxes)
    shutil.copy(BOX3D_JSON, os.path.join(boxes, f"{first}_gtBbox3d.json"))
    return root


def boxes_2d(view):
    """``[(label, instance id, (x, y, w, h))]`` of the 3D boxes' ``view`` ("modal", "amodal") 2D boxes, then
    the ignore regions (instance id None), as the fixture's ``gtBbox3d`` JSON has them."""
    with open(BOX3D_JSON) as f:
        data = json.load(f)
    return ([(o["label"], o["instanceId"], tuple(o["2d"][view])) for o in data["objects"]]
            + [(o["label"], None, tuple(o["2d"])) for o in data["ignore"]])


def golden(frame, modality):
    """A golden ground-truth image of ``frame`` (``*_gtFine_{modality}.png``) as int64."""
    return read(os.path.join("gtFine", "val", CITY, f"{frame}_gtFine_{modality}.png"))


def read(relpath):
    """A PNG of the golden full set as int64."""
    return np.asarray(Image.open(os.path.join(FULL, relpath))).astype(np.int64)


def predicted(frame):
    """The golden semantic prediction of ``frame`` (label ids)."""
    return read(os.path.join("results", "semantic", f"{frame}_pred.png"))


def decode(payload):
    """A raster layer as ``(index (H, W), colors (N, 4), names)``."""
    return payload["index"].astype(np.int64), np.array(payload["colors"]), payload["names"]


def inner_points(labels, count=6, margin=4):
    """Up to ``count`` pixels, one per label, whose neighbourhood of ``margin`` holds the same label."""
    points, seen = [], set()
    height, width = labels.shape
    for y in range(margin + 40, height - margin, 97):
        for x in range(margin + 40, width - margin, 89):
            value = labels[y, x]
            patch = labels[y - margin:y + margin + 1, x - margin:x + margin + 1]
            if value not in seen and (patch == value).all():
                seen.add(value)
                points.append((x, y))
    return points[:count]


def inner_point(mask, margin=4):
    """A pixel (x, y) whose neighbourhood of ``margin`` lies inside ``mask``."""
    candidates = np.argwhere(mask)
    for y, x in candidates[::max(1, len(candidates) // 2000)]:
        if (y >= margin and x >= margin
                and mask[y - margin:y + margin + 1, x - margin:x + margin + 1].all()):
            return int(x), int(y)
    raise AssertionError("no pixel deep inside the mask")
