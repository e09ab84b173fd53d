"""Where pngquant is used: pipes, the quality range's statuses, output names and timestamps.

The pipes run the installed command in a subprocess (stdin and stdout are real pipes there);
the rest calls ``main`` in-process.
"""

import json
import os
import shutil
import subprocess
import sys

import numpy as np
import pytest
from _helpers import noisy_photo as _photo
from PIL import Image

from kmeans_compress._exits import EXIT_STATUSES, most_severe
from kmeans_compress.cli import build_parser, main

COMMAND = [sys.executable, "-m", "kmeans_compress"]


def _flat(path):
    """A smooth ramp that deflates to a few hundred bytes as RGB: any 16-colour PNG of it is larger."""
    ramp = np.repeat(np.linspace(0, 255, 64).astype(np.uint8)[None, :, None], 32, axis=0)
    Image.fromarray(np.repeat(ramp, 3, axis=2)).save(path)
    return path


@pytest.fixture
def photo(tmp_path):
    return _photo(tmp_path / "photo.png")


def _run(args, stdin=b"", **kwargs):
    return subprocess.run([*COMMAND, *args], input=stdin, capture_output=True, check=False, **kwargs)


# --- pipes ------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    "args",
    [["-k", "8"], ["-k", "auto"], ["--psnr", "30"], ["-k", "8", "--format", "webp"]],
    ids=["k", "auto", "target", "webp"],
)
def test_pipe_gives_the_file_routes_bytes(photo, tmp_path, args):
    suffix = ".webp" if "webp" in args else ".png"
    out = tmp_path / f"file{suffix}"
    assert main([str(photo), *args, "-o", str(out)]) == 0
    piped = _run(["-", *args, "-o", "-"], stdin=photo.read_bytes())
    assert piped.returncode == 0, piped.stderr
    assert piped.stdout == out.read_bytes()
    assert b"<stdin>: k=" in piped.stderr and b"-> <stdout>" in piped.stderr  # the report goes to stderr


def test_stdin_without_o_writes_stdout_and_json_to_stderr(photo):
    piped = _run(["-", "-k", "4", "--json"], stdin=photo.read_bytes())
    assert piped.returncode == 0 and piped.stdout.startswith(b"\x89PNG")
    record = json.loads(piped.stderr)
    assert record["input"] == "<stdin>" and record["output"] == "<stdout>" and record["bytes_out"] == len(piped.stdout)


def test_file_to_stdout_and_stdin_to_file(photo, tmp_path):
    to_stdout = _run([str(photo), "-k", "4", "-o", "-"])
    assert to_stdout.returncode == 0 and to_stdout.stdout.startswith(b"\x89PNG")
    out = tmp_path / "from-stdin.png"
    to_file = _run(["-", "-k", "4", "-o", str(out)], stdin=photo.read_bytes())
    assert to_file.returncode == 0 and out.read_bytes() == to_stdout.stdout
    assert b"-> " + os.fsencode(out) in to_file.stdout  # the report on stdout: the image is in a file


def test_larger_output_sends_the_input_bytes_unchanged(tmp_path):
    flat = _flat(tmp_path / "flat.png")
    piped = _run(["-", "-k", "16"], stdin=flat.read_bytes())
    assert piped.returncode == 0 and piped.stdout == flat.read_bytes()
    assert b"would be larger than the input" in piped.stderr and b"unchanged" in piped.stderr


@pytest.mark.parametrize(
    "stdin, message",
    [
        (b"", b"<stdin>: empty input, no image"),
        (b"this is not an image at all", b"<stdin>: not an image file Pillow can read"),
        (None, b"<stdin>: cannot decode image"),
    ],
    ids=["empty", "not-an-image", "truncated"],
)
def test_bad_stdin_is_one_line_and_status_1(photo, stdin, message):
    data = photo.read_bytes()[:300] if stdin is None else stdin
    piped = _run(["-", "-o", "-"], stdin=data)
    assert piped.returncode == 1 and piped.stdout == b""
    assert piped.stderr.count(b"\n") == 1 and message in piped.stderr and b"Traceback" not in piped.stderr


def test_reader_closing_early_ends_quietly(tmp_path):
    # a noisy 256-colour image: its PNG is larger than a pipe's buffer
    noise = np.random.default_rng(1).integers(0, 256, (400, 400, 3), dtype=np.uint8)
    big = tmp_path / "noise.png"
    Image.fromarray(noise).save(big)
    shell = f"{' '.join(COMMAND)} - -k 256 --allow-larger --metrics none < {big} | head -c 100 | wc -c"
    done = subprocess.run(["bash", "-c", shell], capture_output=True, check=False)
    assert done.stdout.strip() == b"100"
    assert b"Traceback" not in done.stderr and b"Exception ignored" not in done.stderr, done.stderr
    # a reader already gone when the image is written (whether head has gone by then depends on the
    # system's pipes): no message at all, and status 1, the image not delivered
    read_end, write_end = os.pipe()
    os.close(read_end)
    with big.open("rb") as stdin:
        gone = subprocess.run([*COMMAND, "-", "-k", "4", "--metrics", "none"], stdin=stdin, stdout=write_end,
                              stderr=subprocess.PIPE, check=False)
    os.close(write_end)
    assert gone.returncode == 1 and gone.stderr == b""


