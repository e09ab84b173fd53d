"""The command line's ``--shared-palette`` and ``--palette FILE``: a set of files on one palette.

``--shared-palette``: every file's histogram counted in parallel through the ordered runner (local
processes, or the Dask cluster with ``--scheduler``), summed and fitted once, then every file
remapped onto the palette in parallel and written. ``--palette FILE``: the palette of FILE, no
fit. A file that cannot be read gets one line, and the palette is fitted on the others. The
report is each file's line, the batch summary, and the set's pooled PSNR (one MSE over every
pixel of every file) in a final line.

A quality target (``--min-psnr``, ``--min-ssim``, ``-k auto``) holds for every file: each k tried
is one fit on the summed histogram and one measuring pass over the files, and the worst file
decides. ``-k auto`` without a target takes the knee of the set's curve of total bytes against
pooled PSNR over k = 2, 4, ..., 256.
"""

from __future__ import annotations

import json
import math
import os
import sys
from collections.abc import Callable
from typing import Any

import numpy as np

from ._arguments import PROG, quality_targets
from ._batch import choose_jobs, run_ordered, start_workers
from ._choose import knee_index, search_smallest_k, target_text
from ._formats import format_of_suffix
from ._inputs import default_output_path, drop_output_clashes, output_folder
from ._shared import CountJob, RemapJob, fit_shared_palette, pooled_psnr, read_palette
from ._sweep import DEFAULT_KS
from ._write import ProtectedFiles

__all__ = ["main_set"]

EXIT_OK, EXIT_FAILED, EXIT_LOW_QUALITY = 0, 1, 99


class _BelowFloor(ValueError):
    """Even 256 colours leave some file below the minimum quality: nothing is written (status 99)."""


def _error(text: str) -> None:
    print(f"{PROG}: error: {text}", file=sys.stderr, flush=True)


def _warn(text: str) -> None:
    print(f"{PROG}: warning: {text}", file=sys.stderr, flush=True)


class _Set:
    """One run of the command on a set: its options, where tasks run, the files still in it."""

    def __init__(self, args: Any, items: list[tuple[str, Any]], client: Any) -> None:
        self.args, self.items = args, items
        self.format = args.format or (format_of_suffix(args.output) if args.output else None) or "png"
        self.executor = None
        self.jobs = 1
        if client is not None:
            from ._dask import DaskExecutor

            self.executor = DaskExecutor(client)
        else:
            self.jobs = choose_jobs(args.jobs, [src for src, _ in items], 1)
            if self.jobs > 1 and len(items) > 1:
                start_workers()
        self.fit_params = {"random_state": args.seed, "color_space": args.color_space}
        self.n_fits = 0

    def run(self, tasks: list[tuple[str, Any]], **callbacks: Any) -> list[Any]:
        return run_ordered(tasks, jobs=self.jobs, executor=self.executor, **callbacks)

    def remap_job(self, src: str, palette: Any, k: int, output_path: str | None = None, inputs: tuple = ()) -> RemapJob:
        return RemapJob(
            src, palette, output_path, format=self.format, k=k, keep_profile=self.args.keep_profile,
            color_space=self.args.color_space, dither=self.args.dither, run_budget=self.args.run_budget,
            overwrite=self.args.force, inputs=inputs,
        )

    def count(self) -> list[Any] | None:
        """Every file's histogram; None when none could be read, or the files' profiles differ."""
        outcomes = self.run([(src, CountJob(src, self.args.keep_profile, self.format)) for src, _ in self.items])
        good = [(item, o) for item, o in zip(self.items, outcomes, strict=True) if o.error is None]
        for o in outcomes:
            for text in o.warnings:
                _warn(text)
            if o.error is not None:
                rest = f"the palette is fitted on the other {len(good)}" if good else "no file is left to fit on"
                _error(f"{o.error}; left out of the shared palette ({rest})")
        self.items = [item for item, _ in good]
        if not good:
            return None
        profiles = {o.value.icc_profile for _, o in good}
        if self.args.keep_profile and len(profiles) > 1:
            _error(
                f"--keep-profile with --shared-palette needs one colour profile for every file; these {len(good)} "
                f"files have {len(profiles)} different ones (drop --keep-profile to convert them all to sRGB)"
            )
            return None
        return [o.value for _, o in good]

    def fit(self, colours: list[Any], k: int) -> Any:
        self.n_fits += 1
        return fit_shared_palette(colours, k, **self.fit_params).palette_

    def measure(self, palette: Any, k: int) -> list[tuple[Any, int]]:
        """Each file's measurement on ``palette`` and its pixel count (a pass that writes nothing)."""
        outcomes = self.run([(src, self.remap_job(src, palette, k)) for src, _ in self.items])
        failed = next((o for o in outcomes if o.error is not None), None)
        if failed is not None:
            raise ValueError(failed.error)
        return [(o.value.measurement, o.value.n_pixels) for o in outcomes]

    def choose(self, colours: list[Any]) -> tuple[int, str]:
        """k for the whole set, and a few words on how it was chosen."""
        targets = quality_targets(self.args)
        min_psnr, min_ssim = targets.get("min_psnr"), targets.get("min_ssim")
        if min_psnr is None and min_ssim is None:
            ks = list(DEFAULT_KS)
            curves = [self.measure(self.fit(colours, k), k) for k in ks]
            sizes = [sum(m.bytes_out for m, _ in c) for c in curves]
            pooled = [min(pooled_psnr(c), 99.0) for c in curves]
            k = ks[knee_index(np.array(sizes, float), np.array(pooled))]
            return k, f"knee of the set's total bytes against pooled PSNR; {self.n_fits} fits"

        def quality(k: int) -> float:
            measured = self.measure(self.fit(colours, k), k)
            margins = []
            if min_psnr is not None:
                margins.append(min(m.psnr for m, _ in measured) - min_psnr)
            if min_ssim is not None:
                margins.append(100 * (min(m.ssim for m, _ in measured) - min_ssim))
            return min(margins)

        found, _ = search_smallest_k(quality, 0.0)
        if found is None:  # the best palette is written if every file reaches the range's minimum
            worst = self.measure(self.fit(colours, 256), 256)
            floor_psnr, floor_ssim = targets.get("floor_psnr"), targets.get("floor_ssim")
            if (floor_psnr is not None and min(m.psnr for m, _ in worst) < floor_psnr) or (
                floor_ssim is not None and min(m.ssim for m, _ in worst) < floor_ssim
            ):
                msg = "cannot reach the minimum quality on every file with 256 colours; nothing written"
                raise _BelowFloor(msg)
            missed = f"{target_text(min_psnr, min_ssim)} not reached on every file"
            return 256, f"{missed}, the best written; {self.n_fits} fits"
        return found, f"fewest colours with {target_text(min_psnr, min_ssim)} on every file; {self.n_fits} fits"


