"""kmeans_compress against the other colour quantizers: quality, bytes, time and memory.

Run from the repository root (after ``pip install -r requirements.txt -r benchmarks/requirements.txt``)::

    python benchmarks/bench_quantizers.py            # the full run, about 6 to 9 minutes on 2 cores
    python benchmarks/bench_quantizers.py --quick    # k=16 and 256, one repeat, no 12 MP image

Images: ``../shared/corpus/*.png`` (when present), the project's ``images/*.png`` (a file whose
pixels repeat an earlier one is skipped), a synthetic flat-colour graphic drawn here, and a
12-megapixel photo made by upscaling a corpus photo with Lanczos (written once to
``benchmarks/results/``). For every image and every k (4, 16, 64, 256) it runs

* ``kmeans_compress``: :class:`~kmeans_compress.KMeansQuantizer` with its defaults, PNG from
  :func:`~kmeans_compress.encode_palette_png`; ``kmc-exact`` is the same with
  ``histogram_bits=None`` (``KMeans`` on every distinct colour, the pre-benchmark default);
* ``notebook``: the original notebook's way, ``KMeans(n_clusters=k, random_state=0)`` fitted on
  every pixel, then ``predict``; each run in its own process, stopped after ``--cap`` seconds
  (only on the photos: it is the slow reference);
* ``gallery``: scikit-learn's colour-quantization example, ``KMeans`` fitted on 1,000 pixels
  drawn with ``shuffle(random_state=0)``, then ``predict`` on all;
* ``mediancut``, ``fastoctree``: ``PIL.Image.quantize`` without dithering (median cut cannot
  take RGBA: n/a there);
* ``imagequant``: libimagequant through the ``imagequant`` package, ``dithering_level=0``;
* ``pngquant``: the ``pngquant`` command with ``--nofs --speed 3``, when it is on the PATH
  (``apt-get install pngquant`` on Debian); its time is the whole command.

``seconds`` is the median over ``--repeats`` of the quantization alone, in this process, from
the decoded image to palette and indices (for Pillow and imagequant the PIL image is made
before the clock starts); the methods take turns within each repeat, so a burst of load on a
shared machine hits them alike. ``psnr`` and ``ssim`` compare the decoded output PNG with the
original (the package's measures: premultiplied for RGBA); ``bytes`` is each method's own
indexed PNG (Pillow's ``optimize=True`` save for the others, pngquant's own file).

On the 12 MP photo every method runs in its own process: ``seconds`` is then the whole job
(start, decode, quantize, encode, write), ``quantize_s`` the quantization step, and ``peak_mb``
the process's peak resident memory (``VmHWM``, Linux). ``kmc-cli`` is the command line as users
run it (it also computes PSNR, SSIM and ΔE for its report line).

It prints one table per k, the 12 MP table, ratios against kmeans_compress, and a check of the
targets of the project's performance issue; every row goes to
``benchmarks/results/quantizers-<time>.csv`` (ignored by git).
"""

from __future__ import annotations

import argparse
import contextlib
import csv
import hashlib
import io
import json
import os
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
import warnings
from pathlib import Path

import numpy as np
from PIL import Image, ImageDraw

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from kmeans_compress import ColorHistogram, KMeansQuantizer, encode_palette_png, load_image, psnr, ssim  # noqa: E402

KS = (4, 16, 64, 256)
RESULTS = ROOT / "benchmarks" / "results"
# ../shared/corpus from the project root (also found from a worktree one level further down)
CORPUS = next((p for p in (ROOT.parent / "shared" / "corpus", ROOT.parents[1] / "shared" / "corpus") if p.is_dir()), ROOT.parent / "shared" / "corpus")
BIG_SIZE = (4256, 2832)  # 12.05 megapixels
BIG_CAP_FACTOR = 1.5  # the notebook's way on 12 MP stops after 1.5 x --cap seconds
PHOTO_MIN_COLORS = 16_384  # more distinct colours than this: a photo (kodim10 has 21,537, cartoon.png 2,584)
FIELDS = [
    "image", "kind", "pixels", "k", "method", "seconds", "quantize_s", "psnr", "ssim", "bytes",
    "peak_mb", "status",
]  # fmt: skip


