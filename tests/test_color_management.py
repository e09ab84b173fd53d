"""Colour management on load: tagged images come out in sRGB, as a colour-managed viewer shows them.

Tagged test images are made the way a camera or an editor makes them: sRGB pixels converted to
the profile with LittleCMS (``ImageCms``) and saved with the profile embedded. Reading them back
must give the sRGB pixels again; reading them as if they were sRGB (what the package did
before) gives colours tens of levels off, which every test checks too, so that it can fail.
"""

import io
import struct
import warnings
import zlib
from pathlib import Path

import numpy as np
import pytest
from _helpers import png_chunks, saved
from PIL import Image, ImageCms, PngImagePlugin

from kmeans_compress import _icc as kicc
from kmeans_compress import _load as kload
from kmeans_compress import load_image
from kmeans_compress._encode import encode_palette_png
from kmeans_compress._icc import icc_matrix_profile
from kmeans_compress._load import read_image

ICC = Path(__file__).parent / "data" / "icc"
P3 = (ICC / "DisplayP3-v4.icc").read_bytes()
ADOBE = (ICC / "AdobeCompat-v4.icc").read_bytes()
PROPHOTO = (ICC / "ProPhoto-v4.icc").read_bytes()
SRGB = (ICC / "sRGB-v4.icc").read_bytes()
P3_CHRM = (0.3127, 0.3290, 0.680, 0.320, 0.265, 0.690, 0.150, 0.060)


def colours():
    """8x8 blocks of saturated and pale colours, greys and shadows (all inside sRGB)."""
    rng = np.random.default_rng(7)
    base = np.array(
        [[255, 0, 0], [0, 255, 0], [0, 0, 255], [255, 255, 0], [0, 255, 255], [255, 0, 255], [255, 255, 255],
         [0, 0, 0], [128, 128, 128], [30, 20, 10], [200, 150, 120], [90, 160, 60], [20, 40, 200], [250, 230, 210],
         [5, 5, 5], [60, 60, 60]],
        np.uint8,
    )
    blocks = np.concatenate([base, rng.integers(0, 256, (48, 3), dtype=np.uint8)]).reshape(8, 8, 3)
    return np.ascontiguousarray(np.repeat(np.repeat(blocks, 8, axis=0), 8, axis=1))


def to_profile(srgb_pixels, icc, mode="RGB"):
    """sRGB pixels converted to ``icc`` (what an editor does before embedding the profile)."""
    transform = ImageCms.buildTransform(
        ImageCms.createProfile("sRGB"), ImageCms.ImageCmsProfile(io.BytesIO(icc)), "RGB", mode,
        renderingIntent=ImageCms.Intent.RELATIVE_COLORIMETRIC,
    )
    return transform.apply(Image.fromarray(srgb_pixels))


def srgb_encode(linear):
    linear = np.asarray(linear, float)
    return 255 * np.where(linear <= 0.0031308, 12.92 * linear, 1.055 * linear ** (1 / 2.4) - 0.055)


def png_16bit(array16, *, icc=None, colour_type=2):
    """A 16-bit PNG written by hand (Pillow writes 16-bit greyscale only)."""
    height, width = array16.shape[:2]
    rows = array16.astype(">u2").reshape(height, -1).tobytes()
    stride = len(rows) // height
    raw = b"".join(b"\0" + rows[r * stride : (r + 1) * stride] for r in range(height))

    def chunk(tag, body):
        return struct.pack(">I", len(body)) + tag + body + struct.pack(">I", zlib.crc32(tag + body))

    out = b"\x89PNG\r\n\x1a\n" + chunk(b"IHDR", struct.pack(">IIBBBBB", width, height, 16, colour_type, 0, 0, 0))
    if icc is not None:
        out += chunk(b"iCCP", b"test\0\0" + zlib.compress(icc))
    return io.BytesIO(out + chunk(b"IDAT", zlib.compress(raw)) + chunk(b"IEND", b""))


