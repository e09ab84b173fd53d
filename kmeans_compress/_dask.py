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
import importlib
import inspect
import logging
import threading
import time
import uuid
import warnings
from collections.abc import Callable, Collection
from typing import TYPE_CHECKING, Any

from ._cluster_watch import LOST, ClusterWatch, ask_scheduler, bounded
from ._messages import one_line
from ._tasks import ExecutorLost, error_text, quiet_pil_logger

if TYPE_CHECKING:
    from types import ModuleType

__all__ = [
    "DEFAULT_TIMEOUT",
    "DaskExecutor",
    "DaskMissingError",
    "SchedulerUnreachableError",
    "close_client",
    "connect",
    "route_logs",
    "version_warnings",
    "worker_count",
]

#: Seconds a batch waits for a cluster that makes no progress (a scheduler that does not answer,
#: no worker, or none that answers) before the files not done are given up; also the bound on
#: connecting.
DEFAULT_TIMEOUT = 30.0

#: The loggers of the cluster's libraries: their records never reach the terminal (see :func:`route_logs`).
_CLUSTER_LOGGERS = ("distributed", "tornado", "asyncio")

_INSTALL = "pip install 'kmeans-compress[dask]'"


class DaskMissingError(ImportError):
    """``distributed`` is not installed."""


class SchedulerUnreachableError(ConnectionError):
    """The scheduler did not answer in time, or what answered is not a Dask scheduler."""


def _distributed() -> ModuleType:
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


def worker_count(client: Any, *, timeout: float = DEFAULT_TIMEOUT) -> int | None:
    """Workers connected to the cluster's scheduler now.

    Parameters
    ----------
    client : distributed.Client
        Connected to the cluster.
    timeout : float, default=DEFAULT_TIMEOUT
        Seconds to wait for the scheduler's answer.

    Returns
    -------
    int or None
        None when the scheduler did not answer in time.
    """
    info = ask_scheduler(client, "identity", timeout, n_workers=0)
    return None if info is None else int(info.get("n_workers", 0))


def close_client(client: Any, *, timeout: float = DEFAULT_TIMEOUT) -> None:
    """Close ``client`` within ``timeout`` seconds, whatever state the cluster is in; never raises.

    Parameters
    ----------
    client : distributed.Client
        The client to close (a lost or stopped scheduler never answers the goodbye).
    timeout : float, default=DEFAULT_TIMEOUT
        Seconds to wait at most.
    """
    with contextlib.suppress(Exception):
        bounded(lambda: client.close(timeout=timeout), timeout + 1)


def route_logs(path: str | None = None) -> None:
    """Send the log records of distributed (and of tornado and asyncio beneath it) to ``path``, or nowhere.

    distributed logs to the terminal by default (for example "Failed to reconnect to scheduler
    after 10.00 seconds, closing client" when a scheduler is lost); a command that says what
    happened to each file in its own line has no room for them. Its warnings are ignored too.

    Parameters
    ----------
    path : str, optional
        A file the records are appended to (with their time, level and logger); without it
        they are dropped.
    """
    _distributed()  # its logging is set up as it is imported: after that, here
    handler: logging.Handler
    if path is None:
        handler = logging.NullHandler()
    else:
        handler = logging.FileHandler(path, encoding="utf-8")  # opened now: a bad path is said at once
        handler.setFormatter(logging.Formatter("%(asctime)s %(levelname)s %(name)s: %(message)s"))
    # distributed gives some of its loggers their own handler ("distributed.client" among them):
    # each is emptied, and their records go up to the top ones, which hold the one handler
    names = [name for name in list(logging.root.manager.loggerDict) if name.split(".")[0] in _CLUSTER_LOGGERS]
    for name in {*names, *_CLUSTER_LOGGERS}:
        logger = logging.getLogger(name)
        for old in list(logger.handlers):
            logger.removeHandler(old)
        top = name in _CLUSTER_LOGGERS
        if top:
            logger.addHandler(handler)
        logger.propagate = not top
    warnings.filterwarnings("ignore", module=r"distributed(\.|$)")


def _unreachable(address: str, timeout: float, exc: BaseException) -> str:
    reason = one_line(exc) or type(exc).__name__
    if isinstance(exc, (asyncio.TimeoutError, TimeoutError)) or reason.startswith("Timed out"):
        reason = "no answer"
    return f"Dask scheduler {address}: {reason} (waited up to {timeout:g} s)"


