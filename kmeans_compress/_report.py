"""One file's sweep as the command line reports it: rows, the knee, the smallest k meeting a target."""

from __future__ import annotations

import dataclasses
import functools
import os
from collections.abc import Iterable, Sequence
from typing import TYPE_CHECKING, Any

from ._choose import knee_k, smallest_swept_k, target_text
from ._sweep import ImageSweep, SweepRow, check_ks
from ._tables import format_table

if TYPE_CHECKING:
    from ._typing import PathLike

__all__ = ["SweepReport", "sweep_file", "sweep_file_k"]


@dataclasses.dataclass(frozen=True)
class SweepReport:
    """The sweep of one file: its path (``input``), its number of distinct colours, its rows (one
    :class:`~kmeans_compress._sweep.SweepRow` per k, in the order asked; each also gives the image's
    size and file bytes) and the target quality, if any (``min_psnr``, ``min_ssim``)."""

    input: str
    n_distinct_colors: int
    rows: list[SweepRow]
    min_psnr: float | None = None
    min_ssim: float | None = None

    @property
    def knee_k(self) -> int:
        """k at the knee of the swept size-quality curve."""
        return knee_k(self.rows).k

    @property
    def target_k(self) -> int | None:
        """Smallest swept k meeting the target, None when none does or there is no target."""
        if self.min_psnr is None and self.min_ssim is None:
            return None
        return smallest_swept_k(self.rows, min_psnr=self.min_psnr, min_ssim=self.min_ssim)

    def to_dict(self) -> dict[str, Any]:
        """Plain dict, valid JSON."""
        return {
            "input": self.input,
            "bytes_in": self.rows[0].bytes_in,
            "knee_k": self.knee_k,
            "target_k": self.target_k,
            "rows": [r.to_dict() for r in self.rows],
        }

    def summary(self, *, compare: bool | None = None) -> str:
        """The table, the knee and the target, as lines of text."""
        first = self.rows[0]
        size = f"{first.width}x{first.height}, {self.n_distinct_colors:,} distinct colours, {first.bytes_in:,} B"
        lines = [
            f"{self.input}: {size}",
            format_table(self.rows, compare=compare),
            f"knee (largest normalised PSNR minus normalised bytes): k={self.knee_k}",
        ]
        if self.min_psnr is not None or self.min_ssim is not None:
            target = self.target_k
            found = "none" if target is None else f"k={target}"
            lines.append(f"smallest swept k with {target_text(self.min_psnr, self.min_ssim)}: {found}")
        return "\n".join(lines)


@functools.lru_cache(maxsize=1)
def _image_sweep(
    path: str, stamp: tuple[int, int] | None, compare: bool, random_state: int, params: tuple[tuple[str, Any], ...]
) -> ImageSweep:
    # one file's histogram is built once per process, however many of its k a process measures;
    # ``stamp`` (size and modification time) makes a changed file a new entry
    return ImageSweep(path, compare=compare, random_state=random_state, **dict(params))


def sweep_file_k(
    path: PathLike, k: int, *, compare: bool = False, random_state: int = 0, **params: Any
) -> tuple[SweepRow, int]:
    """Measure one k of a file: (its row, its number of distinct colours). Picklable, for workers."""
    name = os.fspath(path)
    stamp: tuple[int, int] | None
    try:
        stat = os.stat(name)
        stamp = (stat.st_size, stat.st_mtime_ns)
    except OSError:
        stamp = None  # load_image says what is wrong
    job = _image_sweep(name, stamp, compare, random_state, tuple(sorted(params.items())))
    return job.row(k), job.n_distinct_colors


def sweep_file(
    path: PathLike,
    ks: Iterable[int],
    *,
    min_psnr: float | None = None,
    min_ssim: float | None = None,
    compare: bool = False,
    random_state: int = 0,
    **params: Any,
) -> SweepReport:
    """Sweep a file over ``ks`` and report it (:class:`SweepReport`)."""
    job = ImageSweep(path, compare=compare, random_state=random_state, **params)
    rows = job.rows(check_ks(ks))
    return SweepReport(os.fspath(path), job.n_distinct_colors, rows, min_psnr=min_psnr, min_ssim=min_ssim)


def make_report(
    path: PathLike,
    parts: Sequence[tuple[SweepRow, int]],
    *,
    min_psnr: float | None = None,
    min_ssim: float | None = None,
) -> SweepReport:
    """A :class:`SweepReport` from the ``(row, n_distinct_colors)`` pairs of :func:`sweep_file_k`."""
    rows = [row for row, _ in parts]
    return SweepReport(os.fspath(path), parts[0][1], rows, min_psnr=min_psnr, min_ssim=min_ssim)
