"""Colour conversions against published values, round trips, and clustering in each space."""

import json

import numpy as np
import pytest

from kmeans_compress import KMeansQuantizer, quantize
from kmeans_compress import _colorspace as cs
from kmeans_compress._colorspace import (
    COLOR_SPACES,
    colors_to_features,
    features_to_colors,
    lab_to_srgb,
    oklab_to_srgb,
    srgb_to_lab,
    srgb_to_oklab,
)
from kmeans_compress.cli import main

# CSS Color Module Level 4 sample values: oklab() of the sRGB primaries.
OKLAB_PRIMARIES = [
    ((1, 0, 0), (0.62796, 0.22486, 0.12585)),
    ((0, 1, 0), (0.86644, -0.23389, 0.17950)),
    ((0, 0, 1), (0.45201, -0.03246, -0.31153)),
]

# Ottosson's table (https://bottosson.github.io/posts/oklab/, "Table of example XYZ and Oklab pairs").
OKLAB_XYZ_TABLE = [
    ((0.950, 1.000, 1.089), (1.000, 0.000, 0.000)),
    ((1.000, 0.000, 0.000), (0.450, 1.236, -0.019)),
    ((0.000, 1.000, 0.000), (0.922, -0.671, 0.263)),
    ((0.000, 0.000, 1.000), (0.153, -1.415, -0.449)),
]
# IEC 61966-2-1 XYZ (D65) -> linear sRGB
XYZ_TO_LINEAR_SRGB = np.array(
    [[3.2404542, -1.5371385, -0.4985314], [-0.9692660, 1.8760108, 0.0415560], [0.0556434, -0.2040259, 1.0572252]]
)


def test_oklab_of_white_is_one_zero_zero():
    np.testing.assert_allclose(srgb_to_oklab(np.ones(3)), [1.0, 0.0, 0.0], atol=1e-6)
    np.testing.assert_allclose(srgb_to_oklab(np.zeros(3)), [0.0, 0.0, 0.0], atol=1e-12)


@pytest.mark.parametrize(("rgb", "lab"), OKLAB_PRIMARIES, ids=["red", "green", "blue"])
def test_oklab_of_srgb_primaries(rgb, lab):
    np.testing.assert_allclose(srgb_to_oklab(np.array(rgb, float)), lab, atol=1e-4)


@pytest.mark.parametrize(("xyz", "lab"), OKLAB_XYZ_TABLE, ids=["white", "X", "Y", "Z"])
def test_oklab_matrices_reproduce_ottossons_xyz_table(xyz, lab):
    linear = XYZ_TO_LINEAR_SRGB @ np.array(xyz)
    got = np.cbrt(linear @ cs._OKLAB_M1.T) @ cs._OKLAB_M2.T
    np.testing.assert_allclose(got, lab, atol=1e-3)  # the table is printed to 3 decimals


@pytest.mark.parametrize(
    ("rgb", "lab"),
    [((1, 1, 1), (100.0, 0.0, 0.0)), ((1, 0, 0), (53.2408, 80.0925, 67.2032)), ((0, 0, 0), (0.0, 0.0, 0.0))],
    ids=["white", "red", "black"],
)
def test_cielab_known_values(rgb, lab):
    np.testing.assert_allclose(srgb_to_lab(np.array([[rgb]], float))[0, 0], lab, atol=5e-3)


@pytest.mark.parametrize(
    ("to", "back"), [(srgb_to_oklab, oklab_to_srgb), (srgb_to_lab, lab_to_srgb)], ids=["oklab", "lab"]
)
def test_float_round_trip(to, back):
    rgb = np.random.default_rng(0).random((200, 3))
    np.testing.assert_allclose(back(to(rgb)), rgb, atol=1e-9)


def _some_colors(n_channels, seed=0):
    rng = np.random.default_rng(seed)
    corners = np.array(np.meshgrid([0, 255], [0, 255], [0, 255])).reshape(3, -1).T
    greys = np.repeat(np.arange(256)[:, None], 3, axis=1)
    rgb = np.vstack([corners, greys, rng.integers(0, 256, (3000, 3))]).astype(np.uint8)
    if n_channels == 3:
        return rgb
    alpha = rng.choice(np.array([1, 2, 37, 128, 254, 255], np.uint8), len(rgb))
    return np.hstack([rgb, alpha[:, None]])


