import math

import numpy as np
import pytest
from skimage.metrics import structural_similarity

from kmeans_compress import bits_per_pixel, psnr, ssim
from kmeans_compress._metrics import compression_ratio, mse, raw_size


def test_mse_and_psnr_by_hand():
    a = np.zeros((2, 2, 3), np.uint8)
    b = a.copy()
    b[0, 0, 0] = 12  # one error of 12 over 12 values: MSE = 144 / 12 = 12
    assert mse(a, b) == 12.0
    assert psnr(a, b) == pytest.approx(10 * math.log10(255**2 / 12))
    assert psnr(a, a) == math.inf


def test_rgba_metrics_are_premultiplied():
    a = np.zeros((1, 2, 4), np.uint8)
    b = a.copy()
    b[..., :3] = 200  # colour differs only where fully transparent: invisible, no error
    assert mse(a, b) == 0.0
    c = a.copy()
    c[0, 0, 3] = 51  # alpha 0.2 of black: premultiplied colour unchanged, alpha error 51
    assert mse(a, c) == pytest.approx(51**2 / 8)


def test_ssim_matches_skimage_and_is_one_for_identical(gradient):
    noisy = np.clip(gradient.astype(int) + np.random.default_rng(0).integers(-20, 20, gradient.shape), 0, 255)
    noisy = noisy.astype(np.uint8)
    expected = structural_similarity(
        gradient.astype(float), noisy.astype(float), data_range=255, channel_axis=-1
    )
    assert ssim(gradient, noisy) == pytest.approx(expected, abs=1e-12)
    assert ssim(gradient, gradient) == pytest.approx(1.0)


def test_banded_ssim_equals_whole_image(monkeypatch):
    rng = np.random.default_rng(1)
    a = rng.integers(0, 256, (300, 90, 3), dtype=np.uint8)
    b = np.clip(a.astype(int) + rng.integers(-30, 30, a.shape), 0, 255).astype(np.uint8)
    whole = structural_similarity(a.astype(float), b.astype(float), data_range=255, channel_axis=-1)
    # 300 rows x 90 px x 3 ch: bands of 7767 rows would hold it whole; force small bands
    import importlib

    metrics = importlib.import_module("kmeans_compress._metrics")
    banded = metrics.ssim(a, b)
    assert banded == pytest.approx(whole, abs=1e-12)
    big = np.repeat(a, 30, axis=0)  # 9000 rows: several bands
    bigb = np.repeat(b, 30, axis=0)
    whole_big = structural_similarity(big.astype(float), bigb.astype(float), data_range=255, channel_axis=-1)
    assert metrics.ssim(big, bigb) == pytest.approx(whole_big, abs=1e-10)


def test_ssim_tiny_images():
    a = np.zeros((1, 1, 3), np.uint8)
    assert ssim(a, a) == pytest.approx(1.0)
    b = np.full((2, 100, 3), 9, np.uint8)
    assert -1.0 <= ssim(b, np.zeros_like(b)) < 1.0


def test_sizes_and_ratios():
    assert raw_size(np.zeros((10, 20, 3), np.uint8)) == 600
    assert raw_size(np.zeros((10, 20, 4), np.uint8)) == 800
    assert bits_per_pixel(100, 200) == 4.0
    assert compression_ratio(1000, 250) == 4.0


@pytest.mark.parametrize(
    ("call", "match"),
    [
        (lambda: bits_per_pixel(10, 0), "n_pixels must be positive"),
        (lambda: compression_ratio(10, 0), "compressed_bytes must be positive"),
        (lambda: mse(np.zeros((2, 2, 3), np.uint8), np.zeros((2, 3, 3), np.uint8)), "same shape"),
        (lambda: psnr(np.zeros((2, 2), np.uint8), np.zeros((2, 2), np.uint8)), r"shape \(H, W, 3\)"),
    ],
    ids=["bpp", "ratio", "shape-mismatch", "2d"],
)
def test_validation(call, match):
    with pytest.raises(ValueError, match=match):
        call()
