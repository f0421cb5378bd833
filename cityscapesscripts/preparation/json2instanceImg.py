"""Polygon JSON to an instance image (instanceIds or instanceTrainIds), the original's face.

Pixel values are ``id * 1000 + k`` for the k-th single instance of a class
with instances, the plain id otherwise (groups, stuff).  Images are 16-bit
PNGs (the original made 32-bit "I" images, which Pillow 13 cannot save).
"""
import sys

from PIL import Image

from . import convert, rasterize
from .json2labelImg import _single_file_main


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
