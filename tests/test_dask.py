"""Batches on a Dask cluster (``--scheduler``, ``client=``): a real LocalCluster of two worker processes.

The cluster is started once for the module (about 2 s; each worker imports the package on its
first task). Without ``distributed`` these tests skip, except the ones about its absence; with
``KMEANS_COMPRESS_REQUIRE_DASK=1`` (set by ``.ci/run``) a missing ``distributed`` fails instead.
"""

import json
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

import kmeans_compress
from kmeans_compress.cli import main

ROOT = Path(__file__).resolve().parents[1]


def _distributed():
    if os.environ.get("KMEANS_COMPRESS_REQUIRE_DASK"):
        import distributed

        return distributed
    return pytest.importorskip("distributed")


@pytest.fixture(scope="module")
def cluster():
    """Two worker processes, one thread each, on the loopback address, no dashboard."""
    distributed = _distributed()
    with distributed.LocalCluster(
        n_workers=2, threads_per_worker=1, processes=True, host="127.0.0.1", dashboard_address=None
    ) as cluster:
        yield cluster


@pytest.fixture(scope="module")
def client(cluster):
    distributed = _distributed()
    with distributed.Client(cluster, set_as_default=False) as client:
        client.wait_for_workers(2, timeout=60)
        # the workers must run this checkout's package, or "same bytes" would prove nothing
        files = client.run(lambda: __import__("kmeans_compress").__file__)
        assert set(files.values()) == {kmeans_compress.__file__}
        client.run(lambda: __import__("kmeans_compress._compress"))  # what each worker's first task would import
        yield client


@pytest.fixture
def two_workers(client):
    """The module's client, after any restart of a killed worker."""
    client.wait_for_workers(2, timeout=60)
    return client


@pytest.fixture
def photos(tmp_path):
    folder = tmp_path / "in"
    folder.mkdir()
    for i in range(6):
        _photo(folder / f"p{i}.png", seed=i, size=(40 + 8 * i, 56))
    return folder


def _outputs(folder):
    return {p.relative_to(folder).as_posix(): p.read_bytes() for p in sorted(Path(folder).rglob("*")) if p.is_file()}


def _records(text):
    records = [json.loads(line) for line in text.splitlines()]
    for r in records:
        r.pop("seconds")
        r["output"] = r["output"] and Path(r["output"]).name
    return records


# --- the same bytes, lines and statuses as a local run ----------------------------------------


@pytest.mark.parametrize(
    ("k", "n", "extra"), [("16", 6, []), ("auto", 3, []), ("8", 3, ["--format", "webp", "--color-space", "lab"])],
    ids=["k16", "auto", "webp-lab"],
)
def test_cluster_outputs_equal_local_bytes(photos, tmp_path, capsys, two_workers, k, n, extra):
    address = two_workers.scheduler.address
    inputs = [str(p) for p in sorted(photos.glob("*.png"))[:n]]
    assert main([*inputs, "-k", k, *extra, "--out-dir", str(tmp_path / "local"), "--jobs", "1", "--json"]) == 0
    local = capsys.readouterr()
    assert main([*inputs, "-k", k, *extra, "--out-dir", str(tmp_path / "dask"), "--scheduler", address, "--json"]) == 0
    remote = capsys.readouterr()
    assert _outputs(tmp_path / "dask") == _outputs(tmp_path / "local")
    assert len(_outputs(tmp_path / "local")) == n
    assert _records(remote.out) == _records(local.out)  # same JSON lines, in input order
    assert remote.err.splitlines()[-1] == local.err.splitlines()[-1]  # the summary (on stderr with --json)


@pytest.mark.parametrize("k", ["8", "auto"])
def test_shared_palette_on_the_cluster_equals_local(photos, tmp_path, capsys, two_workers, k):
    """Histograms mapped on the workers, summed and fitted here, files remapped there: the local bytes."""
    address = two_workers.scheduler.address
    common = [str(photos), "--shared-palette", "-k", k, "--json"]
    assert main([*common, "--out-dir", str(tmp_path / "local"), "--jobs", "1"]) == 0
    local = capsys.readouterr()
    assert main([*common, "--out-dir", str(tmp_path / "dask"), "--scheduler", address]) == 0
    remote = capsys.readouterr()
    assert _outputs(tmp_path / "dask") == _outputs(tmp_path / "local")
    assert len(_outputs(tmp_path / "local")) == 6
    assert _records(remote.out) == _records(local.out)
    assert remote.err.splitlines()[-1] == local.err.splitlines()[-1]  # the set's pooled PSNR


