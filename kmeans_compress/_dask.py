"""Running a batch on a Dask cluster: each input's bytes go to a worker, its result comes back.

Needs the ``[dask]`` extra (``distributed``), imported only when a cluster is asked for. Nothing
here assumes a shared filesystem: the client reads every input and writes every output; workers
only compute (bytes in, bytes out).

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

from ._batch import Outcome, _InOrder, _interrupt_held, _run_one, error_text

__all__ = ["DEFAULT_TIMEOUT", "DaskMissingError", "SchedulerUnreachableError", "connect", "run_on_cluster", "version_warnings"]

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


def connect(scheduler, *, timeout=DEFAULT_TIMEOUT):
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
    except Exception as exc:  # noqa: BLE001 - whatever the reason, one line
        raise SchedulerUnreachableError(_unreachable(address, timeout, exc)) from exc
    return client, True


def _unreachable(address, timeout, exc):
    reason = " ".join(str(exc).split()) or type(exc).__name__
    if isinstance(exc, (asyncio.TimeoutError, TimeoutError)) or reason.startswith("Timed out"):
        reason = "no answer"
    return f"Dask scheduler {address}: {reason} (waited up to {timeout:g} s)"


def _probe(address, timeout):
    from distributed.comm import connect as comm_connect

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


def version_warnings(client):
    """One line per worker whose kmeans_compress is missing or another version than this one's.

    The bytes a worker writes depend on the package's version; a worker without the package would
    fail every task it is given. Only the workers connected now are asked.
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
        return [f"could not ask the Dask workers which kmeans_compress they run: {' '.join(str(exc).split())}"]
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
# The batch
# ---------------------------------------------------------------------------------------------


def _remote(index, label, func, payload):
    """What a worker runs for one task: ``func(payload)`` with one BLAS/OpenMP thread (a worker
    runs as many tasks at once as it has threads), errors and warnings caught as the local
    runner catches them."""
    from threadpoolctl import threadpool_limits

    from ._batch import quiet_pil_logger

    quiet_pil_logger()
    with threadpool_limits(1):
        return _run_one(index, label, lambda: func(payload))


def _cluster_error_text(label, exc):
    """One line for a task the cluster did not finish (the task's own errors come back as values)."""
    name = type(exc).__name__
    if name == "KilledWorker":
        return f"{label}: the Dask workers that ran it died each time (out of memory?); not tried again"
    if isinstance(exc, concurrent.futures.CancelledError):
        if getattr(exc, "reason", "") == "scheduler-connection-lost":
            return f"{label}: not done, the connection to the Dask scheduler was lost"
        return f"{label}: not done, its Dask task was cancelled"
    return error_text(label, exc)


def run_on_cluster(client, tasks, *, on_result=None, on_done=None, window=None):
    """Run split tasks on a Dask cluster; return their outcomes in task order.

    Parameters
    ----------
    client : distributed.Client or str
        A client, or a scheduler address to connect to (see :func:`connect`; that client is
        closed at the end).
    tasks : sequence of (str, job)
        ``job.prepare()`` runs here and returns ``(payload, state)`` (e.g. the input's bytes,
        and where to write); ``job.remote(payload)`` runs on a worker (a function of the package,
        which workers import from their own installation); ``job.finish(value, state)`` runs here
        with what came back (e.g. writes the output) and returns the task's value, as
        :class:`~kmeans_compress._compress.FileJob` does. An exception in any of the three
        becomes the outcome's one-line error.
    on_result, on_done : callable, optional
        As for :func:`~kmeans_compress._batch.run_ordered`.
    window : int, optional
        Tasks submitted at a time (input bytes held by the scheduler at once); default four per
        worker thread, at least 8.

    Returns
    -------
    list of Outcome

    Notes
    -----
    Tasks go to the scheduler a window at a time, so a batch of a million files never holds a
    million inputs in memory here or on the scheduler. Results are written as they arrive, in
    any order, but handed to ``on_result`` in task order. A task whose worker dies is run again
    by Dask on another worker; this client collects each task's future once, so each output is
    written at most once. On Ctrl-C, tasks not yet given to a worker are cancelled, the ones
    running finish and are written (a second Ctrl-C stops waiting for them), what finished is
    handed to ``on_result``, then KeyboardInterrupt is raised again.
    """
    client, owned = connect(client)
    try:
        return _run(client, list(tasks), on_result, on_done, window)
    finally:
        if owned:
            client.close()


