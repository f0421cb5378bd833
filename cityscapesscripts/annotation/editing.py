"""Editing polygon files in place: what was not edited stays as it was, byte for byte.

:func:`load_annotation` gives the editable content of a ``*_polygons.json``
file and its ``version`` (a hash of its bytes); :func:`save_annotation` takes
the edited object list back and writes the file atomically.  Every object the
edit did not change is copied from the old text unchanged, and so is
everything outside the ``objects`` array; changed and new objects are written
in the file's own style (indentation, separators), and vertices an edit kept
keep their number text (``5.50`` stays ``5.50``).  Opening and saving
without edits gives the same bytes.

Edits follow the original label tool: a deleted object stays in the file with
``"deleted": 1``; a new object records ``user`` and ``date``; a relabelled one
records the new ``date``.  A save whose ``version`` no longer matches the
file raises :class:`SaveConflictError` and writes nothing.

Unsaved edits are kept as drafts in the user cache folder, never beside or
over the annotation: :func:`save_draft`, :func:`load_draft`,
:func:`discard_draft`.
"""
import getpass
import hashlib
import json
import math
import numbers
import os
import re
import threading

from ..errors import AnnotationError, SaveConflictError
from ..helpers.annotation import annotation_date, polygon_finite_problem
from ..io import layout
from ..io.files import write_atomic

#: Fields every new object gets, after those of the file's first object.
NEW_OBJECT_FIELDS = ("label", "polygon", "user", "date")
#: A saved vertex lies within this many times the image's width and height of its origin.
MAX_SCALE = 10


class _Int(int):
    """An integer that remembers its text in the file."""


class _Float(float):
    """A float that remembers its text in the file."""


def _int(text):
    value = _Int(text)
    value.text = text
    return value


def _float(text):
    value = _Float(text)
    value.text = text
    return value


_DECODER = json.JSONDecoder()
# for the objects an edit changes: their numbers keep their text
_TEXT_KEEPING_DECODER = json.JSONDecoder(parse_int=_int, parse_float=_float)
_SPACE = re.compile(r"[ \t\n\r]*")


# ---- reading ----------------------------------------------------------------

class _PolygonFile:
    """A polygon file's text, the parsed top level and where each object sits in the text."""

    def __init__(self, text, path):
        self.text = text
        self.path = path
        self.data = {}
        self.array = None      # (index of '[', index of ']') of the objects array
        self.spans = []        # (start, end) of each object's text
        try:
            self._scan()
        except json.JSONDecodeError as e:
            raise AnnotationError(f"not valid JSON: {e}", path) from None
        for key in ("imgWidth", "imgHeight"):
            value = self.data.get(key)
            if not isinstance(value, numbers.Integral) or isinstance(value, bool) or value <= 0:
                raise AnnotationError(f"{key} must be a positive integer", path)
        if self.array is None:
            raise AnnotationError("has no 'objects' list", path)
        self.objects = self.data["objects"]
        for index, obj in enumerate(self.objects):
            problem = _object_problem(obj)
            if problem:
                raise AnnotationError(f"object {index}: {problem}", path)

    def _scan(self):
        text, decode = self.text, _DECODER.raw_decode
        i = _SPACE.match(text, 0).end()
        if not text.startswith("{", i):
            raise AnnotationError("expected a JSON object at the top level", self.path)
        i = _SPACE.match(text, i + 1).end()
        while not text.startswith("}", i):
            key, i = decode(text, i)
            i = _SPACE.match(text, i).end()
            if not isinstance(key, str) or not text.startswith(":", i):
                raise json.JSONDecodeError("expected a key and ':'", text, i)
            i = _SPACE.match(text, i + 1).end()
            if key == "objects" and text.startswith("[", i):
                if self.array is not None:
                    raise AnnotationError("has two 'objects' lists", self.path)
                value, i = self._scan_objects(i)
            else:
                value, i = decode(text, i)
            self.data[key] = value
            i = _SPACE.match(text, i).end()
            if text.startswith(",", i):
                i = _SPACE.match(text, i + 1).end()
            elif not text.startswith("}", i):
                raise json.JSONDecodeError("expected ',' or '}'", text, i)
        end = _SPACE.match(text, i + 1).end()
        if end != len(text):
            raise json.JSONDecodeError("extra data", text, end)

    def _scan_objects(self, open_at):
        text, objects = self.text, []
        i = _SPACE.match(text, open_at + 1).end()
        while not text.startswith("]", i):
            start = i
            obj, i = _DECODER.raw_decode(text, i)
            objects.append(obj)
            self.spans.append((start, i))
            i = _SPACE.match(text, i).end()
            if text.startswith(",", i):
                i = _SPACE.match(text, i + 1).end()
            elif not text.startswith("]", i):
                raise json.JSONDecodeError("expected ',' or ']'", text, i)
        self.array = (open_at, i)
        return objects, i + 1


