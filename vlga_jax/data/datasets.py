"""Datasets for the trainer: numpy arrays on the host, normalised, split three ways.

Sources: ``"digits"`` (scikit-learn's 8x8 digits, no download), any tensorflow-datasets
name prepared as array_record in a local ``data_dir`` (read without TensorFlow), or
arrays from the caller (:meth:`Dataset.from_arrays`).

Fitness is scored on the validation split, carved (seeded, stratified) from train;
the test split is for final reports only. Normalisation statistics come from the
train split alone, after validation has been carved out.

The `Dataset` type and `load_dataset` live here; the sources, checks and arithmetic by
job in `tfds_source` (tensorflow-datasets on disk), `array_checks` (the caller's
arrays and options), `splits` (seeded stratified splits) and `pixels` (resize,
statistics, standardising).
"""

from __future__ import annotations

import dataclasses
import os
import warnings
from collections.abc import Iterator

import numpy as np

from vlga_jax.core import checks
from vlga_jax.data.array_checks import (
    check_num_classes,
    check_options,
    check_pair,
    check_same_scale,
    is_int,
)
from vlga_jax.data.pixels import (
    SCALINGS,
    resize_images,
    scaling_stats,
    standardize,
    unit_max,
)
from vlga_jax.data.splits import (
    STREAM_SUBSET,
    STREAM_TEST,
    STREAM_VAL,
    per_class_subset,
    seed_stream,
    stratified_split,
)
from vlga_jax.data.tfds_source import (
    DatasetNotPrepared,
    check_data_dir,
    default_data_dir,
    find_prepared,
    read_tfds,
)

__all__ = [
    "Dataset",
    "DatasetNotPrepared",
    "check_data_dir",
    "default_data_dir",
    "find_prepared",
    "iter_batches",
    "load_dataset",
    "resize_images",
]

# A validation split smaller than this is warned about: fitness moves in steps of 1/n.
MIN_VAL_IMAGES = 10
_ARRAY_FIELDS = ("train_x", "train_y", "val_x", "val_y", "test_x", "test_y", "mean", "std")
# load_digits holds pixel values 0..16 (4x4 counts of set pixels in 32x32 bitmaps).
DIGITS_MAX = 16.0


