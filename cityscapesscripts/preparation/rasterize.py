"""Rasterize once, encode many: polygons -> object-index map -> label images.

:func:`rasterize` draws a frame's polygons once, in file order, into a map of
object indices with Pillow's polygon fill, the one ``ImageDraw.polygon`` calls
(its coverage defines the Cityscapes ground truth).  :func:`encode` turns that map into any encoding by
a table lookup:

=================  ======================================  ============
encoding           pixel value                             array
=================  ======================================  ============
labelIds           label id                                (H, W) uint8
labelTrainIds      train id                                (H, W) uint8
instanceIds        id * 1000 + k for single instances      (H, W) uint16
instanceTrainIds   trainId * 1000 + k, likewise            (H, W) uint16
color              label colour, alpha 255                 (H, W, 4) uint8
=================  ======================================  ============

``k`` counts the single instances of each label in drawing order.  Deleted
objects are skipped; ``<name>group`` draws as ``<name>`` without an instance
number; labels with a negative id (license plate) are not drawn; pixels no
object covers take the background label ('unlabeled').
"""
import struct
from functools import cache, cached_property

from .. import kernels
from ..errors import AnnotationError, ArgumentError
from ..helpers.annotation import annotation_objects, image_size, polygon_finite_problem
from ..helpers.labelset import CITYSCAPES
from ..io import png
from ..io.jsonfile import read_json
from ..io.limits import check_pixels

ENCODINGS = ("labelIds", "labelTrainIds", "instanceIds", "instanceTrainIds", "color")
# Names of the original functions' ``encoding`` argument.
LABEL_ENCODINGS = {"ids": "labelIds", "trainIds": "labelTrainIds", "color": "color"}
INSTANCE_ENCODINGS = {"ids": "instanceIds", "trainIds": "instanceTrainIds"}


def encoding_name(encoding, names):
    """The engine's name of an original ``encoding`` argument ('ids', 'trainIds', 'color')."""
    if encoding not in names:
        raise ArgumentError(f"unknown encoding {encoding!r}; expected one of {', '.join(map(repr, names))}")
    return names[encoding]


class ObjectMap:
    """A frame's drawn objects.

    pixels : the drawn canvas, row by row: one byte per pixel (``small``: fewer than 255
        objects) or a native int32.
    index : the pixels as (H, W) uint8 or int32; 0 is background, k the k-th
        drawn object, -1 (255 for uint8) an outline pixel when drawn with an outline.
    labels : the Label of each drawn object (index k -> labels[k - 1]).
    groups : whether each drawn object is a group.
    """

    def __init__(self, pixels, width, height, labels, groups, label_set):
        self.pixels, self.width, self.height = pixels, width, height
        self.labels, self.groups, self.label_set = labels, groups, label_set
        self.small = len(pixels) == width * height

    @cached_property
    def index(self):
        import numpy as np
        return np.frombuffer(self.pixels, np.uint8 if self.small else np.int32).reshape(self.height, self.width)

    @property
    def outline_index(self):
        return 255 if self.small else -1


def rasterize(annotation, label_set=CITYSCAPES, outline=False):
    """Draw the polygons of an :class:`Annotation` into an :class:`ObjectMap`.

    Raises :class:`AnnotationError` (file and object index) for an unknown
    label or a polygon with fewer than two points.
    """
    objects = ((getattr(obj, "id", i), obj.label, obj.deleted, obj.polygon)
               for i, obj in enumerate(annotation.objects))
    return rasterize_objects(objects, annotation.imgWidth, annotation.imgHeight, label_set, outline,
                             annotation.source)


def rasterize_file(path, label_set=CITYSCAPES):
    """Draw a polygon JSON file without building the annotation model (the batch tools' path).

    Checks the image size, labels and that points are pairs here, and lets
    Pillow reject non-numeric coordinates (reported with the object index).
    """
    data = read_json(path, AnnotationError)
    width, height = image_size(data, path)
    listed = annotation_objects(data, path)

    def objects():
        for index, obj in enumerate(listed):
            try:
                label, points = str(obj["label"]), obj["polygon"]
            except (KeyError, TypeError) as e:
                raise AnnotationError(f"object {index}: missing field {e}", path) from None
            try:  # Pillow 11.2 would take [x, y, z] triples as a flat list: check the pairs here
                malformed = not isinstance(points, list) or (points and set(map(len, points)) != {2})
            except TypeError:
                malformed = True
            if malformed:
                raise AnnotationError(f"object {index}: polygon must be a list of [x, y] number pairs", path)
            yield index, label, obj.get("deleted", 0), points

    return rasterize_objects(objects(), width, height, label_set, source=path)


