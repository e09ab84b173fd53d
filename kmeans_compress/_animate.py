"""Animations quantized: one palette fitted over every frame, remapped, encoded and measured.

Over the frames of an animation the k-means objective is the objective of their summed colour
histogram: the frames stacked top to bottom are one image whose histogram is that sum, so one
fit of :class:`~kmeans_compress.KMeansQuantizer` on the stack gives the palette that is best for
all their pixels together, and its labels are every frame's labels. A palette per frame (one fit
each) is the alternative this module measures against.

What a measurement means for an animation: MSE, PSNR and mean CIEDE2000 are over all frames'
pixels (one mean over every pixel of every frame, exactly as for one image); SSIM is the mean of
the frames' SSIMs, each computed within its frame (the frames have one size, so this is the mean
of the local SSIM over all pixels, and no window straddles two frames); bits per pixel and raw
bytes count every frame.
"""

from __future__ import annotations

import dataclasses
import time
import warnings
from collections.abc import Iterable
from typing import Any

import numpy as np
from numpy.typing import NDArray

from ._choose import KChoice, choose_k, target_text
from ._encode import gif_alpha
from ._frames import Animation, AnimationSource, encode_animation, read_animation
from ._histogram import ColorHistogram
from ._load import ImageInfo
from ._measure import Measurement, label_histogram, measurement_of
from ._metrics import delta_e, mse, palette_delta_e, palette_mse, palette_ssim, raw_size
from ._quantize import KMeansQuantizer
from ._sweep import DEFAULT_KS, ImageSweep, SweepRow
from ._validation import check_k

__all__ = [
    "PALETTE_MODES",
    "AnimationSweep",
    "CompressedAnimation",
    "compress_animation",
    "frames_for_format",
    "mean_frame_ssim",
    "warn_profile_not_kept",
]

#: How the frames of an animation get their colours: one palette for all, or one each.
PALETTE_MODES = ("shared", "per-frame")


def frames_for_format(animation: Animation, format: str) -> Animation:  # noqa: A002
    """The animation as ``format`` can store it: for GIF, alpha thresholded; else as it is.

    Parameters
    ----------
    animation : Animation
        The frames read.
    format : {"gif", "png", "webp"}
        The output format.

    Returns
    -------
    Animation
        For ``"gif"``, frames whose alpha below
        :data:`~kmeans_compress._encode.GIF_ALPHA_THRESHOLD` became fully transparent and the
        rest opaque (RGB when none is left transparent); the same object otherwise.
    """
    if format != "gif" or animation.frames.shape[-1] != 4:
        return animation
    frames = gif_alpha(animation.frames)
    if np.all(frames[..., 3] == 255):
        frames = np.ascontiguousarray(frames[..., :3])
    return dataclasses.replace(animation, frames=frames)


