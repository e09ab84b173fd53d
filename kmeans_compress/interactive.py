"""k on a slider: quantize an image at the k a learner picks and show what it costs and keeps.

:func:`show_k` quantizes, measures, then draws (with :func:`~kmeans_compress.plotting.plot_result`):
the quantized image above its palette, titled with the indexed PNG's size, bits per pixel and
PSNR. :func:`k_slider` puts it behind an ipywidgets control (k from 1 to 256 and a choice of
images), for a notebook::

    from kmeans_compress.interactive import k_slider
    k_slider({"parrots": "images/parrots.png", "cartoon": "images/cartoon.png"}, k=16)

Where no widget front end runs (nbval, an HTML export, a static viewer), the same cell shows the
figure for the starting k as a plain image, with a line of text that names its numbers.

Needs matplotlib and ipywidgets (both in ``requirements.txt``); the rest of the package
imports neither.
"""

from __future__ import annotations

import base64
import io
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

from ._plot_images import result_figsize
from ._sweep import ImageSweep
from ._validation import check_k
from .plotting import plot_result

if TYPE_CHECKING:
    from ._sweep import SweepRow
    from ._typing import ImageSource

__all__ = ["KSlider", "k_slider", "show_k"]

K_MIN, K_MAX = 1, 256


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


def _summary(name: str, measurement: SweepRow) -> str:
    m = measurement
    return (
        f"{name}, k = {m.k}: indexed PNG {m.bytes_out / 1000:.1f} kB, "
        f"{m.bits_per_pixel:.2f} bits per pixel, PSNR {m.psnr:.1f} dB"
    )


def _render_png(job: ImageSweep, k: int, dpi: float) -> tuple[bytes, SweepRow]:
    """(PNG bytes of the figure for ``k``, measurement), drawn without pyplot so nothing else shows it."""
    fig = Figure(figsize=result_figsize(job.image.shape, k), layout="constrained")
    _, measurement = show_k(job, k, fig=fig)
    buffer = io.BytesIO()
    fig.savefig(buffer, format="png", dpi=dpi)
    return buffer.getvalue(), measurement


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
    images: Mapping[str, ImageSource | ImageSweep] | ImageSource,
    *,
    k: int = 16,
    random_state: int = 0,
    dpi: float = 72,
) -> KSlider:
    """An interactive control: drag k from 1 to 256, pick an image, and see the result.

    Parameters
    ----------
    images : mapping of str to path, image or ImageSweep, or one path or image
        The images to choose from, by name (the first is shown first). Each is loaded and its
        colours counted when first chosen, and each k is fitted once (an
        :class:`~kmeans_compress.ImageSweep` per image): going back to a k is instant. An
        ImageSweep made with ``keep_quantizers=True`` is used as it is, with the k it has
        already fitted (and its own ``random_state``).
    k : int, default 16
        The starting palette size, 1 to 256.
    random_state : int, default 0
        Seed of every k-means fit.
    dpi : int, default 72
        Resolution of the figure (the figure is 6 inches wide: 432 pixels at 72 dpi).

    Returns
    -------
    KSlider
        An ipywidgets box. Displayed by a notebook, it is the live control; where no widget
        front end runs, it shows the figure for ``k`` as a plain image, and its text is
        :attr:`KSlider.summary`.
    """
    return KSlider(_as_images(images), k=k, random_state=random_state, dpi=dpi)


class KSlider(widgets.VBox):
    """The box :func:`k_slider` returns: an image menu and a k slider above the figure.

    Attributes
    ----------
    slider : ipywidgets.IntSlider
    chooser : ipywidgets.Dropdown
    picture : ipywidgets.Image
        The current figure, as PNG.
    measurement
        What the current figure shows (``k``, ``bytes_out``, ``bits_per_pixel``, ``psnr``).
    summary : str
        The same in one line of text.
    """

    def __init__(self, images: Mapping[str, Any], *, k: int, random_state: int, dpi: float) -> None:
        k = check_k("k", k)
        self._sources = images
        self._loaded: dict[str, ImageSweep] = {}
        self._random_state = random_state
        self._dpi = dpi
        self.chooser = widgets.Dropdown(options=list(images), description="image")
        self.slider = widgets.IntSlider(
            value=int(k), min=K_MIN, max=K_MAX, step=1, description="k", continuous_update=False
        )
        self.picture = widgets.Image(format="png")
        self.caption = widgets.Label()
        super().__init__([widgets.HBox([self.chooser, self.slider]), self.caption, self.picture])
        self.update()
        self.slider.observe(self.update, names="value")
        self.chooser.observe(self.update, names="value")

    def _sweep(self, name: str) -> ImageSweep:
        """The image's ImageSweep: loaded and its colours counted once, each k fitted once."""
        if name not in self._loaded:
            source = self._sources[name]
            if isinstance(source, ImageSweep) and source.keep_quantizers:
                self._loaded[name] = source  # its fits are reused
            else:
                self._loaded[name] = ImageSweep(source, random_state=self._random_state, keep_quantizers=True)
        return self._loaded[name]

    def update(self, change: object = None) -> None:
        """Quantize, measure and draw for the slider's k and the chosen image."""
        name, k = self.chooser.value, self.slider.value
        png, self.measurement = _render_png(self._sweep(name), k, self._dpi)
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
