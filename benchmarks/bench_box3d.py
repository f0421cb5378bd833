"""Cityscapes 3D evaluation: ours against the original, console tool and module API.

    python benchmarks/bench_box3d.py --oracle /path/to/original-venv/bin/python [--frames 500] [--runs 5]

Data: a seeded synthetic split of Cityscapes size (``--frames`` frames, 8-12
ground-truth boxes each, two ignore regions, the cameras of the golden set),
with predictions for about 85% of the boxes (noisy centre, size and heading)
plus two false positives per frame.  Ours and the original run alternately,
``--runs`` times each; the report gives medians of wall time and CPU seconds
(the process and its workers) and checks that both write the same
``results.json`` bytes.  Writes its section of ``benchmarks/REPORT.md`` (``--report``;
the other sections stay) and prints it.
"""
import argparse
import json
import math
import os
import random
import resource
import statistics
import subprocess
import sys
import tempfile
import time

import numpy as np

HERE = os.path.dirname(os.path.abspath(__file__))
GOLDEN = os.path.join(HERE, "..", "tests", "fixtures", "golden", "box3d", "gtBbox3d", "val")
CLASSES = [("car", 0.6, (4.4, 1.8, 1.5)), ("truck", 0.08, (7.5, 2.5, 3.0)), ("bus", 0.05, (11.0, 2.6, 3.2)),
           ("train", 0.02, (20.0, 3.0, 3.8)), ("motorcycle", 0.07, (2.1, 0.8, 1.4)),
           ("bicycle", 0.18, (1.8, 0.6, 1.6))]


def _quaternion(yaw, pitch, roll):
    cy, sy, cp, sp, cr, sr = (f(a / 2) for a in (yaw, pitch, roll) for f in (math.cos, math.sin))
    return [cr * cp * cy + sr * sp * sy, sr * cp * cy - cr * sp * sy, cr * sp * cy + sr * cp * sy,
            cr * cp * sy - sr * sp * cy]


def make_split(root, frames, seed=3):
    """Write ``root/gtBbox3d/val/<city>/*_gtBbox3d.json`` and ``root/pred/<city>/*_predBbox3d.json``."""
    from cityscapesscripts.evaluation.box3d import Boxes3d
    from cityscapesscripts.helpers.box3dImageTransform import Camera
    rng = random.Random(seed)
    sensors = []
    for city in sorted(os.listdir(GOLDEN)):
        name = sorted(os.listdir(os.path.join(GOLDEN, city)))[0]
        with open(os.path.join(GOLDEN, city, name)) as f:
            sensors.append(json.load(f)["sensor"])
    labels, weights = [c[0] for c in CLASSES], [c[1] for c in CLASSES]
    sizes = {c[0]: c[2] for c in CLASSES}
    for i in range(frames):
        city = ("aachen", "bochum", "cologne", "dresden", "erfurt")[i % 5]
        key = f"{city}_{i:06d}_000019"
        sensor = sensors[i % len(sensors)]
        camera = Camera(sensor["fx"], sensor["fy"], sensor["u0"], sensor["v0"], sensor["sensor_T_ISO_8855"])
        gt_objects, pred_objects = [], []
        for k in range(rng.randint(8, 12)):
            label = rng.choices(labels, weights)[0]
            dims = [d * rng.uniform(0.85, 1.15) for d in sizes[label]]
            x = rng.uniform(6, 115)
            center = [x, rng.uniform(-0.25, 0.25) * x + rng.uniform(-3, 3), dims[2] / 2 + rng.uniform(-0.2, 0.2)]
            rotation = _quaternion(rng.uniform(-math.pi, math.pi), rng.gauss(0, 0.02), rng.gauss(0, 0.02))
            box = Boxes3d([label], [[0, 0, 0, 0]], None, [center], [dims], [rotation]).with_amodal_from_3d(camera)
            amodal = [int(v) for v in box.amodal[0]]
            if amodal[2] <= 1 or amodal[3] <= 1:
                continue
            modal = amodal[:2] + [max(1, int(v * rng.uniform(0.6, 1.0))) for v in amodal[2:]]
            gt_objects.append({"2d": {"modal": modal, "amodal": amodal},
                               "3d": {"center": center, "dimensions": dims, "rotation": rotation, "type": label,
                                      "format": "CRS_ISO8855"},
                               "occlusion": 0.0, "truncation": 0.0, "instanceId": 26000 + k, "label": label,
                               "score": 1.0})
            if rng.random() < 0.85:
                noise = 0.01 + 0.02 * x / 100
                p_center = [c + rng.gauss(0, noise * x) if j < 2 else c for j, c in enumerate(center)]
                p_dims = [d * rng.uniform(0.92, 1.08) for d in dims]
                heading = rng.gauss(0, 0.1) + (math.pi if rng.random() < 0.05 else 0.0)
                p_rotation = _quaternion(heading, rng.gauss(0, 0.02), rng.gauss(0, 0.02))
                p_rotation = list(np.round(_qmul(rotation, p_rotation), 4))
                pred_objects.append(_prediction(label, p_center, p_dims, p_rotation, modal, rng))
        for _ in range(2):
            label = rng.choices(labels, weights)[0]
            x = rng.uniform(6, 80)
            pred_objects.append(_prediction(label, [x, rng.uniform(-0.2, 0.2) * x, 0.8], list(sizes[label]),
                                            _quaternion(rng.uniform(-3, 3), 0, 0), [rng.randint(0, 1900),
                                            rng.randint(300, 700), 60, 40], rng, score_max=0.6))
        ignore = [{"2d": [rng.randint(0, 1900), rng.randint(300, 800), rng.randint(20, 120), rng.randint(20, 80)],
                   "label": "ignore", "instanceId": 0} for _ in range(2)]
        _write(os.path.join(root, "gtBbox3d", "val", city, key + "_gtBbox3d.json"),
               {"imgWidth": 2048, "imgHeight": 1024, "sensor": sensor, "objects": gt_objects, "ignore": ignore}, 4)
        _write(os.path.join(root, "pred", city, key + "_predBbox3d.json"), {"objects": pred_objects}, None)


