"""Type aliases for the public API's annotations.

Imported only under ``typing.TYPE_CHECKING`` (``from __future__ import annotations`` keeps the
annotations unevaluated), so nothing here runs when the package is used.
"""

from __future__ import annotations

import os
from typing import IO, TypeAlias

import numpy as np
from numpy.typing import NDArray
from PIL import Image

__all__ = ["ImageSource", "PathLike"]

#: A file's path.
PathLike: TypeAlias = str | os.PathLike[str]

#: What :func:`~kmeans_compress.load_image` reads: a path, a binary file object, a PIL image, or a
#: ``uint8`` array of shape (H, W, 3) or (H, W, 4).
ImageSource: TypeAlias = PathLike | IO[bytes] | Image.Image | NDArray[np.uint8]
