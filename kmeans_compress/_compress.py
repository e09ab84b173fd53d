"""The one-call workflow: an image in, a smaller file out, with k fixed or chosen, and its measurement.

:func:`compress_bytes` is the whole job without a filesystem (bytes or a file object in, the
encoded file's bytes out), for pipelines that read from and write to object stores or run on
other machines. :func:`compress_file` is the same job plus reading the input, choosing the output
name and writing it atomically, with the rules that keep data safe.
"""

from __future__ import annotations

import dataclasses
import io
import math
import os
import time
import warnings
from collections.abc import Iterable
from pathlib import Path
from typing import IO, TYPE_CHECKING, Any, Literal

import numpy as np
from numpy.typing import NDArray

from ._animate import compress_animation
from ._choose import KChoice, choose_k, target_text
from ._encode import gif_alpha
from ._formats import check_format, output_format
from ._frames import is_animation
from ._inputs import default_output_path
from ._load import ImageInfo, image_from_array, read_image, read_input
from ._measure import Measurement
from ._sweep import DEFAULT_KS, ImageSweep
from ._validation import check_k
from ._write import ProtectedFiles, check_output_path, write_bytes_atomic

if TYPE_CHECKING:
    from ._typing import PathLike

__all__ = [
    "Compressed",
    "CompressionReport",
    "FileJob",
    "compress_bytes",
    "compress_file",
    "compress_image",
    "write_result",
]


@dataclasses.dataclass(frozen=True)
class Compressed:
    """What :func:`compress_bytes` returns.

    Each parameter is kept as the attribute of the same name.

    Parameters
    ----------
    data : bytes
        The encoded output file (an indexed PNG, or a lossless WebP: ``measurement.format``).
    measurement : Measurement
        What it cost and kept; its ``seconds`` cover the whole job, the choice of k included.
    choice : KChoice or None
        How k was chosen, when it was (``n_colors="auto"`` or a target quality).
    """

    data: bytes
    measurement: Measurement
    choice: KChoice | None = None


def _ratio_text(ratio: float) -> str:
    """``"16.44x smaller than the input"``, or ``"1.70x larger than the input"`` below 1."""
    if ratio >= 1:
        return f"{ratio:.2f}x smaller than the input"
    return f"{1 / ratio:.2f}x larger than the input"


@dataclasses.dataclass(frozen=True)
class CompressionReport:
    """One file compressed: where from, where to, what it cost and kept, and how k was chosen.

    Each parameter is kept as the attribute of the same name.

    Parameters
    ----------
    input : str
        Path of the input file.
    output : str or None
        Path written; None when nothing was written (``kept_original``).
    measurement : Measurement
        Its ``seconds`` are the whole time spent on this file: reading, counting colours, every
        fit of the search for k, encoding, measuring and writing.
    kept_original : bool
        True when nothing was written because the output would have been larger than the input
        file (``skip_if_larger=True``); ``measurement.bytes_out`` is then the size it would have had.
    choice : KChoice or None
        How k was chosen, when it was.
    """

    input: str
    output: str | None
    measurement: Measurement
    kept_original: bool = False
    choice: KChoice | None = None

    def to_dict(self) -> dict[str, Any]:
        """Flat dict, valid JSON: paths, the measurement's fields, ``kept_original``, and ``auto``.

        Returns
        -------
        dict
            ``input``, ``output``, every field of the measurement, ``kept_original``, and (when
            k was chosen) ``auto`` with the rule, the number of fits and the k tried.
        """
        out = {
            "input": self.input,
            "output": self.output,
            **self.measurement.to_dict(),
            "kept_original": self.kept_original,
        }
        if self.choice is not None:
            tried = [r.k for r in self.choice.rows]
            out["auto"] = {"rule": self.choice.rule, "n_fits": self.choice.n_fits, "tried": tried}
        return out

    def summary(self) -> str:
        """One human-readable line.

        Returns
        -------
        str
            The input, k, PSNR, SSIM, ΔE, the sizes and the time, then where the output went.
        """
        m = self.measurement
        psnr_txt = "inf" if math.isinf(m.psnr) else f"{m.psnr:.2f}"
        if m.bytes_in is None or m.ratio is None:  # a report made by hand, without the input's size
            sizes = f"{m.bytes_out:,} B  ({m.bits_per_pixel:.2f} bits/pixel)"
        else:
            ratio = _ratio_text(m.ratio)
            sizes = f"{m.bytes_in:,} B -> {m.bytes_out:,} B  ({ratio}, {m.bits_per_pixel:.2f} bits/pixel)"
        frames = f"{m.frames} frames  " if m.frames > 1 else ""  # figures over all of them
        line = (
            f"{self.input}: k={m.k} ({m.n_colors} used)  {frames}PSNR {psnr_txt} dB  SSIM {m.ssim:.4f}  "
            f"dE00 {m.delta_e:.2f}  {sizes}  {m.seconds:.2f} s"
        )
        if self.output:
            line += f"  -> {self.output}"
        if self.kept_original:
            line += (
                f"  kept original: the {_FORMAT_NAMES.get(m.format, m.format)} would be larger than the input "
                f"({m.bytes_out:,} B > {m.bytes_in:,} B), nothing written"
            )
        if self.choice is not None:
            line += f"  [k=auto: {self.choice.rule}; {self.choice.n_fits} fits]"
        return line


