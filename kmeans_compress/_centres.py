"""Palette centres: scikit-learn ``KMeans`` on weighted colours, reduced first on photos, then polished.

:func:`fit_centres` is the palette stage of :class:`~kmeans_compress.KMeansQuantizer`: k-means++
seeds drawn as scikit-learn draws them, ``KMeans`` on the (reduced) histogram, and exact Lloyd
steps on every distinct colour after a reduced fit (see :mod:`._reduce`).
"""

from __future__ import annotations

from typing import Any

import numpy as np
from numpy.typing import NDArray
from sklearn.cluster import KMeans
from sklearn.utils import check_random_state

try:  # scikit-learn's own Lloyd loop, without KMeans.fit's checks at every run (see _lloyd_runs)
    from sklearn.cluster._kmeans import _kmeans_single_lloyd
except ImportError:  # another scikit-learn layout: KMeans.fit, the same result a little slower
    _kmeans_single_lloyd = None

from ._reduce import NearestSearch, kmeans_plusplus, lloyd_polish, reduce_histogram
from ._threads import one_thread

__all__ = ["fit_centres"]

# The KMeans fit runs on a reduced histogram only above this many distinct colours (below it
# the exact fit is already cheap) and only if the reduced histogram keeps at least this many
# points per cluster.
_REDUCE_MIN_COLORS = 4096
_REDUCE_MIN_POINTS_PER_CLUSTER = 4
# A reduced histogram with fewer points than this (an image whose colours fill few cells of the
# grid) is rebuilt one bit finer per channel, up to 7 bits. Kept low: the polish on the exact
# colours recovers what the coarser grid blurs, and each point costs k-means++ and KMeans time.
_REDUCE_MIN_POINTS = 1024
# Cells holding more than 1 / (this x n_clusters) of the pixels are cut finer (dense regions of
# colour, where k-means puts many centres, keep their detail).
_REDUCE_CELLS_PER_CLUSTER = 4
# Polishing steps times distinct colours allowed: images with very many colours (large photos)
# get fewer steps, so the time of the fit stays bounded.
_POLISH_BUDGET = 4_000_000
# Polishing steps go this fraction past the mean (see lloyd_polish): as far in fewer steps.
_POLISH_OVERRELAX = 0.9
# n_init="auto": runs of k-means++ by number of clusters (up to the key: that many runs), one above.
_AUTO_N_INIT = ((8, 10), (64, 3))


def _resolve_n_init(n_init: int | str, n_clusters: int) -> int:
    """``"auto"``: several k-means++ runs for small k, one above (see ``KMeansQuantizer``)."""
    if n_init == "auto":
        return next((runs for max_k, runs in _AUTO_N_INIT if n_clusters <= max_k), 1)
    return int(n_init)


