"""Local executors for the ordered runner: one thread of this process, or local worker processes.

See :class:`LocalExecutor`. Also the Ctrl-C helpers the runner and the executor share.
"""

from __future__ import annotations

import concurrent.futures
import contextlib
import multiprocessing
import signal
import threading
from collections.abc import Callable, Collection, Iterator
from typing import Any

from ._tasks import Outcome, error_text, quiet_pil_logger

__all__ = ["LocalExecutor", "interrupt_held", "sigint_ignored", "start_workers"]


@contextlib.contextmanager
def _sigint_handled_by(handler: Any) -> Iterator[None]:
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


def sigint_ignored() -> contextlib.AbstractContextManager[None]:
    """Ignore Ctrl-C inside the block (in the main thread; nothing changes in another).

    For starting a process: it inherits that, so it never prints a KeyboardInterrupt traceback
    while it starts; the parent handles Ctrl-C (see :func:`~kmeans_compress._batch.run_ordered`).

    Returns
    -------
    context manager
    """
    return _sigint_handled_by(signal.SIG_IGN)


@contextlib.contextmanager
def interrupt_held(on_signal: Callable[[], object] | None = None) -> Iterator[None]:
    """Hold Ctrl-C until the block is done, then raise KeyboardInterrupt (main thread only).

    For steps that must not be cut in half, such as a file written and then reported.

    Parameters
    ----------
    on_signal : callable, optional
        Called at once when Ctrl-C comes (for what cannot wait for the block's end, such as
        telling workers to start nothing more); it must not block.

    Yields
    ------
    None
    """
    received: list[int] = []

    def held(signum: int, frame: object) -> None:
        received.append(signum)
        if on_signal is not None:
            on_signal()

    with _sigint_handled_by(held):
        yield
    if received:
        raise KeyboardInterrupt


#: Seconds between two checks for Ctrl-C while waiting for a task (a task that finishes ends the wait at once).
_POLL = 0.05

#: In a worker process: set by the parent on Ctrl-C, so that no task starts after it.
_STOP: Any = None


def _unless_stopped(stop: Any, fn: Callable[..., Outcome], *args: Any) -> Outcome | None:
    """``fn(*args)``, or None without running it when ``stop`` (an event) is set."""
    if stop is None:
        stop = _STOP
    if stop is not None and stop.is_set():
        return None
    return fn(*args)


def _init_worker(stop: Any) -> None:
    """Worker processes share the CPUs between them: one thread each for BLAS/OpenMP."""
    global _STOP  # noqa: PLW0603 - one per worker process, set once as it starts
    _STOP = stop
    signal.signal(signal.SIGINT, signal.SIG_IGN)  # Ctrl-C is the parent's to handle (see run_ordered)
    quiet_pil_logger()
    try:
        from threadpoolctl import threadpool_limits

        threadpool_limits(1)
    except Exception:  # noqa: BLE001 - only a performance hint
        pass


