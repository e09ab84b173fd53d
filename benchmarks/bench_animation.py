"""Animated GIFs: this package's one-palette GIF against ffmpeg's palettegen/paletteuse and gifsicle.

Run from the repository root::

    python benchmarks/bench_animation.py            # three animations, k = 16, 64, 256, then the timing
    python benchmarks/bench_animation.py --quick    # k = 64 only, no timing

Animations (made in memory, 80 ms a frame, looping):

* ``pan``: 30 frames of 320x240 panning across the first benchmark photo (4 px right, 2 px down a frame);
* ``zoom``: 24 frames of 320x240 zooming into the second photo (Lanczos, 3% a frame);
* ``flat``: 30 frames of 320x240 flat-colour shapes moving over a flat background (a drawing, not a photo).

For each k: our GIF (:func:`kmeans_compress.animation.compress_animation`, defaults: one palette over all
frames, ``random_state=0``), ffmpeg's GIF made with
``-vf split[a][b];[a]palettegen=max_colors=K:stats_mode=full[p];[b][p]paletteuse=dither=none`` (palettegen
reserves one entry for transparency by default, so it has K - 1 colours), that GIF after ``gifsicle -O3``,
and our GIF after ``gifsicle -O3``. Every file is decoded (:func:`~kmeans_compress.animation.read_animation`)
and compared with the original frames: PSNR over all frames' pixels (one MSE), SSIM the mean of the frames'.

A second table measures what the defaults were chosen by: one palette for all frames against a palette
per frame, and unchanged pixels written as transparent or as they are, GIF bytes and PSNR.

Last, time and peak memory (the child process's maximum resident set) of ``compress_animation`` on a
100-frame animation of 640x480 (0.3 MP) frames at k = 256, in a fresh process.
"""

from __future__ import annotations

import argparse
import os
import platform
import resource
import shutil
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

from kmeans_compress import load_image, psnr, ssim  # noqa: E402
from kmeans_compress.animation import Animation, compress_animation, read_animation  # noqa: E402

WIDTH, HEIGHT, DELAY = 320, 240, 80


def photos():
    return [load_image(p) for p in sorted((ROOT / "benchmarks" / "photos").glob("*.png"))]


def pan(photo, n=30):
    frames = [photo[2 * i : 2 * i + HEIGHT, 4 * i : 4 * i + WIDTH] for i in range(n)]
    return Animation(np.stack(frames), (DELAY,) * n, 0)


def zoom(photo, n=24):
    h, w = photo.shape[:2]
    im = Image.fromarray(photo)
    frames = []
    for i in range(n):
        scale = 0.97**i
        cw, ch = w * scale, h * scale
        box = ((w - cw) / 2, (h - ch) / 2, (w + cw) / 2, (h + ch) / 2)
        frames.append(np.asarray(im.resize((WIDTH, HEIGHT), Image.Resampling.LANCZOS, box=box)))
    return Animation(np.stack(frames), (DELAY,) * n, 0)


def flat(n=30):
    colours = [(230, 57, 70), (29, 53, 87), (69, 123, 157), (241, 250, 238), (255, 183, 3), (42, 157, 143)]
    frames = []
    for i in range(n):
        im = Image.new("RGB", (WIDTH, HEIGHT), (168, 218, 220))
        draw = ImageDraw.Draw(im)
        for j, colour in enumerate(colours):
            x = (40 * j + 7 * i * (j + 1)) % (WIDTH - 40)
            y = (30 * j + 5 * i) % (HEIGHT - 40)
            (draw.ellipse if j % 2 else draw.rectangle)((x, y, x + 40, y + 40), fill=colour)
        frames.append(np.asarray(im))
    return Animation(np.stack(frames), (DELAY,) * n, 0)


def quality(anim, data):
    """PSNR over all frames' pixels and the frames' mean SSIM of a decoded file (NaNs if the frame counts differ)."""
    back = read_animation(data).frames
    if back.shape != anim.frames.shape:
        return float("nan"), float("nan")
    stacked = anim.stacked
    similarity = float(np.mean([ssim(a, b) for a, b in zip(anim.frames, back, strict=True)]))
    return psnr(stacked, back.reshape(stacked.shape)), similarity


def ffmpeg_gif(anim, k, folder):
    h, w = anim.frames.shape[1:3]
    out = Path(folder) / f"ffmpeg-{k}.gif"
    graph = f"split[a][b];[a]palettegen=max_colors={k}:stats_mode=full[p];[b][p]paletteuse=dither=none"
    subprocess.run(
        ["ffmpeg", "-v", "error", "-y", "-f", "rawvideo", "-pix_fmt", "rgb24", "-s", f"{w}x{h}", "-framerate",
         str(1000 / DELAY), "-i", "-", "-vf", graph, "-fps_mode", "passthrough", str(out)],
        input=anim.frames.tobytes(), check=True,
    )
    return out.read_bytes()


