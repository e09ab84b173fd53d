"""The output formats: one row each, read by the command line, the file names and the encoders.

A format is a name (``--format``'s value and ``format=``'s), the file name suffixes that mean it
(the first one is given to the names this package makes), the name of its encoder in
:mod:`._encode`, and what that encoder can store. Adding a format is adding its row here and
writing its encoder; the command line's choices, its help, the ``-o`` name rule, the names of
outputs skipped when a folder is expanded and :func:`~._encode.encode_palette` all follow.

Only the standard library is imported, so that the command line's ``--help`` stays fast.
"""

from __future__ import annotations

import dataclasses
import os
from pathlib import Path

__all__ = [
    "FORMATS",
    "OutputFormat",
    "check_format",
    "format_names",
    "format_of_suffix",
    "output_format",
    "suffix_list",
]


@dataclasses.dataclass(frozen=True)
class OutputFormat:
    """One output format: a row of :data:`FORMATS`, each field documented where it is declared."""

    #: The format's name, as ``--format`` and ``format=`` take it (lower case).
    name: str
    #: File name suffixes (lower case, with the dot) that name this format; the first is the one
    #: given to names this package makes (``<stem>-k16.png``).
    suffixes: tuple[str, ...]
    #: Name of the function of :mod:`._encode` that writes it, called as
    #: ``encoder(palette, labels, icc_profile=..., [dpi=...])``.
    encoder: str
    #: A few words for the command line's help.
    description: str
    #: Whether the file keeps an alpha channel (partial transparency included).
    alpha: bool = True
    #: Whether the file can embed an ICC profile.
    icc_profile: bool = True
    #: Whether the file stores a physical resolution (the encoder then takes ``dpi``).
    dpi: bool = False


#: Every output format, by name, in the order the help lists them (the first is the default).
FORMATS: dict[str, OutputFormat] = {
    f.name: f
    for f in (
        OutputFormat("png", (".png",), "encode_palette_png", "indexed PNG", dpi=True),
        OutputFormat("webp", (".webp",), "encode_palette_webp", "lossless WebP, the same pixels, usually smaller"),
        OutputFormat(
            "gif", (".gif",), "encode_palette_gif", "GIF, on/off transparency: alpha below 128 is clear",
            alpha=False, icc_profile=False,
        ),
    )
}


def format_names() -> tuple[str, ...]:
    """The names of the output formats, the default first.

    Returns
    -------
    tuple of str
        ``("png", "webp", "gif")`` and any format added to :data:`FORMATS`.
    """
    return tuple(FORMATS)


def suffix_list() -> str:
    """The output suffixes in words, for messages: ``".png, .webp or .gif"``.

    Returns
    -------
    str
        Every suffix of every format, the last two joined by "or".
    """
    suffixes = [s for f in FORMATS.values() for s in f.suffixes]
    return " or ".join([", ".join(suffixes[:-1]), suffixes[-1]] if len(suffixes) > 1 else suffixes)


def format_of_suffix(path: str | os.PathLike[str]) -> str | None:
    """The name of the format a file name's suffix means, or None.

    Parameters
    ----------
    path : str or os.PathLike
        A file name or path; its suffix is compared without regard to case.

    Returns
    -------
    str or None
        ``"png"`` for ``x.PNG``, ``"webp"`` for ``x.webp``, ``"gif"`` for ``x.gif``; None for any other suffix or none.
    """
    suffix = Path(path).suffix.lower()
    return next((f.name for f in FORMATS.values() if suffix in f.suffixes), None)


def check_format(format: str) -> str:  # noqa: A002 - Pillow's word
    """``format`` when it is the name of an output format, else a ValueError that lists them.

    Parameters
    ----------
    format : str
        The name to check (``"png"``, ``"webp"``, ``"gif"``).

    Returns
    -------
    str
        ``format`` itself.

    Raises
    ------
    ValueError
        When ``format`` is not a key of :data:`FORMATS`.
    """
    if not isinstance(format, str) or format not in FORMATS:
        msg = f"format must be one of {format_names()}, got {format!r}."
        raise ValueError(msg)
    return format


def output_format(path: str | os.PathLike[str], format: str | None = None) -> str:  # noqa: A002
    """The output format: ``format`` when given, else the one the name's suffix means.

    Parameters
    ----------
    path : str or os.PathLike
        The output file's name.
    format : str, optional
        The format asked for; the name's suffix must then not mean another one.

    Returns
    -------
    str
        The format's name.

    Raises
    ------
    ValueError
        When ``format`` is not an output format; when it is None and the suffix means none (a
        ``.jpg`` name must not hold a PNG); when the suffix means another format.
    """
    named = format_of_suffix(path)
    if format is not None:
        check_format(format)
        if named is not None and named != format:
            msg = f"{path}: the name says {named} but the format asked is {format}"
            raise ValueError(msg)
        return format
    if named is not None:
        return named
    suffix = Path(path).suffix.lower()
    msg = f"{path}: the output name must end in {suffix_list()} (or give the format), got {suffix or 'no extension'!r}"
    raise ValueError(msg)
