"""The ``kmeans-compress`` command line.

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
"""

from __future__ import annotations

import argparse
import concurrent.futures
import contextlib
import glob
import json
import logging
import math
import multiprocessing
import os
import re
import signal
import sys
import warnings
from pathlib import Path

from . import __version__
from ._colorspace import COLOR_SPACES
from ._compress import compress_file, default_output_path

__all__ = ["main", "build_parser", "expand_inputs"]

PROG = "kmeans-compress"
EXIT_OK, EXIT_FAILED, EXIT_USAGE = 0, 1, 2

#: Names that look like this command's own outputs; skipped when a folder is expanded.
_OUTPUT_NAME = re.compile(r"-k\d+\.png$", re.IGNORECASE)


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
        choices=COLOR_SPACES,
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


def _quantizer_params(args):
    """Keyword arguments for KMeansQuantizer / compress_file / the sweep, from the options."""
    return {"color_space": args.color_space, "dither": args.dither}


def _quiet_pil_logger():
    """Pillow logs errors on corrupt TIFFs: keep each bad file to one line of ours."""
    if not logging.getLogger("PIL").handlers:
        logging.getLogger("PIL").addHandler(logging.NullHandler())


# ---------------------------------------------------------------------------------------------
# Inputs
# ---------------------------------------------------------------------------------------------


def _image_extensions():
    from PIL import Image

    return {ext.lower() for ext in Image.registered_extensions()}


def expand_inputs(inputs, *, recursive=False):
    """Files to process, from files, folders and glob patterns, in a deterministic order.

    Plain paths are kept as given (a missing file fails later with its own message). A folder
    gives the files in it whose extension Pillow knows, sorted by path, in subfolders too with
    ``recursive``, skipping names that look like this command's outputs (``*-k<N>.png``). A
    pattern with ``*``, ``?`` or ``[`` is expanded with :func:`glob.glob` (``**`` matches
    subfolders). Duplicates (the same file twice) are dropped.

    Returns
    -------
    items : list of (path, root)
        ``root`` is the folder INPUT a file was found under (None otherwise), so that outputs
        can mirror the subfolders.
    errors : list of str
        Patterns that matched nothing.
    """
    items, errors, seen = [], [], set()

    def add(path, root=None):
        key = os.path.normcase(os.path.abspath(path))
        if key not in seen:
            seen.add(key)
            items.append((str(path), root))

    extensions = None
    for text in inputs:
        if os.path.isdir(text):
            if extensions is None:
                extensions = _image_extensions()
            pattern = "**/*" if recursive else "*"
            found = sorted(
                p
                for p in Path(text).glob(pattern)
                if p.is_file() and p.suffix.lower() in extensions and not _OUTPUT_NAME.search(p.name)
            )
            if not found:
                errors.append(f"{text}: no image files in this folder{'' if recursive else ' (try --recursive)'}")
            for p in found:
                add(p, text)
        elif any(c in text for c in "*?[") and not os.path.exists(text):
            found = sorted(p for p in glob.glob(text, recursive=True) if os.path.isfile(p))
            if not found:
                errors.append(f"{text}: no files match this pattern")
            for p in found:
                add(p)
        else:
            add(text)
    return items, errors


def _drop_output_clashes(items, k, out_dir):
    """Inputs whose output name another, earlier input already takes (``a.png`` and ``a.jpg`` both
    give ``a-k16.png``): kept out of the run with one error each, so that neither ``--force`` nor
    the order in which parallel workers finish decides which one survives."""
    kept, errors, taken = [], [], {}
    for src, root in items:
        dst = os.path.normcase(os.path.abspath(default_output_path(src, k, _output_folder(src, root, out_dir))))
        if dst in taken:
            errors.append(f"{src}: its output {dst} is also the output of {taken[dst]}; skipped (use -o, or rename)")
        else:
            taken[dst] = src
            kept.append((src, root))
    return kept, errors


def _output_folder(src, root, out_dir):
    """Folder of the output: ``out_dir`` (mirroring subfolders under a folder INPUT) or the input's."""
    if out_dir is None:
        return None
    if root is None:
        return out_dir
    rel = os.path.relpath(os.path.dirname(os.path.abspath(src)), os.path.abspath(root))
    return out_dir if rel == "." else os.path.join(out_dir, rel)


