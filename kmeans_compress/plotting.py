"""Figures for the notebook: palettes, colour scatter plots, side-by-side images, grids, curves.

The only module of the package that imports matplotlib, and nothing else in the package imports
it, so the command line starts fast and works without a display. Import it explicitly::

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

import matplotlib.pyplot as plt
import numpy as np

from ._colorspace import to_uint8

__all__ = [
    "plot_palette",
    "plot_color_scatter",
    "plot_side_by_side",
    "plot_k_grid",
    "plot_variants",
    "plot_sweep_curves",
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
    """Axes for ``n_panels`` images of ``shape`` (H, W) in rows of ``ncols``, spare axes hidden.

    A new figure sized for the panels when ``fig`` is None.
    """
    ncols = max(1, min(ncols, n_panels))
    nrows = math.ceil(n_panels / ncols)
    height, width = shape
    if fig is None:
        fig = plt.figure(figsize=(ncols * panel_w, nrows * (panel_w * height / width + title_h)), layout="constrained")
    axes = fig.subplots(nrows, ncols, squeeze=False).ravel()
    for ax in axes[n_panels:]:
        ax.set_axis_off()
    return axes


def _show_image(ax, image, title):
    ax.imshow(_composite(image))
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
                fontsize=7,
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


def _scatter_rgb(ax, positions, colors, title, size):
    ax.scatter(
        positions[:, 0],
        positions[:, 1],
        positions[:, 2],
        c=colors.astype(np.float64) / 255.0,
        s=size,
        depthshade=False,  # keep the true colours
        linewidths=0,
    )
    ax.set_xlim(0, 255)
    ax.set_ylim(0, 255)
    ax.set_zlim(0, 255)
    ticks = [0, 128, 255]
    ax.set_xticks(ticks)
    ax.set_yticks(ticks)
    ax.set_zticks(ticks)
    ax.set_xlabel("red")
    ax.set_ylabel("green")
    ax.set_zlabel("blue", labelpad=14)
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
    panel_w = 6.0
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
    _show_image(axes[1], quantized, right)
    return fig


def _palette_labels(value):
    """(palette, labels) of a QuantizeResult or a fitted KMeansQuantizer; None for a bare image."""
    if hasattr(value, "palette_") and hasattr(value, "labels_"):
        return value.palette_, value.labels_
    if hasattr(value, "palette") and hasattr(value, "labels"):
        return value.palette, value.labels
    return None


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
        Panels per row (fewer when there are fewer panels, so no slot is left empty in a
        single row).
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
        _show_image(ax, quantized, title)
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
        Show the original first; when the variants fill whole rows of ``ncols - 1``, the
        original starts every row.
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
    per_row = ncols - 1
    if include_original and per_row >= 1 and len(variant_panels) > per_row and len(variant_panels) % per_row == 0:
        # the variants fill whole rows: start every row with the original, to read left to right
        panels = []
        for start in range(0, len(variant_panels), per_row):
            panels += [original, *variant_panels[start : start + per_row]]
    else:
        panels = ([original] if include_original else []) + variant_panels
    axes = _panel_axes(fig, len(panels), ncols, image[rows, cols].shape[:2], panel_w=3.4, title_h=0.8)
    fig = axes[0].figure
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
        _show_image(ax, shown[rows, cols], panel_title)
        ax.title.set_fontsize(9)
    where = "" if zoom is None else f" (shown: rows {rows.start}–{rows.stop}, columns {cols.start}–{cols.stop}; measures of the whole image)"
    head = f"{title}: " if title else ""
    fig.suptitle(f"{head}{len(variants)} variants{where}", fontsize=10)
    return fig


# ---------------------------------------------------------------------------------------------
# Curves over k
# ---------------------------------------------------------------------------------------------


def plot_sweep_curves(rows, *, ax=None):
    """Size and quality against k, and quality against size, from sweep records.

    Three panels: indexed-PNG size (kB, with bits per pixel on the right axis) against k;
    PSNR (left axis) and SSIM (right axis) against k; PSNR against size with each point
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

    fig, (ax_size, ax_quality, ax_rd) = _axes_list(ax, 3, figsize=(15.0, 4.4))
    base = 2 if ks.max() > ks.min() else 10
    for a in (ax_size, ax_quality):
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

    ax_quality.plot(ks, quality, "o-", color="tab:red", label="PSNR")
    ax_quality.set_ylabel("PSNR (dB)", color="tab:red")
    twin = ax_quality.twinx()
    twin.plot(ks, similarity, "s--", color="tab:green", label="SSIM")
    twin.set_ylabel("SSIM", color="tab:green")
    lines = ax_quality.get_lines() + twin.get_lines()
    ax_quality.legend(lines, [line.get_label() for line in lines], loc="lower right")
    note = f"; exact (PSNR ∞) at k ≥ {int(ks[exact][0])}" if exact.any() else ""
    ax_quality.set_title(f"Quality against k ({k_range}){note}")

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
