"""Faults injected into a batch on a real cluster: ``dask scheduler`` and ``dask worker`` processes on loopback.

Each test starts its own scheduler and workers (one thread each, no nanny, so that a killed worker
stays dead), warms the workers (their first task's imports), runs
``python -m kmeans_compress ... --scheduler`` in a child process, and injects the fault once the
first file is written: the scheduler killed (SIGKILL) or stopped (SIGSTOP), every worker killed or
stopped, a worker that comes back. Then: the exit status, no traceback and no line of anyone else's
on stderr, the time from the fault to the exit within ``--scheduler-timeout`` (a few seconds here)
plus a margin for closing, every input accounted for exactly once (a line on stdout for a file
written, or one error line), and the output folder holding only complete files. A full disk and a
read-only folder (small tmpfs mounts: they need root; without it the tests say so and skip) check
that the file system's faults name the output asked for, in words.

Marked ``cluster_faults`` (``pytest -m cluster_faults`` runs them alone); ``.ci/run`` runs them with
the rest, with ``KMEANS_COMPRESS_REQUIRE_DASK=1``: a missing ``distributed`` fails instead of skipping.
"""

import os
import signal
import socket
import subprocess
import sys
import threading
import time
from pathlib import Path

import numpy as np
import pytest
from _helpers import noisy_photo as _photo
from PIL import Image

ROOT = Path(__file__).resolve().parents[1]
PROG = "kmeans-compress"
N_FILES = 40

pytestmark = pytest.mark.cluster_faults


def _distributed():
    if os.environ.get("KMEANS_COMPRESS_REQUIRE_DASK"):
        import distributed  # fails the test run instead of skipping

        return distributed
    return pytest.importorskip("distributed")


def _env():
    return dict(os.environ, PYTHONPATH=str(ROOT))  # the scheduler and workers import this checkout


def _free_port():
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


class _Cluster:
    """A scheduler and workers, each its own process on 127.0.0.1; stopped by their pids at the end."""

    def __init__(self, folder, n_workers):
        self.folder = folder
        self.address = f"tcp://127.0.0.1:{_free_port()}"
        port = self.address.rsplit(":", 1)[1]
        self.scheduler = self._start(
            "scheduler", "distributed.cli.dask_scheduler", "--host", "127.0.0.1", "--port", port, "--no-dashboard"
        )
        self.workers = [self.start_worker() for _ in range(n_workers)]

    def _start(self, name, module, *args):
        log = open(self.folder / f"{name}.log", "w")  # noqa: SIM115 - closed with the process
        proc = subprocess.Popen(
            [sys.executable, "-m", module, *args], stdout=log, stderr=subprocess.STDOUT, env=_env(), cwd=self.folder
        )
        log.close()
        return proc

    def start_worker(self):
        name = f"worker-{len(getattr(self, 'workers', [])) + 1}-{time.monotonic_ns()}"
        return self._start(
            name, "distributed.cli.dask_worker", self.address, "--host", "127.0.0.1", "--nthreads", "1",
            "--no-nanny", "--no-dashboard", "--local-directory", str(self.folder / name),
        )

    def warm(self, n_workers):
        """Wait for the workers, and import on them what their first task would."""
        distributed = _distributed()
        with distributed.Client(self.address, timeout=60, set_as_default=False) as client:
            if n_workers:
                client.wait_for_workers(n_workers, timeout=120)
                client.run(lambda: __import__("kmeans_compress._compress") and None)

    def stop(self):
        for proc in [self.scheduler, *self.workers]:
            if proc.poll() is None:
                proc.send_signal(signal.SIGCONT)
                proc.kill()
            proc.wait(timeout=30)


@pytest.fixture
def cluster(tmp_path, request):
    """One scheduler and ``request.param`` workers (default 1), warm."""
    _distributed()
    n_workers = getattr(request, "param", 1)
    folder = tmp_path / "cluster"
    folder.mkdir()
    running = _Cluster(folder, n_workers)
    try:
        running.warm(n_workers)
        yield running
    finally:
        running.stop()


@pytest.fixture
def inputs(tmp_path):
    folder = tmp_path / "in"
    folder.mkdir()
    for i in range(N_FILES):
        _photo(folder / f"p{i:02d}.png", seed=i, size=(64, 96))
    return folder


