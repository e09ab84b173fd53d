"""k on a slider: quantize an image at the k a learner picks and show what it costs and keeps.

:func:`show_k` quantizes, measures, then draws (with :func:`~kmeans_compress.plotting.plot_result`):
the quantized image above its palette, titled with the indexed PNG's size, bits per pixel and
PSNR. :func:`k_slider` puts k behind an ipywidgets control (k from 1 to 256 on a log scale, and
a choice of images), for a notebook::

    from kmeans_compress.interactive import k_slider
    k_slider({"parrots": "images/parrots.png", "cartoon": "images/cartoon.png"}, k=16)

The slider shows the quantized image above its palette, and one line of text with the file's
size, bits per pixel and PSNR: it fits and encodes each new k, and measures PSNR exactly from the
colour histogram (not SSIM or ΔE, which it does not show), so that a new k shows quickly. Where no
widget front end runs (nbval, an HTML export, a static viewer), the same cell shows the picture
for the starting k as a plain image, with that line of text.

Needs matplotlib and ipywidgets (both in ``requirements.txt``); the rest of the package
imports neither.
"""

from __future__ import annotations

import base64
import dataclasses
import io
import math
from collections.abc import Mapping
from pathlib import Path
from typing import TYPE_CHECKING, Any

import numpy as np
from numpy.typing import NDArray

try:
    import ipywidgets as widgets
    from matplotlib.figure import Figure
except ImportError as exc:  # the [interactive] extra
    msg = "kmeans_compress.interactive needs ipywidgets and matplotlib: pip install 'kmeans-compress[interactive]'"
    raise ImportError(msg) from exc

from PIL import Image

from ._measure import label_histogram
from ._metrics import bits_per_pixel, palette_mse, psnr_from_mse
from ._sweep import ImageSweep
from ._validation import check_k
from .plotting import plot_result

if TYPE_CHECKING:
    from ._quantize import KMeansQuantizer
    from ._sweep import SweepRow
    from ._typing import ImageSource

__all__ = ["KSlider", "ShownK", "k_slider", "show_k"]

K_MIN, K_MAX = 1, 256

# The slider moves over log2 k, in steps of 1/64 (every k up to about 90 can be reached by
# dragging, and any k by typing it), so that k = 16 sits halfway and small k have room.
_LOG2_STEP = 1 / 64

# The picture: at least this wide (small images are enlarged by a whole factor), with up to
# _SWATCHES_PER_ROW palette swatches a row, each at most _SWATCH_HEIGHT pixels high.
_MIN_WIDTH, _MAX_WIDTH = 432, 800
_SWATCHES_PER_ROW = 16
_SWATCH_HEIGHT = 24
_GAP = 6
_PICTURE_LEVEL = 6  # zlib level of the picture (not of the file: that is the package's encoder)


def show_k(
    image: ImageSweep | NDArray[np.uint8], k: int, *, random_state: int = 0, fig: Figure | None = None
) -> tuple[Figure, SweepRow]:
    """Quantize ``image`` to ``k`` colours, measure it, and draw it above its palette.

    Parameters
    ----------
    image : ndarray of uint8, shape (H, W, 3) or (H, W, 4), or ImageSweep
        Pass an :class:`~kmeans_compress.ImageSweep` made with ``keep_quantizers=True`` to
        count the colours once and fit each k once over many calls (as the slider does).
    k : int
        Palette size, 1 to 256.
    random_state : int, default 0
        Seed of the k-means fit (ignored when ``image`` is an ImageSweep: it has its own).
    fig : matplotlib Figure, optional
        An empty figure to draw into; by default a new one made through pyplot (shown by
        Jupyter's inline backend).

    Returns
    -------
    fig : matplotlib.figure.Figure
    measurement : SweepRow
        The :class:`~kmeans_compress.Measurement` of this k (its ``seconds``: fit, encode and
        measure).
    """
    if not isinstance(image, ImageSweep):
        image = ImageSweep(image, random_state=random_state, keep_quantizers=True)
    elif not image.keep_quantizers:
        msg = "show_k needs an ImageSweep made with keep_quantizers=True (it draws the quantized image)."
        raise ValueError(msg)
    measurement = image.row(k)
    quantizer = image.quantizers_[measurement.k]
    fig = plot_result(quantizer.palette_[quantizer.labels_], quantizer.palette_, measurement=measurement, fig=fig)
    return fig, measurement


