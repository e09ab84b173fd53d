"""K-Means colour quantization: scikit-learn ``KMeans`` fitted on weighted distinct colours.

The textbook way fits ``KMeans`` on every pixel. An image has far fewer distinct colours than
pixels, and the k-means objective, ``sum over pixels of ||pixel - centre||^2``, is the same sum
when each distinct colour is counted once with its pixel count as ``sample_weight``. So the
quantizer builds a :class:`ColorHistogram` once (distinct colours, their counts, and a way back
from colours to pixels), fits ``KMeans`` on the weighted colours, and labels every pixel by
looking up its colour's label: no per-pixel Python loop and no per-pixel distance computation.
"""

from __future__ import annotations

import copy
import warnings

import numpy as np
from sklearn.base import BaseEstimator, ClusterMixin, TransformerMixin
from sklearn.cluster import KMeans
from sklearn.utils import check_random_state
from sklearn.utils.validation import check_is_fitted

from ._reduce import NearestSearch, cell_codes, compact_codes, kmeans_plusplus, lloyd_polish, reduce_histogram
from ._colorspace import COLOR_SPACES, colors_to_features, features_to_colors
from ._dither import floyd_steinberg
from ._metrics import palette_sq_error
from ._runs import favour_runs, unpack_rgb
from ._threads import one_thread
from ._validation import check_bool, check_int, check_k, check_option, check_real

__all__ = ["ColorHistogram", "KMeansQuantizer", "QuantizeResult", "quantize", "label_dtype"]

# Palette alphas at or above this become 255 (see KMeansQuantizer.fit).
_OPAQUE_SNAP = 250

# The KMeans fit runs on a reduced histogram only above this many distinct colours (below it
# the exact fit is already cheap) and only if the reduced histogram keeps at least this many
# points per cluster.
_REDUCE_MIN_COLORS = 4096
_REDUCE_MIN_POINTS_PER_CLUSTER = 4
# A reduced histogram with fewer points than this (an image whose colours fill few cells of the
# grid) is rebuilt one bit finer per channel, up to 7 bits. Kept low: the polish on the exact
# colours recovers what the coarser grid blurs, and each point costs k-means++ and KMeans time.
_REDUCE_MIN_POINTS = 1024
# Cells holding more than 1 / (this x n_clusters) of the pixels are cut finer (dense regions of
# colour, where k-means puts many centres, keep their detail).
_REDUCE_CELLS_PER_CLUSTER = 4
# Polishing steps times distinct colours allowed: images with very many colours (large photos)
# get fewer steps, so the time of the fit stays bounded.
_POLISH_BUDGET = 4_000_000
# Polishing steps go this fraction past the mean (see lloyd_polish): as far in fewer steps.
_POLISH_OVERRELAX = 0.9
# Nearest-palette search: compare every colour with every entry up to this many pairs, else
# prune by a grid of this many bits per channel.
_BRUTE_MAX_PAIRS = 1 << 18
_SEARCH_BITS = 5
# n_init="auto": runs of k-means++ by number of clusters (up to the key: that many runs), one above.
_AUTO_N_INIT = ((8, 10), (64, 3))
# run_budget="auto": this PSNR budget (dB) for palettes of at most this many colours, none above.
_AUTO_RUN_BUDGET_DB = 0.03
_AUTO_RUN_BUDGET_MAX_K = 16


def label_dtype(n_colors):
    """Smallest unsigned dtype that holds labels ``0 .. n_colors - 1``."""
    if n_colors <= 1 << 8:
        return np.dtype(np.uint8)
    if n_colors <= 1 << 16:
        return np.dtype(np.uint16)
    return np.dtype(np.uint32)


