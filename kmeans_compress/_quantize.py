"""K-Means colour quantization: scikit-learn ``KMeans`` fitted on weighted distinct colours.

The textbook way fits ``KMeans`` on every pixel. An image has far fewer distinct colours than
pixels, and the k-means objective, ``sum over pixels of ||pixel - centre||^2``, is the same sum
when each distinct colour is counted once with its pixel count as ``sample_weight``. So the
quantizer fits ``KMeans`` on a :class:`~kmeans_compress.ColorHistogram` (one image's, or the sum
of several) and then remaps pixels as a step of its own (:meth:`KMeansQuantizer.remap`, through
:mod:`._remap`): no per-pixel Python loop and no per-pixel distance computation.
"""

from __future__ import annotations

import copy
import warnings
from collections.abc import Sequence
from typing import TYPE_CHECKING, Any, cast

import numpy as np
from numpy.typing import ArrayLike, NDArray
from sklearn.base import BaseEstimator, ClusterMixin, TransformerMixin
from sklearn.utils.validation import check_is_fitted

from ._centres import fit_centres
from ._colorspace import COLOR_SPACES, colors_to_features, features_to_colors
from ._histogram import ColorHistogram, label_dtype
from ._load import is_image_source, load_image
from ._remap import RunBudget, nearest_entries, remap_histogram, resolve_run_budget
from ._validation import (
    check_bool,
    check_int,
    check_k,
    check_option,
    check_palette,
    check_real,
)

if TYPE_CHECKING:
    from typing_extensions import Self

__all__ = ["ColorHistogram", "KMeansQuantizer", "label_dtype"]

#: What ``fit`` accepts: an image or pixel array, a histogram, or a list or tuple of them.
FitInput = ArrayLike | ColorHistogram | Sequence[ArrayLike | ColorHistogram]

# Palette alphas at or above this become 255 (see KMeansQuantizer.fit).
_OPAQUE_SNAP = 250


def _as_histogram(X: FitInput) -> ColorHistogram:
    """The histogram of ``X``: an image or pixel array, a histogram, or a list or tuple of them (summed)."""
    if isinstance(X, ColorHistogram):
        return X
    if is_image_source(X):  # a path, a file object, encoded bytes or a PIL image: decoded to sRGB
        X = load_image(cast(Any, X))
    if isinstance(X, (list, tuple)) and X and all(isinstance(x, (np.ndarray, ColorHistogram)) for x in X):
        return ColorHistogram.merge(x if isinstance(x, ColorHistogram) else ColorHistogram.from_image(x) for x in X)
    return ColorHistogram.from_image(cast(ArrayLike, X))


