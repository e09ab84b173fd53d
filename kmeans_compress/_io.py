"""Reading any image Pillow can open, in sRGB, and writing indexed PNGs and WebPs safely.

One image contract for the whole package: ``ndarray`` of ``uint8``, shape ``(H, W, 3)``, or
``(H, W, 4)`` when the image has a real (not all-opaque) alpha channel, in sRGB unless the
caller asked to keep the image's own colour profile.

Colour management is LittleCMS through Pillow's ``ImageCms``: an image tagged with an ICC
profile (or, for a PNG, with ``gAMA``/``cHRM`` only) is converted to sRGB on load, and the
written file says it is sRGB. Nothing else of the input's metadata is written (no EXIF, XMP
or text: photos carry GPS positions and camera serial numbers); only the physical resolution
is carried over.

Writes are atomic: the PNG is written to a temporary file in the target folder and then
renamed, so an interrupted run never leaves a half-written file, and an existing file is never
replaced unless asked. A path that is (or links to) one of the inputs is always refused.

This module imports nothing from the package but the one float-to-uint8 helper and the colour
profiles of :mod:`._icc`.
"""

from __future__ import annotations

import dataclasses
import io as _io
import math
import os
import re
import struct
import tempfile
import warnings
import zlib
from collections.abc import Iterable, Iterator
from pathlib import Path

import numpy as np
from PIL import Image, ImageOps, PngImagePlugin

from ._colorspace import to_uint8
from ._icc import _GREY_MODES, _colour_tag, _grey_to_srgb, _transform_to_srgb, _warn

__all__ = [
    "FORMATS",
    "ImageInfo",
    "InvalidImageError",
    "OutputExistsError",
    "load_image",
    "read_image",
    "check_format",
    "encode_palette",
    "encode_palette_webp",
    "output_format",
    "read_input",
    "image_from_array",
    "png_bit_depth",
    "encode_palette_png",
    "save_palette_png",
    "ProtectedFiles",
    "check_output_path",
    "write_bytes_atomic",
]


class InvalidImageError(ValueError):
    """The input is not an image this package can read (message is one line)."""


class OutputExistsError(FileExistsError):
    """The output path exists (and ``overwrite`` was not given) or is one of the inputs."""


def _one_line(text):
    return " ".join(str(text).split())


def _label(source):
    if isinstance(source, (str, os.PathLike)):
        return os.fspath(source)
    return getattr(source, "name", None) or type(source).__name__


# ---------------------------------------------------------------------------------------------
# Loading
# ---------------------------------------------------------------------------------------------


@dataclasses.dataclass(frozen=True)
class ImageInfo:
    """What :func:`read_image` learnt about a file besides its pixels, for the writer.

    Attributes
    ----------
    format : str or None
        Pillow's name for the input format (``"PNG"``, ``"JPEG"``, ``"WEBP"``, ``"AVIF"``,
        ``"HEIF"``, ...); None for arrays and for images made in memory.
    dpi : tuple of float or None
        Physical resolution (dots per inch, x and y), when the input states one; the PNG
        writer keeps it.
    profile : str or None
        The input's colour tag: the ICC profile's description, or ``"gAMA 0.45455"``-like text
        for a PNG tagged with ``gAMA``/``cHRM`` only; None when the input has none (sRGB).
    converted : bool
        True when the pixels were converted from that tag to sRGB (False when untagged, when
        the tag is sRGB in all but name, when the tag was unusable, or when it was kept).
    icc_profile : bytes or None
        The ICC profile the returned pixels are in, to embed in the output; set only when
        ``keep_profile=True`` and the profile could be kept. None means sRGB.
    """

    format: str | None = None
    dpi: tuple[float, float] | None = None
    profile: str | None = None
    converted: bool = False
    icc_profile: bytes | None = None


def load_image(source):
    """Load an image as a ``uint8`` array in sRGB, whatever its mode.

    Same as ``read_image(source)[0]``; see :func:`read_image`.
    """
    return read_image(source)[0]


