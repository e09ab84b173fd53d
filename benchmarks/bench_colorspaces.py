"""Colour space and dithering, measured: k x space x dither -> PSNR, SSIM, mean ΔE, bytes, seconds.

Run from the repository root::

    python benchmarks/bench_colorspaces.py                # corpus, images/, a synthetic gradient
    python benchmarks/bench_colorspaces.py --corpus DIR --ks 8,16,64 --repeats 3

For every image, k in ``--ks``, space in rgb/lab/oklab and dither off/on it quantizes with
:func:`kmeans_compress.quantize` (``random_state=0``, other parameters at the package defaults)
and reports

* ``seconds``: median over ``--repeats`` of the quantization alone (fit, label, dither); the
  six space x dither settings are timed in turn within each repeat, so a burst of load on a
  shared machine hits them alike;
* ``psnr``, ``ssim``: the package's pixel-by-pixel measures;
* ``ssim_s1``: SSIM of both images after :func:`kmeans_compress.smooth_image` (``sigma=1``);
* ``de``: mean CIEDE2000 pixel by pixel (:func:`kmeans_compress.delta_e`, ``sigma=0``);
* ``de_s1``: the same after a Gaussian of 1 pixel in linear light (``sigma=1``): what is left at
  viewing distance, where dithering noise averages out and banding does not;
* ``bytes``: the indexed PNG from :func:`kmeans_compress.encode_palette_png`.

It prints one markdown table per image, then summaries (means over the photos, per k), and
saves every row as CSV in ``benchmarks/results/`` (ignored by git).

Comparing spaces at the same k hides that they spend bytes differently (Lab's palettes compress
better). ``--equal-bytes`` adds a rate-distortion view for the photos: each space is swept
(no dithering) over ``--fine-ks`` with :func:`kmeans_compress._sweep.sweep`, and PSNR, SSIM and
ΔE00 of the other spaces are interpolated (linearly in log bytes) at RGB's file sizes. Dithering is not applied
to images with alpha (the package warns and maps to the nearest colour); those rows say so.
"""

from __future__ import annotations

import argparse
import csv
import hashlib
import statistics
import sys
import time
import warnings
from pathlib import Path

import numpy as np

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from kmeans_compress import delta_e, load_image, measure, quantize, smooth_image, ssim, sweep  # noqa: E402

SPACES = ("rgb", "lab", "oklab")
FIELDS = [
    "image", "kind", "k", "space", "dither", "n_colors", "n_iter",
    "psnr", "ssim", "ssim_s1", "de", "de_s1", "bytes", "seconds",
]  # fmt: skip


def synthetic_gradient(height=256, width=512):
    """A smooth two-axis colour gradient (blue-violet to orange, darker to lighter): many colours, no edges."""
    x = np.linspace(0.0, 1.0, width)[None, :]
    y = np.linspace(0.0, 1.0, height)[:, None]
    img = np.empty((height, width, 3))
    img[..., 0] = 40 + 180 * x + 0 * y
    img[..., 1] = 60 + 120 * y + 0 * x
    img[..., 2] = 200 - 150 * x + 0 * y
    return np.clip(np.rint(img), 0, 255).astype(np.uint8)


def collect_images(corpus, project_images):
    """(name, kind, image) for the corpus photos, the project's images and the gradient.

    An image whose pixels equal one already listed (``images/parrots.png`` is the corpus's
    ``kodim23.png``) is skipped, so that no photo counts twice in the means.
    """
    out, seen = [], {}
    paths = sorted(Path(corpus).glob("*.png")) if corpus and Path(corpus).is_dir() else []
    paths += sorted(Path(project_images).glob("*.png"))
    for path in paths:
        image = load_image(path)
        key = hashlib.sha256(str(image.shape).encode() + image.tobytes()).hexdigest()
        if key in seen:
            print(f"note: {path.name} has the same pixels as {seen[key]}; skipped", file=sys.stderr)
            continue
        seen[key] = path.name
        if path.parent == Path(corpus) or path.stem == "parrots":
            kind = "photo"
        else:
            kind = "rgba" if image.shape[2] == 4 else "graphic"
        out.append((path.name, kind, image))
    out.append(("gradient (synthetic)", "gradient", synthetic_gradient()))
    return out