# ---------------------------------------------------------------------------------------------
# The work for one file (runs in a worker process when --jobs > 1)
# ---------------------------------------------------------------------------------------------


def _one_line(text):
    return " ".join(str(text).split())


def _error_text(path, exc):
    text = _one_line(exc)
    if isinstance(exc, MemoryError):
        text = "out of memory"
    elif not isinstance(exc, (OSError, ValueError)):
        text = f"{type(exc).__name__}: {text}"
    if not text.startswith(str(path)):
        text = f"{path}: {text}"
    return text


def _target_text(task):
    parts = []
    if task["min_psnr"] is not None:
        parts.append(f"PSNR >= {task['min_psnr']:g} dB")
    if task["min_ssim"] is not None:
        parts.append(f"SSIM >= {task['min_ssim']:g}")
    return " and ".join(parts)


def _compress_task(task):
    from ._sweep import ImageSweep, choose_knee, smallest_k

    src, k = task["src"], task["k"]
    common = {
        "overwrite": task["force"],
        "random_state": task["seed"],
        "skip_if_larger": not task["allow_larger"],
        "inputs": task["inputs"],
    }
    if k != "auto":
        dst = task["output"] or default_output_path(src, k, task["out_folder"])
        report = compress_file(src, dst, n_colors=k, **common, **task["params"])
        return {"report": report.to_dict(), "line": report.summary()}
    job = ImageSweep(src, random_state=task["seed"], keep_quantizers=True, **task["params"])
    if task["min_psnr"] is None and task["min_ssim"] is None:
        choice = choose_knee(job)
    else:
        choice = smallest_k(job, min_psnr=task["min_psnr"], min_ssim=task["min_ssim"])
        if choice.k is None:
            best = job.rows_[max(job.rows_)]
            msg = (
                f"{src}: cannot reach {_target_text(task)} with at most {max(job.rows_)} colours "
                f"(PSNR {best.psnr:.2f} dB, SSIM {best.ssim:.4f} there); nothing written"
            )
            raise ValueError(msg)
    dst = task["output"] or default_output_path(src, choice.k, task["out_folder"])
    report = compress_file(src, dst, n_colors=choice.k, quantizer=job.quantizers_[choice.k], **common, **task["params"])
    auto = {"rule": choice.rule, "n_fits": choice.n_fits, "tried": sorted(job.rows_)}
    record = report.to_dict()
    record["auto"] = auto
    line = f"{report.summary()}  [k=auto: {choice.rule}; {choice.n_fits} fits]"
    return {"report": record, "line": line}


def _sweep_job(task):
    from ._sweep import ImageSweep

    return ImageSweep(task["src"], compare=task["compare"], random_state=task["seed"], **task["params"])


def _sweep_info(job):
    return {
        "width": job.image.shape[1],
        "height": job.image.shape[0],
        "n_distinct": job.n_distinct_colors,
        "bytes_in": job.original_bytes,
    }


def _sweep_task(task, callback=None):
    job = _sweep_job(task)
    rows = job.rows(task["ks"], callback=callback)
    return _sweep_report(task, _sweep_info(job), rows)


def _sweep_report(task, info, rows):
    from ._sweep import format_table, knee_k

    knee = knee_k(rows)
    lines = [
        f"{task['src']}: {info['width']}x{info['height']}, {info['n_distinct']:,} distinct colours, {info['bytes_in']:,} B",
        format_table(rows, compare=task["compare"]),
        f"knee (largest normalised PSNR minus normalised bytes): k={knee.k}",
    ]
    target = None
    if task["min_psnr"] is not None or task["min_ssim"] is not None:
        ok = [
            r
            for r in sorted(rows, key=lambda r: r.k)
            if (task["min_psnr"] is None or r.psnr >= task["min_psnr"])
            and (task["min_ssim"] is None or r.ssim >= task["min_ssim"])
        ]
        target = ok[0].k if ok else None
        lines.append(f"smallest swept k with {_target_text(task)}: {'none' if target is None else f'k={target}'}")
    record = {
        "input": task["src"],
        "bytes_in": info["bytes_in"],
        "knee_k": knee.k,
        "target_k": target,
        "rows": [r.to_dict() for r in rows],
    }
    return {"record": record, "rows": rows, "line": "\n".join(lines)}


