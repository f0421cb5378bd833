"""The annotation model of Cityscapes JSON files (polygons, boxes, 3D boxes).

``Annotation().fromJsonFile(path)`` reads any of the Cityscapes annotation
kinds; ``toJsonFile`` writes a file that reads back to the same objects.
Invalid input raises :class:`~cityscapesscripts.errors.AnnotationError`
naming the file and the object index; so does a coordinate, box value or
score that is NaN or infinite (JSON's ``NaN`` / ``Infinity``, or a number
like ``1e999`` beyond the float range), which would otherwise draw or score
silently wrong.
"""
import json
import locale  # noqa: F401  (the original module's namespace)
import math
import numbers
import os
from abc import ABCMeta, abstractmethod  # noqa: F401  (the original module's namespace)
from collections import namedtuple

from cityscapesscripts.errors import AnnotationError
from cityscapesscripts.io import jsonfile
from cityscapesscripts.lazy import lazy_names

# the original module's namespace; the batch tools read annotations through this module without NumPy
__getattr__ = lazy_names(__name__, {"np": "numpy", "datetime": "datetime"})

Point = namedtuple("Point", ["x", "y"])


class CsObjectType:
    """Kind of annotation object."""
    POLY = 1         # polygon
    BBOX2D = 2       # 2D bounding box (modal and amodal)
    BBOX3D = 3       # 3D bounding box
    IGNORE2D = 4     # 2D ignore region
    BBOX2D_SOFT = 5  # 2D bounding box with a soft class label


class CsObject:
    """Fields shared by all annotation objects."""

    def __init__(self, objType):
        self.objectType = objType
        self.label = ""
        self.deleted = 0
        self.verified = 0
        self.date = ""
        self.user = ""
        self.draw = True

    def updateDate(self):
        self.date = annotation_date()

    def delete(self):
        self.deleted = 1
        self.draw = False


class CsPoly(CsObject):
    """An object annotated as a polygon (``label``, ``polygon`` of Points)."""

    def __init__(self):
        super().__init__(CsObjectType.POLY)
        self.polygon = []
        self.id = -1

    def __str__(self):
        if not self.polygon:
            points = "none"
        elif len(self.polygon) <= 4:
            points = "".join(f"({p.x},{p.y}) " for p in self.polygon)  # trailing space as the original
        else:
            p = self.polygon
            points = f"({p[0].x},{p[0].y}) ({p[1].x},{p[1].y}) ... ({p[-2].x},{p[-2].y}) ({p[-1].x},{p[-1].y})"
        return f"Object: {self.label} - {points}"

    def fromJsonText(self, jsonText, objId=-1):
        self.id = objId
        self.label = str(jsonText["label"])
        self.polygon = [_point(p) for p in jsonText["polygon"]]
        self.deleted = jsonText.get("deleted", 0)
        self.verified = jsonText.get("verified", 1)
        self.user = jsonText.get("user", "")
        self.date = jsonText.get("date", "")
        self.draw = self.deleted != 1

    def toJsonText(self):
        return {"label": self.label, "id": self.id, "deleted": self.deleted, "verified": self.verified,
                "user": self.user, "date": self.date, "polygon": [[p.x, p.y] for p in self.polygon]}


class CsBbox2d(CsObject):
    """An object annotated by its amodal (full) and modal (visible) box, ``[x, y, w, h]``."""

    def __init__(self):
        super().__init__(CsObjectType.BBOX2D)
        self.bbox_amodal_xywh = []
        self.bbox_modal_xywh = []
        self.instanceId = -1

    def __str__(self):
        a, m = self.bbox_amodal_xywh, self.bbox_modal_xywh
        return (f"Object: {self.label}\n - Amodal [(x1: {a[0]}, y1: {a[1]}), (w: {a[2]}, h: {a[3]})]"
                f"\n - Modal [(x1: {m[0]}, y1: {m[1]}), (w: {m[2]}, h: {m[3]})]")

    def setAmodalBox(self, bbox_amodal):
        x1, y1, x2, y2 = bbox_amodal
        self.bbox_amodal_xywh = [x1, y1, x2 - x1, y2 - y1]

    @property
    def bbox_amodal(self):
        """The amodal box as ``[xmin, ymin, xmax, ymax]``."""
        return _xyxy(self.bbox_amodal_xywh)

    @property
    def bbox_modal(self):
        """The modal box as ``[xmin, ymin, xmax, ymax]``."""
        return _xyxy(self.bbox_modal_xywh)

    def fromJsonText(self, jsonText, objId=-1):
        # Three spellings exist: CityPersons (bbox/bboxVis), 3D boxes (modal/amodal), amodal only.
        if "bbox" in jsonText and "bboxVis" in jsonText:
            self.bbox_amodal_xywh, self.bbox_modal_xywh = jsonText["bbox"], jsonText["bboxVis"]
        elif "modal" in jsonText and "amodal" in jsonText:
            self.bbox_amodal_xywh, self.bbox_modal_xywh = jsonText["amodal"], jsonText["modal"]
        else:
            self.bbox_amodal_xywh = self.bbox_modal_xywh = jsonText["amodal"]
        check_finite(self.bbox_amodal_xywh, "box")
        check_finite(self.bbox_modal_xywh, "box")
        if "label" in jsonText and "instanceId" in jsonText:
            self.label = str(jsonText["label"])
            self.instanceId = jsonText["instanceId"]

    def toJsonText(self):
        return {"label": self.label, "instanceId": self.instanceId,
                "modal": self.bbox_modal_xywh, "amodal": self.bbox_amodal_xywh}


