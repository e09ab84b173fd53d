"""Trying many k on one image: the colours counted once, each k fitted, encoded and measured once.

:class:`ImageSweep` loads the image and builds its colour histogram once, then measures one k
at a time and caches each result, so that a search over k never fits the same k twice and can
count its fits. :func:`sweep` measures a list of k in one call.
"""

from __future__ import annotations

import dataclasses
import math
import os
import time
from collections.abc import Callable, Iterable
from typing import TYPE_CHECKING, Any

import numpy as np
from numpy.typing import NDArray

from ._baselines import Baseline, baselines
from ._encode import encode_palette
from ._formats import check_format
from ._histogram import ColorHistogram
from ._kept_profile import as_seen, fit_quantizer
from ._load import read_image
from ._measure import Measurement, check_metrics, measure
from ._memory import release_free_memory
from ._validation import check_k

if TYPE_CHECKING:
    from ._quantize import KMeansQuantizer

__all__ = ["DEFAULT_KS", "ImageSweep", "SweepRow", "check_ks", "sweep"]

#: Palette sizes swept by default (and by the knee rule): the powers of two from 2 to 256.
DEFAULT_KS = (2, 4, 8, 16, 32, 64, 128, 256)


@dataclasses.dataclass(frozen=True)
class SweepRow(Measurement):
    """A :class:`~kmeans_compress.Measurement` of one k, plus the optional baselines.

    Each parameter is kept as the attribute of the same name.

    Parameters
    ----------
    k, n_colors, width, height, inertia, mse, psnr, ssim : see Measurement
        The fields of :class:`~kmeans_compress.Measurement`, with the same meaning.
    delta_e, bytes_out, bits_per_pixel, raw_bytes, ratio_raw : see Measurement
        The fields of :class:`~kmeans_compress.Measurement`, with the same meaning.
    bytes_in, ratio, seconds, color_space, dither, format, frames : see Measurement
        The optional fields of :class:`~kmeans_compress.Measurement`, with the same meaning and defaults.
    jpeg : Baseline or None
        With ``compare=True``: the best Pillow JPEG no larger than this k's file (``setting`` is
        its quality). None without ``compare``, for images with alpha, or when even quality 1
        is larger.
    mediancut : Baseline or None
        With ``compare=True``: Pillow's median-cut quantizer at the same k, encoded by the same
        PNG writer (``setting`` is the colours it used). None without ``compare`` or with alpha.
    """

    jpeg: Baseline | None = None
    mediancut: Baseline | None = None

    def measurement(self, **changes: Any) -> Measurement:
        """Return the row without its baselines, as a plain :class:`~kmeans_compress.Measurement`.

        Parameters
        ----------
        **changes
            Fields to replace in the copy, for example ``seconds``.

        Returns
        -------
        Measurement
            The measurement fields of this row, with ``changes`` applied.
        """
        fields = {f.name: getattr(self, f.name) for f in dataclasses.fields(Measurement)}
        return Measurement(**{**fields, **changes})

    def to_dict(self) -> dict[str, Any]:
        """Flat dict, valid JSON: the measurement's fields then ``jpeg_*`` and ``mediancut_*``.

        Returns
        -------
        dict
            The measurement's entries, then the setting, bytes, PSNR and SSIM of each baseline
            (None where there is none).
        """
        out = Measurement.to_dict(self)
        del out["jpeg"], out["mediancut"]
        for name, setting in (("jpeg", "quality"), ("mediancut", "n_colors")):
            base = getattr(self, name)
            out[f"{name}_{setting}"] = None if base is None else base.setting
            for field in ("bytes", "psnr", "ssim"):
                value = None if base is None else getattr(base, field)
                out[f"{name}_{field}"] = None if isinstance(value, float) and not math.isfinite(value) else value
        return out


