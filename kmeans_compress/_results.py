"""What compressing returns: :class:`Compressed` (bytes and figures) and :class:`CompressionReport` (a file).

Split from :mod:`._compress`, which re-exports both, so that the workflow's module stays about
the work. Both are frozen dataclasses: each parameter is kept as the attribute of the same name.
"""

from __future__ import annotations

import dataclasses
import math
from typing import Any

from ._choose import KChoice
from ._measure import Measurement

__all__ = ["Compressed", "CompressionReport"]


@dataclasses.dataclass(frozen=True)
class Compressed:
    """What :func:`compress_bytes` returns.

    Parameters
    ----------
    data : bytes
        The encoded output file (an indexed PNG, or a lossless WebP: ``measurement.format``).
    measurement : Measurement
        What it cost and kept; its ``seconds`` cover the whole job, the choice of k included.
    choice : KChoice or None
        How k was chosen, when it was (``n_colors="auto"`` or a target quality).
    reached : bool or None
        With a target quality: whether it was reached. When it was not, ``data`` is the best
        palette found (the most colours tried). None without a target.
    below_floor : bool
        True when the target was not reached and the best palette found is below the floor
        (``floor_psnr``/``floor_ssim``; the target itself by default): :func:`compress_file`
        then writes nothing, and the command line exits with status 99.
    """

    data: bytes
    measurement: Measurement
    choice: KChoice | None = None
    reached: bool | None = None
    below_floor: bool = False


def _ratio_text(ratio: float) -> str:
    """``"16.44x smaller than the input"``, or ``"1.70x larger than the input"`` below 1."""
    if ratio >= 1:
        return f"{ratio:.2f}x smaller than the input"
    return f"{1 / ratio:.2f}x larger than the input"


@dataclasses.dataclass(frozen=True)
class CompressionReport:
    """One file compressed: where from, where to, what it cost and kept, and how k was chosen.

    Parameters
    ----------
    input : str
        Path of the input file.
    output : str or None
        Path written; None when nothing was written (``kept_original``).
    measurement : Measurement
        Its ``seconds`` are the whole time spent on this file: reading, counting colours, every
        fit of the search for k, encoding, measuring and writing.
    kept_original : bool
        True when nothing was written because the output would have been larger than the input
        file (``skip_if_larger=True``); ``measurement.bytes_out`` is then the size it would have had.
    choice : KChoice or None
        How k was chosen, when it was.
    reached : bool or None
        With a target quality: whether it was reached (see :class:`Compressed`); None without one.
    below_floor : bool
        True when nothing was written because even the best palette found is below the floor.
    """

    input: str
    output: str | None
    measurement: Measurement
    kept_original: bool = False
    choice: KChoice | None = None
    reached: bool | None = None
    below_floor: bool = False

    def to_dict(self) -> dict[str, Any]:
        """Flat dict, valid JSON: paths, the measurement's fields, ``kept_original``, and ``auto``.

        Returns
        -------
        dict
            ``input``, ``output``, every field of the measurement, ``kept_original``, ``reached``,
            ``below_floor``, and (when k was chosen) ``auto`` with the rule, the number of fits and
            the k tried.
        """
        out = {
            "input": self.input,
            "output": self.output,
            **self.measurement.to_dict(),
            "kept_original": self.kept_original,
            "reached": self.reached,
            "below_floor": self.below_floor,
        }
        if self.choice is not None:
            tried = [r.k for r in self.choice.rows]
            out["auto"] = {"rule": self.choice.rule, "n_fits": self.choice.n_fits, "tried": tried}
        return out

    def summary(self) -> str:
        """One human-readable line.

        Returns
        -------
        str
            The input, k, the figures measured, the sizes and the time, then where the output went
            or why nothing was written.
        """
        m = self.measurement
        quality = "  ".join(
            text
            for value, text in (
                (m.psnr, "PSNR inf dB" if math.isinf(m.psnr) else f"PSNR {m.psnr:.2f} dB"),
                (m.ssim, f"SSIM {m.ssim:.4f}"),
                (m.delta_e, f"dE00 {m.delta_e:.2f}"),
            )
            if not math.isnan(value)  # --metrics: the figures not computed are left out
        )
        if m.bytes_in is None or m.ratio is None:  # a report made by hand, without the input's size
            sizes = f"{m.bytes_out:,} B  ({m.bits_per_pixel:.2f} bits/pixel)"
        else:
            ratio = _ratio_text(m.ratio)
            sizes = f"{m.bytes_in:,} B -> {m.bytes_out:,} B  ({ratio}, {m.bits_per_pixel:.2f} bits/pixel)"
        frames = f"  {m.frames} frames" if m.frames > 1 else ""  # figures over all of them
        line = f"{self.input}: k={m.k} ({m.n_colors} used){frames}  {quality}  {sizes}  {m.seconds:.2f} s"
        line = line.replace("    ", "  ")
        if self.output:
            line += f"  -> {self.output}"
        if self.kept_original:
            line += (
                f"  kept original: the {_FORMAT_NAMES.get(m.format, m.format)} would be larger than the input "
                f"({m.bytes_out:,} B > {m.bytes_in:,} B), nothing written"
            )
        if self.below_floor:
            line += "  below the minimum quality even with the most colours tried: nothing written"
        if self.choice is not None:
            line += f"  [k=auto: {self.choice.rule}; {self.choice.n_fits} fits]"
        return line


_FORMAT_NAMES = {"png": "PNG", "webp": "WebP", "gif": "GIF"}
