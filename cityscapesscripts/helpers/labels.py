"""The Cityscapes label table, as the dataset and its evaluation server define it.

Each :class:`Label` names a class, its id in ``*_labelIds.png``, its training
id, its category and colour.  The mappings below (``name2label``, ``id2label``,
``trainId2label``, ``category2labels``) are the ones downstream code imports.
The same table is also available as a :class:`~cityscapesscripts.helpers.labelset.LabelSet`
value (``CITYSCAPES``) that every tool of this package accepts.
"""
from collections import namedtuple

Label = namedtuple("Label", [
    "name",          # unique class name, e.g. 'car'
    "id",            # value in *_labelIds.png; -1: never drawn (license plate)
    "trainId",       # value in *_labelTrainIds.png; 255: ignored in training
    "category",      # category name
    "categoryId",    # category id
    "hasInstances",  # whether objects of this class are told apart
    "ignoreInEval",  # whether ground-truth pixels of this class are ignored
    "color",         # RGB colour in *_color.png
])

labels = [
    #      name                     id  trainId  category        catId  hasInst  ignore  color
    Label("unlabeled",              0,  255,     "void",         0,     False,   True,   (0, 0, 0)),
    Label("ego vehicle",            1,  255,     "void",         0,     False,   True,   (0, 0, 0)),
    Label("rectification border",   2,  255,     "void",         0,     False,   True,   (0, 0, 0)),
    Label("out of roi",             3,  255,     "void",         0,     False,   True,   (0, 0, 0)),
    Label("static",                 4,  255,     "void",         0,     False,   True,   (0, 0, 0)),
    Label("dynamic",                5,  255,     "void",         0,     False,   True,   (111, 74, 0)),
    Label("ground",                 6,  255,     "void",         0,     False,   True,   (81, 0, 81)),
    Label("road",                   7,  0,       "flat",         1,     False,   False,  (128, 64, 128)),
    Label("sidewalk",               8,  1,       "flat",         1,     False,   False,  (244, 35, 232)),
    Label("parking",                9,  255,     "flat",         1,     False,   True,   (250, 170, 160)),
    Label("rail track",             10, 255,     "flat",         1,     False,   True,   (230, 150, 140)),
    Label("building",               11, 2,       "construction", 2,     False,   False,  (70, 70, 70)),
    Label("wall",                   12, 3,       "construction", 2,     False,   False,  (102, 102, 156)),
    Label("fence",                  13, 4,       "construction", 2,     False,   False,  (190, 153, 153)),
    Label("guard rail",             14, 255,     "construction", 2,     False,   True,   (180, 165, 180)),
    Label("bridge",                 15, 255,     "construction", 2,     False,   True,   (150, 100, 100)),
    Label("tunnel",                 16, 255,     "construction", 2,     False,   True,   (150, 120, 90)),
    Label("pole",                   17, 5,       "object",       3,     False,   False,  (153, 153, 153)),
    Label("polegroup",              18, 255,     "object",       3,     False,   True,   (153, 153, 153)),
    Label("traffic light",          19, 6,       "object",       3,     False,   False,  (250, 170, 30)),
    Label("traffic sign",           20, 7,       "object",       3,     False,   False,  (220, 220, 0)),
    Label("vegetation",             21, 8,       "nature",       4,     False,   False,  (107, 142, 35)),
    Label("terrain",                22, 9,       "nature",       4,     False,   False,  (152, 251, 152)),
    Label("sky",                    23, 10,      "sky",          5,     False,   False,  (70, 130, 180)),
    Label("person",                 24, 11,      "human",        6,     True,    False,  (220, 20, 60)),
    Label("rider",                  25, 12,      "human",        6,     True,    False,  (255, 0, 0)),
    Label("car",                    26, 13,      "vehicle",      7,     True,    False,  (0, 0, 142)),
    Label("truck",                  27, 14,      "vehicle",      7,     True,    False,  (0, 0, 70)),
    Label("bus",                    28, 15,      "vehicle",      7,     True,    False,  (0, 60, 100)),
    Label("caravan",                29, 255,     "vehicle",      7,     True,    True,   (0, 0, 90)),
    Label("trailer",                30, 255,     "vehicle",      7,     True,    True,   (0, 0, 110)),
    Label("train",                  31, 16,      "vehicle",      7,     True,    False,  (0, 80, 100)),
    Label("motorcycle",             32, 17,      "vehicle",      7,     True,    False,  (0, 0, 230)),
    Label("bicycle",                33, 18,      "vehicle",      7,     True,    False,  (119, 11, 32)),
    Label("license plate",          -1, -1,      "vehicle",      7,     False,   True,   (0, 0, 142)),
]

name2label = {label.name: label for label in labels}
id2label = {label.id: label for label in labels}
# Built from the end so that a trainId shared by several labels (255) maps to
# the first of them ('unlabeled'), as the original table does.
trainId2label = {label.trainId: label for label in reversed(labels)}
category2labels = {}
for _label in labels:
    category2labels.setdefault(_label.category, []).append(_label)
del _label


def assureSingleInstanceName(name):
    """The name of a single-instance label for ``name``, or None.

    A known name is returned as is; ``'cargroup'`` gives ``'car'``; a group of
    a class without instances, or an unknown name, gives None.
    """
    if name in name2label:
        return name
    if not name.endswith("group"):
        return None
    base = name[:-len("group")]
    if base not in name2label or not name2label[base].hasInstances:
        return None
    return base


if __name__ == "__main__":
    row = "    {:>21} | {:>3} | {:>7} | {:>14} | {:>10} | {:>12} | {:>12}"
    print("List of cityscapes labels:")
    print("")
    print(row.format("name", "id", "trainId", "category", "categoryId", "hasInstances", "ignoreInEval"))
    print("    " + "-" * 98)
    for entry in labels:
        print(row.format(entry.name, entry.id, entry.trainId, entry.category, entry.categoryId,
                         entry.hasInstances, entry.ignoreInEval))
    print("")
    print("Example usages:")
    print(f"ID of label 'car': {name2label['car'].id}")
    print(f"Category of label with ID '{name2label['car'].id}': {id2label[name2label['car'].id].category}")
    print(f"Name of label with trainID '0': {trainId2label[0].name}")