def rasterize_objects(objects, width, height, label_set=CITYSCAPES, outline=False, source=None):
    """Draw ``(index, label name, deleted, points)`` objects, in order, into an :class:`ObjectMap`;
    AnnotationError naming ``source`` and the object for a coordinate that is NaN or infinite."""
    check_pixels(width, height, source, AnnotationError)  # before reading objects or allocating the canvas
    drawn, labels, groups, indices = [], [], [], []
    for index, name, deleted, points in objects:
        problem = polygon_finite_problem(points)  # Pillow would draw a NaN or Infinity without a word
        if problem:
            raise AnnotationError(f"object {index}: {problem}", source)
        if deleted:
            continue
        try:
            label, is_group = label_set.resolve(name)
        except AnnotationError as e:
            raise AnnotationError(f"object {index}: {e.reason}", source) from None
        if label.id < 0:
            continue
        if len(points) < 2:
            raise AnnotationError(f"object {index}: polygon has {len(points)} point(s), needs at least 2", source)
        drawn.append(points)
        labels.append(label)
        groups.append(is_group)
        indices.append(index)
    small = len(drawn) < 255  # object indices and the outline marker fit 8 bits
    mode = "L" if small else "I"
    canvas = _canvas_type()(mode, width, height)
    marker = (255 if small else -1) if outline else None
    for k, (polygon, index) in enumerate(zip(drawn, indices), 1):
        try:
            canvas.polygon(polygon, k, marker)
        except (TypeError, ValueError, SystemError) as e:
            raise AnnotationError(f"object {index}: polygon must be a list of [x, y] number pairs ({e})",
                                  source) from None
    return ObjectMap(canvas.tobytes(), width, height, labels, groups, label_set)


class _CoreCanvas:
    """A canvas drawn through Pillow's C core with the calls ``Image.new``, ``ImageDraw.polygon`` and
    ``Image.tobytes`` make (the same pixels): importing PIL.Image and ImageDraw, and tobytes' first
    call, would cost a batch tool 40 ms of its start-up.  A private API: :func:`_canvas_type` checks
    it before use."""

    def __init__(self, mode, width, height):
        from PIL import _imaging
        self._core, self._mode, self._size = _imaging, mode, (width, height)
        self._image = _imaging.fill(mode, self._size, 0)
        self._draw = _imaging.draw(self._image, 0)

    def polygon(self, points, fill, outline=None):
        self._draw.draw_polygon(points, self._draw.draw_ink(fill), 1)
        if outline is not None:
            self._draw.draw_polygon(points, self._draw.draw_ink(outline), 0, 1)

    def tobytes(self):
        width, height = self._size
        encoder = self._core.raw_encoder(self._mode, self._mode)
        encoder.setimage(self._image, (0, 0, width, height))
        try:
            parts, status = [], 0
            while not status:  # one call for the whole image, as its buffer holds it all
                _, status, data = encoder.encode(width * height * (1 if self._mode == "L" else 4))
                parts.append(data)
        finally:
            encoder.cleanup()
        if status < 0:
            raise RuntimeError(f"Pillow's raw encoder failed with status {status}")
        return b"".join(parts)


class _PillowCanvas:
    """The same canvas through Pillow's public API."""

    def __init__(self, mode, width, height):
        from PIL import Image, ImageDraw
        self._image = Image.new(mode, (width, height), 0)
        self._draw = ImageDraw.Draw(self._image)

    def polygon(self, points, fill, outline=None):
        self._draw.polygon(points, fill=fill, outline=outline)

    def tobytes(self):
        return self._image.tobytes()


# A rectangle with an outline under a triangle: what ImageDraw draws on a 6x5 'L' canvas (a test checks it)
_PROBE_POLYGONS = (([[1, 1], [4, 1], [4, 3], [1, 3]], 1, 2), ([[0, 0], [3, 0], [0, 3]], 3, None))
_PROBE_PIXELS = bytes([3, 3, 3, 3, 0, 0,
                       3, 3, 3, 2, 2, 0,
                       3, 3, 1, 1, 2, 0,
                       3, 2, 2, 2, 2, 0,
                       0, 0, 0, 0, 0, 0])


@cache
def _canvas_type():
    """:class:`_CoreCanvas` when this Pillow's core draws the probe as ImageDraw does, else :class:`_PillowCanvas`."""
    try:
        canvas = _CoreCanvas("L", 6, 5)
        for points, fill, outline in _PROBE_POLYGONS:
            canvas.polygon(points, fill, outline)
        if canvas.tobytes() == _PROBE_PIXELS:
            return _CoreCanvas
    except Exception:  # noqa: BLE001 - a Pillow whose private core differs: its public API then
        pass
    return _PillowCanvas


def object_values(object_map, encoding):
    """Per-object values of an encoding: (N + 1,) int64 array, entry 0 the background; (N + 1, 3)
    uint8 colours for ``color``."""
    import numpy as np
    values = _object_values(object_map, encoding)
    if encoding == "color":
        return np.array(values, dtype=np.uint8).reshape(-1, 3)
    return np.array(values, dtype=np.int64)


