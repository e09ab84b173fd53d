"""The one-call workflow: an image in, a smaller file out, with k fixed or chosen, and its measurement.

:func:`compress_bytes` is the whole job without a filesystem (bytes or a file object in, the
encoded file's bytes out), for pipelines that read from and write to object stores or run on
other machines. :func:`compress_file` is the same job plus reading the input, choosing the output
name and writing it atomically, with the rules that keep data safe.
"""

from __future__ import annotations

import dataclasses
import io
import os
import time
import warnings
from collections.abc import Iterable
from pathlib import Path
from typing import IO, TYPE_CHECKING, Any, Literal

import numpy as np
from numpy.typing import NDArray

from ._animate import compress_animation, warn_profile_not_kept
from ._choose import choose_k, target_text
from ._encode import gif_alpha
from ._formats import check_format, output_format
from ._frames import is_animation
from ._inputs import DEFAULT_SUFFIX, default_output_path
from ._load import ImageInfo, image_from_array, is_image_source, read_image, read_input
from ._measure import check_metrics
from ._results import Compressed, CompressionReport
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


def _floors(
    min_psnr: float | None, min_ssim: float | None, floor_psnr: float | None, floor_ssim: float | None
) -> list[float | None]:
    """The floors to check a missed target against: each its target unless given, never above it."""
    floors: list[float | None] = []
    for name, target, given in (("psnr", min_psnr, floor_psnr), ("ssim", min_ssim, floor_ssim)):
        if target is None:
            if given is not None:
                msg = f"floor_{name} is the least quality accepted when min_{name} is missed: give min_{name} too."
                raise ValueError(msg)
            floors.append(None)
            continue
        floor = target if given is None else float(given)
        if floor > target:
            msg = f"floor_{name} must not exceed min_{name}, got floor_{name}={floor:g} > min_{name}={target:g}."
            raise ValueError(msg)
        floors.append(floor)
    return floors


def _below(row: Any, floor_psnr: float | None, floor_ssim: float | None) -> bool:
    """Whether ``row``'s quality is under a floor that was given."""
    return (floor_psnr is not None and row.psnr < floor_psnr) or (floor_ssim is not None and row.ssim < floor_ssim)


def _needed_metrics(
    metrics: Any, n_colors: int | str, min_psnr: float | None, min_ssim: float | None
) -> frozenset[str]:
    """The figures asked for, and those the choice of k reads (PSNR for the knee and a PSNR target)."""
    needed = set(check_metrics(metrics))
    if n_colors == "auto" and (min_psnr is not None or min_ssim is None):
        needed.add("psnr")
    if min_ssim is not None:
        needed.add("ssim")
    return frozenset(needed)


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
    floor_psnr: float | None = None,
    floor_ssim: float | None = None,
    ks: Iterable[int] = DEFAULT_KS,
    bytes_in: int | None = None,
    random_state: int = 0,
    started: float | None = None,
    format: str = "png",  # noqa: A002
    info: ImageInfo | None = None,
    metrics: str = "all",
    **params: Any,
) -> Compressed:
    """Quantize a loaded image and encode it as an indexed PNG or a lossless WebP, k fixed or chosen.

    Parameters
    ----------
    image : ndarray of uint8 (H, W, 3|4), or a path, file object, bytes or PIL image
        Anything :func:`~kmeans_compress.load_image` takes (its DPI kept, as the file route does).
    n_colors : int or "auto", default=16
        Palette size, 1 to 256; ``"auto"`` chooses it (:func:`~kmeans_compress.choose_k`): the
        fewest colours reaching ``min_psnr``/``min_ssim``, or without a target the knee of the
        size-quality curve over ``ks``.
    min_psnr, min_ssim : float, optional
        Target quality for ``n_colors="auto"``: the fewest colours reaching it (the command
        line's ``--psnr MAX``, ``--ssim MAX``). When no k reaches it, the best palette found
        (the most colours tried) is used and ``reached`` is False.
    floor_psnr, floor_ssim : float, optional
        The least quality accepted when the target is missed (``--psnr MIN-MAX``): below it,
        ``below_floor`` is True. Default: the target itself. ``-math.inf`` accepts any.
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
    metrics : {"all", "psnr", "none"}, default="all"
        Quality figures measured (see :func:`~kmeans_compress.measure`); those the choice of k
        reads are measured whatever this says.
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
        When a floor is given without its target, or above it.

    Warns
    -----
    UserWarning
        When the target is missed but the best palette found is above the floor (it is used).
    """
    started = time.perf_counter() if started is None else started
    format = check_format(format)  # noqa: A001
    if info is None and is_image_source(image):
        image, info = read_image(image)
    info = ImageInfo() if info is None else info
    if format == "gif" and image.shape[2] == 4:  # on/off transparency: fitted and measured as GIF holds it
        image = image_from_array(gif_alpha(image))
    chosen = _wants_choice(n_colors, min_psnr, min_ssim)
    floor_psnr, floor_ssim = _floors(min_psnr, min_ssim, floor_psnr, floor_ssim)
    needed = _needed_metrics(metrics, n_colors, min_psnr, min_ssim)
    # one k or many, the same path: ImageSweep fits, encodes and measures each k once
    job = ImageSweep(
        image, bytes_in=bytes_in, random_state=random_state, format=format, info=info, metrics=needed, **params
    )
    choice = reached = None
    below_floor = False
    if not chosen:
        k = check_k("n_colors", n_colors)
    else:
        choice = choose_k(job, min_psnr=min_psnr, min_ssim=min_ssim, ks=ks)
        if min_psnr is not None or min_ssim is not None:
            reached = choice.k is not None
        if choice.k is not None:
            k = choice.k
        else:  # the best palette found: the most colours tried
            best = choice.rows[-1]
            k = best.k
            below_floor = _below(best, floor_psnr, floor_ssim)
            if not below_floor:
                figures = ((min_psnr, f"PSNR {best.psnr:.2f} dB"), (min_ssim, f"SSIM {best.ssim:.4f}"))
                found = ", ".join(text for target, text in figures if target is not None)
                warnings.warn(
                    f"cannot reach {target_text(min_psnr, min_ssim)} with at most {best.k} colours ({found} "
                    "there); the best found is used",
                    UserWarning,
                    stacklevel=2,
                )
    # the whole time on this image (the search for k included), not only the chosen fit
    measurement = job.row(k).measurement(seconds=time.perf_counter() - started)
    return Compressed(job.data_[k], measurement, choice, reached=reached, below_floor=below_floor)


