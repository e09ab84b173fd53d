"""Size and quality measures. Pure functions: arrays or numbers in, Python floats out.

Images follow the package contract (``uint8``, ``(H, W, 3)`` or ``(H, W, 4)``). For RGBA images
the error measures compare *premultiplied* RGB plus alpha, four channels: a pixel's colour
counts in proportion to how visible it is, and a change of alpha counts like a change of
colour. This is the quantity the quantizer minimises for RGBA images.
"""

from __future__ import annotations

import math
import os

import numpy as np

from .colorspace import premultiply

__all__ = [
    "file_size",
    "raw_size",
    "bits_per_pixel",
    "compression_ratio",
    "mse",
    "psnr",
    "ssim",
]


def file_size(path):
    """Size of a file in bytes."""
    return os.path.getsize(path)


def raw_size(image):
    """Bytes of the uncompressed pixels: ``H * W * C`` (24 bits a pixel for RGB, 32 for RGBA)."""
    shape = np.shape(image)
    return int(shape[0] * shape[1] * (shape[2] if len(shape) == 3 else 1))


def bits_per_pixel(n_bytes, n_pixels):
    """``8 * n_bytes / n_pixels``: what the file costs per pixel (24 for raw RGB)."""
    if n_pixels <= 0:
        msg = f"n_pixels must be positive, got {n_pixels}."
        raise ValueError(msg)
    return 8.0 * n_bytes / n_pixels


def compression_ratio(original_bytes, compressed_bytes):
    """``original_bytes / compressed_bytes``: how many times smaller (above 1 means smaller)."""
    if compressed_bytes <= 0:
        msg = f"compressed_bytes must be positive, got {compressed_bytes}."
        raise ValueError(msg)
    return float(original_bytes) / float(compressed_bytes)


def _pair(reference, test):
    ref = np.asarray(reference)
    tst = np.asarray(test)
    if ref.shape != tst.shape:
        msg = f"reference and test must have the same shape, got {ref.shape} and {tst.shape}."
        raise ValueError(msg)
    if ref.ndim != 3 or ref.shape[2] not in (3, 4):
        msg = f"Expected images of shape (H, W, 3) or (H, W, 4), got {ref.shape}."
        raise ValueError(msg)
    return ref, tst


def mse(reference, test):
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


def psnr(reference, test, *, data_range=255.0):
    """Peak signal-to-noise ratio in dB: ``10 * log10(data_range**2 / MSE)``.

    Returns ``inf`` for identical images.
    """
    err = mse(reference, test)
    if err == 0:
        return math.inf
    return 10.0 * math.log10(data_range**2 / err)


def ssim(reference, test, *, win_size=7):
    """Mean structural similarity, :func:`skimage.metrics.structural_similarity`.

    Computed per channel with ``data_range=255`` and the default 7x7 uniform window, averaged
    over channels (RGBA premultiplied). Large images are processed in bands of rows that
    overlap by the window, so the result equals the whole-image value while memory stays
    bounded.

    Returns
    -------
    float in [-1, 1]; 1 for identical images.
    """
    from skimage.metrics import structural_similarity

    ref, tst = _pair(reference, test)
    height, width = ref.shape[:2]
    win = min(win_size, height, width)
    if win % 2 == 0:
        win -= 1
    if win < 3:  # too small for a window: SSIM of a constant patch pair, via the formula at 1 px
        win = None
    pad = (win - 1) // 2 if win else 0
    band = max(64, (1 << 19) // max(1, width * ref.shape[2]))
    if win is None or height <= band + 2 * pad:
        return float(_ssim_full(structural_similarity, ref, tst, win))
    total, count = 0.0, 0
    for r0 in range(pad, height - pad, band):
        r1 = min(r0 + band, height - pad)
        lo, hi = r0 - pad, r1 + pad
        smap = _ssim_map(structural_similarity, ref[lo:hi], tst[lo:hi], win)
        inner = smap[pad : pad + (r1 - r0), pad : width - pad]
        total += float(inner.sum())
        count += inner.size
    return total / count


def _ssim_map(fn, ref, tst, win):
    return fn(premultiply(ref), premultiply(tst), win_size=win, data_range=255.0, channel_axis=-1, full=True)[1].mean(
        axis=-1
    )


def _ssim_full(fn, ref, tst, win):
    if win is None:
        # images narrower than 3 px: compare as one window per channel (global statistics)
        a, b = premultiply(ref), premultiply(tst)
        c1, c2 = (0.01 * 255) ** 2, (0.03 * 255) ** 2
        vals = []
        for ch in range(a.shape[2]):
            x, y = a[..., ch].ravel(), b[..., ch].ravel()
            mx, my = x.mean(), y.mean()
            vx, vy, cov = x.var(), y.var(), ((x - mx) * (y - my)).mean()
            vals.append(((2 * mx * my + c1) * (2 * cov + c2)) / ((mx**2 + my**2 + c1) * (vx + vy + c2)))
        return float(np.mean(vals))
    return fn(premultiply(ref), premultiply(tst), win_size=win, data_range=255.0, channel_axis=-1)