@dataclasses.dataclass(frozen=True, eq=False)
class Dataset:
    """Normalised image classification splits, host-resident numpy arrays.

    Images are float32 ``(N, H, W, C)`` normalised per channel as ``(x - mean) / std``
    (float32 ``(C,)``, raw pixel units): with ``scaling`` "standardize" the statistics of
    ``train_x`` before normalising, with "unit" mean 0 and std the largest raw pixel
    value (pixels in [0, 1]). Labels are int32 ``(N,)`` in ``[0, num_classes)``.
    """

    name: str
    num_classes: int
    train_x: np.ndarray
    train_y: np.ndarray
    val_x: np.ndarray
    val_y: np.ndarray
    test_x: np.ndarray
    test_y: np.ndarray
    mean: np.ndarray
    std: np.ndarray
    scaling: str = "standardize"

    def __post_init__(self):
        shape = self.train_x.shape[1:]
        for split in ("train", "val", "test"):
            x, y = getattr(self, f"{split}_x"), getattr(self, f"{split}_y")
            if x.dtype != np.float32 or x.ndim != 4 or x.shape[1:] != shape:
                raise ValueError(
                    f"{split}_x must be float32 (N, {', '.join(map(str, shape))}), "
                    f"got {x.dtype} {x.shape}"
                )
            if y.dtype != np.int32 or y.shape != (len(x),):
                raise ValueError(f"{split}_y must be int32 ({len(x)},), got {y.dtype} {y.shape}")
        for stat in ("mean", "std"):
            v = getattr(self, stat)
            if v.dtype != np.float32 or v.shape != (shape[-1],):
                raise ValueError(f"{stat} must be float32 ({shape[-1]},), got {v.dtype} {v.shape}")

    @property
    def image_shape(self) -> tuple[int, int, int]:
        """``(H, W, C)`` of every image."""
        return tuple(int(d) for d in self.train_x.shape[1:])

    @property
    def nbytes(self) -> int:
        """Host memory held by all arrays, in bytes."""
        return sum(getattr(self, f).nbytes for f in _ARRAY_FIELDS)

    def normalize(self, images) -> np.ndarray:
        """Normalise raw images as the splits were (uint8 or float, ``(N, H, W, C)`` or
        ``(N, H, W)``).

        Returns float32 ``(N, H, W, C)``; images must be in the same raw units as the
        source (e.g. 0..255 for CIFAR, 0..16 for digits) and already at ``image_shape``
        if the dataset was resized.
        """
        x = np.asarray(images)
        channels = self.mean.shape[0]
        if x.ndim == 3:
            x = x[..., None]
        if x.ndim != 4 or x.shape[-1] != channels:
            raise ValueError(
                f"images must be (N, H, W, {channels})"
                + (" or (N, H, W)" if channels == 1 else "")
                + f", got shape {np.shape(images)}"
            )
        if not (np.issubdtype(x.dtype, np.integer) or np.issubdtype(x.dtype, np.floating)):
            raise ValueError(f"images must be integer or float, got dtype {x.dtype}")
        return standardize(x, self.mean, self.std)

    def summary(self) -> str:
        """One line: name, classes, image shape, split sizes, memory."""
        h, w, c = self.image_shape
        return (
            f"{self.name}: {self.num_classes} classes, {h}x{w}x{c} images, "
            f"train {len(self.train_y)} / val {len(self.val_y)} / test {len(self.test_y)}, "
            f"{self.nbytes / 2**20:.1f} MiB"
        )

    @classmethod
    def from_arrays(
        cls,
        train_x,
        train_y,
        test_x=None,
        test_y=None,
        *,
        name: str = "arrays",
        num_classes: int | None = None,
        val_fraction: float = 0.1,
        seed: int = 0,
        subset: int | None = None,
        resize: tuple[int, int] | int | None = None,
        test_fraction: float = 0.2,
        scaling: str = "standardize",
        pixel_max: float | None = None,
    ) -> Dataset:
        """Validate, split, subset, resize and normalise raw arrays.

        Args:
          train_x: ``(N, H, W, C)`` or ``(N, H, W)`` images, integer or float, raw units.
          train_y: ``(N,)`` integer labels in ``[0, num_classes)``.
          test_x, test_y: the same for the test split; when both are None a seeded,
            stratified ``test_fraction`` of train becomes the test split.
          num_classes: defaults to ``max(label) + 1``; then the labels must be exactly
            ``0..num_classes-1`` (sparse labels such as {0, 1000000} are refused with a
            hint to remap them). Every class of test must be present in train, and at
            least two classes in train.
          val_fraction: in ``(0, 1)``; the seeded, stratified share of the (subset)
            train pool that becomes the validation split.
          subset: keep a seeded random ``subset`` examples per class of the train pool
            (all of a class that has fewer) before carving validation.
          resize: ``(H, W)`` (or one int for square) output size; bilinear with
            antialiasing, like ``jax.image.resize(..., "linear")``.
          scaling: "standardize" (per channel, with the train split's mean and std) or
            "unit" (divide by ``pixel_max``, the largest raw pixel value, so that
            pixels land in [0, 1]; no mean is subtracted).
          pixel_max: for "unit": None means 255 for uint8 images (2**k - 1 for other
            unsigned integers); other image dtypes must give it.

        Images must be channels-last; ``(N, C, H, W)`` arrays are recognised and refused
        with a hint. Train and test must be on one value scale (e.g. both 0..255). A
        validation split of fewer than ``MIN_VAL_IMAGES`` images is warned about.
        """
        train_x, train_y = check_pair(train_x, train_y, "train")
        pixel_max = _check_scaling(scaling, pixel_max, train_x.dtype)
        if (test_x is None) != (test_y is None):
            raise ValueError("give both test_x and test_y, or neither")
        if test_x is not None:
            test_x, test_y = check_pair(test_x, test_y, "test")
            if test_x.shape[-1] != train_x.shape[-1]:
                raise ValueError(
                    f"train and test images have different channel counts: "
                    f"{train_x.shape[1:]} vs {test_x.shape[1:]}"
                )
            if resize is None and test_x.shape[1:] != train_x.shape[1:]:
                raise ValueError(
                    f"train and test images have different shapes: {train_x.shape[1:]} vs "
                    f"{test_x.shape[1:]} (pass resize=(H, W) to bring both to one size)"
                )
            check_same_scale(train_x, test_x)
        num_classes = check_num_classes(num_classes, train_y, test_y)
        size = check_options(val_fraction, seed, subset, resize, test_fraction)

        if test_x is None:
            keep, take = stratified_split(
                train_y, test_fraction, seed_stream(seed, STREAM_TEST), "test_fraction", "test"
            )
            test_x, test_y = train_x[take], train_y[take]
            train_x, train_y = train_x[keep], train_y[keep]
        if subset is not None:
            idx = per_class_subset(train_y, int(subset), seed_stream(seed, STREAM_SUBSET))
            train_x, train_y = train_x[idx], train_y[idx]
        keep, take = stratified_split(
            train_y, val_fraction, seed_stream(seed, STREAM_VAL), "val_fraction", "validation"
        )
        val_x, val_y = train_x[take], train_y[take]
        train_x, train_y = train_x[keep], train_y[keep]
        if len(val_y) < MIN_VAL_IMAGES:
            warnings.warn(
                f"{name}: the validation split holds only {len(val_y)} image(s), so fitness "
                f"(validation accuracy) moves in steps of 1/{len(val_y)}; raise val_fraction "
                "or give more training images",
                UserWarning,
                stacklevel=2,
            )

        if size is not None:
            train_x, val_x, test_x = (resize_images(x, size) for x in (train_x, val_x, test_x))

        mean, std = scaling_stats(train_x, scaling, pixel_max)
        return cls(
            name=name,
            num_classes=num_classes,
            train_x=standardize(train_x, mean, std),
            train_y=train_y.astype(np.int32),
            val_x=standardize(val_x, mean, std),
            val_y=val_y.astype(np.int32),
            test_x=standardize(test_x, mean, std),
            test_y=test_y.astype(np.int32),
            mean=mean,
            std=std,
            scaling=scaling,
        )