# --- RGB profiles ------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("icc", "fmt", "atol"),
    [(P3, "PNG", 3), (ADOBE, "JPEG", 12), (PROPHOTO, "PNG", 8), (P3, "WEBP", 3), (ADOBE, "TIFF", 4)],
    ids=["display-p3-png", "adobe-rgb-jpeg", "prophoto-png", "display-p3-webp", "adobe-rgb-tiff"],
)
def test_tagged_image_comes_back_in_srgb(icc, fmt, atol):
    original = colours()
    tagged = to_profile(original, icc)
    params = {"quality": 98, "subsampling": 0} if fmt == "JPEG" else ({"lossless": True} if fmt == "WEBP" else {})
    image, info = read_image(saved(tagged, fmt, icc_profile=icc, **params))
    assert info.converted and info.icc_profile is None and info.format == fmt
    diff = np.abs(image.astype(int) - original)
    # One 8-bit step of the wide space, near a gamut corner, is several steps of sRGB's steep
    # toe (ProPhoto's green 0 comes back as 2): the largest differences are at pure primaries.
    assert diff.max() <= atol
    assert diff.mean() < 1.0
    # Taken as sRGB, the same file is far off: what the package did before.
    naive = np.asarray(Image.open(saved(tagged, fmt, icc_profile=icc, **params)).convert("RGB")).astype(int)
    assert np.abs(naive - original).max() > 40


def test_profile_description_reported():
    _, info = read_image(saved(to_profile(colours(), P3), icc_profile=P3))
    assert info.profile == "sP3"  # the compact profile's own description


@pytest.mark.parametrize("tag", ["srgb-icc", "srgb-chunk", "none"])
def test_srgb_tagged_or_untagged_pixels_untouched(tag):
    original = colours()
    params = {"icc_profile": SRGB} if tag == "srgb-icc" else {}
    if tag == "srgb-chunk":
        info = PngImagePlugin.PngInfo()
        info.add(b"sRGB", b"\0")
        info.add(b"gAMA", struct.pack(">I", 100000))  # ignored: sRGB says how to read the file
        params["pnginfo"] = info
    image, info = read_image(saved(Image.fromarray(original), **params))
    np.testing.assert_array_equal(image, original)
    assert not info.converted


def test_untagged_load_builds_no_transform(monkeypatch):
    def fail(*args):
        raise AssertionError("colour management on an untagged image")

    for module in (kload, kicc):  # _load converts with what _icc builds
        monkeypatch.setattr(module, "transform_to_srgb", fail)
        monkeypatch.setattr(module, "grey_to_srgb", fail)
    monkeypatch.setattr(kicc, "_profile_facts", fail)
    np.testing.assert_array_equal(load_image(saved(Image.fromarray(colours()))), colours())


def test_alpha_kept_through_conversion():
    original = colours()
    alpha = np.tile(np.arange(0, 256, 4, dtype=np.uint8), (64, 1))
    tagged = to_profile(original, P3)
    rgba = Image.fromarray(np.dstack([np.asarray(tagged), alpha]), "RGBA")
    image = load_image(saved(rgba, icc_profile=P3))
    assert image.shape == (64, 64, 4)
    np.testing.assert_array_equal(image[..., 3], alpha)
    assert np.abs(image[..., :3].astype(int) - original).max() <= 3  # as in test_tagged_image_comes_back_in_srgb


def test_exif_orientation_and_profile_both_applied():
    original = colours()
    exif = Image.Exif()
    exif[0x0112] = 3  # rotate 180 to display
    image = load_image(saved(to_profile(original, P3), icc_profile=P3, exif=exif.tobytes()))
    assert np.abs(image.astype(int) - original[::-1, ::-1]).max() <= 3  # as in test_tagged_image_comes_back_in_srgb


def test_16_bit_rgb_with_profile():
    original = colours()
    tagged = np.asarray(to_profile(original, P3)).astype(np.uint16) * 257
    image, info = read_image(png_16bit(tagged, icc=P3))
    assert info.converted
    assert np.abs(image.astype(int) - original).max() <= 3  # as in test_tagged_image_comes_back_in_srgb


