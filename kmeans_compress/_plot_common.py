"""What the figures of :mod:`kmeans_compress.plotting` share: axes, grids, titles, alpha over a checkerboard.

The matplotlib import of the plotting modules is here, with the message that names the extra
to install when it is missing.
"""

from __future__ import annotations

import math
from typing import TYPE_CHECKING, Any

import numpy as np

try:
    import matplotlib.pyplot as plt
except ImportError as exc:  # the [plot] extra
    msg = "kmeans_compress.plotting needs matplotlib: pip install 'kmeans-compress[plot]'"
    raise ImportError(msg) from exc

from ._colorspace import to_uint8

if TYPE_CHECKING:
    from collections.abc import Iterable, Sequence

    from matplotlib.axes import Axes
    from matplotlib.figure import Figure
    from numpy.typing import NDArray

__all__ = [
    "axes_list",
    "composite",
    "distinct_colors",
    "grid_axes",
    "grid_columns",
    "kb_text",
    "panel_axes",
    "plt",
    "psnr_text",
    "show_image",
    "to_hex",
]

_CHECKER_LIGHT, _CHECKER_DARK = 255.0, 204.0


def axes_list(
    ax: Axes | Sequence[Axes] | None, n: int, *, projection: str | None = None, figsize: tuple[float, float]
) -> tuple[Any, list[Any]]:  # Any: given axes' .figure may be a SubFigure; Axes3D's scatter differs
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
        names = [a.name for a in axes]
        msg = f"ax must be {projection!r} axes (fig.add_subplot(projection={projection!r})), got {names}."
        raise ValueError(msg)
    return axes[0].figure, axes


def to_hex(color: Iterable[int]) -> str:
    """``'#rrggbb'`` (or ``'#rrggbbaa'`` for four channels) for a uint8 colour."""
    return "#" + "".join(f"{int(v):02x}" for v in color)


def kb_text(n_bytes: float) -> str:
    return f"{n_bytes / 1000:.1f} kB"


def psnr_text(value: float) -> str:
    return "exact" if math.isinf(value) else f"{value:.1f} dB"


def distinct_colors(image: NDArray[np.uint8]) -> int:
    pixels = image.reshape(-1, image.shape[2])
    return len(np.unique(pixels, axis=0))


def composite(image: NDArray[np.uint8]) -> NDArray[np.uint8]:
    """RGB uint8 for display: RGBA is blended over a light checkerboard, RGB is returned as is."""
    if image.shape[2] == 3:
        return image
    height, width = image.shape[:2]
    cell = max(4, max(height, width) // 32)
    yy, xx = np.indices((height, width))
    checker = np.where(((yy // cell) + (xx // cell)) % 2 == 0, _CHECKER_LIGHT, _CHECKER_DARK)
    alpha = image[..., 3:4].astype(np.float64) / 255.0
    return to_uint8(image[..., :3] * alpha + checker[..., None] * (1.0 - alpha))


def panel_axes(
    fig: Figure | None, n_panels: int, ncols: int, shape: tuple[int, ...], *, panel_w: float, title_h: float
) -> Any:  # Any: read as a Figure's axes, mixed with plot_variants' own (.figure is Figure | SubFigure)
    """Axes for ``n_panels`` images of ``shape`` (H, W) in rows of at most ``ncols``, with no
    empty slot (see ``grid_columns`` and ``grid_axes``).

    A new figure sized for the panels when ``fig`` is None.
    """
    ncols = grid_columns(n_panels, max(1, ncols))
    nrows = math.ceil(n_panels / ncols)
    height, width = shape
    if fig is None:
        fig = plt.figure(figsize=(ncols * panel_w, nrows * (panel_w * height / width + title_h)), layout="constrained")
    return grid_axes(fig, n_panels, ncols)


def show_image(ax: Axes, image: NDArray[np.uint8], title: str, *, palette_only: bool = False) -> None:
    """``palette_only`` (for quantized images): nearest-neighbour resampling, so that a figure
    smaller than the image shows only palette colours instead of blends that the file never holds."""
    ax.imshow(composite(image), interpolation="nearest" if palette_only else "antialiased")
    ax.set_title(title)
    ax.set_axis_off()


def grid_columns(n_panels: int, max_columns: int) -> int:
    """Columns for ``n_panels``: at most ``max_columns``, and a count that fills every row when
    one of 3..max_columns does (7 panels in 4 columns leave a gap; 6 go in 3 columns)."""
    if n_panels <= max_columns:
        return max(1, n_panels)
    for ncols in range(max_columns, 2, -1):
        if n_panels % ncols == 0:
            return ncols
    return max_columns


def grid_axes(fig: Figure, n_panels: int, ncols: int) -> list[Axes]:
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
