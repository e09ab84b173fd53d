"""Reading any image Pillow can open, and writing indexed PNGs safely.

One image contract for the whole package: ``ndarray`` of ``uint8``, shape ``(H, W, 3)``, or
``(H, W, 4)`` when the image has a real (not all-opaque) alpha channel.

Writes are atomic: the PNG is written to a temporary file in the target folder and then
renamed, so an interrupted run never leaves a half-written file, and an existing file is never
replaced unless asked. A path that is (or links to) one of the inputs is always refused.

This module imports nothing from the package except :func:`~kmeans_compress.colorspace.to_uint8`.
"""

from __future__ import annotations

import io as _io
import os
import tempfile
import warnings
from pathlib import Path

import numpy as np
from PIL import Image, ImageOps

from ._colorspace import to_uint8

__all__ = [
    "InvalidImageError",
    "OutputExistsError",
    "load_image",
    "image_from_array",
    "png_bit_depth",
    "encode_palette_png",
    "save_palette_png",
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


def load_image(source):
    """Load an image as a ``uint8`` array, whatever its mode.

    Parameters
    ----------
    source : str, os.PathLike, binary file object, PIL.Image.Image or ndarray
        A path or open file is decoded with Pillow (decompression-bomb protection stays on).
        A ``PIL.Image`` is converted (its first frame, turned upright by its EXIF orientation).
        An array goes through :func:`image_from_array`.

    Returns
    -------
    image : ndarray of uint8, shape (H, W, 3) or (H, W, 4)
        RGB, or RGBA when the image has an alpha channel that is not entirely opaque.

    Raises
    ------
    InvalidImageError
        When the file is missing, empty, not an image, truncated, corrupt, or declares more
        pixels than ``PIL.Image.MAX_IMAGE_PIXELS`` (about 89 million by default; Pillow itself
        only warns up to twice that, this function refuses, before decoding anything). The
        message is a single line that starts with the file name.
    TypeError
        When ``source`` is none of the types above.

    Notes
    -----
    * EXIF orientation is applied (``ImageOps.exif_transpose``).
    * Modes: ``1`` and ``L`` become grey RGB; ``LA``, ``PA``, ``La``, ``RGBa`` and ``P`` with a
      transparency entry become RGBA, and so do grey and RGB images with a PNG colour key
      (``tRNS``: the pixels of that one value are fully transparent); ``CMYK``, ``YCbCr``, ``LAB``, ``HSV``, ``RGBX`` are converted
      by Pillow to RGB. 16-bit modes (``I;16``, ``I;16B``, ...) are scaled to 8 bits with
      ``round(v * 255 / 65535)``. ``I`` (32-bit integer) and ``F`` (float) are read as 16-bit
      data when the file stores 16-bit samples or their maximum exceeds 255, as 8-bit otherwise, and ``F`` data whose
      maximum is at most 1 as 0..1 floats; values outside the range are clipped.
    * Multi-frame files (animated GIF/PNG/WebP, multi-page TIFF): the first frame is used, with
      a ``UserWarning``.
    """
    if isinstance(source, np.ndarray):
        return image_from_array(source)
    label = _label(source)
    if isinstance(source, Image.Image):
        return _pil_to_array(_apply_orientation(_first_frame(source, label), label))
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
            with Image.open(source) as im:
                im = _first_frame(im, label)
                sixteen_bit = _stored_as_16_bit(im)  # the tile list is gone after load()
                im.load()
                return _pil_to_array(_apply_orientation(im, label), sixteen_bit=sixteen_bit)
    except (Image.DecompressionBombError, Image.DecompressionBombWarning) as exc:
        msg = (
            f"{label}: refused, image too large ({_one_line(exc)} "
            "Raise PIL.Image.MAX_IMAGE_PIXELS to allow it.)"
        )
        raise InvalidImageError(msg) from None
    except FileNotFoundError:
        msg = f"{label}: no such file"
        raise InvalidImageError(msg) from None
    except IsADirectoryError:
        msg = f"{label}: is a directory, not an image file"
        raise InvalidImageError(msg) from None
    except PermissionError:
        msg = f"{label}: permission denied"
        raise InvalidImageError(msg) from None
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


def _first_frame(im, label):
    n_frames = getattr(im, "n_frames", 1)
    if n_frames > 1:
        warnings.warn(f"{label} has {n_frames} frames; using the first", UserWarning, stacklevel=3)
        im.seek(0)
    return im


def _apply_orientation(im, label):
    try:
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
        arr = np.asarray(im.convert("RGBA") if key is not None else im)
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
# up to _OXIPNG_BIG_PIXELS pixels, and the faster _OXIPNG_BIG_LEVEL above, where level 12 costs
# seconds.
_OXIPNG_LEVEL = 12
_OXIPNG_BIG_LEVEL = 10
_OXIPNG_BIG_PIXELS = 4_000_000
_OPTIMIZERS = ("auto", "oxipng", "pillow")


def _oxipng_module():
    try:
        import oxipng
    except ImportError:
        return None
    return oxipng


def encode_palette_png(palette, labels, *, compress_level=9, optimizer="auto"):
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
        when it is installed. The palette, its order, the bit depth and every index stay as
        given, so the file decodes to exactly ``palette[labels]`` either way.

    Returns
    -------
    bytes
        The PNG file, at the smallest bit depth holding ``k`` colours (1, 2, 4 or 8 bits).

    Notes
    -----
    The deflate encoder decides the size: libdeflate's high levels write smaller files than
    zlib's best, at a cost in time that grows with the image, so large images get a lower
    level (the README's benchmark gives the figures). Row filters do not help indexed images
    and the palette order hardly changes the size, so both stay as they are.
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
    height, width = labels.shape
    raw = np.ascontiguousarray(labels, dtype=np.uint8).tobytes()
    im = Image.frombuffer("P", (width, height), raw, "raw", "P", 0, 1)
    im.putpalette(palette[:, :3].tobytes(), rawmode="RGB")
    if oxipng is not None:  # a fast first pass: oxipng recompresses the image data anyway
        params = {"compress_level": 0}
    else:
        params = {"optimize": True, "compress_level": compress_level}
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
        )
    return data


def _same_file(a, b):
    try:
        return os.path.samefile(a, b)
    except OSError:
        return Path(a).resolve() == Path(b).resolve()


def check_output_path(path, *, overwrite=False, inputs=()):
    """Refuse an output path that is an input, or that exists when ``overwrite`` is false.

    Parameters
    ----------
    path : str or os.PathLike
    overwrite : bool, default False
    inputs : iterable of paths
        Files that must never be written (compared through symlinks and hard links).

    Raises
    ------
    OutputExistsError
        When ``path`` is an input, a directory, something other than a regular file (a device
        such as ``/dev/null``, a pipe, a socket; also through a symlink), or exists and
        ``overwrite`` is false.
    """
    path = Path(path)
    for src in inputs:
        if isinstance(src, (str, os.PathLike)) and (Path(src).resolve() == path.resolve() or (path.exists() and _same_file(src, path))):
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


def save_palette_png(path, palette, labels, *, overwrite=False, inputs=(), compress_level=9):
    """Save an indexed PNG atomically; see :func:`encode_palette_png` for the encoding.

    Parameters
    ----------
    path : str or os.PathLike
    palette : ndarray of uint8, shape (k, 3) or (k, 4)
    labels : ndarray of unsigned int, shape (H, W)
    overwrite : bool, default False
        Replace an existing file. An input file is never replaced.
    inputs : iterable of paths
        Files that must not be written over (the images being compressed).
    compress_level : int, default 9

    Returns
    -------
    int
        Size of the written file in bytes.
    """
    data = encode_palette_png(palette, labels, compress_level=compress_level)
    return write_bytes_atomic(path, data, overwrite=overwrite, inputs=inputs)
