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

from client_replays import plain  # noqa: E402, F401  (the tests import it from here)

FIXTURES = os.path.join(os.path.dirname(os.path.abspath(__file__)), "fixtures")
GOLDEN = os.path.join(FIXTURES, "golden")
SETS = ("small", "edge", "full")


def read_png(path):
    return np.asarray(Image.open(path)).astype(np.int64)


def assert_same_png(expected, actual):
    a, b = read_png(expected), read_png(actual)
    assert a.shape == b.shape, (expected, a.shape, b.shape)
    assert (a == b).all(), f"{int((a != b).sum())} pixels differ in {os.path.basename(actual)}"


def assert_same_numbers(expected, actual, path=""):
    """Structure equal, numbers equal up to 1e-9 relative, NaN where NaN."""
    if isinstance(expected, dict):
        assert isinstance(actual, dict), path
        assert set(map(str, expected)) == set(map(str, actual)), (path, set(expected) ^ set(actual))
        actual = {str(k): v for k, v in actual.items()}
        for k in expected:
            assert_same_numbers(expected[k], actual[str(k)], f"{path}/{k}")
    elif isinstance(expected, list):
        assert len(expected) == len(actual), path
        for i, (e, a) in enumerate(zip(expected, actual)):
            assert_same_numbers(e, a, f"{path}[{i}]")
    elif isinstance(expected, (int, float)) and not isinstance(expected, bool):
        if isinstance(expected, float) and math.isnan(expected):
            assert math.isnan(actual), (path, actual)
        else:
            assert expected == actual or abs(expected - actual) <= 1e-9 * max(1.0, abs(expected)), (path, expected, actual)
    else:
        assert expected == actual, (path, expected, actual)


def expected_eval(golden_set, name):
    with open(os.path.join(GOLDEN, golden_set, "expected", "eval", name + ".json")) as f:
        return json.load(f)


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
    """Compat modules keep settings in a module-level ``args``; put them back after each test."""
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
