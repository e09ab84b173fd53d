"""The package's SSIM against scikit-image's own structural_similarity, computed directly."""

import numpy as np
import pytest
from skimage.metrics import structural_similarity

import kmeans_compress._ssim as ssim_mod
from kmeans_compress import ssim
from kmeans_compress._colorspace import premultiply


def _skimage(a, b, win):
    return structural_similarity(premultiply(a), premultiply(b), win_size=win, data_range=255.0, channel_axis=-1)


def _pair(shape, seed, flat=False):
    rng = np.random.default_rng(seed)
    if flat:  # large flat areas: the variance cancellation scikit-image does in float64
        a = np.repeat(np.repeat(rng.integers(0, 256, (shape[0] // 8 + 1, shape[1] // 8 + 1, shape[2])), 8, 0), 8, 1)
        a = a[: shape[0], : shape[1]].astype(np.uint8)
    else:
        a = rng.integers(0, 256, shape, dtype=np.uint8)
    b = np.clip(a.astype(int) + rng.integers(-40, 40, shape), 0, 255).astype(np.uint8)
    return a, b


@pytest.mark.parametrize(
    ("shape", "flat"),
    [
        ((7, 7, 3), False),
        ((3, 50, 3), False),
        ((50, 4, 3), False),
        ((9, 11, 4), False),
        ((61, 37, 3), False),
        ((61, 37, 4), False),
        ((120, 200, 3), True),
        ((120, 200, 4), True),
    ],
    ids=["7x7", "3-rows", "4-cols-win3", "rgba-odd", "odd", "odd-rgba", "flat", "flat-rgba"],
)
def test_ssim_equals_skimage(shape, flat, monkeypatch):
    a, b = _pair(shape, seed=shape[0] * shape[1], flat=flat)
    if shape[2] == 4:
        a[..., 3] = np.where(np.arange(shape[1]) % 5 == 0, 0, a[..., 3])  # some fully transparent pixels
    win = min(7, shape[0], shape[1])
    win -= 1 - win % 2
    expected = _skimage(a, b, win)
    assert ssim(a, b) == pytest.approx(expected, abs=1e-12)
    monkeypatch.setattr(ssim_mod, "_BAND_ELEMENTS", shape[1] * shape[2] * 3)  # bands of 3 rows
    assert ssim(a, b) == pytest.approx(expected, abs=1e-12)


@pytest.mark.parametrize("win", [3, 5, 9, 11, 13, 21], ids=lambda w: f"win{w}")
def test_other_windows_equal_skimage(win):
    a, b = _pair((40, 45, 3), seed=win)
    assert ssim(a, b, win_size=win) == pytest.approx(_skimage(a, b, win), abs=1e-12)


def test_extremes_by_hand():
    black = np.zeros((10, 10, 3), np.uint8)
    white = np.full((10, 10, 3), 255, np.uint8)
    # constant windows: S = (2*0*255 + C1) / (255**2 + C1), the variance factor is 1
    c1 = (0.01 * 255) ** 2
    assert ssim(black, white) == pytest.approx(c1 / (255**2 + c1), rel=1e-12)
    assert ssim(white, white) == 1.0
    assert ssim(black, white) == pytest.approx(_skimage(black, white, 7), abs=1e-15)