_WORKER_SWEEP = {}


def _sweep_k_task(task, k):
    """One k of a single-file sweep, in a worker; the image's histogram is built once per worker."""
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        try:
            key = (task["src"], task["seed"], task["compare"], tuple(sorted(task["params"].items())))
            if key not in _WORKER_SWEEP:
                _WORKER_SWEEP.clear()
                _WORKER_SWEEP[key] = _sweep_job(task)
            job = _WORKER_SWEEP[key]
            out = {"row": job.row(k), "info": _sweep_info(job)}
        except Exception as exc:  # noqa: BLE001 - reported in one line
            out = {"error": _error_text(task["src"], exc)}
    out["warnings"] = _warning_texts(caught)
    return out


def _warning_texts(caught):
    seen, texts = set(), []
    for w in caught:
        if issubclass(w.category, UserWarning):
            text = _one_line(w.message)
            if text not in seen:
                seen.add(text)
                texts.append(text)
    return texts


def _run_task(task, callback=None):
    """Run one file's task; never raises (errors come back as one line)."""
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        try:
            out = _sweep_task(task, callback) if task["mode"] == "sweep" else _compress_task(task)
        except Exception as exc:  # noqa: BLE001 - one bad file must not stop the batch; reported in one line
            out = {"error": _error_text(task["src"], exc)}
    out["warnings"] = _warning_texts(caught)
    out["index"] = task["index"]
    return out


def _init_worker():
    """Worker processes share the CPUs between them: one thread each for BLAS/OpenMP."""
    signal.signal(signal.SIGINT, signal.SIG_IGN)  # Ctrl-C is the parent's to handle (see _pool)
    _quiet_pil_logger()
    try:
        from threadpoolctl import threadpool_limits

        threadpool_limits(1)
    except Exception:  # noqa: BLE001 - only a performance hint
        pass


# ---------------------------------------------------------------------------------------------
# Output
# ---------------------------------------------------------------------------------------------


class _Printer:
    """Prints results in input order as they arrive, around an optional tqdm bar on stderr."""

    def __init__(self, args, bar):
        self.args, self.bar = args, bar
        self.pending, self.next = {}, 0

    def _out(self, text, stream):
        if self.bar is not None:
            self.bar.write(text, file=stream)
        else:
            print(text, file=stream, flush=True)

    def add(self, result):
        self.pending[result["index"]] = result
        while self.next in self.pending:
            self._emit(self.pending.pop(self.next))
            self.next += 1

    def flush(self):
        """Print every result received so far, even past a gap (on Ctrl-C: what was written)."""
        for index in sorted(self.pending):
            self._emit(self.pending.pop(index))

    def _emit(self, result):
        for text in result["warnings"]:
            self._out(f"{PROG}: warning: {text}", sys.stderr)
        if "error" in result:
            self._out(f"{PROG}: error: {result['error']}", sys.stderr)
        elif self.args.json:
            self._out(json.dumps(result["report"] if "report" in result else result["record"]), sys.stdout)
        else:
            self._out(result["line"], sys.stdout)


def _progress_bar(args, total, unit):
    if args.no_progress or not _stderr_is_tty():
        return None
    from tqdm import tqdm

    return tqdm(total=total, unit=unit, file=sys.stderr, leave=False, dynamic_ncols=True)


def _stderr_is_tty():
    try:
        return sys.stderr.isatty()
    except (AttributeError, ValueError):
        return False


def _summary(results, as_json):
    done = [r for r in results if "report" in r]
    failed = len(results) - len(done)
    kept = sum(1 for r in done if r["report"]["kept_original"])
    before = sum(r["report"]["bytes_in"] for r in done)
    after = sum(r["report"]["bytes_in"] if r["report"]["kept_original"] else r["report"]["bytes_out"] for r in done)
    ratio = f" ({before / after:.2f}x smaller)" if after else ""
    text = (
        f"{len(results)} files: {len(done) - kept} written, {kept} kept original (PNG would be larger), "
        f"{failed} failed; {before:,} B -> {after:,} B{ratio}"
    )
    print(text, file=sys.stderr if as_json else sys.stdout, flush=True)


