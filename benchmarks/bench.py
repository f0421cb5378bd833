"""Benchmarks against the original toolkit and the PNG I/O floor; writes REPORT.md.

    python benchmarks/bench.py [--oracle /path/to/venv/bin/python] [--runs 3] [--only prep,pixel,...]

Data: full-size (2048x1024) synthetic frames from ``cityscapesscripts.sample``
(50-150 polygons, thousands of vertices per frame) under --data.  The
original runs in a scratch venv (``cityscapesscripts`` 2.3.0 from PyPI,
numpy<2, Pillow 12); its Cython confusion-matrix extension is not shipped on
PyPI, so setup_oracle() builds an equivalent plain loop into it (otherwise the
original falls back to a slower np.unique path and the comparison would
flatter us).  Each timing is the median of --runs runs; I/O floors are the
decoding / encoding of the PNGs a task must read / write, on all cores.
"""
import argparse
import glob
import io
import json
import multiprocessing
import os
import platform
import shutil
import statistics
import subprocess
import sys
import tempfile
import time

import numpy as np
from PIL import Image

HERE = os.path.dirname(os.path.abspath(__file__))
DRIVER = os.path.join(HERE, "driver.py")
CORES = len(os.sched_getaffinity(0))

STAND_IN_PYX = '''
# cython: boundscheck=False, wraparound=False
import numpy as np
def cEvaluatePair(predictionArr, groundTruthArr, confMatrix, evalLabels):
    cdef const unsigned char[:, ::1] p = np.ascontiguousarray(predictionArr, dtype=np.uint8)
    cdef const unsigned char[:, ::1] g = np.ascontiguousarray(groundTruthArr, dtype=np.uint8)
    cdef unsigned long long[:, ::1] c = confMatrix
    cdef Py_ssize_t y, x
    for y in range(p.shape[0]):
        for x in range(p.shape[1]):
            c[g[y, x], p[y, x]] += 1
    return confMatrix
'''


def setup_oracle(python):
    """Give the original its compiled confusion matrix (a stand-in of ours, see the module doc)."""
    check = subprocess.run([python, "-c", "from cityscapesscripts.evaluation import addToConfusionMatrix"],
                           capture_output=True)
    if check.returncode == 0:
        return
    target = subprocess.run([python, "-c", "import cityscapesscripts.evaluation as e, os; "
                             "print(os.path.dirname(e.__file__))"], capture_output=True, text=True).stdout.strip()
    build = tempfile.mkdtemp()
    with open(os.path.join(build, "addToConfusionMatrix.pyx"), "w") as f:
        f.write(STAND_IN_PYX)
    subprocess.run([python, "-c", "from Cython.Build import cythonize; from setuptools import setup; import numpy; "
                    "setup(ext_modules=cythonize('addToConfusionMatrix.pyx'), include_dirs=[numpy.get_include()], "
                    "script_args=['build_ext', '--inplace'])"], cwd=build, check=True, capture_output=True)
    for so in glob.glob(os.path.join(build, "addToConfusionMatrix*.so")):
        shutil.copy(so, target)


def median_run(command, runs, env=None, before=None):
    times, score = [], None
    for _ in range(runs):
        if before:
            before()
        start = time.perf_counter()
        out = subprocess.run(command, env=env, capture_output=True, text=True)
        wall = time.perf_counter() - start
        if out.returncode:
            raise RuntimeError(f"{command} failed: {out.stderr[-2000:]}")
        if DRIVER in command:
            result = json.loads(out.stdout.strip().splitlines()[-1])
            times.append(result["seconds"])
            score = result["score"]
        else:
            times.append(wall)
    return statistics.median(times), times, score


