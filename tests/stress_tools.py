"""Stress the batch tools: each runs with one bad item, many times, under a watchdog.

    python tests/stress_tools.py [--repetitions 200] [--timeout 120] [--tools NAME,...]

Every repetition runs a console script's ``main`` in this process with
``-j 2`` (a fresh process pool each time) on a small synthetic dataset whose
one item is bad, and counts the runs that end as they must: exit status 1,
an ``ERROR:`` line naming the bad file, and no temporary file left.  A run
still going after ``--timeout`` seconds dumps every thread's stack and ends
the script with status 2 (``faulthandler``), so a hang cannot pass unseen.
The test suite runs a few repetitions of the same (``test_reliability``).
"""
import argparse
import contextlib
import faulthandler
import glob
import io
import json
import os
import shutil
import sys
import tempfile
import time

FRAMES = 7


def _bad_polygons(root):
    path = sorted(glob.glob(os.path.join(root, "gtFine", "val", "*", "*_polygons.json")))[3]
    with open(path) as f:
        data = json.load(f)
    with open(path, "w") as f:  # Infinity: OverflowError in int() before the size was checked
        f.write(json.dumps(data).replace(f'"imgWidth": {data["imgWidth"]}', '"imgWidth": Infinity'))
    return path


def _junk(path):
    with open(path, "wb") as f:
        f.write(b"\x89PNG\r\n\x1a\n not a png")
    return path


def _first(root, pattern):
    return sorted(glob.glob(os.path.join(root, pattern), recursive=True))[3]


def _prepare(root, out):
    from cityscapesscripts.preparation import createTrainIdLabelImgs
    return (createTrainIdLabelImgs.main, ["--dataset", root, "-j", "2", "-q"], _bad_polygons(root))


def _panoptic_images(root, out):
    from cityscapesscripts.preparation import createPanopticImgs
    bad = _junk(_first(root, "gtFine/val/*/*_instanceIds.png"))
    return (createPanopticImgs.main, ["--dataset-folder", os.path.join(root, "gtFine"), "--output-folder", out,
                                      "--set-names", "val", "-j", "2", "-q"], bad)


def _pixel(root, out):
    from cityscapesscripts.evaluation import evalPixelLevelSemanticLabeling as tool
    bad = _junk(_first(root, "results/semantic/*_pred.png"))
    return (tool.main, ["--gt", os.path.join(root, "gtFine", "val"), "--pred", os.path.join(root, "results", "semantic"),
                        "-j", "2", "--quiet"], bad)


def _instance(root, out):
    from cityscapesscripts.evaluation import evalInstanceLevelSemanticLabeling as tool
    bad = _first(root, "results/instance/*_pred.txt")
    with open(bad, "a") as f:
        f.write("mask/missing.png 26 0.5\n")
    return (tool.main, ["--gt", os.path.join(root, "gtFine", "val"), "--pred", os.path.join(root, "results", "instance"),
                        "--gt-cache", os.path.join(out, "cache.json"), "-j", "2", "--quiet"], bad)


def _panoptic(root, out):
    from cityscapesscripts.evaluation import evalPanopticSemanticLabeling as tool
    bad = _junk(_first(root, "results/panoptic/cityscapes_panoptic_val/*.png"))
    return (tool.main, ["--gt-json-file", os.path.join(root, "gtFine", "cityscapes_panoptic_val.json"),
                        "--prediction-json-file", os.path.join(root, "results", "panoptic", "cityscapes_panoptic_val.json"),
                        "--results-file", os.path.join(out, "r.json"), "-j", "2", "--quiet"], bad)


def _convert(root, out):
    from cityscapesscripts.dataset import convert
    bad = _junk(_first(root, "gtFine/val/*/*_instanceIds.png"))
    return (convert.main, ["--to", "coco-instances", root, out, "--split", "val", "-j", "2"], bad)


TOOLS = {"csCreateTrainIdLabelImgs": _prepare, "csCreatePanopticImgs": _panoptic_images,
         "csEvalPixelLevelSemanticLabeling": _pixel, "csEvalInstanceLevelSemanticLabeling": _instance,
         "csEvalPanopticSemanticLabeling": _panoptic, "csConvert": _convert}


def make_sample(folder):
    """A small synthetic dataset with predictions (every tool's input), in ``folder``."""
    from cityscapesscripts import sample
    sample.generate(folder, FRAMES, 128, 64, predictions=True, jobs=1, progress=False)
    return folder


def run_once(main, argv, bad):
    """Run a tool once; whether it ended with status 1, an ERROR line naming ``bad``, and its output."""
    out, err = io.StringIO(), io.StringIO()
    with contextlib.redirect_stdout(out), contextlib.redirect_stderr(err):
        status = main(argv)
    errors = [line for line in err.getvalue().splitlines() if line.startswith("ERROR:")]
    ok = status == 1 and len(errors) == 1 and os.path.basename(bad) in errors[0]
    return ok, f"status {status}, stderr {err.getvalue()!r}"


def stress(tools, repetitions, workdir, timeout=120, log=None):
    """Run each tool ``repetitions`` times; returns ``{tool: (runs as expected, runs)}``."""
    sample = make_sample(os.path.join(workdir, "sample"))
    counts = {}
    for name in tools:
        root = os.path.join(workdir, name)
        shutil.copytree(sample, root)
        out = os.path.join(workdir, name + "-out")
        os.makedirs(out)
        main, argv, bad = TOOLS[name](root, out)
        good = 0
        for _ in range(repetitions):
            faulthandler.dump_traceback_later(timeout, exit=True)
            try:
                ok, detail = run_once(main, argv, bad)
            finally:
                faulthandler.cancel_dump_traceback_later()
            leftovers = glob.glob(os.path.join(workdir, "**", ".tmp-*"), recursive=True)
            if ok and not leftovers:
                good += 1
            elif log:
                log(f"{name}: unexpected end: {detail}, temporary files {leftovers}")
        counts[name] = (good, repetitions)
    return counts


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--repetitions", type=int, default=200)
    parser.add_argument("--timeout", type=float, default=120, help="seconds one run may take")
    parser.add_argument("--tools", default=",".join(TOOLS), help="comma-separated console script names")
    opts = parser.parse_args(argv)
    start = time.perf_counter()
    counts = {}
    for name in opts.tools.split(","):
        with tempfile.TemporaryDirectory(prefix="cs-stress-") as workdir:
            counts.update(stress([name], opts.repetitions, workdir, opts.timeout,
                                 log=lambda line: print(line, file=sys.stderr)))
        good, runs = counts[name]
        print(f"{name:40s} {good}/{runs}  ({time.perf_counter() - start:.0f} s)", flush=True)
    return 0 if all(good == runs for good, runs in counts.values()) else 1


if __name__ == "__main__":
    sys.exit(main())
