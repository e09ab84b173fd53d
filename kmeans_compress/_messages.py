"""Messages for people: every error and warning this package shows is one line.

Only the standard library is imported (nothing at all), so that the runner that the command
line loads before any work stays light.
"""

from __future__ import annotations

__all__ = ["one_line"]


def one_line(text: object) -> str:
    """``text`` (or an exception's message) on one line, its runs of white space made one space.

    Parameters
    ----------
    text : object
        A message, or anything whose ``str`` is one (an exception, a warning).

    Returns
    -------
    str
        The text without line breaks, for messages that must stay one line each.
    """
    return " ".join(str(text).split())
