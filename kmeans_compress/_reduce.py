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

from typing import Any

import numpy as np
from numpy.typing import ArrayLike, NDArray
from scipy.cluster.vq import vq

__all__ = ["NearestSearch", "cell_codes", "compact_codes", "kmeans_plusplus", "lloyd_polish", "reduce_histogram"]

# Dense bincount over the grid up to this many bits per code, np.unique above.
_DENSE_CODE_BITS = 20


def cell_codes(colors: NDArray[np.uint8], bits: int) -> NDArray[Any]:
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


def compact_codes(codes: NDArray[Any], n_bits: int) -> tuple[NDArray[Any], int]:
    """Dense ids 0..G-1 of the distinct codes (in increasing code order), and G."""
    if n_bits <= _DENSE_CODE_BITS:
        present = np.zeros(1 << n_bits, bool)
        present[codes] = True
        ids = np.cumsum(present, dtype=np.int64) - 1
        return ids[codes], int(present.sum())
    uniq, inverse = np.unique(codes, return_inverse=True)
    return inverse.reshape(-1), len(uniq)


def reduce_histogram(colors, counts, features, bits, max_weight=None):
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
    max_weight : float, optional
        A cell holding more pixels than this is cut one bit finer per channel, again and again
        up to 8 bits (single colours), so that where pixels crowd (a dark sky, a white wall)
        the reduced histogram keeps the detail that k-means would spend several centres on.

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
    if max_weight is not None:
        split = False
        while bits < 8:
            heavy = np.flatnonzero((weights > max_weight)[cells])
            if not len(heavy):
                break
            bits += 1
            finer, inverse = np.unique(cell_codes(colors[heavy], bits), return_inverse=True)
            cells[heavy] = n_cells + inverse.reshape(-1)
            n_cells += len(finer)
            weights = np.bincount(cells, weights=weights_in, minlength=n_cells)
            split = True
        if split:  # renumber: the cells that were cut are empty now
            occupied = weights > 0
            cells = (np.cumsum(occupied) - 1)[cells]
            weights = weights[occupied]
            n_cells = len(weights)
    points = np.empty((n_cells, features.shape[1]))
    for j in range(features.shape[1]):
        points[:, j] = np.bincount(cells, weights=weights_in * features[:, j], minlength=n_cells)
    points /= weights[:, None]
    return points, weights, cells


def kmeans_plusplus(
    points: ArrayLike, weights: ArrayLike, n_clusters: int, random_state: np.random.RandomState
) -> NDArray[np.float64]:
    """Greedy k-means++ seeds: scikit-learn's algorithm with less overhead per seed.

    The first seed is drawn with probability proportional to weight; each next one is the best
    (lowest potential) of ``2 + int(log(n_clusters))`` candidates drawn with probability
    proportional to weight times squared distance to the nearest seed so far (Arthur and
    Vassilvitskii 2007, as :func:`sklearn.cluster.kmeans_plusplus` does it). scikit-learn's
    version validates and dispatches at every seed, which at a few thousand points costs far
    more than the arithmetic; this one works on the coordinates directly.

    Parameters
    ----------
    points : ndarray of float64, shape (n, D)
    weights : ndarray, shape (n,)
    n_clusters : int, at most n
    random_state : numpy.random.RandomState

    Returns
    -------
    ndarray of float64, shape (n_clusters, D)
    """
    points = np.ascontiguousarray(points, dtype=np.float64)
    weights = np.asarray(weights, dtype=np.float64)
    n, dims = points.shape
    cols = [np.ascontiguousarray(points[:, j]) for j in range(dims)]
    n_trials = 2 + int(np.log(n_clusters))
    seeds = np.empty((n_clusters, dims))
    first = random_state.choice(n, p=weights / weights.sum())
    seeds[0] = points[first]
    closest = _sq_dist_to_rows(cols, points[first][None, :])[0]
    potential = float(closest @ weights)
    # buffers reused at every seed (fresh arrays this size would be fresh pages each time)
    trial, spare = np.empty((n_trials, n)), np.empty((n_trials, n))
    cumulative = np.empty(n)
    for c in range(1, n_clusters):
        draws = random_state.uniform(size=n_trials) * potential
        np.multiply(weights, closest, out=cumulative)
        np.cumsum(cumulative, out=cumulative)
        ids = np.searchsorted(cumulative, draws)
        np.minimum(ids, n - 1, out=ids)
        _sq_dist_to_rows(cols, points[ids], out=trial, spare=spare)
        np.minimum(trial, closest, out=trial)
        pots = trial @ weights
        best = int(np.argmin(pots))
        seeds[c] = points[ids[best]]
        closest = trial[best].copy()
        potential = float(pots[best])
    return seeds


