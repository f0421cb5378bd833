"""Polygon JSON to a label image (labelIds, labelTrainIds or colour), the original's face.

    csJson2labelImg [-t] input.json output.png   (python -m cityscapesscripts.preparation.json2labelImg)
"""
import sys

from PIL import Image

from ..errors import CityscapesError
from ..io import png
from . import convert, rasterize


def createLabelImage(annotation, encoding, outline=None):
    """A PIL image of ``annotation`` in ``encoding`` ('ids', 'trainIds', 'color').

    'color' gives an RGBA image, the others an 8-bit ("L") image.  With
    ``outline`` (a value of that encoding) each polygon's border is drawn in it.
    """
    if encoding not in rasterize.LABEL_ENCODINGS:
        raise ValueError(f"unknown encoding {encoding!r}; expected 'ids', 'trainIds' or 'color'")
    object_map = rasterize.rasterize(annotation, outline=outline is not None)
    pixels = rasterize.encode(object_map, rasterize.LABEL_ENCODINGS[encoding], outline_value=outline)
    return Image.fromarray(pixels)  # "RGBA" for colour, "L" otherwise


def json2labelImg(inJson, outImg, encoding="ids"):
    """Read ``inJson`` and write its label image in ``encoding`` to ``outImg`` (PNG)."""
    if encoding not in rasterize.LABEL_ENCODINGS:
        raise ValueError(f"unknown encoding {encoding!r}; expected 'ids', 'trainIds' or 'color'")
    convert.convert_frame(inJson, {rasterize.LABEL_ENCODINGS[encoding]: outImg})


def main(argv=None):
    return _single_file_main(argv, json2labelImg, "label")


def _single_file_main(argv, function, kind):
    import argparse
    parser = argparse.ArgumentParser(description=f"Convert a Cityscapes polygon JSON file to a {kind} image.")
    parser.add_argument("-t", dest="trainIds", action="store_true", help="use train ids instead of ids")
    parser.add_argument("inputJson")
    parser.add_argument("outputImg")
    args = parser.parse_args(sys.argv[1:] if argv is None else argv)
    try:
        function(args.inputJson, args.outputImg, "trainIds" if args.trainIds else "ids")
    except CityscapesError as e:
        print(f"ERROR: {e}", file=sys.stderr)
        return 1
    return 0


if __name__ == "__main__":
    sys.exit(main())