@pytest.mark.parametrize("space", COLOR_SPACES)
@pytest.mark.parametrize("n_channels", [3, 4], ids=["rgb", "rgba"])
def test_uint8_colours_round_trip_exactly(space, n_channels):
    colors = _some_colors(n_channels)
    feats = colors_to_features(colors, space)
    assert feats.dtype == np.float64 and feats.shape == colors.shape
    back = features_to_colors(feats, space)
    if n_channels == 3:
        np.testing.assert_array_equal(back, colors)
    else:
        # low alpha loses colour precision by nature (premultiplied); alpha itself is exact
        np.testing.assert_array_equal(back[:, 3], colors[:, 3])
        big = colors[:, 3] >= 128
        np.testing.assert_array_equal(back[big], colors[big])
        assert np.abs(back[:, :3].astype(int) - colors[:, :3]).max() <= 1


@pytest.mark.parametrize("space", COLOR_SPACES)
def test_fully_transparent_colours_are_one_point(space):
    colors = np.array([[0, 0, 0, 0], [255, 10, 200, 0], [3, 4, 5, 0]], np.uint8)
    feats = colors_to_features(colors, space)
    np.testing.assert_allclose(feats, np.zeros_like(feats), atol=1e-12)
    np.testing.assert_array_equal(features_to_colors(feats, space), np.zeros((3, 4), np.uint8))


def test_out_of_gamut_centres_are_clipped_not_wrapped():
    # centres beyond white and below black: rounding then clipping, no wrap-around
    assert features_to_colors(np.array([[150.0, 0.0, 0.0], [-20.0, 0.0, 0.0]]), "lab").tolist() == [
        [255, 255, 255],
        [0, 0, 0],
    ]
    out = features_to_colors(np.array([[1.2, 0.0, 0.0], [-0.2, 0.0, 0.0]]), "oklab")
    assert out.tolist() == [[255, 255, 255], [0, 0, 0]]


def test_unknown_space_is_refused():
    with pytest.raises(ValueError, match=r"color_space must be one of .* got 'hsv'"):
        colors_to_features(np.zeros((1, 3), np.uint8), "hsv")
    with pytest.raises(ValueError, match=r"color_space must be one of .* got 'xyz'"):
        KMeansQuantizer(2, color_space="xyz").fit(np.zeros((2, 2, 3), np.uint8))


@pytest.mark.parametrize("space", COLOR_SPACES)
def test_three_colours_come_back_exactly_in_every_space(three_colors, space):
    q = KMeansQuantizer(3, color_space=space).fit(three_colors)
    np.testing.assert_array_equal(q.palette_[q.labels_], three_colors)
    assert q.inertia_ == pytest.approx(0.0, abs=1e-12)


@pytest.mark.parametrize("space", COLOR_SPACES)
def test_labels_are_nearest_palette_colour_in_the_space(gradient, space):
    q = KMeansQuantizer(6, color_space=space).fit(gradient)
    pix = gradient.reshape(-1, 3)
    d = ((colors_to_features(pix, space)[:, None, :] - colors_to_features(q.palette_, space)[None]) ** 2).sum(-1)
    chosen = d[np.arange(len(pix)), q.labels_.ravel()]
    np.testing.assert_allclose(chosen, d.min(axis=1), rtol=1e-9, atol=1e-12)


def test_space_changes_the_palette(gradient):
    palettes = {s: quantize(gradient, 4, color_space=s).palette.tolist() for s in COLOR_SPACES}
    assert palettes["rgb"] != palettes["lab"] and palettes["rgb"] != palettes["oklab"]


def _png(tmp_path, image):
    from PIL import Image

    path = tmp_path / "in.png"
    Image.fromarray(image).save(path)
    return path


@pytest.mark.parametrize("space", COLOR_SPACES)
def test_cli_color_space(tmp_path, capsys, gradient, space):
    src = _png(tmp_path, gradient)
    assert main([str(src), "-k", "4", "--color-space", space, "--json", "-o", str(tmp_path / "o.png")]) == 0
    rec = json.loads(capsys.readouterr().out)
    assert rec["color_space"] == space and rec["dither"] is False
    assert rec["delta_e"] > 0


def test_cli_unknown_color_space_is_usage_error(tmp_path, capsys, gradient):
    src = _png(tmp_path, gradient)
    assert main([str(src), "--color-space", "hsv"]) == 2
    assert "invalid choice: 'hsv'" in capsys.readouterr().err
    assert not (tmp_path / "in-k16.png").exists()
