"""Which files a command line's INPUTs name, and where their outputs go."""

from __future__ import annotations

import glob
import os
import re
from pathlib import Path

from ._formats import FORMATS

__all__ = ["default_output_path", "drop_output_clashes", "expand_inputs", "output_folder"]

#: Names that look like this command's own outputs; skipped when a folder is expanded.
_OUTPUT_NAME = re.compile(
    r"-k\d+(" + "|".join(re.escape(s) for f in FORMATS.values() for s in f.suffixes) + ")$", re.IGNORECASE
)


def default_output_path(input_path, k, out_dir=None, format="png"):  # noqa: A002
    """``<stem>-k<k>.png`` (or the suffix of ``format``) beside the input, or in ``out_dir`` when given."""
    src = Path(input_path)
    folder = Path(out_dir) if out_dir is not None else src.parent
    return folder / f"{src.stem}-k{k}{FORMATS[format].suffixes[0]}"


# HEIC/HEIF (iPhone photos): read through the optional pillow-heif, which registers them with
# Pillow only once loaded; listed here so that a folder's HEIC files are not skipped silently.
_HEIF_EXTENSIONS = {".heic", ".heif", ".hif"}


def _image_extensions():
    from PIL import Image

    return {ext.lower() for ext in Image.registered_extensions()} | _HEIF_EXTENSIONS


def expand_inputs(inputs, *, recursive=False):
    """Files to process, from files, folders and glob patterns, in a deterministic order.

    Plain paths are kept as given (a missing file fails later with its own message). A folder
    gives the files in it whose extension Pillow knows, sorted by path, in subfolders too with
    ``recursive``, skipping names that look like this command's outputs (``*-k<N>.png``, ``.webp``). A
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


def drop_output_clashes(items, k, out_dir, format="png"):  # noqa: A002
    """Inputs whose output name another, earlier input already takes (``a.png`` and ``a.jpg`` both
    give ``a-k16.png``): kept out of the run with one error each, so that neither ``--force`` nor
    the order in which parallel workers finish decides which one survives."""
    kept, errors = [], []
    taken: dict[str, object] = {}  # output path -> the input that takes it
    for src, root in items:
        dst = os.path.normcase(os.path.abspath(default_output_path(src, k, output_folder(src, root, out_dir), format)))
        if dst in taken:
            errors.append(f"{src}: its output {dst} is also the output of {taken[dst]}; skipped (use -o, or rename)")
        else:
            taken[dst] = src
            kept.append((src, root))
    return kept, errors


def output_folder(src, root, out_dir):
    """Folder of the output: ``out_dir`` (mirroring subfolders under a folder INPUT) or the input's."""
    if out_dir is None:
        return None
    if root is None:
        return out_dir
    rel = os.path.relpath(os.path.dirname(os.path.abspath(src)), os.path.abspath(root))
    return out_dir if rel == "." else os.path.join(out_dir, rel)
