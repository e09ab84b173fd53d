"""Pillow in, Pillow out: quantize_image, one set of defaults, every loader taking every source."""

import io
import math

import numpy as np
import pytest
from PIL import Image

from kmeans_compress import KMeansQuantizer, compress_bytes, compress_file, load_image, quantize, quantize_image
from kmeans_compress.cli import main


def _photo_array(seed=0, size=(40, 56)):
    y, x = np.mgrid[0 : size[0], 0 : size[1]]
    base = np.stack([x * 4, y * 6, (x + y) * 2], axis=-1).astype(np.int16)
    noise = np.random.default_rng(seed).integers(-12, 13, base.shape)
    return np.clip(base + noise, 0, 255).astype(np.uint8)


def _modes():
    rgb = _photo_array()
    alpha = np.tile(np.linspace(0, 255, rgb.shape[1]).astype(np.uint8), (rgb.shape[0], 1))
    rgba = Image.fromarray(np.dstack([rgb, alpha]))
    grey = Image.fromarray(rgb).convert("L")
    sixteen = Image.fromarray(rgb[..., 0].astype(np.uint16) * 257).convert("I;16")
    return {
        "RGB": Image.fromarray(rgb),
        "RGBA": rgba,
        "L": grey,
        "P": Image.fromarray(rgb).quantize(64),
        "I;16": sixteen,
    }


MODES = _modes()


def _pixels(im):
    return np.asarray(im.convert("RGBA"))


def _png(im, **params):
    buffer = io.BytesIO()
    im.save(buffer, "PNG", **params)
    return buffer.getvalue()


@pytest.mark.parametrize("mode", list(MODES), ids=list(MODES))
def test_quantize_image_gives_the_commands_pixels(mode, tmp_path):
    im = MODES[mode]
    assert im.mode == mode
    src = tmp_path / "in.png"
    src.write_bytes(_png(im))
    out = quantize_image(im, 8)
    assert out.mode == "P" and len(out.getpalette()) // 3 <= 8
    written = tmp_path / "out.png"
    assert main([str(src), "-k", "8", "-o", str(written), "--allow-larger"]) == 0
    with Image.open(written) as file:
        assert file.mode == "P"
        assert np.array_equal(_pixels(out), _pixels(file))
        assert out.getpalette() == file.getpalette()
        assert out.info.get("transparency") == file.info.get("transparency")
    if mode == "RGBA":  # transparency kept, partial alphas included
        alphas = _pixels(out)[..., 3]
        assert alphas.min() == 0 and len(np.unique(alphas)) > 2 and "transparency" in out.info
    else:
        assert "transparency" not in out.info
    assert out.info.get("srgb") is not None  # tagged sRGB, as the file


def test_quantize_image_keeps_dpi_and_takes_every_source(tmp_path):
    im = MODES["RGB"]
    data = _png(im, dpi=(300, 300))
    path = tmp_path / "dpi.png"
    path.write_bytes(data)
    outs = [
        quantize_image(source, 4)
        for source in (path, str(path), io.BytesIO(data), data, bytearray(data), memoryview(data), Image.open(path))
    ]
    assert all(o.info["dpi"] == pytest.approx((300, 300), abs=0.01) for o in outs)
    assert all(np.array_equal(_pixels(o), _pixels(outs[0])) for o in outs[1:])
    from_array = quantize_image(np.asarray(im), 4)  # an array has no DPI
    assert np.array_equal(_pixels(from_array), _pixels(outs[0])) and "dpi" not in from_array.info


def test_quantize_image_palette_maps_onto_another_images_palette():
    reference = Image.new("P", (2, 1))
    reference.putpalette([255, 0, 0, 0, 0, 255, 0, 255, 0])
    im = Image.fromarray(np.array([[[250, 10, 10], [10, 20, 240], [5, 250, 5], [200, 60, 60]]], np.uint8))
    out = quantize_image(im, palette=reference)
    assert out.mode == "P"
    assert out.getpalette()[:9] == [255, 0, 0, 0, 0, 255, 0, 255, 0]  # the given palette, in its order
    assert np.asarray(out).tolist() == [[0, 1, 2, 0]]  # each pixel on its nearest entry, by hand
    with pytest.raises(ValueError, match="palette must be a PIL image of mode 'P'"):
        quantize_image(im, palette=Image.new("RGB", (1, 1)))