# ---- data --------------------------------------------------------------------------
def make_data(root, frames, heavy_frames):
    from cityscapesscripts import sample
    full = os.path.join(root, f"val{frames}")
    if not os.path.isdir(full):
        sample.generate(full, frames, predictions=True, progress=False)
    prep = os.path.join(root, "prep")
    if not os.path.isdir(prep):
        prep_frames = frames
        for path in sorted(glob.glob(os.path.join(full, "gtFine", "val", "*", "*_polygons.json")))[:prep_frames]:
            dest = os.path.join(prep, os.path.relpath(path, full))
            os.makedirs(os.path.dirname(dest), exist_ok=True)
            shutil.copy(path, dest)
    heavy = os.path.join(root, "heavy")
    if not os.path.isdir(heavy):
        make_heavy(full, heavy, heavy_frames)
    return full, prep, heavy


def make_heavy(full, heavy, frames):
    """100 predictions per image (as Mask R-CNN at a low score threshold): jittered ground truth plus clutter."""
    from cityscapesscripts.io import png, rle
    rng = np.random.default_rng(0)
    gts = sorted(glob.glob(os.path.join(full, "gtFine", "val", "*", "*_gtFine_instanceIds.png")))[:frames]
    for gt in gts:
        for suffix in ("instanceIds", "labelIds"):
            src = gt.replace("instanceIds", suffix)
            dest = os.path.join(heavy, os.path.relpath(src, full))
            os.makedirs(os.path.dirname(dest), exist_ok=True)
            shutil.copy(src, dest)
    mask_dir = os.path.join(heavy, "results", "instance_heavy", "mask")
    os.makedirs(mask_dir, exist_ok=True)
    coco = []
    yy, xx = np.mgrid[0:1024, 0:2048]
    for gt in gts:
        ids = png.read_ids_16bit(gt)
        frame = os.path.basename(gt)[:-len("_gtFine_instanceIds.png")]
        frame = "_".join(frame.split("_")[:3])
        lines = []
        instances = [i for i in np.unique(ids).tolist() if i >= 1000 and i // 1000 not in (29, 30)]
        for k in range(100):
            if k < len(instances):
                mask = np.roll(ids == instances[k], tuple(rng.integers(-8, 9, 2)), axis=(0, 1))
                label = instances[k] // 1000
            else:
                cx, cy = rng.uniform(0, 2048), rng.uniform(400, 1000)
                rx, ry = rng.uniform(10, 120), rng.uniform(10, 90)
                mask = ((xx - cx) / rx) ** 2 + ((yy - cy) / ry) ** 2 <= 1
                label = int(rng.choice([24, 25, 26, 27, 28, 31, 32, 33]))
            score = round(float(rng.uniform(0.05, 1.0)), 6)  # as written to the txt file
            name = f"{frame}_{k}.png"
            png.write_png(os.path.join(mask_dir, name), mask.astype(np.uint8) * 255)
            lines.append(f"mask/{name} {label} {score:.6f}")
            coco.append({"image_id": frame, "category_id": label, "score": score,
                         "segmentation": rle.encode(mask)})
        with open(os.path.join(heavy, "results", "instance_heavy", frame + "_pred.txt"), "w") as f:
            f.write("\n".join(lines) + "\n")
    with open(os.path.join(heavy, "results", "instance_heavy.json"), "w") as f:
        json.dump(coco, f)


# ---- I/O floors ------------------------------------------------------------------------
def _keep_freed_memory():
    from cityscapesscripts.parallel import _keep_freed_memory as tune  # the floor gets our allocator setting too
    tune()


def _decode(path):
    image = Image.open(path)
    image.load()  # as cityscapesscripts.io.png reads: load, then view as an array
    np.asarray(image)


def decode_floor(paths, runs):
    """Wall time to decode the files with Pillow on all cores (pool started before timing)."""
    times = []
    with multiprocessing.get_context("fork").Pool(CORES, initializer=_keep_freed_memory) as pool:
        pool.map(_decode, paths[:CORES])
        for _ in range(runs):
            start = time.perf_counter()
            pool.map(_decode, paths, chunksize=max(1, min(8, len(paths) // (CORES * 16))))
            times.append(time.perf_counter() - start)
    return statistics.median(times)


def _encode_seconds(path):
    from cityscapesscripts.io import png
    array = np.asarray(Image.open(path))
    out = path + ".floor.png"
    start = time.perf_counter()
    png.write_png(out, array)
    seconds = time.perf_counter() - start
    os.unlink(out)
    return seconds


def encode_floor(paths, runs):
    """Encoding and writing the files with our codec, summed and divided by the cores."""
    with multiprocessing.get_context("fork").Pool(CORES, initializer=_keep_freed_memory) as pool:
        return statistics.median(sum(pool.map(_encode_seconds, paths)) / CORES for _ in range(runs))


# ---- codecs ------------------------------------------------------------------------------
def codec_table(prep):
    from cityscapesscripts.helpers.annotation import Annotation
    from cityscapesscripts.io import png
    from cityscapesscripts.preparation import rasterize
    files = sorted(glob.glob(os.path.join(prep, "gtFine", "*", "*", "*_polygons.json")))[:5]
    arrays = []
    for f in files:
        a = Annotation()
        a.fromJsonFile(f)
        m = rasterize.rasterize(a)
        arrays += [rasterize.encode(m, e) for e in rasterize.ENCODINGS]
    per_frame = len(rasterize.ENCODINGS)
    encoders = {
        "Pillow, compress_level 6 (the original's default)": lambda a: _pil(a, {}),
        "Pillow, compress_level 1": lambda a: _pil(a, {"compress_level": 1}),
        "Pillow, compress_level 1, Z_RLE": lambda a: _pil(a, {"compress_level": 1, "compress_type": 3}),
        "ours: filter Up + libdeflate level 4": png.encode_png,
    }
    try:
        import cv2
        encoders["OpenCV imencode, compression 1"] = lambda a: cv2.imencode(
            ".png", a[..., [2, 1, 0, 3]] if a.ndim == 3 else a, [cv2.IMWRITE_PNG_COMPRESSION, 1])[1].tobytes()
    except ImportError:
        pass
    rows = []
    for name, encode in encoders.items():
        start = time.perf_counter()
        sizes = [len(encode(a)) for a in arrays]
        seconds = time.perf_counter() - start
        rows.append((name, 1000 * seconds / (len(arrays) / per_frame), sum(sizes) / (len(arrays) / per_frame)))
    decoders = {"Pillow": lambda d: np.asarray(Image.open(io.BytesIO(d)))}
    try:
        import cv2
        decoders["OpenCV imdecode"] = lambda d: cv2.imdecode(np.frombuffer(d, np.uint8), cv2.IMREAD_UNCHANGED)
    except ImportError:
        pass
    blobs = [_pil(a, {}) for a in arrays]
    drows = []
    for name, decode in decoders.items():
        start = time.perf_counter()
        for b in blobs:
            decode(b)
        drows.append((name, 1000 * (time.perf_counter() - start) / (len(arrays) / per_frame)))
    return rows, drows


def _pil(array, params):
    b = io.BytesIO()
    Image.fromarray(array).save(b, "PNG", **params)
    return b.getvalue()


# ---- tasks -------------------------------------------------------------------------------
def tool(name):
    return os.path.join(os.path.dirname(sys.executable), name)


def clean_outputs(root):
    def run():
        for pattern in ("*_labelTrainIds.png", "*_instanceTrainIds.png", "*_labelIds.png", "*_instanceIds.png",
                        "*_color.png"):
            for p in glob.glob(os.path.join(root, "gtFine", "*", "*", pattern)):
                os.unlink(p)
    return run


def bench_prep(prep, oracle, runs, results):
    frames = len(glob.glob(os.path.join(prep, "gtFine", "*", "*", "*_polygons.json")))
    env = dict(os.environ, CITYSCAPES_DATASET=prep)
    rows = []
    for script, output in (("csCreateTrainIdLabelImgs", "labelTrainIds"),
                           ("csCreateTrainIdInstanceImgs", "instanceTrainIds")):
        pattern = os.path.join(prep, "gtFine", "*", "*", f"*_{output}.png")
        ours, floor, ratio, _ = interleaved([tool(script), "--dataset", prep, "-q"],
                                            lambda pattern=pattern: encode_floor(sorted(glob.glob(pattern)), 1), runs,
                                            before=clean_outputs(prep))
        original = median_run([os.path.join(os.path.dirname(oracle), script)], runs, env=env,
                              before=clean_outputs(prep))[0] if oracle else None
        rows.append((script, frames, ours, original, floor, ratio))
    pattern = os.path.join(prep, "gtFine", "*", "*", "*.png")
    ours, floor, ratio, _ = interleaved([sys.executable, DRIVER, "prep-all", prep],
                                        lambda: encode_floor(sorted(glob.glob(pattern)), 1), runs,
                                        before=clean_outputs(prep))
    original = median_run([oracle, DRIVER, "prep-all", prep], runs, before=clean_outputs(prep))[0] if oracle else None
    rows.append(("all five encodings (one pass / five calls)", frames, ours, original, floor, ratio))
    results["prep"] = rows


def interleaved(command, floor, runs, before=None):
    """Run ``command`` and the floor function alternately; medians of ours, the floor and their ratio.

    The machine's speed drifts by tens of percent over minutes, so a floor
    measured apart from our runs would compare different machines.
    """
    ours, floors, score = [], [], None
    for _ in range(runs):
        seconds, _, score = median_run(command, 1, before=before)
        ours.append(seconds)
        floors.append(floor())
    ratio = statistics.median(o / f for o, f in zip(ours, floors))
    return statistics.median(ours), statistics.median(floors), ratio, score


def bench_eval(name, task, data, floor_files, oracle, runs, results, extra=(), oracle_runs=None, extra_floor=None):
    def floor():
        return decode_floor(floor_files, 1) + (extra_floor() if extra_floor else 0.0)
    ours, io_floor, ratio, score = interleaved([sys.executable, DRIVER, task, data, *extra], floor, runs)
    original = original_score = None
    if oracle:
        original, _, original_score = median_run([oracle, DRIVER, task if task != "instance-coco" else "instance",
                                                  data, *extra], oracle_runs or runs)
    frames = len(glob.glob(os.path.join(data, "gtFine", "val", "*", "*_gtFine_labelIds.png")))
    results.setdefault("eval", []).append((name, frames, ours, original, io_floor, score, original_score, ratio))


def bench_convert(full, runs, results):
    """csConvert to COCO instances: ours only (the original has no converter)."""
    frames = len(glob.glob(os.path.join(full, "gtFine", "val", "*", "*_gtFine_instanceIds.png")))
    out = tempfile.mkdtemp()
    files = sorted(glob.glob(os.path.join(full, "gtFine", "val", "*", "*_gtFine_instanceIds.png")))
    ours, floor, ratio, _ = interleaved([tool("csConvert"), "--to", "coco-instances", full, out, "--split", "val"],
                                        lambda: decode_floor(files, 1), runs)
    shutil.rmtree(out)
    results["convert"] = [("csConvert --to coco-instances", frames, ours, floor, ratio)]


def write_report(results, path, args):
    lines = ["# Benchmarks", "",
             f"Machine: {CORES} cores, {platform.processor() or platform.machine()}, Python {platform.python_version()}, "
             f"NumPy {np.__version__}, Pillow {Image.__version__}. Original: cityscapesscripts 2.3.0 in a scratch "
             "venv (numpy<2, Pillow 12) with a compiled confusion matrix (see bench.py). Medians of runs per "
             "section: " + ", ".join(f"{k} {v}" for k, v in sorted(results.get("runs", {}).items()))
             + f" (the original's heavy instance run: {args.oracle_heavy_runs}). All frames 2048x1024. "
             "Ours and the I/O floor run alternately and `ours / floor` is the median of the per-run ratios, "
             "because this machine's speed drifts by tens of percent over minutes.",
             "", "Reproduce: `python benchmarks/bench.py --oracle /path/to/original-venv/bin/python`", ""]
    if "prep" in results:
        lines += ["## Preparation (polygons to PNGs)", "",
                  "| task | frames | ours (s) | original (s) | speed-up | I/O floor (s) | ours / floor |",
                  "| --- | --- | --- | --- | --- | --- | --- |"]
        for task, frames, ours, original, floor, ratio in results["prep"]:
            lines.append(f"| {task} | {frames} | {ours:.2f} | {_f(original)} | {_ratio(original, ours)} | "
                         f"{floor:.2f} | {ratio:.2f} |")
        lines += ["", "I/O floor: encoding and writing the same PNGs with our codec, summed over files and "
                  "divided by the cores. Ours includes interpreter start-up, JSON parsing and rasterizing.", ""]
    if "codecs" in results:
        enc, dec = results["codecs"]
        lines += ["## PNG codecs (one core, per frame of five encodings)", "", "| encoder | ms / frame | bytes / frame |",
                  "| --- | --- | --- |"] + [f"| {n} | {t:.1f} | {s:,.0f} |" for n, t, s in enc]
        lines += ["", "| decoder | ms / frame |", "| --- | --- |"] + [f"| {n} | {t:.1f} |" for n, t in dec] + [""]
    if "eval" in results:
        lines += ["## Evaluation", "",
                  "| task | frames | ours (s) | original (s) | speed-up | I/O floor (s) | ours / floor | same score |",
                  "| --- | --- | --- | --- | --- | --- | --- | --- |"]
        for name, frames, ours, original, floor, score, original_score, ratio in results["eval"]:
            same = "n/a" if original_score is None else ("yes" if _close(score, original_score) else
                                                          f"no ({score} vs {original_score})")
            lines.append(f"| {name} | {frames} | {ours:.2f} | {_f(original)} | {_ratio(original, ours)} | "
                         f"{floor:.2f} | {ratio:.2f} | {same} |")
        lines += ["", "I/O floor: wall time to decode, with Pillow on all cores (workers with the same allocator setting as ours), every PNG the task reads (pixel: "
                  "prediction, labelIds, instanceIds; instance: instanceIds and every mask PNG; RLE input: "
                  "instanceIds only; panoptic: both panoptic PNGs)."]
    lines += targets_section(results)
    if "convert" in results:
        lines += ["", "## Conversion", "", "| task | frames | ours (s) | I/O floor (s) | ours / floor | s / 100 frames |",
                  "| --- | --- | --- | --- | --- | --- |"]
        for name, frames, ours, floor, ratio in results["convert"]:
            lines.append(f"| {name} | {frames} | {ours:.2f} | {floor:.2f} | {ratio:.2f} | "
                         f"{100 * ours / frames:.2f} |")
        lines += ["", "I/O floor: decoding the instanceIds PNGs on all cores. For scale: a peer tool was reported "
                  "to take about 7 minutes for 500 images."]
    kept = ""  # sections other scripts write (bench_box3d.py, bench_dask.py) stay
    if os.path.exists(path):
        with open(path) as f:
            old_sections = f.read().split("\n## ")[1:]
        own = {line[3:] for line in lines if line.startswith("## ")}
        kept = "".join("\n## " + section for section in old_sections if section.split("\n")[0] not in own)
    with open(path, "w") as f:
        f.write("\n".join(lines) + "\n" + kept)


# (row name prefix, speed-up target over the original, ours / floor target) from the issues
TARGETS = [("csCreateTrainIdLabelImgs", 3, 1.5), ("csCreateTrainIdInstanceImgs", 3, 1.5),
           ("all five encodings", 6, 1.5), ("csEvalPixelLevelSemanticLabeling", 4, 1.3),
           ("csEvalInstanceLevelSemanticLabeling", 4, 1.5), ("instance, heavy: 100 PNG", 3, 1.5),
           ("instance, heavy: 100 RLE", 20, 1.5), ("csEvalPanopticSemanticLabeling", 5, 1.5),
           ("csCreatePanopticImgs", 8, 1.5)]

MISSED_FLOOR_NOTES = """
### What stands between us and the targets we miss

* **`csCreateTrainIdLabelImgs` speed-up (2.7x to 3.1x over four runs of
  this script, target 3x).** It is the original's cheapest job: one 8-bit PNG
  per frame, about 23 ms. Ours spends about 12 ms of CPU per frame (JSON 2.5,
  Pillow's polygon fill 4.5, lookup 2, PNG 3.5) on two cores, plus about
  0.15 s of interpreter and pool start-up, which is a fifth of the whole run
  at 100 frames. The per-frame work is at the floor of what it must do; with
  more frames the ratio rises towards 3.5x.
* **Preparation vs its I/O floor.** The floor counts only encoding and
  writing the output PNGs. Per full-size frame the tools must also parse the
  polygon JSON (about 2.5 ms) and fill the polygons with Pillow's
  `ImageDraw.polygon` (about 4.5 ms; its coverage defines the ground truth, so
  we keep it). Writing one 8-bit PNG costs about 3.5 ms with libdeflate, so a
  single-encoding tool cannot come within 1.5x of a floor that leaves that work
  out. With all five encodings the PNG work dominates and the ratio is about
  1.5; deflate is the limit there (libdeflate runs at about 650 MB/s; filters
  Up, None and Sub at levels 2 and 4 were measured, Up at level 4 is best).
* **Panoptic conversion vs its floor (about 1.7x).** Beyond decoding the
  instanceIds PNG and encoding the panoptic PNG, each frame needs the segment
  statistics pass (about 1.5 ms), the colour mapping (about 2.5 ms) and the
  segment list; the floor leaves those out.
* **RLE input vs its floor.** That row's floor is decoding the ground truth
  only; the RLE masks are decoded by us (vectorized) and histogrammed, which
  is the inherent work of that input, and still 35x faster than the original.
* **Noise.** This shared 2-core machine's speed drifts by tens of percent
  over minutes (the same file decoded in 16 ms and in 28 ms a minute apart),
  so ours and the floor are measured alternately and the ratio is the median
  of per-run ratios; ratios near a target can still land on either side.
"""


def targets_section(results):
    rows = [tuple(r) for r in results.get("prep", [])] + [tuple(r[:5]) + (r[7],) for r in results.get("eval", [])]
    lines = ["", "## Against the targets", "", "| task | speed-up (target) | ours / floor (target) |",
             "| --- | --- | --- |"]
    for prefix, speed, floor in TARGETS:
        for name, _, ours, original, _, ratio in rows:
            if name.startswith(prefix):
                up = original / ours if original else None
                lines.append(f"| {name} | {'n/a' if up is None else f'{up:.2f}x'} (>= {speed}x, "
                             f"{'met' if up and up >= speed else 'missed'}) | {ratio:.2f} (<= {floor}, "
                             f"{'met' if ratio <= floor else 'missed'}) |")
    return lines + MISSED_FLOOR_NOTES.splitlines()


def _rerun(name, only):
    """Whether an evaluation row belongs to a section being run again."""
    kind = "panoptic" if "anoptic" in name else "instance" if "nstance" in name else "pixel"
    return kind in only


def _f(v):
    return "n/a" if v is None else f"{v:.2f}"


def _ratio(original, ours):
    return "n/a" if original is None else f"{original / ours:.1f}x"


def _close(a, b):
    return a == b or (a is not None and b is not None and abs(a - b) <= 1e-9 * max(1, abs(a)))


def main():
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--data", default=os.path.join(tempfile.gettempdir(), "cityscapes-bench"))
    p.add_argument("--frames", type=int, default=100)
    p.add_argument("--heavy-frames", type=int, default=20)
    p.add_argument("--runs", type=int, default=3)
    p.add_argument("--oracle-heavy-runs", type=int, default=1)
    p.add_argument("--oracle", help="python of a venv with the original cityscapesscripts")
    p.add_argument("--only", default="prep,codecs,pixel,instance,panoptic,convert",
                   help="sections to run; the others keep their last results (results.json)")
    p.add_argument("--report", default=os.path.join(HERE, "REPORT.md"))
    p.add_argument("--report-only", action="store_true", help="rewrite REPORT.md from results.json")
    args = p.parse_args()
    saved = os.path.join(HERE, "results.json")
    if args.report_only:
        write_report(json.load(open(saved)), args.report, args)
        return
    if args.oracle:
        setup_oracle(args.oracle)
    full, prep, heavy = make_data(args.data, args.frames, args.heavy_frames)
    only = set(args.only.split(","))
    results = {k: v for k, v in json.load(open(saved)).items()} if os.path.isfile(saved) else {}
    if "pixel" in only or "instance" in only or "panoptic" in only:
        results["eval"] = [row for row in results.get("eval", []) if not _rerun(row[0], only)]
    for section in only:
        results.setdefault("runs", {})[section] = args.runs
    if "prep" in only:
        bench_prep(prep, args.oracle, args.runs, results)
    if "codecs" in only:
        results["codecs"] = codec_table(prep)
    gt = lambda root, kind: sorted(glob.glob(os.path.join(root, "gtFine", "val", "*", f"*_gtFine_{kind}.png")))  # noqa
    if "pixel" in only:
        files = gt(full, "labelIds") + gt(full, "instanceIds") + sorted(glob.glob(os.path.join(full, "results",
                                                                                               "semantic", "*.png")))
        bench_eval("csEvalPixelLevelSemanticLabeling", "pixel", full, files, args.oracle, args.runs, results)
    if "instance" in only:
        masks = sorted(glob.glob(os.path.join(full, "results", "instance", "mask", "*.png")))
        bench_eval(f"csEvalInstanceLevelSemanticLabeling, {len(masks) / args.frames:.0f} masks / image", "instance",
                   full, gt(full, "instanceIds") + masks, args.oracle, args.runs, results)
        heavy_masks = sorted(glob.glob(os.path.join(heavy, "results", "instance_heavy", "mask", "*.png")))
        bench_eval("instance, heavy: 100 PNG masks / image", "instance", heavy, gt(heavy, "instanceIds") + heavy_masks,
                   args.oracle, args.runs, results, ["instance_heavy"], args.oracle_heavy_runs)
        bench_eval("instance, heavy: 100 RLE masks / image (original: PNG masks)", "instance-coco", heavy,
                   gt(heavy, "instanceIds"), args.oracle, args.runs, results, ["instance_heavy"],
                   args.oracle_heavy_runs)
    if "convert" in only:
        bench_convert(full, args.runs, results)
    if "panoptic" in only:
        gt_png = sorted(glob.glob(os.path.join(full, "gtFine", "cityscapes_panoptic_val", "*.png")))
        pred_png = sorted(glob.glob(os.path.join(full, "results", "panoptic", "cityscapes_panoptic_val", "*.png")))
        bench_eval("csEvalPanopticSemanticLabeling (evaluatePanoptic)", "panoptic-eval", full, gt_png + pred_png,
                   args.oracle, args.runs, results)
        bench_eval("csCreatePanopticImgs (convert2panoptic)", "panoptic-prep", full, gt(full, "instanceIds"),
                   args.oracle, args.runs, results, extra_floor=lambda: encode_floor(gt_png, 1))
    with open(saved, "w") as f:
        json.dump(results, f, indent=1)
    write_report(results, args.report, args)
    print(open(args.report).read())


if __name__ == "__main__":
    main()