_FORMAT_NAMES = {"png": "PNG", "webp": "WebP", "gif": "GIF"}


def _wants_choice(n_colors: int | str, min_psnr: float | None, min_ssim: float | None) -> bool:
    if n_colors == "auto":
        return True
    if min_psnr is not None or min_ssim is not None:
        msg = f"min_psnr and min_ssim choose k themselves: pass n_colors='auto', got n_colors={n_colors!r}."
        raise ValueError(msg)
    check_k("n_colors", n_colors)
    return False


def compress_image(
    image: NDArray[np.uint8],
    n_colors: int | Literal["auto"] = 16,
    *,
    min_psnr: float | None = None,
    min_ssim: float | None = None,
    ks: Iterable[int] = DEFAULT_KS,
    bytes_in: int | None = None,
    random_state: int = 0,
    started: float | None = None,
    format: str = "png",  # noqa: A002
    info: ImageInfo | None = None,
    **params: Any,
) -> Compressed:
    """Quantize a loaded image and encode it as an indexed PNG or a lossless WebP, k fixed or chosen.

    Parameters
    ----------
    image : ndarray of uint8, shape (H, W, 3) or (H, W, 4)
        See :func:`~kmeans_compress.load_image`.
    n_colors : int or "auto", default=16
        Palette size, 1 to 256; ``"auto"`` chooses it (:func:`~kmeans_compress.choose_k`): the
        fewest colours reaching ``min_psnr``/``min_ssim``, or without a target the knee of the
        size-quality curve over ``ks``.
    min_psnr, min_ssim : float, optional
        Target quality for ``n_colors="auto"``.
    ks : iterable of int, default=DEFAULT_KS
        k swept for the knee (``n_colors="auto"`` without a target).
    bytes_in : int, optional
        Size of the input file, for the measurement's ``ratio``.
    random_state : int, default=0
        Seed of every fit.
    started : float, optional
        A :func:`time.perf_counter` value the measurement's ``seconds`` count from; default now.
    format : {"png", "webp", "gif"}, default="png"
        Output format: an indexed PNG, a lossless WebP (smaller on most images, the same pixels),
        or a GIF (alpha below 128 becomes transparent, the rest opaque, before the fit; the
        measurement is against that).
    info : ImageInfo, optional
        From :func:`~kmeans_compress._load.read_image`: the ICC profile to embed (when the image
        was read with ``keep_profile=True``; ``image`` is then in its stored values, clustered
        and measured as seen through it) and the DPI to keep. Without it the output says sRGB
        and has no DPI.
    **params
        Further :class:`~kmeans_compress.KMeansQuantizer` parameters (``color_space``, ``dither``,
        ...). ``run_budget`` defaults to ``"auto"`` here (labels that compress better, for a
        PSNR cost of at most 0.03 dB on small palettes), not to the estimator's 0.

    Returns
    -------
    Compressed

    Raises
    ------
    ValueError
        When a target quality cannot be reached with 256 colours (or with every distinct colour).
    """
    started = time.perf_counter() if started is None else started
    format = check_format(format)  # noqa: A001
    info = ImageInfo() if info is None else info
    if format == "gif" and image.shape[2] == 4:  # on/off transparency: fitted and measured as GIF holds it
        image = image_from_array(gif_alpha(image))
    _wants_choice(n_colors, min_psnr, min_ssim)  # checks the arguments; k is chosen exactly for "auto"
    # one k or many, the same path: ImageSweep fits, encodes and measures each k once
    job = ImageSweep(image, bytes_in=bytes_in, random_state=random_state, format=format, info=info, **params)
    choice = None
    if n_colors == "auto":
        choice = choose_k(job, min_psnr=min_psnr, min_ssim=min_ssim, ks=ks)
        if choice.k is None:
            best = choice.rows[-1]
            msg = (
                f"cannot reach {target_text(min_psnr, min_ssim)} with at most {best.k} colours "
                f"(PSNR {best.psnr:.2f} dB, SSIM {best.ssim:.4f} there); nothing written"
            )
            raise ValueError(msg)
        k = choice.k
    else:
        k = n_colors
    # the whole time on this image (the search for k included), not only the chosen fit
    measurement = job.row(k).measurement(seconds=time.perf_counter() - started)
    return Compressed(job.data_[k], measurement, choice)