def _save_tables(args, results):
    from ._sweep import rows_to_csv, rows_to_json

    records = []
    for r in results:
        if "record" in r:
            for row in r["rows"]:
                rec = {"input": r["record"]["input"]}
                rec.update(row.to_dict())
                records.append(rec)
    if args.csv:
        rows_to_csv(records, args.csv)
    if args.json_out:
        rows_to_json(records, args.json_out)
    if args.plot:
        _save_plot([r for r in results if "record" in r], args.plot)


def _save_plot(results, path):
    """The sweep curves of every input, one row of panels each, drawn by ``plot_sweep_curves``."""
    try:
        from matplotlib.figure import Figure

        from .plotting import plot_sweep_curves
    except ImportError:
        msg = "--plot needs matplotlib (pip install matplotlib)"
        raise OSError(msg) from None
    fig = Figure(figsize=(15.0, 4.6 * len(results)), layout="constrained")
    axes = fig.subplots(len(results), 3, squeeze=False)
    for res, row_axes in zip(results, axes):
        plot_sweep_curves(res["rows"], ax=row_axes)
        row_axes[0].set_title(f"{Path(res['record']['input']).name}: {row_axes[0].get_title()}")
    fig.savefig(path, dpi=110)


# ---------------------------------------------------------------------------------------------
# main
# ---------------------------------------------------------------------------------------------


def _usage_error(text):
    print(f"{PROG}: error: {text}", file=sys.stderr)
    return EXIT_USAGE


def _check_usage(args, n_files):
    """One-line reason why these options do not go together, or None."""
    target = args.min_psnr is not None or args.min_ssim is not None
    if args.sweep is not None:
        if args.k is not None:
            return "--sweep measures the listed k and writes no images; drop -k"
        if args.output or args.out_dir:
            return "--sweep writes no images; drop -o/--output and --out-dir (use --csv/--json-out/--plot)"
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


def main(argv=None):
    """Run the command line; returns the exit status instead of exiting."""
    _quiet_pil_logger()
    parser = build_parser()
    try:
        args = parser.parse_args(argv)
    except SystemExit as exc:  # argparse exits 2 on bad usage, 0 on --help/--version
        return int(exc.code or 0)
    items, input_errors = expand_inputs(args.inputs, recursive=args.recursive)
    problem = _check_usage(args, len(items) + len(input_errors))
    if problem:
        return _usage_error(problem)
    if args.output and Path(args.output).suffix.lower() not in ("", ".png"):
        print(f"{PROG}: warning: {args.output}: the output is a PNG file whatever its name", file=sys.stderr)
    if args.out_dir:
        try:
            Path(args.out_dir).mkdir(parents=True, exist_ok=True)
        except OSError as exc:
            print(f"{PROG}: error: cannot create --out-dir {args.out_dir}: {_one_line(exc)}", file=sys.stderr)
            return EXIT_FAILED
    mode = "sweep" if args.sweep is not None else "compress"
    k = args.k if args.k is not None else ("auto" if args.min_psnr is not None or args.min_ssim is not None else 16)
    all_inputs = [src for src, _ in items]  # never written over, whatever the output names
    if mode == "compress" and k != "auto" and not args.output:
        items, clashes = _drop_output_clashes(items, k, args.out_dir)
        input_errors += clashes
    for text in input_errors:
        print(f"{PROG}: error: {text}", file=sys.stderr)
    params = _quantizer_params(args)
    tasks = [
        {
            "index": i,
            "mode": mode,
            "src": src,
            "k": k,
            "ks": args.sweep,
            "output": args.output,
            "out_folder": _output_folder(src, root, args.out_dir),
            "force": args.force,
            "allow_larger": args.allow_larger,
            "seed": args.seed,
            "min_psnr": args.min_psnr,
            "min_ssim": args.min_ssim,
            "compare": args.compare,
            "params": params,
            "inputs": all_inputs,
        }
        for i, (src, root) in enumerate(items)
    ]
    results = _run_all(args, tasks)
    failures = len(input_errors) + sum(1 for r in results if "error" in r)
    if mode == "compress" and len(tasks) + len(input_errors) > 1:
        _summary(results + [{"error": e} for e in input_errors], args.json)
    if mode == "sweep" and (args.csv or args.json_out or args.plot):
        try:
            _save_tables(args, results)
        except (OSError, ValueError) as exc:
            print(f"{PROG}: error: {_one_line(exc)}", file=sys.stderr)
            failures += 1
    return EXIT_FAILED if failures else EXIT_OK


