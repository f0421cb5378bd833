"""A label set as a value: the classes a tool draws, encodes and evaluates.

The Cityscapes table (:data:`CITYSCAPES`) is the default; a custom set loads
from a ``label_colors.txt`` (lines ``R G B name``) or a Datumaro-style
``dataset_meta.json``.  Tools take a :class:`LabelSet` and use its lookup
tables, so nothing else in the package hard-codes the Cityscapes classes.

>>> CITYSCAPES.resolve("cargroup")
(Label(name='car', id=26, trainId=13, category='vehicle', categoryId=7, hasInstances=True, ignoreInEval=False, color=(0, 0, 142)), True)
"""
import json
import os
import re
from functools import cached_property
from urllib.parse import quote, unquote

from ..errors import AnnotationError, LabelSetError
from ..io.jsonfile import read_json, write_text
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

    def __reduce__(self):
        if self is CITYSCAPES:  # by name: every process has it, and a worker's result pickles small
            return "CITYSCAPES"
        return LabelSet, (self.labels, self.background.name, self.name)

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
        import numpy as np
        table = np.full(256, fill, dtype=dtype)
        for label in reversed(self.labels):  # first label wins for shared ids
            if label.id >= 0:
                table[label.id] = getattr(label, field)
        return table

    @cached_property
    def id_to_train_id(self):
        """(256,) uint8: labelId -> trainId; unknown ids and trainId < 0 give 255."""
        import numpy as np
        table = self._id_table("trainId", 255, np.int64)
        table[table < 0] = 255
        return table.astype(np.uint8)

    @cached_property
    def train_id_to_id(self):
        """(256,) uint8: trainId -> labelId of the first label with that trainId (255 -> background)."""
        import numpy as np
        table = np.full(256, self.background.id, dtype=np.uint8)
        for label in reversed(self.labels):
            if 0 <= label.trainId <= 255 and label.id >= 0:
                table[label.trainId] = label.id
        return table

    @cached_property
    def known_train_ids(self):
        """(256,) bool: values a train-id prediction may hold (the train ids, and 255)."""
        import numpy as np
        table = np.zeros(256, dtype=bool)
        table[255] = True
        for label in self.labels:
            if 0 <= label.trainId <= 255:
                table[label.trainId] = True
        return table

    @cached_property
    def id_to_color(self):
        """(256, 3) uint8: labelId -> RGB colour."""
        import numpy as np
        table = np.zeros((256, 3), dtype=np.uint8)
        for label in reversed(self.labels):
            if label.id >= 0:
                table[label.id] = label.color
        return table

    @cached_property
    def has_instances(self):
        """(256,) bool: labelId -> whether its label has instances (unknown ids: False)."""
        return self._id_table("hasInstances", False, bool)

    @cached_property
    def known_ids(self):
        """(256,) bool: whether a labelId belongs to the set."""
        import numpy as np
        return self._id_table("id", -1, np.int64) >= 0

    @cached_property
    def eval_ids(self):
        """Sorted ids (>= 0) of every label, the rows of the confusion matrix."""
        return sorted({label.id for label in self.labels if label.id >= 0})

    def find(self, name):
        """The label called ``name``, also when spelled without spaces as Datumaro does
        (``egovehicle``, ``trafficlight``, ``licenseplate``); None if there is none."""
        label = self.name2label.get(name)
        return label if label is not None else self._by_key.get(name_key(name))

    @cached_property
    def _by_key(self):
        out = {}
        for label in self.labels:
            out.setdefault(name_key(label.name), label)
        return out

    # ---- loading ---------------------------------------------------------
    @classmethod
    def from_label_colors(cls, path):
        """Read ``label_colors.txt``: ``R G B name`` or just ``name`` per line, ``#`` comments.

        Ids follow the line order (0, 1, ...); names may contain spaces
        (older files) or be written as :func:`label_colors_name` writes them
        (``trafficlight``, ``traffic%20cone``), which reads back to the name
        written; colours may repeat (Datumaro writes the Cityscapes map with
        ``unlabeled``, ``egovehicle``, ... all black).  The background is
        chosen as Datumaro does (see :meth:`_from_entries`).  A name that is
        also a Cityscapes class (spaces ignored) keeps that class's category,
        instance and ignore flags; other names get their own category, no
        instances.
        """
        entries = []
        try:
            with open(path, encoding="utf-8") as f:
                lines = f.read().splitlines()
        except OSError as e:
            raise LabelSetError(f"cannot read: {e.strerror}", path) from None
        except UnicodeDecodeError:
            raise LabelSetError("not UTF-8 text", path) from None
        for number, line in enumerate(lines, 1):
            text = line.split("#", 1)[0].strip()
            if not text:
                continue
            parts = text.split(maxsplit=3)
            if not parts[0].lstrip("-").isdigit():  # no colour: the whole line is the name
                entries.append((None, " ".join(text.split())))
                continue
            if len(parts) < 4:
                raise LabelSetError(f"line {number}: expected 'R G B name' or 'name', got {line.strip()!r}", path)
            entries.append((_parse_color(parts[:3], path, f"line {number}"), parts[3].strip()))
        entries = [(color, unquote(name) if "%" in name else name) for color, name in entries]
        names = {name for _, name in entries}
        entries = [(color, label_colors_name_read(name, names)) for color, name in entries]
        return cls._from_entries(entries, None, path)

    @classmethod
    def from_dataset_meta(cls, path):
        """Read a Datumaro ``dataset_meta.json``.

        Keys: ``labels`` (names; ids are their positions), ``label_map``
        (``{"id": "name"}``: with ``labels``, the labels that have a colour;
        alone, explicit ids), ``segmentation_colors`` (``[[R, G, B], ...]``,
        one per ``label_map`` entry, else one per label) and
        ``background_label`` (an id or a name).
        """
        meta = read_json(path, LabelSetError)
        if not isinstance(meta, dict):
            raise LabelSetError("expected a JSON object", path)
        label_map = meta.get("label_map")
        if label_map is not None:
            try:
                pairs = [(int(k), str(v)) for k, v in label_map.items()]
            except (ValueError, AttributeError):
                raise LabelSetError("label_map must map integer ids to names", path) from None
        if "labels" in meta:
            names = [str(n) for n in meta["labels"]]
            ids = list(range(len(names)))
            colored = [n for _, n in pairs] if label_map is not None else names
            if not set(colored) <= set(names):
                raise LabelSetError(f"labels and label_map disagree on {sorted(set(colored) - set(names))}", path)
        elif label_map is not None:
            pairs.sort()
            ids, names = [i for i, _ in pairs], [n for _, n in pairs]
            colored = names
        else:
            raise LabelSetError("needs 'labels' or 'label_map'", path)
        colors = meta.get("segmentation_colors")
        color_of = {}
        if colors is not None:
            if len(colors) != len(colored):
                raise LabelSetError(f"{len(colors)} segmentation_colors for {len(colored)} labels", path)
            color_of = {n: _parse_color(c, path, f"colour of {n!r}") for n, c in zip(colored, colors)}
        entries = [(color_of.get(n), n) for n in names]
        background = meta.get("background_label")
        if background is not None:
            key = str(background)
            if key.lstrip("-").isdigit() and int(key) in ids:
                background = names[ids.index(int(key))]
            elif key in names:
                background = key
            else:
                raise LabelSetError(f"background_label {background!r} names no label", path)
        return cls._from_entries(entries, background, path, None if "labels" in meta else ids)

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
    def _from_entries(cls, entries, background, path, ids=None):
        """Labels from ``(colour or None, name)`` pairs, with ids ``ids`` or the positions.

        Background, as Datumaro reads these files: ``background`` when given,
        else the first black label, else a label named ``background`` (moved
        to id 0), else a new ``background`` label (black) at id 0; with
        positional ids, the other labels then move up by one.  Labels without
        a colour get their Cityscapes colour, else Pascal VOC's palette entry
        for their id.
        """
        if not entries:
            raise LabelSetError("defines no labels", path)
        names = [name for _, name in entries]
        if background is None:
            background = next((name for color, name in entries if color == (0, 0, 0)), None)
        if background is None:
            background = "background"
            if background in names:
                if ids is None:  # stable sort: it moves to id 0, the others keep their order
                    entries = sorted(entries, key=lambda e: e[1] != background)
            else:
                if ids is not None:
                    if 0 in ids:
                        raise LabelSetError("no background label: no label is black, none is called "
                                            "'background' and id 0 is taken; set background_label", path)
                    ids = [0] + list(ids)
                entries = [((0, 0, 0), background)] + list(entries)
        ids = list(range(len(entries))) if ids is None else ids
        known = {name: CITYSCAPES.find(name) for _, name in entries}
        # the Cityscapes map itself (or part of it, in any spelling) keeps the Cityscapes train ids
        cityscapes_ids = all(label is None or label.id < 0 or label.id == i
                             for i, (_, name) in zip(ids, entries) for label in [known[name]])
        out = []
        for label_id, (color, name) in zip(ids, entries):
            if not 0 <= label_id <= 255:
                raise LabelSetError(f"label {name!r} has id {label_id}, outside 0..255", path)
            if color is None:
                color = _fallback_color(name, label_id)
            cs = known[name]
            if cs is not None:
                train_id = (cs.trainId if cs.id >= 0 else 255) if cityscapes_ids else label_id
                out.append(Label(name, label_id, train_id, cs.category, cs.categoryId,
                                 cs.hasInstances, cs.ignoreInEval, color))
            else:
                is_background = name == background
                out.append(Label(name, label_id, 255 if cityscapes_ids else label_id,
                                 "void" if is_background else name, 0,
                                 False, is_background, color))
        try:
            return cls(out, background, name=os.path.basename(str(path)))
        except LabelSetError as e:
            raise LabelSetError(e.reason, path) from None

    @cached_property
    def color_to_id(self):
        """``{(R, G, B): label id}``.  A colour several labels share decodes to the
        first of them in the table (black to ``unlabeled``, dark blue to ``car``
        in the Cityscapes table); Datumaro takes the last."""
        out = {}
        for label in self.labels:
            if label.id >= 0:
                out.setdefault(tuple(label.color), label.id)
        return out


