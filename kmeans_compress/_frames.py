"""Animations in and out: every frame of an animated GIF, APNG or WebP, and those formats written.

Frames are read as a viewer shows them: Pillow composites each frame onto the canvas (frame
offsets, disposal, blending, transparency), and ``convert("RGBA")`` gives the composited frame
whatever mode the file stores it in. They are held as one ``uint8`` array of shape
``(n_frames, H, W, C)``; stacked top to bottom (``frames.reshape(-1, W, C)``) they are one tall
image, which is how the quantizer fits one palette over all frames (their summed histogram).

Writing: one palette (or one per frame) and every frame's labels, with the input's durations and
loop count, as an animated GIF, an APNG or a lossless animated WebP.

This module imports nothing from the package but the loader's error type, the colour profiles of
:mod:`._icc`, the palette encoders' helpers and :func:`._messages.one_line`.
"""

from __future__ import annotations

import dataclasses
import io
import os
import warnings
from collections.abc import Sequence
from typing import IO, Any

import numpy as np
from numpy.typing import NDArray
from PIL import Image, UnidentifiedImageError

from ._encode import check_palette_labels, gif_palette
from ._gif import mux_opaque_gif
from ._icc import colour_tag, transform_to_srgb, warn_image
from ._load import InvalidImageError
from ._messages import one_line

__all__ = [
    "ANIMATION_FORMATS",
    "Animation",
    "AnimationSource",
    "encode_animation",
    "is_animation",
    "read_animation",
]

#: What :func:`read_animation` accepts.
AnimationSource = str | bytes | os.PathLike | IO[bytes] | Image.Image

#: The formats :func:`encode_animation` writes, by output format name.
ANIMATION_FORMATS = ("gif", "png", "webp")


@dataclasses.dataclass(frozen=True, eq=False)
class Animation:
    """The frames of an animation as a viewer shows them, with their timing.

    Attributes
    ----------
    frames : ndarray of uint8, shape (n_frames, H, W, 3) or (n_frames, H, W, 4)
        Every frame composited on the canvas; RGBA when some pixel of some frame is not
        opaque, RGB otherwise.
    durations : tuple of int
        How long each frame shows, in milliseconds (0 where the file gives none).
    loop : int
        How many times the animation plays: 0 for ever, 1 once, n n times.
    format : str or None
        Pillow's name for the input format (``"GIF"``, ``"PNG"``, ``"WEBP"``), None for frames
        made in memory.
    """

    frames: NDArray[np.uint8]
    durations: tuple[int, ...]
    loop: int = 0
    format: str | None = None

    @property
    def n_frames(self) -> int:
        """Number of frames."""
        return int(self.frames.shape[0])

    @property
    def stacked(self) -> NDArray[np.uint8]:
        """Every frame stacked top to bottom: one image of shape ``(n_frames * H, W, C)``, a view."""
        n, height, width, channels = self.frames.shape
        return self.frames.reshape(n * height, width, channels)


#: Pillow's names of the input formats whose several frames are an animation (a multi-page TIFF
#: is a document: its first page is read, with a warning).
_ANIMATED_INPUTS = ("GIF", "PNG", "WEBP")


def is_animation(source: IO[bytes]) -> bool:
    """Whether a file holds an animation of more than one frame (animated GIF, APNG or WebP).

    Parameters
    ----------
    source : binary file object
        The file, seekable; it is left at its start. Only its header is read, except for a GIF,
        whose frames are counted by walking the file.

    Returns
    -------
    bool
        False for a still, another format, or a file Pillow cannot open (whose reader then
        says why).
    """
    try:
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")  # a bomb or a bad profile: the reader reports it
            with Image.open(source) as im:
                return im.format in _ANIMATED_INPUTS and int(getattr(im, "n_frames", 1)) > 1
    except Exception:  # noqa: BLE001 - any reader error is the reader's to report
        return False
    finally:
        source.seek(0)


def _label(source: AnimationSource) -> str:
    if isinstance(source, (str, os.PathLike)):
        return os.fspath(source)
    return getattr(source, "name", None) or type(source).__name__