@dataclasses.dataclass(frozen=True)
class ShownK:
    """What the slider shows for one k: the file's size and the PSNR of its pixels.

    Attributes
    ----------
    k : int
        Colours asked for.
    bytes_out : int
        Size of the encoded file (the one :func:`~kmeans_compress.compress_file` writes).
    bits_per_pixel : float
        ``8 * bytes_out`` per pixel.
    psnr : float
        PSNR of the quantized image, in dB (inf when it is exact).
    """

    k: int
    bytes_out: int
    bits_per_pixel: float
    psnr: float


def _summary(name: str, shown: ShownK | SweepRow) -> str:
    return (
        f"{name}, k = {shown.k}: indexed PNG {shown.bytes_out / 1000:.1f} kB, "
        f"{shown.bits_per_pixel:.2f} bits per pixel, PSNR {shown.psnr:.1f} dB"
    )


def _shown(sweep: ImageSweep, k: int) -> tuple[KMeansQuantizer, ShownK]:
    """``(quantizer, ShownK)`` of ``k``: fitted and encoded once by the sweep, PSNR from the histogram."""
    quantizer, data = sweep.encoded(k)
    height, width = quantizer.labels_.shape
    histogram = label_histogram(quantizer)
    if histogram is None:  # a kept profile (measured as seen): the sweep's full measurement
        psnr = sweep.row(k).psnr
    else:
        psnr = psnr_from_mse(palette_mse(*histogram))
    return quantizer, ShownK(k, len(data), bits_per_pixel(len(data), height * width), psnr)


