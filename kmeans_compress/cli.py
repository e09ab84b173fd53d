"""The ``kmeans-compress`` command line: parse, expand the inputs, run, print.

``kmeans-compress INPUT... [-k K|auto] [-o OUTPUT | --out-dir DIR] [--force] [--seed N]
[--color-space rgb|lab|oklab] [--dither] [--json]``

INPUT may be files, folders (their images; ``--recursive`` for subfolders) and glob patterns.
One line per input on stdout (or one JSON object per line with ``--json``), in the order of the
inputs; a file that fails gets one line on stderr and the others still run. Several files are
processed in parallel (``--jobs``), with a progress bar on a terminal and a summary at the end.
Exit status: 0 when every file succeeded, 1 when any failed, 2 for bad usage.

Choosing k: ``-k auto`` picks the knee of the size-quality curve, or with ``--min-psnr`` /
``--min-ssim`` the fewest colours reaching that quality. ``--sweep 2,4,8,...`` measures each k and
prints a table instead of writing images (``--compare`` adds JPEG at the same bytes and Pillow's
median cut; ``--csv``, ``--json-out`` and ``--plot`` save it).

Never larger: when the indexed PNG would be larger than the input file, nothing is written and
the line says "kept original"; ``--allow-larger`` writes it anyway. (``--force`` only means
"replace existing output files".)

The work itself is the library's (:func:`~kmeans_compress.compress_file`, the sweep report, the
ordered runner); this module imports only the standard library until the usage is checked, so
``--help`` and usage errors answer at once.
"""

from __future__ import annotations

import argparse
import dataclasses
import functools
import importlib.util
import json
import math
import sys
from pathlib import Path

from . import __version__
from ._batch import choose_jobs, quiet_pil_logger, run_ordered
from ._inputs import drop_output_clashes, expand_inputs, output_folder

__all__ = ["build_parser", "main", "run"]

PROG = "kmeans-compress"
EXIT_OK, EXIT_FAILED, EXIT_USAGE = 0, 1, 2


def _k(text):
    if text.strip().lower() == "auto":
        return "auto"
    try:
        value = int(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"k must be an integer from 1 to 256 or 'auto', got {text!r}") from None
    if not 1 <= value <= 256:
        raise argparse.ArgumentTypeError(f"k must be from 1 to 256 (a PNG palette holds no more), got {value}")
    return value


def _ks(text):
    values = []
    for part in text.split(","):
        if part.strip():
            k = _k(part) if part.strip().lower() != "auto" else "auto"
            if k == "auto":
                raise argparse.ArgumentTypeError("--sweep takes integers, e.g. 2,4,8,16")
            values.append(k)
    if not values:
        raise argparse.ArgumentTypeError(f"--sweep needs a comma-separated list of k, got {text!r}")
    return list(dict.fromkeys(values))


def _positive_int(text):
    try:
        value = int(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"expected a positive integer, got {text!r}") from None
    if value < 1:
        raise argparse.ArgumentTypeError(f"expected a positive integer, got {value}")
    return value


def _finite(text):
    try:
        value = float(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"expected a number, got {text!r}") from None
    if not math.isfinite(value):
        raise argparse.ArgumentTypeError(f"expected a finite number, got {text!r}")
    return value


def _ssim_value(text):
    value = _finite(text)
    if not -1 <= value <= 1:
        raise argparse.ArgumentTypeError(f"SSIM is between -1 and 1, got {value:g}")
    return value


