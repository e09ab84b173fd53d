"""Size and quality measures. Pure functions: arrays or numbers in, Python floats out.

Images follow the package contract (``uint8``, ``(H, W, 3)`` or ``(H, W, 4)``). For RGBA images
the error measures compare *premultiplied* RGB plus alpha, four channels: a pixel's colour
counts in proportion to how visible it is, and a change of alpha counts like a change of
colour. This is the quantity the quantizer minimises for RGBA images. :func:`delta_e` compares
the colours an observer would see: RGBA is composited over a background (black by default,
which is the same premultiplied colour the other measures use).
"""

from __future__ import annotations

import math
import os
from typing import Any

import numpy as np
from numpy.typing import ArrayLike, NDArray

from ._colorspace import linear_to_srgb, premultiply, srgb_to_lab, srgb_to_linear
from ._ssim import mean_ssim
from ._threads import one_thread
from ._validation import check_background, check_image, check_real

__all__ = [
    "bits_per_pixel",
    "compression_ratio",
    "delta_e",
    "file_size",
    "mse",
    "palette_delta_e",
    "palette_mse",
    "palette_sq_error",
    "palette_ssim",
    "psnr",
    "psnr_from_mse",
    "raw_size",
    "smooth_image",
    "ssim",
]


def file_size(path: str | os.PathLike[str]) -> int:
    """Size of a file in bytes."""
    return os.path.getsize(path)


def raw_size(image: ArrayLike) -> int:
    """Bytes of the uncompressed pixels: ``H * W * C`` (24 bits a pixel for RGB, 32 for RGBA)."""
    shape = np.shape(image)
    return int(shape[0] * shape[1] * (shape[2] if len(shape) == 3 else 1))


def bits_per_pixel(n_bytes: float, n_pixels: int) -> float:
    """``8 * n_bytes / n_pixels``: what the file costs per pixel (24 for raw RGB).

    Parameters
    ----------
    n_bytes : float
        Size of the file in bytes.
    n_pixels : int
        Pixels of the image it holds, ``width * height``; must be positive.

    Returns
    -------
    float
        Bits of the file for each pixel.
    """
    if n_pixels <= 0:
        msg = f"n_pixels must be positive, got {n_pixels}."
        raise ValueError(msg)
    return 8.0 * n_bytes / n_pixels


def compression_ratio(original_bytes: float, compressed_bytes: float) -> float:
    """``original_bytes / compressed_bytes``: how many times smaller (above 1 means smaller)."""
    if compressed_bytes <= 0:
        msg = f"compressed_bytes must be positive, got {compressed_bytes}."
        raise ValueError(msg)
    return float(original_bytes) / float(compressed_bytes)


def _pair(reference: NDArray[np.uint8], test: NDArray[np.uint8]) -> tuple[NDArray[np.uint8], NDArray[np.uint8]]:
    ref = np.asarray(reference)
    tst = np.asarray(test)
    if ref.shape != tst.shape:
        msg = f"reference and test must have the same shape, got {ref.shape} and {tst.shape}."
        raise ValueError(msg)
    if ref.ndim != 3 or ref.shape[2] not in (3, 4):
        msg = f"Expected images of shape (H, W, 3) or (H, W, 4), got {ref.shape}."
        raise ValueError(msg)
    return ref, tst


