"""The command line beyond one file: choosing k, sweeps, never-larger, batches and progress."""

import csv
import dataclasses
import fcntl
import json
import os
import pty
import signal
import struct
import subprocess
import sys
import termios
import textwrap
import threading
import time
from pathlib import Path

import numpy as np
import pytest
from _helpers import noisy_photo as _photo
from PIL import Image

from kmeans_compress import cli
from kmeans_compress.cli import expand_inputs, main


@pytest.fixture
def photo(tmp_path):
    return _photo(tmp_path / "photo.png")


@pytest.fixture
def folder(tmp_path):
    """in/a.png, in/b.jpg, in/broken.png (not an image), in/sub/c.png, and an old output in/a-k8.png."""
    root = tmp_path / "in"
    (root / "sub").mkdir(parents=True)
    _photo(root / "a.png", 1)
    arr = np.asarray(Image.open(_photo(tmp_path / "tmp.png", 2)))
    Image.fromarray(arr).save(root / "b.jpg", quality=95)
    (root / "broken.png").write_bytes(b"\x89PNG\r\n\x1a\n this is not really a PNG")
    _photo(root / "sub" / "c.png", 3)
    _photo(root / "a-k8.png", 4)
    return root


# --- never larger -------------------------------------------------------------------------------


def test_never_larger_keeps_the_original(tmp_path, capsys, gradient):
    # a smooth ramp deflates to 228 bytes as RGB; its 16-colour PNG is larger
    flat = tmp_path / "flat.png"
    Image.fromarray(np.repeat(np.repeat(gradient, 2, 0), 2, 1)).save(flat)
    out = tmp_path / "out.png"
    assert main([str(flat), "-k", "16", "-o", str(out)]) == 0
    line = capsys.readouterr().out
    assert "kept original" in line and not out.exists()
    assert main([str(flat), "-k", "16", "-o", str(out), "--json"]) == 0
    record = json.loads(capsys.readouterr().out)
    assert record["kept_original"] is True and record["output"] is None and record["bytes_out"] > record["bytes_in"]
    assert main([str(flat), "-k", "16", "-o", str(out), "--allow-larger"]) == 0
    assert out.exists() and out.stat().st_size > flat.stat().st_size


def test_smaller_output_is_written(photo, tmp_path, capsys):
    out = tmp_path / "out.png"
    assert main([str(photo), "-k", "8", "-o", str(out), "--json"]) == 0
    record = json.loads(capsys.readouterr().out)
    assert record["kept_original"] is False and out.stat().st_size == record["bytes_out"] < record["bytes_in"]


# --- choosing k ---------------------------------------------------------------------------------


def test_auto_with_min_psnr(photo, tmp_path, capsys):
    assert main([str(photo), "--min-psnr", "28", "--out-dir", str(tmp_path / "o"), "--json"]) == 0
    record = json.loads(capsys.readouterr().out)
    assert record["psnr"] >= 28 and record["auto"]["n_fits"] <= 9
    assert record["output"].endswith(f"photo-k{record['k']}.png")
    assert record["k"] - 1 in record["auto"]["tried"]  # the neighbour below was measured to fail


def test_auto_knee_line(photo, tmp_path, capsys):
    assert main([str(photo), "-k", "auto", "--out-dir", str(tmp_path / "o")]) == 0
    line = capsys.readouterr().out
    assert "k=auto: knee of PSNR" in line and "8 fits" in line


def test_unreachable_minimum_is_status_99_and_one_line(photo, tmp_path, capsys):
    # --min-psnr X is --psnr X-X: below its minimum, pngquant's status 99 (it was 1, a failure)
    assert main([str(photo), "--min-psnr", "99", "--out-dir", str(tmp_path / "unused")]) == 99
    captured = capsys.readouterr()
    assert captured.out.count("\n") == 1
    assert "below the minimum quality" in captured.out and "nothing written" in captured.out
    assert "Traceback" not in captured.err and "error" not in captured.err
    assert not (tmp_path / "unused").exists()  # nothing written, so no folder made


# --- sweeps ----------------------------------------------------------------------------------------


