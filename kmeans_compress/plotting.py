"""Figures for the notebook: palettes, colour scatter plots, side-by-side images, grids, curves.

The only module of the package that imports matplotlib (besides ``interactive``, the k slider,
which draws through this one), and nothing in the core or the command line imports it, so the
command line starts fast and works without a display. Import it explicitly::

    from kmeans_compress.plotting import plot_color_scatter, plot_side_by_side

Every helper draws on the axes it is given (``ax=None`` makes a new figure through pyplot, so
that Jupyter shows it), returns the :class:`~matplotlib.figure.Figure`, puts its parameter (k,
sample size) in a title, and never calls ``plt.show()`` nor writes a file: saving is the
caller's choice (``fig.savefig(...)``).

Images follow the package contract, ``uint8`` ``(H, W, 3)`` or ``(H, W, 4)``. Images with alpha
are drawn over a light checkerboard, so that transparency stays visible; scatter plots leave
out fully transparent pixels and draw the others with their own alpha.
"""

from __future__ import annotations

import math
from collections.abc import Mapping
from pathlib import Path

import numpy as np

try:
    import matplotlib.pyplot as plt
except ImportError as exc:  # the [plot] extra
    msg = "kmeans_compress.plotting needs matplotlib: pip install 'kmeans-compress[plot]'"
    raise ImportError(msg) from exc

from ._colorspace import to_uint8

__all__ = [
    "plot_palette",
    "plot_color_scatter",
    "plot_side_by_side",
    "plot_result",
    "plot_k_grid",
    "plot_variants",
    "plot_sweep_curves",
    "plot_gain_per_kb",
    "plot_sweep_reports",
    "to_hex",
]

_CHECKER_LIGHT, _CHECKER_DARK = 255.0, 204.0


# ---------------------------------------------------------------------------------------------
# Validation and small helpers
# ---------------------------------------------------------------------------------------------


def _check_image(image, name="image"):
    arr = np.asarray(image)
    if arr.dtype != np.uint8 or arr.ndim != 3 or arr.shape[2] not in (3, 4):
        msg = (
            f"{name} must be a uint8 array of shape (H, W, 3) or (H, W, 4), got dtype {arr.dtype} "
            f"and shape {arr.shape}. Load images with kmeans_compress.load_image."
        )
        raise ValueError(msg)
    return arr


def _check_palette(palette):
    arr = np.asarray(palette)
    if arr.dtype != np.uint8 or arr.ndim != 2 or arr.shape[1] not in (3, 4) or len(arr) == 0:
        msg = (
            f"palette must be a uint8 array of shape (k, 3) or (k, 4) with k >= 1, got dtype "
            f"{arr.dtype} and shape {arr.shape}."
        )
        raise ValueError(msg)
    return arr


def _axes_list(ax, n, *, projection=None, figsize):
    """New figure with ``n`` axes in a row, or check the ``n`` axes given."""
    if ax is None:
        fig = plt.figure(figsize=figsize, layout="constrained")
        axes = [fig.add_subplot(1, n, i + 1, projection=projection) for i in range(n)]
        return fig, axes
    axes = list(np.ravel(np.asarray(ax, dtype=object)))
    if len(axes) != n:
        msg = f"ax must be {n} axes for this figure, got {len(axes)}."
        raise ValueError(msg)
    if projection is not None and any(a.name != projection for a in axes):
        msg = f"ax must be {projection!r} axes (fig.add_subplot(projection={projection!r})), got {[a.name for a in axes]}."
        raise ValueError(msg)
    return axes[0].figure, axes


def to_hex(color):
    """``'#rrggbb'`` (or ``'#rrggbbaa'`` for four channels) for a uint8 colour."""
    return "#" + "".join(f"{int(v):02x}" for v in color)


def _kb(n_bytes):
    return f"{n_bytes / 1000:.1f} kB"


def _psnr_text(value):
    return "exact" if math.isinf(value) else f"{value:.1f} dB"


def _distinct_colors(image):
    pixels = image.reshape(-1, image.shape[2])
    return len(np.unique(pixels, axis=0))


