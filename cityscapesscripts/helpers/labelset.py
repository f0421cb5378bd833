"""A label set as a value: the classes a tool draws, encodes and evaluates.

The Cityscapes table (:data:`CITYSCAPES`) is the default; a custom set loads
from a ``label_colors.txt`` (lines ``R G B name``) or a Datumaro-style
``dataset_meta.json``.  Tools take a :class:`LabelSet` and use its lookup
tables, so nothing else in the package hard-codes the Cityscapes classes.

>>> CITYSCAPES.resolve("cargroup")
(Label(name='car', id=26, trainId=13, category='vehicle', categoryId=7, hasInstances=True, ignoreInEval=False, color=(0, 0, 142)), True)
"""
import os
from functools import cached_property

import numpy as np

from ..errors import AnnotationError, LabelSetError
from ..io.jsonfile import read_json
from . import labels as _cityscapes
from .labels import Label

GROUP_SUFFIX = "group"


class LabelSet:
    """An ordered table of :class:`Label` with a background label.

    Parameters
    ----------
    labels : sequence of Label
        Unique names; ids >= 0 are drawn, a negative id is never drawn.
    background : str
        Name of the label that fills pixels no object covers.
    """

    def __init__(self, labels, background="unlabeled", name="custom"):
        self.labels = tuple(labels)
        self.name = name
        seen = {}
        for label in self.labels:
            if label.name in seen:
                raise LabelSetError(f"label name {label.name!r} appears twice")
            seen[label.name] = label
            if not -1 <= label.id <= 255:
                raise LabelSetError(f"label {label.name!r} has id {label.id}, outside -1..255")
        if background not in seen:
            raise LabelSetError(f"background label {background!r} is not in the label set")
        self.background = seen[background]

    def __repr__(self):
        return f"LabelSet({self.name!r}, {len(self.labels)} labels)"

    def __eq__(self, other):
        return isinstance(other, LabelSet) and (self.labels, self.background) == (other.labels, other.background)

    def __hash__(self):
        return hash((self.labels, self.background))

    def __getstate__(self):
        return {"labels": self.labels, "background": self.background.name, "name": self.name}

    def __setstate__(self, state):
        self.__init__(state["labels"], state["background"], state["name"])

    @cached_property
    def name2label(self):
        return {label.name: label for label in self.labels}

    @cached_property
    def id2label(self):
        return {label.id: label for label in self.labels}

    @cached_property
    def trainId2label(self):
        return {label.trainId: label for label in reversed(self.labels)}

    @cached_property
    def category2labels(self):
        out = {}
        for label in self.labels:
            out.setdefault(label.category, []).append(label)
        return out

    def resolve(self, name):
        """``(label, is_group)`` for an annotation label name.

        ``'<name>group'`` stands for a group of ``<name>`` objects when
        ``<name>`` is known.  Raises :class:`AnnotationError` for an unknown name.
        """
        label = self.name2label.get(name)
        if label is not None:
            return label, False
        if name.endswith(GROUP_SUFFIX):
            label = self.name2label.get(name[:-len(GROUP_SUFFIX)])
            if label is not None:
                return label, True
        raise AnnotationError(f"label {name!r} is not known")

    # ---- lookup tables indexed by label id (0..255) ----------------------
    def _id_table(self, field, fill, dtype):
        table = np.full(256, fill, dtype=dtype)
        for label in reversed(self.labels):  # first label wins for shared ids
            if label.id >= 0:
                table[label.id] = getattr(label, field)
        return table

    @cached_property
    def id_to_train_id(self):
        """(256,) uint8: labelId -> trainId; unknown ids and trainId < 0 give 255."""
        table = self._id_table("trainId", 255, np.int64)
        table[table < 0] = 255
        return table.astype(np.uint8)

    @cached_property
    def train_id_to_id(self):
        """(256,) uint8: trainId -> labelId of the first label with that trainId (255 -> background)."""
        table = np.full(256, self.background.id, dtype=np.uint8)
        for label in reversed(self.labels):
            if 0 <= label.trainId <= 255 and label.id >= 0:
                table[label.trainId] = label.id
        return table

    @cached_property
    def known_train_ids(self):
        """(256,) bool: values a train-id prediction may hold (the train ids, and 255)."""
        table = np.zeros(256, dtype=bool)
        table[255] = True
        for label in self.labels:
            if 0 <= label.trainId <= 255:
                table[label.trainId] = True
        return table

    @cached_property
    def id_to_color(self):
        """(256, 3) uint8: labelId -> RGB colour."""
        table = np.zeros((256, 3), dtype=np.uint8)
        for label in reversed(self.labels):
            if label.id >= 0:
                table[label.id] = label.color
        return table

    @cached_property
    def known_ids(self):
        """(256,) bool: whether a labelId belongs to the set."""
        return self._id_table("id", -1, np.int64) >= 0

    @cached_property
    def eval_ids(self):
        """Sorted ids (>= 0) of every label, the rows of the confusion matrix."""
        return sorted({label.id for label in self.labels if label.id >= 0})

    # ---- loading ---------------------------------------------------------
    @classmethod
    def from_label_colors(cls, path):
        """Read ``label_colors.txt``: one ``R G B name`` per line, ``#`` comments.

        Ids follow the line order (0, 1, ...).  A name that is also a
        Cityscapes class keeps that class's category, instance and ignore
        flags; other names get their own category, no instances.  The first
        label is the background.
        """
        entries = []
        try:
            with open(path, encoding="utf-8") as f:
                lines = f.read().splitlines()
        except OSError as e:
            raise LabelSetError(f"cannot read: {e.strerror}", path) from None
        for number, line in enumerate(lines, 1):
            text = line.split("#", 1)[0].strip()
            if not text:
                continue
            parts = text.split(maxsplit=3)
            if len(parts) < 4:
                raise LabelSetError(f"line {number}: expected 'R G B name', got {line.strip()!r}", path)
            entries.append((_parse_color(parts[:3], path, f"line {number}"), parts[3].strip()))
        return cls._from_entries(entries, None, path)

    @classmethod
    def from_dataset_meta(cls, path):
        """Read a Datumaro ``dataset_meta.json``.

        Keys: ``labels`` (names) or ``label_map`` (``{"id": "name"}``),
        ``segmentation_colors`` (``[[R, G, B], ...]`` in label order) and
        ``background_label`` (an id or a name).
        """
        meta = read_json(path, LabelSetError)
        if not isinstance(meta, dict):
            raise LabelSetError("expected a JSON object", path)
        if "label_map" in meta:
            try:
                pairs = sorted((int(k), str(v)) for k, v in meta["label_map"].items())
            except (ValueError, AttributeError):
                raise LabelSetError("label_map must map integer ids to names", path) from None
            ids = [i for i, _ in pairs]
            names = [n for _, n in pairs]
            if "labels" in meta and set(meta["labels"]) != set(names):
                unknown = sorted(set(meta["labels"]) ^ set(names))
                raise LabelSetError(f"labels and label_map disagree on {unknown}", path)
        elif "labels" in meta:
            names = [str(n) for n in meta["labels"]]
            ids = list(range(len(names)))
        else:
            raise LabelSetError("needs 'labels' or 'label_map'", path)
        colors = meta.get("segmentation_colors")
        if colors is None:
            colors = [None] * len(names)
        elif len(colors) != len(names):
            raise LabelSetError(f"{len(colors)} segmentation_colors for {len(names)} labels", path)
        entries = [(_parse_color(c, path, f"colour of {n!r}") if c is not None else _fallback_color(n, i), n)
                   for i, (c, n) in enumerate(zip(colors, names))]
        background = meta.get("background_label")
        if background is not None:
            key = str(background)
            if key.lstrip("-").isdigit() and int(key) in ids:
                background = names[ids.index(int(key))]
            elif key in names:
                background = key
            else:
                raise LabelSetError(f"background_label {background!r} names no label", path)
        return cls._from_entries(entries, background, path, ids, unique_colors=False)

    @classmethod
    def load(cls, path):
        """A label set from a file, chosen by name (``*.json`` is a dataset meta file)."""
        if str(path).endswith(".json"):
            return cls.from_dataset_meta(path)
        return cls.from_label_colors(path)

    @classmethod
    def for_dataset(cls, root):
        """The label set a dataset folder declares, else the Cityscapes table.

        ``dataset_meta.json`` wins over ``label_colors.txt`` when both exist.
        """
        for name, loader in (("dataset_meta.json", cls.from_dataset_meta),
                             ("label_colors.txt", cls.from_label_colors)):
            path = os.path.join(root, name)
            if os.path.isfile(path):
                return loader(path)
        return CITYSCAPES

    @classmethod
    def _from_entries(cls, entries, background, path, ids=None, unique_colors=True):
        """Labels from ``(colour, name)`` pairs.  In label_colors.txt the colour is the key
        (colour masks are decoded by it), so it must be unique; a meta file has explicit ids."""
        if not entries:
            raise LabelSetError("defines no labels", path)
        ids = list(range(len(entries))) if ids is None else ids
        seen_colors = {}
        out = []
        for label_id, (color, name) in zip(ids, entries):
            if unique_colors and color in seen_colors:
                raise LabelSetError(f"colour {color} is used by both {seen_colors[color]!r} and {name!r}", path)
            seen_colors[color] = name
            if not 0 <= label_id <= 255:
                raise LabelSetError(f"label {name!r} has id {label_id}, outside 0..255", path)
            known = _cityscapes.name2label.get(name)
            is_background = name == (background or entries[0][1])
            if known is not None:
                out.append(Label(name, label_id, label_id, known.category, known.categoryId,
                                 known.hasInstances, known.ignoreInEval, color))
            else:
                out.append(Label(name, label_id, label_id, "void" if is_background else name, 0,
                                 False, is_background, color))
        try:
            return cls(out, background or entries[0][1], name=os.path.basename(str(path)))
        except LabelSetError as e:
            raise LabelSetError(e.reason, path) from None


def _parse_color(values, path, where):
    try:
        color = tuple(int(v) for v in values)
    except (TypeError, ValueError):
        raise LabelSetError(f"{where}: colour {values!r} is not three integers", path) from None
    if len(color) != 3 or not all(0 <= c <= 255 for c in color):
        raise LabelSetError(f"{where}: colour {values!r} is not three integers in 0..255", path)
    return color


def _fallback_color(name, index):
    """A colour for a label without one: its Cityscapes colour, else a fixed palette entry."""
    known = _cityscapes.name2label.get(name)
    if known is not None:
        return known.color
    # Pascal VOC's bit-interleaved palette gives distinct colours per index.
    r = g = b = 0
    for bit in range(8):
        r |= ((index >> 0) & 1) << (7 - bit)
        g |= ((index >> 1) & 1) << (7 - bit)
        b |= ((index >> 2) & 1) << (7 - bit)
        index >>= 3
    return (r, g, b)


CITYSCAPES = LabelSet(_cityscapes.labels, "unlabeled", name="cityscapes")