def test_keep_profile_leaves_pixels_and_returns_profile():
    tagged = to_profile(colours(), P3)
    image, info = read_image(saved(tagged, icc_profile=P3), keep_profile=True)
    np.testing.assert_array_equal(image, np.asarray(tagged))
    assert info.icc_profile == P3 and not info.converted and info.profile == "sP3"
    data = encode_palette_png(
        np.array([[1, 2, 3], [250, 0, 9]], np.uint8), np.eye(3, dtype=np.uint8), icc_profile=info.icc_profile
    )
    assert Image.open(io.BytesIO(data)).info["icc_profile"] == P3
    assert [name for name, _ in png_chunks(data)] == ["IHDR", "iCCP", "PLTE", "IDAT", "IEND"]


# --- greyscale ---------------------------------------------------------------------------------------


LINEAR_GREY = icc_matrix_profile("linear grey", (1.0,))  # values are linear light


def test_grey_profile_linear_light():
    values = np.array([[0, 1, 10, 64, 128, 200, 255]], np.uint8)
    image, info = read_image(saved(Image.fromarray(values, "L"), icc_profile=LINEAR_GREY))
    expected = srgb_encode(values / 255.0)  # 128 -> 188, 1 -> 13
    assert info.converted and image.shape == (1, 7, 3)
    assert np.all(image[..., 0] == image[..., 2])
    assert np.abs(image[..., 0] - expected).max() <= 0.6
    assert image[0, 4, 0] == 188


def test_grey_16_bit_with_profile():
    values = np.array([[0, 257 * 10, 257 * 128, 65535]], np.uint16)
    im = Image.fromarray(values)
    assert im.mode.startswith("I;16")
    image = load_image(saved(im, icc_profile=LINEAR_GREY))
    assert np.abs(image[0, :, 1] - srgb_encode([0, 10 / 255, 128 / 255, 1])).max() <= 0.6


def test_grey_with_alpha_keeps_alpha():
    im = Image.fromarray(np.array([[[128, 7], [255, 255]]], np.uint8), "LA")
    image = load_image(saved(im, icc_profile=LINEAR_GREY))
    assert image[0, 0].tolist() == [188, 188, 188, 7]


def test_keep_profile_with_grey_profile_converts_with_warning():
    im = Image.fromarray(np.full((2, 2), 128, np.uint8), "L")
    with pytest.warns(UserWarning, match="greyscale profile .* converted to sRGB"):
        image, info = read_image(saved(im, icc_profile=LINEAR_GREY), keep_profile=True)
    assert image[0, 0].tolist() == [188, 188, 188] and info.icc_profile is None


# --- PNG gAMA / cHRM ---------------------------------------------------------------------------------


def gama_png(pixels, gamma=None, chrm=None):
    info = PngImagePlugin.PngInfo()
    if gamma is not None:
        info.add(b"gAMA", struct.pack(">I", round(gamma * 100000)))
    if chrm is not None:
        info.add(b"cHRM", struct.pack(">8I", *(round(v * 100000) for v in chrm)))
    return saved(Image.fromarray(pixels), pnginfo=info)


def test_gama_linear():
    pixels = np.array([[[128, 64, 1], [0, 255, 200]]], np.uint8)
    image, info = read_image(gama_png(pixels, gamma=1.0))
    assert info.converted and info.profile == "gAMA 1"
    assert np.abs(image - srgb_encode(pixels / 255.0)).max() <= 0.6


def test_gama_2_2_changes_only_the_shadows():
    ramp = np.arange(256, dtype=np.uint8)
    pixels = np.stack([ramp] * 3, -1)[None]
    image = load_image(gama_png(pixels, gamma=1 / 2.2))
    expected = srgb_encode((ramp / 255.0) ** 2.2)  # 10 -> 3: pure 2.2 is darker than sRGB's toe
    assert np.abs(image[0, :, 0] - expected).max() <= 0.6
    assert np.abs(image[0, 64:, 0].astype(int) - ramp[64:]).max() <= 2


def test_gama_grey_png():
    image = load_image(saved(Image.fromarray(np.array([[128]], np.uint8), "L"), pnginfo=_gama_info(1.0)))
    assert image[0, 0].tolist() == [188, 188, 188]


