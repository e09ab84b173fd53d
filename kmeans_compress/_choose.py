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
from collections.abc import Callable, Iterable
from typing import Any

import numpy as np
from numpy.typing import ArrayLike

from ._sweep import DEFAULT_KS, ImageSweep, SweepRow, check_ks
from ._validation import check_real

__all__ = [
    "PSNR_CAP",
    "KChoice",
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


def _log2(k: float) -> float:
    return math.log2(k)


def _interpolate(k0: int, q0: float, k1: int, q1: float, target: float) -> float | None:
    """k (float) where the line through (log2 k0, q0), (log2 k1, q1) reaches ``target``; None if flat."""
    if not (math.isfinite(q0) and math.isfinite(q1)) or q1 == q0 or k1 == k0:
        return None
    x0, x1 = _log2(k0), _log2(k1)
    x = x0 + (target - q0) * (x1 - x0) / (q1 - q0)
    return 2.0 ** min(max(x, -1.0), 9.0)


def search_smallest_k(
    quality: Callable[[int], float], threshold: float, *, k_min: int = 1, k_max: int = 256, k_start: int = 16
) -> tuple[int | None, dict[int, float]]:
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
    evaluated: dict[int, float] = {}

    def q(k: int) -> float:
        if k not in evaluated:
            evaluated[k] = float(quality(k))
        return evaluated[k]

    lo = k_min - 1  # largest k known to fail (k_min - 1: none yet)
    hi = k_max + 1  # smallest k known to pass (k_max + 1: none yet)
    k = min(max(int(k_start), k_min), k_max)
    budget: int | None = None  # evaluations allowed in all, fixed once a bracket is found
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
            estimate = _interpolate(lo, evaluated[lo], hi, evaluated[hi], threshold)
            guess = (lo + hi) // 2 if estimate is None else math.ceil(estimate - 1e-9)
            # keep each side of the split small enough for bisection to finish within the budget
            reach = 2 ** max(budget - len(evaluated) - 1, 0)
            guess = min(max(guess, hi - reach), lo + reach)
        elif hi > k_max:  # only failures so far: go up
            estimate = None
            if len(fails) >= 2:
                estimate = _interpolate(fails[-2], evaluated[fails[-2]], fails[-1], evaluated[fails[-1]], threshold)
            guess = math.ceil(estimate * 1.1) if estimate is not None else 4 * lo
            guess = min(guess, 4 * lo)
        else:  # only passes so far: go down
            estimate = None
            if len(passes) >= 2:
                estimate = _interpolate(passes[0], evaluated[passes[0]], passes[1], evaluated[passes[1]], threshold)
            guess = math.floor(estimate / 1.1) if estimate is not None else hi // 4
            guess = max(guess, hi // 4)
        k = int(min(max(guess, lo + 1), hi - 1))
    return (hi if hi <= k_max else None), evaluated


@dataclasses.dataclass
class KChoice:
    """A k chosen for the user, and how.

    Each parameter is kept as the attribute of the same name.

    Parameters
    ----------
    k : int or None
        The chosen palette size (None when a target quality cannot be reached at 256 colours).
    row : SweepRow or None
        Its measured figures.
    rule : str
        The rule applied, in words.
    n_fits : int
        The number of k-means fits spent choosing.
    rows : list of SweepRow
        Every k measured while choosing, sorted by k.
    """

    k: int | None
    row: SweepRow | None
    rule: str
    n_fits: int
    rows: list[SweepRow]

    def to_dict(self) -> dict[str, Any]:
        """Plain dict, valid JSON: ``k``, ``rule``, ``n_fits``, the chosen row and every row measured.

        Returns
        -------
        dict
            ``k``, ``rule`` and ``n_fits``, with the chosen row and every row measured as flat dicts.
        """
        return {
            "k": self.k,
            "rule": self.rule,
            "n_fits": self.n_fits,
            "row": None if self.row is None else self.row.to_dict(),
            "rows": [r.to_dict() for r in self.rows],
        }


def _as_sweep(image: Any, **kwargs: Any) -> ImageSweep:
    return image if isinstance(image, ImageSweep) else ImageSweep(image, **kwargs)


def smallest_k(
    image: Any,
    *,
    min_psnr: float | None = None,
    min_ssim: float | None = None,
    k_max: int = 256,
    k_start: int = 16,
    random_state: int = 0,
    **params: Any,
) -> KChoice:
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
    answers: list[int | None] = []
    for name, threshold in (("psnr", min_psnr), ("ssim", min_ssim)):
        if threshold is None:
            continue

        def measured(kk: int, name: str = name) -> float:
            return getattr(job.row(kk), name)

        found, _ = search_smallest_k(measured, threshold, k_max=k_max, k_start=k_start)
        answers.append(found)
    rule = "smallest k with " + target_text(min_psnr, min_ssim)
    reached = [a for a in answers if a is not None]
    k = max(reached) if len(reached) == len(answers) else None
    return KChoice(k=k, row=None if k is None else job.row(k), rule=rule, n_fits=job.n_fits, rows=job.measured())


def knee_index(x: ArrayLike, y: ArrayLike) -> int:
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
    xs = np.asarray(x, np.float64)
    ys = np.asarray(y, np.float64)
    if xs.shape != ys.shape or xs.ndim != 1 or xs.size == 0:
        msg = f"x and y must be 1-D sequences of the same, non-zero length, got shapes {xs.shape} and {ys.shape}."
        raise ValueError(msg)
    if not (np.all(np.isfinite(xs)) and np.all(np.isfinite(ys))):
        msg = "x and y must be finite (cap infinite PSNR first)."
        raise ValueError(msg)
    xr, yr = np.ptp(xs), np.ptp(ys)
    if xr == 0 or yr == 0:
        return int(np.argmin(xs))
    diff = (ys - ys.min()) / yr - (xs - xs.min()) / xr
    best = np.flatnonzero(np.isclose(diff, diff.max(), rtol=0, atol=1e-12))
    return int(best[np.argmin(xs[best])])


def knee_k(rows: Iterable[SweepRow], *, quality: str = "psnr", size: str = "bytes_out") -> SweepRow:
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
    ordered = sorted(rows, key=lambda r: r.k)
    if not ordered:
        msg = "knee_k needs at least one row."
        raise ValueError(msg)
    ys = [getattr(r, quality) for r in ordered]
    if quality == "psnr":
        ys = [min(v, PSNR_CAP) for v in ys]
    return ordered[knee_index([getattr(r, size) for r in ordered], ys)]


def choose_knee(
    image: Any,
    ks: Iterable[int] = DEFAULT_KS,
    *,
    random_state: int = 0,
    callback: Callable[..., Any] | None = None,
    **params: Any,
) -> KChoice:
    """Sweep ``ks`` and return the knee as a :class:`KChoice` (see :func:`knee_index`).

    k above the image's number of distinct colours is lowered to it (the image is exact there).
    """
    asked = check_ks(ks)
    job = _as_sweep(image, random_state=random_state, **params)
    swept = sorted({min(k, max(1, job.n_distinct_colors)) for k in asked})
    rows = job.rows(swept, callback=callback)
    row = knee_k(rows)
    rule = (
        f"knee of PSNR against PNG bytes over k in {{{','.join(map(str, swept))}}} "
        "(largest normalised PSNR minus normalised bytes)"
    )
    return KChoice(k=row.k, row=row, rule=rule, n_fits=job.n_fits, rows=job.measured())


def target_text(min_psnr: float | None = None, min_ssim: float | None = None) -> str:
    """``"PSNR >= 30 dB and SSIM >= 0.9"``: a target quality in words."""
    parts = []
    if min_psnr is not None:
        parts.append(f"PSNR >= {min_psnr:g} dB")
    if min_ssim is not None:
        parts.append(f"SSIM >= {min_ssim:g}")
    return " and ".join(parts)


def smallest_swept_k(
    rows: Iterable[SweepRow], *, min_psnr: float | None = None, min_ssim: float | None = None
) -> int | None:
    """The smallest k among measured ``rows`` that meets the target, or None."""
    for row in sorted(rows, key=lambda r: r.k):
        if (min_psnr is None or row.psnr >= min_psnr) and (min_ssim is None or row.ssim >= min_ssim):
            return row.k
    return None


def choose_k(
    image: Any,
    *,
    min_psnr: float | None = None,
    min_ssim: float | None = None,
    ks: Iterable[int] = DEFAULT_KS,
    random_state: int = 0,
    **params: Any,
) -> KChoice:
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