def _as_pixels(X):
    """Validate ``X`` and return (pixels (N, C) uint8, shape of the label array)."""
    if isinstance(X, ColorHistogram):
        msg = "Expected an image or a pixel array, got a ColorHistogram: its colours are already counted."
        raise TypeError(msg)
    arr = np.asarray(X)
    if arr.dtype != np.uint8:
        msg = (
            f"Expected uint8 pixel values, got dtype {arr.dtype}. "
            "Load images with kmeans_compress.load_image, which converts any mode to uint8."
        )
        raise TypeError(msg)
    if arr.ndim == 3 and arr.shape[2] in (3, 4):
        shape = arr.shape[:2]
    elif arr.ndim == 2 and arr.shape[1] in (3, 4):
        shape = (arr.shape[0],)
    else:
        msg = (
            f"Expected an image of shape (H, W, 3|4) or pixels of shape (N, 3|4), got shape "
            f"{arr.shape}. Reshape your data, e.g. image.reshape(-1, 3)."
        )
        raise ValueError(msg)
    if arr.size == 0:
        msg = f"Expected at least one pixel, got shape {arr.shape}."
        raise ValueError(msg)
    return np.ascontiguousarray(arr.reshape(-1, arr.shape[-1])), shape


class ColorHistogram:
    """The distinct colours of an image, their pixel counts, and the way back to pixels.

    Build it with :meth:`from_image`; it is what :class:`KMeansQuantizer` fits on, and a sweep
    over k builds it once per image.

    Attributes
    ----------
    colors : ndarray of uint8, shape (M, C)
        Distinct colours, sorted by their packed code. For RGBA, every fully transparent pixel is
        one colour ``(0, 0, 0, 0)`` whatever RGB it stored.
    counts : ndarray of int64, shape (M,)
        Number of pixels of each colour (sums to ``n_pixels``).
    shape : tuple
        Shape of the label array: ``(H, W)`` for an image, ``(N,)`` for a pixel array.

    Notes
    -----
    For RGB the histogram keeps a view of the image's pixels (not a copy, which on a large
    photo would cost more memory than the image itself) to find each pixel's colour again when
    labelling: do not change the image in place while its histogram is in use.
    """

    def __init__(self, colors, counts, shape, *, codes=None, pixels=None, inverse=None):
        self.colors = colors
        self.counts = counts
        self.shape = tuple(shape)
        self._codes = codes  # packed code of each distinct colour (LUT route)
        self._pixels = pixels  # the RGB pixels, (N, 3), packed again chunk by chunk (LUT route)
        self._inverse = inverse  # index of each pixel's colour (sort route)

    @property
    def n_colors(self):
        """Number of distinct colours."""
        return len(self.colors)

    @property
    def n_channels(self):
        """3 for RGB, 4 for RGBA."""
        return self.colors.shape[1]

    @property
    def n_pixels(self):
        """Number of pixels."""
        return int(np.prod(self.shape))

    @classmethod
    def from_image(cls, X):
        """Count the distinct colours of an image or pixel array.

        Parameters
        ----------
        X : ndarray of uint8, shape (H, W, 3|4) or (N, 3|4)

        Returns
        -------
        ColorHistogram
        """
        pixels, shape = _as_pixels(X)
        n_pix, n_ch = pixels.shape
        if n_ch == 3:
            # sorted packed codes (4 bytes a pixel, sorted in place) give the distinct codes and
            # their counts, and pixels find their label through a 2**24-entry lookup table: much
            # faster than np.unique's inverse index (an argsort of every pixel), at any size. The
            # codes are not kept: pixel_labels packs the pixels again, a chunk at a time.
            ordered = np.empty(n_pix, np.uint32)
            for a in range(0, n_pix, _CHUNK_PIXELS):
                ordered[a : a + _CHUNK_PIXELS] = _pack_rgb(pixels[a : a + _CHUNK_PIXELS])
            ordered.sort()
            new = np.empty(n_pix, bool)
            new[0] = True
            np.not_equal(ordered[1:], ordered[:-1], out=new[1:])
            starts = np.flatnonzero(new)
            del new
            codes = ordered[starts]
            del ordered
            counts = np.diff(starts, append=n_pix)
            colors = unpack_rgb(codes)
            return cls(colors, counts.astype(np.int64), shape, codes=codes, pixels=pixels)
        pixels = pixels.copy()
        pixels[pixels[:, 3] == 0] = 0  # all fully transparent pixels are one colour
        packed = pixels.view(np.uint32).ravel()  # byte order only affects sort order
        codes, first, inverse, counts = np.unique(packed, return_index=True, return_inverse=True, return_counts=True)
        colors = pixels[first]
        return cls(colors, counts.astype(np.int64), shape, inverse=inverse.reshape(-1).astype(np.int32))

    def pixel_labels(self, color_labels):
        """Spread per-colour labels to every pixel.

        Parameters
        ----------
        color_labels : ndarray of unsigned int, shape (M,)
            A label for each distinct colour.

        Returns
        -------
        ndarray, shape ``self.shape``, same dtype as ``color_labels``.
        """
        color_labels = np.asarray(color_labels)
        if self._inverse is not None:
            out = color_labels[self._inverse]
        else:
            lut = np.empty(1 << 24, dtype=color_labels.dtype)  # only the image's codes are read
            lut[self._codes] = color_labels
            out = np.empty(len(self._pixels), dtype=color_labels.dtype)
            for a in range(0, len(out), _CHUNK_PIXELS):  # bounded temporaries
                out[a : a + _CHUNK_PIXELS] = lut.take(_pack_rgb(self._pixels[a : a + _CHUNK_PIXELS]))
        return out.reshape(self.shape)


