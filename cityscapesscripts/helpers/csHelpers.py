"""The original ``csHelpers``: label mappings, file-name helpers, printing and JSON.

The original evaluation and preparation modules star-imported this module,
so downstream code reaches these names through them too (mmdetection calls
``evalInstanceLevelSemanticLabeling.printError``).  ``__all__`` lists the
original's public names, modules included; the compat modules star-import it
to expose the same namespace.  Library code of this package raises
exceptions; only :func:`printError`, kept for compatibility, exits.
"""
import getopt
import glob
import json
import logging
import math
import os
import sys
import traceback
from collections import namedtuple

import numpy as np

from cityscapesscripts.io.files import make_folders
from cityscapesscripts.io.jsonfile import write_json
from cityscapesscripts.io.layout import CsFile, frame_id, parse_name
from cityscapesscripts.helpers.annotation import Annotation
from cityscapesscripts.helpers.labels import category2labels, id2label, labels, name2label, trainId2label
from cityscapesscripts.lazy import lazy_names

# Pillow's modules are in the original's namespace (its scripts star-import this module, and get them that way
# still), imported when first asked for: the evaluators whose namespaces copy this one never draw, and importing
# Pillow cost 15 ms of each of their starts
LAZY_NAMES = {"Image": "PIL.Image", "ImageDraw": "PIL.ImageDraw"}
__getattr__ = lazy_names(__name__, LAZY_NAMES)

__all__ = list(LAZY_NAMES) + [
    "Annotation", "CsFile", "category2labels", "colors", "ensurePath", "getColorEntry", "getCoreImageFileName",
    "getCsFileInfo", "getDirectory", "getopt", "glob", "id2label", "json", "labels", "logging", "math", "name2label",
    "namedtuple", "np", "os", "printError", "sys", "traceback", "trainId2label", "writeDict2JSON"]


def printError(message):
    """Print ``ERROR: message`` and exit with status 255 (as the original scripts do)."""
    print("ERROR: " + str(message))
    sys.exit(-1)


class colors:
    """ANSI escape codes for coloured terminal output."""
    RED = "\033[31;1m"
    GREEN = "\033[32;1m"
    YELLOW = "\033[33;1m"
    BLUE = "\033[34;1m"
    MAGENTA = "\033[35;1m"
    CYAN = "\033[36;1m"
    BOLD = "\033[1m"
    UNDERLINE = "\033[4m"
    ENDC = "\033[0m"


def getColorEntry(val, args):
    """The colour code for a score in [0, 1] when ``args.colorized``, else ''."""
    if not args.colorized:
        return ""
    if not isinstance(val, float) or math.isnan(val):
        return colors.ENDC
    for bound, code in ((0.2, colors.RED), (0.4, colors.YELLOW), (0.6, colors.BLUE), (0.8, colors.CYAN)):
        if val < bound:
            return code
    return colors.GREEN


def getCsFileInfo(fileName):
    """The :data:`CsFile` of a Cityscapes file name (raises LayoutError if malformed)."""
    return parse_name(fileName)


def getCoreImageFileName(filename):
    """``city_123456_123456`` for ``city_123456_123456_gtFine_polygons.json``."""
    return frame_id(filename)


def getDirectory(fileName):
    """The name of the folder holding ``fileName`` ('bar' for '/foo/bar/x.txt')."""
    return os.path.basename(os.path.dirname(fileName))


def ensurePath(path):
    """Create folder ``path`` (and parents) if missing; '' or None does nothing."""
    if path:
        make_folders(path)


def writeDict2JSON(dictName, fileName):
    """Write a dict as indented, key-sorted JSON (atomically); other objects are written by their ``__dict__``."""
    write_json(fileName, dictName, default=lambda value: value.__dict__, sort_keys=True, indent=4)


if __name__ == "__main__":
    printError("Only for include, not executable on its own.")
