"""csStats against Datumaro's ``datum stats`` and against the I/O floor; writes its section of REPORT.md.

    python benchmarks/bench_stats.py [--data DIR] [--frames 128] [--runs 3] [--datumaro-python PY]

Data: full-size (2048x1024) synthetic frames from ``cityscapesscripts.sample``
at the typical density (detail 0.38, as bench.py), every PNG rewritten by
Pillow with its defaults (as the dataset ships them), and a camera image per
frame made from its colour map (:func:`_camera_image`), saved by Pillow as
Cityscapes' leftImg8bit are (about 2.2 MB, Paeth rows).  Made under --data when missing.

Tasks: ``csStats ROOT --images`` against ``datum stats ROOT:cityscapes`` (image
and annotation statistics), and ``csStats ROOT`` against ``datum stats
--image-stats false`` (annotations only); Datumaro's two calls are run as its
command runs them (:data:`DATUM_STATS`).  The I/O floor of each is reading
and decoding every file it reads with our decoders (PNGs: labelIds,
instanceIds, and leftImg8bit with --images; polygon JSONs parsed) on all
cores, the worker pool's start and join included.  Each run starts a fresh
process per tool; the tools alternate and their order rotates between runs
(this 2-core machine is shared).  Reported: medians of wall and CPU seconds
(process and workers, start-up included), their ratios, and whether the
numbers both compute are the same.
"""
import argparse
import glob
import json
import multiprocessing
import os
import re
import resource
import shutil
import statistics
import subprocess
import sys
import tempfile
import time

import numpy as np

HERE = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, HERE)
from bench import installed_python  # noqa: E402

REPORT = os.path.join(HERE, "REPORT.md")
HEADING = "## Dataset statistics against Datumaro"
CORES = len(os.sched_getaffinity(0))
# what `datum stats PATH:cityscapes [--image-stats false]` runs and writes (its CLI module needs the
# extras of datumaro[cli] only to start)
DATUM_STATS = """import json, sys, warnings
import datumaro as dm
from datumaro.components.operations import compute_ann_statistics, compute_image_statistics
dataset = dm.Dataset.import_from(sys.argv[1], "cityscapes")
stats = {}
warnings.simplefilter("ignore", FutureWarning)
if sys.argv[2]:
    stats.update(compute_image_statistics(dataset))
stats.update(compute_ann_statistics(dataset))
json.dump(stats, open("statistics.json", "w"), default=sorted)
"""


# ---- data ------------------------------------------------------------------------------------
def _pillow_resave(path):
    from PIL import Image
    Image.open(path).save(path)


def _smoothed(image):
    """A 3x3 box filter of an (H, W, C) float image, edges repeated."""
    h, w = image.shape[:2]
    padded = np.pad(image, ((1, 1), (1, 1), (0, 0)), mode="edge")
    return sum(padded[dy:dy + h, dx:dx + w] for dy in range(3) for dx in range(3)) / 9


def _camera_image(color_path):
    """A stand-in photo: the colour map with soft edges and shading, plus sensor noise that neighbouring
    pixels share (as after demosaicing).  Pillow saves it as Cityscapes' leftImg8bit are stored: about
    2.2 MB, nearly every row Paeth-filtered, as photos are (uniform per-pixel noise would give 4.5 MB
    of Sub and Up rows, which inflate and unfilter in other times)."""
    from PIL import Image

    from cityscapesscripts.io import layout
    rgb = np.asarray(Image.open(color_path).convert("RGB")).astype(np.float32)
    shading = np.linspace(0.75, 1.1, rgb.shape[0], dtype=np.float32)[:, None, None]
    noise = np.random.default_rng(len(color_path)).normal(0, 5.5, rgb.shape).astype(np.float32)
    photo = np.clip(np.rint(_smoothed(_smoothed(rgb)) * shading + _smoothed(noise)), 0, 255).astype(np.uint8)
    frame = layout.parse_name(color_path)
    split = os.path.basename(os.path.dirname(os.path.dirname(color_path)))
    root = os.path.dirname(os.path.dirname(os.path.dirname(os.path.dirname(color_path))))
    out = layout.frame_file(root, layout.CAMERA, split, frame.city,
                            f"{frame.city}_{frame.sequenceNb}_{frame.frameNb}")
    os.makedirs(os.path.dirname(out), exist_ok=True)
    Image.fromarray(photo).save(out)


