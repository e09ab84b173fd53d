"""Choosing k: sweeps over palette sizes, a target quality, the knee, and honest comparisons.

Work that does not depend on k (loading, the colour histogram) is done once per image by
:class:`ImageSweep`, which then fits, encodes and measures one k at a time and caches every
row, so that a search over k never fits the same k twice and can count its fits.

Two rules pick k for the user:

* **Target quality** (:func:`smallest_k`, like pngquant's ``--quality``): the fewest colours
  whose PSNR (or SSIM) reaches a threshold. :func:`search_smallest_k` finds it with a handful of
  fits, assuming quality never decreases as k grows (see its notes for what happens when that
  assumption fails).
* **Knee** (:func:`knee_k`): on the size-quality curve of a sweep (PNG bytes against PSNR), both
  axes scaled to 0..1 over the swept points, the k whose point lies furthest above the chord
  from the smallest to the largest file, i.e. the largest ``quality_n - size_n`` (the difference
  curve of Kneedle, Satopää et al. 2011).

For an honest comparison, each row can also carry (``compare=True``) what a JPEG of the same
file size gives (:func:`jpeg_at_size`) and what Pillow's median-cut quantizer gives at the same k
(:func:`mediancut_png`).

This module never imports matplotlib.
"""

from __future__ import annotations

import csv
import dataclasses
import io as _io
import json
import math
import os
import time

import numpy as np
from PIL import Image

from ._io import encode_palette_png, load_image
from ._metrics import bits_per_pixel, compression_ratio, delta_e, mse, psnr, ssim
from ._quantize import ColorHistogram, KMeansQuantizer

__all__ = [
    "DEFAULT_KS",
    "ImageSweep",
    "choose_knee",
    "KChoice",
    "SweepRow",
    "format_table",
    "jpeg_at_size",
    "knee_index",
    "knee_k",
    "mediancut_png",
    "rows_to_columns",
    "rows_to_csv",
    "rows_to_json",
    "search_smallest_k",
    "smallest_k",
    "sweep",
]

#: Palette sizes swept by default (and by the knee rule): the powers of two from 2 to 256.
DEFAULT_KS = (2, 4, 8, 16, 32, 64, 128, 256)

#: PSNR above this is treated as equal to it by the knee rule (an exact image has infinite PSNR).
PSNR_CAP = 60.0


@dataclasses.dataclass
class SweepRow:
    """Figures for one k of a sweep.

    Attributes
    ----------
    k : int
        Colours asked for.
    n_colors : int
        Colours used.
    inertia : float
        The quantizer's ``inertia_`` (sum over pixels of squared feature distance).
    mse, psnr, ssim : float
        Quality against the original pixels (``psnr`` is ``inf`` when exact).
    png_bytes : int
        Size of the indexed PNG.
    bits_per_pixel : float
        ``8 * png_bytes / (H * W)``.
    ratio : float or None
        ``original_bytes / png_bytes`` when the original file size is known.
    seconds : float
        Quantize + encode + metrics for this k (not the comparisons).
    jpeg_quality, jpeg_bytes : int or None
        With ``compare=True``: the highest Pillow JPEG quality (1..95) whose file is no larger
        than ``png_bytes``, and its size. None when even quality 1 is larger, when the image
        has alpha (JPEG has none), or without ``compare``.
    jpeg_psnr, jpeg_ssim : float or None
        Quality of that JPEG.
    mediancut_n_colors, mediancut_bytes : int or None
        With ``compare=True``: Pillow's median-cut quantizer (``Image.quantize(k, MEDIANCUT)``,
        no dithering) at the same k, colours used and bytes of its indexed PNG written by the same
        encoder. None for images with alpha (median cut handles RGB only).
    mediancut_psnr, mediancut_ssim : float or None
        Quality of the median-cut image.
    delta_e : float or None
        Mean CIEDE2000 colour difference, pixel by pixel (:func:`~kmeans_compress.delta_e`);
        filled by :class:`ImageSweep`.
    """

    k: int
    n_colors: int
    inertia: float
    mse: float
    psnr: float
    ssim: float
    png_bytes: int
    bits_per_pixel: float
    ratio: float | None
    seconds: float
    jpeg_quality: int | None = None
    jpeg_bytes: int | None = None
    jpeg_psnr: float | None = None
    jpeg_ssim: float | None = None
    mediancut_n_colors: int | None = None
    mediancut_bytes: int | None = None
    mediancut_psnr: float | None = None
    mediancut_ssim: float | None = None
    delta_e: float | None = None

    def to_dict(self):
        """Plain dict (an infinite PSNR becomes None, so that it is valid JSON)."""
        out = dataclasses.asdict(self)
        for key, value in out.items():
            if isinstance(value, float) and math.isinf(value):
                out[key] = None
        return out


