"""kmeans_compress: image compression by K-Means colour quantization.

Load any image, fit scikit-learn ``KMeans`` on its distinct colours weighted by their pixel
counts, rebuild it from k colours and save it as a real indexed PNG, with its size and quality
measured.

>>> from kmeans_compress import load_image, quantize, measure
>>> image = load_image("images/parrots.png")                    # doctest: +SKIP
>>> result = quantize(image, 16)                                 # doctest: +SKIP
>>> measure(image, result.quantizer).psnr                        # doctest: +SKIP

The names below are imported on first use (as scikit-image does), so that the command line's
``--help`` and usage errors answer without importing scikit-learn; ``__init__.pyi`` lists them
with their modules, so that type checkers and IDEs see them (a test keeps the two in step).
Animations (every frame read, one palette for all, animated GIF/APNG/WebP written) are in
:mod:`kmeans_compress.animation`. Figures are in :mod:`kmeans_compress.plotting`, the only
module that imports matplotlib (with
:mod:`kmeans_compress.interactive`, the k slider, which draws through it).
"""

from __future__ import annotations

import importlib
from typing import Any

__version__ = "0.2.0"

# public name -> private module that defines it
_EXPORTS = {
    "load_image": "_load",
    "encode_palette_png": "_encode",
    "save_palette_png": "_write",
    "InvalidImageError": "_load",
    "OutputExistsError": "_write",
    "ColorHistogram": "_histogram",
    "KMeansQuantizer": "_quantize",
    "QuantizeResult": "_one_call",
    "quantize": "_one_call",
    "quantize_image": "_pillow",
    "psnr": "_metrics",
    "ssim": "_metrics",
    "delta_e": "_metrics",
    "bits_per_pixel": "_metrics",
    "smooth_image": "_metrics",
    "Measurement": "_measure",
    "measure": "_measure",
    "ImageSweep": "_sweep",
    "SweepRow": "_sweep",
    "sweep": "_sweep",
    "KChoice": "_choose",
    "choose_k": "_choose",
    "Compressed": "_results",
    "CompressionReport": "_results",
    "compress_bytes": "_compress",
    "compress_file": "_compress",
}

# computed from _EXPORTS, so that the two cannot drift; tools that read names statically read the
# written-out list in __init__.pyi (as with lazy_loader), which a test checks against this one
__all__ = sorted(["__version__", *_EXPORTS])  # noqa: PLE0605


def __getattr__(name: str) -> Any:
    module = _EXPORTS.get(name)
    if module is None:
        msg = f"module {__name__!r} has no attribute {name!r}"
        raise AttributeError(msg)
    value = getattr(importlib.import_module(f".{module}", __name__), name)
    globals()[name] = value  # later lookups skip this function
    return value


def __dir__() -> list[str]:
    return sorted(set(globals()) | set(_EXPORTS))