def _sq_dist_to_rows(cols, rows, out=None, spare=None):
    """(len(rows), n) squared distances from each of ``rows`` to the points given by columns.

    ``out`` and ``spare``, when given, are (len(rows), n) buffers for the result and a temporary.
    """
    shape = (len(rows), len(cols[0]))
    d2 = np.empty(shape) if out is None else out
    diff = np.empty(shape) if spare is None else spare
    for j, col in enumerate(cols):
        target = d2 if j == 0 else diff
        np.subtract(col[None, :], rows[:, j, None], out=target)
        np.multiply(target, target, out=target)
        if j:
            np.add(d2, diff, out=d2)
    return d2


class NearestSearch:
    """Exact nearest centre for a fixed set of points, from a guess corrected by the triangle inequality.

    Parameters
    ----------
    points : ndarray of float64, shape (M, D)
    groups : ndarray of int, shape (M,), optional
        Group id of every point (0..G-1), e.g. the cells of :func:`reduce_histogram`. When a
        query gets no guess, each point starts from the centre nearest to its group's mean.

    Notes
    -----
    :meth:`query` starts from a guessed centre ``a`` for every point ``x`` (the previous
    Lloyd step's label, or its group's) at distance ``u = |x - c_a|``. Every centre ``b`` with
    ``|c_a - c_b| > 2 u`` is farther from ``x`` than ``c_a`` is (triangle inequality), so

    * a point with ``u`` below half the distance from ``c_a`` to every other centre keeps
      ``a`` without any comparison (Elkan's test);
    * the other points, taken together by guess, are compared only with the centres within
      ``2 max(u)`` of their guess (scipy's compiled ``vq`` loop, in index order).

    The answer is the same as comparing every point with every centre: ties go to the lowest
    index, and the distances are computed in the same order of operations. A good guess makes
    a query cost little more than one pass over the points; the guess only affects speed.
    """

    def __init__(self, points, groups=None):
        self.points = np.ascontiguousarray(points, dtype=np.float64)
        self.groups = None
        if groups is not None and len(self.points):
            groups = np.asarray(groups).reshape(-1)
            n_groups = int(groups.max()) + 1
            mass = np.bincount(groups, minlength=n_groups).astype(np.float64)
            means = np.empty((n_groups, self.points.shape[1]))
            for j in range(self.points.shape[1]):
                means[:, j] = np.bincount(groups, weights=self.points[:, j], minlength=n_groups)
            means /= np.maximum(mass, 1.0)[:, None]
            self.groups = groups
            self.group_means = means

    def query(self, centres, guess=None):
        """Nearest centre of every point.

        Parameters
        ----------
        centres : ndarray of float64, shape (k, D)
        guess : ndarray of int, shape (M,), optional
            A likely nearest centre of each point (any valid index; a better guess is faster).

        Returns
        -------
        labels : ndarray of intp, shape (M,)
        sq_dist : ndarray of float64, shape (M,)
            Squared Euclidean distance to that centre.
        """
        centres = np.ascontiguousarray(centres, dtype=np.float64)
        points = self.points
        k = len(centres)
        if k == 0 or len(points) == 0:
            return np.zeros(len(points), np.intp), np.zeros(len(points))
        if guess is None:
            if self.groups is None or len(points) * k <= _QUERY_BRUTE_FORCE_MAX_PAIRS:
                return _brute(points, centres)
            guess = _vq(self.group_means, centres)[self.groups]
        labels = np.array(guess, dtype=np.intp)
        if k == 1:
            return labels * 0, _sq_dist(points, centres, labels * 0)
        cc2 = _sq_dist_matrix(centres)
        np.fill_diagonal(cc2, np.inf)
        nearest_other = cc2.min(axis=1)
        np.fill_diagonal(cc2, 0.0)
        sq_dist = np.empty(len(points))
        for a in range(0, len(points), _CHUNK_POINTS):  # bounded temporaries on big images
            part = slice(a, a + _CHUNK_POINTS)
            labels[part], sq_dist[part] = _query_part(points[part], centres, labels[part], cc2, nearest_other)
        return labels, sq_dist



    def bounded(self, centres, guess, idx=None, lists=None):
        """Nearest centre of the points ``idx`` (all by default), with a lower bound on the others.

        Returns ``(labels, dist, lower)``: the nearest centre (ties to the lowest index), the
        distance to it (not squared), and a lower bound on the distance to every other centre,
        which lets :func:`lloyd_polish` skip the point while the centres move less than the gap
        (Hamerly 2010). Candidates come from the centres nearest to the guess, in widening
        lists: a list is long enough once the next centre is beyond ``2 |x - c_guess|``.
        ``lists``, when given, are the centres' ``_NeighbourLists``.
        """
        centres = np.ascontiguousarray(centres, dtype=np.float64)
        lists = _NeighbourLists(centres) if lists is None and len(centres) > 1 else lists
        guess = np.asarray(guess)
        n = len(self.points) if idx is None else len(idx)
        if n <= _CHUNK_POINTS:
            pts = self.points if idx is None else self.points[idx]
            return _bounded_part(pts, centres, guess if idx is None else guess[idx], lists)
        labels, dist, lower = np.empty(n, np.intp), np.empty(n), np.empty(n)
        for a in range(0, n, _CHUNK_POINTS):  # bounded temporaries on big images
            part = slice(a, a + _CHUNK_POINTS)
            at = part if idx is None else idx[part]
            labels[part], dist[part], lower[part] = _bounded_part(self.points[at], centres, guess[at], lists)
        return labels, dist, lower