@dataclasses.dataclass
class JpegAtSize:
    """What :func:`jpeg_at_size` returns: the chosen quality, the file and its decoded pixels."""

    quality: int
    data: bytes
    image: np.ndarray
    n_encodes: int


def jpeg_at_size(image, max_bytes, *, max_quality=95):
    """The best Pillow JPEG no larger than ``max_bytes``.

    Binary search on the JPEG quality (1..``max_quality``) for the highest quality whose file
    is at most ``max_bytes``, assuming the size grows with quality (it does, up to a few bytes
    of noise). Pillow's defaults otherwise (4:2:0 chroma subsampling), with ``optimize=True``
    (optimised Huffman tables), as the PNGs get maximum deflate effort.

    Parameters
    ----------
    image : ndarray of uint8, shape (H, W, 3)
    max_bytes : int

    Returns
    -------
    JpegAtSize or None
        None when even quality 1 is larger than ``max_bytes``.

    Raises
    ------
    ValueError
        For an image with an alpha channel (JPEG cannot store it).
    """
    image = np.asarray(image)
    if image.ndim != 3 or image.shape[2] != 3 or image.dtype != np.uint8:
        msg = f"jpeg_at_size needs a uint8 RGB image of shape (H, W, 3), got {image.dtype} {image.shape}."
        raise ValueError(msg)
    pil = Image.fromarray(image)
    n_encodes = 0

    def encode(quality):
        nonlocal n_encodes
        n_encodes += 1
        buf = _io.BytesIO()
        pil.save(buf, format="JPEG", quality=quality, optimize=True)
        return buf.getvalue()

    best = encode(1)
    if len(best) > max_bytes:
        return None
    best_q, lo, hi = 1, 2, max_quality
    while lo <= hi:
        mid = (lo + hi) // 2
        data = encode(mid)
        if len(data) <= max_bytes:
            best_q, best, lo = mid, data, mid + 1
        else:
            hi = mid - 1
    with Image.open(_io.BytesIO(best)) as im:
        decoded = np.asarray(im.convert("RGB"))
    return JpegAtSize(quality=best_q, data=best, image=decoded, n_encodes=n_encodes)


def mediancut_png(image, k):
    """Pillow's median-cut quantizer at ``k`` colours, encoded like the package's own PNGs.

    Parameters
    ----------
    image : ndarray of uint8, shape (H, W, 3)
    k : int, 1..256

    Returns
    -------
    palette : ndarray of uint8, shape (n, 3)
        The colours used (unused entries of Pillow's palette dropped).
    labels : ndarray of uint8, shape (H, W)
    data : bytes
        The indexed PNG from :func:`~kmeans_compress.encode_palette_png`.
    """
    image = np.asarray(image)
    if image.ndim != 3 or image.shape[2] != 3 or image.dtype != np.uint8:
        msg = f"mediancut_png needs a uint8 RGB image of shape (H, W, 3), got {image.dtype} {image.shape}."
        raise ValueError(msg)
    quantized = Image.fromarray(image).quantize(colors=int(k), method=Image.Quantize.MEDIANCUT, dither=Image.Dither.NONE)
    raw_labels = np.asarray(quantized)
    full = np.asarray(quantized.getpalette()[: 3 * 256], np.uint8).reshape(-1, 3)
    used, labels = np.unique(raw_labels, return_inverse=True)
    palette = np.ascontiguousarray(full[used])
    labels = labels.reshape(raw_labels.shape).astype(np.uint8)
    return palette, labels, encode_palette_png(palette, labels)


