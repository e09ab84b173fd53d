"""Tagged photos before and after colour management, as a colour-managed viewer sees them.

Run from the repository root::

    python benchmarks/bench_color_management.py          # k = 16, 64, 256
    python benchmarks/bench_color_management.py -k 64
    python benchmarks/bench_color_management.py --timing   # what the conversion costs on 12 MP

For each benchmark photo (``benchmarks/photos/*.png``, sRGB) and each profile (Display P3 as PNG,
Adobe RGB as JPEG quality 92, ProPhoto as PNG; ``tests/data/icc/``), the photo is converted to the
profile with LittleCMS and saved with the profile embedded, as a phone, camera or editor does;
the "untagged" reference is the same sRGB photo saved the same way without a profile.

"What a viewer sees" is the file decoded and converted through its tag to sRGB (relative
colorimetric, LittleCMS); an untagged file or one with an ``sRGB`` chunk is shown as it is.
PSNR compares what the viewer shows for the output with what it shows for the input:

* ``untagged``: the untagged file through the package (the target);
* ``before``: the tagged file as the package read it before colour management: pixels taken
  as sRGB (Pillow's plain ``convert("RGB")``), quantized, written without a tag;
* ``srgb``: the tagged file through :func:`~kmeans_compress._load.read_image` (converted to
  sRGB), PNG with an ``sRGB`` chunk;
* ``keep``: ``read_image(..., keep_profile=True)``, pixels left in the profile's values,
  quantized as ``compress_file(..., keep_profile=True)`` does
  (:func:`~kmeans_compress._kept_profile.fit_quantizer`: clusters chosen on the colours seen
  through the profile, palette in stored values), PNG with the profile embedded (``iCCP``).

Every route uses ``KMeansQuantizer(k, random_state=0)`` with its defaults (through
``fit_quantizer``, the same fit without a profile) and :func:`~kmeans_compress.encode_palette_png`.
The last two columns are the sRGB route against the untagged photo and ``--keep-profile``
against the sRGB route.

``--timing`` instead reads a 12-megapixel photo (the first corpus photo upscaled with Lanczos,
written to a temporary folder as PNG) untagged and tagged Display P3, best of 3, interleaved.
"""

from __future__ import annotations

import argparse
import io
import sys
import tempfile
import time
from pathlib import Path

import numpy as np
from PIL import Image, ImageCms

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from kmeans_compress import KMeansQuantizer, psnr  # noqa: E402
from kmeans_compress._encode import encode_palette_png  # noqa: E402
from kmeans_compress._kept_profile import fit_quantizer  # noqa: E402
from kmeans_compress._load import read_image  # noqa: E402

ICC = ROOT / "tests" / "data" / "icc"
CASES = [
    ("Display P3", "DisplayP3-v4.icc", "PNG"),
    ("Adobe RGB", "AdobeCompat-v4.icc", "JPEG"),
    ("ProPhoto", "ProPhoto-v4.icc", "PNG"),
]
SRGB = ImageCms.createProfile("sRGB")


def save(im, fmt, icc=None):
    params = {"quality": 92} if fmt == "JPEG" else {}
    if icc is not None:
        params["icc_profile"] = icc
    buf = io.BytesIO()
    im.save(buf, format=fmt, **params)
    return buf.getvalue()


def seen(data):
    """What a colour-managed viewer shows for a file: its pixels converted through its tag to sRGB."""
    with Image.open(io.BytesIO(data)) as opened:
        im = opened.convert("RGB") if opened.mode != "RGB" else opened.copy()
        icc = im.info.get("icc_profile") if "srgb" not in im.info else None
        if icc:
            profile = ImageCms.ImageCmsProfile(io.BytesIO(icc))
            im = ImageCms.profileToProfile(im, profile, SRGB, renderingIntent=ImageCms.Intent.RELATIVE_COLORIMETRIC)
        return np.asarray(im)


