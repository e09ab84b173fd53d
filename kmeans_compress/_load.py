"""Reading any image Pillow can open as a ``uint8`` array in sRGB, and what the writer needs to know.

One image contract for the whole package: ``ndarray`` of ``uint8``, shape ``(H, W, 3)``, or
``(H, W, 4)`` when the image has a real (not all-opaque) alpha channel, in sRGB unless the
caller asked to keep the image's own colour profile.

Colour management is LittleCMS through Pillow's ``ImageCms``: an image tagged with an ICC
profile (or, for a PNG, with ``gAMA``/``cHRM`` only) is converted to sRGB on load (the profiles
themselves: :mod:`._icc`). The image is turned upright by its EXIF orientation; of several
frames the first is used.

This module imports nothing from the package but the float-to-uint8 helper, the colour
profiles of :mod:`._icc` and :func:`._messages.one_line`.
"""

from __future__ import annotations

import dataclasses
import io
import math
import os
import warnings
from pathlib import Path
from typing import IO, Any

import numpy as np
from numpy.typing import ArrayLike, NDArray
from PIL import Image, ImageOps, UnidentifiedImageError

from ._colorspace import to_uint8
from ._icc import GREY_MODES, ColourTag, colour_tag, grey_to_srgb, transform_to_srgb, warn_image
from ._messages import one_line

__all__ = [
    "IMAGE_SOURCE_DOC",
    "ImageInfo",
    "ImageSource",
    "InvalidImageError",
    "image_from_array",
    "is_image_source",
    "load_image",
    "read_image",
    "read_input",
]

#: What :func:`read_image` and :func:`load_image` accept.
ImageSource = str | os.PathLike | IO[bytes] | bytes | bytearray | memoryview | Image.Image | np.ndarray

#: How every public function that loads an image documents what it takes (written once, here).
IMAGE_SOURCE_DOC = (
    "a path, a binary file object, the bytes of an encoded file (bytes, bytearray or memoryview), "
    "a PIL.Image or an ndarray of uint8 (H, W, 3|4)"
)


def is_image_source(source: object) -> bool:
    """Whether ``source`` is something :func:`read_image` decodes (not an array).

    Parameters
    ----------
    source : object
        Anything.

    Returns
    -------
    bool
        True for a path, a binary file object, encoded bytes or a ``PIL.Image``.
    """
    return isinstance(source, (str, os.PathLike, bytes, bytearray, memoryview, Image.Image)) or hasattr(source, "read")


class InvalidImageError(ValueError):
    """The input is not an image this package can read (message is one line)."""


def _label(source: object) -> str:
    if isinstance(source, (str, os.PathLike)):
        return os.fspath(source)
    return getattr(source, "name", None) or type(source).__name__


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


def load_image(source: ImageSource) -> NDArray[np.uint8]:
    """Load an image as a ``uint8`` array in sRGB, whatever its mode.

    Same as ``read_image(source)[0]``; see :func:`read_image`.

    Parameters
    ----------
    source : str, os.PathLike, binary file object, bytes, PIL.Image.Image or ndarray
        The image: a path, an open file or an encoded file's bytes is decoded with Pillow, a
        ``PIL.Image`` converted, an array brought to the contract (see :func:`read_image`).
        Every public function that loads an image takes the same.

    Returns
    -------
    ndarray of uint8, shape (H, W, 3) or (H, W, 4)
        RGB, or RGBA when the image has an alpha channel that is not entirely opaque.

    Raises
    ------
    InvalidImageError
        When the file is missing or not an image that can be read (one line).
    TypeError
        When ``source`` is none of the types above.
    """
    return read_image(source)[0]


