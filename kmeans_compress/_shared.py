"""One palette for a set of files: each file's colours counted, summed, fitted once, every file remapped.

Over several images the k-means objective is the objective of their summed colour histogram
(:meth:`~kmeans_compress.ColorHistogram.merge`), so one fit on the sum gives the palette that is
best for all their pixels together. The work is split into tasks for the ordered runner, each
in three pieces (:class:`~kmeans_compress._batch.SplitTask`: read here, compute anywhere, write
here) so that a Dask cluster runs them as it runs single files:

1. :class:`CountJob` decodes a file and returns its histogram (colours and counts only, never
   the pixels);
2. :func:`fit_shared_palette` sums them and fits once;
3. :class:`RemapJob` decodes the file again, maps it onto the palette, encodes and measures it,
   and writes the output.

Each file is decoded once to count and once per remap pass: holding every decoded image between
the passes would make the set's memory the sum of its images. A set mixing RGB and RGBA files
gets an RGBA palette, the RGB files being opaque RGBA. An animation in the set counts with all
its frames and is written as an animation on the same palette, keeping its durations and loop
count (its figures are over all frames, as for an animation alone). :func:`read_palette` reads the palette of
an existing palette image for :class:`RemapJob` to map onto (pngquant's ``--map``).
"""

from __future__ import annotations

import dataclasses
import io
import math
import os
import time
import warnings
from collections.abc import Sequence
from typing import Any

import numpy as np
from numpy.typing import NDArray
from PIL import Image

from ._animate import frames_for_format, mean_frame_ssim, warn_profile_not_kept
from ._encode import encode_palette, gif_alpha
from ._frames import Animation, encode_animation, is_animation, read_animation
from ._histogram import ColorHistogram
from ._load import InvalidImageError, read_image, read_input
from ._measure import Measurement, measurement_of
from ._messages import one_line
from ._metrics import (
    delta_e,
    mse,
    psnr_from_mse,
    raw_size,
)
from ._quantize import KMeansQuantizer
from ._remap import resolve_run_budget
from ._results import CompressionReport
from ._write import ProtectedFiles, check_output_path, write_bytes_atomic

__all__ = ["CountJob", "FileColours", "RemapJob", "RemapResult", "fit_shared_palette", "pooled_psnr", "read_palette"]


def _decode(
    data: bytes, name: str, *, keep_profile: bool, format: str  # noqa: A002
) -> tuple[NDArray[np.uint8], Any, Animation | None]:
    """The pixels as the output format can hold them, the still's ImageInfo, and the animation if it is one.

    An animation's pixels are its frames stacked top to bottom (its ImageInfo is None).
    """
    buffer = io.BytesIO(data)
    buffer.name = name
    if is_animation(buffer):
        if keep_profile:
            warn_profile_not_kept(name, stacklevel=3)
        animation = frames_for_format(read_animation(buffer), format)
        return animation.stacked, None, animation
    image, info = read_image(buffer, keep_profile=keep_profile)
    if format == "gif" and image.shape[2] == 4:  # on/off transparency, as the file holds it
        image = gif_alpha(image)
    return image, info, None


def _opaque(colors: NDArray[np.uint8], channels: int) -> NDArray[np.uint8]:
    """RGB colours or pixels as opaque RGBA when ``channels`` is 4; otherwise as they are."""
    if colors.shape[-1] == channels:
        return colors
    alpha = np.full((*colors.shape[:-1], 1), 255, np.uint8)
    return np.ascontiguousarray(np.concatenate([colors, alpha], axis=-1))


@dataclasses.dataclass(frozen=True)
class FileColours:
    """One file's colour histogram, what is sent back from counting (no pixels).

    Attributes
    ----------
    colors : ndarray of uint8, shape (M, 3) or (M, 4)
        Its distinct colours.
    counts : ndarray of int64, shape (M,)
        Pixels of each colour.
    icc_profile : bytes or None
        The profile its pixels are in, when it was kept (``keep_profile``).
    """

    colors: NDArray[np.uint8]
    counts: NDArray[np.int64]
    icc_profile: bytes | None = None


