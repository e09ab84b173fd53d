"""Hostile and unusual input files, each built here with Pillow or by hand.

For every file the library either raises :class:`InvalidImageError` with a one-line message or
loads the right pixels; the command line prints one line and exits 1 (or succeeds); and no file
other than the requested output is created or changed.
"""

import hashlib
import io
import os
import struct
import subprocess
import sys
import warnings
import zlib
from pathlib import Path

import numpy as np
import pytest
from PIL import Image

from kmeans_compress import InvalidImageError, load_image
from kmeans_compress.cli import main

ROOT = Path(__file__).resolve().parents[1]
PNG_SIGNATURE = b"\x89PNG\r\n\x1a\n"


# --- building files by hand -------------------------------------------------------------------


def png_chunk(kind, data):
    return struct.pack(">I", len(data)) + kind + data + struct.pack(">I", zlib.crc32(kind + data) & 0xFFFFFFFF)


def raw_png(width, height, bit_depth, color_type, rows):
    """A PNG from raw scanlines (filter byte 0 added here)."""
    ihdr = struct.pack(">IIBBBBB", width, height, bit_depth, color_type, 0, 0, 0)
    raw = b"".join(b"\0" + row for row in rows)
    return PNG_SIGNATURE + png_chunk(b"IHDR", ihdr) + png_chunk(b"IDAT", zlib.compress(raw)) + png_chunk(b"IEND", b"")


def encoded(im, fmt, **params):
    buf = io.BytesIO()
    im.save(buf, format=fmt, **params)
    return buf.getvalue()


def noise(height, width, channels=3, seed=0):
    return np.random.default_rng(seed).integers(0, 256, (height, width, channels), dtype=np.uint8)


def idat_span(png):
    """(start of IDAT data, its length) in a PNG with one IDAT chunk."""
    at = png.index(b"IDAT")
    (length,) = struct.unpack(">I", png[at - 4 : at])
    return at + 4, length


def corrupt_idat(fix_crc):
    png = encoded(Image.fromarray(noise(32, 40)), "PNG")
    start, length = idat_span(png)
    data = bytearray(png[start : start + length])
    for i in range(6, 30):  # past the zlib header: garbage deflate stream
        data[i] ^= 0xFF
    crc = png[start + length : start + length + 4]
    if fix_crc:
        crc = struct.pack(">I", zlib.crc32(b"IDAT" + bytes(data)) & 0xFFFFFFFF)
    return png[:start] + bytes(data) + crc + png[start + length + 4 :]


def bomb(width, height):
    """A tiny PNG that declares a huge RGB image (its data stream is short)."""
    ihdr = struct.pack(">IIBBBBB", width, height, 8, 2, 0, 0, 0)
    return (
        PNG_SIGNATURE
        + png_chunk(b"IHDR", ihdr)
        + png_chunk(b"IDAT", zlib.compress(b"\0" * 4096))
        + png_chunk(b"IEND", b"")
    )


def text_chunk_bomb(kind=b"zTXt", megabytes=64):
    """A small PNG whose compressed text chunk inflates to ``megabytes`` of zeros (64 times
    Pillow's MAX_TEXT_CHUNK; built in 1 MiB pieces, so the test itself stays small)."""
    packer = zlib.compressobj(1)
    zeros = bytes(1 << 20)
    stream = b"".join(packer.compress(zeros) for _ in range(megabytes)) + packer.flush()
    png = encoded(Image.fromarray(noise(4, 4)), "PNG")
    ihdr_end = len(PNG_SIGNATURE) + 25  # signature, then the 25-byte IHDR chunk
    return png[:ihdr_end] + png_chunk(kind, b"Comment\0\0" + stream) + png[ihdr_end:]


