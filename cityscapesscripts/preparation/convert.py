"""One frame's polygon JSON to any set of label images (the engine behind the tools)."""
import contextlib

from ..helpers.labelset import CITYSCAPES
from ..io import files, layout, png
from . import rasterize


def output_path(json_path, encoding):
    """``..._gtFine_polygons.json`` -> ``..._gtFine_{encoding}.png`` beside it."""
    return layout.sibling(json_path, encoding)


def convert_frame(json_path, outputs, label_set=CITYSCAPES):
    """Write each ``{encoding: path}`` of ``outputs`` for one polygon file; returns the paths written."""
    object_map = rasterize.rasterize_file(json_path, label_set)
    return write_filtered(outputs, lambda encoding: rasterize.encode_filtered(object_map, encoding))


def convert_frame_from_png(json_path, outputs, label_set=CITYSCAPES):
    """Derive images from the shipped ``*_labelIds.png`` / ``*_instanceIds.png`` of a frame.

    Training labels then agree pixel for pixel with the evaluation ground
    truth, whatever rasterizer made the shipped images.
    """
    def image(encoding):
        if encoding.startswith("instance"):
            ids = png.read_ids_16bit(layout.sibling(json_path, "instanceIds"))
            return ids if encoding == "instanceIds" else rasterize.instances_from_ids(ids, label_set)
        ids = png.read_label_map(layout.sibling(json_path, "labelIds"))
        return rasterize.from_label_ids(ids, encoding, label_set)

    return write_filtered(outputs, lambda encoding: png.filter_rows(image(encoding)))  # freed before compressing


def write_filtered(outputs, filtered):
    """Write the PNG of ``filtered(encoding)`` (``png.filter_rows``' rows) to each ``{encoding: path}``; all or none.

    One image is in memory at a time (each goes to a temporary file as soon
    as it is encoded), and the temporaries are renamed only when every one is
    written, so a failure leaves no output behind.
    """
    with contextlib.ExitStack() as renames:
        for encoding, path in outputs.items():
            temporary = renames.enter_context(files.atomic_target(path))
            _write_filtered(temporary, filtered(encoding))
    return list(outputs.values())


def _write_filtered(path, filtered):
    with open(path, "wb") as f:
        f.write(png.png_bytes(filtered))
