"""The library's one-call workflow and public surface: compress_bytes / compress_file, k chosen by
the library, one measurement, nothing encoded twice, a light import for the command line."""

import io
import json
import subprocess
import sys

import numpy as np
import pytest
from PIL import Image

import kmeans_compress
from kmeans_compress import (
    Measurement,
    compress_bytes,
    compress_file,
    encode_palette_png,
    load_image,
    measure,
    quantize,
)
from kmeans_compress import _encode as encode_module
from kmeans_compress.cli import main


@pytest.fixture
def photo(tmp_path):
    """A noisy ramp saved as PNG: its palette PNG is smaller than the file."""
    y, x = np.mgrid[0:40, 0:56]
    base = np.stack([x * 4, y * 6, (x + y) * 2], axis=-1).astype(np.int16)
    noise = np.random.default_rng(0).integers(-12, 13, base.shape)
    path = tmp_path / "photo.png"
    Image.fromarray(np.clip(base + noise, 0, 255).astype(np.uint8)).save(path)
    return path


def _count_encodes(monkeypatch):
    """Count calls of the PNG encoder wherever the package calls it from."""
    calls = []
    original = encode_module.encode_palette_png

    def counting(*args, **kwargs):
        calls.append(1)
        return original(*args, **kwargs)

    for name in ("_encode", "_sweep", "_compress", "_measure", "_baselines"):
        module = sys.modules[f"kmeans_compress.{name}"]
        if hasattr(module, "encode_palette_png"):
            monkeypatch.setattr(module, "encode_palette_png", counting)
    return calls


def test_auto_encodes_each_tried_k_once(photo, tmp_path, monkeypatch):
    import kmeans_compress._baselines  # noqa: F401 - loaded, so that its encoder is counted too

    calls = _count_encodes(monkeypatch)
    report = compress_file(photo, tmp_path / "out.png", n_colors="auto", min_psnr=28.0, run_budget=0)
    tried = [row.k for row in report.choice.rows]
    assert len(calls) == len(tried) == report.choice.n_fits  # the chosen k is not encoded again
    assert report.measurement.k in tried
    written = (tmp_path / "out.png").read_bytes()
    assert written == compress_bytes(photo.read_bytes(), report.measurement.k, run_budget=0).data


def test_fixed_k_encodes_once(photo, tmp_path, monkeypatch):
    calls = _count_encodes(monkeypatch)
    compress_file(photo, tmp_path / "out.png", n_colors=8, run_budget=0)
    assert len(calls) == 1


def test_runs_encode_both_labels_once_and_keep_the_smaller(photo, tmp_path, monkeypatch):
    from kmeans_compress import KMeansQuantizer, load_image

    calls = _count_encodes(monkeypatch)
    report = compress_file(photo, tmp_path / "out.png", n_colors=8)  # run_budget="auto"
    assert len(calls) == 2  # the runs labels and the nearest ones, each once; the kept file not again
    image = load_image(photo)
    sizes = []
    for budget in (0.03, 0.0):
        q = KMeansQuantizer(8, run_budget=budget).fit(image)
        sizes.append(len(encode_palette_png(q.palette_, q.labels_)))
    assert report.measurement.bytes_out == (tmp_path / "out.png").stat().st_size == min(sizes)


def test_auto_seconds_cover_the_whole_search(photo, tmp_path):
    report = compress_file(photo, tmp_path / "out.png", n_colors="auto", min_psnr=28.0)
    assert report.measurement.seconds >= sum(row.seconds for row in report.choice.rows)
    line = report.summary()
    assert f"{report.measurement.seconds:.2f} s" in line and "[k=auto: smallest k with PSNR >= 28 dB;" in line


def test_auto_default_output_name_has_the_chosen_k(photo, tmp_path):
    report = compress_file(photo, n_colors="auto", out_dir=tmp_path / "o")
    assert report.output == str(tmp_path / "o" / f"photo-k{report.measurement.k}.png")
    assert report.choice is not None and "knee" in report.choice.rule
    assert json.loads(json.dumps(report.to_dict()))["auto"]["n_fits"] == report.choice.n_fits


def test_target_needs_auto(photo):
    with pytest.raises(ValueError, match="pass n_colors='auto', got n_colors=16"):
        compress_file(photo, n_colors=16, min_psnr=30.0)


