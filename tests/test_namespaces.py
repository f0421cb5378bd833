"""Every compat module exposes the public names of the original module, of the same kind.

``fixtures/original_namespaces.json`` is the original 2.3.0 package's module
namespaces, dumped by ``fixtures/make_original_fixtures.py``.  Downstream
code reaches names through any of these modules (mmdetection calls
``evalInstanceLevelSemanticLabeling.printError``, which the original got by
star-importing ``csHelpers``).
"""
import importlib
import importlib.util
import json
import os
import subprocess
import sys

import pytest

from conftest import GOLDEN
from fixtures.make_original_fixtures import kind

FIXTURES = os.path.join(os.path.dirname(__file__), "fixtures")
with open(os.path.join(FIXTURES, "original_namespaces.json")) as f:
    ORIGINAL = json.load(f)

# Names of the original that are not interface: Python 2 compiler switches
# (no effect on Python 3), loop variables left at module level, and the
# closed file handle of the original's version reader.
NOT_INTERFACE = {"absolute_import", "division", "print_function", "unicode_literals"}
NOT_INTERFACE_IN = {"helpers.labels": {"label", "category"}, "helpers.version": {"f"},
                    # coloured console logging that the original installed on import; no dependency here
                    "evaluation.evalObjectDetection3d": {"coloredlogs"}}

# The 2D toolkit; the 3D modules (box3dImageTransform, evalObjectDetection3d,
# objectDetectionHelpers, plot3dResults) are checked as soon as they exist.
TWO_D = ["helpers.annotation", "helpers.csHelpers", "helpers.labels", "helpers.labels_cityPersons",
         "helpers.version", "evaluation.evalInstanceLevelSemanticLabeling", "evaluation.evalPanopticSemanticLabeling",
         "evaluation.evalPixelLevelSemanticLabeling", "evaluation.instance", "evaluation.instances2dict",
         "preparation.createPanopticImgs", "preparation.createTrainIdInstanceImgs",
         "preparation.createTrainIdLabelImgs", "preparation.json2instanceImg", "preparation.json2labelImg"]
PRESENT = [m for m in sorted(ORIGINAL) if importlib.util.find_spec("cityscapesscripts." + m) is not None]


def test_every_2d_module_of_the_original_exists():
    assert set(TWO_D) <= set(PRESENT)


@pytest.mark.parametrize("module", PRESENT)
def test_module_exposes_the_original_names(module):
    imported = importlib.import_module("cityscapesscripts." + module)
    skip = NOT_INTERFACE | NOT_INTERFACE_IN.get(module, set())
    expected = {name: k for name, k in ORIGINAL[module].items() if name not in skip}
    ours = {name: getattr(imported, name) for name in expected if hasattr(imported, name)}  # some load on first use
    missing = sorted(name for name in expected if name not in ours)
    assert not missing, f"{module} lacks {missing}"
    different = {name: (k, kind(ours[name])) for name, k in expected.items() if kind(ours[name]) != k}
    assert not different, f"{module}: (original, ours) kinds differ: {different}"


def test_mmdetection_reaches_csHelpers_names_through_the_instance_module():
    import cityscapesscripts.evaluation.evalInstanceLevelSemanticLabeling as CSEval
    from cityscapesscripts.helpers import csHelpers
    assert CSEval.printError is csHelpers.printError
    assert CSEval.writeDict2JSON is csHelpers.writeDict2JSON
    assert CSEval.name2label["car"].id == 26


def test_original_confusion_matrix_helper_counts_pixels():
    import numpy as np

    from cityscapesscripts.evaluation.evalPixelLevelSemanticLabeling import addToConfusionMatrix
    gt = np.array([[7, 7], [26, 0]], np.uint8)
    pred = np.array([[7, 8], [26, 26]], np.uint8)
    conf = np.ones((34, 34), np.ulonglong)
    out = addToConfusionMatrix.cEvaluatePair(pred, gt, conf, [7, 8, 26])
    assert out is conf
    assert (conf[7, 7], conf[7, 8], conf[26, 26], conf[0, 26], conf[8, 7]) == (2, 2, 2, 2, 1)
    assert conf.sum() == 34 * 34 + 4


def test_pillow_is_in_the_original_namespaces_and_imported_when_asked_for():
    code = ("import sys\n"
            "import cityscapesscripts.evaluation.evalPixelLevelSemanticLabeling as pixel\n"
            "import cityscapesscripts.evaluation.evalPanopticSemanticLabeling as panoptic\n"
            "before = 'PIL.Image' in sys.modules\n"
            "from cityscapesscripts.helpers.csHelpers import *\n"
            "import PIL.Image, PIL.ImageDraw\n"
            "print(before, Image is PIL.Image, ImageDraw is PIL.ImageDraw, pixel.Image is PIL.Image,\n"
            "      panoptic.Image is PIL.Image)")
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True).stdout
    assert out.split() == ["False", "True", "True", "True", "True"]


def _evaluator_arguments(out):
    small = os.path.join(GOLDEN, "small")
    return {
        "evalPixelLevelSemanticLabeling": ["--gt", os.path.join(small, "gtFine"),
                                           "--pred", os.path.join(small, "results", "semantic"), "--json", out],
        "evalInstanceLevelSemanticLabeling": ["--gt", os.path.join(small, "gtFine"),
                                              "--pred", os.path.join(small, "results", "instance"), "--json", out],
        "evalPanopticSemanticLabeling": [
            "--gt-json-file", os.path.join(small, "gtFine", "cityscapes_panoptic_val.json"),
            "--prediction-json-file", os.path.join(small, "results", "panoptic", "cityscapes_panoptic_val.json"),
            "--results-file", out]}


@pytest.mark.parametrize("tool", ["evalPixelLevelSemanticLabeling", "evalInstanceLevelSemanticLabeling",
                                  "evalPanopticSemanticLabeling"])
def test_an_evaluator_scores_without_importing_pillows_image_module(tool, tmp_path):
    """Pillow's Image module is a tenth of an evaluator's start-up; label PNGs are read without it."""
    out = str(tmp_path / "result.json")
    code = ("import sys\n"
            f"from cityscapesscripts.evaluation import {tool} as tool\n"
            f"status = tool.main({_evaluator_arguments(out)[tool] + ['-q', '-j', '1']!r})\n"
            "print(status, 'PIL.Image' in sys.modules)")
    env = dict(os.environ, XDG_CACHE_HOME=str(tmp_path))
    result = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, env=env, cwd=tmp_path)
    assert result.stdout.split()[-2:] == ["0", "False"], result.stderr[-2000:]  # after the tool's summary
    assert os.path.getsize(out) > 0
