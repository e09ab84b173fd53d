"""Internals that make the fit fast: a reduced colour histogram and an exact nearest-centre search.

Photos have tens of thousands to a million distinct colours. :class:`KMeansQuantizer` fits
scikit-learn ``KMeans`` on a *reduced* histogram instead: colours are put in the cells of a
regular grid (each channel cut to its top ``bits`` bits, 5 by default: 32 levels, cells 8
values wide), and each occupied cell becomes one point, the count-weighted mean of its colours'
features, weighted by the cell's pixel count. The k-means objective on those points differs
from the objective on every pixel only by the spread of colours inside each cell (a constant)
as long as a cell's colours all go to the same cluster, so the fit lands close to the exact one
at a fraction of the cost (a few thousand points instead of ~10**5..10**6).

The palette is then *polished* on the exact distinct colours with a few Lloyd steps (assign
every colour to its nearest centre, move each centre to the weighted mean of its colours),
which recovers most of what the grid blurred. Every step needs the nearest centre of each
distinct colour; :class:`NearestSearch` finds it exactly, pruned by the same grid: for each
cell it keeps only the centres that can be nearest to some point of the cell's bounding box,
so each colour is compared with a handful of centres instead of all k.

This module imports nothing from the package.
"""

from __future__ import annotations

import numpy as np

__all__ = ["cell_codes", "compact_codes", "reduce_histogram", "NearestSearch", "lloyd_polish"]

# Dense bincount over the grid up to this many bits per code, np.unique above.
_DENSE_CODE_BITS = 20
# Rows of (points x candidates x dims) float64 handled at once by the nearest search.
_CHUNK_ELEMENTS = 1 << 20


def cell_codes(colors, bits):
    """Grid cell of each colour: every channel cut to its top ``bits`` bits, then packed.

    Parameters
    ----------
    colors : ndarray of uint8, shape (M, C)
    bits : int, 1..8

    Returns
    -------
    codes : ndarray of int64, shape (M,)
        Values below ``2 ** (bits * C)``.
    """
    shift = 8 - bits
    codes = np.zeros(len(colors), np.int64)
    for j in range(colors.shape[1]):
        codes <<= bits
        codes |= colors[:, j] >> shift
    return codes


def compact_codes(codes, n_bits):
    """Dense ids 0..G-1 of the distinct codes (in increasing code order), and G."""
    if n_bits <= _DENSE_CODE_BITS:
        present = np.zeros(1 << n_bits, bool)
        present[codes] = True
        ids = np.cumsum(present, dtype=np.int64) - 1
        return ids[codes], int(present.sum())
    uniq, inverse = np.unique(codes, return_inverse=True)
    return inverse.reshape(-1), len(uniq)


def reduce_histogram(colors, counts, features, bits):
    """Merge the colours of each grid cell into one weighted point.

    Parameters
    ----------
    colors : ndarray of uint8, shape (M, C)
        Distinct colours (the grid is cut in this byte space).
    counts : ndarray, shape (M,)
        Pixel count of each colour.
    features : ndarray of float64, shape (M, D)
        The colours' coordinates in the space being clustered.
    bits : int, 1..8

    Returns
    -------
    points : ndarray of float64, shape (G, D)
        Count-weighted mean feature of each occupied cell.
    weights : ndarray of float64, shape (G,)
        Pixel count of each cell.
    cells : ndarray of int64, shape (M,)
        Cell id (0..G-1) of every colour.
    """
    cells, n_cells = compact_codes(cell_codes(colors, bits), bits * colors.shape[1])
    weights_in = counts.astype(np.float64)
    weights = np.bincount(cells, weights=weights_in, minlength=n_cells)
    points = np.empty((n_cells, features.shape[1]))
    for j in range(features.shape[1]):
        points[:, j] = np.bincount(cells, weights=weights_in * features[:, j], minlength=n_cells)
    points /= weights[:, None]
    return points, weights, cells