def test_compress_bytes_is_compress_file_without_files(photo, tmp_path):
    data = photo.read_bytes()
    result = compress_bytes(data, 8)
    report = compress_file(photo, tmp_path / "out.png", n_colors=8)
    assert result.data == (tmp_path / "out.png").read_bytes()
    m, n = result.measurement, report.measurement
    assert (m.bytes_in, m.bytes_out, m.psnr, m.ssim, m.delta_e) == (n.bytes_in, n.bytes_out, n.psnr, n.ssim, n.delta_e)
    assert m.bytes_in == len(data) and m.seconds > 0
    assert compress_bytes(io.BytesIO(data), 8).data == result.data  # a file object works too
    assert sorted(p.name for p in tmp_path.iterdir()) == ["out.png", "photo.png"]  # wrote nothing else


def test_compress_bytes_names_the_input_in_errors():
    with pytest.raises(ValueError, match=r"^s3://bucket/x\.png: "):
        compress_bytes(b"not an image", name="s3://bucket/x.png")


def test_measure_by_hand(three_colors):
    result = quantize(three_colors, 2)
    m = measure(three_colors, result.quantizer, bytes_in=1000)
    assert isinstance(m, Measurement) and (m.k, m.n_colors, m.width, m.height) == (2, 2, 4, 4)
    err = ((three_colors.astype(float) - result.image) ** 2).mean()
    assert m.mse == pytest.approx(err) and m.raw_bytes == 48
    assert m.bits_per_pixel == pytest.approx(8 * m.bytes_out / 16) and m.ratio == pytest.approx(1000 / m.bytes_out)
    assert np.isnan(m.seconds) and m.to_dict()["seconds"] is None  # not timed
    with pytest.raises(ValueError, match="fitted on an image of shape"):
        measure(three_colors[:2], result.quantizer)


def test_public_api_is_small_and_lazy():
    # the types the functions return are exported too, so that users can name them in annotations
    returned = {"Compressed", "CompressionReport", "KChoice", "QuantizeResult", "SweepRow"}
    assert returned <= set(kmeans_compress.__all__)
    assert len(set(kmeans_compress.__all__) - returned) <= 22
    for name in kmeans_compress.__all__:
        assert getattr(kmeans_compress, name) is not None
    with pytest.raises(AttributeError, match="no attribute 'sweep_row'"):
        kmeans_compress.sweep_row  # noqa: B018
    code = (
        "import sys, kmeans_compress, kmeans_compress.cli\n"
        "heavy = [m for m in ('sklearn', 'scipy', 'skimage', 'matplotlib') if m in sys.modules]\n"
        "print(heavy)"
    )
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert out.stdout.strip() == "[]"


@pytest.mark.parametrize(
    "argv", [["--help"], ["--version"], ["x.png", "--csv", "t.csv"]], ids=["help", "version", "usage"]
)
def test_help_version_and_usage_errors_import_nothing_heavy(argv):
    code = (
        "import sys\nfrom kmeans_compress.cli import main\n"
        f"status = main({argv!r})\n"
        "print([m for m in ('sklearn', 'scipy', 'skimage') if m in sys.modules], status)"
    )
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert out.stdout.strip().splitlines()[-1] in ("[] 0", "[] 2")


def test_plot_without_matplotlib_is_a_usage_error_before_any_work(photo, monkeypatch, capsys):
    import importlib.util

    real = importlib.util.find_spec
    monkeypatch.setattr(importlib.util, "find_spec", lambda name, *a: None if name == "matplotlib" else real(name, *a))
    monkeypatch.setattr("kmeans_compress.cli._run_sweeps", lambda *a: pytest.fail("the sweep ran"))
    assert main([str(photo), "--sweep", "2,4", "--plot", "curves.png"]) == 2
    assert "--plot needs matplotlib" in capsys.readouterr().err


def test_load_image_round_trip_of_an_output(photo, tmp_path):
    report = compress_file(photo, tmp_path / "o.png", n_colors=4)
    with Image.open(report.output) as im:
        assert im.mode == "P" and len(im.getpalette()) // 3 >= report.measurement.n_colors
    assert load_image(report.output).shape == load_image(photo).shape