def _probe(address: str, timeout: float) -> None:
    from distributed.comm.core import connect as comm_connect

    async def probe() -> None:
        comm = await asyncio.wait_for(comm_connect(address, timeout=timeout), timeout)
        await comm.close()

    failure = []

    def target() -> None:
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


def version_warnings(client: Any, *, timeout: float = DEFAULT_TIMEOUT) -> list[str]:
    """One line per worker whose kmeans_compress is missing or another version than this one's.

    The bytes a worker writes depend on the package's version; a worker without the package would
    fail every task it is given. Only the workers connected now are asked.

    Parameters
    ----------
    client : distributed.Client
        Connected to the cluster.
    timeout : float, default=DEFAULT_TIMEOUT
        Seconds to wait for the answers (a stopped worker never answers).

    Returns
    -------
    list of str
        One line per such worker (or one line saying the workers could not be asked).
    """
    from . import __version__

    def package_version() -> str | None:  # nested: sent by value, so it runs on workers without this module too
        try:
            from kmeans_compress import __version__
        except ImportError:
            return None
        return __version__

    try:
        versions = bounded(lambda: client.run(package_version), timeout)
    except TimeoutError:
        return [f"could not ask the Dask workers which kmeans_compress they run: no answer within {timeout:g} s"]
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


class _ByName:
    """A module-level function sent by its name, imported only where it runs.

    The scheduler unpickles every task it is given: a function pickled by reference would make
    it import that function's module (the whole compressor, scikit-learn with it), blocking it
    for seconds on its first batch. Named this way, it imports only this module.
    """

    __slots__ = ("module", "qualname")

    def __init__(self, fn: Callable[..., Any]) -> None:
        self.module, self.qualname = fn.__module__, fn.__qualname__

    def __getstate__(self) -> tuple[str, str]:
        return self.module, self.qualname

    def __setstate__(self, state: tuple[str, str]) -> None:
        self.module, self.qualname = state

    def resolve(self) -> Callable[..., Any]:
        obj: Any = importlib.import_module(self.module)
        for part in self.qualname.split("."):
            obj = getattr(obj, part)
        return obj


def _by_name(obj: Any) -> Any:
    """``obj`` as a :class:`_ByName` when it is a function importable by name, else itself."""
    if inspect.isfunction(obj) and "<" not in obj.__qualname__ and obj.__module__.startswith("kmeans_compress."):
        return _ByName(obj)
    return obj


def _on_worker(fn: Any, *args: Any) -> Any:
    """What a worker runs for one task: ``fn(*args)`` with one BLAS/OpenMP thread (a worker runs
    as many tasks at once as it has threads) and Pillow's log quiet; functions sent by name are
    imported here first."""
    from threadpoolctl import threadpool_limits

    call = [a.resolve() if isinstance(a, _ByName) else a for a in (fn, *args)]
    quiet_pil_logger()
    with threadpool_limits(1):
        return call[0](*call[1:])


