"""Inputs people have (WebP, AVIF, HEIC), what the written files say about themselves, and WebP output."""

import io
import struct
import sys
import warnings
from pathlib import Path

import numpy as np
import pytest
from _helpers import png_chunks, saved
from PIL import Image

from kmeans_compress import InvalidImageError, encode_palette_png, load_image
from kmeans_compress._encode import encode_palette, encode_palette_webp
from kmeans_compress._formats import FORMATS, output_format
from kmeans_compress._load import read_image

ICC = Path(__file__).parent / "data" / "icc"
P3 = (ICC / "DisplayP3-v4.icc").read_bytes()


def photo_like(height=48, width=64):
    """Smooth ramps with a little noise: compresses like a photo, not like noise or flat colour."""
    y, x = np.mgrid[0:height, 0:width]
    rng = np.random.default_rng(1)
    img = np.stack([x * 255 / width, y * 255 / height, (x + y) * 2], -1) + rng.normal(0, 4, (height, width, 3))
    return np.clip(img, 0, 255).astype(np.uint8)


def png_chunk_names(data):
    return [name for name, _ in png_chunks(data)]


def riff_chunk_names(data):
    assert data[:4] == b"RIFF" and data[8:12] == b"WEBP"
    names, i = [], 12
    while i < len(data):
        (n,) = struct.unpack("<I", data[i + 4 : i + 8])
        names.append(data[i : i + 4].decode("ascii"))
        i += 8 + n + (n & 1)
    return names


def decoded(data):
    with Image.open(io.BytesIO(data)) as im:
        return np.asarray(im.convert("RGBA"))


# --- inputs ---------------------------------------------------------------------------------------------


def test_webp_input_lossless_exact():
    original = photo_like()
    image, info = read_image(saved(Image.fromarray(original), "WEBP", lossless=True))
    np.testing.assert_array_equal(image, original)
    assert info.format == "WEBP"


def test_avif_input():
    original = photo_like()
    image, info = read_image(saved(Image.fromarray(original), "AVIF", quality=90))
    assert info.format == "AVIF" and image.shape == original.shape
    assert np.abs(image.astype(int) - original).mean() < 4  # lossy, but the same picture


def test_avif_input_with_profile_is_converted():
    srgb = photo_like()
    from PIL import ImageCms

    to_p3 = ImageCms.buildTransform(
        ImageCms.createProfile("sRGB"), ImageCms.ImageCmsProfile(io.BytesIO(P3)), "RGB", "RGB",
        renderingIntent=ImageCms.Intent.RELATIVE_COLORIMETRIC,
    )
    image, info = read_image(saved(to_p3.apply(Image.fromarray(srgb)), "AVIF", quality=95, icc_profile=P3))
    assert info.converted
    assert np.abs(image.astype(int) - srgb).mean() < 4


@pytest.mark.parametrize("fmt", ["WEBP", "AVIF"])
def test_animated_first_frame_with_warning(fmt):
    frames = [Image.new("RGB", (16, 16), c) for c in [(255, 0, 0), (0, 0, 255)]]
    buf = saved(frames[0], fmt, save_all=True, append_images=frames[1:], lossless=True) if fmt == "WEBP" else saved(
        frames[0], fmt, save_all=True, append_images=frames[1:], quality=90
    )
    with pytest.warns(UserWarning, match="has 2 frames; using the first"):
        image = load_image(buf)
    assert image[8, 8, 0] > 200 and image[8, 8, 2] < 50


def _heic_bytes(array, **params):
    pillow_heif = pytest.importorskip("pillow_heif")
    heif = pillow_heif.from_bytes(mode="RGB", size=(array.shape[1], array.shape[0]), data=array.tobytes())
    buf = io.BytesIO()
    heif.save(buf, quality=90, **params)
    return buf.getvalue()


def test_heic_input_with_the_extra(tmp_path):
    original = photo_like()
    path = tmp_path / "phone.heic"
    path.write_bytes(_heic_bytes(original))
    image, info = read_image(path)
    assert info.format == "HEIF" and image.shape == original.shape
    assert np.abs(image.astype(int) - original).mean() < 4


def test_heic_without_the_extra_says_what_to_install(tmp_path, monkeypatch):
    path = tmp_path / "phone.heic"
    path.write_bytes(_heic_bytes(photo_like()))
    monkeypatch.setitem(sys.modules, "pillow_heif", None)  # import pillow_heif -> ImportError
    monkeypatch.setattr(Image, "ID", [name for name in Image.ID if name != "HEIF"])
    monkeypatch.delitem(Image.OPEN, "HEIF", raising=False)
    with pytest.raises(
        InvalidImageError, match=r"phone.heic: a HEIC/HEIF image; .*pip install kmeans-compress\[heif\]"
    ) as exc:
        load_image(path)
    assert "\n" not in str(exc.value)


