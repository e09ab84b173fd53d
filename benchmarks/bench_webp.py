"""Lossless WebP against the project's PNG for quantized images: size and encoding time.

Run from the repository root::

    python benchmarks/bench_webp.py              # methods 0-6 x quality 0/50/100, k = 16, 64, 256
    python benchmarks/bench_webp.py --quick      # method 2, 4, 6 at quality 100 only
    python benchmarks/bench_webp.py --large --quick --repeats 1   # a 12 MP photo only

Images: the benchmark photos ``benchmarks/photos/*.png`` and the project's ``images/*.png``. Each is
quantized once per k with :class:`~kmeans_compress.KMeansQuantizer` (defaults,
``random_state=0``); the same palette and indices are then encoded as the PNG
(:func:`~kmeans_compress.encode_palette_png`, oxipng) and as lossless WebP at each libwebp
``method`` and ``quality`` (both are effort settings in lossless mode). ``--large`` measures
only a 12-megapixel photo made by upscaling the first corpus photo with Lanczos (in memory). Every WebP is decoded
and checked to give exactly the PNG's pixels.

Times are the best of ``--repeats`` encodes; the encoders take turns within each repeat, so a
burst of load on a shared machine hits them alike. The table gives, per setting, the total
bytes over all images as a percentage of the PNGs' total, the smallest and largest per-image
ratio, and the total encoding time against the PNG's.
"""

from __future__ import annotations

import argparse
import hashlib
import io
import sys
import time
from pathlib import Path

import numpy as np
from PIL import Image

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from kmeans_compress import KMeansQuantizer, encode_palette_png, load_image  # noqa: E402
from kmeans_compress._encode import encode_palette_webp  # noqa: E402


def images(large=False):
    """Corpus photos, then the project's images; a file whose pixels repeat an earlier one is skipped."""
    if large:
        first = sorted((ROOT / "benchmarks" / "photos").glob("*.png"))[0]
        with Image.open(first) as im:
            scale = (12e6 / (im.width * im.height)) ** 0.5
            big = im.convert("RGB").resize(
                (round(im.width * scale), round(im.height * scale)), Image.Resampling.LANCZOS
            )
        return [(f"{first.stem}-12MP", np.asarray(big))]
    paths = sorted((ROOT / "benchmarks" / "photos").glob("*.png")) + sorted((ROOT / "images").glob("*.png"))
    seen, out = set(), []
    for path in paths:
        image = load_image(path)
        key = hashlib.sha256(image.tobytes() + str(image.shape).encode()).hexdigest()
        if key not in seen:
            seen.add(key)
            out.append((path.name, image))
    return out


def timed(fn, repeats):
    best, out = float("inf"), None
    for _ in range(repeats):
        start = time.perf_counter()
        out = fn()
        best = min(best, time.perf_counter() - start)
    return out, best


def decoded(data):
    with Image.open(io.BytesIO(data)) as im:
        return np.asarray(im.convert("RGBA"))


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--quick", action="store_true")
    parser.add_argument("--repeats", type=int, default=3)
    parser.add_argument("-k", type=int, nargs="+", default=[16, 64, 256])
    parser.add_argument("--large", action="store_true", help="a 12 MP photo instead of the corpus")
    args = parser.parse_args(argv)
    settings = [(m, 100) for m in (2, 4, 6)] if args.quick else [(m, q) for m in range(7) for q in (0, 50, 100)]
    rows = []  # (image, k, setting, bytes, seconds)
    for name, image in images(args.large):
        for k in args.k:
            q = KMeansQuantizer(k, random_state=0).fit(image)
            pal, lab = q.palette_, q.labels_
            encoders = [("png", lambda pal=pal, lab=lab: encode_palette_png(pal, lab))]
            encoders += [
                (s, lambda s=s, pal=pal, lab=lab: encode_palette_webp(pal, lab, method=s[0], quality=s[1]))
                for s in settings
            ]
            best = {key: float("inf") for key, _ in encoders}
            data = {}
            for _ in range(args.repeats):  # interleaved: each repeat runs every encoder once
                for key, fn in encoders:
                    out, sec = timed(fn, 1)
                    best[key] = min(best[key], sec)
                    data[key] = out
            reference = decoded(data["png"])
            for key, _ in encoders:
                if key != "png" and not np.array_equal(decoded(data[key]), reference):
                    msg = f"{name} k={k} WebP {key} does not decode to the PNG's pixels"
                    raise SystemExit(msg)
                rows.append((name, k, key, len(data[key]), best[key]))
            png = len(data["png"])
            line = "  ".join(f"m{s[0]}q{s[1]} {100 * len(data[s]) / png:5.1f}%" for s in settings if s[1] == 100)
            print(f"{name:14s} k={k:<3d} PNG {png:>8,} B {best['png']:.3f} s   {line}", flush=True)
    print()
    print(
        f"{'setting':10s} {'bytes vs PNG':>12s} {'min':>6s} {'max':>6s} {'time vs PNG':>11s}   (totals over "
        f"{len(rows) // (len(settings) + 1)} images x k)"
    )
    for k in [*args.k, None]:
        sel = [r for r in rows if k is None or r[1] == k]
        png_b = sum(r[3] for r in sel if r[2] == "png")
        png_t = sum(r[4] for r in sel if r[2] == "png")
        per_png = {(r[0], r[1]): r[3] for r in sel if r[2] == "png"}
        print(f"-- k = {k if k is not None else 'all'}: PNG {png_b:,} B in {png_t:.2f} s")
        for s in settings:
            mine = [r for r in sel if r[2] == s]
            ratios = [r[3] / per_png[(r[0], r[1])] for r in mine]
            tot_b = sum(r[3] for r in mine)
            tot_t = sum(r[4] for r in mine)
            print(
                f"m{s[0]} q{s[1]:<3d}    {100 * tot_b / png_b:11.1f}% {100 * min(ratios):5.1f}% "
                f"{100 * max(ratios):5.1f}% "
                f"{tot_t / png_t:10.2f}x"
            )


if __name__ == "__main__":
    main()