def compress(pixels, k, icc=None):
    q = fit_quantizer(pixels, k, icc_profile=icc, random_state=0)
    return encode_palette_png(q.palette_, q.labels_, icc_profile=icc)


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("-k", type=int, nargs="+", default=[16, 64, 256])
    parser.add_argument("--timing", action="store_true", help="time reading a 12 MP photo, untagged and tagged")
    args = parser.parse_args(argv)
    photos = sorted((ROOT / "benchmarks" / "photos").glob("*.png"))
    if not photos:
        raise SystemExit("no photos in benchmarks/photos")
    if args.timing:
        timing(photos[0])
        return
    print(
        f"{'photo':12s} {'tag':11s} {'k':>4s} {'untagged':>9s} {'before':>8s} {'srgb':>8s} {'keep':>8s} {'s-u':>6s} "
        f"{'keep-s':>6s}   PSNR dB as a viewer sees it"
    )
    worst, keep_gap = {}, {}
    for path in photos:
        original = Image.open(path).convert("RGB")
        for tag, icc_name, fmt in CASES:
            icc = (ICC / icc_name).read_bytes()
            to_tag = ImageCms.buildTransform(
                SRGB, ImageCms.ImageCmsProfile(io.BytesIO(icc)), "RGB", "RGB",
                renderingIntent=ImageCms.Intent.RELATIVE_COLORIMETRIC,
            )
            tagged = save(to_tag.apply(original), fmt, icc)
            untagged = save(original, fmt)
            for k in args.k:
                ref_u, ref_t = seen(untagged), seen(tagged)
                u = psnr(ref_u, seen(compress(read_image(io.BytesIO(untagged))[0], k)))
                raw = np.asarray(Image.open(io.BytesIO(tagged)).convert("RGB"))
                before = psnr(ref_t, seen(_untagged_png(raw, k)))
                converted, info = read_image(io.BytesIO(tagged))
                assert info.converted
                s = psnr(ref_t, seen(compress(converted, k)))
                kept, info = read_image(io.BytesIO(tagged), keep_profile=True)
                keep_png = compress(kept, k, info.icc_profile)
                assert Image.open(io.BytesIO(keep_png)).info["icc_profile"] == icc
                kp = psnr(ref_t, seen(keep_png))
                worst[tag] = min(worst.get(tag, np.inf), s - u)
                keep_gap.setdefault(tag, []).append(kp - s)
                print(
                    f"{path.stem:12s} {tag:11s} {k:>4d} {u:9.2f} {before:8.2f} {s:8.2f} {kp:8.2f} {s - u:+6.2f} "
                    f"{kp - s:+6.2f}",
                    flush=True,
                )
    print()
    for tag, gap in worst.items():
        gaps = keep_gap[tag]
        print(
            f"{tag}: sRGB route at worst {gap:+.2f} dB against the untagged photo; "
            f"--keep-profile {min(gaps):+.2f} to {max(gaps):+.2f} dB against the sRGB route"
        )


def timing(photo, repeats=3):
    with Image.open(photo) as im:
        scale = (12e6 / (im.width * im.height)) ** 0.5
        big = im.convert("RGB").resize((round(im.width * scale), round(im.height * scale)), Image.Resampling.LANCZOS)
    with tempfile.TemporaryDirectory() as tmp:
        files = {"untagged": Path(tmp) / "untagged.png", "Display P3": Path(tmp) / "p3.png"}
        big.save(files["untagged"], compress_level=1)
        big.save(files["Display P3"], compress_level=1, icc_profile=(ICC / "DisplayP3-v4.icc").read_bytes())
        best = dict.fromkeys(files, float("inf"))
        for _ in range(repeats):
            for name, path in files.items():
                start = time.perf_counter()
                read_image(path)
                best[name] = min(best[name], time.perf_counter() - start)
    print(
        f"read_image, {big.width}x{big.height} PNG, best of {repeats}: "
        + ", ".join(f"{n} {t:.2f} s" for n, t in best.items())
    )


def _untagged_png(pixels, k):
    """The PNG the package wrote before: pixels taken as sRGB, no colour tag at all."""
    q = KMeansQuantizer(k, random_state=0).fit(pixels)
    im = Image.fromarray(q.palette_[q.labels_])
    buf = io.BytesIO()
    im.save(buf, format="PNG")
    return buf.getvalue()


if __name__ == "__main__":
    main()
