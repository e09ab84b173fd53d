"""Tests for kmeans_compress.plotting: tiny synthetic images whose figures are known by hand."""

import dataclasses
import math
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest

matplotlib = pytest.importorskip("matplotlib")
matplotlib.use("Agg")
import matplotlib.pyplot as plt  # noqa: E402
from matplotlib.collections import PathCollection  # noqa: E402

from kmeans_compress import (  # noqa: E402
    KMeansQuantizer,
    encode_palette_png,
    measure,
    quantize,
)
from kmeans_compress._baselines import Baseline  # noqa: E402
from kmeans_compress._sweep import SweepRow  # noqa: E402
from kmeans_compress.plotting import (  # noqa: E402
    plot_color_scatter,
    plot_gain_per_kb,
    plot_k_grid,
    plot_palette,
    plot_side_by_side,
    plot_sweep_curves,
    plot_variants,
    to_hex,
)


def fake_row(k, n_bytes, psnr_db, ssim=0.5, **extra):
    """A sweep row with the figures a plot reads, by hand."""
    return SweepRow(
        k=k, n_colors=k, width=10, height=10, inertia=0.0, mse=1.0, psnr=psnr_db, ssim=ssim, delta_e=1.25,
        bytes_out=n_bytes, bits_per_pixel=0.08 * n_bytes, raw_bytes=300, ratio_raw=300 / n_bytes, **extra,
    )

RED, GREEN, BLUE = (255, 0, 0), (0, 255, 0), (0, 0, 255)


@pytest.fixture(autouse=True)
def _close_figures(monkeypatch, tmp_path):
    """Every test: figures closed afterwards, plt.show never called, no file written."""

    def no_show(*args, **kwargs):
        raise AssertionError("plotting helpers must not call plt.show()")

    monkeypatch.setattr(plt, "show", no_show)
    monkeypatch.chdir(tmp_path)
    yield
    plt.close("all")
    assert list(tmp_path.iterdir()) == [], "plotting helpers must not write files"


def three_colors():
    """4x4 image: left half red, top right green, bottom right blue."""
    image = np.zeros((4, 4, 3), np.uint8)
    image[:, :2] = RED
    image[:2, 2:] = GREEN
    image[2:, 2:] = BLUE
    return image


