"""The PNG writer gives standard PNGs; every compiled kernel equals its NumPy twin."""
import io
import os
import zlib

import deflate

import numpy as np
import pytest
from PIL import Image

from cityscapesscripts import kernels
from cityscapesscripts.errors import ImageError
from cityscapesscripts.io import png
from cityscapesscripts.io.segment_ids import rgb2id


def test_extension_is_built_and_used():
    assert kernels.HAVE_EXTENSION, "the Cython extension must be built by 'pip install .'"


@pytest.mark.parametrize("array, mode", [
    (np.random.default_rng(0).integers(0, 34, (37, 53)).astype(np.uint8), "L"),
    (np.random.default_rng(1).integers(0, 65535, (20, 31)).astype(np.uint16), "I;16"),
    (np.random.default_rng(2).integers(0, 255, (9, 11, 3)).astype(np.uint8), "RGB"),
    (np.random.default_rng(3).integers(0, 255, (9, 11, 4)).astype(np.uint8), "RGBA"),
])
@pytest.mark.parametrize("deflater", ["run-length kernel", "libdeflate", "zlib"])
def test_png_round_trip_through_pillow(array, mode, deflater, monkeypatch):
    assert png._libdeflate is not None
    if deflater != "run-length kernel":
        monkeypatch.setattr(kernels, "HAVE_EXTENSION", False)
    if deflater == "zlib":
        monkeypatch.setattr(png, "_libdeflate", None)
    image = Image.open(io.BytesIO(png.encode_png(array)))
    assert image.mode == mode
    assert np.array_equal(np.asarray(image), array)


def test_write_is_atomic(tmp_path, monkeypatch):
    target = tmp_path / "out.png"
    png.write_png(str(target), np.zeros((4, 4), np.uint8))
    before = target.read_bytes()

    def broken(*a, **k):
        raise OSError("disk full")
    monkeypatch.setattr(os, "replace", broken)
    with pytest.raises(OSError):
        png.write_png(str(target), np.ones((4, 4), np.uint8))
    assert target.read_bytes() == before
    assert sorted(p.name for p in tmp_path.iterdir()) == ["cwd", "out.png"]


def test_read_errors_name_the_file(tmp_path):
    with pytest.raises(ImageError, match="file not found"):
        png.read_label_map(str(tmp_path / "none.png"))
    (tmp_path / "junk.png").write_bytes(b"not a png")
    with pytest.raises(ImageError, match="junk.png: not an image file"):
        png.read_label_map(str(tmp_path / "junk.png"))
    Image.new("RGB", (3, 3)).save(tmp_path / "rgb.png")
    with pytest.raises(ImageError, match="expected a single-channel image, got mode RGB"):
        png.read_label_map(str(tmp_path / "rgb.png"))


def _random_frame(seed, h=61, w=83):
    rng = np.random.default_rng(seed)
    gt = rng.integers(0, 34, (h, w)).astype(np.uint8)
    pred = np.where(rng.random((h, w)) < 0.7, gt, rng.integers(0, 34, (h, w))).astype(np.uint8)
    inst = np.where(rng.random((h, w)) < 0.5, rng.integers(24, 34, (h, w)) * 1000 + rng.integers(0, 5, (h, w)),
                    gt).astype(np.uint16)
    return gt, pred, inst


@pytest.mark.parametrize("seed", [0, 1, 2])
def test_pixel_counts_twin(seed):
    gt, pred, inst = _random_frame(seed)
    same = (np.random.default_rng(seed).random((256, 256)) < 0.3).astype(np.uint8)
    outputs = []
    for compiled in (True, False):
        conf = np.zeros((256, 256), np.int64)
        counters = [np.zeros(65536, np.int64) for _ in range(3)]
        kernels.pixel_counts(gt, pred, inst, same, conf, *counters, compiled=compiled)
        outputs.append([conf] + counters)
    for a, b in zip(*outputs):
        assert np.array_equal(a, b)
    assert outputs[0][0].sum() == gt.size
    label = np.arange(65536) // 1000
    assert outputs[0][1][inst[inst >= 1000]].all() and outputs[0][1][:1000].sum() == 0
    assert (outputs[0][2] <= outputs[0][1]).all() and np.array_equal(outputs[0][2][label == 0], label[label == 0] * 0)


