"""Colour management on load: a tagged image's pixels converted to sRGB with LittleCMS.

LittleCMS through Pillow's ``ImageCms`` converts an image tagged with an ICC profile (or, for a
PNG, with ``gAMA``/``cHRM`` only, or for HEIF with an ``nclx`` box) to sRGB; small ICC profiles
are built here for the tags that carry no profile. An unreadable or unusable profile gets a
warning and the pixels are taken as sRGB.

This module imports nothing from the package but :func:`._messages.one_line`.
"""

from __future__ import annotations

import dataclasses
import functools
import io
import math
import struct
import warnings
from collections.abc import Iterable, Mapping, Sequence
from typing import TYPE_CHECKING, Any

import numpy as np
from PIL import Image

from ._messages import one_line

if TYPE_CHECKING:
    from numpy.typing import NDArray
    from PIL.ImageCms import ImageCmsTransform

__all__ = [
    "GREY_MODES",
    "ColourTag",
    "colour_tag",
    "grey_to_srgb",
    "icc_matrix_profile",
    "transform_to_srgb",
    "warn_image",
]


@dataclasses.dataclass(frozen=True)
class ColourTag:
    """What an image says about its colours: a profile to convert from.

    Attributes
    ----------
    name : str
        The profile's description, or ``"gAMA 0.45455 + cHRM"``-like text for a tag that is not
        an ICC profile.
    icc : bytes
        The ICC profile (synthesised from ``gAMA``/``cHRM`` or ``nclx`` when the file has none).
    space : str
        The profile's colour space: ``"RGB"``, ``"GRAY"``, ``"CMYK"``, or what else it says.
    """

    name: str
    icc: bytes
    space: str


# Relative colorimetric with black point compensation; see read_image's notes for why.
_INTENT = 1  # ImageCms.Intent.RELATIVE_COLORIMETRIC
_BPC = 0x2000  # ImageCms.Flags.BLACKPOINTCOMPENSATION
_NO_OPTIMIZE = 0x0100  # ImageCms.Flags.NOOPTIMIZE


#: Pillow modes of greyscale images (with or without alpha, any depth).
GREY_MODES = ("1", "L", "LA", "La", "I", "I;16", "I;16B", "I;16L", "F")


def warn_image(label: str, text: str) -> None:
    """A ``UserWarning`` ``"<label>: <text>"``, shown at the caller of ``read_image``.

    Parameters
    ----------
    label : str
        The image's name (its path, or its file object's name).
    text : str
        What was done instead (for example "pixels taken as sRGB").
    """
    warnings.warn(f"{label}: {text}", UserWarning, stacklevel=5)


def colour_tag(im: Image.Image, label: str) -> ColourTag | None:
    """The image's colour tag, or None when it has none (or says sRGB with a PNG ``sRGB`` chunk).

    Parameters
    ----------
    im : PIL.Image.Image
        An opened image; its ``info`` is read (``icc_profile``, ``nclx_profile``, and for a PNG
        ``srgb``, ``gamma`` and ``chromaticity``).
    label : str
        The image's name, for warnings about a tag that cannot be used (the image is then
        taken as sRGB).

    Returns
    -------
    ColourTag or None
        The tag to convert from; None for an untagged (or sRGB-tagged) image.
    """
    info = im.info
    icc = info.get("icc_profile")
    if icc:
        try:
            name, space = _profile_facts(bytes(icc))
        except Exception as exc:  # noqa: BLE001 - LittleCMS rejects bad profiles in several ways
            warn_image(label, f"ICC profile unreadable ({one_line(exc)}); pixels taken as sRGB")
            return None
        return ColourTag(name, bytes(icc), space)
    if info.get("nclx_profile") and im.mode in ("RGB", "RGBA"):
        return _nclx_tag(info["nclx_profile"], label)
    if im.format != "PNG" or "srgb" in info:
        return None
    gamma, chroma = info.get("gamma"), info.get("chromaticity")
    if gamma is None and chroma is None:
        return None
    grey = im.mode in GREY_MODES
    try:
        icc = _png_gamma_profile(gamma, chroma, grey=grey)
    except ValueError as exc:
        warn_image(label, f"{exc}; pixels taken as sRGB")
        return None
    name = " + ".join(
        part
        for part in (f"gAMA {gamma:g}" if gamma is not None else "", "cHRM" if chroma and not grey else "")
        if part
    )
    return ColourTag(name, icc, "GRAY" if grey else "RGB")


