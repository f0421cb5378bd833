"""The run a tool passes down (its jobs and limits, applied in every worker) and the threads of a pool run."""
import json
import os
import subprocess
import sys
import textwrap

import pytest

from cityscapesscripts import parallel
from cityscapesscripts.errors import ArgumentError, ItemError
from cityscapesscripts.io import limits, png


def _label_map(path, width=128, height=64):
    import numpy as np
    png.write_png(str(path), np.zeros((height, width), np.uint8))
    return str(path)


def _shape(path):
    return png.read_label_map(path).shape


@pytest.mark.parametrize("jobs", [1, 2])
def test_the_runs_pixel_limit_is_in_force_in_its_workers_without_an_environment_variable(tmp_path, monkeypatch, jobs):
    monkeypatch.delenv(limits.VARIABLE, raising=False)
    path = _label_map(tmp_path / "a.png")  # 8192 pixels
    refused, = parallel.map_items(_shape, [path], parallel.Run(jobs, max_pixels=8191), progress=False)
    assert isinstance(refused, ItemError) and "declared size 128x64 is more than 8191 pixels" in refused.reason
    assert list(parallel.map_items(_shape, [path], parallel.Run(jobs, max_pixels=8192), progress=False)) == [(64, 128)]
    assert limits.VARIABLE not in os.environ and limits.max_pixels() == limits.DEFAULT_MAX_PIXELS


def test_a_run_applies_its_limit_here_only_while_entered(monkeypatch):
    monkeypatch.delenv(limits.VARIABLE, raising=False)
    run = parallel.Run(2, max_pixels=1000)
    with run:
        assert limits.max_pixels() == 1000
    assert limits.max_pixels() == limits.DEFAULT_MAX_PIXELS


def test_a_run_is_a_read_only_value_that_refuses_a_limit_below_one():
    run = parallel.Run(3, max_pixels=5)
    assert (run.jobs, run.client, run.scheduler, run.max_pixels) == (3, None, None, 5)
    with pytest.raises(AttributeError):
        run.jobs = 4
    with pytest.raises(ArgumentError, match="the pixel limit must be positive, got 0"):
        parallel.Run(max_pixels=0)


# A run's parent and workers, with OpenBLAS free to start one thread per core: each reports its threads
# right after a matrix product large enough for OpenBLAS to use its thread pool.
_THREADS = textwrap.dedent("""
    import json, os
    import numpy as np
    from cityscapesscripts import parallel

    def threads_after_a_product(_):
        a = np.ones((400, 400))
        a @ a
        return len(os.listdir("/proc/self/task"))

    before = threads_after_a_product(None)
    parent, workers = [], []
    for threads in parallel.map_items(threads_after_a_product, range(8), jobs=2, progress=False):
        workers.append(threads)
        parent.append(threads_after_a_product(None))
    print(json.dumps({"before": before, "parent": parent, "workers": workers,
                      "after": threads_after_a_product(None)}))
""")


@pytest.mark.skipif(not sys.platform.startswith("linux"), reason="/proc/self/task is Linux's")
def test_while_a_pool_runs_the_parent_and_its_workers_have_no_blas_threads(tmp_path):
    script = tmp_path / "threads.py"
    script.write_text(_THREADS)
    env = {k: v for k, v in os.environ.items() if not k.endswith("_NUM_THREADS")}
    done = subprocess.run([sys.executable, str(script)], capture_output=True, text=True, env=env, timeout=120)
    assert done.returncode == 0, done.stderr
    counts = json.loads(done.stdout)
    assert counts["parent"] == [1] * 8 and counts["workers"] == [1] * 8
    assert counts["after"] == counts["before"]  # this process's own setting comes back after the run
    if len(os.sched_getaffinity(0)) > 1:
        assert counts["before"] > 1  # OpenBLAS did start its pool outside the run: the check above means something


_STARTED_AS = """
import os, sys
sys.argv[0] = {argv0!r}
import cityscapesscripts
import numpy
print(os.environ.get("OPENBLAS_NUM_THREADS"), len(os.listdir("/proc/self/task")))
"""


@pytest.mark.skipif(not sys.platform.startswith("linux"), reason="/proc/self/task is Linux's")
@pytest.mark.parametrize("argv0, tool", [("/venv/bin/csEvalPixelLevelSemanticLabeling", True),
                                         ("/venv/bin/csCreateTrainIdLabelImgs", True), ("train.py", False)])
def test_a_console_tool_starts_no_blas_threads_and_a_program_importing_the_package_keeps_its_own(argv0, tool):
    """OpenBLAS starts a thread per core when NumPy loads, and they spin on the workers' cores: a tool of ours
    asks for one thread before NumPy loads; a training script that imports the package is left as it is."""
    env = {k: v for k, v in os.environ.items() if not k.endswith("_NUM_THREADS")}
    done = subprocess.run([sys.executable, "-c", _STARTED_AS.format(argv0=argv0)], capture_output=True, text=True,
                          env=env, timeout=60)
    assert done.returncode == 0, done.stderr
    variable, threads = done.stdout.split()
    if tool:
        assert (variable, threads) == ("1", "1")
    else:
        assert variable == "None"
        if len(os.sched_getaffinity(0)) > 1:
            assert int(threads) > 1


def test_the_package_knows_every_console_script():
    import cityscapesscripts
    from conftest import console_scripts
    assert cityscapesscripts.CONSOLE_SCRIPTS == set(console_scripts())
