"""Screenshot the built documentation site in Debian's headless Chromium.

Three pages, as a reader opens them: the home page, the lesson (tall enough to show its first
figures) and the API page of ``KMeansQuantizer``. Chromium is Debian's (``apt-get install -y
chromium``), run with the closed-network flags of ``tools/browser_check.py``; nothing is downloaded.

Run from the project's root after building the site::

    sphinx-build -W --keep-going -b html docs docs/_build/html
    python tools/docs_screenshots.py                 # PNGs in output/docs-screenshots/ (ignored by git)
    python tools/docs_screenshots.py --out /tmp/shots

Exit status 0 when every screenshot was written.
"""

from __future__ import annotations

import argparse
import subprocess
import sys
import tempfile
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from tools.browser_check import CHROMIUM, CHROMIUM_FLAGS  # noqa: E402

SITE = ROOT / "docs" / "_build" / "html"
# (file name, page in the site, window width x height)
PAGES = [
    ("home.png", "index.html", (1280, 1400)),
    ("lesson.png", "lessons/kmeans_image_compression.html", (1280, 5200)),
    ("api-kmeansquantizer.png", "api/generated/kmeans_compress.KMeansQuantizer.html", (1280, 2400)),
]


def screenshot(page: Path, target: Path, size: tuple[int, int]) -> None:
    with tempfile.TemporaryDirectory(prefix="docs-chromium.") as profile:
        command = [
            CHROMIUM, *CHROMIUM_FLAGS, f"--user-data-dir={profile}", "--hide-scrollbars",
            f"--window-size={size[0]},{size[1]}", f"--screenshot={target}", "--virtual-time-budget=5000",
            page.as_uri(),
        ]  # fmt: skip
        subprocess.run(command, check=True, capture_output=True, timeout=120)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--site", type=Path, default=SITE, help="the built site (default docs/_build/html)")
    parser.add_argument("--out", type=Path, default=ROOT / "output" / "docs-screenshots", help="folder for the PNGs")
    args = parser.parse_args(argv)
    if not Path(CHROMIUM).exists():
        print(f"docs_screenshots: {CHROMIUM} not found (apt-get install -y chromium)", file=sys.stderr)
        return 1
    missing = [page for _, page, _ in PAGES if not (args.site / page).exists()]
    if missing:
        print(f"docs_screenshots: build the site first; missing {', '.join(missing)}", file=sys.stderr)
        return 1
    args.out.mkdir(parents=True, exist_ok=True)
    for name, page, size in PAGES:
        target = args.out / name
        screenshot(args.site / page, target, size)
        print(f"{page} -> {target}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