# ---------------------------------------------------------------------------------------------
# Images
# ---------------------------------------------------------------------------------------------


def flat_graphic(width=800, height=600):
    """A flat-colour graphic: 14 colours, hard edges, no anti-aliasing (a chart or a logo)."""
    colors = [
        (255, 255, 255), (30, 30, 30), (220, 50, 47), (38, 139, 210), (133, 153, 0), (181, 137, 0),
        (108, 113, 196), (42, 161, 152), (203, 75, 22), (211, 54, 130), (238, 232, 213),
        (88, 110, 117), (0, 43, 54), (253, 246, 227),
    ]  # fmt: skip
    im = Image.new("RGB", (width, height), colors[0])
    draw = ImageDraw.Draw(im)
    draw.rectangle([0, 0, width, 60], fill=colors[12])
    for i in range(12):  # a bar chart
        h = 40 + (i * 37) % 380
        draw.rectangle([60 + i * 55, 540 - h, 100 + i * 55, 540], fill=colors[2 + i % 10])
    for i in range(6):  # legend dots and frames
        draw.ellipse([700, 100 + i * 60, 740, 140 + i * 60], fill=colors[2 + i], outline=colors[1])
    draw.line([50, 540, 760, 540], fill=colors[1], width=3)
    draw.rectangle([20, 80, 780, 580], outline=colors[11], width=2)
    draw.rectangle([560, 420, 680, 520], fill=colors[10], outline=colors[13])
    return np.asarray(im)


def collect_images(corpus, with_big, work):
    """(name, kind, path) for every benchmark image; kind is 'photo' or 'graphic'."""
    found, seen = [], set()
    paths = sorted(Path(corpus).glob("*.png")) if corpus and Path(corpus).is_dir() else []
    if not paths:
        print(f"note: no corpus at {corpus}; using the project's images only", file=sys.stderr)
    paths += sorted((ROOT / "images").glob("*.png"))
    for path in paths:
        digest = hashlib.sha256(load_image(path).tobytes()).hexdigest()
        if digest in seen:
            print(f"note: {path.name} repeats an earlier image's pixels; skipped", file=sys.stderr)
            continue
        seen.add(digest)
        n_distinct = ColorHistogram.from_image(load_image(path)).n_colors
        kind = "photo" if n_distinct > PHOTO_MIN_COLORS else "graphic"
        found.append((path.stem, kind, path))
    flat = work / "flat_graphic.png"
    if not flat.exists():
        Image.fromarray(flat_graphic()).save(flat)
    found.append(("flat_graphic", "graphic", flat))
    if with_big:
        photos = [p for name, kind, p in found if kind == "photo"]
        big = work / "photo_12mp.png"
        if photos and not big.exists():
            print(f"making {big.name} from {photos[-1].name} (Lanczos to {BIG_SIZE[0]}x{BIG_SIZE[1]})", file=sys.stderr)
            Image.open(photos[-1]).convert("RGB").resize(BIG_SIZE, Image.LANCZOS).save(big, compress_level=1)
        if big.exists():
            found.append(("photo_12mp", "big", big))
    return found


# ---------------------------------------------------------------------------------------------
# Methods: each takes (image, pil, k) and returns (seconds of quantization, png bytes)
# ---------------------------------------------------------------------------------------------


def _pil_png(im):
    buf = io.BytesIO()
    im.save(buf, format="PNG", optimize=True)
    return buf.getvalue()


def _as_p(palette, labels):
    """Indexed PIL image from a palette and labels (what a user of KMeans would save)."""
    im = Image.fromarray(labels, "P")
    im.putpalette(palette[:, :3].tobytes(), rawmode="RGB")
    if palette.shape[1] == 4:
        im.info["transparency"] = palette[:, 3].tobytes()
    return im


def run_kmc(image, pil, k, **params):
    start = time.perf_counter()
    q = KMeansQuantizer(k, random_state=0, **params).fit(image)
    seconds = time.perf_counter() - start
    return seconds, encode_palette_png(q.palette_, q.labels_)


def run_kmc_exact(image, pil, k):
    return run_kmc(image, pil, k, histogram_bits=None)


