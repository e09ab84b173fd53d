"""The command line's arguments: the parser, its value types, and which options go together.

Only the standard library is imported, so that ``--help`` and usage errors answer at once.
"""

from __future__ import annotations

import argparse
import importlib.util
import math
from pathlib import Path

from . import __version__
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


class _Parser(argparse.ArgumentParser):
    """argparse's parser, but a usage error is one line (the usage block is in ``--help``)."""

    def error(self, message):
        self.exit(2, f"{self.prog}: error: {message} (see --help)\n")


def build_parser():
    """The argument parser (exposed for documentation and tests)."""
    parser = _Parser(
        prog=PROG,
        description="Compress images by K-Means colour quantization into indexed (palette) PNGs or lossless WebPs, "
        "and report size and quality (PSNR, SSIM, CIEDE2000 colour difference).",
    )
    parser.add_argument(
        "inputs",
        nargs="+",
        metavar="INPUT",
        help="image files, folders of images, or glob patterns (any format Pillow reads, WebP and AVIF included; "
        "HEIC with the [heif] extra)",
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
        help=f"output path ending in {suffix_list()}, which gives the format (only with a single INPUT)",
    )
    where.add_argument(
        "--out-dir", help=f"folder for outputs, named <stem>-k<k>{suffix_list()} (default: beside each input)"
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

    choose = parser.add_argument_group("choosing k (-k auto)")
    choose.add_argument(
        "--min-psnr", type=_finite, metavar="DB", help="fewest colours whose PSNR reaches DB (implies -k auto)"
    )
    choose.add_argument(
        "--min-ssim", type=_ssim_value, metavar="S", help="fewest colours whose SSIM reaches S (implies -k auto)"
    )

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
        help="give up when the scheduler has not answered within this time (default 10)",
    )
    _add_set_arguments(parser)
    parser.add_argument("--version", action="version", version=f"%(prog)s {__version__}")
    return parser


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
    if args.palette is not None and (args.k is not None or args.min_psnr is not None or args.min_ssim is not None):
        return "--palette gives the colours (k is its size); drop -k, --min-psnr and --min-ssim"
    return None


def usage_problem(args, n_files):
    """One-line reason why these options do not go together, or None."""
    problem = _set_problem(args)
    if problem:
        return problem
    target = args.min_psnr is not None or args.min_ssim is not None
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
            return "--min-psnr/--min-ssim choose k themselves; drop -k or use -k auto"
    if args.scheduler is not None:
        if args.sweep is not None:
            return "--scheduler runs compressions, not sweeps; drop --sweep or --scheduler"
        if args.jobs is not None:
            return "--jobs sets local processes; with --scheduler the cluster's workers do the work, drop --jobs"
    elif args.scheduler_timeout is not None:
        return "--scheduler-timeout goes with --scheduler ADDRESS"
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