def _object_values(object_map, encoding):
    background = object_map.label_set.background
    labels = object_map.labels
    if encoding in ("labelIds", "instanceIds"):
        values = [background.id] + [label.id for label in labels]
    elif encoding in ("labelTrainIds", "instanceTrainIds"):
        values = [background.trainId] + [label.trainId for label in labels]
    elif encoding == "color":
        return [tuple(background.color)] + [tuple(label.color) for label in labels]
    else:
        raise ArgumentError(f"unknown encoding {encoding!r}; expected one of {', '.join(ENCODINGS)}")
    if encoding.startswith("instance"):
        counters = {}
        for k, (label, is_group) in enumerate(zip(labels, object_map.groups), 1):
            value = values[k]
            if label.hasInstances and not is_group and value != 255:
                n = counters.get(label.name, 0)
                counters[label.name] = n + 1
                values[k] = value * 1000 + n
    return values


def _pixel_values(object_map, encoding):
    """The PNG pixel value of each object (entry 0 the background): ints, RGBA tuples for colour."""
    values = _object_values(object_map, encoding)
    if encoding == "color":
        return [color + (255,) for color in values]
    if encoding.startswith("instance"):
        if max(values) > 65535:
            raise AnnotationError(f"instance id {max(values)} does not fit a 16-bit PNG")
    elif min(values) < 0 or max(values) > 255:
        raise AnnotationError(f"{encoding} value {max(values)} does not fit an 8-bit PNG")
    return values


def encode(object_map, encoding, outline_value=None):
    """The image of ``encoding`` for an :class:`ObjectMap` (see the module table)."""
    import numpy as np
    table = value_table(object_map, encoding, outline_value)
    if encoding == "color":
        # one 32-bit lookup per pixel, viewed as RGBA bytes (much faster than a (N, 4) table)
        packed = _lookup(object_map.index, table.view(np.uint32).ravel())
        return packed.view(np.uint8).reshape(packed.shape + (4,))
    return _lookup(object_map.index, table)


def encode_filtered(object_map, encoding):
    """``png.filter_rows(encode(object_map, encoding))`` from the canvas, without making the image
    (nor importing NumPy): the batch tools' path."""
    values = _pixel_values(object_map, encoding)
    entries = 256 if object_map.small else len(values)
    if encoding == "color":
        bpp, depth, table = 4, 8, b"".join(map(bytes, values))
    elif encoding.startswith("instance"):
        bpp, depth, table = 2, 16, struct.pack(f">{len(values)}H", *values)
    else:
        bpp, depth, table = 1, 8, bytes(values)
    table += bytes(bpp * (entries - len(values)))
    index = memoryview(object_map.pixels).cast("B" if object_map.small else "i", (object_map.height, object_map.width))
    return png.filter_rows_of_lookup(index, memoryview(table).cast("B", (entries, bpp)), depth)


def value_table(object_map, encoding, outline_value=None):
    """The pixel value of each object index: uint8 or uint16 (N,), or RGBA uint8 (N, 4) for colour;
    a uint8 index map gets all 256 entries (the outline marker's is ``outline_value``, except in colour)."""
    import numpy as np
    dtype = np.uint16 if encoding.startswith("instance") else np.uint8
    values = np.array(_pixel_values(object_map, encoding), dtype=dtype)
    table = np.zeros((256 if object_map.small else len(values) + 1,) + values.shape[1:], dtype=dtype)
    table[:len(values)] = values
    if outline_value is not None and encoding != "color":
        table[object_map.outline_index] = outline_value
    return table


def _lookup(index, table):
    if index.itemsize == 1:
        return kernels.lookup(index, table)  # compiled: no 8-byte-per-pixel copy of the indices
    return table[index]


def from_label_ids(label_ids, encoding, label_set=CITYSCAPES):
    """labelIds, labelTrainIds or color from a labelIds image ((H, W) uint8)."""
    import numpy as np
    if encoding == "labelIds":
        return label_ids
    if encoding == "labelTrainIds":
        return label_set.id_to_train_id[label_ids]
    if encoding == "color":
        rgba = np.full((256, 4), 255, dtype=np.uint8)
        rgba[:, :3] = label_set.id_to_color
        return rgba[label_ids]
    raise ArgumentError(f"cannot derive {encoding!r} from label ids")


def instances_from_ids(instance_ids, label_set=CITYSCAPES):
    """instanceTrainIds from an instanceIds image, keeping each instance number.

    A value ``id * 1000 + k`` becomes ``trainId * 1000 + k``; a class whose
    trainId is 255 loses its instance number, as when drawn from polygons.
    """
    import numpy as np
    ids = np.asarray(instance_ids).astype(np.int64)
    label = np.where(ids >= 1000, ids // 1000, ids)
    if label.max(initial=0) > 255:
        raise AnnotationError(f"instance id {ids.max()} has no label id")
    train = label_set.id_to_train_id.astype(np.int64)[label]
    out = np.where((ids >= 1000) & (train != 255), train * 1000 + ids % 1000, train)
    return out.astype(np.uint16)
