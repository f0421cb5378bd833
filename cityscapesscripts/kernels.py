"""The hot loops, compiled (``_kernels/``: ``png.pyx``, ``count.pyx``) or as their NumPy twins.

Each public function validates and shapes its inputs, then calls the Cython
kernel when the extension is built, else the NumPy twin below it, which
states the same result plainly and serves as the test oracle.  Without the
extension the package still works and warns once.  NumPy is imported by the
functions that use it: the batch preparation tools write PNGs without it.
"""
import os
import warnings
import zlib


def missing_extension_message(package_folder):
    """What the import warning says when ``_kernels`` is not built: what runs instead, and the ways out."""
    checkout = os.path.dirname(os.path.abspath(package_folder))
    if os.path.isfile(os.path.join(checkout, "setup.py")):  # a source checkout, found before any installed copy
        return (f"cityscapesscripts: running the source checkout in {checkout}, whose compiled extension is not "
                "built: the NumPy kernels run instead, several times slower. Either run from another folder, which "
                "uses the installed package, or compile the extension here: pip install -e . (or: pip install "
                "Cython setuptools, then python setup.py build_ext --inplace; both need a C compiler)")
    return ("cityscapesscripts: the compiled extension is not built (no C compiler at install time?): the NumPy "
            "kernels run instead, several times slower. Install a C compiler, then reinstall the package")


try:
    from ._kernels import count as _count, png as _png
except ImportError:  # pragma: no cover - exercised by the fallback test via HAVE_EXTENSION
    _count = _png = None
    warnings.warn(missing_extension_message(os.path.dirname(__file__)), RuntimeWarning, stacklevel=2)

HAVE_EXTENSION = _count is not None
INSTANCE_ID_SPACE = 65536


def _use_compiled(compiled):
    if compiled and not HAVE_EXTENSION:
        raise RuntimeError("compiled=True but the extension cityscapesscripts._kernels is not built "
                           "(see the warning given when the package was imported)")
    return HAVE_EXTENSION if compiled is None else compiled


def _input(name, array, dtype, ndim, contiguous=True):
    """``array`` as ``dtype`` (casting only where no value can change), C-contiguous when asked."""
    import numpy as np
    array = np.asarray(array)
    if array.ndim != ndim:
        raise ValueError(f"{name} must have {ndim} dimensions, got shape {array.shape}")
    if array.dtype != dtype:
        if not np.can_cast(array.dtype, dtype, "safe"):
            raise ValueError(f"{name} must be {np.dtype(dtype)}, got {array.dtype}")
        array = array.astype(dtype)
    return np.ascontiguousarray(array) if contiguous else array


def _output(name, array, dtype, shape):
    """Check an array the kernels add into: exact dtype and shape, C-contiguous, writeable."""
    import numpy as np
    if not isinstance(array, np.ndarray) or array.dtype != dtype or array.shape != shape:
        got = f"{array.dtype} {array.shape}" if isinstance(array, np.ndarray) else type(array).__name__
        raise ValueError(f"{name} must be a {np.dtype(dtype)} array of shape {shape}, got {got}")
    if not (array.flags.c_contiguous and array.flags.writeable):
        raise ValueError(f"{name} must be C-contiguous and writeable")
    return array


def _same_shape(first, second, names):
    if first.shape[:2] != second.shape[:2]:
        raise ValueError(f"{names[0]} is {first.shape} but {names[1]} is {second.shape}")


