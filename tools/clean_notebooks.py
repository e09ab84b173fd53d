"""Strip volatile metadata from the committed notebooks, keeping their outputs.

nbval compares a fresh run with the outputs stored in the notebook, so the outputs stay; what
goes is what changes on every run without saying anything about the lesson: execution
timestamps (``cell.metadata.execution``), random cell ids (replaced by their position), widget
state and the widget views that would need it, and the Python patch version. Execution counts stay: nbval refuses a
cell with outputs and no count, and after a top-to-bottom run they are simply 1, 2, 3... Then a diff of a re-run
notebook shows only the outputs that changed. The stripping itself is nbstripout's (``strip_output``).

Usage, from the project's root::

    python tools/clean_notebooks.py            # clean notebooks/*.ipynb in place
    python tools/clean_notebooks.py --check    # exit 1 and name the files that need cleaning

``tests/test_notebook_files.py`` runs the check, so a notebook saved with its timestamps
fails the test suite.
"""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

import nbformat
from nbstripout import strip_output

ROOT = Path(__file__).resolve().parent.parent
NOTEBOOKS = sorted((ROOT / "notebooks").glob("*.ipynb"))

# nbstripout's own defaults for its command line, plus the interpreter's patch version.
VOLATILE_KEYS = [
    "metadata.signature",
    "metadata.widgets",
    "metadata.language_info.version",
    "cell.metadata.collapsed",
    "cell.metadata.ExecuteTime",
    "cell.metadata.execution",
    "cell.metadata.heading_collapsed",
    "cell.metadata.hidden",
    "cell.metadata.scrolled",
]


WIDGET_VIEW = "application/vnd.jupyter.widget-view+json"


def clean(nb: nbformat.NotebookNode) -> nbformat.NotebookNode:
    """The notebook without its volatile metadata (modified in place and returned).

    Also drops the widget views from outputs: each names a random model id, and without the
    widget state (stripped) no viewer can draw it, so the output's other types (the k slider's
    PNG and text) are what a reader sees anyway.
    """
    nb = strip_output(nb, keep_output=True, keep_count=True, keep_id=False, extra_keys=VOLATILE_KEYS)
    for cell in nb.cells:
        for output in cell.get("outputs", []):
            data = output.get("data", {})
            if WIDGET_VIEW in data and len(data) > 1:
                del data[WIDGET_VIEW]
    return nb


def cleaned_text(path: Path) -> tuple[str, str]:
    """(text on disk, text after cleaning), both as nbformat writes them."""
    text = path.read_text(encoding="utf-8")
    nb = nbformat.reads(text, as_version=nbformat.NO_CONVERT)
    return text, nbformat.writes(clean(nb)) + "\n"


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("files", nargs="*", type=Path, help="notebooks (default: notebooks/*.ipynb)")
    parser.add_argument("--check", action="store_true", help="change nothing; exit 1 if a file needs cleaning")
    args = parser.parse_args(argv)
    dirty = []
    for path in args.files or NOTEBOOKS:
        text, cleaned = cleaned_text(path)
        if text == cleaned:
            continue
        dirty.append(path)
        if not args.check:
            path.write_text(cleaned, encoding="utf-8")
            print(f"cleaned {path}")
    if args.check and dirty:
        names = ", ".join(str(p) for p in dirty)
        print(f"volatile metadata in {names}: run python tools/clean_notebooks.py", file=sys.stderr)
        return 1
    return 0


if __name__ == "__main__":
    sys.exit(main())
