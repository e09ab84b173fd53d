"""Mean structural similarity, as :func:`skimage.metrics.structural_similarity` defines it, from window sums.

scikit-image filters five float64 images (``x``, ``y``, ``x*x``, ``y*y``, ``x*y``) with a
uniform window and keeps the windows that lie inside the image. Written with the window *sums*
``Sx, Sy, Sxy`` and ``Sq = S(x*x) + S(y*y)`` over ``n = win**2`` pixels, its formula (sample
covariance, ``n / (n - 1)``) is

``S = (2 P + C1 n²) (2 Q + C2 n (n-1)) / ((T + C1 n²) (V + C2 n (n-1)))``

with ``P = Sx Sy``, ``T = Sx² + Sy²``, ``Q = n Sxy - P`` and ``V = n Sq - T``: the same value,
since the powers of ``n`` cancel. For 8-bit colour these sums are integers, computed exactly in
narrow integer types by adding shifted rows and columns; only the last division is rounded.
The cancellation ``n Sxx - Sx²`` that costs scikit-image digits in flat areas is exact here.
Rows are processed in bands that overlap by the window, small enough to stay in the CPU's cache,
and summed in order, so the value is the same on every run.
"""

from __future__ import annotations

import numpy as np

from ._colorspace import premultiply

__all__ = ["mean_ssim"]

_K1, _K2, _DATA_RANGE = 0.01, 0.03, 255.0
_C1 = (_K1 * _DATA_RANGE) ** 2
_C2 = (_K2 * _DATA_RANGE) ** 2

# Elements (pixels x channels) of one band of rows: its temporaries stay in the CPU's cache.
_BAND_ELEMENTS = 1 << 18


def mean_ssim(reference, test_rows, *, win_size=7):
    """Mean SSIM of ``reference`` against a test image given band by band, channels averaged.

    Parameters
    ----------
    reference : ndarray of uint8, shape (H, W, 3) or (H, W, 4)
    test_rows : callable
        ``test_rows(r0, r1)`` returns rows ``r0:r1`` of the test image (uint8, same width and
        channels), so a palette image need never be expanded whole.
    win_size : int, default=7
        Side of the uniform window; shrunk to the image's smaller side (odd) when larger.

    Returns
    -------
    float
        RGBA is compared premultiplied, four channels.
    """
    height, width, n_ch = reference.shape
    win = min(win_size, height, width)
    if win % 2 == 0:
        win -= 1
    if win < 3:  # too small for a window: one window per channel over the whole image
        return _global_ssim(reference, test_rows(0, height))
    band = max(1, _BAND_ELEMENTS // (width * n_ch))
    total, count = 0.0, 0
    for r0 in range(0, height - win + 1, band):
        r1 = min(r0 + band + win - 1, height)
        part = _band_ssim(reference[r0:r1], test_rows(r0, r1), win)
        total += float(part.sum(dtype=np.float64))
        count += part.size
    return total / count


def _window_sums(a, win, dtype):
    """Sums of ``win`` (odd, at least 3) consecutive values along axes 0 and 1: the windows inside ``a``.

    Built from sums of 1, 2, 4, ... values, so a window of 7 costs 4 additions an axis.
    """
    for axis in (0, 1):
        blocks, size = [a], 1  # blocks[i][j] sums 2**i values from j on
        while size * 2 <= win:
            b = blocks[-1]
            blocks.append(
                np.add(_take(b, axis, 0, b.shape[axis] - size), _take(b, axis, size, b.shape[axis] - size), dtype=dtype)
            )
            size *= 2
        n_out, offset, parts = a.shape[axis] - win + 1, 0, []
        for i in range(len(blocks) - 1, -1, -1):  # win is the sum of its bits: widest block first
            if win >> i & 1:
                parts.append(_take(blocks[i], axis, offset, n_out))
                offset += 1 << i
        out = np.add(parts[0], parts[1], dtype=dtype)  # an odd win >= 3 has at least two bits
        for part in parts[2:]:
            out += part
        a = out
    return a


def _take(a, axis, start, length):
    return a[start : start + length] if axis == 0 else a[:, start : start + length]


def _band_ssim(ref, tst, win):
    """SSIM map (float64) of the windows inside one band, all channels."""
    n = win * win
    if ref.shape[2] == 4:  # premultiplied colour is not integral: float64 sums
        x, y = premultiply(ref), premultiply(tst)
        sx, sy = _window_sums(x, win, np.float64), _window_sums(y, win, np.float64)
        sxy = _window_sums(x * y, win, np.float64)
        x *= x
        y *= y
        x += y
        sq = _window_sums(x, win, np.float64)
    else:  # exact integer sums: 8-bit values, n * 255 and n * 2 * 255**2 fit the types below
        wide = 2 * n * n * 255**2 >= 2**31
        itype = np.int64 if wide else np.int32
        x, y = ref.astype(np.uint16), tst.astype(np.uint16)
        sx = _window_sums(x, win, np.uint16).astype(itype)
        sy = _window_sums(y, win, np.uint16).astype(itype)
        x *= y  # x*y and x*x + y*y fit uint16 and uint32 per pixel
        sxy = _window_sums(x, win, np.uint32).astype(itype)
        x[...] = ref
        x *= x
        y *= y
        sq = _window_sums(np.add(x, y, dtype=np.uint32), win, np.uint32).astype(itype)
    p = sx * sy
    sx *= sx
    sy *= sy
    sx += sy
    t = sx  # Sx² + Sy²
    sxy *= n
    sxy -= p  # Q
    sq *= n
    sq -= t  # V
    c1, c2 = _C1 * n * n, _C2 * n * (n - 1)
    num = p.astype(np.float64)
    num *= 2.0
    num += c1
    factor = sxy.astype(np.float64)
    factor *= 2.0
    factor += c2
    num *= factor
    den = t.astype(np.float64)
    den += c1
    factor = sq.astype(np.float64)
    factor += c2
    den *= factor
    num /= den
    return num


def _global_ssim(reference, test):
    """SSIM of images narrower than 3 px: one window per channel (global statistics)."""
    a, b = premultiply(reference), premultiply(test)
    vals = []
    for ch in range(a.shape[2]):
        x, y = a[..., ch].ravel(), b[..., ch].ravel()
        mx, my = x.mean(), y.mean()
        vx, vy, cov = x.var(), y.var(), ((x - mx) * (y - my)).mean()
        vals.append(((2 * mx * my + _C1) * (2 * cov + _C2)) / ((mx**2 + my**2 + _C1) * (vx + vy + _C2)))
    return float(np.mean(vals))