# --- metadata: none written, DPI kept -----------------------------------------------------------------------


def gps_exif():
    exif = Image.Exif()
    exif[0x010F] = "PhoneMaker"  # Make
    exif[0xA431] = "SERIAL-123456"  # BodySerialNumber
    gps = exif.get_ifd(0x8825)
    gps[1], gps[2], gps[3], gps[4] = "N", (48.0, 51.0, 29.0), "E", (2.0, 17.0, 40.0)
    return exif.tobytes()


@pytest.mark.parametrize("fmt", FORMATS)
def test_jpeg_with_gps_gives_output_without_exif(fmt):
    src = saved(Image.fromarray(photo_like()), "JPEG", exif=gps_exif(), quality=95)
    with Image.open(src) as im:
        assert im.getexif().get_ifd(0x8825)  # the input does carry a position
    src.seek(0)
    image, info = read_image(src)
    palette = np.array([[0, 0, 0], [255, 255, 255]], np.uint8)
    labels = (image[..., 0] > 127).astype(np.uint8)
    data = encode_palette(palette, labels, format=fmt, dpi=info.dpi)
    assert b"SERIAL-123456" not in data and b"PhoneMaker" not in data
    if fmt == "png":
        assert set(png_chunk_names(data)) <= {"IHDR", "sRGB", "pHYs", "PLTE", "IDAT", "IEND"}
    else:
        assert riff_chunk_names(data) == ["VP8L"]
    with Image.open(io.BytesIO(data)) as out:
        assert not out.getexif() and "exif" not in out.info and "xmp" not in out.info


def test_300_dpi_png_keeps_300_dpi():
    src = saved(Image.fromarray(photo_like()), dpi=(300, 300))
    image, info = read_image(src)
    assert info.dpi == pytest.approx((300, 300), abs=0.01)
    data = encode_palette_png(
        np.array([[0, 0, 0], [9, 9, 9]], np.uint8), np.zeros(image.shape[:2], np.uint8), dpi=info.dpi
    )
    names = png_chunk_names(data)
    assert names == ["IHDR", "sRGB", "pHYs", "PLTE", "IDAT", "IEND"]
    phys = data[data.index(b"pHYs") + 4 : data.index(b"pHYs") + 13]
    assert struct.unpack(">IIB", phys) == (11811, 11811, 1)  # 300 dpi in pixels per metre
    with Image.open(io.BytesIO(data)) as out:
        assert out.info["dpi"] == pytest.approx((300, 300), abs=0.01)


def test_no_dpi_no_phys():
    _, info = read_image(saved(Image.fromarray(photo_like())))
    assert info.dpi is None
    data = encode_palette_png(np.array([[0, 0, 0]], np.uint8), np.zeros((4, 4), np.uint8), dpi=info.dpi)
    assert png_chunk_names(data) == ["IHDR", "sRGB", "PLTE", "IDAT", "IEND"]


@pytest.mark.parametrize("optimizer", ["oxipng", "pillow"])
def test_png_tag_chunks_survive_the_optimizer(optimizer):
    palette = np.array([[0, 0, 0], [255, 0, 0]], np.uint8)
    labels = np.eye(8, dtype=np.uint8)
    plain = encode_palette_png(palette, labels, optimizer=optimizer)
    assert plain[plain.index(b"sRGB") + 4] == 0  # rendering intent: perceptual
    tagged = encode_palette_png(palette, labels, optimizer=optimizer, icc_profile=P3, dpi=(72, 72))
    assert set(png_chunk_names(tagged)) == {"IHDR", "iCCP", "pHYs", "PLTE", "IDAT", "IEND"}
    with Image.open(io.BytesIO(tagged)) as im:
        assert im.info["icc_profile"] == P3
        np.testing.assert_array_equal(np.asarray(im), labels)


# --- WebP output ------------------------------------------------------------------------------------------


