import io
import warnings

import numpy as np
import pytest
from _helpers import saved
from PIL import Image

from kmeans_compress import InvalidImageError, OutputExistsError, encode_palette_png, load_image, save_palette_png
from kmeans_compress._encode import png_bit_depth
from kmeans_compress._load import image_from_array

RGB = np.array([[[255, 0, 0], [0, 255, 0]], [[0, 0, 255], [255, 255, 255]]], np.uint8)


# --- loading: every mode ------------------------------------------------------------------------


def test_rgb_path_and_file_object(tmp_path):
    path = tmp_path / "a.png"
    Image.fromarray(RGB).save(path)
    np.testing.assert_array_equal(load_image(path), RGB)
    np.testing.assert_array_equal(load_image(str(path)), RGB)
    with open(path, "rb") as fh:
        np.testing.assert_array_equal(load_image(fh), RGB)
    np.testing.assert_array_equal(load_image(Image.open(path)), RGB)


@pytest.mark.parametrize("mode", ["1", "L"])
def test_grey_modes_become_grey_rgb(mode):
    im = Image.new(mode, (3, 2), 1 if mode == "1" else 77)
    out = load_image(saved(im))
    assert out.shape == (2, 3, 3) and out.dtype == np.uint8
    assert np.all(out == (255 if mode == "1" else 77))


def test_la_keeps_alpha():
    im = Image.new("LA", (2, 2), (100, 50))
    out = load_image(saved(im))
    assert out.shape == (2, 2, 4)
    assert out[0, 0].tolist() == [100, 100, 100, 50]


def test_rgba_all_opaque_becomes_rgb():
    im = Image.new("RGBA", (2, 2), (1, 2, 3, 255))
    out = load_image(saved(im))
    assert out.shape == (2, 2, 3)


def test_palette_without_transparency_is_rgb():
    im = Image.fromarray(RGB).quantize(4)
    out = load_image(saved(im))
    assert out.shape == (2, 2, 3)
    np.testing.assert_array_equal(out, np.asarray(im.convert("RGB")))


def test_palette_with_transparency_keeps_alpha():
    im = Image.new("P", (2, 1))
    im.putpalette([10, 20, 30, 200, 100, 0])
    im.putpixel((1, 0), 1)
    out = load_image(saved(im, transparency=0))
    assert out.shape == (1, 2, 4)
    assert out[0, 0, 3] == 0 and out[0, 1].tolist() == [200, 100, 0, 255]


def test_sixteen_bit_grey_is_scaled_not_clipped():
    arr = np.array([[0, 257 * 100, 65535]], np.uint16)
    im = Image.fromarray(arr)  # mode I;16
    assert im.mode.startswith("I;16")
    out = load_image(saved(im))
    assert out[0, :, 0].tolist() == [0, 100, 255]


def test_int32_and_float_modes():
    i32 = Image.fromarray(np.array([[0, 1000, 65535]], np.int32))
    assert i32.mode == "I"
    assert load_image(i32)[0, :, 0].tolist() == [0, 4, 255]
    f01 = Image.fromarray(np.array([[0.0, 0.5, 1.0]], np.float32))
    assert f01.mode == "F"
    assert load_image(f01)[0, :, 0].tolist() == [0, 128, 255]


@pytest.mark.parametrize("mode", ["CMYK", "YCbCr"])
def test_other_colour_models_convert_to_rgb(mode):
    im = Image.fromarray(RGB).convert(mode)
    out = load_image(im)
    assert out.shape == (2, 2, 3)
    np.testing.assert_allclose(out.astype(int), np.asarray(im.convert("RGB")).astype(int), atol=0)


def test_exif_orientation_applied():
    arr = np.zeros((2, 3, 3), np.uint8)
    arr[0, 0] = (255, 0, 0)  # red top-left
    im = Image.fromarray(arr)
    exif = Image.Exif()
    exif[0x0112] = 6  # rotate 90 CW to display
    out = load_image(saved(im, exif=exif.tobytes()))
    assert out.shape == (3, 2, 3)
    assert out[0, 1].tolist() == [255, 0, 0]  # top-right after the rotation


def test_multiframe_first_frame_with_warning():
    frames = [Image.new("RGB", (4, 4), c) for c in [(255, 0, 0), (0, 0, 255)]]
    buf = io.BytesIO()
    frames[0].save(buf, format="GIF", save_all=True, append_images=frames[1:])
    buf.seek(0)
    with pytest.warns(UserWarning, match="has 2 frames; using the first"):
        out = load_image(buf)
    assert out[0, 0].tolist() == [255, 0, 0]


