"""One ordered runner for many tasks: in this process, on local worker processes, or on any executor.

A task is a label (the input's path, for messages) and a picklable callable. Whatever runs it,
each result comes back as an :class:`Outcome` that holds the value, or the error in one line,
plus the warnings raised; outcomes are handed to the caller in task order as soon as every
earlier one is in, so output never depends on which worker finished first.

Where the tasks run is an executor's business (:class:`TaskExecutor`: submit, wait, stop);
collecting in order, capturing warnings and errors, and Ctrl-C are this module's, written once
for every executor. :class:`~kmeans_compress._local.LocalExecutor` runs tasks on a thread of this
process or on local worker processes; a cluster supplies its own executor
(``kmeans_compress._dask.DaskExecutor``, chosen by the command line), which this module never imports.

This module imports nothing heavy: the command line loads it before any work starts.
"""

from __future__ import annotations

import contextlib
import warnings
from collections.abc import Callable, Collection, Iterable, Sequence
from typing import Any, Protocol, runtime_checkable

from ._local import LocalExecutor, interrupt_held, start_workers
from ._tasks import ExecutorLost, Outcome, error_text, quiet_pil_logger, run_one
from ._threads import available_cpus

__all__ = [
    "ExecutorLost",
    "LocalExecutor",
    "Outcome",
    "SplitTask",
    "TaskExecutor",
    "choose_jobs",
    "error_text",
    "quiet_pil_logger",
    "run_ordered",
    "start_workers",
]

#: With the default number of jobs, work estimated under this many pixel-fits (pixels times
#: k-means fits) runs in one process: starting workers (a fresh interpreter importing
#: scikit-learn each) costs more than it saves on small jobs.
_SMALL_WORK = 8 << 20


@runtime_checkable
class SplitTask(Protocol):
    """A task in three pieces, for executors whose workers share no files with this machine.

    :class:`~kmeans_compress._compress.FileJob` is one: ``prepare`` reads the input here,
    ``remote`` computes on a worker (bytes in, bytes out), ``finish`` writes the output here.
    Run in one piece (``task()``) where the workers share the files.
    """

    def __call__(self) -> Any:
        """The whole task, where the files are."""

    def prepare(self) -> tuple[Any, Any]:
        """Here, before the work: ``(payload, state)``; the payload goes to the worker."""

    @staticmethod
    def remote(payload: Any) -> Any:
        """On a worker: the work, from the payload alone."""

    def finish(self, value: Any, state: Any) -> Any:
        """Here, after the work: the task's value from the worker's ``value`` and ``state``."""


class TaskExecutor(Protocol):
    """Where tasks run, as :func:`run_ordered` needs it: submit, wait, stop.

    Attributes
    ----------
    shares_files : bool
        True when the workers see this machine's files (a task runs there in one piece); False
        when only the work runs there (:class:`SplitTask`: read and written here).
    window : int
        Tasks submitted at a time: enough to keep every worker busy, few enough that a batch of
        a million files holds no more than this many payloads and futures at once.
    """

    shares_files: bool
    window: int

    def submit(self, fn: Callable[..., Outcome], *args: Any) -> Any:
        """Start ``fn(*args)`` on a worker; return its future."""

    def wait(self, futures: Collection[Any]) -> Collection[Any]:
        """Block until at least one of ``futures`` is done; return the done ones.

        Raises :class:`ExecutorLost` when the workers are gone for good (then ``submit`` may too).
        """

    def result(self, future: Any) -> Outcome | None:
        """What a done future holds (None: stopped before it started); raises what the worker could not catch."""

    def failure_text(self, label: str, exc: BaseException) -> str:
        """One line for a task that :meth:`result` raised for (a worker that died, a lost cluster)."""

    def stop(self, futures: Collection[Any]) -> Collection[Any]:
        """Ctrl-C: start none of ``futures`` not started yet; return the ones that will still finish."""

    def abandon(self, futures: Collection[Any]) -> None:
        """A second Ctrl-C: wait for none of ``futures``."""


def _image_pixels(path: str) -> int:
    """Pixels of an image from its header (0 when unreadable; the task reports that later)."""
    from PIL import Image

    try:
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")  # e.g. a decompression-bomb warning: the task reports it
            with Image.open(path) as im:
                return im.size[0] * im.size[1]
    except Exception:  # noqa: BLE001 - only an estimate
        return 0