# ---- pixel-level evaluation --------------------------------------------------
def pixel_counts(gt, pred, inst, same_category, conf, inst_size, inst_tp, inst_tp_category, compiled=None):
    """Add one image to the confusion matrix and the per-instance counters.

    gt, pred : (H, W) uint8 label ids; inst : (H, W) uint16 instance ids or None.
    same_category : (256, 256) uint8, 1 where a prediction counts for the
    category of a label.  conf : (256, 256) int64; inst_* : (65536,) int64.
    """
    import numpy as np
    gt = _input("gt", gt, np.uint8, 2)
    pred = _input("pred", pred, np.uint8, 2)
    _same_shape(gt, pred, ("gt", "pred"))
    same_category = _input("same_category", same_category, np.uint8, 2)
    if same_category.shape != (256, 256):
        raise ValueError(f"same_category must be (256, 256), got {same_category.shape}")
    _output("conf", conf, np.int64, (256, 256))
    with_instances = inst is not None
    if with_instances:
        inst = _input("inst", inst, np.uint16, 2)
        _same_shape(gt, inst, ("gt", "inst"))
        for name, counter in (("inst_size", inst_size), ("inst_tp", inst_tp), ("inst_tp_category", inst_tp_category)):
            _output(name, counter, np.int64, (INSTANCE_ID_SPACE,))
    else:
        inst = np.zeros((1, 1), np.uint16)
    if _use_compiled(compiled):
        _count.pixel_counts(gt, pred, inst, same_category, conf, inst_size, inst_tp, inst_tp_category,
                              with_instances)
        return
    conf += np.bincount(gt.ravel().astype(np.int64) * 256 + pred.ravel(), minlength=65536).reshape(256, 256)
    if with_instances:
        ids = inst.ravel()
        keep = ids >= 1000
        ids, p = ids[keep], pred.ravel()[keep]
        label = ids // 1000
        inst_size += np.bincount(ids, minlength=INSTANCE_ID_SPACE)
        inst_tp += np.bincount(ids, weights=(p == label), minlength=INSTANCE_ID_SPACE).astype(np.int64)
        inst_tp_category += np.bincount(ids, weights=same_category[label, p],
                                        minlength=INSTANCE_ID_SPACE).astype(np.int64)


def label_png_pixel_counts(gt_raw, pred_raw, inst_raw, inst_bytes, shape, same_category, conf, inst_size, inst_tp,
                           inst_tp_category, compiled=None):
    """:func:`pixel_counts` of one-byte label-map PNGs (grey, or palette indices) and an instance-id
    PNG, from their inflated, still filtered rows.

    gt_raw, pred_raw : (H * (1 + W),) uint8, each row a filter-type byte then its bytes; inst_raw :
    (H * (1 + W * inst_bytes),) uint8 of 8-bit (``inst_bytes`` 1) or 16-bit (2) ids, or None for
    no instance counts; shape : (H, W); the other arguments as in :func:`pixel_counts`.  The
    compiled loop never stores the images (two rows of each at a time).  Returns ``(bad_gt,
    bad_inst, bad_pred)``: the row where that image has an unknown filter type, or -1; counting
    stops at the first such row of any (found in that order on the same row).
    """
    import numpy as np
    h, w = shape
    inst_bytes = 0 if inst_raw is None else inst_bytes
    if inst_bytes not in (0, 1, 2):
        raise ValueError(f"inst_bytes must be 1 or 2, got {inst_bytes}")
    raws = []
    for name, raw, stride in (("gt_raw", gt_raw, w), ("inst_raw", inst_raw, w * inst_bytes), ("pred_raw", pred_raw, w)):
        raw = _input(name, np.zeros(0, np.uint8) if raw is None else raw, np.uint8, 1)
        if raw.size != (h * (1 + stride) if stride else 0):
            raise ValueError(f"{name} has {raw.size} bytes, expected {h * (1 + stride)} for {h} rows of {stride}")
        raws.append(raw)
    same_category = _input("same_category", same_category, np.uint8, 2)
    if same_category.shape != (256, 256):
        raise ValueError(f"same_category must be (256, 256), got {same_category.shape}")
    _output("conf", conf, np.int64, (256, 256))
    for name, counter in (("inst_size", inst_size), ("inst_tp", inst_tp), ("inst_tp_category", inst_tp_category)):
        _output(name, counter, np.int64, (INSTANCE_ID_SPACE if inst_bytes else counter.shape[0],))
    gt_raw, inst_raw, pred_raw = raws
    if _use_compiled(compiled):
        return _count.label_png_pixel_counts(gt_raw, pred_raw, inst_raw, inst_bytes, h, w, same_category, conf,
                                               inst_size, inst_tp, inst_tp_category)
    pixel_bytes = (1, inst_bytes, 1)
    images = [np.zeros((h, w * n), np.uint8) for n in pixel_bytes]
    stop, bad = _unfilter_together(raws, images, pixel_bytes)
    gt, inst, pred = (image[:stop] for image in images)
    inst = inst.view(">u2").astype(np.uint16) if inst_bytes == 2 else inst.astype(np.uint16) if inst_bytes else None
    pixel_counts(gt, pred, inst, same_category, conf, inst_size, inst_tp, inst_tp_category, False)
    return bad


