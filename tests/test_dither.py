"""Floyd–Steinberg remapping through Pillow: exact palette, correct labels, the quantizer's dither option."""

import io
import json
import warnings

import numpy as np
import pytest
from PIL import Image

from kmeans_compress import ColorHistogram, KMeansQuantizer, encode_palette_png, quantize
from kmeans_compress._dither import floyd_steinberg
from kmeans_compress.cli import main


def _grey_ramp(height=16, width=128):
    """Grey ramp 0, 2, ..., 254 left to right."""
    values = np.arange(0, 2 * width, 2, dtype=np.uint8)
    return np.repeat(np.repeat(values[None, :, None], height, axis=0), 3, axis=2)


def _block_means(image, block=16):
    """Mean grey of each vertical strip ``block`` pixels wide."""
    grey = image[:, :, 0].astype(float)
    return grey.reshape(grey.shape[0], -1, block).mean(axis=(0, 2))


@pytest.mark.parametrize("grey", [64, 128, 200])
def test_flat_grey_on_black_and_white_keeps_its_mean(grey):
    image = np.full((64, 64, 3), grey, np.uint8)
    palette = np.array([[0, 0, 0], [255, 255, 255]], np.uint8)
    labels = floyd_steinberg(image, palette)
    assert labels.dtype == np.uint8 and labels.shape == (64, 64)
    assert set(np.unique(labels).tolist()) == {0, 1}
    # undithered every pixel would be one colour (mean 0 or 255); error lost at the borders costs a little
    assert palette[labels][..., 0].mean() == pytest.approx(grey, abs=3)


def test_labels_index_the_palette_asked_for_and_match_pillows_rendering():
    rng = np.random.default_rng(0)
    image = rng.integers(0, 256, (24, 40, 3), dtype=np.uint8)
    palette = np.array([[250, 250, 250], [3, 7, 11], [200, 30, 30], [20, 160, 40], [90, 90, 230]], np.uint8)
    labels = floyd_steinberg(image, palette)
    assert labels.max() < len(palette)
    pal_im = Image.new("P", (1, 1))
    pal_im.putpalette(palette.tobytes())
    pillow = Image.fromarray(image).quantize(palette=pal_im, dither=Image.Dither.FLOYDSTEINBERG)
    np.testing.assert_array_equal(palette[labels], np.asarray(pillow.convert("RGB")))


def test_repeated_palette_colour_maps_to_its_first_row():
    image = np.full((4, 4, 3), 10, np.uint8)
    palette = np.array([[255, 255, 255], [10, 10, 10], [10, 10, 10]], np.uint8)
    assert np.all(floyd_steinberg(image, palette) == 1)


def test_labels_survive_a_reordered_palette_from_pillow(monkeypatch):
    """If Pillow returned the entries in another order, labels are still found by colour."""
    real = Image.Image.quantize

    def reversed_quantize(self, *args, **kwargs):
        out = real(self, *args, **kwargs)
        pal = np.asarray(out.getpalette("RGB"), np.uint8).reshape(-1, 3)
        n = len(pal)
        flipped = Image.fromarray((n - 1 - np.asarray(out)).astype(np.uint8), mode="L").convert("P")
        flipped.putpalette(pal[::-1].tobytes())
        return flipped

    image = np.random.default_rng(1).integers(0, 256, (8, 8, 3), dtype=np.uint8)
    palette = np.array([[0, 0, 0], [255, 255, 255], [255, 0, 0]], np.uint8)
    expected = floyd_steinberg(image, palette)
    monkeypatch.setattr(Image.Image, "quantize", reversed_quantize)
    np.testing.assert_array_equal(floyd_steinberg(image, palette), expected)


@pytest.mark.parametrize(
    ("image", "palette", "match"),
    [
        (np.zeros((2, 2, 4), np.uint8), np.zeros((2, 3), np.uint8), "needs an RGB image"),
        (np.zeros((2, 2, 3), np.float64), np.zeros((2, 3), np.uint8), "needs an RGB image"),
        (
            np.zeros((2, 2, 3), np.uint8),
            np.zeros((2, 4), np.uint8),
            r"palette of shape \(k, 3\) .* got dtype uint8 and shape \(2, 4\)",
        ),
        (np.zeros((2, 2, 3), np.uint8), np.zeros((257, 3), np.uint8), "1 <= k <= 256"),
        (np.zeros((2, 2, 3), np.uint8), np.zeros((0, 3), np.uint8), "1 <= k <= 256"),
    ],
    ids=["rgba", "float-image", "palette-shape", "too-many", "empty-palette"],
)
def test_floyd_steinberg_validation(image, palette, match):
    with pytest.raises(ValueError, match=match):
        floyd_steinberg(image, palette)