def _quantize(image, k, space, dither):
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", UserWarning)  # RGBA + dither, and k above the colours
        return quantize(image, k, color_space=space, dither=dither, random_state=0)


def measure_k(image, k, repeats):
    """All space x dither settings at one k: timings interleaved, then the measures."""
    settings = [(space, dither) for space in SPACES for dither in (False, True)]
    times = {s: [] for s in settings}
    results = {}
    for _ in range(repeats):
        for space, dither in settings:
            start = time.perf_counter()
            results[space, dither] = _quantize(image, k, space, dither)
            times[space, dither].append(time.perf_counter() - start)
    smooth_ref = smooth_image(image, sigma=1.0)
    rows = []
    for (space, dither), result in results.items():
        q = result.image
        kmeans = result.quantizer.kmeans_
        m = measure(image, result.quantizer)  # the package's own figures: bytes, PSNR, SSIM, ΔE
        rows.append(
            {
                "k": k,
                "space": space,
                "dither": dither,
                "n_colors": result.n_colors,
                "n_iter": 0 if kmeans is None else int(kmeans.n_iter_),
                "psnr": m.psnr,
                "ssim": m.ssim,
                "ssim_s1": ssim(smooth_ref, smooth_image(q, sigma=1.0)),
                "de": m.delta_e,
                "de_s1": delta_e(image, q, sigma=1.0),
                "bytes": m.bytes_out,
                "seconds": statistics.median(times[space, dither]),
            }
        )
    return rows


def _fmt(row):
    dither = ("on" if row["dither"] else "off") + (" (n/a: alpha)" if row["dither"] and row["kind"] == "rgba" else "")
    return (
        f"| {row['k']} | {row['space']} | {dither} | {row['psnr']:.2f} | {row['ssim']:.4f} | {row['ssim_s1']:.4f} | "
        f"{row['de']:.2f} | {row['de_s1']:.2f} | {row['bytes']:,} | {row['seconds']:.3f} |"
    )


HEADER = (
    "| k | space | dither | PSNR dB | SSIM | SSIM σ=1 | ΔE00 | ΔE00 σ=1 | bytes | seconds |\n"
    "|---:|---|---|---:|---:|---:|---:|---:|---:|---:|"
)


def summarise(rows, kind, ks):
    """Means over the images of one kind: one line per (k, space, dither); ratios against rgb/off."""
    sel = [r for r in rows if r["kind"] == kind]
    names = sorted({r["image"] for r in sel})
    if not sel:
        return ""
    lines = [
        (
            f"\nMean over {len(names)} {kind} image(s) ({', '.join(names)}); time ratio is against rgb without "
            "dithering at the same k (mean of per-image ratios).\n"
        ),
        "| k | space | dither | PSNR dB | SSIM | SSIM σ=1 | ΔE00 | ΔE00 σ=1 | bytes | seconds | time ratio |",
        "|---:|---|---|---:|---:|---:|---:|---:|---:|---:|---:|",
    ]
    for k in ks:
        base = {r["image"]: r["seconds"] for r in sel if r["k"] == k and r["space"] == "rgb" and not r["dither"]}
        for space in SPACES:
            for dither in (False, True):
                grp = [r for r in sel if r["k"] == k and r["space"] == space and r["dither"] == dither]
                if not grp:
                    continue

                def mean(key, grp=grp):
                    return statistics.fmean(r[key] for r in grp)

                ratio = statistics.fmean(r["seconds"] / base[r["image"]] for r in grp)
                lines.append(
                    f"| {k} | {space} | {'on' if dither else 'off'} | {mean('psnr'):.2f} | {mean('ssim'):.4f} | "
                    f"{mean('ssim_s1'):.4f} | {mean('de'):.2f} | {mean('de_s1'):.2f} | {mean('bytes'):,.0f} | "
                    f"{mean('seconds'):.3f} | "
                    f"{ratio:.2f} |"
                )
    return "\n".join(lines)