class AnimationSweep(ImageSweep):
    """One animation prepared for trying many k: every k fitted, encoded and measured once.

    It stands where an :class:`~kmeans_compress.ImageSweep` does, so
    :func:`~kmeans_compress.choose_k` chooses k for an animation with its figures over all
    frames (see the module's notes).

    Parameters
    ----------
    animation : Animation or anything :func:`~kmeans_compress.animation.read_animation` reads
        The frames, durations and loop count.
    format : {"gif", "png", "webp"}, default="gif"
        Animated GIF, APNG or lossless animated WebP. For GIF, partial alpha is thresholded
        first and the figures compare against the thresholded frames (what GIF can hold).
    palette : {"shared", "per-frame"}, default="shared"
        One palette fitted over all frames (their summed histogram), or one fit per frame.
    unchanged_transparent : bool or "auto", default=False
        For GIF, write pixels that did not change since the previous frame as transparent
        (see :func:`~kmeans_compress.animation.encode_animation`); ``"auto"`` encodes both ways
        and keeps the smaller file (the pixels shown are the same). Off by default: each frame
        already stores only the rectangle that changed, and inside it transparent pixels made
        the files larger on the benchmark's animations (``benchmarks/bench_animation.py``).
    bytes_in : int, optional
        Size of the input file, for each row's ``ratio``.
    random_state : int, default=0
        Seed of every fit.
    keep_quantizers : bool, default=False
        Keep each k's fitted quantizer (the shared palette's) in ``quantizers_``.
    run_budget : float or "auto", default="auto"
        As for :class:`~kmeans_compress.ImageSweep`; the file is written with the runs labels
        or the nearest ones, whichever is smaller.
    **params
        Further :class:`~kmeans_compress.KMeansQuantizer` parameters.

    Attributes
    ----------
    animation : Animation
        The frames as the format stores them.
    image : ndarray of uint8, shape (n_frames * H, W, C)
        The frames stacked top to bottom.
    histogram : ColorHistogram
        Their summed histogram.
    rows_, data_, quantizers_, n_fits
        As for :class:`~kmeans_compress.ImageSweep`; each row's figures are over all frames
        (``frames`` is their number).
    palettes_ : dict of int to tuple of ndarray of uint8
        The palettes (one, or one per frame) of every k measured so far.
    labels_ : dict of int to ndarray of unsigned int, shape (n_frames, H, W)
        The labels of every k measured so far.
    """

    def __init__(
        self, animation: Animation | AnimationSource, *, format: str = "gif", palette: str = "shared",  # noqa: A002
        unchanged_transparent: bool | str = False, bytes_in: int | None = None, random_state: Any = 0,
        keep_quantizers: bool = False, run_budget: float | str = "auto", **params: Any,
    ) -> None:
        if format not in ("gif", "png", "webp"):
            msg = f"format must be 'gif', 'png' or 'webp' for an animation, got {format!r}."
            raise ValueError(msg)
        if palette not in PALETTE_MODES:
            msg = f"palette must be one of {PALETTE_MODES}, got {palette!r}."
            raise ValueError(msg)
        if unchanged_transparent not in (True, False, "auto"):
            msg = f"unchanged_transparent must be True, False or 'auto', got {unchanged_transparent!r}."
            raise ValueError(msg)
        if not isinstance(animation, Animation):
            animation = read_animation(animation)
        self.animation = frames_for_format(animation, format)
        self.image = self.animation.stacked
        self.info = ImageInfo(format=animation.format)
        self.format = format
        self.palette_mode = palette
        self.unchanged_transparent = unchanged_transparent
        self.histogram = ColorHistogram.from_image(self.image)
        self._start_rows(
            bytes_in=bytes_in, compare=False, random_state=random_state, keep_quantizers=keep_quantizers,
            run_budget=run_budget, params=params,
        )
        self.palettes_: dict[int, tuple[NDArray[np.uint8], ...]] = {}
        self.labels_: dict[int, NDArray[Any]] = {}

    def _encode(self, palettes: tuple[NDArray[np.uint8], ...], labels: NDArray[Any]) -> bytes:
        palette = palettes[0] if len(palettes) == 1 else list(palettes)
        if self.format != "gif":
            ways = [False]
        else:
            ways = [False, True] if self.unchanged_transparent == "auto" else [bool(self.unchanged_transparent)]
        files = [
            encode_animation(
                palette, labels, format=self.format, durations=self.animation.durations, loop=self.animation.loop,
                unchanged_transparent=way,
            )
            for way in ways
        ]
        return min(files, key=len)  # the first of equal sizes: unchanged pixels written as they are

    def _measure_row(self, k: int) -> tuple[SweepRow, bytes, KMeansQuantizer]:
        """Fit ``k`` over all frames, encode and measure it; keep its palettes and labels too."""
        start = time.perf_counter()
        frames = self.animation.frames
        n, height, width = frames.shape[:3]
        palettes: tuple[NDArray[np.uint8], ...]
        if self.palette_mode == "shared":
            quantizer = KMeansQuantizer(k, random_state=self.random_state, **self.params).fit(self.histogram)
            self.n_fits += 1
            plain = quantizer.without_runs()
            candidates = [quantizer] if plain is None else [quantizer, plain]
            encoded = [(self._encode((q.palette_,), q.labels_.reshape(n, height, width)), q) for q in candidates]
            data, quantizer = min(encoded, key=lambda pair: len(pair[0]))
            fits = [quantizer]
            palettes = (quantizer.palette_,)
            labels = quantizer.labels_.reshape(n, height, width)
        else:
            fits = []
            for frame in frames:
                fits.append(KMeansQuantizer(k, random_state=self.random_state, **self.params).fit(frame))
                self.n_fits += 1
            palettes = tuple(q.palette_ for q in fits)
            labels = np.stack([q.labels_ for q in fits])
            data = self._encode(palettes, labels)
        measured = _measure(
            self.animation, fits, palettes, labels, data, k=k, bytes_in=self.bytes_in, started=start, format=self.format
        )
        self.palettes_[k] = palettes
        self.labels_[k] = labels
        return SweepRow(**{f.name: getattr(measured, f.name) for f in dataclasses.fields(Measurement)}), data, fits[0]