def _gama_info(gamma):
    info = PngImagePlugin.PngInfo()
    info.add(b"gAMA", struct.pack(">I", round(gamma * 100000)))
    return info


def test_chrm_p3_matches_the_display_p3_profile():
    original = colours()
    tagged = np.asarray(to_profile(original, P3))
    from_icc = load_image(saved(Image.fromarray(tagged), icc_profile=P3))
    from_chrm, info = read_image(gama_png(tagged, chrm=P3_CHRM))  # no gAMA: sRGB's curve, as P3's
    assert info.profile == "cHRM" and info.converted
    assert np.abs(from_chrm.astype(int) - from_icc).max() <= 1


def test_matrix_profile_matches_the_real_one():
    """The profile built from P3's primaries converts as the published Display P3 profile does."""
    synthetic = icc_matrix_profile("P3", kicc._SRGB_TRC, P3_CHRM)
    assert len(synthetic) < 500
    a, _ = kicc.transform_to_srgb(synthetic, "RGB")
    b, _ = kicc.transform_to_srgb(P3, "RGB")
    probe = Image.fromarray(kicc._PROBE_RGB)
    assert np.abs(np.asarray(a.apply(probe)).astype(int) - np.asarray(b.apply(probe))).max() <= 1


@pytest.mark.parametrize(
    ("gamma", "chrm", "match"),
    [(0.0, None, "gAMA 0 unusable"), (None, (0.3, 0.3, 0.3, 0.3, 0.3, 0.3, 0.3, 0.3), "cHRM .* unusable")],
    ids=["zero-gamma", "flat-chrm"],
)
def test_unusable_gama_chrm_warn(gamma, chrm, match):
    pixels = colours()
    info = PngImagePlugin.PngInfo()
    if gamma is not None:
        info.add(b"gAMA", struct.pack(">I", 0))
    if chrm is not None:
        info.add(b"cHRM", struct.pack(">8I", *(round(v * 100000) for v in chrm)))
    with pytest.warns(UserWarning, match=match):
        image = load_image(saved(Image.fromarray(pixels), pnginfo=info))
    np.testing.assert_array_equal(image, pixels)


# --- CMYK ----------------------------------------------------------------------------------------------


def cmyk_profile():
    """A 360-byte CMYK printer profile whose colour depends on the black ink only.

    No ink is Lab (100, 0, 0), full black Lab (0, 0, 0), whatever the cyan, magenta and yellow:
    a CMYK pixel read through it is grey, where Pillow's plain conversion gives colours.
    """
    grid = []
    for _c in range(2):
        for _m in range(2):
            for _y in range(2):
                for k in range(2):
                    grid += [0 if k else 0xFF00, 0x8000, 0x8000]  # v2 16-bit Lab encoding
    lut = (
        b"mft2" + bytes(4) + bytes([4, 3, 2, 0])
        + b"".join(struct.pack(">i", v) for v in (65536, 0, 0, 0, 65536, 0, 0, 0, 65536))
        + struct.pack(">HH", 2, 2) + struct.pack(">8H", *([0, 65535] * 4))
        + struct.pack(f">{len(grid)}H", *grid) + struct.pack(">6H", *([0, 65535] * 3))
    )
    desc = kicc._text_tag("grey ink")
    wtpt = kicc._xyz_tag(kicc._D50)
    tags = [(b"desc", desc), (b"wtpt", wtpt), (b"A2B0", lut)]
    start = 128 + 4 + 12 * len(tags)
    table, body = b"", b""
    for sig, data in tags:
        table += sig + struct.pack(">II", start + len(body), len(data))
        body += data + bytes(-len(data) % 4)
    header = (
        struct.pack(">I", start + len(body)) + bytes(4) + struct.pack(">I", 0x02100000) + b"prtrCMYKLab "
        + bytes(12) + b"acsp" + bytes(28) + b"".join(kicc._s15f16(v) for v in kicc._D50) + bytes(48)
    )
    return header + struct.pack(">I", len(tags)) + table + body


