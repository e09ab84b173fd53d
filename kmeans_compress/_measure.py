"""What a quantized image cost and kept: the one result type, made by one function.

Every figure the package reports about a quantized image (bytes, bits per pixel, ratios, PSNR,
SSIM, ΔE, inertia) is a :class:`Measurement`, made by :func:`measure`. The command line's line
and JSON, the sweep's rows, the choice of k, the plots and the notebook all read it, so a
figure is computed in one place and printed the same everywhere.
"""

from __future__ import annotations

import dataclasses
import math
import time
from concurrent.futures import ThreadPoolExecutor
from typing import TYPE_CHECKING, Any

import numpy as np
from numpy.typing import NDArray

from ._encode import encode_palette
from ._metrics import (
    bits_per_pixel,
    compression_ratio,
    delta_e,
    mse,
    palette_delta_e,
    palette_mse,
    palette_ssim,
    psnr_from_mse,
    raw_size,
)
from ._threads import available_cpus
from ._validation import check_image

if TYPE_CHECKING:
    from ._kept_profile import SeenQuantizer
    from ._quantize import KMeansQuantizer

    #: What measure() reads: a fit on one image, or a kept-profile fit's seen view.
    Measurable = KMeansQuantizer | SeenQuantizer

__all__ = ["METRICS", "Measurement", "check_metrics", "label_histogram", "measure", "measurement_of"]

#: What ``metrics=`` may name: the quality figures each choice computes (the others are NaN).
METRICS: dict[str, frozenset[str]] = {
    "none": frozenset(),
    "psnr": frozenset({"psnr"}),
    "all": frozenset({"psnr", "ssim", "delta_e"}),
}


def check_metrics(metrics: str | frozenset[str]) -> frozenset[str]:
    """The quality figures to compute: ``"none"``, ``"psnr"`` or ``"all"``, or a set of figure names.

    Parameters
    ----------
    metrics : {"none", "psnr", "all"} or frozenset of str
        A name of :data:`METRICS`, or a subset of ``{"psnr", "ssim", "delta_e"}`` (what a search
        for k needs on top of what was asked).

    Returns
    -------
    frozenset of str
        The figures' names.

    Raises
    ------
    ValueError
        For any other name.
    """
    if isinstance(metrics, frozenset) and metrics <= METRICS["all"]:
        return metrics
    if isinstance(metrics, str) and metrics in METRICS:
        return METRICS[metrics]
    msg = f"metrics must be one of {tuple(METRICS)}, got {metrics!r}."
    raise ValueError(msg)


@dataclasses.dataclass(frozen=True)
class Measurement:
    """Size and quality of one quantized image against its original.

    Each parameter is kept as the attribute of the same name.

    Parameters
    ----------
    k : int
        Colours asked for.
    n_colors : int
        Colours used (fewer than ``k`` when the image has fewer distinct colours).
    width, height : int
        Size of the image in pixels (of one frame, for an animation).
    inertia : float
        The quantizer's ``inertia_``: the k-means objective, in its colour space.
    mse : float
        Mean squared error over pixels and channels, 0..255 scale (RGBA premultiplied).
    psnr : float
        ``10 * log10(255**2 / mse)`` in dB; ``inf`` when the image is exact.
    ssim : float
        Mean structural similarity (scikit-image's), 1 when exact.
    delta_e : float
        Mean CIEDE2000 colour difference, pixel by pixel; 0 when exact.
    bytes_out : int
        Size of the encoded output file (its format is ``format``).
    bits_per_pixel : float
        ``8 * bytes_out / (width * height)``: what the file costs per pixel (24 for raw RGB).
    raw_bytes : int
        Bytes of the uncompressed pixels, ``width * height * channels``.
    ratio_raw : float
        ``raw_bytes / bytes_out``: times smaller than the raw pixels.
    bytes_in : int or None
        Size of the input file, when there is one.
    ratio : float or None
        ``bytes_in / bytes_out``: times smaller than the input file (below 1: larger).
    seconds : float
        Wall time spent on this result. For a sweep row: fitting, encoding and measuring that
        k (not loading the image or counting its colours, shared by every k, nor the
        baselines). For :func:`~kmeans_compress.compress_file` and
        :func:`~kmeans_compress.compress_bytes`: everything from reading the input to writing
        the output, the search for k included. Interpreter start-up and imports are never
        included. NaN when not timed.
    color_space : str
        Space the palette was fitted in.
    dither : bool
        Whether the pixels were Floyd–Steinberg dithered (never for images with alpha).
    format : str
        Format of the output file: ``"png"``, ``"webp"`` or ``"gif"``.
    frames : int
        Frames measured: 1 for a still image. For an animation every figure is over all its
        frames' pixels (``bits_per_pixel`` and ``raw_bytes`` too); see
        :func:`~kmeans_compress.animation.compress_animation`.

    Notes
    -----
    The quality figures compare the quantized pixels with the original's in sRGB. When the
    image's own profile was kept (``keep_profile=True``) they compare what a colour-managed
    viewer shows, both images seen through the profile in sRGB, not the stored values
    (:func:`~kmeans_compress._kept_profile.as_seen` hands ``measure`` that pair), and
    ``inertia`` is in those seen colours too.
    """

    k: int
    n_colors: int
    width: int
    height: int
    inertia: float
    mse: float
    psnr: float
    ssim: float
    delta_e: float
    bytes_out: int
    bits_per_pixel: float
    raw_bytes: int
    ratio_raw: float
    bytes_in: int | None = None
    ratio: float | None = None
    seconds: float = math.nan
    color_space: str = "rgb"
    dither: bool = False
    format: str = "png"
    frames: int = 1

    def to_dict(self) -> dict[str, Any]:
        """Plain dict, valid JSON: infinite or NaN floats become None.

        Returns
        -------
        dict
            One entry per field, under the field's name.
        """
        out = dataclasses.asdict(self)
        for key, value in out.items():
            if isinstance(value, float) and not math.isfinite(value):
                out[key] = None
        return out