def _object_problem(obj):
    """Why ``obj`` is not an editable polygon object, or None."""
    if not isinstance(obj, dict):
        return "is not a JSON object"
    if not isinstance(obj.get("label"), str):
        return "has no label"
    return _points_problem(obj.get("polygon"))


def _points_problem(points, width=None, height=None):
    """Why ``points`` is not a polygon of ``[x, y]`` finite numbers (within ten times the image size,
    when it is given), or None."""
    if not isinstance(points, list) or not all(
            isinstance(p, list) and len(p) == 2 and all(isinstance(v, numbers.Real) and not isinstance(v, bool)
                                                        for v in p) for p in points):
        return "polygon must be a list of [x, y] number pairs"
    problem = polygon_finite_problem(points)
    if problem or width is None:
        return problem
    for p in points:
        if not (abs(p[0]) <= MAX_SCALE * width and abs(p[1]) <= MAX_SCALE * height):
            return (f"polygon point {p!r} lies beyond {MAX_SCALE} times the image size "
                    f"({width}x{height}); a slip of the mouse or a bad number")
    return None


def _read(path):
    try:
        with open(path, "rb") as f:
            raw = f.read()
    except FileNotFoundError:
        return None, None
    except OSError as e:
        raise AnnotationError(f"cannot read: {e.strerror}", path) from None
    try:
        return raw, raw.decode("utf-8")
    except UnicodeDecodeError as e:
        raise AnnotationError(f"not UTF-8 text: {e.reason} at byte {e.start}", path) from None


def file_version(raw):
    """The version of a file's bytes (what a save must still find on disk)."""
    return hashlib.sha256(raw).hexdigest()


def load_annotation(path):
    """The editable content of a polygon file.

    Returns ``{"version", "imgWidth", "imgHeight", "objects"}``; each object is
    ``{"source", "id", "label", "polygon", "deleted"}`` (``source``: its index
    in the file, which a save uses to find it; ``id``: its ``id`` field, else
    that index), plus ``user`` and ``date`` when the file has them.  Raises
    :class:`AnnotationError` naming the file for a missing or invalid one.
    """
    raw, text = _read(path)
    if raw is None:
        raise AnnotationError("no such file", path)
    parsed = _PolygonFile(text, path)
    objects = []
    for index, obj in enumerate(parsed.objects):
        item = {"source": index, "id": obj.get("id", index), "label": obj["label"],
                "polygon": obj["polygon"], "deleted": 1 if obj.get("deleted") else 0}
        item.update({key: obj[key] for key in ("user", "date") if key in obj})
        objects.append(item)
    return {"version": file_version(raw), "imgWidth": parsed.data["imgWidth"],
            "imgHeight": parsed.data["imgHeight"], "objects": objects}


# ---- writing ----------------------------------------------------------------

class _Style:
    """How a file writes JSON: indentation unit (None: one line), separators, ASCII escapes."""

    def __init__(self, text):
        indent = re.search(r"\n([ \t]+)\S", text)
        self.indent = indent.group(1) if indent else None
        key_sep = re.search(r'"([ \t]*:[ \t]*)', text)
        self.key_sep = key_sep.group(1) if key_sep else ": "
        if self.indent is None:
            item_sep = re.search(r",[ \t]*", text)
            self.item_sep = item_sep.group(0) if item_sep else ", "
        else:
            item_sep = re.search(r",[ \t]*(?=[\r\n])", text)
            self.item_sep = item_sep.group(0) if item_sep else ","
        self.newline = "\r\n" if "\r\n" in text else "\n"
        self.ensure_ascii = text.isascii()

    def dump(self, value, base=""):
        """JSON text of ``value`` whose first line is indented by ``base``."""
        if isinstance(value, dict):
            items = [json.dumps(k, ensure_ascii=self.ensure_ascii) + self.key_sep + self.dump(v, base + (self.indent or ""))
                     for k, v in value.items()]
            return self._block("{", items, "}", base)
        if isinstance(value, list):
            return self._block("[", [self.dump(v, base + (self.indent or "")) for v in value], "]", base)
        if isinstance(value, (_Int, _Float)):
            return value.text
        if isinstance(value, float) and not math.isfinite(value):
            raise ValueError(f"{value} is not a JSON number")
        return json.dumps(value, ensure_ascii=self.ensure_ascii)

    def _block(self, opening, items, closing, base):
        if not items:
            return opening + closing
        if self.indent is None:
            return opening + self.item_sep.join(items) + closing
        inner = self.newline + base + self.indent
        return opening + inner + (self.item_sep + inner).join(items) + self.newline + base + closing