@dataclasses.dataclass(frozen=True)
class CountJob:
    """Count one file's colours: a task for the ordered runner, in one piece or three."""

    #: The image file.
    input_path: str
    #: Count the colours in the file's own profile instead of sRGB.
    keep_profile: bool = False
    #: The output format (for GIF, alpha is thresholded before counting).
    format: str = "png"

    def __call__(self) -> FileColours:
        """Count here: read, decode and count.

        Returns
        -------
        FileColours
        """
        return self.remote(self.prepare()[0])

    def prepare(self) -> tuple[tuple[Any, ...], None]:
        """Here: the file's bytes and what the worker needs.

        Returns
        -------
        payload : tuple
            The bytes, the name, ``keep_profile`` and the format.
        state : None
            Nothing stays here.
        """
        return (read_input(self.input_path), self.input_path, self.keep_profile, self.format), None

    @staticmethod
    def remote(payload: tuple[Any, ...]) -> FileColours:
        """Anywhere: decode the payload :meth:`prepare` made and count its colours (the runner's ``SplitTask`` step)."""
        data, name, keep_profile, format = payload  # noqa: A001
        image, info, _ = _decode(data, name, keep_profile=keep_profile, format=format)
        del data
        hist = ColorHistogram.from_image(image)
        return FileColours(hist.colors, hist.counts, None if info is None else info.icc_profile)

    def finish(self, value: FileColours, state: None) -> FileColours:
        """Here: the histogram as it came back.

        Parameters
        ----------
        value : FileColours
            What :meth:`remote` returned.
        state : None
            Unused.

        Returns
        -------
        FileColours
        """
        del state
        return value


def fit_shared_palette(colours: Sequence[FileColours], n_colors: int, **params: Any) -> KMeansQuantizer:
    """One palette fitted on the summed histogram of several files.

    Parameters
    ----------
    colours : sequence of FileColours
        Each file's histogram; at least one. When some are RGBA and some RGB, the RGB colours
        count as opaque RGBA and the palette is RGBA.
    n_colors : int
        Palette size, 1 to 256.
    **params
        Further :class:`~kmeans_compress.KMeansQuantizer` parameters (``random_state``,
        ``color_space``, ...); ``dither`` and ``run_budget`` are the remap's, not the fit's.

    Returns
    -------
    KMeansQuantizer
        Fitted: ``palette_`` is the shared palette (it has no ``labels_``).
    """
    channels = max(c.colors.shape[1] for c in colours)
    merged = ColorHistogram.merge(ColorHistogram(_opaque(c.colors, channels), c.counts) for c in colours)
    return KMeansQuantizer(n_colors, **params).fit(merged)


def read_palette(path: str | os.PathLike[str]) -> NDArray[np.uint8]:
    """The palette of a palette image (an indexed PNG or a GIF), every entry in the file's order.

    Parameters
    ----------
    path : str or os.PathLike
        The palette image.

    Returns
    -------
    ndarray of uint8, shape (k, 3) or (k, 4)
        RGB, or RGBA when the file marks entries transparent (a PNG's ``tRNS``, a GIF's
        transparent index).

    Raises
    ------
    InvalidImageError
        When the file cannot be read or is not a palette image (one line).
    """
    label = os.fspath(path)
    try:
        with Image.open(path) as im:
            if im.mode not in ("P", "PA"):
                msg = f"{label}: not a palette image (an indexed PNG or a GIF), but a {im.format} of mode {im.mode}"
                raise InvalidImageError(msg)
            rgb = np.frombuffer(bytes(im.getpalette("RGB") or b""), np.uint8).reshape(-1, 3)
            transparency = im.info.get("transparency")
    except InvalidImageError:
        raise
    except FileNotFoundError:
        msg = f"{label}: no such file"
        raise InvalidImageError(msg) from None
    except Exception as exc:  # noqa: BLE001 - Pillow raises many types on bad files
        msg = f"{label}: cannot read its palette ({type(exc).__name__}: {one_line(exc)})"
        raise InvalidImageError(msg) from None
    if not 1 <= len(rgb) <= 256:
        msg = f"{label}: a palette of {len(rgb)} entries; 1 to 256 are needed"
        raise InvalidImageError(msg)
    alpha = np.full(len(rgb), 255, np.uint8)
    if isinstance(transparency, bytes):
        alpha[: len(transparency)] = np.frombuffer(transparency[: len(rgb)], np.uint8)
    elif isinstance(transparency, int) and 0 <= transparency < len(rgb):
        alpha[transparency] = 0
    if np.all(alpha == 255):
        return np.ascontiguousarray(rgb)
    return np.ascontiguousarray(np.column_stack([rgb, alpha]))


