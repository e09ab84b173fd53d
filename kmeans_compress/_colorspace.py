"""Colour conversions: the one float-to-uint8 helper, premultiplied alpha, CIELAB and Oklab.

Clustering happens on *features*: float64 coordinates of each distinct colour in the chosen
colour space. For images with alpha the colour coordinates are premultiplied by the alpha
fraction and the alpha itself is appended, so every fully transparent pixel becomes one point
(whatever its stored RGB) and a half-transparent edge pixel pulls its cluster only half as hard.

This module imports nothing from the package.
"""

from __future__ import annotations

import numpy as np

__all__ = [
    "COLOR_SPACES",
    "colors_to_features",
    "features_to_colors",
    "lab_to_srgb",
    "linear_to_srgb",
    "oklab_to_srgb",
    "premultiply",
    "srgb_to_lab",
    "srgb_to_linear",
    "srgb_to_oklab",
    "to_uint8",
]

#: Colour spaces the quantizer can cluster in.
COLOR_SPACES = ("rgb", "lab", "oklab")

# Scale of the alpha feature in each space: alpha 0..255 maps to 0..scale, about the range of
# the space's lightness axis, so that alpha weighs like lightness in the distance.
_ALPHA_SCALE = {"rgb": 255.0, "lab": 100.0, "oklab": 1.0}


def to_uint8(values):
    """Round, then clip to 0..255 and return ``uint8``.

    The only place in the package where floats become 8-bit values.

    Parameters
    ----------
    values : array_like of float

    Returns
    -------
    ndarray of uint8, same shape.
    """
    return np.clip(np.rint(np.asarray(values, dtype=np.float64)), 0, 255).astype(np.uint8)


def _check_space(color_space):
    if color_space not in COLOR_SPACES:
        msg = f"color_space must be one of {COLOR_SPACES}, got {color_space!r}."
        raise ValueError(msg)


def premultiply(image):
    """Return ``image`` as float64 with colour channels premultiplied by alpha.

    Parameters
    ----------
    image : ndarray of uint8, shape (..., 3) or (..., 4)

    Returns
    -------
    ndarray of float64, same shape, values in 0..255. An RGB image is returned as float64
    unchanged; for RGBA, ``(R*a, G*a, B*a, A)`` with ``a = A / 255``.
    """
    out = np.asarray(image, dtype=np.float64)
    if out.shape[-1] == 4:
        out = out.copy()
        out[..., :3] *= out[..., 3:4] / 255.0
    return out


# --- sRGB transfer function (IEC 61966-2-1) -------------------------------------------------


def srgb_to_linear(srgb):
    """sRGB in 0..1 to linear light in 0..1 (IEC 61966-2-1)."""
    srgb = np.asarray(srgb, dtype=np.float64)
    return np.where(srgb <= 0.04045, srgb / 12.92, ((srgb + 0.055) / 1.055) ** 2.4)


def linear_to_srgb(linear):
    """Linear light in 0..1 to sRGB in 0..1 (inverse of :func:`srgb_to_linear`)."""
    linear = np.clip(np.asarray(linear, dtype=np.float64), 0.0, None)
    return np.where(linear <= 0.0031308, linear * 12.92, 1.055 * linear ** (1 / 2.4) - 0.055)


# --- Oklab -----------------------------------------------------------------------------------
# Björn Ottosson, "A perceptual color space for image processing" (2020),
# https://bottosson.github.io/posts/oklab/ : linear sRGB -> LMS (M1), cube root, -> Lab (M2).

_OKLAB_M1 = np.array(
    [
        [0.4122214708, 0.5363325363, 0.0514459929],
        [0.2119034982, 0.6806995451, 0.1073969566],
        [0.0883024619, 0.2817188376, 0.6299787005],
    ]
)
_OKLAB_M2 = np.array(
    [
        [0.2104542553, 0.7936177850, -0.0040720468],
        [1.9779984951, -2.4285922050, 0.4505937099],
        [0.0259040371, 0.7827717662, -0.8086757660],
    ]
)
_OKLAB_M1_INV = np.linalg.inv(_OKLAB_M1)
_OKLAB_M2_INV = np.linalg.inv(_OKLAB_M2)