def read_animation(source: AnimationSource) -> Animation:
    """Read every frame of an image file, composited as a viewer shows them.

    Parameters
    ----------
    source : str, os.PathLike, bytes, binary file object or PIL.Image.Image
        An animated GIF, APNG or animated WebP (any image Pillow opens; a still gives one
        frame).

    Returns
    -------
    Animation
        The frames (RGB, or RGBA when some pixel is not opaque), each frame's duration and the
        loop count. A GIF without a looping extension plays once; its extension's count n
        means n + 1 plays (0: for ever), as browsers play it.

    Raises
    ------
    InvalidImageError
        One line starting with the file's name: missing, not an image, truncated or corrupt
        (the frame that cannot be decoded is named), frames of different sizes, or more pixels
        over all frames than ``PIL.Image.MAX_IMAGE_PIXELS`` (a decompression bomb counted over
        every frame, refused before the frames are decoded).
    TypeError
        When ``source`` is none of the types above.

    Notes
    -----
    An ICC profile (APNG and WebP may carry one) is converted to sRGB as
    :func:`~kmeans_compress.load_image` converts a still's; GIF has none and is sRGB. EXIF
    orientation is not applied to animations.
    """
    label = _label(source)
    if isinstance(source, (bytes, bytearray, memoryview)):
        source = io.BytesIO(bytes(source))
    if not isinstance(source, (str, os.PathLike, Image.Image)) and not hasattr(source, "read"):
        msg = f"Expected a path, bytes, a binary file object or a PIL.Image, got {type(source).__name__}."
        raise TypeError(msg)
    try:
        with warnings.catch_warnings():
            warnings.simplefilter("error", Image.DecompressionBombWarning)
            if isinstance(source, Image.Image):
                return _read_frames(source, label)
            with Image.open(source) as im:
                return _read_frames(im, label)
    except (Image.DecompressionBombError, Image.DecompressionBombWarning) as exc:
        msg = f"{label}: refused, image too large ({one_line(exc)} Raise PIL.Image.MAX_IMAGE_PIXELS to allow it.)"
        raise InvalidImageError(msg) from None
    except FileNotFoundError:
        msg = f"{label}: no such file"
        raise InvalidImageError(msg) from None
    except IsADirectoryError:
        msg = f"{label}: is a directory, not an image file"
        raise InvalidImageError(msg) from None
    except UnidentifiedImageError:
        msg = f"{label}: not an image file Pillow can read"
        raise InvalidImageError(msg) from None
    except (InvalidImageError, MemoryError):
        raise
    except Exception as exc:  # noqa: BLE001 - Pillow's decoders raise many types on corrupt data
        msg = f"{label}: cannot decode image ({type(exc).__name__}: {one_line(exc)})"
        raise InvalidImageError(msg) from None


def _read_frames(im: Image.Image, label: str) -> Animation:
    width, height = im.size
    try:
        n_frames = int(getattr(im, "n_frames", 1))
    except Exception as exc:  # noqa: BLE001 - counting frames reads the whole file
        msg = f"{label}: truncated or corrupt animation ({type(exc).__name__}: {one_line(exc)})"
        raise InvalidImageError(msg) from None
    limit = Image.MAX_IMAGE_PIXELS
    if limit is not None and n_frames * width * height > limit:
        msg = (
            f"{label}: refused, {n_frames} frames of {width}x{height} are {n_frames * width * height} pixels, "
            f"more than PIL.Image.MAX_IMAGE_PIXELS ({limit}); raise it to allow them"
        )
        raise InvalidImageError(msg)
    fmt = im.format
    loop = _plays(fmt, im.info)
    tag = colour_tag(im, label)
    transform = None
    if tag is not None and tag.space == "RGB":
        transform, identity = transform_to_srgb(tag.icc, "RGB")
        transform = None if identity else transform
    elif tag is not None:
        warn_image(label, f"ICC profile ({tag.name}) of an animation is not RGB; pixels taken as sRGB")
    frames = np.empty((n_frames, height, width, 4), np.uint8)
    durations = []
    for i in range(n_frames):
        try:
            im.seek(i)
            frame = im.convert("RGBA")
        except Exception as exc:  # noqa: BLE001
            reason = f"{type(exc).__name__}: {one_line(exc)}"
            msg = f"{label}: truncated or corrupt animation, frame {i + 1} of {n_frames} ({reason})"
            raise InvalidImageError(msg) from None
        if frame.size != (width, height):
            msg = f"{label}: frame {i + 1} is {frame.size[0]}x{frame.size[1]}, not the canvas's {width}x{height}"
            raise InvalidImageError(msg)
        frames[i] = np.asarray(frame)
        if transform is not None:
            rgb = Image.fromarray(np.ascontiguousarray(frames[i, :, :, :3]), "RGB")
            frames[i, :, :, :3] = np.asarray(transform.apply(rgb))
        durations.append(_duration(im.info.get("duration")))
    if np.all(frames[..., 3] == 255):
        frames = np.ascontiguousarray(frames[..., :3])
    else:
        frames[frames[..., 3] == 0] = 0  # one transparent colour, as the histogram counts it
    return Animation(frames, tuple(durations), loop, fmt)


