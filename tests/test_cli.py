import json

import numpy as np
import pytest
from PIL import Image

from kmeans_compress.cli import main


@pytest.fixture
def photo(tmp_path, gradient):
    """A noisy gradient: like a photo, its indexed PNG is smaller than its RGB PNG (see --allow-larger)."""
    path = tmp_path / "photo.png"
    big = np.repeat(np.repeat(gradient, 2, 0), 2, 1).astype(np.int16)
    noise = np.random.default_rng(0).integers(-12, 13, big.shape)
    Image.fromarray(np.clip(big + noise, 0, 255).astype(np.uint8)).save(path)
    return path


def test_compress_one_file(photo, tmp_path, capsys):
    out = tmp_path / "out.png"
    assert main([str(photo), "-k", "8", "-o", str(out)]) == 0
    line = capsys.readouterr().out.strip()
    assert "k=8 (8 used)" in line and "PSNR" in line and "SSIM" in line and str(out) in line
    im = Image.open(out)
    assert im.mode == "P" and len(im.getpalette()) // 3 == 8


def test_json_output_and_default_path(photo, capsys):
    assert main([str(photo), "-k", "4", "--json"]) == 0
    record = json.loads(capsys.readouterr().out)
    assert record["k"] == 4 and record["n_colors"] == 4
    assert record["output"].endswith("photo-k4.png")
    assert record["bytes_out"] == (photo.parent / "photo-k4.png").stat().st_size
    assert record["ratio"] == pytest.approx(record["bytes_in"] / record["bytes_out"])


def test_same_bytes_twice(photo, tmp_path):
    a, b = tmp_path / "a.png", tmp_path / "b.png"
    assert main([str(photo), "-k", "16", "-o", str(a)]) == 0
    assert main([str(photo), "-k", "16", "-o", str(b)]) == 0
    assert a.read_bytes() == b.read_bytes()


def test_refuses_existing_output_unless_force(photo, tmp_path, capsys):
    out = tmp_path / "out.png"
    out.write_bytes(b"keep me")
    assert main([str(photo), "-o", str(out)]) == 1
    err = capsys.readouterr().err
    assert "already exists" in err and err.count("\n") == 1
    assert out.read_bytes() == b"keep me"
    assert main([str(photo), "-o", str(out), "--force"]) == 0
    assert out.read_bytes() != b"keep me"


def test_never_overwrites_the_input(photo, capsys):
    before = photo.read_bytes()
    assert main([str(photo), "-o", str(photo), "--force"]) == 1
    assert "input file" in capsys.readouterr().err
    assert photo.read_bytes() == before


def test_one_bad_file_does_not_stop_the_others(photo, tmp_path, capsys):
    bad = tmp_path / "bad.png"
    bad.write_text("not an image")
    status = main([str(bad), str(photo), "--out-dir", str(tmp_path / "out"), "-k", "4"])
    captured = capsys.readouterr()
    assert status == 1
    assert captured.err.count("\n") == 1 and "bad.png" in captured.err and "Traceback" not in captured.err
    assert (tmp_path / "out" / "photo-k4.png").exists()


@pytest.mark.parametrize(
    "argv",
    [
        ["x.png", "-k", "0"], ["x.png", "-k", "300"], ["x.png", "-k", "many"], [], ["a.png", "b.png", "-o", "c.png"],
        ["x.png", "--run-budget", "-1"], ["x.png", "--run-budget", "some"],
    ],
    ids=["k0", "k300", "k-text", "no-input", "o-with-two", "budget-negative", "budget-text"],
)
def test_usage_errors_exit_2(argv, capsys):
    assert main(argv) == 2
    assert "Traceback" not in capsys.readouterr().err


def test_output_folder_is_created(photo, tmp_path):
    out = tmp_path / "new" / "folder" / "x.png"
    assert main([str(photo), "-k", "2", "-o", str(out)]) == 0
    assert Image.open(out).mode == "P"


def test_no_output_folder_for_a_bad_input(tmp_path):
    bad = tmp_path / "bad.png"
    bad.write_bytes(b"")
    assert main([str(bad), "-o", str(tmp_path / "never" / "x.png")]) == 1
    assert not (tmp_path / "never").exists()


def test_output_that_is_a_folder_is_a_usage_error(photo, tmp_path, capsys):
    assert main([str(photo), "-o", str(tmp_path)]) == 2
    assert "use --out-dir" in capsys.readouterr().err


@pytest.mark.parametrize("name", ["x.jpg", "x", "x.png.tmp"])
def test_output_name_other_than_png_webp_or_gif_is_a_usage_error(photo, tmp_path, capsys, name, monkeypatch):
    import kmeans_compress._compress

    def no_work(*args, **kwargs):
        raise AssertionError("work started before the usage error")

    monkeypatch.setattr(kmeans_compress._compress, "compress_file", no_work)
    assert main([str(photo), "-k", "4", "-o", str(tmp_path / name)]) == 2
    assert "-o/--output must end in .png, .webp or .gif" in capsys.readouterr().err
    assert list(tmp_path.iterdir()) == [photo]


def test_larger_output_says_larger():
    from kmeans_compress._results import _ratio_text

    assert _ratio_text(16.444) == "16.44x smaller than the input"
    assert _ratio_text(0.5) == "2.00x larger than the input"


def test_run_budget_zero_writes_the_plain_k_means_labels(photo, tmp_path):
    from kmeans_compress import KMeansQuantizer, encode_palette_png, load_image

    plain, auto = tmp_path / "plain.png", tmp_path / "auto.png"
    assert main([str(photo), "-k", "4", "--run-budget", "0", "-o", str(plain)]) == 0
    assert main([str(photo), "-k", "4", "-o", str(auto)]) == 0
    q = KMeansQuantizer(4).fit(load_image(photo))
    assert plain.read_bytes() == encode_palette_png(q.palette_, q.labels_)
    assert auto.stat().st_size < plain.stat().st_size  # the default spends a little PSNR on runs


def test_sweep_tables_go_into_a_new_folder(photo, tmp_path):
    csv_path, json_path = tmp_path / "new" / "sweep.csv", tmp_path / "other" / "deep" / "sweep.json"
    assert main([str(photo), "--sweep", "2,4", "--csv", str(csv_path), "--json-out", str(json_path)]) == 0
    assert csv_path.read_text().count("\n") == 3 and len(json.loads(json_path.read_text())) == 2