def compress_bytes(
    source: bytes | bytearray | memoryview | IO[bytes],
    n_colors: int | Literal["auto"] = 16,
    *,
    name: str | None = None,
    keep_profile: bool = False,
    format: str = "png",  # noqa: A002
    **kwargs: Any,
) -> Compressed:
    """Compress an encoded image held in memory: bytes in, the output file's bytes out.

    Nothing touches the filesystem, so it runs where files are not shared (object stores,
    cluster workers).

    Parameters
    ----------
    source : bytes, bytearray, memoryview or binary file object
        The input file's contents (any format :func:`~kmeans_compress.load_image` reads).
    n_colors : int or "auto", default=16
        See :func:`compress_image`.
    name : str, optional
        What to call the input in error messages (e.g. its path or object key).
    keep_profile : bool, default=False
        Keep the input's ICC profile: the output stores values in its space and embeds it,
        instead of converting to sRGB. The colours are clustered as a colour-managed viewer
        sees them (:func:`~kmeans_compress._kept_profile.fit_quantizer`), and the measurement
        compares what a viewer sees of the input and the output (both through the profile, in
        sRGB), so its figures are comparable with the sRGB route's.
    format : {"png", "webp"}, default="png"
        Output format (see :func:`compress_image`).
    **kwargs
        Further arguments of :func:`compress_image` (``min_psnr``, ``random_state``,
        ``color_space``, ...).

    Returns
    -------
    Compressed
        ``measurement.bytes_in`` is the size of ``source``.
    """
    started = time.perf_counter()
    data = source.read() if hasattr(source, "read") else bytes(source)
    name = name if name is not None else getattr(source, "name", "<bytes>")
    del source
    box = [data]
    del data
    return _compress_box(box, n_colors, name, started, keep_profile=keep_profile, format=format, **kwargs)


def _compress_box(
    box: list[bytes],
    n_colors: int | Literal["auto"],
    name: str | None,
    started: float | None,
    *,
    keep_profile: bool,
    format: str,  # noqa: A002
    **kwargs: Any,
) -> Compressed:
    """:func:`compress_bytes` on the bytes in ``box`` (a one-item list), taken out and freed once decoded.

    Every caller hands the bytes over in the list and keeps no reference, so that a large input
    file does not stay in memory through the fit and the metrics.
    """
    done_started = time.perf_counter()
    data = box.pop()
    bytes_in = len(data)
    buffer = io.BytesIO(data)  # shares the bytes, no copy
    del data
    buffer.name = name
    check_format(format)
    if is_animation(buffer):  # every frame on one palette, written as an animation of ``format``
        if keep_profile:
            warnings.warn(f"{name}: an animation's colour profile is not kept; its frames are in sRGB", stacklevel=2)
        done = compress_animation(buffer, n_colors, format=format, bytes_in=bytes_in, **kwargs)
        seconds = time.perf_counter() - (done_started if started is None else started)
        return Compressed(done.data, dataclasses.replace(done.measurement, seconds=seconds), done.choice)
    image, info = read_image(buffer, keep_profile=keep_profile)
    del buffer
    return compress_image(image, n_colors, bytes_in=bytes_in, started=started, format=format, info=info, **kwargs)


