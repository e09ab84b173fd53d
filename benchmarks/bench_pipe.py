"""What a pipeline pays: one small photo through stdin and stdout, against the import floor and pngquant.

Run from the repository root::

    python benchmarks/bench_pipe.py                 # kodim23 (768 x 512, 0.39 MP), 7 rounds
    python benchmarks/bench_pipe.py --rounds 15 --photo benchmarks/photos/kodim10.png

Each round runs, in turn and each in a fresh process as a build tool runs them:

* ``kmeans-compress - -k 64 -o - --metrics psnr < small.png > out.png``: the pipeline;
* the same with ``--metrics all`` (SSIM and CIEDE2000 too): what ``--metrics psnr`` saves;
* ``python -c "import sklearn.cluster"``: the floor, the import any scikit-learn k-means pays;
* ``pngquant 64 - < small.png > out.png``: the tool pipelines use today (skipped when not installed).

It prints the median and the best wall time of each over the rounds, and each output's size.
The machine's other work moves these figures: compare the rows of one run, not runs.
"""

from __future__ import annotations

import argparse
import shutil
import statistics
import subprocess
import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]


def _command():
    found = shutil.which("kmeans-compress")
    return [found] if found else [sys.executable, "-m", "kmeans_compress"]


def _time(argv, stdin_path):
    with open(stdin_path, "rb") as stdin:
        start = time.perf_counter()
        done = subprocess.run(argv, stdin=stdin, capture_output=True, check=False)
        seconds = time.perf_counter() - start
    if done.returncode != 0:
        raise SystemExit(f"{' '.join(argv)} failed ({done.returncode}): {done.stderr.decode(errors='replace')}")
    return seconds, len(done.stdout)


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--photo", type=Path, default=ROOT / "benchmarks" / "photos" / "kodim23.png")
    parser.add_argument("--rounds", type=int, default=7)
    parser.add_argument("-k", type=int, default=64)
    args = parser.parse_args(argv)
    k = str(args.k)
    rows = {
        f"kmeans-compress - -k {k} -o - --metrics psnr": [*_command(), "-", "-k", k, "-o", "-", "--metrics", "psnr"],
        f"kmeans-compress - -k {k} -o - --metrics all": [*_command(), "-", "-k", k, "-o", "-", "--metrics", "all"],
        'python -c "import sklearn.cluster"': [sys.executable, "-c", "import sklearn.cluster"],
    }
    if shutil.which("pngquant"):
        rows[f"pngquant {k} -"] = ["pngquant", k, "-"]
    else:
        print("pngquant is not installed: its row is skipped")
    times = {name: [] for name in rows}
    sizes = {}
    for command in rows.values():  # one run each first: the files cached, the bytecode written
        _time(command, args.photo)
    for _ in range(args.rounds):
        for name, command in rows.items():
            seconds, size = _time(command, args.photo)
            times[name].append(seconds)
            sizes[name] = size
    from PIL import Image

    with Image.open(args.photo) as im:
        megapixels = im.width * im.height / 1e6
    print(f"{args.photo.name}: {megapixels:.2f} MP, {args.photo.stat().st_size:,} B; {args.rounds} rounds")
    print(f"{'command':<48} {'median s':>9} {'best s':>7} {'stdout B':>9}")
    for name in rows:
        print(f"{name:<48} {statistics.median(times[name]):>9.3f} {min(times[name]):>7.3f} {sizes[name]:>9,}")


if __name__ == "__main__":
    main()