def run_gallery(image, pil, k):
    from sklearn.cluster import KMeans
    from sklearn.utils import shuffle

    pixels = image.reshape(-1, image.shape[2])
    start = time.perf_counter()
    sample = shuffle(pixels, random_state=0, n_samples=1_000).astype(np.float64)
    km = KMeans(n_clusters=min(k, len(np.unique(sample, axis=0))), random_state=0).fit(sample)
    labels = km.predict(pixels.astype(np.float64))
    seconds = time.perf_counter() - start
    palette = np.clip(np.rint(km.cluster_centers_), 0, 255).astype(np.uint8)
    return seconds, _pil_png(_as_p(palette, labels.reshape(image.shape[:2]).astype(np.uint8)))


def run_notebook(image, pil, k):
    from sklearn.cluster import KMeans

    pixels = image.reshape(-1, image.shape[2]).astype(np.float64)
    start = time.perf_counter()
    km = KMeans(n_clusters=k, random_state=0).fit(pixels)
    labels = km.predict(pixels)
    seconds = time.perf_counter() - start
    palette = np.clip(np.rint(km.cluster_centers_), 0, 255).astype(np.uint8)
    return seconds, _pil_png(_as_p(palette, labels.reshape(image.shape[:2]).astype(np.uint8)))


def _pil_method(method):
    def run(image, pil, k):
        if method == Image.Quantize.MEDIANCUT and pil.mode == "RGBA":
            return None, None  # Pillow: "Fast Octree (method=2) and libimagequant (method=3) are the only valid methods for quantizing RGBA images"
        start = time.perf_counter()
        out = pil.quantize(colors=k, method=method, dither=Image.Dither.NONE)
        seconds = time.perf_counter() - start
        return seconds, _pil_png(out)

    return run


def run_imagequant(image, pil, k):
    import imagequant

    rgba = pil if pil.mode == "RGBA" else pil.convert("RGBA")  # (made outside the clock below)
    start = time.perf_counter()
    out = imagequant.quantize_pil_image(rgba, dithering_level=0.0, max_colors=k)
    seconds = time.perf_counter() - start
    return seconds, _pil_png(out)


METHODS = {
    "kmeans_compress": run_kmc,
    "kmc-exact": run_kmc_exact,
    "gallery": run_gallery,
    "mediancut": _pil_method(Image.Quantize.MEDIANCUT),
    "fastoctree": _pil_method(Image.Quantize.FASTOCTREE),
    "imagequant": run_imagequant,
}


def run_pngquant(path, k, out):
    """Whole ``pngquant`` command: (seconds, png bytes), or (None, None) when it is missing."""
    exe = shutil.which("pngquant")
    if exe is None:
        return None, None
    start = time.perf_counter()
    subprocess.run([exe, "--nofs", "--speed", "3", "--force", "-o", str(out), str(k), str(path)], check=True)
    return time.perf_counter() - start, Path(out).read_bytes()


# ---------------------------------------------------------------------------------------------
# Child processes: one job, its own peak memory
# ---------------------------------------------------------------------------------------------


def _vm_hwm_mb(pid="self"):
    try:
        with open(f"/proc/{pid}/status") as fh:
            for line in fh:
                if line.startswith("VmHWM:"):
                    return int(line.split()[1]) / 1024.0
    except OSError:
        return None
    return None


def child_main(method, path, k, out):
    """In a fresh process: decode, quantize, encode, write; print timings and VmHWM as JSON."""
    warnings.simplefilter("ignore")
    start = time.perf_counter()
    image = load_image(path)
    pil = None  # only the Pillow and imagequant methods need a PIL image
    if method in ("mediancut", "fastoctree"):
        pil = Image.fromarray(image)
    elif method == "imagequant":
        pil = Image.fromarray(image).convert("RGBA")
    decoded = time.perf_counter()
    seconds, data = {**METHODS, "notebook": run_notebook}[method](image, pil, k)
    Path(out).write_bytes(data)
    total = time.perf_counter() - start
    print(json.dumps({"seconds": total, "quantize_s": seconds, "decode_s": decoded - start, "peak_mb": _vm_hwm_mb()}))


