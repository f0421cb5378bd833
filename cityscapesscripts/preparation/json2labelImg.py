"""Polygon JSON to a label image (labelIds, labelTrainIds or colour), the original's face.

    csJson2labelImg [-t] input.json output.png   (python -m cityscapesscripts.preparation.json2labelImg)
"""
import getopt  # noqa: F401  (the original module's namespace)
import os
import sys

from PIL import Image, ImageDraw  # noqa: F401  (the original module's namespace)

from cityscapesscripts import cli
from cityscapesscripts.helpers.annotation import Annotation  # noqa: F401  (the original module's namespace)
from cityscapesscripts.helpers.labels import name2label  # noqa: F401  (the original module's namespace)
from cityscapesscripts.preparation import convert, rasterize


def printHelp():
    """Print the usage of the single-file tool."""
    _print_usage(["Reads labels as polygons in JSON format and converts them to label images,",
                  "where each pixel has an ID that represents the ground truth label."])


def printError(message):
    """Print ``ERROR: message`` and the usage, then exit with status 255 (the original's behaviour)."""
    _usage_error(message, printHelp)


def _print_usage(description):
    print(f"{os.path.basename(sys.argv[0])} [OPTIONS] inputJson outputImg")
    print("")
    print("\n".join(description))
    print("")
    print("Options:")
    print(" -h                 Print this help")
    print(' -t                 Use the "trainIDs" instead of the regular mapping. See "labels.py" for details.')


def _usage_error(message, print_help):
    print(f"ERROR: {message}")
    print("")
    print("USAGE:")
    print_help()
    sys.exit(-1)


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