def test_sweep_table_csv_json(photo, tmp_path, capsys):
    csv_path, json_path = tmp_path / "s.csv", tmp_path / "s.json"
    argv = [str(photo), "--sweep", "2,4,8", "--min-psnr", "20", "--csv", str(csv_path), "--json-out", str(json_path)]
    assert main(argv) == 0
    out = capsys.readouterr().out.splitlines()
    header = next(i for i, line in enumerate(out) if line.split()[:2] == ["k", "used"])
    assert [line.split()[0] for line in out[header + 1 : header + 4]] == ["2", "4", "8"]
    assert any(line.startswith("knee") for line in out)
    assert any(line.startswith("smallest swept k with PSNR >= 20 dB") for line in out)
    records = list(csv.DictReader(csv_path.open()))
    assert [r["k"] for r in records] == ["2", "4", "8"] and records[0]["input"] == str(photo)
    assert [r["k"] for r in json.loads(json_path.read_text())] == [2, 4, 8]
    assert not list(tmp_path.glob("photo-k*.png"))  # a sweep writes no images


def test_sweep_compare_and_plot(photo, tmp_path, capsys):
    pytest.importorskip("matplotlib")
    plot = tmp_path / "curves.png"
    assert main([str(photo), "--sweep", "4,16", "--compare", "--plot", str(plot), "--json"]) == 0
    record = json.loads(capsys.readouterr().out)
    assert [r["k"] for r in record["rows"]] == [4, 16]
    assert all(r["mediancut_bytes"] is not None for r in record["rows"])
    with Image.open(plot) as im:
        assert im.format == "PNG" and im.width > 300


def test_core_and_cli_do_not_import_matplotlib():
    code = (
        "import sys, kmeans_compress, kmeans_compress.cli, kmeans_compress._sweep; print('matplotlib' in sys.modules)"
    )
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert out.stdout.strip() == "False"


# --- batches -------------------------------------------------------------------------------------


def test_expand_inputs(folder, tmp_path):
    items, errors = expand_inputs([str(folder)])
    assert [p for p, _ in items] == [str(folder / n) for n in ("a.png", "b.jpg", "broken.png")]  # not a-k8.png
    items, _ = expand_inputs([str(folder)], recursive=True)
    assert str(folder / "sub" / "c.png") in [p for p, _ in items]
    items, errors = expand_inputs([str(folder / "*.png"), str(folder / "a.png"), str(tmp_path / "none*.png")])
    assert [p for p, _ in items] == [str(folder / n) for n in ("a-k8.png", "a.png", "broken.png")]  # globs as asked
    assert len(errors) == 1 and "no files match" in errors[0]


@pytest.mark.parametrize("jobs", ["1", "2"], ids=["serial", "two-processes"])
def test_batch_with_one_corrupt_file(folder, tmp_path, capsys, jobs):
    out = tmp_path / "out"
    status = main([str(folder), "-r", "-k", "8", "--out-dir", str(out), "--jobs", jobs])
    captured = capsys.readouterr()
    assert status == 1
    assert captured.err.count("\n") == 1 and "broken.png" in captured.err and "Traceback" not in captured.err
    lines = captured.out.splitlines()
    assert [line.split(":")[0] for line in lines[:3]] == [str(folder / n) for n in ("a.png", "b.jpg", "sub/c.png")]
    assert lines[-1].startswith("4 files: 3 written, 0 kept original") and "1 failed" in lines[-1]
    assert sorted(p.relative_to(out).as_posix() for p in out.rglob("*.png")) == ["a-k8.png", "b-k8.png", "sub/c-k8.png"]


def test_progress_bar_only_on_a_terminal(folder, tmp_path, capsys, monkeypatch):
    argv = [str(folder / "a.png"), str(folder / "b.jpg"), "-k", "4", "--out-dir", str(tmp_path / "o"), "--force"]
    assert main(argv) == 0
    assert capsys.readouterr().err == ""  # capsys is not a terminal: no bar
    monkeypatch.setattr(cli, "_stderr_is_tty", lambda: True)
    assert main(argv) == 0
    assert "2/2" in capsys.readouterr().err
    assert main([*argv, "--no-progress"]) == 0
    assert capsys.readouterr().err == ""


def test_sweep_progress_counts_k(photo, capsys, monkeypatch):
    monkeypatch.setattr(cli, "_stderr_is_tty", lambda: True)
    assert main([str(photo), "--sweep", "2,3,4"]) == 0
    assert "3/3" in capsys.readouterr().err


