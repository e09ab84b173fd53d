"""The ``kmeans-compress`` command line: parse, expand the inputs, run, print.

``kmeans-compress INPUT... [-k K|auto] [-o OUTPUT | --out-dir DIR] [--format png|webp] [--keep-profile]
[--force] [--seed N] [--color-space rgb|lab|oklab] [--dither] [--run-budget DB] [--json]
[--shared-palette | --palette FILE]``

INPUT may be files, folders (their images; ``--recursive`` for subfolders) and glob patterns.
One line per input on stdout (or one JSON object per line with ``--json``), in the order of the
inputs; a file that fails gets one line on stderr and the others still run. Several files are
processed in parallel (``--jobs``), with a progress bar on a terminal and a summary at the end.
Exit status: 0 when every file succeeded, 1 when any failed, 2 for bad usage.

Choosing k: ``-k auto`` picks the knee of the size-quality curve, or with ``--min-psnr`` /
``--min-ssim`` the fewest colours reaching that quality. ``--sweep 2,4,8,...`` measures each k and
prints a table instead of writing images (``--compare`` adds JPEG at the same bytes and Pillow's
median cut; ``--csv``, ``--json-out`` and ``--plot`` save it).

An animated GIF, APNG or WebP input is compressed as an animation: every frame on one palette,
written as an animated GIF, APNG or WebP (the output format), its figures over all frames.
``--shared-palette`` writes every input on one palette fitted over them all; ``--palette FILE``
maps them onto the palette of an existing palette image.

Output: an indexed PNG, or with ``--format webp`` (or an ``-o`` name ending in ``.webp``) a
lossless WebP of the same pixels; in sRGB, tagged as such, unless ``--keep-profile`` keeps the
input's ICC profile. Never larger: when the output would be larger than the input file, nothing
is written and the line says "kept original"; ``--allow-larger`` writes it anyway. (``--force`` only means
"replace existing output files".)

The work itself is the library's (:func:`~kmeans_compress.compress_file`, the sweep report, the
ordered runner); this module imports only the standard library until the usage is checked, so
``--help`` and usage errors answer at once.
"""

from __future__ import annotations

import dataclasses
import functools
import json
import os
import sys
from pathlib import Path

from ._arguments import PROG, build_parser, quality_targets, usage_problem
from ._batch import choose_jobs, quiet_pil_logger, run_ordered, start_workers
from ._exits import EXIT_FAILED, EXIT_LARGER, EXIT_OK, EXIT_QUALITY, EXIT_USAGE, most_severe
from ._inputs import drop_output_clashes, expand_inputs, output_folder
from ._messages import one_line

__all__ = ["build_parser", "main", "run"]

def _error(text):
    print(f"{PROG}: error: {text}", file=sys.stderr, flush=True)


def _error_line(text):
    print(f"{PROG}: {text}", file=sys.stderr, flush=True)


def _palette_size(args):
    """-k as given; else "auto" when a target quality is given; else 16."""
    if args.k is not None:
        return args.k
    return "auto" if quality_targets(args) else 16


def quantizer_options(args):
    """The options of :func:`~kmeans_compress.compress_bytes` that the command's arguments give."""
    options = {
        "random_state": args.seed,
        "color_space": args.color_space,
        "dither": args.dither,
        "run_budget": args.run_budget,
        "metrics": args.metrics,
    }
    if _palette_size(args) == "auto":
        options.update(quality_targets(args))
    return options


def outcome_status(outcome, args):
    """The exit status one file's outcome asks for (see :mod:`._exits`)."""
    if outcome.error is not None:
        return EXIT_FAILED
    report = outcome.value
    if getattr(report, "below_floor", False):
        return EXIT_QUALITY
    if getattr(report, "kept_original", False) and args.skip_if_larger:
        return EXIT_LARGER
    return EXIT_OK