def _user():
    try:
        return getpass.getuser()
    except Exception:  # no login name in this environment (getpass raises OSError or KeyError)
        return ""


def _polygon_keeping_text(points, old_points):
    """``points``, each vertex that equals an old vertex taking the old one (and its number text)."""
    old = {(float(p[0]), float(p[1])): p for p in old_points}
    return [old.get((float(x), float(y)), [x, y]) for x, y in points]


def _check_edit(index, obj, count):
    if not isinstance(obj, dict):
        raise ValueError(f"edited object {index} is not a JSON object")
    source = obj.get("source")
    if source is not None and (type(source) is not int or not 0 <= source < count):
        raise ValueError(f"edited object {index}: source {source!r} names no object of the file")
    if not isinstance(obj.get("label"), str) or not obj["label"]:
        raise ValueError(f"edited object {index}: label must be a non-empty string")
    if obj.get("deleted", 0) not in (0, 1):
        raise ValueError(f"edited object {index}: deleted must be 0 or 1")


def _check_points(index, points, width, height):
    problem = _points_problem(points, width, height)
    if problem:
        raise ValueError(f"edited object {index}: {problem}")


def _merge(parsed, edits, style, label_set):
    """The new objects array text: unchanged objects copied, the others written in ``style``."""
    text, originals = parsed.text, parsed.objects
    size = parsed.data["imgWidth"], parsed.data["imgHeight"]
    user, date = _user(), annotation_date()
    template = list(originals[0]) if originals else []
    ids = [o["id"] for o in originals if isinstance(o.get("id"), int) and not isinstance(o.get("id"), bool)]
    next_id = max(ids, default=len(originals) - 1) + 1
    open_at, close_at = parsed.array
    spans = parsed.spans
    if spans:
        prefix, suffix = text[open_at + 1:spans[0][0]], text[spans[-1][1]:close_at]
    elif style.indent is None:
        prefix = suffix = ""
    else:
        line_start = text.rfind("\n", 0, open_at) + 1
        outer = re.match(r"[ \t]*", text[line_start:open_at]).group(0)
        prefix, suffix = style.newline + outer + style.indent, style.newline + outer
    separator = text[spans[0][1]:spans[1][0]] if len(spans) > 1 else style.item_sep + prefix
    base = prefix.rsplit("\n", 1)[-1] if "\n" in prefix else ""

    seen, pieces, changed = set(), [], False
    for index, edit in enumerate(edits):
        _check_edit(index, edit, len(originals))
        source, deleted = edit.get("source"), int(edit.get("deleted", 0))
        label, points = edit["label"], edit.get("polygon")
        if source is None:
            if deleted:  # drawn and deleted before any save: nothing to keep
                continue
            _check_points(index, points, *size)
            _check_label(label_set, label, index)
            values = {"label": label, "polygon": points, "id": next_id, "deleted": 0, "verified": 0,
                      "user": user, "date": date, "draw": True, "objectType": 1}
            next_id += 1
            keys = [k for k in template if k in values] + [k for k in NEW_OBJECT_FIELDS if k not in template]
            pieces.append(style.dump({k: values[k] for k in keys}, base))
            changed = True
            continue
        if source in seen:
            raise ValueError(f"edited object {index}: object {source} of the file appears twice")
        seen.add(source)
        old = originals[source]
        was_deleted = 1 if old.get("deleted") else 0
        same_points = points == old["polygon"]  # numerically: 5 == 5.0
        if label == old["label"] and deleted == was_deleted and same_points:
            pieces.append(text[spans[source][0]:spans[source][1]])
            changed = changed or source != len(pieces) - 1
            continue
        new = _TEXT_KEEPING_DECODER.raw_decode(text, spans[source][0])[0]
        if label != old["label"]:
            _check_label(label_set, label, index)
            new["label"], new["date"] = label, date
        if not same_points:
            _check_points(index, points, *size)
            new["polygon"] = _polygon_keeping_text(points, new["polygon"])
        if deleted != was_deleted:
            new["deleted"] = deleted
            if "draw" in new:
                new["draw"] = not deleted
        pieces.append(style.dump(new, base))
        changed = True
    missing = sorted(set(range(len(originals))) - seen)
    if missing:
        raise ValueError(f"the edit leaves out object(s) {missing} of the file; "
                         "objects are marked deleted, never dropped")
    if not pieces:
        return text[open_at:close_at + 1], changed
    return "[" + prefix + separator.join(pieces) + suffix + "]", changed