@dataclasses.dataclass(frozen=True)
class RemapResult:
    """What remapping one file gave: its file (unless only measured) and its measurement.

    Attributes
    ----------
    data : bytes or None
        The encoded output; None when the pass only measured.
    measurement : Measurement
        Its figures against the file as read (``inertia`` is NaN: no fit was made on it).
    n_pixels : int
        Its pixels, the weight of its MSE in the set's pooled figure.
    """

    data: bytes | None
    measurement: Measurement
    n_pixels: int


@dataclasses.dataclass(frozen=True)
class RemapJob:
    """Map one file onto a given palette, encode, measure, and write it: a task in one piece or three.

    Attributes
    ----------
    input_path : str
        The image file; never written over.
    palette : ndarray of uint8, shape (k, 3) or (k, 4)
        The palette, kept as it is in the output (its order and every entry).
    output_path : str or None
        Where to write; None to measure only.
    format : str
        Output format.
    k : int
        Colours asked for (the report's ``k``).
    keep_profile : bool
        Read the file in its own profile and embed that profile.
    color_space : str
        Space in which the nearest entry is found.
    dither : bool
        Floyd–Steinberg dithering (RGB images only).
    run_budget : float or "auto"
        PSNR (dB) the labels may give up for longer runs; the smaller file of those labels and
        the nearest ones is kept.
    overwrite : bool
        Replace an existing output file (never an input).
    inputs : tuple of str
        Inputs of the set that the output path names (through links): refused.
    """

    input_path: str
    palette: NDArray[np.uint8]
    output_path: str | None = None
    format: str = "png"
    k: int = 16
    keep_profile: bool = False
    color_space: str = "rgb"
    dither: bool = False
    run_budget: float | str = "auto"
    overwrite: bool = False
    inputs: tuple[str, ...] = ()

    def __call__(self) -> CompressionReport | RemapResult:
        """The whole task here.

        Returns
        -------
        CompressionReport or RemapResult
            A report when the file was written, the measurement alone when only measured.
        """
        payload, state = self.prepare()
        return self.finish(self.remote(payload), state)

    def prepare(self) -> tuple[tuple[Any, ...], tuple[ProtectedFiles, float]]:
        """Here: refuse a bad output path before any work, then read the input.

        Returns
        -------
        payload : tuple
            The bytes and this job (the worker's instructions).
        state : tuple
            The protected files and the time spent here.
        """
        started = time.perf_counter()
        protected = ProtectedFiles.of(self.inputs).including([self.input_path])
        if self.output_path is not None:
            check_output_path(self.output_path, overwrite=self.overwrite, inputs=protected)
        data = read_input(self.input_path)
        return (data, self), (protected, time.perf_counter() - started)

    @staticmethod
    def remote(payload: tuple[Any, ...]) -> RemapResult:
        """Anywhere: decode the payload :meth:`prepare` made, remap it onto the palette, encode and measure it."""
        data, job = payload
        started = time.perf_counter()
        bytes_in = len(data)
        image, info, animation = _decode(data, job.input_path, keep_profile=job.keep_profile, format=job.format)
        del data
        palette = job.palette
        promoted = image.shape[2] == 3 and palette.shape[1] == 4
        if promoted:  # opaque RGBA: its pixels go to opaque entries only
            image = _opaque(image, 4)
        elif image.shape[2] == 4 and palette.shape[1] == 3:
            warnings.warn(
                f"{job.input_path}: the palette has no transparent entry; the image's transparency is dropped",
                UserWarning,
                stacklevel=2,
            )
            image = np.ascontiguousarray(image[..., :3])
        quantizer = KMeansQuantizer.from_palette(palette, color_space=job.color_space)
        dither = bool(job.dither) and image.shape[2] == 3
        labels = quantizer.remap(image, dither=dither)
        encoded = _encode(palette, labels, job.format, info, animation)
        budget = resolve_run_budget(job.run_budget, len(palette))
        if budget > 0 and not dither and image.shape[2] == 3:  # runs only where they make the file smaller
            runs = quantizer.remap(image, run_budget=budget)
            runs_data = _encode(palette, runs, job.format, info, animation)
            if len(runs_data) < len(encoded):
                labels, encoded = runs, runs_data
        if promoted:  # measured as the RGB image it is (its entries are opaque): as a run of its own would
            image, palette = np.ascontiguousarray(image[..., :3]), np.ascontiguousarray(palette[:, :3])
        frames = 1 if animation is None else animation.n_frames
        measured = _measure(
            image, palette, labels, encoded, job, bytes_in=bytes_in, dither=dither, started=started, frames=frames
        )
        return RemapResult(None if job.output_path is None else encoded, measured, int(labels.size))

    def finish(self, value: RemapResult, state: tuple[ProtectedFiles, float]) -> CompressionReport | RemapResult:
        """Here: write the output, and return its report (``value`` itself when only measured).

        Every file is written: the point is that they share the palette. ``value`` is what
        :meth:`remote` returned and ``state`` what :meth:`prepare` returned second.
        """
        protected, seconds_here = state
        if self.output_path is None or value.data is None:
            return value
        started = time.perf_counter()
        write_bytes_atomic(self.output_path, value.data, overwrite=self.overwrite, inputs=protected, make_folders=True)
        seconds = value.measurement.seconds + seconds_here + time.perf_counter() - started
        measurement = dataclasses.replace(value.measurement, seconds=seconds)
        return CompressionReport(self.input_path, os.fspath(self.output_path), measurement)


