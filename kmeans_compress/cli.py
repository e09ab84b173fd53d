"""The ``kmeans-compress`` command line.

``kmeans-compress INPUT... -k 16 [-o OUTPUT | --out-dir DIR] [--force] [--seed N]
[--color-space rgb|lab|oklab] [--dither] [--json]``

One line per input on stdout (or one JSON object per line with ``--json``); a file that fails
gets one line on stderr and the others still run. Exit status: 0 when every file succeeded,
1 when any failed, 2 for bad usage.
"""

from __future__ import annotations

import argparse
import json
import logging
import sys
import warnings
from pathlib import Path

from . import __version__
from .colorspace import COLOR_SPACES
from .compress import compress_file, default_output_path
from .io import InvalidImageError, OutputExistsError

__all__ = ["main", "build_parser"]

PROG = "kmeans-compress"
EXIT_OK, EXIT_FAILED, EXIT_USAGE = 0, 1, 2


def _k(text):
    try:
        value = int(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"k must be an integer from 1 to 256, got {text!r}") from None
    if not 1 <= value <= 256:
        raise argparse.ArgumentTypeError(f"k must be from 1 to 256 (a PNG palette holds no more), got {value}")
    return value


def build_parser():
    """The argument parser (exposed for documentation and tests)."""
    parser = argparse.ArgumentParser(
        prog=PROG,
        description="Compress images by K-Means colour quantization into indexed (palette) PNGs, "
        "and report size and quality (PSNR, SSIM, CIEDE2000 colour difference).",
    )
    parser.add_argument("inputs", nargs="+", metavar="INPUT", help="image files (any format Pillow reads)")
    parser.add_argument("-k", "--colors", dest="k", type=_k, default=16, help="palette size, 1 to 256 (default 16)")
    where = parser.add_mutually_exclusive_group()
    where.add_argument("-o", "--output", help="output PNG path (only with a single INPUT)")
    where.add_argument("--out-dir", help="folder for outputs, named <stem>-k<k>.png (default: beside each input)")
    parser.add_argument("--force", action="store_true", help="replace existing output files (never an input)")
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
        help="Floyd-Steinberg dithering: hides banding in gradients, costs bytes; RGB only (default off)",
    )
    parser.add_argument("--json", action="store_true", help="print one JSON object per input instead of a line")
    parser.add_argument("--version", action="version", version=f"%(prog)s {__version__}")
    return parser


def _error(path, exc):
    text = " ".join(str(exc).split())
    if not text.startswith(str(path)):
        text = f"{path}: {text}"
    print(f"{PROG}: error: {text}", file=sys.stderr)


def main(argv=None):
    """Run the command line; returns the exit status instead of exiting."""
    if not logging.getLogger("PIL").handlers:  # Pillow logs errors on corrupt TIFFs: one line per file
        logging.getLogger("PIL").addHandler(logging.NullHandler())
    parser = build_parser()
    try:
        args = parser.parse_args(argv)
    except SystemExit as exc:  # argparse exits 2 on bad usage, 0 on --help/--version
        return int(exc.code or 0)
    if args.output and len(args.inputs) > 1:
        print(f"{PROG}: error: -o/--output takes a single INPUT; use --out-dir for several", file=sys.stderr)
        return EXIT_USAGE
    if args.out_dir and not Path(args.out_dir).is_dir():
        try:
            Path(args.out_dir).mkdir(parents=True, exist_ok=True)
        except OSError as exc:
            print(f"{PROG}: error: cannot create --out-dir {args.out_dir}: {' '.join(str(exc).split())}", file=sys.stderr)
            return EXIT_FAILED
    failures = 0
    for src in args.inputs:
        dst = args.output if args.output else default_output_path(src, args.k, args.out_dir)
        try:
            with warnings.catch_warnings(record=True) as caught:
                warnings.simplefilter("always")
                report = compress_file(
                    src,
                    dst,
                    n_colors=args.k,
                    overwrite=args.force,
                    random_state=args.seed,
                    inputs=args.inputs,
                    color_space=args.color_space,
                    dither=args.dither,
                )
            for w in caught:
                if issubclass(w.category, UserWarning):
                    print(f"{PROG}: warning: {' '.join(str(w.message).split())}", file=sys.stderr)
        except (InvalidImageError, OutputExistsError, OSError, ValueError) as exc:
            _error(src, exc)
            failures += 1
            continue
        except MemoryError:
            _error(src, "out of memory")
            failures += 1
            continue
        if args.json:
            print(json.dumps(report.to_dict()), flush=True)
        else:
            print(report.summary(), flush=True)
    return EXIT_FAILED if failures else EXIT_OK


def run():
    """Console-script entry point: exit with :func:`main`'s status (130 on Ctrl-C)."""
    try:
        sys.exit(main())
    except KeyboardInterrupt:
        print(f"{PROG}: interrupted", file=sys.stderr)
        sys.exit(130)
