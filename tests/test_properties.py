"""Property tests (hypothesis) on small random images: modes RGB, RGBA and L, any k in 1..256."""

import io
import warnings

import numpy as np
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from PIL import Image

from kmeans_compress import ColorHistogram, compress_file, encode_palette_png, load_image, quantize
from kmeans_compress._encode import png_bit_depth

# Modest example counts keep the whole file near ten seconds; no example database on disk.
PROPERTY = settings(max_examples=40, deadline=None, database=None, suppress_health_check=[HealthCheck.too_slow])


@st.composite
def images(draw):
    """A small image loaded through ``load_image`` from a Pillow image of mode RGB, RGBA or L.

    Pixels come from a pool of a few colours so that images have both repeated colours and
    (often) more distinct colours than k. RGBA pools mix fully transparent, fully opaque and
    partly transparent entries.
    """
    mode = draw(st.sampled_from(["RGB", "RGBA", "L"]))
    height = draw(st.integers(1, 12))
    width = draw(st.integers(1, 12))
    n_pool = draw(st.integers(1, 60))
    rng = np.random.default_rng(draw(st.integers(0, 2**32 - 1)))
    channels = {"RGB": 3, "RGBA": 4, "L": 1}[mode]
    pool = rng.integers(0, 256, (n_pool, channels), dtype=np.uint8)
    if mode == "RGBA":
        kind = rng.integers(0, 3, n_pool)  # 0: transparent, 1: opaque, 2: as drawn
        pool[kind == 0, 3] = 0
        pool[kind == 1, 3] = 255
    pixels = pool[rng.integers(0, n_pool, (height, width))]
    if mode == "L":
        pixels = pixels[..., 0]
    return load_image(Image.fromarray(pixels, mode))


def canonical(image):
    """The image as the quantizer sees it: fully transparent pixels are (0, 0, 0, 0)."""
    out = image.copy()
    if out.shape[2] == 4:
        out[out[..., 3] == 0] = 0
    return out


def quiet_quantize(image, k, **params):
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", UserWarning)  # "k is more than the distinct colours"
        return quantize(image, k, **params)


def decode(png, channels):
    with Image.open(io.BytesIO(png)) as im:
        assert im.mode == "P"
        return np.asarray(im.convert("RGBA" if channels == 4 else "RGB"))


@PROPERTY
@given(image=images(), k=st.integers(1, 256))
def test_shape_palette_and_labels(image, k):
    result = quiet_quantize(image, k)
    height, width, channels = image.shape
    assert result.image.shape == (height, width, channels)
    assert result.image.dtype == np.uint8
    assert result.labels.shape == (height, width)
    assert result.labels.dtype == np.uint8
    assert 1 <= result.n_colors <= k
    assert result.palette.shape == (result.n_colors, channels)
    assert len(np.unique(result.palette, axis=0)) == result.n_colors
    assert np.array_equal(result.image, result.palette[result.labels])
    used = np.unique(result.image.reshape(-1, channels), axis=0)
    assert len(used) == result.n_colors  # every palette entry is used, every pixel is an entry


@PROPERTY
@given(image=images(), k=st.integers(1, 256))
def test_saved_png_decodes_to_the_quantized_image(image, k):
    result = quiet_quantize(image, k)
    png = encode_palette_png(result.palette, result.labels)
    assert png[24] == png_bit_depth(result.n_colors)  # IHDR bit depth: 1, 2, 4 or 8
    decoded = decode(png, image.shape[2])
    # Exact for RGBA too: the only fully transparent entry is (0, 0, 0, 0), and tRNS keeps the
    # other alphas, so Pillow's RGBA view of the palette PNG is the quantized array itself.
    assert np.array_equal(decoded, result.image)


@PROPERTY
@given(image=images(), k=st.integers(1, 256), seed=st.integers(0, 2**31 - 1))
def test_same_seed_same_bytes(image, k, seed):
    first = quiet_quantize(image, k, random_state=seed)
    second = quiet_quantize(image, k, random_state=seed)
    assert encode_palette_png(first.palette, first.labels) == encode_palette_png(second.palette, second.labels)


@PROPERTY
@given(image=images(), data=st.data())
def test_k_at_least_distinct_colours_is_exact(image, data):
    n_distinct = ColorHistogram.from_image(image).n_colors
    k = data.draw(st.integers(n_distinct, 256), label="k")  # at most 144 pixels, so n_distinct <= 144
    result = quiet_quantize(image, k)
    assert result.n_colors == n_distinct
    assert np.array_equal(result.image, canonical(image))
    assert result.quantizer.inertia_ == 0.0


@settings(max_examples=15, deadline=None, database=None)
@given(image=images(), k=st.integers(1, 256))
def test_compress_file_writes_what_was_measured(tmp_path_factory, image, k):
    folder = tmp_path_factory.mktemp("prop")
    src, dst = folder / "in.png", folder / "out.png"
    Image.fromarray(image).save(src)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", UserWarning)
        report = compress_file(src, dst, n_colors=k)
    assert sorted(p.name for p in folder.iterdir()) == ["in.png", "out.png"]
    assert report.measurement.bytes_out == dst.stat().st_size
    assert report.measurement.n_colors <= k
    assert load_image(src).shape == image.shape  # the input is untouched
    written = decode(dst.read_bytes(), image.shape[2])
    assert written.shape == image.shape
    expected = quiet_quantize(image, k).image
    assert np.array_equal(written, expected)


def test_same_bytes_in_a_fresh_process_with_one_thread():
    """Same versions and seed give the same bytes across processes and OpenMP thread counts
    (scikit-learn's multi-threaded sums can differ in the last bits; the 8-bit palette does not)."""
    import hashlib
    import os
    import subprocess
    import sys
    from pathlib import Path

    root = Path(__file__).resolve().parents[1]
    code = (
        "import hashlib\n"
        "from kmeans_compress import load_image, quantize, encode_palette_png\n"
        "r = quantize(load_image('images/badge_rgba.png'), 16, random_state=3)\n"
        "print(hashlib.sha256(encode_palette_png(r.palette, r.labels)).hexdigest())\n"
    )
    env = {**os.environ, "OMP_NUM_THREADS": "1", "OPENBLAS_NUM_THREADS": "1", "PYTHONHASHSEED": "123"}
    done = subprocess.run(
        [sys.executable, "-c", code], cwd=root, env=env, capture_output=True, text=True, timeout=120, check=True
    )
    result = quantize(load_image(root / "images" / "badge_rgba.png"), 16, random_state=3)
    assert done.stdout.strip() == hashlib.sha256(encode_palette_png(result.palette, result.labels)).hexdigest()