def compress_bytes(
    source: bytes | bytearray | memoryview | IO[bytes] | PathLike | Any,
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
    source : bytes, bytearray, memoryview, binary file object, path, PIL.Image.Image or ndarray
        The input file's contents (any format :func:`~kmeans_compress.load_image` reads), or
        anything else ``load_image`` takes: a path is read whole, a PIL image or an array is
        quantized as it is (``measurement.bytes_in`` is then None).
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
    if isinstance(source, (str, os.PathLike)):
        name = os.fspath(source) if name is None else name
        source = read_input(source)
    elif not (hasattr(source, "read") or isinstance(source, (bytes, bytearray, memoryview))):
        image, info = read_image(source, keep_profile=keep_profile)  # a PIL image or an array: no file
        return compress_image(image, n_colors, started=started, format=format, info=info, **kwargs)
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
            warn_profile_not_kept(name, stacklevel=2)
        for name in ("floor_psnr", "floor_ssim", "metrics"):  # an animation is measured whole; a target is met or not
            kwargs.pop(name, None)
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
    suffix: str = DEFAULT_SUFFIX,
    keep_mtime: bool = False,
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
    suffix : str, default="-k{k}"
        What the default output name adds to the input's stem, ``{k}`` replaced by the k used
        (``--suffix``). ``""`` keeps the input's name: give ``out_dir`` then (an input is never
        written over).
    keep_mtime : bool, default=False
        Give the output the input's access and modification times.
    **kwargs
        Further arguments of :func:`compress_image` (``min_psnr``, ``floor_psnr``, ``min_ssim``,
        ``random_state``, ``color_space``, ``dither``, ``metrics``, ...).

    Returns
    -------
    CompressionReport
        ``output`` is None when nothing was written: ``kept_original`` (larger) or
        ``below_floor`` (a target quality missed below its floor).
    """
    job = FileJob(
        input_path, output_path, n_colors=n_colors, out_dir=out_dir, overwrite=overwrite, inputs=tuple(inputs),
        skip_if_larger=skip_if_larger, keep_profile=keep_profile, format=format, options=kwargs, suffix=suffix,
        keep_mtime=keep_mtime,
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
    suffix : str
        What the default output name adds to the stem (``{k}``: the k used).
    keep_mtime : bool
        Give the output the input's access and modification times.
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
    suffix: str = DEFAULT_SUFFIX
    keep_mtime: bool = False

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
        fixed_k = not _wants_choice(self.n_colors, self.options.get("min_psnr"), self.options.get("min_ssim"))
        if output_path is None and (fixed_k or "{k}" not in self.suffix):
            output_path = default_output_path(self.input_path, self.n_colors, self.out_dir, format, suffix=self.suffix)
        if output_path is not None:
            check_output_path(output_path, overwrite=self.overwrite, inputs=protected)
        data = read_input(self.input_path)
        times = None
        if self.keep_mtime:
            stat = os.stat(self.input_path)
            times = (stat.st_atime_ns, stat.st_mtime_ns)
        payload = (data, os.fspath(self.input_path), self.n_colors, format, self.keep_profile, self.options)
        return payload, (output_path, format, protected, time.perf_counter() - started, times)

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
        output_path, format, protected, seconds_here, times = state  # noqa: A001
        started = time.perf_counter()
        if output_path is None:
            k = result.measurement.k
            output_path = default_output_path(self.input_path, k, self.out_dir, format, suffix=self.suffix)
            if not result.below_floor:
                check_output_path(output_path, overwrite=self.overwrite, inputs=protected)
        report = write_result(
            result, self.input_path, output_path, overwrite=self.overwrite, inputs=protected,
            skip_if_larger=self.skip_if_larger,
        )
        if times is not None and report.output is not None:
            os.utime(report.output, ns=times)
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
        Nothing is written, and ``output`` is None, when ``result.below_floor`` or when the
        output would be larger and ``skip_if_larger``.
    """
    output_path = Path(output_path)
    measurement = result.measurement
    larger = measurement.bytes_in is not None and measurement.bytes_out > measurement.bytes_in
    kept_original = bool(skip_if_larger) and larger and not result.below_floor
    if not (kept_original or result.below_floor):
        protected = ProtectedFiles.of(inputs).including([input_path])
        write_bytes_atomic(output_path, result.data, overwrite=overwrite, inputs=protected, make_folders=True)
    return CompressionReport(
        input=os.fspath(input_path),
        output=None if kept_original or result.below_floor else os.fspath(output_path),
        measurement=measurement,
        kept_original=kept_original,
        choice=result.choice,
        reached=result.reached,
        below_floor=result.below_floor,
    )
