"""Figures of colours: a palette as swatches, pixels as points in the RGB cube."""

from __future__ import annotations

import math
from typing import TYPE_CHECKING, Any, Literal

import numpy as np

from ._histogram import ColorHistogram
from ._plot_common import axes_list, composite, plt, to_hex
from ._validation import check_image, check_palette

if TYPE_CHECKING:
    from collections.abc import Sequence

    from matplotlib.axes import Axes
    from matplotlib.figure import Figure
    from numpy.typing import ArrayLike, NDArray

__all__ = ["plot_color_scatter", "plot_palette"]


def plot_palette(
    palette: NDArray[np.uint8],
    *,
    counts: ArrayLike | None = None,
    ax: Axes | None = None,
    max_columns: int = 16,
    label_max: int = 32,
) -> Figure:
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
    palette = check_palette(palette)
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
    fig = ax.figure  # type: ignore[assignment] # the axes' own (sub)figure, returned as before
    cell = 16
    swatches = np.zeros((nrows * ncols, n_ch), np.uint8)
    swatches[:k] = palette
    if n_ch == 3:
        swatches[k:] = 255  # empty cells: white
    grid = swatches.reshape(nrows, ncols, 1, 1, n_ch)
    grid = np.broadcast_to(grid, (nrows, ncols, cell, cell, n_ch)).transpose(0, 2, 1, 3, 4)
    grid = np.ascontiguousarray(grid).reshape(nrows * cell, ncols * cell, n_ch)
    ax.imshow(composite(grid), interpolation="nearest", extent=(0, ncols, nrows, 0))
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
# Marker areas (points²) of the distinct colours: the most frequent one at the largest, the
# rarest not below the smallest (a colour of one pixel would otherwise be too small to see).
_DOT_AREA_MAX, _DOT_AREA_MIN = 300.0, 2.0


def _edge_colors(colors: NDArray[np.uint8]) -> NDArray[np.float64]:
    """A thin grey rim for near-white points (drawn on white panes, they would vanish), none for the rest."""
    rgb = colors[:, :3].astype(np.float64) / 255.0
    light = rgb @ np.array([0.299, 0.587, 0.114]) > 0.8
    edges = np.zeros((len(colors), 4))
    edges[light] = (0.45, 0.45, 0.45, 1.0)
    return edges


def _distinct_colors(
    image: NDArray[np.uint8], n_colors: int
) -> tuple[NDArray[np.uint8], NDArray[np.int64], NDArray[np.intp], int]:
    """(distinct visible colours, their pixel counts, index of each one's first pixel, number of
    distinct visible colours): the ``n_colors`` most frequent, most frequent first."""
    hist = ColorHistogram.from_image(image)
    visible = np.arange(hist.n_colors)
    if hist.n_channels == 4:
        visible = visible[hist.colors[:, 3] > 0]  # all fully transparent pixels: one colour, not drawn
    order = visible[np.argsort(-hist.counts[visible], kind="stable")][:n_colors]
    labels = hist.pixel_labels(np.arange(hist.n_colors, dtype=np.uint32)).reshape(-1)
    _, first = np.unique(labels, return_index=True)  # every colour has a pixel: first[i] is colour i's
    return hist.colors[order], hist.counts[order], first[order], len(visible)


def _dot_areas(counts: NDArray[np.int64]) -> NDArray[np.float64]:
    """Marker areas proportional to pixel counts, the largest ``_DOT_AREA_MAX``, none below ``_DOT_AREA_MIN``."""
    if len(counts) == 0:
        return np.zeros(0)
    return np.maximum(_DOT_AREA_MAX * counts / counts.max(), _DOT_AREA_MIN)


def _scatter_rgb(
    ax: Any, positions: NDArray[np.uint8], colors: NDArray[np.uint8], title: str, size: float | NDArray[np.float64]
) -> None:  # ax: an Axes3D (mpl_toolkits has no type information)
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