def build_parser():
    """The argument parser (exposed for documentation and tests)."""
    parser = argparse.ArgumentParser(
        prog=PROG,
        description="Compress images by K-Means colour quantization into indexed (palette) PNGs, "
        "and report size and quality (PSNR, SSIM, CIEDE2000 colour difference).",
    )
    parser.add_argument(
        "inputs", nargs="+", metavar="INPUT", help="image files, folders of images, or glob patterns (any format Pillow reads)"
    )
    parser.add_argument(
        "-k",
        "--colors",
        dest="k",
        type=_k,
        default=None,
        help="palette size, 1 to 256, or 'auto': the knee of the size-quality curve over k = 2, 4, ..., 256, "
        "or with --min-psnr/--min-ssim the fewest colours reaching them (default 16; 'auto' with those)",
    )
    where = parser.add_mutually_exclusive_group()
    where.add_argument("-o", "--output", help="output PNG path (only with a single INPUT)")
    where.add_argument("--out-dir", help="folder for outputs, named <stem>-k<k>.png (default: beside each input)")
    parser.add_argument("--force", action="store_true", help="replace existing output files (never an input; see also --allow-larger)")
    parser.add_argument(
        "--allow-larger",
        action="store_true",
        help="write the PNG even when it is larger than the input file (default: keep the original, write nothing)",
    )
    parser.add_argument("--seed", type=int, default=0, help="random_state for k-means++ (default 0)")
    parser.add_argument(
        "--color-space",
        choices=("rgb", "lab", "oklab"),
        default="rgb",
        help="space the palette is fitted in: rgb, lab (CIELAB) or oklab (default rgb)",
    )
    parser.add_argument(
        "--dither",
        action=argparse.BooleanOptionalAction,
        default=False,
        help="Floyd-Steinberg dithering: hides banding in gradients, costs bytes; opaque images only, ignored with alpha (default off)",
    )
    parser.add_argument("--json", action="store_true", help="print one JSON object per input instead of a line")

    choose = parser.add_argument_group("choosing k (-k auto)")
    choose.add_argument(
        "--min-psnr", type=_finite, metavar="DB", help="fewest colours whose PSNR reaches DB (implies -k auto)"
    )
    choose.add_argument(
        "--min-ssim", type=_ssim_value, metavar="S", help="fewest colours whose SSIM reaches S (implies -k auto)"
    )

    sweeps = parser.add_argument_group("sweeps (measure several k, write no images)")
    sweeps.add_argument("--sweep", type=_ks, metavar="K,K,...", help="measure each k and print a table, e.g. 2,4,8,16,32,64")
    sweeps.add_argument(
        "--compare",
        action="store_true",
        help="add JPEG at the same file size and Pillow's median cut at the same k to the sweep (slower)",
    )
    sweeps.add_argument("--csv", metavar="FILE", help="write the sweep table as CSV")
    sweeps.add_argument("--json-out", metavar="FILE", help="write the sweep table as JSON")
    sweeps.add_argument("--plot", metavar="FILE", help="save the size-quality curves as an image (needs matplotlib)")

    batch = parser.add_argument_group("batches")
    batch.add_argument("-r", "--recursive", action="store_true", help="look for images in subfolders of folder INPUTs too")
    batch.add_argument(
        "-j",
        "--jobs",
        type=_positive_int,
        default=None,
        help="parallel processes: across files, or across k for one file's --sweep (default: the number of "
        "CPUs; 1 for small jobs, where starting workers would cost more than it saves)",
    )
    batch.add_argument("--no-progress", action="store_true", help="no progress bar (it shows only on a terminal anyway)")
    parser.add_argument("--version", action="version", version=f"%(prog)s {__version__}")
    return parser


def _usage_problem(args, n_files):
    """One-line reason why these options do not go together, or None."""
    target = args.min_psnr is not None or args.min_ssim is not None
    if args.sweep is not None:
        if args.k is not None:
            return "--sweep measures the listed k and writes no images; drop -k"
        if args.output or args.out_dir:
            return "--sweep writes no images; drop -o/--output and --out-dir (use --csv/--json-out/--plot)"
        if args.plot and importlib.util.find_spec("matplotlib") is None:
            return "--plot needs matplotlib (pip install matplotlib, or the [plot] extra)"
    else:
        for flag, value in (("--compare", args.compare), ("--csv", args.csv), ("--json-out", args.json_out), ("--plot", args.plot)):
            if value:
                return f"{flag} goes with --sweep (e.g. --sweep 2,4,8,16,32,64)"
        if target and args.k not in (None, "auto"):
            return "--min-psnr/--min-ssim choose k themselves; drop -k or use -k auto"
    if args.output and n_files != 1:
        return "-o/--output takes a single INPUT file; use --out-dir for several"
    if args.output and Path(args.output).is_dir():
        return f"-o/--output names a file, and {args.output} is a folder; use --out-dir for a folder"
    return None


def _error(text):
    print(f"{PROG}: error: {text}", file=sys.stderr, flush=True)


def _compress_tasks(args, items, all_inputs):
    from ._compress import compress_file

    k = args.k if args.k is not None else ("auto" if args.min_psnr is not None or args.min_ssim is not None else 16)
    options = {
        "n_colors": k,
        "overwrite": args.force,
        "skip_if_larger": not args.allow_larger,
        "inputs": all_inputs,
        "random_state": args.seed,
        "color_space": args.color_space,
        "dither": args.dither,
    }
    if k == "auto":
        options.update(min_psnr=args.min_psnr, min_ssim=args.min_ssim)
    return [
        (src, functools.partial(compress_file, src, args.output, out_dir=output_folder(src, root, args.out_dir), **options))
        for src, root in items
    ]


def _sweep_options(args):
    return {"compare": args.compare, "random_state": args.seed, "color_space": args.color_space, "dither": args.dither}


class _Output:
    """Prints each outcome (warnings, then its line or JSON, or its error) around an optional bar."""

    def __init__(self, args, total, unit):
        self.args, self.bar = args, None
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

    def show(self, outcome, value=None):
        for text in outcome.warnings:
            self.write(f"{PROG}: warning: {text}", sys.stderr)
        if outcome.error is not None:
            self.write(f"{PROG}: error: {outcome.error}", sys.stderr)
            return
        value = outcome.value if value is None else value
        if self.args.json:
            self.write(json.dumps(value.to_dict()), sys.stdout)
        else:
            self.write(value.summary() if self.args.sweep is None else value.summary(compare=self.args.compare), sys.stdout)

    def close(self):
        if self.bar is not None:
            self.bar.close()


