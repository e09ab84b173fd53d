"""Remapping: every colour of an image onto its palette entry (nearest, runs within a budget, dithered).

The last stage of histogram → palette → remap. Distinct colours find their exactly nearest
entry once each (one distance computation per distinct colour, not per pixel) and pixels take
their colour's entry through the histogram; runs (:mod:`._runs`) then move pixels to a
neighbour's entry within a PSNR budget, or Floyd–Steinberg (:mod:`._dither`) diffuses the
error instead. :class:`~kmeans_compress.KMeansQuantizer` remaps through these functions both
for ``labels_`` in ``fit`` and in its public ``remap``.
"""

from __future__ import annotations

import warnings
from typing import Any

import numpy as np
from numpy.typing import NDArray

from ._dither import floyd_steinberg
from ._histogram import ColorHistogram
from ._metrics import palette_sq_error
from ._reduce import NearestSearch, cell_codes, compact_codes
from ._runs import favour_runs

__all__ = ["RunBudget", "nearest_entries", "remap_histogram", "resolve_run_budget"]

#: A ``run_budget``: PSNR in dB, or ``"auto"``.
RunBudget = Any

# A nearest-palette query on distinct colours compares every colour with every entry up to this
# many (colour, entry) pairs; above it, it first groups the colours by a grid of this many bits
# per channel (whose cells give every colour a good first guess).
_NEAREST_WITHOUT_GRID_MAX_PAIRS = 1 << 18
_SEARCH_BITS = 5
# run_budget="auto": this PSNR budget (dB) for palettes of at most this many colours, none above.
_AUTO_RUN_BUDGET_DB = 0.03
_AUTO_RUN_BUDGET_MAX_K = 16


def resolve_run_budget(run_budget: RunBudget, n_colors: int) -> float:
    """``run_budget`` in dB; ``"auto"`` is a small budget for palettes of at most 16 colours, none above.

    Parameters
    ----------
    run_budget : float or "auto"
        See :class:`~kmeans_compress.KMeansQuantizer`.
    n_colors : int
        Palette size the budget is for (the quantizer's ``n_colors``).

    Returns
    -------
    float
    """
    if isinstance(run_budget, str) and run_budget == "auto":
        return _AUTO_RUN_BUDGET_DB if n_colors <= _AUTO_RUN_BUDGET_MAX_K else 0.0
    return float(run_budget)


def nearest_entries(
    colors: NDArray[np.uint8],
    features: NDArray[np.float64],
    palette: NDArray[np.uint8],
    pal_feats: NDArray[np.float64],
    search: NearestSearch | None = None,
    guess: NDArray[np.intp] | None = None,
) -> tuple[NDArray[np.intp], NDArray[np.float64]]:
    """Nearest palette entry of every distinct colour, opaque colours to opaque entries.

    With alpha, a fully opaque colour is assigned to its nearest *opaque* entry whenever the
    palette has one: at small k a centre can average opaque pixels with edge pixels into a
    translucent colour, and the nearest-entry rule alone would then make part of an opaque area
    see-through. Fully transparent colours need no rule: their exact ``(0, 0, 0, 0)`` entry is at
    distance 0.

    Parameters
    ----------
    colors : ndarray of uint8, shape (M, C)
        Distinct colours.
    features : ndarray of float64, shape (M, D)
        ``colors`` in the quantizer's colour space.
    palette : ndarray of uint8, shape (k, C)
        The palette.
    pal_feats : ndarray of float64, shape (k, D)
        ``palette`` in the same colour space.
    search : NearestSearch, optional
        A search over ``features`` to reuse (from the fit's polishing).
    guess : ndarray of intp, shape (M,), optional
        A likely entry of each colour; it speeds the search up only.

    Returns
    -------
    labels : ndarray of intp, shape (M,)
        Entry of each colour, ties to the lowest index.
    sq_dist : ndarray of float64, shape (M,)
        Squared distance, in features, to that entry.
    """
    labels, sq_dist = _nearest(colors, features, pal_feats, search, guess)
    if colors.shape[1] == 4:
        opaque_entries = np.flatnonzero(palette[:, 3] == 255)
        if len(opaque_entries):
            moved = (colors[:, 3] == 255) & (palette[labels, 3] != 255)
            if moved.any():
                sub_labels, sub_dist = _nearest(colors[moved], features[moved], pal_feats[opaque_entries])
                labels = labels.copy()
                sq_dist = sq_dist.copy()
                labels[moved] = opaque_entries[sub_labels]
                sq_dist[moved] = sub_dist
    return labels, sq_dist