class KMeansQuantizer(TransformerMixin, ClusterMixin, BaseEstimator):
    """Reduce an image to at most ``n_colors`` colours with scikit-learn ``KMeans``.

    ``KMeans`` is fitted on the image's distinct colours weighted by their pixel counts
    (``sample_weight``): the same sum of squared errors as fitting every pixel, with far fewer
    points. Photos with many distinct colours are first fitted on a *reduced histogram* (similar
    colours merged into their weighted mean, see ``histogram_bits``), then the centres are
    polished by exact Lloyd steps on every distinct colour, and every colour gets its exactly
    nearest palette entry. This is much faster on photos and close to the exact fit; the
    documentation's benchmarks page gives the measured trade-off.

    Parameters
    ----------
    n_colors : int, default=16
        Palette size k, from 1 to 256 (a PNG palette holds no more).
    color_space : {"rgb", "lab", "oklab"}, default="rgb"
        Space in which distances are measured and centres averaged. RGB minimises the error
        PSNR measures; CIELAB and Oklab spend colours where eyes see differences.
    n_init : int or "auto", default="auto"
        Number of k-means++ initialisations; the best inertia wins. ``"auto"`` runs 10 up to 8
        clusters, where runs are cheap and local optima lie far apart, 3 up to 64, where one start
        often lands in a poor local optimum, and 1 above, where starts agree and each costs more.
        Always passed to ``KMeans`` explicitly, so a change of scikit-learn's default never
        changes results.
    max_iter : int, default=300
        Maximum number of Lloyd iterations of ``KMeans`` for a single run.
    tol : float, default=1e-4
        Relative tolerance on centre movement to declare convergence, as scikit-learn's.
    random_state : int, numpy.random.RandomState, numpy.random.Generator or None, default=0
        Seed for k-means++. The same image, k and seed give the same palette and PNG bytes.
    dither : bool, default=False
        Map pixels to the palette with Floyd–Steinberg error diffusion instead of nearest
        colours (the default of :meth:`remap`'s ``dither`` in ``labels_``, ``predict`` and
        ``transform``). Removes bands in smooth gradients at the cost of noise and bytes; it
        never changes the palette. Images with alpha are
        never dithered (a ``UserWarning`` says so).
    run_budget : float or "auto", default=0.0
        PSNR, in dB, that the labels may give up so that neighbouring pixels share a palette
        entry more often: a pixel takes its left or upper neighbour's entry where that costs the
        least error, until the budget is spent. Longer runs of one index deflate into smaller
        files (see ``kmeans_compress._runs``). 0 keeps every pixel on its nearest entry, the
        k-means assignment; ``"auto"`` spends 0.03 dB on palettes of at most 16 colours, whose
        index maps are the noisiest, and nothing above. Like ``dither`` it changes ``labels_``,
        ``predict`` and ``transform``, not the palette; it applies to opaque RGB images only
        (not with ``dither``, not to pixel arrays).
    histogram_bits : int or None, default=5
        Bits per channel of the grid whose cells are merged into the reduced histogram that
        ``KMeans`` is fitted on, for images with more than a few thousand distinct colours.
        Larger is closer to the exact fit and slower; None (or 8) always fits the exact
        distinct colours.
    refine_iter : int, default=10
        Most exact Lloyd steps on every distinct colour after a reduced-histogram fit; each can
        only lower the objective, and they stop once the centres settle (``tol``). Each step but
        the last moves the centres a little past the means (over-relaxation), which gets as far
        as about twice as many plain steps. After the first, a step compares again only the
        colours whose nearest centre may have changed, so later steps cost little. Images with
        very many colours get fewer, so the fit time stays bounded. 0 keeps the reduced fit's
        centres.

    Attributes
    ----------
    palette_ : ndarray of uint8, shape (``n_colors_``, C)
        The colours used (C is 3, or 4 for an image with alpha), ordered by luminance. With
        alpha, fully transparent pixels keep an exact ``(0, 0, 0, 0)`` entry (when
        ``n_colors >= 2``) and nearly opaque entries are made opaque, so that transparent areas
        stay transparent and opaque areas opaque.
    n_colors_ : int
        Colours actually used, at most ``n_colors`` (fewer when the image has fewer distinct
        colours, or when two centres round to the same 8-bit colour).
    inertia_ : float
        Sum over pixels of the squared distance, in ``color_space`` features, between each
        pixel and its palette colour (the k-means objective after rounding).
    kmeans_ : sklearn.cluster.KMeans or None
        The fitted ``KMeans`` (on the reduced histogram when one was used, so its
        ``cluster_centers_`` are the centres before polishing); None when the image has at most
        ``n_colors`` distinct colours, which then are the palette.
    n_distinct_colors_ : int
        Distinct colours in the fitted image (or images).
    labels_ : ndarray, shape (H, W) or (N,)
        Palette index of every pixel of the fitted image, in the smallest unsigned dtype: what
        :meth:`remap` gives for that image with the ``dither`` and ``run_budget`` set here. Not
        set after a fit on a histogram that cannot map back to pixels (a merged one, or several
        images): remap each image instead.
    colors_ : ndarray of uint8, shape (M, C)
        The fitted histogram's distinct colours (``ColorHistogram.colors``).
    color_counts_ : ndarray of int64, shape (M,)
        Pixel count of each of ``colors_``.
    color_labels_ : ndarray of unsigned int, shape (M,)
        Nearest palette entry of each of ``colors_``: without runs or dithering,
        ``labels_`` is these spread to the pixels, so the quantized image's error can be
        computed exactly from the histogram (:func:`~kmeans_compress.measure` does).
    label_corrections_ : tuple of ndarray or None
        When runs moved pixels off their nearest entry (``run_budget``): ``(colors, old, new,
        counts)``, each distinct (colour, old entry, new entry) change and how many pixels made
        it, so that the histogram's pairs with ``old`` counted out and ``new`` counted in describe
        ``labels_`` exactly. None otherwise.

    See Also
    --------
    kmeans_compress.quantize : Fit and rebuild the image in one call.
    ColorHistogram : What ``fit`` works on; several images' histograms can be merged.
    sklearn.cluster.KMeans : The clustering it wraps.

    Examples
    --------
    >>> import numpy as np
    >>> from kmeans_compress import KMeansQuantizer
    >>> image = np.zeros((4, 4, 3), np.uint8); image[:, 2:] = (255, 0, 0)
    >>> q = KMeansQuantizer(n_colors=2).fit(image)
    >>> q.palette_.tolist()
    [[0, 0, 0], [255, 0, 0]]
    >>> other = np.full((1, 3, 3), 250, np.uint8)
    >>> q.remap(other).tolist()
    [[1, 1, 1]]
    >>> KMeansQuantizer.from_palette(q.palette_).predict(image).tolist() == q.labels_.tolist()
    True
    """

    def __init__(
        self,
        n_colors: int = 16,
        *,
        color_space: str = "rgb",
        n_init: int | str = "auto",
        max_iter: int = 300,
        tol: float = 1e-4,
        random_state: int | np.random.RandomState | np.random.Generator | None = 0,
        dither: bool = False,
        run_budget: float | str = 0.0,
        histogram_bits: int | None = 5,
        refine_iter: int = 10,
    ) -> None:
        self.n_colors = n_colors
        self.color_space = color_space
        self.n_init = n_init
        self.max_iter = max_iter
        self.tol = tol
        self.random_state = random_state
        self.dither = dither
        self.run_budget = run_budget
        self.histogram_bits = histogram_bits
        self.refine_iter = refine_iter

    # -- fitting ---------------------------------------------------------------------------

    def fit(self, X: FitInput, y: Any = None) -> Self:
        """Fit the palette on an image, a histogram, or several images together.

        Parameters
        ----------
        X : image, ndarray of uint8 (N, 3|4), ColorHistogram, or list of arrays or histograms
            The image (anything :func:`~kmeans_compress.load_image` takes: a path, a file
            object, encoded bytes, a PIL image or an array) or its pixels, to fit. A
            :class:`ColorHistogram` is fitted as it is; a
            list or tuple of images or histograms (all RGB or all RGBA) is fitted on their
            summed histogram (:meth:`ColorHistogram.merge`): one palette for all of them.
        y : None
            Ignored; for scikit-learn's API.

        Returns
        -------
        KMeansQuantizer
            This estimator, fitted. ``labels_`` is set only when ``X`` maps back to one image's pixels (an
            image, a pixel array, or that image's own histogram).
        """
        self._validate_parameters()
        hist = _as_histogram(X)
        for name in ("labels_", "label_corrections_", "_moved"):  # from an earlier fit
            self.__dict__.pop(name, None)
        features = colors_to_features(hist.colors, self.color_space)
        if hist.n_colors <= self.n_colors:
            if hist.n_colors < self.n_colors:
                warnings.warn(
                    f"n_colors={self.n_colors} is more than the {hist.n_colors} distinct "
                    f"colour{'s' if hist.n_colors != 1 else ''} in the image; using "
                    f"{'those' if hist.n_colors != 1 else 'that'} {hist.n_colors} exactly.",
                    UserWarning,
                    stacklevel=2,
                )
            self.kmeans_ = None
            palette, search, guess = hist.colors, None, None
        else:
            # Fully transparent pixels (one colour, (0, 0, 0, 0), in the histogram) keep an exact
            # entry of their own: left to k-means they blend with faint edge pixels into an
            # almost invisible haze (alpha 1 to 3) over the whole background.
            clear = (
                (hist.colors[:, 3] == 0)
                if hist.n_channels == 4 and self.n_colors > 1
                else np.zeros(hist.n_colors, bool)
            )
            if clear.any():
                colors, counts, kept_features = hist.colors[~clear], hist.counts[~clear], features[~clear]
            else:  # no copies: on a large photo they would cost as much as the image
                colors, counts, kept_features = hist.colors, hist.counts, features
            centres, search, guess, self.kmeans_ = fit_centres(
                colors, counts, kept_features, self.n_colors - int(clear.any()), n_init=self.n_init,
                max_iter=self.max_iter, tol=self.tol, random_state=self.random_state,
                histogram_bits=self.histogram_bits, refine_iter=self.refine_iter,
            )
            del colors, counts, kept_features
            palette = features_to_colors(centres, self.color_space)
            palette = np.vstack([hist.colors[clear], palette])
            if hist.n_channels == 4:
                # A centre that mixes opaque pixels with a few edge pixels lands just below 255;
                # within 2% of opaque it is made opaque, so opaque areas stay opaque.
                palette[palette[:, 3] >= _OPAQUE_SNAP, 3] = 255
            if clear.any():
                search = guess = None  # they index the other colours only
        self._set_palette(hist, features, palette, search, guess)
        del features, search, guess  # a copy of the colours or more each, on big photos
        self.label_corrections_ = None
        if hist.has_pixels:
            image = None if isinstance(X, (ColorHistogram, list, tuple)) else np.asarray(X)
            labels, runs = remap_histogram(
                hist, self.palette_, self.color_labels_, dither=self.dither,
                run_budget_db=resolve_run_budget(self.run_budget, self.n_colors), image=image, stacklevel=3,
            )
            self.labels_ = labels
            if runs is not None:
                positions, old, moves = runs
                # what without_runs() needs to give the nearest labels back (see ImageSweep.row):
                # the moved pixels' positions and old entries, not the histogram (which holds the image)
                self._moved = (positions, old)
                self.label_corrections_ = moves
        return self

    @classmethod
    def from_palette(cls, palette: ArrayLike, *, color_space: str = "rgb", **params: Any) -> Self:
        """A fitted quantizer from a given palette, to remap images onto it.

        Parameters
        ----------
        palette : ndarray of uint8, shape (k, 3) or (k, 4), 1 <= k <= 256
            The palette, used as given: its order is the labels' order, and a repeated colour
            keeps its first index.
        color_space : {"rgb", "lab", "oklab"}, default="rgb"
            Space in which :meth:`remap` measures the nearest entry.
        **params
            Further constructor parameters (``dither``, ``run_budget``, ...), the options of
            :meth:`predict` and :meth:`transform`. ``n_colors`` is ``k``.

        Returns
        -------
        KMeansQuantizer
            Fitted: ``palette_`` and ``n_colors_`` are set (``kmeans_`` is None); it has no
            histogram, ``labels_`` or ``inertia_``, which describe a fit on an image.

        Examples
        --------
        >>> import numpy as np
        >>> from kmeans_compress import KMeansQuantizer
        >>> q = KMeansQuantizer.from_palette(np.array([[0, 0, 0], [255, 255, 255]], np.uint8))
        >>> q.predict(np.array([[[10, 10, 10], [200, 220, 250]]], np.uint8)).tolist()
        [[0, 1]]
        """
        given = np.array(check_palette(palette), dtype=np.uint8, order="C")
        quantizer = cls(n_colors=len(given), color_space=color_space, **params)
        quantizer._validate_parameters()
        quantizer.palette_ = given
        quantizer.n_colors_ = len(given)
        quantizer.kmeans_ = None
        return quantizer

    def without_runs(self) -> Self | None:
        """Return this fit with every pixel on its nearest entry, or None when runs moved no pixel.

        For callers that encode both and keep the smaller file (runs do not pay on every
        image): the copy's ``labels_`` are ``remap(X)``'s nearest labels, its ``run_budget`` 0
        and its ``label_corrections_`` None; the palette is the same.

        Returns
        -------
        KMeansQuantizer or None
            A copy with the nearest labels, or None when runs moved no pixel.
        """
        moved = self.__dict__.get("_moved")
        if moved is None:
            return None
        positions, old = moved
        plain = copy.copy(self)
        del plain._moved
        plain.run_budget = 0.0
        plain.labels_ = self.labels_.copy()
        plain.labels_.reshape(-1)[positions] = old
        plain.label_corrections_ = None
        return plain

    def _set_palette(
        self,
        hist: ColorHistogram,
        features: NDArray[Any],
        palette: NDArray[Any],
        search: Any = None,
        guess: NDArray[Any] | None = None,
    ) -> None:
        """Assign colours to the nearest entry of ``palette``; keep the used entries in order.

        ``search``, when given, is a :class:`NearestSearch` over ``features`` to reuse, and
        ``guess`` a likely entry of ``palette`` for each colour (it speeds the search up only).
        """
        # drop centres that rounded to the same colour
        palette, inverse = np.unique(palette, axis=0, return_inverse=True)
        if guess is not None:
            guess = inverse.reshape(-1)[guess]
        pal_feats = colors_to_features(palette, self.color_space)
        color_labels, sq_dist = nearest_entries(hist.colors, features, palette, pal_feats, search, guess)
        used = np.bincount(color_labels, minlength=len(palette)) > 0
        palette = palette[used]
        order = np.argsort(_luminance(palette), kind="stable")
        palette = palette[order]
        remap = np.empty(len(used), np.intp)
        remap[np.flatnonzero(used)[order]] = np.arange(len(palette))
        self.palette_ = np.ascontiguousarray(palette)
        self.n_colors_ = len(palette)
        self.n_distinct_colors_ = hist.n_colors
        self.inertia_ = float(np.dot(hist.counts, sq_dist))
        # the histogram and each colour's entry: exact MSE and ΔE without the pixels
        # (kmeans_compress._metrics.palette_mse)
        self.colors_ = hist.colors
        self.color_counts_ = hist.counts
        self.color_labels_ = remap[color_labels].astype(label_dtype(len(palette)))

    def _validate_parameters(self) -> None:
        """Check every constructor parameter (scikit-learn estimators validate in ``fit``)."""
        check_k("n_colors", self.n_colors)
        check_option("color_space", self.color_space, COLOR_SPACES)
        if self.n_init != "auto":
            check_int("n_init", self.n_init, low=1, hint=" or 'auto'")
        check_int("max_iter", self.max_iter, low=1)
        check_real("tol", self.tol, low=0.0)
        check_bool("dither", self.dither)
        _check_run_budget(self.run_budget)
        if self.histogram_bits is not None:
            check_int("histogram_bits", self.histogram_bits, low=1, high=8, hint=" or None")
        check_int("refine_iter", self.refine_iter, low=0)

    # -- remapping onto the fitted palette ------------------------------------------------------

    def remap(
        self, X: ArrayLike | ColorHistogram, *, dither: bool = False, run_budget: RunBudget = 0.0
    ) -> NDArray[Any]:
        """Palette index of every pixel of ``X``: the fitted palette applied to any image.

        Parameters
        ----------
        X : ndarray of uint8, shape (H, W, C) or (N, C), or ColorHistogram
            The image (or pixels, or one image's histogram) to remap; C matching the palette.
        dither : bool, default=False
            Floyd–Steinberg error diffusion instead of the nearest entry (RGB only: with alpha
            a ``UserWarning`` says it is ignored). An ``(N, C)`` pixel array is dithered as one
            row of N pixels.
        run_budget : float or "auto", default=0.0
            PSNR, in dB, the labels may give up so that neighbouring pixels share an entry more
            often (see the class's ``run_budget``; ``"auto"`` is resolved with ``n_colors``).
            Applies to RGB images of shape (H, W, 3) without ``dither``.

        Returns
        -------
        ndarray of the smallest unsigned dtype for ``n_colors_``, shape (H, W) or (N,)
            With neither option, each pixel's exactly nearest entry in ``color_space`` (opaque
            pixels to opaque entries when the palette has alpha); of equally near entries, the
            one whose colour sorts first (by R, then G, B, A), as in ``fit``. ``fit(X).labels_`` is
            ``remap(X, dither=dither, run_budget=run_budget)`` with the constructor's options.
        """
        check_is_fitted(self, "palette_")
        check_bool("dither", dither)
        _check_run_budget(run_budget)
        hist = self._histogram_of(X)
        # entries in the order fit compares them (np.unique's, colours sorted by R, G, B, A), so
        # that a tie between two equally near entries goes where it went in fit
        order = np.lexsort(self.palette_.T[::-1])
        palette = self.palette_[order]
        feats = colors_to_features(hist.colors, self.color_space)
        color_labels, _ = nearest_entries(hist.colors, feats, palette, colors_to_features(palette, self.color_space))
        color_labels = order[color_labels].astype(label_dtype(self.n_colors_))
        image = None if isinstance(X, ColorHistogram) else np.asarray(X)
        budget = resolve_run_budget(run_budget, self.n_colors)
        return remap_histogram(hist, self.palette_, color_labels, dither=dither, run_budget_db=budget, image=image)[0]

    def _histogram_of(self, X: ArrayLike | ColorHistogram) -> ColorHistogram:
        """One image's histogram, its channels checked against the palette's."""
        hist = X if isinstance(X, ColorHistogram) else ColorHistogram.from_image(X)
        if hist.n_channels != self.palette_.shape[1]:
            msg = f"X has {hist.n_channels} channels but the quantizer was fitted on {self.palette_.shape[1]}."
            raise ValueError(msg)
        return hist

    def predict(self, X: ArrayLike | ColorHistogram) -> NDArray[Any]:
        """Palette index of every pixel of ``X``, with the constructor's ``dither`` and ``run_budget``.

        Same as ``remap(X, dither=self.dither, run_budget=self.run_budget)``.

        Parameters
        ----------
        X : ndarray of uint8, shape (H, W, C) or (N, C), C matching the palette
            The image or pixels to label.

        Returns
        -------
        ndarray of the smallest unsigned dtype, shape (H, W) or (N,)
            Each pixel's palette entry, remapped with this estimator's ``dither`` and ``run_budget``.
        """
        return self.remap(X, dither=self.dither, run_budget=self.run_budget)

    def fit_predict(self, X: FitInput, y: Any = None, **kwargs: Any) -> NDArray[Any]:
        """Fit on ``X`` and return its labels (same as ``fit(X).labels_``).

        Parameters
        ----------
        X : ndarray of uint8, shape (H, W, 3|4) or (N, 3|4)
            The image or pixels to fit and label.
        y : None
            Ignored.
        **kwargs
            Ignored; for scikit-learn's API.

        Returns
        -------
        ndarray of the smallest unsigned dtype, shape (H, W) or (N,)
            The fitted ``labels_``: each pixel's palette entry.
        """
        return self.fit(X).labels_

    def fit_transform(self, X: FitInput, y: Any = None, **fit_params: Any) -> NDArray[np.uint8]:
        """Fit on ``X`` and return it quantized (``fit(X).transform(X)`` without a second search).

        Parameters
        ----------
        X, y, **fit_params : see fit_predict
            As for :meth:`fit_predict`: the image or pixels to fit and quantize, then two arguments
            ignored (scikit-learn's API).

        Returns
        -------
        ndarray of uint8, the shape of ``X``
            The quantized image: each pixel replaced by its palette colour.
        """
        self.fit(X)
        return self.palette_[self.labels_]

    def transform(self, X: ArrayLike | ColorHistogram) -> NDArray[np.uint8]:
        """Quantized copy of ``X``: ``palette_[predict(X)]`` (dithered when ``dither`` is true).

        Parameters
        ----------
        X : see predict
            The image or pixels to quantize, as :meth:`predict` takes them.

        Returns
        -------
        ndarray of uint8, the shape of ``X``
            The quantized image: each pixel replaced by its palette colour.
        """
        return self.palette_[self.predict(X)]


def _check_run_budget(run_budget: object) -> None:
    if not (isinstance(run_budget, str) and run_budget == "auto"):
        check_real("run_budget", run_budget, low=0.0)


def _luminance(colors: NDArray[Any]) -> NDArray[np.float64]:
    rgb = colors[:, :3].astype(np.float64)
    lum = rgb @ np.array([0.299, 0.587, 0.114])
    if colors.shape[1] == 4:
        lum = lum * colors[:, 3] / 255.0 + colors[:, 3] * 1e-3
    return lum