def _stderr_is_tty():
    try:
        return sys.stderr.isatty()
    except (AttributeError, ValueError):
        return False


def _summary(outcomes, n_input_errors, as_json):
    reports = [o.value for o in outcomes if o.error is None]
    failed = len(outcomes) - len(reports) + n_input_errors
    kept = sum(1 for r in reports if r.kept_original)
    before = sum(r.measurement.bytes_in for r in reports)
    after = sum(r.measurement.bytes_in if r.kept_original else r.measurement.bytes_out for r in reports)
    ratio = f" ({before / after:.2f}x smaller)" if after else ""
    text = (
        f"{len(reports) + failed} files: {len(reports) - kept} written, {kept} kept original (PNG would be larger), "
        f"{failed} failed; {before:,} B -> {after:,} B{ratio}"
    )
    print(text, file=sys.stderr if as_json else sys.stdout, flush=True)


def _run_compress(args, items, all_inputs, jobs):
    out = _Output(args, len(items), "file")
    try:
        return run_ordered(_compress_tasks(args, items, all_inputs), jobs=jobs, on_result=out.show, on_done=out.tick)
    finally:
        out.close()


def _run_sweeps(args, items, jobs):
    """One file: its k are the tasks (shared among workers); several files: one task per file."""
    from ._report import make_report, sweep_file, sweep_file_k

    targets = {"min_psnr": args.min_psnr, "min_ssim": args.min_ssim}
    if len(items) != 1:
        tasks = [(src, functools.partial(sweep_file, src, args.sweep, **targets, **_sweep_options(args))) for src, _ in items]
        out = _Output(args, len(tasks), "file")
        try:
            return run_ordered(tasks, jobs=jobs, on_result=out.show, on_done=out.tick)
        finally:
            out.close()
    src = items[0][0]
    ks = sorted(args.sweep, reverse=True) if jobs > 1 else args.sweep  # largest first: they take longest
    tasks = [(src, functools.partial(sweep_file_k, src, k, **_sweep_options(args))) for k in ks]
    out = _Output(args, len(tasks), "k")
    try:
        parts = run_ordered(tasks, jobs=jobs, on_done=out.tick)
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
        rows_to_csv(records, args.csv)
    if args.json_out:
        rows_to_json(records, args.json_out)
    if args.plot:
        from .plotting import plot_sweep_reports

        plot_sweep_reports(reports).savefig(args.plot, dpi=110)


def main(argv=None):
    """Run the command line; returns the exit status instead of exiting."""
    quiet_pil_logger()
    try:
        args = build_parser().parse_args(argv)
    except SystemExit as exc:  # argparse exits 2 on bad usage, 0 on --help/--version
        return int(exc.code or 0)
    items, input_errors = expand_inputs(args.inputs, recursive=args.recursive)
    problem = _usage_problem(args, len(items) + len(input_errors))
    if problem:
        _error(problem)
        return EXIT_USAGE
    if args.output and Path(args.output).suffix.lower() not in ("", ".png"):
        print(f"{PROG}: warning: {args.output}: the output is a PNG file whatever its name", file=sys.stderr)
    if args.out_dir:
        try:
            Path(args.out_dir).mkdir(parents=True, exist_ok=True)
        except OSError as exc:
            _error(f"cannot create --out-dir {args.out_dir}: {' '.join(str(exc).split())}")
            return EXIT_FAILED
    all_inputs = [src for src, _ in items]  # never written over, whatever the output names
    fixed_k = args.k if isinstance(args.k, int) else (16 if args.k is None and args.min_psnr is None and args.min_ssim is None else None)
    if args.sweep is None and fixed_k is not None and not args.output:
        items, clashes = drop_output_clashes(items, fixed_k, args.out_dir)
        input_errors += clashes
    for text in input_errors:
        _error(text)
    if not items:
        return EXIT_FAILED if input_errors else EXIT_OK
    paths = [src for src, _ in items]
    if args.sweep is not None:
        jobs = choose_jobs(args.jobs, paths, len(args.sweep))
        outcomes = _run_sweeps(args, items, jobs)
    else:
        jobs = choose_jobs(args.jobs, paths, 1 if fixed_k is not None else 8)
        outcomes = _run_compress(args, items, all_inputs, jobs)
    failures = len(input_errors) + sum(1 for o in outcomes if o.error is not None)
    if args.sweep is None and len(items) + len(input_errors) > 1:
        _summary(outcomes, len(input_errors), args.json)
    if args.sweep is not None and (args.csv or args.json_out or args.plot):
        try:
            _save_tables(args, outcomes)
        except (OSError, ValueError) as exc:
            _error(" ".join(str(exc).split()))
            failures += 1
    return EXIT_FAILED if failures else EXIT_OK


def run():
    """Console-script entry point: exit with :func:`main`'s status (130 on Ctrl-C)."""
    try:
        sys.exit(main())
    except KeyboardInterrupt:
        print(f"{PROG}: interrupted", file=sys.stderr)
        sys.exit(130)