# --- usage ---------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("argv", "message"),
    [
        (["x.png", "--sweep", "2,4", "-k", "8"], "drop -k"),
        (["x.png", "--sweep", "2,4", "-o", "y.png"], "writes no images"),
        (["x.png", "--csv", "t.csv"], "goes with --sweep"),
        (["x.png", "--min-psnr", "30", "-k", "8"], "choose k themselves"),
        (["x.png", "--sweep", "2,x"], "integer"),
        (["x.png", "--min-ssim", "2"], "between -1 and 1"),
        (["x.png", "--jobs", "0"], "positive integer"),
        (["x.png", "--min-psnr", "nan"], "finite"),
    ],
    ids=["sweep-k", "sweep-o", "csv-alone", "target-and-k", "sweep-text", "ssim-range", "jobs0", "psnr-nan"],
)
def test_usage_errors(argv, message, capsys):
    assert main(argv) == 2
    err = capsys.readouterr().err
    assert message in err and "Traceback" not in err


def test_glob_matching_nothing_fails(tmp_path, capsys):
    assert main([str(tmp_path / "*.png")]) == 1
    assert "no files match" in capsys.readouterr().err


def test_one_file_sweep_across_processes_matches_serial(photo, capsys):
    assert main([str(photo), "--sweep", "2,5,3", "--json", "--jobs", "1"]) == 0
    serial = json.loads(capsys.readouterr().out)
    assert main([str(photo), "--sweep", "2,5,3", "--json", "--jobs", "2"]) == 0
    parallel = json.loads(capsys.readouterr().out)
    for row in serial["rows"] + parallel["rows"]:
        row.pop("seconds")
    assert parallel == serial and [r["k"] for r in serial["rows"]] == [2, 5, 3]


def test_one_file_sweep_across_processes_reports_a_bad_file_once(tmp_path, capsys):
    bad = tmp_path / "bad.png"
    bad.write_bytes(b"not an image")
    assert main([str(bad), "--sweep", "2,4", "--jobs", "2"]) == 1
    err = capsys.readouterr().err
    assert err.count("\n") == 1 and "bad.png" in err


def test_two_inputs_with_the_same_output_name(tmp_path, capsys):
    _photo(tmp_path / "a.png", 1)
    Image.open(_photo(tmp_path / "x.png", 2)).save(tmp_path / "a.bmp")
    out = tmp_path / "out"
    status = main([str(tmp_path / "a.png"), str(tmp_path / "a.bmp"), "-k", "4", "--out-dir", str(out), "--force"])
    captured = capsys.readouterr()
    assert status == 1
    assert captured.err.count("\n") == 1 and "a.bmp" in captured.err and "also the output of" in captured.err
    assert captured.out.splitlines()[0].startswith(str(tmp_path / "a.png"))
    assert [p.name for p in out.iterdir()] == ["a-k4.png"]
    assert Image.open(out / "a-k4.png").size == (56, 40)


def test_no_mirrored_folder_for_a_bad_file(tmp_path, capsys):
    (tmp_path / "in" / "sub").mkdir(parents=True)
    (tmp_path / "in" / "sub" / "bad.png").write_bytes(b"")
    _photo(tmp_path / "in" / "good.png")
    assert main([str(tmp_path / "in"), "-r", "-k", "4", "--out-dir", str(tmp_path / "out")]) == 1
    assert [p.name for p in (tmp_path / "out").iterdir()] == ["good-k4.png"]  # no empty out/sub


# --- Ctrl-C -------------------------------------------------------------------------------------

ROOT = Path(__file__).resolve().parents[1]

_SLOW_TASKS = textwrap.dedent(
    """
    import functools, sys, time
    from kmeans_compress._batch import run_ordered

    def task(i, log):
        with open(log, "a") as fh:
            fh.write(f"{i} {time.time()}\\n")
        time.sleep(0.4)
        return i

    if __name__ == "__main__":
        log, jobs = sys.argv[1], int(sys.argv[2])
        tasks = [(str(i), functools.partial(task, i, log)) for i in range(40)]
        try:
            run_ordered(tasks, jobs=jobs, on_result=lambda o: print(o.index, flush=True),
                        on_interrupt=lambda: print(f"ack {time.time()}", file=sys.stderr, flush=True))
        except KeyboardInterrupt:
            sys.exit(130)
    """
)


