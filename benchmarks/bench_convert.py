"""csConvert against Datumaro on the same conversions; writes its section of REPORT.md.

    python benchmarks/bench_convert.py [--data DIR] [--frames 30] [--runs 5] [--datumaro-python PY]

Data: full-size (2048x1024) synthetic frames from ``csSampleDataset`` (made
under --data when missing); from them, once per invocation, a CamVid set and
a COCO panoptic export written by csConvert (the inputs of the conversions
back), and a SYNTHIA-RAND-CITYSCAPES-like set of as many 1280x760 frames
(16-bit label PNGs of random SYNTHIA ids in blocks, RGB images).
Conversions, each against Datumaro 1.13 doing the same:

* ``--to voc --save-images``: Datumaro's ``cityscapes`` import and
  ``voc_segmentation`` export with JPEG images (both at quality 75 with 4:2:0
  subsampling: the same JPEG files);
* ``--to coco-instances``: its ``coco_instances`` export;
* ``--to camvid --save-images``: its ``camvid`` export, PNG images;
* ``--from camvid --to cityscapes``, ``--from coco-panoptic --to cityscapes``
  and ``--from synthia --to cityscapes --save-images``: its ``camvid``,
  ``coco_panoptic`` and ``synthia_rand`` imports and ``cityscapes`` export
  (with the images for SYNTHIA).

Each run starts a fresh process per tool; the tools alternate within a run
and their order rotates between runs, because this 2-core machine is shared
and its speed drifts.  Reported: medians over runs of wall seconds and of CPU
seconds (user + system of the process and its workers, start-up included;
also per frame), their ratios, and the load average before and after.
"""
import argparse
import os
import re
import resource
import shutil
import statistics
import subprocess
import sys
import tempfile
import time

HERE = os.path.dirname(os.path.abspath(__file__))
REPORT = os.path.join(HERE, "REPORT.md")
# the report's sections and their tasks; a section is rewritten when all its tasks ran
SECTIONS = {"## Dataset conversion against Datumaro": ("voc", "coco-instances"),
            "## Conversions to CamVid and into Cityscapes against Datumaro": (
                "camvid", "from-camvid", "from-coco-panoptic", "from-synthia")}

# task: (csConvert arguments before IN OUT, after them, the input, Datumaro's import format and export call)
TASKS = {
    "voc": (["--to", "voc"], ["--save-images"], "cityscapes",
            "cityscapes", "ds.export(out, 'voc_segmentation', save_media=True, image_ext='.jpg')"),
    "coco-instances": (["--to", "coco-instances"], [], "cityscapes", "cityscapes", "ds.export(out, 'coco_instances')"),
    "camvid": (["--to", "camvid"], ["--save-images"], "cityscapes",
               "cityscapes", "ds.export(out, 'camvid', save_media=True, image_ext='.png')"),
    "from-camvid": (["--from", "camvid", "--to", "cityscapes"], [], "camvid",
                    "camvid", "ds.export(out, 'cityscapes')"),
    "from-coco-panoptic": (["--from", "coco-panoptic", "--to", "cityscapes"], [], "panoptic",
                           "coco_panoptic", "ds.export(out, 'cityscapes')"),
    "from-synthia": (["--from", "synthia", "--to", "cityscapes"], ["--save-images"], "synthia",
                     "synthia_rand", "ds.export(out, 'cityscapes', save_media=True)"),
}
LABELS = {"voc": "csConvert --to voc --save-images", "coco-instances": "csConvert --to coco-instances",
          "camvid": "csConvert --to camvid --save-images", "from-camvid": "csConvert --from camvid --to cityscapes",
          "from-coco-panoptic": "csConvert --from coco-panoptic --to cityscapes",
          "from-synthia": "csConvert --from synthia --to cityscapes --save-images"}


def commands(tool, task, inputs, out, python):
    before, after, source, dm_format, dm_export = TASKS[task]
    if tool.startswith("ours"):
        return ([os.path.join(os.path.dirname(python), "csConvert"), *before, inputs[source], out, *after]
                + (["-j", "1"] if tool == "ours -j 1" else []))
    data = inputs[source]
    if dm_format == "coco_panoptic":  # Datumaro takes the JSON itself
        data = os.path.join(data, "annotations", "cityscapes_panoptic_val.json")
    script = ("import datumaro as dm, sys; data, out = sys.argv[1:]; "
              f"ds = dm.Dataset.import_from(data, '{dm_format}'); {dm_export}")
    return [python, "-c", script, data, out]


