"""Choosing k for the user: the fewest colours reaching a target quality, or the knee.

Two rules:

* **Target quality** (:func:`smallest_k`, like pngquant's ``--quality``): the fewest colours
  whose PSNR (or SSIM) reaches a threshold. :func:`search_smallest_k` finds it with a handful of
  fits, assuming quality never decreases as k grows (see its notes for what happens when that
  assumption fails).
* **Knee** (:func:`knee_k`): on the size-quality curve of a sweep (bytes against PSNR), both
  axes scaled to 0..1 over the swept points, the k whose point lies furthest above the chord
  from the smallest to the largest file, i.e. the largest ``quality_n - size_n`` (the difference
  curve of Kneedle, Satopää et al. 2011).

:func:`choose_k` applies one or the other, as the command line's ``-k auto`` does.
"""

from __future__ import annotations

import dataclasses
import math

import numpy as np

from ._sweep import DEFAULT_KS, ImageSweep, check_ks
from ._validation import check_real

__all__ = [
    "KChoice",
    "PSNR_CAP",
    "choose_k",
    "choose_knee",
    "knee_index",
    "knee_k",
    "search_smallest_k",
    "smallest_k",
    "smallest_swept_k",
    "target_text",
]

#: PSNR above this is treated as equal to it by the knee rule (an exact image has infinite PSNR).
PSNR_CAP = 60.0


def _log2(k):
    return math.log2(k)


def _interpolate(k0, q0, k1, q1, target):
    """k (float) where the line through (log2 k0, q0), (log2 k1, q1) reaches ``target``; None if flat."""
    if not (math.isfinite(q0) and math.isfinite(q1)) or q1 == q0 or k1 == k0:
        return None
    x0, x1 = _log2(k0), _log2(k1)
    x = x0 + (target - q0) * (x1 - x0) / (q1 - q0)
    return 2.0 ** min(max(x, -1.0), 9.0)


