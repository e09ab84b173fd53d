"""The command line's arguments: the parser, its value types, and which options go together.

Only the standard library is imported, so that ``--help`` and usage errors answer at once.
"""

from __future__ import annotations

import argparse
import importlib.util
import math
import re
import textwrap
from pathlib import Path

from . import __version__
from ._exits import status_table
from ._formats import FORMATS, format_names, format_of_suffix, suffix_list

__all__ = ["PROG", "build_parser", "usage_problem"]

PROG = "kmeans-compress"


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
            if part.strip().lower() == "auto" or not part.strip().isdigit():
                raise argparse.ArgumentTypeError(
                    f"--sweep takes integers from 1 to 256, e.g. 2,4,8,16; got {part.strip()!r}"
                )
            values.append(_k(part))
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


def _run_budget(text):
    if text == "auto":
        return text
    value = _finite(text)
    if value < 0:
        msg = f"must be 'auto' or a number of dB >= 0, got {text!r}"
        raise argparse.ArgumentTypeError(msg)
    return value


def _finite(text):
    try:
        value = float(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"expected a number, got {text!r}") from None
    if not math.isfinite(value):
        raise argparse.ArgumentTypeError(f"expected a finite number, got {text!r}")
    return value


def _positive_float(text):
    value = _finite(text)
    if value <= 0:
        raise argparse.ArgumentTypeError(f"expected a positive number of seconds, got {value:g}")
    return value


def _ssim_value(text):
    value = _finite(text)
    if not -1 <= value <= 1:
        raise argparse.ArgumentTypeError(f"SSIM is between -1 and 1, got {value:g}")
    return value


_NUMBER = r"(\d+(?:\.\d*)?|\.\d+)"
_RANGE = re.compile(rf"^\s*(?:{_NUMBER}\s*-\s*)?{_NUMBER}\s*$")


def _range(upper):
    def parse(text):
        match = _RANGE.match(text)
        if match is None:
            raise argparse.ArgumentTypeError(f"expected MAX or MIN-MAX (e.g. 40 or 35-40), got {text!r}")
        low = None if match[1] is None else float(match[1])
        high = float(match[2])
        if high > upper or (low is not None and low > high):
            raise argparse.ArgumentTypeError(f"expected MIN <= MAX <= {upper:g}, got {text!r}")
        return low, high

    return parse


def _suffix(text):
    if "/" in text or "\\" in text:
        raise argparse.ArgumentTypeError(f"a suffix is part of a file name, without / or \\; got {text!r}")
    return text


class _Parser(argparse.ArgumentParser):
    """argparse's parser, but a usage error is one line (the usage block is in ``--help``)."""

    def error(self, message):
        self.exit(2, f"{self.prog}: error: {message} (see --help)\n")