# ---- instance-level evaluation ------------------------------------------------
def mask_histogram(mask, ids, hist, compiled=None):
    """hist[ids[p]] += 1 for each pixel p where mask is non-zero.

    mask : (H, W) uint8 (views of a larger array allowed); ids : (H, W) uint16; hist : (65536,) int64.
    Returns ``(pixels, touched)``: the mask's pixel count and the ids whose count was 0 before and
    is not now (uint16, in no particular order), so a caller can reset ``hist`` cheaply.
    """
    import numpy as np
    mask = np.asarray(mask)
    mask = _input("mask", mask.view(np.uint8) if mask.dtype == bool else mask, np.uint8, 2, contiguous=False)
    ids = _input("ids", ids, np.uint16, 2, contiguous=False)
    _same_shape(mask, ids, ("mask", "ids"))
    _output("hist", hist, np.int64, (INSTANCE_ID_SPACE,))
    if _use_compiled(compiled):
        touched = np.empty(INSTANCE_ID_SPACE, np.uint16)
        pixels, n_touched = _count.mask_histogram(_contiguous_rows(mask), _contiguous_rows(ids), hist, touched)
        return pixels, touched[:n_touched]
    under = ids[mask != 0]
    present = np.unique(under)
    touched = present[hist[present] == 0].astype(np.uint16)
    hist += np.bincount(under, minlength=INSTANCE_ID_SPACE)
    return int(under.size), touched


def _contiguous_rows(array):
    """``array`` itself when its rows are contiguous (a block of rows or columns of a larger array), else a copy."""
    import numpy as np
    return array if array.strides[1] == array.itemsize else np.ascontiguousarray(array)


def grey_png_mask_histogram(raw, ids, hist, compiled=None):
    """:func:`mask_histogram` of an 8-bit grey PNG from its inflated, still filtered rows.

    raw : (H * (1 + W),) uint8, each row a filter-type byte then W bytes; ids : (H, W) uint16;
    hist : (65536,) int64.  The compiled loop never stores the image (two rows at a time).
    Returns ``(pixels, touched, bad_row)``: ``bad_row`` is the first row with an unknown filter
    type (the counts then stop before it), or -1.
    """
    import numpy as np
    raw = _input("raw", raw, np.uint8, 1)
    ids = _input("ids", ids, np.uint16, 2)
    h, w = ids.shape
    if raw.size != h * (w + 1):
        raise ValueError(f"raw has {raw.size} bytes, expected {h * (w + 1)} for {h} rows of {w}")
    _output("hist", hist, np.int64, (INSTANCE_ID_SPACE,))
    if _use_compiled(compiled):
        touched = np.empty(INSTANCE_ID_SPACE, np.uint16)
        pixels, n_touched, bad = _count.grey_png_mask_histogram(raw, ids, hist, touched)
        return pixels, touched[:n_touched], bad
    mask = np.zeros((h, w), np.uint8)
    bad = png_unfilter(raw, mask, 1, False)
    rows = slice(None) if bad < 0 else slice(0, bad)
    return mask_histogram(mask[rows], ids[rows], hist, False) + (bad,)


def id_counts(ids, compiled=None):
    """The pixel count of every value of an (H, W) uint16 map: (65536,) int64."""
    import numpy as np
    ids = _input("ids", ids, np.uint16, 2)
    counts = np.zeros(INSTANCE_ID_SPACE, dtype=np.int64)
    if _use_compiled(compiled):
        _count.id_counts(ids, counts)
        return counts
    counts += np.bincount(ids.ravel(), minlength=INSTANCE_ID_SPACE)
    return counts