def cmyk_jpeg(profile=None):
    ink = np.zeros((16, 48, 4), np.uint8)
    ink[:, :16] = (255, 0, 0, 0)  # full cyan, no black
    ink[:, 16:32] = (0, 200, 100, 128)  # half black
    ink[:, 32:] = (0, 0, 0, 255)  # full black
    params = {"quality": 100} | ({"icc_profile": profile} if profile else {})
    return saved(Image.fromarray(ink, "CMYK"), "JPEG", **params)


def test_cmyk_jpeg_through_its_profile():
    profile = cmyk_profile()
    assert len(profile) < 500
    image, info = read_image(cmyk_jpeg(profile))
    assert info.converted and info.profile == "grey ink"
    assert np.abs(image[8, 8].astype(int) - 255).max() <= 2  # no black ink: white paper
    assert np.abs(image[8, 24].astype(int) - 119).max() <= 3  # L* 50 is sRGB 119
    assert np.abs(image[8, 40].astype(int) - 0).max() <= 2
    naive = load_image(cmyk_jpeg())  # no profile: Pillow's conversion, as before
    assert naive[8, 8].tolist() == [0, 255, 255]


def test_cmyk_profile_cannot_be_kept():
    with pytest.warns(UserWarning, match="CMYK profile .* converted to sRGB"):
        image, info = read_image(cmyk_jpeg(cmyk_profile()), keep_profile=True)
    assert info.icc_profile is None and info.converted and image[8, 8].min() >= 253


# --- broken profiles -----------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("profile", "mode", "match"),
    [
        (b"not an ICC profile at all", "RGB", "ICC profile unreadable"),
        (P3[:200], "RGB", "ICC profile unreadable"),
        (ImageCms.ImageCmsProfile(ImageCms.createProfile("LAB")).tobytes(), "RGB", "is for Lab colour"),
        (LINEAR_GREY, "RGB", "greyscale ICC profile .* ignored"),
        (P3, "L", None),  # an RGB profile on a grey image: applied to its grey RGB pixels
    ],
    ids=["garbage", "truncated", "lab", "grey-on-rgb", "rgb-on-grey"],
)
def test_bad_or_mismatched_profile_warns_never_crashes(profile, mode, match):
    pixels = colours() if mode == "RGB" else colours()[..., 0]
    buf = saved(Image.fromarray(pixels, mode), icc_profile=profile)
    if match is None:
        with warnings.catch_warnings():
            warnings.simplefilter("error")
            image = load_image(buf)
        assert image.shape == (64, 64, 3)
        return
    with pytest.warns(UserWarning, match=match):
        image, info = read_image(buf)
    np.testing.assert_array_equal(image, pixels if mode == "RGB" else np.dstack([pixels] * 3))
    assert not info.converted


def test_profile_from_pil_image_info():
    tagged = to_profile(colours(), P3)
    tagged.info["icc_profile"] = P3
    assert np.abs(load_image(tagged).astype(int) - colours()).max() <= 3  # as in test_tagged_image_comes_back_in_srgb


@pytest.mark.parametrize("k", [4, 16])
def test_srgb_tagged_and_untagged_give_the_same_bytes(k):
    """Whatever says sRGB (nothing, an sRGB profile, an sRGB chunk) gives one and the same file."""
    from kmeans_compress import KMeansQuantizer

    original = colours()
    srgb_chunk = PngImagePlugin.PngInfo()
    srgb_chunk.add(b"sRGB", b"\0")
    sources = [
        saved(Image.fromarray(original)),
        saved(Image.fromarray(original), icc_profile=SRGB),
        saved(Image.fromarray(original), pnginfo=srgb_chunk),
        saved(Image.fromarray(original), "WEBP", lossless=True, icc_profile=SRGB),
    ]
    outputs = set()
    for source in sources:
        image, info = read_image(source)
        q = KMeansQuantizer(k, random_state=0).fit(image)
        outputs.add(encode_palette_png(q.palette_, q.labels_, icc_profile=info.icc_profile, dpi=info.dpi))
    assert len(outputs) == 1
    assert [name for name, _ in png_chunks(outputs.pop())] == ["IHDR", "sRGB", "PLTE", "IDAT", "IEND"]
