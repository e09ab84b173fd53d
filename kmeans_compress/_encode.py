"""Palette and labels to image bytes: indexed PNG, lossless WebP and GIF, in memory.

Each output format of :mod:`._formats` has its encoder here; :func:`encode_palette` picks it
by the format's name. The bytes decode to exactly ``palette[labels]``. The written file says it
is sRGB (or embeds the ICC profile it is in); nothing else of the input's metadata is written
(no EXIF, XMP or text: photos carry GPS positions and camera serial numbers), only the physical
resolution where the format has a place for it.

This module imports nothing from the package but the table of formats and the GIF writer.
"""

from __future__ import annotations

import io as _io
import re
import struct
import zlib
from typing import Any, Literal

import numpy as np
from numpy.typing import NDArray
from PIL import Image, PngImagePlugin

from ._formats import FORMATS, check_format
from ._gif import still_gif

__all__ = [
    "GIF_ALPHA_THRESHOLD",
    "check_palette_labels",
    "encode_palette",
    "encode_palette_gif",
    "encode_palette_png",
    "encode_palette_webp",
    "gif_alpha",
    "gif_palette",
    "png_bit_depth",
]


def png_bit_depth(n_colors: int) -> int:
    """Smallest PNG palette bit depth (1, 2, 4 or 8) that holds ``n_colors`` entries.

    Parameters
    ----------
    n_colors : int
        The palette's length.

    Returns
    -------
    int
        1, 2, 4 or 8.

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


def _oxipng_module() -> Any:
    try:
        import oxipng
    except ImportError:
        return None
    return oxipng


def check_palette_labels(palette: Any, labels: Any) -> tuple[NDArray[np.uint8], NDArray[Any]]:
    """``(palette, labels)`` as arrays, or a ValueError saying what is wrong with them."""
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


def encode_palette_png(
    palette: NDArray[Any],
    labels: NDArray[Any],
    *,
    compress_level: int = 9,
    optimizer: Literal["auto", "oxipng", "pillow"] = "auto",
    icc_profile: bytes | None = None,
    dpi: tuple[float, float] | None = None,
) -> bytes:
    """Encode an indexed (mode ``P``) PNG in memory.

    Parameters
    ----------
    palette : ndarray of uint8, shape (k, 3) or (k, 4)
        ``k`` in 1..256. With 4 columns the alphas go into a ``tRNS`` chunk.
    labels : ndarray of unsigned int, shape (H, W)
        Index into ``palette`` for every pixel.
    compress_level : int, default 9
        The zlib effort of the Pillow encoder (9 is the maximum; Pillow's ``optimize`` is also on).
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
    level (the documentation's benchmarks page gives the figures). Row filters do not help indexed images
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
    palette, labels = check_palette_labels(palette, labels)
    palette, labels = _last_entry_first_if_misread(palette, labels)
    height, width = labels.shape
    raw = np.ascontiguousarray(labels, dtype=np.uint8).tobytes()
    im = Image.frombuffer("P", (width, height), raw, "raw", "P", 0, 1)
    im.putpalette(palette[:, :3].tobytes(), rawmode="RGB")
    params: dict[str, Any]
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


def _last_entry_first_if_misread(
    palette: NDArray[Any], labels: NDArray[Any]
) -> tuple[NDArray[Any], NDArray[Any]]:
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


def _readable_trns(data: bytes, n_entries: int) -> bytes:
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


def encode_palette_webp(
    palette: NDArray[Any],
    labels: NDArray[Any],
    *,
    icc_profile: bytes | None = None,
    method: int = _WEBP_METHOD,
    quality: int = _WEBP_QUALITY,
) -> bytes:
    """Encode a palette image as a lossless WebP in memory.

    libwebp stores images of at most 256 colours with its own palette (colour-indexing)
    transform, so the file decodes to exactly ``palette[labels]``, alpha included, as the PNG
    from :func:`encode_palette_png` does (the colour under a fully transparent pixel is kept).

    Parameters
    ----------
    palette : ndarray of uint8, shape (k, 3) or (k, 4)
        The colours, ``k`` in 1..256 (libwebp's palette transform holds no more).
    labels : ndarray of unsigned int, shape (H, W)
        Index into ``palette`` for every pixel.
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
    palette, labels = check_palette_labels(palette, labels)
    rgb = palette[:, :3] if palette.shape[1] == 4 and np.all(palette[:, 3] == 255) else palette
    im = Image.fromarray(np.ascontiguousarray(rgb[labels]), "RGBA" if rgb.shape[1] == 4 else "RGB")
    params: dict[str, Any] = {"lossless": True, "exact": True, "method": int(method), "quality": int(quality)}
    if icc_profile:
        params["icc_profile"] = bytes(icc_profile)
    buf = _io.BytesIO()
    im.save(buf, format="WEBP", **params)
    return buf.getvalue()


#: A GIF pixel is transparent when its alpha is below this, opaque (alpha 255) otherwise: GIF has
#: one fully transparent palette entry and no partial transparency.
GIF_ALPHA_THRESHOLD = 128


def gif_alpha(colors: NDArray[np.uint8]) -> NDArray[np.uint8]:
    """Colours as a GIF stores them: alpha thresholded at :data:`GIF_ALPHA_THRESHOLD`.

    Parameters
    ----------
    colors : ndarray of uint8, shape (..., 3) or (..., 4)
        Palette entries or pixels. Without an alpha column they are returned as they are.

    Returns
    -------
    ndarray of uint8, same shape
        A copy whose alpha is 255 where it was at least the threshold; below it the whole
        colour becomes ``(0, 0, 0, 0)`` (one transparent colour, as the histogram counts it).
    """
    colors = np.asarray(colors)
    if colors.shape[-1] != 4:
        return colors
    out = colors.copy()
    clear = out[..., 3] < GIF_ALPHA_THRESHOLD
    out[..., 3] = 255
    out[clear] = 0
    return out


def gif_palette(palette: NDArray[Any], labels: NDArray[Any]) -> tuple[NDArray[np.uint8], NDArray[np.uint8], int | None]:
    """A palette and labels as a GIF holds them: RGB entries and one transparent index.

    Parameters
    ----------
    palette : ndarray of uint8, shape (k, 3) or (k, 4)
        The colours, ``k`` in 1..256. Entries with alpha below :data:`GIF_ALPHA_THRESHOLD` are
        transparent, the others opaque.
    labels : ndarray of unsigned int, any shape
        Indexes into ``palette``.

    Returns
    -------
    rgb : ndarray of uint8, shape (k, 3)
        The palette's colours (a transparent entry keeps its colour, which no viewer shows).
    labels : ndarray of uint8, same shape as ``labels``
        Every transparent entry's pixels moved to the first transparent entry.
    transparency : int or None
        The transparent entry's index, None when every entry is opaque.
    """
    palette = np.asarray(palette)
    labels = np.asarray(labels)
    rgb = np.ascontiguousarray(palette[:, :3])
    if palette.shape[1] != 4:
        return rgb, labels.astype(np.uint8, copy=False), None
    clear = palette[:, 3] < GIF_ALPHA_THRESHOLD
    if not clear.any():
        return rgb, labels.astype(np.uint8, copy=False), None
    first = int(np.argmax(clear))
    moved = np.arange(len(palette), dtype=np.uint8)
    moved[clear] = first
    return rgb, moved[labels], first


def encode_palette_gif(palette: NDArray[Any], labels: NDArray[Any], *, icc_profile: bytes | None = None) -> bytes:
    """Encode a palette image as a (still) GIF in memory.

    Parameters
    ----------
    palette : ndarray of uint8, shape (k, 3) or (k, 4)
        The colours, ``k`` in 1..256, in the order given (the file's colour table). With 4
        columns, entries of alpha below :data:`GIF_ALPHA_THRESHOLD` are transparent (GIF's one
        transparent index), the others opaque.
    labels : ndarray of unsigned int, shape (H, W)
        Index into ``palette`` for every pixel.
    icc_profile : bytes, optional
        Not stored: GIF has no colour tag and is taken as sRGB. Accepted so that every encoder
        is called alike.

    Returns
    -------
    bytes
        The GIF file, not interlaced, its LZW codes as small as the palette allows: it decodes
        to ``gif_alpha(palette)[labels]`` (colour under transparent pixels aside).
    """
    del icc_profile  # GIF is sRGB by convention
    palette, labels = check_palette_labels(palette, labels)
    rgb, labels, transparency = gif_palette(palette, labels)
    return still_gif(rgb, labels, transparency)


def encode_palette(
    palette: NDArray[Any],
    labels: NDArray[Any],
    *,
    format: str = "png",  # noqa: A002 - Pillow's word
    icc_profile: bytes | None = None,
    dpi: tuple[float, float] | None = None,
) -> bytes:
    """Encode a palette image in one of the output formats (see :data:`._formats.FORMATS`).

    Parameters
    ----------
    palette, labels : ndarray
        The palette image, as :func:`encode_palette_png` takes it (each encoder checks it).
    format : str, default "png"
        The output format's name (``"png"``, ``"webp"`` or ``"gif"``).
    icc_profile : bytes, optional
        ICC profile the palette's colours are in, embedded in the file; without one the file is
        sRGB.
    dpi : tuple of float, optional
        Physical resolution, written by the formats that have a place for it (PNG; WebP has
        none outside EXIF).

    Returns
    -------
    bytes
        The file, from that format's encoder (:func:`encode_palette_png`,
        :func:`encode_palette_webp`, :func:`encode_palette_gif`).

    Raises
    ------
    ValueError
        When ``format`` is not an output format, or the palette or labels are not valid.
    """
    spec = FORMATS[check_format(format)]
    encoder = globals()[spec.encoder]  # looked up at each call, so a wrapped encoder is the one used
    if spec.dpi:
        return encoder(palette, labels, icc_profile=icc_profile, dpi=dpi)
    return encoder(palette, labels, icc_profile=icc_profile)
