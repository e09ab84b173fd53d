"""Draw the picture at the top of the README and the documentation's home page.

The bundled photo beside its 16-colour file, as the command line writes it
(``kmeans-compress images/parrots.png -k 16``), titled with both sizes in bytes and the PSNR; drawn
by :func:`kmeans_compress.plotting.plot_side_by_side` from the package's own measurement.

Run from the project's root after a change that moves the figures::

    python tools/make_readme_figure.py          # writes docs/_static/parrots-k16.jpg

The figure is saved as a JPEG at quality 90 to keep the repository small; the indexed PNG it shows
is the one :func:`kmeans_compress.compress_bytes` returns.
"""

from __future__ import annotations

import io
import sys
from pathlib import Path

import matplotlib

matplotlib.use("Agg")

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from kmeans_compress import compress_bytes, load_image  # noqa: E402
from kmeans_compress.plotting import plot_side_by_side  # noqa: E402

SOURCE = ROOT / "images" / "parrots.png"
TARGET = ROOT / "docs" / "_static" / "parrots-k16.jpg"
K = 16


def main() -> int:
    original = load_image(SOURCE)
    result = compress_bytes(SOURCE.read_bytes(), K, name=SOURCE.name)
    quantized = load_image(io.BytesIO(result.data))
    fig = plot_side_by_side(original, quantized, measurement=result.measurement)
    TARGET.parent.mkdir(parents=True, exist_ok=True)
    fig.savefig(TARGET, dpi=100, bbox_inches="tight", pil_kwargs={"quality": 90, "optimize": True})
    m = result.measurement
    print(f"{TARGET.relative_to(ROOT)}: k={m.k}, {m.bytes_out:,} B, PSNR {m.psnr:.2f} dB")
    return 0


if __name__ == "__main__":
    sys.exit(main())