def _duration(value: Any) -> int:
    try:
        ms = float(value)
    except (TypeError, ValueError):
        return 0
    return round(ms) if np.isfinite(ms) and ms > 0 else 0


def _plays(fmt: str | None, info: dict[str | tuple[int, int], Any]) -> int:
    """How many times the file says it plays (0: for ever)."""
    loop = info.get("loop")
    if fmt == "GIF":
        if loop is None:
            return 1  # no NETSCAPE extension: played once
        return 0 if int(loop) == 0 else int(loop) + 1
    return 0 if loop is None else int(loop)


def encode_animation(
    palette: NDArray[Any] | Sequence[NDArray[Any]],
    labels: NDArray[Any],
    *,
    format: str = "gif",  # noqa: A002 - Pillow's word
    durations: Sequence[int] | None = None,
    loop: int = 0,
    unchanged_transparent: bool = False,
) -> bytes:
    """Encode the frames of an animation, each an index into a palette, as one file.

    Parameters
    ----------
    palette : ndarray of uint8, shape (k, 3) or (k, 4), or a list of them
        One palette for every frame, or one per frame (``k`` in 1..256 each). An APNG holds one
        palette: with several, its frames are stored as true colour.
    labels : ndarray of unsigned int, shape (n_frames, H, W)
        Every frame's palette indexes.
    format : {"gif", "png", "webp"}, default "gif"
        Animated GIF, APNG, or lossless animated WebP. A GIF's entries of alpha below
        :data:`~kmeans_compress._encode.GIF_ALPHA_THRESHOLD` are its transparent index, the
        others opaque; APNG and WebP keep the alpha as it is.
    durations : sequence of int, optional
        Each frame's duration in milliseconds; default 100 each.
    loop : int, default 0
        How many times it plays, 0 for ever.
    unchanged_transparent : bool, default False
        GIF only, for an opaque animation on one palette of at most 255 entries: within the
        rectangle that changed since the previous frame, the pixels that did not change are
        written as a transparent entry added to the palette (disposal "do not dispose"), which
        can leave longer runs for LZW. Either way each frame of such a GIF stores only the
        rectangle that changed.

    Returns
    -------
    bytes
        The file. Its frames decode to ``palette[labels]`` (for GIF after the alpha threshold),
        except that consecutive identical frames are stored once with their durations summed,
        as Pillow's writers do: it plays the same.

    Raises
    ------
    ValueError
        When ``format`` is not one of those above, or a palette or the labels are not valid.
    """
    if format not in ANIMATION_FORMATS:
        msg = f"format must be one of {ANIMATION_FORMATS} for an animation, got {format!r}."
        raise ValueError(msg)
    labels = np.asarray(labels)
    if labels.ndim != 3 or labels.shape[0] == 0:
        msg = f"labels must have shape (n_frames, H, W) with at least one frame, got {labels.shape}."
        raise ValueError(msg)
    n = labels.shape[0]
    palettes = [palette] * n if isinstance(palette, np.ndarray) else list(palette)
    if len(palettes) != n:
        msg = f"got {len(palettes)} palettes for {n} frames."
        raise ValueError(msg)
    checked = [check_palette_labels(p, lab) for p, lab in zip(palettes, labels, strict=True)]
    palettes = [p for p, _ in checked]
    durations = [100] * n if durations is None else [int(d) for d in durations]
    if len(durations) != n:
        msg = f"got {len(durations)} durations for {n} frames."
        raise ValueError(msg)
    shared = all(p is palettes[0] or np.array_equal(p, palettes[0]) for p in palettes)
    if format == "gif" and shared and gif_palette(palettes[0], labels[:1, :1, :1])[2] is None:
        # opaque on one table: each frame only its changed rectangle, written here
        rgb = np.ascontiguousarray(palettes[0][:, :3])
        labels = labels.astype(np.uint8)
        return mux_opaque_gif(rgb, labels, durations, int(loop), unchanged_transparent=unchanged_transparent)
    if format == "gif":
        images, params = _gif_frames(palettes, labels, shared, loop)
    elif format == "png":
        images, params = _apng_frames(palettes, labels, shared, loop)
    else:
        images = [_rgb_or_rgba(p, lab) for p, lab in zip(palettes, labels, strict=True)]
        params = {"lossless": True, "quality": 100, "method": 4, "exact": True, "loop": int(loop)}
    buf = io.BytesIO()
    images[0].save(
        buf, format={"gif": "GIF", "png": "PNG", "webp": "WEBP"}[format], save_all=True,
        append_images=images[1:], duration=durations, **params,
    )
    return buf.getvalue()