def _encode(
    palette: NDArray[np.uint8], labels: NDArray[Any], format: str, info: Any, animation: Animation | None  # noqa: A002
) -> bytes:
    """The file: a still with its profile and resolution, or an animation with its timing."""
    if animation is None:
        return encode_palette(palette, labels, format=format, icc_profile=info.icc_profile, dpi=info.dpi)
    frames = labels.reshape(animation.n_frames, -1, labels.shape[1])
    return encode_animation(palette, frames, format=format, durations=animation.durations, loop=animation.loop)


def _measure(
    image: NDArray[np.uint8], palette: NDArray[np.uint8], labels: NDArray[Any], data: bytes, job: RemapJob, *,
    bytes_in: int, dither: bool, started: float, frames: int = 1,
) -> Measurement:
    """A Measurement of ``palette[labels]`` against ``image``, pixel by pixel (no fit to read it from).

    ``image`` and ``labels`` hold ``frames`` frames stacked top to bottom: MSE and ΔE are over
    all their pixels, SSIM the mean of each frame's, as for an animation alone.
    """
    quantized = palette[labels]
    err = mse(image, quantized)
    colour_error = delta_e(image, quantized)
    del quantized
    height, width = labels.shape[0] // frames, labels.shape[1]
    similarity = mean_frame_ssim(
        image.reshape(frames, height, width, -1), [palette] * frames, labels.reshape(frames, height, width)
    )
    used = int(np.count_nonzero(np.bincount(labels.ravel(), minlength=len(palette))))
    return measurement_of(
        data, raw_size(image), k=job.k, n_colors=used,
        width=width, height=height, inertia=math.nan, mse=err, ssim=similarity, delta_e=colour_error,
        bytes_in=bytes_in, started=started, color_space=job.color_space, dither=dither, format=job.format,
        frames=frames,
    )


def pooled_psnr(measured: Sequence[tuple[Measurement, int]]) -> float:
    """The PSNR of a set taken as one image: one MSE over every pixel of every file.

    Parameters
    ----------
    measured : sequence of (Measurement, int)
        Each file's measurement and its number of pixels.

    Returns
    -------
    float
        ``psnr_from_mse(sum(mse_i * n_i) / sum(n_i))``; NaN for an empty set.
    """
    total = sum(n for _, n in measured)
    if not total:
        return math.nan
    return psnr_from_mse(sum(m.mse * n for m, n in measured) / total)
