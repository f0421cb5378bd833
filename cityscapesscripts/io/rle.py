"""COCO run-length encoding of binary masks (the format of COCO ``segmentation`` RLE dicts).

Runs count pixels in column-major (Fortran) order, starting with a run of
zeros; the compressed ``counts`` string is COCO's LEB128-like text form.
"""
import numpy as np


def encode(mask, offset=(0, 0), shape=None):
    """COCO RLE dict ``{"size": [H, W], "counts": str}`` of a (h, w) bool mask.

    With ``offset`` (y0, x0) and ``shape`` (H, W), ``mask`` is a crop of an
    H x W image placed at that offset, the rest being zeros; only the crop's
    columns are visited.
    """
    mask = np.asarray(mask, dtype=bool)
    h, w = mask.shape
    full_h, full_w = shape if shape is not None else (h, w)
    y0, x0 = offset
    columns = np.zeros((w, full_h), dtype=np.int8)
    columns[:, y0:y0 + h] = mask.T
    flat = columns.ravel()
    changes = np.flatnonzero(np.diff(flat)) + 1
    bounds = np.concatenate([[0], changes, [flat.size]])
    runs = np.diff(bounds)
    if flat.size and flat[0]:
        runs = np.concatenate([[0], runs])
    runs[0] += x0 * full_h
    trailing = (full_w - x0 - w) * full_h
    if trailing:
        if flat.size and flat[-1]:  # last run is ones: zeros follow as a new run
            runs = np.concatenate([runs, [trailing]])
        else:
            runs[-1] += trailing
    return {"size": [int(full_h), int(full_w)], "counts": compress(runs.tolist())}


def compress(counts):
    """COCO's string form of a list of run lengths."""
    out = []
    for i, value in enumerate(counts):
        x = value - counts[i - 2] if i > 2 else value
        more = True
        while more:
            c = x & 0x1F
            x >>= 5
            more = x != -1 if c & 0x10 else x != 0
            out.append(chr((c | 0x20 if more else c) + 48))
    return "".join(out)


def decompress(counts):
    """Run lengths of a COCO RLE ``counts``: a list of ints, or the compressed string form.

    The string form is decoded with array operations: characters are 5-bit
    groups (bit 0x20: more groups follow; 0x10 in the last group: negative),
    and from the fourth run on each value is the difference to the run two
    places back.
    """
    if isinstance(counts, (list, tuple)):
        return np.asarray(counts, dtype=np.int64)
    if isinstance(counts, str):
        counts = counts.encode("ascii")
    c = np.frombuffer(counts, dtype=np.uint8).astype(np.int64) - 48
    if c.size == 0:
        return np.zeros(0, dtype=np.int64)
    last = (c & 0x20) == 0                              # the last group of each value
    value_of = np.concatenate([[0], np.cumsum(last)[:-1]])  # value index of each character
    starts = np.flatnonzero(np.concatenate([[True], last[:-1]]))
    shift = np.arange(c.size) - starts[value_of]        # group position within its value
    values = np.zeros(int(last.sum()), dtype=np.int64)
    np.add.at(values, value_of, (c & 0x1F) << (5 * shift))
    ends = np.flatnonzero(last)
    negative = (c[ends] & 0x10) != 0
    values[negative] |= -1 << (5 * (shift[ends][negative] + 1))
    out = values.copy()
    out[3::2] = np.cumsum(values[3::2]) + values[1] if len(values) > 3 else values[3::2]
    out[4::2] = np.cumsum(values[4::2]) + values[2] if len(values) > 4 else values[4::2]
    return out


def flat_indices(rle):
    """Row-major flat indices of the pixels of an RLE dict (visits only the runs of ones)."""
    height, width = rle["size"]
    runs = decompress(rle["counts"])
    if runs.sum() != height * width:
        raise ValueError(f"RLE covers {runs.sum()} pixels, the image has {height * width}")
    starts = np.cumsum(np.concatenate([[0], runs[:-1]]))
    ones_start, ones_len = starts[1::2], runs[1::2]
    total = int(ones_len.sum())
    if not total:
        return np.zeros(0, dtype=np.int64)
    offsets = np.arange(total) - np.repeat(np.cumsum(ones_len) - ones_len, ones_len)
    col_major = np.repeat(ones_start, ones_len) + offsets
    return (col_major % height) * width + col_major // height


def decode(rle):
    """The (H, W) bool mask of an RLE dict."""
    height, width = rle["size"]
    mask = np.zeros(height * width, dtype=bool)
    mask[flat_indices(rle)] = True
    return mask.reshape(height, width)
