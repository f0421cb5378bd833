"""Reliability: the executor seam never raises or hangs, interruptions stop cleanly, bad input is a clear error."""
import contextlib
import errno
import glob
import json
import os
import pickle
import shutil
import signal
import re
import struct
import subprocess
import sys
import textwrap
import threading
import time
import zlib

import numpy as np
import pytest
from PIL import Image

from cityscapesscripts import parallel, sample
from cityscapesscripts.dataset import convert as dataset_convert
from cityscapesscripts.errors import AnnotationError, BatchError, LayoutError, PredictionError
from cityscapesscripts.evaluation import evalInstanceLevelSemanticLabeling as instance_eval
from cityscapesscripts.evaluation import evalPanopticSemanticLabeling, instance_files
from cityscapesscripts.helpers.annotation import Annotation
from cityscapesscripts.io import files, limits, png
from cityscapesscripts.preparation import createPanopticImgs, prepare, rasterize

import stress_tools
from conftest import GOLDEN, assert_same_numbers, expected_eval, plain


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
    if kind == "bug":
        return item + 1
    if kind == "killed":
        os.kill(os.getpid(), signal.SIGKILL)
    return 2 * item


FAULTS = ["overflow", "recursion", "memory", "bomb", "exit", "ours"]


@pytest.fixture(params=["forked", "spawned"])
def local_pool(request, monkeypatch):
    """Each local backend: Linux's forked workers, and the ``ProcessPoolExecutor`` of spawned ones
    that other systems get."""
    if request.param == "spawned":
        monkeypatch.setattr(parallel, "_LocalPool", parallel._SpawnPool)
    return request.param


@pytest.mark.parametrize("jobs", [1, 2])
def test_a_worker_never_raises_every_item_comes_back_in_order(jobs, local_pool):
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


@pytest.mark.parametrize("jobs", [1, 2])
def test_a_bug_in_a_worker_keeps_its_traceback(jobs, local_pool):
    bug, = parallel.map_items(_faulty, ["bug"], jobs=jobs, progress=False)
    first, *rest = bug.reason.splitlines()
    assert first == 'TypeError: can only concatenate str (not "int") to str'
    assert rest[0] == "Traceback (most recent call last):" and "in _faulty" in bug.reason
    with pytest.raises(BatchError, match="bug: TypeError.*\nTraceback"):
        parallel.collect(_faulty, [1, "bug"], jobs=jobs, progress=False)


def test_a_killed_worker_is_that_items_error_and_the_batch_goes_on(local_pool):
    items = list(range(20)) + ["killed"] + list(range(20, 40))
    started = time.monotonic()
    results = list(parallel.map_items(_faulty, items, jobs=2, progress=False))
    assert time.monotonic() - started < 60
    assert results[:20] == [2 * i for i in range(20)] and results[21:] == [2 * i for i in range(20, 40)]
    assert isinstance(results[20], parallel.ItemError) and "worker process died" in results[20].reason


def _big_or_unpicklable(item):
    if item == "unpicklable":
        return lambda: None
    if callable(item):
        return "called with a function"
    return bytes([item]) * (3 << 20)  # far more than a pipe holds


def test_results_of_any_size_come_back_and_one_that_does_not_pickle_is_its_items_error(local_pool):
    """A result that does not pickle is its item's error; an item that does not pickle reaches the
    function in forked workers (they have the map's items by the fork) and is its error elsewhere."""
    items = [1, "unpicklable", 2, lambda: None, 3]
    results = list(parallel.map_items(_big_or_unpicklable, items, jobs=2, progress=False))
    assert [results[i] for i in (0, 2, 4)] == [bytes([i]) * (3 << 20) for i in (1, 2, 3)]
    assert isinstance(results[1], parallel.ItemError) and "pickle" in results[1].reason.lower()
    if local_pool == "forked":
        assert results[3] == "called with a function"
    else:
        assert isinstance(results[3], parallel.ItemError) and "pickle" in results[3].reason.lower()


def _doubled_or_unpicklable(item):
    if item == 7:
        return threading.Lock()
    return "a lock" if not isinstance(item, int) else 2 * item