def plot_color_scatter(
    image: NDArray[np.uint8],
    quantized: NDArray[np.uint8] | None = None,
    *,
    palette: NDArray[np.uint8] | None = None,
    n_samples: int = 3000,
    random_state: int = 0,
    ax: Axes | Sequence[Axes] | None = None,
    points: Literal["sample", "distinct"] = "sample",
) -> Figure:
    """Pixels as points in 3-D RGB space, each drawn in its own colour.

    A fixed-seed random sample of the pixels is drawn (the same pixels in both panels), or with
    ``points="distinct"`` each distinct colour once, its dot's area proportional to its pixel
    count. With ``quantized``, a second panel shows the same points at the same places drawn in
    the colour k-means gave them, so the clusters appear as regions of one colour; ``palette``
    marks the k centres (large crosses edged in black) on every panel.

    Parameters
    ----------
    image : ndarray of uint8, shape (H, W, 3) or (H, W, 4)
        Fully transparent pixels (alpha 0) are left out; the others are drawn with their alpha.
    quantized : ndarray of uint8, same shape as ``image``, optional
        The image rebuilt from its palette; adds the second panel.
    palette : ndarray of uint8, shape (k, 3) or (k, 4), optional
        Fully transparent entries are not marked.
    n_samples : int, default 3000
        Points drawn: pixels (all of them when the image has fewer visible pixels), or with
        ``points="distinct"`` the ``n_samples`` most frequent colours.
    random_state : int, default 0
        Seed of the sample (``numpy.random.default_rng``); unused with ``points="distinct"``.
    ax : Axes3D or sequence of Axes3D, optional
        One 3-D axes per panel (``fig.add_subplot(projection="3d")``).
    points : {"sample", "distinct"}, default "sample"
        What is drawn. ``"sample"``: a random sample of pixels, all dots one size, so a colour
        that many pixels share is one dot drawn over itself. ``"distinct"``: each distinct visible
        colour once (the weighted histogram that :class:`~kmeans_compress.KMeansQuantizer` fits),
        dot area proportional to the number of pixels of that colour (the largest a fixed size,
        the rarest kept visible); in the second panel each colour is drawn in the quantized value
        of its first pixel.

    Returns
    -------
    matplotlib.figure.Figure
        The figure, one 3-D panel per view.
    """
    image = check_image(image)
    if quantized is not None:
        quantized = check_image(quantized, "quantized")
        if quantized.shape != image.shape:
            msg = f"quantized must have the shape of image {image.shape}, got {quantized.shape}."
            raise ValueError(msg)
    if palette is not None:
        palette = check_palette(palette)
    if not isinstance(points, str) or points not in ("sample", "distinct"):
        msg = f"points must be 'sample' or 'distinct', got {points!r}."
        raise ValueError(msg)
    if isinstance(n_samples, bool) or not isinstance(n_samples, (int, np.integer)) or n_samples < 1:
        msg = f"n_samples must be a positive integer, got {n_samples!r}."
        raise ValueError(msg)
    n_panels = 1 if quantized is None else 2
    fig, axes = axes_list(ax, n_panels, projection="3d", figsize=(5.5 * n_panels, 5.2))

    n_ch = image.shape[2]
    pixels = image.reshape(-1, n_ch)
    k_text = "" if palette is None else f"\ncrosses: the k = {len(palette)} palette colours"
    size: float | NDArray[np.float64]
    if points == "distinct":
        colors, counts, idx, n_distinct = _distinct_colors(image, n_samples)
        n = len(colors)
        size = _dot_areas(counts)
        what = f"{n:,} most common of {n_distinct:,}" if n < n_distinct else f"{n:,}"
        title = f"Original: {what} distinct colour{'s' if n_distinct != 1 else ''}\ndot area ∝ pixels"
        same = "colours"
    else:
        visible = np.flatnonzero(pixels[:, 3] > 0) if n_ch == 4 else np.arange(len(pixels))
        rng = np.random.default_rng(random_state)
        n = min(n_samples, len(visible))
        idx = np.sort(rng.choice(visible, size=n, replace=False))
        colors = pixels[idx]
        size = 4.0 if n > 1000 else 12.0
        title = f"Original: {n:,} of {len(pixels):,} pixels"
        same = "pixels"

    _scatter_rgb(axes[0], colors, colors, title + k_text, size)
    if quantized is not None:
        q_pixels = quantized.reshape(-1, n_ch)[idx]
        k = len(palette) if palette is not None else len(np.unique(q_pixels, axis=0))
        _scatter_rgb(axes[1], colors, q_pixels, f"The same {same} in their palette colour\nk = {k}", size)
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