def test_bad_file_on_the_cluster(photos, tmp_path, capsys, two_workers):
    (photos / "broken.png").write_bytes(b"\x89PNG\r\n\x1a\n this is not really a PNG")
    address = two_workers.scheduler.address
    assert main([str(photos), "-k", "8", "--out-dir", str(tmp_path / "local"), "--jobs", "1"]) == 1
    local = capsys.readouterr()
    assert main([str(photos), "-k", "8", "--out-dir", str(tmp_path / "dask"), "--scheduler", address]) == 1
    remote = capsys.readouterr()
    assert remote.err.count("\n") == 1 and "broken.png" in remote.err and "Traceback" not in remote.err
    assert remote.err == local.err
    assert sorted(_outputs(tmp_path / "dask")) == [f"p{i}-k8.png" for i in range(6)]
    assert remote.out.splitlines()[-1] == local.out.splitlines()[-1]
    assert "7 files: 6 written, 0 kept original (output would be larger), 1 failed" in remote.out


def test_rules_of_the_local_path_hold(photos, tmp_path, capsys, two_workers):
    """No overwrite without --force, never larger, never over an input: decided here, as locally."""
    address = two_workers.scheduler.address
    out = tmp_path / "dask"
    assert main([str(photos / "p0.png"), "-k", "8", "--out-dir", str(out), "--scheduler", address]) == 0
    first = (out / "p0-k8.png").read_bytes()
    capsys.readouterr()
    assert main([str(photos / "p0.png"), "-k", "8", "--out-dir", str(out), "--scheduler", address]) == 1
    assert "already exists" in capsys.readouterr().err
    assert main([str(photos / "p0.png"), "-k", "8", "--out-dir", str(out), "--scheduler", address, "--force"]) == 0
    assert (out / "p0-k8.png").read_bytes() == first
    capsys.readouterr()
    # a smooth ramp deflates to less than its 16-colour PNG: kept original, nothing written
    flat = tmp_path / "flat.png"
    y, x = np.mgrid[0:64, 0:96]
    Image.fromarray(np.stack([x * 2, y * 3, x + y], axis=-1).astype(np.uint8)).save(flat)
    assert main([str(flat), "-o", str(tmp_path / "flat16.png"), "--scheduler", address, "--json"]) == 0
    assert json.loads(capsys.readouterr().out)["kept_original"] is True
    assert not (tmp_path / "flat16.png").exists()
    # -o naming the input itself
    assert main([str(photos / "p1.png"), "-o", str(photos / "p1.png"), "--force", "--scheduler", address]) == 1
    assert "input" in capsys.readouterr().err


def test_progress_bar_on_the_cluster(photos, tmp_path, capsys, monkeypatch, two_workers):
    from kmeans_compress import cli

    monkeypatch.setattr(cli, "_stderr_is_tty", lambda: True)
    argv = [str(photos), "-k", "4", "--out-dir", str(tmp_path / "o"), "--scheduler", two_workers.scheduler.address]
    assert main(argv) == 0
    assert "6/6" in capsys.readouterr().err


def test_a_worker_with_another_version_is_named(photos, tmp_path, capsys, monkeypatch, two_workers):
    monkeypatch.setattr(kmeans_compress, "__version__", "0.0.test")  # this side differs from the workers
    argv = [
        str(photos / "p0.png"),
        "-k",
        "4",
        "--out-dir",
        str(tmp_path / "o"),
        "--scheduler",
        two_workers.scheduler.address,
    ]
    assert main(argv) == 0
    err = capsys.readouterr().err.splitlines()
    assert len(err) == 2 and all("this machine 0.0.test" in line for line in err)
    assert {line.split()[4] for line in err} == set(two_workers.scheduler_info()["workers"])