def read_image(source: ImageSource, *, keep_profile: bool = False) -> tuple[NDArray[np.uint8], ImageInfo]:
    """Load an image as a ``uint8`` array, and what the writer needs to know about it.

    Parameters
    ----------
    source : str, os.PathLike, binary file object, bytes, PIL.Image.Image or ndarray
        A path, an open file or the bytes of an encoded file (bytes, bytearray or memoryview)
        is decoded with Pillow (decompression-bomb protection stays on).
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
      with a ``UserWarning``; :func:`kmeans_compress.animation.read_animation` reads every frame.
    * HEIC/HEIF (the format iPhones save) is read through the optional ``pillow-heif``
      package (``pip install kmeans-compress[heif]``); WebP and AVIF through Pillow.
    """
    if isinstance(source, np.ndarray):
        return image_from_array(source), ImageInfo()
    if isinstance(source, (bytes, bytearray, memoryview)):
        source = io.BytesIO(source)  # an encoded file's contents (a path is a str or os.PathLike)
    label = _label(source)
    if isinstance(source, Image.Image):
        return _decode(_first_frame(source, label), label, keep_profile=keep_profile)
    if not isinstance(source, (str, os.PathLike)) and not hasattr(source, "read"):
        msg = f"Expected {IMAGE_SOURCE_DOC}, got {type(source).__name__}."
        raise TypeError(msg)
    try:
        with warnings.catch_warnings():
            # Pillow only warns between MAX_IMAGE_PIXELS and twice that: refuse those too, before
            # any pixel memory is allocated.
            warnings.simplefilter("error", Image.DecompressionBombWarning)
            with _open(source, label) as opened:
                im = _first_frame(opened, label)
                sixteen_bit = _stored_as_16_bit(im)  # the tile list is gone after load()
                im.load()
                return _decode(im, label, keep_profile=keep_profile, sixteen_bit=sixteen_bit)
    except (Image.DecompressionBombError, Image.DecompressionBombWarning) as exc:
        msg = (
            f"{label}: refused, image too large ({one_line(exc)} "
            "Raise PIL.Image.MAX_IMAGE_PIXELS to allow it.)"
        )
        raise InvalidImageError(msg) from None
    except _UNREADABLE as exc:
        raise _unreadable(label, exc) from None
    except UnidentifiedImageError:
        msg = f"{label}: not an image file Pillow can read"
        raise InvalidImageError(msg) from None
    except InvalidImageError:
        raise
    except MemoryError:
        raise
    except Exception as exc:  # noqa: BLE001 - Pillow's decoders raise many types on corrupt data
        msg = f"{label}: cannot decode image ({type(exc).__name__}: {one_line(exc)})"
        raise InvalidImageError(msg) from None


_UNREADABLE = (FileNotFoundError, IsADirectoryError, PermissionError)


def _unreadable(label: str, exc: OSError) -> InvalidImageError:
    if isinstance(exc, FileNotFoundError):
        reason = "no such file"
    elif isinstance(exc, IsADirectoryError):
        reason = "is a directory, not an image file"
    else:
        reason = "permission denied"
    return InvalidImageError(f"{label}: {reason}")


