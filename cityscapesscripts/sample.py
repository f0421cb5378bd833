"""A deterministic generator of synthetic street scenes in the Cityscapes layout.

``csSampleDataset OUT [--frames N] [--size 2048x1024] [--predictions]`` writes
polygon annotations, the ground-truth images the dataset ships (labelIds,
instanceIds, color), stand-in camera images and, with ``--predictions``,
predictions for the three benchmarks made by re-drawing jittered polygons:

* ``results/semantic/{frame}_pred.png`` (label ids),
* ``results/instance/{frame}_pred.txt`` with masks under ``results/instance/mask``,
* ``results/panoptic/cityscapes_panoptic_{split}.json`` and its PNG folder,
  and ``gtFine/cityscapes_panoptic_{split}.json`` for the ground truth.

The same arguments always give the same files.
"""
import functools
import json
import os
import sys

import numpy as np

from . import cli, parallel
from .errors import ArgumentError
from .helpers.annotation import Annotation
from .helpers.labels import id2label
from .io import layout, png
from .io.files import make_folders, write_atomic
from .preparation import panoptic, rasterize

CITIES = ("lindau", "munster", "frankfurt")
THINGS = ("car", "car", "car", "person", "person", "rider", "bicycle", "truck", "bus", "motorcycle")


def _outline(rng, cx, cy, rx, ry, vertices, roughness):
    """A closed, jagged, roughly elliptic outline with ``vertices`` points."""
    angles = np.sort(rng.uniform(0, 2 * np.pi, vertices))
    radius = 1 + roughness * rng.standard_normal(vertices).cumsum() / np.sqrt(vertices)
    radius = np.clip(radius - (radius.mean() - 1), 0.4, 1.6)
    xs = cx + rx * radius * np.cos(angles)
    ys = cy + ry * radius * np.sin(angles)
    return [[int(round(x)), int(round(y))] for x, y in zip(xs, ys)]


def _band(rng, w, top, bottom, vertices):
    """A polygon spanning the width between two wavy horizontal edges."""
    xs = np.linspace(-5, w + 5, vertices)
    upper = top + rng.normal(0, 2, vertices).cumsum() * 0.3
    lower = bottom + rng.normal(0, 2, vertices).cumsum() * 0.3
    return ([[int(x), int(y)] for x, y in zip(xs, upper)] + [[int(x), int(y)] for x, y in zip(xs[::-1], lower[::-1])])


def make_scene(seed, width=2048, height=1024, detail=1.0):
    """The annotation dict of one synthetic frame (50-150 objects at full size)."""
    rng = np.random.default_rng(seed)
    w, h = width, height
    s = w / 2048.0
    n = lambda k: max(4, int(k * detail * max(s, 0.25)))  # noqa: E731 - vertex counts scale with size
    objects = []

    def add(label, polygon, **extra):
        objects.append(dict({"label": label, "polygon": polygon}, **extra))

    horizon = h * rng.uniform(0.35, 0.45)
    add("sky", _band(rng, w, -5, horizon + 10, n(60)))
    x = -10
    while x < w:  # buildings and vegetation along the horizon
        bw = rng.uniform(0.08, 0.2) * w
        label = rng.choice(["building", "building", "vegetation", "wall", "fence"])
        top = horizon - rng.uniform(0.05, 0.3) * h
        block = _band(rng, int(bw), top, horizon + 0.12 * h, n(40))
        add(str(label), [[int(x + px), py] for px, py in block])
        x += bw * rng.uniform(0.7, 1.0)
    add("road", _band(rng, w, horizon + 0.1 * h, h + 5, n(80)))
    add("sidewalk", [[-5, int(horizon + 0.1 * h)], [int(0.25 * w), int(horizon + 0.1 * h)], [-5, int(0.8 * h)]])
    add("terrain", _outline(rng, 0.85 * w, horizon + 0.15 * h, 0.1 * w, 0.04 * h, n(50), 0.3))
    for _ in range(int(rng.integers(4, 9))):  # poles, signs, lights
        px = rng.uniform(0, w)
        add("pole", [[int(px), int(horizon - 0.2 * h)], [int(px + 6 * s + 2), int(horizon - 0.2 * h)],
                     [int(px + 6 * s + 2), int(horizon + 0.15 * h)], [int(px), int(horizon + 0.15 * h)]])
        add(str(rng.choice(["traffic sign", "traffic light"])),
            _outline(rng, px, horizon - 0.2 * h, 14 * s + 3, 14 * s + 3, n(12), 0.1))
    add("polegroup", _outline(rng, rng.uniform(0, w), horizon, 20 * s + 3, 60 * s + 3, n(20), 0.1))
    count = int(rng.integers(25, 70) * detail)
    for i in range(count):  # things, nearer ones drawn later and larger
        depth = (i + 1) / count
        label = str(rng.choice(THINGS))
        cy = horizon + depth * (h - horizon) * 0.8
        rx = (0.01 + 0.06 * depth) * w * (0.5 if label in ("person", "rider", "bicycle", "motorcycle") else 1.5)
        ry = rx * (2.2 if label in ("person", "rider") else 0.6)
        cx = rng.uniform(0, w)
        group = rng.random() < 0.08
        deleted = rng.random() < 0.03
        extra = {"deleted": 1} if deleted else {}
        add(label + ("group" if group else ""), _outline(rng, cx, cy - ry * 0.5, rx, ry, n(120), 0.25), **extra)
        if label == "car" and rng.random() < 0.5:
            add("license plate", _outline(rng, cx, cy - ry * 0.2, rx * 0.15, ry * 0.08, 4, 0.0))
    add("ego vehicle", _band(rng, w, 0.9 * h, h + 5, n(30)))
    add("rectification border", [[-5, -5], [w + 5, -5], [w + 5, 3], [-5, 3]])
    add("out of roi", [[-5, int(h - 2)], [w + 5, int(h - 2)], [w + 5, h + 5], [-5, h + 5]])
    return {"imgHeight": h, "imgWidth": w, "objects": objects}