def run_process(argv, cap):
    """Run a command, polling its peak resident memory; (status, wall seconds, peak MB, stdout)."""
    start = time.perf_counter()
    with tempfile.TemporaryFile() as out_fh:
        proc = subprocess.Popen(argv, stdout=out_fh, stderr=subprocess.DEVNULL, cwd=ROOT)
        peak, status = None, "ok"
        while proc.poll() is None:
            hwm = _vm_hwm_mb(proc.pid)
            peak = hwm if hwm is not None else peak
            if time.perf_counter() - start > cap:
                proc.kill()
                status = f"cap {cap:.0f} s"
                break
            time.sleep(0.01)
        proc.wait()
        wall = time.perf_counter() - start
        out_fh.seek(0)
        text = out_fh.read().decode(errors="replace")
    if status == "ok" and proc.returncode != 0:
        status = f"exit {proc.returncode}"
    return status, wall, peak, text


# ---------------------------------------------------------------------------------------------
# The run
# ---------------------------------------------------------------------------------------------


def quality(image, data):
    with Image.open(io.BytesIO(data)) as im:
        out = load_image(im)
    if out.shape != image.shape:  # e.g. an RGBA output whose alpha is all opaque
        out = out[..., : image.shape[2]] if out.shape[2] > image.shape[2] else np.dstack([out, np.full(out.shape[:2], 255, np.uint8)])
    return psnr(image, out), ssim(image, out)


def bench_small(images, ks, repeats, cap, work, rows):
    for name, kind, path in images:
        if kind == "big":
            continue
        image = load_image(path)
        pil = Image.fromarray(image)
        rgba = pil.convert("RGBA")
        for k in ks:
            times = {m: [] for m in [*METHODS, "pngquant"]}
            outputs = {}
            for _ in range(repeats):
                for method, fn in METHODS.items():
                    seconds, data = fn(image, rgba if method == "imagequant" else pil, k)
                    if seconds is not None:
                        times[method].append(seconds)
                    outputs[method] = data
                seconds, data = run_pngquant(path, k, work / "pngquant.png")
                if seconds is not None:
                    times["pngquant"].append(seconds)
                outputs["pngquant"] = data
            for method in times:
                row = {"image": name, "kind": kind, "pixels": image.shape[0] * image.shape[1], "k": k, "method": method}
                data = outputs[method]
                if data is None:
                    rows.append({**row, "status": "n/a" if method != "pngquant" else "not installed"})
                    continue
                p, s = quality(image, data)
                rows.append({**row, "seconds": statistics.median(times[method]), "psnr": p, "ssim": s, "bytes": len(data), "status": "ok"})
            if kind == "photo":  # the slow reference, each run in its own process, capped
                out = work / "notebook.png"
                status, wall, peak, text = run_process(
                    [sys.executable, __file__, "--child", "notebook", str(path), str(k), str(out)], cap
                )
                row = {"image": name, "kind": kind, "pixels": image.shape[0] * image.shape[1], "k": k, "method": "notebook", "status": status}
                if status == "ok":
                    info = json.loads(text.strip().splitlines()[-1])
                    data = out.read_bytes()
                    p, s = quality(image, data)
                    row.update(seconds=info["quantize_s"], psnr=p, ssim=s, bytes=len(data), peak_mb=info["peak_mb"])
                else:
                    row.update(seconds=cap)
                rows.append(row)
            print(f"  {name} k={k} done", file=sys.stderr, flush=True)


