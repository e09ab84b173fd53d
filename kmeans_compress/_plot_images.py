"""Figures of images: side by side, one result above its palette, a grid over k, variants with a zoom."""

from __future__ import annotations

import math
from collections.abc import Mapping
from typing import TYPE_CHECKING, Any

from ._plot_colors import plot_palette
from ._plot_common import axes_list, distinct_colors, kb_text, panel_axes, plt, psnr_text, show_image
from ._validation import check_image, check_palette

if TYPE_CHECKING:
    from collections.abc import Sequence

    import numpy as np
    from matplotlib.axes import Axes
    from matplotlib.figure import Figure
    from numpy.typing import NDArray

__all__ = ["plot_k_grid", "plot_result", "plot_side_by_side", "plot_variants", "result_figsize"]


def plot_side_by_side(
    original: NDArray[np.uint8],
    quantized: NDArray[np.uint8],
    *,
    measurement: Any = None,
    ax: Sequence[Axes] | None = None,
) -> Figure:
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
    original = check_image(original, "original")
    quantized = check_image(quantized, "quantized")
    if quantized.shape != original.shape:
        msg = f"quantized must have the shape of original {original.shape}, got {quantized.shape}."
        raise ValueError(msg)
    height, width = original.shape[:2]
    panel_w = 4.5  # two panels fit a notebook column without scaling
    fig, axes = axes_list(ax, 2, figsize=(2 * panel_w, panel_w * height / width + 1.0))
    left = f"Original, {width}×{height}"
    if measurement is None:
        right = f"{distinct_colors(quantized):,} colours"
    else:
        if measurement.bytes_in is not None:
            left += f"\n{kb_text(measurement.bytes_in)}"
        right = (
            f"k = {measurement.k}, {kb_text(measurement.bytes_out)}\n"
            f"PSNR {psnr_text(measurement.psnr)}, SSIM {measurement.ssim:.3f}"
        )
    show_image(axes[0], original, left)
    show_image(axes[1], quantized, right, palette_only=True)
    return fig


def _result_layout(shape: Sequence[int], k: int, max_columns: int = 16) -> tuple[tuple[float, float], float, float]:
    """(figure size, image height, palette height) in inches for :func:`plot_result`."""
    height, width = shape[:2]
    panel_w = 6.0
    image_h = panel_w * height / width
    palette_h = max(0.45, 0.3 * math.ceil(k / min(k, max_columns)))
    return (panel_w, image_h + palette_h + 0.9), image_h, palette_h


def result_figsize(shape: Sequence[int], k: int, max_columns: int = 16) -> tuple[float, float]:
    """The figure size (inches) that :func:`plot_result` uses for an image of ``shape`` and ``k`` colours."""
    return _result_layout(shape, k, max_columns)[0]


def plot_result(
    quantized: NDArray[np.uint8],
    palette: NDArray[np.uint8],
    *,
    measurement: Any = None,
    max_columns: int = 16,
    fig: Figure | None = None,
) -> Figure:
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
    quantized = check_image(quantized, "quantized")
    palette = check_palette(palette)
    k = len(palette)
    figsize, image_h, palette_h = _result_layout(quantized.shape, k, max_columns)
    if fig is None:
        fig = plt.figure(figsize=figsize, layout="constrained")
    ax_image, ax_palette = fig.subplots(2, 1, height_ratios=[image_h, palette_h])
    show_image(ax_image, quantized, "", palette_only=True)
    plot_palette(palette, ax=ax_palette, max_columns=max_columns, label_max=0)
    ax_palette.set_title("")
    if measurement is None:
        title = f"k = {k}"
    else:
        title = (
            f"k = {measurement.k}: indexed PNG {kb_text(measurement.bytes_out)}, "
            f"{measurement.bits_per_pixel:.2f} bits per pixel\nPSNR {psnr_text(measurement.psnr)}"
        )
    ax_image.set_title(title)
    return fig