def test_in_a_batch_sent_in_chunks_only_the_item_that_does_not_pickle_or_its_result_is_an_error(local_pool):
    items = list(range(200))  # several items a message
    items[150] = threading.Lock()
    results = list(parallel.map_items(_doubled_or_unpicklable, items, jobs=2, progress=False))
    errors = [7] if local_pool == "forked" else [7, 150]  # forked workers have the items by the fork
    assert [i for i, r in enumerate(results) if isinstance(r, parallel.ItemError)] == errors
    assert all(results[i] == 2 * i for i in range(200) if i not in (7, 150))
    assert all("pickle" in results[i].reason.lower() for i in errors)
    assert local_pool != "forked" or results[150] == "a lock"


def test_forked_workers_have_the_items_by_the_fork_and_messages_carry_positions(monkeypatch):
    sent = []
    real_send = parallel._send

    def recording_send(fd, message):
        sent.append(len(message))
        real_send(fd, message)
    monkeypatch.setattr(parallel, "_send", recording_send)
    items = [bytes([i]) * 100_000 for i in range(64)]  # 6.4 MB of items
    assert list(parallel.map_items(len, items, jobs=2, progress=False)) == [100_000] * 64
    assert 0 < sum(sent) < 20_000  # the parent's messages: the function once per worker, then positions


def _maps_again(item):
    return list(parallel.map_items(_faulty, [item, item + 1], jobs=2, progress=False))


def test_a_map_inside_the_loop_of_another_and_inside_a_worker_both_finish():
    outer = []
    for result in parallel.map_items(_faulty, range(6), jobs=2, progress=False):
        outer.append((result, parallel.collect(_faulty, [result, 1], jobs=2, progress=False)))
    assert outer == [(2 * i, [4 * i, 2]) for i in range(6)]
    assert parallel.collect(_maps_again, [1, 5], jobs=2, progress=False) == [[2, 4], [10, 12]]