def truncated(fmt):
    data = encoded(Image.fromarray(noise(64, 64)), fmt)
    return data[: len(data) // 2]


REFUSED = {
    "zero_bytes.png": lambda: b"",
    "text_named.png": lambda: b"this is not an image\n",
    "truncated.png": lambda: truncated("PNG"),
    "truncated.jpg": lambda: truncated("JPEG"),
    "corrupt_idat_wrong_crc.png": lambda: corrupt_idat(fix_crc=False),
    "corrupt_idat_right_crc.png": lambda: corrupt_idat(fix_crc=True),
    # above 2 * MAX_IMAGE_PIXELS: Pillow raises DecompressionBombError itself
    "bomb_100000x100000.png": lambda: bomb(100_000, 100_000),
    # between MAX_IMAGE_PIXELS and twice that: Pillow only warns; we refuse too
    "bomb_10000x9500.png": lambda: bomb(10_000, 9_500),
    # a text chunk that inflates to 64 MiB: Pillow stops at MAX_TEXT_CHUNK (1 MiB)
    "text_chunk_bomb.png": text_chunk_bomb,
}


# --- snapshots --------------------------------------------------------------------------------


def snapshot(folder):
    """Every file under ``folder``: relative path -> (size, mtime_ns, sha256)."""
    out = {}
    for path in sorted(Path(folder).rglob("*")):
        if path.is_file() or path.is_symlink():
            st = path.lstat()
            digest = hashlib.sha256(path.read_bytes()).hexdigest() if path.is_file() else os.readlink(path)
            out[str(path.relative_to(folder))] = (st.st_size, st.st_mtime_ns, digest)
    return out


def write(tmp_path, name, data):
    path = tmp_path / name
    path.write_bytes(data)
    return path


def run_cli(capsys, *argv):
    status = main([str(a) for a in argv])
    out, err = capsys.readouterr()
    return status, out, err


# --- refused files ----------------------------------------------------------------------------


@pytest.mark.parametrize("name", list(REFUSED), ids=list(REFUSED))
def test_library_refuses_with_one_line(tmp_path, name):
    path = write(tmp_path, name, REFUSED[name]())
    before = snapshot(tmp_path)
    with pytest.raises(InvalidImageError) as info:
        load_image(path)
    message = str(info.value)
    assert "\n" not in message
    assert message.startswith(str(path))
    assert snapshot(tmp_path) == before


def test_bomb_message_says_what_to_do(tmp_path):
    path = write(tmp_path, "bomb.png", bomb(10_000, 9_500))
    with pytest.raises(InvalidImageError, match=r"too large.*95000000 pixels.*MAX_IMAGE_PIXELS"):
        load_image(path)


@pytest.mark.parametrize("name", list(REFUSED), ids=list(REFUSED))
def test_cli_prints_one_line_and_exits_1(tmp_path, capsys, name):
    path = write(tmp_path, name, REFUSED[name]())
    out_png = tmp_path / "out.png"
    before = snapshot(tmp_path)
    status, out, err = run_cli(capsys, path, "-k", "4", "-o", out_png)
    assert status == 1
    assert out == ""
    lines = err.splitlines()
    assert len(lines) == 1, err
    assert lines[0].startswith("kmeans-compress: error: ") and str(path) in lines[0]
    assert "Traceback" not in err
    assert snapshot(tmp_path) == before  # no output, no temporary file, input untouched


def test_cli_bad_file_does_not_stop_the_batch(tmp_path, capsys):
    good = tmp_path / "good.png"
    Image.fromarray(noise(8, 8)).save(good)
    bad = write(tmp_path, "bad.png", b"")
    out_dir = tmp_path / "out"
    out_dir.mkdir()
    before = snapshot(tmp_path)
    status, out, err = run_cli(capsys, bad, good, "-k", "4", "--out-dir", out_dir)
    assert status == 1
    assert len(err.splitlines()) == 1 and "bad.png" in err
    assert len(out.splitlines()) == 2 and "good.png" in out.splitlines()[0]  # and the batch summary
    assert out.splitlines()[1].startswith("2 files: 1 written")
    after = snapshot(tmp_path)
    assert set(after) - set(before) == {"out/good-k4.png"}
    assert {p: after[p] for p in before} == before


@pytest.mark.parametrize("declared", [(100_000, 100_000), (10_000, 9_500)], ids=["error_zone", "warning_zone"])
def test_bomb_is_refused_before_decoding(tmp_path, declared):
    """Peak memory of a fresh process that tries the bomb stays far below the declared size."""
    path = write(tmp_path, "bomb.png", bomb(*declared))
    code = (
        "import sys\n"
        "from kmeans_compress._load import load_image, InvalidImageError\n"
        "try:\n"
        f"    load_image({str(path)!r})\n"
        "except InvalidImageError:\n"
        # VmHWM is this process's own peak; ru_maxrss would include the forking pytest's
        "    print(next(l.split()[1] for l in open('/proc/self/status') if l.startswith('VmHWM:')))\n"
    )
    done = subprocess.run(
        [sys.executable, "-c", code], cwd=ROOT, capture_output=True, text=True, timeout=60, check=True
    )
    peak_mib = int(done.stdout) / 1024  # VmHWM is in KiB
    declared_mib = declared[0] * declared[1] * 3 / 2**20
    assert peak_mib < 200 < declared_mib


# --- files that load, and load right ---------------------------------------------------------


def assert_cli_writes_only_output(tmp_path, capsys, path, k=4, n_warnings=0):
    out_png = tmp_path / "out.png"
    before = snapshot(tmp_path)
    # --allow-larger: tiny test images can give a PNG larger than the input, which is kept otherwise
    status, out, err = run_cli(capsys, path, "-k", k, "-o", out_png, "--allow-larger")
    assert status == 0, err
    assert len(out.splitlines()) == 1
    other_warnings = [line for line in err.splitlines() if "distinct colour" not in line]
    assert len(other_warnings) == n_warnings, err
    after = snapshot(tmp_path)
    assert set(after) == set(before) | {"out.png"}
    assert {p: after[p] for p in before} == before
    with Image.open(out_png) as im:
        assert im.mode == "P"
        return im.size, err


@pytest.mark.parametrize("size", [(1, 1), (100_000, 1), (1, 100_000)], ids=["1x1", "1x100000", "100000x1"])
def test_extreme_shapes(tmp_path, capsys, size):
    width, height = size
    pixels = noise(height, width)
    path = tmp_path / "in.png"
    Image.fromarray(pixels).save(path)
    assert np.array_equal(load_image(path), pixels)
    k = 1 if size == (1, 1) else 16
    assert assert_cli_writes_only_output(tmp_path, capsys, path, k=k)[0] == size


def test_16_bit_grey_png_is_scaled_not_clipped(tmp_path, capsys):
    values = np.array([[0, 128, 257, 32768, 65280, 65535]], dtype=">u2")
    path = write(tmp_path, "grey16.png", raw_png(6, 1, 16, 0, [values.tobytes()]))
    with Image.open(path) as im:
        assert im.mode.startswith("I")
    image = load_image(path)
    assert image.shape == (1, 6, 3)
    assert image[0, :, 0].tolist() == [0, 0, 1, 128, 254, 255]  # round(v * 255 / 65535)
    assert (image == image[:, :, :1]).all()
    assert_cli_writes_only_output(tmp_path, capsys, path)


def test_16_bit_grey_png_dark_values_are_not_taken_as_8_bit(tmp_path):
    values = np.array([[0, 100, 200, 255]], dtype=">u2")  # a very dark 16-bit scan
    path = write(tmp_path, "dark16.png", raw_png(4, 1, 16, 0, [values.tobytes()]))
    assert load_image(path)[0, :, 0].tolist() == [0, 0, 1, 1]


def test_16_bit_rgb_png_is_scaled(tmp_path):
    values = np.array([[[0, 257, 65535], [32768, 1000, 65280]]], dtype=">u2")
    path = write(tmp_path, "rgb16.png", raw_png(2, 1, 16, 2, [values.tobytes()]))
    expected = np.rint(values.astype(np.float64) * 255 / 65535)
    # Pillow decodes 16-bit RGB by keeping the high byte: off by at most one from rounding
    assert np.abs(load_image(path).astype(np.float64) - expected).max() <= 1


def test_cmyk_jpeg(tmp_path, capsys):
    path = tmp_path / "cmyk.jpg"
    cmyk = Image.new("CMYK", (16, 8), (0, 255, 255, 0))  # pure red in CMYK
    cmyk.paste((255, 0, 255, 0), (8, 0, 16, 8))  # pure green on the right half
    cmyk.save(path, quality=95)
    with Image.open(path) as im:
        assert im.mode == "CMYK"
    image = load_image(path)
    assert image.shape == (8, 16, 3)
    assert np.abs(image[4, 2].astype(int) - (255, 0, 0)).max() <= 8
    assert np.abs(image[4, 13].astype(int) - (0, 255, 0)).max() <= 8
    assert_cli_writes_only_output(tmp_path, capsys, path)


def test_animated_gif_first_frame_with_warning(tmp_path, capsys):
    path = tmp_path / "anim.gif"
    frames = [Image.new("RGB", (6, 4), c) for c in [(255, 0, 0), (0, 255, 0), (0, 0, 255)]]
    frames[0].save(path, save_all=True, append_images=frames[1:], duration=100, loop=0)
    with pytest.warns(UserWarning, match="3 frames; using the first"):
        image = load_image(path)
    assert image.shape == (4, 6, 3)
    assert (image == (255, 0, 0)).all()
    # the command line reads every frame instead: an APNG of the three frames, and no warning
    _, err = assert_cli_writes_only_output(tmp_path, capsys, path, n_warnings=0)
    assert "using the first" not in err
    with Image.open(tmp_path / "out.png") as im:
        assert im.n_frames == 3
        frames = []
        for i in range(3):
            im.seek(i)
            frames.append(im.convert("RGB").getpixel((0, 0)))
    assert frames == [(255, 0, 0), (0, 255, 0), (0, 0, 255)]


@pytest.mark.parametrize(
    ("transparency", "alphas"),
    [(1, [255, 0, 255, 0]), (bytes([255, 128, 0]), [255, 128, 0, 128])],
    ids=["one_index", "trns_table"],
)
def test_palette_png_with_transparency_keeps_alpha(tmp_path, capsys, transparency, alphas):
    path = tmp_path / "pal.png"
    im = Image.new("P", (4, 1))
    im.putpalette([255, 0, 0, 0, 255, 0, 0, 0, 255])
    im.putdata([0, 1, 2, 1])
    im.save(path, transparency=transparency)
    image = load_image(path)
    assert image.shape == (1, 4, 4)
    assert image[0, :, 3].tolist() == alphas
    assert image[0, 0, :3].tolist() == [255, 0, 0]
    assert_cli_writes_only_output(tmp_path, capsys, path)
    with Image.open(tmp_path / "out.png") as out:
        assert "transparency" in out.info
        assert np.array_equal(np.asarray(out.convert("RGBA"))[..., 3], image[..., 3])


def test_wrong_crc_on_good_data_is_decoded_as_pillow_does(tmp_path):
    """Pillow does not check IDAT CRCs; the data are intact, so the pixels come back exact."""
    pixels = noise(8, 8)
    png = bytearray(encoded(Image.fromarray(pixels), "PNG"))
    start, length = idat_span(bytes(png))
    png[start + length] ^= 0xFF
    path = write(tmp_path, "badcrc.png", bytes(png))
    assert np.array_equal(load_image(path), pixels)


# --- EXIF orientation ---------------------------------------------------------------------------

# What the camera stored for each orientation tag: the transform that undoes the tag's rotation.
STORED = {
    1: None,
    2: Image.Transpose.FLIP_LEFT_RIGHT,
    3: Image.Transpose.ROTATE_180,
    4: Image.Transpose.FLIP_TOP_BOTTOM,
    5: Image.Transpose.TRANSPOSE,
    6: Image.Transpose.ROTATE_90,
    7: Image.Transpose.TRANSVERSE,
    8: Image.Transpose.ROTATE_270,
}
QUADRANTS = [(255, 0, 0), (0, 255, 0), (0, 0, 255), (255, 255, 0)]  # top-left, top-right, bottom-left, bottom-right


def upright():
    """A 40x60 image with four differently coloured quadrants: every flip and turn shows."""
    image = np.empty((40, 60, 3), np.uint8)
    image[:20, :30], image[:20, 30:], image[20:, :30], image[20:, 30:] = QUADRANTS
    return image


def quadrant_means(image):
    h, w = image.shape[0] // 2, image.shape[1] // 2
    blocks = [
        image[4 : h - 4, 4 : w - 4],
        image[4 : h - 4, w + 4 : -4],
        image[h + 4 : -4, 4 : w - 4],
        image[h + 4 : -4, w + 4 : -4],
    ]
    return np.array([b.reshape(-1, 3).mean(axis=0) for b in blocks])


@pytest.mark.parametrize("fmt", ["JPEG", "PNG"])
@pytest.mark.parametrize("orientation", range(1, 9))
def test_exif_orientation_comes_back_upright(tmp_path, fmt, orientation):
    stored = Image.fromarray(upright())
    if STORED[orientation] is not None:
        stored = stored.transpose(STORED[orientation])
    exif = Image.Exif()
    exif[0x0112] = orientation
    path = tmp_path / f"photo.{fmt.lower()}"
    stored.save(path, format=fmt, exif=exif.tobytes(), **({"quality": 95} if fmt == "JPEG" else {}))
    image = load_image(path)
    assert image.shape == (40, 60, 3)
    assert np.abs(quadrant_means(image) - QUADRANTS).max() < 6  # JPEG is lossy: compare coarsely
    with Image.open(path) as im:  # a PIL image handed over directly is turned upright too
        assert np.abs(quadrant_means(load_image(im)) - QUADRANTS).max() < 6


def test_exif_rotated_jpeg_through_cli(tmp_path, capsys):
    stored = Image.fromarray(upright()).transpose(STORED[6])
    exif = Image.Exif()
    exif[0x0112] = 6
    path = tmp_path / "phone.jpg"
    stored.save(path, exif=exif.tobytes(), quality=95)
    assert assert_cli_writes_only_output(tmp_path, capsys, path)[0] == (60, 40)


def test_corrupt_exif_does_not_make_the_image_unreadable(tmp_path):
    pixels = noise(6, 5)
    path = tmp_path / "badexif.jpg"
    Image.fromarray(pixels).save(path, exif=b"Exif\x00\x00MM\x00*\x00\x00\x00\x08\xff\xff", quality=95)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        assert load_image(path).shape == (6, 5, 3)


# --- randomly damaged files -----------------------------------------------------------------------


def damaged(data, rng):
    """``data`` with a few random bytes changed, deleted or inserted."""
    out = bytearray(data)
    for _ in range(int(rng.integers(1, 9))):
        at = int(rng.integers(len(out)))
        op = rng.random()
        if op < 0.6:
            out[at] = int(rng.integers(256))
        elif op < 0.8:
            del out[at : at + int(rng.integers(1, 50))]
        else:
            out[at:at] = rng.integers(0, 256, int(rng.integers(1, 20)), dtype=np.uint8).tobytes()
    return bytes(out)


FUZZ_FORMATS = ["PNG", "JPEG", "GIF", "WEBP", "BMP", "TIFF", "ICO", "TGA"]


@pytest.mark.parametrize("fmt", FUZZ_FORMATS)
def test_randomly_damaged_files_load_or_refuse_cleanly(fmt):
    """200 damaged copies per format: each gives a uint8 image or InvalidImageError, one line."""
    good = encoded(Image.fromarray(noise(24, 32)), fmt)
    rng = np.random.default_rng(sum(map(ord, fmt)))
    outcomes = {"loaded": 0, "refused": 0}
    for _ in range(200):
        try:
            with warnings.catch_warnings():
                warnings.simplefilter("ignore")
                image = load_image(io.BytesIO(damaged(good, rng)))
        except InvalidImageError as exc:
            assert "\n" not in str(exc)
            outcomes["refused"] += 1
        else:
            assert image.dtype == np.uint8 and image.ndim == 3 and image.shape[2] in (3, 4)
            outcomes["loaded"] += 1
    assert outcomes["refused"] > 0


@pytest.mark.parametrize("fmt", FUZZ_FORMATS)
def test_cli_on_damaged_files_one_line_each(tmp_path, capfd, fmt):
    """Through the command line (stderr read at the file-descriptor level, so C libraries'
    messages would show): every damaged file gives exit 0 or exactly one error line."""
    good = encoded(Image.fromarray(noise(24, 32)), fmt)
    rng = np.random.default_rng(1 + sum(map(ord, fmt)))
    for i in range(8):
        path = write(tmp_path, f"damaged{i}.{fmt.lower()}", damaged(good, rng))
        status = main([str(path), "-k", "4", "-o", str(tmp_path / f"out{i}.png")])
        out, err = capfd.readouterr()
        errors = [line for line in err.splitlines() if "warning:" not in line]
        assert "Traceback" not in err
        if status == 1:
            assert len(errors) == 1 and errors[0].startswith("kmeans-compress: error: "), err
            assert out == ""
        else:
            assert status == 0 and errors == [] and len(out.splitlines()) == 1, err


@pytest.mark.parametrize(
    ("pixels", "key"),
    [
        (np.array([[[255, 0, 0], [0, 255, 0], [255, 0, 0]]], np.uint8), (255, 0, 0)),
        (np.array([[0, 128, 255]], np.uint8), 128),
    ],
    ids=["rgb", "grey"],
)
def test_png_colour_key_transparency_is_kept(tmp_path, capsys, pixels, key):
    """A tRNS chunk on an RGB or grey PNG makes every pixel of that one value transparent."""
    path = tmp_path / "key.png"
    Image.fromarray(pixels).save(path, transparency=key)
    image = load_image(path)
    assert image.shape == (1, 3, 4)
    with Image.open(path) as im:
        assert np.array_equal(image, np.asarray(im.convert("RGBA")))
    assert (image[..., 3] == 0).sum() in (1, 2) and (image[..., 3] == 255).sum() >= 1
    assert_cli_writes_only_output(tmp_path, capsys, path)
    with Image.open(tmp_path / "out.png") as out:
        assert np.array_equal(np.asarray(out.convert("RGBA"))[..., 3], image[..., 3])


def test_16_bit_grey_png_colour_key(tmp_path):
    values = np.array([[0, 1000, 65535, 1000]], dtype=">u2")
    trns = png_chunk(b"tRNS", struct.pack(">H", 1000))
    png = raw_png(4, 1, 16, 0, [values.tobytes()])
    at = png.index(b"IDAT") - 4
    path = write(tmp_path, "key16.png", png[:at] + trns + png[at:])
    image = load_image(path)
    assert image[0, :, 3].tolist() == [255, 0, 255, 0]
    assert image[0, :, 0].tolist() == [0, 4, 255, 4]