def gifsicle_o3(data, folder, name):
    src, dst = Path(folder) / f"{name}.gif", Path(folder) / f"{name}-O3.gif"
    src.write_bytes(data)
    subprocess.run(["gifsicle", "-O3", str(src), "-o", str(dst)], check=True)
    return dst.read_bytes()


def comparison(animations, ks, tools):
    print("| animation | k | ours bytes | ours PSNR | ours SSIM | ours+O3 bytes | ffmpeg bytes | ffmpeg PSNR "
          "| ffmpeg SSIM | ffmpeg+O3 bytes | our seconds |")
    print("|---|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|")
    with tempfile.TemporaryDirectory() as folder:
        for name, anim in animations:
            for k in ks:
                start = time.perf_counter()
                ours = compress_animation(anim, k, format="gif").data
                seconds = time.perf_counter() - start
                p, s = quality(anim, ours)
                ours_o3 = len(gifsicle_o3(ours, folder, f"ours-{name}-{k}")) if tools["gifsicle"] else None
                cells = [name, k, len(ours), f"{p:.2f}", f"{s:.4f}", ours_o3]
                if tools["ffmpeg"]:
                    theirs = ffmpeg_gif(anim, k, folder)
                    fp, fs = quality(anim, theirs)
                    o3 = len(gifsicle_o3(theirs, folder, f"ffmpeg-{name}-{k}")) if tools["gifsicle"] else None
                    cells += [len(theirs), f"{fp:.2f}", f"{fs:.4f}", o3]
                else:
                    cells += [None] * 4
                cells.append(f"{seconds:.2f}")
                text = ("–" if c is None else f"{c:,}" if isinstance(c, int) else str(c) for c in cells)
                print("| " + " | ".join(text) + " |")


def defaults(animations, ks):
    print("| animation | k | shared bytes | shared PSNR | per-frame bytes | per-frame PSNR "
          "| unchanged kept bytes | unchanged clear bytes |")
    print("|---|---:|---:|---:|---:|---:|---:|---:|")
    for name, anim in animations:
        for k in ks:
            shared = compress_animation(anim, k, format="gif", unchanged_transparent=False)
            clear = compress_animation(anim, k, format="gif", unchanged_transparent=True)
            each = compress_animation(anim, k, format="gif", palette="per-frame")
            print(f"| {name} | {k} | {shared.measurement.bytes_out:,} | {shared.measurement.psnr:.2f} "
                  f"| {each.measurement.bytes_out:,} | {each.measurement.psnr:.2f} "
                  f"| {shared.measurement.bytes_out:,} | {clear.measurement.bytes_out:,} |")


def timing_child():
    photo = photos()[0]
    im = Image.fromarray(photo).resize((800, 600), Image.Resampling.LANCZOS)
    big = np.asarray(im)
    frames = np.stack([big[i : i + 480, i : i + 640] for i in range(100)])
    anim = Animation(frames, (40,) * 100, 0)
    before = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
    start = time.perf_counter()
    result = compress_animation(anim, 256, format="gif")
    seconds = time.perf_counter() - start
    peak = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
    m = result.measurement
    print(f"{seconds:.1f} {before / 1024:.0f} {peak / 1024:.0f} {m.bytes_out} {m.psnr:.2f} {frames.nbytes / 2**20:.0f}")


def timing():
    out = subprocess.run([sys.executable, __file__, "--timing-child"], capture_output=True, text=True, check=True)
    seconds, before, peak, size, p, raw = out.stdout.split()
    print(f"100 frames of 640x480 (0.3 MP; {raw} MiB of RGB frames), k = 256, GIF: {seconds} s, "
          f"peak resident memory {peak} MiB ({before} MiB before compressing, frames included); "
          f"{int(size):,} bytes, PSNR {p} dB over all frames")


def main():
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--quick", action="store_true", help="k = 64 only, no timing")
    parser.add_argument("--timing-child", action="store_true", help=argparse.SUPPRESS)
    args = parser.parse_args()
    # the flat animation has 7 colours: k above that gives those 7 exactly, which the table shows
    warnings.filterwarnings("ignore", "n_colors=.* is more than the .* distinct colours", UserWarning)
    if args.timing_child:
        timing_child()
        return
    tools = {name: shutil.which(name) for name in ("ffmpeg", "gifsicle")}
    print(f"Python {platform.python_version()}, {platform.machine()}, {len(os.sched_getaffinity(0))} CPUs")
    for name, path in tools.items():
        if path is None:
            print(f"- {name}: not found, its columns are skipped")
        else:
            flag = "-version" if name == "ffmpeg" else "--version"
            version = subprocess.run([path, flag], capture_output=True, text=True, check=False).stdout.splitlines()[0]
            print(f"- {name}: {version}")
    first, second = photos()[:2]
    animations = [("pan", pan(first)), ("zoom", zoom(second)), ("flat", flat())]
    ks = [64] if args.quick else [16, 64, 256]
    print()
    comparison(animations, ks, tools)
    print()
    defaults(animations, ks)
    if not args.quick:
        print()
        timing()


if __name__ == "__main__":
    main()
