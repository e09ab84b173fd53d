"""Same output bytes as another revision, apart from the sRGB chunk? For untagged and sRGB-tagged inputs.

Run from the repository root::

    python benchmarks/compare_bytes_with.py main        # or any git revision, e.g. b78bb62

The revision's ``kmeans_compress`` is exported with ``git archive`` to a temporary folder. Each
corpus photo (``../shared/corpus/*.png``) and each of the project's ``images/*.png`` is saved
untagged and tagged with the sRGB profile of ``tests/data/icc/`` (as PNG, and as JPEG quality 95
when opaque); both revisions quantize every file at k = 16, 64 and 256
(``KMeansQuantizer(k, random_state=0)``, ``encode_palette_png``) in their own processes. A line
per file and k says whether this revision's PNG, with its ``sRGB`` chunk removed, is byte for
byte the other revision's PNG.
"""

from __future__ import annotations

import struct
import subprocess
import sys
import tempfile
from pathlib import Path

from PIL import Image

ROOT = Path(__file__).resolve().parents[1]
KS = (16, 64, 256)
PROGRAM = r"""
import sys
sys.path.insert(0, sys.argv[1])
from kmeans_compress._io import load_image, encode_palette_png
from kmeans_compress._quantize import KMeansQuantizer
for path in sys.argv[2:]:
    for k in (16, 64, 256):
        q = KMeansQuantizer(k, random_state=0).fit(load_image(path))
        print(encode_palette_png(q.palette_, q.labels_).hex())
"""


def without_srgb_chunk(data):
    out, i = data[:8], 8
    while i < len(data):
        (n,) = struct.unpack(">I", data[i : i + 4])
        if data[i + 4 : i + 8] != b"sRGB":
            out += data[i : i + 12 + n]
        i += 12 + n
    return out


def outputs(package_root, paths):
    done = subprocess.run([sys.executable, "-c", PROGRAM, str(package_root), *map(str, paths)], capture_output=True, text=True, check=True)
    return [bytes.fromhex(line) for line in done.stdout.split()]


def main(argv=None):
    argv = sys.argv[1:] if argv is None else argv
    if len(argv) != 1:
        raise SystemExit("usage: python benchmarks/compare_bytes_with.py REVISION")
    srgb = (ROOT / "tests" / "data" / "icc" / "sRGB-v4.icc").read_bytes()
    with tempfile.TemporaryDirectory() as tmp:
        tmp = Path(tmp)
        other = tmp / "other"
        other.mkdir()
        archive = subprocess.run(["git", "-C", str(ROOT), "archive", argv[0], "kmeans_compress"], capture_output=True, check=True)
        subprocess.run(["tar", "-x", "-C", str(other)], input=archive.stdout, check=True)
        inputs = []
        sources = sorted((ROOT.parent / "shared" / "corpus").glob("*.png")) + sorted((ROOT / "images").glob("*.png"))
        for src in sources:
            with Image.open(src) as im:
                im.load()
                for suffix, params in ((".png", {}), (".png", {"icc_profile": srgb}), (".jpg", {"quality": 95}), (".jpg", {"quality": 95, "icc_profile": srgb})):
                    if suffix == ".jpg" and im.mode != "RGB":
                        continue
                    path = tmp / f"{src.stem}-{'srgb' if params.get('icc_profile') else 'untagged'}{suffix}"
                    im.save(path, **params)
                    inputs.append(path)
        theirs, ours = outputs(other, inputs), outputs(ROOT, inputs)
        same = 0
        for i, (a, b) in enumerate(zip(theirs, ours)):
            equal = without_srgb_chunk(b) == a and b"sRGB" in b
            same += equal
            print(f"{inputs[i // len(KS)].name:28s} k={KS[i % len(KS)]:<3d} {argv[0]} {len(a):>8,} B  here {len(b):>8,} B  same apart from sRGB: {equal}")
        print(f"{same} of {len(ours)} outputs are the same bytes apart from the sRGB chunk")
        return 0 if same == len(ours) else 1


if __name__ == "__main__":
    sys.exit(main())
