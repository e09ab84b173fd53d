"""An opaque animated GIF on one colour table, each frame only the rectangle that changed.

Pillow's GIF writer compares each frame with the one it was given before, so when unchanged
pixels are written as the transparent index its rectangles grow to cover what changed in the
previous frame too. Here each frame's rectangle is the bounding box of the pixels that changed
since the previous frame, computed on the true labels, and inside it the unchanged pixels may
be the transparent index (disposal "do not dispose": what is under them shows, and it is what
the frame would show). Pillow's LZW encoder writes each rectangle; this module lays out the file
around those blocks (header, colour table, looping extension, a graphic control extension per
frame), with codes as small as the colour table allows.

This module imports nothing from the package.
"""

from __future__ import annotations

import struct
from collections.abc import Sequence
from typing import Any

import numpy as np
from numpy.typing import NDArray
from PIL import Image

__all__ = ["mux_opaque_gif", "still_gif"]

_DISPOSAL_NONE = 1
_CHUNK = 1 << 16  # bytes the encoder hands back at a time  # "do not dispose": the next frame is drawn over this one


def _table_bits(n_entries: int) -> int:
    """Bits of a GIF colour table holding ``n_entries`` (its size is ``2 ** bits``, at least 2)."""
    return max(1, int(n_entries - 1).bit_length())


def _image_block(labels: NDArray[Any], bits: int, left: int = 0, top: int = 0) -> bytes:
    """An image descriptor and its LZW data, codes starting at ``bits + 1`` bits.

    Pillow's GIF writer starts every image's codes at 9 bits whatever the palette; an image of
    16 colours needs 5, and every code it writes is then smaller. Pillow's LZW encoder takes
    that size as its first option; it writes the data in sub-blocks of at most 255 bytes.
    """
    height, width = labels.shape
    im = Image.frombuffer("L", (width, height), np.ascontiguousarray(labels).tobytes(), "raw", "L", 0, 1)
    code_size = max(2, bits)
    core: Any = Image.core  # type: ignore[attr-defined]  # Pillow's C module, which its stubs leave out
    encoder = core.gif_encoder("L", "L", code_size, 0)  # not interlaced: interlaced rows compress worse
    encoder.setimage(im.im, (0, 0, width, height))
    chunks = []
    while True:
        _, status, data = encoder.encode(_CHUNK)
        chunks.append(data)
        if status:
            break
    encoder.cleanup()
    if status < 0:
        msg = f"Pillow's GIF encoder failed (status {status})"
        raise OSError(msg)
    descriptor = b"\x2c" + struct.pack("<HHHHB", left, top, width, height, 0)
    return descriptor + bytes([code_size]) + b"".join(chunks) + b"\x00"


def _header(table: NDArray[np.uint8], bits: int, height: int, width: int) -> bytes:
    """GIF89a, the logical screen and the global colour table (padded to ``2 ** bits`` entries)."""
    padded = np.zeros((2**bits, 3), np.uint8)
    padded[: len(table)] = table
    return b"GIF89a" + struct.pack("<HHBBB", width, height, 0x80 | 0x70 | (bits - 1), 0, 0) + padded.tobytes()


def still_gif(rgb: NDArray[np.uint8], labels: NDArray[Any], transparency: int | None) -> bytes:
    """A one-image GIF whose pixels are ``rgb[labels]``, ``transparency`` its transparent index.

    Parameters
    ----------
    rgb : ndarray of uint8, shape (k, 3)
        The colour table, ``k`` in 1..256.
    labels : ndarray of uint8, shape (H, W)
        Every pixel's index.
    transparency : int or None
        The transparent entry, if any.

    Returns
    -------
    bytes
        The GIF, not interlaced, its codes as small as the table allows.
    """
    bits = _table_bits(len(rgb))
    control = b"" if transparency is None else b"\x21\xf9\x04\x01\x00\x00" + bytes([transparency]) + b"\x00"
    return _header(rgb, bits, *labels.shape) + control + _image_block(labels, bits) + b";"


def _control(delay_ms: int, transparency: int | None) -> bytes:
    packed = (_DISPOSAL_NONE << 2) | (1 if transparency is not None else 0)
    delay = min(0xFFFF, round(delay_ms / 10))  # GIF counts hundredths of a second
    return b"\x21\xf9\x04" + struct.pack("<BHB", packed, delay, transparency or 0) + b"\x00"


