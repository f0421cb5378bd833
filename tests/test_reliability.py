"""Reliability: the executor seam never raises or hangs, interruptions stop cleanly, bad input is a clear error."""
import os
import pickle
import signal
import subprocess
import sys
import textwrap
import time

import pytest
from PIL import Image

from cityscapesscripts import parallel
from cityscapesscripts.errors import AnnotationError, BatchError


# ---- the executor seam ----------------------------------------------------------
def _faulty(item):
    """Doubles an int; other items raise what a bad input file can make a worker raise."""
    kind = item
    if kind == "overflow":
        raise OverflowError("cannot convert float infinity to integer")
    if kind == "recursion":
        raise RecursionError("maximum recursion depth exceeded")
    if kind == "memory":
        raise MemoryError()
    if kind == "bomb":
        raise Image.DecompressionBombError("Image size (3600000000 pixels) exceeds limit")
    if kind == "exit":
        sys.exit(3)
    if kind == "ours":
        raise AnnotationError("missing imgHeight", "/data/x_polygons.json")
    if kind == "killed":
        os.kill(os.getpid(), signal.SIGKILL)
    return 2 * item


FAULTS = ["overflow", "recursion", "memory", "bomb", "exit", "ours"]


@pytest.mark.parametrize("jobs", [1, 2])
def test_a_worker_never_raises_every_item_comes_back_in_order(jobs):
    items = [0, "overflow", 1, "recursion", 2, "memory", 3, "bomb", 4, "exit", 5, "ours", 6]
    results = list(parallel.map_items(_faulty, items, jobs=jobs, progress=False))
    assert [r for r in results if not isinstance(r, parallel.ItemError)] == [0, 2, 4, 6, 8, 10, 12]
    errors = {r.item: r.reason for r in results if isinstance(r, parallel.ItemError)}
    assert errors == {
        "overflow": "OverflowError: cannot convert float infinity to integer",
        "recursion": "nested too deeply (maximum recursion depth exceeded)",
        "memory": "out of memory",
        "bomb": "DecompressionBombError: Image size (3600000000 pixels) exceeds limit",
        "exit": "SystemExit: 3",
        "ours": "/data/x_polygons.json: missing imgHeight",
    }
    assert [results.index(r) for r in results if isinstance(r, parallel.ItemError)] == [1, 3, 5, 7, 9, 11]


def test_a_killed_worker_is_that_items_error_and_the_batch_goes_on():
    items = list(range(20)) + ["killed"] + list(range(20, 40))
    started = time.monotonic()
    results = list(parallel.map_items(_faulty, items, jobs=2, progress=False))
    assert time.monotonic() - started < 60
    assert results[:20] == [2 * i for i in range(20)] and results[21:] == [2 * i for i in range(20, 40)]
    assert isinstance(results[20], parallel.ItemError) and "worker process died" in results[20].reason


def test_collect_raises_the_items_own_error_or_all_of_them():
    assert parallel.collect(_faulty, [1, 2], jobs=2, progress=False) == [2, 4]
    with pytest.raises(AnnotationError, match="x_polygons.json: missing imgHeight"):
        parallel.collect(_faulty, [1, "ours", 2], jobs=2, progress=False)
    with pytest.raises(BatchError) as info:
        parallel.collect(_faulty, ["overflow", 1, "ours"], jobs=2, progress=False)
    assert info.value.failures == ["overflow: OverflowError: cannot convert float infinity to integer",
                                   "ours: /data/x_polygons.json: missing imgHeight"]
    copy = pickle.loads(pickle.dumps(info.value))
    assert copy.failures == info.value.failures and str(copy) == str(info.value)


def test_errors_pickle_with_their_path_and_reason():
    error = pickle.loads(pickle.dumps(AnnotationError("missing imgHeight", "/data/x.json")))
    assert (error.path, error.reason, str(error)) == ("/data/x.json", "missing imgHeight",
                                                      "/data/x.json: missing imgHeight")


# ---- interruption ----------------------------------------------------------------
SLOW_TOOL = textwrap.dedent("""
    import sys, time
    from cityscapesscripts import cli, parallel
    from cityscapesscripts.io import png

    def write(i):
        with png.atomic_target(f"{sys.argv[1]}/{i}.txt") as tmp:
            open(tmp, "w").write("partial")
            time.sleep(0.3)
        return i

    @cli.entry_point
    def main():
        print("started", flush=True)
        parallel.collect(write, range(200), jobs=2, progress=False)
        return 0

    sys.exit(main())
""")


@pytest.mark.parametrize("signum", [signal.SIGINT, signal.SIGTERM])
def test_interrupt_stops_with_one_line_status_130_and_no_temporary_files(tmp_path, signum):
    script = tmp_path / "slow_tool.py"
    script.write_text(SLOW_TOOL)
    out = tmp_path / "out"
    out.mkdir()
    # a new process group, signalled as a whole, as a terminal's Ctrl-C or `timeout` does
    process = subprocess.Popen([sys.executable, str(script), str(out)], stdout=subprocess.PIPE,
                               stderr=subprocess.PIPE, text=True, start_new_session=True)
    assert process.stdout.readline() == "started\n"
    time.sleep(1.0)
    os.killpg(process.pid, signum)
    stdout, stderr = process.communicate(timeout=60)
    assert process.returncode == 130
    assert stderr == "interrupted\n"
    names = os.listdir(out)
    assert names and len(names) < 200 and not [n for n in names if n.startswith(".tmp")]
    assert {open(out / n).read() for n in names} == {"partial"}  # every file there is complete
