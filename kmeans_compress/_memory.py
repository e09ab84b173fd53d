"""Give memory freed by large temporaries back to the system between the steps of a job.

NumPy frees its temporaries at once, but glibc's allocator keeps most of what it served from its
heap (rather than from fresh mappings) for reuse, so the resident size after decoding, counting
colours or fitting stays near that step's peak, and the next step's peak lands on top of it.
``malloc_trim`` returns the free pages. Elsewhere (no glibc) this does nothing.
"""

from __future__ import annotations

import ctypes
import ctypes.util

__all__ = ["release_free_memory"]

_TRIM = None


def release_free_memory():
    """Return freed heap pages to the operating system (glibc ``malloc_trim``); else a no-op."""
    global _TRIM  # noqa: PLW0603 - the libc function, looked up once
    if _TRIM is None:
        _TRIM = False
        try:
            libc = ctypes.CDLL(ctypes.util.find_library("c") or "libc.so.6")
            _TRIM = libc.malloc_trim
            _TRIM.argtypes, _TRIM.restype = [ctypes.c_size_t], ctypes.c_int
        except (OSError, AttributeError):  # not glibc: nothing to do
            _TRIM = False
    if _TRIM:
        _TRIM(0)