def measure(
    image: NDArray[np.uint8],
    quantizer: Measurable,
    *,
    data: bytes | None = None,
    k: int | None = None,
    bytes_in: int | None = None,
    started: float | None = None,
    format: str = "png",  # noqa: A002
    metrics: str | frozenset[str] = "all",
) -> Measurement:
    """Measure what a fitted quantizer made of ``image``.

    Parameters
    ----------
    image : ndarray of uint8, shape (H, W, 3) or (H, W, 4)
        The original image the quantizer was fitted on.
    quantizer : KMeansQuantizer
        Fitted on ``image`` (its ``palette_[labels_]`` is the quantized image), or the seen
        view of a kept-profile fit (:func:`~kmeans_compress._kept_profile.as_seen`).
    data : bytes, optional
        The encoded output file. Encoded here (as ``format``) when not given, so that a caller
        who has already encoded it never pays twice.
    k : int, optional
        Colours asked for; default ``quantizer.n_colors``.
    bytes_in : int, optional
        Size of the input file, for ``ratio``.
    started : float, optional
        A :func:`time.perf_counter` value: ``seconds`` is then the time from it to the end of
        measuring. NaN when not given.
    format : {"png", "webp"}, default="png"
        Format of ``data``, or the one to encode in.
    metrics : {"all", "psnr", "none"}, default="all"
        Quality figures to compute: all of them, only MSE and PSNR (SSIM and ΔE, most of the
        time on large images, are then NaN), or none (MSE and PSNR NaN too).

    Returns
    -------
    Measurement
        Size and quality of ``palette_[labels_]`` against ``image``, and of its encoded file.

    Raises
    ------
    ValueError
        If ``quantizer`` was not fitted on an image of ``image``'s shape and pixel count.

    Notes
    -----
    Without dithering, every pixel of one colour gets the same palette entry, so MSE, PSNR and
    ΔE are computed exactly from the fit's colour histogram (``colors_``, ``color_counts_``,
    ``color_labels_`` and the runs' ``label_corrections_``, see :func:`label_histogram` and
    :func:`~kmeans_compress._metrics.palette_mse`) rather than pixel by pixel; SSIM is spatial
    and is computed on the pixels. Dithered labels, and a kept profile's seen view (whose
    ``colors_`` is None), are measured pixel by pixel.
    """
    image = check_image(image)
    if data is None:
        data = encode_palette(quantizer.palette_, quantizer.labels_, format=format)
    palette, labels = quantizer.palette_, quantizer.labels_
    fitted_shape = (*labels.shape, palette.shape[1])
    if fitted_shape != image.shape:
        msg = f"the quantizer was fitted on an image of shape {fitted_shape}, not on this one {image.shape}."
        raise ValueError(msg)
    height, width = image.shape[:2]
    dithered = bool(quantizer.dither) and image.shape[2] == 3
    wanted = check_metrics(metrics)
    err = colour_error = similarity = math.nan
    histogram = None if dithered or not wanted else label_histogram(quantizer)
    if histogram is not None:  # one term per distinct colour instead of one per pixel: exact
        if int(histogram[1].sum()) != height * width:
            msg = (
                f"the quantizer's histogram counts {int(histogram[1].sum())} pixels, not this image's "
                f"{height * width}: measure the image it was fitted on."
            )
            raise ValueError(msg)
        err = palette_mse(*histogram)
        # on a large image, ΔE runs on a second thread beside SSIM (NumPy loops that release the
        # GIL); each value is computed whole by one thread, so it does not depend on the threads
        both = {"ssim", "delta_e"} <= wanted
        if both and height * width >= _THREADED_PIXELS and available_cpus() > 1:
            with ThreadPoolExecutor(1) as pool:
                future = pool.submit(palette_delta_e, *histogram)
                similarity = palette_ssim(image, palette, labels)  # band by band: palette[labels] never held whole
                colour_error = future.result()
        else:
            if "delta_e" in wanted:
                colour_error = palette_delta_e(*histogram)
            if "ssim" in wanted:
                similarity = palette_ssim(image, palette, labels)
    elif wanted:  # dithered, or a kept profile's seen view: pixel by pixel
        quantized = palette[labels]
        err = mse(image, quantized)
        if "delta_e" in wanted:
            colour_error = delta_e(image, quantized)
        del quantized
        if "ssim" in wanted:
            similarity = palette_ssim(image, palette, labels)
    return measurement_of(
        data, raw_size(image), k=int(quantizer.n_colors if k is None else k), n_colors=quantizer.n_colors_,
        width=width, height=height, inertia=quantizer.inertia_, mse=err, ssim=similarity, delta_e=colour_error,
        bytes_in=bytes_in, started=started, color_space=quantizer.color_space, dither=dithered, format=format,
    )


