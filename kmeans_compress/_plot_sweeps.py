"""Figures of sweeps: size and quality against k, quality against size, the gain of each kB."""

from __future__ import annotations

import math
from itertools import pairwise
from pathlib import Path
from typing import TYPE_CHECKING, Any

import numpy as np

from ._plot_common import axes_list, plt

if TYPE_CHECKING:
    from collections.abc import Iterable, Sequence

    from matplotlib.axes import Axes
    from matplotlib.figure import Figure

__all__ = ["plot_gain_per_kb", "plot_sweep_curves", "plot_sweep_reports"]


def _split_vertically(ax):
    """Replace ``ax`` by two axes one above the other in its slot, sharing x (top, bottom)."""
    fig, spec = ax.figure, ax.get_subplotspec()
    ax.remove()
    inner = spec.subgridspec(2, 1, hspace=0.05)
    top = fig.add_subplot(inner[0])
    return top, fig.add_subplot(inner[1], sharex=top)


def plot_sweep_curves(rows: Sequence[Any], *, ax: Sequence[Axes] | None = None) -> Figure:
    """Size and quality against k, and quality against size, from sweep records.

    Three slots: indexed-PNG size (kB, with bits per pixel on the right axis) against k;
    PSNR (top) and SSIM (bottom, up to 1 = identical) against k, each on its own axis; PSNR
    against size with each point
    labelled by its k, which shows where more colours stop paying. k is on a log-2 axis.
    When the rows carry the comparisons of ``sweep(..., compare=True)``, the last panel also
    shows JPEG at the same bytes or fewer and Pillow's median cut at the same k.
    An infinite PSNR (exact image) is left out of the curves and said in the title.

    Parameters
    ----------
    rows : sequence of SweepRow
        From :func:`kmeans_compress.sweep` (fields ``k``, ``bytes_out``,
        ``bits_per_pixel``, ``psnr``, ``ssim``).
    ax : sequence of three Axes, optional
        The middle one is replaced by the PSNR and SSIM axes, in its slot.

    Returns
    -------
    matplotlib.figure.Figure
    """
    rows = sorted(rows, key=lambda r: r.k)
    if not rows:
        msg = "rows must hold at least one sweep record."
        raise ValueError(msg)
    ks = np.array([r.k for r in rows], dtype=np.float64)
    kb = np.array([r.bytes_out for r in rows], dtype=np.float64) / 1000.0
    bpp_per_kb = rows[0].bits_per_pixel / kb[0] if kb[0] > 0 else 0.0
    quality = np.array([r.psnr for r in rows], dtype=np.float64)
    exact = ~np.isfinite(quality)
    quality[exact] = np.nan
    similarity = np.array([r.ssim for r in rows], dtype=np.float64)
    k_range = f"k = {int(ks[0])}" if len(ks) == 1 else f"k = {int(ks[0])} to {int(ks[-1])}"

    fig, (ax_size, ax_quality, ax_rd) = axes_list(ax, 3, figsize=(15.0, 4.8))
    ax_psnr, ax_ssim = _split_vertically(ax_quality)
    base = 2 if ks.max() > ks.min() else 10
    for a in (ax_size, ax_psnr, ax_ssim):
        a.set_xscale("log", base=base)
        a.set_xticks(ks, [str(int(k)) for k in ks])
        a.minorticks_off()
        a.set_xlabel("k (colours, log scale)")
        a.grid(True, alpha=0.3)

    ax_size.plot(ks, kb, "o-", color="tab:blue")
    ax_size.set_ylabel("indexed PNG size (kB)")
    if bpp_per_kb > 0:
        sec = ax_size.secondary_yaxis("right", functions=(lambda x: x * bpp_per_kb, lambda y: y / bpp_per_kb))
        sec.set_ylabel("bits per pixel")
    ax_size.set_title(f"File size against k ({k_range})")

    # PSNR and SSIM each on an axis of its own, one above the other in the middle slot: on the two
    # y axes of one panel, each autoscaled, their curves lay on top of each other as if one measure
    ax_psnr.plot(ks, quality, "o-", color="tab:red")
    ax_psnr.set_ylabel("PSNR (dB)")
    ax_psnr.tick_params(labelbottom=False)
    ax_psnr.set_xlabel("")
    ax_ssim.plot(ks, similarity, "s-", color="tab:green")
    ax_ssim.set_ylabel("SSIM (1 = identical)")
    low = np.nanmin(similarity)
    ax_ssim.set_ylim(max(-1.0, low - 0.1 * max(1.0 - low, 0.05)), 1.02)
    note = f"; exact (PSNR ∞) at k ≥ {int(ks[exact][0])}" if exact.any() else ""
    ax_psnr.set_title(f"Quality against k ({k_range}){note}")

    ax_rd.plot(kb, quality, "o-", color="tab:purple", label="k-means palette PNG")
    for name, baseline, style, color in (
        ("JPEG, no larger", "jpeg", "s--", "tab:gray"),
        ("Pillow median cut, same k", "mediancut", "^:", "tab:olive"),
    ):
        found = [getattr(r, baseline, None) for r in rows]
        pairs = [(b.bytes / 1000.0, b.psnr) for b in found if b is not None and math.isfinite(b.psnr)]
        if pairs:
            ax_rd.plot(*zip(*pairs, strict=True), style, color=color, label=name, markersize=5)
    if len(ax_rd.get_lines()) > 1:
        ax_rd.legend(loc="lower right", fontsize=8)
    for k, x, y in zip(ks, kb, quality, strict=True):
        if np.isfinite(y):
            ax_rd.annotate(f"k={int(k)}", (x, y), xytext=(-5, 5), textcoords="offset points", ha="right", fontsize=8)
    ax_rd.set_xlabel("file size (kB)")
    ax_rd.set_ylabel("PSNR (dB)")
    ax_rd.margins(x=0.12, y=0.08)  # room for the k labels
    ax_rd.grid(True, alpha=0.3)
    ax_rd.set_title(f"Quality against size ({k_range})")
    return fig


