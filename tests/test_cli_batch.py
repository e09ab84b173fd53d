"""The command line beyond one file: choosing k, sweeps, never-larger, batches and progress."""

import csv
import json
import subprocess
import sys

import numpy as np
import pytest
from PIL import Image

from kmeans_compress import cli
from kmeans_compress.cli import expand_inputs, main


def _photo(path, seed=0, size=(40, 56)):
    """A noisy ramp saved as RGB PNG: its indexed PNG is smaller than the file."""
    y, x = np.mgrid[0 : size[0], 0 : size[1]]
    base = np.stack([x * 4, y * 6, (x + y) * 2], axis=-1).astype(np.int16)
    noise = np.random.default_rng(seed).integers(-12, 13, base.shape)
    Image.fromarray(np.clip(base + noise, 0, 255).astype(np.uint8)).save(path)
    return path


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


def test_unreachable_target_is_a_one_line_failure(photo, tmp_path, capsys):
    assert main([str(photo), "--min-psnr", "99", "--out-dir", str(tmp_path / "unused")]) == 1
    err = capsys.readouterr().err
    assert err.count("\n") == 1 and "cannot reach PSNR >= 99 dB" in err and "Traceback" not in err
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
    code = "import sys, kmeans_compress, kmeans_compress.cli, kmeans_compress._sweep; print('matplotlib' in sys.modules)"
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
