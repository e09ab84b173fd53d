"""Output paths resolved once per batch: which of a batch's inputs each job's output could name.

:func:`protect_batch` resolves every input of a batch once (:class:`~kmeans_compress._write.ProtectedFiles`)
and hands each :class:`~kmeans_compress._compress.FileJob` only the inputs its output path names, so
that a batch of N files costs N resolutions, not N².
"""

from __future__ import annotations

import dataclasses
import os
import re
from collections.abc import Iterable, Sequence
from pathlib import Path
from typing import TYPE_CHECKING

from ._inputs import default_output_path
from ._write import ProtectedFiles

if TYPE_CHECKING:
    from ._compress import FileJob

__all__ = ["protect_batch"]


#: A default output name: ``<stem>-k<k>.<format>`` (see :func:`~kmeans_compress._inputs.default_output_path`).
_DEFAULT_NAME = re.compile(r"^(?P<stem>.*)-k\d+\.(?P<format>png|webp)$")


def protect_batch(jobs: Sequence[FileJob], *, also: Iterable[str | os.PathLike[str]] = ()) -> list[FileJob]:
    """The jobs of a batch, each told which of the batch's inputs its output could name.

    Every input of the batch must be kept from being written over by every job's output. Instead
    of each job resolving all N inputs two or three times (O(N²) for the batch, and N paths
    pickled with every job), the inputs are resolved once here (:class:`ProtectedFiles`) and
    each job keeps in ``inputs`` only those its output path names now (through symlinks, ``..``
    or hard links): none in a batch without such links. A job whose k is still to be chosen
    may write any ``<stem>-k<k>`` name: the existing files of that form in its output folder are
    checked, each folder listed once.

    Parameters
    ----------
    jobs : sequence of FileJob
        The batch; each job's own ``inputs`` are protected too.
    also : iterable of paths, default=()
        Further files no job may write over (inputs left out of the run, for example).

    Returns
    -------
    list of FileJob
        The same jobs, in order, with ``inputs`` narrowed.
    """
    protected = ProtectedFiles([*(p for job in jobs for p in (job.input_path, *job.inputs)), *also])
    folders: dict[str, dict[tuple[str, str], list[str]]] = {}
    narrowed = []
    for job in jobs:
        format = job.format or "png"  # noqa: A001
        candidates: Sequence[str | None]
        if job.output_path is not None:
            candidates = [protected.owner(job.output_path)]
        elif job.n_colors != "auto":
            candidates = [protected.owner(default_output_path(job.input_path, job.n_colors, job.out_dir, format))]
        else:
            folder = os.fspath(job.out_dir) if job.out_dir is not None else os.path.dirname(os.fspath(job.input_path))
            names = folders.get(folder)
            if names is None:
                names = folders[folder] = _default_names(folder, protected)
            candidates = names.get((Path(job.input_path).stem, format.lower()), [])
        own = os.fspath(job.input_path)
        at_risk = tuple(dict.fromkeys(c for c in candidates if c is not None and c != own))
        narrowed.append(dataclasses.replace(job, inputs=at_risk))
    return narrowed


def _default_names(folder: str, protected: ProtectedFiles) -> dict[tuple[str, str], list[str]]:
    """(stem, format) -> the protected files that existing ``<stem>-k<k>.<format>`` names in ``folder`` point to."""
    found: dict[tuple[str, str], list[str]] = {}
    try:
        entries = list(os.scandir(folder or "."))
    except OSError:  # no folder yet: nothing in it can be an input
        return found
    for entry in entries:
        match = _DEFAULT_NAME.match(entry.name)
        if match is None:
            continue
        owner = protected.owner(entry.path)
        if owner is not None:
            found.setdefault((match["stem"], match["format"]), []).append(owner)
    return found
