"""Metrics from the colour histogram equal the pixel-by-pixel metrics; SSIM does not depend on threads."""

import numpy as np
import pytest

import kmeans_compress._ssim as ssim_mod
from kmeans_compress import KMeansQuantizer, measure
from kmeans_compress._measure import label_histogram
from kmeans_compress._metrics import delta_e, mse, palette_delta_e, palette_mse, palette_ssim, ssim


def _noisy(shape, seed, alpha=False):
    rng = np.random.default_rng(seed)
    y, x = np.mgrid[0 : shape[0], 0 : shape[1]]
    base = np.stack([x * 3.0, y * 2.0, 128 + 80 * np.sin(x / 5.0)], axis=-1)
    img = np.clip(base + rng.normal(0, 12, base.shape), 0, 255).astype(np.uint8)
    if alpha:
        a = np.clip(rng.normal(200, 80, shape), 0, 255).astype(np.uint8)
        a[: shape[0] // 4] = 0  # a fully transparent band, whatever RGB it stored
        img = np.dstack([img, a])
    return img


def test_palette_mse_by_hand():
    colors = np.array([[0, 0, 0], [10, 0, 0], [0, 0, 200]], np.uint8)
    counts = np.array([3, 1, 2])
    palette = np.array([[0, 0, 0], [0, 0, 210]], np.uint8)
    labels = np.array([0, 0, 1])
    # (3 * 0 + 1 * 100 + 2 * 100) / (6 pixels * 3 channels)
    assert palette_mse(colors, counts, palette, labels) == pytest.approx(300 / 18)


@pytest.mark.parametrize("alpha", [False, True], ids=["rgb", "rgba"])
@pytest.mark.parametrize("k", [2, 7, 40], ids=lambda k: f"k{k}")
def test_histogram_metrics_equal_pixel_metrics(k, alpha):
    image = _noisy((37, 53), seed=k, alpha=alpha)
    q = KMeansQuantizer(k).fit(image)
    quantized = q.palette_[q.labels_]
    hist = label_histogram(q)
    assert hist is not None
    if alpha:
        assert palette_mse(*hist) == pytest.approx(mse(image, quantized), rel=1e-12)
    else:  # integer arithmetic on both sides: the very same float
        assert palette_mse(*hist) == mse(image, quantized)
    assert palette_delta_e(*hist) == pytest.approx(delta_e(image, quantized), rel=1e-9)
    grey = (128, 128, 128)
    assert palette_delta_e(*hist, background=grey) == pytest.approx(
        delta_e(image, quantized, background=grey), rel=1e-9
    )


def test_wrong_labels_change_the_histogram_mse():
    """The shortcut really uses the labels: a different assignment gives a different value."""
    image = _noisy((20, 30), seed=1)
    q = KMeansQuantizer(5).fit(image)
    colors, counts, palette, labels = label_histogram(q)
    shifted = (labels.astype(np.int64) + 1) % len(palette)
    assert palette_mse(colors, counts, palette, shifted) > palette_mse(colors, counts, palette, labels)


def test_palette_metrics_validate():
    colors = np.zeros((2, 3), np.uint8)
    with pytest.raises(ValueError, match="color_labels must index"):
        palette_mse(colors, np.array([1, 1]), np.zeros((1, 3), np.uint8), np.array([0, 1]))
    with pytest.raises(ValueError, match="one value per colour"):
        palette_mse(colors, np.array([1]), np.zeros((1, 3), np.uint8), np.array([0, 0]))
    with pytest.raises(ValueError, match="palette must be uint8"):
        palette_delta_e(colors, np.array([1, 1]), np.zeros((1, 4), np.uint8), np.array([0, 0]))


def test_measure_uses_the_histogram_only_without_dithering():
    image = _noisy((30, 40), seed=3)
    plain = KMeansQuantizer(6).fit(image)
    m = measure(image, plain)
    quantized = plain.palette_[plain.labels_]
    assert m.mse == mse(image, quantized)
    assert m.delta_e == pytest.approx(delta_e(image, quantized), rel=1e-9)
    dithered = KMeansQuantizer(6, dither=True).fit(image)
    m = measure(image, dithered)
    quantized = dithered.palette_[dithered.labels_]
    assert m.mse == mse(image, quantized)  # pixel by pixel: one colour, several entries
    assert m.delta_e == delta_e(image, quantized)


def test_palette_ssim_equals_ssim_of_the_expanded_image(monkeypatch):
    a = _noisy((300, 90), seed=5)
    q = KMeansQuantizer(8).fit(a)
    monkeypatch.setattr(ssim_mod, "_BAND_ELEMENTS", 90 * 3 * 64)  # several bands
    banded = palette_ssim(a, q.palette_, q.labels_)
    assert banded == ssim(a, q.palette_[q.labels_])
    from skimage.metrics import structural_similarity

    whole = structural_similarity(a, q.palette_[q.labels_], win_size=7, data_range=255.0, channel_axis=-1)
    assert banded == pytest.approx(whole, abs=1e-12)
    assert measure(a, q).ssim == banded
    with pytest.raises(ValueError, match=r"labels must have the image's shape \(300, 90\), got \(90, 300\)"):
        palette_ssim(a, q.palette_, q.labels_.T)
    with pytest.raises(ValueError, match=r"palette must be uint8 of shape \(k, 3\)"):
        palette_ssim(a, q.palette_[:, :2], q.labels_)
    with pytest.raises(ValueError, match="Expected a uint8 image"):
        palette_ssim(a[..., 0], q.palette_, q.labels_)


def test_measure_on_two_threads_gives_the_same_figures(monkeypatch):
    import kmeans_compress._measure as measure_mod

    a = _noisy((60, 50), seed=7)
    q = KMeansQuantizer(8).fit(a)
    serial = measure(a, q)
    monkeypatch.setattr(measure_mod, "_THREADED_PIXELS", 1)  # ΔE on a thread beside SSIM
    monkeypatch.setattr(measure_mod, "available_cpus", lambda: 2)
    threaded = measure(a, q)
    assert (threaded.ssim, threaded.delta_e, threaded.mse) == (serial.ssim, serial.delta_e, serial.mse)
    assert threaded.delta_e == palette_delta_e(*label_histogram(q))