def _run(cluster, inputs, out, timeout, fault=None, extra=()):
    """Run a batch on ``cluster``; ``fault()`` once the first file is written. (status, stdout, stderr, seconds
    from the fault, or from the start without one, to the exit)."""
    command = [sys.executable, "-m", "kmeans_compress", str(inputs), "-k", "16", "--out-dir", str(out),
               "--scheduler", cluster.address, "--scheduler-timeout", str(timeout), "--no-progress", *extra]
    start = time.monotonic()
    proc = subprocess.Popen(
        command, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True, env=_env(), cwd=out.parent
    )
    first = ""
    if fault is not None:
        first = proc.stdout.readline()
        assert first.startswith(str(inputs)), first  # a file was written: the batch is under way
        start = time.monotonic()
        fault()
    watchdog = threading.Timer(timeout + 90, proc.kill)  # a hang fails the test instead of holding the suite
    watchdog.start()
    try:
        rest = proc.stdout.read()  # not communicate(): it would skip what readline() buffered
        err = proc.stderr.read()  # a few kB at most: never fills the pipe while stdout is read
        proc.wait()
    finally:
        watchdog.cancel()
    seconds = time.monotonic() - start
    assert proc.returncode != -signal.SIGKILL, f"still running {timeout + 90} s after the fault"
    return proc.returncode, first + rest, err, seconds


def _check_accounted(inputs, out, stdout, stderr):
    """No traceback, only our lines; every input once (written, kept, or one error line); only complete files."""
    assert "Traceback" not in stderr, stderr
    for line in stderr.splitlines():
        assert line.startswith(f"{PROG}: "), f"a line not ours on stderr: {line!r}"
    errors = [line for line in stderr.splitlines() if line.startswith(f"{PROG}: error: ")]
    written = [line for line in stdout.splitlines() if line.startswith(str(inputs))]
    for src in sorted(inputs.iterdir()):
        said = [e for e in errors if e.startswith(f"{PROG}: error: {src}:")]
        said += [w for w in written if w.startswith(f"{src}:")]
        assert len(said) == 1, (src.name, said)
    files = sorted(out.iterdir()) if out.exists() else []
    assert all(not f.name.startswith(".") and not f.name.endswith(".tmp") for f in files), files
    assert len(files) == sum(1 for w in written if "kept original" not in w)
    for f in files:
        with Image.open(f) as im:
            im.load()  # complete
    return errors, written


# --- the scheduler ------------------------------------------------------------------------------


def test_scheduler_killed_mid_batch(cluster, inputs, tmp_path):
    """SIGKILL the scheduler: Dask cancels every task in flight at once; the batch ends with a line per file."""
    out = tmp_path / "out"
    kill = lambda: cluster.scheduler.send_signal(signal.SIGKILL)  # noqa: E731
    status, stdout, stderr, seconds = _run(cluster, inputs, out, 4, kill)
    errors, written = _check_accounted(inputs, out, stdout, stderr)
    assert status == 1
    assert seconds < 4 + 10, seconds
    assert errors and all(e.endswith("not done, the connection to the Dask scheduler was lost") for e in errors), errors
    assert stdout.splitlines()[-1].startswith(f"{N_FILES} files: {len(written)} written")


def test_scheduler_stopped_mid_batch(cluster, inputs, tmp_path):
    """SIGSTOP the scheduler: nothing closes, nothing answers; the bound ends the wait."""
    out = tmp_path / "out"
    stop = lambda: cluster.scheduler.send_signal(signal.SIGSTOP)  # noqa: E731
    status, stdout, stderr, seconds = _run(cluster, inputs, out, 4, stop)
    errors, _ = _check_accounted(inputs, out, stdout, stderr)
    assert status == 1
    assert 3 < seconds < 4 + 10, seconds
    assert errors and all("has not answered for 4 s" in e for e in errors), errors
    assert f"{PROG}: warning: the Dask scheduler {cluster.address} has not answered for " in stderr


# --- the workers --------------------------------------------------------------------------------


@pytest.mark.parametrize("cluster", [2], indirect=True)
@pytest.mark.parametrize(
    ("how", "said"), [(signal.SIGKILL, "no Dask worker"), (signal.SIGSTOP, "no Dask worker answering")],
    ids=["killed", "stopped"],
)
def test_every_worker_lost_mid_batch(cluster, inputs, tmp_path, how, said):
    """Every worker killed (no nanny brings it back) or stopped: a line while waiting, then the bound ends it."""
    out = tmp_path / "out"

    def fault():
        for worker in cluster.workers:
            worker.send_signal(how)

    status, stdout, stderr, seconds = _run(cluster, inputs, out, 4, fault)
    errors, _ = _check_accounted(inputs, out, stdout, stderr)
    assert status == 1
    assert seconds < 4 + 10, seconds
    assert errors and all(e.endswith(f"not done, {said} for 4 s") for e in errors), errors
    assert f"{PROG}: warning: {said} for " in stderr and "(--scheduler-timeout)" in stderr


