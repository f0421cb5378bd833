"""The original's annotation tools (``cityscapesLabelTool``), now web apps; :mod:`.editing` is their engine."""
