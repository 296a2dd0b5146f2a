"""Checks of what the caller gives a dataset: image and label arrays, classes, options.

Each raises ValueError naming the argument and what it may hold, before any array is
split or copied.
"""

from __future__ import annotations

import numpy as np

from vlga_jax.core import checks

# Splits whose largest pixel magnitudes differ by more than this factor are on different
# scales (e.g. uint8 0..255 against float 0..1) and are refused.
MAX_SCALE_RATIO = 4.0


def check_options(val_fraction, seed, subset, resize, test_fraction) -> tuple[int, int] | None:
    """Validate the split options; returns ``resize`` as ``(H, W)`` or None."""
    _check_fraction(val_fraction, "val_fraction")
    _check_fraction(test_fraction, "test_fraction")
    checks.require(is_int(seed) and seed >= 0, "seed", "a non-negative int", seed)
    checks.require(subset is None or (is_int(subset) and subset >= 1), "subset",
                   "a positive int (examples per class)", subset)
    return _check_resize(resize)


def is_int(v) -> bool:
    """True for a Python or NumPy integer (not a bool)."""
    return isinstance(v, int | np.integer) and not isinstance(v, bool)


def check_pair(x, y, split: str) -> tuple[np.ndarray, np.ndarray]:
    """Validate one split; returns images ``(N, H, W, C)`` and int64 labels ``(N,)``."""
    x, y = np.asarray(x), np.asarray(y)
    if x.ndim == 4 and x.shape[1] in (1, 3, 4) and x.shape[1] < x.shape[2] and x.shape[3] > 4:
        raise ValueError(
            f"{split}_x looks channels-first (N, C, H, W) = {x.shape}; images must be "
            f"channels-last (N, H, W, C): pass np.moveaxis({split}_x, 1, -1)"
        )
    if x.ndim == 3:
        x = x[..., None]
    if x.ndim != 4:
        raise ValueError(
            f"{split}_x must have rank 4 (N, H, W, C) or 3 (N, H, W), got shape {x.shape}"
        )
    if not (np.issubdtype(x.dtype, np.integer) or np.issubdtype(x.dtype, np.floating)):
        raise ValueError(f"{split}_x must be integer or float, got dtype {x.dtype}")
    if min(x.shape[1:]) < 1:
        raise ValueError(f"{split}_x has an empty image dimension: shape {x.shape}")
    if y.ndim != 1:
        hint = " (one-hot? pass y.argmax(-1))" if y.ndim == 2 else ""
        raise ValueError(f"{split}_y must have rank 1 (N,), got shape {y.shape}{hint}")
    if len(x) != len(y):
        raise ValueError(
            f"{split}_x and {split}_y have mismatched lengths: {len(x)} images, {len(y)} labels"
        )
    if len(x) == 0:
        raise ValueError(f"{split} split is empty")
    if np.issubdtype(x.dtype, np.floating) and not np.isfinite(x).all():
        raise ValueError(f"{split}_x contains NaN or inf pixels")
    if np.issubdtype(y.dtype, np.floating):
        if not (np.isfinite(y).all() and (y == np.round(y)).all()):
            raise ValueError(f"{split}_y must hold integer class ids, got non-integer values")
    elif not np.issubdtype(y.dtype, np.integer) or y.dtype == np.bool_:
        raise ValueError(f"{split}_y must hold integer class ids, got dtype {y.dtype}")
    y = y.astype(np.int64)
    if y.min() < 0:
        raise ValueError(f"{split}_y has negative labels (min {y.min()})")
    return x, y


def check_num_classes(num_classes, train_y: np.ndarray, test_y: np.ndarray | None) -> int:
    """The class count: ``num_classes`` checked against the labels, or max label + 1."""
    top = int(max(train_y.max(), -1 if test_y is None else test_y.max()))
    given = num_classes is not None
    if num_classes is None:
        num_classes = top + 1
    else:
        checks.require(is_int(num_classes), "num_classes", "an int", num_classes)
    if num_classes < 2:
        raise ValueError(f"need at least 2 classes, got num_classes={num_classes}")
    if top >= num_classes:
        raise ValueError(f"labels out of range: max label {top} >= num_classes={num_classes}")
    present = np.unique(train_y)
    if test_y is not None:
        only_test = np.setdiff1d(np.unique(test_y), present)
        if only_test.size:
            raise ValueError(
                f"test_y holds {only_test.size} class(es) absent from train_y (e.g. "
                f"{only_test[:5].tolist()}): the model could never predict them; drop them "
                "from test or give training examples of them"
            )
    if present.size < 2:
        raise ValueError(
            f"train_y holds only class {int(present[0])}: a classifier needs at least 2 "
            f"classes present in training (num_classes={num_classes})"
        )
    if not given and present.size < num_classes:
        missing = np.setdiff1d(np.arange(num_classes), present)
        raise ValueError(
            f"labels are not 0..K-1: train_y holds {present.size} distinct labels up to "
            f"{top}, missing {missing.size} (e.g. {missing[:5].tolist()}), which would "
            f"give a {num_classes}-class head; remap them (classes, y = "
            "np.unique(y, return_inverse=True)) or pass num_classes if the gaps are meant"
        )
    return int(num_classes)


def check_same_scale(train_x: np.ndarray, test_x: np.ndarray) -> None:
    """Refuse train and test images whose largest pixel magnitudes differ widely."""
    peaks = [max(abs(float(x.min())), abs(float(x.max()))) for x in (train_x, test_x)]
    if min(peaks) > 0 and max(peaks) / min(peaks) > MAX_SCALE_RATIO:
        ranges = [f"{x.dtype} {float(x.min()):g}..{float(x.max()):g}" for x in (train_x, test_x)]
        raise ValueError(
            f"train and test images are on different scales (train_x {ranges[0]}, test_x "
            f"{ranges[1]}): they are normalised with the train statistics, so scale both "
            "alike first (e.g. both 0..255, or both divided by 255)"
        )


def _check_fraction(fraction, what: str) -> None:
    checks.require(not isinstance(fraction, bool)
                   and isinstance(fraction, int | float | np.floating),
                   what, "a float in (0, 1)", fraction)
    if not 0.0 < fraction < 1.0:
        raise ValueError(f"{what} must be in (0, 1), got {fraction}")


def _check_resize(resize) -> tuple[int, int] | None:
    if resize is None:
        return None
    size = (resize, resize) if isinstance(resize, int | np.integer) else tuple(resize)
    checks.require(len(size) == 2 and all(is_int(s) and s >= 1 for s in size), "resize",
                   "(H, W) with positive ints", resize)
    return int(size[0]), int(size[1])
