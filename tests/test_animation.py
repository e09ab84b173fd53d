"""Animations in and out: frames read as a viewer composites them, written as GIF, APNG and WebP."""

import io
import shutil
import subprocess

import numpy as np
import pytest
from PIL import Image

from kmeans_compress import ColorHistogram, InvalidImageError, KMeansQuantizer, choose_k, psnr, ssim
from kmeans_compress._encode import GIF_ALPHA_THRESHOLD, encode_palette, gif_alpha
from kmeans_compress._formats import FORMATS, output_format
from kmeans_compress.animation import Animation, AnimationSweep, compress_animation, encode_animation, read_animation

DURATIONS = (100, 110, 120, 130, 140)


def random_labels(n=5, height=12, width=20, k=16, seed=0):
    """Frames of random labels, each different from the one before."""
    rng = np.random.default_rng(seed)
    labels = rng.integers(0, k, (n, height, width), dtype=np.uint8)
    labels[1:, height // 2 :] = labels[:1, height // 2 :]  # a lower half that never changes
    return labels


def palette_of(k=16, channels=3, seed=0):
    rng = np.random.default_rng(seed)
    palette = rng.integers(0, 256, (k, channels), dtype=np.uint8)
    if channels == 4:
        palette[0] = 0  # fully transparent
        palette[1:8, 3] = 255
        palette[8, 3] = 60  # partial: below GIF's threshold
        palette[9, 3] = 200  # partial: above it
    return palette


def expected_frames(palette, labels, fmt):
    """What every frame of a written file must decode to."""
    frames = (gif_alpha(palette) if fmt == "gif" else palette)[labels]
    if frames.shape[-1] == 4:
        if np.all(frames[..., 3] == 255):
            return frames[..., :3]
        frames = frames.copy()
        frames[frames[..., 3] == 0] = 0
    return frames


def pan(n=6, height=24, width=32):
    """A pan across a smooth picture: every frame differs, most colours recur."""
    y, x = np.mgrid[0:height, 0 : width + 4 * n]
    picture = np.stack([x * 3 % 256, y * 9 % 256, (x + 2 * y) % 256], -1).astype(np.uint8)
    return Animation(np.stack([picture[:, 4 * i : 4 * i + width] for i in range(n)]), (80,) * n, 0)


# --- round trips: every frame decodes to the quantized frames, timing kept ---------------------


@pytest.mark.parametrize("channels", [3, 4], ids=["rgb", "rgba"])
@pytest.mark.parametrize("fmt", ["gif", "png", "webp"])
@pytest.mark.parametrize("unchanged", [False, True], ids=["full", "unchanged-clear"])
def test_round_trip_exact(fmt, channels, unchanged):
    palette, labels = palette_of(channels=channels), random_labels()
    data = encode_animation(palette, labels, format=fmt, durations=DURATIONS, loop=3, unchanged_transparent=unchanged)
    back = read_animation(data)
    np.testing.assert_array_equal(back.frames, expected_frames(palette, labels, fmt))
    assert back.durations == DURATIONS
    assert back.loop == 3
    assert back.format == {"gif": "GIF", "png": "PNG", "webp": "WEBP"}[fmt]


@pytest.mark.parametrize("loop", [0, 1, 2])
def test_gif_loop_count_means_plays(loop):
    data = encode_animation(palette_of(), random_labels(), format="gif", loop=loop)
    assert read_animation(data).loop == loop
    with Image.open(io.BytesIO(data)) as im:  # the NETSCAPE count is of repeats; none: played once
        assert im.info.get("loop") == (None if loop == 1 else max(loop - 1, 0))


def test_gif_one_global_colour_table_when_shared():
    data = encode_animation(palette_of(), random_labels(), format="gif")
    # Image descriptors: 0x2C, then 8 bytes, then the packed field whose top bit says "local table"
    with Image.open(io.BytesIO(data)) as im:
        assert len(im.getpalette()) == 16 * 3
    positions = [i for i in range(len(data) - 10) if data[i] == 0x2C and data[i - 1] == 0]
    assert positions and all(data[p + 9] & 0x80 == 0 for p in positions)


def test_per_frame_palettes_round_trip():
    labels = random_labels()
    palettes = [palette_of(seed=i) for i in range(len(labels))]
    for fmt in ("gif", "png", "webp"):
        back = read_animation(encode_animation(palettes, labels, format=fmt, durations=DURATIONS))
        np.testing.assert_array_equal(back.frames, np.stack([p[lab] for p, lab in zip(palettes, labels, strict=True)]))


def test_gif_partial_alpha_threshold():
    t = GIF_ALPHA_THRESHOLD
    palette = np.array([[10, 20, 30, t - 1], [40, 50, 60, t], [0, 0, 0, 0]], np.uint8)
    labels = np.array([[0, 1, 2]], np.uint8)
    back = read_animation(encode_palette(palette, labels, format="gif")).frames[0]
    np.testing.assert_array_equal(back, [[[0, 0, 0, 0], [40, 50, 60, 255], [0, 0, 0, 0]]])


def test_still_gif_format_row():
    assert output_format("x.GIF") == "gif"
    assert not FORMATS["gif"].alpha and not FORMATS["gif"].icc_profile
    palette = np.array([[255, 0, 0], [0, 0, 255], [0, 255, 0]], np.uint8)
    labels = np.array([[0, 1], [2, 0]], np.uint8)
    with Image.open(io.BytesIO(encode_palette(palette, labels, format="gif"))) as im:
        assert im.format == "GIF" and im.mode == "P"
        np.testing.assert_array_equal(np.asarray(im.convert("RGB")), palette[labels])


def test_identical_frames_play_the_same():
    labels = random_labels(n=3)
    labels[2] = labels[1]
    back = read_animation(encode_animation(palette_of(), labels, format="gif", durations=(100, 200, 300)))
    assert back.n_frames == 2 and back.durations == (100, 500)  # stored once, shown as long


# --- reading: composited as a viewer shows them -------------------------------------------------


def sub_rectangle_gif(disposal):
    """Frame 2 redraws a 4x4 square of frame 1 (Pillow stores only that rectangle, at an offset)."""
    first = np.zeros((10, 12, 3), np.uint8)
    first[..., 0] = 200
    second = first.copy()
    second[3:7, 5:9] = (0, 0, 255)
    frames = [Image.fromarray(f).convert("P", palette=Image.Palette.ADAPTIVE, colors=4) for f in (first, second)]
    buf = io.BytesIO()
    frames[0].save(buf, format="GIF", save_all=True, append_images=frames[1:], disposal=disposal, duration=50)
    return buf.getvalue(), np.stack([first, second])


def test_frame_offsets_composited():
    data, expected = sub_rectangle_gif(disposal=1)
    back = read_animation(data)
    np.testing.assert_array_equal(back.frames, expected)


def test_apng_blend_over_previous_frame():
    base = np.zeros((6, 6, 4), np.uint8)
    base[...] = (0, 128, 0, 255)
    top = np.zeros((6, 6, 4), np.uint8)
    top[2:4, 2:4] = (255, 0, 0, 255)  # the rest transparent: blended over, the green shows
    buf = io.BytesIO()
    Image.fromarray(base).save(
        buf, format="PNG", save_all=True, append_images=[Image.fromarray(top)], blend=[0, 1], disposal=[0, 0],
        duration=40,
    )
    back = read_animation(buf.getvalue())
    expected = base[..., :3].copy()
    expected[2:4, 2:4] = (255, 0, 0)
    np.testing.assert_array_equal(back.frames[1], expected)


@pytest.mark.skipif(shutil.which("ffmpeg") is None, reason="ffmpeg not installed")
@pytest.mark.parametrize("fmt", ["gif", "png"])
def test_frames_match_ffmpeg_decoder(fmt, tmp_path):
    """An independent decoder composites the written files' frames the same way."""
    palette, labels = palette_of(channels=3), random_labels(n=4)
    path = tmp_path / f"a.{'apng' if fmt == 'png' else fmt}"
    path.write_bytes(encode_animation(palette, labels, format=fmt, unchanged_transparent=True))
    raw = subprocess.run(
        ["ffmpeg", "-v", "error", "-i", str(path), "-f", "rawvideo", "-pix_fmt", "rgb24", "-vsync", "0", "-"],
        capture_output=True, check=True,
    ).stdout
    ffmpeg_frames = np.frombuffer(raw, np.uint8).reshape(-1, *labels.shape[1:], 3)
    np.testing.assert_array_equal(ffmpeg_frames, read_animation(path).frames)


def test_still_is_one_frame():
    image = np.arange(2 * 3 * 3, dtype=np.uint8).reshape(2, 3, 3)
    buf = io.BytesIO()
    Image.fromarray(image).save(buf, format="PNG")
    anim = read_animation(buf.getvalue())
    assert anim.n_frames == 1
    np.testing.assert_array_equal(anim.frames[0], image)


# --- bad input: one line, never a traceback or a hang -------------------------------------------


def test_truncated_animation_one_line():
    data = encode_animation(palette_of(), random_labels(n=8, height=40, width=40), format="gif")
    with pytest.raises(InvalidImageError, match=r"^<bytes>|^BytesIO") as info:
        read_animation(io.BytesIO(data[: len(data) // 2]))
    assert "\n" not in str(info.value)


def test_not_an_image_one_line(tmp_path):
    path = tmp_path / "x.gif"
    path.write_bytes(b"GIF89a but not really")
    with pytest.raises(InvalidImageError, match=r"x\.gif: ") as info:
        read_animation(path)
    assert "\n" not in str(info.value)
    with pytest.raises(InvalidImageError, match="no such file"):
        read_animation(tmp_path / "missing.gif")


def test_decompression_bomb_counted_over_all_frames(monkeypatch):
    data = encode_animation(palette_of(), random_labels(n=5, height=10, width=10), format="gif")
    monkeypatch.setattr(Image, "MAX_IMAGE_PIXELS", 450)  # one frame (100) passes, five (500) do not
    expected = r"5 frames of 10x10 are 500 pixels, more than .*MAX_IMAGE_PIXELS \(450\)"
    with pytest.raises(InvalidImageError, match=expected):
        read_animation(data)


def test_ten_thousand_frames_of_one_pixel():
    labels = (np.arange(10_000) % 2).astype(np.uint8).reshape(-1, 1, 1)
    black_white = np.array([[0, 0, 0], [255, 255, 255]], np.uint8)
    data = encode_animation(black_white, labels, format="gif", durations=[20] * 10_000)
    anim = read_animation(data)
    assert anim.frames.shape == (10_000, 1, 1, 3)
    np.testing.assert_array_equal(anim.frames[:, 0, 0, 0], labels[:, 0, 0] * 255)


def test_mixed_modes_become_one():
    """A GIF whose later frames have more colours than the first's table (Pillow reads them as RGB)."""
    first = Image.new("P", (4, 4), 0)
    first.putpalette([9, 9, 9, 200, 0, 0])
    second = Image.fromarray(np.arange(48, dtype=np.uint8).reshape(4, 4, 3))
    buf = io.BytesIO()
    first.save(buf, format="GIF", save_all=True, append_images=[second])
    anim = read_animation(buf.getvalue())
    assert anim.frames.shape == (2, 4, 4, 3)
    np.testing.assert_array_equal(anim.frames[0], np.full((4, 4, 3), 9))


def test_encode_validation():
    with pytest.raises(ValueError, match="format must be one of"):
        encode_animation(palette_of(), random_labels(), format="jpeg")
    with pytest.raises(ValueError, match=r"shape \(n_frames, H, W\)"):
        encode_animation(palette_of(), random_labels()[0], format="gif")
    with pytest.raises(ValueError, match="3 durations for 5 frames"):
        encode_animation(palette_of(), random_labels(), durations=[1, 2, 3])
    with pytest.raises(ValueError, match=r"labels must be integers in 0\.\.15"):
        encode_animation(palette_of(), random_labels(k=17, seed=3))


# --- one palette over all frames, and what is measured ------------------------------------------


def test_fit_on_frames_is_fit_on_their_stack():
    anim = pan()
    by_list = KMeansQuantizer(8, random_state=0).fit(list(anim.frames))
    by_stack = KMeansQuantizer(8, random_state=0).fit(anim.stacked)
    np.testing.assert_array_equal(by_list.palette_, by_stack.palette_)
    merged = ColorHistogram.merge(ColorHistogram.from_image(f) for f in anim.frames)
    assert merged.n_pixels == anim.stacked.shape[0] * anim.stacked.shape[1]


@pytest.mark.parametrize("fmt", ["gif", "png", "webp"])
def test_compress_animation_one_palette_measured_over_all_frames(fmt):
    anim = pan()
    result = compress_animation(anim, 8, format=fmt)
    assert len(result.palettes) == 1
    back = read_animation(result.data)
    quantized = result.palettes[0][result.labels]
    np.testing.assert_array_equal(back.frames, quantized)
    assert back.durations == anim.durations and back.loop == anim.loop
    m = result.measurement
    assert (m.frames, m.width, m.height, m.bytes_out) == (6, 32, 24, len(result.data))
    assert m.psnr == pytest.approx(psnr(anim.stacked, quantized.reshape(anim.stacked.shape)), abs=1e-9)
    assert m.ssim == pytest.approx(np.mean([ssim(a, b) for a, b in zip(anim.frames, quantized, strict=True)]), abs=1e-9)
    assert m.bits_per_pixel == pytest.approx(8 * len(result.data) / (6 * 32 * 24))


def test_palette_per_frame():
    anim = pan()
    result = compress_animation(anim, 4, format="webp", palette="per-frame")
    assert len(result.palettes) == anim.n_frames
    quantized = np.stack([p[lab] for p, lab in zip(result.palettes, result.labels, strict=True)])
    np.testing.assert_array_equal(read_animation(result.data).frames, quantized)
    assert result.measurement.psnr == pytest.approx(psnr(anim.stacked, quantized.reshape(anim.stacked.shape)), abs=1e-9)


def test_gif_thresholds_alpha_before_fitting():
    frames = np.zeros((2, 4, 4, 4), np.uint8)
    frames[..., :3] = 90
    frames[..., 3] = 255
    frames[0, 0, 0, 3] = 100  # becomes transparent
    frames[1, 0, 0, 3] = 140  # becomes opaque
    result = compress_animation(Animation(frames, (50, 50), 0), 2, format="gif")
    back = read_animation(result.data).frames
    assert back[0, 0, 0, 3] == 0 and back[1, 0, 0, 3] == 255 and np.all(back[:, 1:, :, 3] == 255)
    assert result.measurement.psnr == float("inf")  # exact against what GIF can hold


def test_choose_k_on_an_animation():
    job = AnimationSweep(pan(), format="png")
    choice = choose_k(job, min_psnr=30)
    assert choice.row.psnr >= 30 and choice.row.frames == 6
    smaller = [r for r in choice.rows if r.k < choice.k]
    assert all(r.psnr < 30 for r in smaller)
    result = compress_animation(pan(), "auto", format="png", min_psnr=30)
    assert result.measurement.k == choice.k and result.choice is not None


def test_compress_animation_validation():
    with pytest.raises(ValueError, match="palette must be one of"):
        compress_animation(pan(), 4, palette="each")
    with pytest.raises(ValueError, match="for an animation"):
        compress_animation(pan(), 4, format="jpeg")
    with pytest.raises(ValueError, match="pass n_colors='auto'"):
        compress_animation(pan(), 4, min_psnr=30)


def test_still_written_as_gif_thresholds_alpha():
    from kmeans_compress import compress_bytes

    image = np.zeros((4, 6, 4), np.uint8)
    image[..., :3] = (30, 60, 90)
    image[..., 3] = 255
    image[0, :3, 3] = 127  # below the threshold: transparent
    image[1, :3, 3] = 128  # at it: opaque
    buf = io.BytesIO()
    Image.fromarray(image).save(buf, format="PNG")
    result = compress_bytes(buf.getvalue(), 2, format="gif")
    with Image.open(io.BytesIO(result.data)) as im:
        assert im.format == "GIF"
        back = np.asarray(im.convert("RGBA"))
    assert back[0, 0, 3] == 0 and back[1, 0, 3] == 255 and np.all(back[2:, :, :3] == (30, 60, 90))
    assert result.measurement.format == "gif" and result.measurement.psnr == float("inf")


def test_gif_frames_store_only_what_changed_with_small_codes():
    """Each later frame is the rectangle that changed; LZW codes start at the table's size, not 8 bits."""
    labels = np.zeros((3, 10, 12), np.uint8)
    labels[1, 2:4, 5:9] = 1
    labels[2] = labels[1]
    labels[2, 7, 0] = 2
    data = encode_animation(palette_of(k=3), labels, format="gif", durations=(10, 20, 30))
    with Image.open(io.BytesIO(data)) as im:
        extents, code_bits = [], []
        for i in range(im.n_frames):
            im.seek(i)
            extents.append(tuple(im.tile[0][1]))
            code_bits.append(im.tile[0][3][0])
    assert extents == [(0, 0, 12, 10), (5, 2, 9, 4), (0, 7, 1, 8)]
    assert code_bits == [2, 2, 2]  # three colours: a 4-entry table, the smallest GIF code size
    assert b"NETSCAPE2.0" in data


def test_still_gif_small_codes_not_interlaced():
    labels = np.tile(np.arange(4, dtype=np.uint8), (20, 5))
    data = encode_palette(palette_of(k=4), labels, format="gif")
    with Image.open(io.BytesIO(data)) as im:
        bits, interlaced = im.tile[0][3][:2]
        assert (bits, interlaced) == (2, 0)
        np.testing.assert_array_equal(np.asarray(im.convert("RGB")), palette_of(k=4)[labels])