def warn_profile_not_kept(name: str | None, *, stacklevel: int = 2) -> None:
    """Warn that an animation's colour profile is not kept (``keep_profile`` asked for it): its frames are in sRGB.

    Parameters
    ----------
    name : str or None
        The file's name, which starts the message.
    stacklevel : int, default=2
        As :func:`warnings.warn`'s, counted from the caller of this function.
    """
    message = f"{name}: an animation's colour profile is not kept; its frames are in sRGB"
    warnings.warn(message, stacklevel=stacklevel + 1)


def mean_frame_ssim(
    frames: Iterable[NDArray[np.uint8]], palettes: Iterable[NDArray[np.uint8]], labels: Iterable[NDArray[Any]]
) -> float:
    """SSIM over an animation: the mean of each frame's (frames of one size weigh the same).

    Parameters
    ----------
    frames : iterable of ndarray of uint8, shape (H, W, C)
        The frames as read.
    palettes : iterable of ndarray of uint8
        Each frame's palette.
    labels : iterable of ndarray of unsigned int, shape (H, W)
        Each frame's indexes into its palette.

    Returns
    -------
    float
    """
    return float(np.mean([palette_ssim(f, p, lab) for f, p, lab in zip(frames, palettes, labels, strict=True)]))


def _measure(
    animation: Animation,
    fits: list[KMeansQuantizer],
    palettes: tuple[NDArray[np.uint8], ...],
    labels: NDArray[Any],
    data: bytes,
    *,
    k: int,
    bytes_in: int | None,
    started: float,
    format: str,  # noqa: A002
) -> Measurement:
    """A Measurement over all frames (see the module's notes)."""
    frames = animation.frames
    n, height, width = frames.shape[:3]
    errors, colour_errors = [], []
    for quantizer in fits:  # one fit over the stack, or one per frame (equal pixel counts: a plain mean)
        histogram = None if quantizer.dither and frames.shape[-1] == 3 else label_histogram(quantizer)
        if histogram is not None:
            errors.append(palette_mse(*histogram))
            colour_errors.append(palette_delta_e(*histogram))
    per_frame = palettes * n if len(palettes) == 1 else palettes
    if len(errors) != len(fits):  # dithered: pixel by pixel
        errors, colour_errors = [], []
        for frame, palette, lab in zip(frames, per_frame, labels, strict=True):
            quantized = palette[lab]
            errors.append(mse(frame, quantized))
            colour_errors.append(delta_e(frame, quantized))
    err = float(np.mean(errors))
    similarity = mean_frame_ssim(frames, per_frame, labels)
    return measurement_of(
        data, raw_size(animation.stacked), k=k, n_colors=max(q.n_colors_ for q in fits), width=width, height=height,
        inertia=sum(q.inertia_ for q in fits), mse=err, ssim=similarity, delta_e=float(np.mean(colour_errors)),
        bytes_in=bytes_in, started=started, color_space=fits[0].color_space,
        dither=bool(fits[0].dither) and frames.shape[-1] == 3, format=format, frames=n,
    )


