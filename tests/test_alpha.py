"""Alpha done right: premultiplied clustering, one exact transparent entry, no halos, tRNS."""

import io
from pathlib import Path

import numpy as np
import pytest
from PIL import Image, ImageDraw

from kmeans_compress import ColorHistogram, encode_palette_png, load_image, psnr, quantize
from kmeans_compress._colorspace import COLOR_SPACES
from kmeans_compress._metrics import mse

BADGE = Path(__file__).resolve().parents[1] / "images" / "badge_rgba.png"
RED = (230, 40, 40)


def soft_disc(color=RED, size=32, supersample=8):
    """An anti-aliased disc of one colour over full transparency (box-filtered, so no ringing)."""
    n = size * supersample
    im = Image.new("RGBA", (n, n), (0, 0, 0, 0))
    ImageDraw.Draw(im).ellipse([n * 0.08, n * 0.08, n * 0.92, n * 0.92], fill=(*color, 255))
    return np.array(im.resize((size, size), Image.BOX))


def soft_shapes(size=64, supersample=4, seed=0):
    """Three overlapping anti-aliased shapes over transparency that stores random RGB."""
    n = size * supersample
    im = Image.new("RGBA", (n, n), (0, 0, 0, 0))
    draw = ImageDraw.Draw(im)
    draw.ellipse([n * 0.1, n * 0.1, n * 0.9, n * 0.9], fill=(220, 60, 40, 255))
    draw.ellipse([n * 0.3, n * 0.3, n * 0.7, n * 0.7], fill=(250, 240, 120, 255))
    draw.polygon([(n * 0.5, n * 0.02), (n * 0.98, n * 0.6), (n * 0.6, n * 0.98)], fill=(40, 120, 220, 255))
    image = np.array(im.resize((size, size), Image.LANCZOS))
    clear = image[..., 3] == 0
    image[clear, :3] = np.random.default_rng(seed).integers(0, 256, (clear.sum(), 3))  # garbage behind alpha 0
    return image


def over(image, background):
    """What a viewer sees: ``image`` composited over a flat background, float RGB."""
    alpha = image[..., 3:4].astype(np.float64) / 255.0
    return image[..., :3] * alpha + np.asarray(background, np.float64) * (1.0 - alpha)


def luminance(rgb):
    return rgb @ np.array([0.299, 0.587, 0.114])


# --- transparent pixels ------------------------------------------------------------------------


def test_transparent_pixels_of_any_rgb_are_one_colour():
    image = np.zeros((2, 3, 4), np.uint8)
    image[0] = [(10, 20, 30, 0), (255, 255, 255, 0), (1, 2, 3, 0)]
    image[1] = [(255, 0, 0, 255), (255, 0, 0, 128), (0, 0, 0, 0)]
    hist = ColorHistogram.from_image(image)
    assert hist.n_colors == 3
    assert hist.colors.tolist().count([0, 0, 0, 0]) == 1
    assert hist.counts[hist.colors[:, 3] == 0].tolist() == [4]


@pytest.mark.parametrize("k", [2, 3, 4, 8, 16, 64])
def test_fully_transparent_stays_fully_transparent(k):
    """k-means alone blends the background with faint edge pixels (alpha 1-3 over everything)."""
    image = load_image(BADGE)
    result = quantize(image, k)
    clear = image[..., 3] == 0
    assert (result.image[clear] == 0).all()
    assert result.palette[0].tolist() == [0, 0, 0, 0]  # first, so the tRNS chunk stays short
    assert result.n_colors <= k


def test_fully_transparent_entry_counts_within_k():
    image = soft_shapes()
    result = quantize(image, 5)
    assert result.n_colors == 5
    assert result.quantizer.kmeans_.n_clusters == 4


def test_k1_with_transparency_gives_one_colour():
    image = soft_disc()
    with np.errstate(all="raise"):
        result = quantize(image, 1)
    assert result.palette.shape == (1, 4)
    assert len(np.unique(result.image.reshape(-1, 4), axis=0)) == 1


# --- no halo at soft edges -----------------------------------------------------------------------