class ImageSweep:
    """One image prepared for trying many k: the histogram built once, every fit cached.

    Parameters
    ----------
    image : ndarray of uint8 (H, W, 3|4), or anything :func:`~kmeans_compress.load_image` reads
    original_bytes : int, optional
        Size of the original file, for ``ratio``. Taken from the file when ``image`` is a path.
    compare : bool, default False
        Also measure JPEG at the same bytes and Pillow's median cut at the same k for each row
        (costs about ten JPEG encodes and one median cut per k).
    random_state : int, default 0
    keep_quantizers : bool, default False
        Keep each fitted :class:`~kmeans_compress.KMeansQuantizer` (in :attr:`quantizers_`), e.g.
        to save the chosen k without fitting it again. Off by default to save memory.
    **params
        Further :class:`~kmeans_compress.KMeansQuantizer` parameters (``color_space``, ...).

    Attributes
    ----------
    image : ndarray of uint8
    histogram : ColorHistogram
    n_fits : int
        Number of k-means fits done so far (one per distinct k asked).
    rows_ : dict of int to SweepRow
        Every k measured so far.
    quantizers_ : dict of int to KMeansQuantizer
        With ``keep_quantizers=True``.
    pngs_ : dict of int to bytes
        With ``keep_quantizers=True``: the encoded PNG of each k.
    """

    def __init__(self, image, *, original_bytes=None, compare=False, random_state=0, keep_quantizers=False, **params):
        if isinstance(image, (str, os.PathLike)) and original_bytes is None:
            original_bytes = os.path.getsize(image)
        self.image = load_image(image)
        self.histogram = ColorHistogram.from_image(self.image)
        self.original_bytes = original_bytes
        self.compare = compare
        self.random_state = random_state
        self.keep_quantizers = keep_quantizers
        self.params = params
        self.n_fits = 0
        self.rows_ = {}
        self.quantizers_ = {}
        self.pngs_ = {}

    @property
    def n_pixels(self):
        return self.image.shape[0] * self.image.shape[1]

    @property
    def n_distinct_colors(self):
        """Distinct colours of the image: above this, more k changes nothing."""
        return self.histogram.n_colors

    def row(self, k):
        """Measure k (fitting it only the first time it is asked for); returns a SweepRow."""
        if isinstance(k, bool) or not isinstance(k, (int, np.integer)) or not 1 <= k <= 256:
            msg = f"k must be an integer from 1 to 256 (a PNG palette holds no more), got {k!r}."
            raise ValueError(msg)
        k = int(k)
        if k in self.rows_:
            return self.rows_[k]
        start = time.perf_counter()
        quantizer = KMeansQuantizer(k, random_state=self.random_state, **self.params).fit(self.histogram)
        self.n_fits += 1
        data = encode_palette_png(quantizer.palette_, quantizer.labels_)
        quantized = quantizer.palette_[quantizer.labels_]
        ratio = None if self.original_bytes is None else compression_ratio(self.original_bytes, len(data))
        row = SweepRow(
            k=k,
            n_colors=quantizer.n_colors_,
            inertia=quantizer.inertia_,
            mse=mse(self.image, quantized),
            psnr=psnr(self.image, quantized),
            ssim=ssim(self.image, quantized),
            png_bytes=len(data),
            bits_per_pixel=bits_per_pixel(len(data), self.n_pixels),
            ratio=ratio,
            seconds=0.0,
            delta_e=delta_e(self.image, quantized),
        )
        row.seconds = time.perf_counter() - start
        if self.compare:
            self._add_comparisons(row)
        if self.keep_quantizers:
            self.quantizers_[k] = quantizer
            self.pngs_[k] = data
        self.rows_[k] = row
        return row

    def _add_comparisons(self, row):
        if self.image.shape[2] != 3:
            return  # JPEG and median cut have no alpha: left as None
        jpeg = jpeg_at_size(self.image, row.png_bytes)
        if jpeg is not None:
            row.jpeg_quality = jpeg.quality
            row.jpeg_bytes = len(jpeg.data)
            row.jpeg_psnr = psnr(self.image, jpeg.image)
            row.jpeg_ssim = ssim(self.image, jpeg.image)
        palette, labels, data = mediancut_png(self.image, row.k)
        rebuilt = palette[labels]
        row.mediancut_n_colors = len(palette)
        row.mediancut_bytes = len(data)
        row.mediancut_psnr = psnr(self.image, rebuilt)
        row.mediancut_ssim = ssim(self.image, rebuilt)

    def rows(self, ks, *, callback=None):
        """Rows for every k in ``ks``, in that order; ``callback(row)`` after each one."""
        out = []
        for k in ks:
            out.append(self.row(k))
            if callback is not None:
                callback(out[-1])
        return out

    def measured(self):
        """Every row measured so far, sorted by k."""
        return [self.rows_[k] for k in sorted(self.rows_)]


