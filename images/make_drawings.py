"""Draw the project's own flat-colour sample images with Pillow (they are CC0, like this script).

Run from the project root: ``python images/make_drawings.py``. The output is deterministic.

* ``cartoon.png``: a flat-colour cartoon scene (sky, sun, hills, house, tree), drawn at 4x and
  downscaled with LANCZOS so that edges are anti-aliased like a real cartoon frame.
* ``badge_rgba.png``: an RGBA badge with soft anti-aliased edges over full transparency, for
  the alpha-aware quantization.
"""

from pathlib import Path

from PIL import Image, ImageDraw

HERE = Path(__file__).resolve().parent
S = 4  # supersampling factor


def cartoon(width=640, height=400):
    W, H = width * S, height * S
    im = Image.new("RGB", (W, H), (120, 190, 240))
    d = ImageDraw.Draw(im)
    # sky bands
    for i, c in enumerate([(120, 190, 240), (140, 200, 242), (165, 212, 245)]):
        d.rectangle([0, i * H // 8, W, (i + 1) * H // 8 + H // 2], fill=c)
    d.ellipse([W * 0.75, H * 0.08, W * 0.9, H * 0.32], fill=(255, 214, 64), outline=(240, 160, 40), width=6 * S)
    # clouds
    for cx, cy in [(0.2, 0.15), (0.45, 0.1)]:
        for dx, r in [(-0.05, 0.06), (0.0, 0.08), (0.05, 0.06)]:
            d.ellipse([W * (cx + dx - r), H * (cy - r), W * (cx + dx + r), H * (cy + r)], fill=(250, 250, 252))
    # hills
    d.ellipse([-W * 0.3, H * 0.55, W * 0.7, H * 1.6], fill=(96, 170, 72))
    d.ellipse([W * 0.3, H * 0.6, W * 1.4, H * 1.7], fill=(70, 140, 60))
    d.rectangle([0, H * 0.85, W, H], fill=(60, 120, 50))
    # house
    d.rectangle([W * 0.18, H * 0.52, W * 0.4, H * 0.82], fill=(236, 222, 196), outline=(60, 40, 30), width=3 * S)
    d.polygon(
        [(W * 0.15, H * 0.53), (W * 0.29, H * 0.36), (W * 0.43, H * 0.53)], fill=(190, 60, 50), outline=(60, 40, 30)
    )
    d.rectangle([W * 0.26, H * 0.66, W * 0.31, H * 0.82], fill=(120, 80, 50), outline=(60, 40, 30), width=2 * S)
    for x in (0.2, 0.33):
        d.rectangle(
            [W * x, H * 0.57, W * (x + 0.05), H * 0.64], fill=(150, 210, 250), outline=(60, 40, 30), width=2 * S
        )
    # tree
    d.rectangle([W * 0.62, H * 0.55, W * 0.65, H * 0.8], fill=(110, 70, 40))
    d.ellipse([W * 0.56, H * 0.36, W * 0.71, H * 0.6], fill=(40, 110, 50), outline=(25, 70, 30), width=3 * S)
    # flowers
    for i in range(12):
        x, y = W * (0.05 + 0.08 * i), H * (0.9 + 0.03 * (i % 3))
        d.ellipse(
            [x - 5 * S, y - 5 * S, x + 5 * S, y + 5 * S], fill=[(250, 90, 120), (255, 230, 80), (200, 120, 240)][i % 3]
        )
    return im.resize((width, height), Image.LANCZOS)


def badge(size=256):
    N = size * S
    im = Image.new("RGBA", (N, N), (0, 0, 0, 0))
    d = ImageDraw.Draw(im)
    d.ellipse([N * 0.06, N * 0.06, N * 0.94, N * 0.94], fill=(30, 90, 200, 255))
    d.ellipse([N * 0.16, N * 0.16, N * 0.84, N * 0.84], fill=(250, 250, 250, 255))
    d.regular_polygon((N / 2, N / 2, N * 0.28), 5, rotation=0, fill=(240, 170, 20, 255))
    d.ellipse([N * 0.0, N * 0.7, N * 0.3, N * 1.0], fill=(220, 40, 60, 160))  # a translucent dot
    return im.resize((size, size), Image.LANCZOS)


if __name__ == "__main__":
    cartoon().save(HERE / "cartoon.png", optimize=True)
    badge().save(HERE / "badge_rgba.png", optimize=True)
    print("wrote", HERE / "cartoon.png", HERE / "badge_rgba.png")
