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

The figures are drawn by private modules, one per concern (colours, images, sweeps); this
module is their public face.
"""

from __future__ import annotations

from ._plot_colors import plot_color_scatter, plot_palette
from ._plot_common import to_hex
from ._plot_images import (
    plot_k_grid,
    plot_result,
    plot_side_by_side,
    plot_variants,
)
from ._plot_sweeps import plot_gain_per_kb, plot_sweep_curves, plot_sweep_reports

__all__ = [
    "plot_color_scatter",
    "plot_gain_per_kb",
    "plot_k_grid",
    "plot_palette",
    "plot_result",
    "plot_side_by_side",
    "plot_sweep_curves",
    "plot_sweep_reports",
    "plot_variants",
    "to_hex",
]
