"""Small helpers shared by the test modules (not tests themselves)."""

import io
import struct


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