@functools.lru_cache(maxsize=32)
def _profile_facts(icc: bytes) -> tuple[str, str]:
    from PIL import ImageCms

    profile = ImageCms.ImageCmsProfile(io.BytesIO(icc))
    name = " ".join(ImageCms.getProfileDescription(profile).split()) or "unnamed ICC profile"
    return name, profile.profile.xcolor_space.strip()


@functools.lru_cache(maxsize=32)
def transform_to_srgb(icc: bytes, mode: str) -> tuple[ImageCmsTransform, bool]:
    """LittleCMS transform from ``icc`` to sRGB, and whether it is the identity to one level.

    Parameters
    ----------
    icc : bytes
        The source ICC profile.
    mode : {"RGB", "CMYK"}
        The Pillow mode of the images to convert.

    Returns
    -------
    transform : PIL.ImageCms.ImageCmsTransform
        Relative colorimetric with black point compensation, to 8-bit sRGB.
    identity : bool
        True when no 8-bit value of a probe of greys, ramps and a cube moves by more than one
        level (always False for CMYK).
    """
    from PIL import ImageCms

    source = ImageCms.ImageCmsProfile(io.BytesIO(icc))
    transform = ImageCms.buildTransform(
        source, ImageCms.createProfile("sRGB"), mode, "RGB",
        renderingIntent=_INTENT, flags=_BPC,  # type: ignore[arg-type] # the enums' int values
    )
    if mode == "CMYK":
        return transform, False
    out = np.asarray(transform.apply(Image.fromarray(_PROBE_RGB, "RGB")), dtype=np.int16)
    return transform, bool(np.abs(out - _PROBE_RGB).max() <= 1)


@functools.lru_cache(maxsize=32)
def grey_to_srgb(icc: bytes) -> tuple[NDArray[np.uint8], bool]:
    """Look-up table (256, 3) from a greyscale profile's levels to sRGB, and whether it is the identity.

    Built without LittleCMS's 8-bit optimisation, which is several levels off in the steep
    shadows of a linear-light curve; a table of 256 entries costs nothing.

    Parameters
    ----------
    icc : bytes
        A greyscale ICC profile.

    Returns
    -------
    lut : ndarray of uint8, shape (256, 3)
        The sRGB colour of each grey level.
    identity : bool
        True when no level moves by more than one.
    """
    from PIL import ImageCms

    transform = ImageCms.buildTransform(
        ImageCms.ImageCmsProfile(io.BytesIO(icc)), ImageCms.createProfile("sRGB"), "L", "RGB",
        renderingIntent=_INTENT, flags=_BPC | _NO_OPTIMIZE,  # type: ignore[arg-type]
    )
    lut = np.asarray(transform.apply(Image.fromarray(_PROBE_GREY, "L")))[0]
    identity = bool(np.abs(lut.astype(np.int16) - _PROBE_GREY[0, :, None]).max() <= 1)
    return lut, identity


def _probe_rgb() -> NDArray[np.uint8]:
    """Every grey, every level of each primary and secondary, and a 16-step cube."""
    ramp = np.arange(256, dtype=np.uint8)
    zero = np.zeros(256, np.uint8)
    lines = [np.stack([ramp, ramp, ramp], -1)]
    for r, g, b in [(1, 0, 0), (0, 1, 0), (0, 0, 1), (1, 1, 0), (0, 1, 1), (1, 0, 1)]:
        lines.append(np.stack([ramp if r else zero, ramp if g else zero, ramp if b else zero], -1))
    steps = np.arange(0, 256, 17, dtype=np.uint8)
    cube = np.stack(np.meshgrid(steps, steps, steps, indexing="ij"), -1).reshape(-1, 3)
    return np.ascontiguousarray(np.concatenate([*lines, cube])[None])


_PROBE_RGB = _probe_rgb()
_PROBE_GREY = np.arange(256, dtype=np.uint8)[None]

# -- ICC profiles for PNG gAMA/cHRM (LittleCMS builds such profiles, but Pillow does not expose it)

