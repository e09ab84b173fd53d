"""Checks at the package's boundary: parameters and the uint8 image contract, in one place.

Every public function and estimator validates its input here, so that a wrong value gets the
same kind of message everywhere: what was received and what is allowed. A check returns the
value converted to its plain Python or NumPy form, so callers can use what it returns.
"""

from __future__ import annotations

import math
import numbers
from collections.abc import Callable, Collection
from typing import Any

import numpy as np
from numpy.typing import ArrayLike, NDArray

#: A PNG palette holds at most this many colours.
MAX_COLORS = 256


def check_int(name: str, value: object, *, low: int | None = None, high: int | None = None, hint: str = "") -> int:
    """``value`` as an ``int`` when it is an integer (not a bool) in ``low..high``, else ValueError."""
    if isinstance(value, numbers.Integral) and not isinstance(value, (bool, np.bool_)):
        number = int(value)
        if (low is None or number >= low) and (high is None or number <= high):
            return number
    if low is not None and high is not None:
        allowed = f"an integer from {low} to {high}"
    elif low == 1:
        allowed = "a positive integer"
    elif low == 0:
        allowed = "a non-negative integer"
    elif low is not None:
        allowed = f"an integer >= {low}"
    else:
        allowed = "an integer"
    msg = f"{name} must be {allowed}{hint}, got {value!r}."
    raise ValueError(msg)


def check_k(name: str, value: object) -> int:
    """A palette size: an integer from 1 to 256."""
    return check_int(name, value, low=1, high=MAX_COLORS, hint=" (a PNG palette holds no more)")


def check_real(name: str, value: object, *, low: float = -math.inf, high: float = math.inf) -> float:
    """``value`` as a finite ``float`` in ``low..high``, else ValueError."""
    if isinstance(value, numbers.Real) and not isinstance(value, (bool, np.bool_)):
        number = float(value)
        if math.isfinite(number) and low <= number <= high:
            return number
    if math.isinf(low) and math.isinf(high):
        allowed = "a finite number"
    elif math.isinf(high):
        allowed = f"a finite number >= {low:g}"
    else:
        allowed = f"a number in [{low:g}, {high:g}]"
    msg = f"{name} must be {allowed}, got {value!r}."
    raise ValueError(msg)


def check_option(name: str, value: object, options: Collection[str]) -> str:
    """``value`` when it is one of ``options``, else ValueError listing them."""
    if isinstance(value, str) and value in options:
        return value
    msg = f"{name} must be one of {tuple(options)}, got {value!r}."
    raise ValueError(msg)


def check_bool(name: str, value: object) -> bool:
    """``value`` as a ``bool`` when it is True or False, else ValueError."""
    if isinstance(value, (bool, np.bool_)):
        return bool(value)
    msg = f"{name} must be True or False, got {value!r}."
    raise ValueError(msg)


def _check_uint8(
    value: ArrayLike, name: str, kind: str, shapes: str, shape_ok: Callable[[NDArray[Any]], bool], hint: str = ""
) -> NDArray[np.uint8]:
    arr = np.asarray(value)
    if arr.dtype != np.uint8 or not shape_ok(arr):
        msg = (
            f"Expected a uint8 {kind} of shape {shapes} for {name}, got dtype {arr.dtype} and shape {arr.shape}."
            f"{hint}"
        )
        raise ValueError(msg)
    return arr


def check_image(image: ArrayLike, name: str = "image", *, channels: Collection[int] = (3, 4)) -> NDArray[np.uint8]:
    """``image`` as an ndarray when it is ``uint8`` of shape ``(H, W, C)`` with C in ``channels``.

    Raises ValueError with the dtype and shape received otherwise.
    """
    return _check_uint8(
        image,
        name,
        "image",
        " or ".join(f"(H, W, {c})" for c in channels),
        lambda a: a.ndim == 3 and a.shape[2] in channels and a.size > 0,
        " Load images with kmeans_compress.load_image, which converts any mode to uint8.",
    )


def check_palette(
    palette: ArrayLike, name: str = "palette", *, channels: Collection[int] = (3, 4)
) -> NDArray[np.uint8]:
    """``palette`` as an ndarray when it is ``uint8`` of shape ``(k, C)``, 1 <= k <= 256."""
    shapes = " or ".join(f"(k, {c})" for c in channels) + f" with 1 <= k <= {MAX_COLORS}"
    return _check_uint8(
        palette, name, "palette", shapes, lambda a: a.ndim == 2 and a.shape[1] in channels and 1 <= len(a) <= MAX_COLORS
    )
