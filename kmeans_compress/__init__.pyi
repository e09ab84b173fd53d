"""Type stub of kmeans_compress: the public names of the lazy ``__init__.py``, with their modules.

``__init__.py`` imports these on first use; this stub lets type checkers and IDEs see them (as
scikit-image does with lazy_loader). Keep it in step with ``_EXPORTS`` there (``__all__`` is computed from it;
``tests/test_architecture.py`` checks). Names listed in ``__all__`` are re-exported.
"""

from ._choose import KChoice, choose_k
from ._compress import compress_bytes, compress_file
from ._encode import encode_palette_png
from ._histogram import ColorHistogram
from ._load import InvalidImageError, load_image
from ._measure import Measurement, measure
from ._metrics import bits_per_pixel, delta_e, psnr, smooth_image, ssim
from ._one_call import QuantizeResult, quantize
from ._pillow import quantize_image
from ._quantize import KMeansQuantizer
from ._results import Compressed, CompressionReport
from ._sweep import ImageSweep, SweepRow, sweep
from ._write import OutputExistsError, save_palette_png

__version__: str

__all__ = [
    "ColorHistogram",
    "Compressed",
    "CompressionReport",
    "ImageSweep",
    "InvalidImageError",
    "KChoice",
    "KMeansQuantizer",
    "Measurement",
    "OutputExistsError",
    "QuantizeResult",
    "SweepRow",
    "__version__",
    "bits_per_pixel",
    "choose_k",
    "compress_bytes",
    "compress_file",
    "delta_e",
    "encode_palette_png",
    "load_image",
    "measure",
    "psnr",
    "quantize",
    "quantize_image",
    "save_palette_png",
    "smooth_image",
    "ssim",
    "sweep",
]
