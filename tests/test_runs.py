"""Labels that favour runs: the PSNR given up stays within the budget, the figures stay exact."""

import io

import numpy as np
import pytest
from PIL import Image

from kmeans_compress import KMeansQuantizer, compress_bytes, delta_e, encode_palette_png, measure, psnr
from kmeans_compress._runs import _cheapest_within


def noisy_gradient(seed=0, shape=(96, 128)):
    """A smooth two-colour ramp with JPEG-like noise: nearest labels flip along every boundary."""
    rng = np.random.default_rng(seed)
    t = np.linspace(0, 1, shape[1])[None, :, None]
    base = (1 - t) * np.array([40, 90, 160]) + t * np.array([220, 180, 60])
    image = base + rng.normal(0, 6, (*shape, 3))
    return np.clip(np.rint(image), 0, 255).astype(np.uint8)


@pytest.mark.parametrize("budget", [0.01, 0.03, 0.2])
def test_psnr_lost_is_within_the_budget_and_measured_exactly(budget):
    image = noisy_gradient()
    plain = KMeansQuantizer(4).fit(image)
    runs = KMeansQuantizer(4, run_budget=budget).fit(image)
    np.testing.assert_array_equal(runs.palette_, plain.palette_)  # the palette is the fit's
    quantized = runs.palette_[runs.labels_]
    lost = psnr(image, plain.palette_[plain.labels_]) - psnr(image, quantized)
    assert 0 < lost <= budget + 1e-9
    m = measure(image, runs)  # from the histogram and the moved pixels, not pixel by pixel
    assert m.psnr == pytest.approx(psnr(image, quantized), abs=1e-9)
    assert m.delta_e == pytest.approx(delta_e(image, quantized), rel=1e-9)
    assert m.bytes_out < len(encode_palette_png(plain.palette_, plain.labels_))


def test_runs_grow_and_predict_agrees_with_labels():
    image = noisy_gradient(1)
    plain = KMeansQuantizer(4).fit(image)
    runs = KMeansQuantizer(4, run_budget=0.1).fit(image)
    changes = lambda labels: int((np.diff(labels.astype(int), axis=1) != 0).sum())  # noqa: E731
    assert changes(runs.labels_) < changes(plain.labels_)
    np.testing.assert_array_equal(runs.predict(image), runs.labels_)
    np.testing.assert_array_equal(plain.predict(image), plain.labels_)


def test_auto_spends_only_on_small_palettes_and_zero_is_nearest():
    image = noisy_gradient(2)
    for k, moved in ((4, True), (32, False)):
        auto = KMeansQuantizer(k, run_budget="auto").fit(image)
        nearest = KMeansQuantizer(k).fit(image)
        assert (auto.labels_ != nearest.labels_).any() == moved
    assert KMeansQuantizer(4).get_params()["run_budget"] == 0.0  # the estimator: plain k-means


def test_files_default_to_auto():
    buf = io.BytesIO()
    Image.fromarray(noisy_gradient(3)).save(buf, format="PNG")
    auto = compress_bytes(buf.getvalue(), 4)
    plain = compress_bytes(buf.getvalue(), 4, run_budget=0)
    assert auto.measurement.bytes_out < plain.measurement.bytes_out
    assert plain.measurement.psnr - auto.measurement.psnr <= 0.03 + 1e-9


def test_dither_and_pixel_arrays_are_left_alone():
    image = noisy_gradient(4)
    dithered = KMeansQuantizer(4, dither=True).fit(image)
    np.testing.assert_array_equal(KMeansQuantizer(4, dither=True, run_budget=1.0).fit(image).labels_, dithered.labels_)
    pixels = image.reshape(-1, 3)
    np.testing.assert_array_equal(
        KMeansQuantizer(4, run_budget=1.0).fit(pixels).labels_, KMeansQuantizer(4).fit(pixels).labels_
    )


def test_budget_is_spent_cheapest_first_with_ties_in_raster_order():
    margin = np.array([100, 80, 60, 80, 100])
    assert _cheapest_within(margin, 145).tolist() == [1, 2]  # 60, then the first 80; a second 80 is over
    assert _cheapest_within(margin, 59).tolist() == []
    assert _cheapest_within(margin, 1000).tolist() == [0, 1, 2, 3, 4]
    # a negative margin (a move that lowers the error) is always taken, and pays for others
    assert _cheapest_within(np.array([10, -5, 3]), 0).tolist() == [1, 2]


@pytest.mark.parametrize("bad", [-0.1, float("nan"), "lots", True])
def test_bad_budget_is_refused(bad):
    with pytest.raises(ValueError, match="run_budget"):
        KMeansQuantizer(4, run_budget=bad).fit(noisy_gradient())