def _run(client, tasks, on_result, on_done, window):
    distributed = _distributed()
    ordered = _InOrder(on_result)
    outcomes = [None] * len(tasks)
    run_id = uuid.uuid4().hex[:8]
    if window is None:
        window = max(8, 4 * sum(client.nthreads().values()))
    futures = {}  # future -> (index, state, warnings while preparing), for the tasks not collected yet
    pending = iter(range(len(tasks)))

    def collect(outcome):
        outcomes[outcome.index] = outcome
        if on_done is not None:
            on_done(outcome)
        ordered.add(outcome)

    def submit_next(queue):
        for index in pending:
            label, job = tasks[index]
            with _caught_warnings() as texts:
                try:
                    payload, state = job.prepare()
                except Exception as exc:  # noqa: BLE001 - this file's one line; the others go on
                    collect(Outcome(index, label, error=error_text(label, exc), warnings=texts))
                    continue
            future = client.submit(
                _remote, index, label, job.remote, payload, key=f"kmeans-compress-{run_id}-{index}", pure=False
            )
            futures[future] = (index, state, texts)
            queue.add(future)
            return True
        return False

    def finish(future):
        index, state, early = futures.pop(future)
        label, job = tasks[index]
        try:
            outcome = future.result()
        except Exception as exc:  # noqa: BLE001 - e.g. KilledWorker, a lost scheduler
            outcome = Outcome(index, label, error=_cluster_error_text(label, exc))
        finally:
            future.release()
        outcome.warnings = early + [w for w in outcome.warnings if w not in early]
        if outcome.error is None:
            with _caught_warnings() as texts:
                try:
                    outcome.value = job.finish(outcome.value, state)
                except Exception as exc:  # noqa: BLE001
                    outcome.value, outcome.error = None, error_text(label, exc)
            outcome.warnings += [w for w in texts if w not in outcome.warnings]
        collect(outcome)

    # Outputs are written in this process (the local pool writes in its workers, which ignore
    # Ctrl-C), so Ctrl-C is held while a result is written and reported, and while a task is
    # submitted and recorded: never a file written but not reported, or a task never cancelled.
    def refill(queue):
        with _interrupt_held():
            while len(futures) < window and submit_next(queue):
                pass

    queue = distributed.as_completed(loop=client.loop)
    try:
        refill(queue)
        for future in queue:  # Ctrl-C lands here, while waiting
            with _interrupt_held():
                finish(future)
            refill(queue)
    except KeyboardInterrupt:
        _interrupted(client, futures, finish)
        ordered.flush()
        raise
    return outcomes


def _interrupted(client, futures, finish):
    """Ctrl-C: cancel what the scheduler has not handed to a worker; let the rest finish and be written."""
    try:
        running = {key for keys in client.processing().values() for key in keys}
        waiting = [f for f in futures if f.key in running or f.done()]
        client.cancel([f for f in futures if f not in waiting])
        for future in waiting:
            with contextlib.suppress(Exception):
                future.result()
            with _interrupt_held():
                finish(future)
    except KeyboardInterrupt:  # a second Ctrl-C: stop waiting
        pass
    finally:
        with contextlib.suppress(Exception):
            client.cancel(list(futures))
        futures.clear()


@contextlib.contextmanager
def _caught_warnings():
    """User warnings raised in the block, one line each, into the list yielded."""
    import warnings

    from ._batch import _warning_texts

    texts = []
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        yield texts
    texts.extend(_warning_texts(caught))