def _check_ks(ks):
    ks = list(ks)
    if not ks:
        msg = "ks must hold at least one k, got an empty list."
        raise ValueError(msg)
    for k in ks:
        if isinstance(k, bool) or not isinstance(k, (int, np.integer)) or not 1 <= k <= 256:
            msg = f"every k must be an integer from 1 to 256 (a PNG palette holds no more), got {k!r}."
            raise ValueError(msg)
    return [int(k) for k in ks]


def sweep(image, ks=DEFAULT_KS, *, original_bytes=None, random_state=0, compare=False, callback=None, **params):
    """Quantize ``image`` at every k in ``ks`` and measure size and quality.

    Parameters
    ----------
    image : ndarray of uint8 (H, W, 3|4), or anything :func:`~kmeans_compress.load_image` reads
    ks : iterable of int, default :data:`DEFAULT_KS`
        Palette sizes, each 1..256.
    original_bytes : int, optional
        Size of the original file, for ``ratio``. Taken from the file when ``image`` is a path.
    random_state : int, default 0
    compare : bool, default False
        Also fill the ``jpeg_*`` (JPEG at the same bytes) and ``mediancut_*`` (Pillow's median
        cut at the same k) fields of each row.
    callback : callable, optional
        Called with each row as soon as it is measured (for progress bars).
    **params
        Further :class:`~kmeans_compress.KMeansQuantizer` parameters.

    Returns
    -------
    list of SweepRow, in the order of ``ks``. A row's figures are those of
    :func:`~kmeans_compress.compress_file` at the same k and parameters.
    """
    ks = _check_ks(ks)
    job = ImageSweep(image, original_bytes=original_bytes, compare=compare, random_state=random_state, **params)
    return job.rows(ks, callback=callback)


# ---------------------------------------------------------------------------------------------
# Target quality
# ---------------------------------------------------------------------------------------------


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
    on measured PSNR and SSIM curves of photos it takes 4 to 8 (plain bisection over 1..256
    takes 8 or 9, starting with the expensive k = 128).

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
    if min_ssim is not None and not -1 <= min_ssim <= 1:
        msg = f"min_ssim must be in [-1, 1], got {min_ssim!r}."
        raise ValueError(msg)
    job = _as_sweep(image, random_state=random_state, **params)
    k_max = int(min(k_max, max(1, job.n_distinct_colors)))
    k_start = min(k_start, k_max)
    answers, parts = [], []
    for name, threshold in (("psnr", min_psnr), ("ssim", min_ssim)):
        if threshold is None:
            continue
        k, _ = search_smallest_k(lambda kk, name=name: getattr(job.row(kk), name), threshold, k_max=k_max, k_start=k_start)
        answers.append(k)
        parts.append(f"{'PSNR' if name == 'psnr' else 'SSIM'} >= {threshold:g}{' dB' if name == 'psnr' else ''}")
    rule = "smallest k with " + " and ".join(parts)
    k = None if any(a is None for a in answers) else max(answers)
    return KChoice(k=k, row=None if k is None else job.row(k), rule=rule, n_fits=job.n_fits, rows=job.measured())


# ---------------------------------------------------------------------------------------------
# Knee
# ---------------------------------------------------------------------------------------------


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