def _nearest(
    colors: NDArray[np.uint8],
    features: NDArray[np.float64],
    pal_feats: NDArray[np.float64],
    search: NearestSearch | None = None,
    guess: NDArray[np.intp] | None = None,
) -> tuple[NDArray[np.intp], NDArray[np.float64]]:
    """Exact nearest palette entry of every distinct colour (ties to the lowest index)."""
    if search is not None:
        return search.query(pal_feats, guess)
    if len(colors) * len(pal_feats) <= _NEAREST_WITHOUT_GRID_MAX_PAIRS:
        return NearestSearch(features).query(pal_feats)
    cells, _ = compact_codes(cell_codes(colors, _SEARCH_BITS), _SEARCH_BITS * colors.shape[1])
    return NearestSearch(features, cells).query(pal_feats)


Moves = tuple[NDArray[np.uint8], NDArray[Any], NDArray[Any], NDArray[np.int64]]
Runs = tuple[NDArray[np.intp], NDArray[Any], Moves]


def remap_histogram(
    hist: ColorHistogram,
    palette: NDArray[np.uint8],
    color_labels: NDArray[Any],
    *,
    dither: bool,
    run_budget_db: float,
    image: NDArray[np.uint8] | None = None,
    stacklevel: int = 2,
) -> tuple[NDArray[Any], Runs | None]:
    """Labels of every pixel of ``hist``'s image, from each distinct colour's nearest entry.

    Parameters
    ----------
    hist : ColorHistogram
        One image's histogram (it maps back to pixels).
    palette : ndarray of uint8, shape (k, C)
        The palette ``color_labels`` index.
    color_labels : ndarray of unsigned int, shape (M,)
        Nearest entry of each distinct colour, in the dtype the labels take.
    dither : bool
        Floyd–Steinberg error diffusion instead of nearest entries (RGB only: with alpha a
        ``UserWarning`` says it is ignored).
    run_budget_db : float
        PSNR (dB) the labels may give up for runs (RGB images of shape (H, W) only; not with
        ``dither``); 0 keeps the nearest entries.
    image : ndarray of uint8, optional
        The image ``hist`` counts, for dithering; rebuilt from ``hist`` when None.
    stacklevel : int, default=2
        Of the dithering warning, counted from the caller of this function.

    Returns
    -------
    labels : ndarray, shape ``hist.shape``, dtype of ``color_labels``
    runs : tuple or None
        When runs were tried, ``(positions, old, moves)``: the raster positions of the pixels
        that moved, their nearest entries, and the ``moves`` of
        :func:`~kmeans_compress._runs.favour_runs`; else None.
    """
    dtype = color_labels.dtype
    if dither:
        if hist.n_channels == 4:
            warnings.warn(
                "dither=True is ignored for images with alpha (Pillow cannot error-diffuse onto an RGBA "
                "palette); pixels take their nearest palette colour.",
                UserWarning,
                stacklevel=stacklevel + 1,
            )
        else:
            if image is None:  # a histogram holds the image: its colours indexed by each pixel's colour
                image = hist.colors[hist.pixel_labels(np.arange(hist.n_colors, dtype=np.uint32))]
            shape = hist.shape
            assert shape is not None
            image = np.asarray(image).reshape((*shape, 3) if len(shape) == 2 else (1, -1, 3))
            return floyd_steinberg(image, palette).reshape(shape).astype(dtype, copy=False), None
    labels = hist.pixel_labels(color_labels)
    if (
        dither
        or run_budget_db <= 0
        or hist.pixels is None
        or hist.shape is None
        or len(hist.shape) != 2
        or len(palette) < 2
    ):
        return labels, None
    total = palette_sq_error(hist.colors, hist.counts, palette, color_labels)
    moved_labels, positions, moves = favour_runs(hist.pixels, palette, labels, run_budget_db, total)
    return moved_labels, (positions, labels.reshape(-1)[positions], moves)