@pytest.mark.parametrize("k", [1, 2, 16, 256])
@pytest.mark.parametrize("alpha", [False, True], ids=["rgb", "rgba"])
def test_webp_decodes_to_the_same_pixels_as_the_png(k, alpha):
    rng = np.random.default_rng(k)
    palette = rng.integers(0, 256, (k, 4 if alpha else 3), dtype=np.uint8)
    if alpha:
        palette[0, 3] = 0  # fully transparent, with a colour that must survive
        palette[0, :3] = (200, 100, 50)
    labels = rng.integers(0, k, (40, 56), dtype=np.uint8)
    labels[10:30, 10:40] = 0  # an area, so the encoders have something to find
    png = encode_palette_png(palette, labels)
    webp = encode_palette_webp(palette, labels)
    np.testing.assert_array_equal(decoded(webp), decoded(png))
    assert decoded(png)[0, 0].tolist()[: palette.shape[1]] == palette[labels[0, 0]].tolist()


def test_webp_with_profile():
    data = encode_palette(
        np.array([[0, 0, 0], [255, 0, 0]], np.uint8), np.eye(4, dtype=np.uint8), format="webp", icc_profile=P3
    )
    assert riff_chunk_names(data) == ["VP8X", "ICCP", "VP8L"]
    with Image.open(io.BytesIO(data)) as im:
        assert im.info["icc_profile"] == P3


def test_encode_palette_rejects_other_formats():
    with pytest.raises(ValueError, match=r"format must be one of \('png', 'webp'\), got 'jpeg'"):
        encode_palette(np.zeros((1, 3), np.uint8), np.zeros((2, 2), np.uint8), format="jpeg")


@pytest.mark.parametrize(
    ("path", "fmt", "expected"),
    [
        ("a.png", None, "png"),
        ("a.PNG", None, "png"),
        ("a.webp", None, "webp"),
        ("a.webp", "webp", "webp"),
        ("key-123", "webp", "webp"),
    ],
)
def test_output_format(path, fmt, expected):
    assert output_format(path, fmt) == expected


@pytest.mark.parametrize(
    ("path", "fmt", "match"),
    [
        ("a.jpg", None, r"must end in .png or .webp"),
        ("a", None, "no extension"),
        ("a.png", "gif", "format must be one of"),
        ("a.png", "webp", "the name says png but the format asked is webp"),
    ],
)
def test_output_format_refused(path, fmt, match):
    with pytest.raises(ValueError, match=match):
        output_format(path, fmt)


def test_no_warnings_reading_plain_formats():
    for fmt, params in [("WEBP", {"lossless": True}), ("AVIF", {}), ("JPEG", {}), ("PNG", {})]:
        with warnings.catch_warnings():
            warnings.simplefilter("error")
            load_image(saved(Image.fromarray(photo_like()), fmt, **params))


# --- through the workflow and the command line ---------------------------------------------------------


@pytest.fixture
def photo(tmp_path):
    path = tmp_path / "photo.png"
    Image.fromarray(photo_like(64, 96)).save(path, dpi=(300, 300))
    return path


def test_compress_bytes_webp_same_pixels_as_png(photo):
    from kmeans_compress import compress_bytes

    png = compress_bytes(photo.read_bytes(), 16)
    webp = compress_bytes(photo.read_bytes(), 16, format="webp")
    assert webp.data[:4] == b"RIFF" and webp.measurement.format == "webp" and png.measurement.format == "png"
    assert webp.measurement.bytes_out == len(webp.data) < len(png.data)
    np.testing.assert_array_equal(decoded(webp.data), decoded(png.data))
    assert webp.measurement.psnr == png.measurement.psnr
    assert webp.measurement.to_dict()["format"] == "webp"


def test_auto_with_webp_encodes_each_tried_k_once(photo, tmp_path, monkeypatch):
    import kmeans_compress._encode as kenc
    from kmeans_compress import compress_file

    calls = []
    real = kenc.encode_palette_webp
    monkeypatch.setattr(kenc, "encode_palette_webp", lambda *a, **kw: calls.append(1) or real(*a, **kw))
    report = compress_file(photo, tmp_path / "out.webp", n_colors="auto", min_psnr=30.0, run_budget=0)
    assert len(calls) == report.choice.n_fits
    assert (tmp_path / "out.webp").read_bytes()[:4] == b"RIFF"


def test_never_larger_with_webp(tmp_path):
    from kmeans_compress import compress_file

    small = tmp_path / "small.jpg"  # a JPEG at quality 5: smaller than any lossless file of it
    Image.fromarray(np.random.default_rng(0).integers(0, 256, (64, 64, 3), dtype=np.uint8)).save(small, quality=5)
    report = compress_file(small, format="webp", skip_if_larger=True, n_colors=16)
    assert report.kept_original and report.output is None
    assert report.measurement.bytes_out > report.measurement.bytes_in
    assert "the WebP would be larger than the input" in report.summary()
    assert not (tmp_path / "small-k16.webp").exists()