def read_image(source, *, keep_profile=False):
    """Load an image as a ``uint8`` array, and what the writer needs to know about it.

    Parameters
    ----------
    source : str, os.PathLike, binary file object, PIL.Image.Image or ndarray
        A path or open file is decoded with Pillow (decompression-bomb protection stays on).
        A ``PIL.Image`` is converted (its first frame, turned upright by its EXIF orientation,
        colour-managed by its ``info``). An array goes through :func:`image_from_array` and is
        taken as sRGB.
    keep_profile : bool, default False
        Leave the pixels in the space of the input's RGB ICC profile and return that profile in
        ``info.icc_profile``, for an output that embeds it (``iCCP``) instead of converting to
        sRGB. Greyscale and CMYK profiles cannot tag a colour palette image: those inputs are
        converted to sRGB, with a warning.

    Returns
    -------
    image : ndarray of uint8, shape (H, W, 3) or (H, W, 4)
        RGB, or RGBA when the image has an alpha channel that is not entirely opaque.
    info : ImageInfo
        Input format, DPI, the colour tag and whether the pixels were converted.

    Raises
    ------
    InvalidImageError
        When the file is missing, empty, not an image, truncated, corrupt, or declares more
        pixels than ``PIL.Image.MAX_IMAGE_PIXELS`` (about 89 million by default; Pillow itself
        only warns up to twice that, this function refuses, before decoding anything); and for
        a HEIC/HEIF file when ``pillow-heif`` is not installed (the message says what to
        install). The message is a single line that starts with the file name.
    TypeError
        When ``source`` is none of the types above.

    Notes
    -----
    * Colour management: an embedded ICC profile (RGB, greyscale, or CMYK for CMYK images),
      or a PNG's ``gAMA``/``cHRM`` chunks when it has no ``iCCP`` or ``sRGB`` chunk, is
      converted to sRGB by LittleCMS with the relative colorimetric intent and black point
      compensation, which is how colour-managed browsers show a tagged image on an sRGB
      screen: colours inside sRGB stay exactly as the tag says, the white stays white, colours
      outside sRGB are clipped to its edge (the RGB profiles of phones and cameras are matrix
      profiles with no perceptual tables, so the perceptual intent would change nothing), and
      a print profile's ink black becomes the screen's black. A tag that moves no 8-bit value
      by more than one level (an sRGB profile, whatever its name) leaves the pixels as they
      are. A profile that cannot be read or used gets a ``UserWarning`` and the pixels are
      taken as sRGB. Untagged images are not touched.
    * EXIF orientation is applied (``ImageOps.exif_transpose``).
    * Modes: ``1`` and ``L`` become grey RGB; ``LA``, ``PA``, ``La``, ``RGBa`` and ``P`` with a
      transparency entry become RGBA, and so do grey and RGB images with a PNG colour key
      (``tRNS``: the pixels of that one value are fully transparent); ``CMYK``, ``YCbCr``,
      ``LAB``, ``HSV``, ``RGBX`` are converted by Pillow to RGB (CMYK through its profile when
      it has one). 16-bit modes (``I;16``, ``I;16B``, ...) are scaled to 8 bits with
      ``round(v * 255 / 65535)``. ``I`` (32-bit integer) and ``F`` (float) are read as 16-bit
      data when the file stores 16-bit samples or their maximum exceeds 255, as 8-bit
      otherwise, and ``F`` data whose maximum is at most 1 as 0..1 floats; values outside the
      range are clipped.
    * Multi-frame files (animated GIF/PNG/WebP/AVIF, multi-page TIFF): the first frame is used,
      with a ``UserWarning``.
    * HEIC/HEIF (the format iPhones save) is read through the optional ``pillow-heif``
      package (``pip install kmeans-compress[heif]``); WebP and AVIF through Pillow.
    """
    if isinstance(source, np.ndarray):
        return image_from_array(source), ImageInfo()
    label = _label(source)
    if isinstance(source, Image.Image):
        return _decode(_first_frame(source, label), label, keep_profile=keep_profile)
    if not isinstance(source, (str, bytes, os.PathLike)) and not hasattr(source, "read"):
        msg = (
            f"Expected a path, a binary file object, a PIL.Image or an ndarray, got "
            f"{type(source).__name__}."
        )
        raise TypeError(msg)
    try:
        with warnings.catch_warnings():
            # Pillow only warns between MAX_IMAGE_PIXELS and twice that: refuse those too, before
            # any pixel memory is allocated.
            warnings.simplefilter("error", Image.DecompressionBombWarning)
            with _open(source, label) as im:
                im = _first_frame(im, label)
                sixteen_bit = _stored_as_16_bit(im)  # the tile list is gone after load()
                im.load()
                return _decode(im, label, keep_profile=keep_profile, sixteen_bit=sixteen_bit)
    except (Image.DecompressionBombError, Image.DecompressionBombWarning) as exc:
        msg = (
            f"{label}: refused, image too large ({_one_line(exc)} "
            "Raise PIL.Image.MAX_IMAGE_PIXELS to allow it.)"
        )
        raise InvalidImageError(msg) from None
    except _UNREADABLE as exc:
        raise _unreadable(label, exc) from None
    except Image.UnidentifiedImageError:
        msg = f"{label}: not an image file Pillow can read"
        raise InvalidImageError(msg) from None
    except InvalidImageError:
        raise
    except MemoryError:
        raise
    except Exception as exc:  # noqa: BLE001 - Pillow's decoders raise many types on corrupt data
        msg = f"{label}: cannot decode image ({type(exc).__name__}: {_one_line(exc)})"
        raise InvalidImageError(msg) from None


_UNREADABLE = (FileNotFoundError, IsADirectoryError, PermissionError)


def _unreadable(label, exc):
    if isinstance(exc, FileNotFoundError):
        reason = "no such file"
    elif isinstance(exc, IsADirectoryError):
        reason = "is a directory, not an image file"
    else:
        reason = "permission denied"
    return InvalidImageError(f"{label}: {reason}")


def read_input(path):
    """The bytes of an input file, refused with :func:`load_image`'s one-line messages.

    For work done elsewhere (another process or machine) on the file's contents.

    Raises
    ------
    InvalidImageError
        When the file is missing, a folder, or not readable.
    """
    try:
        return Path(path).read_bytes()
    except _UNREADABLE as exc:
        raise _unreadable(os.fspath(path), exc) from None
# ISO base media file brands of HEIF images (HEVC-coded and generic); AVIF ("avif", "avis")
# is Pillow's own.
_HEIF_BRANDS = {b"heic", b"heix", b"heim", b"heis", b"hevc", b"hevx", b"hevm", b"hevs", b"mif1", b"msf1"}
_HEIF_HINT = "a HEIC/HEIF image; reading it needs pillow-heif: pip install kmeans-compress[heif]"


