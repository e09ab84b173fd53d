"""A Dask cluster as an executor for the ordered runner: each input's bytes go to a worker, its result comes back.

Needs the ``[dask]`` extra (``distributed``), imported only when a cluster is asked for. Nothing
here assumes a shared filesystem: the client reads every input and writes every output; workers
only compute (bytes in, bytes out). Collecting in order, warnings and Ctrl-C are the runner's
(:func:`~kmeans_compress._batch.run_ordered`); this module supplies :class:`DaskExecutor`, the
connection and its checks. The cluster's faults (a lost or frozen scheduler, no workers) belong
here, in the executor's ``wait`` and ``result``.

Why Dask's scheduler rather than our own: it already does what a batch on many machines needs and
what a pool of our own would have to grow, namely workers joining and leaving, a task that was
running on a worker that died is run again elsewhere (``distributed.scheduler.allowed-failures``
times, then it fails with ``KilledWorker``), and one cluster is shared by many clients and tools.
"""

from __future__ import annotations

import asyncio
import concurrent.futures
import contextlib
import threading
import uuid
from collections.abc import Callable, Collection
from typing import Any

from ._messages import one_line
from ._tasks import error_text, quiet_pil_logger

__all__ = [
    "DEFAULT_TIMEOUT",
    "DaskExecutor",
    "DaskMissingError",
    "SchedulerUnreachableError",
    "connect",
    "version_warnings",
]

#: Seconds to wait for a scheduler to answer before giving up.
DEFAULT_TIMEOUT = 10.0

_INSTALL = "pip install 'kmeans-compress[dask]'"


class DaskMissingError(ImportError):
    """``distributed`` is not installed."""


class SchedulerUnreachableError(ConnectionError):
    """The scheduler did not answer in time, or what answered is not a Dask scheduler."""


def _distributed():
    try:
        import distributed
    except ImportError as exc:
        msg = f"running on a Dask cluster needs the [dask] extra ({_INSTALL}, which brings distributed): {exc}"
        raise DaskMissingError(msg) from exc
    return distributed


def connect(scheduler: Any, *, timeout: float = DEFAULT_TIMEOUT) -> tuple[Any, bool]:
    """A ``distributed.Client`` for a scheduler address, or ``scheduler`` itself if it is one.

    Parameters
    ----------
    scheduler : str or distributed.Client
        An address such as ``"tcp://10.0.0.5:8786"``, or a client already connected.
    timeout : float, default=DEFAULT_TIMEOUT
        Seconds to wait for the scheduler's answer, the connection's handshake included.

    Returns
    -------
    client : distributed.Client
    owned : bool
        True when this function made the client (the caller closes it).

    Raises
    ------
    DaskMissingError
        When ``distributed`` is not installed.
    SchedulerUnreachableError
        When nothing answers at the address within ``timeout``, or what answers is no Dask
        scheduler; the message is one line naming the address and the timeout.
    """
    distributed = _distributed()
    if isinstance(scheduler, distributed.Client):
        return scheduler, False
    address = str(scheduler)
    # Client(address, timeout=...) bounds the TCP connect but not the handshake that follows: a
    # peer that accepts and never answers (a stopped scheduler, a firewall) would hang it for
    # ever. The probe bounds both, and runs in its own thread so that it works under a running
    # event loop too (a notebook).
    _probe(address, timeout)
    try:
        client = distributed.Client(address, timeout=timeout, set_as_default=False)
    except Exception as exc:  # whatever the reason, one line
        raise SchedulerUnreachableError(_unreachable(address, timeout, exc)) from exc
    return client, True


def _unreachable(address, timeout, exc):
    reason = one_line(exc) or type(exc).__name__
    if isinstance(exc, (asyncio.TimeoutError, TimeoutError)) or reason.startswith("Timed out"):
        reason = "no answer"
    return f"Dask scheduler {address}: {reason} (waited up to {timeout:g} s)"


def _probe(address, timeout):
    from distributed.comm.core import connect as comm_connect

    async def probe():
        comm = await asyncio.wait_for(comm_connect(address, timeout=timeout), timeout)
        await comm.close()

    failure = []

    def target():
        try:
            asyncio.run(probe())
        except BaseException as exc:  # noqa: BLE001 - reported by the caller
            failure.append(exc)

    thread = threading.Thread(target=target, name="kmeans-compress-probe", daemon=True)
    thread.start()
    thread.join(timeout + 5)
    if thread.is_alive():
        failure.append(TimeoutError())
    if failure:
        raise SchedulerUnreachableError(_unreachable(address, timeout, failure[0])) from failure[0]


def version_warnings(client: Any) -> list[str]:
    """One line per worker whose kmeans_compress is missing or another version than this one's.

    The bytes a worker writes depend on the package's version; a worker without the package would
    fail every task it is given. Only the workers connected now are asked.

    Parameters
    ----------
    client : distributed.Client
        Connected to the cluster.

    Returns
    -------
    list of str
        One line per such worker (or one line saying the workers could not be asked).
    """
    from . import __version__

    def package_version():  # nested: sent by value, so it runs on workers without this module too
        try:
            from kmeans_compress import __version__
        except ImportError:
            return None
        return __version__

    try:
        versions = client.run(package_version)
    except Exception as exc:  # noqa: BLE001 - only a check
        return [f"could not ask the Dask workers which kmeans_compress they run: {one_line(exc)}"]
    texts = []
    for worker, version in sorted(versions.items()):
        if version is None:
            texts.append(f"Dask worker {worker} has no kmeans_compress installed; its tasks will fail")
        elif version != __version__:
            texts.append(
                f"Dask worker {worker} runs kmeans_compress {version}, this machine {__version__}; "
                "its files may differ from a local run's"
            )
    return texts