@pytest.mark.parametrize("jobs", [1, 2], ids=["thread", "processes"])
def test_no_task_starts_after_ctrl_c(tmp_path, jobs):
    """The runner answers Ctrl-C at once, starts no task after it, and reports the ones that were running."""
    script, log = tmp_path / "slow.py", tmp_path / "started.log"
    script.write_text(_SLOW_TASKS)
    env = dict(os.environ, PYTHONPATH=str(ROOT))
    proc = subprocess.Popen([sys.executable, str(script), str(log), str(jobs)], stdout=subprocess.PIPE,
                            stderr=subprocess.PIPE, text=True, env=env)
    assert proc.stdout.readline().strip() == "0"  # under way
    sent = time.time()
    proc.send_signal(signal.SIGINT)
    out, err = proc.communicate(timeout=60)
    assert proc.returncode == 130 and "Traceback" not in err, err
    ack = float(err.split()[1])
    assert ack - sent < 0.5
    started = {int(i): float(t) for i, t in (line.split() for line in log.read_text().splitlines())}
    assert max(started.values()) < ack  # nothing started after Ctrl-C was answered
    assert len(started) < 40
    reported = {0, *map(int, out.split())}
    assert reported == set(started)  # each task that started was finished and reported


def test_ctrl_c_inside_the_wait_leaves_no_future_locked(monkeypatch):
    """Ctrl-C that comes while ``concurrent.futures.wait`` holds a future's lock is raised after the
    wait, not there: raised there, the lock stayed held and the worker finishing that future
    blocked for good (a hang seen once in CI). The queued task never starts; the running one
    finishes and is collected."""
    import concurrent.futures

    from kmeans_compress import _local

    real_wait, held = concurrent.futures.wait, []

    def wait_with_ctrl_c_inside(fs, timeout=None, return_when=concurrent.futures.ALL_COMPLETED):
        if not held:  # the first time: Ctrl-C while a future's lock is held, as inside the real wait
            future = next(iter(fs))
            future._condition.acquire()
            held.append(future)
            os.kill(os.getpid(), signal.SIGINT)
            time.sleep(0.05)  # the handler runs here
            future._condition.release()
            held.remove(future)
        return real_wait(fs, timeout, return_when)

    monkeypatch.setattr(_local.concurrent.futures, "wait", wait_with_ctrl_c_inside)
    started = []

    def task(i):
        started.append(i)
        time.sleep(0.3)
        return i

    with _local.LocalExecutor(1) as local:
        try:
            futures = [local.submit(task, i) for i in range(2)]
            time.sleep(0.05)  # the first is running, the second queued
            with pytest.raises(KeyboardInterrupt):
                local.wait(futures)
            running = local.stop(futures)
            assert running == futures[:1]
            done, _ = real_wait(running, timeout=5)
            assert [local.result(f) for f in done] == [0]
        finally:
            for future in held:  # on failure, let the worker go so that the test ends
                future._condition.release()
    assert started == [0]


def test_ctrl_c_in_a_folder_run_on_a_terminal(tmp_path):
    """Ctrl-C in a real terminal: a line at once, the progress bar gone, the summary, exit 130."""
    folder = tmp_path / "in"
    folder.mkdir()
    for i in range(12):
        _photo(folder / f"p{i:02d}.png", seed=i, size=(384, 512))
    out = tmp_path / "out"
    master, slave = pty.openpty()  # stderr on a terminal: the progress bar is drawn
    fcntl.ioctl(slave, termios.TIOCSWINSZ, struct.pack("HHHH", 24, 100, 0, 0))  # 100 columns
    env = dict(os.environ, PYTHONPATH=str(ROOT))
    command = [sys.executable, "-m", "kmeans_compress", str(folder), "-k", "32", "--jobs", "2", "--out-dir", str(out)]
    proc = subprocess.Popen(command, stdout=subprocess.PIPE, stderr=slave, text=True, env=env, cwd=tmp_path)
    os.close(slave)
    chunks = []  # (time received, bytes) from the terminal

    def read_terminal():
        while True:
            try:
                data = os.read(master, 4096)
            except OSError:  # the child closed the terminal
                return
            if not data:
                return
            chunks.append((time.time(), data))

    reader = threading.Thread(target=read_terminal, daemon=True)
    reader.start()
    first = proc.stdout.readline()
    sent = time.time()
    proc.send_signal(signal.SIGINT)
    rest = proc.stdout.read()
    proc.wait(timeout=60)
    reader.join(timeout=5)
    os.close(master)
    terminal = b"".join(data for _, data in chunks).decode(errors="replace")
    assert proc.returncode == 130 and "Traceback" not in terminal, terminal
    ack_text = "kmeans-compress: interrupted: finishing the files in progress, starting no more"
    assert ack_text in terminal
    seen = ""
    for received, data in chunks:  # when the acknowledgement arrived
        seen += data.decode(errors="replace")
        if ack_text in seen:
            assert received - sent < 0.5
            break
    before, after = terminal.split(ack_text, 1)
    assert "%|" in before  # the bar was drawn...
    assert before.endswith("\r\x1b[K")  # ...and cleared, ^C included, before the line
    assert "%|" not in after  # and never drawn again
    assert after.rstrip().splitlines()[-1] == "kmeans-compress: interrupted"
    lines = (first + rest).splitlines()
    written = sorted(p.name for p in out.iterdir())
    assert [Path(line.split("-> ")[-1].split()[0]).name for line in lines[:-1]] == written
    assert len(written) < 12
    assert lines[-1].startswith(
        f"12 files: {len(written)} written, 0 kept original (output would be larger), 0 failed, "
        f"{12 - len(written)} not done (interrupted)"
    )