def test_decompression_bomb_refused(monkeypatch):
    monkeypatch.setattr(Image, "MAX_IMAGE_PIXELS", 10)
    buf = saved(Image.new("RGB", (10, 10)))
    with pytest.raises(InvalidImageError, match="too large"):
        load_image(buf)


@pytest.mark.parametrize(
    ("content", "match"),
    [(b"", "not an image file"), (b"hello, not a picture", "not an image file")],
    ids=["empty", "text"],
)
def test_unreadable_files(tmp_path, content, match):
    path = tmp_path / "bad.png"
    path.write_bytes(content)
    with pytest.raises(InvalidImageError, match=match) as info:
        load_image(path)
    assert "\n" not in str(info.value)


def test_missing_file(tmp_path):
    with pytest.raises(InvalidImageError, match="no such file"):
        load_image(tmp_path / "nope.png")


# --- arrays ---------------------------------------------------------------------------------------


def test_array_conversions():
    assert image_from_array(np.full((2, 2), 7, np.uint8)).shape == (2, 2, 3)
    assert image_from_array(np.ones((2, 2), bool)).max() == 255
    assert image_from_array(np.full((1, 1, 3), 65535, np.uint16)).tolist() == [[[255, 255, 255]]]
    assert image_from_array(np.full((1, 1, 3), 0.5)).tolist() == [[[128, 128, 128]]]
    assert image_from_array(np.zeros((1, 1, 2), np.uint8)).shape == (1, 1, 4)


@pytest.mark.parametrize(
    ("arr", "exc", "match"),
    [
        (np.zeros((2, 2, 5), np.uint8), ValueError, "Expected an image of shape"),
        (np.zeros((0, 2, 3), np.uint8), ValueError, "non-empty"),
        (np.full((1, 1, 3), 2.0), ValueError, r"values in \[0, 1\]"),
        (np.zeros((1, 1, 3), np.int64), TypeError, "dtype"),
    ],
    ids=["channels", "empty", "float-range", "int64"],
)
def test_array_validation(arr, exc, match):
    with pytest.raises(exc, match=match):
        image_from_array(arr)


# --- saving -------------------------------------------------------------------------------------------


@pytest.mark.parametrize(("k", "bits"), [(1, 1), (2, 1), (3, 2), (4, 2), (5, 4), (16, 4), (17, 8), (256, 8)])
def test_bit_depth_grows_with_k(k, bits):
    assert png_bit_depth(k) == bits
    palette = np.stack([np.arange(k), np.zeros(k), np.zeros(k)], axis=1).astype(np.uint8)
    labels = (np.arange(64) % k).reshape(8, 8).astype(np.uint8)
    data = encode_palette_png(palette, labels)
    assert data[24] == bits and data[25] == 3  # IHDR bit depth, colour type 3 (indexed)
    im = Image.open(io.BytesIO(data))
    assert im.mode == "P"
    np.testing.assert_array_equal(np.asarray(im), labels)
    assert len(im.getpalette()) // 3 == k


@pytest.mark.parametrize("k", [0, 257, 3.0])
def test_bit_depth_rejects_out_of_range(k):
    with pytest.raises(ValueError, match="A PNG palette holds 1 to 256 colours"):
        png_bit_depth(k)


def test_rgba_palette_writes_trns():
    palette = np.array([[0, 0, 0, 0], [255, 0, 0, 128], [0, 255, 0, 255]], np.uint8)
    labels = np.array([[0, 1, 2]], np.uint8)
    data = encode_palette_png(palette, labels)
    assert b"tRNS" in data
    out = np.asarray(Image.open(io.BytesIO(data)).convert("RGBA"))
    np.testing.assert_array_equal(out[0], palette)


@pytest.mark.parametrize(
    ("palette", "labels", "match"),
    [
        (np.zeros((2, 3), np.float32), np.zeros((2, 2), np.uint8), "palette must be a uint8 array"),
        (np.zeros((2, 3), np.uint8), np.full((2, 2), 2, np.uint8), r"labels must be integers in 0..1"),
        (np.zeros((2, 3), np.uint8), np.zeros((4,), np.uint8), "labels must be a non-empty 2-D array"),
        (np.zeros((300, 3), np.uint8), np.zeros((2, 2), np.uint8), "1 to 256 colours"),
    ],
    ids=["palette-dtype", "label-range", "label-shape", "too-many"],
)
def test_encode_validation(palette, labels, match):
    with pytest.raises(ValueError, match=match):
        encode_palette_png(palette, labels)