def test_python_api_takes_a_cluster_executor(photos, tmp_path, two_workers):
    from kmeans_compress._batch import run_ordered
    from kmeans_compress._compress import FileJob
    from kmeans_compress._dask import DaskExecutor

    paths = sorted(photos.glob("*.png"))
    tasks = [(str(p), FileJob(p, out_dir=tmp_path / "o", n_colors=8)) for p in paths]
    seen = []
    outcomes = run_ordered(tasks, executor=DaskExecutor(two_workers), on_result=lambda o: seen.append(o.index))
    assert seen == list(range(len(paths)))
    assert [o.error for o in outcomes] == [None] * len(paths)
    for p, o in zip(paths, outcomes, strict=True):
        assert o.value.output == str(tmp_path / "o" / f"{p.stem}-k8.png")
        assert Path(o.value.output).read_bytes() == kmeans_compress.compress_bytes(p.read_bytes(), 8).data


# --- without the extra, without a scheduler ---------------------------------------------------


def test_without_distributed_one_line_and_exit_2(photos, tmp_path, capsys, monkeypatch):
    monkeypatch.setitem(sys.modules, "distributed", None)  # makes `import distributed` fail
    out = tmp_path / "out"
    assert main([str(photos), "--out-dir", str(out), "--scheduler", "tcp://127.0.0.1:8786"]) == 2
    err = capsys.readouterr().err
    assert err.count("\n") == 1 and "pip install 'kmeans-compress[dask]'" in err
    assert not out.exists()


@pytest.fixture
def silent_port():
    """A port that accepts connections and never answers (a stopped scheduler, a firewall)."""
    server = socket.socket()
    server.bind(("127.0.0.1", 0))
    server.listen(8)
    yield server.getsockname()[1]
    server.close()


@pytest.fixture
def closed_port():
    server = socket.socket()
    server.bind(("127.0.0.1", 0))
    port = server.getsockname()[1]
    server.close()
    return port


@pytest.mark.parametrize("kind", ["silent", "closed"])
def test_scheduler_that_does_not_answer(photos, tmp_path, capsys, kind, request):
    _distributed()
    port = request.getfixturevalue(f"{kind}_port")
    out = tmp_path / "out"
    start = time.perf_counter()
    status = main(
        [str(photos), "--out-dir", str(out), "--scheduler", f"tcp://127.0.0.1:{port}", "--scheduler-timeout", "1"]
    )
    seconds = time.perf_counter() - start
    err = capsys.readouterr().err
    assert status == 1 and seconds < 5
    assert err.count("\n") == 1 and f"127.0.0.1:{port}" in err and "waited up to 1 s" in err
    assert not out.exists()


@pytest.mark.parametrize(
    ("extra", "message"),
    [(["--jobs", "2"], "--jobs"), (["--sweep", "2,4"], "--sweep"), (["--scheduler-timeout", "0"], "positive")],
    ids=["jobs", "sweep", "timeout0"],
)
def test_scheduler_usage_errors(photos, capsys, extra, message):
    assert main([str(photos), "--scheduler", "tcp://127.0.0.1:8786", *extra]) == 2
    err = capsys.readouterr().err.splitlines()
    assert err[-1].startswith("kmeans-compress: error:") and message in err[-1]


def test_what_the_cluster_did_not_finish_is_said_in_one_line():
    """A lost scheduler cancels every task not collected yet (by hand: a scheduler killed mid-batch
    ended the command 11 s later, Dask's reconnection timeout); each such file gets a short line
    instead of Dask's paragraph."""
    _distributed()
    from distributed.client import FutureCancelledError

    from kmeans_compress._dask import _cluster_error_text

    lost = FutureCancelledError("kmeans-compress-x-3", "scheduler-connection-lost", "Client lost the connection...")
    assert _cluster_error_text("a.png", lost) == "a.png: not done, the connection to the Dask scheduler was lost"
    assert (
        _cluster_error_text("a.png", FutureCancelledError("k", None)) == "a.png: not done, its Dask task was cancelled"
    )
    assert _cluster_error_text("a.png", OSError("gone")) == "a.png: gone"


# --- a worker killed in the middle; Ctrl-C ----------------------------------------------------


def _executing(dask_worker):
    return [str(ts.key) for ts in dask_worker.state.executing]


