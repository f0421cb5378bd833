"""The accumulators on arrays and tensors: the cost of adding one 2048x1024 frame, per place the data lies.

    python benchmarks/bench_tensors.py [--frames 12] [--masks 100] [--runs 5] [--data DIR] [--report FILE]

Data: a synthetic val split of ``--frames`` 2048x1024 frames of typical Cityscapes density
(``cityscapesscripts.sample``, detail 0.38 as benchmarks/bench.py's "typical", with its predictions),
read once into memory.  Instance predictions: ``--masks`` masks per frame, made as
benchmarks/bench_detectron2.py makes them (the thing instances shifted, then random boxes).

Timed, per frame, one thread (BLAS, OpenMP and torch's intra-op pool at 1):

* **semantic**: ``SemanticAccumulator(train_ids=True).add(prediction, labels, instances)`` with iIoU;
* **instance**: ``InstanceAccumulator().add(masks, labels, scores, instance_ids)``, the masks one
  (N, H, W) bool array or tensor;

each with NumPy arrays, with CPU tensors (read without a copy by the compiled kernels), with CPU
tensors counted by torch (``tensors.COUNT_CPU_TENSORS_IN_TORCH``: the code a GPU runs, on the CPU), and
on CUDA where torch sees a device (synchronised after each frame, the data put there before timing).
The floor is one read of the frame's bytes (``sum`` over them viewed as uint64).  Runs alternate
between the ways; the report gives medians over runs of wall ms per frame and CPU ms per frame.
"""
import argparse
import glob
import json
import os
import platform
import statistics
import sys
import time

for variable in ("OPENBLAS_NUM_THREADS", "OMP_NUM_THREADS", "MKL_NUM_THREADS"):
    os.environ[variable] = "1"

import numpy as np  # noqa: E402
import torch  # noqa: E402

HERE = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, HERE)
from bench_detectron2 import THINGS, predicted_masks  # noqa: E402

torch.set_num_threads(1)


def load_frames(root, frames, masks):
    """``[(train-id prediction, labels, instances, masks, mask label ids, scores)]`` in memory."""
    from cityscapesscripts import sample
    from cityscapesscripts.helpers.labelset import CITYSCAPES
    from cityscapesscripts.io import png
    if len(glob.glob(os.path.join(root, "gtFine", "val", "*", "*_gtFine_labelIds.png"))) < frames:
        sample.generate(root, frames, predictions=True, detail=0.38, progress=False)
    label_ids = {label.name: label.id for label in CITYSCAPES.labels}
    out = []
    for index, gt in enumerate(sorted(glob.glob(os.path.join(root, "gtFine", "val", "*", "*_gtFine_labelIds.png")))
                               [:frames]):
        frame = os.path.basename(gt)[:-len("_gtFine_labelIds.png")]
        prediction = png.read_label_map(glob.glob(os.path.join(root, "results", "semantic", frame + "*.png"))[0])
        instances = png.read_ids_16bit(gt.replace("labelIds", "instanceIds"))
        mask_stack, classes, scores = predicted_masks(instances, masks, seed=index)
        out.append((CITYSCAPES.id_to_train_id[prediction], png.read_label_map(gt), instances, mask_stack,
                    [label_ids[THINGS[c]] for c in classes], scores))
    return out


def ways():
    """``{name: (convert an array, count CPU tensors in torch)}``."""
    found = {"arrays": (lambda a: a, False), "CPU tensors": (torch.from_numpy, False),
             "CPU tensors, counted by torch": (torch.from_numpy, True)}
    if torch.cuda.is_available():
        found["CUDA tensors"] = (lambda a: torch.from_numpy(a).cuda(), True)
    return found


def timed(step, frames, synchronise):
    """``(wall ms, CPU ms)`` per frame of ``step(frame)`` over the frames."""
    wall, cpu = time.perf_counter(), time.process_time()
    for frame in frames:
        step(frame)
        synchronise()
    return ((time.perf_counter() - wall) * 1000 / len(frames), (time.process_time() - cpu) * 1000 / len(frames))