def plot_gain_per_kb(
    rows: Sequence[Any], *, suggested_k: int | None = None, psnr_cap: float = 60.0, ax: Axes | None = None
) -> Figure:
    """PSNR gained per kilobyte spent, step by step between neighbouring k: where more colours stop paying.

    One bar per step from one k of the sweep to the next: ``(PSNR(k2) - PSNR(k1)) /
    (kB(k2) - kB(k1))``. The dashed line is the same ratio over the whole range (first k to
    last). With ``suggested_k``, the steps up to it are drawn in one colour and the later ones
    in grey. For a curve that flattens, the knee of :func:`kmeans_compress.choose_k` (largest
    normalised PSNR minus normalised bytes) is the k reached by the last step above the line.

    Parameters
    ----------
    rows : sequence of Measurement
        At least two k (fields ``k``, ``bytes_out``, ``psnr``).
    suggested_k : int, optional
        The k to mark.
    psnr_cap : float, default 60.0
        PSNR above it (infinite when exact) counts as this, as the knee rule does.
    ax : matplotlib Axes, optional

    Returns
    -------
    matplotlib.figure.Figure
    """
    rows = sorted(rows, key=lambda r: r.k)
    if len(rows) < 2:
        msg = f"rows must hold at least two k to compare neighbours, got {len(rows)}."
        raise ValueError(msg)
    ks = [int(r.k) for r in rows]
    kb = np.array([r.bytes_out for r in rows], dtype=np.float64) / 1000.0
    quality = np.minimum(np.array([r.psnr for r in rows], dtype=np.float64), psnr_cap)
    spent, gained = np.diff(kb), np.diff(quality)
    gain = np.divide(gained, spent, out=np.full_like(gained, np.nan), where=spent > 0)
    overall = (quality[-1] - quality[0]) / (kb[-1] - kb[0]) if kb[-1] > kb[0] else np.nan
    if ax is None:
        fig, ax = plt.subplots(figsize=(max(6.0, 1.1 * len(gain) + 2.0), 3.8), layout="constrained")
    fig = ax.figure  # type: ignore[assignment] # the axes' own (sub)figure, returned as before
    labels = [f"{a}→{b}" for a, b in pairwise(ks)]
    colors = ["tab:purple" if suggested_k is None or b <= suggested_k else "tab:gray" for b in ks[1:]]
    x = np.arange(len(gain))
    ax.bar(x, np.nan_to_num(gain), color=colors)
    ax.set_xticks(x, labels)
    if np.isfinite(overall):
        ax.axhline(
            overall,
            color="black",
            linestyle="--",
            linewidth=1,
            label=f"over k = {ks[0]} to {ks[-1]}: {overall:.2f} dB/kB",
        )
        top = max(np.nanmax(gain), overall)
        if top > 0:
            ax.set_ylim(top=1.3 * top)  # headroom, so that the legend never covers a bar
        ax.legend(loc="upper right")
    ax.set_xlabel("step between neighbouring k")
    ax.set_ylabel("PSNR gained per kB (dB/kB)")
    ax.grid(True, axis="y", alpha=0.3)
    title = "Quality gained per kB spent"
    if suggested_k is not None:
        title += f": suggested k = {suggested_k}"
    ax.set_title(title)
    return fig


def plot_sweep_reports(reports: Iterable[Any]) -> Figure:
    """The sweep curves of several files, one row of :func:`plot_sweep_curves` panels each.

    Parameters
    ----------
    reports : sequence of SweepReport
        One per file (what ``kmeans-compress --sweep`` measures; ``input`` and ``rows``).

    Returns
    -------
    matplotlib.figure.Figure
        Made without pyplot, so that the command line can save it with no display.
    """
    from matplotlib.figure import Figure

    reports = list(reports)
    if not reports:
        msg = "reports must hold at least one sweep report."
        raise ValueError(msg)
    fig = Figure(figsize=(15.0, 4.6 * len(reports)), layout="constrained")
    axes = fig.subplots(len(reports), 3, squeeze=False)
    for report, row_axes in zip(reports, axes, strict=True):
        plot_sweep_curves(report.rows, ax=row_axes)
        row_axes[0].set_title(f"{Path(report.input).name}: {row_axes[0].get_title()}")
    return fig