def channel_value_counts(image, compiled=None):
    """The pixel count of every value of each channel of an (H, W, C) uint8 image, C <= 4: (C, 256) int64."""
    import numpy as np
    image = _input("image", image, np.uint8, 3)
    if image.shape[2] > 4:
        raise ValueError(f"image must have at most 4 channels, got shape {image.shape}")
    counts = np.zeros((image.shape[2], 256), dtype=np.int64)
    if _use_compiled(compiled):
        _count.channel_value_counts(image, counts)
        return counts
    for c in range(image.shape[2]):
        counts[c] += np.bincount(image[..., c].ravel(), minlength=256)
    return counts


def rgb_png_value_counts(raw, shape, bpp, compiled=None):
    """:func:`channel_value_counts` of the R, G and B channels of an 8-bit RGB (``bpp`` 3) or RGBA
    (``bpp`` 4) PNG of ``shape`` (H, W) from its inflated, still filtered rows, raw (H * (1 + bpp W),)
    uint8.  The compiled loop never stores the image (two rows at a time).  Returns ``(counts, bad)``:
    counts (3, 256) int64, bad the first row of an unknown filter type (counting stops there) or -1."""
    import numpy as np
    h, w = shape
    raw = _input("raw", raw, np.uint8, 1)
    if bpp not in (3, 4):
        raise ValueError(f"bpp must be 3 (RGB) or 4 (RGBA), got {bpp}")
    if raw.size != h * (1 + bpp * w):
        raise ValueError(f"raw has {raw.size} bytes, expected {h * (1 + bpp * w)} for {h} rows of {w} pixels")
    counts = np.zeros((3, 256), dtype=np.int64)
    if _use_compiled(compiled):
        return counts, _count.rgb_png_value_counts(raw, h, w, bpp, counts)
    image = np.zeros((h, bpp * w), np.uint8)
    bad = png_unfilter(raw, image, bpp, False)
    rows = h if bad < 0 else bad
    counts += channel_value_counts(image[:rows].reshape(rows, w, bpp)[..., :3], False)
    return counts, bad


# ---- panoptic evaluation ------------------------------------------------------
def segment_pair_counts(gt_rgb, pred_rgb, gt_keys, pred_keys, compiled=None):
    """Pixel counts of every (gt segment, pred segment) pair.

    gt_keys, pred_keys : sorted uint32 segment ids.  Returns ``(counts, unknown)``:
    counts (len(gt_keys) + 1, len(pred_keys) + 1) int64 with ids missing from
    the keys counted in the last row / column, and the first pred id missing
    from ``pred_keys`` (-1 if none).
    """
    import numpy as np
    gt_keys, pred_keys = _keys("gt_keys", gt_keys), _keys("pred_keys", pred_keys)
    counts = np.zeros((len(gt_keys) + 1, len(pred_keys) + 1), dtype=np.int64)
    gt_rgb = _input("gt_rgb", gt_rgb, np.uint8, 3)
    pred_rgb = _input("pred_rgb", pred_rgb, np.uint8, 3)
    if gt_rgb.shape[2] != 3 or gt_rgb.shape != pred_rgb.shape:
        raise ValueError(f"gt_rgb and pred_rgb must both be (H, W, 3), got {gt_rgb.shape} and {pred_rgb.shape}")
    if _use_compiled(compiled):
        unknown = _count.segment_pair_counts(gt_rgb, pred_rgb, gt_keys, pred_keys, counts)
        return counts, int(unknown)
    g_ids, p_ids = _segment_ids(gt_rgb), _segment_ids(pred_rgb)
    gi = _index_in(gt_keys, g_ids)
    pi = _index_in(pred_keys, p_ids)
    counts += np.bincount(gi * counts.shape[1] + pi, minlength=counts.size).reshape(counts.shape)
    missing = pi == len(pred_keys)
    unknown = int(p_ids[np.argmax(missing)]) if missing.any() else -1
    return counts, unknown


