import copy
import functools
import glob
import json
import math
import os
import shutil
import sys

# ``python -m pytest`` puts the checkout first on sys.path, where the package has no compiled
# extension; test the installed package, as ``pytest`` does (an editable install finds it either way).
CHECKOUT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
sys.path[:] = [p for p in sys.path if os.path.abspath(p or os.curdir) != CHECKOUT]

import numpy as np  # noqa: E402
import pytest  # noqa: E402
from PIL import Image  # noqa: E402

from blas_dot import blas_dot_key  # noqa: E402
from client_replays import plain  # noqa: E402, F401  (the tests import it from here)

FIXTURES = os.path.join(os.path.dirname(os.path.abspath(__file__)), "fixtures")
GOLDEN = os.path.join(FIXTURES, "golden")
SETS = ("small", "edge", "full")


def console_scripts():
    """{name: "module:function"} of the installed package's console scripts."""
    import importlib.metadata
    entry_points = importlib.metadata.entry_points()
    entry_points = entry_points.select(group="console_scripts") if hasattr(entry_points, "select") \
        else entry_points.get("console_scripts", [])  # Python 3.9
    return {e.name: e.value for e in entry_points if e.value.startswith("cityscapesscripts.")}


def read_png(path):
    return np.asarray(Image.open(path)).astype(np.int64)


def assert_same_png(expected, actual):
    a, b = read_png(expected), read_png(actual)
    assert a.shape == b.shape, (expected, a.shape, b.shape)
    assert (a == b).all(), f"{int((a != b).sum())} pixels differ in {os.path.basename(actual)}"


# The named exceptions to ``==`` with the golden files (README, "What differs from the original"),
# as {path in the result: units in the last place}.  The 3D golden results were made under NumPy 1.26,
# whose elementwise cos / arctan2 round this one orientation score (default and --cw 0.33 options) one
# unit in the last place away from NumPy 2's; the original under NumPy 2 writes our value.
BOX3D_NUMPY1_ULPS = {"/OS_Yaw/car/data/60": 1}
# The golden files were made on a machine with 2 cores: the original adds the panoptic IoUs in that
# many parts (see evaluation/panoptic.py), which decides the last bits of PQ and SQ.
GOLDEN_PANOPTIC_PARTS = 2


def assert_same_numbers(expected, actual, path="", ulps=None):
    """Structure equal, numbers equal (``==``, to the last bit), NaN where NaN; ``ulps``: named
    exceptions ({path: units in the last place})."""
    if isinstance(expected, dict):
        assert isinstance(actual, dict), path
        assert set(map(str, expected)) == set(map(str, actual)), (path, set(expected) ^ set(actual))
        actual = {str(k): v for k, v in actual.items()}
        for k in expected:
            assert_same_numbers(expected[k], actual[str(k)], f"{path}/{k}", ulps)
    elif isinstance(expected, list):
        assert len(expected) == len(actual), path
        for i, (e, a) in enumerate(zip(expected, actual)):
            assert_same_numbers(e, a, f"{path}[{i}]", ulps)
    elif isinstance(expected, (int, float)) and not isinstance(expected, bool):
        if isinstance(expected, float) and math.isnan(expected):
            assert math.isnan(actual), (path, actual)
        else:
            allowed = (ulps or {}).get(path, 0) * math.ulp(expected)
            assert expected == actual or abs(expected - actual) <= allowed, (path, expected, actual)
    else:
        assert expected == actual, (path, expected, actual)


def expected_eval(golden_set, name):
    """The original's result ``name`` on a golden set; instance results (whose AP is a BLAS dot) as the original
    gives them under this machine's OpenBLAS kernel, where recorded (tests/blas_dot.py)."""
    if name == "instance":
        recorded = _instance_by_blas_dot().get(blas_dot_key())
        if recorded:
            return copy.deepcopy(recorded[golden_set])
    with open(os.path.join(GOLDEN, golden_set, "expected", "eval", name + ".json")) as f:
        return json.load(f)


@functools.lru_cache(maxsize=None)
def _instance_by_blas_dot():
    with open(os.path.join(FIXTURES, "instance_by_blas_dot.json")) as f:
        return json.load(f)


@pytest.fixture
def golden_panoptic_parts(monkeypatch):
    """The original's panoptic sums as on the machine that made the golden files, whatever this one's cores."""
    from cityscapesscripts.evaluation import panoptic
    monkeypatch.setattr(panoptic, "_original_parts", lambda: GOLDEN_PANOPTIC_PARTS)