@pytest.mark.parametrize("color_space", COLOR_SPACES)
@pytest.mark.parametrize("k", [2, 3, 4, 8, 12])
def test_soft_edge_of_one_colour_keeps_its_colour(k, color_space):
    """Premultiplied averaging: edge pixels keep the shape's colour, never darkened towards the
    transparent black. (Averaging straight RGBA would pull them towards (0, 0, 0).)"""
    image = soft_disc()
    visible_in = image[..., 3] >= 16
    assert np.abs(image[visible_in][:, :3].astype(int) - RED).max() <= 9  # 8-bit rounding at low alpha
    result = quantize(image, k, color_space=color_space)
    visible_out = result.image[..., 3] >= 16
    assert visible_out.any()
    assert np.abs(result.image[visible_out][:, :3].astype(int) - RED).max() <= 3


@pytest.mark.parametrize("color_space", COLOR_SPACES)
@pytest.mark.parametrize("which", ["drawn_here", "badge_rgba.png"])
def test_no_halo_at_soft_edges_k16(which, color_space):
    """Edge pixels (0 < alpha < 255) at k=16, composited over black and over white, match the
    original's: no systematic darkening or lightening, and small errors pixel by pixel."""
    image = soft_shapes() if which == "drawn_here" else load_image(BADGE)
    result = quantize(image, 16, color_space=color_space)
    edge = (image[..., 3] > 0) & (image[..., 3] < 255)
    assert edge.sum() > 100
    for background in [(0, 0, 0), (255, 255, 255)]:
        diff = luminance(over(result.image, background) - over(image, background))[edge]
        assert abs(diff.mean()) < 1.5, (background, diff.mean())  # a halo is a systematic shift
        assert np.percentile(np.abs(diff), 95) < 16, background
    assert np.abs(result.image[edge][:, 3].astype(int) - image[edge][:, 3]).mean() < 8
    clear = image[..., 3] == 0
    assert (result.image[clear] == 0).all()


@pytest.mark.parametrize("color_space", COLOR_SPACES)
@pytest.mark.parametrize("k", [8, 16, 32])
@pytest.mark.parametrize("which", ["drawn_here", "badge_rgba.png"])
def test_opaque_stays_opaque(which, k, color_space):
    """Opaque pixels stay opaque: the alpha snap (centres at 250-254 become 255) and the rule that
    an opaque colour takes its nearest opaque entry (with n_init="auto" the drawn_here, k=8, lab
    palette has entries of alpha 163 and 204 that were the nearest for 31 opaque pixels)."""
    image = soft_shapes() if which == "drawn_here" else load_image(BADGE)
    for n_init in (1, "auto"):
        result = quantize(image, k, color_space=color_space, n_init=n_init)
        assert (result.image[image[..., 3] == 255][:, 3] == 255).all()
        assert (result.quantizer.transform(image)[image[..., 3] == 255][:, 3] == 255).all()


# --- alpha in and out of files ------------------------------------------------------------------


def test_all_opaque_alpha_is_rgb(tmp_path):
    rgba = np.full((4, 5, 4), 255, np.uint8)
    rgba[..., :3] = np.arange(20, dtype=np.uint8).reshape(4, 5, 1) * 10
    path = tmp_path / "opaque.png"
    Image.fromarray(rgba, "RGBA").save(path)
    image = load_image(path)
    assert image.shape == (4, 5, 3)
    result = quantize(image, 4)
    png = encode_palette_png(result.palette, result.labels)
    with Image.open(io.BytesIO(png)) as im:
        assert "transparency" not in im.info


def test_rgba_png_has_trns_and_decodes_exactly():
    image = soft_shapes()
    result = quantize(image, 16)
    png = encode_palette_png(result.palette, result.labels)
    with Image.open(io.BytesIO(png)) as im:
        assert im.mode == "P"
        assert isinstance(im.info["transparency"], bytes)
        assert len(im.info["transparency"]) < 16  # opaque entries last, left out of tRNS
        assert np.array_equal(np.asarray(im.convert("RGBA")), result.image)
        assert np.array_equal(load_image(im), result.image)


def test_metrics_ignore_rgb_behind_full_transparency():
    """PSNR on RGBA compares premultiplied RGB + alpha: invisible colour differences are not errors."""
    image = soft_shapes(seed=1)
    other = image.copy()
    clear = other[..., 3] == 0
    other[clear, :3] = 255 - other[clear, :3]
    assert mse(image, other) == 0.0
    assert psnr(image, other) == float("inf")
    half = image.copy()
    half[..., 3] = np.where(half[..., 3] == 255, 128, half[..., 3])
    assert mse(image, half) > 0