def rgb_png_pair_counts(gt_raw, pred_raw, shape, gt_keys, pred_keys, compiled=None):
    """:func:`segment_pair_counts` of two 8-bit RGB PNGs of ``shape`` (H, W) from their inflated,
    still filtered rows.

    gt_raw, pred_raw : (H * (1 + 3 W),) uint8, each row a filter-type byte then its bytes.  The
    compiled loop never stores the images (two rows of each at a time).  Returns ``(counts,
    unknown, bad_gt, bad_pred)``: ``bad_gt`` / ``bad_pred`` is the row where that image has an
    unknown filter type, or -1; counting stops at the first such row of either (the ground
    truth's is found first on the same row).
    """
    import numpy as np
    h, w = shape
    gt_keys, pred_keys = _keys("gt_keys", gt_keys), _keys("pred_keys", pred_keys)
    gt_raw, pred_raw = _input("gt_raw", gt_raw, np.uint8, 1), _input("pred_raw", pred_raw, np.uint8, 1)
    for name, raw in (("gt_raw", gt_raw), ("pred_raw", pred_raw)):
        if raw.size != h * (1 + 3 * w):
            raise ValueError(f"{name} has {raw.size} bytes, expected {h * (1 + 3 * w)} for {h} rows of {w} RGB pixels")
    if _use_compiled(compiled):
        counts = np.zeros((len(gt_keys) + 1, len(pred_keys) + 1), dtype=np.int64)
        unknown, bad_gt, bad_pred = _count.rgb_png_pair_counts(gt_raw, pred_raw, h, w, gt_keys, pred_keys, counts)
        return counts, int(unknown), bad_gt, bad_pred
    images = [np.zeros((h, 3 * w), np.uint8) for _ in range(2)]
    stop, (bad_gt, bad_pred) = _unfilter_together((gt_raw, pred_raw), images, (3, 3))
    gt_rgb, pred_rgb = (image[:stop].reshape(stop, w, 3) for image in images)
    return segment_pair_counts(gt_rgb, pred_rgb, gt_keys, pred_keys, False) + (bad_gt, bad_pred)


def _unfilter_together(raws, images, pixel_bytes):
    """Unfilter each raw into its image (bytes per pixel 0: none), as the compiled loops that go through
    them row by row together: ``(rows, bad)``, the rows before the first with an unknown filter type in
    any image, and per image that row when it is the first image found with it there, else -1."""
    found = [png_unfilter(raw, image, n, False) if n else -1 for raw, image, n in zip(raws, images, pixel_bytes)]
    rows = min([b for b in found if b >= 0], default=images[0].shape[0])
    first = next((k for k, b in enumerate(found) if b == rows), None)
    return rows, tuple(rows if k == first else -1 for k in range(len(found)))


def _segment_ids(rgb):
    """The flat segment ids R + 256 G + 65536 B of an (H, W, 3) uint8 image, as the compiled loops read them."""
    import numpy as np
    return np.dot(rgb.reshape(-1, 3).astype(np.uint32), np.array([1, 256, 65536], np.uint32))


def _keys(name, keys):
    """Sorted segment ids as uint32; a short list, so its values are checked rather than its dtype."""
    import numpy as np
    keys = np.asarray(keys)
    if keys.ndim != 1 or keys.dtype.kind not in "ui" or (keys.size and (keys.min() < 0 or keys.max() >= 2 ** 32)):
        raise ValueError(f"{name} must be a 1-D array of ids in 0..2**32-1, got {keys.dtype} {keys.shape}")
    return np.ascontiguousarray(keys, dtype=np.uint32)


def _index_in(keys, values):
    """Index of each value in sorted keys, len(keys) where absent."""
    import numpy as np
    if len(keys) == 0:
        return np.zeros(values.shape, dtype=np.int64)
    pos = np.searchsorted(keys, values).clip(0, len(keys) - 1)
    return np.where(keys[pos] == values, pos, len(keys)).astype(np.int64)