@pytest.mark.parametrize("seed", [0, 1])
def test_mask_histogram_twin(seed):
    _, _, inst = _random_frame(seed, 70, 130)
    mask = (np.random.default_rng(seed).random(inst.shape) < 0.05).astype(np.uint8)
    mask[:, :40] = 0  # long zero runs exercise the skipping path
    results = []
    for compiled in (True, False):
        hist = np.zeros(65536, np.int64)
        hist[inst[0, 0]] = 5  # an id counted before is not touched again
        n, touched = kernels.mask_histogram(mask, inst, hist, compiled=compiled)
        results.append((n, hist, sorted(touched.tolist())))
    assert results[0][0] == results[1][0] == int(mask.sum())
    assert np.array_equal(results[0][1], results[1][1])
    assert results[0][2] == results[1][2] == sorted(set(np.unique(inst[mask != 0]).tolist()) - {int(inst[0, 0])})
    view = mask[5:50, 3:99]  # a strided view works too
    hist = np.zeros(65536, np.int64)
    assert kernels.mask_histogram(view, inst[5:50, 3:99], hist)[0] == int(view.sum())


def _blocky(rng, shape, values, block=(3, 11)):
    """Flat regions with edges at odd places: the runs the compiled loops skip over in words."""
    h, w = shape
    coarse = rng.choice(values, (h // block[0] + 1, w // block[1] + 1))
    return np.repeat(np.repeat(coarse, block[0], 0), block[1], 1)[:h, :w]


@pytest.mark.parametrize("seed", [0, 1, 2])
def test_run_kernels_on_flat_regions(seed):
    """Runs longer than 8 (and 32) pixels, ending anywhere in a word, give the twins' counts."""
    rng = np.random.default_rng(seed)
    shape = (37, 203)
    gt = _blocky(rng, shape, np.arange(20, 34)).astype(np.uint8)
    pred = np.where(_blocky(rng, shape, [0, 1], (5, 17)) == 1, gt, _blocky(rng, shape, np.arange(20, 34), (2, 29)))
    pred = pred.astype(np.uint8)
    inst = np.where(_blocky(rng, shape, [0, 1], (4, 23)) == 1, gt.astype(np.uint16) * 1000 + 1, gt).astype(np.uint16)
    same = (rng.random((256, 256)) < 0.3).astype(np.uint8)
    for with_inst in (inst, None):
        outputs = []
        for compiled in (True, False):
            conf, counters = np.zeros((256, 256), np.int64), _counters()
            kernels.pixel_counts(gt, pred, with_inst, same, conf, *counters, compiled=compiled)
            outputs.append([conf] + counters)
        assert all(np.array_equal(a, b) for a, b in zip(*outputs))
    assert np.array_equal(kernels.id_counts(inst, compiled=True), np.bincount(inst.ravel(), minlength=65536))
    mask = (_blocky(rng, shape, [0, 0, 255], (3, 41)) != 0).astype(np.uint8)
    hists = [np.zeros(65536, np.int64) for _ in range(2)]
    n = [kernels.mask_histogram(mask, inst, h, compiled=c)[0] for h, c in zip(hists, (True, False))]
    assert n[0] == n[1] == int((mask != 0).sum()) and np.array_equal(*hists)
    colours = np.array([[0, 0, 0], [7, 0, 1], [7, 1, 0], [0, 7, 1]], np.uint8)
    gt_rgb = colours[_blocky(rng, shape, np.arange(4), (3, 13))]
    pred_rgb = colours[_blocky(rng, shape, np.arange(4), (2, 19))]
    gt_keys, pred_keys = np.unique(rgb2id(gt_rgb)), np.unique(rgb2id(pred_rgb))[1:]
    a = kernels.segment_pair_counts(gt_rgb, pred_rgb, gt_keys, pred_keys, compiled=True)
    b = kernels.segment_pair_counts(gt_rgb, pred_rgb, gt_keys, pred_keys, compiled=False)
    assert np.array_equal(a[0], b[0]) and a[1] == b[1]


def test_segment_pair_counts_twin():
    rng = np.random.default_rng(4)
    gt = rng.integers(0, 4, (40, 50, 3)).astype(np.uint8) * 3
    pred = rng.integers(0, 4, (40, 50, 3)).astype(np.uint8) * 3
    gt_keys = np.unique(rgb2id(gt))[::2]
    pred_keys = np.unique(rgb2id(pred))[1:]
    a = kernels.segment_pair_counts(gt, pred, gt_keys, pred_keys, compiled=True)
    b = kernels.segment_pair_counts(gt, pred, gt_keys, pred_keys, compiled=False)
    assert np.array_equal(a[0], b[0]) and a[1] == b[1] == int(np.unique(rgb2id(pred))[0])
    assert a[0].sum() == 40 * 50


@pytest.mark.parametrize("channels, width", [(3, 50), (3, 51), (1, 7), (4, 9)])
def test_channel_value_counts_twin(channels, width):
    """Even and odd widths (the kernel counts pixels in pairs), camera images and other channel counts;
    a hand-made image checks the counts themselves."""
    image = np.random.default_rng(width).integers(0, 256, (40, width, channels)).astype(np.uint8)
    a, b = (kernels.channel_value_counts(image, compiled=c) for c in (True, False))
    assert a.shape == (channels, 256) and np.array_equal(a, b) and (a.sum(axis=1) == 40 * width).all()
    tiny = np.array([[[1, 2, 3], [1, 5, 6], [255, 2, 3]]], np.uint8)
    counts = kernels.channel_value_counts(tiny, compiled=True)
    assert (counts[0, 1], counts[0, 255], counts[1, 2], counts[1, 5], counts[2, 3], counts[2, 6]) == (2, 1, 2, 1, 2, 1)
    assert counts.sum() == 9


def test_segment_stats_twin():
    _, _, inst = _random_frame(5, 30, 40)
    (ca, ba), (cb, bb) = kernels.segment_stats(inst, compiled=True), kernels.segment_stats(inst, compiled=False)
    assert np.array_equal(ca, cb) and np.array_equal(ba, bb)
    assert np.array_equal(ca, np.bincount(inst.ravel(), minlength=65536))
    ys, xs = np.nonzero(inst == inst[3, 7])
    assert ba[inst[3, 7]].tolist() == [xs.min(), ys.min(), xs.max(), ys.max()]
    flat = np.full((5, 9), 7, np.uint16)  # one run per row
    assert kernels.segment_stats(flat)[1][7].tolist() == [0, 0, 8, 4]


# ---- the wrappers check what the compiled loops cannot ----------------------------------
def _counters():
    return [np.zeros(65536, np.int64) for _ in range(3)]


BAD_CALLS = {
    "mask over smaller ids": (lambda c: kernels.mask_histogram(np.ones((64, 64), np.uint8), np.zeros((2, 2), np.uint16),
                                                               np.zeros(65536, np.int64), compiled=c),
                              r"mask is \(64, 64\) but ids is \(2, 2\)"),
    "short histogram": (lambda c: kernels.mask_histogram(np.ones((4, 4), np.uint8), np.zeros((4, 4), np.uint16),
                                                         np.zeros(100, np.int64), compiled=c),
                        r"hist must be a int64 array of shape \(65536,\), got int64 \(100,\)"),
    "ids of int32": (lambda c: kernels.mask_histogram(np.ones((4, 4), np.uint8), np.zeros((4, 4), np.int32),
                                                      np.zeros(65536, np.int64), compiled=c),
                     "ids must be uint16, got int32"),
    "pred smaller than gt": (lambda c: kernels.pixel_counts(np.zeros((8, 8), np.uint8), np.zeros((4, 8), np.uint8),
                                                            None, np.zeros((256, 256), np.uint8),
                                                            np.zeros((256, 256), np.int64), *_counters(), compiled=c),
                             r"gt is \(8, 8\) but pred is \(4, 8\)"),
    "instances of another size": (lambda c: kernels.pixel_counts(
        np.zeros((8, 8), np.uint8), np.zeros((8, 8), np.uint8), np.zeros((8, 9), np.uint16),
        np.zeros((256, 256), np.uint8), np.zeros((256, 256), np.int64), *_counters(), compiled=c),
        r"gt is \(8, 8\) but inst is \(8, 9\)"),
    "gt of int64": (lambda c: kernels.pixel_counts(np.zeros((8, 8), np.int64), np.zeros((8, 8), np.uint8), None,
                                                   np.zeros((256, 256), np.uint8), np.zeros((256, 256), np.int64),
                                                   *_counters(), compiled=c),
                    "gt must be uint8, got int64"),
    "read-only confusion matrix": (lambda c: kernels.pixel_counts(
        np.zeros((8, 8), np.uint8), np.zeros((8, 8), np.uint8), None, np.zeros((256, 256), np.uint8),
        np.broadcast_to(np.zeros(1, np.int64), (256, 256)), *_counters(), compiled=c),
        "conf must be C-contiguous and writeable"),
    "image of five channels": (lambda c: kernels.channel_value_counts(np.zeros((4, 4, 5), np.uint8), compiled=c),
                               r"image must have at most 4 channels, got shape \(4, 4, 5\)"),
    "image of uint16": (lambda c: kernels.channel_value_counts(np.zeros((4, 4, 3), np.uint16), compiled=c),
                        "image must be uint8, got uint16"),
    "panoptic images of two sizes": (lambda c: kernels.segment_pair_counts(
        np.zeros((4, 4, 3), np.uint8), np.zeros((4, 5, 3), np.uint8), [0], [0], compiled=c),
        r"gt_rgb and pred_rgb must both be \(H, W, 3\), got \(4, 4, 3\) and \(4, 5, 3\)"),
    "negative segment ids": (lambda c: kernels.segment_pair_counts(
        np.zeros((4, 4, 3), np.uint8), np.zeros((4, 4, 3), np.uint8), [-1, 0], [0], compiled=c),
        r"gt_keys must be a 1-D array of ids in 0..2\*\*32-1, got int64 \(2,\)"),
    "ids with channels": (lambda c: kernels.segment_stats(np.zeros((4, 4, 3), np.uint16), compiled=c),
                          r"ids must have 2 dimensions, got shape \(4, 4, 3\)"),
    "raw of the wrong length": (lambda c: kernels.png_unfilter(np.zeros(9, np.uint8), np.zeros((2, 4), np.uint8), 1,
                                                               compiled=c),
                                "raw has 9 bytes, expected 10 for 2 rows of 4"),
    "filtered mask rows of the wrong length": (lambda c: kernels.grey_png_mask_histogram(
        np.zeros(9, np.uint8), np.zeros((2, 4), np.uint16), np.zeros(65536, np.int64), compiled=c),
        "raw has 9 bytes, expected 10 for 2 rows of 4"),
    "camera rows of the wrong length": (lambda c: kernels.rgb_png_value_counts(np.zeros(12, np.uint8), (2, 2), 3,
                                                                           compiled=c),
                                        "raw has 12 bytes, expected 14 for 2 rows of 2 pixels"),
    "camera rows of grey pixels": (lambda c: kernels.rgb_png_value_counts(np.zeros(6, np.uint8), (2, 2), 2,
                                                                          compiled=c),
                                   r"bpp must be 3 \(RGB\) or 4 \(RGBA\), got 2"),
    "short table": (lambda c: kernels.lookup(np.zeros((4, 4), np.uint16), np.zeros(256, np.uint16), compiled=c),
                    "table has 256 entries, a uint16 index needs 65536"),
    "signed index": (lambda c: kernels.lookup(np.zeros((4, 4), np.int16), np.zeros(65536, np.uint16), compiled=c),
                     "index must be uint8 or uint16, got int16"),
    "partial pixels": (lambda c: kernels.png_unfilter(np.zeros(14, np.uint8), np.zeros((2, 6), np.uint8), 4,
                                                      compiled=c),
                       "rows of 6 bytes do not hold whole pixels of 4 bytes"),
}


@pytest.mark.parametrize("compiled", [True, False])
@pytest.mark.parametrize("case", sorted(BAD_CALLS))
def test_kernels_refuse_bad_shapes_and_dtypes(case, compiled):
    call, message = BAD_CALLS[case]
    with pytest.raises(ValueError, match=message):
        call(compiled)


def test_compiled_without_the_extension_is_a_clear_error(monkeypatch):
    monkeypatch.setattr(kernels, "HAVE_EXTENSION", False)
    with pytest.raises(RuntimeError, match="extension cityscapesscripts._kernels is not built"):
        kernels.segment_stats(np.zeros((2, 2), np.uint16), compiled=True)
    assert kernels.segment_stats(np.zeros((2, 2), np.uint16))[0][0] == 4  # the NumPy twin answers


def test_bool_masks_and_widening_casts_are_accepted():
    hist = np.zeros(65536, np.int64)
    mask = np.eye(4, dtype=bool)
    assert kernels.mask_histogram(mask, np.arange(16, dtype=np.uint8).reshape(4, 4), hist)[0] == 4
    assert hist[[0, 5, 10, 15]].tolist() == [1, 1, 1, 1]


@pytest.mark.parametrize("index_dtype", [np.uint8, np.uint16])
@pytest.mark.parametrize("table_dtype", [np.uint8, np.uint16, np.uint32])
def test_lookup_twin(index_dtype, table_dtype):
    rng = np.random.default_rng(6)
    size = np.iinfo(index_dtype).max + 1
    index = rng.integers(0, size, (23, 41)).astype(index_dtype)
    table = rng.integers(0, np.iinfo(table_dtype).max, size + 5, dtype=np.int64).astype(table_dtype)
    a, b = kernels.lookup(index, table, compiled=True), kernels.lookup(index, table, compiled=False)
    assert a.dtype == b.dtype == table_dtype and np.array_equal(a, b)
    assert a[3, 7] == table[index[3, 7]]


def _rle_cases():
    rng = np.random.default_rng(7)
    runs = np.repeat(rng.integers(0, 4, 300, dtype=np.uint8), rng.integers(1, 700, 300))
    # Fibonacci byte counts: an unlimited Huffman code would need codes longer than deflate's 15 bits
    fibonacci = [1, 1]
    while len(fibonacci) < 25:
        fibonacci.append(fibonacci[-1] + fibonacci[-2])
    skewed = rng.permutation(np.repeat(np.arange(25, dtype=np.uint8) * 10, fibonacci))
    return [b"", b"a", b"aaa", bytes(1000), bytes([7]) * 259 + b"x" + bytes(517), runs.tobytes(),
            rng.integers(0, 256, 5000, dtype=np.uint8).tobytes(), skewed.tobytes(),
            png.filter_rows(np.kron(rng.integers(0, 30, (8, 8)), np.ones((16, 16))).astype(np.uint16))[1].tobytes()]


@pytest.mark.parametrize("distance", [1, 2, 3, 4])
def test_zlib_rle_inflates_to_its_input(distance):
    for data in _rle_cases():
        stream = kernels.zlib_rle(data, distance, compiled=True)
        assert zlib.decompress(stream) == data
        assert deflate.zlib_decompress(stream, len(data)) == data  # the inflater our PNG decoder uses
        assert zlib.decompress(kernels.zlib_rle(data, distance, compiled=False)) == data


def test_zlib_rle_compresses_runs():
    blank = bytes(2049 * 1024)  # a blank 2048 x 1024 map, filtered: 8130 matches of 258 bytes, 2 bits each
    assert len(kernels.zlib_rle(blank)) < 2100
    with pytest.raises(ValueError, match="distance"):
        kernels.zlib_rle(b"abc", 5)


@pytest.mark.parametrize("index_dtype", [np.uint8, np.int32])
@pytest.mark.parametrize("table_dtype, channels", [(np.uint8, 1), (">u2", 1), (np.uint8, 3), (np.uint8, 4)])
@pytest.mark.parametrize("block_width", [5, 8], ids=["rows-with-a-tail", "rows-of-whole-words"])
def test_filter_up_lookup_twin(index_dtype, table_dtype, channels, block_width):
    rng = np.random.default_rng(8)
    blocks = rng.integers(0, 40, (9, 14))
    index = np.kron(blocks, np.ones((3, block_width), np.int64)).astype(index_dtype)  # runs, repeated rows, changes
    index[5, 2:] = rng.integers(0, 40, index.shape[1] - 2)
    values = rng.integers(0, 65535, (40, channels)).astype(table_dtype)
    table = values.view(np.uint8).reshape(40, -1)  # each entry's bytes in PNG order
    compiled, twin = (bytearray(index.shape[0] * (1 + index.shape[1] * table.shape[1])) for _ in range(2))
    kernels.filter_up_lookup(index, table, compiled, compiled=True)
    kernels.filter_up_lookup(index, table, twin, compiled=False)
    assert compiled == twin
    image = values[index].astype(np.uint16 if values.itemsize == 2 else np.uint8)
    assert bytes(compiled) == png.filter_rows(image[..., 0] if channels == 1 else image)[1].tobytes()


@pytest.mark.parametrize("compiled", [True, False])
def test_filter_up_lookup_names_an_index_without_entry(compiled):
    index = np.zeros((4, 6), np.int32)
    index[2, 3] = 9
    with pytest.raises(ValueError, match="index 9 at pixel 15"):
        kernels.filter_up_lookup(index, np.arange(9, dtype=np.uint8).reshape(9, 1), bytearray(4 * 7),
                                 compiled=compiled)
