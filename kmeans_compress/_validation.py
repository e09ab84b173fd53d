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


def check_background(background: ArrayLike, name: str = "background") -> NDArray[np.float64]:
    """An sRGB colour to composite alpha over, as a float64 array of 3 values in 0..255, else ValueError."""
    bg = np.asarray(background, dtype=np.float64)
    if bg.shape != (3,) or not np.all((bg >= 0) & (bg <= 255)):
        msg = f"{name} must be an sRGB colour of 3 values in 0..255, got {background!r}."
        raise ValueError(msg)
    return bg


def check_palette(
    palette: ArrayLike, name: str = "palette", *, channels: Collection[int] = (3, 4)
) -> NDArray[np.uint8]:
    """``palette`` as an ndarray when it is ``uint8`` of shape ``(k, C)``, 1 <= k <= 256."""
    shapes = " or ".join(f"(k, {c})" for c in channels) + f" with 1 <= k <= {MAX_COLORS}"
    return _check_uint8(
        palette, name, "palette", shapes, lambda a: a.ndim == 2 and a.shape[1] in channels and 1 <= len(a) <= MAX_COLORS
    )


def check_pixels(X: Any, name: str = "X") -> NDArray[np.uint8]:
    """``X`` as an ndarray when it is an image ``(H, W, 3|4)`` or pixels ``(N, 3|4)`` of ``uint8``.

    The estimator's input contract (scikit-learn's ``X``). Raises TypeError for sparse
    matrices and non-``uint8`` data, ValueError for other shapes and for no pixels, with the
    dtype or shape received.
    """
    if hasattr(X, "tocsr") or hasattr(X, "toarray"):  # scipy.sparse, without importing it
        msg = (
            f"{name} is a sparse {type(X).__name__}: an image quantizer needs dense uint8 pixels, an "
            "image of shape (H, W, 3|4) or pixels of shape (N, 3|4)."
        )
        raise TypeError(msg)
    arr = np.asarray(X)
    if arr.ndim == 2 and arr.shape[1] == 0:  # scikit-learn's words for no features
        msg = (
            f"Found array with 0 feature(s) (shape={arr.shape}) while a minimum of 3 is required: "
            "pixels have 3 or 4 channels."
        )
        raise ValueError(msg)
    if not ((arr.ndim == 3 and arr.shape[2] in (3, 4)) or (arr.ndim == 2 and arr.shape[1] in (3, 4))):
        msg = (
            f"Expected an image of shape (H, W, 3|4) or pixels of shape (N, 3|4) for {name}, got shape "
            f"{arr.shape}. Reshape your data, e.g. image.reshape(-1, 3)."
        )
        raise ValueError(msg)
    if arr.size == 0:
        msg = f"Expected at least one pixel in {name}, got shape {arr.shape}."
        raise ValueError(msg)
    if arr.dtype != np.uint8:
        msg = (
            f"Expected uint8 pixel values for {name}, got dtype {arr.dtype}. "
            "Load images with kmeans_compress.load_image, which converts any mode to uint8."
        )
        raise TypeError(msg)
    return arr