# ---- preparation -------------------------------------------------------------------
def lookup(index, table, compiled=None):
    """``table[index]``: a per-pixel table lookup without NumPy's temporary intp copy of the index.

    index : (H, W) uint8 or uint16; table : 1-D uint8, uint16 or uint32 with
    an entry for every value of the index dtype (256 or 65536; shorter tables
    are an error).  Returns (H, W) of the table's dtype.
    """
    import numpy as np
    index = np.asarray(index)
    if index.dtype not in (np.uint8, np.uint16):
        raise ValueError(f"index must be uint8 or uint16, got {index.dtype}")
    index = _input("index", index, index.dtype, 2)
    table = np.asarray(table)
    if table.dtype not in (np.uint8, np.uint16, np.uint32):
        raise ValueError(f"table must be uint8, uint16 or uint32, got {table.dtype}")
    table = _input("table", table, table.dtype, 1)
    if len(table) < 1 << (8 * index.itemsize):
        raise ValueError(f"table has {len(table)} entries, a {index.dtype} index needs {1 << (8 * index.itemsize)}")
    if _use_compiled(compiled):
        out = np.empty(index.shape, table.dtype)
        _png.lookup(index, table, out)
        return out
    return np.take(table, index)


# ---- panoptic conversion ----------------------------------------------------------
def segment_stats(ids, compiled=None):
    """Pixel count and bounding box of every id of an (H, W) uint16 map.

    Returns ``(counts, boxes)``: (65536,) int64 and (65536, 4) int64 rows
    ``(min x, min y, max x, max y)``; ids absent from the map keep count 0 and
    box ``(W, H, -1, -1)``.
    """
    import numpy as np
    ids = _input("ids", ids, np.uint16, 2)
    h, w = ids.shape
    counts = np.zeros(INSTANCE_ID_SPACE, dtype=np.int64)
    boxes = np.empty((INSTANCE_ID_SPACE, 4), dtype=np.int64)
    boxes[:] = (w, h, -1, -1)
    if _use_compiled(compiled):
        _count.segment_stats(ids, counts, boxes)
        return counts, boxes
    counts += np.bincount(ids.ravel(), minlength=INSTANCE_ID_SPACE)
    for value in np.nonzero(counts)[0]:
        ys, xs = np.nonzero(ids == value)
        boxes[value] = (xs.min(), ys.min(), xs.max(), ys.max())
    return counts, boxes


# ---- PNG decoding ------------------------------------------------------------------
def png_unfilter(raw, out, bpp, compiled=None):
    """Undo the PNG row filters (None, Sub, Up, Average, Paeth) of a decompressed image.

    raw : (H * (1 + W * bpp),) uint8, each row a filter-type byte then its
    bytes; out : (H, W * bpp) uint8, receives the pixels; bpp : bytes per
    pixel (1 to 8).  Returns the index of the first row with an unknown
    filter type (``out`` is then incomplete), or -1.
    """
    import numpy as np
    raw = _input("raw", raw, np.uint8, 1)
    if not isinstance(out, np.ndarray) or out.ndim != 2:
        raise ValueError(f"out must be a 2-D uint8 array, got {getattr(out, 'shape', type(out).__name__)}")
    h, stride = _output("out", out, np.uint8, out.shape).shape
    if not 1 <= bpp <= 8 or stride % bpp:
        raise ValueError(f"rows of {stride} bytes do not hold whole pixels of {bpp} bytes")
    if raw.size != h * (stride + 1):
        raise ValueError(f"raw has {raw.size} bytes, expected {h * (stride + 1)} for {h} rows of {stride}")
    if _use_compiled(compiled):
        return _png.png_unfilter(raw, out, bpp)
    rows = raw.reshape(h, stride + 1)
    previous = np.zeros(stride, np.int64)
    for y in range(h):
        kind, data = rows[y, 0], rows[y, 1:].astype(np.int64)
        line = np.zeros(stride + bpp, np.int64)  # bpp leading zeros: the pixel left of the first
        up = np.concatenate([np.zeros(bpp, np.int64), previous])
        for x in range(bpp, stride + bpp):
            left, above, upper_left = line[x - bpp], up[x], up[x - bpp]
            if kind == 0:
                predicted = 0
            elif kind == 1:
                predicted = left
            elif kind == 2:
                predicted = above
            elif kind == 3:
                predicted = (left + above) // 2
            elif kind == 4:
                estimate = left + above - upper_left
                distances = [abs(estimate - left), abs(estimate - above), abs(estimate - upper_left)]
                predicted = (left, above, upper_left)[distances.index(min(distances))]
            else:
                return y
            line[x] = (data[x - bpp] + predicted) % 256
        previous = line[bpp:]
        out[y] = previous
    return -1


