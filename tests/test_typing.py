"""The type hints are real: mypy, run as a user would on scripts that use the package, flags a
wrong argument type and accepts correct use of every public name (through ``__init__.pyi``)."""

from __future__ import annotations

import textwrap
from pathlib import Path

import pytest

import kmeans_compress

api = pytest.importorskip("mypy.api")

ROOT = Path(__file__).resolve().parents[1]

GOOD = """
from __future__ import annotations

import numpy as np
from numpy.typing import NDArray

import kmeans_compress
from kmeans_compress import ({names})

image: NDArray[np.uint8] = np.zeros((4, 4, 3), np.uint8)
quality: float = psnr(image, image, data_range=255.0)
similarity: float = ssim(image, image)
colour_error: float = delta_e(image, image, sigma=1.0)
smoothed: NDArray[np.uint8] = smooth_image(image, sigma=1.0)
bpp: float = bits_per_pixel(120, 16)
result: Compressed = compress_bytes(b"...", n_colors="auto", min_psnr=30.0, format="webp")
data: bytes = result.data
choice: KChoice | None = result.choice
report: CompressionReport = kmeans_compress.compress_file("in.png", "out.png", n_colors=16, inputs=["other.png"])
line: str = report.summary()
chosen: int | None = choose_k(image, min_psnr=30.0).k
rows: list[SweepRow] = choose_k(image).rows
version: str = kmeans_compress.__version__
"""

BAD = """
import numpy as np

import kmeans_compress

image = np.zeros((4, 4, 3), np.uint8)
kmeans_compress.psnr("a", 3)  # line 7: images are uint8 arrays
kmeans_compress.compress_bytes(b"...", n_colors="sixteen")  # line 8: an int or "auto"
db: int = kmeans_compress.psnr(image, image)  # line 9: a float
kmeans_compress.choose_k(image, min_psnr="30 dB")  # line 10: a number
kmeans_compress.not_a_name  # line 11: not exported
"""


@pytest.fixture(scope="module")
def mypy_output(tmp_path_factory, monkeypatch_module):
    folder = tmp_path_factory.mktemp("typing")
    names = ", ".join(n for n in kmeans_compress.__all__ if n != "__version__")
    (folder / "good.py").write_text(textwrap.dedent(GOOD).format(names=names), encoding="utf-8")
    (folder / "bad.py").write_text(BAD, encoding="utf-8")
    # the package as this checkout has it (also when installed elsewhere), nothing but these
    # scripts' own errors reported, no configuration file: a user's plain `mypy script.py`
    monkeypatch_module.setenv("MYPYPATH", str(ROOT))
    monkeypatch_module.chdir(folder)
    stdout, stderr, _ = api.run(
        ["good.py", "bad.py", "--follow-imports=silent", "--config-file=", f"--cache-dir={folder / 'cache'}"]
    )
    return stdout + stderr


@pytest.fixture(scope="module")
def monkeypatch_module():
    with pytest.MonkeyPatch.context() as mp:
        yield mp


def test_correct_use_of_every_public_name_passes(mypy_output):
    assert "good.py" not in mypy_output, mypy_output


@pytest.mark.parametrize(
    ("line", "message"),
    [
        (7, 'Argument 1 to "psnr" has incompatible type "str"'),
        (7, 'Argument 2 to "psnr" has incompatible type "int"'),
        (8, 'Argument "n_colors" to "compress_bytes" has incompatible type'),
        (9, 'Incompatible types in assignment (expression has type "float", variable has type "int")'),
        (10, 'Argument "min_psnr" to "choose_k" has incompatible type "str"'),
        (11, 'Module has no attribute "not_a_name"'),
    ],
    ids=["psnr-str", "psnr-int", "n_colors", "returns-float", "min_psnr", "unknown-name"],
)
def test_wrong_types_are_flagged(mypy_output, line, message):
    flagged = [text for text in mypy_output.splitlines() if text.startswith(f"bad.py:{line}: error")]
    assert any(message in text for text in flagged), mypy_output
