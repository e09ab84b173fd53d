"""Quantizing an image that keeps its ICC profile: clusters chosen by what a viewer sees.

With ``keep_profile=True`` the pixels stay in the profile's own values (Display P3, Adobe RGB,
ProPhoto, ...) and the output embeds the profile. Fitting k-means on those stored values would
minimise an error nobody sees: ProPhoto spreads sRGB's colours over fewer levels, so equal
steps in its values are unequal steps on screen. :class:`KeptProfileQuantizer` instead

1. converts each distinct stored colour to sRGB through the profile (LittleCMS, the transform
   :func:`~kmeans_compress._load.read_image` uses), the colours a colour-managed viewer shows;
2. fits :class:`~kmeans_compress.KMeansQuantizer` on those colours, weighted by pixel counts,
   which chooses the partition;
3. sets each palette entry to the pixel-count-weighted mean of its members' *stored* values,
   rounded (to whichever of its roundings is seen closest), so the file keeps values in the
   profile's space;
4. gives every distinct colour the entry whose colour, seen through the profile, is nearest to
   its own seen colour, so labels and palette agree.

:func:`as_seen` gives the measurement the same view: both images through the profile, in sRGB.

:func:`fit_quantizer` is the one entry point the one-call path and the sweep use: without a
profile it is exactly ``KMeansQuantizer(...).fit``.
"""

from __future__ import annotations

import dataclasses
import warnings
from typing import TYPE_CHECKING, Any

import numpy as np
from numpy.typing import NDArray
from PIL import Image
from sklearn.utils.validation import check_is_fitted

from ._colorspace import colors_to_features
from ._dither import floyd_steinberg
from ._histogram import ColorHistogram, label_dtype, pack_rgb
from ._icc import transform_to_srgb
from ._quantize import KMeansQuantizer
from ._remap import nearest_entries

if TYPE_CHECKING:
    from PIL.ImageCms import ImageCmsTransform
    from typing_extensions import Self

__all__ = ["KeptProfileQuantizer", "SeenQuantizer", "as_seen", "fit_quantizer"]


def fit_quantizer(X: Any, n_colors: int = 16, *, icc_profile: bytes | None = None, **params: Any) -> KMeansQuantizer:
    """Fit a palette of ``n_colors`` on an image, in what a viewer sees when it keeps a profile.

    Parameters
    ----------
    X : ndarray of uint8, shape (H, W, 3|4), or ColorHistogram
        The image in its stored values (sRGB, or the space of ``icc_profile``).
    n_colors : int, default=16
        Palette size k, 1 to 256.
    icc_profile : bytes or None, default=None
        The RGB ICC profile ``X`` is stored in and the output embeds
        (``read_image(..., keep_profile=True)[1].icc_profile``). None means sRGB.
    **params
        :class:`~kmeans_compress.KMeansQuantizer` parameters (``random_state``, ``color_space``, ...).

    Returns
    -------
    KMeansQuantizer or KeptProfileQuantizer
        Fitted; without a profile (or with one that moves no 8-bit value by more than a level)
        the plain ``KMeansQuantizer``, so sRGB images give the same bytes as ever.
    """
    if icc_profile is not None:
        try:
            identity = transform_to_srgb(bytes(icc_profile), "RGB")[1]
        except Exception as exc:  # noqa: BLE001 - LittleCMS rejects bad profiles in several ways
            warnings.warn(
                f"ICC profile unusable for viewing ({' '.join(str(exc).split())}); clusters chosen on its stored "
                "values",
                UserWarning,
                stacklevel=2,
            )
            identity = True
        if not identity:
            return KeptProfileQuantizer(n_colors, icc_profile=icc_profile, **params).fit(X)
    return KMeansQuantizer(n_colors, **params).fit(X)