def _p_image(rgb: NDArray[np.uint8], labels: NDArray[Any]) -> Image.Image:
    height, width = labels.shape
    raw = np.ascontiguousarray(labels, dtype=np.uint8).tobytes()
    im = Image.frombuffer("P", (width, height), raw, "raw", "P", 0, 1)
    im.putpalette(np.ascontiguousarray(rgb[:, :3]).tobytes(), rawmode="RGB")
    return im


def _rgb_or_rgba(palette: NDArray[np.uint8], labels: NDArray[Any]) -> Image.Image:
    if palette.shape[1] == 4 and np.all(palette[:, 3] == 255):
        palette = palette[:, :3]
    return Image.fromarray(np.ascontiguousarray(palette[labels]), "RGBA" if palette.shape[1] == 4 else "RGB")


def _spare_colour(rgb: NDArray[np.uint8], skip: int) -> NDArray[np.uint8]:
    """Entry ``skip``'s colour when no other entry has it, else a colour no other entry has."""
    codes = rgb.astype(np.uint32) @ np.array([65536, 256, 1], np.uint32)
    others = set(np.delete(codes, skip).tolist())
    if int(codes[skip]) not in others:
        return rgb[skip]
    code = next(c for c in range(len(rgb) + 1) if c not in others)
    return np.array([code >> 16, (code >> 8) & 255, code & 255], np.uint8)


def _gif_frames(
    palettes: Sequence[NDArray[np.uint8]], labels: NDArray[Any], shared: bool, loop: int
) -> tuple[list[Image.Image], dict[str, Any]]:
    images, transparency = [], None
    for palette, frame_labels in zip(palettes, labels, strict=True):
        rgb, lab, clear = gif_palette(palette, frame_labels)
        if clear is not None:
            transparency = clear if transparency is None else transparency
            if clear != transparency:  # one transparent index for the whole file
                lab = np.where(lab == clear, transparency, lab).astype(np.uint8)
        images.append((rgb, lab))
    params: dict[str, Any] = {}
    if loop != 1:
        params["loop"] = 0 if loop == 0 else int(loop) - 1  # the NETSCAPE count is of repeats
    if transparency is not None:
        # frames that have transparent pixels are drawn on a cleared canvas
        params.update(transparency=transparency, disposal=2)
    else:
        params["disposal"] = 1
    if shared:
        # One global colour table. Pillow finds each frame's entries in it by colour, so every
        # entry's colour must be distinct: the transparent entry's (never shown) is made so.
        rgb = images[0][0].copy()
        if transparency is not None:
            rgb[transparency] = _spare_colour(rgb, skip=transparency)
        images = [(rgb, lab) for _, lab in images]
        params.update(optimize=False, palette=rgb.tobytes())
    return [_p_image(rgb, lab) for rgb, lab in images], params


def _apng_frames(
    palettes: Sequence[NDArray[np.uint8]], labels: NDArray[Any], shared: bool, loop: int
) -> tuple[list[Image.Image], dict[str, Any]]:
    params: dict[str, Any] = {"loop": int(loop), "default_image": False}
    if not shared:  # one PLTE per file: true colour frames
        return [_rgb_or_rgba(p, lab) for p, lab in zip(palettes, labels, strict=True)], params
    palette = palettes[0]
    images = [_p_image(palette, lab) for lab in labels]
    if palette.shape[1] == 4:
        params["transparency"] = palette[:, 3].tobytes()
        params["disposal"] = 0  # APNG_DISPOSE_OP_NONE, and
        params["blend"] = 0  # APNG_BLEND_OP_SOURCE: the frame's rectangle replaces what is under it, alpha too
    return images, params