def main_set(
    args: Any,
    items: list[tuple[str, Any]],
    input_errors: list[str],
    all_inputs: list[str],
    client: Any,
    make_output: Callable[..., Any],
    summary: Callable[..., None],
) -> int:
    """Run ``--shared-palette`` or ``--palette FILE`` on the expanded inputs; return the exit status.

    Parameters
    ----------
    args : argparse.Namespace
        The parsed command line.
    items : list of (str, str or None)
        The inputs and the folder INPUT each was found under.
    input_errors : list of str
        INPUTs that named nothing: one error line each, counted as failed.
    all_inputs : list of str
        Every input, never written over.
    client : distributed.Client or None
        The Dask cluster to run on (``--scheduler``), or None for local processes.
    make_output : callable
        The command line's printer class: ``make_output(args, total, unit)`` with ``show``,
        ``tick``, ``interrupted`` and ``close``.
    summary : callable
        The command line's batch summary: ``summary(outcomes, n_failed, as_json, not_started=0)``.

    Returns
    -------
    int
        0 when every file was written, 1 otherwise.
    """
    for text in input_errors:
        _error(text)
    n_failed = len(input_errors)
    if not items:
        return EXIT_FAILED if n_failed else EXIT_OK
    run = _Set(args, items, client)
    choice = None
    try:
        if args.palette is not None:
            palette = read_palette(args.palette)
            k = len(palette)
            source = f"the palette of {args.palette}"
        else:
            colours = run.count()
            n_failed += len(items) - len(run.items)
            if colours is None:
                return EXIT_FAILED
            target = bool(quality_targets(args))
            if args.k == "auto" or (args.k is None and target):
                k, choice = run.choose(colours)
            else:
                k = 16 if args.k is None else args.k
            palette = run.fit(colours, k)
            source = "one shared palette"
    except ValueError as exc:  # an unreadable palette file, a target out of reach, a pass that failed
        _error(str(exc).splitlines()[0] if str(exc) else type(exc).__name__)
        return EXIT_LOW_QUALITY if isinstance(exc, _BelowFloor) else EXIT_FAILED
    kept = run.items
    if not args.output:
        kept, clashes = drop_output_clashes(kept, k, args.out_dir, run.format, suffix=args.suffix)
        for text in clashes:
            _error(text)
        n_failed += len(clashes)
    protected = ProtectedFiles(all_inputs)
    tasks = []
    for src, root in kept:
        folder = output_folder(src, root, args.out_dir)
        output = args.output or os.fspath(default_output_path(src, k, folder, run.format, suffix=args.suffix))
        owner = protected.owner(output)
        tasks.append((src, run.remap_job(src, palette, k, output, () if owner is None else (owner,))))
    out = make_output(args, len(tasks), "file")
    interrupted = False
    try:
        outcomes = run.run(tasks, on_result=out.show, on_done=out.tick, on_interrupt=out.interrupted)
    except KeyboardInterrupt:
        outcomes, interrupted = out.shown, True
    finally:
        out.close()
    summary(outcomes, n_failed, args.json, not_started=len(tasks) - len(outcomes))
    _pooled_line(outcomes, k, source, choice, args.json)
    if interrupted:
        raise KeyboardInterrupt
    failures = n_failed + sum(1 for o in outcomes if o.error is not None)
    return EXIT_FAILED if failures else EXIT_OK


def _pooled_line(outcomes: list[Any], k: int, source: str, choice: str | None, as_json: bool) -> None:
    """The set's figures: its pooled PSNR (one MSE over all pixels) and its worst file."""
    reports = [o.value for o in outcomes if o.error is None]
    if not reports:
        return
    measured = [(r.measurement, r.measurement.frames * r.measurement.width * r.measurement.height) for r in reports]
    pooled = pooled_psnr(measured)
    worst = min(reports, key=lambda r: r.measurement.psnr)
    auto = f"  [k=auto: {choice}]" if choice else ""
    if as_json:
        finite = pooled if math.isfinite(pooled) else None
        record = {"set": source, "k": k, "files": len(reports), "pooled_psnr": finite}
        print(json.dumps(record), file=sys.stderr, flush=True)
        return
    text = "inf" if math.isinf(pooled) else f"{pooled:.2f}"
    print(
        f"{len(reports)} files on {source}, k={k}: pooled PSNR {text} dB (one MSE over all "
        f"{sum(n for _, n in measured):,} pixels); worst file {worst.input} at {worst.measurement.psnr:.2f} dB{auto}",
        flush=True,
    )
