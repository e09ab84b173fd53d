"""Tests for the k slider (kmeans_compress.interactive) and the figure behind it (plot_result)."""

import base64
import io
import math

import numpy as np
import pytest

matplotlib = pytest.importorskip("matplotlib")
matplotlib.use("Agg")
widgets = pytest.importorskip("ipywidgets")
import dataclasses  # noqa: E402

import matplotlib.pyplot as plt  # noqa: E402
from PIL import Image  # noqa: E402

from kmeans_compress import ImageSweep, Measurement, measure, quantize  # noqa: E402
from kmeans_compress.interactive import KSlider, k_slider, show_k  # noqa: E402
from kmeans_compress.plotting import plot_result  # noqa: E402

RED, GREEN, BLUE = (255, 0, 0), (0, 255, 0), (0, 0, 255)


@pytest.fixture(autouse=True)
def _close_figures():
    yield
    plt.close("all")


def three_colors():
    """4x6 image: red, green and blue stripes of two columns each."""
    image = np.zeros((4, 6, 3), np.uint8)
    image[:, :2], image[:, 2:4], image[:, 4:] = RED, GREEN, BLUE
    return image


def ramp(height=12, width=16):
    """Many colours, so every k gives a different result."""
    y, x = np.mgrid[0:height, 0:width]
    return np.stack([x * 15, y * 20, (x + y) * 7], axis=-1).astype(np.uint8)


def png_size(data):
    return Image.open(io.BytesIO(data)).size


# -- plot_result ----------------------------------------------------------------------------------


def test_plot_result_draws_the_image_above_its_palette_with_the_measurement_in_the_title():
    image = three_colors()
    result = quantize(image, 3, random_state=0)

    class M:  # the fields plot_result reads
        k, bytes_out, bits_per_pixel, psnr = 3, 1234, 0.5, float("inf")

    fig = plot_result(result.image, result.palette, measurement=M())
    ax_image, ax_palette = fig.axes
    np.testing.assert_array_equal(ax_image.images[0].get_array(), result.image)
    assert ax_image.get_title() == "k = 3: indexed PNG 1.2 kB, 0.50 bits per pixel\nPSNR exact"
    assert ax_image.get_position().y0 > ax_palette.get_position().y1  # image above palette
    swatches = np.asarray(ax_palette.images[0].get_array())
    assert {tuple(c) for c in swatches.reshape(-1, 3).tolist()} == {RED, GREEN, BLUE}


def test_plot_result_without_measurement_titles_with_k():
    palette = np.array([RED, BLUE], np.uint8)
    fig = plot_result(three_colors(), palette)
    assert fig.axes[0].get_title() == "k = 2"


# -- show_k ---------------------------------------------------------------------------------------


def same_figures(a, b):
    """Two measurements (Measurement or SweepRow) equal in every figure but the time they took."""
    names = [f.name for f in dataclasses.fields(Measurement) if f.name != "seconds"]
    return [getattr(a, n) for n in names] == [getattr(b, n) for n in names]


@pytest.mark.parametrize("k", [1, 2, 5], ids=lambda k: f"k{k}")
def test_show_k_measures_what_it_draws(k):
    image = ramp()
    job = ImageSweep(image, random_state=0, keep_quantizers=True)
    fig, m = show_k(job, k)
    quantizer = job.quantizers_[k]  # the fit the sweep measured (runs, or nearest labels if smaller)
    assert same_figures(m, measure(image, quantizer))  # the package's one measurement
    np.testing.assert_array_equal(fig.axes[0].images[0].get_array(), quantizer.palette_[quantizer.labels_])
    assert fig.axes[0].get_title().startswith(f"k = {k}: indexed PNG {m.bytes_out / 1000:.1f} kB")


def test_show_k_on_an_image_sweep_fits_each_k_once():
    job = ImageSweep(ramp(), keep_quantizers=True)
    show_k(job, 3)
    show_k(job, 3)
    show_k(job, 4)
    assert job.n_fits == 2


def test_show_k_rejects_k_out_of_range_and_a_sweep_without_quantizers():
    with pytest.raises(ValueError, match="257"):
        show_k(three_colors(), 257)
    with pytest.raises(ValueError, match="keep_quantizers=True"):
        show_k(ImageSweep(three_colors()), 2)


# -- k_slider -------------------------------------------------------------------------------------


def test_slider_ranges_from_1_to_256_on_a_log_scale_and_starts_at_k():
    box = k_slider(ramp(), k=5)
    assert isinstance(box, KSlider)
    slider = box.slider
    assert (slider.base**slider.min, slider.base**slider.max, slider.value, box.k) == (1, 256, 5, 5)
    assert slider.base**((slider.min + slider.max) / 2) == 16  # k = 16 halfway: small k have room
    assert box.measurement.k == 5
    assert box.summary.startswith("image, k = 5: indexed PNG")
    assert plt.get_fignums() == []  # drawn without pyplot: no figure left open, none shown twice