# Cityscapes names with spaces as Datumaro's Cityscapes map spells them ("trafficlight": "traffic light")
_DATUMARO_SPELLING = {name.replace(" ", ""): name for name in (label.name for label in _cityscapes.labels)
                      if " " in name}
# what cannot stand in a name Datumaro reads from label_colors.txt (it splits lines at whitespace, skips "#..."),
# and the escape character itself
_UNSAFE_IN_LABEL_COLORS = re.compile(r"[\s%#]")


def label_colors_name(name, names=()):
    """``name`` as one word in ``label_colors.txt``, the form Datumaro 1.5 and 1.13 read (``R G B name``,
    split at whitespace) and :meth:`LabelSet.from_label_colors` reads back to ``name``.

    A Cityscapes name with spaces takes Datumaro's spelling (``traffic light`` -> ``trafficlight``, what
    Datumaro's Cityscapes map calls it) unless another label of ``names`` is called so; in any other
    name, whitespace, ``%`` and ``#`` are percent-encoded (``traffic cone`` -> ``traffic%20cone``).

    >>> label_colors_name("traffic light"), label_colors_name("traffic cone"), label_colors_name("car")
    ('trafficlight', 'traffic%20cone', 'car')
    """
    joined = name.replace(" ", "")
    if _DATUMARO_SPELLING.get(joined) == name and joined not in names:
        return joined
    return _UNSAFE_IN_LABEL_COLORS.sub(lambda match: quote(match.group(), safe=""), name)


