"""kmeans_compress: image compression by K-Means colour quantization.

Load any image, fit scikit-learn ``KMeans`` on its distinct colours weighted by their pixel
counts, rebuild it from k colours and save it as a real indexed PNG, with its size and quality
measured.

>>> from kmeans_compress import load_image, quantize, save_palette_png, psnr
>>> image = load_image("images/parrots.png")                    # doctest: +SKIP
>>> result = quantize(image, 16)                                 # doctest: +SKIP
>>> psnr(image, result.image)                                    # doctest: +SKIP
"""

from ._colorspace import COLOR_SPACES
from ._compress import CompressionReport, compress_file
from ._dither import floyd_steinberg
from ._io import (
    InvalidImageError,
    OutputExistsError,
    encode_palette_png,
    image_from_array,
    load_image,
    png_bit_depth,
    save_palette_png,
)
from ._metrics import bits_per_pixel, compression_ratio, delta_e, file_size, mse, psnr, raw_size, smooth_image, ssim
from ._quantize import ColorHistogram, KMeansQuantizer, QuantizeResult, quantize
# (the function sweep() stays in kmeans_compress.sweep: exporting it here would hide the submodule)
from ._sweep import ImageSweep, KChoice, SweepRow, choose_knee, smallest_k

__version__ = "0.1.0"

__all__ = [
    "COLOR_SPACES",
    "ColorHistogram",
    "CompressionReport",
    "ImageSweep",
    "InvalidImageError",
    "KChoice",
    "KMeansQuantizer",
    "OutputExistsError",
    "QuantizeResult",
    "SweepRow",
    "__version__",
    "bits_per_pixel",
    "choose_knee",
    "compress_file",
    "compression_ratio",
    "delta_e",
    "encode_palette_png",
    "file_size",
    "floyd_steinberg",
    "image_from_array",
    "load_image",
    "mse",
    "png_bit_depth",
    "psnr",
    "quantize",
    "raw_size",
    "save_palette_png",
    "smallest_k",
    "smooth_image",
    "ssim",
]
