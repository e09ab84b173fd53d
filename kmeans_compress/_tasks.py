"""What a task gives back, wherever it ran: its value, or its error in one line, and its warnings.

The lowest floor of the batch runner: :mod:`~kmeans_compress._batch` (the ordered runner), the local
executor and a cluster's executor all build their outcomes here, so a file's line reads the same
whoever ran it.
"""

from __future__ import annotations

import dataclasses
import logging
import warnings
from collections.abc import Callable, Iterable
from typing import Any

from ._messages import one_line

__all__ = ["ExecutorLost", "Outcome", "error_text", "quiet_pil_logger", "run_one"]


@dataclasses.dataclass
class Outcome:
    """The result of one task.

    Attributes
    ----------
    index : int
        Position of the task in the list given.
    label : str
        The task's label (the input's path), which starts its error line.
    value : object
        What the task returned (None when it failed).
    error : str or None
        One line saying what went wrong, starting with the label.
    warnings : list of str
        The user warnings the task raised, one line each, without repeats.
    """

    index: int
    label: str
    value: Any = None
    error: str | None = None
    warnings: list[str] = dataclasses.field(default_factory=list)


def quiet_pil_logger() -> None:
    """Keep Pillow's log quiet: it logs errors on corrupt TIFFs, and each bad file gets one line of ours."""
    if not logging.getLogger("PIL").handlers:
        logging.getLogger("PIL").addHandler(logging.NullHandler())


class ExecutorLost(RuntimeError):
    """Raised by an executor when its workers are gone for good: no task in flight will finish.

    For example a Dask scheduler lost, or silent, or without a worker, for longer than the
    executor's bound. The runner then collects the futures in ``done``, and reports every other
    task (in flight or not started) as not done, with ``reason``.

    Parameters
    ----------
    reason : str
        Why, in words that follow "not done, " in each file's line.
    done : iterable, optional
        Futures that finished before the loss: their results can still be collected.
    """

    def __init__(self, reason: str, done: Iterable[Any] = ()) -> None:
        super().__init__(reason)
        self.reason = reason
        self.done = list(done)


def error_text(label: str, exc: BaseException) -> str:
    """One line for an exception raised while working on ``label``.

    Parameters
    ----------
    label : str
        What was being worked on (the input's path); the line starts with it.
    exc : BaseException
        What was raised. An :class:`OSError` or :class:`ValueError` is told by its message (they
        are written for users), a :class:`MemoryError` as "out of memory", anything else with its
        type's name too.

    Returns
    -------
    str
        One line, without a newline.
    """
    text = one_line(exc)
    if isinstance(exc, MemoryError):
        text = "out of memory"
    elif not isinstance(exc, (OSError, ValueError)):
        text = f"{type(exc).__name__}: {text}"
    if not text.startswith(str(label)):
        text = f"{label}: {text}"
    return text


def _warning_texts(caught: Iterable[warnings.WarningMessage]) -> list[str]:
    texts: list[str] = []
    for w in caught:
        if issubclass(w.category, UserWarning):
            text = one_line(w.message)
            if text not in texts:
                texts.append(text)
    return texts


def run_one(index: int, label: str, task: Callable[..., Any], *args: Any) -> Outcome:
    """``task(*args)`` with its user warnings and its error caught, wherever it runs (here or on a
    worker); never raises an Exception (the error comes back in the Outcome)."""
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        try:
            outcome = Outcome(index, label, value=task(*args))
        except Exception as exc:  # noqa: BLE001 - one bad file must not stop the batch
            outcome = Outcome(index, label, error=error_text(label, exc))
    outcome.warnings = _warning_texts(caught)
    return outcome