def label_colors_text(entries):
    """``label_colors.txt`` of ``(name, (R, G, B))`` pairs in id order: ``R G B name`` lines, each name
    one word as :func:`label_colors_name` writes it."""
    names = {name for name, _ in entries}
    return "".join(f"{r} {g} {b} {label_colors_name(name, names)}\n" for name, (r, g, b) in entries)


def label_colors_name_read(name, names=()):
    """The label name a ``label_colors.txt`` word (percent-decoded) stands for: the inverse of
    :func:`label_colors_name` (Datumaro's spelling of a Cityscapes name, unless ``names`` has the
    Cityscapes spelling too)."""
    spelled = _DATUMARO_SPELLING.get(name)
    return spelled if spelled is not None and spelled not in names else name


def describe_missing_ids(ids):
    """Every id missing from ``ids`` below its largest, as a list: ``[2, 3, 4]``."""
    present = set(ids)
    return str([i for i in range(max(present, default=-1) + 1) if i not in present])


def save_label_set(root, label_set, kind="label_colors"):
    """Write ``label_colors.txt`` (``kind='label_colors'``) or ``dataset_meta.json`` describing ``label_set``.

    Both files give ids by position (Datumaro reads them so), so the drawn
    labels' ids must be 0..N-1; otherwise :class:`LabelSetError` listing every
    missing id.  ``label_colors.txt`` names are one word each, as Datumaro
    reads them (:func:`label_colors_name`).
    """
    drawn = sorted((label for label in label_set.labels if label.id >= 0), key=lambda label: label.id)
    ids = [label.id for label in drawn]
    if ids != list(range(len(drawn))):
        raise LabelSetError(f"cannot write {kind}: its label ids must be 0..{len(drawn) - 1} without gaps, as "
                            f"other tools number labels by position; missing ids {describe_missing_ids(ids)}",
                            label_set.name)
    if kind == "label_colors":
        text = label_colors_text([(label.name, label.color) for label in drawn])
        path = os.path.join(root, "label_colors.txt")
        write_text(path, text)
    else:
        meta = {"labels": [label.name for label in drawn],
                "label_map": {str(label.id): label.name for label in drawn},
                "segmentation_colors": [list(label.color) for label in drawn],
                "background_label": str(label_set.background.id)}
        path = os.path.join(root, "dataset_meta.json")
        write_text(path, json.dumps(meta, indent=4))
    return path



