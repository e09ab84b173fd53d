"""Files per second for a batch: a local process pool against a Dask cluster on the same machine.

Run from the repository root (needs the ``[dask]`` extra, ``distributed``)::

    python benchmarks/bench_batch.py                      # 200 photos, 3 rounds
    python benchmarks/bench_batch.py --n-files 50 --rounds 1 -k 8

It makes ``--n-files`` small photos (deterministic crops of the benchmark photos in ``benchmarks/photos/``, resized to
``--size``, saved as RGB PNG), starts a ``distributed.LocalCluster`` of two worker processes with one
thread each, and then, in each round, times the whole command (a fresh interpreter, as a user runs
it) twice, in turn:

* ``local``: ``python -m kmeans_compress DIR --out-dir OUT --jobs 2 -k K --no-progress``
  (starts its own two worker processes every time);
* ``dask``: the same with ``--scheduler ADDRESS`` instead of ``--jobs 2`` (the cluster's workers are
  started once, before the first round, as a real cluster's are; the first round also pays for
  importing the package on them).

It prints each round's seconds and files per second, the best round of each, and whether every
output of the two runs is byte for byte the same. Then the cluster's own cost per file, without the
work: the 200 inputs' bytes sent as tasks that only copy them (``bytes``) and collected back, from
this process, a window of 8 at a time as the command does (best of the rounds).

On a machine that other work also uses, the two sides are not only "pool" and "cluster": the
cluster side runs more processes (client, scheduler, two nannies, two workers), which get a larger
share of busy CPUs than the pool's three. The round trip figure is the one that carries over.
"""

from __future__ import annotations

import argparse
import filecmp
import itertools
import os
import shutil
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import numpy as np
from PIL import Image

ROOT = Path(__file__).resolve().parents[1]
CORPUS = ROOT / "benchmarks" / "photos"  # the benchmark photos, in the repository
# This checkout's package, here and in every process started from here (the cluster's workers too).
sys.path.insert(0, str(ROOT))
os.environ["PYTHONPATH"] = str(ROOT) + os.pathsep + os.environ.get("PYTHONPATH", "")


