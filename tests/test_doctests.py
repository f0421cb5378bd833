"""The examples in the installed package's docstrings run."""
import doctest
import importlib

import pytest

MODULES = ["cityscapesscripts.helpers.labelset", "cityscapesscripts.io.layout",
           "cityscapesscripts.evaluation.semantic", "cityscapesscripts.evaluation.instance_ap",
           "cityscapesscripts.evaluation.panoptic", "cityscapesscripts.web.server",
           "cityscapesscripts.evaluation.box3d", "cityscapesscripts.helpers.box3dImageTransform",
           "cityscapesscripts.io.segment_ids"]


@pytest.mark.parametrize("name", MODULES)
def test_docstring_examples(name):
    module = importlib.import_module(name)
    failures, tried = doctest.testmod(module, optionflags=doctest.ELLIPSIS)
    assert tried > 0 and failures == 0