def load_dataset(
    name: str = "digits",
    *,
    data_dir: str | os.PathLike | None = None,
    val_fraction: float = 0.1,
    seed: int = 0,
    subset: int | None = None,
    resize: tuple[int, int] | int | None = None,
    image_key: str = "image",
    label_key: str = "label",
    test_fraction: float = 0.2,
    scaling: str = "standardize",
) -> Dataset:
    """Load ``name`` as a :class:`Dataset`: ``"digits"`` or a tensorflow-datasets name.

    tensorflow-datasets names (``"cifar10"``, ``"mnist"``, ``"emnist/digits"``,
    ``"cifar10:3.0.2"``...) are read from ``data_dir`` (default:
    :func:`default_data_dir`) where they must already be prepared as array_record;
    nothing is downloaded and TensorFlow is not needed. Their ``train`` and ``test``
    splits are used (test carved from train, stratified, when missing); ``image_key``
    and ``label_key`` pick the features. ``test_fraction`` applies only where a test
    split is carved (always for digits). ``scaling`` "unit" divides by the largest raw
    pixel value of the dataset: 16 for digits (its pixels are 0..16), 255 for uint8
    images. Other arguments: see :meth:`Dataset.from_arrays`.

    Raises:
      DatasetNotPrepared: the dataset is not prepared in ``data_dir``.
      ValueError: unknown name or bad arguments.
    """
    if not isinstance(name, str):
        raise ValueError(f"dataset name must be a str, got {type(name).__name__}")
    common = dict(
        val_fraction=val_fraction,
        seed=seed,
        subset=subset,
        resize=resize,
        test_fraction=test_fraction,
        scaling=scaling,
    )
    if name == "digits":
        from sklearn.datasets import load_digits

        digits = load_digits()
        return Dataset.from_arrays(
            digits.images.astype(np.float32),
            digits.target,
            name="digits",
            num_classes=10,
            pixel_max=DIGITS_MAX,
            **common,
        )
    size = check_options(val_fraction, seed, subset, resize, test_fraction)
    checks.choice("scaling", scaling, SCALINGS)
    train, test, num_classes, dtype = read_tfds(
        name, data_dir, image_key=image_key, label_key=label_key, resize=size
    )
    return Dataset.from_arrays(
        *train, *(test or (None, None)), name=name, num_classes=num_classes,
        pixel_max=unit_max(dtype) if scaling == "unit" else None, **common
    )


def _check_scaling(scaling, pixel_max, dtype) -> float | None:
    """``pixel_max`` for ``scaling`` (None for "standardize"), checked."""
    checks.choice("scaling", scaling, SCALINGS)
    if scaling != "unit":
        return None
    if pixel_max is None:
        pixel_max = unit_max(dtype)
        if pixel_max is None:
            raise ValueError(
                f"scaling='unit' needs pixel_max (the largest raw pixel value, e.g. 255) for "
                f"{dtype} images: 255 is assumed for uint8 images only"
            )
    checks.require(checks.is_number(pixel_max) and not isinstance(pixel_max, bool)
                   and pixel_max > 0, "pixel_max",
                   "a positive number", pixel_max)
    return float(pixel_max)


def iter_batches(x, y, batch_size: int) -> Iterator[tuple[np.ndarray, np.ndarray]]:
    """Yield ``(x[i:i+b], y[i:i+b])`` host chunks in order; the last may be smaller.

    For streaming a split that does not fit in device memory; the chunks are views.
    """
    if not is_int(batch_size) or batch_size < 1:
        raise ValueError(f"batch_size must be a positive int, got {batch_size}")
    if len(x) != len(y):
        raise ValueError(f"x and y have different lengths: {len(x)} vs {len(y)}")
    for start in range(0, len(x), batch_size):
        yield x[start : start + batch_size], y[start : start + batch_size]