class NearestSearch:
    """Exact nearest centre for a fixed set of points, pruned by groups of nearby points.

    Parameters
    ----------
    points : ndarray of float64, shape (M, D)
    groups : ndarray of int, shape (M,), optional
        Group id of every point (0..G-1), e.g. the cells of :func:`reduce_histogram`. Without
        groups every point is compared with every centre.

    Notes
    -----
    For a group with bounding box B, a centre c can be the nearest of some point of B only if
    ``min_dist(B, c) <= min over c' of max_dist(B, c')``: the centre realising that minimum is
    within that distance of every point of B. Only those candidates are compared, in index
    order, so ties go to the lowest index, as in the brute-force comparison.
    """

    def __init__(self, points, groups=None):
        self.points = np.ascontiguousarray(points, dtype=np.float64)
        self.groups = None
        if groups is not None and len(points):
            groups = np.asarray(groups)
            if groups.max() < 1 << 16:  # 16-bit keys sort by radix, in linear time
                groups = groups.astype(np.uint16)
            order = np.argsort(groups, kind="stable").astype(np.int32 if len(groups) < 1 << 31 else np.int64)
            sorted_groups = np.asarray(groups)[order]
            starts = np.flatnonzero(np.r_[True, sorted_groups[1:] != sorted_groups[:-1]])
            ordered = self.points[order]
            self.order = order
            self.starts = starts
            self.sizes = np.diff(np.r_[starts, len(order)])
            self.lo = np.minimum.reduceat(ordered, starts, axis=0)
            self.hi = np.maximum.reduceat(ordered, starts, axis=0)
            self.groups = sorted_groups
            self.mid = (self.lo + self.hi) * 0.5
            self.mid_sq = np.einsum("ij,ij->i", self.mid, self.mid)
            self.reach = 2.0 * np.sqrt(np.einsum("ij,ij->i", self.hi - self.mid, self.hi - self.mid))
            self.scale = float(np.abs(self.mid).max())

    def query(self, centres):
        """Nearest centre of every point.

        Parameters
        ----------
        centres : ndarray of float64, shape (k, D)

        Returns
        -------
        labels : ndarray of intp, shape (M,)
        sq_dist : ndarray of float64, shape (M,)
            Squared Euclidean distance to that centre.
        """
        centres = np.ascontiguousarray(centres, dtype=np.float64)
        k = len(centres)
        if self.groups is None or k <= 8 or len(self.starts) * 4 > len(self.points):
            return _brute(self.points, centres)
        candidates = self._candidates(centres)
        n_cand = candidates.sum(axis=1)
        # candidate indices of every group in increasing order, padded with -1
        rows, cols = np.nonzero(candidates)
        first = np.cumsum(n_cand) - n_cand
        cand_idx = np.full((len(n_cand), int(n_cand.max())), -1, np.intp)
        cand_idx[rows, np.arange(len(rows)) - first[rows]] = cols
        labels = np.empty(len(self.points), np.intp)
        sq_dist = np.empty(len(self.points))
        # Buckets of groups with similar candidate counts, so that padding stays small.
        lower = 0
        for limit in (1, 2, 4, 8, 16, 32, 64, k):
            sel = np.flatnonzero((n_cand > lower) & (n_cand <= limit))
            lower = limit
            if not len(sel):
                continue
            width = min(limit, cand_idx.shape[1])
            # the points of those groups, group by group
            flag = np.zeros(len(self.sizes), bool)
            flag[sel] = True
            members = self.order[np.repeat(flag, self.sizes)]  # points are stored group by group
            member_group = np.repeat(np.arange(len(sel), dtype=np.int32), self.sizes[sel])
            idx = cand_idx[sel, :width]
            step = max(1, _CHUNK_ELEMENTS // (width * centres.shape[1]))
            for a in range(0, len(members), step):
                pts = members[a : a + step]
                cidx = idx[member_group[a : a + step]]
                if width == 1:  # a single candidate: nothing to compare
                    labels[pts] = cidx[:, 0]
                    diff = self.points[pts] - centres[cidx[:, 0]]
                    sq_dist[pts] = np.einsum("ij,ij->i", diff, diff)
                    continue
                d2 = _sq_dist_to(self.points[pts], centres, np.maximum(cidx, 0))
                d2[cidx < 0] = np.inf
                best = np.argmin(d2, axis=1)
                pick = np.arange(len(pts))
                labels[pts] = cidx[pick, best]
                sq_dist[pts] = d2[pick, best]
        return labels, sq_dist

    def _candidates(self, centres):
        """Boolean (G, k): centres that may be nearest to some point of each group.

        With ``m`` the middle of a group's bounding box and ``r`` its half-diagonal, every point
        of the group is within ``|m - c| + r`` of centre ``c`` and beyond ``|m - c| - r``; so
        only centres with ``|m - c| <= min over c' of |m - c'| + 2 r`` can be nearest.
        """
        sq = self.mid @ centres.T
        sq *= -2.0
        sq += self.mid_sq[:, None]
        sq += np.einsum("ij,ij->i", centres, centres)[None, :]
        np.maximum(sq, 0.0, out=sq)
        # slack covers the rounding of the expanded squared distance
        slack = 1e-6 * (1.0 + self.scale + np.abs(centres).max())
        bound = np.sqrt(sq.min(axis=1)) + self.reach + slack
        return sq <= (bound * bound)[:, None]


def _sq_dist_to(points, centres, cidx):
    """Squared distances (n, w) from each point to the centres ``cidx[i]`` (n, w).

    One coordinate at a time: gathering from a 1-D column is faster than gathering (n, w, D)
    rows.
    """
    d2 = np.empty(cidx.shape)
    for j in range(points.shape[1]):
        diff = centres[:, j][cidx]
        diff -= points[:, j, None]
        if j == 0:
            np.multiply(diff, diff, out=d2)
        else:
            d2 += diff * diff
    return d2


def _brute(points, centres):
    """Nearest centre by comparing every point with every centre (chunked)."""
    labels = np.empty(len(points), np.intp)
    sq_dist = np.empty(len(points))
    step = max(1, _CHUNK_ELEMENTS // len(centres))
    for a in range(0, len(points), step):
        d2 = np.zeros((len(points[a : a + step]), len(centres)))
        for j in range(points.shape[1]):
            diff = centres[None, :, j] - points[a : a + step, j, None]
            d2 += diff * diff
        best = np.argmin(d2, axis=1)
        labels[a : a + step] = best
        sq_dist[a : a + step] = d2[np.arange(len(best)), best]
    return labels, sq_dist


def lloyd_polish(search, weights, centres, n_steps):
    """Run up to ``n_steps`` exact weighted Lloyd steps from ``centres``.

    Each step assigns every point of ``search`` to its nearest centre and moves each centre to
    the weighted mean of its points (a centre that gets no point stays where it is). Stops
    early when no assignment changes. Each step can only lower the weighted sum of squared
    distances.

    Returns
    -------
    ndarray of float64, shape (k, D)
        The moved centres.
    """
    centres = np.array(centres, dtype=np.float64)
    weights = np.asarray(weights, dtype=np.float64)
    previous = None
    for _ in range(n_steps):
        labels, _ = search.query(centres)
        if previous is not None and np.array_equal(labels, previous):
            break
        previous = labels
        mass = np.bincount(labels, weights=weights, minlength=len(centres))
        filled = mass > 0
        for j in range(centres.shape[1]):
            sums = np.bincount(labels, weights=weights * search.points[:, j], minlength=len(centres))
            centres[filled, j] = sums[filled] / mass[filled]
    return centres