_D50 = (0.9642, 1.0, 0.8249)
_SRGB_CHROMATICITY = (0.3127, 0.3290, 0.64, 0.33, 0.30, 0.60, 0.15, 0.06)  # white, R, G, B (x, y)
_SRGB_TRC = (2.4, 1 / 1.055, 0.055 / 1.055, 1 / 12.92, 0.04045)  # ICC parametric curve type 3
_BRADFORD = np.array([[0.8951, 0.2664, -0.1614], [-0.7502, 1.7135, 0.0367], [0.0389, -0.0685, 1.0296]])


def _s15f16(value: float) -> bytes:
    return struct.pack(">i", round(value * 65536))


def _xyz_tag(xyz: Iterable[float]) -> bytes:
    return b"XYZ \0\0\0\0" + b"".join(_s15f16(v) for v in xyz)


def _curve_tag(params: tuple[float, ...]) -> bytes:
    """ICC ``para`` curve: ``(g,)`` is ``Y = X**g``; five numbers are the sRGB-style type 3."""
    kind = {1: 0, 5: 3}[len(params)]
    return b"para\0\0\0\0" + struct.pack(">HH", kind, 0) + b"".join(_s15f16(v) for v in params)


def _text_tag(text: str) -> bytes:
    ascii_text = text.encode("ascii") + b"\0"
    # ICC v2 textDescriptionType: ASCII, then empty Unicode and ScriptCode parts.
    return b"desc\0\0\0\0" + struct.pack(">I", len(ascii_text)) + ascii_text + bytes(8 + 3 + 67)


def icc_matrix_profile(
    description: str, curve: tuple[float, ...], chromaticity: Sequence[float] | None = None
) -> bytes:
    """A small ICC v2 display profile: RGB from primaries and white point, or greyscale.

    Parameters
    ----------
    description : str
        ASCII text for the profile's ``desc`` tag.
    curve : tuple of float
        Tone curve from encoded value to linear light: ``(g,)`` for a pure power, or the five
        numbers ``(g, a, b, c, d)`` of ICC parametric curve type 3 (sRGB's shape).
    chromaticity : 8 floats, optional
        ``(wx, wy, rx, ry, gx, gy, bx, by)``, as in a PNG ``cHRM`` chunk. None makes a
        greyscale profile.

    Returns
    -------
    bytes
        The profile; colorants adapted to D50 with the Bradford transform, as ICC requires.
    """
    trc = _curve_tag(curve)
    if chromaticity is None:
        space, tags = b"GRAY", [(b"kTRC", trc)]
    else:
        columns = _rgb_to_xyz_d50(chromaticity).T
        space = b"RGB "
        tags = [(b"rXYZ", _xyz_tag(columns[0])), (b"gXYZ", _xyz_tag(columns[1])), (b"bXYZ", _xyz_tag(columns[2]))]
        tags += [(b"rTRC", trc), (b"gTRC", trc), (b"bTRC", trc)]
    tags = [(b"desc", _text_tag(description)), (b"wtpt", _xyz_tag(_D50)), *tags]
    table, body, offsets = [], b"", {}
    start = 128 + 4 + 12 * len(tags)
    for sig, data in tags:
        if data not in offsets:  # the three TRCs share one curve
            offsets[data] = start + len(body)
            body += data + bytes(-len(data) % 4)
        table.append(sig + struct.pack(">II", offsets[data], len(data)))
    size = start + len(body)
    header = (
        struct.pack(">I", size) + bytes(4) + struct.pack(">I", 0x02100000) + b"mntr" + space + b"XYZ "
        + bytes(12) + b"acsp" + bytes(24) + struct.pack(">I", 0) + b"".join(_s15f16(v) for v in _D50)
        + bytes(4 + 16 + 28)
    )
    return header + struct.pack(">I", len(tags)) + b"".join(table) + body


def _rgb_to_xyz_d50(chromaticity: Sequence[float]) -> NDArray[np.float64]:
    wx, wy, rx, ry, gx, gy, bx, by = (float(v) for v in chromaticity)

    def xyz(x: float, y: float) -> NDArray[np.float64]:
        return np.array([x / y, 1.0, (1.0 - x - y) / y])

    primaries = np.stack([xyz(rx, ry), xyz(gx, gy), xyz(bx, by)], axis=1)
    white = xyz(wx, wy)
    matrix = primaries * np.linalg.solve(primaries, white)
    cone_src, cone_d50 = _BRADFORD @ white, _BRADFORD @ np.array(_D50)
    adapt = np.linalg.solve(_BRADFORD, np.diag(cone_d50 / cone_src) @ _BRADFORD)
    return adapt @ matrix


