"""The command line on sets and animations: --shared-palette, --palette FILE, animated inputs."""

import json

import numpy as np
import pytest
from _helpers import png_chunks
from PIL import Image, ImageCms

from kmeans_compress import ColorHistogram, psnr
from kmeans_compress._shared import FileColours, fit_shared_palette, pooled_psnr, read_palette
from kmeans_compress.animation import read_animation
from kmeans_compress.cli import main


def _picture(seed, height=16, width=24, alpha=False):
    rng = np.random.default_rng(seed)
    image = (rng.integers(0, 256, (height, width, 4 if alpha else 3)) // 40 * 40).astype(np.uint8)
    if alpha:
        image[..., 3] = np.where(image[..., 3] >= 120, 255, 0)
    return image


@pytest.fixture
def folder(tmp_path):
    """Three small RGB pictures of different colours."""
    src = tmp_path / "in"
    src.mkdir()
    for i in range(3):
        Image.fromarray(_picture(i)).save(src / f"p{i}.png")
    return src


def _plte(path):
    return dict(png_chunks(path.read_bytes())).get("PLTE")


def test_shared_palette_same_plte_in_every_output(folder, tmp_path, capsys):
    out = tmp_path / "out"
    assert main([str(folder), "--shared-palette", "-k", "8", "--out-dir", str(out)]) == 0
    written = sorted(out.glob("*.png"))
    assert [p.name for p in written] == ["p0-k8.png", "p1-k8.png", "p2-k8.png"]
    palettes = {_plte(p) for p in written}
    assert len(palettes) == 1 and len(next(iter(palettes))) == 8 * 3
    lines = capsys.readouterr().out.strip().splitlines()
    assert lines[-1].startswith("3 files on one shared palette, k=8: pooled PSNR")


def test_shared_palette_is_the_fit_on_the_summed_histogram(folder, tmp_path):
    out = tmp_path / "out"
    assert main([str(folder), "--shared-palette", "-k", "8", "--out-dir", str(out)]) == 0
    images = [_picture(i) for i in range(3)]


    colours = [FileColours(h.colors, h.counts) for h in map(ColorHistogram.from_image, images)]
    expected = fit_shared_palette(colours, 8, random_state=0).palette_
    assert _plte(out / "p0-k8.png") == expected.tobytes()


def test_shared_palette_pooled_psnr_is_one_mse_over_all_pixels(folder, tmp_path, capsys):
    out = tmp_path / "out"
    assert main([str(folder), "--shared-palette", "-k", "4", "--out-dir", str(out), "--json"]) == 0
    captured = capsys.readouterr()
    records = [json.loads(line) for line in captured.out.strip().splitlines()]
    pooled = json.loads(captured.err.strip().splitlines()[-1])
    # recomputed from the files themselves: every pixel of every file in one MSE
    errors = [
        np.square(_picture(i).astype(float) - np.asarray(Image.open(out / f"p{i}-k4.png").convert("RGB"))).sum()
        for i in range(3)
    ]
    total = sum(_picture(i).size for i in range(3))
    assert pooled["pooled_psnr"] == pytest.approx(10 * np.log10(255**2 / (sum(errors) / total)))
    assert pooled["files"] == 3 and pooled["k"] == 4
    assert [r["k"] for r in records] == [4, 4, 4]


def test_pooled_psnr_weights_files_by_pixels():
    from kmeans_compress._measure import Measurement

    def m(err):
        return Measurement(1, 1, 1, 1, 0.0, err, 0.0, 1.0, 0.0, 1, 1.0, 3, 1.0)

    assert pooled_psnr([(m(10.0), 1), (m(40.0), 3)]) == pytest.approx(10 * np.log10(255**2 / 32.5))


def test_shared_palette_target_holds_for_every_file(folder, tmp_path, capsys):
    out = tmp_path / "out"
    assert main([str(folder), "--shared-palette", "--min-psnr", "22", "--out-dir", str(out), "--json"]) == 0
    records = [json.loads(line) for line in capsys.readouterr().out.strip().splitlines()]
    k = records[0]["k"]
    assert all(r["k"] == k for r in records)
    assert min(r["psnr"] for r in records) >= 22
    for r in records:  # measured against the files written
        pair = [np.asarray(Image.open(r[name]).convert("RGB")) for name in ("input", "output")]
        assert psnr(*pair) == pytest.approx(r["psnr"])
    # and the worst file decides: one colour fewer fails for at least one file
    below = tmp_path / "below"
    assert main([str(folder), "--shared-palette", "-k", str(k - 1), "--out-dir", str(below), "--json"]) == 0
    assert min(json.loads(line)["psnr"] for line in capsys.readouterr().out.strip().splitlines()) < 22


def test_shared_palette_mixed_rgb_and_rgba_gets_an_rgba_palette(folder, tmp_path):
    Image.fromarray(_picture(9, alpha=True), "RGBA").save(folder / "z.png")
    out = tmp_path / "out"
    assert main([str(folder), "--shared-palette", "-k", "8", "--out-dir", str(out)]) == 0
    outputs = sorted(out.glob("*.png"))
    assert len(outputs) == 4
    assert len({_plte(p) for p in outputs}) == 1
    assert len({dict(png_chunks(p.read_bytes())).get("tRNS") for p in outputs}) == 1
    assert dict(png_chunks(outputs[0].read_bytes())).get("tRNS") is not None
    # an RGB input stays opaque; the RGBA one keeps its transparent pixels
    assert np.all(np.asarray(Image.open(out / "p0-k8.png").convert("RGBA"))[..., 3] == 255)
    alpha = np.asarray(Image.open(out / "z-k8.png").convert("RGBA"))[..., 3]
    assert np.array_equal(alpha == 0, _picture(9, alpha=True)[..., 3] == 0)


def test_shared_palette_broken_file_one_line_fitted_on_the_others(folder, tmp_path, capsys):
    (folder / "broken.png").write_bytes(b"\x89PNG\r\n\x1a\nnot a png")
    out = tmp_path / "out"
    assert main([str(folder), "--shared-palette", "-k", "8", "--out-dir", str(out)]) == 1
    err = capsys.readouterr().err.strip().splitlines()
    assert len([e for e in err if "broken.png" in e]) == 1
    assert "left out of the shared palette (the palette is fitted on the other 3)" in err[0]
    assert sorted(p.name for p in out.iterdir()) == ["p0-k8.png", "p1-k8.png", "p2-k8.png"]


def test_shared_palette_keep_profile_with_different_profiles_refused(folder, tmp_path, capsys):
    icc = ImageCms.ImageCmsProfile(ImageCms.createProfile("sRGB")).tobytes()
    Image.fromarray(_picture(5)).save(folder / "p0.png", icc_profile=icc)  # the others have none
    out = tmp_path / "out"
    assert main([str(folder), "--shared-palette", "--keep-profile", "-k", "8", "--out-dir", str(out)]) == 1
    err = capsys.readouterr().err.strip().splitlines()
    assert len(err) == 1 and "one colour profile for every file" in err[0]
    assert not out.exists()


def test_palette_file_outputs_use_exactly_its_palette(folder, tmp_path, capsys):
    palette = np.array([[0, 0, 0], [255, 255, 255], [200, 40, 40], [40, 200, 40], [40, 40, 200]], np.uint8)
    reference = Image.new("P", (5, 1))
    reference.putpalette(palette.tobytes())
    reference.putdata(list(range(5)))
    ref_path = tmp_path / "ref.png"
    reference.save(ref_path)
    assert np.array_equal(read_palette(ref_path), palette)
    out = tmp_path / "out"
    # --run-budget 0: every pixel on its nearest entry (runs may trade a little PSNR for bytes)
    assert main([str(folder), "--palette", str(ref_path), "--out-dir", str(out), "--run-budget", "0"]) == 0
    for i in range(3):
        written = out / f"p{i}-k5.png"
        assert _plte(written) == palette.tobytes()
        pixels = np.asarray(Image.open(written).convert("RGB")).reshape(-1, 3)
        # each pixel is on its nearest entry of the given palette
        dist = ((_picture(i).reshape(-1, 1, 3).astype(int) - palette.astype(int)) ** 2).sum(-1)
        chosen = [int(np.flatnonzero((palette == p).all(1))[0]) for p in pixels]
        assert np.array_equal(dist[np.arange(len(dist)), chosen], dist.min(1))
    assert "on the palette of" in capsys.readouterr().out.strip().splitlines()[-1]


def test_palette_file_gif_with_transparency(tmp_path):
    im = Image.new("P", (4, 1))
    im.putpalette(bytes([10, 20, 30, 40, 50, 60, 70, 80, 90, 100, 110, 120]))
    im.putdata([0, 1, 2, 3])
    im.save(tmp_path / "ref.gif", transparency=1)
    palette = read_palette(tmp_path / "ref.gif")
    assert palette.shape[1] == 4 and palette[1, 3] == 0 and np.all(np.delete(palette[:, 3], 1) == 255)


@pytest.mark.parametrize(
    ("argv", "text"),
    [
        (["--palette", "x.png", "-k", "8"], "--palette gives the colours"),
        (["--palette", "x.png", "--shared-palette"], "not allowed with"),
        (["--shared-palette", "--sweep", "2,4"], "drop one of them"),
    ],
    ids=["palette-and-k", "both", "sweep"],
)
def test_set_usage_errors(folder, argv, text, capsys):
    assert main([str(folder), *argv]) == 2
    assert text in capsys.readouterr().err


def test_palette_file_not_a_palette_image_one_line(folder, tmp_path, capsys):
    assert main([str(folder), "--palette", str(folder / "p0.png"), "--out-dir", str(tmp_path / "o")]) == 1
    err = capsys.readouterr().err.strip().splitlines()
    assert len(err) == 1 and "not a palette image" in err[0]


def _animation(path, fmt, durations=(100, 110, 120, 130)):
    base = np.tile((np.arange(24, dtype=np.uint8) * 10)[None, :, None], (16, 1, 3))
    frames = [Image.fromarray(np.roll(base, 3 * i, axis=1)) for i in range(len(durations))]
    frames[0].save(path, format=fmt, save_all=True, append_images=frames[1:], duration=list(durations), loop=0)


@pytest.mark.parametrize(("suffix", "fmt"), [(".gif", "GIF"), (".png", "PNG"), (".webp", "WEBP")])
@pytest.mark.parametrize("out_suffix", [".gif", ".png", ".webp"])
def test_animated_input_written_as_an_animation(tmp_path, suffix, fmt, out_suffix, capsys):
    src = tmp_path / f"a{suffix}"
    _animation(src, fmt)
    out = tmp_path / f"out{out_suffix}"
    assert main([str(src), "-k", "8", "-o", str(out), "--allow-larger"]) == 0
    line = capsys.readouterr().out
    assert "4 frames" in line
    written = read_animation(out)  # composited as a viewer shows them
    assert written.n_frames == 4
    assert written.durations == read_animation(src).durations
    assert written.durations == (100, 110, 120, 130)


def test_animated_input_json_figures_over_all_frames(tmp_path, capsys):
    src = tmp_path / "a.gif"
    _animation(src, "GIF")
    assert main([str(src), "-k", "4", "--format", "gif", "--out-dir", str(tmp_path / "o"), "--json"]) == 0
    record = json.loads(capsys.readouterr().out)
    assert record["frames"] == 4 and record["format"] == "gif"
    assert record["bits_per_pixel"] == pytest.approx(8 * record["bytes_out"] / (4 * 16 * 24))


@pytest.mark.parametrize(("fmt", "out_suffix"), [("GIF", ".gif"), ("PNG", ".png"), ("WEBP", ".webp")])
def test_animation_in_a_shared_set_keeps_every_frame_on_the_set_palette(folder, tmp_path, fmt, out_suffix, capsys):
    """An animation in the set counts with all its frames and is written as an animation on the
    one palette, with its durations and loop count; its figures are over all its frames."""
    _animation(folder / f"anim.{fmt.lower()}", fmt)
    out = tmp_path / "out"
    status = main([str(folder), "--shared-palette", "-k", "8", "--format", out_suffix[1:], "--out-dir", str(out),
                   "--json"])
    assert status == 0
    records = {r["input"].rsplit("/", 1)[-1]: r for r in map(json.loads, capsys.readouterr().out.splitlines())
               if "input" in r}
    record = records[f"anim.{fmt.lower()}"]
    assert record["frames"] == 4 and (record["width"], record["height"]) == (24, 16)
    source = read_animation(folder / f"anim.{fmt.lower()}")
    written = read_animation(out / f"anim-k8{out_suffix}")
    assert written.n_frames == 4 and written.durations == source.durations == (100, 110, 120, 130)
    assert written.loop == source.loop
    # the palette is the fit on every still and every frame, and each frame is drawn from it
    images = [_picture(i) for i in range(3)] + [source.stacked]
    colours = [FileColours(h.colors, h.counts) for h in map(ColorHistogram.from_image, images)]
    palette = {tuple(c) for c in fit_shared_palette(colours, 8, random_state=0).palette_}
    assert {tuple(c) for c in np.unique(written.frames.reshape(-1, 3), axis=0)} <= palette
    if out_suffix != ".webp":  # (WebP has no palette table to compare)
        for name in ("p0", "anim"):
            table = Image.open(out / f"{name}-k8{out_suffix}").getpalette()[: 3 * 8]
            assert {tuple(table[i : i + 3]) for i in range(0, len(table), 3)} == palette
    # its PSNR is over all frames, against the frames as read
    assert record["psnr"] == pytest.approx(psnr(source.stacked, written.stacked), abs=0.01)
    # the set's pooled figure counts every frame's pixels
    assert main([str(folder), "--shared-palette", "-k", "8", "--format", out_suffix[1:], "--out-dir", str(out),
                 "--force"]) == 0
    assert f"over all {(3 + 4) * 16 * 24:,} pixels" in capsys.readouterr().out


def test_animation_mapped_onto_a_palette_file(tmp_path, capsys):
    src = tmp_path / "anim.gif"
    _animation(src, "GIF")
    ref = tmp_path / "ref.png"
    Image.fromarray(_picture(7)).quantize(6).save(ref)
    table = Image.open(ref).getpalette()[: 3 * 6]
    entries = {tuple(table[i : i + 3]) for i in range(0, len(table), 3)}
    out = tmp_path / "out"
    assert main([str(src), "--palette", str(ref), "--out-dir", str(out)]) == 0
    written = read_animation(next(out.iterdir()))
    assert written.n_frames == 4 and written.durations == (100, 110, 120, 130)
    assert {tuple(c) for c in np.unique(written.frames.reshape(-1, 3), axis=0)} <= entries


def test_shared_palette_takes_the_output_suffix(folder, tmp_path):
    out = tmp_path / "out"
    assert main([str(folder), "--shared-palette", "-k", "4", "--suffix=-shared{k}", "--out-dir", str(out)]) == 0
    assert sorted(p.name for p in out.iterdir()) == ["p0-shared4.png", "p1-shared4.png", "p2-shared4.png"]


@pytest.mark.parametrize(
    ("argv", "text"),
    [
        (["--shared-palette", "--skip-if-larger"], "drop --skip-if-larger"),
        (["--palette", "x.png", "--psnr", "30-40"], "--palette gives the colours"),
    ],
    ids=["skip-if-larger", "palette-and-range"],
)
def test_set_usage_errors_with_pipe_options(folder, argv, text, capsys):
    assert main([str(folder), *argv]) == 2
    assert text in capsys.readouterr().err


def test_shared_palette_range_below_its_minimum_writes_nothing_status_99(folder, tmp_path, capsys):
    out = tmp_path / "out"
    # noise of about a thousand colours: no palette of 256 reaches 60 dB on it, so every k fails the
    # range's minimum and nothing is written
    rng = np.random.default_rng(7)
    Image.fromarray(rng.integers(0, 256, (32, 32, 3), dtype=np.uint8)).save(folder / "noise.png")
    assert main([str(folder), "--shared-palette", "--psnr", "60-70", "--out-dir", str(out)]) == 99
    assert "nothing written" in capsys.readouterr().err
    assert not out.exists()
