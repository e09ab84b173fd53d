"""Labels that compress better: neighbours share a palette entry where it costs almost nothing.

Nearest-colour labels are noisy where a smooth area lies between two palette colours: each pixel
flips to whichever entry is a hair closer, and every flip breaks the runs and repeats that
deflate codes cheaply. Here a pixel may take its left or upper neighbour's entry instead of its
own nearest one, cheapest changes first, until a fixed share of the squared error (a PSNR
budget, in dB) is spent. It is a simple form of the rate-distortion optimised quantization that
video encoders use: a little distortion, chosen where it buys the most, for fewer bytes.

Everything is exact integer arithmetic on 8-bit RGB, so the PSNR given up is exactly the budget
or less, and the same input always gives the same labels.
"""

from __future__ import annotations

from typing import Any

import numpy as np
from numpy.typing import NDArray

from ._histogram import pack_rgb, unpack_rgb

__all__ = ["favour_runs"]

# Left, then up, twice: the second round lets runs started in one direction grow in the other.
_ROUNDS = 2
# Candidate pixels whose margins are computed at once.
_CHUNK = 1 << 18
# Largest squared RGB distance, so that margins index a bincount.
_MAX_SQ = 3 * 255 * 255


def favour_runs(
    pixels: NDArray[np.uint8], palette: NDArray[np.uint8], labels: NDArray[Any], budget_db: float, total_error: float
) -> tuple[NDArray[Any], NDArray[np.intp], tuple[NDArray[np.uint8], NDArray[Any], NDArray[Any], NDArray[np.int64]]]:
    """Move pixels to a neighbour's palette entry while the PSNR lost stays within a budget.

    Parameters
    ----------
    pixels : ndarray of uint8, shape (H * W, 3)
        The image's RGB pixels in raster order (read only where a neighbour differs).
    palette : ndarray of uint8, shape (k, 3)
    labels : ndarray of unsigned int, shape (H, W)
        Nearest-entry labels; not modified.
    budget_db : float
        PSNR, in dB, that the new labels may lose against ``labels``. Each of the four passes
        (left, up, left, up) may spend an equal share of what the earlier ones left.
    total_error : int
        Sum over pixels of the squared RGB error of ``labels`` (from the colour histogram), which
        the budget is a share of.

    Returns
    -------
    labels : ndarray, shape (H, W), same dtype
    moved : ndarray of intp
        Raster positions of the pixels whose entry changed (``labels.flat[moved]`` gives their
        old entries back).
    moves : tuple (colors, old, new, counts)
        The distinct (colour, old entry, new entry) changes and how many pixels made each: the
        colour histogram's pairs plus these (old with ``-counts``, new with ``+counts``) give the
        exact error of the new labels without going back to the pixels.
    """
    height, width = labels.shape
    original = labels.reshape(-1)
    flat = original.copy()
    pal = palette.astype(np.int32)
    allowance = total_error * (10.0 ** (budget_db / 10.0) - 1.0)
    steps = [1, width] * _ROUNDS
    for i, offset in enumerate(steps):
        share = allowance / (len(steps) - i)
        if offset >= len(flat) or share <= 0:
            continue
        neighbour = np.empty_like(flat)
        neighbour[:offset] = flat[:offset]
        neighbour[offset:] = flat[:-offset]
        if offset == 1:
            neighbour[::width] = flat[::width]  # the first column has no left neighbour
        index = np.flatnonzero(neighbour != flat)
        if not len(index):
            continue
        margin = np.empty(len(index), np.int32)
        for a in range(0, len(index), _CHUNK):  # bounded temporaries on big images
            at = index[a : a + _CHUNK]
            rgb = pixels[at].astype(np.int32)
            margin[a : a + _CHUNK] = _sq_dist(rgb, pal[neighbour[at]]) - _sq_dist(rgb, pal[flat[at]])
        chosen = _cheapest_within(margin, share)
        allowance -= int(margin[chosen].sum(dtype=np.int64))
        take = index[chosen]
        flat[take] = neighbour[take]
        del neighbour, index, margin, chosen, take
    moved = np.flatnonzero(flat != original)
    # one integer per (colour, old entry, new entry): the colour's packed code, then the two entries
    key = (pack_rgb(pixels[moved]).astype(np.int64) << 16) | (original[moved].astype(np.int64) << 8) | flat[moved]
    key, counts = np.unique(key, return_counts=True)
    moves = (unpack_rgb(key >> 16), (key >> 8) & 0xFF, key & 0xFF, counts.astype(np.int64))
    return flat.reshape(height, width), moved, moves


def _sq_dist(a, b):
    d = a - b
    return np.einsum("ij,ij->i", d, d)


def _cheapest_within(margin, share):
    """Positions of the cheapest margins whose sum stays within ``share``; ties in raster order.

    Margins are integers (a negative one lowers the error: after earlier moves a pixel's own
    entry may not be its nearest), so one bincount over their range orders them without sorting
    the candidates. The running sum over margins in increasing order first falls, then rises
    past ``share`` at one value: every smaller margin is taken, and of that value as many as
    still fit. A margin above ``share`` minus all the negative ones can never be taken, so the
    range stops there.
    """
    if not len(margin):
        return np.flatnonzero(margin)
    negative = int(margin[margin < 0].sum(dtype=np.int64))
    low = int(margin.min())
    high = min(int(margin.max()), int(share - negative))
    if high < low:  # even the cheapest move costs more than the share
        return np.flatnonzero(margin < low)
    useful = margin <= high
    counts = np.bincount((margin[useful] - low).astype(np.intp), minlength=high - low + 1)
    values = np.arange(low, high + 1, dtype=np.int64)
    spent = np.cumsum(counts * values)
    over = np.flatnonzero(spent > share)
    if not len(over):
        return np.flatnonzero(useful)
    first = int(over[0])  # spent[first - 1] <= share < spent[first], so values[first] > 0
    left = share - (int(spent[first - 1]) if first else 0)
    chosen = margin < values[first]
    n_more = int(left // int(values[first]))
    if n_more:
        chosen[np.flatnonzero(margin == values[first])[:n_more]] = True
    return np.flatnonzero(chosen)
