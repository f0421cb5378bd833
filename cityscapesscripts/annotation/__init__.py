"""The label tool's editing model (:mod:`.editing`, :mod:`.corrections`), which :mod:`cityscapesscripts.web.labeltool`
serves, and the original's ``cityscapesLabelTool`` module, the face that starts it."""
