"""Writing output files safely: atomically, never over an input, never a folder for nothing.

A file is written to a temporary file in its folder and then renamed (or hard-linked) into
place, so an interrupted run never leaves a half-written file, and an existing file is never
replaced unless asked. A path that is (or links to) one of the inputs is always refused.
Missing folders are made only when asked, just before the file is written, and removed again
when the write fails.

This module imports nothing from the package but the PNG encoder of :mod:`._encode`.
"""

from __future__ import annotations

import errno
import os
import tempfile
from collections.abc import Iterable, Iterator
from pathlib import Path
from typing import TYPE_CHECKING

from ._encode import encode_palette_png

if TYPE_CHECKING:
    import numpy as np
    from numpy.typing import NDArray

__all__ = ["OutputExistsError", "ProtectedFiles", "check_output_path", "save_palette_png", "write_bytes_atomic"]

StrPath = str | os.PathLike[str]


class OutputExistsError(FileExistsError):
    """The output path exists (and ``overwrite`` was not given) or is one of the inputs."""


class ProtectedFiles:
    """Files never to be written over, each resolved once: their real paths and (device, inode).

    Checking a path against them costs one :func:`os.path.realpath` and one :func:`os.stat`,
    however many there are, so a batch of N files checks its outputs in O(N), not O(N²).
    Identities are taken when it is built: a file made a link to one of them later is not seen.

    Parameters
    ----------
    paths : iterable of str or os.PathLike
        The files (other items, such as a file object, are ignored: they have no path).
    """

    __slots__ = ("_given", "_ids", "_resolved")

    def __init__(self, paths: Iterable[str | os.PathLike[str]] = ()) -> None:
        self._given: list[str] = []
        self._resolved: dict[str, str] = {}
        self._ids: dict[tuple[int, int], str] = {}
        self._add(paths)

    @classmethod
    def of(cls, paths: ProtectedFiles | Iterable[str | os.PathLike[str]]) -> ProtectedFiles:
        """``paths`` itself when it is a :class:`ProtectedFiles`, else one built from it.

        Parameters
        ----------
        paths : ProtectedFiles or iterable of paths
            What to protect.

        Returns
        -------
        ProtectedFiles
        """
        return paths if isinstance(paths, ProtectedFiles) else cls(paths)

    def including(self, paths: Iterable[str | os.PathLike[str]]) -> ProtectedFiles:
        """A copy that protects ``paths`` too (only those not given already are resolved).

        Parameters
        ----------
        paths : iterable of paths
            More files to protect.

        Returns
        -------
        ProtectedFiles
        """
        given = set(self._given)
        extra = [p for p in paths if isinstance(p, (str, os.PathLike)) and os.fspath(p) not in given]
        if not extra:
            return self
        copy = ProtectedFiles()
        copy._given, copy._resolved, copy._ids = list(self._given), dict(self._resolved), dict(self._ids)
        copy._add(extra)
        return copy

    def _add(self, paths: Iterable[str | os.PathLike[str]]) -> None:
        for src in paths:
            if not isinstance(src, (str, os.PathLike)):
                continue
            given = os.fspath(src)
            self._given.append(given)
            self._resolved.setdefault(os.path.realpath(given), given)
            try:
                st = os.stat(given)
            except OSError:  # missing: protected by its path alone
                continue
            self._ids.setdefault((st.st_dev, st.st_ino), given)

    def owner(self, path: str | os.PathLike[str]) -> str | None:
        """The protected file ``path`` names (through symlinks, ``..`` and hard links), or None.

        Parameters
        ----------
        path : str or os.PathLike
            A path that may be about to be written.

        Returns
        -------
        str or None
            That file's path as given.
        """
        found = self._resolved.get(os.path.realpath(path))
        if found is not None or not self._ids:
            return found
        try:
            st = os.stat(path)
        except OSError:
            return None
        return self._ids.get((st.st_dev, st.st_ino))

    def __contains__(self, path: object) -> bool:
        return isinstance(path, (str, os.PathLike)) and self.owner(path) is not None

    def __iter__(self) -> Iterator[str]:
        return iter(self._given)

    def __len__(self) -> int:
        return len(self._given)


