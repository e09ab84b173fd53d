"""Threads and CPUs: how many CPUs this process may use, and one thread for a native library's loops."""

from __future__ import annotations

import contextlib
import os
from collections.abc import Iterator
from typing import Any

__all__ = ["available_cpus", "one_thread"]


def available_cpus() -> int:
    """Number of CPUs this process may run on.

    The CPUs of its affinity mask where the platform has one (Linux): that respects ``taskset``
    and a container's CPU set, which :func:`os.cpu_count` (every CPU of the machine) does not.
    Elsewhere :func:`os.cpu_count`.

    Returns
    -------
    int
        At least 1.
    """
    try:
        return max(1, len(os.sched_getaffinity(0)))
    except (AttributeError, OSError):  # no affinity on this platform
        return os.cpu_count() or 1

# One controller per kind of library, built the first time it is needed: building one lists the
# libraries loaded then (scikit-learn's OpenMP runtime is loaded with scikit-learn).
_CONTROLLERS: dict[str, Any] = {}


@contextlib.contextmanager
def one_thread(user_api: str) -> Iterator[None]:
    """Run the loops of ``user_api`` (``"openmp"`` or ``"blas"``) on one thread inside the block."""
    controller = _CONTROLLERS.get(user_api)
    if controller is None:
        from threadpoolctl import ThreadpoolController

        controller = _CONTROLLERS[user_api] = ThreadpoolController()
    with controller.limit(limits=1, user_api=user_api):
        yield
