"""Every module the original could run as a script runs by file path, as the clients' READMEs do.

detectron2, Mask2Former and panoptic-deeplab prepare Cityscapes with
``python cityscapesscripts/preparation/createTrainIdLabelImgs.py`` and
``python cityscapesscripts/preparation/createPanopticImgs.py [--use-train-id]``
run from a checkout of the package.  Each module is run here by its path in
a fresh interpreter (no ``-m``), and its output compared with the original's.
"""
import json
import os
import shutil
import subprocess
import sys

import pytest

import cityscapesscripts
from conftest import (BOX3D_NUMPY1_ULPS, FIXTURES, GOLDEN, GOLDEN_PANOPTIC_PARTS, assert_same_numbers, assert_same_png,
                      expected_eval, golden_files)

PACKAGE = os.path.dirname(os.path.abspath(cityscapesscripts.__file__))
SMALL = os.path.join(GOLDEN, "small")
with open(os.path.join(FIXTURES, "original_script_output.json")) as f:
    ORIGINAL_OUTPUT = json.load(f)


def run_by_path(module_path, *args, env=None, cwd=None):
    """``python cityscapesscripts/<module_path> args...`` in a fresh interpreter."""
    return subprocess.run([sys.executable, os.path.join(PACKAGE, module_path), *args], capture_output=True,
                          text=True, env=dict(os.environ, **(env or {})), cwd=cwd, timeout=300)


@pytest.fixture
def dataset(tmp_path):
    """A writable copy of the small golden set: polygons, shipped ground truth, panoptic ground truth."""
    root = tmp_path / "cityscapes"
    shutil.copytree(os.path.join(SMALL, "gtFine"), root / "gtFine")
    return root


def test_labels_prints_the_original_table():
    run = run_by_path("helpers/labels.py")
    assert run.returncode == 0, run.stderr
    assert run.stdout == ORIGINAL_OUTPUT["helpers/labels.py"]


def test_cshelpers_refuses_to_run_as_the_original():
    run = run_by_path("helpers/csHelpers.py")
    assert run.returncode == 255
    assert run.stdout == ORIGINAL_OUTPUT["helpers/csHelpers.py"]


def test_annotation_prints_the_original_example():
    run = run_by_path("helpers/annotation.py")
    assert run.returncode == 0, run.stderr
    assert run.stdout == ORIGINAL_OUTPUT["helpers/annotation.py"]


def test_version_prints_the_package_version():
    run = run_by_path("helpers/version.py")
    assert run.returncode == 0, run.stderr
    assert run.stdout.strip() == cityscapesscripts.__version__


@pytest.mark.parametrize("script, encoding", [("createTrainIdLabelImgs.py", "labelTrainIds"),
                                              ("createTrainIdInstanceImgs.py", "instanceTrainIds")])
def test_create_train_id_images_by_path(dataset, script, encoding):
    run = run_by_path("preparation/" + script, env={"CITYSCAPES_DATASET": str(dataset)})
    assert run.returncode == 0, run.stderr
    polygons = golden_files(str(dataset), "*_polygons.json")
    assert polygons
    for path in polygons:
        name = os.path.basename(path).replace("polygons.json", encoding + ".png")
        city = os.path.basename(os.path.dirname(path))
        assert_same_png(os.path.join(SMALL, "expected", "prepared", "gtFine", "val", city, name),
                        os.path.join(os.path.dirname(path), name))


@pytest.mark.parametrize("flags, suffix", [([], ""), (["--use-train-id"], "_trainId")])
def test_create_panoptic_images_by_path(dataset, flags, suffix):
    run = run_by_path("preparation/createPanopticImgs.py", *flags, "--set-names", "val",
                      env={"CITYSCAPES_DATASET": str(dataset)})
    assert run.returncode == 0, run.stderr
    name = "cityscapes_panoptic_val" + suffix
    with open(os.path.join(SMALL, "expected", "panoptic", name + ".json")) as f:
        expected = json.load(f)
    with open(dataset / "gtFine" / (name + ".json")) as f:
        assert json.load(f) == expected
    for annotation in expected["annotations"]:
        assert_same_png(os.path.join(SMALL, "expected", "panoptic", name, annotation["file_name"]),
                        str(dataset / "gtFine" / name / annotation["file_name"]))


def test_create_panoptic_images_without_a_train_split(dataset):
    """Default sets val, train, test: val is written and the missing train and test splits are skipped with a
    note; asked for by name, a missing split is an error (exit 1, stderr)."""
    run = run_by_path("preparation/createPanopticImgs.py", env={"CITYSCAPES_DATASET": str(dataset)})
    assert run.returncode == 0
    assert run.stderr.startswith("note: no train, test split in ") and "skipped" in run.stderr
    assert (dataset / "gtFine" / "cityscapes_panoptic_val.json").is_file()
    run = run_by_path("preparation/createPanopticImgs.py", "--set-names", "val", "train",
                      env={"CITYSCAPES_DATASET": str(dataset)})
    assert run.returncode == 1
    assert run.stderr.startswith("ERROR: no train split in ")