def _check_label(label_set, label, index):
    if label_set is not None:
        try:
            label_set.resolve(label)
        except AnnotationError as e:
            raise ValueError(f"edited object {index}: {e.reason}") from None


_locks = {}
_locks_guard = threading.Lock()


def _lock_for(path):
    with _locks_guard:
        return _locks.setdefault(os.path.realpath(path), threading.Lock())


def new_annotation_text(width, height):
    """The text of an annotation file with no objects, as the Cityscapes files are written."""
    return json.dumps({"imgHeight": int(height), "imgWidth": int(width), "objects": []}, indent=4)


def save_annotation(path, objects, version, label_set=None, image_size=None):
    """Write the edited ``objects`` to the polygon file ``path``; returns the new version.

    Parameters
    ----------
    objects : list of dict
        The whole object list in drawing order, as :func:`load_annotation`
        gives it (``source`` kept) and edited: ``label``, ``polygon`` and
        ``deleted`` are read; objects without ``source`` are new.  Every
        object of the file must appear once (deleted ones with ``deleted: 1``).
    version : str or None
        The version :func:`load_annotation` returned; ``None`` to create a
        file that does not exist yet (then ``image_size`` is ``(width, height)``).
    label_set : LabelSet, optional
        When given, new and relabelled objects must name one of its labels.

    Raises :class:`SaveConflictError` when the file changed since ``version``
    (nothing is written), :class:`AnnotationError` when it cannot be written
    (read-only folder or file; the file is left as it was), ``ValueError``
    for an invalid edit (among others an edited vertex that is NaN, infinite or
    farther than :data:`MAX_SCALE` times the image's width or height from its origin).
    """
    path = os.fspath(path)
    with _lock_for(path):
        raw, text = _read(path)
        if version is None:
            if raw is not None:
                raise SaveConflictError("was created by someone else since the image was opened", path)
            if image_size is None:
                raise ValueError("a new annotation file needs the image size")
            text, mode = new_annotation_text(*image_size), 0o644
        elif raw is None:
            raise SaveConflictError("was removed since it was opened", path)
        elif file_version(raw) != version:
            raise SaveConflictError("changed on disk since it was opened (another save or another program)", path)
        else:
            mode = os.stat(path).st_mode & 0o777
            if not os.access(path, os.W_OK):
                raise AnnotationError("cannot save: the file is read-only; it is unchanged", path)
        parsed = _PolygonFile(text, path)
        array, changed = _merge(parsed, objects, _Style(text), label_set)
        if not changed and version is not None:
            return version
        open_at, close_at = parsed.array
        data = (text[:open_at] + array + text[close_at + 1:]).encode("utf-8")
        try:
            write_atomic(path, data, mode)
        except OSError as e:
            raise AnnotationError(f"cannot save: {e.strerror} (is the folder read-only?); "
                                  "the file is unchanged", path) from None
        return file_version(data)


# ---- drafts -----------------------------------------------------------------

def draft_path(path):
    """Where the draft of the annotation ``path`` is kept (in the user cache folder)."""
    key = hashlib.sha256(os.path.realpath(path).encode("utf-8", "surrogateescape")).hexdigest()[:32]
    return os.path.join(layout.user_cache_dir(), "labeltool-drafts", key + ".json")


def save_draft(path, draft):
    """Keep ``draft`` (any JSON value: the unsaved edit of ``path``); returns the draft's file.

    Raises :class:`AnnotationError` naming the draft file when it cannot be written.
    """
    target = draft_path(path)
    data = json.dumps({"path": os.path.realpath(path), "draft": draft}).encode("utf-8")
    try:
        os.makedirs(os.path.dirname(target), exist_ok=True)
        write_atomic(target, data, 0o600)
    except OSError as e:
        raise AnnotationError(f"cannot keep the draft: {e.strerror}", target) from None
    return target


def load_draft(path):
    """The draft kept for ``path``, or None."""
    target = draft_path(path)
    try:
        with open(target, encoding="utf-8") as f:
            kept = json.load(f)
    except (OSError, ValueError):
        return None
    if not isinstance(kept, dict) or kept.get("path") != os.path.realpath(path):
        return None
    return kept.get("draft")


def discard_draft(path):
    """Remove the draft of ``path`` (after a save)."""
    try:
        os.unlink(draft_path(path))
    except FileNotFoundError:
        pass