def check_output_path(path: StrPath, *, overwrite: bool = False, inputs: Iterable[object] = ()) -> None:
    """Refuse an output path that is an input, or that exists when ``overwrite`` is false.

    Parameters
    ----------
    path : str or os.PathLike
        The output file's path.
    overwrite : bool, default False
        Allow replacing an existing regular file (never an input).
    inputs : iterable of paths, or ProtectedFiles
        Files that must never be written (compared through symlinks and hard links); items
        that are not paths (file objects, arrays) are ignored. A :class:`ProtectedFiles`
        resolved once serves many checks.

    Raises
    ------
    OutputExistsError
        When ``path`` is an input, a directory, something other than a regular file (a device
        such as ``/dev/null``, a pipe, a socket; also through a symlink), or exists and
        ``overwrite`` is false.
    """
    path = Path(path)
    if path in ProtectedFiles.of(inputs):  # type: ignore[arg-type]
        msg = f"{path}: refusing to write over an input file"
        raise OutputExistsError(msg)
    if path.is_dir():
        msg = f"{path}: is a directory"
        raise OutputExistsError(msg)
    if path.exists() and not path.is_file():
        # The rename would put a regular file in place of a device, pipe or socket (for root,
        # ``-o /dev/null --force`` would replace /dev/null itself).
        msg = f"{path}: is not a regular file (a device, pipe or socket); write to a file path instead"
        raise OutputExistsError(msg)
    if path.exists() and not overwrite:
        raise OutputExistsError(_already_exists(path))


#: Errors of the file system, in words that name the folder (``{folder}``) rather than a temporary file.
_FS_WORDS = {
    errno.ENOSPC: "no space left on the device holding {folder}/",
    errno.EDQUOT: "disk quota exceeded on the device holding {folder}/",
    errno.EROFS: "{folder}/ is on a read-only file system",
    errno.EACCES: "no permission to write in {folder}/",
    errno.EPERM: "no permission to write in {folder}/",
    errno.EFBIG: "the file is larger than this system allows in {folder}/",
    errno.EIO: "input/output error on the device holding {folder}/",
}


def _write_error(exc: OSError, path: Path, folder: Path) -> OSError:
    """``exc`` told about ``path`` (the output asked for) in words, never naming the temporary file."""
    words = _FS_WORDS.get(exc.errno or 0)
    reason = words.format(folder=folder) if words else (exc.strerror or str(exc)).lower()
    error = type(exc)(f"{path}: {reason}")  # one argument: its str is the message alone, without "[Errno 28]"
    error.errno = exc.errno
    return error


def _already_exists(path: Path) -> str:
    """The message for an output that exists and may not be replaced (three places refuse it)."""
    return f"{path}: already exists (not replaced unless asked: overwrite=True in Python, --force on the command line)"


def _make_folders(folder: Path) -> list[Path]:
    """Make ``folder`` and its missing parents; the ones made, outermost first."""
    missing = []
    while not folder.exists() and folder != folder.parent:
        missing.append(folder)
        folder = folder.parent
    made = []
    try:
        for each in reversed(missing):
            each.mkdir(exist_ok=True)
            made.append(each)
    except BaseException:
        _remove_folders(made)
        raise
    return made


def _remove_folders(made: list[Path]) -> None:
    """Remove the folders :func:`_make_folders` made, innermost first, while they are empty."""
    for each in reversed(made):
        try:
            each.rmdir()
        except OSError:
            return