class LocalExecutor:
    """Tasks on a thread of this process (``jobs=1``) or on ``jobs`` local worker processes.

    A context manager: the workers stop at its end. Workers are never forked from this process
    (which may have started OpenMP threads, in which a forked child can hang): a fork server
    that has imported the package forks them where there is one (Linux), else each is spawned.

    Parameters
    ----------
    jobs : int, default=1
        Worker processes; 1 runs the tasks one after another on one thread of this process.

    Attributes
    ----------
    shares_files : bool
        True: the tasks run in one piece, reading and writing where they run.
    window : int
        Tasks submitted at a time: two per worker (so none waits for its next task); a task
        queued starts only if no Ctrl-C came first.
    """

    shares_files = True

    def __init__(self, jobs: int = 1) -> None:
        self.jobs = max(1, int(jobs))
        self.window = 2 * self.jobs
        self._pool: concurrent.futures.Executor | None = None
        self._stop: Any = None
        self._submitted = 0

    def __enter__(self) -> LocalExecutor:
        if self.jobs == 1:
            self._stop = threading.Event()
            self._pool = concurrent.futures.ThreadPoolExecutor(1, thread_name_prefix="kmeans-compress")
        else:
            context = _mp_context()
            self._stop = context.Event()
            self._pool = concurrent.futures.ProcessPoolExecutor(
                max_workers=self.jobs, mp_context=context, initializer=_init_worker, initargs=(self._stop,)
            )
        return self

    def __exit__(self, *exc_info: object) -> None:
        pool, self._pool = self._pool, None
        if pool is None:
            return
        if exc_info[0] is None:
            pool.shutdown(wait=True)
            return
        # Ctrl-C or an error: nothing more starts; the workers finish the task they are on (writes
        # are atomic, and a worker still starting would fail noisily if this process left first)
        self._stop.set()
        try:
            pool.shutdown(wait=True, cancel_futures=True)
        except KeyboardInterrupt:  # a second Ctrl-C: stop waiting
            pool.shutdown(wait=False, cancel_futures=True)

    def submit(self, fn: Callable[..., Outcome], *args: Any) -> concurrent.futures.Future[Outcome | None]:
        """Start ``fn(*args)`` on the thread or a worker process; return its future."""
        if self._pool is None:
            msg = "LocalExecutor is a context manager: use it in a with block"
            raise RuntimeError(msg)
        if self.jobs == 1:
            return self._pool.submit(_unless_stopped, self._stop, fn, *args)
        self._submitted += 1
        starting = self._submitted <= self.jobs and _spawned_workers()
        # a spawned worker inherits Ctrl-C ignored, so that it never prints a traceback while it starts
        with sigint_ignored() if starting else contextlib.nullcontext():
            return self._pool.submit(_unless_stopped, None, fn, *args)

    def wait(self, futures: Collection[concurrent.futures.Future[Any]]) -> Collection[concurrent.futures.Future[Any]]:
        """Block until at least one of ``futures`` is done; return the done ones.

        Ctrl-C is raised between short waits, never inside one: raised inside
        :func:`concurrent.futures.wait`, it can leave a future's lock held, and the worker that
        finishes that future then waits for the lock forever. The workers are told at once to
        start no other task.
        """
        first = concurrent.futures.FIRST_COMPLETED
        while True:
            with interrupt_held(on_signal=self._stop.set):  # no task starts after Ctrl-C, even before it is raised
                done, _ = concurrent.futures.wait(futures, timeout=_POLL, return_when=first)
            if done:
                return done

    def result(self, future: concurrent.futures.Future[Outcome | None]) -> Outcome | None:
        """The future's outcome; None when it was stopped before it started."""
        if future.cancelled():
            return None
        return future.result()

    def failure_text(self, label: str, exc: BaseException) -> str:
        """One line for a task whose worker failed (e.g. killed by the OS)."""
        return error_text(label, exc)

    def stop(self, futures: Collection[concurrent.futures.Future[Any]]) -> Collection[concurrent.futures.Future[Any]]:
        """Start none of ``futures`` not started yet; return the others (running, or to be skipped)."""
        with interrupt_held():  # a second Ctrl-C never lands inside a future's lock (see wait)
            if self._stop is not None:
                self._stop.set()
            return [f for f in futures if not f.cancel()]

    def abandon(self, futures: Collection[concurrent.futures.Future[Any]]) -> None:
        """Wait for none of ``futures``: the workers finish them, unreported."""
        with interrupt_held():
            for future in futures:
                future.cancel()


def start_workers() -> None:
    """Start the fork server now, where there is one, so that its imports (scikit-learn above
    all) run while this process is busy with its own; :class:`LocalExecutor` then forks warm workers."""
    if not _spawned_workers():
        _mp_context()


def _spawned_workers() -> bool:
    return "forkserver" not in multiprocessing.get_all_start_methods()


def _mp_context() -> Any:
    """A fork server's context where there is one (it forks workers faster than spawning), else spawn."""
    if _spawned_workers():
        return multiprocessing.get_context("spawn")
    from multiprocessing import forkserver

    context = multiprocessing.get_context("forkserver")
    # everything a task imports, once, before the workers are forked
    context.set_forkserver_preload(
        [
            "kmeans_compress._compress",
            "kmeans_compress._report",
            "skimage.color.colorconv",
            "skimage.color.delta_e",
            "oxipng",
        ]
    )
    with sigint_ignored():  # the server is born ignoring Ctrl-C, so no traceback from its imports
        forkserver.ensure_running()
    return context
