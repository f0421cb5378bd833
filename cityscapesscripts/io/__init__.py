"""I/O at the edges: label-map PNG codecs and the Cityscapes file layout."""