def run_once(frames, results):
    from cityscapesscripts.evaluation import tensors
    from cityscapesscripts.evaluation.instance_ap import InstanceAccumulator
    from cityscapesscripts.evaluation.semantic import SemanticAccumulator
    floor = timed(lambda f: [a.view(np.uint64).sum() for a in f[:3]], frames, lambda: None)
    results.setdefault("floor (one read of the pixels)", []).append(floor)
    for name, (convert, in_torch) in ways().items():
        tensors.COUNT_CPU_TENSORS_IN_TORCH = in_torch
        synchronise = torch.cuda.synchronize if name.startswith("CUDA") else (lambda: None)
        data = [tuple(convert(a) for a in f[:4]) + f[4:] for f in frames]  # placed before timing
        semantic, instance = SemanticAccumulator(train_ids=True), InstanceAccumulator()
        results.setdefault(f"semantic, {name}", []).append(
            timed(lambda f, acc=semantic: acc.add(f[0], f[1], f[2]), data, synchronise))
        results.setdefault(f"instance, {name}", []).append(
            timed(lambda f, acc=instance: acc.add(f[3], f[4], f[5], f[2]), data, synchronise))
        results.setdefault("scores", {}).setdefault(name, (semantic.result()["averageScoreInstClasses"],
                                                           float(instance.result()["averages"]["allAp"])))
        del data
    tensors.COUNT_CPU_TENSORS_IN_TORCH = False


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--frames", type=int, default=12)
    parser.add_argument("--masks", type=int, default=100)
    parser.add_argument("--runs", type=int, default=5)
    parser.add_argument("--data", default=os.path.join(os.environ.get("TMPDIR", "/tmp"), "bench_tensors_data"))
    parser.add_argument("--report", default=os.path.join(HERE, "TENSORS.md"))
    args = parser.parse_args(argv)
    frames = load_frames(args.data, args.frames, args.masks)
    results = {}
    run_once(frames[:2], {})  # warm-up: imports, caches, CUDA context
    for _ in range(args.runs):
        run_once(frames, results)
    scores = results.pop("scores")
    if len({json.dumps(s) for s in scores.values()}) != 1:
        raise SystemExit(f"the ways disagree: {scores}")
    rows = [(name, statistics.median(w for w, _ in runs), statistics.median(c for _, c in runs))
            for name, runs in results.items()]
    write_report(args, rows, scores, os.getloadavg())


def write_report(args, rows, scores, load):
    device = torch.cuda.get_device_name() if torch.cuda.is_available() else "none (torch sees no CUDA device)"
    floor = rows[0][1]
    lines = [
        "# The accumulators on arrays and tensors", "",
        f"Made by `benchmarks/bench_tensors.py --frames {args.frames} --masks {args.masks} --runs {args.runs}`: "
        f"{args.frames} synthetic 2048x1024 frames of typical Cityscapes density (detail 0.38), "
        f"{args.masks} predicted masks per frame; one thread; median of {args.runs} alternating runs. "
        f"CPU: {platform.processor() or platform.machine()}, {os.cpu_count()} cores, load {load[0]:.1f}; "
        f"NumPy {np.__version__}, torch {torch.__version__}; GPU: {device}.", "",
        "Every way gave the same scores (iIoU of the classes "
        f"{next(iter(scores.values()))[0]!r}, AP {next(iter(scores.values()))[1]!r}).", "",
        "| what is added, as what | wall ms / frame | CPU ms / frame | / floor |",
        "| --- | ---: | ---: | ---: |",
    ]
    lines += [f"| {name} | {wall:.2f} | {cpu:.2f} | {wall / floor:.1f}x |" for name, wall, cpu in rows]
    lines += ["", "The floor reads the three (H, W) maps once (prediction, labels, instances: 7 MB a frame); "
              "the instance rows also go over the 100 masks (200 MB a frame as bool).", ""]
    with open(args.report, "w") as f:
        f.write("\n".join(lines))
    print("\n".join(lines))


if __name__ == "__main__":
    main()