def knee_k(rows, *, quality="psnr", size="png_bytes"):
    """The k at the knee of a sweep's size-quality curve (see :func:`knee_index`).

    Parameters
    ----------
    rows : list of SweepRow
    quality : {"psnr", "ssim"}, default "psnr"
        PSNR above :data:`PSNR_CAP` (60 dB; infinite when exact) counts as 60 dB.
    size : str, default "png_bytes"

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
    ks = _check_ks(ks)
    job = _as_sweep(image, random_state=random_state, **params)
    ks = sorted({min(k, max(1, job.n_distinct_colors)) for k in ks})
    rows = job.rows(ks, callback=callback)
    row = knee_k(rows)
    rule = (
        f"knee of PSNR against PNG bytes over k in {{{','.join(map(str, ks))}}} "
        "(largest normalised PSNR minus normalised bytes)"
    )
    return KChoice(k=row.k, row=row, rule=rule, n_fits=job.n_fits, rows=job.measured())


# ---------------------------------------------------------------------------------------------
# Tables
# ---------------------------------------------------------------------------------------------


def rows_to_columns(rows):
    """Turn a list of dataclass rows into a dict of columns (``{"k": [...], "psnr": [...]}``)."""
    if not rows:
        return {}
    names = [f.name for f in dataclasses.fields(rows[0])]
    return {name: [getattr(r, name) for r in rows] for name in names}


def _records(rows, extra):
    out = []
    for r in rows:
        record = dict(extra or {})
        record.update(r.to_dict() if hasattr(r, "to_dict") else dict(r))
        out.append(record)
    return out


def rows_to_csv(rows, file, *, extra=None):
    """Write rows as CSV (a header, then one line per row; empty cells for None/inf).

    Parameters
    ----------
    rows : list of SweepRow
    file : str, os.PathLike or text file object
    extra : dict, optional
        Constant columns put first (e.g. ``{"input": "photo.png"}``).
    """
    records = _records(rows, extra)
    names = list(records[0]) if records else [f.name for f in dataclasses.fields(SweepRow)]
    if isinstance(file, (str, os.PathLike)):
        with open(file, "w", newline="", encoding="utf-8") as fh:
            return rows_to_csv(rows, fh, extra=extra)
    writer = csv.DictWriter(file, fieldnames=names, lineterminator="\n")
    writer.writeheader()
    writer.writerows(records)
    return None


def rows_to_json(rows, file=None, *, extra=None, indent=2):
    """Rows as a JSON list of objects (infinite PSNR as null); written to ``file`` if given.

    Returns
    -------
    str
        The JSON text.
    """
    text = json.dumps(_records(rows, extra), indent=indent)
    if isinstance(file, (str, os.PathLike)):
        with open(file, "w", encoding="utf-8") as fh:
            fh.write(text + "\n")
    elif file is not None:
        file.write(text + "\n")
    return text


def _fmt(value, spec):
    if value is None:
        return "-"
    if isinstance(value, float) and math.isinf(value):
        return "inf"
    return format(value, spec)


_TABLE = [
    ("k", "k", "d"),
    ("used", "n_colors", "d"),
    ("PSNR", "psnr", ".2f"),
    ("SSIM", "ssim", ".4f"),
    ("dE00", "delta_e", ".2f"),
    ("bytes", "png_bytes", ",d"),
    ("bpp", "bits_per_pixel", ".3f"),
    ("ratio", "ratio", ".2f"),
    ("s", "seconds", ".2f"),
]
_TABLE_COMPARE = [
    ("JPEG q", "jpeg_quality", "d"),
    ("JPEG bytes", "jpeg_bytes", ",d"),
    ("JPEG PSNR", "jpeg_psnr", ".2f"),
    ("JPEG SSIM", "jpeg_ssim", ".4f"),
    ("MC bytes", "mediancut_bytes", ",d"),
    ("MC PSNR", "mediancut_psnr", ".2f"),
    ("MC SSIM", "mediancut_ssim", ".4f"),
]


def format_table(rows, *, compare=None):
    """Rows as an aligned text table (the comparison columns when ``compare`` or when filled)."""
    if compare is None:
        compare = any(r.mediancut_bytes is not None or r.jpeg_bytes is not None for r in rows)
    columns = _TABLE + (_TABLE_COMPARE if compare else [])
    cells = [[title for title, _, _ in columns]]
    for r in rows:
        cells.append([_fmt(getattr(r, name), spec) for _, name, spec in columns])
    widths = [max(len(line[i]) for line in cells) for i in range(len(columns))]
    return "\n".join("  ".join(c.rjust(w) for c, w in zip(line, widths)) for line in cells)

