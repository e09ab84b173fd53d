"""Running many tasks and reporting them in order: one after another, or on local worker processes.

A task is a label (the input's path, for messages) and a picklable callable. Whatever runs it,
each result comes back as an :class:`Outcome` that holds the value, or the error in one line,
plus the warnings raised; outcomes are handed to the caller in task order as soon as every
earlier one is in, so output never depends on which worker finished first.

This module imports nothing heavy: the command line loads it before any work starts.
"""

from __future__ import annotations

import concurrent.futures
import contextlib
import dataclasses
import logging
import multiprocessing
import os
import signal
import warnings

from ._messages import one_line

__all__ = ["Outcome", "choose_jobs", "error_text", "quiet_pil_logger", "run_ordered", "start_workers"]

#: With the default number of jobs, work estimated under this many pixel-fits (pixels times
#: k-means fits) runs in one process: starting workers (a fresh interpreter importing
#: scikit-learn each) costs more than it saves on small jobs.
_SMALL_WORK = 8 << 20


@dataclasses.dataclass
class Outcome:
    """The result of one task.

    Attributes
    ----------
    index : int
        Position of the task in the list given.
    label : str
    value : object
        What the task returned (None when it failed).
    error : str or None
        One line saying what went wrong, starting with the label.
    warnings : list of str
        The user warnings the task raised, one line each, without repeats.
    """

    index: int
    label: str
    value: object = None
    error: str | None = None
    warnings: list = dataclasses.field(default_factory=list)


def quiet_pil_logger():
    """Pillow logs errors on corrupt TIFFs: keep each bad file to one line of ours."""
    if not logging.getLogger("PIL").handlers:
        logging.getLogger("PIL").addHandler(logging.NullHandler())


def error_text(label, exc):
    """One line for an exception raised while working on ``label``."""
    text = one_line(exc)
    if isinstance(exc, MemoryError):
        text = "out of memory"
    elif not isinstance(exc, (OSError, ValueError)):
        text = f"{type(exc).__name__}: {text}"
    if not text.startswith(str(label)):
        text = f"{label}: {text}"
    return text


def _warning_texts(caught):
    texts = []
    for w in caught:
        if issubclass(w.category, UserWarning):
            text = one_line(w.message)
            if text not in texts:
                texts.append(text)
    return texts


def _run_one(index, label, task):
    """Run one task; never raises an Exception (the error comes back in the Outcome)."""
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        try:
            outcome = Outcome(index, label, value=task())
        except Exception as exc:  # noqa: BLE001 - one bad file must not stop the batch
            outcome = Outcome(index, label, error=error_text(label, exc))
    outcome.warnings = _warning_texts(caught)
    return outcome


def _image_pixels(path):
    """Pixels of an image from its header (0 when unreadable; the task reports that later)."""
    from PIL import Image

    try:
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")  # e.g. a decompression-bomb warning: the task reports it
            with Image.open(path) as im:
                return im.size[0] * im.size[1]
    except Exception:  # noqa: BLE001 - only an estimate
        return 0


def choose_jobs(jobs, paths, fits_per_file):
    """Worker processes to use: ``jobs`` when given, else the CPU count, or 1 for small work."""
    if jobs is not None:
        return jobs
    if sum(_image_pixels(p) for p in paths) * fits_per_file < _SMALL_WORK:
        return 1
    return os.cpu_count() or 1


class _InOrder:
    """Hands outcomes to ``callback`` in task order, as soon as every earlier one is in."""

    def __init__(self, callback):
        self.callback, self.pending, self.next = callback, {}, 0

    def add(self, outcome):
        self.pending[outcome.index] = outcome
        while self.next in self.pending:
            self._emit(self.pending.pop(self.next))
            self.next += 1

    def flush(self):
        """Hand over everything received, even past a gap (on Ctrl-C: what was done)."""
        for index in sorted(self.pending):
            self._emit(self.pending.pop(index))

    def _emit(self, outcome):
        if self.callback is not None:
            self.callback(outcome)