def build_parser():
    """The argument parser (exposed for documentation and tests)."""
    parser = _Parser(
        prog=PROG,
        description=textwrap.fill(
            "Compress images by K-Means colour quantization into indexed (palette) PNGs or lossless WebPs, "
            "and report size and quality (PSNR, SSIM, CIEDE2000 colour difference). INPUT '-' reads the "
            "image from stdin and writes it to stdout (or to -o); '-o -' writes to stdout, the report "
            "going to stderr.",
            width=100,
        ),
        epilog="exit status (a batch exits with the most severe, top first):\n" + status_table(),
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    parser.add_argument(
        "inputs",
        nargs="+",
        metavar="INPUT",
        help="image files, folders of images, or glob patterns (any format Pillow reads, WebP and AVIF included; "
        "HEIC with the [heif] extra); '-' for stdin",
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
    where.add_argument(
        "-o",
        "--output",
        help=f"output path ending in {suffix_list()}, which gives the format (only with a single INPUT); "
        "'-' for stdout (never a terminal)",
    )
    where.add_argument(
        "--out-dir", help=f"folder for outputs, named <stem><suffix>{suffix_list()} (default: beside each input)"
    )
    parser.add_argument(
        "--suffix",
        type=_suffix,
        default="-k{k}",
        help="what output names add to the input's name, {k} being the k used (default -k{k}); '' keeps the "
        "name, with --out-dir",
    )
    parser.add_argument(
        "--keep-mtime", action="store_true", help="give each output its input's modification (and access) time"
    )
    formats = [f"{f.name} ({f.description})" for f in FORMATS.values()]
    parser.add_argument(
        "--format",
        choices=format_names(),
        default=None,
        help=f"output format: {' or '.join([', '.join(formats[:-1]), formats[-1]] if len(formats) > 1 else formats)}; "
        f"default from the -o name, else {format_names()[0]}",
    )
    for flag, text in (
        (
            "--keep-profile",
            (
                "keep the input's ICC colour profile (e.g. Display P3): store colours in its space and embed it, "
                "instead of converting to sRGB (the default); colours are chosen and measured as seen through it"
            ),
        ),
        ("--force", "replace existing output files (never an input; see also --allow-larger)"),
        (
            "--allow-larger",
            "write the output even when it is larger than the input file (default: keep the original, write nothing)",
        ),
        (
            "--skip-if-larger",
            (
                "as pngquant's: when the output would be larger, write nothing and exit with status 98 (default: "
                "write nothing, or the input's bytes to stdout, and exit 0)"
            ),
        ),
    ):
        parser.add_argument(flag, action="store_true", help=text)
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
        help="Floyd-Steinberg dithering: hides banding in gradients, costs bytes; opaque images only, ignored with "
        "alpha (default off)",
    )
    parser.add_argument(
        "--run-budget",
        type=_run_budget,
        default="auto",
        metavar="DB",
        help="PSNR (dB) the labels may give up so that neighbouring pixels share colours, kept only when "
        "that file is smaller; small budgets pay, large ones only cost quality; 0 for the plain nearest "
        "colours (default auto: 0.03 up to 16 colours, 0 above)",
    )
    parser.add_argument("--json", action="store_true", help="print one JSON object per input instead of a line")
    parser.add_argument(
        "--metrics",
        choices=("none", "psnr", "all"),
        default="all",
        help="quality figures to measure: all (PSNR, SSIM, dE00), psnr (SSIM and dE00 are most of the "
        "measuring time on large images), or none; those a target needs are measured anyway (default all)",
    )

    choose = parser.add_argument_group("choosing k (-k auto)")
    choose.add_argument(
        "--psnr",
        type=_range(math.inf),
        metavar="[MIN-]MAX",
        help="fewest colours whose PSNR (dB) reaches MAX (implies -k auto); if none does, the best palette "
        "found is written when it reaches MIN, else nothing and exit status 99 (no MIN: always written)",
    )
    choose.add_argument(
        "--ssim", type=_range(1.0), metavar="[MIN-]MAX", help="the same with SSIM, e.g. 0.85-0.9 (implies -k auto)"
    )
    choose.add_argument("--min-psnr", type=_finite, metavar="DB", help="the same as --psnr DB-DB")
    choose.add_argument("--min-ssim", type=_ssim_value, metavar="S", help="the same as --ssim S-S")

    sweeps = parser.add_argument_group("sweeps (measure several k, write no images)")
    sweeps.add_argument(
        "--sweep", type=_ks, metavar="K,K,...", help="measure each k and print a table, e.g. 2,4,8,16,32,64"
    )
    sweeps.add_argument(
        "--compare",
        action="store_true",
        help="add JPEG at the same file size and Pillow's median cut at the same k to the sweep (slower)",
    )
    sweeps.add_argument("--csv", metavar="FILE", help="write the sweep table as CSV")
    sweeps.add_argument("--json-out", metavar="FILE", help="write the sweep table as JSON")
    sweeps.add_argument("--plot", metavar="FILE", help="save the size-quality curves as an image (needs matplotlib)")

    batch = parser.add_argument_group("batches")
    batch.add_argument(
        "-r", "--recursive", action="store_true", help="look for images in subfolders of folder INPUTs too"
    )
    batch.add_argument(
        "-j",
        "--jobs",
        type=_positive_int,
        default=None,
        help="parallel processes: across files, or across k for one file's --sweep (default: the number of "
        "CPUs; 1 for small jobs, where starting workers would cost more than it saves)",
    )
    batch.add_argument(
        "--no-progress", action="store_true", help="no progress bar (it shows only on a terminal anyway)"
    )
    batch.add_argument(
        "--scheduler",
        metavar="ADDRESS",
        help="run each file as a task on a Dask cluster, e.g. tcp://10.0.0.5:8786 (needs the [dask] extra): "
        "inputs are read and outputs written here, so the workers need no shared filesystem, only the package",
    )
    batch.add_argument(
        "--scheduler-timeout",
        type=_positive_float,
        default=None,
        metavar="SECONDS",
        help="the longest a batch waits for a cluster that makes no progress (a scheduler that does not answer, "
        "no worker, or none that answers), at the start or mid-batch; then the files not done are given up, "
        "each said so, exit status 1 (default 30)",
    )
    batch.add_argument(
        "--scheduler-log",
        metavar="FILE",
        default=None,
        help="append the Dask client's own log (distributed's) to FILE; it never goes to the terminal",
    )
    _add_set_arguments(parser)
    parser.add_argument("--version", action="version", version=f"%(prog)s {__version__}")
    return parser


def quality_targets(args):
    """``{"min_psnr": MAX, "floor_psnr": MIN, ...}`` from ``--psnr``/``--ssim`` (or ``--min-psnr``/``--min-ssim``).

    A range without MIN accepts any quality (``-inf``): the best palette found is always written.
    """
    targets = {}
    for name, given, single in (("psnr", args.psnr, args.min_psnr), ("ssim", args.ssim, args.min_ssim)):
        low, high = given if given is not None else (single, single)
        if high is not None:
            targets[f"min_{name}"] = high
            targets[f"floor_{name}"] = -math.inf if low is None else low
    return targets


def _add_set_arguments(parser):
    group = parser.add_argument_group(
        "shared palettes and animations",
        "an animated GIF, APNG or WebP INPUT is written as an animation (every frame on one palette) in the output "
        "format: GIF, APNG (.png) or animated WebP",
    )
    which = group.add_mutually_exclusive_group()
    which.add_argument(
        "--shared-palette",
        action="store_true",
        help="one palette for all INPUTs, fitted on their summed colour histogram, and every output written with it "
        "(the same PLTE in each; written even when larger than its input); -k auto, --min-psnr and --min-ssim "
        "hold for every file; the last line gives the set's pooled PSNR",
    )
    which.add_argument(
        "--palette",
        metavar="FILE",
        help="map every INPUT onto the palette of FILE (an indexed PNG or a GIF), as pngquant's --map; k is its size",
    )


def _set_problem(args):
    """Why the shared-palette options do not go with the others, or None."""
    flag = "--shared-palette" if args.shared_palette else "--palette" if args.palette is not None else None
    if flag is None:
        return None
    if args.sweep is not None:
        return f"{flag} writes a set on one palette; --sweep measures one file's k: drop one of them"
    if args.palette is not None and (args.k is not None or quality_targets(args)):
        return "--palette gives the colours (k is its size); drop -k and the quality targets"
    if "-" in args.inputs or args.output == "-":
        return f"{flag} works on files: '-' (stdin, stdout) is for one image at a time"
    if args.skip_if_larger:
        return f"{flag} writes every file on the palette; drop --skip-if-larger"
    return None


def usage_problem(args, n_files):
    """One-line reason why these options do not go together, or None."""
    problem = _set_problem(args)
    if problem:
        return problem
    for name in ("psnr", "ssim"):
        if getattr(args, name) is not None and getattr(args, f"min_{name}") is not None:
            return f"--min-{name} X is --{name} X-X: give one of them"
    target = bool(quality_targets(args))
    if args.allow_larger and args.skip_if_larger:
        return "--allow-larger writes larger outputs and --skip-if-larger refuses them: give one of them"
    if args.suffix == "" and not args.out_dir and not args.output:
        return "--suffix '' keeps the input's name: give --out-dir for another folder (an input is never written over)"
    if "-" in args.inputs and n_files != 1:
        return "'-' (stdin) must be the only INPUT"
    if args.output == "-" and n_files != 1:
        return "-o - (stdout) takes a single INPUT"
    if args.sweep is not None:
        if args.k is not None:
            return "--sweep measures the listed k and writes no images; drop -k"
        if args.output or args.out_dir:
            return "--sweep writes no images; drop -o/--output and --out-dir (use --csv/--json-out/--plot)"
        if args.plot and importlib.util.find_spec("matplotlib") is None:
            return "--plot needs matplotlib (pip install matplotlib, or the [plot] extra)"
    else:
        for flag, value in (
            ("--compare", args.compare),
            ("--csv", args.csv),
            ("--json-out", args.json_out),
            ("--plot", args.plot),
        ):
            if value:
                return f"{flag} goes with --sweep (e.g. --sweep 2,4,8,16,32,64)"
        if target and args.k not in (None, "auto"):
            return "--psnr/--ssim (and --min-psnr/--min-ssim) choose k themselves; drop -k or use -k auto"
    if args.scheduler is not None:
        if args.sweep is not None:
            return "--scheduler runs compressions, not sweeps; drop --sweep or --scheduler"
        if args.jobs is not None:
            return "--jobs sets local processes; with --scheduler the cluster's workers do the work, drop --jobs"
    elif args.scheduler_timeout is not None:
        return "--scheduler-timeout goes with --scheduler ADDRESS"
    elif args.scheduler_log is not None:
        return "--scheduler-log goes with --scheduler ADDRESS"
    if args.sweep is not None and "-" in args.inputs:
        return "--sweep measures files; save stdin to a file first"
    if args.output == "-":
        return None
    if args.output and n_files != 1:
        return "-o/--output takes a single INPUT file; use --out-dir for several"
    if args.output and Path(args.output).is_dir():
        return f"-o/--output names a file, and {args.output} is a folder; use --out-dir for a folder"
    if args.output:
        named = format_of_suffix(args.output)
        if named is None:
            return f"-o/--output must end in {suffix_list()} (the format written), got {args.output}"
        if args.format is not None and named != args.format:
            return f"-o/--output {args.output} is named {named} but --format is {args.format}; make them agree"
    return None