# --- output paths resolved once per batch -------------------------------------------------------


def test_output_paths_are_resolved_once_per_batch(tmp_path, monkeypatch):
    """Protecting every input of a batch of N files costs O(N) path resolutions, not O(N²), and a
    job carries only the inputs its output could name (none here), not all N."""
    from kmeans_compress import _compress, _write

    real = _compress.compress_bytes(_photo(tmp_path / "one.png").read_bytes(), 4)
    smaller = dataclasses.replace(real, measurement=dataclasses.replace(real.measurement, bytes_in=10**6))
    larger = dataclasses.replace(real, measurement=dataclasses.replace(real.measurement, bytes_in=1))
    n = 10_000
    folder = tmp_path / "in"
    folder.mkdir()
    for i in range(n):
        (folder / f"f{i:05d}.png").write_bytes(b"x")
    monkeypatch.setattr(_write.os, "fsync", lambda fd: None)  # a thousand fsyncs say nothing here
    calls = {"realpath": 0, "stat": 0}
    real_realpath, real_stat = os.path.realpath, os.stat

    def realpath(path, *args, **kwargs):
        calls["realpath"] += 1
        return real_realpath(path, *args, **kwargs)

    def stat(path, *args, **kwargs):
        calls["stat"] += 1
        return real_stat(path, *args, **kwargs)

    monkeypatch.setattr(os.path, "realpath", realpath)
    monkeypatch.setattr(os, "stat", stat)
    args = cli.build_parser().parse_args([str(folder), "-k", "4", "--out-dir", str(tmp_path / "out")])
    items, _ = expand_inputs(args.inputs)
    tasks = cli._compress_tasks(args, items, [src for src, _ in items])  # the batch, as the command builds it
    for i, (_, job) in enumerate(tasks):  # each job as the runner runs it, without decoding anything
        assert job.inputs == ()
        _payload, state = job.prepare()
        job.finish(smaller if i % 10 == 0 else larger, state)  # one in ten written, the others kept
    monkeypatch.undo()
    assert len(os.listdir(tmp_path / "out")) == n // 10
    assert calls["realpath"] <= 6 * n, calls  # each input once for the batch, each output a few times
    assert calls["stat"] <= 20 * n, calls


def test_a_batch_still_refuses_an_output_that_is_another_input(tmp_path, capsys):
    """Narrowed per job, the protection still sees an output name that links to another input."""
    folder = tmp_path / "in"
    folder.mkdir()
    a, b = _photo(folder / "a.png", 1), _photo(folder / "b.png", 2)
    before = b.read_bytes()
    for k in range(1, 257):  # a's output names, whatever k is chosen, are links to b
        os.symlink(b, folder / f"a-k{k}.png")
    for k in ("4", "auto"):
        main([str(a), str(b), "-k", k, "--force", "--no-progress"])
        assert "a.png: " in capsys.readouterr().err
        assert b.read_bytes() == before and all(os.path.islink(folder / f"a-k{k}.png") for k in range(1, 257))
