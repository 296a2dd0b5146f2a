"""Pixel arithmetic on images ``(N, H, W, C)``: resize, channel statistics, standardise.

In host memory, chunk by chunk. Two scalings (`SCALINGS`) give the ``(mean, std)`` that
`standardize` applies: "standardize", the train split's per-channel statistics; "unit",
mean 0 and std the largest raw pixel value, so that pixels land in [0, 1].
"""

from __future__ import annotations

import numpy as np

# Images per chunk: bounds the float64/float32 temporaries of large datasets.
CHUNK = 4096
SCALINGS = ("standardize", "unit")


def unit_max(dtype) -> float | None:
    """The largest raw pixel value of images stored as ``dtype``: 255 for uint8 (and
    2**k - 1 for other unsigned integers); None for other kinds, whose range is unknown."""
    dtype = np.dtype(dtype)
    if np.issubdtype(dtype, np.unsignedinteger):
        return float(np.iinfo(dtype).max)
    return None


def scaling_stats(x: np.ndarray, scaling: str, pixel_max: float | None
                  ) -> tuple[np.ndarray, np.ndarray]:
    """float32 ``(mean, std)`` ``(C,)`` of ``scaling`` for train images ``(N, H, W, C)``:
    `channel_stats` for "standardize"; 0 and ``pixel_max`` for "unit" (x / pixel_max)."""
    if scaling == "unit":
        c = x.shape[-1]
        return np.zeros(c, np.float32), np.full(c, pixel_max, np.float32)
    return channel_stats(x)


def resize_images(images: np.ndarray, size: tuple[int, int]) -> np.ndarray:
    """Bilinear resize ``(N, H, W, C)`` -> float32 ``(N, *size, C)``, antialiased.

    Matches ``jax.image.resize(images, (N, *size, C), "linear")``.
    """
    images = np.asarray(images)
    _, h, w, _ = images.shape
    if (h, w) == tuple(size):
        return images
    rows = _resize_weights(h, size[0])
    cols = _resize_weights(w, size[1])
    out = np.empty((len(images), size[0], size[1], images.shape[-1]), np.float32)
    for start in range(0, len(images), CHUNK):
        chunk = images[start : start + CHUNK].astype(np.float32).transpose(0, 3, 1, 2)
        out[start : start + CHUNK] = (rows @ chunk @ cols.T).transpose(0, 2, 3, 1)
    return out


def _resize_weights(n_in: int, n_out: int) -> np.ndarray:
    """``(n_out, n_in)`` triangle-kernel weights, widened by the scale when shrinking."""
    inv_scale = n_in / n_out
    kernel_scale = max(inv_scale, 1.0)
    sample = (np.arange(n_out) + 0.5) * inv_scale - 0.5
    dist = np.abs(sample[:, None] - np.arange(n_in)[None, :]) / kernel_scale
    weights = np.maximum(0.0, 1.0 - dist)
    total = weights.sum(axis=1, keepdims=True)
    ok = total > 1000 * np.finfo(np.float32).eps
    weights = np.where(ok, weights / np.where(ok, total, 1.0), 0.0)
    inside = (sample >= -0.5) & (sample <= n_in - 0.5)
    return np.where(inside[:, None], weights, 0).astype(np.float32)


def channel_stats(x: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Per-channel float32 mean and std ``(C,)`` of ``(N, H, W, C)``; std 0 becomes 1."""
    n, h, w, c = x.shape
    total = np.zeros(w * c)
    for start in range(0, n, CHUNK):
        total += x[start : start + CHUNK].reshape(-1, w * c).sum(axis=0, dtype=np.float64)
    count = n * h * w
    mean = total.reshape(w, c).sum(axis=0) / count
    squares = np.zeros(w * c)
    for start in range(0, n, CHUNK):
        d = x[start : start + CHUNK].reshape(-1, w * c).astype(np.float64)
        d -= np.tile(mean, w)
        squares += np.einsum("ij,ij->j", d, d)
    std = np.sqrt(squares.reshape(w, c).sum(axis=0) / count)
    std = np.where(std > 0, std, 1.0)
    return mean.astype(np.float32), std.astype(np.float32)


def standardize(x: np.ndarray, mean: np.ndarray, std: np.ndarray) -> np.ndarray:
    """float32 ``(x - mean) / std`` of ``(N, H, W, C)``, a new array."""
    n, h, w, c = x.shape
    out = x.astype(np.float32)
    flat = out.reshape(n * h, w * c)
    flat -= np.tile(mean, w)
    flat /= np.tile(std, w)
    return out
