"""Animations: every frame read as a viewer shows it, one palette for all, animated files written.

Animated GIF, APNG and animated WebP are read frame by frame (:func:`read_animation`), quantized
on one palette fitted over all frames, their summed colour histogram (or a palette per frame),
and written as an animated GIF, APNG or lossless animated WebP with the input's durations and
loop count (:func:`compress_animation`, :func:`encode_animation`). Import it explicitly::

    from kmeans_compress.animation import compress_animation, read_animation

Size and quality are measured over all frames' pixels (see :func:`compress_animation`).
"""

from __future__ import annotations

from ._animate import PALETTE_MODES, AnimationSweep, CompressedAnimation, compress_animation
from ._frames import ANIMATION_FORMATS, Animation, encode_animation, read_animation

__all__ = [
    "ANIMATION_FORMATS",
    "PALETTE_MODES",
    "Animation",
    "AnimationSweep",
    "CompressedAnimation",
    "compress_animation",
    "encode_animation",
    "read_animation",
]
