"""detectron2-style Cityscapes instance evaluation, 100 predicted masks per image: files against memory.

    python benchmarks/bench_detectron2.py [--frames 20] [--masks 100] [--runs 3] [--oracle PATH]

Data: a synthetic val split of ``--frames`` 2048x1024 frames of typical Cityscapes density
(``cityscapesscripts.sample``, detail 0.38 as benchmarks/bench.py's "typical"), cached under ``--data``.
Each frame gets ``--masks`` predicted masks as a Mask R-CNN gives them: one per ground-truth thing
instance (shifted a few pixels, so overlaps vary), the rest boxes of random size, place, class and
a lower score.  The masks are made before each frame is timed; only the evaluator's work is timed.

* **files** (detectron2's ``CityscapesInstanceEvaluator``): every mask written as a PNG with Pillow
  into a temporary folder plus one ``*_pred.txt`` per image, then the files evaluated as detectron2
  does (``evaluateImgLists`` of ``evalInstanceLevelSemanticLabeling``), the folder removed.  With
  this package's files-based evaluation; with ``--oracle`` also the original 2.3.0's (its
  evaluation of the same files, once, timed by benchmarks/driver.py, plus the writes measured here).
* **memory** (``cityscapesscripts.integrations.detectron2.CityscapesInstanceEvaluator`` on the
  stand-in of tests/detectron2_standin.py): the masks as an (N, H, W) bool CPU tensor per image.

Both give the same AP (checked).  Runs alternate; the report gives medians of wall time (ms per
image) and CPU seconds (the process and the workers it waited for), and writes ``--report``.
"""
import argparse
import glob
import json
import os
import platform
import shutil
import statistics
import subprocess
import sys
import tempfile

import numpy as np

HERE = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, os.path.join(HERE, "..", "tests"))  # the detectron2 stand-in
sys.path.insert(0, HERE)
from driver import Timed  # noqa: E402

THINGS = ["person", "rider", "car", "truck", "bus", "train", "motorcycle", "bicycle"]
DATASET = "cityscapes_bench_val"


def make_frames(root, frames):
    """``[(camera image, instanceIds path)]`` of the synthetic split, generated once into ``root``."""
    from cityscapesscripts import sample
    if not glob.glob(os.path.join(root, "gtFine", "val", "*", "*_gtFine_instanceIds.png")):
        sample.generate(root, frames, detail=0.38, progress=False)
    gts = sorted(glob.glob(os.path.join(root, "gtFine", "val", "*", "*_gtFine_instanceIds.png")))[:frames]
    return [(gt.replace("gtFine", "leftImg8bit", 1).replace("_gtFine_instanceIds.png", "_leftImg8bit.png"), gt)
            for gt in gts]


