"""The command's exit statuses: one table, read by the command line, its ``--help`` and the docs.

The codes 98 and 99 are pngquant's, so that a wrapper written for pngquant (keep the original
file on 98 or 99) works unchanged. In a batch the status is the most severe of the files':
:data:`SEVERITY` orders them.

Only the standard library is imported (nothing at all), so that ``--help`` stays fast.
"""

from __future__ import annotations

from collections.abc import Iterable

__all__ = [
    "EXIT_FAILED",
    "EXIT_LARGER",
    "EXIT_OK",
    "EXIT_QUALITY",
    "EXIT_STATUSES",
    "EXIT_USAGE",
    "SEVERITY",
    "most_severe",
    "status_table",
]

EXIT_OK = 0
EXIT_FAILED = 1
EXIT_USAGE = 2
EXIT_LARGER = 98
EXIT_QUALITY = 99

#: Every status and what it means, in the order of :data:`SEVERITY` (the most severe first).
EXIT_STATUSES: dict[int, str] = {
    EXIT_USAGE: "bad usage (options that do not go together, image bytes to a terminal); nothing done",
    EXIT_FAILED: "a file failed (missing, not an image, not writable, a pipe closed early); the others still ran",
    EXIT_QUALITY: "quality below the --psnr/--ssim minimum even with 256 colours; nothing written for it",
    EXIT_LARGER: "with --skip-if-larger: the output would be larger than the input; nothing written for it",
    EXIT_OK: "every file written, or kept because the output would be larger (the default)",
}

#: Statuses from the most severe to the least: a batch exits with the first one any file had.
SEVERITY: tuple[int, ...] = tuple(EXIT_STATUSES)


def most_severe(statuses: Iterable[int]) -> int:
    """The status a batch exits with: the most severe of its files' (0 when there are none).

    Parameters
    ----------
    statuses : iterable of int
        One status per file (or per check), each a key of :data:`EXIT_STATUSES`.

    Returns
    -------
    int
        2 before 1 before 99 before 98 before 0.
    """
    seen = set(statuses)
    return next((status for status in SEVERITY if status in seen), EXIT_OK)


def status_table() -> str:
    """The statuses as lines of text, for ``--help``.

    Returns
    -------
    str
        One line per status, ``"  99  quality below ..."``, most severe first.
    """
    return "\n".join(f"  {status:>2}  {text}" for status, text in EXIT_STATUSES.items())
