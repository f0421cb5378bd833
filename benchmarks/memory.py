"""Peak memory per worker: preparation and evaluation of one frame, and the oversized inputs of issue 10.

    python benchmarks/memory.py [--out benchmarks/MEMORY.md] [--largest 8192x8192]

Each case runs in a fresh interpreter.  After the imports it resets the
kernel's peak-RSS mark (``/proc/self/clear_refs``), runs the case with the
allocator settings of a pool worker (``parallel._init_worker``), and reports
the growth of the peak RSS (``VmHWM``) over the RSS before the case: what
one worker holds at most for that frame, in MB and in bytes per pixel.
Linux only.
"""
import argparse
import json
import os
import subprocess
import sys
import tempfile
import textwrap

from cityscapesscripts.sample import make_scene

PRELUDE = """
import json, os, sys
import numpy as np
from cityscapesscripts import parallel, sample
from cityscapesscripts.errors import CityscapesError
from cityscapesscripts.evaluation import semantic_files
from cityscapesscripts.io import png
from cityscapesscripts.preparation import prepare
import signal
parallel._init_worker()
signal.signal(signal.SIGINT, signal.SIG_DFL)
def status(key):
    for line in open("/proc/self/status"):
        if line.startswith(key):
            return int(line.split()[1]) * 1024
open("/proc/self/clear_refs", "w").write("5")
before = status("VmRSS:")
"""


def measure(code, folder):
    script = PRELUDE + textwrap.dedent(code) + "\nprint(status('VmHWM:') - before)\n"
    run = subprocess.run([sys.executable, "-c", script], capture_output=True, text=True, cwd=folder, timeout=900)
    if run.returncode:
        raise RuntimeError(run.stderr)
    return int(run.stdout.split()[-1])


def polygon_frame(folder, width, height):
    city = os.path.join(folder, f"p{width}", "gtFine", "val", "lindau")
    os.makedirs(city)
    with open(os.path.join(city, "lindau_000000_000019_gtFine_polygons.json"), "w") as f:
        json.dump(make_scene(0, width, height), f)
    return os.path.dirname(os.path.dirname(os.path.dirname(city)))


def cases(folder, largest):
    width, height = largest
    yield "prepare labelTrainIds", 2048, 1024, f"""
        s = prepare.prepare_dataset({polygon_frame(folder, 2048, 1024)!r}, ["labelTrainIds"], jobs=1, progress=False)
        assert not s["failed"], s
    """
    five = '["labelIds", "labelTrainIds", "instanceIds", "instanceTrainIds", "color"]'
    for w, h in ((2048, 1024), (width, height)):
        root = os.path.join(folder, f"p{w}") if w == 2048 else polygon_frame(folder, w, h)
        yield "prepare all five outputs", w, h, f"""
            s = prepare.prepare_dataset({root!r}, {five}, jobs=1, progress=False)
            assert not s["failed"], s
        """
    yield "evaluate one pixel-level pair", 2048, 1024, f"""
        root = {os.path.join(folder, "p2048")!r}
        s = prepare.prepare_dataset(root, ["labelIds", "instanceIds"], jobs=1, progress=False)
        gt = s["written"][0]
        semantic_files.evaluate_pair_files(gt, gt, {{}})
    """
    bad = os.path.join(folder, "bad")
    os.makedirs(os.path.join(bad, "gtFine", "val", "lindau"))
    with open(os.path.join(bad, "gtFine", "val", "lindau", "lindau_000000_000019_gtFine_polygons.json"), "w") as f:
        f.write('{"imgWidth": 20000, "imgHeight": 20000, "objects": [{"label": "road", "polygon": [[0, 0], '
                '[19999, 0], [19999, 19999]]}]}')
    yield "122-byte polygon file declaring 20000x20000 (refused)", 20000, 20000, f"""
        s = prepare.prepare_dataset({bad!r}, ["labelTrainIds"], jobs=1, progress=False)
        assert "more than" in s["failed"][0][1], s
    """
    yield "12000x12000 prediction against a 2048x1024 ground truth (refused)", 12000, 12000, f"""
        import zlib
        gt = {os.path.join(folder, "p2048", "gtFine", "val", "lindau", "lindau_000000_000019_gtFine_labelIds.png")!r}
        stream = zlib.compressobj(9)
        data = b"".join(stream.compress(b"\\0" * 12001) for _ in range(12000)) + stream.flush()
        import struct
        head = struct.pack(">IIBBBBB", 12000, 12000, 8, 0, 0, 0, 0)
        with open("pred.png", "wb") as f:
            f.write(png._SIGNATURE + png._chunk(b"IHDR", head) + png._chunk(b"IDAT", data) + png._chunk(b"IEND", b""))
        del data
        open("/proc/self/clear_refs", "w").write("5")
        before = status("VmRSS:")
        try:
            semantic_files.evaluate_pair_files("pred.png", gt, {{}})
        except CityscapesError as e:
            assert "12000x12000" in str(e), e
    """


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--out", default=os.path.join(os.path.dirname(os.path.abspath(__file__)), "MEMORY.md"))
    parser.add_argument("--largest", default="8192x8192", help="WIDTHxHEIGHT of the largest frame prepared")
    opts = parser.parse_args(argv)
    largest = tuple(int(v) for v in opts.largest.split("x"))
    rows = []
    with tempfile.TemporaryDirectory(prefix="cs-memory-") as folder:
        for name, width, height, code in cases(folder, largest):
            grown = measure(code, folder)
            rows.append(f"| {name} | {width}x{height} | {grown / 2 ** 20:.0f} MB | "
                        f"{grown / (width * height):.2f} |")
            print(rows[-1], flush=True)
    with open(opts.out, "w") as f:
        f.write("# Peak memory per worker\n\n"
                "`python benchmarks/memory.py` (this file is its output): the growth of a worker's peak RSS\n"
                "while it handles one frame, with the pool workers' allocator settings.  Bytes per pixel are\n"
                "per pixel of the frame (for the refused inputs: of the size they declare).  Small frames\n"
                "show more than the bytes held at once because workers keep up to 256 MB of freed buffers\n"
                "(`parallel._keep_freed_buffers`, for speed); the test suite checks the bytes held at once,\n"
                "with the default allocator: below 10 per pixel with all five outputs\n"
                "(`test_peak_memory_per_frame_stays_below_10_bytes_per_pixel`, 9.1 measured).\n\n"
                "| case | frame | peak growth | bytes per pixel |\n| --- | --- | --- | --- |\n"
                + "\n".join(rows) + "\n")


if __name__ == "__main__":
    main()
