"""Sweeps over k: quantize one image at several palette sizes and measure each.

Work that does not depend on k (the colour histogram) is done once per image.
"""

from __future__ import annotations

import dataclasses
import math
import time

from .io import encode_palette_png, load_image
from .metrics import bits_per_pixel, compression_ratio, mse, psnr, ssim
from .quantize import ColorHistogram, KMeansQuantizer

__all__ = ["SweepRow", "sweep", "rows_to_columns"]


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
        Quantize + encode + metrics for this k.
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

    def to_dict(self):
        """Plain dict (an infinite PSNR becomes None, so that it is valid JSON)."""
        out = dataclasses.asdict(self)
        if out["psnr"] is not None and math.isinf(out["psnr"]):
            out["psnr"] = None
        return out


def sweep(image, ks, *, original_bytes=None, random_state=0, **params):
    """Quantize ``image`` at every k in ``ks`` and measure size and quality.

    Parameters
    ----------
    image : ndarray of uint8 (H, W, 3|4), or anything :func:`~kmeans_compress.load_image` reads
    ks : iterable of int
        Palette sizes, each 1..256.
    original_bytes : int, optional
        Size of the original file, for ``ratio``. Taken from the file when ``image`` is a path.
    random_state : int, default 0
    **params
        Further :class:`~kmeans_compress.KMeansQuantizer` parameters.

    Returns
    -------
    list of SweepRow, in the order of ``ks``.
    """
    import os

    if isinstance(image, (str, os.PathLike)) and original_bytes is None:
        original_bytes = os.path.getsize(image)
    image = load_image(image)
    hist = ColorHistogram.from_image(image)
    n_pixels = image.shape[0] * image.shape[1]
    rows = []
    for k in ks:
        start = time.perf_counter()
        q = KMeansQuantizer(int(k), random_state=random_state, **params).fit(hist)
        data = encode_palette_png(q.palette_, q.labels_)
        quantized = q.palette_[q.labels_]
        rows.append(
            SweepRow(
                k=int(k),
                n_colors=q.n_colors_,
                inertia=q.inertia_,
                mse=mse(image, quantized),
                psnr=psnr(image, quantized),
                ssim=ssim(image, quantized),
                png_bytes=len(data),
                bits_per_pixel=bits_per_pixel(len(data), n_pixels),
                ratio=None if original_bytes is None else compression_ratio(original_bytes, len(data)),
                seconds=time.perf_counter() - start,
            )
        )
    return rows


def rows_to_columns(rows):
    """Turn a list of dataclass rows into a dict of columns (``{"k": [...], "psnr": [...]}``)."""
    if not rows:
        return {}
    names = [f.name for f in dataclasses.fields(rows[0])]
    return {name: [getattr(r, name) for r in rows] for name in names}
