"""Small helpers shared by the test modules (not tests themselves)."""

import io
import struct

import numpy as np
from PIL import Image


def saved(im, fmt="PNG", **params):
    """A Pillow image saved in memory (``fmt`` and Pillow's save ``params``), rewound for reading."""
    buf = io.BytesIO()
    im.save(buf, format=fmt, **params)
    buf.seek(0)
    return buf


def png_chunks(data):
    """``[(name, body), ...]`` of a PNG file's chunks, in file order."""
    out, i = [], 8
    while i < len(data):
        (n,) = struct.unpack(">I", data[i : i + 4])
        out.append((data[i + 4 : i + 8].decode("ascii"), data[i + 8 : i + 8 + n]))
        i += 12 + n
    return out


def noisy_photo(path, seed=0, size=(40, 56)):
    """A noisy ramp saved as RGB PNG at ``path``: its indexed PNG is smaller than the file."""
    y, x = np.mgrid[0 : size[0], 0 : size[1]]
    base = np.stack([x * 4, y * 6, (x + y) * 2], axis=-1).astype(np.int16)
    noise = np.random.default_rng(seed).integers(-12, 13, base.shape)
    Image.fromarray(np.clip(base + noise, 0, 255).astype(np.uint8)).save(path)
    return path