def prepare(data, scratch, python, frames):
    """The inputs of the conversions back: our CamVid set and COCO panoptic export of ``data`` (Datumaro
    wants an images folder beside ``annotations/``), and a SYNTHIA-like set."""
    convert = os.path.join(os.path.dirname(python), "csConvert")
    inputs = {"cityscapes": data, "camvid": os.path.join(scratch, "in-camvid"),
              "panoptic": os.path.join(scratch, "in-panoptic"), "synthia": os.path.join(scratch, "in-synthia")}
    subprocess.run([convert, "--to", "camvid", data, inputs["camvid"], "--save-images", "-q"], check=True)
    subprocess.run([convert, "--to", "coco-panoptic", data, os.path.join(inputs["panoptic"], "annotations"), "-q"],
                   check=True)
    os.makedirs(os.path.join(inputs["panoptic"], "images", "val"))
    subprocess.run([python, "-c", MAKE_SYNTHIA, inputs["synthia"], str(frames)], check=True)
    return inputs


# a SYNTHIA-like set: 16-bit RGB label PNGs (random SYNTHIA ids in 40-pixel blocks) written as the
# fixture script writes them, and RGB images
MAKE_SYNTHIA = """
import os, sys
import numpy as np
from PIL import Image
sys.path.insert(0, os.path.join({tests!r}, "fixtures", "uda"))
from make_fixtures import png_16bit_rgb
root, frames = sys.argv[1], int(sys.argv[2])
os.makedirs(os.path.join(root, "RGB")); os.makedirs(os.path.join(root, "GT", "LABELS"))
rng = np.random.default_rng(0)
for i in range(frames):
    ids = np.kron(rng.integers(0, 23, (19, 32)), np.ones((40, 40), int))[:760, :1280].astype(np.uint16)
    with open(os.path.join(root, "GT", "LABELS", f"{{i:07d}}.png"), "wb") as f:
        f.write(png_16bit_rgb(ids, np.zeros_like(ids)))
    Image.fromarray(rng.integers(0, 255, (760, 1280, 3), dtype=np.uint8)).save(os.path.join(root, "RGB", f"{{i:07d}}.png"))
""".format(tests=os.path.join(os.path.dirname(HERE), "tests"))