def _picture(palette: NDArray[np.uint8], labels: NDArray[Any]) -> bytes:
    """PNG of the quantized image above its palette's swatches, on white: a quick indexed picture.

    Not the file itself (which has no room for the swatches), but the same indices and colours:
    encoded fast by Pillow, as a picture to look at, not as a file to measure.
    """
    width = labels.shape[1]
    if width > _MAX_WIDTH:  # a large photo is shown at a fraction of its size, pixel for pixel
        stride = -(-width // _MAX_WIDTH)
        labels = labels[::stride, ::stride]
    elif width < _MIN_WIDTH:  # a small image is enlarged by a whole factor
        scale = -(-_MIN_WIDTH // width)
        labels = labels.repeat(scale, axis=0).repeat(scale, axis=1)
    width = labels.shape[1]
    colors = palette[:, :3].astype(np.uint16)
    if palette.shape[1] == 4:  # shown over white
        alpha = palette[:, 3:].astype(np.uint16)
        colors = (colors * alpha + 255 * (255 - alpha) + 127) // 255
    k = len(palette)
    white = k if k < 256 else int(np.argmax(colors.sum(axis=1)))  # at k = 256, the lightest entry
    colors = np.concatenate([colors, [[255, 255, 255]]]).astype(np.uint8)
    swatch_w = width // _SWATCHES_PER_ROW
    swatch_h = max(1, min(swatch_w, _SWATCH_HEIGHT))
    n_rows = -(-k // _SWATCHES_PER_ROW)
    cells = np.full(n_rows * _SWATCHES_PER_ROW, white, np.uint8)
    cells[:k] = np.arange(k)
    swatches = np.broadcast_to(
        cells.reshape(n_rows, 1, _SWATCHES_PER_ROW, 1), (n_rows, swatch_h, _SWATCHES_PER_ROW, swatch_w)
    )
    strip = np.full((_GAP + n_rows * swatch_h, width), white, np.uint8)
    strip[_GAP:, : _SWATCHES_PER_ROW * swatch_w] = swatches.reshape(n_rows * swatch_h, -1)
    picture = Image.fromarray(np.concatenate([labels.astype(np.uint8, copy=False), strip]), mode="P")
    picture.putpalette(colors[: max(k, white) + 1].tobytes(), rawmode="RGB")
    buffer = io.BytesIO()
    picture.save(buffer, format="PNG", compress_level=_PICTURE_LEVEL)
    return buffer.getvalue()


def _png_width(png: bytes) -> int:
    return int.from_bytes(png[16:20], "big")  # the IHDR chunk's width field


def _as_images(images: Any) -> dict[str, Any]:
    if isinstance(images, np.ndarray):
        return {"image": images}
    if isinstance(images, (str, Path)):
        return {Path(images).name: images}
    if not isinstance(images, Mapping) or not images:
        msg = (
            "images must be an image array, a path, or a non-empty mapping of name to image or path, "
            f"got {type(images).__name__}{'' if images else ' (empty)'}."
        )
        raise ValueError(msg)
    return dict(images)


def k_slider(
    images: Mapping[str, ImageSource | ImageSweep] | ImageSource, *, k: int = 16, random_state: int = 0
) -> KSlider:
    """An interactive control: drag k from 1 to 256, pick an image, and see the result.

    Parameters
    ----------
    images : mapping of str to path, image or ImageSweep, or one path or image
        The images to choose from, by name (the first is shown first). Each is loaded and its
        colours counted when first chosen, and each k is fitted and encoded once (an
        :class:`~kmeans_compress.ImageSweep` per image): going back to a k is instant. An
        ImageSweep is used as it is, with the k it has already fitted (and its own
        ``random_state``).
    k : int, default 16
        The starting palette size, 1 to 256.
    random_state : int, default 0
        Seed of every k-means fit.

    Returns
    -------
    KSlider
        An ipywidgets box. Displayed by a notebook, it is the live control; where no widget
        front end runs, it shows the picture for ``k`` as a plain image, and its text is
        :attr:`KSlider.summary`.
    """
    return KSlider(_as_images(images), k=k, random_state=random_state)


class KSlider(widgets.VBox):
    """The box :func:`k_slider` returns: an image menu and a k slider above the picture.

    The slider moves over log2 k (k = 4 a quarter of the way, 16 halfway, 64 three quarters),
    so that small k have as much room as large ones; its readout is k, where any k can be typed.

    Attributes
    ----------
    slider : ipywidgets.FloatLogSlider
        Its ``value`` is k (rounded to a whole number when dragged between two).
    chooser : ipywidgets.Dropdown
    picture : ipywidgets.Image
        The quantized image above its palette, as PNG.
    caption : ipywidgets.Label
        :attr:`summary`, shown once above the picture.
    measurement : ShownK
        What the current picture shows (``k``, ``bytes_out``, ``bits_per_pixel``, ``psnr``).
    summary : str
        The same in one line of text.
    """

    def __init__(self, images: Mapping[str, Any], *, k: int, random_state: int) -> None:
        k = check_k("k", k)
        self._sources = images
        self._loaded: dict[str, ImageSweep] = {}
        self._random_state = random_state
        self.chooser = widgets.Dropdown(options=list(images), description="image")
        self.slider = widgets.FloatLogSlider(
            value=int(k), base=2, min=math.log2(K_MIN), max=math.log2(K_MAX), step=_LOG2_STEP,
            description="k", readout_format=".0f", continuous_update=False,
        )
        self.picture = widgets.Image(format="png")
        self.caption = widgets.Label()
        super().__init__([widgets.HBox([self.chooser, self.slider]), self.caption, self.picture])
        self.update()
        self.slider.observe(self.update, names="value")
        self.chooser.observe(self.update, names="value")

    @property
    def k(self) -> int:
        """The slider's k, a whole number from 1 to 256."""
        return min(K_MAX, max(K_MIN, round(self.slider.value)))

    def _sweep(self, name: str) -> ImageSweep:
        """The image's ImageSweep: loaded and its colours counted once, each k fitted once."""
        if name not in self._loaded:
            source = self._sources[name]
            if isinstance(source, ImageSweep):
                self._loaded[name] = source  # its fits are reused
            else:
                self._loaded[name] = ImageSweep(source, random_state=self._random_state, keep_quantizers=True)
        return self._loaded[name]

    def update(self, change: object = None) -> None:
        """Fit, encode and show the slider's k for the chosen image, with its size and PSNR."""
        name, k = self.chooser.value, self.k
        quantizer, self.measurement = _shown(self._sweep(name), k)
        png = _picture(quantizer.palette_, quantizer.labels_)
        self.picture.value = png
        self.picture.width = str(_png_width(png))  # its own size, not stretched to the page
        self.summary = _summary(name, self.measurement)
        self.caption.value = self.summary

    def _repr_mimebundle_(self, **kwargs: Any) -> dict[str, Any]:
        # The widget view for a live front end; a plain image and a line of text for the rest
        # (a front end shows the richest type it can render, so a live one draws the widget).
        bundle = super()._repr_mimebundle_(**kwargs) or {}
        bundle["image/png"] = base64.b64encode(self.picture.value).decode("ascii")
        bundle["text/plain"] = self.summary + "  (in a live notebook: drag the slider to change k)"
        return bundle