#: With the default --jobs, work estimated under this many pixel-fits (pixels x k-means fits)
#: runs in one process. A fit, encode and measure costs about 1 s per megapixel, and starting
#: two workers about 2 s (a fresh interpreter importing scikit-learn), so on 2 CPUs parallel
#: work pays from about 8 megapixel-fits; e.g. the 8-k sweep of a 0.4-megapixel Kodak photo
#: (3 megapixel-fits) runs in 4.1 s in one process and 5 to 10 s across two spawned workers.
_SMALL_WORK = 8 << 20


def _pixels(path):
    """Pixels of an image from its header (0 when unreadable; the task reports that later)."""
    from PIL import Image

    try:
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")  # e.g. a decompression-bomb warning: the task reports it
            with Image.open(path) as im:
                return im.size[0] * im.size[1]
    except Exception:  # noqa: BLE001 - only an estimate
        return 0


def _fits(task):
    if task["mode"] == "sweep":
        return len(task["ks"])
    return 8 if task["k"] == "auto" else 1


def _run_all(args, tasks):
    if not tasks:
        return []
    if args.jobs is None:
        jobs = os.cpu_count() or 1
        if sum(_pixels(t["src"]) * _fits(t) for t in tasks) < _SMALL_WORK:
            jobs = 1
    else:
        jobs = args.jobs
    if len(tasks) == 1 and tasks[0]["mode"] == "sweep" and jobs > 1 and len(tasks[0]["ks"]) > 1:
        return _run_sweep_parallel(args, tasks[0], min(jobs, len(tasks[0]["ks"])))
    jobs = min(jobs, len(tasks))
    if jobs <= 1:
        return _run_serial(args, tasks)
    return _run_parallel(args, tasks, jobs)


def _mp_context():
    """Workers are never forked from this process, which may have started OpenMP threads (a forked
    child can hang in them). A fork server that has only imported the package forks them instead
    (measured: 2.0 s to start two workers on the loaded 2-core machine, against 3.4 s with spawn);
    where there is none (Windows, macOS), each worker is spawned."""
    if not _spawned_workers():
        from multiprocessing import forkserver

        context = multiprocessing.get_context("forkserver")
        context.set_forkserver_preload(["kmeans_compress.cli"])
        with _sigint_ignored():  # the server is born ignoring Ctrl-C, so no traceback from its imports
            forkserver.ensure_running()
        return context
    return multiprocessing.get_context("spawn")


def _spawned_workers():
    return "forkserver" not in multiprocessing.get_all_start_methods()


@contextlib.contextmanager
def _starting_workers():
    """Ctrl-C while tasks are submitted (which starts the workers) must not cut a worker's start
    in half (it would print a traceback once the parent is gone): with a fork server, Ctrl-C is
    held until the submissions are done, then raised; spawned workers are started ignoring it
    (they inherit that), and a Ctrl-C in that short window is lost."""
    if _spawned_workers():
        with _sigint_ignored():
            yield
        return
    received = []
    try:
        previous = signal.signal(signal.SIGINT, lambda signum, frame: received.append(signum))
    except ValueError:  # not the main thread
        yield
        return
    try:
        yield
    finally:
        signal.signal(signal.SIGINT, previous)
    if received:
        raise KeyboardInterrupt


@contextlib.contextmanager
def _sigint_ignored():
    """Ignore Ctrl-C while a process is started: it inherits that, so it never prints a
    KeyboardInterrupt traceback; the parent handles Ctrl-C (see :func:`_pool`)."""
    try:
        previous = signal.signal(signal.SIGINT, signal.SIG_IGN)
    except ValueError:  # not the main thread: nothing to do
        yield
        return
    try:
        yield
    finally:
        signal.signal(signal.SIGINT, previous)


