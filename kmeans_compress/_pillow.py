"""Pillow in, Pillow out: :func:`quantize_image`, in the calling style of ``PIL.Image.quantize``.

The image returned is the PNG the command line writes, decoded: its pixels, palette,
transparency, colour tag and DPI are the file's, so a Pillow program gets exactly what
``kmeans-compress -k`` would have written, without writing it.
"""

from __future__ import annotations

import io
from typing import Any

import numpy as np
from numpy.typing import NDArray
from PIL import Image

from ._compress import compress_image
from ._encode import encode_palette_png
from ._load import read_image
from ._quantize import KMeansQuantizer

__all__ = ["quantize_image"]


def _palette_entries(palette: Image.Image, channels: int) -> NDArray[np.uint8]:
    """The entries of a mode-P image's palette, with their alphas when ``channels`` is 4."""
    if not isinstance(palette, Image.Image) or palette.mode != "P":
        got = palette.mode if isinstance(palette, Image.Image) else type(palette).__name__
        msg = f"palette must be a PIL image of mode 'P' (as Image.quantize takes), got {got!r}."
        raise ValueError(msg)
    values = palette.getpalette() or []
    rgb = np.asarray(values, dtype=np.uint8).reshape(-1, 3)
    if channels == 3:
        return rgb
    alpha = np.full(len(rgb), 255, np.uint8)
    transparency = palette.info.get("transparency")
    if isinstance(transparency, int) and transparency < len(rgb):
        alpha[transparency] = 0
    elif isinstance(transparency, (bytes, bytearray)):
        given = np.frombuffer(bytes(transparency[: len(rgb)]), np.uint8)
        alpha[: len(given)] = given
    return np.column_stack([rgb, alpha])


def quantize_image(
    im: Any,
    colors: int = 256,
    *,
    dither: bool = False,
    palette: Image.Image | None = None,
    random_state: int = 0,
    color_space: str = "rgb",
    run_budget: float | str = "auto",
    keep_profile: bool = False,
) -> Image.Image:
    """Quantize an image to a mode-``P`` PIL image, as ``PIL.Image.quantize`` does, with k-means.

    Parameters
    ----------
    im : PIL.Image.Image, str, os.PathLike, file object, bytes or ndarray
        Anything :func:`~kmeans_compress.load_image` takes, in any mode (``RGB``, ``RGBA``,
        ``L``, ``P``, ``I;16``, ...): converted to sRGB, upright, as the command line reads it.
    colors : int, default=256
        Palette size, 1 to 256 (Pillow's default too). Ignored with ``palette``.
    dither : bool, default=False
        Floyd–Steinberg error diffusion instead of the nearest colours (opaque images only).
        Pillow's default is to dither; this package's, like the command line's, is not to.
    palette : PIL.Image.Image, optional
        A mode-``P`` image whose palette is used as it is, each pixel taking its nearest entry
        (its alpha too, from the palette image's ``transparency``, when ``im`` has alpha), as
        Pillow's ``palette=`` does. No fit.
    random_state : int, default=0
        Seed of the fit (``--seed``).
    color_space : {"rgb", "lab", "oklab"}, default="rgb"
        Space in which the palette is fitted and the nearest entries found.
    run_budget : float or "auto", default="auto"
        As for :func:`~kmeans_compress.compress_file`: labels favouring runs, kept when they make
        the PNG smaller. Ignored with ``palette``.
    keep_profile : bool, default=False
        Keep the input's ICC profile (in ``info["icc_profile"]``) instead of converting to sRGB.

    Returns
    -------
    PIL.Image.Image
        Mode ``P``, the palette set (only the entries used, unless ``palette`` was given), the
        alphas in ``info["transparency"]`` when the image has transparency, and in ``info`` the
        ``srgb`` tag (or the kept ``icc_profile``) and the ``dpi`` the written PNG carries. Its
        pixels are those ``kmeans-compress -k colors`` writes with the same options.

    Examples
    --------
    >>> from PIL import Image
    >>> from kmeans_compress import quantize_image
    >>> im = Image.new("RGB", (4, 1), "red")
    >>> out = quantize_image(im, 2)
    >>> out.mode, out.getpalette()[:3]
    ('P', [255, 0, 0])
    """
    image, info = read_image(im, keep_profile=keep_profile)
    if palette is None:
        data = compress_image(
            image, colors, random_state=random_state, format="png", info=info, metrics="none",
            dither=dither, color_space=color_space, run_budget=run_budget,
        ).data
    else:
        quantizer = KMeansQuantizer.from_palette(_palette_entries(palette, image.shape[2]), color_space=color_space)
        labels = quantizer.remap(image, dither=dither)
        data = encode_palette_png(quantizer.palette_, labels, icc_profile=info.icc_profile, dpi=info.dpi)
    with Image.open(io.BytesIO(data)) as decoded:
        decoded.load()
        return decoded.copy()  # a plain image, its info (transparency, srgb, dpi) copied with it
