"""One thread for a native library's loops, where its threads cost more than they share."""

from __future__ import annotations

import contextlib

__all__ = ["one_thread"]

# One controller per kind of library, built the first time it is needed: building one lists the
# libraries loaded then (scikit-learn's OpenMP runtime is loaded with scikit-learn).
_CONTROLLERS = {}


@contextlib.contextmanager
def one_thread(user_api):
    """Run the loops of ``user_api`` (``"openmp"`` or ``"blas"``) on one thread inside the block."""
    controller = _CONTROLLERS.get(user_api)
    if controller is None:
        from threadpoolctl import ThreadpoolController

        controller = _CONTROLLERS[user_api] = ThreadpoolController()
    with controller.limit(limits=1, user_api=user_api):
        yield