class CsBbox2dSoft(CsBbox2d):
    """A box with a soft class label (a probability per class), as in gtBboxValidated."""

    def __init__(self, classes=()):
        super().__init__()
        self.objectType = CsObjectType.BBOX2D_SOFT
        self.classes = list(classes)
        self.soft_label = []
        self.vote_counts = {}
        self.labels = []
        self.added_from_original_annotations = False

    def __str__(self):
        a = self.bbox_amodal_xywh
        return (f"Object: {' / '.join(self.labels)} ({self.score:.2f})\n"
                f" - Box: [(x1: {a[0]}, y1: {a[1]}), (w: {a[2]}, h: {a[3]})]")

    def fromJsonText(self, jsonText, objId=-1):
        check_finite(jsonText["bbox"], "box")
        self.setAmodalBox(jsonText["bbox"])
        self.bbox_modal_xywh = self.bbox_amodal_xywh
        self.soft_label = jsonText["soft_label"]
        self.vote_counts = jsonText.get("vote_counts", {})
        self.added_from_original_annotations = jsonText.get("added_from_original_annotations", False)
        self.instanceId = objId
        best = max(self.soft_label)
        self.labels = [str(c) for c, p in zip(self.classes, self.soft_label) if p == best]
        self.label = self.labels[0]

    def toJsonText(self):
        out = {"bbox": self.bbox_xyxy, "soft_label": self.soft_label, "vote_counts": self.vote_counts}
        if self.added_from_original_annotations:
            out["added_from_original_annotations"] = True
        return out

    @property
    def bbox_xyxy(self):
        return self.bbox_amodal

    @property
    def score(self):
        """Probability of the hard label."""
        return max(self.soft_label)


class CsBbox3d(CsObject):
    """A 3D box: a 2D box plus center, dimensions and rotation (quaternion)."""

    def __init__(self):
        super().__init__(CsObjectType.BBOX3D)
        self.bbox_2d = None
        self.center = []
        self.dims = []
        self.rotation = []
        self.instanceId = -1
        self.score = -1.0

    def __str__(self):
        c, d, r = self.center, self.dims, self.rotation
        return (f"Object: {self.label}\n2D {self.bbox_2d}\n - 3D \n - Center (x/y/z) [m]: {c[0]}/{c[1]}/{c[2]}"
                f"\n - Dimensions (l/w/h) [m]: {d[0]}/{d[1]}/{d[2]}\n - Rotation: {r[0]}/{r[1]}/{r[2]}/{r[3]}")

    def fromJsonText(self, jsonText, objId=-1):
        self.bbox_2d = CsBbox2d()
        self.bbox_2d.fromJsonText(jsonText["2d"])
        self.center = jsonText["3d"]["center"]
        self.dims = jsonText["3d"]["dimensions"]
        self.rotation = jsonText["3d"]["rotation"]
        self.label = jsonText["label"]
        self.score = jsonText["score"]
        for values, what in ((self.center, "center"), (self.dims, "dimensions"), (self.rotation, "rotation"),
                             ([self.score], "score")):
            check_finite(values, what)
        self.instanceId = jsonText.get("instanceId", self.instanceId)

    def toJsonText(self):
        return {"label": self.label, "instanceId": self.instanceId, "score": self.score,
                "2d": {"amodal": self.bbox_2d.bbox_amodal_xywh, "modal": self.bbox_2d.bbox_modal_xywh},
                "3d": {"center": self.center, "dimensions": self.dims, "rotation": self.rotation}}

    @property
    def depth(self):
        """Bird's-eye distance from the vehicle origin, truncated to whole metres."""
        return int(math.sqrt(self.center[0] ** 2 + self.center[1] ** 2))


