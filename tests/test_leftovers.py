"""A batch tool killed with SIGKILL leaves temporary files; the next run in that folder removes those of
dead processes (with and without --skip-existing) and keeps those of running ones."""
import os
import shutil
import signal
import subprocess
import sys
import textwrap
import time

import pytest

from cityscapesscripts import sample
from cityscapesscripts.io import files
from cityscapesscripts.preparation import prepare

TOOL = "import sys; from cityscapesscripts.preparation import createTrainIdLabelImgs as t; sys.exit(t.main())"


@pytest.fixture(scope="module")
def dataset(tmp_path_factory):
    """Synthetic frames with polygons only, and the labelTrainIds a clean run makes of them."""
    root = tmp_path_factory.mktemp("leftovers") / "dataset"
    sample.generate(str(root), 24, 1024, 512, jobs=2, progress=False)
    for path in root.glob("gtFine/**/*.png"):
        path.unlink()
    clean = root.parent / "clean"
    shutil.copytree(root, clean)
    assert prepare.run(["--dataset", str(clean), "-j", "2", "-q"], "labelTrainIds", "") == 0
    expected = outputs(clean)
    assert len(expected) == 24
    return root, expected


def killed_writer_temporary(target):
    """The temporary file of a process killed (SIGKILL) while writing ``target``."""
    writer = subprocess.Popen([sys.executable, "-c", textwrap.dedent(f"""
        import time
        from cityscapesscripts.io import files
        with files.atomic_target({str(target)!r}) as tmp:
            open(tmp, "w").write("half")
            print(tmp, flush=True)
            time.sleep(60)
    """)], stdout=subprocess.PIPE, text=True)
    left = writer.stdout.readline().strip()
    writer.kill()
    writer.wait()
    assert os.path.exists(left)
    return left


def dead_pid():
    child = subprocess.Popen([sys.executable, "-c", "pass"])
    child.wait()
    return child.pid


def plant(folder):
    """Temporaries of the kinds a rerun meets: ``(stale ones, kept ones)``."""
    dead = killed_writer_temporary(folder / "x_gtFine_labelTrainIds.png")
    # a file of a process that died long ago, whose id this (running) process now has
    reused = folder / f"{files.temporary_prefix()}7-y_gtFine_labelTrainIds.png"
    reused.write_text("old")
    long_ago = files.process_start_time(os.getpid()) - 3600
    os.utime(reused, (long_ago, long_ago))
    running = folder / f"{files.temporary_prefix()}8-z_gtFine_labelTrainIds.png"  # ours, being written now
    running.write_text("in progress")
    other_host = folder / f".tmp-{dead_pid()}_another-host_9-w.png"  # may be running on another machine
    other_host.write_text("elsewhere")
    return {dead, str(reused)}, {str(running), str(other_host)}


def temporaries(root):
    return {str(p) for p in root.glob("gtFine/**/.tmp-*")}


def outputs(root):
    return {p.relative_to(root): p.read_bytes() for p in root.glob("gtFine/**/*_labelTrainIds.png")
            if not p.name.startswith(".")}


def test_a_rerun_removes_what_a_killed_run_left_and_writes_the_right_outputs(dataset):
    root, expected = dataset
    for path in root.glob("gtFine/**/*_labelTrainIds.png"):
        path.unlink()
    tool = subprocess.Popen([sys.executable, "-c", TOOL, "--dataset", str(root), "-j", "2", "-q"],
                            start_new_session=True)
    deadline = time.monotonic() + 60
    while not outputs(root) and tool.poll() is None and time.monotonic() < deadline:
        time.sleep(0.005)
    os.killpg(tool.pid, signal.SIGKILL)  # the tool and its workers, mid-run
    tool.wait()
    left_by_the_kill = temporaries(root)
    folder = sorted(root.glob("gtFine/val/*"))[0]
    stale, kept = plant(folder)

    for options in (["--skip-existing"], []):
        assert prepare.run(["--dataset", str(root), "-j", "2", "-q"] + options, "labelTrainIds", "") == 0
        assert temporaries(root) == kept, f"left by the kill: {sorted(left_by_the_kill)}"
        assert outputs(root) == expected
        if options:
            stale, more_kept = plant(folder)
            kept |= more_kept
    assert not any(os.path.exists(p) for p in stale)


def test_the_start_time_tells_a_reused_process_id(tmp_path):
    started = files.process_start_time(os.getpid())
    assert abs(started - time.time()) < 24 * 3600 and started <= time.time()
    mine = tmp_path / f"{files.temporary_prefix()}0-a.png"
    mine.write_text("x")
    os.utime(mine, (started + 1, started + 1))  # written after this process started: its own
    assert files.remove_stale_temporaries([str(tmp_path)]) == []
    os.utime(mine, (started - 120, started - 120))  # written two minutes before it started: another's
    assert files.remove_stale_temporaries([str(tmp_path)]) == [str(mine)]