@dataclasses.dataclass(frozen=True)
class CompressedAnimation:
    """An animation compressed: the file, its figures over all frames, and what it holds.

    Attributes
    ----------
    data : bytes
        The animated GIF, APNG or WebP file.
    measurement : Measurement
        Size and quality over all frames (``frames`` is their number).
    choice : KChoice or None
        How k was chosen, when it was.
    palettes : tuple of ndarray of uint8
        The palette (one, or one per frame).
    labels : ndarray of unsigned int, shape (n_frames, H, W)
        Every frame's palette indexes: frame ``i`` shows ``palettes[0 or i][labels[i]]``.
    durations : tuple of int
        Each frame's duration in milliseconds, as read.
    loop : int
        How many times it plays (0 for ever), as read.
    """

    data: bytes
    measurement: Measurement
    choice: KChoice | None
    palettes: tuple[NDArray[np.uint8], ...]
    labels: NDArray[Any]
    durations: tuple[int, ...]
    loop: int


def compress_animation(
    source: Animation | AnimationSource,
    n_colors: int | str = 16,
    *,
    format: str = "gif",  # noqa: A002
    palette: str = "shared",
    min_psnr: float | None = None,
    min_ssim: float | None = None,
    ks: Iterable[int] = DEFAULT_KS,
    random_state: Any = 0,
    bytes_in: int | None = None,
    **params: Any,
) -> CompressedAnimation:
    """Quantize every frame of an animation and encode it as an animated GIF, APNG or WebP.

    Parameters
    ----------
    source : Animation, or a path, bytes, file object or PIL image
        The animation (:func:`~kmeans_compress.animation.read_animation` reads a file); a still image is
        an animation of one frame.
    n_colors : int or "auto", default=16
        Palette size, 1 to 256 (for GIF the transparent entry, if any, is one of them), or
        ``"auto"`` to choose it over all frames as :func:`~kmeans_compress.choose_k` does.
    format : {"gif", "png", "webp"}, default="gif"
        Animated GIF, APNG or lossless animated WebP. GIF has on/off transparency only: alpha
        below 128 becomes transparent, the rest opaque, before the fit. APNG and WebP keep it.
    palette : {"shared", "per-frame"}, default="shared"
        One palette fitted over all frames (their summed histogram), or one per frame (an APNG
        then stores true colour frames).
    min_psnr, min_ssim : float, optional
        Target quality over all frames for ``n_colors="auto"``.
    ks : iterable of int, default=DEFAULT_KS
        The k swept for the knee (``n_colors="auto"`` without a target).
    random_state : int, default=0
        Seed of every fit.
    bytes_in : int, optional
        Size of the input file, for the measurement's ``ratio``.
    **params
        Further :class:`AnimationSweep` options (``unchanged_transparent``, ``run_budget``) and
        :class:`~kmeans_compress.KMeansQuantizer` parameters (``color_space``, ``dither``, ...).

    Returns
    -------
    CompressedAnimation
        The file keeps the input's durations and loop count.

    Raises
    ------
    ValueError
        When a target cannot be reached with 256 colours, or an option is not valid.
    InvalidImageError
        When the file cannot be read (one line).
    """
    started = time.perf_counter()
    job = AnimationSweep(source, format=format, palette=palette, bytes_in=bytes_in, random_state=random_state, **params)
    choice = None
    if n_colors == "auto":
        choice = choose_k(job, min_psnr=min_psnr, min_ssim=min_ssim, ks=ks)
        if choice.k is None:
            best = choice.rows[-1]
            msg = (
                f"cannot reach {target_text(min_psnr, min_ssim)} over all frames with at most {best.k} colours "
                f"(PSNR {best.psnr:.2f} dB, SSIM {best.ssim:.4f} there); nothing written"
            )
            raise ValueError(msg)
        k = int(choice.k)
    else:
        if min_psnr is not None or min_ssim is not None:
            msg = f"min_psnr and min_ssim choose k themselves: pass n_colors='auto', got n_colors={n_colors!r}."
            raise ValueError(msg)
        k = check_k("n_colors", n_colors)
    row = job.row(k)
    measurement = row.measurement(seconds=time.perf_counter() - started)
    return CompressedAnimation(
        job.data_[k], measurement, choice, job.palettes_[k], job.labels_[k], job.animation.durations, job.animation.loop
    )