def test_sweep_in_webp_compares_jpeg_at_the_webp_size(photo):
    from kmeans_compress import sweep

    png_rows = sweep(photo, [4, 16])
    rows = sweep(photo, [4, 16], format="webp", compare=True)
    for row, png_row in zip(rows, png_rows, strict=True):
        assert row.format == "webp" and row.bytes_out < png_row.bytes_out
        assert row.jpeg is None or row.jpeg.bytes <= row.bytes_out
        assert row.psnr == png_row.psnr


def test_keep_profile_through_compress_file(tmp_path):
    from PIL import ImageCms

    from kmeans_compress import compress_file, load_image, psnr

    to_p3 = ImageCms.buildTransform(
        ImageCms.createProfile("sRGB"), ImageCms.ImageCmsProfile(io.BytesIO(P3)), "RGB", "RGB",
        renderingIntent=ImageCms.Intent.RELATIVE_COLORIMETRIC,
    )
    tagged = to_p3.apply(Image.fromarray(photo_like()))
    src = tmp_path / "p3.png"
    tagged.save(src, icc_profile=P3)
    kept = compress_file(src, tmp_path / "kept.png", n_colors=8, keep_profile=True)
    converted = compress_file(src, tmp_path / "srgb.png", n_colors=8)
    with Image.open(kept.output) as im:
        assert im.info["icc_profile"] == P3
    # the measurement compares what a colour-managed viewer shows: both files through P3 to sRGB
    assert kept.measurement.psnr == pytest.approx(psnr(load_image(src), load_image(kept.output)))
    assert kept.measurement.psnr == pytest.approx(converted.measurement.psnr, abs=0.1)
    with Image.open(converted.output) as im:
        assert "icc_profile" not in im.info and im.info.get("srgb") == 0


def test_dpi_kept_through_compress_file(photo, tmp_path):
    from kmeans_compress import compress_file

    report = compress_file(photo, tmp_path / "o.png", n_colors=4)
    with Image.open(report.output) as im:
        assert im.info["dpi"] == pytest.approx((300, 300), abs=0.01)


def test_cli_format_webp_and_output_name(photo, tmp_path):
    from kmeans_compress.cli import main

    assert main([str(photo), "-k", "16", "--format", "webp", "--out-dir", str(tmp_path / "w")]) == 0
    webp = tmp_path / "w" / "photo-k16.webp"
    assert main([str(photo), "-k", "16", "-o", str(tmp_path / "p.png")]) == 0
    assert main([str(photo), "-k", "16", "-o", str(tmp_path / "by-name.webp")]) == 0
    np.testing.assert_array_equal(decoded(webp.read_bytes()), decoded((tmp_path / "p.png").read_bytes()))
    assert (tmp_path / "by-name.webp").read_bytes() == webp.read_bytes()
    assert webp.stat().st_size < (tmp_path / "p.png").stat().st_size


def test_cli_format_and_name_must_agree(photo, tmp_path, capsys):
    from kmeans_compress.cli import main

    assert main([str(photo), "--format", "webp", "-o", str(tmp_path / "x.png")]) == 2
    assert "is named png but --format is webp" in capsys.readouterr().err
    assert not (tmp_path / "x.png").exists()


def test_cli_keep_profile_and_no_exif(tmp_path):
    from kmeans_compress.cli import main

    src = tmp_path / "phone.jpg"
    Image.fromarray(photo_like()).save(src, quality=95, exif=gps_exif(), icc_profile=P3)
    assert main([str(src), "-k", "8", "--keep-profile", "-o", str(tmp_path / "kept.png"), "--allow-larger"]) == 0
    assert main([str(src), "-k", "8", "-o", str(tmp_path / "plain.webp"), "--allow-larger"]) == 0
    with Image.open(tmp_path / "kept.png") as im:
        assert im.info["icc_profile"] == P3 and "exif" not in im.info
    data = (tmp_path / "plain.webp").read_bytes()
    assert riff_chunk_names(data) == ["VP8L"] and b"SERIAL-123456" not in data


def test_folder_input_skips_webp_outputs(photo, tmp_path):
    from kmeans_compress._inputs import expand_inputs

    (tmp_path / "photo-k16.webp").write_bytes(b"RIFF")
    items, _ = expand_inputs([str(tmp_path)])
    assert [Path(p).name for p, _ in items] == ["photo.png"]