def _compress_tasks(args, items, all_inputs):
    from ._compress import FileJob
    from ._protect import protect_batch

    options = {
        "n_colors": _palette_size(args),
        "overwrite": args.force,
        "skip_if_larger": not args.allow_larger,
        "format": args.format,
        "keep_profile": args.keep_profile,
        "options": quantizer_options(args),
        "suffix": args.suffix,
        "keep_mtime": args.keep_mtime,
    }
    jobs = [FileJob(src, args.output, out_dir=output_folder(src, root, args.out_dir), **options) for src, root in items]
    # every input is kept from being written over; resolved once for the batch, not once per file
    jobs = protect_batch(jobs, also=all_inputs)
    return [(os.fspath(job.input_path), job) for job in jobs]


def _sweep_options(args):
    return {
        "compare": args.compare,
        "random_state": args.seed,
        "color_space": args.color_space,
        "dither": args.dither,
        "run_budget": args.run_budget,
        "format": args.format or "png",
        "keep_profile": args.keep_profile,
    }


class _Output:
    """Prints each outcome (warnings, then its line or JSON, or its error) around an optional bar."""

    def __init__(self, args, total, unit):
        self.args, self.bar, self.shown = args, None, []
        if not args.no_progress and _stderr_is_tty():
            from tqdm import tqdm

            self.bar = tqdm(total=total, unit=unit, file=sys.stderr, leave=False, dynamic_ncols=True)

    def write(self, text, stream):
        if self.bar is not None:
            self.bar.write(text, file=stream)
        else:
            print(text, file=stream, flush=True)

    def tick(self, outcome):
        if self.bar is not None:
            self.bar.set_description(Path(outcome.label).name, refresh=False)
            self.bar.update(1)
            self.bar.refresh()  # every file (or k) shows, however fast they come

    def show(self, outcome):
        self.shown.append(outcome)
        for text in outcome.warnings:
            self.write(f"{PROG}: warning: {text}", sys.stderr)
        if outcome.error is not None:
            self.write(f"{PROG}: error: {outcome.error}", sys.stderr)
            return
        value = outcome.value
        if self.args.json:
            self.write(json.dumps(value.to_dict()), sys.stdout)
        else:
            self.write(
                value.summary() if self.args.sweep is None else value.summary(compare=self.args.compare), sys.stdout
            )

    def interrupted(self):
        """Ctrl-C: the bar goes at once (with the ``^C`` the terminal echoed after it), and a line says what happens
        now."""
        if self.bar is not None:
            self.bar.close()
            self.bar = None
            sys.stderr.write("\r\x1b[K")  # on a terminal: the rest of the line too
        _error_line("interrupted: finishing the files in progress, starting no more (Ctrl-C again to stop waiting)")

    def close(self):
        if self.bar is not None:
            self.bar.close()
            self.bar = None


def _stderr_is_tty():
    try:
        return sys.stderr.isatty()
    except (AttributeError, ValueError):
        return False


def _summary(outcomes, n_input_errors, as_json, not_started=0):
    reports = [o.value for o in outcomes if o.error is None]
    failed = len(outcomes) - len(reports) + n_input_errors
    kept = sum(1 for r in reports if r.kept_original)
    low = sum(1 for r in reports if r.below_floor)
    before = sum(r.measurement.bytes_in for r in reports)
    after = sum(r.measurement.bytes_in if r.output is None else r.measurement.bytes_out for r in reports)
    ratio = f" ({before / after:.2f}x smaller)" if after else ""
    stopped = f", {not_started} not done (interrupted)" if not_started else ""
    text = (
        f"{len(reports) + failed + not_started} files: {len(reports) - kept - low} written, {kept} kept original "
        f"(output would be larger), {low_text(low)}{failed} failed{stopped}; {before:,} B -> {after:,} B{ratio}"
    )
    print(text, file=sys.stderr if as_json else sys.stdout, flush=True)


def low_text(n):
    """``"2 below the minimum quality, "``, or nothing when none was."""
    return f"{n} below the minimum quality, " if n else ""