def check_ks(ks: Iterable[int]) -> list[int]:
    """``ks`` as a non-empty list of ints, each 1..256."""
    ks = list(ks)
    if not ks:
        msg = "ks must hold at least one k, got an empty list."
        raise ValueError(msg)
    return [check_k("every k", k) for k in ks]


class ImageSweep:
    """One image prepared for trying many k: the histogram built once, every k measured once.

    Parameters
    ----------
    image : ndarray of uint8 (H, W, 3|4), or anything :func:`~kmeans_compress.load_image` reads
        The image to sweep: an array, or a path, bytes or file object that is read once here.
    bytes_in : int, optional
        Size of the original file, for each row's ``ratio``. Taken from the file when ``image``
        is a path.
    compare : bool, default=False
        Also measure JPEG at the same bytes and Pillow's median cut at the same k for each row
        (costs about ten JPEG encodes and one median cut per k).
    random_state : int, default=0
        Seed of every fit.
    keep_quantizers : bool, default=False
        Keep each fitted :class:`~kmeans_compress.KMeansQuantizer` in :attr:`quantizers_`
        (for figures of the quantized images). Off by default: each holds a label per pixel.
    format : {"png", "webp"}, default="png"
        Format every k is encoded in (and measured, and compared with JPEG, at).
    keep_profile : bool, default=False
        Keep the image's own ICC profile and embed it, instead of converting to sRGB
        (see :func:`~kmeans_compress.compress_bytes`: clustered and measured as seen through
        the profile); for files, not arrays.
    info : ImageInfo, optional
        What the writer keeps of an ``image`` already loaded (its profile to embed and DPI), as
        :func:`~kmeans_compress._load.read_image` returned it.
    run_budget : float or "auto", default="auto"
        PSNR (dB) each fit may give up for labels that compress better; see
        :class:`~kmeans_compress.KMeansQuantizer`, whose own default (0) is the plain k-means
        assignment. Here, as in :func:`~kmeans_compress.compress_file` and the command line,
        the default is ``"auto"``: files are what a sweep measures.
    metrics : {"all", "psnr", "none"} or frozenset of str, default="all"
        Quality figures each row computes (see :func:`~kmeans_compress.measure`); the others
        are NaN.
    **params
        Further :class:`~kmeans_compress.KMeansQuantizer` parameters (``color_space``, ...).

    Attributes
    ----------
    image : ndarray of uint8
    info : ImageInfo
    histogram : ColorHistogram
    n_fits : int
        k-means fits done so far (one per distinct k asked).
    rows_ : dict of int to SweepRow
        Every k measured so far.
    data_ : dict of int to bytes
        The encoded file of every k measured so far, so that the chosen k is never encoded twice.
    quantizers_ : dict of int to KMeansQuantizer
        With ``keep_quantizers=True``.
    """

    def __init__(
        self, image: Any, *, bytes_in: int | None = None, compare: bool = False, random_state: Any = 0,
        keep_quantizers: bool = False, format: str = "png",  # noqa: A002
        keep_profile: bool = False, info: Any = None, run_budget: float | str = "auto",
        metrics: str | frozenset[str] = "all", **params: Any,
    ) -> None:
        check_format(format)
        self.metrics = check_metrics(metrics)
        if isinstance(image, (str, os.PathLike)) and bytes_in is None:
            bytes_in = os.path.getsize(image)
        if info is None:
            self.image, self.info = read_image(image, keep_profile=keep_profile)
        else:
            self.image, self.info = read_image(image, keep_profile=info.icc_profile is not None)[0], info
        self.format = format
        release_free_memory()  # the decoder's buffers: not kept at the size of their peak
        self.histogram = ColorHistogram.from_image(self.image)
        release_free_memory()
        self._start_rows(
            bytes_in=bytes_in, compare=compare, random_state=random_state, keep_quantizers=keep_quantizers,
            run_budget=run_budget, params=params,
        )

    def _start_rows(
        self, *, bytes_in: int | None, compare: bool, random_state: Any, keep_quantizers: bool, run_budget: float | str,
        params: dict[str, Any],
    ) -> None:
        """The settings of every fit and the empty caches of rows, files and fits (an animation's too)."""
        self.bytes_in = bytes_in
        self.compare = compare
        self.random_state = random_state
        self.keep_quantizers = keep_quantizers
        self.params = {"run_budget": run_budget, **params}
        self.n_fits = 0
        self._seen_image: NDArray[np.uint8] | None = None
        self.rows_: dict[int, SweepRow] = {}
        self.data_: dict[int, bytes] = {}
        self.quantizers_: dict[int, KMeansQuantizer] = {}
        self._fits: dict[int, tuple[tuple[KMeansQuantizer, bytes], float]] = {}  # encoded, not yet measured

    @property
    def n_distinct_colors(self) -> int:
        """Distinct colours of the image: above this, more k changes nothing."""
        return self.histogram.n_colors

    def row(self, k: int) -> SweepRow:
        """The :class:`SweepRow` of ``k``, fitting it only the first time it is asked for.

        Parameters
        ----------
        k : int
            Palette size, 1 to 256.

        Returns
        -------
        SweepRow
            The measured row of ``k``; the same object on every later call.
        """
        k = check_k("k", k)
        if k not in self.rows_:
            row, data, quantizer = self._measure_row(k)
            if self.keep_quantizers:
                self.quantizers_[k] = quantizer
            self.rows_[k] = row
            self.data_[k] = data
        return self.rows_[k]

    def _measure_row(self, k: int) -> tuple[SweepRow, bytes, KMeansQuantizer]:
        """Fit (or take the quick view's fit of), encode and measure ``k``: ``(row, data, quantizer)``."""
        start = time.perf_counter()
        if k in self._fits:  # fitted and encoded for a quick view: its time counts in the row's
            (quantizer, data), fit_seconds = self._fits.pop(k)
            start -= fit_seconds
        else:
            quantizer, data = self._fit(k)
        seen_image, seen_quantizer = as_seen(self.image, quantizer, seen_image=self._seen_image)
        self._seen_image = seen_image  # a kept profile's image as seen: converted once per sweep
        measured = measure(  # the file is the stored values'; the figures are of the image as seen
            seen_image, seen_quantizer, data=data, k=k, bytes_in=self.bytes_in, started=start, format=self.format,
            metrics=self.metrics,
        )
        jpeg = mediancut = None
        if self.compare:  # against the image as seen, as the row itself is measured
            jpeg, mediancut = baselines(seen_image, k, len(data), format=self.format)
        row = SweepRow(
            **{f.name: getattr(measured, f.name) for f in dataclasses.fields(Measurement)},
            jpeg=jpeg,
            mediancut=mediancut,
        )
        return row, data, quantizer

    def encoded(self, k: int) -> tuple[KMeansQuantizer, bytes]:
        """The fit of ``k`` and its encoded file, without measuring them (what a quick view needs).

        Each k is fitted and encoded once: :meth:`row` later measures this same fit and file.

        Parameters
        ----------
        k : int
            Palette size, 1 to 256; fitted here unless :meth:`row` or an earlier call already did.

        Returns
        -------
        quantizer : KMeansQuantizer
            The fit whose file is smaller (with runs, or its nearest-colour labels).
        data : bytes
            That file, in the sweep's format.
        """
        k = check_k("k", k)
        if k in self.rows_ and k in self.quantizers_:
            return self.quantizers_[k], self.data_[k]
        if k not in self._fits:
            start = time.perf_counter()
            self._fits[k] = self._fit(k), time.perf_counter() - start
        return self._fits[k][0]

    def _fit(self, k: int) -> tuple[KMeansQuantizer, bytes]:
        """Fit ``k`` and encode its smaller file: ``(quantizer, data)``."""
        quantizer = fit_quantizer(
            self.histogram, k, icc_profile=self.info.icc_profile, random_state=self.random_state, **self.params
        )
        self.n_fits += 1
        release_free_memory()  # the fit's temporaries, before the encoder's and the metrics'
        options: dict[str, Any] = {"format": self.format, "icc_profile": self.info.icc_profile, "dpi": self.info.dpi}
        quantizer, data = self._smaller_file(quantizer, options)
        if data is None:
            data = encode_palette(quantizer.palette_, quantizer.labels_, **options)
        return quantizer, data

    @staticmethod
    def _smaller_file(quantizer: KMeansQuantizer, options: dict[str, Any]) -> tuple[KMeansQuantizer, bytes | None]:
        """The fit (with runs, or its nearest-colour labels) whose file is smaller, and that file.

        Runs spend a little PSNR for fewer bytes, but on some images (flat-colour drawings,
        smooth upscaled photos) the nearest labels already deflate as well or better: then they
        are kept, so runs never make a file larger or worse. ``(quantizer, None)`` when the fit
        moved no pixel (nothing to compare).
        """
        plain = quantizer.without_runs()
        if plain is None:
            return quantizer, None
        runs_data = encode_palette(quantizer.palette_, quantizer.labels_, **options)
        plain_data = encode_palette(plain.palette_, plain.labels_, **options)
        return (plain, plain_data) if len(plain_data) <= len(runs_data) else (quantizer, runs_data)

    def rows(self, ks: Iterable[int], *, callback: Callable[[SweepRow], object] | None = None) -> list[SweepRow]:
        """Measure every k in ``ks``, in that order, calling ``callback(row)`` after each one.

        Parameters
        ----------
        ks : iterable of int
            Palette sizes, each 1 to 256; a k measured before is not fitted again.
        callback : callable, optional
            Called with each row as soon as it is ready, for example to show progress.

        Returns
        -------
        list of SweepRow
            One row per k, in the order of ``ks``.
        """
        out = []
        for k in ks:
            out.append(self.row(k))
            if callback is not None:
                callback(out[-1])
        return out

    def measured(self) -> list[SweepRow]:
        """Every row measured so far, sorted by k.

        Returns
        -------
        list of SweepRow
            The rows of every k fitted by this sweep, smallest k first.
        """
        return [self.rows_[k] for k in sorted(self.rows_)]