def equal_bytes(images, fine_ks, ks):
    """Markdown table: each space's quality at RGB's file sizes (photos, no dithering)."""

    lines = [
        (
            "\nAt equal bytes (photos, no dithering): each space swept over k = "
            f"{', '.join(map(str, fine_ks))}; its PSNR, SSIM and ΔE00 interpolated linearly in log(bytes) "
            "at the size of RGB's file at k.\n"
        ),
        "| image | k (rgb) | rgb bytes | space | PSNR dB | SSIM | ΔE00 |",
        "|---|---:|---:|---|---:|---:|---:|",
    ]
    for name, kind, image in images:
        if kind != "photo":
            continue
        curves = {}
        for space in SPACES:
            rows = sweep(image, fine_ks, color_space=space, random_state=0)
            rows.sort(key=lambda r: r.bytes_out)
            curves[space] = (
                np.log([r.bytes_out for r in rows]),
                {m: np.array([getattr(r, m) for r in rows]) for m in ("psnr", "ssim", "delta_e")},
            )
        rgb_rows = {r.k: r for r in sweep(image, ks, color_space="rgb", random_state=0)}
        for k in ks:
            size = rgb_rows[k].bytes_out
            for space in SPACES:
                logb, vals = curves[space]
                if not logb[0] <= np.log(size) <= logb[-1]:
                    lines.append(f"| {name} | {k} | {size:,} | {space} | (outside swept sizes) | | |")
                    continue
                got = {m: float(np.interp(np.log(size), logb, v)) for m, v in vals.items()}
                lines.append(
                    f"| {name} | {k} | {size:,} | {space} | {got['psnr']:.2f} | {got['ssim']:.4f} | "
                    f"{got['delta_e']:.2f} |"
                )
    return "\n".join(lines)


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument(
        "--corpus", default=str(ROOT / "benchmarks" / "photos"), help="folder of PNG photos (default benchmarks/photos)"
    )
    parser.add_argument("--images", default=str(ROOT / "images"), help="the project's images folder")
    parser.add_argument("--ks", default="8,16,64", help="palette sizes, comma-separated (default 8,16,64)")
    parser.add_argument("--repeats", type=int, default=5, help="timing repeats; the median is reported (default 5)")
    parser.add_argument("--equal-bytes", action="store_true", help="add the equal-bytes comparison (photos)")
    parser.add_argument("--fine-ks", default="4,6,8,10,12,16,20,24,32,40,48,64,80,96,128")
    parser.add_argument("--out", default=str(ROOT / "benchmarks" / "results" / "bench_colorspaces.csv"))
    args = parser.parse_args(argv)
    ks = [int(k) for k in args.ks.split(",")]
    images = collect_images(args.corpus, args.images)
    if not any(kind == "photo" and name.startswith("kodim") for name, kind, _ in images):
        print(f"note: no corpus photos found in {args.corpus} (use --corpus DIR)", file=sys.stderr)
    rows = []
    for name, kind, image in images:
        print(f"\n### {name} ({image.shape[1]}x{image.shape[0]}, {kind})\n\n{HEADER}", flush=True)
        for k in ks:
            for measured in measure_k(image, k, args.repeats):
                row = {"image": name, "kind": kind, **measured}
                rows.append(row)
                print(_fmt(row), flush=True)
    for kind in ("photo", "graphic", "gradient"):
        print(summarise(rows, kind, ks))
    if args.equal_bytes:
        print(equal_bytes(images, [int(k) for k in args.fine_ks.split(",")], ks), flush=True)
    out = Path(args.out)
    out.parent.mkdir(parents=True, exist_ok=True)
    with out.open("w", newline="") as fh:
        writer = csv.DictWriter(fh, fieldnames=FIELDS)
        writer.writeheader()
        writer.writerows(rows)
    print(f"\nsaved {len(rows)} rows to {out}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