def test_dithered_gradient_keeps_local_mean_colour():
    """At k=4 a grey ramp becomes 4 bands; dithered, each strip keeps the ramp's mean grey."""
    ramp = _grey_ramp()
    plain = quantize(ramp, 4).image
    dithered = quantize(ramp, 4, dither=True).image
    inner = slice(1, -1)  # the end strips lie partly outside the palette's range
    err_plain = np.abs(_block_means(plain) - _block_means(ramp))[inner]
    err_dith = np.abs(_block_means(dithered) - _block_means(ramp))[inner]
    assert err_plain.mean() > 8  # banding: strips off by a band's half width
    assert err_dith.max() < 2
    assert len(np.unique(plain[:, :, 0])) == len(np.unique(dithered[:, :, 0])) == 4


def test_dither_changes_labels_not_palette(gradient):
    plain = KMeansQuantizer(5).fit(gradient)
    dith = KMeansQuantizer(5, dither=True).fit(gradient)
    np.testing.assert_array_equal(plain.palette_, dith.palette_)
    assert plain.inertia_ == dith.inertia_
    assert dith.labels_.dtype == np.uint8 and dith.labels_.shape == gradient.shape[:2]
    assert not np.array_equal(plain.labels_, dith.labels_)
    np.testing.assert_array_equal(dith.predict(gradient), dith.labels_)
    np.testing.assert_array_equal(dith.transform(gradient), dith.palette_[dith.labels_])


def test_dither_from_histogram_equals_from_image(gradient):
    a = KMeansQuantizer(6, dither=True).fit(gradient).labels_
    b = KMeansQuantizer(6, dither=True).fit(ColorHistogram.from_image(gradient)).labels_
    np.testing.assert_array_equal(a, b)


@pytest.mark.parametrize("space", ["lab", "oklab"])
def test_dither_in_perceptual_spaces(gradient, space):
    q = KMeansQuantizer(4, color_space=space, dither=True).fit(gradient)
    assert q.labels_.max() < q.n_colors_


def test_dithered_png_keeps_palette_and_minimal_bit_depth(gradient):
    q = KMeansQuantizer(4, dither=True).fit(gradient)
    data = encode_palette_png(q.palette_, q.labels_)
    assert data[24] == 2  # IHDR bit depth: 4 colours need 2 bits
    with Image.open(io.BytesIO(data)) as im:
        assert im.mode == "P"
        np.testing.assert_array_equal(np.asarray(im), q.labels_)
        np.testing.assert_array_equal(np.asarray(im.convert("RGB")), q.palette_[q.labels_])


def test_rgba_is_not_dithered_and_warns(gradient):
    rgba = np.dstack([gradient, np.full(gradient.shape[:2], 200, np.uint8)])
    rgba[:4, :4, 3] = 0
    plain = KMeansQuantizer(4).fit(rgba)
    with pytest.warns(UserWarning, match="dither=True is ignored for images with alpha"):
        dith = KMeansQuantizer(4, dither=True).fit(rgba)
    np.testing.assert_array_equal(dith.labels_, plain.labels_)
    with pytest.warns(UserWarning, match="ignored for images with alpha"):
        np.testing.assert_array_equal(dith.predict(rgba), plain.labels_)


def test_no_warning_without_dither(gradient):
    rgba = np.dstack([gradient, np.full(gradient.shape[:2], 200, np.uint8)])
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        KMeansQuantizer(4).fit(rgba)


@pytest.mark.parametrize("value", ["yes", 1, None], ids=["str", "int", "none"])
def test_dither_must_be_bool(gradient, value):
    with pytest.raises(ValueError, match=r"dither must be True or False, got"):
        KMeansQuantizer(4, dither=value).fit(gradient)


def test_cli_dither(tmp_path, capsys):
    src = tmp_path / "ramp.png"
    Image.fromarray(_grey_ramp()).save(src)
    out = tmp_path / "o.png"
    assert main([str(src), "-k", "4", "--dither", "--json", "-o", str(out), "--allow-larger"]) == 0  # tiny ramp
    rec = json.loads(capsys.readouterr().out)
    assert rec["dither"] is True and rec["n_colors"] == 4
    with Image.open(out) as im:
        assert im.mode == "P"
        labels = np.asarray(im)
    assert len(np.unique(labels)) == 4
    assert main([str(src), "-k", "4", "--no-dither", "--json", "-o", str(out), "--force"]) == 0
    assert json.loads(capsys.readouterr().out)["dither"] is False


def test_cli_dither_on_rgba_warns_on_stderr(tmp_path, capsys, gradient):
    src = tmp_path / "a.png"
    rgba = np.dstack([gradient, np.full(gradient.shape[:2], 128, np.uint8)])
    Image.fromarray(rgba).save(src)
    assert main([str(src), "-k", "4", "--dither", "--json", "-o", str(tmp_path / "o.png")]) == 0
    captured = capsys.readouterr()
    assert json.loads(captured.out)["dither"] is False
    assert "warning: dither=True is ignored" in captured.err