def sweep(
    image: Any,
    ks: Iterable[int] = DEFAULT_KS,
    *,
    bytes_in: int | None = None,
    random_state: Any = 0,
    compare: bool = False,
    callback: Callable[[SweepRow], object] | None = None,
    **params: Any,
) -> list[SweepRow]:
    """Quantize ``image`` at every k in ``ks`` and measure size and quality.

    Parameters
    ----------
    image : ndarray of uint8 (H, W, 3|4), or anything :func:`~kmeans_compress.load_image` reads
        The image to quantize: an array, or a path, bytes or file object that is read once.
    ks : iterable of int, default=DEFAULT_KS
        Palette sizes, each 1..256.
    bytes_in : int, optional
        Size of the original file, for ``ratio``. Taken from the file when ``image`` is a path.
    random_state : int, default=0
        Seed of every fit.
    compare : bool, default=False
        Also measure JPEG at the same bytes and Pillow's median cut at the same k (the rows'
        ``jpeg`` and ``mediancut``).
    callback : callable, optional
        Called with each row as soon as it is measured (for progress bars).
    **params
        Further :class:`~kmeans_compress.KMeansQuantizer` parameters.

    Returns
    -------
    list of SweepRow
        In the order of ``ks``. A row's figures are those of
        :func:`~kmeans_compress.compress_file` at the same k and parameters.
    """
    ks = check_ks(ks)
    job = ImageSweep(image, bytes_in=bytes_in, compare=compare, random_state=random_state, **params)
    return job.rows(ks, callback=callback)