def read_input(path: str | os.PathLike[str]) -> bytes:
    """The bytes of an input file, refused with :func:`load_image`'s one-line messages.

    For work done elsewhere (another process or machine) on the file's contents.

    Parameters
    ----------
    path : str or os.PathLike
        The input file.

    Returns
    -------
    bytes
        Its whole contents.

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


def _is_heif(head: bytes) -> bool:
    return len(head) >= 12 and head[4:8] == b"ftyp" and head[8:12] in _HEIF_BRANDS


def _open(source: str | os.PathLike[str] | IO[bytes], label: str) -> Image.Image:
    """``Image.open``, and for a HEIF file that Pillow alone does not know, pillow-heif."""
    try:
        return Image.open(source)
    except UnidentifiedImageError:
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


def _dpi(info: dict[str | tuple[int, int], Any]) -> tuple[float, float] | None:
    dpi: Any = info.get("dpi")  # anything, None included: what is not two numbers is refused below
    try:
        x, y = (float(v) for v in dpi)
    except (TypeError, ValueError):
        return None
    if not (math.isfinite(x) and math.isfinite(y) and x > 0 and y > 0):
        return None
    return (x, y)


def _decode(
    im: Image.Image, label: str, *, keep_profile: bool = False, sixteen_bit: bool = False
) -> tuple[NDArray[np.uint8], ImageInfo]:
    """Pixels of an opened (first-frame) image: upright, colour-managed, in the contract."""
    tag = colour_tag(im, label)
    dpi = _dpi(im.info)
    fmt = im.format
    im = _apply_orientation(im, label)
    if tag is None:
        arr = _pil_to_array(im, sixteen_bit=sixteen_bit)
        return arr, ImageInfo(format=fmt, dpi=dpi)
    arr, converted, kept = _manage_colour(im, tag, label, keep_profile=keep_profile, sixteen_bit=sixteen_bit)
    return arr, ImageInfo(format=fmt, dpi=dpi, profile=tag.name, converted=converted, icc_profile=kept)


def _manage_colour(
    im: Image.Image, tag: ColourTag, label: str, *, keep_profile: bool, sixteen_bit: bool
) -> tuple[NDArray[np.uint8], bool, bytes | None]:
    """Pixels of ``im`` in sRGB (or in the tag's own space when kept): (array, converted, kept)."""
    try:
        if tag.space == "CMYK":
            if im.mode != "CMYK":
                warn_image(label, f"CMYK ICC profile ({tag.name}) on a {im.mode} image ignored; pixels taken as sRGB")
                return _pil_to_array(im, sixteen_bit=sixteen_bit), False, None
            if keep_profile:
                warn_image(label, f"a CMYK profile ({tag.name}) cannot tag the output; converted to sRGB")
            transform, _ = transform_to_srgb(tag.icc, "CMYK")
            return image_from_array(np.asarray(transform.apply(im))), True, None
        arr = _pil_to_array(im, sixteen_bit=sixteen_bit)
        if tag.space == "RGB":
            if keep_profile:
                return arr, False, tag.icc
            transform, identity = transform_to_srgb(tag.icc, "RGB")
            if identity:
                return arr, False, None
            rgb = np.asarray(transform.apply(Image.fromarray(np.ascontiguousarray(arr[..., :3]), "RGB")))
            return _with_alpha(rgb, arr), True, None
        if tag.space == "GRAY":
            if im.mode not in GREY_MODES:
                warn_image(
                    label, f"greyscale ICC profile ({tag.name}) on a {im.mode} image ignored; pixels taken as sRGB"
                )
                return arr, False, None
            if keep_profile:
                warn_image(label, f"a greyscale profile ({tag.name}) cannot tag a colour palette; converted to sRGB")
            lut, identity = grey_to_srgb(tag.icc)
            if identity:
                return arr, False, None
            return _with_alpha(lut[arr[..., 0]], arr), True, None
        warn_image(
            label, f"ICC profile ({tag.name}) is for {tag.space or 'an unknown'} colour, not RGB; pixels taken as sRGB"
        )
        return _pil_to_array(im, sixteen_bit=sixteen_bit), False, None
    except InvalidImageError:
        raise
    except Exception as exc:  # noqa: BLE001 - an unusable profile must not make the image unreadable
        warn_image(label, f"ICC profile ({tag.name}) unusable ({one_line(exc)}); pixels taken as sRGB")
        return _pil_to_array(im, sixteen_bit=sixteen_bit), False, None


def _with_alpha(rgb: NDArray[np.uint8], original: NDArray[np.uint8]) -> NDArray[np.uint8]:
    if original.shape[2] == 4:
        return np.ascontiguousarray(np.dstack([rgb, original[..., 3]]))
    return np.ascontiguousarray(rgb)


def _first_frame(im: Image.Image, label: str) -> Image.Image:
    n_frames = getattr(im, "n_frames", 1)
    if n_frames > 1:
        warnings.warn(
            f"{label} has {n_frames} frames; using the first (kmeans_compress.animation reads them all)",
            UserWarning,
            stacklevel=3,
        )
        im.seek(0)
    return im


_EXIF_ORIENTATION = 0x0112


def _apply_orientation(im: Image.Image, label: str) -> Image.Image:
    try:
        im.load()  # as exif_transpose does: a PNG's eXIf chunk may follow its pixels
        if im.getexif().get(_EXIF_ORIENTATION, 1) not in range(2, 9):
            return im  # upright already: exif_transpose would return a copy, as large as the image
        return ImageOps.exif_transpose(im)
    except Exception as exc:  # noqa: BLE001 - corrupt EXIF must not make the image unreadable
        warnings.warn(f"{label}: EXIF orientation ignored ({one_line(exc)})", UserWarning, stacklevel=3)
        return im


def _stored_as_16_bit(im: Image.Image) -> bool:
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


def _scale_high_range(values: NDArray[Any], mode: str, sixteen_bit: bool = False) -> NDArray[np.uint8]:
    """Float array from a 16/32-bit or float mode -> uint8, following load_image's rules."""
    values = values.astype(np.float64)
    vmax = float(values.max()) if values.size else 0.0
    if mode.startswith("I;16") or sixteen_bit or vmax > 255:
        return to_uint8(np.clip(values, 0, 65535) * (255.0 / 65535.0))
    if mode == "F" and vmax <= 1.0:
        return to_uint8(values * 255.0)
    return to_uint8(values)


def _pil_to_array(im: Image.Image, *, sixteen_bit: bool = False) -> NDArray[np.uint8]:
    mode = im.mode
    # A PNG colour key (tRNS chunk on a grey or RGB image): pixels of that value are transparent.
    key = im.info.get("transparency") if mode in ("1", "L", "RGB", "I", "I;16", "I;16B") else None
    if mode in ("RGB", "RGBA"):
        arr = _rows_to_array(im.convert("RGBA") if key is not None else im)
    elif mode in ("1", "L"):
        arr = np.asarray(im.convert("RGBA" if key is not None else "L"))
    elif mode == "P":
        has_alpha = "transparency" in im.info or im.palette.mode == "RGBA"  # type: ignore[union-attr]  # P: a palette
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


def _rows_to_array(im: Image.Image) -> NDArray[np.uint8]:
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


def image_from_array(array: ArrayLike) -> NDArray[np.uint8]:
    """Bring an array to the package's image contract.

    Parameters
    ----------
    array : ndarray, shape (H, W), (H, W, 1), (H, W, 2), (H, W, 3) or (H, W, 4)
        ``uint8`` is taken as is; ``bool`` as 0/255; ``uint16`` is scaled from 0..65535; floats
        must lie in 0..1 and are scaled by 255. Grey (with alpha, if 2 channels) becomes RGB(A).

    Returns
    -------
    ndarray of uint8, shape (H, W, 3) or (H, W, 4)
        C-contiguous. An alpha channel that is entirely 255 is dropped.

    Raises
    ------
    ValueError
        When the shape is not an image's, the image is empty, or float values leave 0..1.
    TypeError
        When the dtype is none of those above.
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
