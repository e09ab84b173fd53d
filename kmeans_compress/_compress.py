"""One image file in, one indexed PNG out, with a report of what it cost.

This is the job the command line runs for each input, and what the notebook calls to save.
"""

from __future__ import annotations

import dataclasses
import math
import os
import time
from pathlib import Path

from ._io import check_output_path, encode_palette_png, load_image, write_bytes_atomic
from ._metrics import bits_per_pixel, compression_ratio, delta_e, psnr, raw_size, ssim
from ._quantize import KMeansQuantizer

__all__ = ["CompressionReport", "compress_file", "default_output_path"]


def _ratio_text(ratio):
    """``"16.44x smaller than the input"``, or ``"1.70x larger than the input"`` below 1."""
    if ratio >= 1:
        return f"{ratio:.2f}x smaller than the input"
    return f"{1 / ratio:.2f}x larger than the input"


@dataclasses.dataclass
class CompressionReport:
    """Figures for one compressed image.

    Attributes
    ----------
    input, output : str
        Paths (``output`` is None when nothing was written).
    k : int
        Colours asked for.
    n_colors : int
        Colours used.
    width, height : int
    psnr : float
        dB; ``inf`` when the output is exact.
    ssim : float
    bytes_in : int
        Size of the input file.
    bytes_out : int
        Size of the indexed PNG.
    raw_bytes : int
        Uncompressed pixels, ``H * W * C``.
    bits_per_pixel : float
        ``8 * bytes_out / (H * W)``.
    ratio : float
        ``bytes_in / bytes_out``: times smaller than the input file.
    ratio_raw : float
        ``raw_bytes / bytes_out``: times smaller than raw 24-bit (32-bit with alpha) pixels.
    seconds : float
        Wall time for load, quantize, encode, write and metrics.
    delta_e : float
        Mean CIEDE2000 colour difference, pixel by pixel (:func:`~kmeans_compress.delta_e`;
        RGBA composited over black, i.e. premultiplied); 0 when exact.
    color_space : str
        Space the palette was fitted in.
    dither : bool
        Whether the labels were Floyd–Steinberg dithered (never for images with alpha).
    kept_original : bool
        True when nothing was written because the indexed PNG would have been larger than the
        input file (``skip_if_larger=True``); ``output`` is then None and ``bytes_out`` is the
        size the PNG would have had.
    """

    input: str
    output: str | None
    k: int
    n_colors: int
    width: int
    height: int
    psnr: float
    ssim: float
    bytes_in: int
    bytes_out: int
    raw_bytes: int
    bits_per_pixel: float
    ratio: float
    ratio_raw: float
    seconds: float
    delta_e: float = math.nan
    color_space: str = "rgb"
    dither: bool = False
    kept_original: bool = False

    def to_dict(self):
        """Plain dict; an infinite PSNR becomes None so that the dict is valid JSON."""
        out = dataclasses.asdict(self)
        if math.isinf(out["psnr"]):
            out["psnr"] = None
        return out

    def summary(self):
        """One human-readable line."""
        psnr_txt = "inf" if math.isinf(self.psnr) else f"{self.psnr:.2f}"
        return (
            f"{self.input}: k={self.k} ({self.n_colors} used)  PSNR {psnr_txt} dB  SSIM {self.ssim:.4f}  "
            f"dE00 {self.delta_e:.2f}  "
            f"{self.bytes_in:,} B -> {self.bytes_out:,} B  ({_ratio_text(self.ratio)}, "
            f"{self.bits_per_pixel:.2f} bits/pixel)  {self.seconds:.2f} s"
            + (f"  -> {self.output}" if self.output else "")
            + (
                f"  kept original: the PNG would be larger than the input ({self.bytes_out:,} B > "
                f"{self.bytes_in:,} B), nothing written"
                if self.kept_original
                else ""
            )
        )


def default_output_path(input_path, k, out_dir=None):
    """``<stem>-k<k>.png`` beside the input, or in ``out_dir`` when given."""
    src = Path(input_path)
    folder = Path(out_dir) if out_dir is not None else src.parent
    return folder / f"{src.stem}-k{k}.png"


def compress_file(
    input_path,
    output_path=None,
    *,
    n_colors=16,
    overwrite=False,
    random_state=0,
    inputs=(),
    skip_if_larger=False,
    quantizer=None,
    **params,
):
    """Quantize an image file to ``n_colors`` colours and save it as an indexed PNG.

    Parameters
    ----------
    input_path : str or os.PathLike
        Any image Pillow reads. Never modified.
    output_path : str or os.PathLike, optional
        Where to write (its folder is created if missing); default :func:`default_output_path`.
        Refused if it is the input
        (through links too) or, unless ``overwrite``, if it exists.
    n_colors : int, default 16
    overwrite : bool, default False
    random_state : int, default 0
    inputs : iterable of paths, optional
        Other files that must never be written over, such as the other inputs of a batch
        (``input_path`` itself is always protected).
    skip_if_larger : bool, default False
        When the indexed PNG would be larger than the input file, write nothing and return a
        report with ``kept_original=True`` and ``output=None`` (the command line's default).
    quantizer : KMeansQuantizer, optional
        A quantizer already fitted on this image (e.g. kept by a sweep that chose k), used
        instead of fitting again; ``n_colors`` should be its ``n_colors``.
    **params
        Further :class:`~kmeans_compress.KMeansQuantizer` parameters (``color_space``,
        ``dither``, ...).

    Returns
    -------
    CompressionReport
    """
    start = time.perf_counter()
    output_path = Path(output_path) if output_path is not None else default_output_path(input_path, n_colors)
    protected = [input_path, *inputs]
    check_output_path(output_path, overwrite=overwrite, inputs=protected)  # refuse before the work
    image = load_image(input_path)
    if quantizer is None:
        quantizer = KMeansQuantizer(n_colors, random_state=random_state, **params).fit(image)
    data = encode_palette_png(quantizer.palette_, quantizer.labels_)
    bytes_in = os.path.getsize(input_path)
    kept_original = skip_if_larger and len(data) > bytes_in
    if not kept_original:
        output_path.parent.mkdir(parents=True, exist_ok=True)
        write_bytes_atomic(output_path, data, overwrite=overwrite, inputs=protected)
    quantized = quantizer.palette_[quantizer.labels_]
    height, width = image.shape[:2]
    raw = raw_size(image)
    report = CompressionReport(
        input=os.fspath(input_path),
        output=None if kept_original else os.fspath(output_path),
        k=int(n_colors),
        n_colors=quantizer.n_colors_,
        width=width,
        height=height,
        psnr=psnr(image, quantized),
        ssim=ssim(image, quantized),
        bytes_in=bytes_in,
        bytes_out=len(data),
        raw_bytes=raw,
        bits_per_pixel=bits_per_pixel(len(data), height * width),
        ratio=compression_ratio(bytes_in, len(data)),
        ratio_raw=compression_ratio(raw, len(data)),
        seconds=0.0,
        delta_e=delta_e(image, quantized),
        color_space=quantizer.color_space,
        dither=bool(quantizer.dither) and image.shape[2] == 3,
        kept_original=kept_original,
    )
    report.seconds = time.perf_counter() - start
    return report