def _run_compress(args, items, all_inputs, jobs, client=None):
    """The outcomes in input order, and whether Ctrl-C stopped the batch (then only those done)."""
    out = _Output(args, len(items), "file")
    try:
        executor = None
        if client is not None:
            from ._dask import DaskExecutor

            def waiting(text):
                out.write(f"{PROG}: warning: {text} (--scheduler-timeout)", sys.stderr)

            executor = DaskExecutor(client, timeout=_scheduler_timeout(args), on_wait=waiting)
        elif jobs > 1 and len(items) > 1:
            start_workers()  # their imports run beside this process's own, on another core
        tasks = _compress_tasks(args, items, all_inputs)
        outcomes = run_ordered(
            tasks, jobs=jobs, executor=executor, on_result=out.show, on_done=out.tick, on_interrupt=out.interrupted
        )
        return outcomes, False
    except KeyboardInterrupt:
        return out.shown, True
    finally:
        out.close()


def _run_sweeps(args, items, jobs):
    """One file: its k are the tasks (shared among workers); several files: one task per file."""
    from ._report import make_report, sweep_file, sweep_file_k

    given = quality_targets(args)
    targets = {"min_psnr": given.get("min_psnr"), "min_ssim": given.get("min_ssim")}
    if len(items) != 1:
        tasks = [
            (src, functools.partial(sweep_file, src, args.sweep, **targets, **_sweep_options(args))) for src, _ in items
        ]
        out = _Output(args, len(tasks), "file")
        try:
            return run_ordered(tasks, jobs=jobs, on_result=out.show, on_done=out.tick, on_interrupt=out.interrupted)
        finally:
            out.close()
    src = items[0][0]
    ks = sorted(args.sweep, reverse=True) if jobs > 1 else args.sweep  # largest first: they take longest
    k_tasks = [(src, functools.partial(sweep_file_k, src, k, **_sweep_options(args))) for k in ks]
    out = _Output(args, len(k_tasks), "k")
    try:
        parts = run_ordered(k_tasks, jobs=jobs, on_done=out.tick, on_interrupt=out.interrupted)
    finally:
        out.close()
    failed = next((p for p in parts if p.error is not None), None)
    warned = list(dict.fromkeys(w for p in parts for w in p.warnings))
    outcome = dataclasses.replace(failed or parts[0], warnings=warned)
    if failed is None:
        by_k = {p.value[0].k: p.value for p in parts}
        outcome.value = make_report(src, [by_k[k] for k in args.sweep], **targets)
    out.show(outcome)
    return [outcome]


def _save_tables(args, outcomes):
    from ._tables import rows_to_csv, rows_to_json

    reports = [o.value for o in outcomes if o.error is None]
    records = [{"input": r.input, **row.to_dict()} for r in reports for row in r.rows]
    if args.csv:
        Path(args.csv).parent.mkdir(parents=True, exist_ok=True)  # each folder made as its file is written
        rows_to_csv(records, args.csv)
    if args.json_out:
        Path(args.json_out).parent.mkdir(parents=True, exist_ok=True)
        rows_to_json(records, args.json_out)
    if args.plot:
        from .plotting import plot_sweep_reports

        figure = plot_sweep_reports(reports)
        Path(args.plot).parent.mkdir(parents=True, exist_ok=True)
        figure.savefig(args.plot, dpi=110)


def main(argv=None):
    """Run the command line; returns the exit status instead of exiting."""
    quiet_pil_logger()
    try:
        args = build_parser().parse_args(argv)
    except SystemExit as exc:  # argparse exits 2 on bad usage, 0 on --help/--version
        return int(exc.code or 0)
    if "-" in args.inputs or args.output == "-":
        from ._pipe import run_pipe

        problem = usage_problem(args, len(args.inputs))
        if problem:
            _error(problem)
            return EXIT_USAGE
        return run_pipe(args, quantizer_options(args), _palette_size(args))
    items, input_errors = expand_inputs(args.inputs, recursive=args.recursive)
    problem = usage_problem(args, len(items) + len(input_errors))
    if problem:
        _error(problem)
        return EXIT_USAGE
    client = None
    if args.scheduler is not None:
        client, status = _connect(args)
        if client is None:
            return status
    try:
        return _main(args, items, input_errors, client)
    finally:
        if client is not None:
            from ._dask import close_client

            close_client(client, timeout=min(_scheduler_timeout(args), 5.0))


