"""The one-call quantizer for notebooks and scripts: :func:`quantize` fits and rebuilds an image."""

from __future__ import annotations

from typing import Any

import numpy as np

from ._encode import encode_palette_png
from ._quantize import KMeansQuantizer

__all__ = ["QuantizeResult", "quantize"]


class QuantizeResult:
    """What :func:`quantize` returns.

    Parameters
    ----------
    quantizer : KMeansQuantizer
        Fitted on one image (it has ``labels_``).

    Attributes
    ----------
    image : ndarray of uint8, shape (H, W, C)
        The rebuilt image, ``palette[labels]``.
    palette : ndarray of uint8, shape (n_colors, C)
        The quantizer's ``palette_``.
    labels : ndarray, shape (H, W), smallest unsigned dtype
        The quantizer's ``labels_``.
    quantizer : KMeansQuantizer
        The fitted estimator (``inertia_``, ``kmeans_``, ...).
    """

    def __init__(self, quantizer: KMeansQuantizer) -> None:
        self.quantizer = quantizer
        self.palette = quantizer.palette_
        self.labels = quantizer.labels_
        self.image = self.palette[self.labels]

    @property
    def n_colors(self) -> int:
        """Colours actually used."""
        return int(self.quantizer.n_colors_)

    @property
    def inertia(self) -> float:
        """The fitted quantizer's ``inertia_``."""
        return float(self.quantizer.inertia_)

    def __repr__(self) -> str:
        return f"QuantizeResult(n_colors={self.n_colors}, shape={self.image.shape}, inertia={self.inertia:.4g})"


def quantize(  # KMeansQuantizer's parameters, written out so that help(), IDEs and mypy show them
    image: Any, n_colors: int = 16, *, color_space: str = "rgb", n_init: int | str = "auto", max_iter: int = 300,
    tol: float = 1e-4, random_state: int | np.random.RandomState | np.random.Generator | None = 0,
    dither: bool = False, run_budget: float | str = "auto", histogram_bits: int | None = 5, refine_iter: int = 10,
) -> QuantizeResult:
    """Quantize an image to at most ``n_colors`` colours in one call, as the command line does.

    The parameters after ``n_colors`` are :class:`KMeansQuantizer`'s, with its defaults but
    one: ``run_budget="auto"``, with the labels that make the smaller PNG, as
    :func:`compress_file` and ``kmeans-compress -k`` choose them. So ``quantize(image, k)``,
    ``quantize_image(im, k)`` and ``kmeans-compress -k k`` give the same pixels; the estimator
    on its own keeps plain k-means (``run_budget=0``) as its default.

    Parameters
    ----------
    image : str, os.PathLike, file object, bytes, PIL.Image.Image or ndarray
        Anything :func:`kmeans_compress.load_image` takes.
    n_colors : int, default=16
        Palette size k, from 1 to 256.
    color_space : {"rgb", "lab", "oklab"}, default="rgb"
        Space in which distances are measured and centres averaged.
    n_init : int or "auto", default="auto"
        Number of k-means++ initialisations; the best inertia wins.
    max_iter : int, default=300
        Maximum number of Lloyd iterations of ``KMeans`` for a single run.
    tol : float, default=1e-4
        Relative tolerance on centre movement to declare convergence, as scikit-learn's.
    random_state : int, numpy.random.RandomState, numpy.random.Generator or None, default=0
        Seed for k-means++: the same image, k and seed give the same palette.
    dither : bool, default=False
        Floyd–Steinberg error diffusion instead of nearest colours (RGB only).
    run_budget : float or "auto", default="auto"
        PSNR, in dB, the labels may give up for longer runs of one index (smaller files); the
        runs are kept only when they make the PNG smaller. ``0`` gives the nearest colours.
    histogram_bits : int or None, default=5
        Bits per channel of the reduced histogram fitted first on photos; None fits the exact
        distinct colours.
    refine_iter : int, default=10
        Most exact Lloyd steps on every distinct colour after a reduced-histogram fit.

    Returns
    -------
    QuantizeResult
        The rebuilt image, its palette and labels, and the fitted quantizer.
    """
    quantizer = KMeansQuantizer(
        n_colors,
        color_space=color_space,
        n_init=n_init,
        max_iter=max_iter,
        tol=tol,
        random_state=random_state,
        dither=dither,
        run_budget=run_budget,
        histogram_bits=histogram_bits,
        refine_iter=refine_iter,
    )
    quantizer.fit(image)
    plain = quantizer.without_runs()
    if plain is not None:  # as the file route: the labels whose PNG is smaller (a tie: the nearest)
        runs_size = len(encode_palette_png(quantizer.palette_, quantizer.labels_))
        if len(encode_palette_png(plain.palette_, plain.labels_)) <= runs_size:
            quantizer = plain
    return QuantizeResult(quantizer)