def compress_file(
    input_path: PathLike,
    output_path: PathLike | None = None,
    *,
    n_colors: int | Literal["auto"] = 16,
    out_dir: PathLike | None = None,
    overwrite: bool = False,
    inputs: Iterable[PathLike] = (),
    skip_if_larger: bool = False,
    keep_profile: bool = False,
    format: str | None = None,  # noqa: A002
    **kwargs: Any,
) -> CompressionReport:
    """Compress an image file into an indexed PNG or WebP, k fixed or chosen, and report what it cost.

    Parameters
    ----------
    input_path : str or os.PathLike
        Any image Pillow reads. Never modified.
    output_path : str or os.PathLike, optional
        Where to write (its folder is created if missing); default ``<stem>-k<k>.png`` (or
        ``.webp``) in ``out_dir``, or beside the input, with the k used. Refused if it is an
        input (through links too) or, unless ``overwrite``, if it exists. Its extension gives
        the format when ``format`` is not given, and must then be ``.png`` or ``.webp``.
    n_colors : int or "auto", default=16
        Palette size, 1 to 256, or ``"auto"`` to choose it (see :func:`compress_image`).
    out_dir : str or os.PathLike, optional
        Folder for the default output name.
    overwrite : bool, default=False
        Replace an existing output file (never an input).
    inputs : iterable of paths, optional
        Other files that must never be written over, such as the other inputs of a batch
        (``input_path`` itself is always protected).
    skip_if_larger : bool, default=False
        When the output would be larger than the input file, write nothing and report
        ``kept_original=True`` (the command line's default).
    keep_profile : bool, default=False
        Keep the input's ICC profile (see :func:`compress_bytes`).
    format : {"png", "webp"}, optional
        Output format; default from ``output_path``'s extension, else ``"png"``.
    **kwargs
        Further arguments of :func:`compress_image` (``min_psnr``, ``min_ssim``, ``random_state``,
        ``color_space``, ``dither``, ...).

    Returns
    -------
    CompressionReport
        The input and output paths, the measurement of the output and how k was chosen.
    """
    job = FileJob(
        input_path, output_path, n_colors=n_colors, out_dir=out_dir, overwrite=overwrite, inputs=tuple(inputs),
        skip_if_larger=skip_if_larger, keep_profile=keep_profile, format=format, options=kwargs,
    )
    return job()