class CsIgnore2d(CsObject):
    """A 2D region to ignore in evaluation, ``[x, y, w, h]``."""

    def __init__(self):
        super().__init__(CsObjectType.IGNORE2D)
        self.bbox_xywh = []
        self.instanceId = -1

    def __str__(self):
        b = self.bbox_xywh
        return f"Ignore Region:  (x1: {b[0]}, y1: {b[1]}), (w: {b[2]}, h: {b[3]})"

    def fromJsonText(self, jsonText, objId=-1):
        self.bbox_xywh = jsonText["2d"]
        check_finite(self.bbox_xywh, "box")
        self.label = jsonText.get("label", self.label)
        self.instanceId = jsonText.get("instanceId", self.instanceId)

    def toJsonText(self):
        return {"label": self.label, "instanceId": self.instanceId, "2d": self.bbox_xywh}

    @property
    def bbox(self):
        return _xyxy(self.bbox_xywh)

    @property
    def bbox_amodal_xywh(self):
        return self.bbox_xywh

    @property
    def bbox_modal_xywh(self):
        return self.bbox_xywh


class Camera:
    """Intrinsics and extrinsics of the sensor, as stored under ``sensor``."""

    def __init__(self, fx, fy, u0, v0, sensor_T_ISO_8855):
        self.fx, self.fy, self.u0, self.v0 = fx, fy, u0, v0
        self.sensor_T_ISO_8855 = sensor_T_ISO_8855

    def toJsonText(self):
        return {"fx": self.fx, "fy": self.fy, "u0": self.u0, "v0": self.v0,
                "sensor_T_ISO_8855": self.sensor_T_ISO_8855}


_OBJECT_CLASSES = {CsObjectType.POLY: CsPoly, CsObjectType.BBOX2D: CsBbox2d,
                   CsObjectType.BBOX3D: CsBbox3d, CsObjectType.BBOX2D_SOFT: CsBbox2dSoft}


class Annotation:
    """The annotation of one image: its size, objects and (optionally) camera.

    Parameters
    ----------
    objType : int
        One :class:`CsObjectType`; a file holds one kind of object, plus
        ignore regions under ``ignore``.
    """

    def __init__(self, objType=CsObjectType.POLY):
        if objType not in vars(CsObjectType).values():
            raise ValueError(f"unknown object type {objType!r}")
        self.imgWidth = 0
        self.imgHeight = 0
        self.objects = []
        self.camera = None
        self.objectType = objType
        self.classes = []
        self.source = None

    def fromJsonText(self, jsonText, source=None):
        """Fill from JSON text.  ``source`` names the file in error messages."""
        self.source = source
        try:
            data = jsonfile.loads(jsonText)
        except (ValueError, RecursionError) as e:  # RecursionError: nested too deeply
            raise AnnotationError(f"not valid JSON: {e}", source) from None
        self.fromDict(data)

    def fromDict(self, data):
        source = self.source
        self.imgWidth, self.imgHeight = image_size(data, source)
        self.objects = []
        if self.objectType == CsObjectType.BBOX2D_SOFT:
            self.classes = data["classes"]
        if self.objectType != CsObjectType.IGNORE2D:
            cls = _OBJECT_CLASSES[self.objectType]
            for index, item in enumerate(annotation_objects(data, source)):
                obj = cls(self.classes) if cls is CsBbox2dSoft else cls()
                self.objects.append(_parse_object(obj, item, index, source))
        for index, item in enumerate(data.get("ignore", [])):
            self.objects.append(_parse_object(CsIgnore2d(), item, index, source, "ignore region"))
        if "sensor" in data:
            s = data["sensor"]
            self.camera = Camera(s["fx"], s["fy"], s["u0"], s["v0"], s["sensor_T_ISO_8855"])

    def fromJsonFile(self, jsonFile):
        """Read an annotation file; raises AnnotationError (missing, unreadable, invalid)."""
        try:
            with open(jsonFile, encoding="utf-8") as f:
                text = f.read()
        except OSError as e:
            raise AnnotationError(f"cannot read: {e.strerror}", jsonFile) from None
        self.fromJsonText(text, source=os.fspath(jsonFile))

    def toJsonText(self):
        """The annotation as a dict in the Cityscapes JSON layout."""
        out = {"imgWidth": self.imgWidth, "imgHeight": self.imgHeight}
        if self.objectType == CsObjectType.BBOX2D_SOFT:
            out["classes"] = self.classes
        out["objects"] = [o.toJsonText() for o in self.objects if o.objectType != CsObjectType.IGNORE2D]
        ignores = [o.toJsonText() for o in self.objects if o.objectType == CsObjectType.IGNORE2D]
        if ignores:
            out["ignore"] = ignores
        if self.camera is not None:
            out["sensor"] = self.camera.toJsonText()
        return out

    def toJson(self):
        return json.dumps(self.toJsonText(), indent=4)

    def toJsonFile(self, jsonFile):
        with open(jsonFile, "w", encoding="utf-8") as f:
            f.write(self.toJson())


