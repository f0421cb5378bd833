"""cityscapesscripts: Cityscapes ground-truth preparation and evaluation.

The modules keep the names of the original toolkit (``helpers``,
``preparation``, ``evaluation``); the engines under them work on NumPy arrays.
"""
import os as _os
import sys as _sys

__version__ = "3.0.0"

# The console scripts (setup.py's entry points; a test keeps the two equal).
CONSOLE_SCRIPTS = frozenset((
    "csSampleDataset", "csDemo", "csDownload", "csConvert", "csStats", "csViewer", "csCreateTrainIdLabelImgs",
    "csCreateTrainIdInstanceImgs", "csCreatePanopticImgs", "csEvalPixelLevelSemanticLabeling",
    "csEvalInstanceLevelSemanticLabeling", "csEvalPanopticSemanticLabeling", "csEvalObjectDetection3d",
    "csPlot3dDetectionResults", "csLabelTool"))


def _started_as_a_tool() -> bool:
    """Whether this process is one of our console scripts (or ``python -m cityscapesscripts...``)."""
    if _sys.argv and _os.path.basename(_sys.argv[0]) in CONSOLE_SCRIPTS:
        return True
    argv = getattr(_sys, "orig_argv", ())  # Python 3.10+
    return any(flag == "-m" and module.startswith("cityscapesscripts.") for flag, module in zip(argv, argv[1:]))


# A tool's parallelism is its worker processes: its numerical libraries run on one thread unless the user
# says otherwise.  OpenBLAS would start a thread per core when NumPy is imported, and those threads spin
# on the cores the workers need (on 16 cores, about 2 s of CPU in every run); this must happen before
# NumPy loads, and never in a program that merely imports the package.
THREAD_VARIABLES = ("OPENBLAS_NUM_THREADS", "OMP_NUM_THREADS", "MKL_NUM_THREADS")
if _started_as_a_tool() and "numpy" not in _sys.modules:
    for _variable in THREAD_VARIABLES:
        _os.environ.setdefault(_variable, "1")