def fit_centres(
    colors: NDArray[np.uint8],
    counts: NDArray[np.int64],
    features: NDArray[np.float64],
    n_clusters: int,
    *,
    n_init: int | str,
    max_iter: int,
    tol: float,
    random_state: Any,
    histogram_bits: int | None,
    refine_iter: int,
) -> tuple[NDArray[np.float64], NearestSearch | None, NDArray[np.intp] | None, KMeans]:
    """Fit ``KMeans`` on weighted colours (on the reduced histogram when it pays) and polish on exact colours.

    Parameters
    ----------
    colors : ndarray of uint8, shape (M, C)
        Distinct colours, more than ``n_clusters``.
    counts : ndarray of int64, shape (M,)
        Their pixel counts (the weights).
    features : ndarray of float64, shape (M, D)
        ``colors`` in the colour space of the fit.
    n_clusters : int
        Number of centres.
    n_init, max_iter, tol, random_state, histogram_bits, refine_iter
        As :class:`~kmeans_compress.KMeansQuantizer`'s parameters.

    Returns
    -------
    centres : ndarray of float64, shape (n_clusters, D)
        In feature space.
    search : NearestSearch or None
        The search over ``features`` built for polishing (None when there was none).
    guess : ndarray of intp or None
        The polish's last nearest centre of every colour (a guess for the final assignment).
    kmeans : sklearn.cluster.KMeans
        The best ``KMeans`` run (on the reduced histogram when one was used).
    """
    bits = histogram_bits
    reduce = bits is not None and bits < 8 and len(colors) > _REDUCE_MIN_COLORS
    points, weights, cells = features, counts, None
    if reduce:
        assert bits is not None  # reduce needs bits
        # no cell heavier than a fraction of an average cluster
        max_weight = counts.sum() / (_REDUCE_CELLS_PER_CLUSTER * n_clusters)
        points, weights, cells = reduce_histogram(colors, counts, features, bits, max_weight)
        while len(points) < _REDUCE_MIN_POINTS and bits < 7:  # a narrow gamut: a finer grid
            bits += 1
            points, weights, cells = reduce_histogram(colors, counts, features, bits, max_weight)
        if len(points) < _REDUCE_MIN_POINTS_PER_CLUSTER * n_clusters:  # too coarse for this k
            points, weights, cells, reduce = features, counts, None, False
    # k-means++ seeds drawn here, in the order scikit-learn draws them (the same seeds from
    # the same random_state), then one KMeans run per seed: the lowest inertia wins.
    rng = check_random_state(random_state)
    best = None
    # scikit-learn's OpenMP loops on one thread: for fits this small (a few thousand points)
    # synchronising threads costs more than the work, and the result is the same on any core count
    with one_thread("openmp"):
        if _kmeans_single_lloyd is not None:
            best = _lloyd_runs(points, weights, n_clusters, _resolve_n_init(n_init, n_clusters), rng, max_iter, tol)
        else:
            for _ in range(_resolve_n_init(n_init, n_clusters)):
                seeds = kmeans_plusplus(points, weights, n_clusters, rng)
                kmeans = KMeans(
                    n_clusters=n_clusters,
                    init=seeds,
                    n_init=1,
                    max_iter=max_iter,
                    tol=tol,
                    algorithm="lloyd",
                ).fit(points, sample_weight=weights)
                if best is None or kmeans.inertia_ < best.inertia_:
                    best = kmeans
    assert best is not None
    centres, search, guess = best.cluster_centers_, None, None
    if reduce and refine_iter:
        search = NearestSearch(features, cells)
        steps = min(refine_iter, max(1, _POLISH_BUDGET // len(colors)))
        # scikit-learn's convergence test: tol times the mean variance of the features
        mean = np.average(features, axis=0, weights=counts)
        variance = np.average((features - mean) ** 2, axis=0, weights=counts).mean()
        # the first guess is handed over, not kept here: the polish frees it once used
        centres, guess = lloyd_polish(
            search, counts, centres, steps, best.labels_[cells], tol * variance, _POLISH_OVERRELAX
        )
    return centres, search, guess, best



def _lloyd_runs(
    points: NDArray[np.float64],
    weights: NDArray[Any],
    n_clusters: int,
    n_runs: int,
    rng: np.random.RandomState,
    max_iter: int,
    tol: float,
) -> KMeans:
    """One Lloyd run per k-means++ seeding, the lowest inertia kept, as a fitted ``KMeans``.

    What ``KMeans(init=seeds, n_init=1, algorithm="lloyd").fit(points, sample_weight=weights)``
    does for each run, step for step (the points centred on their mean, its tolerance scaled by
    their variance, one thread), so the centres, labels and inertia are the same to the bit; but
    its checks, its copies and its thread-pool inspection are done once, not once a run, which
    on a small image cost more than the runs themselves.
    """
    X = np.array(points, dtype=np.float64, order="C")  # KMeans.fit copies the points too
    sample_weight = np.asarray(weights, dtype=np.float64)
    scaled_tol = float(np.mean(np.var(X, axis=0)) * tol) if tol else 0
    X_mean = X.mean(axis=0)
    X -= X_mean
    best = None
    for _ in range(n_runs):
        seeds = kmeans_plusplus(points, weights, n_clusters, rng)
        init = np.array(seeds, dtype=np.float64, order="C")
        init -= X_mean
        labels, inertia, centres, n_iter = _kmeans_single_lloyd(
            X, sample_weight, init, max_iter=max_iter, verbose=False, tol=scaled_tol, n_threads=1
        )
        if best is None or inertia < best[1]:
            best = labels, inertia, centres, n_iter, seeds
    assert best is not None
    labels, inertia, centres, n_iter, seeds = best
    centres += X_mean
    kmeans = KMeans(n_clusters=n_clusters, init=seeds, n_init=1, max_iter=max_iter, tol=tol, algorithm="lloyd")
    # the fitted state KMeans.fit leaves (predict and transform read it)
    kmeans.n_features_in_ = X.shape[1]
    kmeans._tol, kmeans._n_init, kmeans._algorithm, kmeans._n_threads = scaled_tol, 1, "lloyd", 1
    kmeans.cluster_centers_, kmeans._n_features_out = centres, len(centres)
    kmeans.labels_, kmeans.inertia_, kmeans.n_iter_ = labels, inertia, n_iter
    return kmeans
