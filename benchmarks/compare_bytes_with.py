"""Same output bytes as another revision? A hash over every output, through the public API only.

Run from the repository root::

    python benchmarks/compare_bytes_with.py main        # or any git revision or tag

The revision's ``kmeans_compress`` is exported with ``git archive`` to a temporary folder, so the
script works across any reorganisation of the package's private modules: both revisions are
driven only through names exported by ``kmeans_compress`` itself (``load_image``,
``KMeansQuantizer``, ``encode_palette_png``, ``compress_bytes``).

Inputs: the benchmark photos (``benchmarks/photos/*.png``), each of the project's ``images/*.png``, and an RGBA copy
of the first photo with a soft alpha ramp, each also tagged with the sRGB profile of ``tests/data/icc/``.
Outputs, for k = 4, 16, 64 and 256:

- the estimator with plain nearest labels (``run_budget=0``) and with runs (``run_budget="auto"``),
  encoded with ``encode_palette_png``;
- ``compress_bytes`` as the command line runs it, to PNG and to lossless WebP.

Each output is hashed (SHA-256, whole file: the sRGB chunk counts); a line per input says how
many of its outputs differ, and the last line gives one hash over all outputs of each revision.
"""

from __future__ import annotations

import hashlib
import io
import subprocess
import sys
import tempfile
from pathlib import Path

import numpy as np
from PIL import Image

ROOT = Path(__file__).resolve().parents[1]
KS = (4, 16, 64, 256)
PROGRAM = r"""
import hashlib, sys
sys.path.insert(0, sys.argv[1])
import kmeans_compress as kc
for path in sys.argv[2:]:
    data = open(path, "rb").read()
    image = kc.load_image(path)
    for k in (4, 16, 64, 256):
        for budget in (0, "auto"):
            q = kc.KMeansQuantizer(k, random_state=0, run_budget=budget).fit(image)
            print(hashlib.sha256(kc.encode_palette_png(q.palette_, q.labels_)).hexdigest())
        for fmt in ("png", "webp"):
            out = kc.compress_bytes(data, k, format=fmt, name=path)
            print(hashlib.sha256(out.data).hexdigest())
"""
PER_INPUT = len(KS) * 4


def hashes(package_root, paths):
    done = subprocess.run(
        [sys.executable, "-c", PROGRAM, str(package_root), *map(str, paths)], capture_output=True, text=True, check=True
    )
    return done.stdout.split()


def make_inputs(folder):
    srgb = (ROOT / "tests" / "data" / "icc" / "sRGB-v4.icc").read_bytes()
    photos = sorted((ROOT / "benchmarks" / "photos").glob("*.png"))
    sources = photos + sorted((ROOT / "images").glob("*.png"))
    images = []
    for src in sources:
        with Image.open(src) as im:
            im.load()
            images.append((src.stem, im.copy()))
    # an RGBA photo: a soft alpha ramp across the first photo
    rgb = np.asarray(images[0][1].convert("RGB"))
    h, w = rgb.shape[:2]
    alpha = np.broadcast_to(np.linspace(0, 255, w).astype(np.uint8), (h, w))
    images.append((f"{images[0][0]}-rgba", Image.fromarray(np.dstack([rgb, alpha]), "RGBA")))
    paths = []
    for stem, im in images:
        for tag, params in (("untagged", {}), ("srgb", {"icc_profile": srgb})):
            path = folder / f"{stem}-{tag}.png"
            buffer = io.BytesIO()
            im.save(buffer, "PNG", **params)
            path.write_bytes(buffer.getvalue())
            paths.append(path)
    return paths


def main(argv=None):
    argv = sys.argv[1:] if argv is None else argv
    if len(argv) != 1:
        raise SystemExit("usage: python benchmarks/compare_bytes_with.py REVISION")
    with tempfile.TemporaryDirectory() as tmp_name:
        tmp = Path(tmp_name)
        other = tmp / "other"
        other.mkdir()
        archive = subprocess.run(
            ["git", "-C", str(ROOT), "archive", argv[0], "kmeans_compress"], capture_output=True, check=True
        )
        subprocess.run(["tar", "-x", "-C", str(other)], input=archive.stdout, check=True)
        inputs = make_inputs(tmp)
        theirs, ours = hashes(other, inputs), hashes(ROOT, inputs)
        for i, path in enumerate(inputs):
            a = theirs[i * PER_INPUT : (i + 1) * PER_INPUT]
            b = ours[i * PER_INPUT : (i + 1) * PER_INPUT]
            differ = sum(x != y for x, y in zip(a, b, strict=False))  # a revision may make fewer
            print(f"{path.name:32s} {len(b)} outputs, {differ} differ")
        total_a = hashlib.sha256("".join(theirs).encode()).hexdigest()[:16]
        total_b = hashlib.sha256("".join(ours).encode()).hexdigest()[:16]
        same = sum(x == y for x, y in zip(theirs, ours, strict=False))  # counts compared below
        print(f"{same} of {len(ours)} outputs identical; hash over all: {argv[0]} {total_a}, here {total_b}")
        return 0 if same == len(ours) == len(theirs) else 1


if __name__ == "__main__":
    sys.exit(main())