def measurement_of(
    data: bytes,
    raw_bytes: int,
    *,
    k: int,
    n_colors: int,
    width: int,
    height: int,
    inertia: float,
    mse: float,
    ssim: float,
    delta_e: float,
    bytes_in: int | None,
    started: float | None,
    color_space: str,
    dither: bool,
    format: str,  # noqa: A002
    frames: int = 1,
) -> Measurement:
    """A :class:`Measurement` from the quality figures and the file: PSNR, sizes, ratios and time derived here.

    Parameters
    ----------
    data : bytes
        The encoded file.
    raw_bytes : int
        Bytes of the uncompressed pixels (of every frame).
    k, n_colors, width, height, inertia, mse, ssim, delta_e : see Measurement
        As the fields of the same names (MSE NaN when not measured: PSNR is then NaN too).
    bytes_in : int or None
        Size of the input file, for ``ratio``.
    started : float or None
        A :func:`time.perf_counter` value: ``seconds`` runs from it to now. NaN when None.
    color_space, dither, format, frames : see Measurement
        As the fields of the same names.

    Returns
    -------
    Measurement
    """
    return Measurement(
        k=int(k),
        n_colors=int(n_colors),
        width=int(width),
        height=int(height),
        inertia=float(inertia),
        mse=mse,
        psnr=psnr_from_mse(mse) if math.isfinite(mse) else math.nan,
        ssim=ssim,
        delta_e=delta_e,
        bytes_out=len(data),
        bits_per_pixel=bits_per_pixel(len(data), frames * height * width),
        raw_bytes=raw_bytes,
        ratio_raw=compression_ratio(raw_bytes, len(data)),
        bytes_in=None if bytes_in is None else int(bytes_in),
        ratio=None if bytes_in is None else compression_ratio(bytes_in, len(data)),
        seconds=math.nan if started is None else time.perf_counter() - started,
        color_space=color_space,
        dither=dither,
        format=format,
        frames=int(frames),
    )


# Images of at least this many pixels measure ΔE and SSIM on two threads.
_THREADED_PIXELS = 1 << 21


def label_histogram(
    quantizer: Measurable,
) -> tuple[NDArray[np.uint8], NDArray[np.int64], NDArray[np.uint8], NDArray[Any]] | None:
    """``(colors, counts, palette, color_labels)`` describing a fit's ``labels_`` exactly, or None.

    The fit's histogram pairs (``colors_``, ``color_counts_``, ``color_labels_``), with the
    pixels that runs moved (``label_corrections_``) counted out of their old entry and into
    their new one, so that :func:`~kmeans_compress._metrics.palette_mse` of the result is the
    MSE of ``palette_[labels_]``. None when the quantizer has no histogram (``colors_`` None).
    Dithered labels are not described by it (the caller checks ``dither``).

    Parameters
    ----------
    quantizer : KMeansQuantizer or SeenQuantizer
        A fit on one image.

    Returns
    -------
    tuple of ndarray or None
    """
    colors, counts, color_labels = quantizer.colors_, quantizer.color_counts_, quantizer.color_labels_
    if colors is None or counts is None or color_labels is None:
        return None
    corrections = quantizer.label_corrections_
    if corrections is not None:
        moved, old, new, n_moved = corrections
        colors = np.concatenate([colors, moved, moved])
        counts = np.concatenate([counts, -n_moved, n_moved])
        color_labels = np.concatenate([color_labels, old, new]).astype(quantizer.labels_.dtype)
    return colors, counts, quantizer.palette_, color_labels