def _png_gamma_profile(gamma: float | None, chromaticity: Sequence[float] | None, *, grey: bool) -> bytes:
    """Profile for a PNG's ``gAMA`` (file gamma, e.g. 0.45455) and ``cHRM`` (sRGB's when absent)."""
    if gamma is not None:
        gamma = float(gamma)
        if not (math.isfinite(gamma) and 0.01 <= gamma <= 100):
            msg = f"gAMA {gamma:g} unusable"
            raise ValueError(msg)
        curve: tuple[float, ...] = (1.0 / gamma,)
    else:
        curve = _SRGB_TRC  # cHRM alone: the tone curve is unknown, sRGB's is the assumption
    desc = " ".join(
        part for part in ("PNG", f"gAMA {gamma:g}" if gamma is not None else "", "cHRM" if chromaticity else "") if part
    )
    if grey:
        return icc_matrix_profile(desc, curve, None)
    if chromaticity is None:
        return icc_matrix_profile(desc, curve, _SRGB_CHROMATICITY)
    return icc_matrix_profile(desc, curve, _checked_chromaticity(chromaticity, "cHRM"))


def _checked_chromaticity(chromaticity: Iterable[Any], what: str) -> list[float]:
    """Eight white/red/green/blue x, y values in 0..1 whose primaries make a triangle, or ValueError."""
    values = [float(v) for v in chromaticity]
    ok = len(values) == 8 and all(math.isfinite(v) and 0 <= v <= 1 for v in values)
    ok = ok and all(values[i] > 0 for i in (1, 3, 5, 7))
    if ok:
        corners = np.c_[np.array(values[2:]).reshape(3, 2), np.ones(3)]
        ok = abs(np.linalg.det(corners)) > 1e-3
    if not ok:
        msg = f"{what} {tuple(values)} unusable"
        raise ValueError(msg)
    return values


# Tone curves of the ITU-T H.273 transfer characteristics a colour-managed viewer maps to an ICC
# curve: BT.709/601/2020 (the inverse of their camera curve, as Skia does), sRGB, linear, gamma.
_BT709_TRC = (1 / 0.45, 1 / 1.099, 0.099 / 1.099, 1 / 4.5, 0.081)
_NCLX_CURVES = {
    1: _BT709_TRC,
    6: _BT709_TRC,
    14: _BT709_TRC,
    15: _BT709_TRC,
    13: _SRGB_TRC,
    2: _SRGB_TRC,
    8: (1.0,),
    4: (2.2,),
    5: (2.8,),
}


def _nclx_tag(nclx: Mapping[str, Any], label: str) -> ColourTag | None:
    """The colour tag of a HEIF's ``nclx`` box (coding-independent code points: primaries and tone curve).

    Read by pillow-heif, with the primaries as chromaticities. Other tone curves, the HDR ones
    (PQ, HLG) among them, have no 8-bit sRGB equivalent here: a warning, and the pixels are
    taken as sRGB.
    """
    primaries, transfer = nclx.get("color_primaries"), nclx.get("transfer_characteristics")
    keys = ("white_x", "white_y", "red_x", "red_y", "green_x", "green_y", "blue_x", "blue_y")
    if transfer not in _NCLX_CURVES:
        warn_image(label, f"nclx tone curve {transfer} (H.273; 16 is PQ, 18 HLG) not supported; pixels taken as sRGB")
        return None
    try:
        chromaticity = _checked_chromaticity([nclx[f"color_primary_{key}"] for key in keys], "nclx primaries")
    except (KeyError, TypeError, ValueError) as exc:
        warn_image(label, f"nclx primaries {primaries} unusable ({one_line(exc)}); pixels taken as sRGB")
        return None
    name = f"nclx primaries {primaries} transfer {transfer}"
    return ColourTag(name, icc_matrix_profile(name, _NCLX_CURVES[transfer], chromaticity), "RGB")