@dataclasses.dataclass(frozen=True)
class FileJob:
    """A :func:`compress_file` call kept as data, to run here in one piece or in three across machines.

    ``job()`` is ``compress_file(...)``. A runner whose workers share no filesystem with the
    inputs and outputs (a Dask cluster) calls the pieces instead: :meth:`prepare` here (check
    the format and the output path, read the input's bytes), :meth:`remote` on a worker (the
    bytes in, the output's bytes out) and :meth:`finish` here (the output written, under the
    same rules). Both ways run the same code, so the files and reports are the same.

    Attributes
    ----------
    input_path : str or os.PathLike
        The image to compress; never written over.
    output_path : str or os.PathLike or None
        Where to write; None for the default name (see :func:`compress_file`).
    n_colors : int or "auto"
        Palette size, or ``"auto"`` to choose it.
    out_dir : str or os.PathLike or None
        Folder for the default output name.
    overwrite : bool
        Replace an existing output file (never an input).
    inputs : tuple of paths, or ProtectedFiles
        Other files never to be written over. In a batch, :func:`protect_batch` keeps here only
        the inputs this job's output could name, so that a job does not carry (nor resolve) all
        of the batch's.
    skip_if_larger, keep_profile : bool
        As for :func:`compress_file`.
    format : {"png", "webp"} or None
        Output format; None to take it from ``output_path``, else PNG.
    options : dict
        Further arguments of :func:`compress_image`.
    """

    input_path: str | os.PathLike[str]
    output_path: str | os.PathLike[str] | None = None
    n_colors: int | str = 16
    out_dir: str | os.PathLike[str] | None = None
    overwrite: bool = False
    inputs: tuple[str | os.PathLike[str], ...] | ProtectedFiles = ()
    skip_if_larger: bool = False
    keep_profile: bool = False
    format: str | None = None
    options: dict[str, Any] = dataclasses.field(default_factory=dict)

    def __call__(self) -> CompressionReport:
        """The whole job here: :meth:`prepare`, :meth:`remote` and :meth:`finish` in turn.

        Returns
        -------
        CompressionReport
        """
        payload, state = self.prepare()
        box = [payload]  # handed over: the input's bytes are freed once decoded
        del payload
        return self.finish(self._remote_box(box), state)

    def prepare(self) -> tuple[tuple[Any, ...], tuple[Any, ...]]:
        """Here: refuse a bad format or output path before any work, then read the input.

        Returns
        -------
        payload : tuple
            What :meth:`remote` needs: the input's bytes, its name for messages, k, the format,
            ``keep_profile`` and the options.
        state : tuple
            What :meth:`finish` needs; stays here.
        """
        started = time.perf_counter()
        protected = ProtectedFiles.of(self.inputs).including([self.input_path])  # resolved once for the job
        output_path = self.output_path
        if output_path is not None:
            format = output_format(output_path, self.format)  # noqa: A001
        else:
            format = check_format(self.format or "png")  # noqa: A001
        if output_path is None and not _wants_choice(
            self.n_colors, self.options.get("min_psnr"), self.options.get("min_ssim")
        ):
            output_path = default_output_path(self.input_path, self.n_colors, self.out_dir, format)
        if output_path is not None:
            check_output_path(output_path, overwrite=self.overwrite, inputs=protected)
        data = read_input(self.input_path)
        payload = (data, os.fspath(self.input_path), self.n_colors, format, self.keep_profile, self.options)
        return payload, (output_path, format, protected, time.perf_counter() - started)

    @staticmethod
    def remote(payload: tuple[Any, ...]) -> Compressed:
        """Anywhere the package is installed: :func:`compress_bytes` on the payload (no filesystem).

        Parameters
        ----------
        payload : tuple
            What :meth:`prepare` returned first.

        Returns
        -------
        Compressed
        """
        return FileJob._remote_box([payload])

    @staticmethod
    def _remote_box(box: list[Any]) -> Compressed:
        data, name, n_colors, format, keep_profile, options = box.pop()  # noqa: A001
        box.append(data)
        del data
        started = time.perf_counter()
        return _compress_box(box, n_colors, name, started, keep_profile=keep_profile, format=format, **options)

    def finish(self, result: Compressed, state: tuple[Any, ...]) -> CompressionReport:
        """Here: write ``result`` under :func:`compress_file`'s rules.

        The report's ``seconds`` add the time spent here, reading and writing, to the time
        :meth:`remote` took (time waiting for a worker is not counted).

        Parameters
        ----------
        result : Compressed
            What :meth:`remote` returned.
        state : tuple
            What :meth:`prepare` returned second.

        Returns
        -------
        CompressionReport
        """
        output_path, format, protected, seconds_here = state  # noqa: A001
        started = time.perf_counter()
        if output_path is None:
            output_path = default_output_path(self.input_path, result.measurement.k, self.out_dir, format)
            check_output_path(output_path, overwrite=self.overwrite, inputs=protected)
        report = write_result(
            result, self.input_path, output_path, overwrite=self.overwrite, inputs=protected,
            skip_if_larger=self.skip_if_larger,
        )
        seconds = result.measurement.seconds + seconds_here + time.perf_counter() - started
        return dataclasses.replace(report, measurement=dataclasses.replace(report.measurement, seconds=seconds))


def write_result(
    result: Compressed,
    input_path: str | os.PathLike[str],
    output_path: str | os.PathLike[str],
    *,
    overwrite: bool = False,
    inputs: Iterable[str | os.PathLike[str]] | ProtectedFiles = (),
    skip_if_larger: bool = False,
) -> CompressionReport:
    """Write a :class:`Compressed` result to ``output_path`` atomically, under the rules of :func:`compress_file`.

    The last step of :func:`compress_file`, separate so that a result computed elsewhere (another
    process or machine, from the input's bytes) is written with the same rules.

    Parameters
    ----------
    result : Compressed
        What to write.
    input_path : str or os.PathLike
        The image it was made from; never written over, and named in the report.
    output_path : str or os.PathLike
        Where to write; its folder is created if missing.
    overwrite : bool, default=False
        Replace an existing output file (never an input).
    inputs : iterable of paths, or ProtectedFiles, default=()
        Other files never to be written over.
    skip_if_larger : bool, default=False
        Write nothing when the output is larger than the input file.

    Returns
    -------
    CompressionReport
    """
    output_path = Path(output_path)
    measurement = result.measurement
    kept_original = (
        bool(skip_if_larger) and measurement.bytes_in is not None and measurement.bytes_out > measurement.bytes_in
    )
    if not kept_original:
        protected = ProtectedFiles.of(inputs).including([input_path])
        write_bytes_atomic(output_path, result.data, overwrite=overwrite, inputs=protected, make_folders=True)
    return CompressionReport(
        input=os.fspath(input_path),
        output=None if kept_original else os.fspath(output_path),
        measurement=measurement,
        kept_original=kept_original,
        choice=result.choice,
    )
