"""Our PNG decoder gives Pillow's pixels on every flavour, falls back to Pillow per file,
and reports every corrupted file by name instead of returning other pixels."""
import glob
import io
import os
import struct
import tracemalloc
import zlib

import numpy as np
import pytest
from PIL import Image

from cityscapesscripts import kernels
from cityscapesscripts.errors import ImageError
from cityscapesscripts.io import limits, png
from cityscapesscripts.io.segment_ids import rgb2id

FIXTURES = os.path.join(os.path.dirname(os.path.abspath(__file__)), "fixtures")


# ---- an independent encoder: any filter per row, any IDAT split ------------------------
def _paeth(a, b, c):
    p = a + b - c
    pa, pb, pc = np.abs(p - a), np.abs(p - b), np.abs(p - c)
    return np.where((pa <= pb) & (pa <= pc), a, np.where(pb <= pc, b, c))


def _filtered(rows, bpp, filters):
    """Rows (H, stride) uint8 -> the PNG byte stream with filters[y % len] on row y (spec, section 9)."""
    x = rows.astype(np.int64)
    up = np.vstack([np.zeros_like(x[:1]), x[:-1]])
    left = np.hstack([np.zeros_like(x[:, :bpp]), x[:, :-bpp]])
    upper_left = np.hstack([np.zeros_like(up[:, :bpp]), up[:, :-bpp]])
    predictors = [0 * x, left, up, (left + up) // 2, _paeth(left, up, upper_left)]
    out = []
    for y in range(len(x)):
        kind = filters[y % len(filters)]
        out.append(bytes([kind]) + ((x[y] - predictors[kind][y]) % 256).astype(np.uint8).tobytes())
    return b"".join(out)


def _chunk(kind, body):
    return struct.pack(">I", len(body)) + kind + body + struct.pack(">I", zlib.crc32(kind + body))


def make_png(pixels, color_type, filters=(0, 1, 2, 3, 4), idat_parts=1, extra=(), depth=None):
    pixels = np.asarray(pixels)
    depth = depth or (16 if pixels.dtype == np.uint16 else 8)
    h, w = pixels.shape[:2]
    rows = pixels.astype(">u2" if depth == 16 else np.uint8).view(np.uint8).reshape(h, -1)
    stream = zlib.compress(_filtered(rows, rows.shape[1] // w, filters), 6)
    cuts = np.linspace(0, len(stream), idat_parts + 1).astype(int)
    idat = b"".join(_chunk(b"IDAT", stream[a:b]) for a, b in zip(cuts[:-1], cuts[1:]))
    header = _chunk(b"IHDR", struct.pack(">IIBBBBB", w, h, depth, color_type, 0, 0, 0))
    return png._SIGNATURE + header + b"".join(extra) + idat + _chunk(b"IEND", b"")


def pillow_pixels(data):
    return np.asarray(Image.open(io.BytesIO(data)))


RNG = np.random.default_rng(7)
LABELS = np.repeat(RNG.integers(0, 34, (9, 1)), 40, axis=1).astype(np.uint8)
LABELS[3:6] = RNG.integers(0, 255, (3, 40))
FLAVOURS = {  # colour type, pixels
    "grey8": (0, LABELS),
    "grey16": (0, LABELS.astype(np.uint16) * 1000 + RNG.integers(0, 999, LABELS.shape).astype(np.uint16)),
    "palette": (3, LABELS),
    "rgb": (2, RNG.integers(0, 255, (9, 40, 3)).astype(np.uint8)),
    "rgba": (6, RNG.integers(0, 255, (9, 40, 4)).astype(np.uint8)),
}
PALETTE = _chunk(b"PLTE", bytes(range(256)) * 3)
TRANSPARENCY = _chunk(b"tRNS", bytes([0, 128] + [255] * 30))


@pytest.mark.parametrize("flavour", sorted(FLAVOURS))
@pytest.mark.parametrize("filters", [(0,), (1,), (2,), (3,), (4,), (4, 3, 2, 1, 0)])
@pytest.mark.parametrize("compiled", [True, False])
def test_every_filter_and_flavour_equals_pillow(flavour, filters, compiled, monkeypatch):
    color_type, pixels = FLAVOURS[flavour]
    extra = (PALETTE, TRANSPARENCY) if color_type == 3 else ()
    data = make_png(pixels, color_type, filters, idat_parts=3, extra=extra)
    if not compiled:  # the NumPy twin of the unfilter, decoding the same stream
        monkeypatch.setattr(kernels, "_use_compiled", lambda compiled: False)
    ours = png.decode_png(data)
    assert ours is not None and ours.dtype == pixels.dtype
    assert np.array_equal(ours, pixels)
    assert np.array_equal(ours, pillow_pixels(data))


@pytest.mark.parametrize("channels", [1, 3])
@pytest.mark.parametrize("compiled, flat", [(True, False), (True, True), (False, False)])
def test_paeth_rows_in_every_tie(channels, compiled, flat, monkeypatch):
    """Every (left, up, upper-left) triple of values 0..15, where the Paeth predictor's ties fall:
    the decoded row is the encoded one, both where the compiled unfilter predicts with selects (a
    row of noise, as photos have) and with branches (a row mostly of a flat region, as label maps)."""
    values = np.arange(16)
    left, up, upper_left = (v.ravel() for v in np.meshgrid(values, values, values, indexing="ij"))
    top = np.stack([upper_left, up], axis=1).ravel()  # pixel 2k+1 predicts from up (2k+1), upper-left (2k)
    bottom = np.stack([left, RNG.integers(0, 256, left.size)], axis=1).ravel()  # and left (2k)
    pixels = np.stack([top, bottom]).astype(np.uint8)
    if flat:  # a region 15 times as wide, of one value: its filtered bytes are zeros
        pixels = np.hstack([pixels, np.full((2, 15 * pixels.shape[1]), 9, np.uint8)])
    if channels == 3:
        pixels = np.stack([pixels, 255 - pixels, pixels[:, ::-1]], axis=2)
    if not compiled:
        monkeypatch.setattr(kernels, "_use_compiled", lambda compiled: False)
    data = make_png(pixels, 0 if channels == 1 else 2, filters=(0, 4))
    assert np.array_equal(png.decode_png(data), pixels)
    assert np.array_equal(pillow_pixels(data), pixels)


@pytest.mark.parametrize("path", sorted(glob.glob(os.path.join(FIXTURES, "png", "*.png")))
                         + sorted(glob.glob(os.path.join(FIXTURES, "golden", "*", "*", "*.png")))[:40])
def test_opencv_and_golden_files_equal_pillow(path):
    data = open(path, "rb").read()
    ours = png.decode_png(data, path)
    assert ours is not None
    assert np.array_equal(ours, pillow_pixels(data)) and ours.dtype == pillow_pixels(data).dtype


@pytest.mark.parametrize("mode", ["L", "P", "I;16", "RGB", "RGBA"])
def test_pillow_written_files_use_our_decoder(mode, tmp_path):
    pixels = FLAVOURS[{"L": "grey8", "P": "palette", "I;16": "grey16", "RGB": "rgb", "RGBA": "rgba"}[mode]][1]
    image = Image.fromarray(pixels, mode="L" if mode == "P" else None)
    if mode == "P":
        image = image.convert("P")
        image.info["transparency"] = 0
    path = str(tmp_path / "x.png")
    image.save(path, transparency=0) if mode == "P" else image.save(path)
    data = open(path, "rb").read()
    assert np.array_equal(png.decode_png(data), pillow_pixels(data))
    reader = png.read_rgb if mode in ("RGB", "RGBA") else png.read_label_map
    expected = pillow_pixels(data)[..., :3] if mode == "RGBA" else pillow_pixels(data)
    assert np.array_equal(reader(path), expected)


@pytest.mark.parametrize("filters", [(0,), (1,), (2,), (3,), (4,), (4, 3, 2, 1, 0), (2, 2, 4, 0, 1, 3)])
@pytest.mark.parametrize("compiled", [True, False])
def test_mask_histogram_from_filtered_rows_equals_decoding_first(filters, compiled):
    """The instance evaluator counts ids under a mask as it unfilters the rows, skipping zero rows
    under zero rows: the counts of decoding the whole mask first, whatever the filters."""
    rng = np.random.default_rng(3)
    mask = np.zeros((23, 45), np.uint8)
    mask[4:7, 40:] = 255            # non-zero bytes only at the end of some rows
    mask[9] = 255                   # a full row, then zero rows whose Up / Average / Paeth bytes are not zero
    mask[15, 0] = 1                 # one byte at the start of a row
    mask[18:21] = rng.integers(0, 3, (3, 45))
    ids = rng.integers(0, 5, mask.shape).astype(np.uint16) * 1000 + 26
    raw, (height, width, channels, depth) = png.inflate_png(make_png(mask, 0, filters))
    assert (height, width, channels, depth) == (23, 45, 1, 8)
    hist, expected = np.zeros(65536, np.int64), np.zeros(65536, np.int64)
    expected[26] = hist[26] = 7      # an id counted before is not touched again
    pixels, touched, bad_row = kernels.grey_png_mask_histogram(raw, ids, hist, compiled=compiled)
    kernels.mask_histogram(mask, ids, expected, compiled=False)
    assert bad_row == -1 and pixels == int((mask != 0).sum()) and np.array_equal(hist, expected)
    assert sorted(touched.tolist()) == sorted(set(ids[mask != 0].tolist()) - {26})
    broken = raw.copy()
    broken[11 * 46] = 9             # row 11 of an unknown filter type: counting stops before it
    hist = np.zeros(65536, np.int64)
    pixels, _, bad_row = kernels.grey_png_mask_histogram(broken, ids, hist, compiled=compiled)
    assert bad_row == 11 and pixels == int((mask[:11] != 0).sum())


@pytest.mark.parametrize("filters", [(0,), (1,), (2,), (3,), (4,), (4, 3, 2, 1, 0)])
@pytest.mark.parametrize("channels", [3, 4])
@pytest.mark.parametrize("compiled", [True, False])
def test_camera_values_from_filtered_rows_equal_decoding_first(filters, channels, compiled):
    """csStats counts a camera image's R, G and B values as it unfilters the rows (alpha not
    counted): the counts of the decoded image's first three channels, per channel by hand; a row of
    an unknown filter type stops the counting there and is reported."""
    image = np.random.default_rng(4).integers(0, 9, (23, 61, channels)).astype(np.uint8) * 31
    raw, header = png.inflate_png(make_png(image, 2 if channels == 3 else 6, filters))
    counts, bad = kernels.rgb_png_value_counts(raw, (23, 61), channels, compiled=compiled)
    expected = np.array([[(image[..., c] == v).sum() for v in range(256)] for c in range(3)])
    assert bad == -1 and counts.shape == (3, 256) and np.array_equal(counts, expected)
    broken = raw.copy()
    broken[11 * (1 + channels * 61)] = 9
    counts, bad = kernels.rgb_png_value_counts(broken, (23, 61), channels, compiled=compiled)
    assert bad == 11 and counts.sum() == 3 * 11 * 61
    assert np.array_equal(counts, [[(image[:11, :, c] == v).sum() for v in range(256)] for c in range(3)])


@pytest.mark.parametrize("filters", [(0,), (1,), (2,), (3,), (4,), (4, 3, 2, 1, 0)])
@pytest.mark.parametrize("compiled", [True, False])
def test_segment_pairs_from_filtered_rows_equal_decoding_first(filters, compiled):
    """The panoptic evaluator counts segment pairs as it unfilters the rows of both PNGs, rows
    that repeat the rows above (blocks of rows here) by their runs: the counts of decoding them
    first, whatever the filters; a row of an unknown filter type in either image stops the
    counting there and is reported for that image."""
    rng = np.random.default_rng(5)
    colours = np.array([[0, 0, 0], [7, 0, 1], [7, 1, 0], [0, 7, 1], [200, 3, 9]], np.uint8)
    gt = colours[np.repeat(np.repeat(rng.integers(0, 5, (8, 6)), 3, 0), 11, 1)[:23, :61]]
    pred = colours[np.repeat(np.repeat(rng.integers(0, 5, (12, 9)), 2, 0), 7, 1)[:23, :61]]
    gt_keys, pred_keys = np.unique(rgb2id(gt)), np.unique(rgb2id(pred))[1:]  # the first predicted id unknown
    raws = [png.inflate_png(make_png(image, 2, filters))[0] for image in (gt, pred)]
    counts, unknown, bad_gt, bad_pred = kernels.rgb_png_pair_counts(*raws, (23, 61), gt_keys, pred_keys,
                                                                    compiled=compiled)
    expected, expected_unknown = kernels.segment_pair_counts(gt, pred, gt_keys, pred_keys, compiled=False)
    assert np.array_equal(counts, expected) and unknown == expected_unknown >= 0 and bad_gt == bad_pred == -1
    for broken_image in (0, 1):
        broken = [raw.copy() for raw in raws]
        broken[broken_image][11 * (1 + 3 * 61)] = 9  # row 11 of an unknown filter type
        counts, _, bad_gt, bad_pred = kernels.rgb_png_pair_counts(*broken, (23, 61), gt_keys, pred_keys,
                                                                  compiled=compiled)
        assert (bad_gt, bad_pred) == ((11, -1) if broken_image == 0 else (-1, 11))
        assert np.array_equal(counts, kernels.segment_pair_counts(gt[:11], pred[:11], gt_keys, pred_keys)[0])


@pytest.mark.parametrize("filters", [(0,), (1,), (2,), (3,), (4,), (4, 3, 2, 1, 0)])
@pytest.mark.parametrize("inst_depth", [16, 8, None])
@pytest.mark.parametrize("compiled", [True, False])
def test_pixel_counts_from_filtered_rows_equal_decoding_first(filters, inst_depth, compiled):
    """The pixel evaluator counts as it unfilters the rows of the label, prediction and instance
    PNGs, rows that repeat the rows above by their runs: the counts of decoding them first,
    whatever the filters and instance depth; a row of an unknown filter type in any stops the
    counting there and is reported for that image."""
    rng = np.random.default_rng(6)
    gt = np.repeat(np.repeat(rng.integers(20, 34, (8, 6)), 3, 0), 11, 1)[:23, :61].astype(np.uint8)
    pred = np.where(np.repeat(np.repeat(rng.integers(0, 2, (12, 9)), 2, 0), 7, 1)[:23, :61] == 1, gt, 26)
    pred = pred.astype(np.uint8)
    inst = gt.astype(np.uint16) * 1000 + np.repeat(np.repeat(rng.integers(0, 3, (8, 4)), 3, 0), 16, 1)[:23, :61]
    inst = inst.astype(np.uint16)
    if inst_depth == 8:
        inst = (inst % 256).astype(np.uint8)
    same = (rng.random((256, 256)) < 0.3).astype(np.uint8)
    raws = [png.inflate_png(make_png(image, 0, filters))[0] for image in (gt, pred)]
    inst_raw = None if inst_depth is None else png.inflate_png(make_png(inst, 0, filters))[0]

    def counts(gt_raw, pred_raw, inst_raw, rows=slice(None)):
        got, expected = [(np.zeros((256, 256), np.int64), [np.zeros(65536, np.int64) for _ in range(3)])
                         for _ in range(2)]
        bad = kernels.label_png_pixel_counts(gt_raw, pred_raw, inst_raw, (inst_depth or 8) // 8, (23, 61), same,
                                             got[0], *got[1], compiled=compiled)
        kernels.pixel_counts(gt[rows], pred[rows], None if inst_depth is None else inst[rows].astype(np.uint16),
                             same, expected[0], *expected[1], compiled=False)
        assert np.array_equal(got[0], expected[0]) and all(map(np.array_equal, got[1], expected[1]))
        return bad
    assert counts(*raws, inst_raw) == (-1, -1, -1)
    strides = {"gt": 61, "inst": 61 * (inst_depth or 8) // 8, "pred": 61}
    for broken_image in ("gt", "inst", "pred") if inst_depth else ("gt", "pred"):
        broken = {"gt": raws[0].copy(), "pred": raws[1].copy(), "inst": None if inst_raw is None else inst_raw.copy()}
        broken[broken_image][11 * (1 + strides[broken_image])] = 9  # row 11 of an unknown filter type
        bad = counts(broken["gt"], broken["pred"], broken["inst"], slice(0, 11))
        assert bad == tuple(11 if name == broken_image else -1 for name in ("gt", "inst", "pred"))


def test_read_grey_equals_pillow_convert(tmp_path):
    for name, (color_type, pixels) in FLAVOURS.items():
        path = tmp_path / f"{name}.png"
        path.write_bytes(make_png(pixels, color_type, extra=(PALETTE,) if color_type == 3 else ()))
        assert np.array_equal(png.read_grey(str(path)), np.asarray(Image.open(path).convert("L"))), name


# ---- the Pillow fallback, per file --------------------------------------------------
@pytest.mark.parametrize("make", [
    lambda tmp: Image.fromarray(LABELS > 10).save(tmp / "f.png") or tmp / "f.png",                  # 1 bit
    lambda tmp: Image.fromarray(LABELS // 16).convert("P").save(tmp / "f.png", bits=4) or tmp / "f.png",
    lambda tmp: Image.fromarray(np.dstack([LABELS, LABELS])).save(tmp / "f.png") or tmp / "f.png",   # LA
])
def test_flavours_we_leave_to_pillow(make, tmp_path):
    path = make(tmp_path)
    data = path.read_bytes()
    assert png.decode_png(data, str(path)) is None
    expected = pillow_pixels(data)
    if expected.ndim == 2:
        assert np.array_equal(png.read_label_map(str(path)), expected.astype(png.read_label_map(str(path)).dtype))
    else:
        assert np.array_equal(png.read_rgb(str(path)), np.asarray(Image.open(path).convert("RGB")))


def test_interlaced_files_go_to_pillow(tmp_path):
    pixels = FLAVOURS["grey8"][1]
    stream = zlib.compress(b"".join(b"\0" + r.tobytes() for r in _adam7_rows(pixels)))
    data = (png._SIGNATURE + _chunk(b"IHDR", struct.pack(">IIBBBBB", 40, 9, 8, 0, 0, 0, 1))
            + _chunk(b"IDAT", stream) + _chunk(b"IEND", b""))
    path = tmp_path / "adam7.png"
    path.write_bytes(data)
    assert png.decode_png(data) is None
    assert np.array_equal(png.read_label_map(str(path)), pixels)
    assert np.array_equal(pillow_pixels(data), pixels)


def _adam7_rows(pixels):
    passes = [(0, 0, 8, 8), (0, 4, 8, 8), (4, 0, 8, 4), (0, 2, 4, 4), (2, 0, 4, 2), (0, 1, 2, 2), (1, 0, 2, 1)]
    for y0, x0, dy, dx in passes:
        sub = pixels[y0::dy, x0::dx]
        if sub.size:
            yield from sub


@pytest.mark.parametrize("missing", ["libdeflate", "extension"])
def test_without_libdeflate_or_the_extension_pillow_reads(missing, tmp_path, monkeypatch):
    path = tmp_path / "x.png"
    path.write_bytes(make_png(FLAVOURS["grey16"][1], 0))
    if missing == "libdeflate":
        monkeypatch.setattr(png, "_libdeflate", None)
    else:
        monkeypatch.setattr(kernels, "HAVE_EXTENSION", False)
    assert png.decode_png(path.read_bytes()) is None
    assert np.array_equal(png.read_label_map(str(path)), FLAVOURS["grey16"][1])


# ---- bad files ----------------------------------------------------------------------
GOOD = make_png(LABELS, 0, idat_parts=2)


def _corrupt(data, pos, value):
    return data[:pos] + bytes([value]) + data[pos + 1:]


@pytest.mark.parametrize("data, message", [
    (_corrupt(GOOD, 45, GOOD[45] ^ 1), "CRC mismatch in chunk 'IDAT'"),
    (_corrupt(GOOD, 20, GOOD[20] ^ 1), "CRC mismatch in chunk 'IHDR'"),
    (GOOD[:len(GOOD) - 12], "ends before its IEND chunk"),
    (GOOD[:60], "runs past the end of the file"),
    (png._SIGNATURE + _chunk(b"IDAT", b"x") + GOOD[8:], "first chunk is 'IDAT'"),
    (GOOD[:33] + _chunk(b"ABCD", b"") + GOOD[33:], "unknown critical chunk 'ABCD'"),
    (GOOD[:33] + _chunk(b"IDAT", zlib.compress(b"\0" * 10)) + GOOD[-12:], "holds 10 bytes"),
    (GOOD[:33] + _chunk(b"IDAT", zlib.compress(b"\0" * 500)) + GOOD[-12:], "does not inflate"),
    (GOOD[:33] + _chunk(b"IDAT", zlib.compress(b"\x07" * 41 * 9)) + GOOD[-12:], "row 0 has unknown filter type 7"),
    (png._SIGNATURE + _chunk(b"IHDR", struct.pack(">IIBBBBB", 0, 9, 8, 0, 0, 0, 0)) + GOOD[33:],
     "declared size 0x9"),
])
def test_bad_files_are_errors_naming_the_file(data, message, tmp_path):
    path = tmp_path / "bad_labelIds.png"
    path.write_bytes(data)
    with pytest.raises(ImageError, match=message) as info:
        png.read_label_map(str(path))
    assert str(path) in str(info.value)


def test_decompression_bomb_is_refused_before_allocating(tmp_path):
    # 60000 x 60000 declared: 3.6 GB of pixels from a file of a few hundred bytes
    header = _chunk(b"IHDR", struct.pack(">IIBBBBB", 60000, 60000, 8, 0, 0, 0, 0))
    stream = zlib.compress(b"\0" * 60001 * 16)
    path = tmp_path / "bomb.png"
    path.write_bytes(png._SIGNATURE + header + _chunk(b"IDAT", stream) + _chunk(b"IEND", b""))
    for reader, message in ((png.read_label_map, r"60000x60000 is more than \d+ pixels .*MAX_PIXELS"),
                            (png.read_rgb, "60000x60000"), (png.read_grey, "60000x60000"),
                            (png.open_image, "60000x60000")):  # Pillow's own bomb check gives way to ours
        tracemalloc.start()
        with pytest.raises(ImageError, match=message):
            reader(str(path))
        assert tracemalloc.get_traced_memory()[1] < 10 << 20
        tracemalloc.stop()


def test_pixel_limit_can_be_raised(tmp_path, monkeypatch):
    path = tmp_path / "wide.png"
    path.write_bytes(make_png(LABELS, 0))
    with pytest.raises(ImageError, match="declared size 40x9 is more than 300 pixels"):
        png.read_label_map(str(path), max_pixels=300)
    assert png.read_label_map(str(path), max_pixels=360).shape == (9, 40)
    monkeypatch.setenv(limits.VARIABLE, "100")
    with pytest.raises(ImageError, match="more than 100 pixels"):
        png.read_label_map(str(path))
    Image.fromarray(LABELS).save(tmp_path / "x.tif")  # the Pillow path is limited too
    with pytest.raises(ImageError, match="more than 100 pixels"):
        png.read_label_map(str(tmp_path / "x.tif"))


@pytest.mark.parametrize("flavour", ["grey8", "palette", "rgb"])
def test_fuzzed_files_are_pillow_pixels_or_named_errors(flavour, tmp_path):
    """Flip random bytes: every result is either an ImageError naming the file or the true pixels."""
    color_type, pixels = FLAVOURS[flavour]
    good = make_png(pixels, color_type, idat_parts=2, extra=(PALETTE,) if color_type == 3 else ())
    read = png.read_rgb if color_type == 2 else png.read_label_map
    rng = np.random.default_rng(len(flavour))
    path = str(tmp_path / "fuzzed.png")
    errors = 0
    for trial in range(150):
        data = bytearray(good)
        for pos in rng.integers(0, len(data), rng.integers(1, 4)):
            data[pos] = (data[pos] + int(rng.integers(1, 256))) % 256
        with open(path, "wb") as f:
            f.write(data)
        try:
            decoded = read(path)
        except ImageError as e:
            assert path in str(e)
            errors += 1
            continue
        assert np.array_equal(decoded, pixels), f"trial {trial}: other pixels returned silently"
    assert errors > 100  # nearly every flip lands in a checked byte


def test_every_truncation_is_a_named_error(tmp_path):
    path = str(tmp_path / "cut.png")
    for length in range(0, len(GOOD) - 12, 7):  # anything short of the IEND chunk
        with open(path, "wb") as f:
            f.write(GOOD[:length])
        with pytest.raises(ImageError) as info:
            png.read_label_map(path)
        assert path in str(info.value)


@pytest.mark.parametrize("mode, read", [("L", png.read_grey), ("L", png.read_label_map), ("I;16", png.read_ids_16bit),
                                        ("RGBA", png.read_rgb)])
def test_read_filtered_gives_other_flavours_as_their_reader_does_from_one_read_of_the_file(mode, read, tmp_path,
                                                                                           monkeypatch):
    rng = np.random.default_rng(7)
    pixels = rng.integers(0, 200, (12, 9, 4) if mode == "RGBA" else (12, 9)).astype(np.uint16 if mode == "I;16"
                                                                                      else np.uint8)
    path = str(tmp_path / "image.png")
    Image.fromarray(pixels).save(path)  # mode from the dtype and shape: L, I;16 or RGBA
    real_read, reads, sizes = png._read_bytes, [], []
    monkeypatch.setattr(png, "_read_bytes", lambda p: reads.append(p) or real_read(p))
    image = png.read_filtered(path, {(2, 8)} if mode == "L" else {(0, 8)}, read, check_size=sizes.append)
    assert not isinstance(image, png.FilteredPNG)
    assert np.array_equal(image, pixels[..., :3] if mode == "RGBA" else pixels)
    assert reads == [path] and sizes == [(9, 12)]
    filtered = png.read_filtered(path, {(0, 8)} if mode == "L" else {(2, 8)}, read)
    assert isinstance(filtered, png.FilteredPNG) == (mode == "L")
