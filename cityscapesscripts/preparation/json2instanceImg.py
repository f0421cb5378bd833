"""Polygon JSON to an instance image (instanceIds or instanceTrainIds), the original's face.

Pixel values are ``id * 1000 + k`` for the k-th single instance of a class
with instances, the plain id otherwise (groups, stuff).  Images are 16-bit
PNGs (the original made 32-bit "I" images, which Pillow 13 cannot save).
"""
import getopt  # noqa: F401  (the original module's namespace)
import os  # noqa: F401  (the original module's namespace)
import sys

from PIL import Image, ImageDraw  # noqa: F401  (the original module's namespace)

from cityscapesscripts.helpers.annotation import Annotation  # noqa: F401  (the original module's namespace)
from cityscapesscripts.helpers.labels import labels, name2label  # noqa: F401  (the original module's namespace)
from cityscapesscripts.preparation import convert, rasterize
from cityscapesscripts.preparation.json2labelImg import _print_usage, _single_file_main, _usage_error


def printHelp():
    """Print the usage of the single-file tool."""
    _print_usage([" Reads labels as polygons in JSON format and converts them to instance images,",
                  " where each pixel has an ID that represents the ground truth class and the",
                  " individual instance of that class.",
                  "",
                  " The pixel values encode both, class and the individual instance.",
                  " The integer part of a division by 1000 of each ID provides the class ID,",
                  " as described in labels.py. The remainder is the instance ID. If a certain",
                  " annotation describes multiple instances, then the pixels have the regular",
                  " ID of that class."])


def printError(message):
    """Print ``ERROR: message`` and the usage, then exit with status 255 (the original's behaviour)."""
    _usage_error(message, printHelp)


def createInstanceImage(annotation, encoding):
    """A 16-bit PIL image ("I;16") of ``annotation``'s instances; encoding 'ids' or 'trainIds'."""
    name = rasterize.encoding_name(encoding, rasterize.INSTANCE_ENCODINGS)
    pixels = rasterize.encode(rasterize.rasterize(annotation), name)
    return Image.fromarray(pixels)  # uint16 gives "I;16"


def json2instanceImg(inJson, outImg, encoding="ids"):
    """Read ``inJson`` and write its 16-bit instance image in ``encoding`` to ``outImg``."""
    convert.convert_frame(inJson, {rasterize.encoding_name(encoding, rasterize.INSTANCE_ENCODINGS): outImg})


def main(argv=None):
    return _single_file_main(argv, json2instanceImg, "instance")


if __name__ == "__main__":
    sys.exit(main())
