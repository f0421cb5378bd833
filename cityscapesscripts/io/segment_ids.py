"""Segment ids in COCO panoptic PNGs: the colour (R, G, B) of a segment encodes id = R + 256 G + 65536 B.

>>> rgb2id([7, 1, 0])
263
>>> id2rgb(263)
[7, 1, 0]
"""
import numpy as np


def rgb2id(color):
    """The segment id of a colour; an (H, W, 3) array gives the (H, W) uint32 id map."""
    if isinstance(color, np.ndarray) and color.ndim == 3:
        color = color.astype(np.uint32, copy=False)
        return color[..., 0] + (color[..., 1] << 8) + (color[..., 2] << 16)
    return int(color[0]) + 256 * int(color[1]) + 65536 * int(color[2])


def id2rgb(ids):
    """The colour of a segment id as ``[R, G, B]``; an (H, W) integer array gives the (H, W, 3) uint8 image."""
    if not isinstance(ids, np.ndarray):
        ids = int(ids)
        return [ids % 256, ids // 256 % 256, ids // 65536 % 256]
    rgb = np.zeros(ids.shape + (3,), dtype=np.uint8)
    if ids.dtype == np.uint16:  # R and G are the two bytes of the little-endian value, B = 0
        rgb[..., :2] = ids.astype("<u2", copy=False).view(np.uint8).reshape(ids.shape + (2,))
        return rgb
    ids = ids.astype(np.uint32)
    for channel in range(3):
        rgb[..., channel] = (ids >> (8 * channel)) & 255
    return rgb