def jitter(scene, seed, strength=1.0):
    """A predicted version of a scene: objects moved, resized, relabelled or dropped."""
    rng = np.random.default_rng(seed)
    confusable = {"car": "truck", "truck": "bus", "bus": "truck", "person": "rider", "rider": "person",
                  "bicycle": "motorcycle", "motorcycle": "bicycle", "wall": "building", "fence": "wall",
                  "terrain": "vegetation", "vegetation": "terrain", "sidewalk": "road"}
    objects = []
    scale = scene["imgWidth"] / 2048.0
    for obj in scene["objects"]:
        if obj.get("deleted") or rng.random() < 0.08 * strength:
            continue
        label = obj["label"]
        base = label[:-5] if label.endswith("group") else label
        if rng.random() < 0.07 * strength and base in confusable:
            label = confusable[base] + label[len(base):]
        dx, dy = rng.normal(0, 6 * scale * strength, 2)
        points = np.asarray(obj["polygon"], dtype=float)
        center = points.mean(axis=0)
        points = (points - center) * rng.uniform(0.93, 1.07) + center + (dx, dy)
        objects.append({"label": label, "polygon": points.round().astype(int).tolist()})
    return dict(scene, objects=objects)


def frame_name(index, cities=CITIES):
    city = cities[index % len(cities)]
    return city, f"{city}_{index // len(cities):06d}_{19 + index:06d}"