def mse(reference: NDArray[np.uint8], test: NDArray[np.uint8]) -> float:
    """Mean squared error over all pixels and channels, on the 0..255 scale.

    ``MSE = mean((reference - test) ** 2)``, RGBA premultiplied (see module notes).
    """
    ref, tst = _pair(reference, test)
    total = 0.0
    step = max(1, (1 << 20) // max(1, ref.shape[1] * ref.shape[2]))  # bounded memory on big images
    for r0 in range(0, ref.shape[0], step):
        a, b = ref[r0 : r0 + step], tst[r0 : r0 + step]
        if ref.shape[2] == 3:  # exact integer arithmetic, no float copies
            diff = a.astype(np.int32) - b.astype(np.int32)
            total += float(np.square(diff).sum(dtype=np.int64))
        else:
            diff = (premultiply(a) - premultiply(b)).ravel()
            total += float(np.dot(diff, diff))
    return total / ref.size


def psnr(reference: NDArray[np.uint8], test: NDArray[np.uint8], *, data_range: float = 255.0) -> float:
    """Peak signal-to-noise ratio in dB: ``10 * log10(data_range**2 / MSE)``.

    Parameters
    ----------
    reference, test : ndarray of uint8, shape (H, W, 3) or (H, W, 4)
        The original image and the image compared with it, for example the quantized one.
    data_range : float, default=255.0
        The largest possible pixel value.

    Returns
    -------
    float
        PSNR in dB (higher is better); ``inf`` for identical images.
    """
    return psnr_from_mse(mse(reference, test), data_range=data_range)


def psnr_from_mse(err: float, *, data_range: float = 255.0) -> float:
    """PSNR in dB of a known mean squared error; ``inf`` when it is 0."""
    return math.inf if err == 0 else 10.0 * math.log10(data_range**2 / err)


def ssim(reference: NDArray[np.uint8], test: NDArray[np.uint8], *, win_size: int = 7) -> float:
    """Mean structural similarity, :func:`skimage.metrics.structural_similarity`.

    Computed per channel with ``data_range=255``, a ``win_size`` x ``win_size`` uniform window
    and the sample covariance, averaged over channels (RGBA premultiplied): the same value as
    scikit-image's, from exact integer window sums rather than float filters (see
    :mod:`kmeans_compress._ssim`). Rows are processed in bands, so memory stays bounded, and
    summed in order, so the value is the same on every run.

    Parameters
    ----------
    reference, test : ndarray of uint8, shape (H, W, 3) or (H, W, 4)
        The original image and the image compared with it, for example the quantized one.
    win_size : int, default=7
        Side of the square window, in pixels (odd, as scikit-image requires).

    Returns
    -------
    float
        Mean SSIM, in [-1, 1]; 1 for identical images.
    """
    ref, tst = _pair(reference, test)
    return mean_ssim(ref, lambda r0, r1: tst[r0:r1], win_size=win_size)


def palette_ssim(
    reference: NDArray[np.uint8], palette: NDArray[np.uint8], labels: NDArray[np.integer[Any]], *, win_size: int = 7
) -> float:
    """:func:`ssim` of ``reference`` against the palette image ``palette[labels]``, built band by band.

    Parameters
    ----------
    reference : ndarray of uint8, shape (H, W, C)
    palette : ndarray of uint8, shape (k, C)
    labels : ndarray of int, shape (H, W)
        Palette entry of each pixel.

    Returns
    -------
    float, equal to ``ssim(reference, palette[labels])`` without holding that image whole.
    """
    ref = check_image(reference, "reference")
    palette = np.asarray(palette)
    labels = np.asarray(labels)
    if palette.dtype != np.uint8 or palette.ndim != 2 or palette.shape[1] != ref.shape[2]:
        msg = f"palette must be uint8 of shape (k, {ref.shape[2]}), got {palette.dtype} {palette.shape}."
        raise ValueError(msg)
    if labels.shape != ref.shape[:2]:
        msg = f"labels must have the image's shape {ref.shape[:2]}, got {labels.shape}."
        raise ValueError(msg)
    return mean_ssim(ref, lambda r0, r1: palette.take(labels[r0:r1], axis=0), win_size=win_size)


# Pixels per band of rows in delta_e: CIEDE2000 makes a few dozen float64 temporaries per pixel.
_DELTA_E_BAND_PIXELS = 1 << 17
# Colours per chunk in palette_delta_e and palette_sq_error: temporaries stay small beside SSIM's.
_BAND_COLORS = 1 << 15


def delta_e(
    reference: NDArray[np.uint8],
    test: NDArray[np.uint8],
    *,
    sigma: float = 0.0,
    background: tuple[float, float, float] = (0, 0, 0),
) -> float:
    """Mean CIEDE2000 colour difference between two images, in ΔE00 units.

    Both images are converted from sRGB to CIELAB (D65, :func:`skimage.color.rgb2lab`) and
    compared pixel by pixel with :func:`skimage.color.deltaE_ciede2000` (Sharma, Wu and Dalal,
    "The CIEDE2000 color-difference formula", Color Res. Appl. 30(1), 2005; ``kL = kC = kH = 1``):

    ``ΔE00 = sqrt((ΔL'/SL)**2 + (ΔC'/SC)**2 + (ΔH'/SH)**2 + RT * (ΔC'/SC) * (ΔH'/SH))``

    and the mean over pixels is returned. About 1 is a just-noticeable difference between two
    flat patches side by side; above about 5 the colours read as different.

    Parameters
    ----------
    reference, test : ndarray of uint8, shape (H, W, 3) or (H, W, 4)
        The original image and the image compared with it, for example the quantized one.
    sigma : float, default 0
        When positive, both images are first smoothed with a Gaussian of this standard
        deviation in pixels, in linear light, as the eye averages a fine pattern seen from a
        distance (a simple form of S-CIELAB's spatial filtering, Zhang and Wandell 1996). A
        pixel-by-pixel ΔE (``sigma=0``) counts dithering noise as error; a smoothed ΔE counts
        what survives at viewing distance, such as banding.
    background : tuple of 3 ints, default (0, 0, 0)
        For RGBA: the sRGB colour both images are composited over before comparing
        (``rgb * a + background * (1 - a)`` with ``a = A / 255``, in sRGB values). The default,
        black, compares premultiplied colour, like :func:`mse`. Ignored for RGB.

    Returns
    -------
    float
        Mean ΔE00 over pixels; 0 for identical images.

    Notes
    -----
    Memory stays bounded on big images: rows are processed in bands (overlapping by the
    Gaussian's reach when ``sigma > 0``, so the result equals the whole-image value). Without
    smoothing, each band is reduced to its distinct (reference, test) colour pairs first, so a
    quantized image costs one ΔE per pair rather than per pixel.
    """
    ref, tst = _pair(reference, test)
    sigma = check_real("sigma", sigma, low=0)
    bg = check_background(background)
    height, width = ref.shape[:2]
    band = max(1, _DELTA_E_BAND_PIXELS // width)
    total = 0.0
    if sigma == 0:
        for r0 in range(0, height, band):
            total += _delta_e_sum_pairs(ref[r0 : r0 + band], tst[r0 : r0 + band], bg)
        return total / (height * width)
    pad = math.ceil(4.0 * sigma)
    for r0 in range(0, height, band):
        r1 = min(r0 + band, height)
        lo, hi = max(0, r0 - pad), min(height, r1 + pad)
        lab_ref = _smoothed_lab(ref[lo:hi], bg, sigma)[r0 - lo : r1 - lo]
        lab_tst = _smoothed_lab(tst[lo:hi], bg, sigma)[r0 - lo : r1 - lo]
        total += float(_ciede2000(lab_ref, lab_tst).sum())
    return total / (height * width)


def _ciede2000(lab1: NDArray[np.float64], lab2: NDArray[np.float64]) -> NDArray[np.float64]:
    from skimage.color import deltaE_ciede2000

    return deltaE_ciede2000(lab1, lab2, channel_axis=-1)


def _composite(pixels: NDArray[np.uint8], bg: NDArray[np.float64]) -> NDArray[np.float64]:
    """uint8 (..., 3|4) -> float64 sRGB in 0..1, RGBA composited over ``bg`` (0..255)."""
    rgb = pixels[..., :3].astype(np.float64)
    if pixels.shape[-1] == 4:
        alpha = pixels[..., 3:4].astype(np.float64) / 255.0
        rgb = rgb * alpha + bg * (1.0 - alpha)
    return rgb / 255.0


def _pixel_codes(pixels: NDArray[np.uint8]) -> NDArray[np.uint32]:
    """uint8 (..., C) -> one uint32 per pixel holding its C bytes (C = 3 gets a zero 4th byte)."""
    n_ch = pixels.shape[-1]
    quad = np.zeros((pixels.size // n_ch, 4), np.uint8)
    quad[:, :n_ch] = pixels.reshape(-1, n_ch)
    return quad.view(np.uint32).ravel()


def _delta_e_sum_pairs(ref: NDArray[np.uint8], tst: NDArray[np.uint8], bg: NDArray[np.float64]) -> float:
    """Sum of ΔE00 over the pixels of a band, computed once per distinct (reference, test) pair.

    Lab is computed once per distinct colour on each side (a quantized image has only k).
    """
    n_ch = ref.shape[-1]
    a = _pixel_codes(ref).astype(np.uint64)
    a <<= np.uint64(32)
    a |= _pixel_codes(tst)
    pairs, counts = np.unique(a, return_counts=True)
    del a

    def lab_of(codes: NDArray[np.uint64]) -> NDArray[np.float64]:
        colors, inverse = np.unique(codes.astype(np.uint32), return_inverse=True)
        pixels = colors.view(np.uint8).reshape(-1, 4)[:, :n_ch]
        return srgb_to_lab(_composite(pixels, bg)[:, None, :])[:, 0][inverse.reshape(-1)]

    lab_a = lab_of(pairs >> np.uint64(32))
    lab_b = lab_of(pairs & np.uint64(0xFFFFFFFF))
    return float(np.dot(_ciede2000(lab_a, lab_b), counts))


# a palette image described by the original's colour histogram: colours, their pixel counts, the
# palette and each colour's entry (the arguments of palette_mse, palette_sq_error, palette_delta_e)
_Colors = NDArray[np.uint8]
_Ints = NDArray[np.integer[Any]]
_Histogram = tuple[_Colors, _Ints, _Colors, _Ints]


def _palette_pairs(colors: ArrayLike, counts: ArrayLike, palette: ArrayLike, color_labels: ArrayLike) -> _Histogram:
    """Validate a colour histogram and its palette assignment; return them as arrays."""
    colors = np.asarray(colors)
    counts = np.asarray(counts)
    palette = np.asarray(palette)
    color_labels = np.asarray(color_labels)
    if colors.dtype != np.uint8 or colors.ndim != 2 or colors.shape[1] not in (3, 4):
        msg = f"colors must be uint8 of shape (M, 3) or (M, 4), got {colors.dtype} {colors.shape}."
        raise ValueError(msg)
    if palette.dtype != np.uint8 or palette.ndim != 2 or palette.shape[1] != colors.shape[1]:
        msg = f"palette must be uint8 of shape (k, {colors.shape[1]}), got {palette.dtype} {palette.shape}."
        raise ValueError(msg)
    if counts.shape != (len(colors),) or color_labels.shape != (len(colors),):
        msg = (
            f"counts and color_labels need one value per colour ({len(colors)}), got shapes "
            f"{counts.shape} and {color_labels.shape}."
        )
        raise ValueError(msg)
    if len(colors) == 0 or counts.sum() <= 0:
        msg = "Expected at least one pixel in the histogram."
        raise ValueError(msg)
    if color_labels.min() < 0 or color_labels.max() >= len(palette):
        msg = f"color_labels must index the {len(palette)} palette entries, got values up to {color_labels.max()}."
        raise ValueError(msg)
    return colors, counts, palette, color_labels


def palette_mse(colors: _Colors, counts: _Ints, palette: _Colors, color_labels: _Ints) -> float:
    """:func:`mse` of a palette image, from the original's colour histogram instead of its pixels.

    Every pixel of colour ``colors[i]`` (``counts[i]`` of them) is drawn as
    ``palette[color_labels[i]]``, so the sum of squared errors over pixels is
    ``sum_i counts[i] * ||colors[i] - palette[color_labels[i]]||**2``: one term per distinct
    colour instead of one per pixel. Exact (integer arithmetic for RGB; premultiplied for RGBA,
    like :func:`mse`). Not valid for a dithered image, whose pixels of one colour get different
    entries.

    Parameters
    ----------
    colors : ndarray of uint8, shape (M, C)
        Distinct colours of the original image (C is 3 or 4).
    counts : ndarray of int, shape (M,)
        Pixels of each colour.
    palette : ndarray of uint8, shape (k, C)
    color_labels : ndarray of int, shape (M,)
        Palette entry of each colour.

    Returns
    -------
    float
    """
    colors, counts, palette, color_labels = _palette_pairs(colors, counts, palette, color_labels)
    n_values = int(counts.sum()) * colors.shape[1]
    if colors.shape[1] == 3:
        return float(palette_sq_error(colors, counts, palette, color_labels)) / n_values
    diff = premultiply(colors) - premultiply(palette)[color_labels]
    return float(np.einsum("ij,ij->i", diff, diff) @ counts.astype(np.float64)) / n_values


def palette_sq_error(colors: _Colors, counts: _Ints, palette: _Colors, color_labels: _Ints) -> int:
    """Sum over pixels of the squared RGB error of a palette image, as an exact int.

    The sum behind :func:`palette_mse` for RGB (same arguments, validated there), in integer
    arithmetic over bounded chunks of colours.
    """
    total = 0
    pal = np.asarray(palette, dtype=np.int32)
    for a in range(0, len(colors), _BAND_COLORS):  # bounded temporaries
        sl = slice(a, a + _BAND_COLORS)
        diff = colors[sl].astype(np.int32) - pal[color_labels[sl]]
        total += int(np.einsum("ij,ij->i", diff, diff).astype(np.int64) @ np.asarray(counts[sl], dtype=np.int64))
    return total


def palette_delta_e(
    colors: _Colors,
    counts: _Ints,
    palette: _Colors,
    color_labels: _Ints,
    *,
    background: tuple[float, float, float] = (0, 0, 0),
) -> float:
    """:func:`delta_e` (no smoothing) of a palette image, from the original's colour histogram.

    The mean CIEDE2000 difference over pixels is ``sum_i counts[i] * ΔE00(colors[i],
    palette[color_labels[i]]) / sum_i counts[i]``: one ΔE per distinct colour, with the same
    conversions as :func:`delta_e`. Not valid for a dithered image.

    Parameters
    ----------
    colors, counts, palette, color_labels
        As in :func:`palette_mse`.
    background : tuple of 3 ints, default (0, 0, 0)
        For RGBA: the sRGB colour both sides are composited over, as in :func:`delta_e`.

    Returns
    -------
    float
    """
    colors, counts, palette, color_labels = _palette_pairs(colors, counts, palette, color_labels)
    bg = check_background(background)
    total = 0.0
    # one BLAS thread: the colour conversion's (n, 3) x (3, 3) products are too small to share,
    # and on a busy machine the spare threads only spin
    with one_thread("blas"):
        pal_lab = srgb_to_lab(_composite(palette, bg)[:, None, :])[:, 0]
        for a in range(0, len(colors), _BAND_COLORS):  # bounded temporaries
            sl = slice(a, a + _BAND_COLORS)
            lab = srgb_to_lab(_composite(colors[sl], bg)[:, None, :])[:, 0]
            total += float(_ciede2000(lab, pal_lab[color_labels[sl]]) @ counts[sl].astype(np.float64))
    return total / float(counts.sum())


def smooth_image(image: NDArray[np.uint8], *, sigma: float = 1.0) -> NDArray[np.uint8]:
    """Blur an image with a Gaussian in linear light: roughly what an eye sees from a distance.

    Use it to judge dithering: a pixel-by-pixel measure counts the dithering noise as error,
    while ``ssim(smooth_image(a), smooth_image(b))`` compares what is left once fine patterns
    average out (banding is left; noise is not). :func:`delta_e` has the same option built in
    (its ``sigma``), without the rounding to 8 bits.

    Parameters
    ----------
    image : ndarray of uint8, shape (H, W, 3) or (H, W, 4)
        The image to blur.
    sigma : float, default 1.0
        Standard deviation of the Gaussian, in pixels (0 returns a copy).

    Returns
    -------
    ndarray of uint8, the shape of ``image``
        The blurred image. sRGB is decoded to linear light, blurred per channel
        (``mode="nearest"`` at the borders), encoded again, then rounded and clipped. With alpha,
        colour is blurred premultiplied and alpha linearly, so transparent pixels do not bleed
        their hidden RGB. Works on the whole image at once, in float64.
    """
    from scipy.ndimage import gaussian_filter

    from ._colorspace import to_uint8

    img = check_image(image)
    sigma = check_real("sigma", sigma, low=0)
    if sigma == 0:
        return img.copy()
    linear = srgb_to_linear(img[..., :3] / 255.0)
    if img.shape[2] == 3:
        return to_uint8(linear_to_srgb(gaussian_filter(linear, sigma=(sigma, sigma, 0), mode="nearest")) * 255.0)
    alpha = img[..., 3:4] / 255.0
    alpha_s = gaussian_filter(alpha, sigma=(sigma, sigma, 0), mode="nearest")
    premul = gaussian_filter(linear * alpha, sigma=(sigma, sigma, 0), mode="nearest")
    colour = np.where(alpha_s > 0, premul / np.where(alpha_s > 0, alpha_s, 1.0), 0.0)
    return np.concatenate([to_uint8(linear_to_srgb(colour) * 255.0), to_uint8(alpha_s * 255.0)], axis=2)


def _smoothed_lab(pixels: NDArray[np.uint8], bg: NDArray[np.float64], sigma: float) -> NDArray[np.float64]:
    from scipy.ndimage import gaussian_filter

    linear = srgb_to_linear(_composite(pixels, bg))
    linear = gaussian_filter(linear, sigma=(sigma, sigma, 0), mode="nearest")
    return srgb_to_lab(np.clip(linear_to_srgb(linear), 0.0, 1.0))