@contextlib.contextmanager
def _pool(jobs):
    """A process pool; on Ctrl-C (or any error) queued files are cancelled, not started.

    Workers ignore Ctrl-C and finish the file they are on, and the pool waits for them (writes
    are atomic, a killed worker could leave a temporary file behind, and a worker still starting
    would fail noisily if the parent left first); a second Ctrl-C stops waiting.
    """
    pool = concurrent.futures.ProcessPoolExecutor(max_workers=jobs, mp_context=_mp_context(), initializer=_init_worker)
    try:
        yield pool
    except BaseException:
        pool.shutdown(wait=True, cancel_futures=True)
        raise
    pool.shutdown(wait=True)


def _run_sweep_parallel(args, task, jobs):
    """One file, many k: the k are shared among worker processes, largest first."""
    bar = _progress_bar(args, len(task["ks"]), "k")
    if bar is not None:
        bar.set_description(Path(task["src"]).name)
    printer, parts = _Printer(args, bar), {}
    try:
        with _pool(jobs) as pool:
            with _starting_workers():
                futures = {pool.submit(_sweep_k_task, task, k): k for k in sorted(task["ks"], reverse=True)}
            for future in concurrent.futures.as_completed(futures):
                try:
                    parts[futures[future]] = future.result()
                except Exception as exc:  # noqa: BLE001 - e.g. a worker killed by the OS
                    parts[futures[future]] = {"error": _error_text(task["src"], exc), "warnings": []}
                if bar is not None:
                    bar.update(1)
        texts = list(dict.fromkeys(t for part in parts.values() for t in part["warnings"]))
        errors = [part["error"] for part in parts.values() if "error" in part]
        if errors:
            result = {"error": errors[0]}
        else:
            rows = [parts[k]["row"] for k in task["ks"]]
            with warnings.catch_warnings(record=True) as caught:
                warnings.simplefilter("always")
                result = _sweep_report(task, parts[task["ks"][0]]["info"], rows)
            texts += _warning_texts(caught)
        result.update(index=0, warnings=texts)
        printer.add(result)
    finally:
        if bar is not None:
            bar.close()
    return [result]


def _run_serial(args, tasks):
    single_sweep = len(tasks) == 1 and tasks[0]["mode"] == "sweep"
    bar = _progress_bar(args, len(tasks[0]["ks"]) if single_sweep else len(tasks), "k" if single_sweep else "file")
    printer, results = _Printer(args, bar), []
    try:
        for task in tasks:
            if bar is not None:
                bar.set_description(Path(task["src"]).name)
            callback = (lambda row: bar.update(1)) if (single_sweep and bar is not None) else None
            result = _run_task(task, callback)
            if bar is not None and not single_sweep:
                bar.update(1)
            results.append(result)
            printer.add(result)
    finally:
        if bar is not None:
            bar.close()
    return results


def _run_parallel(args, tasks, jobs):
    bar = _progress_bar(args, len(tasks), "file")
    printer, results = _Printer(args, bar), [None] * len(tasks)
    futures = {}

    def collect(future):
        task = futures[future]
        try:
            result = future.result()
        except Exception as exc:  # noqa: BLE001 - e.g. a worker killed by the OS
            result = {"index": task["index"], "warnings": [], "error": _error_text(task["src"], exc)}
        results[task["index"]] = result
        if bar is not None:
            bar.update(1)
        printer.add(result)

    try:
        with _pool(jobs) as pool:
            with _starting_workers():
                futures.update((pool.submit(_run_task, task), task) for task in tasks)
            for future in concurrent.futures.as_completed(futures):
                collect(future)
    except KeyboardInterrupt:  # the pool has let the running files finish: say what was written
        for future, task in futures.items():
            if results[task["index"]] is None and future.done() and not future.cancelled():
                collect(future)
        printer.flush()
        raise
    finally:
        if bar is not None:
            bar.close()
    return results


def run():
    """Console-script entry point: exit with :func:`main`'s status (130 on Ctrl-C)."""
    try:
        sys.exit(main())
    except KeyboardInterrupt:
        print(f"{PROG}: interrupted", file=sys.stderr)
        sys.exit(130)