def write_bytes_atomic(
    path: StrPath, data: bytes, *, overwrite: bool = False, inputs: Iterable[object] = (), make_folders: bool = False
) -> int:
    """Write ``data`` to ``path`` through a temporary file in the same folder and a rename.

    Nothing is left behind if writing fails or is interrupted. Without ``overwrite`` the final
    step is a hard link, which fails rather than replace a file that appeared meanwhile.

    Parameters
    ----------
    path : str or os.PathLike
        The file to write.
    data : bytes
        Its whole contents.
    overwrite : bool, default False
        Replace an existing regular file (an input is never replaced).
    inputs : iterable of paths
        Files that must not be written over (see :func:`check_output_path`).
    make_folders : bool, default False
        Make the file's missing folders first (and remove them again when the write fails), so
        that a folder exists only when a file was written into it. Without it a missing folder
        is a ``FileNotFoundError``.

    Returns
    -------
    int
        Number of bytes written.

    Raises
    ------
    OutputExistsError
        As :func:`check_output_path`, or when the file appeared while it was being written.
    FileNotFoundError
        When the folder is missing and ``make_folders`` is false.
    OSError
        When the file system refuses (a full disk, a read-only folder): the message names
        ``path`` and says why in words ("no space left on the device holding out/"), and
        ``errno`` is kept.
    """
    path = Path(path)
    check_output_path(path, overwrite=overwrite, inputs=inputs)
    folder = path.parent if str(path.parent) else Path(".")
    try:
        made = _make_folders(folder) if make_folders else []
    except OSError as exc:
        raise _write_error(exc, path, folder) from None
    if not folder.is_dir():
        msg = f"{path}: folder {folder} does not exist"
        raise FileNotFoundError(msg)
    written = False
    try:
        fd, tmp = tempfile.mkstemp(dir=folder, prefix=f".{path.name}.", suffix=".tmp")
        try:
            with os.fdopen(fd, "wb") as fh:
                fh.write(data)
                fh.flush()
                os.fsync(fh.fileno())
            os.chmod(tmp, 0o644)
            if overwrite:
                os.replace(tmp, path)
            else:
                try:
                    os.link(tmp, path)
                except FileExistsError:
                    raise OutputExistsError(_already_exists(path)) from None
                except OSError:  # file systems without hard links
                    if path.exists():
                        raise OutputExistsError(_already_exists(path)) from None
                    os.replace(tmp, path)
            written = True
        finally:
            if os.path.exists(tmp):
                os.unlink(tmp)
    except OutputExistsError:
        raise
    except OSError as exc:  # a full disk, a read-only folder: said of the output, not the temporary file
        raise _write_error(exc, path, folder) from None
    finally:
        if not written:
            _remove_folders(made)
    return len(data)


def save_palette_png(
    path: StrPath,
    palette: NDArray[np.uint8],
    labels: NDArray[np.unsignedinteger],
    *,
    overwrite: bool = False,
    inputs: Iterable[object] = (),
    compress_level: int = 9,
    icc_profile: bytes | None = None,
    dpi: tuple[float, float] | None = None,
) -> int:
    """Save an indexed PNG atomically; see :func:`encode_palette_png` for the encoding.

    Parameters
    ----------
    path : str or os.PathLike
        The file to write; its folder must exist.
    palette : ndarray of uint8, shape (k, 3) or (k, 4)
        The colours, ``k`` in 1..256; with 4 columns the alphas go into a ``tRNS`` chunk.
    labels : ndarray of unsigned int, shape (H, W)
        Index into ``palette`` for every pixel.
    overwrite : bool, default False
        Replace an existing file. An input file is never replaced.
    inputs : iterable of paths
        Files that must not be written over (the images being compressed).
    compress_level : int, default 9
        The zlib effort when the file is not recompressed by oxipng.
    icc_profile : bytes, optional
        Profile to embed instead of the ``sRGB`` chunk (``ImageInfo.icc_profile``).
    dpi : tuple of float, optional
        Physical resolution to write (``ImageInfo.dpi``).

    Returns
    -------
    int
        Size of the written file in bytes.
    """
    data = encode_palette_png(palette, labels, compress_level=compress_level, icc_profile=icc_profile, dpi=dpi)
    return write_bytes_atomic(path, data, overwrite=overwrite, inputs=inputs)