def run_ordered(tasks, *, jobs=1, client=None, on_result=None, on_done=None):
    """Run ``(label, callable)`` tasks and return their outcomes in task order.

    Parameters
    ----------
    tasks : sequence of (str, callable)
        Each callable takes no argument; with ``jobs > 1`` it must be picklable (a module-level
        function, or :func:`functools.partial` of one). With ``client``, each must also come in
        pieces as :class:`~kmeans_compress._compress.FileJob` does (``prepare``, ``remote``,
        ``finish``).
    jobs : int, default=1
        Worker processes; 1 runs the tasks one after another in this process.
    client : distributed.Client or str, optional
        Run the tasks on this Dask cluster instead (a client, or a scheduler address to connect
        to): the inputs are read and the outputs written here, the work is done by the cluster's
        workers (see :func:`kmeans_compress._dask.run_on_cluster`). Needs the ``[dask]`` extra.
    on_result : callable, optional
        ``on_result(outcome)`` in task order, as soon as every earlier outcome is in.
    on_done : callable, optional
        ``on_done(outcome)`` as each task finishes, in any order (for progress bars).

    Returns
    -------
    list of Outcome

    Notes
    -----
    On Ctrl-C, tasks not yet started are cancelled; running ones finish (a write is never cut
    in half), what finished is handed to ``on_result``, then KeyboardInterrupt is raised again.
    """
    if client is not None:
        if jobs != 1:
            msg = f"jobs sets local worker processes; with a client the cluster's workers run the tasks, got jobs={jobs!r}."
            raise ValueError(msg)
        from ._dask import run_on_cluster

        return run_on_cluster(client, tasks, on_result=on_result, on_done=on_done)
    tasks = list(tasks)
    ordered = _InOrder(on_result)
    outcomes = [None] * len(tasks)

    def collect(outcome):
        outcomes[outcome.index] = outcome
        if on_done is not None:
            on_done(outcome)
        ordered.add(outcome)

    if jobs <= 1 or len(tasks) <= 1:
        for index, (label, task) in enumerate(tasks):
            collect(_run_one(index, label, task))
        return outcomes
    futures = {}
    try:
        with _pool(min(jobs, len(tasks))) as pool:
            with _starting_workers():
                for index, (label, task) in enumerate(tasks):
                    futures[pool.submit(_run_one, index, label, task)] = (index, label)
            for future in concurrent.futures.as_completed(futures):
                collect(_result(future, *futures[future]))
    except KeyboardInterrupt:  # the pool let the running tasks finish: report what was done
        for future, (index, label) in futures.items():
            if outcomes[index] is None and future.done() and not future.cancelled():
                collect(_result(future, index, label))
        ordered.flush()
        raise
    return outcomes


def _result(future, index, label):
    try:
        return future.result()
    except Exception as exc:  # noqa: BLE001 - e.g. a worker killed by the OS
        return Outcome(index, label, error=error_text(label, exc))


# ---------------------------------------------------------------------------------------------
# The process pool
# ---------------------------------------------------------------------------------------------


def _init_worker():
    """Worker processes share the CPUs between them: one thread each for BLAS/OpenMP."""
    signal.signal(signal.SIGINT, signal.SIG_IGN)  # Ctrl-C is the parent's to handle (see _pool)
    quiet_pil_logger()
    try:
        from threadpoolctl import threadpool_limits

        threadpool_limits(1)
    except Exception:  # noqa: BLE001 - only a performance hint
        pass


def start_workers():
    """Start the fork server now, where there is one, so that its imports (scikit-learn above
    all) run while this process is busy with its own; :func:`run_ordered` then forks warm workers."""
    if not _spawned_workers():
        _mp_context()


def _spawned_workers():
    return "forkserver" not in multiprocessing.get_all_start_methods()


def _mp_context():
    """Workers are never forked from this process, which may have started OpenMP threads (a forked
    child can hang in them). A fork server that has imported the package forks them instead,
    which starts them faster than spawning; where there is none (Windows, macOS), each worker is
    spawned."""
    if not _spawned_workers():
        from multiprocessing import forkserver

        context = multiprocessing.get_context("forkserver")
        # everything a task imports, once, before the workers are forked
        context.set_forkserver_preload(
            ["kmeans_compress._compress", "kmeans_compress._report", "skimage.color.colorconv", "skimage.color.delta_e", "oxipng"]
        )
        with _sigint_ignored():  # the server is born ignoring Ctrl-C, so no traceback from its imports
            forkserver.ensure_running()
        return context
    return multiprocessing.get_context("spawn")


@contextlib.contextmanager
def _sigint_handled_by(handler):
    """Handle Ctrl-C with ``handler`` for a while (nothing changes outside the main thread)."""
    try:
        previous = signal.signal(signal.SIGINT, handler)
    except ValueError:  # not the main thread
        yield
        return
    try:
        yield
    finally:
        signal.signal(signal.SIGINT, previous)


def _sigint_ignored():
    """Ignore Ctrl-C while a process is started: it inherits that, so it never prints a
    KeyboardInterrupt traceback; the parent handles Ctrl-C (see :func:`_pool`)."""
    return _sigint_handled_by(signal.SIG_IGN)


@contextlib.contextmanager
def _starting_workers():
    """Ctrl-C while tasks are submitted (which starts the workers) must not cut a worker's start
    in half: with a fork server, Ctrl-C is held until the submissions are done, then raised;
    spawned workers are started ignoring it (they inherit that)."""
    if _spawned_workers():
        with _sigint_ignored():
            yield
        return
    with _interrupt_held():
        yield


@contextlib.contextmanager
def _interrupt_held():
    """Hold Ctrl-C until the block is done, then raise it (nothing changes outside the main thread)."""
    received = []
    with _sigint_handled_by(lambda signum, frame: received.append(signum)):
        yield
    if received:
        raise KeyboardInterrupt


@contextlib.contextmanager
def _pool(jobs):
    """A process pool; on Ctrl-C (or any error) queued tasks are cancelled, not started.

    Workers ignore Ctrl-C and finish the task they are on, and the pool waits for them (writes
    are atomic, and a worker still starting would fail noisily if the parent left first); a
    second Ctrl-C stops waiting.
    """
    pool = concurrent.futures.ProcessPoolExecutor(max_workers=jobs, mp_context=_mp_context(), initializer=_init_worker)
    try:
        yield pool
    except BaseException:
        pool.shutdown(wait=True, cancel_futures=True)
        raise
    pool.shutdown(wait=True)