class KeptProfileQuantizer(KMeansQuantizer):
    """K-means palette in a profile's stored values, clusters chosen in the sRGB it is seen as.

    A :class:`~kmeans_compress.KMeansQuantizer` whose ``fit`` and ``remap`` look at the colours
    through ``icc_profile``: distances are measured between seen colours, the palette holds
    stored values.

    Parameters
    ----------
    n_colors : int, default=16
        Palette size k, 1 to 256.
    icc_profile : bytes or None, default=None
        The RGB ICC profile the image is stored in (required to fit).
    color_space, n_init, max_iter, tol, random_state, histogram_bits, refine_iter
        As :class:`~kmeans_compress.KMeansQuantizer`'s; ``color_space`` is where the seen
        colours are compared.
    dither : bool, default=False
        Diffuse the error in seen colours (RGB only).
    run_budget : float or "auto", default=0.0
        Not used: with a kept profile every pixel takes its nearest entry as seen (or is
        dithered).

    Attributes
    ----------
    palette_ : ndarray of uint8, shape (``n_colors_``, C)
        Stored values (in the profile's space) of the colours used, in the order of the fit on
        the seen colours (by luminance).
    labels_ : ndarray, shape (H, W) or (N,)
        Palette index of every pixel, in the smallest unsigned dtype.
    n_colors_ : int
        Colours used.
    inertia_ : float
        Sum over pixels of the squared distance, in ``color_space`` features of the seen sRGB
        colours, between each pixel and its palette entry, both seen through the profile.
    n_distinct_colors_ : int
        Distinct stored colours of the image.
    colors_, color_counts_, color_labels_ : ndarray
        The distinct stored colours, their pixel counts and each one's entry (as seen).
    label_corrections_ : None
        Runs are never used with a kept profile.
    seen_palette_ : ndarray of uint8, shape (``n_colors_``, C)
        The palette as a colour-managed viewer shows it: ``palette_`` through the profile, in sRGB.
    view_quantizer_ : KMeansQuantizer
        The fit on the seen colours that chose the partition (its palette is in sRGB).
    kmeans_ : sklearn.cluster.KMeans or None
        ``view_quantizer_.kmeans_``.
    """

    def __init__(
        self,
        n_colors: int = 16,
        *,
        icc_profile: bytes | None = None,
        color_space: str = "rgb",
        n_init: int | str = "auto",
        max_iter: int = 300,
        tol: float = 1e-4,
        random_state: Any = 0,
        dither: bool = False,
        run_budget: float | str = 0.0,
        histogram_bits: int | None = 5,
        refine_iter: int = 10,
    ) -> None:
        super().__init__(
            n_colors, color_space=color_space, n_init=n_init, max_iter=max_iter, tol=tol, random_state=random_state,
            dither=dither, run_budget=run_budget, histogram_bits=histogram_bits, refine_iter=refine_iter,
        )
        self.icc_profile = icc_profile

    def _view_params(self) -> dict[str, Any]:
        """The plain quantizer's parameters for the fit on seen colours (never dithered)."""
        params = self.get_params()
        del params["icc_profile"]
        return {**params, "dither": False}

    def _transform(self) -> ImageCmsTransform:
        if self.icc_profile is None:
            msg = "KeptProfileQuantizer needs icc_profile, the RGB ICC profile the image is stored in."
            raise ValueError(msg)
        return transform_to_srgb(bytes(self.icc_profile), "RGB")[0]

    def fit(self, X: Any, y: Any = None) -> Self:
        """Fit the palette on ``X``, an image (or its histogram) in stored values.

        Parameters
        ----------
        X : ndarray of uint8, shape (H, W, 3|4) or (N, 3|4), or ColorHistogram
            The image in the profile's stored values.
        y : None
            Ignored.

        Returns
        -------
        self : KeptProfileQuantizer
        """
        self._validate_parameters()
        hist = X if isinstance(X, ColorHistogram) else ColorHistogram.from_image(X)
        view_params = self._view_params()
        transform = self._transform()
        self.label_corrections_ = None
        if hist.n_colors <= self.n_colors:  # every colour fits: the stored colours, exactly
            exact = KMeansQuantizer(**view_params).fit(hist)
            self._adopt(exact, hist)
            self.seen_palette_ = self._seen(transform, exact.palette_)
            return self
        seen = self._seen(transform, hist.colors)
        # The seen colours, counted once: the histogram whose "pixels" are the stored colours.
        codes = _pack(seen)
        _, first, inverse, = np.unique(codes, return_index=True, return_inverse=True)
        inverse = inverse.reshape(-1)
        seen_hist = ColorHistogram(
            seen[first], np.bincount(inverse, weights=hist.counts).astype(np.int64), (hist.n_colors,),
            inverse=inverse.astype(np.int32),
        )
        view = KMeansQuantizer(**view_params).fit(seen_hist)
        color_labels = np.asarray(view.labels_, np.intp)  # one per distinct stored colour
        palette = self._stored_entries(transform, hist, seen, color_labels, view.n_colors_)
        if hist.n_channels == 4:
            palette[:, 3] = view.palette_[:, 3]  # alpha is not transformed: the fit's own, snapped
            palette[palette[:, 3] == 0] = 0  # the transparent entry stays exactly (0, 0, 0, 0)
        seen_palette = self._seen(transform, palette)
        color_labels = self._nearest(seen_hist.colors, seen_palette)[inverse]
        used = np.bincount(color_labels, minlength=len(palette)) > 0
        remap = np.cumsum(used) - 1
        palette, seen_palette = palette[used], seen_palette[used]
        color_labels = remap[color_labels].astype(label_dtype(len(palette)))
        diff = (
            colors_to_features(seen, self.color_space)
            - colors_to_features(seen_palette, self.color_space)[color_labels]
        )
        self.view_quantizer_ = view
        self.kmeans_ = view.kmeans_
        self.palette_ = np.ascontiguousarray(palette)
        self.seen_palette_ = np.ascontiguousarray(seen_palette)
        self.n_colors_ = len(palette)
        self.n_distinct_colors_ = hist.n_colors
        self.inertia_ = float(np.dot(hist.counts, np.einsum("ij,ij->i", diff, diff)))
        self.colors_, self.color_counts_, self.color_labels_ = hist.colors, hist.counts, color_labels
        self.labels_ = self._seen_labels(hist, seen, color_labels, self.dither)
        return self

    def _seen_labels(
        self, hist: ColorHistogram, seen: NDArray[np.uint8], color_labels: NDArray[Any], dither: bool
    ) -> NDArray[Any]:
        """Pixel labels from each stored colour's entry, or dithered in seen colours."""
        if dither and hist.n_channels == 3:
            image = seen[hist.pixel_labels(np.arange(hist.n_colors, dtype=np.uint32))]
            image = image.reshape(
                (*hist.shape, 3) if len(hist.shape) == 2 else (1, -1, 3)  # type: ignore[misc, arg-type]  # has a shape
            )
            return floyd_steinberg(image, self.seen_palette_).reshape(hist.shape).astype(color_labels.dtype, copy=False)
        return hist.pixel_labels(color_labels)

    def remap(self, X: Any, *, dither: bool = False, run_budget: Any = 0.0) -> NDArray[Any]:
        """Palette index of every pixel of ``X`` (stored values), nearest as seen through the profile.

        Parameters
        ----------
        X : ndarray of uint8, shape (H, W, C) or (N, C), or ColorHistogram
            An image in the same profile's stored values.
        dither : bool, default=False
            Floyd–Steinberg error diffusion in seen colours (RGB only).
        run_budget : float or "auto", default=0.0
            Not used with a kept profile.

        Returns
        -------
        ndarray of the smallest unsigned dtype, shape (H, W) or (N,)
        """
        check_is_fitted(self, "seen_palette_")
        hist = X if isinstance(X, ColorHistogram) else ColorHistogram.from_image(X)
        seen = self._seen(self._transform(), hist.colors)
        color_labels = self._nearest(seen, self.seen_palette_).astype(label_dtype(self.n_colors_))
        return self._seen_labels(hist, seen, color_labels, dither)

    def _adopt(self, fitted: KMeansQuantizer, hist: ColorHistogram) -> None:
        self.view_quantizer_ = fitted
        self.kmeans_ = fitted.kmeans_
        self.palette_ = fitted.palette_
        self.n_colors_ = fitted.n_colors_
        self.n_distinct_colors_ = hist.n_colors
        self.inertia_ = 0.0  # every colour is its own entry
        self.colors_, self.color_counts_, self.color_labels_ = (
            fitted.colors_,
            fitted.color_counts_,
            fitted.color_labels_,
        )
        self.labels_ = fitted.labels_

    def seen(
        self, image: NDArray[np.uint8], *, seen_image: NDArray[np.uint8] | None = None
    ) -> tuple[NDArray[np.uint8], SeenQuantizer]:
        """``image`` and this fit as a colour-managed viewer shows them, for :func:`~kmeans_compress._measure.measure`.

        Parameters
        ----------
        image : ndarray of uint8, shape (H, W, 3|4)
            The image the quantizer was fitted on, in stored values.
        seen_image : ndarray of uint8, optional
            ``image`` already converted (what this returned before), not converted again.

        Returns
        -------
        seen_image : ndarray of uint8, shape (H, W, 3|4)
            ``image`` converted through the profile to sRGB (alpha kept).
        seen_quantizer : SeenQuantizer
            This fit with ``palette_`` replaced by ``seen_palette_``.
        """
        if seen_image is None:
            transform = self._transform()
            rgb = np.asarray(transform.apply(Image.fromarray(np.ascontiguousarray(image[..., :3]), "RGB")))
            seen_image = np.ascontiguousarray(np.dstack([rgb, image[..., 3]]) if image.shape[2] == 4 else rgb)
        # Measured pixel by pixel (its colours_ left None): from the seen histogram the MSE is the
        # same float, but ΔE sums its terms in another order and differs in the last digits.
        return seen_image, SeenQuantizer(
            self.seen_palette_,
            self.labels_,
            self.n_colors,
            self.n_colors_,
            self.inertia_,
            self.color_space,
            self.dither,
        )

    @staticmethod
    def _seen(transform: ImageCmsTransform, colors: NDArray[np.uint8]) -> NDArray[np.uint8]:
        """``colors`` (M, C) uint8 in the profile, as sRGB through ``transform``; alpha kept."""
        rgb = np.ascontiguousarray(colors[:, None, :3])
        out = np.asarray(transform.apply(Image.fromarray(rgb, "RGB")))[:, 0, :]
        if colors.shape[1] == 4:
            out = np.concatenate([out, colors[:, 3:]], axis=1)
            out[colors[:, 3] == 0] = 0  # every fully transparent pixel is one colour
        return np.ascontiguousarray(out)

    def _stored_entries(
        self,
        transform: ImageCmsTransform,
        hist: ColorHistogram,
        seen: NDArray[np.uint8],
        color_labels: NDArray[np.intp],
        n_entries: int,
    ) -> NDArray[np.uint8]:
        """Each cluster's entry: a rounding of its members' mean stored value, the one seen closest.

        The mean is weighted by pixel counts. Of the (up to) 8 ways to round it, the entry is the
        one whose seen colour is nearest the mean of its members' seen colours (in
        ``color_space`` features), which minimises the cluster's seen error among them; a
        profile's 8-bit levels can be coarser than sRGB's, so plain rounding can cost a level.
        """
        weights = hist.counts.astype(np.float64)
        totals = np.maximum(np.bincount(color_labels, weights=weights, minlength=n_entries), 1)[:, None]
        means = _weighted_sums(color_labels, weights, hist.colors.astype(np.float64), n_entries) / totals
        feats = colors_to_features(seen[:, :3], self.color_space)
        target = _weighted_sums(color_labels, weights, feats, n_entries) / totals
        low = np.clip(np.floor(means[:, :3]), 0, 255).astype(np.uint8)
        corners = np.array([[(i >> 2) & 1, (i >> 1) & 1, i & 1] for i in range(8)], np.uint8)
        candidates = np.minimum(low[:, None, :].astype(np.int16) + corners[None], 255).astype(np.uint8)  # (n, 8, 3)
        cand_feats = colors_to_features(self._seen(transform, candidates.reshape(-1, 3)), self.color_space)
        err = ((cand_feats.reshape(n_entries, 8, -1) - target[:, None, :]) ** 2).sum(axis=2)
        palette = np.clip(np.rint(means), 0, 255).astype(np.uint8)
        palette[:, :3] = candidates[np.arange(n_entries), np.argmin(err, axis=1)]
        return palette

    def _nearest(self, seen_colors: NDArray[np.uint8], seen_palette: NDArray[np.uint8]) -> NDArray[np.intp]:
        """Entry of ``seen_palette`` nearest each seen colour.

        Opaque colours go to opaque entries; ties to the lowest index.
        """
        feats = colors_to_features(seen_colors, self.color_space)
        pal_feats = colors_to_features(seen_palette, self.color_space)
        return nearest_entries(seen_colors, feats, seen_palette, pal_feats)[0]


