"""Colour histograms: the distinct colours of one or many images and their pixel counts.

The k-means objective over an image's pixels, ``sum over pixels of ||pixel - centre||^2``, is the
same sum when each distinct colour is counted once with its pixel count as weight. A
:class:`ColorHistogram` holds those colours and counts and, for one image, the way back from
colours to pixels; histograms of several images add up (:meth:`ColorHistogram.merge`), and
fitting their sum gives the one palette that is best for all their pixels together (the first
stage of libimagequant's histogram → palette → remap).

This module also holds the one RGB colour packer of the package (:func:`pack_rgb`) and the
label dtype rule (:func:`label_dtype`). It imports only :mod:`._validation`.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from typing import Any

import numpy as np
from numpy.typing import ArrayLike, NDArray

from ._validation import check_pixels

__all__ = ["ColorHistogram", "label_dtype", "pack_rgb", "unpack_rgb"]

# Pixels per chunk when packing or labelling pixels: bounded temporaries on big images.
_CHUNK_PIXELS = 1 << 18


def label_dtype(n_colors: int) -> np.dtype[Any]:
    """Smallest unsigned dtype that holds labels ``0 .. n_colors - 1``.

    Parameters
    ----------
    n_colors : int
        Number of palette entries.

    Returns
    -------
    numpy.dtype
        ``uint8`` up to 256 entries, ``uint16`` up to 65536, else ``uint32``.
    """
    if n_colors <= 1 << 8:
        return np.dtype(np.uint8)
    if n_colors <= 1 << 16:
        return np.dtype(np.uint16)
    return np.dtype(np.uint32)


def pack_rgb(pixels: NDArray[Any]) -> NDArray[np.uint32]:
    """One integer per RGB colour: ``R << 16 | G << 8 | B``.

    Parameters
    ----------
    pixels : ndarray of uint8, shape (N, 3)
        RGB colours (more columns are ignored).

    Returns
    -------
    ndarray of uint32, shape (N,)
        The packed codes, ordered as the colours are in R, then G, then B.
    """
    packed = pixels[:, 0].astype(np.uint32)
    packed <<= 8
    packed |= pixels[:, 1]
    packed <<= 8
    packed |= pixels[:, 2]
    return packed


def unpack_rgb(codes: NDArray[np.integer[Any]], dtype: Any = np.uint8) -> NDArray[Any]:
    """RGB colours of codes packed by :func:`pack_rgb`.

    Parameters
    ----------
    codes : ndarray of int, shape (N,)
        Codes ``r << 16 | g << 8 | b``.
    dtype : dtype, default=numpy.uint8
        Dtype of the colours returned.

    Returns
    -------
    ndarray, shape (N, 3)
    """
    rgb = np.empty((len(codes), 3), dtype)
    rgb[:, 0] = codes >> 16
    rgb[:, 1] = (codes >> 8) & 0xFF
    rgb[:, 2] = codes & 0xFF
    return rgb


def _rgba_codes(colors: NDArray[np.uint8]) -> NDArray[np.uint32]:
    """One integer per RGBA colour: the 4 bytes read as a native uint32 (only the order matters)."""
    return np.ascontiguousarray(colors).view(np.uint32).ravel()


class ColorHistogram:
    """The distinct colours of one or many images, their pixel counts, and the way back to pixels.

    Build one with :meth:`from_image` (one image) or :meth:`merge` (the sum of several images'
    histograms). :class:`~kmeans_compress.KMeansQuantizer` fits on it; a sweep over k builds it
    once per image.

    Parameters
    ----------
    colors : ndarray of uint8, shape (M, C)
        Distinct colours, C = 3 (RGB) or 4 (RGBA).
    counts : ndarray of int64, shape (M,)
        Pixel count of each colour.
    shape : tuple of int or None, default=None
        Shape of the label array of the one image the colours come from: ``(H, W)`` for an
        image, ``(N,)`` for a pixel array. None for a histogram that cannot map back to pixels.
    pixels : ndarray of uint8, shape (N, 3), optional
        The RGB pixels of that image in raster order, to find each pixel's colour again (with
        ``codes``).
    codes : ndarray of uint32, shape (M,), optional
        :func:`pack_rgb` code of each colour, sorted; needed with ``pixels``.
    inverse : ndarray of int, shape (N,), optional
        Index into ``colors`` of each pixel, the other way back to pixels.

    Attributes
    ----------
    colors : ndarray of uint8, shape (M, C)
        Distinct colours. From :meth:`from_image`, sorted by their packed code; for RGBA every
        fully transparent pixel is one colour ``(0, 0, 0, 0)`` whatever RGB it stored.
    counts : ndarray of int64, shape (M,)
        Number of pixels of each colour (sums to ``n_pixels``).
    shape : tuple of int or None
        Shape of the label array, or None when the histogram cannot map back to pixels.
    pixels : ndarray of uint8, shape (N, 3) or None
        The RGB image's pixels (a view, not a copy), or None (RGBA images, merged histograms).

    Notes
    -----
    For RGB the histogram keeps a view of the image's pixels (not a copy, which on a large
    photo would cost more memory than the image itself) to find each pixel's colour again when
    labelling: do not change the image in place while its histogram is in use. A merged
    histogram keeps no pixels and has no ``shape``: it can be fitted, not labelled.

    Examples
    --------
    >>> import numpy as np
    >>> from kmeans_compress import ColorHistogram
    >>> image = np.zeros((2, 2, 3), np.uint8); image[0, 0] = (255, 0, 0)
    >>> hist = ColorHistogram.from_image(image)
    >>> hist.colors.tolist(), hist.counts.tolist()
    ([[0, 0, 0], [255, 0, 0]], [3, 1])
    >>> ColorHistogram.merge([hist, hist]).counts.tolist()
    [6, 2]
    """

    def __init__(
        self,
        colors: NDArray[np.uint8],
        counts: NDArray[np.int64],
        shape: Sequence[int] | None = None,
        *,
        pixels: NDArray[np.uint8] | None = None,
        codes: NDArray[np.uint32] | None = None,
        inverse: NDArray[np.integer[Any]] | None = None,
    ) -> None:
        self.colors = colors
        self.counts = counts
        self.shape = None if shape is None else tuple(int(s) for s in shape)
        self.pixels = pixels
        self._codes = codes  # packed code of each distinct colour (LUT route)
        self._inverse = inverse  # index of each pixel's colour (sort route)

    @property
    def n_colors(self) -> int:
        """Number of distinct colours."""
        return len(self.colors)

    @property
    def n_channels(self) -> int:
        """3 for RGB, 4 for RGBA."""
        return int(self.colors.shape[1])

    @property
    def n_pixels(self) -> int:
        """Number of pixels counted."""
        return int(self.counts.sum())

    @property
    def has_pixels(self) -> bool:
        """Whether :meth:`pixel_labels` can map colours back to pixels (one image's histogram)."""
        return self.shape is not None and (self._inverse is not None or self.pixels is not None)

    @classmethod
    def from_image(cls, X: ArrayLike) -> ColorHistogram:
        """Count the distinct colours of an image or pixel array.

        Parameters
        ----------
        X : ndarray of uint8, shape (H, W, 3|4) or (N, 3|4)
            The image, or its pixels.

        Returns
        -------
        ColorHistogram
            With ``shape`` ``(H, W)`` or ``(N,)``; it maps back to ``X``'s pixels.
        """
        if isinstance(X, ColorHistogram):
            msg = "Expected an image or a pixel array, got a ColorHistogram: its colours are already counted."
            raise TypeError(msg)
        arr = check_pixels(X)
        shape = arr.shape[:-1]
        pixels = np.ascontiguousarray(arr.reshape(-1, arr.shape[-1]))
        n_pix, n_ch = pixels.shape
        if n_ch == 3:
            # sorted packed codes (4 bytes a pixel, sorted in place) give the distinct codes and
            # their counts, and pixels find their label through a 2**24-entry lookup table: much
            # faster than np.unique's inverse index (an argsort of every pixel), at any size. The
            # codes are not kept: pixel_labels packs the pixels again, a chunk at a time.
            ordered = np.empty(n_pix, np.uint32)
            for a in range(0, n_pix, _CHUNK_PIXELS):
                ordered[a : a + _CHUNK_PIXELS] = pack_rgb(pixels[a : a + _CHUNK_PIXELS])
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
        _, first, inverse, counts = np.unique(
            _rgba_codes(pixels), return_index=True, return_inverse=True, return_counts=True
        )
        colors = pixels[first]
        return cls(colors, counts.astype(np.int64), shape, inverse=inverse.reshape(-1).astype(np.int32))

    @classmethod
    def merge(cls, histograms: Iterable[ColorHistogram]) -> ColorHistogram:
        """The sum of several histograms: every colour once, with its total pixel count.

        Fitting the sum gives the one palette that is best for all the images' pixels
        together (the k-means objective over all of them).

        Parameters
        ----------
        histograms : iterable of ColorHistogram
            At least one, all with the same number of channels.

        Returns
        -------
        ColorHistogram
            Colours in the order :meth:`from_image` gives them. It has no ``shape`` and no way
            back to pixels: a quantizer fitted on it has a palette but no ``labels_``.

        Raises
        ------
        ValueError
            If ``histograms`` is empty or mixes RGB and RGBA histograms.
        TypeError
            If an item is not a ColorHistogram.
        """
        hists = list(histograms)
        if not hists:
            msg = "ColorHistogram.merge needs at least one histogram, got none."
            raise ValueError(msg)
        for h in hists:
            if not isinstance(h, ColorHistogram):
                msg = f"ColorHistogram.merge takes ColorHistogram objects, got {type(h).__name__}."
                raise TypeError(msg)
        channels = sorted({h.n_channels for h in hists})
        if len(channels) > 1:
            msg = (
                f"Cannot merge histograms with different channel counts, got {channels}: convert the "
                "images to one mode first (all RGB, or all RGBA)."
            )
            raise ValueError(msg)
        colors = np.concatenate([h.colors for h in hists])
        counts = np.concatenate([h.counts for h in hists]).astype(np.int64)
        codes = pack_rgb(colors) if channels[0] == 3 else _rgba_codes(colors)
        _, first, inverse = np.unique(codes, return_index=True, return_inverse=True)
        total = np.bincount(inverse.reshape(-1), weights=counts, minlength=len(first))
        # weights make bincount's sums float64: exact for any count below 2**53
        return cls(np.ascontiguousarray(colors[first]), np.rint(total).astype(np.int64))

    def pixel_labels(self, color_labels: ArrayLike) -> NDArray[Any]:
        """Spread per-colour labels to every pixel.

        Parameters
        ----------
        color_labels : ndarray of unsigned int, shape (M,)
            A label for each distinct colour.

        Returns
        -------
        ndarray, shape ``self.shape``, same dtype as ``color_labels``
            Each pixel's label: the label of its colour.

        Raises
        ------
        ValueError
            If the histogram cannot map back to pixels (see :attr:`has_pixels`).
        """
        labels = np.asarray(color_labels)
        if not self.has_pixels or self.shape is None:
            msg = "This histogram cannot map back to pixels (it was merged from several): remap an image instead."
            raise ValueError(msg)
        if self._inverse is not None:
            out = labels[self._inverse]
        else:
            assert self.pixels is not None and self._codes is not None  # has_pixels
            lut = np.empty(1 << 24, dtype=labels.dtype)  # only the image's codes are read
            lut[self._codes] = labels
            out = np.empty(len(self.pixels), dtype=labels.dtype)
            for a in range(0, len(out), _CHUNK_PIXELS):  # bounded temporaries
                out[a : a + _CHUNK_PIXELS] = lut.take(pack_rgb(self.pixels[a : a + _CHUNK_PIXELS]))
        return out.reshape(self.shape)

    def __repr__(self) -> str:
        where = "merged" if self.shape is None else f"shape={self.shape}"
        return (
            f"ColorHistogram(n_colors={self.n_colors}, n_channels={self.n_channels}, n_pixels={self.n_pixels}, {where})"
        )