def _is_heif(head):
    return len(head) >= 12 and head[4:8] == b"ftyp" and head[8:12] in _HEIF_BRANDS


def _open(source, label):
    """``Image.open``, and for a HEIF file that Pillow alone does not know, pillow-heif."""
    try:
        return Image.open(source)
    except Image.UnidentifiedImageError:
        if isinstance(source, (str, os.PathLike)):
            with open(source, "rb") as fh:
                head = fh.read(16)
        elif hasattr(source, "seek"):
            source.seek(0)
            head = source.read(16)
            source.seek(0)
        else:
            raise
        if not _is_heif(head) or "HEIF" in Image.OPEN:
            raise
        try:
            from pillow_heif import register_heif_opener
        except ImportError:
            msg = f"{label}: {_HEIF_HINT}"
            raise InvalidImageError(msg) from None
        register_heif_opener()
        return Image.open(source)


def _dpi(info):
    dpi = info.get("dpi")
    try:
        x, y = (float(v) for v in dpi)
    except (TypeError, ValueError):
        return None
    if not (math.isfinite(x) and math.isfinite(y) and x > 0 and y > 0):
        return None
    return (x, y)


def _decode(im, label, *, keep_profile=False, sixteen_bit=False):
    """Pixels of an opened (first-frame) image: upright, colour-managed, in the contract."""
    tag = _colour_tag(im, label)
    dpi = _dpi(im.info)
    fmt = im.format
    im = _apply_orientation(im, label)
    if tag is None:
        arr = _pil_to_array(im, sixteen_bit=sixteen_bit)
        return arr, ImageInfo(format=fmt, dpi=dpi)
    arr, converted, kept = _manage_colour(im, tag, label, keep_profile=keep_profile, sixteen_bit=sixteen_bit)
    return arr, ImageInfo(format=fmt, dpi=dpi, profile=tag.name, converted=converted, icc_profile=kept)


# ---------------------------------------------------------------------------------------------
# Colour management (the profiles themselves: _icc.py)
# ---------------------------------------------------------------------------------------------




def _manage_colour(im, tag, label, *, keep_profile, sixteen_bit):
    """Pixels of ``im`` in sRGB (or in the tag's own space when kept): (array, converted, kept)."""
    try:
        if tag.space == "CMYK":
            if im.mode != "CMYK":
                _warn(label, f"CMYK ICC profile ({tag.name}) on a {im.mode} image ignored; pixels taken as sRGB")
                return _pil_to_array(im, sixteen_bit=sixteen_bit), False, None
            if keep_profile:
                _warn(label, f"a CMYK profile ({tag.name}) cannot tag the output; converted to sRGB")
            transform, _ = _transform_to_srgb(tag.icc, "CMYK")
            return image_from_array(np.asarray(transform.apply(im))), True, None
        arr = _pil_to_array(im, sixteen_bit=sixteen_bit)
        if tag.space == "RGB":
            if keep_profile:
                return arr, False, tag.icc
            transform, identity = _transform_to_srgb(tag.icc, "RGB")
            if identity:
                return arr, False, None
            rgb = np.asarray(transform.apply(Image.fromarray(np.ascontiguousarray(arr[..., :3]), "RGB")))
            return _with_alpha(rgb, arr), True, None
        if tag.space == "GRAY":
            if im.mode not in _GREY_MODES:
                _warn(label, f"greyscale ICC profile ({tag.name}) on a {im.mode} image ignored; pixels taken as sRGB")
                return arr, False, None
            if keep_profile:
                _warn(label, f"a greyscale profile ({tag.name}) cannot tag a colour palette; converted to sRGB")
            lut, identity = _grey_to_srgb(tag.icc)
            if identity:
                return arr, False, None
            return _with_alpha(lut[arr[..., 0]], arr), True, None
        _warn(label, f"ICC profile ({tag.name}) is for {tag.space or 'an unknown'} colour, not RGB; pixels taken as sRGB")
        return _pil_to_array(im, sixteen_bit=sixteen_bit), False, None
    except InvalidImageError:
        raise
    except Exception as exc:  # noqa: BLE001 - an unusable profile must not make the image unreadable
        _warn(label, f"ICC profile ({tag.name}) unusable ({_one_line(exc)}); pixels taken as sRGB")
        return _pil_to_array(im, sixteen_bit=sixteen_bit), False, None


def _with_alpha(rgb, original):
    if original.shape[2] == 4:
        return np.ascontiguousarray(np.dstack([rgb, original[..., 3]]))
    return np.ascontiguousarray(rgb)


def _first_frame(im, label):
    n_frames = getattr(im, "n_frames", 1)
    if n_frames > 1:
        warnings.warn(f"{label} has {n_frames} frames; using the first", UserWarning, stacklevel=3)
        im.seek(0)
    return im


_EXIF_ORIENTATION = 0x0112


def _apply_orientation(im, label):
    try:
        im.load()  # as exif_transpose does: a PNG's eXIf chunk may follow its pixels
        if im.getexif().get(_EXIF_ORIENTATION, 1) not in range(2, 9):
            return im  # upright already: exif_transpose would return a copy, as large as the image
        return ImageOps.exif_transpose(im)
    except Exception as exc:  # noqa: BLE001 - corrupt EXIF must not make the image unreadable
        warnings.warn(f"{label}: EXIF orientation ignored ({_one_line(exc)})", UserWarning, stacklevel=3)
        return im


