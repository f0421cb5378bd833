"""Reading, writing and converting datasets in the Cityscapes layout.

>>> from cityscapesscripts.dataset import CityscapesDataset   # doctest: +SKIP
>>> for frame in CityscapesDataset("/data/cityscapes", split="val"):   # doctest: +SKIP
...     frame.id, frame.semantic().shape, len(frame.instances())
"""
from .cityscapes import CityscapesDataset, Frame, InstanceMask, write_frame  # noqa: F401
