"""Polygon JSON to a label image (labelIds, labelTrainIds or colour), the original's face.

    csJson2labelImg [-t] input.json output.png   (python -m cityscapesscripts.preparation.json2labelImg)
"""
import sys

from PIL import Image

from .. import cli
from . import convert, rasterize


def createLabelImage(annotation, encoding, outline=None):
    """A PIL image of ``annotation`` in ``encoding`` ('ids', 'trainIds', 'color').

    'color' gives an RGBA image, the others an 8-bit ("L") image.  With
    ``outline`` (a value of that encoding) each polygon's border is drawn in it.
    """
    name = rasterize.encoding_name(encoding, rasterize.LABEL_ENCODINGS)
    object_map = rasterize.rasterize(annotation, outline=outline is not None)
    pixels = rasterize.encode(object_map, name, outline_value=outline)
    return Image.fromarray(pixels)  # "RGBA" for colour, "L" otherwise


def json2labelImg(inJson, outImg, encoding="ids"):
    """Read ``inJson`` and write its label image in ``encoding`` to ``outImg`` (PNG)."""
    convert.convert_frame(inJson, {rasterize.encoding_name(encoding, rasterize.LABEL_ENCODINGS): outImg})


def main(argv=None):
    return _single_file_main(argv, json2labelImg, "label")


@cli.entry_point
def _single_file_main(argv, function, kind):
    import argparse
    parser = argparse.ArgumentParser(description=f"Convert a Cityscapes polygon JSON file to a {kind} image.")
    parser.add_argument("-t", dest="trainIds", action="store_true", help="use train ids instead of ids")
    parser.add_argument("inputJson")
    parser.add_argument("outputImg")
    args = parser.parse_args(sys.argv[1:] if argv is None else argv)
    function(args.inputJson, args.outputImg, "trainIds" if args.trainIds else "ids")
    return 0


if __name__ == "__main__":
    sys.exit(main())