@pytest.fixture(params=SETS)
def golden_set(request):
    return request.param


@pytest.fixture
def golden_root(golden_set):
    return os.path.join(GOLDEN, golden_set)


@pytest.fixture
def polygons_only(tmp_path, golden_root):
    """A copy of a golden gtFine tree with only the polygon files."""
    shutil.copytree(os.path.join(golden_root, "gtFine"), tmp_path / "gtFine",
                    ignore=shutil.ignore_patterns("*.png", "cityscapes_panoptic*"))
    return tmp_path


def golden_files(root, pattern):
    return sorted(glob.glob(os.path.join(root, "gtFine", "val", "*", pattern)))


@pytest.fixture(autouse=True)
def _isolated_cwd(tmp_path, monkeypatch):
    """Every test runs in an empty working directory, so stray writes are caught."""
    cwd = tmp_path / "cwd"
    cwd.mkdir()
    monkeypatch.chdir(cwd)
    monkeypatch.setenv("XDG_CACHE_HOME", str(tmp_path / "cache"))
    yield cwd


@pytest.fixture(scope="session")
def browser():
    """One headless Chromium for the whole session (tests/browser.py); fails, never skips, when missing."""
    from browser import launch
    driver = launch()
    yield driver
    driver.quit()


@pytest.fixture(autouse=True)
def _restored_module_args():
    """Compat modules keep settings in a module-level ``args``, which tests and client replays set as users
    do (the package itself never writes them); put them back after each test."""
    import client_replays
    with client_replays.restored_args():
        yield


@pytest.fixture
def make_read_only(monkeypatch):
    """``make_read_only(folder)``: this process can no longer create files in ``folder``.

    As root the folder's mode does not stop writes, so it also gets the immutable flag; where
    neither works (root without CAP_LINUX_IMMUTABLE), the OS call that creates files there
    (``os.open`` with ``O_CREAT``, how atomic writes make their temporaries) is made to refuse, as
    a read-only folder would.
    """
    import subprocess
    folders = []
    real_open = os.open

    def make(folder):
        folders.append(folder)
        os.chmod(folder, 0o555)
        if os.geteuid() == 0:
            subprocess.run(["chattr", "+i", str(folder)], capture_output=True)
        probe = os.path.join(folder, ".probe")
        try:
            open(probe, "w").close()
        except OSError:
            return
        os.unlink(probe)

        def refuse(path, flags, *args, **kwargs):
            if flags & os.O_CREAT and os.path.dirname(os.path.abspath(path)) == os.path.abspath(folder):
                raise PermissionError(13, "Permission denied", path)
            return real_open(path, flags, *args, **kwargs)
        monkeypatch.setattr(os, "open", refuse)

    yield make
    for folder in folders:
        if os.geteuid() == 0:
            subprocess.run(["chattr", "-i", str(folder)], capture_output=True)
        os.chmod(folder, 0o755)


TORCH_COUNTING = "cpu, counted by torch"


def pytest_generate_tests(metafunc):
    """``tensor_device``: each place a test's tensors can lie on this machine, as a torch device: the CPU as
    the compiled kernels count it, the CPU counted by torch as an accelerator's tensors are
    (``tensors.COUNT_CPU_TENSORS_IN_TORCH``), and CUDA where there is a device (never a skipped test)."""
    if "tensor_device" in metafunc.fixturenames:
        import torch
        metafunc.parametrize("tensor_device", ["cpu", TORCH_COUNTING] + (["cuda"] if torch.cuda.is_available() else []),
                             indirect=True)


@pytest.fixture
def tensor_device(request, monkeypatch):
    """The device of :func:`pytest_generate_tests`' parameter."""
    from cityscapesscripts.evaluation import tensors
    if request.param == TORCH_COUNTING:
        monkeypatch.setattr(tensors, "COUNT_CPU_TENSORS_IN_TORCH", True)
    return request.param.split(",")[0]


def import_error_without(hidden: str, module: str) -> str:
    """The ImportError message of importing ``module`` in a fresh interpreter where ``hidden`` cannot be imported."""
    import subprocess
    code = (f"import sys; sys.modules[{hidden!r}] = None\n"
            f"try:\n    import {module}\nexcept ImportError as e:\n    print(e)\nelse:\n    print('imported')\n")
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True)
    assert out.returncode == 0, out.stderr
    return out.stdout.strip()