def name_key(name):
    """A label name without spaces, lower case: how Datumaro's Cityscapes names compare with ours."""
    return "".join(name.split()).lower()


def _parse_color(values, path, where):
    try:
        color = tuple(int(v) for v in values)
    except (TypeError, ValueError):
        raise LabelSetError(f"{where}: colour {values!r} is not three integers", path) from None
    if len(color) != 3 or not all(0 <= c <= 255 for c in color):
        raise LabelSetError(f"{where}: colour {values!r} is not three integers in 0..255", path)
    return color


def _fallback_color(name, label_id):
    """A colour for a label without one: its Cityscapes colour, else Pascal VOC's palette entry."""
    known = CITYSCAPES.find(name)
    return known.color if known is not None else tuple(voc_palette()[label_id].tolist())


def voc_palette():
    """(256, 3) uint8: Pascal VOC's bit-interleaved palette (index 0 black, 255 the void colour)."""
    import numpy as np
    index = np.arange(256)
    palette = np.zeros((256, 3), dtype=np.uint8)
    for bit in range(8):
        for channel in range(3):
            palette[:, channel] |= (((index >> (3 * bit + channel)) & 1) << (7 - bit)).astype(np.uint8)
    return palette


CITYSCAPES = LabelSet(_cityscapes.labels, "unlabeled", name="cityscapes")