# ---------------------------------------------------------------------------------------------
# The executor
# ---------------------------------------------------------------------------------------------


def _on_worker(fn: Callable[..., Any], *args: Any) -> Any:
    """What a worker runs for one task: ``fn(*args)`` with one BLAS/OpenMP thread (a worker runs
    as many tasks at once as it has threads) and Pillow's log quiet."""
    from threadpoolctl import threadpool_limits

    quiet_pil_logger()
    with threadpool_limits(1):
        return fn(*args)


def _cluster_error_text(label: str, exc: BaseException) -> str:
    """One line for a task the cluster did not finish (the task's own errors come back as values)."""
    name = type(exc).__name__
    if name == "KilledWorker":
        return f"{label}: the Dask workers that ran it died each time (out of memory?); not tried again"
    if isinstance(exc, concurrent.futures.CancelledError):
        if getattr(exc, "reason", "") == "scheduler-connection-lost":
            return f"{label}: not done, the connection to the Dask scheduler was lost"
        return f"{label}: not done, its Dask task was cancelled"
    return error_text(label, exc)


class DaskExecutor:
    """A Dask cluster as an executor for :func:`~kmeans_compress._batch.run_ordered`.

    The runner reads every input and writes every output here (``shares_files`` is false: a
    task comes in pieces, as :class:`~kmeans_compress._compress.FileJob` does); only the work
    goes to the workers, which import it from their own installation of the package. Nothing
    assumes a shared filesystem.

    Parameters
    ----------
    client : distributed.Client
        A client connected to the cluster (see :func:`connect`); the caller closes it.
    window : int, optional
        Tasks submitted at a time (input bytes held by the scheduler at once); default four per
        worker thread, at least 8.

    Attributes
    ----------
    shares_files : bool
        False: inputs are read and outputs written here, not on the workers.
    window : int
        As given, or the default.

    Notes
    -----
    A task whose worker dies is run again by Dask on another worker
    (``distributed.scheduler.allowed-failures`` times, then it fails with ``KilledWorker``);
    the runner collects each task's future once, so each output is written at most once.
    """

    shares_files = False

    def __init__(self, client: Any, *, window: int | None = None) -> None:
        distributed = _distributed()
        self.client = client
        self.window = max(8, 4 * sum(client.nthreads().values())) if window is None else int(window)
        self._run_id = uuid.uuid4().hex[:8]
        self._count = 0
        self._queue = distributed.as_completed(loop=client.loop)

    def submit(self, fn: Callable[..., Any], *args: Any) -> Any:
        """Send ``fn(*args)`` to the cluster (under a key of this run's); return its future.

        Parameters
        ----------
        fn : callable
            A function the workers can import or unpickle.
        *args
            Its arguments, sent with it.

        Returns
        -------
        distributed.Future
        """
        key = f"kmeans-compress-{self._run_id}-{self._count}"
        self._count += 1
        future = self.client.submit(_on_worker, fn, *args, key=key, pure=False)
        self._queue.add(future)
        return future

    def wait(self, futures: Collection[Any]) -> list[Any]:
        """Block until at least one submitted future is done; return those done.

        Parameters
        ----------
        futures : collection of distributed.Future
            The futures in flight (all submitted here).

        Returns
        -------
        list of distributed.Future
        """
        done = [next(self._queue)]  # Ctrl-C lands here, while waiting
        done += self._queue.next_batch(block=False)
        return done

    def result(self, future: Any) -> Any:
        """What the worker returned, the future released.

        Parameters
        ----------
        future : distributed.Future
            A done future.

        Returns
        -------
        Outcome
        """
        try:
            return future.result()
        finally:
            future.release()

    def failure_text(self, label: str, exc: BaseException) -> str:
        """One line for a task the cluster did not finish (a worker that died each time, a lost scheduler).

        Parameters
        ----------
        label : str
            The task's label (its input's path).
        exc : BaseException
            What :meth:`result` raised.

        Returns
        -------
        str
        """
        return _cluster_error_text(label, exc)

    def stop(self, futures: Collection[Any]) -> list[Any]:
        """Ctrl-C: cancel what the scheduler has not handed to a worker; return the rest.

        Parameters
        ----------
        futures : collection of distributed.Future
            The futures in flight.

        Returns
        -------
        list of distributed.Future
            Those given to a worker already, or done: the runner waits for them and writes them.
        """
        try:
            processing = {key for keys in self.client.processing().values() for key in keys}
        except Exception:  # noqa: BLE001 - no answer: wait for none
            processing = set()
        running = [f for f in futures if f.key in processing or f.done()]
        with contextlib.suppress(Exception):
            self.client.cancel([f for f in futures if f not in running])
        self._queue.clear()
        for future in running:
            self._queue.add(future)
        return running

    def abandon(self, futures: Collection[Any]) -> None:
        """A second Ctrl-C: cancel ``futures`` on the cluster and wait for none.

        Parameters
        ----------
        futures : collection of distributed.Future
            The futures still in flight.
        """
        with contextlib.suppress(Exception):
            self.client.cancel(list(futures))