def test_a_dragged_value_between_two_k_is_rounded():
    box = k_slider(ramp(), k=5)
    box.slider.value = 2 ** (math.log2(7) + box.slider.step / 3)
    assert box.k == 7 and box.measurement.k == 7 and "k = 7:" in box.summary


def test_moving_the_slider_shows_the_file_size_and_the_psnr_of_the_new_k():
    image = ramp()
    box = k_slider({"ramp": image}, k=2)
    first_png, first = box.picture.value, box.measurement
    box.slider.value = 8
    assert box.measurement.k == 8 and box.measurement.psnr > first.psnr
    assert box.picture.value != first_png
    assert box.caption.value == box.summary and "k = 8" in box.summary
    _, expected = show_k(image, 8)  # the package's full measurement of the same fit
    shown = box.measurement
    assert (shown.bytes_out, shown.bits_per_pixel) == (expected.bytes_out, expected.bits_per_pixel)
    assert shown.psnr == pytest.approx(expected.psnr, abs=1e-9)
    box.slider.value = 2
    assert box.picture.value == first_png  # the same k shows the same picture


def test_the_picture_is_the_quantized_image_above_its_palette():
    image = ramp()
    box = k_slider({"ramp": image}, k=6)
    quantizer = box._sweep("ramp").encoded(6)[0]
    shown = np.asarray(Image.open(io.BytesIO(box.picture.value)).convert("RGB"))
    scale = shown.shape[1] // image.shape[1]  # a small image is enlarged by a whole factor
    assert shown.shape[1] == scale * image.shape[1] >= 432
    top = shown[: scale * image.shape[0] : scale, ::scale]
    np.testing.assert_array_equal(top, quantizer.palette_[quantizer.labels_])
    below = {tuple(c) for c in shown[scale * image.shape[0] :].reshape(-1, 3).tolist()}
    assert below == {tuple(c) for c in quantizer.palette_.tolist()} | {(255, 255, 255)}


def test_the_summary_is_shown_once():
    box = k_slider(ramp(), k=4)
    labels = [w for w in box.children if isinstance(w, widgets.Label)]
    assert [label.value for label in labels] == [box.summary]
    assert not any(isinstance(w, widgets.Output) for w in box.children)


def test_choosing_another_image_shows_it_at_the_same_k(tmp_path):
    path = tmp_path / "stripes.png"
    Image.fromarray(three_colors()).save(path)
    box = k_slider({"ramp": ramp(), "stripes": path}, k=3)
    assert box.chooser.options == ("ramp", "stripes")
    box.chooser.value = "stripes"
    assert box.summary.startswith("stripes, k = 3") and "PSNR inf dB" in box.summary
    width, height = png_size(box.picture.value)
    assert box.picture.width == str(width)  # shown at its own size
    assert width > height  # the stripes are wider than tall, and so is the picture


def test_slider_reuses_the_fits_of_an_image_sweep_given():
    job = ImageSweep(ramp(), keep_quantizers=True)
    job.row(4)
    box = k_slider({"ramp": job}, k=4)
    assert job.n_fits == 1  # k = 4 was fitted before: not again
    assert box.measurement.bytes_out == job.rows_[4].bytes_out
    box.slider.value = 5
    assert job.n_fits == 2
    assert job.row(5).bytes_out == box.measurement.bytes_out and job.n_fits == 2  # measured later: not refitted


def test_without_a_widget_front_end_the_display_is_the_picture_and_a_line_of_text():
    box = k_slider(ramp(), k=4)
    bundle = box._repr_mimebundle_()
    assert "application/vnd.jupyter.widget-view+json" in bundle  # a live front end draws the widget
    assert base64.b64decode(bundle["image/png"]) == box.picture.value
    assert bundle["text/plain"].startswith(box.summary)
    box.slider.value = 6
    assert "k = 6" in box._repr_mimebundle_()["text/plain"]


@pytest.mark.parametrize(
    ("images", "k", "match"),
    [
        ({}, 4, "non-empty mapping"),
        (ramp(), 0, "k must be an integer from 1 to 256.*got 0"),
        (ramp(), 300, "got 300"),
        (ramp(), 2.5, "got 2.5"),
    ],
    ids=["no-images", "k0", "k300", "float"],
)
def test_slider_rejects_bad_input(images, k, match):
    with pytest.raises(ValueError, match=match):
        k_slider(images, k=k)
