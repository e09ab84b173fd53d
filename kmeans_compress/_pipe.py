"""The command line's pipes: an image from stdin (INPUT ``-``) and to stdout (``-o -``).

One image, read whole, compressed by :func:`~kmeans_compress.compress_bytes` (the file route's
own code, so the bytes are the same), then written. When stdout carries the image, the report
line goes to stderr. Image bytes are never written to a terminal (a usage error, as gzip's);
a reader that closes the pipe early (``| head -c 100``) ends the command quietly.
"""

from __future__ import annotations

import json
import os
import sys
import warnings
from typing import TYPE_CHECKING, Any

from ._arguments import PROG
from ._exits import EXIT_FAILED, EXIT_LARGER, EXIT_OK, EXIT_QUALITY, EXIT_USAGE
from ._formats import format_of_suffix
from ._messages import one_line

if TYPE_CHECKING:
    from ._results import Compressed

__all__ = ["STDIN_NAME", "STDOUT_NAME", "run_pipe"]

#: How stdin and stdout are named in report lines and messages.
STDIN_NAME, STDOUT_NAME = "<stdin>", "<stdout>"


def _say(text: str, kind: str = "error") -> None:
    print(f"{PROG}: {kind}: {text}" if kind else f"{PROG}: {text}", file=sys.stderr, flush=True)


def _is_terminal(stream: Any) -> bool:
    try:
        return bool(stream.isatty())
    except (AttributeError, ValueError):
        return False


def _read(src: str) -> bytes:
    if src != "-":
        from ._load import read_input

        return read_input(src)
    return sys.stdin.buffer.read()


def _write_stdout(data: bytes) -> bool:
    """Write ``data`` to stdout; False (quietly) when the reader has gone (a broken pipe)."""
    try:
        sys.stdout.buffer.write(data)
        sys.stdout.buffer.flush()
    except BrokenPipeError:
        try:  # Python's own flush at exit would fail again and print "Exception ignored"
            devnull = os.open(os.devnull, os.O_WRONLY)
            os.dup2(devnull, sys.stdout.fileno())
        except (OSError, ValueError, AttributeError):
            pass
        return False
    return True


def run_pipe(args: Any, options: dict[str, Any], n_colors: Any) -> int:
    """Compress one image from stdin or a file to stdout or a file; returns the exit status.

    Parameters
    ----------
    args : argparse.Namespace
        The command's arguments (``inputs`` is one path or ``"-"``; ``output`` a path or ``"-"``).
    options : dict
        Keyword arguments of :func:`~kmeans_compress.compress_bytes` (seed, targets, metrics...).
    n_colors : int or "auto"
        The palette size to ask for.

    Returns
    -------
    int
        A status of :mod:`._exits`.
    """
    src = args.inputs[0]
    to_stdout = args.output == "-" or (src == "-" and not args.output)
    if src == "-" and args.out_dir:
        _say("stdin has no file name for --out-dir: give -o FILE, or -o - for stdout (see --help)")
        return EXIT_USAGE
    if to_stdout and _is_terminal(sys.stdout):
        _say("refusing to write image bytes to a terminal: redirect stdout (> out.png) or give -o FILE (see --help)")
        return EXIT_USAGE
    if src == "-" and _is_terminal(sys.stdin):
        _say("no image on stdin (it is a terminal): pipe one in (< in.png) or name the file (see --help)")
        return EXIT_USAGE
    named = None if args.output in (None, "-") else format_of_suffix(args.output)
    output_format = args.format or named or "png"
    name = STDIN_NAME if src == "-" else src
    from ._compress import compress_bytes
    from ._load import InvalidImageError

    try:
        data = _read(src)
        if not data:
            _say(f"{name}: empty input, no image")
            return EXIT_FAILED
        with warnings.catch_warnings(record=True) as caught:
            warnings.simplefilter("always")
            result = compress_bytes(
                data, n_colors, name=name, keep_profile=args.keep_profile, format=output_format, **options
            )
    except (InvalidImageError, OSError, ValueError) as exc:
        _say(one_line(exc) if isinstance(exc, InvalidImageError) else f"{name}: {one_line(exc)}")
        return EXIT_FAILED
    for warning in dict.fromkeys(one_line(w.message) for w in caught):
        _say(warning, "warning")
    return _deliver(args, result, data, name, to_stdout)


def _deliver(args: Any, result: Compressed, data: bytes, name: str, to_stdout: bool) -> int:
    """Write the result (or the input's bytes, or nothing) and report; returns the exit status."""
    from ._results import CompressionReport

    m = result.measurement
    larger = m.bytes_out > len(data)
    kept = larger and not args.allow_larger and not result.below_floor
    written = not (result.below_floor or (kept and (args.skip_if_larger or not to_stdout)))
    target = STDOUT_NAME if to_stdout else args.output
    if written:
        payload = data if kept else result.data
        if to_stdout:
            if not _write_stdout(payload):
                return EXIT_FAILED
        else:
            from ._write import ProtectedFiles, write_bytes_atomic

            protected = ProtectedFiles([] if args.inputs[0] == "-" else [args.inputs[0]])
            try:
                write_bytes_atomic(target, payload, overwrite=args.force, inputs=protected, make_folders=True)
            except (OSError, ValueError) as exc:
                _say(one_line(exc))
                return EXIT_FAILED
            if args.keep_mtime and args.inputs[0] != "-":
                stat = os.stat(args.inputs[0])
                os.utime(target, ns=(stat.st_atime_ns, stat.st_mtime_ns))
    report = CompressionReport(
        input=name, output=target if written and not kept else None, measurement=m, kept_original=kept,
        choice=result.choice, reached=result.reached, below_floor=result.below_floor,
    )
    stream = sys.stderr if to_stdout else sys.stdout
    print(json.dumps(report.to_dict()) if args.json else report.summary(), file=stream, flush=True)
    if kept and written:
        _say(f"{name}: the output would be larger than the input: its bytes are written to {target} unchanged", "")
    if result.below_floor:
        return EXIT_QUALITY
    return EXIT_LARGER if kept and args.skip_if_larger else EXIT_OK