@pytest.mark.parametrize("cluster", [0], indirect=True)
def test_no_worker_at_all(cluster, inputs, tmp_path):
    out = tmp_path / "out"
    status, stdout, stderr, seconds = _run(cluster, inputs, out, 3)
    errors, written = _check_accounted(inputs, out, stdout, stderr)
    assert status == 1 and not written and len(errors) == N_FILES
    assert seconds < 3 + 15, seconds  # the start (imports, connecting) included
    assert "has no workers yet; files wait up to 3 s for one" in stderr
    assert all(e.endswith("not done, no Dask worker for 3 s") for e in errors), errors
    assert not out.exists()


@pytest.mark.parametrize("back", ["continued", "replaced"])
def test_a_worker_that_comes_back_continues_the_batch(cluster, inputs, tmp_path, back):
    """The only worker stopped, then continued (SIGCONT), or killed and another started, within the bound."""
    out = tmp_path / "out"

    def fault():
        worker = cluster.workers[0]
        if back == "continued":
            worker.send_signal(signal.SIGSTOP)
            time.sleep(2)
            worker.send_signal(signal.SIGCONT)
        else:
            worker.send_signal(signal.SIGKILL)
            cluster.workers.append(cluster.start_worker())

    status, stdout, stderr, _ = _run(cluster, inputs, out, 30, fault)
    errors, written = _check_accounted(inputs, out, stdout, stderr)
    assert status == 0, stderr
    assert not errors and len(written) == N_FILES


# --- the file system ----------------------------------------------------------------------------


@pytest.fixture
def small_disk(tmp_path):
    """A 600 kB tmpfs (root only: the test says so and skips without it)."""
    mount = tmp_path / "disk"
    mount.mkdir()
    command = ["mount", "-t", "tmpfs", "-o", "size=600k", "tmpfs", str(mount)]
    done = subprocess.run(command, capture_output=True, text=True, check=False)
    if done.returncode != 0:
        pytest.skip(f"cannot mount a small tmpfs here (needs root): {done.stderr.strip()}")
    try:
        yield mount
    finally:
        subprocess.run(["umount", "-l", str(mount)], check=False)


def _noise(folder, n, size=(96, 96)):
    """Photos of noise: their outputs take about 6 kB each, whatever k."""
    folder.mkdir()
    rng = np.random.default_rng(0)
    for i in range(n):
        Image.fromarray(rng.integers(0, 256, (*size, 3), dtype=np.uint8)).save(folder / f"n{i:02d}.png")
    return folder


def test_full_disk(small_disk, tmp_path):
    """The disk fills mid-batch: the files that did not fit get one line naming the output and the folder."""
    filler = small_disk / "filler"
    filler.write_bytes(b"\0" * (600 * 1024 - 40 * 1024))  # about 40 kB left
    inputs = _noise(tmp_path / "in", 12)
    out = small_disk / "out"
    done = subprocess.run(
        [sys.executable, "-m", "kmeans_compress", str(inputs), "-k", "64", "--out-dir", str(out), "--no-progress",
         "--jobs", "1", "--allow-larger"],
        capture_output=True, text=True, env=_env(), cwd=tmp_path, timeout=120, check=False,
    )
    errors, written = _check_accounted(inputs, out, done.stdout, done.stderr)
    assert done.returncode == 1 and written and errors, done.stderr
    for line in errors:
        assert line.endswith(f"no space left on the device holding {out}/"), line
        src = line.split(": ")[2]
        assert f": {out / (Path(src).stem + '-k64.png')}: " in line  # the output asked for, not a temporary file


def test_read_only_folder(small_disk, tmp_path):
    out = small_disk / "out"
    out.mkdir()
    done = subprocess.run(["mount", "-o", "remount,ro", str(small_disk)], capture_output=True, text=True, check=False)
    if done.returncode != 0:
        pytest.skip(f"cannot remount read-only here: {done.stderr.strip()}")
    inputs = tmp_path / "in"
    inputs.mkdir()
    for i in range(3):
        _photo(inputs / f"p{i}.png", seed=i)
    done = subprocess.run(
        [sys.executable, "-m", "kmeans_compress", str(inputs), "-k", "8", "--out-dir", str(out), "--no-progress",
         "--jobs", "1"],
        capture_output=True, text=True, env=_env(), cwd=tmp_path, timeout=120, check=False,
    )
    errors, written = _check_accounted(inputs, out, done.stdout, done.stderr)
    assert done.returncode == 1 and not written
    assert errors == [
        f"{PROG}: error: {inputs / f'p{i}.png'}: {out / f'p{i}-k8.png'}: {out}/ is on a read-only file system"
        for i in range(3)
    ]