def _write_frame(index, out, split, width, height, predictions, detail, seed):
    city, frame = frame_name(index)
    ground_truth = functools.partial(layout.frame_file, out, layout.FINE, split, city, frame)
    camera_image = layout.frame_file(out, layout.CAMERA, split, city, frame)
    os.makedirs(os.path.dirname(ground_truth()), exist_ok=True)
    os.makedirs(os.path.dirname(camera_image), exist_ok=True)
    scene = make_scene(seed * 100003 + index, width, height, detail)
    write_atomic(ground_truth("polygons", "json"), json.dumps(scene, indent=4).encode())
    annotation = Annotation()
    annotation.fromDict(scene)
    object_map = rasterize.rasterize(annotation)
    for encoding in ("labelIds", "instanceIds", "color"):
        png.write_png(ground_truth(encoding), rasterize.encode(object_map, encoding))
    rgb = rasterize.encode(object_map, "color")[:, :, :3]
    noise = np.random.default_rng(index).integers(0, 24, rgb.shape[:2], dtype=np.uint8)
    png.write_png(camera_image, rgb // 2 + noise[:, :, None])
    if not predictions:
        return None
    predicted = Annotation()
    predicted.fromDict(jitter(scene, seed * 7919 + index))
    pred_map = rasterize.rasterize(predicted)
    results = os.path.join(out, "results")
    png.write_png(os.path.join(results, "semantic", frame + "_pred.png"), rasterize.encode(pred_map, "labelIds"))
    instances = rasterize.encode(pred_map, "instanceIds")
    rng = np.random.default_rng(seed + index)
    lines = []
    for k, inst_id in enumerate(np.unique(instances[instances >= 1000]).tolist()):
        name = f"{frame}_{k}_{id2label[inst_id // 1000].name}.png"
        png.write_png(os.path.join(results, "instance", "mask", name), (instances == inst_id).astype(np.uint8) * 255)
        lines.append(f"mask/{name} {inst_id // 1000} {rng.uniform(0.05, 1.0):.6f}")
    write_atomic(os.path.join(results, "instance", frame + "_pred.txt"), ("\n".join(lines) + "\n").encode())
    entries = {}
    names = layout.panoptic_names(ground_truth("instanceIds"))
    for kind, ids in (("gt", rasterize.encode(object_map, "instanceIds")), ("pred", instances)):
        rgb, segments = panoptic.panoptic_frame(ids)
        png.write_png(os.path.join(layout.panoptic_png_folder(panoptic_json(out, kind, split)), names["panoptic"]), rgb)
        entries[kind] = {"image_id": frame, "file_name": names["panoptic"], "segments_info": segments}
    image = {"id": frame, "width": width, "height": height, "file_name": names["image"]}
    return image, entries


def panoptic_json(out, kind, split):
    """Where the sample's panoptic ground truth (``kind`` "gt") and predictions ("pred") are."""
    return layout.panoptic_json(os.path.join(out, layout.FINE) if kind == "gt"
                                else os.path.join(out, "results", "panoptic"), split)


def generate(out, frames=8, width=2048, height=1024, split="val", predictions=False, detail=1.0, seed=0,
             jobs=None, progress=None):
    """Write a synthetic dataset to ``out``; returns the frame ids."""
    folders = []
    if predictions:
        folders = [os.path.join(out, "results", d) for d in ("semantic", "instance/mask", "panoptic")]
        folders += [layout.panoptic_png_folder(panoptic_json(out, kind, split)) for kind in ("gt", "pred")]
    for folder in folders:
        make_folders(folder)
    task = functools.partial(_write_frame, out=out, split=split, width=width, height=height,
                             predictions=predictions, detail=detail, seed=seed)
    results = parallel.collect(task, range(frames), jobs, "generating", progress)
    if predictions:
        categories = panoptic.categories()
        for kind in ("gt", "pred"):
            data = {"images": [r[0] for r in results], "annotations": [r[1][kind] for r in results],
                    "categories": categories}
            write_atomic(panoptic_json(out, kind, split), json.dumps(data, sort_keys=True, indent=4).encode())
    return [frame_name(i)[1] for i in range(frames)]


@cli.entry_point
def main(argv=None):
    parser = cli.parser("Write a synthetic Cityscapes-style dataset.")
    parser.add_argument("out", help="output folder (the dataset root)")
    parser.add_argument("--frames", type=int, default=8, help="number of frames (default 8)")
    cli.add_size_option(parser)
    cli.add_split_option(parser, one=True)
    parser.add_argument("--predictions", action="store_true", help="also write predictions under results/")
    parser.add_argument("--detail", type=float, default=1.0, help="scale of object and vertex counts")
    parser.add_argument("--seed", type=int, default=0, help="random seed: the same seed gives the same files "
                                                              "(default 0)")
    cli.add_jobs_option(parser)
    cli.add_quiet_option(parser)
    opts = parser.parse_args(sys.argv[1:] if argv is None else argv)
    (split,), (width, height) = cli.splits_of(opts) or [None], opts.size
    if split is None:
        raise ArgumentError("give the name of the split to write")
    frames = generate(opts.out, opts.frames, width, height, split, opts.predictions, opts.detail, opts.seed,
                      opts.jobs or None, False if opts.quiet else None)
    if not opts.quiet:
        print(f"wrote {len(frames)} frames ({width}x{height}) to {opts.out}")
    return cli.OK


if __name__ == "__main__":
    sys.exit(main())