def _stored_as_16_bit(im):
    """True when the file stores 16-bit samples that Pillow decodes into a 32-bit ``I`` image.

    Older Pillow (10.1, for one) opens 16-bit greyscale PNGs as mode ``I`` (raw mode ``I;16B``);
    without this a dark 16-bit scan (every value at most 255) would be taken for 8-bit data.
    """
    for tile in getattr(im, "tile", None) or ():
        args = tile[3] if len(tile) > 3 else None
        rawmode = args[0] if isinstance(args, tuple) and args else args
        if isinstance(rawmode, str) and rawmode.startswith("I;16"):
            return True
    return False


def _scale_high_range(values, mode, sixteen_bit=False):
    """Float array from a 16/32-bit or float mode -> uint8, following load_image's rules."""
    values = values.astype(np.float64)
    vmax = float(values.max()) if values.size else 0.0
    if mode.startswith("I;16") or sixteen_bit or vmax > 255:
        return to_uint8(np.clip(values, 0, 65535) * (255.0 / 65535.0))
    if mode == "F" and vmax <= 1.0:
        return to_uint8(values * 255.0)
    return to_uint8(values)


def _pil_to_array(im, *, sixteen_bit=False):
    mode = im.mode
    # A PNG colour key (tRNS chunk on a grey or RGB image): pixels of that value are transparent.
    key = im.info.get("transparency") if mode in ("1", "L", "RGB", "I", "I;16", "I;16B") else None
    if mode in ("RGB", "RGBA"):
        arr = _rows_to_array(im.convert("RGBA") if key is not None else im)
    elif mode in ("1", "L"):
        arr = np.asarray(im.convert("RGBA" if key is not None else "L"))
    elif mode == "P":
        has_alpha = "transparency" in im.info or im.palette.mode == "RGBA"
        arr = np.asarray(im.convert("RGBA" if has_alpha else "RGB"))
    elif mode in ("LA", "La", "PA", "RGBa"):
        arr = np.asarray(im.convert("RGBA"))
    elif mode.startswith("I;16") or mode in ("I", "F"):
        values = np.asarray(im)
        arr = _scale_high_range(values, mode, sixteen_bit and mode == "I")
        if isinstance(key, int):
            arr = np.dstack([arr, arr, arr, np.where(values == key, 0, 255).astype(np.uint8)])
    else:  # CMYK, YCbCr, LAB, HSV, RGBX, ...
        try:
            arr = np.asarray(im.convert("RGB"))
        except ValueError:
            msg = f"image mode {mode!r} cannot be converted to RGB"
            raise InvalidImageError(msg) from None
    return image_from_array(arr)


# Pixels per band in _rows_to_array.
_ROWS_PIXELS = 1 << 20