def test_an_interrupt_within_a_task_message_stops_the_batch_at_once(monkeypatch):
    parent, real_send = os.getpid(), parallel._send

    def interrupted_send(fd, message):  # in this process: half a task written, then Ctrl-C
        if os.getpid() == parent and message:
            os.write(fd, parallel._HEADER.pack(len(message)) + message[:len(message) // 2])
            raise KeyboardInterrupt
        real_send(fd, message)

    monkeypatch.setattr(parallel, "_send", interrupted_send)
    started = time.monotonic()
    with pytest.raises(KeyboardInterrupt):
        list(parallel.map_items(_faulty, [1, 2, 3], jobs=2, progress=False))
    assert time.monotonic() - started < 30  # the worker left waiting for the rest is not waited for


def _frozen_objects(item):
    import gc
    return gc.get_freeze_count()


def test_workers_leave_the_parents_objects_out_of_their_collections_and_the_parent_does_not():
    import gc
    assert gc.get_freeze_count() == 0
    counts = parallel.collect(_frozen_objects, [1, 2, 3], jobs=2, progress=False)
    assert min(counts) > 1000  # what the parent held when it forked: never traversed by a worker's collection
    assert gc.get_freeze_count() == 0


def _death_signal(_):
    import ctypes
    signum = ctypes.c_int(0)
    pr_get_pdeathsig = 2
    ctypes.CDLL("libc.so.6").prctl(pr_get_pdeathsig, ctypes.byref(signum))
    return signum.value


@pytest.mark.skipif(not sys.platform.startswith("linux"), reason="PR_SET_PDEATHSIG is Linux's")
@pytest.mark.parametrize("compiled", [True, False], ids=["extension", "ctypes-fallback"])
def test_workers_die_with_their_parent_with_or_without_the_extension(monkeypatch, compiled):
    from cityscapesscripts import kernels
    monkeypatch.setattr(kernels, "HAVE_EXTENSION", compiled)  # the forked workers inherit it
    assert _death_signal(None) == 0  # this process is not a worker
    assert parallel.collect(_death_signal, [1, 2, 3], jobs=2, progress=False) == [signal.SIGKILL] * 3


def test_collect_raises_the_items_own_error_or_all_of_them():
    assert parallel.collect(_faulty, [1, 2], jobs=2, progress=False) == [2, 4]
    with pytest.raises(AnnotationError, match="x_polygons.json: missing imgHeight"):
        parallel.collect(_faulty, [1, "ours", 2], jobs=2, progress=False)
    with pytest.raises(BatchError, match="1 items failed:\noverflow: OverflowError"):  # not ours: one line
        parallel.collect(_faulty, [1, "overflow", 2], jobs=2, progress=False)
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


def test_item_errors_are_immutable_values_that_pickle():
    error = parallel.ItemError("a.png", "bad CRC", ValueError("x"))
    copy = pickle.loads(pickle.dumps(error))
    assert (copy.item, copy.reason, repr(copy.exception)) == ("a.png", "bad CRC", "ValueError('x')")
    assert parallel.ItemError("a.png", "bad CRC") == parallel.ItemError("a.png", "bad CRC") != error
    assert len({parallel.ItemError("a.png", "r"), parallel.ItemError("a.png", "r")}) == 1
    assert repr(parallel.ItemError("a.png", "r")) == "ItemError(item='a.png', reason='r', exception=None)"
    with pytest.raises(AttributeError):
        error.reason = "other"


# ---- interruption ----------------------------------------------------------------
SLOW_TOOL = textwrap.dedent("""
    import sys, time
    from cityscapesscripts import cli, parallel
    from cityscapesscripts.io import files

    def write(i):
        with files.atomic_target(f"{sys.argv[1]}/{i}.txt") as tmp:
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


# ---- bad input: any failure of one item is that item's error -------------------------
def _png_header(width, height):
    """The first bytes of a PNG declaring ``width`` x ``height`` 8-bit grey pixels (no pixel data)."""
    header = struct.pack(">IIBBBBB", width, height, 8, 0, 0, 0, 0)
    return b"\x89PNG\r\n\x1a\n" + struct.pack(">I", 13) + b"IHDR" + header + struct.pack(">I", zlib.crc32(b"IHDR" + header))


def _big_png(path, width, height):
    """A valid all-zero grey PNG of any size, compressed row by row (small in memory and on disk)."""
    stream, row = zlib.compressobj(9), b"\0" * (width + 1)
    data = b"".join(stream.compress(row) for _ in range(height)) + stream.flush()
    with open(path, "wb") as f:
        f.write(_png_header(width, height) + png._chunk(b"IDAT", data) + png._chunk(b"IEND", b""))


@pytest.fixture
def sample_root(tmp_path):
    """Seven small synthetic frames with every ground truth and prediction."""
    sample.generate(str(tmp_path / "sample"), 7, 128, 64, predictions=True, jobs=1, progress=False)
    return tmp_path / "sample"


def test_unexpected_exceptions_are_the_items_errors_and_the_batch_goes_on(sample_root, capsys):
    city = sample_root / "gtFine" / "val" / "lindau"
    good = sorted(str(p) for p in sample_root.glob("gtFine/val/*/*_polygons.json"))
    (city / "lindau_000009_000001_gtFine_polygons.json").write_text(
        '{"imgWidth": Infinity, "imgHeight": 10, "objects": []}')
    (city / "lindau_000009_000002_gtFine_polygons.json").write_text("[" * 100000 + "]" * 100000)
    (city / "lindau_000009_000003_gtFine_polygons.json").write_text('{"imgWidth": 20000, "imgHeight": 20000, '
                                                                    '"objects": [{"label": "car", "polygon": []}]}')
    (city / "lindau_000009_000004_gtFine_polygons.json").write_text('{"imgWidth": 8, "imgHeight": 8}')
    status = prepare.run(["--dataset", str(sample_root), "-j", "2", "-q"], "labelTrainIds", "")
    err = capsys.readouterr().err.splitlines()
    assert status == 1
    assert sorted(err) == sorted([
        f"ERROR: {city}/lindau_000009_000001_gtFine_polygons.json: imgWidth must be a positive number, got inf",
        f"ERROR: {city}/lindau_000009_000002_gtFine_polygons.json: not valid JSON: maximum recursion depth "
        "exceeded while decoding a JSON array from a unicode string",
        f"ERROR: {city}/lindau_000009_000003_gtFine_polygons.json: declared size 20000x20000 is more than "
        "67108864 pixels (raise the limit with --max-pixels, $CITYSCAPES_MAX_PIXELS or max_pixels=)",
        f"ERROR: {city}/lindau_000009_000004_gtFine_polygons.json: missing the 'objects' list"])
    written = sorted(str(p) for p in sample_root.glob("gtFine/val/*/*_labelTrainIds.png"))
    assert written == [p.replace("_polygons.json", "_labelTrainIds.png") for p in good]
    assert not list(sample_root.glob("**/.tmp-*"))


def test_polygon_file_without_objects_is_an_error_not_an_empty_image(tmp_path):
    path = tmp_path / "a_000000_000001_gtFine_polygons.json"
    path.write_text('{"imgWidth": 8, "imgHeight": 8, "objects": null}')
    with pytest.raises(AnnotationError, match="'objects' must be a list, got NoneType"):
        rasterize.rasterize_file(str(path))
    path.write_text('{"imgWidth": 8, "imgHeight": 8}')
    with pytest.raises(AnnotationError, match="a_000000_000001_gtFine_polygons.json: missing the 'objects' list"):
        Annotation().fromJsonFile(str(path))


def test_image_declaring_a_huge_size_fails_from_its_header(sample_root, tmp_path, capsys):
    bomb = next(sample_root.glob("gtFine/val/*/*_instanceIds.png"))
    bomb.write_bytes(_png_header(60000, 60000) + png._chunk(b"IDAT", zlib.compress(b"\0" * 1000)))
    status = createPanopticImgs.main(["--dataset-folder", str(sample_root / "gtFine"), "--output-folder",
                                      str(tmp_path / "out"), "--set-names", "val", "-j", "2", "-q"])
    assert status == 1
    assert capsys.readouterr().err == (f"ERROR: {bomb}: declared size 60000x60000 is more than 67108864 "
                                       "pixels (raise the limit with --max-pixels, $CITYSCAPES_MAX_PIXELS or "
                                       "max_pixels=)\n")
    assert len(list((tmp_path / "out" / "cityscapes_panoptic_val").iterdir())) == 6  # the good frames
    assert not (tmp_path / "out" / "cityscapes_panoptic_val.json").exists()  # no JSON missing a frame


def test_max_pixels_option_lowers_and_raises_the_limit(sample_root, monkeypatch, capsys):
    monkeypatch.setenv(limits.VARIABLE, "1000")  # frames are 128x64 = 8192 pixels
    assert prepare.run(["--dataset", str(sample_root), "-j", "2", "-q"], "labelTrainIds", "") == 1
    err = capsys.readouterr().err.splitlines()
    assert len(err) == 7 and all(line.endswith("declared size 128x64 is more than 1000 pixels (raise the "
                                               "limit with --max-pixels, $CITYSCAPES_MAX_PIXELS or max_pixels=)") for line in err)
    assert prepare.run(["--dataset", str(sample_root), "-j", "2", "-q", "--max-pixels", "8192"], "labelTrainIds",
                       "") == 0
    assert len(list(sample_root.glob("gtFine/val/*/*_labelTrainIds.png"))) == 7


def _measure(code):
    """Run ``code`` in a fresh interpreter; the growth of its peak memory (bytes) while running ``code``."""
    script = textwrap.dedent("""
        import numpy, PIL.Image, cityscapesscripts.preparation.prepare, cityscapesscripts.evaluation.semantic
        def status(key):
            for line in open("/proc/self/status"):
                if line.startswith(key):
                    return int(line.split()[1]) * 1024
        with open("/proc/self/clear_refs", "w") as f:
            f.write("5")  # the peak (VmHWM) starts again from the current size
        before = status("VmRSS:")
    """) + textwrap.dedent(code) + "\nprint(status('VmHWM:') - before)\n"
    run = subprocess.run([sys.executable, "-c", script], capture_output=True, text=True, timeout=120)
    assert run.returncode == 0, run.stderr
    return int(run.stdout.split()[-1])


def test_peak_memory_per_frame_stays_below_10_bytes_per_pixel(tmp_path):
    width, height = 4096, 2048
    folder = tmp_path / "gtFine" / "val" / "lindau"
    folder.mkdir(parents=True)
    (folder / "lindau_000000_000019_gtFine_polygons.json").write_text(
        json.dumps(sample.make_scene(0, width, height)))
    grown = _measure(f"""
        from cityscapesscripts.preparation import prepare
        summary = prepare.prepare_dataset({str(tmp_path)!r}, ["labelIds", "labelTrainIds", "instanceIds",
                                          "instanceTrainIds", "color"], jobs=1, progress=False)
        assert len(summary["written"]) == 5, summary
    """)
    assert grown < 10 * width * height, f"{grown / (width * height):.1f} bytes per pixel"


def test_a_huge_prediction_fails_on_its_size_before_it_is_decoded(tmp_path):
    gt = tmp_path / "a_000000_000001_gtFine_labelIds.png"
    png.write_png(str(gt), np.zeros((64, 128), np.uint8))
    png.write_png(str(tmp_path / "a_000000_000001_gtFine_instanceIds.png"), np.zeros((64, 128), np.uint16))
    _big_png(tmp_path / "pred.png", 12000, 12000)
    assert os.path.getsize(tmp_path / "pred.png") < 300_000
    grown = _measure(f"""
        from cityscapesscripts.errors import ImageError
        from cityscapesscripts.evaluation import semantic_files
        try:
            semantic_files.evaluate_pair_files({str(tmp_path / "pred.png")!r}, {str(gt)!r}, {{}})
        except ImageError as e:
            assert "prediction is 12000x12000 but its ground truth is 128x64" in str(e), e
        else:
            raise AssertionError("no error")
    """)
    assert grown < 20 << 20, f"{grown >> 20} MB"


# ---- names from files stay inside their folder ----------------------------------------
PANOPTIC_GT = os.path.join(GOLDEN, "small", "gtFine", "cityscapes_panoptic_val.json")
PANOPTIC_PRED = os.path.join(GOLDEN, "small", "results", "panoptic", "cityscapes_panoptic_val.json")


def _panoptic_prediction(tmp_path, edit):
    """A copy of the golden panoptic prediction (JSON and PNG folder) changed by ``edit(data, folder)``."""
    folder = tmp_path / "pred"
    shutil.copytree(PANOPTIC_PRED[:-5], folder)
    with open(PANOPTIC_PRED) as f:
        data = json.load(f)
    data = edit(data, folder) or data
    (tmp_path / "pred.json").write_text(json.dumps(data))
    return str(tmp_path / "pred.json"), str(folder)


def _evaluate_panoptic(tmp_path, pred_json, folder, capsys):
    status = evalPanopticSemanticLabeling.main(["--gt-json-file", PANOPTIC_GT, "--prediction-json-file", pred_json,
                                                "--prediction-folder", folder, "--results-file",
                                                str(tmp_path / "r.json"), "-j", "2", "--quiet"])
    err = capsys.readouterr().err
    assert status == 1 and not (tmp_path / "r.json").exists()
    return err


def _outside(tmp_path, data, folder, how):
    first = data["annotations"][0]["file_name"]
    outside = tmp_path / "outside.png"
    shutil.copy(folder / first, outside)  # a valid image: without the check it would be read
    if how == "dotdot":
        data["annotations"][0]["file_name"] = "../outside.png"
    elif how == "absolute":
        data["annotations"][0]["file_name"] = str(outside)
    else:
        (folder / "link.png").symlink_to(outside)
        data["annotations"][0]["file_name"] = "link.png"


@pytest.mark.parametrize("how", ["dotdot", "absolute", "symlink"])
def test_panoptic_file_name_must_stay_in_its_folder(tmp_path, capsys, how):
    pred_json, folder = _panoptic_prediction(tmp_path, lambda data, folder: _outside(tmp_path, data, folder, how))
    err = _evaluate_panoptic(tmp_path, pred_json, folder, capsys)
    assert err.count("ERROR:") == 1 and "file_name" in err
    if how == "absolute":
        assert f"file_name {tmp_path}/outside.png must be a path relative to {folder}" in err
    else:
        assert f"points outside {folder} (to {tmp_path}/outside.png)" in err


@pytest.mark.parametrize("how", ["absolute", "symlink"])
def test_instance_mask_paths_must_stay_in_the_prediction_folder(tmp_path, how):
    folder = tmp_path / "pred"
    folder.mkdir()
    Image.new("L", (4, 4)).save(tmp_path / "outside.png")
    if how == "absolute":
        name = str(tmp_path / "outside.png")
    else:
        (folder / "link.png").symlink_to(tmp_path / "outside.png")
        name = "link.png"
    txt = folder / "lindau_000000_000019_pred.txt"
    txt.write_text(f"{name} 26 0.5\n")
    with pytest.raises(PredictionError, match=f"{txt} line 1: mask {name} (must be a path relative|points outside)"):
        instance_files.read_prediction_list(str(txt), str(folder))


def test_non_utf8_prediction_list_names_the_file(tmp_path):
    txt = tmp_path / "lindau_000000_000019_pred.txt"
    txt.write_bytes(b"mask/\xe9t\xe9.png 26 0.5\n")
    with pytest.raises(PredictionError, match=f"{txt}: not UTF-8 text: byte 0xe9 at offset 5"):
        instance_files.read_prediction_list(str(txt))


# ---- panoptic JSON: the schema checked once, naming the file and the annotation ---------------------
def _set(path, value):
    def edit(data, folder):
        *parents, last = path
        target = data
        for key in parents:
            target = target[key]
        if value is KeyError:
            del target[last]
        else:
            target[last] = value
    return edit


@pytest.mark.parametrize("edit, message", [
    (_set(["annotations"], KeyError), "'annotations' must be a list, got nothing"),
    (lambda data, folder: [data], "expected a JSON object at the top level, got list"),
    (_set(["annotations", 0, "segments_info", 1, "id"], KeyError), "annotation 0 (image_id '{id}') segment 1: "
                                                                   "missing 'id'"),
    (_set(["annotations", 0, "segments_info", 0, "category_id"], KeyError), "annotation 0 (image_id '{id}') "
                                                                            "segment 0: missing 'category_id'"),
    (_set(["annotations", 0, "segments_info", 0, "id"], "7"), "annotation 0 (image_id '{id}') segment 0: 'id' "
                                                              "is '7', expected an integer in 0..16777215"),
    (_set(["annotations", 0, "segments_info", 0, "id"], -5), "annotation 0 (image_id '{id}') segment 0: 'id' "
                                                             "is -5, expected an integer in 0..16777215"),
    (_set(["annotations", 0, "segments_info", 1], 3), "annotation 0 (image_id '{id}') segment 1: expected an "
                                                      "object, got int"),
    (_set(["annotations", 0, "segments_info", 1, "category_id"], True), "annotation 0 (image_id '{id}') segment 1: "
                                                                        "'category_id' is True, expected an integer"),
    (_set(["annotations", 1, "file_name"], KeyError), "annotation 1: missing 'file_name'"),
    (_set(["annotations", 0, "segments_info"], None), "annotation 0: 'segments_info' is None, expected a list"),
    (_set(["annotations", 0], 17), "annotation 0: expected an object, got int"),
])
def test_panoptic_json_schema_errors_name_the_file_and_annotation(tmp_path, capsys, edit, message):
    with open(PANOPTIC_PRED) as f:
        first_id = json.load(f)["annotations"][0]["image_id"]
    pred_json, folder = _panoptic_prediction(tmp_path, edit)
    err = _evaluate_panoptic(tmp_path, pred_json, folder, capsys)
    assert err == f"ERROR: {pred_json}: {message.format(id=first_id)}\n"


def test_panoptic_ground_truth_needs_its_categories(tmp_path):
    with open(PANOPTIC_GT) as f:
        data = json.load(f)
    del data["categories"][3]["isthing"]
    (tmp_path / "gt.json").write_text(json.dumps(data))
    with pytest.raises(LayoutError, match="gt.json: category 3: missing 'isthing'"):
        evalPanopticSemanticLabeling.evaluatePanoptic(str(tmp_path / "gt.json"), PANOPTIC_GT[:-5], PANOPTIC_PRED,
                                                      PANOPTIC_PRED[:-5], None, quiet=True)


# ---- the output side: disk full, read-only folder, a file in the way -------------------------------
SMALL = os.path.join(GOLDEN, "small")


def _output_tools(tmp_path):
    """Each tool that writes a tree: a function of the output folder giving its argv and main."""
    voc_tree = tmp_path / "voc-in"
    assert dataset_convert.main(["--to", "voc", SMALL, str(voc_tree)]) == 0
    tools = {f"csConvert --to {target}": (dataset_convert.main, ["--to", target, SMALL, "{out}", "--split", "val",
                                                                 "-j", "2"])
             for target in ("voc", "coco-instances", "coco-panoptic", "cityscapes")}
    tools["csConvert --from voc"] = (dataset_convert.main, ["--from", "voc", "--to", "cityscapes", str(voc_tree),
                                                            "{out}", "--split", "val"])
    tools["csCreatePanopticImgs"] = (createPanopticImgs.main, ["--dataset-folder", os.path.join(SMALL, "gtFine"),
                                                               "--output-folder", "{out}", "--set-names", "val",
                                                               "-j", "2", "-q"])
    return tools


OUTPUT_TOOLS = ["csConvert --to voc", "csConvert --to coco-instances", "csConvert --to coco-panoptic",
                "csConvert --to cityscapes", "csConvert --from voc", "csCreatePanopticImgs"]


def _disk_full(monkeypatch, out):
    """ENOSPC, simulated in-process (forked workers inherit it): every atomic write fails after writing its data."""
    real = files.atomic_target

    @contextlib.contextmanager
    def full(path, *args, **kwargs):
        with real(path, *args, **kwargs) as temporary:
            yield temporary
            with open(temporary, "r+b") as f:  # what reached the disk before it filled
                f.truncate(os.path.getsize(temporary) // 2)
            raise OSError(errno.ENOSPC, os.strerror(errno.ENOSPC))

    monkeypatch.setattr(files, "atomic_target", full)
    return os.strerror(errno.ENOSPC)


def _read_only(monkeypatch, out):
    """A read-only folder: its permission bits, or for root (whom they do not stop) creating in it fails as there."""
    out.chmod(0o555)
    if os.geteuid() != 0:
        return os.strerror(errno.EACCES)
    inside = (lambda path: os.path.abspath(path).startswith(str(out) + os.sep))  # noqa: E731
    real_open, real_mkdir = os.open, os.mkdir

    def open_(path, flags, *args, **kwargs):  # atomic writes create their temporaries with os.open
        if flags & os.O_CREAT and inside(path):
            raise PermissionError(errno.EACCES, os.strerror(errno.EACCES), path)
        return real_open(path, flags, *args, **kwargs)

    def mkdir(path, *args, **kwargs):
        if inside(path):
            raise PermissionError(errno.EACCES, os.strerror(errno.EACCES), path)
        return real_mkdir(path, *args, **kwargs)

    monkeypatch.setattr(os, "open", open_)
    monkeypatch.setattr(os, "mkdir", mkdir)
    return os.strerror(errno.EACCES)


def _a_file(monkeypatch, out):
    out.rmdir()
    out.write_text("not a folder")
    return "File exists|Not a directory"


@pytest.mark.parametrize("fault", [_disk_full, _read_only, _a_file], ids=["disk-full", "read-only", "file"])
@pytest.mark.parametrize("tool", OUTPUT_TOOLS)
def test_output_errors_are_one_error_line_each_and_leave_nothing(tmp_path, monkeypatch, capsys, tool, fault):
    main, argv = _output_tools(tmp_path)[tool]
    out = tmp_path / "out"
    out.mkdir()
    reason = fault(monkeypatch, out)
    capsys.readouterr()
    status = main([str(out) if a == "{out}" else a for a in argv])
    monkeypatch.undo()
    err = capsys.readouterr().err.splitlines()
    assert status == 1
    assert err and all(line.startswith("ERROR: ") and re.search(reason, line) for line in err), err
    if out.is_dir():
        out.chmod(0o755)
        assert [os.path.join(d, f) for d, _, names in os.walk(out) for f in names] == []  # nothing, not even half
    else:
        assert out.read_text() == "not a folder"


def test_read_only_cache_folder_disables_the_cache_with_a_warning(tmp_path, monkeypatch, capsys):
    cache = tmp_path / "cache"
    cache.mkdir()
    _read_only(monkeypatch, cache)
    args = instance_eval.args
    args.predictionPath, args.predictionWalk = os.path.join(SMALL, "results", "instance"), None
    args.JSONOutput, args.quiet, args.exportMatches, args.plotFile = False, True, None, None
    args.gtInstancesFile = str(cache / "sub" / "gtInstances.json")
    gts = sorted(glob.glob(os.path.join(SMALL, "gtFine", "val", "*", "*_gtFine_instanceIds.png")))
    result = instance_eval.evaluateImgLists([instance_eval.getPrediction(g, args) for g in gts], gts, args)
    assert_same_numbers(expected_eval("small", "instance"), plain(result))
    warning = capsys.readouterr().err
    assert warning == (f"WARNING: ground-truth cache disabled, cannot write {args.gtInstancesFile}: "
                       f"{os.strerror(errno.EACCES)}\n")


def _padded_png(image, size):
    """PNG bytes of ``image`` padded to exactly ``size`` bytes with a text chunk (same pixels)."""
    data = png.encode_png(image)
    filler = size - len(data) - 12
    assert filler >= 0
    return data[:-12] + png._chunk(b"tEXt", b"pad\0" + b"x" * (filler - 4)) + data[-12:]


def test_ground_truth_cache_is_keyed_on_content_not_size_and_time(tmp_path, monkeypatch):
    shutil.copytree(os.path.join(SMALL, "gtFine"), tmp_path / "gtFine")
    gts = sorted(glob.glob(str(tmp_path / "gtFine" / "val" / "*" / "*_gtFine_instanceIds.png")))
    original = png.read_ids_16bit(gts[0])
    changed = original.copy()
    cars = np.unique(original[(original >= 26000) & (original < 27000)])
    changed[np.isin(changed, cars)] = 26  # every car of the first frame loses its instance
    size = max(len(png.encode_png(original)), len(png.encode_png(changed))) + 64
    with open(gts[0], "wb") as f:
        f.write(_padded_png(original, size))
    args = instance_eval.args
    args.predictionPath, args.predictionWalk = os.path.join(SMALL, "results", "instance"), None
    args.JSONOutput, args.quiet, args.exportMatches, args.plotFile = False, True, None, None
    args.gtInstancesFile = str(tmp_path / "cache.json")
    predictions = [instance_eval.getPrediction(g, args) for g in gts]
    before = instance_eval.evaluateImgLists(predictions, gts, args)
    assert os.path.isfile(args.gtInstancesFile)
    stat = os.stat(gts[0])
    with open(gts[0], "wb") as f:
        f.write(_padded_png(changed, size))
    os.utime(gts[0], ns=(stat.st_atime_ns, stat.st_mtime_ns))
    assert os.stat(gts[0]).st_size == stat.st_size and os.stat(gts[0]).st_mtime_ns == stat.st_mtime_ns
    cached_run = instance_eval.evaluateImgLists(predictions, gts, args)
    args.gtInstancesFile = None
    fresh = instance_eval.evaluateImgLists(predictions, gts, args)
    assert cached_run["averages"]["allAp"] != before["averages"]["allAp"]
    assert_same_numbers(plain(fresh), plain(cached_run))


# ---- every batch tool with one bad item, many times (the full 200 runs: tests/stress_tools.py) -------
def test_each_tool_with_one_bad_item_ends_cleanly_every_time(tmp_path):
    counts = stress_tools.stress(list(stress_tools.TOOLS), 20, str(tmp_path), timeout=120)
    assert counts == {name: (20, 20) for name in stress_tools.TOOLS}
