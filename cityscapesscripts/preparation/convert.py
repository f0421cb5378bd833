"""One frame's polygon JSON to any set of label images (the engine behind the tools)."""
from ..helpers.labelset import CITYSCAPES
from ..io import layout, png
from . import rasterize


def output_path(json_path, encoding):
    """``..._gtFine_polygons.json`` -> ``..._gtFine_{encoding}.png`` beside it."""
    return layout.sibling(json_path, encoding)


def convert_frame(json_path, outputs, label_set=CITYSCAPES):
    """Write each ``{encoding: path}`` of ``outputs`` for one polygon file.

    Every image is computed before the first is written, so a bad file
    leaves no output behind; each write is atomic.  Returns the paths written.
    """
    object_map = rasterize.rasterize_file(json_path, label_set)
    images = {encoding: rasterize.encode(object_map, encoding) for encoding in outputs}
    for encoding, path in outputs.items():
        png.write_png(path, images[encoding])
    return list(outputs.values())


def convert_frame_from_png(json_path, outputs, label_set=CITYSCAPES):
    """Derive images from the shipped ``*_labelIds.png`` / ``*_instanceIds.png`` of a frame.

    Training labels then agree pixel for pixel with the evaluation ground
    truth, whatever rasterizer made the shipped images.
    """
    images = {}
    for encoding in outputs:
        if encoding.startswith("instance"):
            ids = png.read_ids_16bit(layout.sibling(json_path, "instanceIds"))
            images[encoding] = ids if encoding == "instanceIds" else rasterize.instances_from_ids(ids, label_set)
        else:
            ids = png.read_label_map(layout.sibling(json_path, "labelIds"))
            images[encoding] = rasterize.from_label_ids(ids, encoding, label_set)
    for encoding, path in outputs.items():
        png.write_png(path, images[encoding])
    return list(outputs.values())