def test_worker_killed_mid_batch(tmp_path, capsys, monkeypatch, two_workers):
    """SIGKILL the worker process running one of our tasks: Dask runs it again on the other (or the
    restarted) worker, every output is complete, and each is written exactly once."""
    from kmeans_compress import _compress

    folder = tmp_path / "in"
    folder.mkdir()
    for i in range(10):
        _photo(folder / f"p{i}.png", seed=i, size=(96, 128))
    assert main([str(folder), "-k", "32", "--out-dir", str(tmp_path / "local"), "--jobs", "1"]) == 0
    capsys.readouterr()

    writes = []
    real_write = _compress.write_bytes_atomic

    def counting_write(path, data, **kwargs):
        writes.append(Path(path).name)
        return real_write(path, data, **kwargs)

    monkeypatch.setattr(_compress, "write_bytes_atomic", counting_write)
    pids = two_workers.run(os.getpid)
    killed = {}

    def kill_one_running_task():
        deadline = time.monotonic() + 30
        while time.monotonic() < deadline:
            for worker, keys in two_workers.run(_executing).items():
                ours = [k for k in keys if k.startswith("kmeans-compress-")]
                if ours:
                    os.kill(pids[worker], signal.SIGKILL)
                    killed.update(worker=worker, pid=pids[worker], key=ours[0])
                    return
            time.sleep(0.005)

    killer = threading.Thread(target=kill_one_running_task)
    killer.start()
    status = main(
        [str(folder), "-k", "32", "--out-dir", str(tmp_path / "dask"), "--scheduler", two_workers.scheduler.address]
    )
    killer.join()
    captured = capsys.readouterr()
    assert killed, "no task of ours was seen running"
    assert status == 0, captured.err
    assert captured.err == ""  # nothing said about the lost worker: its file was simply done again
    with pytest.raises(ProcessLookupError):
        os.kill(killed["pid"], 0)  # that worker process is gone
    assert _outputs(tmp_path / "dask") == _outputs(tmp_path / "local")  # complete, and nothing else (no .tmp)
    assert sorted(writes) == sorted(f"p{i}-k32.png" for i in range(10))  # each written once


def test_ctrl_c_cancels_what_has_not_started(tmp_path, two_workers):
    folder = tmp_path / "in"
    folder.mkdir()
    for i in range(16):
        _photo(folder / f"p{i:02d}.png", seed=i, size=(384, 512))  # each file long enough that Ctrl-C lands mid-batch
    out = tmp_path / "out"
    env = dict(os.environ, PYTHONPATH=str(ROOT))
    command = [sys.executable, "-m", "kmeans_compress", str(folder), "-k", "32", "--out-dir", str(out),
               "--scheduler", two_workers.scheduler.address, "--no-progress"]
    proc = subprocess.Popen(command, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True, env=env, cwd=tmp_path)
    first = proc.stdout.readline()  # the first file is written: the batch is under way
    proc.send_signal(signal.SIGINT)
    rest = proc.stdout.read()  # not communicate(): it would skip what readline() buffered
    err = proc.stderr.read()
    proc.wait(timeout=60)
    assert first.startswith(str(folder / "p00.png")), (first, err)
    assert proc.returncode == 130 and err.strip().splitlines()[-1] == "kmeans-compress: interrupted", err
    assert err.splitlines()[0].startswith("kmeans-compress: interrupted: finishing the files in progress"), err
    assert "Traceback" not in err
    written = _outputs(out)
    lines = (first + rest).splitlines()
    reported = [line.split("-> ")[-1].split()[0] for line in lines if line.startswith(str(folder))]
    assert sorted(Path(p).name for p in reported) == sorted(written)  # every file written was reported
    assert len(written) < 16  # the rest were cancelled
    assert lines[-1].startswith(
        f"16 files: {len(written)} written, 0 kept original (output would be larger), 0 failed, "
        f"{16 - len(written)} not done (interrupted)"
    )  # the summary says what was written
    for name in written:  # complete files, no temporary ones
        assert not name.startswith(".")
        Image.open(out / name).load()
    deadline = time.monotonic() + 10
    while time.monotonic() < deadline:  # nothing of that run left on the scheduler
        left = two_workers.run_on_scheduler(
            lambda dask_scheduler: [k for k in dask_scheduler.tasks if str(k).startswith("kmeans-compress-")]
        )
        if not left:
            break
        time.sleep(0.1)
    assert left == []
