"""cityscapesscripts: Cityscapes ground-truth preparation and evaluation.

The modules keep the names of the original toolkit (``helpers``,
``preparation``, ``evaluation``); the engines under them work on NumPy arrays.
"""
__version__ = "3.0.0"