def test_folder_input_includes_heic(tmp_path):
    from kmeans_compress._inputs import expand_inputs

    (tmp_path / "IMG_0001.HEIC").write_bytes(b"")
    (tmp_path / "notes.txt").write_bytes(b"")
    items, _ = expand_inputs([str(tmp_path)])
    assert [Path(p).name for p, _ in items] == ["IMG_0001.HEIC"]


def _heic_with_nclx(array, primaries, transfer):
    pillow_heif = pytest.importorskip("pillow_heif")
    heif = pillow_heif.from_bytes(mode="RGB", size=(array.shape[1], array.shape[0]), data=array.tobytes())
    heif.info["nclx_profile"] = {
        "color_primaries": primaries,
        "transfer_characteristics": transfer,
        "matrix_coefficients": 6,
        "full_range_flag": 1,
    }
    buf = io.BytesIO()
    heif.save(buf, quality=-1)  # lossless
    return buf.getvalue()


def test_heic_nclx_display_p3_is_converted(tmp_path):
    """An iPhone-style HEIC tagged Display P3 by its nclx box (no ICC profile) reads as the ICC-tagged one."""
    from PIL import ImageCms

    srgb = photo_like()
    to_p3 = ImageCms.buildTransform(
        ImageCms.createProfile("sRGB"), ImageCms.ImageCmsProfile(io.BytesIO(P3)), "RGB", "RGB",
        renderingIntent=ImageCms.Intent.RELATIVE_COLORIMETRIC,
    )
    p3_pixels = np.asarray(to_p3.apply(Image.fromarray(srgb)))
    path = tmp_path / "p3.heic"
    path.write_bytes(_heic_with_nclx(p3_pixels, 12, 13))
    image, info = read_image(path)
    assert info.converted and info.profile == "nclx primaries 12 transfer 13"
    decoded_p3 = np.asarray(Image.open(path).convert("RGB")).astype(int)
    assert np.abs(decoded_p3 - p3_pixels).mean() < 4  # the stored pixels are P3 values...
    assert np.abs(image.astype(int) - srgb).mean() < np.abs(decoded_p3 - srgb).mean() / 3  # ...read as sRGB


def test_heic_nclx_srgb_untouched_and_pq_warns(tmp_path):
    original = photo_like()
    srgb_path, pq_path = tmp_path / "srgb.heic", tmp_path / "pq.heic"
    srgb_path.write_bytes(_heic_with_nclx(original, 1, 13))
    pq_path.write_bytes(_heic_with_nclx(original, 9, 16))
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        image, info = read_image(srgb_path)
    assert not info.converted
    np.testing.assert_array_equal(image, np.asarray(Image.open(srgb_path).convert("RGB")))
    with pytest.warns(UserWarning, match="nclx tone curve 16 .* not supported"):
        read_image(pq_path)


def test_save_palette_png_embeds_profile_and_dpi(tmp_path):
    from kmeans_compress import save_palette_png

    out = tmp_path / "kept.png"
    save_palette_png(
        out, np.array([[1, 2, 3], [4, 5, 6]], np.uint8), np.eye(2, dtype=np.uint8), icc_profile=P3, dpi=(300, 300)
    )
    with Image.open(out) as im:
        assert im.info["icc_profile"] == P3 and im.info["dpi"] == pytest.approx((300, 300), abs=0.01)


@pytest.mark.parametrize(
    ("name", "fmt"), [("a.png", "png"), ("a.PNG", "png"), ("a.webp", "webp"), ("a.jpg", None), ("a", None)],
    ids=["png", "upper-case", "webp", "jpg", "none"],
)
def test_the_formats_table_names_the_suffixes(name, fmt):
    from kmeans_compress._formats import format_of_suffix, suffix_list

    assert format_of_suffix(name) == fmt
    assert suffix_list() == ".png or .webp"
    assert list(FORMATS) == ["png", "webp"]


def test_encode_palette_uses_the_tables_encoder():
    palette, labels = np.array([[0, 0, 0], [255, 0, 0]], np.uint8), np.array([[0, 1]], np.uint8)
    assert encode_palette(palette, labels, format="png")[:8] == b"\x89PNG\r\n\x1a\n"
    assert encode_palette(palette, labels, format="webp")[:4] == b"RIFF"
    with pytest.raises(ValueError, match=r"format must be one of \('png', 'webp'\), got 'gif'"):
        encode_palette(palette, labels, format="gif")