@dataclasses.dataclass(frozen=True)
class SeenQuantizer:
    """A kept-profile fit as it is seen in sRGB: what :func:`~kmeans_compress._measure.measure` reads.

    The fields are the :class:`~kmeans_compress.KMeansQuantizer` attributes ``measure`` reads,
    with ``palette_`` the palette as seen. ``colors_``, ``color_counts_`` and
    ``color_labels_`` are None, so the figures are measured pixel by pixel (see
    :meth:`KeptProfileQuantizer.seen`).
    """

    palette_: NDArray[np.uint8]
    labels_: NDArray[Any]
    n_colors: int
    n_colors_: int
    inertia_: float
    color_space: str
    dither: bool
    colors_: NDArray[np.uint8] | None = None
    color_counts_: NDArray[np.int64] | None = None
    color_labels_: NDArray[Any] | None = None
    label_corrections_: None = None


def as_seen(
    image: NDArray[np.uint8], quantizer: KMeansQuantizer, *, seen_image: NDArray[np.uint8] | None = None
) -> tuple[NDArray[np.uint8], KMeansQuantizer | SeenQuantizer]:
    """The pair to measure: ``(image, quantizer)``, both seen in sRGB when a profile was kept.

    With a kept profile the quality figures compare what a colour-managed viewer shows for the
    input and for the output (sRGB through the profile), the same figures as the sRGB route's;
    the stored values themselves mean nothing to a viewer (a wide-gamut profile's stored values
    overstate the PSNR a viewer sees). A plain :class:`~kmeans_compress.KMeansQuantizer` is returned as is.
    ``seen_image``, when given, is ``image`` already seen (a sweep measures many fits of one image).
    """
    if isinstance(quantizer, KeptProfileQuantizer):
        return quantizer.seen(image, seen_image=seen_image)
    return image, quantizer


def _pack(colors: NDArray[np.uint8]) -> NDArray[np.uint32]:
    """One integer per colour, (M, 3|4) uint8 -> (M,) uint32: R, G, B (and A) from the high byte.

    Not the RGBA code of :class:`ColorHistogram` (a native uint32 view): the order of the seen
    colours feeds k-means++, so this one keeps the order the kept-profile fit was made with.
    """
    out: NDArray[Any] = pack_rgb(colors)  # numpy's stubs type `uint32 << int` as signed; it stays uint32
    if colors.shape[1] == 4:
        out = (out << 8) | colors[:, 3]
    return out


def _weighted_sums(
    labels: NDArray[np.intp], weights: NDArray[np.float64], values: NDArray[np.float64], n_entries: int
) -> NDArray[np.float64]:
    """Per label, the sum of ``weights * values`` over its members: (n_entries, values.shape[1])."""
    return np.stack(
        [np.bincount(labels, weights=weights * values[:, c], minlength=n_entries) for c in range(values.shape[1])],
        axis=1,
    )
