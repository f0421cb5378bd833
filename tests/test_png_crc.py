"""Corrupted PNGs: every reader, every flavour, with and without the compiled decoder, either returns the
original pixels or raises ImageError naming the file; never other pixels."""
import io

import numpy as np
import pytest
from PIL import Image

from cityscapesscripts import kernels
from cityscapesscripts.errors import ImageError, PredictionError
from cityscapesscripts.io import png

CORRUPTIONS = 300  # random single-byte changes per flavour


def with_text_chunk(data):
    """PNG bytes with an ancillary tEXt chunk after IHDR: its CRC must be checked too."""
    after_header = 8 + 12 + 13
    return data[:after_header] + png._chunk(b"tEXt", b"Comment\0made for a test") + data[after_header:]


def pillow_png(image):
    buffer = io.BytesIO()
    image.save(buffer, "PNG")
    return buffer.getvalue()


def flavours():
    """``{name: PNG bytes}``: those our decoder reads (grey 8/16, palette, RGB, RGBA) and some left to
    Pillow (1-bit, grey with alpha), small, of random pixels."""
    rng = np.random.default_rng(24)
    grey = rng.integers(0, 256, (7, 13), dtype=np.uint8)
    rgb = rng.integers(0, 256, (7, 13, 3), dtype=np.uint8)
    found = {
        "grey8": png.encode_png(grey),
        "grey16": png.encode_png(rng.integers(0, 65536, (7, 13), dtype=np.uint16)),
        "palette": png.encode_png(grey % 4, palette=[[0, 0, 0], [255, 0, 0], [0, 255, 0], [0, 0, 255]]),
        "rgb": png.encode_png(rgb),
        "rgba": png.encode_png(rng.integers(0, 256, (7, 13, 4), dtype=np.uint8)),
        "bits1": pillow_png(Image.fromarray(grey > 127)),
        "grey_alpha": pillow_png(Image.fromarray(np.dstack([grey, grey[::-1]]), "LA")),
    }
    return {name: with_text_chunk(data) for name, data in found.items()}


def readers(flavour):
    """``{name: read(path)}``: every reader that takes an image of ``flavour``."""
    found = {
        "read_grey": png.read_grey,
        "read_rgb": png.read_rgb,
        "open_image": lambda path: np.asarray(png.open_image(path)),
        "read_filtered": lambda path: _pixels(png.read_filtered(path, {(0, 8), (0, 16), (3, 8), (2, 8), (6, 8)},
                                                                png.read_rgb)),
        "decode_png": lambda path: png.decode_png(open(path, "rb").read(), path),
    }
    if flavour not in ("rgb", "rgba", "grey_alpha"):  # single-channel readers
        found["read_label_map"] = png.read_label_map
        found["read_ids_16bit"] = png.read_ids_16bit
    return found


def _pixels(image):
    return image.pixels() if isinstance(image, png.FilteredPNG) else image


def read_or_error(read, path):
    try:
        return read(path)
    except ImageError as e:
        assert e.path == str(path), f"the error names {e.path}, not the file"
        return e


@pytest.mark.parametrize("decoder", ["compiled", "without the extension", "without libdeflate"])
def test_corrupted_pngs_are_an_error_naming_the_file_never_other_pixels(tmp_path, monkeypatch, decoder):
    if decoder == "without the extension":
        monkeypatch.setattr(kernels, "HAVE_EXTENSION", False)
    elif decoder == "without libdeflate":
        monkeypatch.setattr(png, "_libdeflate", None)
    rng = np.random.default_rng(5)
    path = tmp_path / "x.png"
    for flavour, data in flavours().items():
        path.write_bytes(data)
        expected = {name: read(path) for name, read in readers(flavour).items()}
        for name, pixels in expected.items():  # the intact file reads (decode_png: None when left to Pillow)
            assert not isinstance(pixels, ImageError), (flavour, name, pixels)
        for _ in range(CORRUPTIONS):
            position = int(rng.integers(0, len(data)))
            corrupted = bytearray(data)
            corrupted[position] ^= int(rng.integers(1, 256))
            path.write_bytes(bytes(corrupted))
            for name, read in readers(flavour).items():
                result = read_or_error(read, path)
                where = f"{flavour}, {name}, byte {position}"
                if position >= 8:  # inside a chunk: its length, type, data or CRC; never ignorable
                    assert isinstance(result, ImageError), where
                elif not isinstance(result, ImageError):  # the signature: not a PNG then, or Pillow's guess
                    original = expected[name]
                    if result is None:  # decode_png: not a PNG, left to the caller's Pillow
                        assert name == "decode_png", where
                    else:
                        assert (result.dtype, result.shape) == (original.dtype, original.shape), where
                        assert np.array_equal(result, original), where


def test_a_grey_png_with_corrupted_image_data_is_an_error_for_every_reader(tmp_path):
    """The case of the issue: read_rgb of a grey PNG went to Pillow, which checks no IDAT CRC."""
    path = tmp_path / "grey.png"
    path.write_bytes(corrupt_image_data(png.encode_png(np.arange(64, dtype=np.uint8).reshape(8, 8))))
    for name, read in readers("grey8").items():
        with pytest.raises(ImageError, match="CRC mismatch in chunk 'IDAT'") as e:
            read(path)
        assert e.value.path == str(path), name


def corrupt_image_data(data):
    at = data.index(b"IDAT") + 6  # a byte of the compressed data
    return data[:at] + bytes([data[at] ^ 0x10]) + data[at + 1:]


@pytest.mark.parametrize("compiled", [True, False])
def test_the_fused_decode_and_count_paths_refuse_corrupted_files(tmp_path, monkeypatch, compiled):
    """The evaluators count rows as they are unfiltered (semantic, instance masks, panoptic): a corrupted
    prediction fails before any row is counted, with or without the extension."""
    from cityscapesscripts.evaluation import instance_ap, panoptic_files, semantic_files
    monkeypatch.setattr(kernels, "HAVE_EXTENSION", compiled)
    labels = (np.arange(48, dtype=np.uint8).reshape(6, 8) % 30)
    ground_truth = tmp_path / "a_000000_000001_gtFine_labelIds.png"
    png.write_png(ground_truth, labels)
    prediction = tmp_path / "a_000000_000001_pred.png"
    prediction.write_bytes(corrupt_image_data(png.encode_png(labels)))
    with pytest.raises(ImageError, match="CRC mismatch") as e:
        semantic_files.evaluate_frame_files([str(prediction)], str(ground_truth), {"instance_scores": False})
    assert e.value.path == str(prediction)
    mask = instance_ap.Prediction(str(prediction), 26, 0.5, source="list.txt line 1")
    with pytest.raises(PredictionError, match=f"mask {prediction}: corrupted PNG: CRC mismatch") as e:
        instance_ap._histogram(mask, np.zeros((6, 8), np.uint16), np.zeros(kernels.INSTANCE_ID_SPACE, np.int64), "x")
    assert e.value.path == "list.txt line 1"
    panoptic_png = tmp_path / "a_000000_000001_panoptic.png"
    panoptic_png.write_bytes(corrupt_image_data(png.encode_png(np.dstack([labels] * 3))))
    with pytest.raises(ImageError, match="CRC mismatch") as e:
        panoptic_files._read_ids(str(panoptic_png))
    assert e.value.path == str(panoptic_png)