def search_smallest_k(quality, threshold, *, k_min=1, k_max=256, k_start=16):
    """Smallest integer k in ``k_min..k_max`` with ``quality(k) >= threshold``, in few calls.

    The search assumes quality never decreases as k grows, and uses that quality is close to
    linear in ``log2(k)`` (each doubling of the palette adds a roughly constant number of dB):

    1. Try ``k_start``. While no k is known to pass (or none to fail), extrapolate the line
       through the last two points (in ``log2 k``) to the threshold, aiming about 10 % past it so
       that the next try usually lands on the other side; with a single point, step by a factor
       of 4 (up, or down).
    2. Once one k fails and a larger one passes, interpolate between them (regula falsi in
       ``log2 k``), but never so far from the middle that bisection could not finish within
       ``ceil(log2(bracket width)) + 1`` further evaluations (the safeguard of the ITP method:
       a curve that interpolation reads badly, such as a step, costs at most one evaluation
       more than bisection). This ends when the bracket is two neighbours ``k - 1`` (fails) and
       ``k`` (passes).

    Each k is evaluated at most once. From ``k_start = 16`` the search needs at most 3
    evaluations to find a bracket (16, 64, 256 or 16, 4, 1) and at most 9 within it, 12 in all;
    on the smooth quality curves of real images it usually needs fewer than plain bisection,
    which also starts with the expensive k = 128.

    Parameters
    ----------
    quality : callable
        ``quality(k) -> float``; higher is better (``inf`` allowed).
    threshold : float
    k_min, k_max : int
        Range searched (1 and 256 by default).
    k_start : int, default 16
        First k tried.

    Returns
    -------
    k : int or None
        The k found, or None when ``quality(k_max) < threshold``.
    evaluated : dict of int to float
        Every k evaluated and its quality, in the order of evaluation (``len(evaluated)`` is the
        number of fits).

    Notes
    -----
    When quality is *not* monotonic in k (k-means finds a local optimum for each k, so a k may
    come out a little worse than k - 1 near the threshold), the result still always passes (it
    was measured) and ``k - 1`` was measured to fail, but a smaller k that also passes may have
    been skipped: the answer is then a smallest k *locally*, usually within a few colours of the
    exhaustive answer.
    """
    if not 1 <= k_min <= k_max <= 256:
        msg = f"Expected 1 <= k_min <= k_max <= 256, got k_min={k_min}, k_max={k_max}."
        raise ValueError(msg)
    evaluated = {}

    def q(k):
        if k not in evaluated:
            evaluated[k] = float(quality(k))
        return evaluated[k]

    lo = k_min - 1  # largest k known to fail (k_min - 1: none yet)
    hi = k_max + 1  # smallest k known to pass (k_max + 1: none yet)
    k = min(max(int(k_start), k_min), k_max)
    budget = None  # evaluations allowed in all, fixed once a bracket is found
    while True:
        if q(k) >= threshold:
            hi = k
        else:
            lo = k
        if hi - lo <= 1:
            break
        passes = sorted(kk for kk in evaluated if evaluated[kk] >= threshold)
        fails = sorted(kk for kk in evaluated if evaluated[kk] < threshold)
        if lo >= k_min and hi <= k_max:  # bracketed: the answer is in lo+1 .. hi
            if budget is None:
                budget = len(evaluated) + math.ceil(math.log2(hi - lo)) + 1
            guess = _interpolate(lo, evaluated[lo], hi, evaluated[hi], threshold)
            guess = (lo + hi) // 2 if guess is None else math.ceil(guess - 1e-9)
            # keep each side of the split small enough for bisection to finish within the budget
            reach = 2 ** max(budget - len(evaluated) - 1, 0)
            guess = min(max(guess, hi - reach), lo + reach)
        elif hi > k_max:  # only failures so far: go up
            guess = None
            if len(fails) >= 2:
                guess = _interpolate(fails[-2], evaluated[fails[-2]], fails[-1], evaluated[fails[-1]], threshold)
            guess = math.ceil(guess * 1.1) if guess is not None else 4 * lo
            guess = min(guess, 4 * lo)
        else:  # only passes so far: go down
            guess = None
            if len(passes) >= 2:
                guess = _interpolate(passes[0], evaluated[passes[0]], passes[1], evaluated[passes[1]], threshold)
            guess = math.floor(guess / 1.1) if guess is not None else hi // 4
            guess = max(guess, hi // 4)
        k = int(min(max(guess, lo + 1), hi - 1))
    return (hi if hi <= k_max else None), evaluated


@dataclasses.dataclass
class KChoice:
    """A k chosen for the user, and how.

    Attributes
    ----------
    k : int or None
        The chosen palette size (None when a target quality cannot be reached at 256 colours).
    row : SweepRow or None
        Its measured figures.
    rule : str
        The rule applied, in words.
    n_fits : int
        k-means fits spent choosing.
    rows : list of SweepRow
        Every k measured while choosing, sorted by k.
    """

    k: int | None
    row: SweepRow | None
    rule: str
    n_fits: int
    rows: list

    def to_dict(self):
        return {
            "k": self.k,
            "rule": self.rule,
            "n_fits": self.n_fits,
            "row": None if self.row is None else self.row.to_dict(),
            "rows": [r.to_dict() for r in self.rows],
        }


def _as_sweep(image, **kwargs):
    return image if isinstance(image, ImageSweep) else ImageSweep(image, **kwargs)


def smallest_k(image, *, min_psnr=None, min_ssim=None, k_max=256, k_start=16, random_state=0, **params):
    """The fewest colours whose PSNR (and/or SSIM) reaches a threshold.

    Parameters
    ----------
    image : ImageSweep, ndarray of uint8 (H, W, 3|4), or anything ``load_image`` reads
        Pass an :class:`ImageSweep` to share its cache of fits (and to keep the winning
        quantizer with ``keep_quantizers=True``).
    min_psnr : float, optional
        dB.
    min_ssim : float, optional
        With both thresholds, the k must meet both: the larger of the two searches' answers
        (they share one cache of fits).
    k_max : int, default 256
        Largest k allowed; lowered to the image's number of distinct colours, where the image
        is exact.
    k_start : int, default 16
    random_state : int, default 0
    **params
        Further :class:`~kmeans_compress.KMeansQuantizer` parameters (ignored when ``image`` is
        an ImageSweep).

    Returns
    -------
    KChoice
        ``k`` is None when the target is not reached even at ``k_max``.

    See Also
    --------
    search_smallest_k : the search, its assumption (quality never falls as k grows) and what
        happens when that fails.
    """
    if min_psnr is None and min_ssim is None:
        msg = "Give min_psnr and/or min_ssim (the quality to reach)."
        raise ValueError(msg)
    if min_psnr is not None:
        min_psnr = check_real("min_psnr", min_psnr)
    if min_ssim is not None:
        min_ssim = check_real("min_ssim", min_ssim, low=-1.0, high=1.0)
    job = _as_sweep(image, random_state=random_state, **params)
    k_max = int(min(k_max, max(1, job.n_distinct_colors)))
    k_start = min(k_start, k_max)
    answers = []
    for name, threshold in (("psnr", min_psnr), ("ssim", min_ssim)):
        if threshold is None:
            continue
        k, _ = search_smallest_k(lambda kk, name=name: getattr(job.row(kk), name), threshold, k_max=k_max, k_start=k_start)
        answers.append(k)
    rule = "smallest k with " + target_text(min_psnr, min_ssim)
    k = None if any(a is None for a in answers) else max(answers)
    return KChoice(k=k, row=None if k is None else job.row(k), rule=rule, n_fits=job.n_fits, rows=job.measured())


def knee_index(x, y):
    """Index of the knee of an increasing, concave-ish curve ``y(x)``.

    Both axes are scaled to 0..1 over the points (``x_n = (x - min x) / (max x - min x)``, the
    same for y), and the knee is the point with the largest ``y_n - x_n``: the point furthest
    above the diagonal chord, where spending more x stops buying as much y (the difference
    curve of Kneedle, Satopää et al. 2011). Ties go to the smaller x.

    Parameters
    ----------
    x, y : sequences of float, same length >= 1

    Returns
    -------
    int
        An index into ``x``; 0 when the curve is flat or has a single point.
    """
    x = np.asarray(x, np.float64)
    y = np.asarray(y, np.float64)
    if x.shape != y.shape or x.ndim != 1 or x.size == 0:
        msg = f"x and y must be 1-D sequences of the same, non-zero length, got shapes {x.shape} and {y.shape}."
        raise ValueError(msg)
    if not (np.all(np.isfinite(x)) and np.all(np.isfinite(y))):
        msg = "x and y must be finite (cap infinite PSNR first)."
        raise ValueError(msg)
    xr, yr = np.ptp(x), np.ptp(y)
    if xr == 0 or yr == 0:
        return int(np.argmin(x))
    diff = (y - y.min()) / yr - (x - x.min()) / xr
    best = np.flatnonzero(np.isclose(diff, diff.max(), rtol=0, atol=1e-12))
    return int(best[np.argmin(x[best])])


def knee_k(rows, *, quality="psnr", size="bytes_out"):
    """The k at the knee of a sweep's size-quality curve (see :func:`knee_index`).

    Parameters
    ----------
    rows : list of SweepRow
    quality : {"psnr", "ssim"}, default "psnr"
        PSNR above :data:`PSNR_CAP` (60 dB; infinite when exact) counts as 60 dB.
    size : str, default="bytes_out"

    Returns
    -------
    SweepRow
        The row at the knee.
    """
    rows = sorted(rows, key=lambda r: r.k)
    if not rows:
        msg = "knee_k needs at least one row."
        raise ValueError(msg)
    ys = [getattr(r, quality) for r in rows]
    if quality == "psnr":
        ys = [min(v, PSNR_CAP) for v in ys]
    return rows[knee_index([getattr(r, size) for r in rows], ys)]


def choose_knee(image, ks=DEFAULT_KS, *, random_state=0, callback=None, **params):
    """Sweep ``ks`` and return the knee as a :class:`KChoice` (see :func:`knee_index`).

    k above the image's number of distinct colours is lowered to it (the image is exact there).
    """
    ks = check_ks(ks)
    job = _as_sweep(image, random_state=random_state, **params)
    ks = sorted({min(k, max(1, job.n_distinct_colors)) for k in ks})
    rows = job.rows(ks, callback=callback)
    row = knee_k(rows)
    rule = (
        f"knee of PSNR against PNG bytes over k in {{{','.join(map(str, ks))}}} "
        "(largest normalised PSNR minus normalised bytes)"
    )
    return KChoice(k=row.k, row=row, rule=rule, n_fits=job.n_fits, rows=job.measured())


def target_text(min_psnr=None, min_ssim=None):
    """``"PSNR >= 30 dB and SSIM >= 0.9"``: a target quality in words."""
    parts = []
    if min_psnr is not None:
        parts.append(f"PSNR >= {min_psnr:g} dB")
    if min_ssim is not None:
        parts.append(f"SSIM >= {min_ssim:g}")
    return " and ".join(parts)


def smallest_swept_k(rows, *, min_psnr=None, min_ssim=None):
    """The smallest k among measured ``rows`` that meets the target, or None."""
    for row in sorted(rows, key=lambda r: r.k):
        if (min_psnr is None or row.psnr >= min_psnr) and (min_ssim is None or row.ssim >= min_ssim):
            return row.k
    return None


def choose_k(image, *, min_psnr=None, min_ssim=None, ks=DEFAULT_KS, random_state=0, **params):
    """Choose k for ``image``: the fewest colours reaching a target, or else the knee.

    Parameters
    ----------
    image : ImageSweep, ndarray of uint8 (H, W, 3|4), or anything ``load_image`` reads
        Pass an :class:`~kmeans_compress.ImageSweep` to share its fits with other calls.
    min_psnr : float, optional
        Target PSNR in dB: choose the fewest colours reaching it (:func:`smallest_k`).
    min_ssim : float, optional
        Target SSIM in [-1, 1]; with ``min_psnr`` too, k must reach both.
    ks : iterable of int, default=DEFAULT_KS
        Without a target, the k swept for the knee of the size-quality curve (:func:`choose_knee`).
    random_state : int, default=0
        Seed of every fit.
    **params
        Further :class:`~kmeans_compress.KMeansQuantizer` parameters (ignored when ``image`` is
        an ImageSweep).

    Returns
    -------
    KChoice
        The k, its measured row, the rule applied in words, and every k measured on the way.
        ``k`` is None when the target cannot be reached at 256 colours.
    """
    if min_psnr is None and min_ssim is None:
        return choose_knee(image, ks, random_state=random_state, **params)
    return smallest_k(image, min_psnr=min_psnr, min_ssim=min_ssim, random_state=random_state, **params)