def bench_big(images, ks, cap, work, rows):
    for name, kind, path in images:
        if kind != "big":
            continue
        image = load_image(path)
        pixels = image.shape[0] * image.shape[1]
        jobs = []
        for k in ks:
            jobs += [("kmeans_compress", k), ("kmc-cli", k), ("pngquant", k), ("imagequant", k)]
        jobs += [(m, 16) for m in ("mediancut", "fastoctree", "gallery") if 16 in ks]
        jobs += [("notebook", 64)] if 64 in ks else []
        for method, k in jobs:
            out = work / f"big-{method}-k{k}.png"
            out.unlink(missing_ok=True)
            if method == "pngquant":
                if shutil.which("pngquant") is None:
                    rows.append({"image": name, "kind": kind, "pixels": pixels, "k": k, "method": method, "status": "not installed"})
                    continue
                argv = ["pngquant", "--nofs", "--speed", "3", "--force", "-o", str(out), str(k), str(path)]
            elif method == "kmc-cli":
                argv = [sys.executable, "-m", "kmeans_compress", str(path), "-k", str(k), "-o", str(out), "--force"]
            else:
                argv = [sys.executable, __file__, "--child", method, str(path), str(k), str(out)]
            # the notebook's way gets longer on 12 MP (it needs ~15x our time to be beaten by 15x)
            status, wall, peak, text = run_process(argv, BIG_CAP_FACTOR * cap if method == "notebook" else 10 * cap)
            row = {"image": name, "kind": kind, "pixels": pixels, "k": k, "method": method, "seconds": wall, "peak_mb": peak, "status": status}
            if status == "ok":
                if method not in ("pngquant", "kmc-cli"):
                    info = json.loads(text.strip().splitlines()[-1])
                    row.update(quantize_s=info["quantize_s"], peak_mb=info["peak_mb"] or peak)
                data = out.read_bytes()
                p, s = quality(image, data)
                row.update(psnr=p, ssim=s, bytes=len(data))
            rows.append(row)
            print(f"  {name} {method} k={k}: {status} {wall:.1f} s", file=sys.stderr, flush=True)


# ---------------------------------------------------------------------------------------------
# Report
# ---------------------------------------------------------------------------------------------


def _fmt(value, spec):
    return "" if value is None or (isinstance(value, float) and np.isnan(value)) else format(value, spec)


def _get(rows, **where):
    return [r for r in rows if all(r.get(key) == val for key, val in where.items())]


def _ok(rows, **where):
    return [r for r in _get(rows, **where) if r.get("status") == "ok"]


def summary_tables(rows, ks):
    methods = [*METHODS, "pngquant", "notebook"]
    lines = []
    for k in ks:
        base = {r["image"]: r for r in _ok(rows, k=k, method="kmeans_compress") if r["kind"] != "big"}
        lines += [
            "",
            f"### k = {k}",
            "",
            "| method | median s | × kmc | PSNR photos | PSNR graphics | SSIM photos | mean bytes | × kmc | runs |",
            "|---|---:|---:|---:|---:|---:|---:|---:|---|",
        ]
        for method in methods:
            got = [r for r in _get(rows, k=k, method=method) if r["kind"] != "big"]
            ok = [r for r in got if r["status"] == "ok"]
            if not got:
                continue
            if not ok:
                lines.append(f"| {method} | | | | | | | | {got[0]['status']} |")
                continue
            sec = statistics.median(r["seconds"] for r in ok)
            ratio_t = statistics.median(r["seconds"] / base[r["image"]]["seconds"] for r in ok if r["image"] in base)
            photos = [r["psnr"] for r in ok if r["kind"] == "photo"]
            graphics = [min(r["psnr"], 99.0) for r in ok if r["kind"] == "graphic"]
            ssims = [r["ssim"] for r in ok if r["kind"] == "photo"]
            nbytes = [r["bytes"] for r in ok]
            base_bytes = [base[r["image"]]["bytes"] for r in ok if r["image"] in base]
            capped = [r for r in got if r["status"] != "ok"]
            note = f"{len(ok)} ok" + (f", {len(capped)} {capped[0]['status']}" if capped else "")
            lines.append(
                f"| {method} | {sec:.3f} | {ratio_t:.2f} | {_fmt(np.mean(photos) if photos else None, '.2f')} | "
                f"{_fmt(np.mean(graphics) if graphics else None, '.2f')} | {_fmt(np.mean(ssims) if ssims else None, '.4f')} | "
                f"{np.mean(nbytes):,.0f} | {np.mean(nbytes) / np.mean(base_bytes):.3f} | {note} |"
            )
    return lines


def big_table(rows):
    big = [r for r in rows if r["kind"] == "big"]
    if not big:
        return []
    lines = [
        "",
        f"### 12 MP photo ({big[0]['image']}, {big[0]['pixels'] / 1e6:.1f} megapixels), each job in its own process",
        "",
        "| method | k | whole job s | quantize s | peak MB | PSNR | bytes | status |",
        "|---|---:|---:|---:|---:|---:|---:|---|",
    ]
    for r in big:
        lines.append(
            f"| {r['method']} | {r['k']} | {_fmt(r.get('seconds'), '.2f')} | {_fmt(r.get('quantize_s'), '.2f')} | "
            f"{_fmt(r.get('peak_mb'), '.0f')} | {_fmt(r.get('psnr'), '.2f')} | {_fmt(r.get('bytes'), ',')} | {r['status']} |"
        )
    return lines