def _composite(image):
    """RGB uint8 for display: RGBA is blended over a light checkerboard, RGB is returned as is."""
    if image.shape[2] == 3:
        return image
    height, width = image.shape[:2]
    cell = max(4, max(height, width) // 32)
    yy, xx = np.indices((height, width))
    checker = np.where(((yy // cell) + (xx // cell)) % 2 == 0, _CHECKER_LIGHT, _CHECKER_DARK)
    alpha = image[..., 3:4].astype(np.float64) / 255.0
    return to_uint8(image[..., :3] * alpha + checker[..., None] * (1.0 - alpha))


def _panel_axes(fig, n_panels, ncols, shape, *, panel_w, title_h):
    """Axes for ``n_panels`` images of ``shape`` (H, W) in rows of at most ``ncols``, with no
    empty slot (see ``_grid_columns`` and ``_grid_axes``).

    A new figure sized for the panels when ``fig`` is None.
    """
    ncols = _grid_columns(n_panels, max(1, ncols))
    nrows = math.ceil(n_panels / ncols)
    height, width = shape
    if fig is None:
        fig = plt.figure(figsize=(ncols * panel_w, nrows * (panel_w * height / width + title_h)), layout="constrained")
    return _grid_axes(fig, n_panels, ncols)


def _show_image(ax, image, title, *, palette_only=False):
    """``palette_only`` (for quantized images): nearest-neighbour resampling, so that a figure
    smaller than the image shows only palette colours instead of blends that the file never holds."""
    ax.imshow(_composite(image), interpolation="nearest" if palette_only else "antialiased")
    ax.set_title(title)
    ax.set_axis_off()


# ---------------------------------------------------------------------------------------------
# Palette
# ---------------------------------------------------------------------------------------------


def plot_palette(palette, *, counts=None, ax=None, max_columns=16, label_max=32):
    """Draw a palette as a grid of swatches, labelled with hex codes and shares of pixels.

    Parameters
    ----------
    palette : ndarray of uint8, shape (k, 3) or (k, 4)
    counts : array_like of shape (k,), optional
        Pixels per palette colour (e.g. ``np.bincount(labels.ravel())``); shown as a percentage
        under each hex code.
    ax : matplotlib Axes, optional
    max_columns : int, default 16
        Swatches per row.
    label_max : int, default 32
        Hex codes are written on the swatches only up to this many colours (beyond, they would
        not fit).

    Returns
    -------
    matplotlib.figure.Figure
    """
    palette = _check_palette(palette)
    k, n_ch = palette.shape
    if counts is not None:
        counts = np.asarray(counts, dtype=np.float64)
        if counts.shape != (k,):
            msg = f"counts must have one entry per palette colour, shape ({k},), got shape {counts.shape}."
            raise ValueError(msg)
    ncols = min(k, max_columns)
    nrows = math.ceil(k / ncols)
    if ax is None:
        fig, ax = plt.subplots(figsize=(max(4.0, 0.8 * ncols), 0.8 * nrows + 0.7), layout="constrained")
    fig = ax.figure
    cell = 16
    swatches = np.zeros((nrows * ncols, n_ch), np.uint8)
    swatches[:k] = palette
    if n_ch == 3:
        swatches[k:] = 255  # empty cells: white
    grid = swatches.reshape(nrows, ncols, 1, 1, n_ch)
    grid = np.broadcast_to(grid, (nrows, ncols, cell, cell, n_ch)).transpose(0, 2, 1, 3, 4)
    grid = np.ascontiguousarray(grid).reshape(nrows * cell, ncols * cell, n_ch)
    ax.imshow(_composite(grid), interpolation="nearest", extent=(0, ncols, nrows, 0))
    ax.set_xticks([])
    ax.set_yticks([])
    if k <= label_max:
        share = None if counts is None else counts / max(counts.sum(), 1.0)
        lum = palette[:, :3].astype(np.float64) @ np.array([0.299, 0.587, 0.114])
        if n_ch == 4:  # seen over the light checkerboard
            a = palette[:, 3] / 255.0
            lum = lum * a + 230.0 * (1.0 - a)
        for i, color in enumerate(palette):
            row, col = divmod(i, ncols)
            text = to_hex(color)
            if share is not None:
                text += f"\n{share[i]:.1%}"
            ax.text(
                col + 0.5,
                row + 0.5,
                text,
                ha="center",
                va="center",
                fontsize=8,
                color="black" if lum[i] > 128 else "white",
            )
    title = f"Palette, k = {k} colour{'s' if k != 1 else ''}"
    if counts is not None:
        title += " (share of pixels under each)" if k <= label_max else ""
    ax.set_title(title)
    return fig


# ---------------------------------------------------------------------------------------------
# Colour scatter plots
# ---------------------------------------------------------------------------------------------


_RGB_TICKS = [64, 128, 192]  # away from the cube's corners, where three axes' labels meet


def _edge_colors(colors):
    """A thin grey rim for near-white points (drawn on white panes, they would vanish), none for the rest."""
    rgb = colors[:, :3].astype(np.float64) / 255.0
    light = rgb @ np.array([0.299, 0.587, 0.114]) > 0.8
    edges = np.zeros((len(colors), 4))
    edges[light] = (0.45, 0.45, 0.45, 1.0)
    return edges


def _scatter_rgb(ax, positions, colors, title, size):
    ax.scatter(
        positions[:, 0],
        positions[:, 1],
        positions[:, 2],
        c=colors.astype(np.float64) / 255.0,
        s=size,
        depthshade=False,  # keep the true colours
        edgecolors=_edge_colors(colors),
        linewidths=0.4,
    )
    for axis in (ax.xaxis, ax.yaxis, ax.zaxis):
        axis.set_pane_color((1.0, 1.0, 1.0, 0.0))  # no grey pane for near-white points to vanish into
    ax.set_xlim(0, 255)
    ax.set_ylim(0, 255)
    ax.set_zlim(0, 255)
    ax.set_xticks(_RGB_TICKS)
    ax.set_yticks(_RGB_TICKS)
    ax.set_zticks(_RGB_TICKS)
    ax.tick_params(labelsize=8, pad=0)
    ax.set_xlabel("red (0–255)", labelpad=2)
    ax.set_ylabel("green (0–255)", labelpad=2)
    ax.set_zlabel("blue (0–255)", labelpad=6)
    ax.set_box_aspect(None, zoom=0.85)  # room for the axis labels inside the panel
    ax.set_title(title)


def plot_color_scatter(image, quantized=None, *, palette=None, n_samples=3000, random_state=0, ax=None):
    """Pixels as points in 3-D RGB space, each drawn in its own colour.

    A fixed-seed random sample of the pixels is drawn (the same pixels in both panels). With
    ``quantized``, a second panel shows the same pixels at the same places drawn in the colour
    k-means gave them, so the clusters appear as regions of one colour; ``palette`` marks the k
    centres (large crosses edged in black) on every panel.

    Parameters
    ----------
    image : ndarray of uint8, shape (H, W, 3) or (H, W, 4)
        Fully transparent pixels (alpha 0) are left out; the others are drawn with their alpha.
    quantized : ndarray of uint8, same shape as ``image``, optional
    palette : ndarray of uint8, shape (k, 3) or (k, 4), optional
        Fully transparent entries are not marked.
    n_samples : int, default 3000
        Pixels drawn (all of them when the image has fewer visible pixels).
    random_state : int, default 0
        Seed of the sample (``numpy.random.default_rng``).
    ax : Axes3D or sequence of Axes3D, optional
        One 3-D axes per panel (``fig.add_subplot(projection="3d")``).

    Returns
    -------
    matplotlib.figure.Figure
    """
    image = _check_image(image)
    if quantized is not None:
        quantized = _check_image(quantized, "quantized")
        if quantized.shape != image.shape:
            msg = f"quantized must have the shape of image {image.shape}, got {quantized.shape}."
            raise ValueError(msg)
    if palette is not None:
        palette = _check_palette(palette)
    if isinstance(n_samples, bool) or not isinstance(n_samples, (int, np.integer)) or n_samples < 1:
        msg = f"n_samples must be a positive integer, got {n_samples!r}."
        raise ValueError(msg)
    n_panels = 1 if quantized is None else 2
    fig, axes = _axes_list(ax, n_panels, projection="3d", figsize=(5.5 * n_panels, 5.2))

    n_ch = image.shape[2]
    pixels = image.reshape(-1, n_ch)
    visible = np.flatnonzero(pixels[:, 3] > 0) if n_ch == 4 else np.arange(len(pixels))
    rng = np.random.default_rng(random_state)
    n = min(n_samples, len(visible))
    idx = np.sort(rng.choice(visible, size=n, replace=False))
    size = 4.0 if n > 1000 else 12.0

    k_text = "" if palette is None else f"\ncrosses: the k = {len(palette)} palette colours"
    _scatter_rgb(axes[0], pixels[idx], pixels[idx], f"Original: {n:,} of {len(pixels):,} pixels{k_text}", size)
    if quantized is not None:
        q_pixels = quantized.reshape(-1, n_ch)[idx]
        k = len(palette) if palette is not None else len(np.unique(q_pixels, axis=0))
        _scatter_rgb(axes[1], pixels[idx], q_pixels, f"The same pixels in their palette colour\nk = {k}", size)
    if palette is not None:
        shown = palette if palette.shape[1] == 3 else palette[palette[:, 3] > 0]
        marker_size = max(30.0, 160.0 / math.sqrt(max(1, len(shown)) / 8))
        for a in axes:
            a.scatter(
                *shown[:, :3].T,
                c=shown.astype(np.float64) / 255.0,
                s=marker_size,
                marker="X",
                edgecolors="black",
                linewidths=0.8,
                depthshade=False,
            )
    return fig


# ---------------------------------------------------------------------------------------------
# Images side by side and over k
# ---------------------------------------------------------------------------------------------


def plot_side_by_side(original, quantized, *, measurement=None, ax=None):
    """The original and the quantized image side by side, titled with bytes, PSNR and SSIM.

    Parameters
    ----------
    original, quantized : ndarray of uint8, shape (H, W, 3) or (H, W, 4), same shape
    measurement : Measurement, optional
        The quantized image's :class:`~kmeans_compress.Measurement` (from
        :func:`~kmeans_compress.measure`): the titles then give k, both file sizes, PSNR and
        SSIM. Nothing is measured here; without it the titles give the size in pixels and the
        number of colours.
    ax : sequence of two Axes, optional

    Returns
    -------
    matplotlib.figure.Figure
    """
    original = _check_image(original, "original")
    quantized = _check_image(quantized, "quantized")
    if quantized.shape != original.shape:
        msg = f"quantized must have the shape of original {original.shape}, got {quantized.shape}."
        raise ValueError(msg)
    height, width = original.shape[:2]
    panel_w = 4.5  # two panels fit a notebook column without scaling
    fig, axes = _axes_list(ax, 2, figsize=(2 * panel_w, panel_w * height / width + 1.0))
    left = f"Original, {width}×{height}"
    if measurement is None:
        right = f"{_distinct_colors(quantized):,} colours"
    else:
        if measurement.bytes_in is not None:
            left += f"\n{_kb(measurement.bytes_in)}"
        right = (
            f"k = {measurement.k}, {_kb(measurement.bytes_out)}\n"
            f"PSNR {_psnr_text(measurement.psnr)}, SSIM {measurement.ssim:.3f}"
        )
    _show_image(axes[0], original, left)
    _show_image(axes[1], quantized, right, palette_only=True)
    return fig


def _result_layout(shape, k, max_columns=16):
    """(figure size, image height, palette height) in inches for :func:`plot_result`."""
    height, width = shape[:2]
    panel_w = 6.0
    image_h = panel_w * height / width
    palette_h = max(0.45, 0.3 * math.ceil(k / min(k, max_columns)))
    return (panel_w, image_h + palette_h + 0.9), image_h, palette_h


def result_figsize(shape, k, max_columns=16):
    """The figure size (inches) that :func:`plot_result` uses for an image of ``shape`` and ``k`` colours."""
    return _result_layout(shape, k, max_columns)[0]


def plot_result(quantized, palette, *, measurement=None, max_columns=16, fig=None):
    """One quantized image above its palette, titled with k, file size and PSNR.

    What the k slider of :mod:`kmeans_compress.interactive` shows for each k.

    Parameters
    ----------
    quantized : ndarray of uint8, shape (H, W, 3) or (H, W, 4)
    palette : ndarray of uint8, shape (k, 3) or (k, 4)
    measurement : Measurement, optional
        Its ``k``, ``bytes_out``, ``bits_per_pixel`` and ``psnr`` go in the title; nothing is
        measured here. Without it the title gives the number of palette colours.
    max_columns : int, default 16
        Swatches per row of the palette.
    fig : matplotlib Figure, optional
        An empty figure to draw into (e.g. ``matplotlib.figure.Figure()``, to draw without
        pyplot; ``result_figsize`` gives the size that fits).

    Returns
    -------
    matplotlib.figure.Figure
    """
    quantized = _check_image(quantized, "quantized")
    palette = _check_palette(palette)
    k = len(palette)
    figsize, image_h, palette_h = _result_layout(quantized.shape, k, max_columns)
    if fig is None:
        fig = plt.figure(figsize=figsize, layout="constrained")
    ax_image, ax_palette = fig.subplots(2, 1, height_ratios=[image_h, palette_h])
    _show_image(ax_image, quantized, "", palette_only=True)
    plot_palette(palette, ax=ax_palette, max_columns=max_columns, label_max=0)
    ax_palette.set_title("")
    if measurement is None:
        title = f"k = {k}"
    else:
        title = (
            f"k = {measurement.k}: indexed PNG {_kb(measurement.bytes_out)}, "
            f"{measurement.bits_per_pixel:.2f} bits per pixel\nPSNR {_psnr_text(measurement.psnr)}"
        )
    ax_image.set_title(title)
    return fig


def _grid_columns(n_panels, max_columns):
    """Columns for ``n_panels``: at most ``max_columns``, and a count that fills every row when
    one of 3..max_columns does (7 panels in 4 columns leave a gap; 6 go in 3 columns)."""
    if n_panels <= max_columns:
        return max(1, n_panels)
    for ncols in range(max_columns, 2, -1):
        if n_panels % ncols == 0:
            return ncols
    return max_columns


def _grid_axes(fig, n_panels, ncols):
    """``n_panels`` axes in rows of ``ncols``; a last row that is not full is centred, so the grid
    has no empty slot (each panel spans two columns of a grid of half-panels)."""
    nrows = math.ceil(n_panels / ncols)
    spec = fig.add_gridspec(nrows, 2 * ncols)
    axes = []
    for i in range(n_panels):
        row, col = divmod(i, ncols)
        offset = ncols - min(ncols, n_panels - row * ncols)  # half-panels before a short last row
        start = offset + 2 * col
        axes.append(fig.add_subplot(spec[row, start : start + 2]))
    return axes


def _result_image(value):
    """The quantized image of a QuantizeResult, a fitted KMeansQuantizer or an image."""
    if hasattr(value, "palette_") and hasattr(value, "labels_"):
        image = value.palette_[value.labels_]
    else:
        image = getattr(value, "image", value)
    return _check_image(image, "each result")


def plot_k_grid(image, results, *, measurements=None, ncols=4, include_original=True, fig=None):
    """A grid of the image quantized at several k, each titled with its k, file size and PSNR.

    Parameters
    ----------
    image : ndarray of uint8, shape (H, W, 3) or (H, W, 4)
        The original, shown first when ``include_original``.
    results : mapping of k to QuantizeResult, fitted KMeansQuantizer or quantized image, or sequence of QuantizeResult
        The quantized images to show.
    measurements : sequence of Measurement, optional
        Their measurements (e.g. sweep rows), matched by ``k``: each panel's title gives the
        file size and PSNR of its k. Nothing is measured here; without them titles give k only.
    ncols : int, default=4
        Most panels per row; fewer when that fills every row, and a last row that is not full
        is centred, so no slot is left empty.
    include_original : bool, default=True
    fig : matplotlib Figure, optional
        An empty figure to draw into.

    Returns
    -------
    matplotlib.figure.Figure
    """
    image = _check_image(image)
    if not isinstance(results, Mapping):
        results = {int(r.quantizer.n_colors): r for r in results}
    if not results:
        msg = "results must hold at least one quantized image."
        raise ValueError(msg)
    by_k = {int(m.k): m for m in measurements} if measurements is not None else {}
    panels = [("original", image)] if include_original else []
    panels += [(int(k), v) for k, v in results.items()]
    axes = _panel_axes(fig, len(panels), ncols, image.shape[:2], panel_w=3.2, title_h=1.0)
    fig = axes[0].figure
    for ax, (k, value) in zip(axes, panels):
        if k == "original":
            _show_image(ax, image, f"Original\n{_distinct_colors(image):,} colours")
            continue
        quantized = _result_image(value)
        if quantized.shape != image.shape:
            msg = f"the image for k = {k} has shape {quantized.shape}, expected {image.shape}."
            raise ValueError(msg)
        m = by_k.get(k)
        title = f"k = {k}" if m is None else f"k = {k}\n{_kb(m.bytes_out)}, PSNR {_psnr_text(m.psnr)}"
        _show_image(ax, quantized, title, palette_only=True)
    ks = ", ".join(str(k) for k in results)
    fig.suptitle(f"Quantized at k = {ks}")
    return fig


def _zoom_slices(shape, zoom):
    """Row and column slices for ``zoom = (top, left, bottom, right)`` given as fractions 0..1."""
    if zoom is None:
        return slice(None), slice(None)
    try:
        top, left, bottom, right = (float(v) for v in zoom)
    except (TypeError, ValueError):
        top = None
    if top is None or not (0 <= top < bottom <= 1 and 0 <= left < right <= 1):
        msg = (
            "zoom must be (top, left, bottom, right) as fractions of the image with 0 <= top < bottom "
            f"<= 1 and 0 <= left < right <= 1, e.g. (0, 0, 0.5, 0.5) for the top-left quarter; got {zoom!r}."
        )
        raise ValueError(msg)
    height, width = shape[:2]
    r0, r1 = int(top * height), max(int(top * height) + 1, int(round(bottom * height)))
    c0, c1 = int(left * width), max(int(left * width) + 1, int(round(right * width)))
    return slice(r0, r1), slice(c0, c1)


def plot_variants(image, variants, *, measurements=None, zoom=None, title=None, ncols=4, include_original=True, fig=None):
    """The same image quantized in several ways, side by side, titled with bytes, PSNR, SSIM and ΔE00.

    Parameters
    ----------
    image : ndarray of uint8, shape (H, W, 3) or (H, W, 4)
        The original: the reference for the measures, shown first when ``include_original``.
    variants : mapping of str to QuantizeResult, fitted KMeansQuantizer or quantized image
        A label (the parameters, e.g. ``"oklab, k = 8, dithered"``) for each result.
    measurements : mapping of str to Measurement, optional
        For each label, its :class:`~kmeans_compress.Measurement`: the panel's title gives its
        file size, PSNR, SSIM and ΔE00. Nothing is measured here; a label without one is
        titled with its label only.
    zoom : (top, left, bottom, right), optional
        The part of the images shown, as fractions of height and width (``(0, 0, 0.5, 0.5)`` is
        the top-left quarter), so banding and dithering are visible; the measures are always of
        the whole image.
    title : str, optional
        What the variants share (e.g. ``"k = 8"``), put at the head of the figure's title.
    ncols : int, default 4
    include_original : bool, default True
        Show the original once, in a first column of its own beside the rows of variants.
    fig : matplotlib Figure, optional
        Draw into this empty figure instead of a new one.

    Returns
    -------
    matplotlib.figure.Figure
        With one panel per variant (and the original).
    """
    image = _check_image(image)
    if not isinstance(variants, Mapping) or not variants:
        msg = f"variants must be a non-empty mapping of label to result, got {type(variants).__name__}."
        raise ValueError(msg)
    rows, cols = _zoom_slices(image.shape, zoom)
    measurements = {} if measurements is None else measurements
    variant_panels = []
    for label, value in variants.items():
        quantized = _result_image(value)
        if quantized.shape != image.shape:
            msg = f"the image for {label!r} has shape {quantized.shape}, expected {image.shape}."
            raise ValueError(msg)
        variant_panels.append((str(label), quantized, measurements.get(label, False)))
    original = ("Original", image, None)
    crop_h, crop_w = image[rows, cols].shape[:2]
    panel_w = 3.4
    if include_original:
        # the original once, in a first column of its own beside every row of variants; the
        # variants in half-panel columns, so that a last row that is not full is centred
        n = len(variant_panels)
        per_row = max(1, min(ncols - 1, n))
        nrows = math.ceil(n / per_row)
        if fig is None:
            size = ((per_row + 1) * panel_w, nrows * (panel_w * crop_h / crop_w + 0.8))
            fig = plt.figure(figsize=size, layout="constrained")
        spec = fig.add_gridspec(nrows, 1 + 2 * per_row, width_ratios=[2] + [1] * (2 * per_row))
        axes = [fig.add_subplot(spec[:, 0])]
        for i in range(n):
            row, col = divmod(i, per_row)
            start = 1 + per_row - min(per_row, n - row * per_row) + 2 * col
            axes.append(fig.add_subplot(spec[row, start : start + 2]))
        panels = [original, *variant_panels]
    else:
        axes = _panel_axes(fig, len(variant_panels), ncols, (crop_h, crop_w), panel_w=panel_w, title_h=0.8)
        fig = axes[0].figure
        panels = variant_panels
    for ax, (label, shown, m) in zip(axes, panels):
        if m is None:  # the original
            panel_title = f"{label}\n{_distinct_colors(image):,} colours"
        elif m is False:  # a variant without a measurement
            panel_title = label
        else:
            panel_title = (
                f"{label}: {_kb(m.bytes_out)}\n"
                f"PSNR {_psnr_text(m.psnr)}, SSIM {m.ssim:.3f}, ΔE00 {m.delta_e:.2f}"
            )
        _show_image(ax, shown[rows, cols], panel_title, palette_only=m is not None)
        ax.title.set_fontsize(9)
    where = "" if zoom is None else f" (shown: rows {rows.start}–{rows.stop}, columns {cols.start}–{cols.stop}; measures of the whole image)"
    head = f"{title}: " if title else ""
    fig.suptitle(f"{head}{len(variants)} variants{where}", fontsize=10)
    return fig


# ---------------------------------------------------------------------------------------------
# Curves over k
# ---------------------------------------------------------------------------------------------


def _split_vertically(ax):
    """Replace ``ax`` by two axes one above the other in its slot, sharing x (top, bottom)."""
    fig, spec = ax.figure, ax.get_subplotspec()
    ax.remove()
    inner = spec.subgridspec(2, 1, hspace=0.05)
    top = fig.add_subplot(inner[0])
    return top, fig.add_subplot(inner[1], sharex=top)


def plot_sweep_curves(rows, *, ax=None):
    """Size and quality against k, and quality against size, from sweep records.

    Three slots: indexed-PNG size (kB, with bits per pixel on the right axis) against k;
    PSNR (top) and SSIM (bottom, up to 1 = identical) against k, each on its own axis; PSNR
    against size with each point
    labelled by its k, which shows where more colours stop paying. k is on a log-2 axis.
    When the rows carry the comparisons of ``sweep(..., compare=True)``, the last panel also
    shows JPEG at the same bytes or fewer and Pillow's median cut at the same k.
    An infinite PSNR (exact image) is left out of the curves and said in the title.

    Parameters
    ----------
    rows : sequence of SweepRow
        From :func:`kmeans_compress.sweep` (fields ``k``, ``bytes_out``,
        ``bits_per_pixel``, ``psnr``, ``ssim``).
    ax : sequence of three Axes, optional
        The middle one is replaced by the PSNR and SSIM axes, in its slot.

    Returns
    -------
    matplotlib.figure.Figure
    """
    rows = sorted(rows, key=lambda r: r.k)
    if not rows:
        msg = "rows must hold at least one sweep record."
        raise ValueError(msg)
    ks = np.array([r.k for r in rows], dtype=np.float64)
    kb = np.array([r.bytes_out for r in rows], dtype=np.float64) / 1000.0
    bpp_per_kb = rows[0].bits_per_pixel / kb[0] if kb[0] > 0 else 0.0
    quality = np.array([r.psnr for r in rows], dtype=np.float64)
    exact = ~np.isfinite(quality)
    quality[exact] = np.nan
    similarity = np.array([r.ssim for r in rows], dtype=np.float64)
    k_range = f"k = {int(ks[0])}" if len(ks) == 1 else f"k = {int(ks[0])} to {int(ks[-1])}"

    fig, (ax_size, ax_quality, ax_rd) = _axes_list(ax, 3, figsize=(15.0, 4.8))
    ax_psnr, ax_ssim = _split_vertically(ax_quality)
    base = 2 if ks.max() > ks.min() else 10
    for a in (ax_size, ax_psnr, ax_ssim):
        a.set_xscale("log", base=base)
        a.set_xticks(ks, [str(int(k)) for k in ks])
        a.minorticks_off()
        a.set_xlabel("k (colours, log scale)")
        a.grid(True, alpha=0.3)

    ax_size.plot(ks, kb, "o-", color="tab:blue")
    ax_size.set_ylabel("indexed PNG size (kB)")
    if bpp_per_kb > 0:
        sec = ax_size.secondary_yaxis("right", functions=(lambda x: x * bpp_per_kb, lambda y: y / bpp_per_kb))
        sec.set_ylabel("bits per pixel")
    ax_size.set_title(f"File size against k ({k_range})")

    # PSNR and SSIM each on an axis of its own, one above the other in the middle slot: on the two
    # y axes of one panel, each autoscaled, their curves lay on top of each other as if one measure
    ax_psnr.plot(ks, quality, "o-", color="tab:red")
    ax_psnr.set_ylabel("PSNR (dB)")
    ax_psnr.tick_params(labelbottom=False)
    ax_psnr.set_xlabel("")
    ax_ssim.plot(ks, similarity, "s-", color="tab:green")
    ax_ssim.set_ylabel("SSIM (1 = identical)")
    low = np.nanmin(similarity)
    ax_ssim.set_ylim(max(-1.0, low - 0.1 * max(1.0 - low, 0.05)), 1.02)
    note = f"; exact (PSNR ∞) at k ≥ {int(ks[exact][0])}" if exact.any() else ""
    ax_psnr.set_title(f"Quality against k ({k_range}){note}")

    ax_rd.plot(kb, quality, "o-", color="tab:purple", label="k-means palette PNG")
    for name, baseline, style, color in (
        ("JPEG, no larger", "jpeg", "s--", "tab:gray"),
        ("Pillow median cut, same k", "mediancut", "^:", "tab:olive"),
    ):
        found = [getattr(r, baseline, None) for r in rows]
        pairs = [(b.bytes / 1000.0, b.psnr) for b in found if b is not None and math.isfinite(b.psnr)]
        if pairs:
            ax_rd.plot(*zip(*pairs), style, color=color, label=name, markersize=5)
    if len(ax_rd.get_lines()) > 1:
        ax_rd.legend(loc="lower right", fontsize=8)
    for k, x, y in zip(ks, kb, quality):
        if np.isfinite(y):
            ax_rd.annotate(f"k={int(k)}", (x, y), xytext=(-5, 5), textcoords="offset points", ha="right", fontsize=8)
    ax_rd.set_xlabel("file size (kB)")
    ax_rd.set_ylabel("PSNR (dB)")
    ax_rd.margins(x=0.12, y=0.08)  # room for the k labels
    ax_rd.grid(True, alpha=0.3)
    ax_rd.set_title(f"Quality against size ({k_range})")
    return fig


def plot_gain_per_kb(rows, *, suggested_k=None, psnr_cap=60.0, ax=None):
    """PSNR gained per kilobyte spent, step by step between neighbouring k: where more colours stop paying.

    One bar per step from one k of the sweep to the next: ``(PSNR(k2) - PSNR(k1)) /
    (kB(k2) - kB(k1))``. The dashed line is the same ratio over the whole range (first k to
    last). With ``suggested_k``, the steps up to it are drawn in one colour and the later ones
    in grey. For a curve that flattens, the knee of :func:`kmeans_compress.choose_k` (largest
    normalised PSNR minus normalised bytes) is the k reached by the last step above the line.

    Parameters
    ----------
    rows : sequence of Measurement
        At least two k (fields ``k``, ``bytes_out``, ``psnr``).
    suggested_k : int, optional
        The k to mark.
    psnr_cap : float, default 60.0
        PSNR above it (infinite when exact) counts as this, as the knee rule does.
    ax : matplotlib Axes, optional

    Returns
    -------
    matplotlib.figure.Figure
    """
    rows = sorted(rows, key=lambda r: r.k)
    if len(rows) < 2:
        msg = f"rows must hold at least two k to compare neighbours, got {len(rows)}."
        raise ValueError(msg)
    ks = [int(r.k) for r in rows]
    kb = np.array([r.bytes_out for r in rows], dtype=np.float64) / 1000.0
    quality = np.minimum(np.array([r.psnr for r in rows], dtype=np.float64), psnr_cap)
    spent, gained = np.diff(kb), np.diff(quality)
    gain = np.divide(gained, spent, out=np.full_like(gained, np.nan), where=spent > 0)
    overall = (quality[-1] - quality[0]) / (kb[-1] - kb[0]) if kb[-1] > kb[0] else np.nan
    if ax is None:
        fig, ax = plt.subplots(figsize=(max(6.0, 1.1 * len(gain) + 2.0), 3.8), layout="constrained")
    fig = ax.figure
    labels = [f"{a}→{b}" for a, b in zip(ks[:-1], ks[1:])]
    colors = ["tab:purple" if suggested_k is None or b <= suggested_k else "tab:gray" for b in ks[1:]]
    x = np.arange(len(gain))
    ax.bar(x, np.nan_to_num(gain), color=colors)
    ax.set_xticks(x, labels)
    if np.isfinite(overall):
        ax.axhline(overall, color="black", linestyle="--", linewidth=1, label=f"over k = {ks[0]} to {ks[-1]}: {overall:.2f} dB/kB")
        top = max(np.nanmax(gain), overall)
        if top > 0:
            ax.set_ylim(top=1.3 * top)  # headroom, so that the legend never covers a bar
        ax.legend(loc="upper right")
    ax.set_xlabel("step between neighbouring k")
    ax.set_ylabel("PSNR gained per kB (dB/kB)")
    ax.grid(True, axis="y", alpha=0.3)
    title = "Quality gained per kB spent"
    if suggested_k is not None:
        title += f": suggested k = {suggested_k}"
    ax.set_title(title)
    return fig


def plot_sweep_reports(reports):
    """The sweep curves of several files, one row of :func:`plot_sweep_curves` panels each.

    Parameters
    ----------
    reports : sequence of SweepReport
        One per file (what ``kmeans-compress --sweep`` measures; ``input`` and ``rows``).

    Returns
    -------
    matplotlib.figure.Figure
        Made without pyplot, so that the command line can save it with no display.
    """
    from matplotlib.figure import Figure

    reports = list(reports)
    if not reports:
        msg = "reports must hold at least one sweep report."
        raise ValueError(msg)
    fig = Figure(figsize=(15.0, 4.6 * len(reports)), layout="constrained")
    axes = fig.subplots(len(reports), 3, squeeze=False)
    for report, row_axes in zip(reports, axes):
        plot_sweep_curves(report.rows, ax=row_axes)
        row_axes[0].set_title(f"{Path(report.input).name}: {row_axes[0].get_title()}")
    return fig
