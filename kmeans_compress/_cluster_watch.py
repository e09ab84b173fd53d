"""The Dask cluster's health, judged on the client's side: bounded calls, and a watch over a stalled batch.

distributed's synchronous calls mostly take no timeout, and a stopped scheduler or worker never
answers; everything the executor (:mod:`~kmeans_compress._dask`) asks while a batch waits goes
through here, bounded. Imported only when a cluster is used (distributed itself is imported by
the caller).
"""

from __future__ import annotations

import threading
import time
from collections.abc import Callable, Collection
from typing import Any

from ._tasks import ExecutorLost

__all__ = ["LOST", "ClusterWatch", "ask_scheduler", "bounded"]

#: Why the files in flight are not done when the scheduler's connection is gone.
LOST = "the connection to the Dask scheduler was lost"


def bounded(fn: Callable[[], Any], seconds: float) -> Any:
    """``fn()`` on a daemon thread, for calls of distributed that take no timeout of their own.

    Parameters
    ----------
    fn : callable
        Called with no argument.
    seconds : float
        How long to wait for it.

    Returns
    -------
    object
        What ``fn`` returned; what it raised is raised again.

    Raises
    ------
    TimeoutError
        When it had not returned within ``seconds`` (the thread is left to end on its own: a
        daemon, it never holds the process).
    """
    box: dict[str, Any] = {}

    def target() -> None:
        try:
            box["value"] = fn()
        except BaseException as exc:  # noqa: BLE001 - re-raised below
            box["error"] = exc

    thread = threading.Thread(target=target, name="kmeans-compress-dask-call", daemon=True)
    thread.start()
    thread.join(seconds)
    if thread.is_alive():
        raise TimeoutError(seconds)
    if "error" in box:
        raise box["error"]
    return box.get("value")


def ask_scheduler(client: Any, request: str, seconds: float, **kwargs: Any) -> Any:
    """The scheduler's answer to ``request``, or None when none came within ``seconds``.

    Parameters
    ----------
    client : distributed.Client
        Connected to the cluster.
    request : str
        One of the scheduler's handlers, such as ``"identity"`` or ``"processing"``.
    seconds : float
        How long to wait for the answer.
    **kwargs
        The request's arguments.

    Returns
    -------
    object or None
        The answer; None when none came (a lost or stopped scheduler, a closed client).
    """
    scheduler = getattr(client, "scheduler", None)
    if scheduler is None or client.status not in ("running", "connecting"):
        return None
    try:
        return client.sync(getattr(scheduler, request), callback_timeout=seconds, **kwargs)
    except Exception:  # noqa: BLE001 - no answer, whatever the reason
        return None


class ClusterWatch:
    """Whether the cluster can still finish the tasks in flight, judged here, on the client's side.

    Asked while nothing finishes. The scheduler is asked for its workers (bounded by a tick), and
    a worker counts as answering while its heartbeat (``last_seen``) moves. A stall is a
    scheduler that does not answer, no worker that answers, or every task in flight held by
    workers that do not; it is dated from the last sign of life, so ``timeout`` bounds the time
    from the fault to the end, not from when it was noticed. Nothing is asked of the scheduler's
    settings (``no-workers-timeout``, ``worker-ttl``): a scheduler the user started keeps its own.

    Parameters
    ----------
    client : distributed.Client
        Connected to the cluster.
    timeout : float
        Seconds a stall may last.
    on_wait : callable or None
        ``on_wait(text)``: one line when a stall has lasted a while, and when it ends.

    Attributes
    ----------
    tick : float
        Seconds between two questions to the scheduler while nothing finishes.
    """

    def __init__(self, client: Any, timeout: float, on_wait: Callable[[str], object] | None) -> None:
        self.client, self.timeout, self.on_wait = client, timeout, on_wait
        self.tick = min(1.0, timeout / 4)
        self.warn_after = min(10.0, timeout / 3)
        self.alive = time.monotonic()  # the last sign that the tasks in flight could progress
        self.seen: dict[str, tuple[Any, float, float | None]] = {}  # see _problem
        self.warned = False
        self.address = getattr(getattr(client, "scheduler", None), "address", "") or "?"

    def progress(self) -> None:
        """A task finished: the cluster works."""
        self.alive = time.monotonic()
        if self.warned:
            self.warned = False
            self._say("the Dask cluster is working again; continuing")

    def check(self, keys: Collection[str], done: Callable[[], list[Any]]) -> None:
        """Raise :class:`ExecutorLost` when the stall has lasted ``timeout``; say so once it lasts a while.

        Parameters
        ----------
        keys : collection of str
            The keys of the tasks in flight.
        done : callable
            ``done()``: the futures finished already, handed to :class:`ExecutorLost`.
        """
        if self.client.status != "running":
            raise ExecutorLost(LOST, done())
        # the scheduler may take until the warning, then until the end of the bound, to answer (a
        # loaded machine, a first connection): a stall is never declared on one slow answer
        until = self.alive + (self.timeout if self.warned else self.warn_after)
        problem = self._problem(keys, max(self.tick, until - time.monotonic()))
        now = time.monotonic()
        if problem is None:
            if self.warned:
                self.progress()
            return
        stalled = now - self.alive
        if stalled >= self.timeout:
            raise ExecutorLost(f"{problem} for {self.timeout:g} s", done())
        if not self.warned and stalled >= self.warn_after:
            self.warned = True
            self._say(f"{problem} for {stalled:.0f} s; the files not done are given up after {self.timeout:g} s")

    def _say(self, text: str) -> None:
        if self.on_wait is not None:
            self.on_wait(text)

    def _problem(self, keys: Collection[str], seconds: float) -> str | None:
        """What stalls the tasks in flight, or None (then :attr:`alive` is brought up to date)."""
        info = ask_scheduler(self.client, "identity", seconds, n_workers=-1)
        if info is None:
            if self.client.status != "running":
                raise ExecutorLost(LOST)
            return f"the Dask scheduler {self.address} has not answered"
        now = time.monotonic()
        workers = info.get("workers", {})
        seen: dict[str, tuple[Any, float, float | None]] = {}
        for address, worker in workers.items():
            beat = worker.get("last_seen")
            before = self.seen.get(address)
            # (heartbeat, when this worker was first seen here, when its heartbeat last moved here)
            if before is None:
                seen[address] = (beat, now, None)
            else:
                seen[address] = (beat, before[1], now if before[0] != beat else before[2])
        self.seen = seen
        # heartbeats come every 0.5 s to a few seconds; a stall is dated from the last one seen, so
        # waiting longer to call a worker silent delays nothing but the warning
        silent_after = max(self.timeout / 2, 2.0)
        answering = {a: moved for a, (_, first, moved) in seen.items() if now - (moved or first) < silent_after}
        if not workers:
            return "no Dask worker"
        if not answering:
            return "no Dask worker answering"
        # a worker seen once proves nothing yet: only a heartbeat that moved
        beats: list[float] = [moved for moved in answering.values() if moved is not None]
        self.alive = max([self.alive, *beats])
        if len(answering) == len(workers) or not keys:
            return None
        processing = ask_scheduler(self.client, "processing", seconds)
        if processing is None:
            return None  # answered a moment ago: not a stall yet
        held = {key: worker for worker, held_keys in processing.items() for key in held_keys}
        if all(held.get(key) in workers and held.get(key) not in answering for key in keys):
            return "the Dask workers running the files left are not answering"
        return None