def mux_opaque_gif(
    rgb: NDArray[np.uint8],
    labels: NDArray[Any],
    durations: Sequence[int],
    loop: int,
    *,
    unchanged_transparent: bool,
) -> bytes:
    """An animated GIF whose frames decode to ``rgb[labels]``.

    Parameters
    ----------
    rgb : ndarray of uint8, shape (k, 3)
        The colour table, ``k`` in 1..256, every entry opaque.
    labels : ndarray of uint8, shape (n_frames, H, W)
        Every frame's indexes.
    durations : sequence of int
        Each frame's duration in milliseconds (stored in hundredths of a second).
    loop : int
        How many times it plays, 0 for ever (the file's count is of repeats; 1 writes none).
    unchanged_transparent : bool
        Inside each frame's rectangle, write pixels that did not change as a transparent index
        (entry ``k``, added to the table; only when ``k`` < 256) where that makes longer runs
        (see :func:`_clear_unchanged`).

    Returns
    -------
    bytes
        The GIF. A frame identical to the one before is not stored: its duration is added to
        that frame's, so it plays the same.
    """
    k = len(rgb)
    transparency = k if unchanged_transparent and k < 256 else None
    table = rgb if transparency is None else np.vstack([rgb, _unused_colour(rgb)])
    bits = _table_bits(len(table))
    head = _header(table, bits, *labels.shape[1:])
    blocks: list[tuple[int, bytes]] = [(int(durations[0]), _image_block(labels[0], bits))]
    for i in range(1, len(labels)):
        changed = labels[i] != labels[i - 1]
        rows, cols = np.flatnonzero(changed.any(axis=1)), np.flatnonzero(changed.any(axis=0))
        if rows.size == 0:
            blocks[-1] = (blocks[-1][0] + int(durations[i]), blocks[-1][1])
            continue
        r0, r1, c0, c1 = rows[0], rows[-1] + 1, cols[0], cols[-1] + 1
        crop = labels[i, r0:r1, c0:c1]
        if transparency is not None:
            crop = _clear_unchanged(crop, changed[r0:r1, c0:c1], transparency)
        blocks.append((int(durations[i]), _image_block(crop, bits, left=int(c0), top=int(r0))))
    out = bytearray(head)
    if loop != 1:
        repeats = 0 if loop == 0 else loop - 1
        out += b"\x21\xff\x0bNETSCAPE2.0\x03\x01" + struct.pack("<H", min(0xFFFF, repeats)) + b"\x00"
    for j, (delay, block) in enumerate(blocks):
        out += _control(delay, None if j == 0 else transparency) + block
    out += b";"
    return bytes(out)


def _clear_unchanged(crop: NDArray[Any], changed: NDArray[np.bool_], transparency: int) -> NDArray[np.uint8]:
    """``crop`` with unchanged pixels made transparent where that makes longer runs.

    In the order LZW reads the pixels (row after row), an unchanged pixel keeps its colour while
    it continues the run of the changed pixel before it; from its first pixel of another colour,
    the rest of the unchanged stretch is transparent, one run whatever colours are under it.
    """
    flat = crop.ravel()
    moved = changed.ravel()
    positions = np.arange(flat.size)
    start = np.maximum.accumulate(np.where(moved, positions, -1))  # the changed pixel before (or -1)
    colour_before = np.where(start >= 0, flat[np.maximum(start, 0)].astype(np.int16), -1)
    breaks = ~moved & (flat != colour_before)
    last_break = np.maximum.accumulate(np.where(breaks, positions, -1))
    clear = ~moved & (last_break > start)
    return np.where(clear, np.uint8(transparency), flat).astype(np.uint8).reshape(crop.shape)


def _unused_colour(rgb: NDArray[np.uint8]) -> NDArray[np.uint8]:
    """A colour no entry of ``rgb`` has, for the transparent entry (never shown)."""
    codes = set((rgb.astype(np.uint32) @ np.array([65536, 256, 1], np.uint32)).tolist())
    code = next(c for c in range(len(rgb) + 1) if c not in codes)
    return np.array([[code >> 16, (code >> 8) & 255, code & 255]], np.uint8)
