"""Sweep rows as tables: columns, CSV, JSON and aligned text."""

from __future__ import annotations

import csv
import dataclasses
import json
import math
import os

from ._sweep import SweepRow

__all__ = ["format_table", "rows_to_columns", "rows_to_csv", "rows_to_json"]


def rows_to_columns(rows):
    """Turn a list of dataclass rows into a dict of columns (``{"k": [...], "psnr": [...]}``)."""
    if not rows:
        return {}
    names = [f.name for f in dataclasses.fields(rows[0])]
    return {name: [getattr(r, name) for r in rows] for name in names}


def _records(rows, extra):
    out = []
    for r in rows:
        record = dict(extra or {})
        record.update(r.to_dict() if hasattr(r, "to_dict") else dict(r))
        out.append(record)
    return out


def rows_to_csv(rows, file, *, extra=None):
    """Write rows as CSV (a header, then one line per row; empty cells for None/inf).

    Parameters
    ----------
    rows : list of SweepRow
    file : str, os.PathLike or text file object
    extra : dict, optional
        Constant columns put first (e.g. ``{"input": "photo.png"}``).
    """
    records = _records(rows, extra)
    names = list(records[0]) if records else [f.name for f in dataclasses.fields(SweepRow)]
    if isinstance(file, (str, os.PathLike)):
        with open(file, "w", newline="", encoding="utf-8") as fh:
            return rows_to_csv(rows, fh, extra=extra)
    writer = csv.DictWriter(file, fieldnames=names, lineterminator="\n")
    writer.writeheader()
    writer.writerows(records)
    return None


def rows_to_json(rows, file=None, *, extra=None, indent=2):
    """Rows as a JSON list of objects (infinite PSNR as null); written to ``file`` if given.

    Returns
    -------
    str
        The JSON text.
    """
    text = json.dumps(_records(rows, extra), indent=indent)
    if isinstance(file, (str, os.PathLike)):
        with open(file, "w", encoding="utf-8") as fh:
            fh.write(text + "\n")
    elif file is not None:
        file.write(text + "\n")
    return text


def _fmt(value, spec):
    if value is None:
        return "-"
    if isinstance(value, float) and math.isinf(value):
        return "inf"
    return format(value, spec)


_TABLE = [
    ("k", "k", "d"),
    ("used", "n_colors", "d"),
    ("PSNR", "psnr", ".2f"),
    ("SSIM", "ssim", ".4f"),
    ("dE00", "delta_e", ".2f"),
    ("bytes", "bytes_out", ",d"),
    ("bpp", "bits_per_pixel", ".3f"),
    ("ratio", "ratio", ".2f"),
    ("s", "seconds", ".2f"),
]
_TABLE_COMPARE = [("JPEG q", "jpeg_quality", "d")] + [
    (f"{title} {what}", f"{name}_{field}", spec)
    for title, name in (("JPEG", "jpeg"), ("MC", "mediancut"))
    for what, field, spec in (("bytes", "bytes", ",d"), ("PSNR", "psnr", ".2f"), ("SSIM", "ssim", ".4f"))
]


def format_table(rows, *, compare=None):
    """Rows as an aligned text table (the comparison columns when ``compare`` or when filled)."""
    records = [r.to_dict() for r in rows]
    if compare is None:
        compare = any(r.jpeg is not None or r.mediancut is not None for r in rows)
    columns = _TABLE + (_TABLE_COMPARE if compare else [])
    cells = [[title for title, _, _ in columns]]
    for row, record in zip(rows, records):
        # measured fields from the row itself (an exact image's PSNR shows as inf), baselines flat
        cells.append([_fmt(getattr(row, name, record.get(name)), spec) for _, name, spec in columns])
    widths = [max(len(line[i]) for line in cells) for i in range(len(columns))]
    return "\n".join("  ".join(c.rjust(w) for c, w in zip(line, widths)) for line in cells)