def test_quantize_image_palette_with_transparency():
    reference = Image.new("P", (2, 1))
    reference.putpalette([0, 0, 0, 255, 255, 255])
    reference.info["transparency"] = 0
    im = Image.fromarray(np.array([[[0, 0, 0, 0], [255, 255, 255, 255]]], np.uint8))
    out = quantize_image(im, palette=reference)
    assert _pixels(out)[..., 3].tolist() == [[0, 255]]


def test_one_set_of_defaults(tmp_path, capsys):
    # quantize(image, k), quantize_image(im, colors=k) and kmeans-compress -k k: the same pixels
    src = tmp_path / "in.png"
    src.write_bytes(_png(MODES["RGB"]))
    out = tmp_path / "out.png"
    assert main([str(src), "-k", "6", "-o", str(out)]) == 0
    command = np.asarray(Image.open(out).convert("RGB"))
    assert np.array_equal(quantize(load_image(src), 6).image, command)
    assert np.array_equal(quantize(src, 6).image, command)
    assert np.array_equal(np.asarray(quantize_image(Image.open(src), colors=6).convert("RGB")), command)
    # the estimator keeps plain k-means: every pixel on its nearest entry
    plain = KMeansQuantizer(6).fit(src)
    assert plain.run_budget == 0 and np.array_equal(plain.labels_, plain.remap(load_image(src)))


def test_every_loader_takes_every_source(tmp_path):
    data = _png(MODES["RGB"])
    path = tmp_path / "in.png"
    path.write_bytes(data)
    expected = load_image(path)
    for source in (data, io.BytesIO(data), Image.open(path), expected, str(path)):
        assert np.array_equal(load_image(source), expected)
        assert np.array_equal(KMeansQuantizer(4).fit(source).palette_, KMeansQuantizer(4).fit(expected).palette_)
    assert compress_bytes(bytearray(data), 4).data == compress_bytes(io.BytesIO(data), 4).data
    with pytest.raises(TypeError, match="Expected a path, a binary file object, the bytes of an encoded file"):
        load_image(3.5)


def test_python_api_returns_reached_below_floor_kept(tmp_path):
    data = _png(MODES["RGB"])
    met = compress_bytes(data, "auto", min_psnr=20.0)
    assert met.reached is True and met.below_floor is False
    with pytest.warns(UserWarning, match="cannot reach PSNR >= 99 dB"):
        missed = compress_bytes(data, "auto", min_psnr=99.0, floor_psnr=-math.inf)
    assert missed.reached is False and missed.below_floor is False and missed.measurement.k == 256
    below = compress_bytes(data, "auto", min_psnr=99.0)  # the floor is the target by default
    assert below.reached is False and below.below_floor is True
    src = tmp_path / "in.png"
    src.write_bytes(data)
    report = compress_file(src, tmp_path / "out.png", n_colors="auto", min_psnr=99.0, floor_psnr=90.0)
    assert report.below_floor and report.output is None and not (tmp_path / "out.png").exists()
    assert compress_bytes(data, 8).reached is None  # no target
    with pytest.raises(ValueError, match="floor_psnr must not exceed min_psnr"):
        compress_bytes(data, "auto", min_psnr=30.0, floor_psnr=40.0)
    with pytest.raises(ValueError, match="give min_ssim too"):
        compress_bytes(data, "auto", floor_ssim=0.5)


def test_compress_functions_take_every_source(tmp_path):
    from kmeans_compress._compress import compress_image

    data = _png(MODES["RGB"], dpi=(72, 72))
    path = tmp_path / "in.png"
    path.write_bytes(data)
    results = [compress_bytes(s, 4) for s in (data, io.BytesIO(data), path, str(path))]
    assert {r.measurement.bytes_in for r in results} == {len(data)} and len({r.data for r in results}) == 1
    in_memory = [compress_bytes(s, 4) for s in (Image.open(path), load_image(path))]
    assert all(r.measurement.bytes_in is None for r in in_memory)
    assert compress_image(path, 4).data == results[0].data  # the DPI kept, as the file route does
    with pytest.raises(TypeError, match="Expected a path"):
        compress_bytes(3.5, 4)