def choose_jobs(jobs: int | None, paths: Sequence[str], fits_per_file: int) -> int:
    """Worker processes to use for a batch.

    Parameters
    ----------
    jobs : int or None
        What the user asked for; returned as is when given.
    paths : sequence of str
        The batch's input files; their headers give the work's size.
    fits_per_file : int
        k-means fits each file needs (1 for a fixed k, more to choose k or sweep).

    Returns
    -------
    int
        ``jobs`` when given; else 1 for small work (starting workers would cost more than it
        saves), else the CPUs this process may use (:func:`~kmeans_compress._threads.available_cpus`).
    """
    if jobs is not None:
        return jobs
    if sum(_image_pixels(p) for p in paths) * fits_per_file < _SMALL_WORK:
        return 1
    return available_cpus()


class _InOrder:
    """Hands outcomes to ``callback`` in task order, as soon as every earlier one is in."""

    def __init__(self, callback: Callable[[Outcome], object] | None) -> None:
        self.callback = callback
        self.pending: dict[int, Outcome] = {}
        self.next = 0

    def add(self, outcome: Outcome) -> None:
        self.pending[outcome.index] = outcome
        while self.next in self.pending:
            self._emit(self.pending.pop(self.next))
            self.next += 1

    def flush(self) -> None:
        """Hand over everything received, even past a gap (on Ctrl-C: what was done)."""
        for index in sorted(self.pending):
            self._emit(self.pending.pop(index))

    def _emit(self, outcome: Outcome) -> None:
        if self.callback is not None:
            self.callback(outcome)


# ---------------------------------------------------------------------------------------------
# The runner
# ---------------------------------------------------------------------------------------------


def run_ordered(
    tasks: Iterable[tuple[str, Callable[[], Any]]],
    *,
    jobs: int = 1,
    executor: TaskExecutor | None = None,
    on_result: Callable[[Outcome], object] | None = None,
    on_done: Callable[[Outcome], object] | None = None,
    on_interrupt: Callable[[], object] | None = None,
) -> list[Outcome]:
    """Run ``(label, callable)`` tasks and return their outcomes in task order.

    Parameters
    ----------
    tasks : iterable of (str, callable)
        Each callable takes no argument. With ``jobs > 1`` it must be picklable (a module-level
        function, or :func:`functools.partial` of one). With an executor whose workers share no
        files (``executor.shares_files`` false, e.g. a Dask cluster) each must be a
        :class:`SplitTask`, as :class:`~kmeans_compress._compress.FileJob` is: ``prepare`` and
        ``finish`` run here, ``remote`` on a worker.
    jobs : int, default=1
        Local worker processes when no executor is given; 1 runs the tasks one after another on
        a thread of this process (the main thread stays free to answer Ctrl-C).
    executor : TaskExecutor, optional
        Where to run the tasks instead (for example ``kmeans_compress._dask.DaskExecutor``);
        then ``jobs`` must be 1. The caller owns it (this function does not shut it down).
    on_result : callable, optional
        ``on_result(outcome)`` in task order, as soon as every earlier outcome is in.
    on_done : callable, optional
        ``on_done(outcome)`` as each task finishes, in any order (for progress bars).
    on_interrupt : callable, optional
        ``on_interrupt()`` at once on Ctrl-C, before waiting for the tasks in progress (to say
        so, and to clear a progress bar).

    Returns
    -------
    list of Outcome
        One per task, in task order.

    Raises
    ------
    KeyboardInterrupt
        On Ctrl-C, after what finished was handed to ``on_result``.

    Notes
    -----
    Tasks are submitted a window at a time (``executor.window``). When the executor is lost
    (:class:`ExecutorLost`: a cluster's scheduler gone, or no worker within its bound), what
    finished is collected and every other task gets an outcome whose error says it was not done
    and why; no exception is raised. On Ctrl-C no task is started
    any more: those waiting are cancelled, those running finish (a write is never cut in half)
    and are handed to ``on_result``, even past a gap in the order; a second Ctrl-C stops waiting
    for them. Then KeyboardInterrupt is raised again. Ctrl-C is held while a task is submitted
    and recorded, and while a finished one is collected (written, with a split task) and
    reported: never a file written but not reported, nor a task started but not tracked.
    """
    tasks = list(tasks)
    if executor is not None:
        if jobs != 1:
            msg = f"jobs sets local worker processes; with an executor its workers run the tasks, got jobs={jobs!r}."
            raise ValueError(msg)
        return _Run(tasks, executor, on_result, on_done, on_interrupt).run()
    with LocalExecutor(min(jobs, len(tasks))) as local:
        return _Run(tasks, local, on_result, on_done, on_interrupt).run()


