"""Image geometry shared by the image augmentations: shapes, and the feature order of flattened images.

A flattened image is row-major with channels last, matching ``X.reshape(n, H, W, C)``: feature
``f`` is pixel ``(f // C) // W, (f // C) % W`` of channel ``f % C``. An ``image_shape`` is
``(H, W)`` (one channel) or ``(H, W, C)``; ``None`` means "square, inferred from ``d``": ``d = s^2``
gives ``(s, s, 1)``, ``d = 3 s^2`` gives ``(s, s, 3)``.
"""

from __future__ import annotations

import math
from typing import Optional

import numpy as np

__all__ = ["check_image_shape", "image_shape_for", "pixel_coordinates"]


def check_image_shape(image_shape, what: str) -> Optional[tuple]:
    """``image_shape`` as a tuple of 2 or 3 positive ints, or None (infer from ``d``)."""
    if image_shape is None:
        return None
    try:
        shape = tuple(int(v) for v in image_shape)
        exact = all(float(v) == int(v) and not isinstance(v, bool) for v in image_shape)
    except (TypeError, ValueError):
        shape, exact = (), False
    if not exact or len(shape) not in (2, 3) or min(shape) < 1:
        raise ValueError(
            f"{what} image_shape must be (H, W) or (H, W, C) with positive integers (or None to infer a square "
            f"image from d); got {image_shape!r}"
        )
    return shape


def image_shape_for(image_shape: Optional[tuple], d: int, what: str) -> tuple[int, int, int]:
    """``(H, W, C)`` for data with ``d`` features.

    Raises
    ------
    ValueError
        When ``H W C != d``, or ``image_shape`` is None and ``d`` is neither ``s^2`` nor ``3 s^2``.
    """
    if image_shape is None:
        for channels in (1, 3):
            side = math.isqrt(d // channels)
            if d % channels == 0 and side * side * channels == d:
                return side, side, channels
        raise ValueError(
            f"{what} cannot infer a square image from d={d} features (neither s^2 nor 3 s^2); pass image_shape=(H, W, C)"
        )
    H, W = image_shape[0], image_shape[1]
    C = image_shape[2] if len(image_shape) == 3 else 1
    if H * W * C != d:
        raise ValueError(
            f"{what} is for images of shape {tuple(image_shape)} ({H * W * C} features) but the data have d={d}; "
            "features must be row-major with channels last (X.reshape(n, H, W, C))"
        )
    return H, W, C


def pixel_coordinates(shape: tuple[int, int, int]) -> tuple[np.ndarray, np.ndarray]:
    """Row and column of every feature, shapes (d,), int64 (channels last)."""
    H, W, C = shape
    pixel = np.arange(H * W * C) // C
    return pixel // W, pixel % W