@pytest.mark.parametrize("script, flags, suffix", [("json2labelImg.py", [], "_labelIds.png"),
                                                   ("json2labelImg.py", ["-t"], "_labelTrainIds.png"),
                                                   ("json2instanceImg.py", [], "_instanceIds.png")])
def test_single_file_tools_by_path(tmp_path, script, flags, suffix):
    polygons = golden_files(SMALL, "*_polygons.json")[0]
    out = str(tmp_path / "out.png")
    run = run_by_path("preparation/" + script, *flags, polygons, out)
    assert run.returncode == 0, run.stderr
    base = polygons[:-len("_polygons.json")]
    if "TrainIds" in suffix:
        city = os.path.basename(os.path.dirname(polygons))
        base = os.path.join(SMALL, "expected", "prepared", "gtFine", "val", city, os.path.basename(base))
    assert_same_png(base + suffix, out)


def _read(path):
    with open(path) as f:
        return json.load(f)


def test_pixel_evaluation_by_path(dataset):
    run = run_by_path("evaluation/evalPixelLevelSemanticLabeling.py",
                      env={"CITYSCAPES_DATASET": str(dataset), "CITYSCAPES_EXPORT_DIR": "",
                           "CITYSCAPES_RESULTS": os.path.join(SMALL, "results", "semantic")})
    assert run.returncode == 0, run.stderr
    result = _read(dataset / "evaluationResults" / "resultPixelLevelSemanticLabeling.json")
    assert_same_numbers(expected_eval("small", "pixel"), result)


def test_instance_evaluation_by_path(dataset, tmp_path):
    run = run_by_path("evaluation/evalInstanceLevelSemanticLabeling.py",
                      env={"CITYSCAPES_DATASET": str(dataset), "XDG_CACHE_HOME": str(tmp_path / "cache"),
                           "CITYSCAPES_RESULTS": os.path.join(SMALL, "results", "instance")})
    assert run.returncode == 0, run.stderr
    result = _read(dataset / "evaluationResults" / "resultInstanceLevelSemanticLabeling.json")
    assert_same_numbers(expected_eval("small", "instance"), result)


def test_panoptic_evaluation_by_path(dataset, tmp_path):
    cwd = tmp_path / "work"
    cwd.mkdir()
    # the fresh interpreter counts cores as the machine that made the golden files did (PQ's last bits)
    site = tmp_path / "site"
    site.mkdir()
    (site / "sitecustomize.py").write_text(
        f"import multiprocessing\nmultiprocessing.cpu_count = lambda: {GOLDEN_PANOPTIC_PARTS}\n")
    run = run_by_path("evaluation/evalPanopticSemanticLabeling.py", cwd=cwd,
                      env={"CITYSCAPES_DATASET": str(dataset), "PYTHONPATH": str(site),
                           "CITYSCAPES_RESULTS": os.path.join(SMALL, "results", "panoptic")})
    assert run.returncode == 0, run.stderr
    assert_same_numbers(expected_eval("small", "panoptic"), _read(cwd / "resultPanopticSemanticLabeling.json"))


def test_instances2dict_by_path(dataset):
    files = golden_files(str(dataset), "*_instanceIds.png")
    run = run_by_path("evaluation/instances2dict.py", *files)
    assert run.returncode == 0, run.stderr
    assert f"Images Processed: {len(files)}" in run.stdout


def test_3d_evaluation_and_its_plot_run_by_path(tmp_path):
    box3d = os.path.join(GOLDEN, "box3d")
    run = run_by_path("evaluation/evalObjectDetection3d.py", "-gt", os.path.join(box3d, "gtBbox3d", "val"),
                      "-pred", os.path.join(box3d, "results", "predBbox3d"), "--results-folder", str(tmp_path),
                      "--noplot", "-q")
    assert run.returncode == 0, run.stderr
    results = json.loads((tmp_path / "results.json").read_text())
    with open(os.path.join(box3d, "expected", "eval", "results.json")) as f:
        assert_same_numbers(json.load(f), results, ulps=BOX3D_NUMPY1_ULPS)
    run = run_by_path("evaluation/plot3dResults.py", str(tmp_path / "results.json"), "-o", str(tmp_path / "fig.png"))
    assert run.returncode == 0, run.stderr
    assert (tmp_path / "fig.png").read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"
