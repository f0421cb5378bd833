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

import pytest

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
