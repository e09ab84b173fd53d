"""Floyd–Steinberg dithering onto a given palette, through Pillow's own remapping.

A palette of k colours turns a smooth gradient into k flat bands. Error diffusion hides the
bands: each pixel takes a palette colour and hands its rounding error to the neighbours not yet
visited (7/16 right, 3/16 below left, 5/16 below, 1/16 below right; R. W. Floyd and
L. Steinberg, "An adaptive algorithm for spatial greyscale", Proc. SID 17(2), 1976), so that
the local mean colour is kept while every pixel is still one of the k colours.

The loop is inherently sequential, so it runs in C: ``Image.quantize(palette=...,
dither=Image.Dither.FLOYDSTEINBERG)``. What Pillow does differently from a textbook remap, and
how :func:`floyd_steinberg` deals with it:

* The palette image Pillow returns is not promised to be the palette asked for: before Pillow
  9.1 (python-pillow/Pillow#6060) a short palette was padded to 256 entries with a grey ramp
  and the remap could pick those foreign entries; Pillow 13 returns the k entries asked for.
  Here the palette handed to Pillow is the fitted palette repeated to fill all
  256 entries, so whatever index Pillow picks is one of the fitted colours, and the labels are
  recovered by looking each returned palette colour up in the fitted palette (not by trusting
  the index), so a reordering or merging of entries would not corrupt them either.
* Pillow measures "nearest" in RGB through a 64×64×64 cache of 4×4×4-value cells, not exactly;
  with error diffusion the difference is part of the noise. Undithered remapping in this
  package does not use Pillow: it is exact, in the quantizer's colour space.
* Pillow cannot quantize RGBA images to a palette (``ValueError: only RGB or L mode images can
  be quantized to a palette``), so :func:`floyd_steinberg` takes RGB only; the quantizer maps
  RGBA images to their nearest palette colour instead, with a warning.

This module imports only the colour packer and the checks from the package.
"""

from __future__ import annotations

import numpy as np
import PIL
from numpy.typing import ArrayLike, NDArray
from PIL import Image

from ._histogram import pack_rgb
from ._validation import check_palette

__all__ = ["floyd_steinberg"]


def floyd_steinberg(image: ArrayLike, palette: ArrayLike) -> NDArray[np.uint8]:
    """Remap an RGB image to ``palette`` with Floyd–Steinberg error diffusion.

    Parameters
    ----------
    image : ndarray of uint8, shape (H, W, 3)
    palette : ndarray of uint8, shape (k, 3), 1 <= k <= 256

    Returns
    -------
    labels : ndarray of uint8, shape (H, W)
        Index into ``palette`` of every pixel, so that ``palette[labels]`` is the dithered
        image. When ``palette`` repeats a colour, the first of its rows is used.

    Raises
    ------
    ValueError
        If ``image`` is not RGB ``uint8`` (RGBA included: Pillow cannot dither it) or
        ``palette`` is not a ``(k, 3)`` ``uint8`` array with k in 1..256.
    """
    image = np.asarray(image)
    if image.dtype != np.uint8 or image.ndim != 3 or image.shape[2] != 3 or image.size == 0:
        msg = (
            f"floyd_steinberg needs an RGB image of dtype uint8 and shape (H, W, 3), got {image.dtype} "
            f"{image.shape}. Pillow cannot error-diffuse onto an RGBA palette; map RGBA images to the "
            "nearest palette colour instead (KMeansQuantizer does that)."
        )
        raise ValueError(msg)
    entries: NDArray[np.uint8] = check_palette(palette, channels=(3,))
    # Fill all 256 entries with the fitted colours, repeated: no foreign colour can be picked.
    pal_image = Image.new("P", (1, 1))
    pal_image.putpalette(np.resize(entries, (256, 3)).tobytes(), rawmode="RGB")
    out = Image.fromarray(np.ascontiguousarray(image)).quantize(
        palette=pal_image, dither=Image.Dither.FLOYDSTEINBERG
    )
    indices = np.asarray(out)
    returned = np.asarray(out.getpalette("RGB"), dtype=np.uint8).reshape(-1, 3)
    # Look every returned entry up in the fitted palette by its colour.
    codes = pack_rgb(entries)
    order = np.argsort(codes, kind="stable")  # stable: a repeated colour maps to its first row
    sorted_codes = codes[order]
    want = pack_rgb(returned)
    pos = np.clip(np.searchsorted(sorted_codes, want), 0, len(codes) - 1)
    found = sorted_codes[pos] == want
    lut = np.where(found, order[pos], -1)
    used = np.unique(indices)
    if used.max() >= len(lut) or np.any(lut[used] < 0):
        msg = (
            "Pillow returned palette entries that are not in the palette asked for "
            f"(Pillow {PIL.__version__}); please report this."
        )
        raise RuntimeError(msg)
    return lut.astype(np.uint8)[indices]