def _qmul(a, b):
    w1, x1, y1, z1 = a
    w2, x2, y2, z2 = b
    return [w1 * w2 - x1 * x2 - y1 * y2 - z1 * z2, w1 * x2 + x1 * w2 + y1 * z2 - z1 * y2,
            w1 * y2 - x1 * z2 + y1 * w2 + z1 * x2, w1 * z2 + x1 * y2 - y1 * x2 + z1 * w2]


def _prediction(label, center, dims, rotation, modal, rng, score_max=1.0):
    return {"2d": {"modal": [m + rng.uniform(-3, 3) for m in modal], "amodal": [0, 0, 1, 1]},
            "3d": {"center": center, "dimensions": dims, "rotation": [float(q) for q in rotation]},
            "label": label, "score": round(rng.uniform(0.3 * score_max, score_max), 4)}


def _write(path, data, indent):
    os.makedirs(os.path.dirname(path), exist_ok=True)
    with open(path, "w") as f:
        json.dump(data, f, indent=indent)


MODULE_API = """
import resource, sys, time
t0 = time.perf_counter(); c0 = time.process_time()
from cityscapesscripts.evaluation.evalObjectDetection3d import evaluate3dObjectDetection, EvaluationParameters
t1 = time.perf_counter(); c1 = time.process_time()
evaluate3dObjectDetection(sys.argv[1], sys.argv[2], sys.argv[3], EvaluationParameters(
    ["car", "truck", "bus", "train", "motorcycle", "bicycle"]), plot=False)
t2 = time.perf_counter(); c2 = time.process_time()
children = resource.getrusage(resource.RUSAGE_CHILDREN)
print(t2 - t1, c2 - c1 + children.ru_utime + children.ru_stime)
"""