@pytest.mark.skipif(shutil.which("script") is None, reason="needs util-linux script for a terminal")
def test_image_bytes_are_never_written_to_a_terminal(photo):
    # script runs the command with stdout on a pseudo-terminal; -e returns the command's status
    command = f"{' '.join(COMMAND)} - -k 4 < {photo}"
    done = subprocess.run(["script", "-qec", command, "/dev/null"], capture_output=True, check=False)
    assert done.returncode == 2
    lines = done.stdout.replace(b"\r", b"").strip().split(b"\n")
    assert len(lines) == 1 and b"refusing to write image bytes to a terminal" in lines[0]
    assert b"\x89PNG" not in done.stdout


@pytest.mark.parametrize(
    "argv, message",
    [
        (["-", "a.png"], "'-' (stdin) must be the only INPUT"),
        (["-", "--out-dir", "x"], "stdin has no file name for --out-dir"),
        (["-", "--sweep", "2,4"], "--sweep measures files"),
        (["a.png", "--suffix", ""], "--suffix '' keeps the input's name"),
        (["a.png", "--allow-larger", "--skip-if-larger"], "give one of them"),
        (["a.png", "--psnr", "30", "--min-psnr", "30"], "--min-psnr X is --psnr X-X"),
        (["a.png", "--psnr", "40-30"], "expected MIN <= MAX"),
        (["a.png", "--ssim", "0.9-1.5"], "expected MIN <= MAX <= 1"),
        (["a.png", "--psnr", "thirty"], "expected MAX or MIN-MAX"),
    ],
    ids=["stdin-and-file", "stdin-out-dir", "stdin-sweep", "empty-suffix", "larger-both", "psnr-twice",
         "range-upside-down", "ssim-range", "range-text"],
)
def test_usage_errors_are_status_2(argv, message, capsys):
    assert main(argv) == 2
    err = capsys.readouterr().err
    assert err.count("\n") == 1 and message in err


# --- quality range and statuses -----------------------------------------------------------------


def test_exit_99_writes_nothing(photo, tmp_path, capsys):
    out = tmp_path / "o"
    assert main([str(photo), "--psnr", "90-99", "--out-dir", str(out), "--json"]) == 99
    record = json.loads(capsys.readouterr().out)
    assert record["below_floor"] is True and record["reached"] is False and record["output"] is None
    assert not out.exists()
    piped = _run(["-", "--psnr", "90-99"], stdin=photo.read_bytes())
    assert piped.returncode == 99 and piped.stdout == b""


def test_missed_target_above_the_minimum_is_written_with_a_warning(photo, tmp_path, capsys):
    assert main([str(photo), "--psnr", "99", "--out-dir", str(tmp_path), "--json"]) == 0
    captured = capsys.readouterr()
    record = json.loads(captured.out)
    assert record["reached"] is False and record["below_floor"] is False and record["k"] == 256
    assert (tmp_path / "photo-k256.png").exists()
    assert "warning: cannot reach PSNR >= 99 dB with at most 256 colours" in captured.err


def test_reached_target_says_so(photo, tmp_path, capsys):
    assert main([str(photo), "--psnr", "20-25", "--out-dir", str(tmp_path), "--json"]) == 0
    record = json.loads(capsys.readouterr().out)
    assert record["reached"] is True and record["psnr"] >= 25


def test_exit_98_writes_nothing(tmp_path, capsys):
    flat = _flat(tmp_path / "flat.png")
    assert main([str(flat), "-k", "16", "--skip-if-larger", "--out-dir", str(tmp_path / "o")]) == 98
    assert "kept original" in capsys.readouterr().out and not (tmp_path / "o").exists()
    piped = _run(["-", "-k", "16", "--skip-if-larger"], stdin=flat.read_bytes())
    assert piped.returncode == 98 and piped.stdout == b""
    assert main([str(flat), "-k", "16", "--out-dir", str(tmp_path / "o")]) == 0  # the default: kept, status 0


def test_batch_status_is_the_most_severe(photo, tmp_path, capsys):
    flat = _flat(tmp_path / "flat.png")
    broken = tmp_path / "broken.png"
    broken.write_bytes(b"not a png")
    larger = [str(photo), str(flat), "-k", "16", "--skip-if-larger", "--out-dir", str(tmp_path / "a")]
    assert main(larger) == 98
    assert main([str(broken), *larger]) == 1
    quality = [str(photo), str(flat), "--psnr", "90-99", "--skip-if-larger", "--out-dir", str(tmp_path / "b")]
    assert main(quality) == 99
    assert main([str(broken), *quality]) == 1
    assert "below the minimum quality" in capsys.readouterr().out


