"""Mean CIEDE2000: known values, agreement with scikit-image, bounded-memory bands, RGBA, validation."""

import numpy as np
import pytest
from scipy.ndimage import gaussian_filter
from skimage.color import deltaE_ciede2000, rgb2lab

from kmeans_compress import _metrics as metrics_mod
from kmeans_compress import delta_e
from kmeans_compress._colorspace import linear_to_srgb, srgb_to_linear
from kmeans_compress._metrics import smooth_image


def _flat(color, shape=(3, 5)):
    return np.broadcast_to(np.array(color, np.uint8), (*shape, len(color))).copy()


def test_identical_images_give_zero(gradient):
    assert delta_e(gradient, gradient) == 0.0
    assert delta_e(gradient, gradient, sigma=1.0) == pytest.approx(0.0, abs=1e-9)


def test_black_against_white_is_100():
    # L* 0 against 100, no chroma: SL = 1 at mean L* 50, so ΔE00 = ΔL* = 100
    assert delta_e(_flat((0, 0, 0)), _flat((255, 255, 255))) == pytest.approx(100.0, abs=1e-3)


def test_matches_scikit_image_pixel_by_pixel():
    rng = np.random.default_rng(0)
    a = rng.integers(0, 256, (17, 23, 3), dtype=np.uint8)
    b = a.copy()
    b[::2] = rng.integers(0, 256, b[::2].shape, dtype=np.uint8)
    b[1::4] = a[0, 0]  # repeated pairs exercise the distinct-pair shortcut
    expected = deltaE_ciede2000(rgb2lab(a), rgb2lab(b), channel_axis=-1).mean()
    assert delta_e(a, b) == pytest.approx(expected, rel=1e-12)


@pytest.mark.parametrize("sigma", [0.0, 1.5], ids=["pixel", "smoothed"])
def test_bands_give_the_whole_image_value(monkeypatch, gradient, sigma):
    test = (gradient // 32) * 32
    whole = delta_e(gradient, test, sigma=sigma)
    monkeypatch.setattr(metrics_mod, "_DELTA_E_BAND_PIXELS", 3 * gradient.shape[1])  # bands of 3 rows
    assert delta_e(gradient, test, sigma=sigma) == pytest.approx(whole, rel=1e-12)


def test_smoothed_matches_direct_formula(gradient):
    test = (gradient // 64) * 64

    def lab(img):
        lin = gaussian_filter(srgb_to_linear(img / 255.0), sigma=(1.0, 1.0, 0), mode="nearest")
        return rgb2lab(np.clip(linear_to_srgb(lin), 0, 1))

    expected = deltaE_ciede2000(lab(gradient), lab(test), channel_axis=-1).mean()
    assert delta_e(gradient, test, sigma=1.0) == pytest.approx(expected, rel=1e-12)


def test_smoothing_forgives_a_fine_pattern_of_the_right_mean():
    grey = _flat((128, 128, 128), (16, 16))
    checker = np.where((np.indices((16, 16)).sum(0) % 2)[..., None] == 1, 255, 0).astype(np.uint8).repeat(3, 2)
    # mid grey in linear light is sRGB 188; a black/white checkerboard averages to it
    mean_grey = _flat((188, 188, 188), (16, 16))
    assert delta_e(mean_grey, checker) > 40
    assert delta_e(mean_grey, checker, sigma=1.5) < 1.0
    assert delta_e(grey, checker, sigma=1.5) > 10


def test_rgba_is_composited_over_the_background():
    clear_black = _flat((0, 0, 0, 0))
    clear_pink = _flat((255, 0, 128, 0))
    opaque_black = _flat((0, 0, 0, 255))
    assert delta_e(clear_black, clear_pink) == 0.0  # invisible colour does not count
    assert delta_e(clear_black, opaque_black) == 0.0  # over black (premultiplied) they look the same
    assert delta_e(clear_black, opaque_black, background=(255, 255, 255)) == pytest.approx(100.0, abs=1e-3)
    half_white = _flat((255, 255, 255, 128))
    expected_grey = _flat((128, 128, 128))  # 255 * 128/255 over black
    assert delta_e(half_white, _flat((255, 255, 255, 128))) == 0.0
    np.testing.assert_allclose(
        delta_e(half_white, _flat((0, 0, 0, 255))), delta_e(expected_grey, _flat((0, 0, 0))), rtol=1e-12
    )


@pytest.mark.parametrize(
    ("kwargs", "match"),
    [
        ({"sigma": -1.0}, r"sigma must be a finite number >= 0, got -1.0"),
        ({"sigma": float("nan")}, r"sigma must be a finite number >= 0, got nan"),
        ({"background": (0, 0)}, r"background must be an sRGB colour of 3 values in 0..255, got \(0, 0\)"),
        ({"background": (0, 0, 300)}, r"background must be .* got \(0, 0, 300\)"),
    ],
    ids=["negative-sigma", "nan-sigma", "short-background", "big-background"],
)
def test_validation(gradient, kwargs, match):
    with pytest.raises(ValueError, match=match):
        delta_e(gradient, gradient, **kwargs)


def test_shape_mismatch_is_refused(gradient):
    with pytest.raises(ValueError, match="same shape"):
        delta_e(gradient, gradient[:-1])


def test_smooth_image_averages_a_checkerboard_in_linear_light():
    checker = np.where((np.indices((16, 16)).sum(0) % 2)[..., None] == 1, 255, 0).astype(np.uint8).repeat(3, 2)
    out = smooth_image(checker, sigma=2.0)
    assert out.dtype == np.uint8 and out.shape == checker.shape
    assert np.abs(out[4:-4, 4:-4].astype(int) - 188).max() <= 2  # linear mean 0.5 is sRGB 188, not 128
    np.testing.assert_array_equal(smooth_image(checker, sigma=0), checker)


def test_smooth_image_rgba_hidden_colour_does_not_bleed():
    img = np.zeros((8, 8, 4), np.uint8)
    img[:, :4] = (255, 0, 0, 255)  # opaque red
    img[:, 4:] = (0, 255, 0, 0)  # invisible green
    out = smooth_image(img, sigma=1.0)
    visible = out[..., 3] > 0
    assert np.all(out[visible][:, 1] == 0)  # no green appears
    assert out[0, 3, 3] < 255 and out[0, 4, 3] > 0  # alpha itself is blurred


def test_smooth_image_validation():
    with pytest.raises(ValueError, match=r"Expected a uint8 image .* got dtype float64"):
        smooth_image(np.zeros((2, 2, 3)))
    with pytest.raises(ValueError, match="sigma must be a finite number >= 0, got -2"):
        smooth_image(np.zeros((2, 2, 3), np.uint8), sigma=-2)


def test_sweep_rows_carry_delta_e(gradient):
    from kmeans_compress import ImageSweep
    from kmeans_compress._tables import format_table

    job = ImageSweep(gradient, keep_quantizers=True)
    rows = job.rows([2, 8])
    for row in rows:
        q = job.quantizers_[row.k]  # the fit the sweep wrote: with runs, or its nearest labels if smaller
        quantized = q.palette_[q.labels_]
        assert row.delta_e == pytest.approx(delta_e(gradient, quantized), rel=1e-12)
    assert rows[1].delta_e < rows[0].delta_e
    assert "dE00" in format_table(rows).splitlines()[0]
