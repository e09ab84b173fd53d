"""Give memory freed by large temporaries back to the system between the steps of a job.

NumPy frees its temporaries at once, but glibc's allocator keeps most of what it served from its
heap (rather than from fresh mappings) for reuse, so the resident size after decoding, counting
colours or fitting stays near that step's peak, and the next step's peak lands on top of it.
``malloc_trim`` returns the free pages. Elsewhere (no glibc) this does nothing.
"""

from __future__ import annotations

import ctypes
import ctypes.util
import functools
from collections.abc import Callable

__all__ = ["release_free_memory"]


@functools.cache
def _malloc_trim() -> Callable[[int], int] | None:
    """glibc's ``malloc_trim``, typed and looked up once; None without glibc."""
    try:
        libc = ctypes.CDLL(ctypes.util.find_library("c") or "libc.so.6")
        trim = libc.malloc_trim
    except (OSError, AttributeError):  # not glibc: nothing to do
        return None
    trim.argtypes, trim.restype = [ctypes.c_size_t], ctypes.c_int
    return trim


def release_free_memory() -> None:
    """Return freed heap pages to the operating system (glibc ``malloc_trim``); else a no-op."""
    trim = _malloc_trim()
    if trim is not None:
        trim(0)