def test_save_atomic_no_overwrite(tmp_path):
    palette = np.array([[0, 0, 0], [255, 255, 255]], np.uint8)
    labels = np.eye(4, dtype=np.uint8)
    out = tmp_path / "out.png"
    n = save_palette_png(out, palette, labels)
    assert n == out.stat().st_size
    before = out.read_bytes()
    with pytest.raises(OutputExistsError, match="already exists"):
        save_palette_png(out, palette, 1 - labels)
    assert out.read_bytes() == before
    save_palette_png(out, palette, 1 - labels, overwrite=True)
    assert out.read_bytes() != before
    assert sorted(p.name for p in tmp_path.iterdir()) == ["out.png"]  # no temporary files left


def test_save_refuses_input_even_with_overwrite(tmp_path):
    src = tmp_path / "in.png"
    Image.fromarray(RGB).save(src)
    before = src.read_bytes()
    link = tmp_path / "link.png"
    link.symlink_to(src)
    palette = np.zeros((1, 3), np.uint8)
    for target in (src, link):
        with pytest.raises(OutputExistsError, match="input file"):
            save_palette_png(target, palette, np.zeros((2, 2), np.uint8), overwrite=True, inputs=[src])
    assert src.read_bytes() == before


def test_identical_bytes_twice():
    rng = np.random.default_rng(0)
    palette = rng.integers(0, 256, (16, 3), dtype=np.uint8)
    labels = rng.integers(0, 16, (20, 30), dtype=np.uint8)
    assert encode_palette_png(palette, labels) == encode_palette_png(palette, labels)


def test_no_warnings_on_plain_load(tmp_path):
    path = tmp_path / "a.png"
    Image.fromarray(RGB).save(path)
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        load_image(path)


@pytest.mark.parametrize(
    "palette",
    [
        [[0, 0, 0, 0], [228, 169, 6, 10], [24, 68, 20, 255], [4, 83, 119, 255]],  # an opaque entry follows
        [[0, 0, 0, 0], [203, 163, 151, 10]],  # the entry of alpha 10 is the last
        [[9, 9, 9, 255], [0, 0, 0, 0], [14, 45, 160, 10]],
    ],
    ids=["opaque-after", "last", "opaque-first"],
)
def test_alpha_10_after_a_transparent_entry_reads_back(palette):
    # Pillow's reader takes a tRNS of 255s, one 0, 255s and a final 10 (a newline byte) for a
    # single transparent index; the encoder writes a file that any reader, Pillow included, reads right
    palette = np.array(palette, np.uint8)
    labels = np.arange(len(palette), dtype=np.uint8)[None].repeat(3, axis=0)
    for optimizer in ("auto", "pillow"):
        with Image.open(io.BytesIO(encode_palette_png(palette, labels, optimizer=optimizer))) as im:
            np.testing.assert_array_equal(np.asarray(im.convert("RGBA")), palette[labels])


@pytest.mark.parametrize("mode", ["RGB", "RGBA"])
def test_big_images_are_read_in_bands_of_rows(mode, monkeypatch):
    import kmeans_compress._load as load_mod

    pixels = np.random.default_rng(3).integers(0, 256, (37, 5, len(mode)), dtype=np.uint8)
    buffer = io.BytesIO()
    Image.fromarray(pixels, mode).save(buffer, format="PNG")
    monkeypatch.setattr(load_mod, "_ROWS_PIXELS", 5 * 4)  # bands of 4 rows, the last one of 1
    image, _ = load_mod.read_image(io.BytesIO(buffer.getvalue()))
    np.testing.assert_array_equal(image, pixels)


def test_write_makes_folders_only_for_a_file_and_removes_them_when_it_fails(tmp_path, monkeypatch):
    import os

    from kmeans_compress._write import write_bytes_atomic

    out = tmp_path / "a" / "b" / "x.png"
    assert write_bytes_atomic(out, b"data", make_folders=True) == 4
    assert out.read_bytes() == b"data"

    def no_space(fd):
        raise OSError(28, "No space left on device")

    monkeypatch.setattr(os, "fsync", no_space)
    target = tmp_path / "c" / "d" / "y.png"
    with pytest.raises(OSError) as raised:
        write_bytes_atomic(target, b"data", make_folders=True)
    # the output asked for and its folder, in words; the errno kept; no temporary name
    assert str(raised.value) == f"{target}: no space left on the device holding {target.parent}/"
    assert raised.value.errno == 28
    assert sorted(p.name for p in tmp_path.iterdir()) == ["a"]  # c/d made for the file, then removed
    with pytest.raises(FileNotFoundError, match="does not exist"):
        write_bytes_atomic(tmp_path / "e" / "z.png", b"data")
    assert not (tmp_path / "e").exists()