def make_photos(folder, n_files, size, corpus, seed=0):
    """``n_files`` PNG crops of the corpus photos: a random square-ish window (a quarter to all of
    the shorter side), resized to ``size`` with LANCZOS; the same files for the same arguments."""
    sources = [np.asarray(Image.open(p).convert("RGB")) for p in sorted(Path(corpus).glob("*.png"))]
    if not sources:
        sys.exit(f"bench_batch: no PNG photos in {corpus} (use --corpus)")
    rng = np.random.default_rng(seed)
    folder.mkdir(parents=True, exist_ok=True)
    for i in range(n_files):
        img = sources[i % len(sources)]
        h, w = img.shape[:2]
        side = int(rng.integers(min(h, w) // 4, min(h, w) + 1))
        crop_h, crop_w = side, min(w, int(side * size[0] / size[1]))
        y, x = int(rng.integers(0, h - crop_h + 1)), int(rng.integers(0, w - crop_w + 1))
        crop = Image.fromarray(img[y : y + crop_h, x : x + crop_w])
        crop.resize(size, Image.LANCZOS).save(folder / f"photo{i:04d}.png")
    return sorted(folder.glob("*.png"))


def run(command, cwd):
    """Wall seconds and exit status of one command line."""
    start = time.perf_counter()
    done = subprocess.run(command, cwd=cwd, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, text=True, check=False)
    seconds = time.perf_counter() - start
    if done.returncode != 0:
        sys.exit(f"bench_batch: {' '.join(map(str, command))} exited {done.returncode}:\n{done.stderr}")
    return seconds


def round_trip(client, payloads, window=8):
    """Seconds to send every payload as a task that copies it, and to get every copy back."""
    from distributed import as_completed

    start = time.perf_counter()
    todo = iter(payloads)
    queue = as_completed([client.submit(bytes, data, pure=False) for data in itertools.islice(todo, window)])
    for future in queue:
        future.result()
        future.release()
        data = next(todo, None)
        if data is not None:
            queue.add(client.submit(bytes, data, pure=False))
    return time.perf_counter() - start


def same_outputs(a, b):
    names_a = sorted(p.name for p in Path(a).iterdir())
    names_b = sorted(p.name for p in Path(b).iterdir())
    if names_a != names_b:
        return False, len(names_a)
    _match, mismatch, errors = filecmp.cmpfiles(a, b, names_a, shallow=False)
    return not mismatch and not errors, len(names_a)


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--n-files", type=int, default=200)
    parser.add_argument("--size", type=int, nargs=2, default=(160, 120), metavar=("W", "H"))
    parser.add_argument("-k", type=int, default=16)
    parser.add_argument("--rounds", type=int, default=3, help="timed rounds (each runs local, then dask)")
    parser.add_argument("--corpus", default=str(CORPUS))
    args = parser.parse_args(argv)

    from distributed import Client, LocalCluster

    work = Path(tempfile.mkdtemp(prefix="bench_batch."))
    try:
        photos = make_photos(work / "in", args.n_files, tuple(args.size), args.corpus)
        size_in = sum(p.stat().st_size for p in photos)
        print(
            f"{len(photos)} photos {args.size[0]}x{args.size[1]} ({size_in / len(photos) / 1024:.1f} KiB each), "
            f"k={args.k}, "
            f"{os.cpu_count()} CPUs, Python {sys.version.split()[0]}"
        )
        base = [sys.executable, "-m", "kmeans_compress", str(work / "in"), "-k", str(args.k), "--no-progress"]
        with LocalCluster(
            n_workers=2, threads_per_worker=1, processes=True, host="127.0.0.1", dashboard_address=None
        ) as cluster, Client(cluster) as client:
            client.wait_for_workers(2)
            address = cluster.scheduler_address
            sides = {
                "local": lambda out: [*base, "--out-dir", str(out), "--jobs", "2"],
                "dask": lambda out: [*base, "--out-dir", str(out), "--scheduler", address],
            }
            times = {name: [] for name in sides}
            print("\n| round | local --jobs 2 s | files/s | dask (2-worker LocalCluster) s | files/s |")
            print("|---|---|---|---|---|")
            for r in range(args.rounds):
                for name, command in sides.items():
                    out = work / f"out-{name}"
                    shutil.rmtree(out, ignore_errors=True)
                    times[name].append(run(command(out), work))
                loc, dsk = times["local"][-1], times["dask"][-1]
                n = len(photos)
                print(f"| {r + 1} | {loc:.2f} | {n / loc:.1f} | {dsk:.2f} | {n / dsk:.1f} |", flush=True)
            equal, n_out = same_outputs(work / "out-local", work / "out-dask")
            payloads = [p.read_bytes() for p in photos]
            trips = [round_trip(client, payloads) for _ in range(args.rounds)]
        n = len(photos)
        best = {name: min(t) for name, t in times.items()}
        print(f"\nbest of {args.rounds}: local --jobs 2 {n / best['local']:.1f} files/s ({best['local']:.2f} s), "
              f"dask 2 workers {n / best['dask']:.1f} files/s ({best['dask']:.2f} s); "
              f"dask minus local {(best['dask'] - best['local']) / n * 1000:+.1f} ms per file")
        trip = min(trips)
        print(
            f"cluster round trip without work ({len(payloads)} tasks of {size_in / len(photos) / 1024:.1f} KiB, "
            "copied back): "
            f"{trip:.2f} s, {trip / n * 1000:.1f} ms per file ({', '.join(f'{t:.2f}' for t in trips)} s)"
        )
        print(
            f"outputs: {n_out} files, {'byte for byte the same' if equal else 'DIFFERENT'} on the cluster and locally"
        )
        return 0 if equal else 1
    finally:
        shutil.rmtree(work, ignore_errors=True)


if __name__ == "__main__":
    sys.exit(main())