def timed(command):
    """(wall seconds, CPU seconds of the process and everything it waited for)."""
    before = resource.getrusage(resource.RUSAGE_CHILDREN)
    start = time.perf_counter()
    subprocess.run(command, check=True, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    wall = time.perf_counter() - start
    after = resource.getrusage(resource.RUSAGE_CHILDREN)
    return wall, (after.ru_utime - before.ru_utime) + (after.ru_stime - before.ru_stime)


def main():
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--data", default=os.path.join(tempfile.gettempdir(), "cs-bench-convert"))
    parser.add_argument("--frames", type=int, default=30)
    parser.add_argument("--runs", type=int, default=5)
    parser.add_argument("--python", default=sys.executable, help="the Python with cityscapesscripts installed")
    parser.add_argument("--datumaro-python", default=sys.executable, help="a Python with datumaro==1.13")
    parser.add_argument("--no-report", action="store_true")
    parser.add_argument("--tasks", help=f"comma list of tasks (default: all of {', '.join(TASKS)})")
    opts = parser.parse_args()
    if not os.path.isdir(os.path.join(opts.data, "gtFine")):
        subprocess.run([os.path.join(os.path.dirname(opts.python), "csSampleDataset"), opts.data,
                        "--frames", str(opts.frames)], check=True, stdout=subprocess.DEVNULL)
    version = subprocess.run([opts.datumaro_python, "-c", "import datumaro; print(datumaro.__version__)"],
                             capture_output=True, text=True, check=True).stdout.strip()
    parser_tasks = opts.tasks.split(",") if opts.tasks else list(TASKS)
    load_before = os.getloadavg()
    scratch = tempfile.mkdtemp()
    # ours on one process too: its CPU time is not inflated by two of our processes sharing the machine
    jobs = [(tool, task) for task in parser_tasks for tool in ("ours", "ours -j 1", "datumaro")]
    times = {job: [] for job in jobs}
    try:
        inputs = prepare(opts.data, scratch, opts.python, opts.frames)
        for run in range(opts.runs):
            shift = run % len(jobs)
            for tool, task in jobs[shift:] + jobs[:shift]:
                out = os.path.join(scratch, f"{tool.replace(' ', '')}-{task}")
                shutil.rmtree(out, ignore_errors=True)
                python = opts.python if tool.startswith("ours") else opts.datumaro_python
                times[tool, task].append(timed(commands(tool, task, inputs, out, python)))
                print(f"run {run + 1}: {tool} {task}: {times[tool, task][-1][0]:.2f} s wall, "
                      f"{times[tool, task][-1][1]:.2f} s CPU", flush=True)
    finally:
        shutil.rmtree(scratch, ignore_errors=True)
    load = " / ".join(f"{a:.1f}-{b:.1f}" for a, b in zip(load_before, os.getloadavg()))
    for heading, tasks in SECTIONS.items():
        if set(tasks) <= set(parser_tasks):
            section = report_section(heading, tasks, times, opts, version, load)
            print(section)
            if not opts.no_report:
                write_section(heading, section)


def report_section(heading, tasks, times, opts, version, load):
    rows = []
    for task, tool in [(task, tool) for task in tasks for tool in ("ours", "ours -j 1")]:
        ours = [statistics.median(v) for v in zip(*times[tool, task])]
        theirs = [statistics.median(v) for v in zip(*times["datumaro", task])]
        label = LABELS[task] + (" -j 1" if tool == "ours -j 1" else "")
        rows.append(f"| {label} | {ours[0]:.2f} | {theirs[0]:.2f} | {theirs[0] / ours[0]:.1f}x "
                    f"| {ours[1]:.2f} | {theirs[1]:.2f} | {theirs[1] / ours[1]:.1f}x "
                    f"| {1000 * ours[1] / opts.frames:.0f} | {1000 * theirs[1] / opts.frames:.0f} |")
    return "\n".join([
        heading, "",
        f"{opts.frames} full-size frames, medians of {opts.runs} interleaved runs (order rotated), "
        f"Datumaro {version}, {len(os.sched_getaffinity(0))} cores shared with other jobs, load average "
        f"(1 / 5 / 15 min, before-after) {load} (`python benchmarks/bench_convert.py`).", "",
        "| task | ours wall (s) | Datumaro wall (s) | wall ratio | ours CPU (s) | Datumaro CPU (s) | CPU ratio "
        "| ours CPU/frame (ms) | Datumaro CPU/frame (ms) |",
        "| --- | --- | --- | --- | --- | --- | --- | --- | --- |", *rows, "", NOTES[heading], ""])


NOTES = {
    "## Dataset conversion against Datumaro": (
        "Same outputs: class and object PNGs plus JPEG images at quality 75, 4:2:0 (VOC: the JPEG files are\n"
        "Datumaro's, the masks the same pixels); one instances JSON (COCO; Datumaro 1.13 reads Cityscapes\n"
        "instanceIds as label ids, so its JSON holds one mask per class instead of the instances). Our\n"
        "writers run on all cores (`-j 1`: on one, as Datumaro). CPU per frame includes each process's start-up."),
    "## Conversions to CamVid and into Cityscapes against Datumaro": (
        "Outputs: CamVid colour masks and PNG images; Cityscapes trees (labelIds, instanceIds, colour; SYNTHIA\n"
        "also the images, which we copy as they are and Datumaro decodes and encodes). The inputs back are our\n"
        "own CamVid set and COCO panoptic export of the same frames, and a SYNTHIA-like set of 1280x760 frames\n"
        "(Datumaro reads SYNTHIA with its own SYNTHIA label map, we map to Cityscapes ids). Our writers run on\n"
        "all cores (`-j 1`: on one, as Datumaro). CPU per frame includes each process's start-up."),
}


def write_section(heading, section):
    """Replace the section under ``heading`` (up to the next ``## ``) in REPORT.md, or add it at the end."""
    text = open(REPORT, encoding="utf-8").read()
    pattern = re.compile(re.escape(heading) + r"\n.*?(?=\n## |\Z)", re.S)
    text = pattern.sub(lambda m: section.rstrip("\n"), text) if heading + "\n" in text \
        else text.rstrip("\n") + "\n\n" + section
    with open(REPORT, "w", encoding="utf-8") as f:
        f.write(text.rstrip("\n") + "\n")

if __name__ == "__main__":
    main()
