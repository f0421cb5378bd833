"""Correction boxes: the review marks of the original label tool's correction mode.

A reviewer draws boxes over an image where its annotation needs work, each
with a type and a comment.  The original ``cityscapesLabelTool.py`` keeps
them beside the annotations, one XML file per image, at
``{gtFine|gtCoarse}_corrections/{split}/{city}/{frame}.xml``; this module
reads and writes that file in the same form::

    <correction>
    <filename>{frame}_leftImg8bit.png</filename>
    <folder>StereoDataset/{city}</folder>
    <source>
    <sourceImage>Label Cities</sourceImage>
    <sourceAnnotation>mcLabelTool</sourceAnnotation>
    </source>
    <imagesize>
    <nrows>{height}</nrows>
    <ncols>{width}</ncols>
    </imagesize>
    <correction>
    <type>1</type>
    <annotation>the comment</annotation>
    <bbox>
    <x>10</x>
    <y>20</y>
    <width>30</width>
    <height>40</height>
    </bbox>
    </correction>
    </correction>

(the original writes the image height as ``ncols`` too, a slip; here it is
the width, which nothing reads either).
Types: 1 to correct, 2 to review, 3 resolved, 4 question.  Coordinates are
whole image pixels, rounded as the original rounds them.
"""
import math
import numbers
import os
import xml.etree.ElementTree as ET

from ..errors import AnnotationError
from ..io import layout
from ..io.files import write_atomic

TYPES = {1: "to correct", 2: "to review", 3: "resolved", 4: "question"}
BOX_FIELDS = ("x", "y", "width", "height")


def corrections_file(polygons_rel: str) -> str:
    """The correction file (relative to the dataset root) of the annotation ``polygons_rel``
    (``gtFine/val/city/{frame}_gtFine_polygons.json`` -> ``gtFine_corrections/val/city/{frame}.xml``)."""
    kind, split, city = polygons_rel.split("/")[:3]
    return f"{kind}_corrections/{split}/{city}/{layout.frame_id(polygons_rel)}.xml"


def read_corrections(path: str) -> list:
    """The boxes of a correction file, ``[{"type", "annotation", "bbox": [x, y, w, h]}]``; [] without one."""
    try:
        root = ET.parse(path).getroot()
    except FileNotFoundError:
        return []
    except (ET.ParseError, OSError) as e:
        raise AnnotationError(f"cannot read the corrections: {e}", path) from None
    boxes = []
    try:
        for node in root.findall("correction"):
            bbox = node.find("bbox")
            boxes.append({"type": int(node.find("type").text), "annotation": node.find("annotation").text or "",
                          "bbox": [float(bbox.find(k).text) for k in BOX_FIELDS]})
    except (AttributeError, TypeError, ValueError) as e:
        raise AnnotationError(f"not a correction file of the label tool ({e})", path) from None
    return boxes


def check_corrections(boxes) -> None:
    """ValueError naming the first box that is not ``{"type": 1..4, "annotation": str, "bbox": 4 numbers}``."""
    if not isinstance(boxes, list):
        raise ValueError("corrections must be a list")
    for i, box in enumerate(boxes):
        bbox = box.get("bbox") if isinstance(box, dict) else None
        if not isinstance(box, dict) or box.get("type") not in TYPES:
            raise ValueError(f"correction {i}: type must be one of {sorted(TYPES)}")
        if not isinstance(box.get("annotation", ""), str):
            raise ValueError(f"correction {i}: annotation must be a string")
        if not (isinstance(bbox, list) and len(bbox) == 4 and all(
                isinstance(v, numbers.Real) and not isinstance(v, bool) and math.isfinite(v) for v in bbox)):
            raise ValueError(f"correction {i}: bbox must be [x, y, width, height], finite numbers")


def _child(parent, tag, text="\n"):
    node = ET.SubElement(parent, tag)
    node.text, node.tail = text, "\n"
    return node


def corrections_xml(boxes, image_name: str, city: str, width: int, height: int) -> bytes:
    """The bytes of a correction file, element by element as the original writes it."""
    root = ET.Element("correction")
    root.text, root.tail = "\n", "\n"
    _child(root, "filename", image_name)
    _child(root, "folder", "StereoDataset/" + city)
    source = _child(root, "source")
    _child(source, "sourceImage", "Label Cities")
    _child(source, "sourceAnnotation", "mcLabelTool")
    size = _child(root, "imagesize")
    _child(size, "nrows", str(int(height)))
    _child(size, "ncols", str(int(width)))
    for box in boxes:
        node = _child(root, "correction")
        _child(node, "type", str(int(box["type"])))
        _child(node, "annotation", str(box.get("annotation", "")))
        bbox = _child(node, "bbox")
        for key, value in zip(BOX_FIELDS, box["bbox"]):
            _child(bbox, key, str(int(round(value))))
    return ET.tostring(root)


def write_corrections(path: str, boxes, image_name: str, city: str, width: int, height: int) -> None:
    """Write ``boxes`` to the correction file ``path`` atomically (its folders made as needed)."""
    check_corrections(boxes)
    data = corrections_xml(boxes, image_name, city, width, height)
    try:
        os.makedirs(os.path.dirname(path), exist_ok=True)
        write_atomic(path, data, 0o644)
    except OSError as e:
        raise AnnotationError(f"cannot save the corrections: {e.strerror or e}", path) from None