def _cluster_error_text(label: str, exc: BaseException) -> str:
    """One line for a task the cluster did not finish (the task's own errors come back as values)."""
    name = type(exc).__name__
    if name == "KilledWorker":
        return f"{label}: the Dask workers that ran it died each time (out of memory?); not tried again"
    if isinstance(exc, concurrent.futures.CancelledError):
        if getattr(exc, "reason", "") == "scheduler-connection-lost":
            return f"{label}: not done, {LOST}"
        return f"{label}: not done, its Dask task was cancelled"
    if isinstance(exc, (TimeoutError, asyncio.TimeoutError)):
        return f"{label}: not done, its result did not come back from the Dask cluster in time"
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
        A client connected to the cluster (see :func:`connect`); the caller closes it (see
        :func:`close_client`).
    window : int, optional
        Tasks submitted at a time (input bytes held by the scheduler at once); default four per
        worker thread, at least 8.
    timeout : float, default=DEFAULT_TIMEOUT
        Seconds the batch waits while the cluster makes no progress: a scheduler that does not
        answer, no worker, no worker that answers (stopped, or killed and not back), or every
        task in flight held by workers that do not answer. Then the runner is told the cluster
        is lost (:class:`~kmeans_compress._tasks.ExecutorLost`): what finished is written, the
        rest is not done. A worker that comes back within it continues the batch. Also bounds
        the wait for each result.
    on_wait : callable, optional
        ``on_wait(text)`` with one line when a stall has lasted a third of ``timeout`` (at most
        10 s), and when the cluster works again.

    Attributes
    ----------
    shares_files : bool
        False: inputs are read and outputs written here, not on the workers.
    window : int
        As given, or the default.
    timeout : float
        As given.

    Notes
    -----
    A task whose worker dies is run again by Dask on another worker
    (``distributed.scheduler.allowed-failures`` times, then it fails with ``KilledWorker``);
    the runner collects each task's future once, so each output is written at most once. A lost
    connection to the scheduler ends the batch at once: Dask cancels every task in flight then.
    """

    shares_files = False

    def __init__(
        self,
        client: Any,
        *,
        window: int | None = None,
        timeout: float = DEFAULT_TIMEOUT,
        on_wait: Callable[[str], object] | None = None,
    ) -> None:
        distributed = _distributed()
        self.client = client
        self.timeout = float(timeout)
        if window is None:
            ncores = ask_scheduler(client, "ncores", self.timeout) or {}
            window = max(8, 4 * sum(ncores.values()))
        self.window = int(window)
        self._run_id = uuid.uuid4().hex[:8]
        self._count = 0
        self._queue = distributed.as_completed(loop=client.loop)
        self._futures: set[Any] = set()
        self._watch = ClusterWatch(client, self.timeout, on_wait)
        self._lost: str | None = None  # why, once the cluster is lost

    def _done(self) -> list[Any]:
        return [f for f in self._futures if f.status == "finished"]

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

        Raises
        ------
        ExecutorLost
            When the connection to the scheduler is lost.
        """
        if self.client.status != "running" or self._lost is not None:
            raise ExecutorLost(self._lost or LOST, self._done())
        key = f"kmeans-compress-{self._run_id}-{self._count}"
        self._count += 1
        try:
            future = self.client.submit(_on_worker, *map(_by_name, (fn, *args)), key=key, pure=False)
        except Exception as exc:  # a client closed meanwhile
            raise ExecutorLost(LOST, self._done()) from exc
        self._queue.add(future)
        self._futures.add(future)
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

        Raises
        ------
        ExecutorLost
            When the cluster made no progress for ``timeout`` seconds, or the connection to the
            scheduler is lost.
        """
        keys = [f.key for f in futures]
        checked = time.monotonic()
        while not self._queue.has_ready():
            with self._queue.thread_condition:  # woken as a future finishes; Ctrl-C lands here
                self._queue.thread_condition.wait(timeout=min(0.1, self._watch.tick))
            if not self._queue.has_ready() and time.monotonic() - checked >= self._watch.tick:
                self._checked(lambda: self._watch.check(keys, self._done))
                checked = time.monotonic()
        self._watch.progress()
        return self._queue.next_batch(block=False)

    def result(self, future: Any) -> Any:
        """What the worker returned, the future released.

        Parameters
        ----------
        future : distributed.Future
            A done future.

        Returns
        -------
        Outcome

        Raises
        ------
        ExecutorLost
            When its result was on a worker lost since, and the cluster made no progress for
            ``timeout`` seconds.
        """
        self._futures.discard(future)
        try:
            while True:
                try:
                    return future.result(timeout=self._watch.tick)
                except (TimeoutError, asyncio.TimeoutError):
                    # done, but its result was on a worker lost since: Dask computes it again, on a
                    # worker within the bound, or the batch ends
                    if self._lost is not None:
                        raise ExecutorLost(self._lost) from None
                    self._checked(lambda: self._watch.check([future.key], self._done))
        finally:
            with contextlib.suppress(Exception):
                future.release()

    def _checked(self, check: Callable[[], None]) -> None:
        """``check()``, remembering why the cluster is lost when it says so."""
        try:
            check()
        except ExecutorLost as lost:
            self._lost = lost.reason
            raise

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
        answer = ask_scheduler(self.client, "processing", self.timeout) or {}  # no answer: wait for none
        processing = {key for keys in answer.values() for key in keys}
        running = [f for f in futures if f.key in processing or f.done()]
        with contextlib.suppress(Exception):
            self.client.cancel([f for f in futures if f not in running])
        self._queue.clear()
        for future in running:
            self._queue.add(future)
        return running

    def abandon(self, futures: Collection[Any]) -> None:
        """Wait for none of ``futures`` (a second Ctrl-C, a lost cluster); cancel them on the cluster.

        Parameters
        ----------
        futures : collection of distributed.Future
            The futures still in flight.
        """
        self._futures.difference_update(futures)
        with contextlib.suppress(Exception):
            bounded(lambda: self.client.cancel(list(futures)), min(self.timeout, 5.0))