def srgb_to_oklab(rgb):
    """sRGB in 0..1, shape (..., 3), to Oklab (L in 0..1, a and b about -0.4..0.4)."""
    lms = srgb_to_linear(rgb) @ _OKLAB_M1.T
    return np.cbrt(lms) @ _OKLAB_M2.T


def oklab_to_srgb(lab):
    """Oklab, shape (..., 3), to sRGB in 0..1 (unclipped; :func:`to_uint8` clips)."""
    lms = (np.asarray(lab, dtype=np.float64) @ _OKLAB_M2_INV.T) ** 3
    return linear_to_srgb(lms @ _OKLAB_M1_INV.T)


# --- CIELAB (D65) through scikit-image -------------------------------------------------------


def srgb_to_lab(rgb):
    """sRGB in 0..1, shape (..., 3), to CIELAB (D65) with :func:`skimage.color.rgb2lab`."""
    from skimage.color import rgb2lab

    return rgb2lab(np.asarray(rgb, dtype=np.float64))


def lab_to_srgb(lab):
    """CIELAB (D65), shape (..., 3), to sRGB in 0..1 with :func:`skimage.color.lab2rgb`."""
    import warnings

    from skimage.color import lab2rgb

    with warnings.catch_warnings():
        # lab2rgb warns when it clips out-of-gamut centres; clipping is what we want.
        warnings.simplefilter("ignore", UserWarning)
        return lab2rgb(np.asarray(lab, dtype=np.float64))


_TO_SPACE = {"lab": srgb_to_lab, "oklab": srgb_to_oklab}
_FROM_SPACE = {"lab": lab_to_srgb, "oklab": oklab_to_srgb}


def colors_to_features(colors, color_space="rgb"):
    """Map uint8 colours to the float64 points k-means clusters.

    Parameters
    ----------
    colors : ndarray of uint8, shape (M, 3) or (M, 4)
    color_space : {"rgb", "lab", "oklab"}

    Returns
    -------
    ndarray of float64, shape (M, 3) or (M, 4). In "rgb" the values are 0..255. With alpha,
    colour coordinates are premultiplied by ``A / 255`` and alpha is appended scaled to the
    space's lightness range (255 for rgb, 100 for lab, 1 for oklab).
    """
    _check_space(color_space)
    colors = np.asarray(colors)
    rgb = colors[:, :3].astype(np.float64)
    if color_space == "rgb":
        feats = rgb
    else:
        feats = _TO_SPACE[color_space](rgb / 255.0)
    if colors.shape[1] == 4:
        alpha = colors[:, 3:4].astype(np.float64) / 255.0
        feats = np.hstack([feats * alpha, alpha * _ALPHA_SCALE[color_space]])
    return np.ascontiguousarray(feats, dtype=np.float64)


def features_to_colors(features, color_space="rgb"):
    """Inverse of :func:`colors_to_features`: float64 points ``(M, 3|4)`` back to uint8 colours.

    Colour coordinates are un-premultiplied (a fully transparent point becomes ``(0, 0, 0, 0)``),
    converted back to sRGB from ``color_space``, then rounded and clipped by :func:`to_uint8`.
    """
    _check_space(color_space)
    feats = np.asarray(features, dtype=np.float64)
    has_alpha = feats.shape[1] == 4
    coords = feats[:, :3]
    if has_alpha:
        alpha = to_uint8(feats[:, 3] / _ALPHA_SCALE[color_space] * 255.0)
        frac = alpha.astype(np.float64)[:, None] / 255.0
        # premultiplied coordinates were scaled by the (unrounded) alpha of the centre
        raw_frac = np.clip(feats[:, 3:4] / _ALPHA_SCALE[color_space], 0.0, 1.0)
        safe = np.where(raw_frac > 0, raw_frac, 1.0)
        coords = np.where(frac > 0, coords / safe, 0.0)
    if color_space == "rgb":
        rgb = to_uint8(coords)
    else:
        rgb = to_uint8(_FROM_SPACE[color_space](coords) * 255.0)
    if has_alpha:
        rgb[alpha == 0] = 0
        return np.hstack([rgb, alpha[:, None]])
    return rgb