def make_data(root, frames):
    from cityscapesscripts import parallel, sample
    if os.path.isdir(os.path.join(root, "leftImg8bit")):
        return
    sample.generate(root, frames, detail=0.38, progress=False)
    pngs = glob.glob(os.path.join(root, "gtFine", "*", "*", "*.png"))
    parallel.collect(_pillow_resave, pngs, None, "repacking", False)
    colors = glob.glob(os.path.join(root, "gtFine", "*", "*", "*_color.png"))
    parallel.collect(_camera_image, colors, None, "camera images", False)


# ---- the floor -------------------------------------------------------------------------------
def _worker_init():
    import signal

    from cityscapesscripts.parallel import _init_worker  # the floor's workers are set up as ours
    _init_worker()
    signal.signal(signal.SIGTERM, signal.SIG_DFL)


def _read(path):
    from cityscapesscripts.io import jsonfile, png
    with open(path, "rb") as f:
        data = f.read()
    if path.endswith(".json"):
        jsonfile.loads(data)
    elif png.decode_png(data, path) is None:
        raise RuntimeError(f"{path}: not a flavour our decoder reads")


def io_floor(paths):
    """``(wall, CPU)`` seconds to read and decode ``paths`` on all cores, pool start and join included."""
    from cityscapesscripts.io import jsonfile, png  # noqa: F401  (imported before the fork, as in the tool)
    before = _cpu_seconds()
    start = time.perf_counter()
    pool = multiprocessing.get_context("fork").Pool(CORES, initializer=_worker_init)
    try:
        pool.map(_read, paths, chunksize=max(1, min(8, len(paths) // (CORES * 16))))
        pool.close()
    finally:
        pool.join()
    return time.perf_counter() - start, _cpu_seconds() - before


def in_process(root, images):
    """``(wall, CPU)`` seconds of csStats' library call in this process (no interpreter start-up),
    its workers forked from here as the floor's are."""
    from cityscapesscripts.stats.files import collect_statistics
    before = _cpu_seconds()
    start = time.perf_counter()
    total, _ = collect_statistics(root, images=images, progress=False)
    total.result()
    return time.perf_counter() - start, _cpu_seconds() - before


def _cpu_seconds():
    return sum(r.ru_utime + r.ru_stime for r in (resource.getrusage(resource.RUSAGE_SELF),
                                                 resource.getrusage(resource.RUSAGE_CHILDREN)))


def timed(command, cwd=None):
    """(wall seconds, CPU seconds of the process and everything it waited for)."""
    before = resource.getrusage(resource.RUSAGE_CHILDREN)
    start = time.perf_counter()
    subprocess.run(command, check=True, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL, cwd=cwd)
    wall = time.perf_counter() - start
    after = resource.getrusage(resource.RUSAGE_CHILDREN)
    return wall, (after.ru_utime - before.ru_utime) + (after.ru_stime - before.ru_stime)


# ---- same numbers ------------------------------------------------------------------------------
def same_numbers(ours, theirs):
    """Whether our Datumaro section equals ``datum stats``' output where both compute a quantity
    (image means and standard deviations to 1e-9 relative: theirs are floating-point sums)."""
    theirs = json.loads(json.dumps(theirs))
    theirs["annotations by type"] = {k: v for k, v in theirs["annotations by type"].items() if v["count"]}
    theirs["annotations"]["labels"].pop("attributes", None)
    for key in ("dataset", "subsets"):
        if key not in theirs:
            ours.pop(key, None)
    ours = {k: v for k, v in ours.items() if k in theirs}
    return _close(ours, theirs)


def _close(a, b):
    if isinstance(a, dict):
        return isinstance(b, dict) and set(a) == set(b) and all(_close(a[k], b[k]) for k in a)
    if isinstance(a, list):
        return isinstance(b, list) and len(a) == len(b) and all(_close(x, y) for x, y in zip(a, b))
    if isinstance(a, float) or isinstance(b, float):
        return abs(a - b) <= 1e-9 * max(1.0, abs(a))
    return a == b


def main():
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--data", default=os.path.join(tempfile.gettempdir(), "cs-bench-stats"))
    parser.add_argument("--frames", type=int, default=128)
    parser.add_argument("--runs", type=int, default=3)
    parser.add_argument("--python", help="a Python with cityscapesscripts installed (default: a fresh venv with a "
                        "wheel of this checkout, as bench.py runs ours)")
    parser.add_argument("--datumaro-python", default=sys.executable, help="a Python with datumaro==1.13")
    parser.add_argument("--no-report", action="store_true")
    opts = parser.parse_args()
    python = opts.python or installed_python(tempfile.mkdtemp())
    make_data(opts.data, opts.frames)
    cs_stats = os.path.join(os.path.dirname(python), "csStats")
    version = subprocess.run([opts.datumaro_python, "-c", "import datumaro; print(datumaro.__version__)"],
                             capture_output=True, text=True, check=True).stdout.strip()
    gt = os.path.join(opts.data, "gtFine", "*", "*", "*_gtFine_")
    label_files = sorted(glob.glob(gt + "labelIds.png") + glob.glob(gt + "instanceIds.png")
                         + glob.glob(gt + "polygons.json"))
    camera_files = sorted(glob.glob(os.path.join(opts.data, "leftImg8bit", "*", "*", "*.png")))
    scratch = tempfile.mkdtemp()
    tasks = {"images": ([cs_stats, opts.data, "--images", "-q", "--json", os.path.join(scratch, "ours-images.json")],
                        [opts.datumaro_python, "-c", DATUM_STATS, opts.data, "1"], label_files + camera_files),
             "labels": ([cs_stats, opts.data, "-q", "--json", os.path.join(scratch, "ours-labels.json")],
                        [opts.datumaro_python, "-c", DATUM_STATS, opts.data, ""], label_files)}
    jobs = [(task, tool) for task in tasks for tool in ("ours", "datumaro", "floor", "in-process")]
    times = {job: [] for job in jobs}
    same = {}
    load_before = os.getloadavg()
    try:
        for run in range(opts.runs):
            shift = run % len(jobs)
            for task, tool in jobs[shift:] + jobs[:shift]:
                ours, theirs, files = tasks[task]
                if tool == "floor":
                    times[task, tool].append(io_floor(files))
                elif tool == "in-process":
                    times[task, tool].append(in_process(opts.data, task == "images"))
                else:
                    cwd = os.path.join(scratch, f"{task}-{tool}")
                    shutil.rmtree(cwd, ignore_errors=True)
                    os.makedirs(cwd)
                    times[task, tool].append(timed(ours if tool == "ours" else theirs, cwd))
                print(f"run {run + 1}: {task} {tool}: {times[task, tool][-1][0]:.2f} s wall, "
                      f"{times[task, tool][-1][1]:.2f} s CPU", flush=True)
            for task, (ours, _, _) in tasks.items():
                with open(ours[-1]) as f, open(os.path.join(scratch, f"{task}-datumaro", "statistics.json")) as g:
                    same[task] = same.get(task, True) and same_numbers(json.load(f)["datumaro"], json.load(g))
    finally:
        shutil.rmtree(scratch, ignore_errors=True)
    load = " / ".join(f"{a:.1f}-{b:.1f}" for a, b in zip(load_before, os.getloadavg()))
    rows = []
    for task in tasks:
        ours, theirs, floor, inner = ([statistics.median(v) for v in zip(*times[task, tool])]
                                      for tool in ("ours", "datumaro", "floor", "in-process"))
        label = "csStats --images vs datum stats" if task == "images" else \
            "csStats vs datum stats --image-stats false"
        rows.append(f"| {label} | {ours[0]:.2f} | {theirs[0]:.2f} | {theirs[0] / ours[0]:.1f}x "
                    f"| {theirs[0] / floor[0]:.1f}x "
                    f"| {ours[1]:.2f} | {theirs[1]:.2f} | {theirs[1] / ours[1]:.1f}x | {floor[0]:.2f} "
                    f"| {ours[0] / floor[0]:.2f} | {ours[1] / floor[1]:.2f} | {inner[0] / floor[0]:.2f} "
                    f"| {inner[1] / floor[1]:.2f} | {'yes' if same[task] else 'NO'} |")
    section = "\n".join([
        HEADING, "",
        f"{opts.frames} full-size frames of typical density with photo-like camera images (2.2 MB, Paeth rows, "
        f"as Cityscapes' leftImg8bit), medians of {opts.runs} "
        f"interleaved runs (order rotated), Datumaro {version}, {CORES} cores shared with other jobs, load "
        f"average (1 / 5 / 15 min, before-after) {load} (`python benchmarks/bench_stats.py`).", "",
        "| task | ours wall (s) | Datumaro wall (s) | speed-up | speed-up of the floor | ours CPU (s) | Datumaro CPU (s) | CPU ratio "
        "| I/O floor wall (s) | ours / floor, wall | ours / floor, CPU | in-process / floor, wall "
        "| in-process / floor, CPU | same numbers |",
        "| --- | --- | --- | --- | --- | --- | --- | --- | --- | --- | --- | --- | --- | --- |", *rows, "",
        "Same numbers: our JSON's `datumaro` section against Datumaro's `statistics.json`, every quantity",
        "both compute (image mean and std to 1e-9 relative; ours are exact sums over all pixels). Datumaro",
        "runs on one core, we on all; the CPU ratio is the speed-up before our use of the second core.",
        "The floor reads what csStats reads (labelIds, instanceIds, polygons; camera images with --images)",
        "with our decoders on all cores, in the benchmark's process; `speed-up of the floor` is Datumaro's",
        "wall time over the floor's, the most any tool that reads these files gets on this machine. We count",
        "label maps as their rows are unfiltered, which costs less than decoding them whole (in-process",
        "below 1x the floor), and camera images' channel values with one compiled pass. `ours` is the",
        "console script installed from a wheel in a fresh venv, interpreter start-up included (about 0.1 s",
        "wall); `in-process` the same library call from the benchmark's process, as the floor runs. A split",
        "of a power of two of equal-sized images is where Datumaro's pairwise image mean (each pair weighted",
        "one half) equals the mean of all pixels, so",
        "that its numbers can be compared. Against the targets (10x `datum stats`, 1.3x the floor): where",
        "the floor's own speed-up is under 10x, no tool reading these files reaches 10x on this many cores;",
        "the console script's fixed start-up weighs less as the tree grows (Cityscapes' val has 500 frames).",
        "With --images, a camera image costs a worker about 12 ms of libdeflate inflating and 12 ms of",
        "unfiltering its Paeth rows while counting (a chain of dependent bytes; predicted with selects, not",
        "branches, as photos' choices are noise), against Datumaro's 130 ms a frame on one core: on 2 cores",
        "the floor itself stays under 10x, on more cores the ratio grows with them.",
        ""])
    print(section)
    if not opts.no_report:
        text = open(REPORT, encoding="utf-8").read()
        pattern = re.compile(re.escape(HEADING) + r".*?(?=\n## |\Z)", re.S)
        text = pattern.sub(lambda m: section.rstrip("\n") + "\n", text) if HEADING in text else \
            text.rstrip("\n") + "\n\n" + section
        with open(REPORT, "w", encoding="utf-8") as f:
            f.write(text.rstrip("\n") + "\n")


if __name__ == "__main__":
    main()