def _scheduler_timeout(args):
    from ._dask import DEFAULT_TIMEOUT

    return args.scheduler_timeout or DEFAULT_TIMEOUT


def _connect(args):
    """(client, None), or (None, exit status) after one line saying why not."""
    from ._dask import DaskMissingError, SchedulerUnreachableError, connect, route_logs, version_warnings, worker_count

    timeout = _scheduler_timeout(args)
    try:
        route_logs(args.scheduler_log)  # distributed's own log lines never reach the terminal
        client, _ = connect(args.scheduler, timeout=timeout)
    except DaskMissingError:
        _error("--scheduler needs the [dask] extra: pip install 'kmeans-compress[dask]' (it brings distributed)")
        return None, EXIT_USAGE
    except SchedulerUnreachableError as exc:
        _error(f"{exc}; nothing done")
        return None, EXIT_FAILED
    except OSError as exc:  # the --scheduler-log file
        _error(f"--scheduler-log: {one_line(exc)}")
        return None, EXIT_USAGE
    texts = version_warnings(client, timeout=timeout)
    if not worker_count(client, timeout=timeout):
        texts.append(f"the Dask scheduler {args.scheduler} has no workers yet; files wait up to {timeout:g} s for one")
    for text in texts:
        print(f"{PROG}: warning: {text}", file=sys.stderr)
    return client, None


def _main(args, items, input_errors, client):
    if args.out_dir and Path(args.out_dir).exists() and not Path(args.out_dir).is_dir():
        # The folder itself is made when its first file is written, not here.
        _error(f"cannot create --out-dir {args.out_dir}: a file of that name exists")
        return EXIT_FAILED
    all_inputs = [src for src, _ in items]  # never written over, whatever the output names
    if args.shared_palette or args.palette is not None:
        from ._shared_run import main_set

        return main_set(args, items, input_errors, all_inputs, client, _Output, _summary)
    k = _palette_size(args)
    fixed_k = None if k == "auto" else k
    if args.sweep is None and (fixed_k is not None or "{k}" not in args.suffix) and not args.output:
        items, clashes = drop_output_clashes(items, k, args.out_dir, args.format or "png", suffix=args.suffix)
        input_errors += clashes
    for text in input_errors:
        _error(text)
    if not items:
        return EXIT_FAILED if input_errors else EXIT_OK
    paths = [src for src, _ in items]
    interrupted = False
    if args.sweep is not None:
        jobs = choose_jobs(args.jobs, paths, len(args.sweep))
        outcomes = _run_sweeps(args, items, jobs)
    else:
        jobs = 1 if client is not None else choose_jobs(args.jobs, paths, 1 if fixed_k is not None else 8)
        outcomes, interrupted = _run_compress(args, items, all_inputs, jobs, client)
    statuses = [EXIT_FAILED] * len(input_errors) + [outcome_status(o, args) for o in outcomes]
    if args.sweep is None and (len(items) + len(input_errors) > 1 or interrupted):
        _summary(outcomes, len(input_errors), args.json, not_started=len(items) - len(outcomes))
    if interrupted:
        raise KeyboardInterrupt  # after the summary of what was written: exit status 130
    if args.sweep is not None and (args.csv or args.json_out or args.plot):
        try:
            _save_tables(args, outcomes)
        except (OSError, ValueError) as exc:
            _error(one_line(exc))
            statuses.append(EXIT_FAILED)
    return most_severe(statuses)


def run():
    """Console-script entry point: exit with :func:`main`'s status (130 on Ctrl-C)."""
    try:
        sys.exit(main())
    except KeyboardInterrupt:
        print(f"{PROG}: interrupted", file=sys.stderr)
        sys.exit(130)