_MONTHS = ("Jan", "Feb", "Mar", "Apr", "May", "Jun", "Jul", "Aug", "Sep", "Oct", "Nov", "Dec")


def annotation_date(now=None):
    """The ``date`` an edit records: ``'22-Nov-2026 06:30:00'`` (the original's format, English
    month names whatever the locale; the original switched the process locale to get them)."""
    if now is None:
        import datetime  # here: the batch tools, which read annotations through this module, never date them
        now = datetime.datetime.now()
    return f"{now.day:02d}-{_MONTHS[now.month - 1]}-{now.year} {now:%H:%M:%S}"


def image_size(data, source=None):
    """``(imgWidth, imgHeight)`` of an annotation dict; AnnotationError when missing or not positive."""
    if not isinstance(data, dict):
        raise AnnotationError("expected a JSON object at the top level", source)
    for key in ("imgWidth", "imgHeight"):
        if key not in data:
            raise AnnotationError(f"missing {key}", source)
        value = data[key]
        if not isinstance(value, numbers.Real) or isinstance(value, bool) or not math.isfinite(value) or value <= 0:
            raise AnnotationError(f"{key} must be a positive number, got {value!r}", source)
    return int(data["imgWidth"]), int(data["imgHeight"])


def annotation_objects(data, source=None):
    """The ``objects`` list of an annotation dict; AnnotationError when missing (not an empty image)."""
    if "objects" not in data:
        raise AnnotationError("missing the 'objects' list", source)
    if not isinstance(data["objects"], list):
        raise AnnotationError(f"'objects' must be a list, got {type(data['objects']).__name__}", source)
    return data["objects"]


def _parse_object(obj, item, index, source, what="object"):
    try:
        obj.fromJsonText(item, index)
    except AnnotationError as e:
        raise AnnotationError(f"{what} {index}: {e.reason}", source) from None
    except KeyError as e:
        raise AnnotationError(f"{what} {index}: missing field {e.args[0]!r}", source) from None
    except (TypeError, ValueError) as e:
        raise AnnotationError(f"{what} {index}: {e}", source) from None
    return obj


def _point(p):
    if not isinstance(p, (list, tuple)) or len(p) != 2:
        raise AnnotationError(f"polygon point {p!r} is not a pair of numbers")
    x, y = p
    for v in (x, y):
        if not isinstance(v, numbers.Real) or isinstance(v, bool):
            raise AnnotationError(f"polygon point {p!r} has a non-numeric coordinate")
        if _not_finite(v):
            raise AnnotationError(_NOT_FINITE_POINT.format(p))
    return Point(x, y)


_NOT_FINITE_POINT = "polygon point {!r} is not finite (NaN or Infinity)"


def _not_finite(value):
    # only floats can be NaN or infinite (an int beyond the float range is a finite number)
    return isinstance(value, float) and not math.isfinite(value)


def check_finite(values, what, error=AnnotationError, source=None):
    """Raise ``error(reason, source)`` when one of ``values`` (a list of numbers; anything else is left
    to the caller's own checks) is NaN or infinite, naming ``what`` they are ("center", "score")."""
    if isinstance(values, (list, tuple)) and any(map(_not_finite, values)):
        if len(values) > 4:  # a long list (a COCO polygon): its first bad value
            position, value = next((k, v) for k, v in enumerate(values) if _not_finite(v))
            raise error(f"{what}: value {position} ({value}) is not finite (NaN or Infinity)", source)
        raise error(f"{what} {list(values)!r} is not finite (NaN or Infinity)", source)


def polygon_finite_problem(points):
    """Why a polygon (a list of ``[x, y]`` pairs, as parsed) is not finite, or None.

    The batch tools hand polygons to the rasterizer without building points:
    one sum of all coordinates, in C, is finite when every coordinate is, and
    only a polygon whose sum is not (a NaN or Infinity, or huge numbers that
    overflow it) has its points looked at one by one.  Non-numeric points are
    left to the caller's own checks.
    """
    try:
        if math.isfinite(sum(map(sum, points))):
            return None
    except (TypeError, OverflowError):  # not numbers, or an int beyond the float range
        return None
    for p in points:
        if any(map(_not_finite, p)):
            return _NOT_FINITE_POINT.format(p)
    return None


def _xyxy(xywh):
    x, y, w, h = xywh
    return [x, y, x + w, y + h]


if __name__ == "__main__":  # a small example, as the original prints
    example = CsPoly()
    example.label = "car"
    example.polygon = [Point(0, 0), Point(1, 0), Point(1, 1), Point(0, 1)]
    print(type(example).__name__)
    print(example)