def distinct_pixels(height=30, width=40):
    """Every pixel a different colour, so a drawn point's position tells which pixel it is."""
    n = height * width
    i = np.arange(n)
    rgb = np.stack([i % 256, (i * 7) // 256 % 256, (i * 13) % 256], axis=1)
    return rgb.astype(np.uint8).reshape(height, width, 3)


def soft_rgba():
    """8x8 RGBA: left half fully transparent *magenta* (RGB stored but invisible), right half
    opaque blue except one half-transparent orange column."""
    image = np.zeros((8, 8, 4), np.uint8)
    image[:, :4] = (255, 0, 255, 0)
    image[:, 4:] = (0, 0, 255, 255)
    image[:, 4] = (255, 128, 0, 128)
    return image


def scatter_points(ax, index=0):
    """(positions (n, 3), face colours (n, 4)) of a scatter collection of a 3-D axes, in the
    order they were given (the 3-D collection's own getter reorders them by depth)."""
    coll = ax.collections[index]
    xs, ys, zs = coll._offsets3d
    positions = np.column_stack([np.asarray(xs), np.asarray(ys), np.asarray(zs)])
    return positions, PathCollection.get_facecolor(coll)


def test_core_and_command_line_do_not_import_matplotlib():
    """Only kmeans_compress.plotting imports matplotlib: the command line starts without it."""
    code = (
        "import sys, kmeans_compress, kmeans_compress.cli, kmeans_compress._sweep\n"
        "print(sorted(m for m in sys.modules if m.split('.')[0] == 'matplotlib'))\n"
    )
    root = Path(__file__).resolve().parent.parent
    done = subprocess.run([sys.executable, "-c", code], cwd=root, capture_output=True, text=True, check=True)
    assert done.stdout.strip() == "[]"


# -- to_hex ---------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("color", "expected"),
    [((255, 0, 16), "#ff0010"), ((0, 0, 0, 128), "#00000080")],
    ids=["rgb", "rgba"],
)
def test_to_hex(color, expected):
    assert to_hex(np.array(color, np.uint8)) == expected


# -- plot_palette ---------------------------------------------------------------------------------


def test_palette_swatches_are_the_palette_colours_with_hex_and_share():
    palette = np.array([RED, GREEN, BLUE], np.uint8)
    fig = plot_palette(palette, counts=[2, 1, 1])
    assert len(fig.axes) == 1
    ax = fig.axes[0]
    shown = np.asarray(ax.images[0].get_array())
    cell = shown.shape[1] // 3
    centres = shown[cell // 2, [cell // 2, cell + cell // 2, 2 * cell + cell // 2]]
    np.testing.assert_array_equal(centres, palette)
    texts = [t.get_text() for t in ax.texts]
    assert texts == ["#ff0000\n50.0%", "#00ff00\n25.0%", "#0000ff\n25.0%"]
    assert "k = 3" in ax.get_title()


def test_palette_large_k_is_a_grid_without_labels():
    palette = np.arange(40 * 3, dtype=np.uint8).reshape(40, 3)
    fig = plot_palette(palette, max_columns=16, label_max=32)
    ax = fig.axes[0]
    assert len(ax.texts) == 0
    assert ax.images[0].get_array().shape[:2] == (3 * 16, 16 * 16)  # 3 rows of 16 swatches, 16 px each
    assert "k = 40" in ax.get_title()


def test_palette_rgba_is_drawn_over_a_checkerboard():
    palette = np.array([(255, 0, 0, 255), (0, 0, 0, 0)], np.uint8)
    fig = plot_palette(palette)
    shown = np.asarray(fig.axes[0].images[0].get_array())
    assert shown.shape[2] == 3
    np.testing.assert_array_equal(shown[:16, :16].reshape(-1, 3), np.tile([255, 0, 0], (256, 1)))
    transparent = shown[:16, 16:].reshape(-1, 3)
    assert {tuple(c) for c in transparent} == {(255, 255, 255), (204, 204, 204)}


def test_palette_draws_on_given_axes():
    fig, ax = plt.subplots()
    assert plot_palette(np.array([RED], np.uint8), ax=ax) is fig
    assert "k = 1 colour" in ax.get_title()


@pytest.mark.parametrize(
    ("palette", "counts", "match"),
    [
        (
            np.zeros((3, 2), np.uint8),
            None,
            r"Expected a uint8 palette .* for palette, got dtype uint8 and shape \(3, 2\)",
        ),
        (np.zeros((3, 3), np.float64), None, "got dtype float64"),
        (np.zeros((3, 3), np.uint8), [1, 2], r"one entry per palette colour, shape \(3,\), got shape \(2,\)"),
    ],
    ids=["two-channels", "float", "counts-length"],
)
def test_palette_rejects_bad_input(palette, counts, match):
    with pytest.raises(ValueError, match=match):
        plot_palette(palette, counts=counts)


# -- plot_color_scatter ---------------------------------------------------------------------------


def test_scatter_draws_a_sample_of_pixels_in_their_own_colours():
    image = distinct_pixels()
    fig = plot_color_scatter(image, n_samples=500, random_state=0)
    assert len(fig.axes) == 1 and fig.axes[0].name == "3d"
    positions, colors = scatter_points(fig.axes[0])
    assert len(positions) == len(colors) == 500
    np.testing.assert_allclose(colors[:, :3] * 255, positions, atol=1e-6)  # each point in its own colour
    np.testing.assert_allclose(colors[:, 3], 1.0)
    pixel_set = {tuple(p) for p in image.reshape(-1, 3).tolist()}
    assert {tuple(p) for p in positions.astype(int).tolist()} <= pixel_set
    assert len({tuple(p) for p in positions.tolist()}) == 500  # drawn without replacement
    title = fig.axes[0].get_title()
    assert "500 of 1,200 pixels" in title


def test_scatter_sample_is_fixed_by_the_seed():
    image = distinct_pixels()
    first = scatter_points(plot_color_scatter(image, n_samples=200, random_state=3).axes[0])[0]
    again = scatter_points(plot_color_scatter(image, n_samples=200, random_state=3).axes[0])[0]
    other = scatter_points(plot_color_scatter(image, n_samples=200, random_state=4).axes[0])[0]
    np.testing.assert_array_equal(first, again)
    assert not np.array_equal(first, other)


def test_scatter_before_after_with_centres():
    image = three_colors()
    result = quantize(image, 2, random_state=0)
    fig = plot_color_scatter(image, result.image, palette=result.palette, n_samples=3000)
    assert len(fig.axes) == 2
    before, after = fig.axes
    pos_before, col_before = scatter_points(before)
    pos_after, col_after = scatter_points(after)
    assert len(pos_before) == len(pos_after) == 16  # fewer pixels than asked: all of them
    np.testing.assert_array_equal(pos_before, pos_after)  # same pixels, same places
    np.testing.assert_allclose(col_before[:, :3] * 255, pos_before, atol=1e-6)
    # after: each point in the palette colour its pixel was given
    lookup = {
        tuple(p): tuple(q)
        for p, q in zip(image.reshape(-1, 3).tolist(), result.image.reshape(-1, 3).tolist(), strict=True)
    }
    expected = np.array([lookup[tuple(p)] for p in pos_before.astype(int).tolist()]) / 255
    np.testing.assert_allclose(col_after[:, :3], expected, atol=1e-6)
    for ax in fig.axes:  # the k centres, marked on both panels in their own colours
        centres, colors = scatter_points(ax, 1)
        np.testing.assert_array_equal(centres, result.palette)
        np.testing.assert_allclose(colors[:, :3], result.palette / 255, atol=1e-6)
    assert "k = 2" in after.get_title()
    assert "k = 2" in before.get_title()
    assert [before.get_xlabel(), before.get_ylabel(), before.get_zlabel()] == [
        "red (0–255)",
        "green (0–255)",
        "blue (0–255)",
    ]


def test_scatter_accepts_rgba_drops_transparent_pixels_and_draws_with_alpha():
    image = soft_rgba()
    result = quantize(image, 2, random_state=0)
    fig = plot_color_scatter(image, result.image, palette=result.palette, n_samples=1000)
    positions, colors = scatter_points(fig.axes[0])
    assert len(positions) == 32  # the 32 fully transparent pixels are left out
    assert not any((p == [255, 0, 255]).all() for p in positions)  # their stored magenta never appears
    alphas = sorted(set(np.round(colors[:, 3] * 255).astype(int).tolist()))
    assert alphas == [128, 255]
    assert "32 of 64 pixels" in fig.axes[0].get_title()


def test_scatter_near_white_points_have_a_grey_rim_on_clear_panes():
    image = np.zeros((2, 3, 3), np.uint8)
    image[0] = [(255, 255, 255), (250, 248, 240), (0, 0, 0)]
    image[1] = [(255, 0, 0), (128, 128, 128), (230, 230, 230)]
    fig = plot_color_scatter(image)
    ax = fig.axes[0]
    coll = ax.collections[0]
    positions, _ = scatter_points(ax)
    edges = PathCollection.get_edgecolor(coll)
    lum = positions @ [0.299, 0.587, 0.114] / 255
    assert (edges[lum > 0.8, 3] == 1).all() and (edges[lum > 0.8, :3] < 0.5).all()  # light: grey rim
    assert (edges[lum <= 0.8, 3] == 0).all()  # the others keep their own colour only
    for axis in (ax.xaxis, ax.yaxis, ax.zaxis):
        assert axis.pane.get_facecolor()[3] == 0  # no grey pane behind white points


def test_scatter_ticks_stay_away_from_the_corners():
    ax = plot_color_scatter(three_colors()).axes[0]
    for ticks in (ax.get_xticks(), ax.get_yticks(), ax.get_zticks()):
        assert list(ticks) == [64, 128, 192]


def test_scatter_draws_on_given_3d_axes():
    fig = plt.figure()
    axes = [fig.add_subplot(1, 2, i + 1, projection="3d") for i in range(2)]
    image = three_colors()
    assert plot_color_scatter(image, image, ax=axes) is fig


def counted_colors():
    """1x10 image of known counts: 6 red, 3 green, 1 blue pixels, interleaved."""
    image = np.array([[RED, GREEN, RED, RED, BLUE, GREEN, RED, RED, GREEN, RED]], np.uint8)
    return image


def test_scatter_distinct_draws_each_colour_once_with_area_by_pixel_count():
    fig = plot_color_scatter(counted_colors(), points="distinct")
    ax = fig.axes[0]
    positions, colors = scatter_points(ax)
    sizes = PathCollection.get_sizes(ax.collections[0])
    assert len(positions) == 3  # the three distinct colours, not the ten pixels
    np.testing.assert_array_equal(positions, [RED, GREEN, BLUE])  # most frequent first
    np.testing.assert_allclose(colors[:, :3] * 255, positions, atol=1e-6)
    assert sizes[0] > sizes[1] > sizes[2]  # ordered as the counts 6, 3, 1
    np.testing.assert_allclose(sizes / sizes[0], [1, 3 / 6, 1 / 6])  # area proportional to count
    assert "3 distinct colours" in ax.get_title() and "dot area" in ax.get_title()


def test_scatter_distinct_keeps_the_most_frequent_and_says_so():
    fig = plot_color_scatter(counted_colors(), points="distinct", n_samples=2)
    positions, _ = scatter_points(fig.axes[0])
    np.testing.assert_array_equal(positions, [RED, GREEN])
    assert "2 most common of 3 distinct colours" in fig.axes[0].get_title()


def test_scatter_distinct_rarest_colour_stays_visible():
    image = np.zeros((100, 100, 3), np.uint8)
    image[0, 0] = RED  # one pixel in ten thousand
    sizes = PathCollection.get_sizes(plot_color_scatter(image, points="distinct").axes[0].collections[0])
    assert sizes[0] > sizes[1] >= 1.0


def test_scatter_distinct_second_panel_draws_the_same_colours_in_their_palette_colour():
    image = counted_colors()
    result = quantize(image, 2, random_state=0)
    fig = plot_color_scatter(image, result.image, palette=result.palette, points="distinct")
    before, after = fig.axes
    pos_before, _ = scatter_points(before)
    pos_after, col_after = scatter_points(after)
    np.testing.assert_array_equal(pos_before, pos_after)  # same colours, same places
    lookup = {
        tuple(p): tuple(q)
        for p, q in zip(image.reshape(-1, 3).tolist(), result.image.reshape(-1, 3).tolist(), strict=True)
    }
    expected = np.array([lookup[tuple(p)] for p in pos_before.astype(int).tolist()]) / 255
    np.testing.assert_allclose(col_after[:, :3], expected, atol=1e-6)
    np.testing.assert_array_equal(
        PathCollection.get_sizes(before.collections[0]), PathCollection.get_sizes(after.collections[0])
    )
    assert "The same colours" in after.get_title() and "k = 2" in after.get_title()


def test_scatter_distinct_leaves_out_fully_transparent_pixels():
    fig = plot_color_scatter(soft_rgba(), points="distinct")
    ax = fig.axes[0]
    positions, colors = scatter_points(ax)
    np.testing.assert_array_equal(positions, [(0, 0, 255), (255, 128, 0)])  # 24 blue, 8 orange; 32 transparent out
    np.testing.assert_allclose(np.round(colors[:, 3] * 255), [255, 128])
    sizes = PathCollection.get_sizes(ax.collections[0])
    np.testing.assert_allclose(sizes / sizes[0], [1, 8 / 24])
    assert "2 distinct colours" in ax.get_title()


@pytest.mark.parametrize(
    ("kwargs", "match"),
    [
        ({"n_samples": 0}, "n_samples must be a positive integer, got 0"),
        ({"quantized": np.zeros((2, 2, 3), np.uint8)}, r"quantized must have the shape of image \(4, 4, 3\)"),
        ({"ax": "2d"}, "must be '3d' axes"),
        ({"ax": "two"}, "ax must be 1 axes for this figure, got 2"),
        ({"points": "unique"}, "points must be 'sample' or 'distinct', got 'unique'"),
    ],
    ids=["n-samples", "shape", "not-3d", "count", "points"],
)
def test_scatter_rejects_bad_input(kwargs, match):
    if kwargs.get("ax") == "2d":
        kwargs["ax"] = plt.subplots()[1]
    elif kwargs.get("ax") == "two":
        fig = plt.figure()
        kwargs["ax"] = [fig.add_subplot(1, 2, i + 1, projection="3d") for i in range(2)]
    with pytest.raises(ValueError, match=match):
        plot_color_scatter(three_colors(), **kwargs)


# -- plot_side_by_side -----------------------------------------------------------------------------


def test_side_by_side_titles_carry_k_quality_and_bytes():
    image = distinct_pixels(16, 16)
    result = quantize(image, 4, random_state=0)
    m = measure(image, result.quantizer, bytes_in=12345)
    fig = plot_side_by_side(image, result.image, measurement=m)
    assert len(fig.axes) == 2
    left, right = (ax.get_title() for ax in fig.axes)
    assert "Original, 16×16" in left and "12.3 kB" in left
    assert right == f"k = 4, {m.bytes_out / 1000:.1f} kB\nPSNR {m.psnr:.1f} dB, SSIM {m.ssim:.3f}"
    np.testing.assert_array_equal(fig.axes[1].images[0].get_array(), result.image)


def test_side_by_side_exact_result_and_without_a_measurement():
    image = three_colors()
    result = quantize(image, 3)
    right = plot_side_by_side(image, result.image, measurement=measure(image, result.quantizer)).axes[1].get_title()
    assert right.startswith("k = 3") and "PSNR exact" in right and "SSIM 1.000" in right
    assert plot_side_by_side(image, image).axes[1].get_title() == "3 colours"  # nothing measured here


def test_side_by_side_accepts_rgba():
    image = soft_rgba()
    fig = plot_side_by_side(image, image.copy())
    shown = np.asarray(fig.axes[0].images[0].get_array())
    assert shown.shape == (8, 8, 3)  # composited over the checkerboard
    np.testing.assert_array_equal(shown[:, 5], np.tile([0, 0, 255], (8, 1)))  # opaque blue stays blue
    assert {tuple(c) for c in shown[:, :4].reshape(-1, 3).tolist()} <= {(255, 255, 255), (204, 204, 204)}


def test_side_by_side_rejects_mismatched_shapes():
    with pytest.raises(ValueError, match=r"quantized must have the shape of original \(4, 4, 3\), got \(4, 4, 4\)"):
        plot_side_by_side(three_colors(), np.zeros((4, 4, 4), np.uint8))


# -- plot_k_grid -----------------------------------------------------------------------------------


def test_k_grid_one_panel_per_k_plus_original():
    image = distinct_pixels(12, 16)
    results = {k: quantize(image, k, random_state=0) for k in (2, 4, 8)}
    measurements = [measure(image, r.quantizer) for r in results.values()]
    fig = plot_k_grid(image, results, measurements=measurements, ncols=2)
    assert len(fig.axes) == 4  # 2 x 2: original + 3 values of k
    titles = [ax.get_title() for ax in fig.axes]
    assert titles[0].startswith("Original")
    for title, (k, result) in zip(titles[1:], results.items(), strict=True):
        n_bytes = len(encode_palette_png(result.palette, result.labels))
        assert title.startswith(f"k = {k}\n{n_bytes / 1000:.1f} kB, PSNR ")
    assert "k = 2, 4, 8" in fig._suptitle.get_text()


@pytest.mark.parametrize(
    ("n_k", "ncols", "shape"),
    [(5, 4, (2, 3)), (3, 4, (1, 4)), (7, 4, (2, 4)), (6, 4, (2, 4))],
    ids=["6-panels-in-3-columns", "one-row", "8-panels", "7-panels-centred"],
)
def test_k_grid_leaves_no_empty_slot(n_k, ncols, shape):
    image = three_colors()
    fig = plot_k_grid(image, dict.fromkeys(range(1, n_k + 1), image), ncols=ncols)
    assert len(fig.axes) == n_k + 1 and all(ax.images for ax in fig.axes)
    rows = {}
    for ax in fig.axes:
        rows.setdefault(ax.get_subplotspec().rowspan.start, []).append(ax.get_position())
    assert (len(rows), max(len(r) for r in rows.values())) == shape
    first, last = rows[0], rows[max(rows)]
    centre = (first[0].x0 + first[-1].x1) / 2
    assert abs((last[0].x0 + last[-1].x1) / 2 - centre) < 1e-6  # a short last row is centred


def test_k_grid_takes_sizes_and_psnr_from_sweep_rows():
    image = three_colors()
    results = {1: quantize(image, 1).image, 3: quantize(image, 3)}
    rows = [fake_row(1, 4321, 12.34), fake_row(3, 99, math.inf, ssim=1.0)]
    fig = plot_k_grid(image, results, measurements=rows, ncols=2, include_original=False)
    titles = [ax.get_title() for ax in fig.axes]
    assert titles == ["k = 1\n4.3 kB, PSNR 12.3 dB", "k = 3\n0.1 kB, PSNR exact"]


def test_k_grid_accepts_a_list_of_results_and_rgba():
    image = soft_rgba()
    fig = plot_k_grid(image, [quantize(image, 2), quantize(image, 3)], ncols=3)
    assert len(fig.axes) == 3
    assert [ax.get_title().split("\n")[0] for ax in fig.axes[1:]] == ["k = 2", "k = 3"]
    assert fig.axes[1].images[0].get_array().shape == (8, 8, 3)


def test_k_grid_accepts_fitted_quantizers():
    image = distinct_pixels(12, 16)
    quantizers = {k: KMeansQuantizer(k).fit(image) for k in (2, 5)}
    fig = plot_k_grid(image, quantizers, include_original=False)
    for ax, (k, q) in zip(fig.axes, quantizers.items(), strict=True):
        np.testing.assert_array_equal(ax.images[0].get_array(), q.palette_[q.labels_])
        assert ax.get_title() == f"k = {k}"  # no measurements given: nothing measured here


def test_k_grid_rejects_empty_and_mismatched():
    image = three_colors()
    with pytest.raises(ValueError, match="at least one quantized image"):
        plot_k_grid(image, {})
    with pytest.raises(ValueError, match=r"the image for k = 2 has shape \(2, 2, 3\)"):
        plot_k_grid(image, {2: np.zeros((2, 2, 3), np.uint8)})


# -- plot_variants ---------------------------------------------------------------------------------


def test_variants_titles_carry_label_bytes_and_measures():
    image = distinct_pixels(12, 16)
    variants = {"rgb": quantize(image, 4), "oklab": quantize(image, 4, color_space="oklab")}
    measurements = {label: measure(image, r.quantizer) for label, r in variants.items()}
    fig = plot_variants(image, variants, measurements=measurements, ncols=3)
    assert len(fig.axes) == 3
    titles = [ax.get_title() for ax in fig.axes]
    assert titles[0].startswith("Original")
    for title, (label, result) in zip(titles[1:], variants.items(), strict=True):
        n_bytes = len(encode_palette_png(result.palette, result.labels))
        assert title.startswith(f"{label}: {n_bytes / 1000:.1f} kB\nPSNR ")
        assert "SSIM" in title and "ΔE00" in title


def test_variants_use_given_measures_and_show_the_original_once_beside_every_row():
    image = three_colors()
    variants = {name: quantize(image, 2) for name in ("a", "b", "c", "d")}
    measurements = {name: fake_row(2, 1500, 30.0) for name in variants}
    fig = plot_variants(image, variants, measurements=measurements, ncols=3, title="k = 2")
    assert fig._suptitle.get_text() == "k = 2: 4 variants"
    titles = [ax.get_title().split("\n")[0] for ax in fig.axes]
    assert titles == ["Original", "a: 1.5 kB", "b: 1.5 kB", "c: 1.5 kB", "d: 1.5 kB"]
    original_spec = fig.axes[0].get_subplotspec()
    assert (original_spec.rowspan.start, original_spec.rowspan.stop) == (0, 2)  # beside both rows
    assert [ax.get_subplotspec().rowspan.start for ax in fig.axes[1:]] == [0, 0, 1, 1]
    assert fig.axes[1].get_title() == "a: 1.5 kB\nPSNR 30.0 dB, SSIM 0.500, ΔE00 1.25"


def test_variants_centre_a_last_row_that_is_not_full():
    image = three_colors()
    variants = dict.fromkeys(("a", "b", "c", "d", "e"), image)
    fig = plot_variants(image, variants, ncols=4)
    assert len(fig.axes) == 6 and all(ax.images for ax in fig.axes)  # no empty slot
    first_row = [ax.get_position() for ax in fig.axes[1:4]]
    last_row = [ax.get_position() for ax in fig.axes[4:]]
    middle = (first_row[0].x0 + first_row[-1].x1) / 2
    assert abs((last_row[0].x0 + last_row[-1].x1) / 2 - middle) < 1e-6


def test_variants_zoom_shows_a_crop_and_accepts_rgba():
    image = soft_rgba()
    fig = plot_variants(image, {"k = 2": quantize(image, 2).image}, zoom=(0, 0.5, 0.5, 1.0))
    shown = np.asarray(fig.axes[1].images[0].get_array())
    assert shown.shape == (4, 4, 3)  # rows 0-4, columns 4-8, composited
    assert "rows 0–4, columns 4–8" in fig._suptitle.get_text()


@pytest.mark.parametrize(
    ("kwargs", "match"),
    [
        ({"variants": {}}, "variants must be a non-empty mapping"),
        ({"zoom": (0.5, 0, 0.5, 1)}, r"zoom must be \(top, left, bottom, right\) .* got \(0.5, 0, 0.5, 1\)"),
        ({"variants": {"x": np.zeros((2, 2, 3), np.uint8)}}, r"the image for 'x' has shape \(2, 2, 3\)"),
    ],
    ids=["empty", "zoom", "shape"],
)
def test_variants_reject_bad_input(kwargs, match):
    kwargs.setdefault("variants", {"same": three_colors()})
    with pytest.raises(ValueError, match=match):
        plot_variants(three_colors(), **kwargs)


# -- plot_sweep_curves -----------------------------------------------------------------------------


def make_rows(psnrs=(20.0, 25.0, 30.0), compare=False):
    rows = []
    for i, (k, p) in enumerate(zip((8, 2, 4), (psnrs[2], psnrs[0], psnrs[1]), strict=True)):
        n_bytes = 1000 * (i + 1)
        extra = {}
        if compare:
            extra = {
                "jpeg": Baseline(50, n_bytes - 100, p + 5, 0.9),
                "mediancut": Baseline(k, n_bytes + 100, p - 1, 0.4),
            }
        rows.append(fake_row(k, n_bytes, p, ssim=0.5 + 0.1 * i, **extra))
    return rows


def curve_panels(fig):
    """The sweep-curve axes by what they show: size, psnr, ssim (against k) and rd (PSNR against size)."""
    by_label = {(ax.get_xlabel(), ax.get_ylabel()): ax for ax in fig.axes}
    return {
        "size": by_label[("k (colours, log scale)", "indexed PNG size (kB)")],
        "psnr": by_label[("", "PSNR (dB)")],
        "ssim": by_label[("k (colours, log scale)", "SSIM (1 = identical)")],
        "rd": by_label[("file size (kB)", "PSNR (dB)")],
    }


def test_sweep_curves_plot_the_rows_against_k():
    fig = plot_sweep_curves(make_rows())
    assert len(fig.axes) == 4  # size, PSNR over SSIM in the middle slot, PSNR against size
    panels = curve_panels(fig)
    x, y = panels["size"].get_lines()[0].get_data()
    np.testing.assert_array_equal(x, [2, 4, 8])  # sorted by k
    np.testing.assert_allclose(y, [2.0, 3.0, 1.0])  # kB
    np.testing.assert_allclose(panels["psnr"].get_lines()[0].get_ydata(), [20.0, 25.0, 30.0])
    np.testing.assert_allclose(panels["ssim"].get_lines()[0].get_ydata(), [0.6, 0.7, 0.5])
    assert [t.get_text() for t in panels["rd"].texts] == ["k=2", "k=4", "k=8"]
    for name in ("size", "psnr", "rd"):
        assert "k = 2 to 8" in panels[name].get_title()


def test_sweep_curves_psnr_and_ssim_each_on_its_own_axes_one_above_the_other():
    fig = plot_sweep_curves(make_rows())
    panels = curve_panels(fig)
    psnr_ax, ssim_ax = panels["psnr"], panels["ssim"]
    assert len(psnr_ax.get_lines()) == len(ssim_ax.get_lines()) == 1  # no twin axis sharing a panel
    assert psnr_ax.get_shared_x_axes().joined(psnr_ax, ssim_ax)
    top, bottom = psnr_ax.get_position(), ssim_ax.get_position()
    assert bottom.y1 <= top.y0 and abs(bottom.x0 - top.x0) < 1e-9  # stacked in the middle slot
    assert panels["size"].get_position().x1 < top.x0 < top.x1 < panels["rd"].get_position().x0
    low, high = ssim_ax.get_ylim()
    assert 1.0 <= high < 1.05 and low < 0.5  # SSIM's axis reaches 1 (identical), its ceiling


def test_sweep_curves_fill_the_middle_of_three_given_axes():
    fig, axes = plt.subplots(2, 3)
    plot_sweep_curves(make_rows(), ax=axes[1])
    assert len(fig.axes) == 7  # 3 untouched + size, PSNR, SSIM, PSNR against size
    assert axes[1][1] not in fig.axes


def test_sweep_curves_show_jpeg_and_median_cut_when_compared():
    rows = make_rows(compare=True)
    rows[0] = dataclasses.replace(rows[0], jpeg=None)  # no JPEG small enough at this k
    ax_rd = curve_panels(plot_sweep_curves(rows))["rd"]
    lines = {line.get_label(): line for line in ax_rd.get_lines()}
    assert set(lines) == {"k-means palette PNG", "JPEG, no larger", "Pillow median cut, same k"}
    np.testing.assert_allclose(lines["JPEG, no larger"].get_xdata(), [1.9, 2.9])
    np.testing.assert_allclose(lines["Pillow median cut, same k"].get_ydata(), [19.0, 24.0, 29.0])
    assert ax_rd.get_legend() is not None


def test_sweep_curves_without_comparisons_have_one_line_and_no_legend():
    ax_rd = curve_panels(plot_sweep_curves(make_rows()))["rd"]
    assert len(ax_rd.get_lines()) == 1 and ax_rd.get_legend() is None


def test_sweep_curves_leave_out_infinite_psnr_and_say_so():
    psnr_ax = curve_panels(plot_sweep_curves(make_rows(psnrs=(20.0, 25.0, math.inf))))["psnr"]
    y = psnr_ax.get_lines()[0].get_ydata()
    assert np.isnan(y[-1])
    assert "exact (PSNR ∞) at k ≥ 8" in psnr_ax.get_title()


def test_sweep_curves_draw_on_given_axes_and_reject_empty():
    fig, axes = plt.subplots(1, 3)
    assert plot_sweep_curves(make_rows(), ax=axes) is fig
    with pytest.raises(ValueError, match="at least one sweep record"):
        plot_sweep_curves([])


# -- plot_gain_per_kb -------------------------------------------------------------------------------


def test_gain_per_kb_bars_are_psnr_gained_over_kb_spent_between_neighbours():
    rows = [fake_row(k, n_bytes, p) for k, n_bytes, p in ((2, 1000, 20.0), (4, 2000, 26.0), (8, 4000, 28.0))]
    fig = plot_gain_per_kb(rows, suggested_k=4)
    ax = fig.axes[0]
    heights = [bar.get_height() for bar in ax.patches]
    np.testing.assert_allclose(heights, [6.0, 1.0])  # 6 dB for 1 kB, then 2 dB for 2 kB
    assert [t.get_text() for t in ax.get_xticklabels()] == ["2→4", "4→8"]
    (average,) = ax.get_lines()
    np.testing.assert_allclose(average.get_ydata(), [8.0 / 3.0] * 2)  # 8 dB over 3 kB
    purple, grey = (bar.get_facecolor() for bar in ax.patches)
    assert purple != grey  # the step after the suggested k is drawn apart
    assert ax.get_title() == "Quality gained per kB spent: suggested k = 4"


def test_gain_per_kb_caps_infinite_psnr_and_needs_two_rows():
    rows = [
        dataclasses.replace(r, psnr=p)
        for r, p in zip(sorted(make_rows(), key=lambda r: r.k), (40.0, 50.0, math.inf), strict=True)
    ]
    ax = plot_gain_per_kb(rows).axes[0]
    assert all(np.isfinite(bar.get_height()) for bar in ax.patches)
    with pytest.raises(ValueError, match="at least two k"):
        plot_gain_per_kb(rows[:1])


def test_quantized_panels_are_drawn_without_blending_colours():
    image = distinct_pixels(16, 16)
    result = quantize(image, 2)
    fig = plot_side_by_side(image, result.image)
    assert fig.axes[0].images[0].get_interpolation() == "antialiased"  # the original: smooth
    assert fig.axes[1].images[0].get_interpolation() == "nearest"  # quantized: palette colours only