def _result_image(value: Any, original: NDArray[np.uint8], name: str) -> NDArray[np.uint8]:
    """The quantized image of a QuantizeResult, a fitted KMeansQuantizer or an image, of ``original``'s shape."""
    if hasattr(value, "palette_") and hasattr(value, "labels_"):
        image = value.palette_[value.labels_]
    else:
        image = getattr(value, "image", value)
    image = check_image(image, "each result")
    if image.shape != original.shape:
        msg = f"the image for {name} has shape {image.shape}, expected {original.shape}."
        raise ValueError(msg)
    return image


def plot_k_grid(
    image: NDArray[np.uint8],
    results: Mapping[Any, Any] | Sequence[Any],
    *,
    measurements: Mapping[Any, Any] | None = None,
    ncols: int = 4, include_original: bool = True, fig: Figure | None = None,  # the grid's layout, as plot_variants'
) -> Figure:
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
    image = check_image(image)
    if not isinstance(results, Mapping):
        results = {int(r.quantizer.n_colors): r for r in results}
    if not results:
        msg = "results must hold at least one quantized image."
        raise ValueError(msg)
    by_k = {int(m.k): m for m in measurements} if measurements is not None else {}
    panels: list[tuple[Any, Any]] = [("original", image)] if include_original else []
    panels += [(int(k), v) for k, v in results.items()]
    axes = panel_axes(fig, len(panels), ncols, image.shape[:2], panel_w=3.2, title_h=1.0)
    fig = axes[0].figure
    for ax, (k, value) in zip(axes, panels, strict=True):
        if k == "original":
            show_image(ax, image, f"Original\n{distinct_colors(image):,} colours")
            continue
        quantized = _result_image(value, image, f"k = {k}")
        m = by_k.get(k)
        title = f"k = {k}" if m is None else f"k = {k}\n{kb_text(m.bytes_out)}, PSNR {psnr_text(m.psnr)}"
        show_image(ax, quantized, title, palette_only=True)
    ks = ", ".join(str(k) for k in results)
    fig.suptitle(f"Quantized at k = {ks}")
    return fig


def _zoom_slices(shape: Sequence[int], zoom: tuple[float, float, float, float] | None) -> tuple[slice, slice]:
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
    r0, r1 = int(top * height), max(int(top * height) + 1, round(bottom * height))
    c0, c1 = int(left * width), max(int(left * width) + 1, round(right * width))
    return slice(r0, r1), slice(c0, c1)


def plot_variants(
    image: NDArray[np.uint8],
    variants: Mapping[str, Any],
    *,
    measurements: Mapping[str, Any] | None = None,
    zoom: tuple[float, float, float, float] | None = None,
    title: str | None = None,
    ncols: int = 4, include_original: bool = True, fig: Figure | None = None,  # the grid's layout, as plot_k_grid's
) -> Figure:
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
    image = check_image(image)
    if not isinstance(variants, Mapping) or not variants:
        msg = f"variants must be a non-empty mapping of label to result, got {type(variants).__name__}."
        raise ValueError(msg)
    rows, cols = _zoom_slices(image.shape, zoom)
    measurements = {} if measurements is None else measurements
    variant_panels = []
    for label, value in variants.items():
        quantized = _result_image(value, image, repr(label))
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
        axes = panel_axes(fig, len(variant_panels), ncols, (crop_h, crop_w), panel_w=panel_w, title_h=0.8)
        fig = axes[0].figure
        panels = variant_panels
    for ax, (label, shown, m) in zip(axes, panels, strict=True):
        if m is None:  # the original
            panel_title = f"{label}\n{distinct_colors(image):,} colours"
        elif m is False:  # a variant without a measurement
            panel_title = label
        else:
            panel_title = (
                f"{label}: {kb_text(m.bytes_out)}\n"
                f"PSNR {psnr_text(m.psnr)}, SSIM {m.ssim:.3f}, ΔE00 {m.delta_e:.2f}"
            )
        show_image(ax, shown[rows, cols], panel_title, palette_only=m is not None)
        ax.title.set_fontsize(9)
    where = (
        ""
        if zoom is None
        else f" (shown: rows {rows.start}–{rows.stop}, columns {cols.start}–{cols.stop}; measures of the whole image)"
    )
    head = f"{title}: " if title else ""
    fig.suptitle(f"{head}{len(variants)} variants{where}", fontsize=10)
    return fig