# ---- PNG encoding ------------------------------------------------------------------
def filter_up_lookup(index, table, out, compiled=None):
    """Write into ``out`` the PNG rows, filtered Up (filter byte 2, then each byte minus the one
    above), of the image ``table[index]``.

    index : (H, W) buffer of uint8 or int32 (a NumPy array, or a memoryview
    of an image's bytes); table : (N, B) buffer of bytes, entry k the B bytes
    of value k in PNG byte order (big-endian for 16 bits), an entry for every
    index value; out : writeable buffer of H * (1 + W * B) bytes.  Raises
    ``ValueError`` naming the first index the table lacks.
    """
    index, table, out = memoryview(index), memoryview(table), memoryview(out).cast("B")
    if index.ndim != 2 or index.format not in ("B", "i") or not index.c_contiguous:
        raise ValueError(f"index must be a C-contiguous 2-D uint8 or int32 buffer, got {index.format} {index.shape}")
    if table.ndim != 2 or table.format != "B" or not table.c_contiguous:
        raise ValueError(f"table must be a C-contiguous 2-D buffer of bytes, got {table.format} {table.shape}")
    (height, width), (entries, bpp) = index.shape, table.shape
    if len(out) != height * (1 + width * bpp):
        raise ValueError(f"out must hold {height * (1 + width * bpp)} bytes, not {len(out)}")
    if _use_compiled(compiled):
        bad = _png.filter_up_lookup(index.cast("B"), index.itemsize, width, height, table.cast("B"), bpp, out)
    else:
        bad = _filter_up_lookup_twin(index, table, out)
    if bad >= 0:
        raise ValueError(f"index {index.cast('B').cast(index.format)[bad]} at pixel {bad} has no table entry "
                         f"({entries} entries)")


def _filter_up_lookup_twin(index, table, out):
    import numpy as np
    index, table = np.asarray(index), np.asarray(table)
    missing = (index < 0) | (index >= len(table))
    if missing.any():
        return int(np.argmax(missing))
    image = table[index].reshape(index.shape[0], -1)
    rows = np.frombuffer(out, np.uint8).reshape(index.shape[0], -1)
    rows[:, 0] = 2
    rows[:1, 1:] = image[:1]
    np.subtract(image[1:], image[:-1], out=rows[1:, 1:])
    return -1


def zlib_rle(data, distance=1, compiled=None):
    """A zlib stream of the bytes ``data`` whose only matches repeat the bytes ``distance``
    (1 to 4, a pixel) back, as zlib's run-length strategy does for distance 1.

    The NumPy-free twin is zlib itself (``Z_RLE``, any distance): the streams
    differ, the bytes they inflate to do not.
    """
    if not 1 <= distance <= 4:
        raise ValueError(f"distance must be 1 to 4, got {distance}")
    data = memoryview(data).cast("B")
    if _use_compiled(compiled):
        return _png.zlib_rle(data, _adler32(data), distance)
    stream = zlib.compressobj(1, zlib.DEFLATED, 15, 9, zlib.Z_RLE)
    return stream.compress(data) + stream.flush()


try:  # libdeflate's Adler-32 is about ten times zlib's
    from deflate import adler32 as _adler32
except ImportError:  # pragma: no cover - optional speed-up
    from zlib import adler32 as _adler32