# Pixels per chunk when packing or labelling pixels: bounded temporaries on big images.
_CHUNK_PIXELS = 1 << 18


def _pack_rgb(pixels):
    """(N, 3) uint8 -> (N,) uint32 codes ``R << 16 | G << 8 | B``."""
    packed = pixels[:, 0].astype(np.uint32)
    packed <<= 8
    packed |= pixels[:, 1]
    packed <<= 8
    packed |= pixels[:, 2]
    return packed


def _resolve_n_init(n_init, n_clusters):
    """``"auto"``: several k-means++ runs for small k, one above (see ``KMeansQuantizer``)."""
    if n_init == "auto":
        return next((runs for max_k, runs in _AUTO_N_INIT if n_clusters <= max_k), 1)
    return int(n_init)


def _resolve_run_budget(run_budget, n_colors):
    """``"auto"``: a small PSNR budget for small palettes, none for large (see ``KMeansQuantizer``)."""
    if run_budget == "auto":
        return _AUTO_RUN_BUDGET_DB if n_colors <= _AUTO_RUN_BUDGET_MAX_K else 0.0
    return float(run_budget)


class KMeansQuantizer(TransformerMixin, ClusterMixin, BaseEstimator):
    """Reduce an image to at most ``n_colors`` colours with scikit-learn ``KMeans``.

    ``KMeans`` is fitted on the image's distinct colours weighted by their pixel counts
    (``sample_weight``): the same sum of squared errors as fitting every pixel, with far fewer
    points. Photos with many distinct colours are first fitted on a *reduced histogram* (similar
    colours merged into their weighted mean, see ``histogram_bits``), then the centres are
    polished by exact Lloyd steps on every distinct colour, and every colour gets its exactly
    nearest palette entry. This is much faster on photos and close to the exact fit; the
    README's benchmark gives the measured trade-off.

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
        scikit-learn's relative tolerance on centre movement, to declare convergence.
    random_state : int, numpy.random.Generator or None, default=0
        Seed for k-means++. The same image, k and seed give the same palette and PNG bytes.
    dither : bool, default=False
        Map pixels to the palette with Floyd–Steinberg error diffusion instead of nearest
        colours. Removes bands in smooth gradients at the cost of noise and bytes; it changes
        ``labels_``, ``predict`` and ``transform``, not the palette. Images with alpha are
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
    palette_ : ndarray of uint8, shape (n_colors_, C)
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
        Distinct colours in the fitted image.
    labels_ : ndarray, shape (H, W) or (N,)
        Palette index of every pixel of the fitted image, in the smallest unsigned dtype.

    See Also
    --------
    quantize : fit and rebuild the image in one call.
    sklearn.cluster.KMeans : the clustering it wraps.

    Examples
    --------
    >>> import numpy as np
    >>> from kmeans_compress import KMeansQuantizer
    >>> image = np.zeros((4, 4, 3), np.uint8); image[:, 2:] = (255, 0, 0)
    >>> q = KMeansQuantizer(n_colors=2).fit(image)
    >>> q.palette_.tolist()
    [[0, 0, 0], [255, 0, 0]]
    """

    def __init__(
        self,
        n_colors=16,
        *,
        color_space="rgb",
        n_init="auto",
        max_iter=300,
        tol=1e-4,
        random_state=0,
        dither=False,
        run_budget=0.0,
        histogram_bits=5,
        refine_iter=10,
    ):
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

    def fit(self, X, y=None):
        """Fit the palette.

        Parameters
        ----------
        X : ndarray of uint8, shape (H, W, 3|4) or (N, 3|4), or ColorHistogram
        y : ignored

        Returns
        -------
        self
        """
        self._validate_parameters()
        hist = X if isinstance(X, ColorHistogram) else ColorHistogram.from_image(X)
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
            clear = (hist.colors[:, 3] == 0) if hist.n_channels == 4 and self.n_colors > 1 else np.zeros(hist.n_colors, bool)
            if clear.any():
                colors, counts, kept_features = hist.colors[~clear], hist.counts[~clear], features[~clear]
            else:  # no copies: on a large photo they would cost as much as the image
                colors, counts, kept_features = hist.colors, hist.counts, features
            centres, search, guess = self._fit_centres(colors, counts, kept_features, int(clear.any()))
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
        if self.dither:
            dithered = self._dithered_labels(None if isinstance(X, ColorHistogram) else X, hist)
            if dithered is not None:
                self.labels_ = dithered
        else:
            runs = self._run_labels(hist, self._color_labels, self.labels_)
            if runs is not None:
                labels, positions, (moved, old, new, counts) = runs
                # what _without_runs() needs to give the nearest labels back (see ImageSweep.row):
                # the moved pixels' old entries, not the histogram (which holds the image)
                self._nearest = (positions, self.labels_.reshape(-1)[positions], hist.n_colors)
                self.labels_ = labels
                # the moved pixels' (colour, entry) pairs: old ones counted out, new ones in
                self._fit_colors = np.concatenate([hist.colors, moved, moved])
                self._fit_counts = np.concatenate([hist.counts, -counts, counts])
                self._color_labels = np.concatenate([self._color_labels, old, new]).astype(self.labels_.dtype)
        return self

    def _without_runs(self):
        """A copy of this fit with every pixel on its nearest entry, or None when no pixel moved.

        For callers that encode both and keep the smaller file (runs do not pay on every image).
        Forgets what this fit kept for it.
        """
        nearest = self.__dict__.pop("_nearest", None)
        if nearest is None:
            return None
        positions, old, n_distinct = nearest
        plain = copy.copy(self)
        plain.run_budget = 0.0
        plain.labels_ = self.labels_.copy()
        plain.labels_.reshape(-1)[positions] = old
        # the histogram's own pairs, without the moved pixels' corrections appended after them
        plain._fit_colors = self._fit_colors[:n_distinct]
        plain._fit_counts = self._fit_counts[:n_distinct]
        plain._color_labels = self._color_labels[:n_distinct]
        return plain

    def _run_labels(self, hist, color_labels, labels):
        """``labels`` moved towards runs within ``run_budget`` (see :mod:`._runs`), or None."""
        budget = _resolve_run_budget(self.run_budget, self.n_colors)
        if budget <= 0 or hist._pixels is None or len(hist.shape) != 2 or len(self.palette_) < 2:
            return None
        total = palette_sq_error(hist.colors, hist.counts, self.palette_, color_labels)
        return favour_runs(hist._pixels, self.palette_, labels, budget, total)

    def _fit_centres(self, colors, counts, features, n_reserved):
        """Fit ``KMeans`` (on the reduced histogram when it pays) and polish on exact colours.

        Returns the centres in feature space and the :class:`NearestSearch` over ``features``
        built for polishing (None when there was none); sets ``kmeans_``.
        """
        n_clusters = self.n_colors - n_reserved
        bits = self.histogram_bits
        reduce = bits is not None and bits < 8 and len(colors) > _REDUCE_MIN_COLORS
        points, weights, cells = features, counts, None
        if reduce:
            # no cell heavier than a fraction of an average cluster
            max_weight = counts.sum() / (_REDUCE_CELLS_PER_CLUSTER * n_clusters)
            points, weights, cells = reduce_histogram(colors, counts, features, bits, max_weight)
            while len(points) < _REDUCE_MIN_POINTS and bits < 7:  # a narrow gamut: a finer grid
                bits += 1
                points, weights, cells = reduce_histogram(colors, counts, features, bits, max_weight)
            if len(points) < _REDUCE_MIN_POINTS_PER_CLUSTER * n_clusters:  # too coarse for this k
                points, weights, cells, reduce = features, counts, None, False
        # k-means++ seeds drawn here, in the order scikit-learn draws them (the same seeds from
        # the same random_state), then one KMeans run per seed: the lowest inertia wins.
        rng = check_random_state(self.random_state)
        best = None
        # scikit-learn's OpenMP loops on one thread: for fits this small (a few thousand points)
        # synchronising threads costs more than the work, and the result is the same on any core count
        with one_thread("openmp"):
            for _ in range(_resolve_n_init(self.n_init, n_clusters)):
                seeds = kmeans_plusplus(points, weights, n_clusters, rng)
                kmeans = KMeans(
                    n_clusters=n_clusters,
                    init=seeds,
                    n_init=1,
                    max_iter=self.max_iter,
                    tol=self.tol,
                    algorithm="lloyd",
                ).fit(points, sample_weight=weights)
                if best is None or kmeans.inertia_ < best.inertia_:
                    best = kmeans
        self.kmeans_ = best
        centres, search, guess = self.kmeans_.cluster_centers_, None, None
        if reduce and self.refine_iter:
            search = NearestSearch(features, cells)
            steps = min(self.refine_iter, max(1, _POLISH_BUDGET // len(colors)))
            # scikit-learn's convergence test: tol times the mean variance of the features
            mean = np.average(features, axis=0, weights=counts)
            variance = np.average((features - mean) ** 2, axis=0, weights=counts).mean()
            # the first guess is handed over, not kept here: the polish frees it once used
            centres, guess = lloyd_polish(
                search, counts, centres, steps, self.kmeans_.labels_[cells], self.tol * variance, _POLISH_OVERRELAX
            )
        return centres, search, guess

    def _dithered_labels(self, X, hist):
        """Floyd–Steinberg labels of the image ``X`` (rebuilt from ``hist`` when None)."""
        if hist.n_channels == 4:
            warnings.warn(
                "dither=True is ignored for images with alpha (Pillow cannot error-diffuse onto an RGBA "
                "palette); pixels take their nearest palette colour.",
                UserWarning,
                stacklevel=3,
            )
            return None
        if X is None:  # a histogram holds the image: its colours indexed by each pixel's colour
            image = hist.colors[hist.pixel_labels(np.arange(hist.n_colors, dtype=np.uint32))]
        else:
            image = np.asarray(X)
        image = image.reshape((*hist.shape, 3) if len(hist.shape) == 2 else (1, -1, 3))
        labels = floyd_steinberg(image, self.palette_)
        return labels.reshape(hist.shape).astype(label_dtype(self.n_colors_), copy=False)

    def _set_palette(self, hist, features, palette, search=None, guess=None):
        """Assign colours to the nearest entry of ``palette``; keep the used entries in order.

        ``search``, when given, is a :class:`NearestSearch` over ``features`` to reuse, and
        ``guess`` a likely entry of ``palette`` for each colour (it speeds the search up only).
        """
        # drop centres that rounded to the same colour
        palette, inverse = np.unique(palette, axis=0, return_inverse=True)
        if guess is not None:
            guess = inverse.reshape(-1)[guess]
        pal_feats = colors_to_features(palette, self.color_space)
        color_labels, sq_dist = _assign(hist.colors, features, palette, pal_feats, search, guess)
        used = np.bincount(color_labels, minlength=len(palette)) > 0
        palette = palette[used]
        order = np.argsort(_luminance(palette), kind="stable")
        palette = palette[order]
        remap = np.empty(len(used), np.intp)
        remap[np.flatnonzero(used)[order]] = np.arange(len(palette))
        dtype = label_dtype(len(palette))
        color_labels = remap[color_labels].astype(dtype)
        self.palette_ = np.ascontiguousarray(palette)
        self.n_colors_ = int(len(palette))
        self.n_distinct_colors_ = hist.n_colors
        self.inertia_ = float(np.dot(hist.counts, sq_dist))
        self.labels_ = hist.pixel_labels(color_labels)
        # the histogram and each colour's entry: exact MSE and ΔE without the pixels
        # (kmeans_compress._metrics.palette_mse), when the labels are not dithered
        self._color_labels = color_labels
        self._fit_colors = hist.colors
        self._fit_counts = hist.counts

    # -- using the fitted palette --------------------------------------------------------------

    def _validate_parameters(self):
        """Check every constructor parameter (scikit-learn estimators validate in ``fit``)."""
        check_k("n_colors", self.n_colors)
        check_option("color_space", self.color_space, COLOR_SPACES)
        if self.n_init != "auto":
            check_int("n_init", self.n_init, low=1, hint=" or 'auto'")
        check_int("max_iter", self.max_iter, low=1)
        check_real("tol", self.tol, low=0.0)
        check_bool("dither", self.dither)
        if self.run_budget != "auto":
            check_real("run_budget", self.run_budget, low=0.0)
        if self.histogram_bits is not None:
            check_int("histogram_bits", self.histogram_bits, low=1, high=8, hint=" or None")
        check_int("refine_iter", self.refine_iter, low=0)

    def predict(self, X):
        """Index of the nearest palette colour for every pixel of ``X``.

        With ``dither=True`` (opaque images only) the indices are Floyd–Steinberg dithered instead; an
        ``(N, C)`` pixel array is then treated as one row of N pixels.

        Parameters
        ----------
        X : ndarray of uint8, shape (H, W, C) or (N, C), C matching the fitted image

        Returns
        -------
        ndarray of the smallest unsigned dtype, shape (H, W) or (N,)
        """
        check_is_fitted(self, "palette_")
        hist = X if isinstance(X, ColorHistogram) else ColorHistogram.from_image(X)
        if hist.n_channels != self.palette_.shape[1]:
            msg = (
                f"X has {hist.n_channels} channels but the quantizer was fitted on "
                f"{self.palette_.shape[1]}."
            )
            raise ValueError(msg)
        if self.dither:
            dithered = self._dithered_labels(None if isinstance(X, ColorHistogram) else X, hist)
            if dithered is not None:
                return dithered
        feats = colors_to_features(hist.colors, self.color_space)
        pal_feats = colors_to_features(self.palette_, self.color_space)
        color_labels, _ = _assign(hist.colors, feats, self.palette_, pal_feats)
        color_labels = color_labels.astype(label_dtype(self.n_colors_))
        labels = hist.pixel_labels(color_labels)
        runs = self._run_labels(hist, color_labels, labels)
        return labels if runs is None else runs[0]

    def fit_predict(self, X, y=None):
        """Fit on ``X`` and return its labels (same as ``fit(X).labels_``)."""
        return self.fit(X).labels_

    def fit_transform(self, X, y=None):
        """Fit on ``X`` and return it quantized (same as ``fit(X).transform(X)``, without a second search)."""
        self.fit(X)
        return self.palette_[self.labels_]

    def transform(self, X):
        """Quantized copy of ``X``: ``palette_[predict(X)]`` (dithered when ``dither`` is true)."""
        return self.palette_[self.predict(X)]


def _assign(colors, features, palette, pal_feats, search=None, guess=None):
    """Nearest palette entry of every distinct colour, opaque colours to opaque entries.

    With alpha, a fully opaque colour is assigned to its nearest *opaque* entry whenever the
    palette has one: at small k a centre can average opaque pixels with edge pixels into a
    translucent colour, and the nearest-entry rule alone would then make part of an opaque area
    see-through. Fully transparent colours need no rule: their exact ``(0, 0, 0, 0)`` entry is at
    distance 0. Returns ``(labels, squared distances)`` like :func:`_nearest`.
    """
    labels, sq_dist = _nearest(colors, features, pal_feats, search, guess)
    if colors.shape[1] == 4:
        opaque_entries = np.flatnonzero(palette[:, 3] == 255)
        if len(opaque_entries):
            moved = (colors[:, 3] == 255) & (palette[labels, 3] != 255)
            if moved.any():
                sub_labels, sub_dist = _nearest(colors[moved], features[moved], pal_feats[opaque_entries])
                labels = labels.copy()
                sq_dist = sq_dist.copy()
                labels[moved] = opaque_entries[sub_labels]
                sq_dist[moved] = sub_dist
    return labels, sq_dist


def _nearest(colors, features, pal_feats, search=None, guess=None):
    """Exact nearest palette entry of every distinct colour (ties to the lowest index)."""
    if search is not None:
        return search.query(pal_feats, guess)
    if len(colors) * len(pal_feats) <= _BRUTE_MAX_PAIRS:
        return NearestSearch(features).query(pal_feats)
    cells, _ = compact_codes(cell_codes(colors, _SEARCH_BITS), _SEARCH_BITS * colors.shape[1])
    return NearestSearch(features, cells).query(pal_feats)


def _luminance(colors):
    rgb = colors[:, :3].astype(np.float64)
    lum = rgb @ np.array([0.299, 0.587, 0.114])
    if colors.shape[1] == 4:
        lum = lum * colors[:, 3] / 255.0 + colors[:, 3] * 1e-3
    return lum


class QuantizeResult:
    """What :func:`quantize` returns.

    Attributes
    ----------
    image : ndarray of uint8, shape (H, W, C)
        The rebuilt image, ``palette[labels]``.
    palette : ndarray of uint8, shape (n_colors, C)
    labels : ndarray, shape (H, W), smallest unsigned dtype
    quantizer : KMeansQuantizer
        The fitted estimator (``inertia_``, ``kmeans_``, ...).
    """

    def __init__(self, quantizer):
        self.quantizer = quantizer
        self.palette = quantizer.palette_
        self.labels = quantizer.labels_
        self.image = self.palette[self.labels]

    @property
    def n_colors(self):
        """Colours actually used."""
        return self.quantizer.n_colors_

    @property
    def inertia(self):
        """The fitted quantizer's ``inertia_``."""
        return self.quantizer.inertia_

    def __repr__(self):
        return f"QuantizeResult(n_colors={self.n_colors}, shape={self.image.shape}, inertia={self.inertia:.4g})"


def quantize(image, n_colors=16, **params):
    """Quantize an image to at most ``n_colors`` colours in one call.

    Parameters
    ----------
    image : ndarray of uint8, shape (H, W, 3|4)
        See :func:`kmeans_compress.load_image`.
    n_colors : int, default 16
    **params
        Keyword arguments of :class:`KMeansQuantizer` (``color_space``, ``dither``, ``random_state``, ...).

    Returns
    -------
    QuantizeResult
    """
    return QuantizeResult(KMeansQuantizer(n_colors, **params).fit(image))