def test_severity_order_and_one_table_in_help(capsys):
    assert most_severe([0, 98, 99]) == 99 and most_severe([98, 1, 99]) == 1 and most_severe([0, 2, 1]) == 2
    assert most_severe([0, 98]) == 98 and most_severe([]) == 0
    text = build_parser().format_help()
    for status, meaning in EXIT_STATUSES.items():
        assert f"{status:>2}  {meaning[:30]}" in " ".join(text.split("\n")) or f"{status:>2}  {meaning[:30]}" in text


# --- output names and timestamps -----------------------------------------------------------------


def test_empty_suffix_with_out_dir_keeps_the_names(tmp_path, capsys):
    src = tmp_path / "in"
    src.mkdir()
    _photo(src / "a.png", 1)
    _photo(src / "b.png", 2)
    assert main([str(src), "-k", "8", "--suffix", "", "--out-dir", str(tmp_path / "out")]) == 0
    assert sorted(p.name for p in (tmp_path / "out").iterdir()) == ["a.png", "b.png"]
    # never over an input: the same folder is refused file by file
    assert main([str(src / "a.png"), "-k", "8", "--suffix", "", "--out-dir", str(src), "--force"]) == 1
    assert "input" in capsys.readouterr().err


def test_suffix_with_k(photo, tmp_path, capsys):
    assert main([str(photo), "-k", "8", "--suffix", ".q{k}", "--out-dir", str(tmp_path / "o")]) == 0
    assert (tmp_path / "o" / "photo.q8.png").exists()
    assert main([str(photo), "--psnr", "25", "--suffix=-fs{k}", "--out-dir", str(tmp_path / "auto"), "--json"]) == 0
    record = json.loads(capsys.readouterr().out.splitlines()[-1])
    assert record["output"].endswith(f"photo-fs{record['k']}.png")


def test_keep_mtime(photo, tmp_path):
    os.utime(photo, ns=(1_500_000_000_000_000_000, 1_400_000_000_000_000_000))
    assert main([str(photo), "-k", "8", "-o", str(tmp_path / "kept.png"), "--keep-mtime"]) == 0
    assert main([str(photo), "-k", "8", "-o", str(tmp_path / "new.png")]) == 0
    assert (tmp_path / "kept.png").stat().st_mtime_ns == 1_400_000_000_000_000_000
    assert (tmp_path / "new.png").stat().st_mtime_ns != 1_400_000_000_000_000_000


# --- metrics on demand ---------------------------------------------------------------------------


@pytest.mark.parametrize(
    "metrics, present, absent",
    [
        ("all", ["psnr", "ssim", "delta_e"], []),
        ("psnr", ["psnr"], ["ssim", "delta_e"]),
        ("none", [], ["psnr", "ssim", "delta_e"]),
    ],
    ids=["all", "psnr", "none"],
)
def test_metrics_on_demand(photo, tmp_path, capsys, metrics, present, absent):
    out = tmp_path / f"{metrics}.png"
    assert main([str(photo), "-k", "8", "-o", str(out), "--json", "--metrics", metrics]) == 0
    record = json.loads(capsys.readouterr().out)
    assert all(isinstance(record[name], float) for name in present)
    assert all(record[name] is None for name in absent)
    assert main([str(photo), "-k", "8", "-o", str(tmp_path / "ref.png")]) == 0
    assert out.read_bytes() == (tmp_path / "ref.png").read_bytes()  # the file does not depend on it


def test_metrics_psnr_imports_no_delta_e(photo, tmp_path):
    code = (
        "import sys\nfrom kmeans_compress.cli import main\n"
        f"assert main([{str(photo)!r}, '-k', '8', '-o', {str(tmp_path / 'x.png')!r}, '--metrics', 'psnr']) == 0\n"
        "print(sorted(m for m in ('skimage.color', 'skimage.metrics') if m in sys.modules))"
    )
    done = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert done.stdout.strip().splitlines()[-1] == "[]"


def test_the_docs_table_is_the_commands():
    from pathlib import Path

    page = Path(__file__).resolve().parents[1] / "docs" / "user_guide" / "pipes_and_pillow.md"
    rows = {}
    for line in page.read_text(encoding="utf-8").splitlines():
        cells = [cell.strip() for cell in line.split("|")[1:-1]]
        if line.startswith("| ") and cells[0].isdigit():
            rows[cells[0]] = cells[1].replace("`", "")
    assert rows == {str(status): meaning for status, meaning in EXIT_STATUSES.items()}
