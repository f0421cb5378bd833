"""The class subsets of the unsupervised domain-adaptation benchmarks on Cityscapes.

GTA5 -> Cityscapes is scored on the 19 Cityscapes training classes
(``cityscapes19``).  SYNTHIA -> Cityscapes is scored on 16 classes
(``synthia16``: the 19 without terrain, truck and train, which SYNTHIA does
not label; CBST, Zou et al., ECCV 2018, and every later paper, e.g. DAFormer,
Hoyer et al., CVPR 2022, Table 2 "mIoU16") and on 13 (``synthia13``, "mIoU*":
also without wall, fence and pole; AdaptSegNet, Tsai et al., CVPR 2018,
Table 3).

The subset mIoU is defined as those papers compute it with the 16 / 13 class
label maps of their conversion scripts: pixels whose ground truth is outside
the subset are ignored; a prediction of a class outside the subset (or of a
void class) on a pixel of a subset class is wrong (a false negative of that
class); the mean is over the subset's classes.

>>> [CITYSCAPES.id2label[i].name for i in subset_ids(CITYSCAPES, protocol="synthia13")][:4]
['road', 'sidewalk', 'building', 'traffic light']
"""
from ..errors import ArgumentError
from ..helpers.labelset import CITYSCAPES

CITYSCAPES19 = ("road", "sidewalk", "building", "wall", "fence", "pole", "traffic light", "traffic sign",
                "vegetation", "terrain", "sky", "person", "rider", "car", "truck", "bus", "train", "motorcycle",
                "bicycle")
SYNTHIA16 = tuple(name for name in CITYSCAPES19 if name not in ("terrain", "truck", "train"))
SYNTHIA13 = tuple(name for name in SYNTHIA16 if name not in ("wall", "fence", "pole"))
PROTOCOLS = {"cityscapes19": CITYSCAPES19, "synthia16": SYNTHIA16, "synthia13": SYNTHIA13}


def subset_ids(label_set=CITYSCAPES, classes=None, protocol=None):
    """The sorted label ids of a class subset: ``classes`` (names, Datumaro's spellings too, or ids) or a
    named ``protocol`` (:data:`PROTOCOLS`); None when neither is given.

    Raises :class:`ArgumentError` for an unknown protocol or name, a class the label set does not
    evaluate (``ignoreInEval``), or both arguments at once.
    """
    if classes is not None and protocol is not None:
        raise ArgumentError("give a class list or a protocol, not both")
    if protocol is not None:
        if protocol not in PROTOCOLS:
            raise ArgumentError(f"unknown protocol {protocol!r}; known: {', '.join(PROTOCOLS)}")
        classes = PROTOCOLS[protocol]
    if classes is None:
        return None
    ids = set()
    for entry in classes:
        label = label_set.id2label.get(entry) if isinstance(entry, int) else label_set.find(str(entry).strip())
        if label is None or label.id < 0:
            raise ArgumentError(f"class {entry!r} is not in the label set {label_set.name}")
        if label.ignoreInEval:
            raise ArgumentError(f"class {label.name!r} is not evaluated (ignoreInEval) in the label set "
                                f"{label_set.name}")
        ids.add(label.id)
    if not ids:
        raise ArgumentError("the class subset is empty")
    return tuple(sorted(ids))