def predicted_masks(ground_truth, count, seed):
    """``(masks (count, H, W) bool, class indices, scores)``: the thing instances shifted, then random boxes."""
    rng = np.random.default_rng(seed)
    height, width = ground_truth.shape
    masks = np.zeros((count, height, width), dtype=bool)
    classes, scores = [], []
    names = {label_id: name for name, label_id in zip(THINGS, (24, 25, 26, 27, 28, 31, 32, 33))}
    for inst_id in np.unique(ground_truth):
        if len(classes) == count:
            break
        if inst_id < 1000 or inst_id // 1000 not in names:
            continue
        dy, dx = rng.integers(-4, 5, size=2)
        masks[len(classes)] = np.roll(ground_truth == inst_id, (dy, dx), axis=(0, 1))
        classes.append(THINGS.index(names[inst_id // 1000]))
        scores.append(float(rng.uniform(0.5, 1.0)))
    while len(classes) < count:
        h, w = rng.integers(10, 300, size=2)
        y, x = rng.integers(0, height - h), rng.integers(0, width - w)
        masks[len(classes), y:y + h, x:x + w] = True
        classes.append(int(rng.integers(0, len(THINGS))))
        scores.append(float(rng.uniform(0.05, 0.5)))
    return masks, classes, scores


def frame_predictions(frames, masks_per_image):
    """Each frame's predictions, made when asked (one frame's masks in memory at a time)."""
    from cityscapesscripts.io import png
    for index, (image, gt) in enumerate(frames):
        yield image, predicted_masks(png.read_ids_16bit(gt), masks_per_image, seed=index)


def files_way(frames, masks_per_image, root, keep=None):
    """detectron2's evaluator: PNG per mask, txt per image, then the files evaluated.  ``(write timers,
    evaluation timer, AP)``; ``keep``: copy the prediction folder there (for the original's run)."""
    from PIL import Image
    import cityscapesscripts.evaluation.evalInstanceLevelSemanticLabeling as cityscapes_eval
    from cityscapesscripts.helpers.labels import name2label
    temp_dir = tempfile.mkdtemp(prefix="cityscapes_eval_")
    writes = []
    for image, (masks, classes, scores) in frame_predictions(frames, masks_per_image):
        with Timed() as timer:
            basename = os.path.splitext(os.path.basename(image))[0]
            with open(os.path.join(temp_dir, basename + "_pred.txt"), "w") as fout:
                for i in range(len(classes)):
                    name = THINGS[classes[i]]
                    png_filename = os.path.join(temp_dir, f"{basename}_{i}_{name}.png")
                    Image.fromarray(masks[i].astype("uint8") * 255).save(png_filename)
                    fout.write(f"{os.path.basename(png_filename)} {name2label[name].id} {scores[i]}\n")
        writes.append(timer)
    if keep:
        shutil.copytree(temp_dir, keep)
    with Timed() as evaluation:
        args = cityscapes_eval.args
        args.predictionPath, args.predictionWalk = os.path.abspath(temp_dir), None
        args.JSONOutput, args.colorized, args.quiet = False, False, True
        args.gtInstancesFile = os.path.join(temp_dir, "gtInstances.json")
        gts = glob.glob(os.path.join(root, "gtFine", "val", "*", "*_gtFine_instanceIds.png"))
        predictions = [cityscapes_eval.getPrediction(gt, args) for gt in gts]
        ap = cityscapes_eval.evaluateImgLists(predictions, gts, args)["averages"]["allAp"]
        shutil.rmtree(temp_dir)
    return writes, evaluation, float(ap)


def memory_way(frames, masks_per_image, root):
    """The adapter on the stand-in: ``(process timers, evaluation timer, AP)``."""
    import torch
    import detectron2_standin
    detectron2_standin.install()
    from cityscapesscripts.integrations.detectron2 import CityscapesInstanceEvaluator
    sys.modules["detectron2.data"].MetadataCatalog.get(DATASET).set(gt_dir=os.path.join(root, "gtFine", "val"),
                                                                     thing_classes=THINGS)
    instances_type = sys.modules["detectron2.structures"].Instances
    evaluator = CityscapesInstanceEvaluator(DATASET)
    evaluator.reset()
    steps = []
    for image, (masks, classes, scores) in frame_predictions(frames, masks_per_image):
        output = {"instances": instances_type(masks.shape[1:], pred_masks=torch.from_numpy(masks),
                                              pred_classes=torch.tensor(classes), scores=torch.tensor(scores))}
        with Timed() as timer:
            evaluator.process([{"file_name": image}], [output])
        steps.append(timer)
    with Timed() as evaluation:
        ap = evaluator.evaluate()["segm"]["AP"] / 100
    return steps, evaluation, float(ap)


def original_evaluation(oracle, root, predictions):
    """The original's evaluation of a kept prediction folder (benchmarks/driver.py's ``instance`` task)."""
    env = dict(os.environ, PYTHONPATH="")
    out = subprocess.run([oracle, os.path.join(HERE, "driver.py"), "instance", root, predictions],
                         capture_output=True, text=True, cwd=tempfile.gettempdir(), env=env)
    if out.returncode:
        raise RuntimeError(f"the original's evaluation failed: {out.stderr[-2000:]}")
    return json.loads(out.stdout.strip().splitlines()[-1])


def totals(steps, evaluation):
    return sum(t.wall for t in steps) + evaluation.wall, sum(t.cpu for t in steps) + evaluation.cpu


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--frames", type=int, default=20)
    parser.add_argument("--masks", type=int, default=100)
    parser.add_argument("--runs", type=int, default=3)
    parser.add_argument("--data", default=os.path.join(tempfile.gettempdir(), "cs_bench_detectron2"))
    parser.add_argument("--oracle", help="the original 2.3.0's Python (a venv with it installed)")
    parser.add_argument("--report", default=os.path.join(HERE, "DETECTRON2.md"))
    args = parser.parse_args(argv)
    root = os.path.join(args.data, f"typical{args.frames}")
    frames = make_frames(root, args.frames)
    load_at_start = os.getloadavg()[0]
    runs = {"files": [], "memory": []}
    aps = set()
    for _ in range(args.runs):
        for way, function in (("files", files_way), ("memory", memory_way)):
            steps, evaluation, ap = function(frames, args.masks, root)
            runs[way].append((*totals(steps, evaluation), evaluation.wall))
            aps.add(round(ap, 12))
            print(way, runs[way][-1], ap, flush=True)
    if len(aps) != 1:
        raise SystemExit(f"the two ways give different AP: {sorted(aps)}")
    original = None
    if args.oracle:
        kept = os.path.join(root, "results", "detectron2_files")
        shutil.rmtree(kept, ignore_errors=True)
        writes, _, _ = files_way(frames, args.masks, root, keep=kept)
        result = original_evaluation(args.oracle, root, "detectron2_files")
        shutil.rmtree(kept)
        if round(result["score"], 12) not in aps:
            raise SystemExit(f"the original gives AP {result['score']}, we {sorted(aps)}")
        original = (sum(t.wall for t in writes) + result["seconds"], sum(t.cpu for t in writes) + result["cpu"],
                    result["seconds"])
    write_report(args, runs, original, aps.pop(), (load_at_start, os.getloadavg()[0]))


def write_report(args, runs, original, ap, load):
    median = {way: [statistics.median(r[k] for r in rows) for k in range(3)] for way, rows in runs.items()}
    n = args.frames
    rows = [("files, this package's evaluation", median["files"], f"median of {args.runs}"),
            ("memory: the adapter", median["memory"], f"median of {args.runs}")]
    if original:
        rows.insert(1, ("files, the original 2.3.0's evaluation", original, "one run"))
    lines = [
        "# detectron2-style instance evaluation: PNG per mask against the adapter",
        "",
        f"`python benchmarks/bench_detectron2.py --frames {n} --masks {args.masks} --runs {args.runs}"
        + (" --oracle ...`" if original else "`")
        + f" on {platform.machine()} with {os.cpu_count()} cores shared with other work (load average "
        f"{load[0]:.1f} at the start, {load[1]:.1f} at the end), Python {platform.python_version()}.",
        "",
        f"{n} synthetic 2048x1024 frames of typical Cityscapes density, {args.masks} predicted masks each "
        f"({n * args.masks} masks); AP {ap:.6f} on every path.  `process()`: detectron2's per-image step "
        "(the files path writes the PNGs and lists; the adapter counts the masks over the ground truth, "
        "which it reads); `evaluate()`: the rest (the files path reads them back and computes AP).  CPU: "
        "the process and the workers it waited for, all steps.",
        "",
        "| path | ms per image | of which process() | evaluate() s | CPU s | runs |",
        "|---|---:|---:|---:|---:|---|",
    ]
    for name, (wall, cpu, evaluate), note in rows:
        lines.append(f"| {name} | {wall / n * 1000:.0f} | {(wall - evaluate) / n * 1000:.0f} | {evaluate:.2f} "
                     f"| {cpu:.1f} | {note} |")
    files, memory = median["files"], median["memory"]
    lines += ["", f"The adapter is **{files[0] / memory[0]:.0f}x** faster than the files path with this package's "
              f"evaluation ({files[1] / memory[1]:.0f}x less CPU)"
              + (f", **{original[0] / memory[0]:.0f}x** faster than with the original's." if original else ".")
              + "  Most of the files path is Pillow writing the mask PNGs, which detectron2's evaluator does "
              "whichever evaluation reads them."]
    text = "\n".join(lines) + "\n"
    with open(args.report, "w") as f:
        f.write(text)
    print(text)


if __name__ == "__main__":
    main()
