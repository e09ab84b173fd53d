"""Honest comparisons: what JPEG gives at the same bytes, and Pillow's median cut at the same k."""

from __future__ import annotations

import dataclasses
import io

import numpy as np
from numpy.typing import NDArray
from PIL import Image

from ._encode import encode_palette
from ._metrics import psnr, ssim
from ._validation import check_image, check_k

__all__ = ["Baseline", "JpegAtSize", "baselines", "jpeg_at_size", "mediancut_png"]


@dataclasses.dataclass(frozen=True)
class Baseline:
    """Another encoder's file for the same image, and its quality.

    Attributes
    ----------
    setting : int
        The JPEG quality chosen, or the colours median cut used.
    bytes : int
        Size of its file.
    psnr, ssim : float
        Its quality against the original.
    """

    setting: int
    bytes: int
    psnr: float
    ssim: float


@dataclasses.dataclass
class JpegAtSize:
    """What :func:`jpeg_at_size` returns: the chosen quality, the file and its decoded pixels."""

    quality: int
    data: bytes
    image: NDArray[np.uint8]
    n_encodes: int


def jpeg_at_size(image: NDArray[np.uint8], max_bytes: int, *, max_quality: int = 95) -> JpegAtSize | None:
    """The best Pillow JPEG no larger than ``max_bytes``.

    Binary search on the JPEG quality (1..``max_quality``) for the highest quality whose file
    is at most ``max_bytes``, assuming the size grows with quality (it does, up to a few bytes
    of noise). Pillow's defaults otherwise (4:2:0 chroma subsampling), with ``optimize=True``
    (optimised Huffman tables), as the PNGs get maximum deflate effort.

    Parameters
    ----------
    image : ndarray of uint8, shape (H, W, 3)
        The image to encode.
    max_bytes : int
        Largest file allowed.
    max_quality : int, default=95
        Highest JPEG quality tried.

    Returns
    -------
    JpegAtSize or None
        None when even quality 1 is larger than ``max_bytes``.

    Raises
    ------
    ValueError
        For an image with an alpha channel (JPEG cannot store it).
    """
    image = check_image(image, "jpeg_at_size's RGB image", channels=(3,))
    pil = Image.fromarray(image)
    n_encodes = 0

    def encode(quality: int) -> bytes:
        nonlocal n_encodes
        n_encodes += 1
        buf = io.BytesIO()
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
    with Image.open(io.BytesIO(best)) as im:
        decoded = np.asarray(im.convert("RGB"))
    return JpegAtSize(quality=best_q, data=best, image=decoded, n_encodes=n_encodes)


def mediancut_png(
    image: NDArray[np.uint8], k: int, *, format: str = "png"  # noqa: A002
) -> tuple[NDArray[np.uint8], NDArray[np.uint8], bytes]:
    """Pillow's median-cut quantizer at ``k`` colours, encoded like the package's own outputs.

    Parameters
    ----------
    image : ndarray of uint8, shape (H, W, 3)
        The image to quantize.
    k : int, 1..256
        Colours asked for.
    format : {"png", "webp"}, default="png"
        Encoded as the package's indexed PNG or as its lossless WebP.

    Returns
    -------
    palette : ndarray of uint8, shape (n, 3)
        The colours used (unused entries of Pillow's palette dropped).
    labels : ndarray of uint8, shape (H, W)
    data : bytes
        The file, from :func:`~kmeans_compress._encode.encode_palette`.
    """
    image = check_image(image, "mediancut_png's RGB image", channels=(3,))
    k = check_k("k", k)
    quantized = Image.fromarray(image).quantize(colors=k, method=Image.Quantize.MEDIANCUT, dither=Image.Dither.NONE)
    raw_labels = np.asarray(quantized)
    entries = quantized.getpalette() or []  # never None: a quantized image has a palette
    full = np.asarray(entries[: 3 * 256], np.uint8).reshape(-1, 3)
    used, inverse = np.unique(raw_labels, return_inverse=True)
    palette = np.ascontiguousarray(full[used])
    labels = inverse.reshape(raw_labels.shape).astype(np.uint8)
    return palette, labels, encode_palette(palette, labels, format=format)


def baselines(
    image: NDArray[np.uint8], k: int, max_bytes: int, *, format: str = "png"  # noqa: A002
) -> tuple[Baseline | None, Baseline | None]:
    """JPEG no larger than ``max_bytes`` and median cut at ``k`` (encoded as ``format``), measured against ``image``.

    Parameters
    ----------
    image : ndarray of uint8, shape (H, W, 3) or (H, W, 4)
        The original.
    k : int, 1..256
        Colours for median cut.
    max_bytes : int
        Largest JPEG file allowed (the package's own file size, for a fair comparison).
    format : {"png", "webp"}, default="png"
        How median cut's result is encoded.

    Returns
    -------
    jpeg, mediancut : Baseline or None
        None for an image with alpha (neither handles it); ``jpeg`` is also None when even
        JPEG quality 1 is larger than ``max_bytes``.
    """
    image = check_image(image)
    if image.shape[2] != 3:
        return None, None
    jpeg = None
    found = jpeg_at_size(image, max_bytes)
    if found is not None:
        jpeg = Baseline(found.quality, len(found.data), psnr(image, found.image), ssim(image, found.image))
    palette, labels, data = mediancut_png(image, k, format=format)
    rebuilt = palette[labels]
    mediancut = Baseline(len(palette), len(data), psnr(image, rebuilt), ssim(image, rebuilt))
    return jpeg, mediancut