def _rows_to_array(im):
    """``np.asarray(im)`` for an RGB or RGBA image, a band of rows at a time.

    ``np.asarray`` goes through ``Image.tobytes``, which holds the pixels twice (its chunks, then
    their join); band by band, the array is the only full-size copy beside the image.
    """
    width, height = im.size
    step = max(1, _ROWS_PIXELS // max(1, width))
    if height <= step:
        return np.asarray(im)
    out = np.empty((height, width, len(im.mode)), np.uint8)
    for r0 in range(0, height, step):
        out[r0 : r0 + step] = np.asarray(im.crop((0, r0, width, min(height, r0 + step))))
    return out


def image_from_array(array):
    """Bring an array to the package's image contract.

    Parameters
    ----------
    array : ndarray, shape (H, W), (H, W, 1), (H, W, 2), (H, W, 3) or (H, W, 4)
        ``uint8`` is taken as is; ``bool`` as 0/255; ``uint16`` is scaled from 0..65535; floats
        must lie in 0..1 and are scaled by 255. Grey (with alpha, if 2 channels) becomes RGB(A).

    Returns
    -------
    ndarray of uint8, shape (H, W, 3) or (H, W, 4), C-contiguous. An alpha channel that is
    entirely 255 is dropped.
    """
    arr = np.asarray(array)
    if arr.ndim == 3 and arr.shape[2] == 1:
        arr = arr[:, :, 0]
    if arr.ndim not in (2, 3) or (arr.ndim == 3 and arr.shape[2] not in (2, 3, 4)):
        msg = (
            f"Expected an image of shape (H, W), (H, W, 3) or (H, W, 4), got shape {arr.shape}. "
            "A flat pixel array of shape (N, 3) must be reshaped to (H, W, 3) first."
        )
        raise ValueError(msg)
    if arr.shape[0] == 0 or arr.shape[1] == 0:
        msg = f"Expected a non-empty image, got shape {arr.shape}."
        raise ValueError(msg)
    if arr.dtype == np.uint8:
        pass
    elif arr.dtype == np.bool_:
        arr = arr.astype(np.uint8) * 255
    elif arr.dtype == np.uint16:
        arr = to_uint8(arr * (255.0 / 65535.0))
    elif np.issubdtype(arr.dtype, np.floating):
        if not np.all(np.isfinite(arr)) or arr.min() < 0 or arr.max() > 1:
            msg = (
                f"Float images must hold values in [0, 1], got range "
                f"[{np.nanmin(arr):.4g}, {np.nanmax(arr):.4g}]; scale them or pass uint8."
            )
            raise ValueError(msg)
        arr = to_uint8(arr * 255.0)
    else:
        msg = f"Expected an image of dtype uint8, uint16, bool or float, got {arr.dtype}."
        raise TypeError(msg)
    if arr.ndim == 2:
        arr = np.repeat(arr[:, :, None], 3, axis=2)
    elif arr.shape[2] == 2:
        arr = np.concatenate([np.repeat(arr[:, :, :1], 3, axis=2), arr[:, :, 1:]], axis=2)
    if arr.shape[2] == 4 and np.all(arr[:, :, 3] == 255):
        arr = arr[:, :, :3]
    return np.ascontiguousarray(arr)


# ---------------------------------------------------------------------------------------------
# Saving
# ---------------------------------------------------------------------------------------------


def png_bit_depth(n_colors):
    """Smallest PNG palette bit depth (1, 2, 4 or 8) that holds ``n_colors`` entries.

    Raises
    ------
    ValueError
        If ``n_colors`` is not in 1..256.
    """
    if isinstance(n_colors, bool) or not isinstance(n_colors, (int, np.integer)) or not 1 <= n_colors <= 256:
        msg = f"A PNG palette holds 1 to 256 colours, got {n_colors!r}."
        raise ValueError(msg)
    for bits in (1, 2, 4):
        if n_colors <= 1 << bits:
            return bits
    return 8


# Optional recompression with oxipng (the pyoxipng package): libdeflate at this level for images
# up to _OXIPNG_BIG_PIXELS pixels, _OXIPNG_BIG_LEVEL above: from level 10 on libdeflate searches
# for the best parse, several times slower on a large image for a few per cent of bytes.
_OXIPNG_LEVEL = 12
_OXIPNG_BIG_LEVEL = 9
_OXIPNG_BIG_PIXELS = 4_000_000
_OPTIMIZERS = ("auto", "oxipng", "pillow")


# The tRNS contents that Pillow's PNG reader mistakes for "one fully transparent index, the rest
# opaque" (see encode_palette_png).
_PILLOW_MISREADS_TRNS = re.compile(rb"\xff*\x00\xff*\n", re.DOTALL)


def _oxipng_module():
    try:
        import oxipng
    except ImportError:
        return None
    return oxipng


def _check_palette_labels(palette, labels):
    palette = np.asarray(palette)
    labels = np.asarray(labels)
    if palette.ndim != 2 or palette.shape[1] not in (3, 4) or palette.dtype != np.uint8:
        msg = f"palette must be a uint8 array of shape (k, 3) or (k, 4), got {palette.dtype} {palette.shape}."
        raise ValueError(msg)
    k = palette.shape[0]
    png_bit_depth(k)  # validates k; Pillow derives the same depth from the palette length
    if labels.ndim != 2 or labels.size == 0:
        msg = f"labels must be a non-empty 2-D array, got shape {labels.shape}."
        raise ValueError(msg)
    if labels.dtype.kind not in "ui" or labels.min() < 0 or labels.max() >= k:
        msg = f"labels must be integers in 0..{k - 1}, got {labels.dtype} in [{labels.min()}, {labels.max()}]."
        raise ValueError(msg)
    return palette, labels


def encode_palette_png(palette, labels, *, compress_level=9, optimizer="auto", icc_profile=None, dpi=None):
    """Encode an indexed (mode ``P``) PNG in memory.

    Parameters
    ----------
    palette : ndarray of uint8, shape (k, 3) or (k, 4)
        ``k`` in 1..256. With 4 columns the alphas go into a ``tRNS`` chunk.
    labels : ndarray of unsigned int, shape (H, W)
        Index into ``palette`` for every pixel.
    compress_level : int, default 9
        zlib effort of the Pillow encoder (9 is the maximum; Pillow's ``optimize`` is also on).
        Used when the file is not recompressed by oxipng.
    optimizer : {"auto", "oxipng", "pillow"}, default "auto"
        ``"oxipng"`` recompresses the image data with oxipng's libdeflate (the ``pyoxipng``
        package), unfiltered rows; ``"pillow"`` keeps Pillow's zlib; ``"auto"`` uses oxipng
        when it is installed. The palette, its order (but see the Notes), the bit depth and
        every index stay as given, so the file decodes to exactly ``palette[labels]`` either way.
    icc_profile : bytes, optional
        ICC profile the palette's colours are in, embedded as an ``iCCP`` chunk
        (``read_image(..., keep_profile=True)`` gives it). Without one the file says it is
        sRGB with an ``sRGB`` chunk (13 bytes), so colour-managed viewers show it as intended.
    dpi : tuple of float, optional
        Physical resolution written as a ``pHYs`` chunk (``ImageInfo.dpi``).

    Returns
    -------
    bytes
        The PNG file, at the smallest bit depth holding ``k`` colours (1, 2, 4 or 8 bits).
        Its chunks are ``IHDR``, ``sRGB`` or ``iCCP``, ``pHYs`` when ``dpi`` is given, ``PLTE``,
        ``tRNS`` when the palette has alpha, ``IDAT`` and ``IEND``: no EXIF, XMP, text or time.

    Notes
    -----
    The deflate encoder decides the size: libdeflate's high levels write smaller files than
    zlib's best, at a cost in time that grows with the image, so large images get a lower
    level (the README's benchmark gives the figures). Row filters do not help indexed images
    and the palette order hardly changes the size, so both stay as they are.

    One exception to "as given": Pillow's own PNG reader misreads a ``tRNS`` of 255s, one 0,
    255s and a final 10 (an entry of alpha 10 after the transparent one, with only opaque
    entries between) as a single transparent index. The file then gets one more opaque
    ``tRNS`` byte, or, when that entry is the last, it moves to the front of the palette; it
    still decodes to exactly ``palette[labels]``.
    """
    palette = np.asarray(palette)
    labels = np.asarray(labels)
    if optimizer not in _OPTIMIZERS:
        msg = f"optimizer must be one of {_OPTIMIZERS}, got {optimizer!r}."
        raise ValueError(msg)
    oxipng = _oxipng_module() if optimizer != "pillow" else None
    if optimizer == "oxipng" and oxipng is None:
        msg = "optimizer='oxipng' needs the pyoxipng package: pip install pyoxipng (or use optimizer='pillow')."
        raise ValueError(msg)
    palette, labels = _check_palette_labels(palette, labels)
    palette, labels = _last_entry_first_if_misread(palette, labels)
    height, width = labels.shape
    raw = np.ascontiguousarray(labels, dtype=np.uint8).tobytes()
    im = Image.frombuffer("P", (width, height), raw, "raw", "P", 0, 1)
    im.putpalette(palette[:, :3].tobytes(), rawmode="RGB")
    if oxipng is not None:  # a fast first pass: oxipng recompresses the image data anyway
        params = {"compress_level": 0}
    else:
        params = {"optimize": True, "compress_level": compress_level}
    if icc_profile:
        params["icc_profile"] = bytes(icc_profile)
    else:
        # Rendering intent 0 (perceptual), the value encoders write for photographs.
        srgb = PngImagePlugin.PngInfo()
        srgb.add(b"sRGB", b"\x00")
        params["pnginfo"] = srgb
    if dpi is not None:
        params["dpi"] = tuple(float(v) for v in dpi)
    if palette.shape[1] == 4:
        alpha = palette[:, 3]
        opaque_tail = len(alpha)
        while opaque_tail > 0 and alpha[opaque_tail - 1] == 255:
            opaque_tail -= 1
        if opaque_tail:
            params["transparency"] = alpha[:opaque_tail].tobytes()
    buf = _io.BytesIO()
    im.save(buf, format="PNG", **params)
    data = buf.getvalue()
    if oxipng is not None:
        level = _OXIPNG_LEVEL if height * width <= _OXIPNG_BIG_PIXELS else _OXIPNG_BIG_LEVEL
        data = oxipng.optimize_from_memory(
            data,
            level=2,
            force=True,
            filter=[oxipng.RowFilter.NoOp],
            deflate=oxipng.Deflaters.libdeflater(level),
            bit_depth_reduction=False,
            color_type_reduction=False,
            palette_reduction=False,
            grayscale_reduction=False,
            optimize_alpha=False,
            strip=oxipng.StripChunks.none(),  # keep the colour tag and pHYs; nothing else is there
        )
    return _readable_trns(data, len(palette))


def _last_entry_first_if_misread(palette, labels):
    """Move the last entry first when its alpha of 10 would end a tRNS that Pillow misreads.

    See :func:`_readable_trns`, which handles every other case; here no opaque entry follows,
    so the entry moves instead (the file still decodes to exactly ``palette[labels]``).
    """
    if palette.shape[1] != 4 or len(palette) < 2 or palette[-1, 3] != 10:
        return palette, labels
    if not _PILLOW_MISREADS_TRNS.fullmatch(palette[:, 3].tobytes()):
        return palette, labels
    order = np.r_[len(palette) - 1, np.arange(len(palette) - 1)]
    position = np.empty(len(palette), np.uint8)
    position[order] = np.arange(len(palette))
    return np.ascontiguousarray(palette[order]), position[labels]


def _readable_trns(data, n_entries):
    """``data`` with its tRNS chunk one opaque byte longer when Pillow would misread it.

    Pillow reads a tRNS of "255s, one 0, 255s, then 10" as a single fully transparent entry (its
    pattern's ``$`` also matches before a final byte 10, a newline), so the entry of alpha 10
    would read back opaque. One more byte, 255 for the next (opaque) entry, is the same alpha for
    every entry in any reader. When the entry of alpha 10 is the palette's last, nothing can be
    added and the file is left as it is (it is correct; Pillow misreads it).
    """
    start = data.find(b"tRNS") - 4
    if start < 8:
        return data
    (length,) = struct.unpack(">I", data[start : start + 4])
    trns = data[start + 8 : start + 8 + length]
    if not _PILLOW_MISREADS_TRNS.fullmatch(trns) or length >= n_entries:
        return data
    body = b"tRNS" + trns + b"\xff"
    chunk = struct.pack(">I", length + 1) + body + struct.pack(">I", zlib.crc32(body))
    return data[:start] + chunk + data[start + 12 + length :]


# Lossless WebP effort, chosen by benchmarks/bench_webp.py: see the README.
_WEBP_METHOD = 4
_WEBP_QUALITY = 100
FORMATS = ("png", "webp")


def encode_palette_webp(palette, labels, *, icc_profile=None, method=_WEBP_METHOD, quality=_WEBP_QUALITY):
    """Encode a palette image as a lossless WebP in memory.

    libwebp stores images of at most 256 colours with its own palette (colour-indexing)
    transform, so the file decodes to exactly ``palette[labels]``, alpha included, as the PNG
    from :func:`encode_palette_png` does (the colour under a fully transparent pixel is kept).

    Parameters
    ----------
    palette : ndarray of uint8, shape (k, 3) or (k, 4)
    labels : ndarray of unsigned int, shape (H, W)
    icc_profile : bytes, optional
        Embedded as the WebP ``ICCP`` chunk. Without one the file is untagged, which WebP
        readers take as sRGB (WebP has no sRGB marker).
    method : int, default 4
        libwebp effort, 0 (fastest) to 6 (slowest). The default is libwebp's own: method 6 is
        many times slower for a small gain.
    quality : int, default 100
        For lossless WebP, also an effort setting (0 to 100), not a loss of quality; lower
        values are faster but can make the file larger than the PNG.

    Returns
    -------
    bytes
        The WebP file (no EXIF, XMP or resolution: WebP stores DPI only inside EXIF).
    """
    palette, labels = _check_palette_labels(palette, labels)
    rgb = palette[:, :3] if palette.shape[1] == 4 and np.all(palette[:, 3] == 255) else palette
    im = Image.fromarray(np.ascontiguousarray(rgb[labels]), "RGBA" if rgb.shape[1] == 4 else "RGB")
    params = {"lossless": True, "exact": True, "method": int(method), "quality": int(quality)}
    if icc_profile:
        params["icc_profile"] = bytes(icc_profile)
    buf = _io.BytesIO()
    im.save(buf, format="WEBP", **params)
    return buf.getvalue()


def check_format(format):  # noqa: A002 - Pillow's word
    """``format`` if it is one of :data:`FORMATS`, else a ValueError that lists them."""
    if format not in FORMATS:
        msg = f"format must be one of {FORMATS}, got {format!r}."
        raise ValueError(msg)
    return format


def encode_palette(palette, labels, *, format="png", icc_profile=None, dpi=None):  # noqa: A002
    """Encode a palette image as ``format`` ("png" or "webp"); see the two encoders.

    ``dpi`` is written to PNGs only (WebP has no place for it outside EXIF).
    """
    if check_format(format) == "png":
        return encode_palette_png(palette, labels, icc_profile=icc_profile, dpi=dpi)
    return encode_palette_webp(palette, labels, icc_profile=icc_profile)


def output_format(path, format=None):  # noqa: A002
    """The output format: ``format`` when given, else from the name's extension.

    Raises
    ------
    ValueError
        When ``format`` is not one of :data:`FORMATS`; when it is None and the extension is not
        ``.png`` or ``.webp`` (a ``.jpg`` name must not hold a PNG); when the extension names
        the other format.
    """
    suffix = Path(path).suffix.lower()
    if format is not None:
        check_format(format)
        if suffix in (".png", ".webp") and suffix[1:] != format:
            msg = f"{path}: the name says {suffix[1:]} but the format asked is {format}"
            raise ValueError(msg)
        return format
    if suffix in (".png", ".webp"):
        return suffix[1:]
    msg = f"{path}: the output name must end in .png or .webp (or give the format), got {suffix or 'no extension'!r}"
    raise ValueError(msg)


class ProtectedFiles:
    """Files never to be written over, each resolved once: their real paths and (device, inode).

    Checking a path against them costs one :func:`os.path.realpath` and one :func:`os.stat`,
    however many there are, so a batch of N files checks its outputs in O(N), not O(N²).
    Identities are taken when it is built: a file made a link to one of them later is not seen.

    Parameters
    ----------
    paths : iterable of str or os.PathLike
        The files (other items, such as a file object, are ignored: they have no path).
    """

    __slots__ = ("_given", "_ids", "_resolved")

    def __init__(self, paths: Iterable[str | os.PathLike[str]] = ()) -> None:
        self._given: list[str] = []
        self._resolved: dict[str, str] = {}
        self._ids: dict[tuple[int, int], str] = {}
        self._add(paths)

    @classmethod
    def of(cls, paths: ProtectedFiles | Iterable[str | os.PathLike[str]]) -> ProtectedFiles:
        """``paths`` itself when it is a :class:`ProtectedFiles`, else one built from it.

        Parameters
        ----------
        paths : ProtectedFiles or iterable of paths
            What to protect.

        Returns
        -------
        ProtectedFiles
        """
        return paths if isinstance(paths, ProtectedFiles) else cls(paths)

    def including(self, paths: Iterable[str | os.PathLike[str]]) -> ProtectedFiles:
        """A copy that protects ``paths`` too (only those not given already are resolved).

        Parameters
        ----------
        paths : iterable of paths
            More files to protect.

        Returns
        -------
        ProtectedFiles
        """
        given = set(self._given)
        extra = [p for p in paths if isinstance(p, (str, os.PathLike)) and os.fspath(p) not in given]
        if not extra:
            return self
        copy = ProtectedFiles()
        copy._given, copy._resolved, copy._ids = list(self._given), dict(self._resolved), dict(self._ids)
        copy._add(extra)
        return copy

    def _add(self, paths: Iterable[str | os.PathLike[str]]) -> None:
        for src in paths:
            if not isinstance(src, (str, os.PathLike)):
                continue
            given = os.fspath(src)
            self._given.append(given)
            self._resolved.setdefault(os.path.realpath(given), given)
            try:
                st = os.stat(given)
            except OSError:  # missing: protected by its path alone
                continue
            self._ids.setdefault((st.st_dev, st.st_ino), given)

    def owner(self, path: str | os.PathLike[str]) -> str | None:
        """The protected file ``path`` names (through symlinks, ``..`` and hard links), or None.

        Parameters
        ----------
        path : str or os.PathLike
            A path that may be about to be written.

        Returns
        -------
        str or None
            That file's path as given.
        """
        found = self._resolved.get(os.path.realpath(path))
        if found is not None or not self._ids:
            return found
        try:
            st = os.stat(path)
        except OSError:
            return None
        return self._ids.get((st.st_dev, st.st_ino))

    def __contains__(self, path: object) -> bool:
        return isinstance(path, (str, os.PathLike)) and self.owner(path) is not None

    def __iter__(self) -> Iterator[str]:
        return iter(self._given)

    def __len__(self) -> int:
        return len(self._given)


def check_output_path(path, *, overwrite=False, inputs=()):
    """Refuse an output path that is an input, or that exists when ``overwrite`` is false.

    Parameters
    ----------
    path : str or os.PathLike
    overwrite : bool, default False
    inputs : iterable of paths, or ProtectedFiles
        Files that must never be written (compared through symlinks and hard links); a
        :class:`ProtectedFiles` resolved once for many checks.

    Raises
    ------
    OutputExistsError
        When ``path`` is an input, a directory, something other than a regular file (a device
        such as ``/dev/null``, a pipe, a socket; also through a symlink), or exists and
        ``overwrite`` is false.
    """
    path = Path(path)
    if path in ProtectedFiles.of(inputs):
        msg = f"{path}: refusing to write over an input file"
        raise OutputExistsError(msg)
    if path.is_dir():
        msg = f"{path}: is a directory"
        raise OutputExistsError(msg)
    if path.exists() and not path.is_file():
        # The rename would put a regular file in place of a device, pipe or socket (for root,
        # ``-o /dev/null --force`` would replace /dev/null itself).
        msg = f"{path}: is not a regular file (a device, pipe or socket); write to a file path instead"
        raise OutputExistsError(msg)
    if path.exists() and not overwrite:
        msg = f"{path}: already exists (not replaced unless asked: overwrite=True in Python, --force on the command line)"
        raise OutputExistsError(msg)


def write_bytes_atomic(path, data, *, overwrite=False, inputs=()):
    """Write ``data`` to ``path`` through a temporary file in the same folder and a rename.

    Nothing is left behind if writing fails or is interrupted. Without ``overwrite`` the final
    step is a hard link, which fails rather than replace a file that appeared meanwhile.

    Returns
    -------
    int
        Number of bytes written.
    """
    path = Path(path)
    check_output_path(path, overwrite=overwrite, inputs=inputs)
    folder = path.parent if str(path.parent) else Path(".")
    if not folder.is_dir():
        msg = f"{path}: folder {folder} does not exist"
        raise FileNotFoundError(msg)
    fd, tmp = tempfile.mkstemp(dir=folder, prefix=f".{path.name}.", suffix=".tmp")
    try:
        with os.fdopen(fd, "wb") as fh:
            fh.write(data)
            fh.flush()
            os.fsync(fh.fileno())
        os.chmod(tmp, 0o644)
        if overwrite:
            os.replace(tmp, path)
        else:
            try:
                os.link(tmp, path)
            except FileExistsError:
                msg = f"{path}: already exists (not replaced unless asked: overwrite=True in Python, --force on the command line)"
                raise OutputExistsError(msg) from None
            except OSError:  # file systems without hard links
                if path.exists():
                    msg = f"{path}: already exists (not replaced unless asked: overwrite=True in Python, --force on the command line)"
                    raise OutputExistsError(msg) from None
                os.replace(tmp, path)
    finally:
        if os.path.exists(tmp):
            os.unlink(tmp)
    return len(data)


def save_palette_png(path, palette, labels, *, overwrite=False, inputs=(), compress_level=9, icc_profile=None, dpi=None):
    """Save an indexed PNG atomically; see :func:`encode_palette_png` for the encoding.

    Parameters
    ----------
    path : str or os.PathLike
    palette : ndarray of uint8, shape (k, 3) or (k, 4)
    labels : ndarray of unsigned int, shape (H, W)
    overwrite : bool, default False
        Replace an existing file. An input file is never replaced.
    inputs : iterable of paths, or ProtectedFiles
        Files that must not be written over (the images being compressed).
    compress_level : int, default 9
    icc_profile : bytes, optional
        Profile to embed instead of the ``sRGB`` chunk (``ImageInfo.icc_profile``).
    dpi : tuple of float, optional
        Physical resolution to write (``ImageInfo.dpi``).

    Returns
    -------
    int
        Size of the written file in bytes.
    """
    data = encode_palette_png(palette, labels, compress_level=compress_level, icc_profile=icc_profile, dpi=dpi)
    return write_bytes_atomic(path, data, overwrite=overwrite, inputs=inputs)