def target_checks(rows, ks):
    """The performance issue's targets, each with the measured numbers."""
    lines = ["", "### Targets", ""]

    def mean_psnr(method, k, images):
        got = {r["image"]: r["psnr"] for r in _ok(rows, k=k, method=method) if r["kind"] == "photo"}
        return np.mean([got[i] for i in images]) if images and all(i in got for i in images) else None

    def check(text, ok):
        lines.append(f"- [{'x' if ok else ' '}] {text}")

    for k in ks:
        photos = sorted({r["image"] for r in _ok(rows, k=k, method="kmeans_compress") if r["kind"] == "photo"})
        ours = mean_psnr("kmeans_compress", k, photos)
        nb_images = [i for i in photos if _ok(rows, k=k, method="notebook", image=i)]
        nb = mean_psnr("notebook", k, nb_images)
        ours_nb = mean_psnr("kmeans_compress", k, nb_images)
        if nb is not None and ours_nb is not None:
            check(f"k={k} quality vs KMeans on all pixels ({len(nb_images)} photos): {ours_nb:.2f} vs {nb:.2f} dB (needs >= {nb - 0.05:.2f})", ours_nb >= nb - 0.05)
        else:
            lines.append(f"- [ ] k={k} quality vs KMeans on all pixels: not measured (capped or no photos)")
        pq = mean_psnr("pngquant", k, photos)
        if pq is not None and ours is not None:
            check(f"k={k} quality vs pngquant: {ours:.2f} vs {pq:.2f} dB (needs >= {pq + 0.2:.2f})", ours >= pq + 0.2)
        else:
            lines.append(f"- [ ] k={k} quality and bytes vs pngquant: not measured (pngquant not installed)")
        small = [r for r in _ok(rows, k=k, method="pngquant") if r["kind"] != "big"]
        if small:
            mine = {r["image"]: r["bytes"] for r in _ok(rows, k=k, method="kmeans_compress") if r["kind"] != "big"}
            a = np.mean([mine[r["image"]] for r in small])
            b = np.mean([r["bytes"] for r in small])
            check(f"k={k} bytes: mean {a:,.0f} vs pngquant {b:,.0f} ({a / b:.3f}x)", a <= b)
        iq = {r["image"]: r["seconds"] for r in _ok(rows, k=k, method="imagequant") if r["kind"] != "big"}
        km = {r["image"]: r["seconds"] for r in _ok(rows, k=k, method="kmeans_compress") if r["kind"] != "big"}
        both = sorted(set(iq) & set(km))
        if both:
            a, b = statistics.median(km[i] for i in both), statistics.median(iq[i] for i in both)
            slower = [i for i in both if km[i] > iq[i]]
            photos = [i for i in both if _ok(rows, k=k, method="kmeans_compress", image=i)[0]["kind"] == "photo"]
            check(
                f"k={k} time: median {a:.3f} s vs imagequant {b:.3f} s over {len(both)} images"
                + (f" (slower on {', '.join(slower)})" if slower else "")
                + "; photos: "
                + ", ".join(f"{i} {km[i]:.3f} vs {iq[i]:.3f} s" for i in photos),
                a <= b,
            )
        big_ours = _ok(rows, kind="big", k=k, method="kmeans_compress")
        big_cli = _ok(rows, kind="big", k=k, method="kmc-cli")
        big_pq = _ok(rows, kind="big", k=k, method="pngquant")
        if big_ours and big_pq:
            check(f"k={k} 12 MP whole job (decode, quantize, encode): {big_ours[0]['seconds']:.2f} s vs pngquant {big_pq[0]['seconds']:.2f} s", big_ours[0]["seconds"] < big_pq[0]["seconds"])
        if big_cli and big_pq:
            check(f"k={k} 12 MP command line with its metrics: {big_cli[0]['seconds']:.2f} s vs pngquant {big_pq[0]['seconds']:.2f} s", big_cli[0]["seconds"] < big_pq[0]["seconds"])
        if big_ours and k in (16, 256):
            limit = 1.0 if k == 16 else 1.5
            check(f"k={k} 12 MP quantization alone: {big_ours[0]['quantize_s']:.2f} s (needs < {limit})", big_ours[0]["quantize_s"] < limit)
        if big_cli and k == 16:
            peak = big_cli[0].get("peak_mb")
            check(f"k=16 12 MP command line peak memory: {_fmt(peak, '.0f')} MB (needs < 400)", peak is not None and peak < 400)
        if k == 64:
            nbt = {r["image"]: r for r in _get(rows, k=64, method="notebook") if r["kind"] == "photo"}
            ratios = [nbt[i]["seconds"] / km[i] for i in nbt if i in km]
            if ratios:
                capped = any(nbt[i]["status"] != "ok" for i in nbt)
                check(f"k=64 vs notebook's way, photo median: {statistics.median(ratios):.1f}x faster" + (" (lower bound: capped)" if capped else ""), statistics.median(ratios) >= 15)
            nb_big = _get(rows, kind="big", k=64, method="notebook")
            if nb_big and big_ours:
                capped = nb_big[0]["status"] != "ok"
                ratio = nb_big[0]["seconds"] / big_ours[0]["seconds"]
                check(f"k=64 vs notebook's way on 12 MP (whole jobs): {ratio:.1f}x faster" + (f" (at least: it hit the {nb_big[0]['status']})" if capped else ""), ratio >= 15)
    return lines


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--corpus", default=str(CORPUS), help=f"folder of PNG images (default {CORPUS})")
    parser.add_argument("--ks", default=",".join(map(str, KS)), help="palette sizes (default 4,16,64,256)")
    parser.add_argument("--repeats", type=int, default=3, help="timed repeats per image and k (default 3)")
    parser.add_argument("--cap", type=float, default=60.0, help="seconds before a notebook-way run is stopped (default 60)")
    parser.add_argument("--no-big", action="store_true", help="skip the 12 MP photo")
    parser.add_argument("--quick", action="store_true", help="k=16,256, one repeat, no 12 MP photo")
    parser.add_argument("--child", nargs=4, metavar=("METHOD", "IMAGE", "K", "OUT"), help=argparse.SUPPRESS)
    args = parser.parse_args(argv)
    if args.child:
        method, path, k, out = args.child
        child_main(method, path, int(k), out)
        return 0
    if args.quick:
        args.ks, args.repeats, args.no_big = "16,256", 1, True
    ks = [int(k) for k in args.ks.split(",")]
    RESULTS.mkdir(parents=True, exist_ok=True)
    work = RESULTS / "work"
    work.mkdir(exist_ok=True)
    if shutil.which("pngquant") is None:
        print("note: pngquant is not on the PATH (Debian: apt-get install pngquant); its rows say 'not installed'", file=sys.stderr)
    start = time.perf_counter()
    images = collect_images(args.corpus, not args.no_big, work)
    print("images: " + ", ".join(f"{n} ({kind})" for n, kind, _ in images), file=sys.stderr)
    rows = []
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        bench_small(images, ks, args.repeats, args.cap, work, rows)
        bench_big(images, ks, args.cap, work, rows)
    stamp = time.strftime("%Y%m%d-%H%M%S")
    csv_path = RESULTS / f"quantizers-{stamp}.csv"
    with open(csv_path, "w", newline="") as fh:
        writer = csv.DictWriter(fh, fieldnames=FIELDS, extrasaction="ignore")
        writer.writeheader()
        writer.writerows(rows)
    lines = [
        f"## Quantizers ({os.cpu_count()} cores, repeats={args.repeats}, cap={args.cap:.0f} s)",
        "",
        "median s: median over images of each image's median quantization time; × kmc: median over images",
        "of the per-image ratio to kmeans_compress (time) and ratio of mean bytes; PSNR/SSIM: means.",
    ]
    lines += summary_tables(rows, ks) + big_table(rows) + target_checks(rows, ks)
    lines += ["", f"rows saved to {csv_path.relative_to(ROOT)}; total {time.perf_counter() - start:.0f} s"]
    print("\n".join(lines))
    return 0


if __name__ == "__main__":
    with contextlib.suppress(BrokenPipeError):
        sys.exit(main())
