"""Sweep rows as tables: columns, CSV, JSON and aligned text."""

from __future__ import annotations

import csv
import dataclasses
import json
import math
import os
from collections.abc import Mapping, Sequence
from typing import IO, TYPE_CHECKING, Any

from ._sweep import SweepRow

if TYPE_CHECKING:
    from ._typing import PathLike

__all__ = ["format_table", "rows_to_columns", "rows_to_csv", "rows_to_json"]


def rows_to_columns(rows: Sequence[Any]) -> dict[str, list[Any]]:
    """Turn a list of dataclass rows into a dict of columns (``{"k": [...], "psnr": [...]}``).

    Parameters
    ----------
    rows : list of SweepRow (or of any one dataclass)
        The rows; an empty list gives an empty dict.

    Returns
    -------
    dict of str to list
        One list per field, in the rows' order.
    """
    if not rows:
        return {}
    names = [f.name for f in dataclasses.fields(rows[0])]
    return {name: [getattr(r, name) for r in rows] for name in names}


def _records(rows: Sequence[SweepRow | Mapping[str, Any]], extra: Mapping[str, Any] | None) -> list[dict[str, Any]]:
    out = []
    for r in rows:
        record = dict(extra or {})
        record.update(r.to_dict() if hasattr(r, "to_dict") else dict(r))
        out.append(record)
    return out


def rows_to_csv(
    rows: Sequence[SweepRow | Mapping[str, Any]], file: PathLike | IO[str], *, extra: Mapping[str, Any] | None = None
) -> None:
    """Write rows as CSV (a header, then one line per row; empty cells for None/inf).

    Parameters
    ----------
    rows : list of SweepRow or of dict
        One line each (a dict gives its items as they are).
    file : str, os.PathLike or text file object
        Where to write.
    extra : dict, optional
        Constant columns put first (e.g. ``{"input": "photo.png"}``).
    """
    records = _records(rows, extra)
    names = list(records[0]) if records else [f.name for f in dataclasses.fields(SweepRow)]
    if isinstance(file, (str, os.PathLike)):
        with open(file, "w", newline="", encoding="utf-8") as fh:
            rows_to_csv(rows, fh, extra=extra)
        return
    writer = csv.DictWriter(file, fieldnames=names, lineterminator="\n")
    writer.writeheader()
    writer.writerows(records)


def rows_to_json(
    rows: Sequence[SweepRow | Mapping[str, Any]],
    file: PathLike | IO[str] | None = None,
    *,
    extra: Mapping[str, Any] | None = None,
    indent: int | None = 2,
) -> str:
    """Rows as a JSON list of objects (infinite PSNR as null); written to ``file`` if given.

    Parameters
    ----------
    rows : list of SweepRow or of dict
        One object each.
    file : str, os.PathLike or text file object, optional
        Where to write the text too (with a final newline).
    extra : dict, optional
        Constant fields put first in every object.
    indent : int or None, default=2
        Indentation, as for :func:`json.dumps`.

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


def _fmt(value: object, spec: str) -> str:
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


def format_table(rows: Sequence[SweepRow], *, compare: bool | None = None) -> str:
    """Rows as an aligned text table.

    Parameters
    ----------
    rows : list of SweepRow
        One line each, below a header.
    compare : bool, optional
        Add the JPEG and median-cut columns; by default, when any row has them.

    Returns
    -------
    str
    """
    records = [r.to_dict() for r in rows]
    if compare is None:
        compare = any(r.jpeg is not None or r.mediancut is not None for r in rows)
    columns = _TABLE + (_TABLE_COMPARE if compare else [])
    cells = [[title for title, _, _ in columns]]
    for row, record in zip(rows, records, strict=True):
        # measured fields from the row itself (an exact image's PSNR shows as inf), baselines flat
        cells.append([_fmt(getattr(row, name, record.get(name)), spec) for _, name, spec in columns])
    widths = [max(len(line[i]) for line in cells) for i in range(len(columns))]
    return "\n".join("  ".join(c.rjust(w) for c, w in zip(line, widths, strict=True)) for line in cells)