def run_console(command, cwd):
    """Wall seconds and CPU seconds (the tool and its workers) of one console run."""
    before = resource.getrusage(resource.RUSAGE_CHILDREN)
    start = time.perf_counter()
    subprocess.run(command, cwd=cwd, check=True, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    wall = time.perf_counter() - start
    after = resource.getrusage(resource.RUSAGE_CHILDREN)
    return wall, (after.ru_utime - before.ru_utime) + (after.ru_stime - before.ru_stime)


def run_module(python, root, out, cwd):
    os.makedirs(out, exist_ok=True)
    result = subprocess.run([python, "-c", MODULE_API, os.path.join(root, "gtBbox3d", "val"),
                             os.path.join(root, "pred"), out], cwd=cwd, check=True, capture_output=True, text=True)
    wall, cpu = map(float, result.stdout.split()[-2:])
    return wall, cpu


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--oracle", required=True, help="python of a venv with the original cityscapesscripts 2.3.0")
    parser.add_argument("--frames", type=int, default=500)
    parser.add_argument("--runs", type=int, default=5)
    parser.add_argument("--data", help="folder for the split (default: a temporary folder)")
    parser.add_argument("--report", default=os.path.join(HERE, "REPORT.md"), help="report to update")
    args = parser.parse_args()
    root = args.data or tempfile.mkdtemp(prefix="bench_box3d_")
    if not os.path.isdir(os.path.join(root, "gtBbox3d")):
        make_split(root, args.frames)
    ours_tool = [os.path.join(os.path.dirname(sys.executable), "csEvalObjectDetection3d")]
    oracle_tool = [os.path.join(os.path.dirname(args.oracle), "csEvalObjectDetection3d")]
    gt, pred = os.path.join(root, "gtBbox3d", "val"), os.path.join(root, "pred")
    work = tempfile.mkdtemp(prefix="bench_box3d_cwd_")  # the original writes eval.log into its working directory
    times = {key: [] for key in ("tool ours", "tool original", "api ours", "api original")}
    for _run in range(args.runs):
        for who, tool, python in (("ours", ours_tool, sys.executable), ("original", oracle_tool, args.oracle)):
            out = os.path.join(work, f"{who}_tool")
            times["tool " + who].append(run_console(tool + ["-gt", gt, "-pred", pred, "--results-folder", out,
                                                            "--noplot"], work))
            times["api " + who].append(run_module(python, root, os.path.join(work, f"{who}_api"), work))
    same = all(open(os.path.join(work, f"ours_{k}", "results.json"), "rb").read() ==
               open(os.path.join(work, f"original_{k}", "results.json"), "rb").read() for k in ("tool", "api"))
    with open(os.path.join(work, "ours_tool", "results.json")) as f:
        results = json.load(f)
    n_gt = sum(results["GT_stats"].values())
    median = {k: (statistics.median(w for w, _ in v), statistics.median(c for _, c in v)) for k, v in times.items()}
    oracle_numpy = subprocess.run([args.oracle, "-c", "import numpy; print(numpy.__version__)"], check=True,
                                  capture_output=True, text=True).stdout.strip()
    lines = [SECTION + f" ({args.frames} frames, {n_gt} evaluated GT boxes)", "",
             f"NumPy {np.__version__} (ours), {oracle_numpy} (original); OpenBLAS kernel: "
             f"{os.environ.get('OPENBLAS_CORETYPE') or 'the CPU default'}.",
             f"Machine: {os.cpu_count()} cores, load average {os.getloadavg()[0]:.1f} at the end; median of "
             f"{args.runs} runs, ours and the original alternating. CPU: seconds of the process and its workers "
             "(steadier than wall time when other jobs share the cores; the original uses one core).",
             "Reproduce: `python benchmarks/bench_box3d.py --oracle /path/to/original-venv/bin/python`", "",
             "| task | ours wall | original wall | speed-up | ours CPU | original CPU | CPU ratio |",
             "| --- | --- | --- | --- | --- | --- | --- |"]
    for task, name in (("tool", "`csEvalObjectDetection3d --noplot` (process, imports included)"),
                       ("api", "`evaluate3dObjectDetection` (in process, after imports)")):
        (ow, oc), (rw, rc) = median[f"{task} ours"], median[f"{task} original"]
        lines.append(f"| {name} | {ow:.2f} s | {rw:.2f} s | {rw / ow:.1f}x | {oc:.2f} s | {rc:.2f} s | {rc / oc:.1f}x |")
    lines += ["", f"`results.json` identical to the original's: {'yes' if same else 'NO'} "
              f"(mDetection_Score {results['mDetection_Score']:.4f}).", "",
              "All runs, (wall s, CPU s): " + json.dumps({k: [[round(w, 2), round(c, 2)] for w, c in v]
                                                          for k, v in times.items()})]
    update_section(args.report, SECTION, "\n".join(lines) + "\n")
    print("\n".join(lines))


SECTION = "## Cityscapes 3D evaluation"


def update_section(path, heading, text):
    """Replace the section of ``path`` that starts with ``heading`` (up to the next ``## ``) by ``text``,
    or append it."""
    with open(path) as f:
        report = f.read()
    start = report.find(heading)
    if start < 0:
        report = report.rstrip("\n") + "\n\n" + text
    else:
        end = report.find("\n## ", start + len(heading))
        report = report[:start] + text + ("" if end < 0 else report[end:])
    with open(path, "w") as f:
        f.write(report)

if __name__ == "__main__":
    main()