class _Run:
    """One call of :func:`run_ordered`: its tasks, the futures in flight, what came back."""

    def __init__(
        self,
        tasks: list[tuple[str, Any]],
        executor: TaskExecutor,
        on_result: Callable[[Outcome], object] | None,
        on_done: Callable[[Outcome], object] | None,
        on_interrupt: Callable[[], object] | None,
    ) -> None:
        self.tasks, self.executor = tasks, executor
        self.on_done, self.on_interrupt = on_done, on_interrupt
        self.ordered = _InOrder(on_result)
        self.outcomes: list[Any] = [None] * len(tasks)
        self.in_flight: dict[Any, tuple[int, Any, list[str]]] = {}  # future -> (index, state, warnings here)
        self.next_index = 0  # the next task to submit (advanced only once it is submitted or reported)

    def run(self) -> list[Outcome]:
        try:
            while True:
                while len(self.in_flight) < self.executor.window:
                    with interrupt_held():
                        if not self._submit_next():
                            break
                if not self.in_flight:
                    return self.outcomes
                for future in self.executor.wait(list(self.in_flight)):
                    with interrupt_held():
                        self._collect(future)
        except ExecutorLost as lost:
            with interrupt_held():
                self._lost(lost)
            return self.outcomes
        except KeyboardInterrupt:
            self._interrupted()
            raise

    def _add(self, outcome: Outcome) -> None:
        self.outcomes[outcome.index] = outcome
        if self.on_done is not None:
            self.on_done(outcome)
        self.ordered.add(outcome)

    def _submit_next(self) -> bool:
        """Submit the next task (or report it, if it failed here); False when none is left."""
        index = self.next_index
        if index >= len(self.tasks):
            return False
        label, task = self.tasks[index]
        if self.executor.shares_files:
            future = self.executor.submit(run_one, index, label, task)  # ExecutorLost: the task stays pending
            self.in_flight[future] = (index, None, [])
            self.next_index += 1
            return True
        prepared = run_one(index, label, task.prepare)
        if prepared.error is not None:
            self._add(prepared)
            self.next_index += 1
            return True
        payload, state = prepared.value
        prepared.value = None
        future = self.executor.submit(run_one, index, label, task.remote, payload)
        self.in_flight[future] = (index, state, prepared.warnings)
        self.next_index += 1
        return True

    def _collect(self, future: Any) -> None:
        index, state, early = self.in_flight.pop(future)
        label, task = self.tasks[index]
        try:
            outcome = self.executor.result(future)
        except ExecutorLost:
            self.in_flight[future] = (index, state, early)  # reported with the others not done
            raise
        except Exception as exc:  # noqa: BLE001 - e.g. a worker killed by the OS, a lost cluster
            outcome = Outcome(index, label, error=self.executor.failure_text(label, exc))
        if outcome is None:  # stopped by Ctrl-C before it started
            return
        outcome.warnings = early + [w for w in outcome.warnings if w not in early]
        if not self.executor.shares_files and outcome.error is None:
            finished = run_one(index, label, task.finish, outcome.value, state)
            outcome.value, outcome.error = finished.value, finished.error
            outcome.warnings += [w for w in finished.warnings if w not in outcome.warnings]
        self._add(outcome)

    def _lost(self, lost: ExecutorLost) -> None:
        """The executor is gone: collect what finished, then every other task is not done, each said so."""
        for future in lost.done:
            if future in self.in_flight:
                with contextlib.suppress(ExecutorLost):  # its result is gone with its worker: not done
                    self._collect(future)
        self.executor.abandon(list(self.in_flight))
        not_done = [(index, early) for index, _, early in self.in_flight.values()]
        self.in_flight.clear()
        not_done += [(index, []) for index in range(self.next_index, len(self.tasks))]
        self.next_index = len(self.tasks)
        for index, early in sorted(not_done, key=lambda pair: pair[0]):
            label = self.tasks[index][0]
            self._add(Outcome(index, label, error=f"{label}: not done, {lost.reason}", warnings=list(early)))

    def _interrupted(self) -> None:
        """Ctrl-C: start nothing more, say so, collect what was running, hand over what is done."""
        try:
            running = set(self.executor.stop(list(self.in_flight)))
            if self.on_interrupt is not None:
                self.on_interrupt()
            for future in [f for f in self.in_flight if f not in running]:
                del self.in_flight[future]
            while self.in_flight:
                for future in self.executor.wait(list(self.in_flight)):
                    with interrupt_held():
                        self._collect(future)
        except KeyboardInterrupt:  # a second Ctrl-C: stop waiting
            self.executor.abandon(list(self.in_flight))
            self.in_flight.clear()
        self.ordered.flush()


# ---------------------------------------------------------------------------------------------
# Ctrl-C
# ---------------------------------------------------------------------------------------------