def _bounded_part(pts, centres, guess, lists):
    """:meth:`NearestSearch.bounded` on the points ``pts`` with their guesses."""
    k = len(centres)
    dist = np.sqrt(_sq_dist(pts, centres, guess))
    labels = guess.astype(np.intp, copy=True)
    lower = np.full(len(pts), np.inf)
    if k == 1:
        return labels, dist, lower
    reach = 2.0 * dist * (1.0 + _REL_SLACK) + _ABS_SLACK
    # Elkan: no other centre within 2u of the guess, so the guess is nearest
    settled = lists.nearest_other[guess] > reach
    lower[settled] = lists.nearest_other[guess[settled]] - dist[settled]
    rest = np.flatnonzero(~settled)
    for width, cand, table, beyond in lists:
        if not len(rest):
            break
        if beyond is None:
            fits = np.ones(len(rest), bool)
        else:
            fits = beyond[guess[rest]] > reach[rest]
        now, rest = rest[fits], rest[~fits]
        step = max(1, _CHUNK_ELEMENTS // width)  # bounded temporaries on big images
        for c in range(0, len(now), step):
            part = now[c : c + step]
            g = guess[part]
            labels[part], dist[part], lower[part] = _two_nearest(
                pts[part], dist[part], None if cand is None else cand[g], table if cand is None else table[g],
                None if beyond is None else beyond[g],
            )
    return labels, dist, lower


def _query_part(points, centres, labels, cc2, nearest_other):
    """:meth:`NearestSearch.query` on some points, from their guessed ``labels`` (changed in place)."""
    u2 = _sq_dist(points, centres, labels)
    # settled: u < half the distance to the nearest other centre (a margin covers rounding)
    settled = u2 * (4.0 * (1.0 + _REL_SLACK)) < nearest_other[labels]
    rest = np.flatnonzero(~settled)
    if len(rest):
        order = np.argsort(labels[rest], kind="stable")
        rest = rest[order]
        owner = labels[rest]
        starts = np.flatnonzero(np.r_[True, owner[1:] != owner[:-1]])
        ends = np.r_[starts[1:], len(rest)]
        reach = np.maximum.reduceat(u2[rest], starts) * (4.0 * (1.0 + _REL_SLACK)) + _ABS_SLACK
        sub = points[rest]
        for s, e, a, r in zip(starts.tolist(), ends.tolist(), owner[starts].tolist(), reach.tolist(), strict=True):
            cand = np.flatnonzero(cc2[a] <= r)
            if len(cand) > 1:
                labels[rest[s:e]] = cand[_vq(sub[s:e], centres[cand])]
    return labels, _sq_dist(points, centres, labels)


class _NeighbourLists:
    """For every centre, its nearest centres in lists of widening width (see ``NearestSearch.bounded``).

    Iterating gives ``(width, cand, table, beyond)`` for each width of ``_WIDTHS`` below k:
    ``cand`` (k, width) the indices of the ``width`` centres nearest to each centre (itself
    included), in increasing index order so that the first of equal distances is the lowest
    index; ``table`` (k, D, width) their coordinates; ``beyond`` (k,) the distance to the
    nearest centre left out. The last item is every centre: ``cand`` None, ``table`` (D, k)
    and ``beyond`` None.
    """

    def __init__(self, centres):
        k = len(centres)
        cc = np.sqrt(_sq_dist_matrix(centres))
        np.fill_diagonal(cc, -1.0)  # itself first, whatever other centre coincides with it
        self.widths = [w for w in _WIDTHS if w < k]
        # a full sort costs less than selecting at several ranks; the order of ties is free
        self.near = np.argsort(cc, axis=1)
        self.cc = cc
        self.nearest_other = self.ranked(1) if k > 1 else np.full(k, np.inf)
        self._centres = np.array(centres, dtype=np.float64)  # the polish moves its array in place

    def ranked(self, rank):
        """(k,) distance from each centre to its ``rank``-th nearest other centre."""
        return self.cc[np.arange(len(self.cc)), self.near[:, rank]]

    def __iter__(self):
        for width in self.widths:
            cand = np.sort(self.near[:, :width], axis=1)
            table = np.ascontiguousarray(self._centres[cand].transpose(0, 2, 1))
            yield width, cand, table, self.ranked(width)
        yield len(self._centres), None, np.ascontiguousarray(self._centres.T), None


def _two_nearest(points, dist, cand, table, beyond):
    """Nearest of the candidate centres, its distance, and a lower bound on the distance to the others.

    ``table`` (n, D, w) holds the coordinates of the candidates ``cand`` (n, w) of each point,
    in increasing index order (so ties go to the lowest index), or ``cand`` is None and
    ``table`` (D, k) holds every centre. ``dist`` (n,) is the distance to the guess (one of the
    candidates); ``beyond`` (n,) is the distance from the guess to the nearest centre left out
    (None when none is), so those are at least ``beyond - dist`` away.
    """
    diffs = (
        (table[j][None, :] if cand is None else table[:, j, :]) - points[:, j, None] for j in range(points.shape[1])
    )
    d2 = next(diffs)
    d2 *= d2
    for diff in diffs:
        d2 += np.multiply(diff, diff, out=diff)
    rows = np.arange(len(points))
    at = d2.argmin(axis=1)
    best = d2[rows, at]
    labels = at if cand is None else cand[rows, at]
    d2[rows, at] = np.inf
    lower = np.sqrt(d2.min(axis=1))
    if beyond is not None:
        lower = np.minimum(lower, beyond - dist)
    return labels, np.sqrt(best), lower


# Elements of a (points x candidates) temporary handled at once.
_CHUNK_ELEMENTS = 1 << 18
# Points per chunk of a nearest-centre query: bounded temporaries on photos with a million colours.
_CHUNK_POINTS = 1 << 17
# Candidate list widths tried by NearestSearch.bounded, nearest centres of the guess first;
# after them, all centres.
_WIDTHS = (4, 16, 64)
# Relative and absolute slack of the pruning tests: they may only let more centres through.
_REL_SLACK = 1e-9
_ABS_SLACK = 1e-9
# A query without a guess compares every point with every centre (brute force) up to this many
# (point, centre) pairs; above it, it starts from the centre nearest each group's mean.
_QUERY_BRUTE_FORCE_MAX_PAIRS = 1 << 16


def _vq(points, centres):
    """Index of the nearest centre of each point: scipy's compiled loop, ties to the lowest index."""
    return vq(points, centres, check_finite=False)[0].astype(np.intp, copy=False)


def _sq_dist(points, centres, labels):
    """Squared distance from each point to ``centres[labels]``, summed coordinate by coordinate."""
    d2 = None
    for j in range(points.shape[1]):
        diff = points[:, j] - centres[labels, j]
        diff *= diff
        d2 = diff if d2 is None else d2 + diff
    return d2


def _sq_dist_matrix(centres):
    """(k, k) squared distances between centres."""
    d2 = np.zeros((len(centres), len(centres)))
    for j in range(centres.shape[1]):
        diff = centres[:, None, j] - centres[None, :, j]
        d2 += diff * diff
    return d2


def _brute(points, centres):
    """Nearest centre by comparing every point with every centre."""
    labels = _vq(points, centres)
    return labels, _sq_dist(points, centres, labels)


def lloyd_polish(search, weights, centres, n_steps, guess=None, tol=0.0, overrelax=0.0):
    """Run up to ``n_steps`` exact weighted Lloyd steps from ``centres``.

    Each step assigns every point of ``search`` to its nearest centre and moves each centre to
    the weighted mean of its points (a centre that gets no point stays where it is). Stops
    early when no assignment changes. Each step can only lower the weighted sum of squared
    distances. A point is compared with the centres again only when the moves of the centres
    could have changed its nearest one (Hamerly's bounds: an upper bound on the distance to its
    centre, a lower bound on the distance to all others), so later steps, where few points
    change centre, cost little: each centre's weight and weighted sum are updated with the
    points that changed centre only, and the distances between centres are computed once a step.

    ``tol`` stops the steps once the centres move less than that in total (sum of squared
    moves), as scikit-learn's ``KMeans`` does with its ``tol`` scaled by the data's variance.

    ``overrelax`` (β, from 0 to 1) moves each centre past the mean of its points, to
    ``mean + β (mean - previous)``, at every step but the last, which ends on the means. For the
    assignment just made the objective is ``f(mean) + W |c - mean|^2`` at any centre ``c`` (W
    the cluster's weight), so the over-relaxed centre is no worse than the previous one while
    β <= 1 and each step still cannot raise the objective; it goes further along the slow
    directions of Lloyd's iteration, so a few steps get about as far as twice as many plain ones
    (Salakhutdinov and Roweis 2003, adaptive overrelaxed bound optimisation).

    Returns
    -------
    centres : ndarray of float64, shape (k, D)
        The moved centres: the weighted means of the last assignment (a centre that got no
        point stays where it was).
    labels : ndarray of intp, shape (M,)
        The last assignment: the nearest centre of every point before the last move (a good
        guess for a search with the moved centres).
    """
    centres = np.array(centres, dtype=np.float64)
    weights = np.asarray(weights)  # pixel counts stay integers: a float copy would be one more array per point
    points = search.points
    k = len(centres)
    if guess is None:
        guess, _ = search.query(centres)
    lists = _NeighbourLists(centres)
    labels, upper, lower = search.bounded(centres, guess, lists=lists)
    del guess  # the caller hands it over: one label per point less to hold
    # each centre's weight and weighted sum, updated with the points that change centre only
    # (weights times points, made where needed rather than held: a copy of the points on big images)
    mass = np.bincount(labels, weights=weights, minlength=k)
    sums = np.stack(
        [np.bincount(labels, weights=weights * points[:, j], minlength=k) for j in range(points.shape[1])], axis=1
    )
    for step in range(n_steps):
        filled = mass > 0
        old, old_lists = centres.copy(), lists
        centres[filled] = sums[filled] / mass[filled, None]
        if step + 1 == n_steps:
            break
        if overrelax:
            centres += overrelax * (centres - old)
        moved = np.sqrt(_sq_dist(centres, old, np.arange(k)))
        if float(moved @ moved) <= tol:
            break
        lists = _NeighbourLists(centres)
        lower = _lower_after_move(old_lists, moved, labels, upper, lower)
        upper += moved[labels]
        upper *= 1.0 + _REL_SLACK
        # every other centre is at least (distance to the nearest other centre) - upper away
        gap = lists.nearest_other * (1.0 - _REL_SLACK) - _ABS_SLACK
        np.maximum(lower, gap[labels] - upper, out=lower)
        check = np.flatnonzero(upper >= lower)
        if not len(check):
            break
        # tighten the upper bound first: the exact distance to the current centre
        exact = np.empty(len(check))
        for a in range(0, len(check), _CHUNK_POINTS):  # bounded temporaries on big images
            at = check[a : a + _CHUNK_POINTS]
            exact[a : a + _CHUNK_POINTS] = np.sqrt(_sq_dist(points[at], centres, labels[at]))
        upper[check] = exact
        check = check[exact * (1.0 + _REL_SLACK) >= lower[check]]
        if not len(check):
            break
        new = np.empty(len(check), np.intp)
        for a in range(0, len(check), _CHUNK_POINTS):  # results written in place, chunk by chunk
            at = check[a : a + _CHUNK_POINTS]
            new[a : a + _CHUNK_POINTS], upper[at], lower[at] = search.bounded(centres, labels, at, lists=lists)
        changed = new != labels[check]
        if not changed.any():
            break  # nothing moved: the centres are already the means
        check, new = check[changed], new[changed]
        w = weights[check]
        weighted = w[:, None] * points[check]
        _move_mass(mass, sums, labels[check], w, weighted, -1.0)
        _move_mass(mass, sums, new, w, weighted, 1.0)
        labels[check] = new
    if n_steps:  # end on the means of the last assignment (an early stop may follow an over-relaxed move)
        filled = mass > 0
        centres[filled] = sums[filled] / mass[filled, None]
    return centres, labels


def _move_mass(mass, sums, labels, weights, weighted, sign):
    """Add (sign 1) or remove (sign -1) points from the running weights and sums of their centres."""
    k = len(mass)
    mass += sign * np.bincount(labels, weights=weights, minlength=k)
    for j in range(sums.shape[1]):
        sums[:, j] += sign * np.bincount(labels, weights=weighted[:, j], minlength=k)


# Centres counted as neighbours of a centre when the lower bounds are moved (see below).
_NEIGHBOURS = 16


def _lower_after_move(lists, moved, labels, upper, lower):
    """Lower bounds on the distance to every other centre, after the centres moved (``lower`` is reused).

    ``lists`` are the ``_NeighbourLists`` of the centres before the move. A point's bound
    drops by the largest move among its centre's nearest ``_NEIGHBOURS`` centres (the only
    ones that can be close), or, for the centres beyond them, which were at least
    ``far - upper`` away, by the largest move of all: much less than Hamerly's drop by the
    largest move of all, since the centres that still move are few and far apart.
    """
    k = len(moved)
    if k <= _NEIGHBOURS + 1:
        biggest = np.sort(moved)[-2:] if k > 1 else np.r_[0.0, 0.0]
        top = int(np.argmax(moved))
        drop = np.where(labels == top, biggest[0], biggest[-1])
        return (lower - drop) * (1.0 - _REL_SLACK) - _ABS_SLACK
    local = moved[lists.near[:, : _NEIGHBOURS + 1]].max(axis=1)  # itself and its nearest
    far = lists.ranked(_NEIGHBOURS + 1)
    # min(lower - local, far - upper - max move), in place: one point-sized temporary at a time
    bound = far[labels]
    bound -= upper
    bound -= moved.max()
    np.subtract(lower, local[labels], out=lower)
    np.minimum(lower, bound, out=lower)
    del bound
    lower *= 1.0 - _REL_SLACK
    lower -= _ABS_SLACK
    return lower
