"""Datasets for the trainer: numpy arrays on the host, normalised, split three ways.

Sources: ``"digits"`` (scikit-learn's 8x8 digits, no download), any tensorflow-datasets
name prepared as array_record in a local ``data_dir`` (read without TensorFlow), or
arrays from the caller (:meth:`Dataset.from_arrays`).

Fitness is scored on the validation split, carved (seeded, stratified) from train;
the test split is for final reports only. Normalisation statistics come from the
train split alone, after validation has been carved out.
"""

from __future__ import annotations

import dataclasses
import os
import re
import warnings
from collections.abc import Iterator, Sequence
from pathlib import Path

import numpy as np

from vlga_jax.core import streams

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

EMBEDDED = ("digits",)

_VERSION_RE = re.compile(r"^\d+\.\d+\.\d+$")
_NAME_RE = re.compile(
    r"^(?P<base>[A-Za-z0-9_]+)(?:/(?P<config>[A-Za-z0-9_.\-]+))?(?::(?P<version>\d+\.\d+\.\d+))?$"
)
_CHUNK = 4096
# A validation split smaller than this is warned about: fitness moves in steps of 1/n.
MIN_VAL_IMAGES = 10
# Splits whose largest pixel magnitudes differ by more than this factor are on different
# scales (e.g. uint8 0..255 against float 0..1) and are refused.
MAX_SCALE_RATIO = 4.0
_ARRAY_FIELDS = ("train_x", "train_y", "val_x", "val_y", "test_x", "test_y", "mean", "std")

# Seed streams, so that changing one stage never reshuffles another (`vlga_jax.core.streams`).
_STREAM_TEST, _STREAM_SUBSET, _STREAM_VAL = streams.DATA_TEST, streams.DATA_SUBSET, streams.DATA_VAL


class DatasetNotPrepared(FileNotFoundError):
    """A tensorflow-datasets dataset is not prepared (as array_record) in ``data_dir``."""


@dataclasses.dataclass(frozen=True, eq=False)
class Dataset:
    """Normalised image classification splits, host-resident numpy arrays.

    Images are float32 ``(N, H, W, C)`` standardised per channel with ``mean`` and
    ``std`` (float32 ``(C,)``, raw pixel units, computed on ``train_x`` before
    normalising); labels are int32 ``(N,)`` in ``[0, num_classes)``.
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
        """Standardise raw images (uint8 or float, ``(N, H, W, C)`` or ``(N, H, W)``).

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
        return _standardize(x, self.mean, self.std)

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

        Images must be channels-last; ``(N, C, H, W)`` arrays are recognised and refused
        with a hint. Train and test must be on one value scale (e.g. both 0..255). A
        validation split of fewer than ``MIN_VAL_IMAGES`` images is warned about.
        """
        train_x, train_y = _check_pair(train_x, train_y, "train")
        if (test_x is None) != (test_y is None):
            raise ValueError("give both test_x and test_y, or neither")
        if test_x is not None:
            test_x, test_y = _check_pair(test_x, test_y, "test")
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
            _check_same_scale(train_x, test_x)
        num_classes = _check_num_classes(num_classes, train_y, test_y)
        size = _check_options(val_fraction, seed, subset, resize, test_fraction)

        if test_x is None:
            keep, take = _stratified_split(
                train_y, test_fraction, _rng(seed, _STREAM_TEST), "test_fraction", "test"
            )
            test_x, test_y = train_x[take], train_y[take]
            train_x, train_y = train_x[keep], train_y[keep]
        if subset is not None:
            idx = _per_class_subset(train_y, int(subset), _rng(seed, _STREAM_SUBSET))
            train_x, train_y = train_x[idx], train_y[idx]
        keep, take = _stratified_split(
            train_y, val_fraction, _rng(seed, _STREAM_VAL), "val_fraction", "validation"
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

        mean, std = _channel_stats(train_x)
        return cls(
            name=name,
            num_classes=num_classes,
            train_x=_standardize(train_x, mean, std),
            train_y=train_y.astype(np.int32),
            val_x=_standardize(val_x, mean, std),
            val_y=val_y.astype(np.int32),
            test_x=_standardize(test_x, mean, std),
            test_y=test_y.astype(np.int32),
            mean=mean,
            std=std,
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
) -> Dataset:
    """Load ``name`` as a :class:`Dataset`: ``"digits"`` or a tensorflow-datasets name.

    tensorflow-datasets names (``"cifar10"``, ``"mnist"``, ``"emnist/digits"``,
    ``"cifar10:3.0.2"``...) are read from ``data_dir`` (default:
    :func:`default_data_dir`) where they must already be prepared as array_record;
    nothing is downloaded and TensorFlow is not needed. Their ``train`` and ``test``
    splits are used (test carved from train, stratified, when missing); ``image_key``
    and ``label_key`` pick the features. ``test_fraction`` applies only where a test
    split is carved (always for digits). Other arguments: see :meth:`Dataset.from_arrays`.

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
    )
    if name == "digits":
        from sklearn.datasets import load_digits

        digits = load_digits()
        return Dataset.from_arrays(
            digits.images.astype(np.float32),
            digits.target,
            name="digits",
            num_classes=10,
            **common,
        )
    size = _check_options(val_fraction, seed, subset, resize, test_fraction)
    train, test, num_classes = _read_tfds(
        name, data_dir, image_key=image_key, label_key=label_key, resize=size
    )
    return Dataset.from_arrays(
        *train, *(test or (None, None)), name=name, num_classes=num_classes, **common
    )


def iter_batches(x, y, batch_size: int) -> Iterator[tuple[np.ndarray, np.ndarray]]:
    """Yield ``(x[i:i+b], y[i:i+b])`` host chunks in order; the last may be smaller.

    For streaming a split that does not fit in device memory; the chunks are views.
    """
    if not _is_int(batch_size) or batch_size < 1:
        raise ValueError(f"batch_size must be a positive int, got {batch_size}")
    if len(x) != len(y):
        raise ValueError(f"x and y have different lengths: {len(x)} vs {len(y)}")
    for start in range(0, len(x), batch_size):
        yield x[start : start + batch_size], y[start : start + batch_size]


def default_data_dir() -> Path:
    """``$TFDS_DATA_DIR`` if set, else ``~/tensorflow_datasets``."""
    return Path(os.environ.get("TFDS_DATA_DIR") or "~/tensorflow_datasets").expanduser()


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
    for start in range(0, len(images), _CHUNK):
        chunk = images[start : start + _CHUNK].astype(np.float32).transpose(0, 3, 1, 2)
        out[start : start + _CHUNK] = (rows @ chunk @ cols.T).transpose(0, 2, 3, 1)
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


def _rng(seed: int, stream: int) -> np.random.Generator:
    return np.random.default_rng([int(seed), stream])


def _check_options(val_fraction, seed, subset, resize, test_fraction) -> tuple[int, int] | None:
    """Validate the split options; returns ``resize`` as ``(H, W)`` or None."""
    _check_fraction(val_fraction, "val_fraction")
    _check_fraction(test_fraction, "test_fraction")
    if not _is_int(seed) or seed < 0:
        raise ValueError(f"seed must be a non-negative int, got {seed!r}")
    if subset is not None and (not _is_int(subset) or subset < 1):
        raise ValueError(f"subset must be a positive int (examples per class), got {subset!r}")
    return _check_resize(resize)


def _is_int(v) -> bool:
    return isinstance(v, int | np.integer) and not isinstance(v, bool)


def _check_pair(x, y, split: str) -> tuple[np.ndarray, np.ndarray]:
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


def _check_num_classes(num_classes, train_y: np.ndarray, test_y: np.ndarray | None) -> int:
    top = int(max(train_y.max(), -1 if test_y is None else test_y.max()))
    given = num_classes is not None
    if num_classes is None:
        num_classes = top + 1
    elif not _is_int(num_classes):
        raise ValueError(f"num_classes must be an int, got {num_classes!r}")
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


def _check_same_scale(train_x: np.ndarray, test_x: np.ndarray) -> None:
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
    if isinstance(fraction, bool) or not isinstance(fraction, int | float | np.floating):
        raise ValueError(f"{what} must be a float in (0, 1), got {fraction!r}")
    if not 0.0 < fraction < 1.0:
        raise ValueError(f"{what} must be in (0, 1), got {fraction}")


def _check_resize(resize) -> tuple[int, int] | None:
    if resize is None:
        return None
    size = (resize, resize) if isinstance(resize, int | np.integer) else tuple(resize)
    if len(size) != 2 or not all(_is_int(s) and s >= 1 for s in size):
        raise ValueError(f"resize must be (H, W) with positive ints, got {resize!r}")
    return int(size[0]), int(size[1])


def _stratified_split(
    y: np.ndarray, fraction: float, rng: np.random.Generator, what: str, split: str
) -> tuple[np.ndarray, np.ndarray]:
    """Seeded stratified split of ``range(len(y))``: sorted ``(keep, take)`` indices.

    Class ``c`` with ``n_c`` examples gives ``floor(fraction * n_c)`` or one more to
    ``take`` (largest remainders first, ties broken by ``rng``), never all of them.
    """
    classes, counts = np.unique(y, return_counts=True)
    if (counts < 2).any():
        bad = classes[counts < 2]
        raise ValueError(
            f"class {int(bad[0])} has fewer than 2 examples; stratified {split} split "
            f"needs at least 2 per class ({len(bad)} such classes)"
        )
    exact = fraction * counts
    n_take = np.floor(exact).astype(np.int64)
    total = min(int(round(fraction * len(y))), len(y) - len(classes))
    extra = total - int(n_take.sum())
    if extra > 0:
        remainder = exact - n_take
        eligible = n_take + 1 < counts
        order = np.lexsort((rng.random(len(classes)), -remainder))
        order = order[eligible[order]][:extra]
        n_take[order] += 1
    if n_take.sum() == 0:
        raise ValueError(
            f"{what}={fraction} leaves the {split} split empty ({len(y)} examples to split)"
        )
    take = []
    for c, k in zip(classes, n_take, strict=True):
        members = np.flatnonzero(y == c)
        take.append(rng.choice(members, size=int(k), replace=False))
    take = np.sort(np.concatenate(take))
    keep = np.setdiff1d(np.arange(len(y)), take, assume_unique=True)
    return keep, take


def _per_class_subset(y: np.ndarray, n: int, rng: np.random.Generator) -> np.ndarray:
    """Sorted indices of a seeded random ``n`` examples per class (all, if fewer)."""
    picks = []
    for c in np.unique(y):
        members = np.flatnonzero(y == c)
        picks.append(rng.choice(members, size=min(n, len(members)), replace=False))
    return np.sort(np.concatenate(picks))


def _channel_stats(x: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Per-channel float32 mean and std ``(C,)`` of ``(N, H, W, C)``; std 0 becomes 1."""
    n, h, w, c = x.shape
    total = np.zeros(w * c)
    for start in range(0, n, _CHUNK):
        total += x[start : start + _CHUNK].reshape(-1, w * c).sum(axis=0, dtype=np.float64)
    count = n * h * w
    mean = total.reshape(w, c).sum(axis=0) / count
    squares = np.zeros(w * c)
    for start in range(0, n, _CHUNK):
        d = x[start : start + _CHUNK].reshape(-1, w * c).astype(np.float64)
        d -= np.tile(mean, w)
        squares += np.einsum("ij,ij->j", d, d)
    std = np.sqrt(squares.reshape(w, c).sum(axis=0) / count)
    std = np.where(std > 0, std, 1.0)
    return mean.astype(np.float32), std.astype(np.float32)


def _standardize(x: np.ndarray, mean: np.ndarray, std: np.ndarray) -> np.ndarray:
    """float32 ``(x - mean) / std`` of ``(N, H, W, C)``, a new array."""
    n, h, w, c = x.shape
    out = x.astype(np.float32)
    flat = out.reshape(n * h, w * c)
    flat -= np.tile(mean, w)
    flat /= np.tile(std, w)
    return out


# tensorflow-datasets (array_record, no TensorFlow) --------------------------------------


def _build_command(name: str, root: Path) -> str:
    return f"tfds build {name} --file_format=array_record --data_dir={root}"


def _not_prepared(name: str, root: Path, detail: str) -> DatasetNotPrepared:
    return DatasetNotPrepared(
        f"tensorflow-datasets dataset {name!r} is not prepared in {root} ({detail}). "
        "Nothing is downloaded at run time. On a machine with internet (and TensorFlow, "
        "which tfds uses to encode images while building), run:\n"
        f"    {_build_command(name, root)}\n"
        f"then copy the {name.split('/')[0].split(':')[0]}/ folder it writes into {root} "
        "on this machine (or point data_dir / TFDS_DATA_DIR at a directory that holds it)."
    )


def _versions(d: Path) -> list[Path]:
    """Prepared version directories under ``d``, highest version first."""
    if not d.is_dir():
        return []
    found = [
        p
        for p in d.iterdir()
        if p.is_dir() and _VERSION_RE.match(p.name) and (p / "dataset_info.json").is_file()
    ]
    return sorted(found, key=lambda p: tuple(int(v) for v in p.name.split(".")), reverse=True)


def _default_config(base: str) -> str | None:
    try:
        import tensorflow_datasets as tfds

        cls = tfds.builder_cls(base)
    except Exception:
        return None
    if getattr(cls, "DEFAULT_BUILDER_CONFIG_NAME", None):
        return cls.DEFAULT_BUILDER_CONFIG_NAME
    configs = getattr(cls, "BUILDER_CONFIGS", None) or []
    return configs[0].name if configs else None


def _is_known_tfds(base: str) -> bool:
    try:
        import tensorflow_datasets as tfds
    except ImportError:
        return True
    try:
        tfds.builder_cls(base)
    except Exception:  # DatasetNotFoundError, or a builder module that fails to import
        return False
    return True


def check_data_dir(data_dir: str | os.PathLike | None = None) -> Path:
    """``data_dir`` (None: `default_data_dir`), expanded; ValueError if it is a file."""
    root = Path(data_dir).expanduser() if data_dir is not None else default_data_dir()
    if root.exists() and not root.is_dir():
        raise ValueError(f"data_dir {root} is a file, not a directory: point it (--data-dir, "
                         "data.data_dir or TFDS_DATA_DIR) at the directory that holds "
                         "prepared tensorflow-datasets")
    return root


def find_prepared(name: str, data_dir: str | os.PathLike | None = None) -> tuple[Path, str]:
    """Find the prepared array_record directory of ``name`` by looking at the files.

    ``name`` is ``base[/config][:version]``; the highest prepared version wins, and the
    builder's default config where several are prepared. Returns ``(version_dir,
    full_name)`` with ``full_name`` = ``base[/config]:version``.

    Raises:
      DatasetNotPrepared: nothing usable under ``data_dir/base``.
      ValueError: a malformed or unknown name, or an ambiguous config.
    """
    root = check_data_dir(data_dir)
    m = _NAME_RE.match(name)
    if m is None:
        raise ValueError(
            f"unknown dataset name {name!r}: expected one of {EMBEDDED} or a "
            "tensorflow-datasets name like 'cifar10', 'emnist/digits' or 'cifar10:3.0.2'"
        )
    base, config, version = m["base"], m["config"], m["version"]
    base_dir = root / base
    if config is None and not _versions(base_dir) and base_dir.is_dir():
        configs = sorted(p.name for p in base_dir.iterdir() if _versions(p))
        if len(configs) == 1:
            config = configs[0]
        elif configs:
            config = _default_config(base)
            if config not in configs:
                raise ValueError(
                    f"dataset {name!r} has several prepared configs in {base_dir}: {configs}; "
                    f"name one, e.g. '{base}/{configs[0]}'"
                )
    config_dir = base_dir / config if config else base_dir
    candidates = _versions(config_dir)
    if version is not None:
        candidates = [p for p in candidates if p.name == version]
    if not candidates:
        if not _is_known_tfds(base):
            raise ValueError(
                f"unknown dataset name {name!r}: not one of {EMBEDDED}, not a "
                f"tensorflow-datasets builder, and not prepared in {root}"
            )
        searched = config_dir / (version or "<version>")
        raise _not_prepared(name, root, f"no dataset_info.json under {searched}")
    version_dir = candidates[0]
    if not any(".array_record-" in p.name for p in version_dir.iterdir()):
        kinds = sorted(
            {
                p.name.split(".")[1].split("-")[0]
                for p in version_dir.iterdir()
                if p.name.startswith(f"{base}-") and "." in p.name
            }
        )
        raise _not_prepared(
            name,
            root,
            f"{version_dir} holds no array_record files"
            + (f" (found {', '.join(kinds)}; reading those needs TensorFlow)" if kinds else ""),
        )
    full = f"{base}/{config}:{version_dir.name}" if config else f"{base}:{version_dir.name}"
    return version_dir, full


def _read_tfds(
    name: str,
    data_dir,
    *,
    image_key: str,
    label_key: str,
    resize: tuple[int, int] | None,
) -> tuple[tuple[np.ndarray, np.ndarray], tuple[np.ndarray, np.ndarray] | None, int | None]:
    """Read ``train`` and (if present) ``test`` as raw arrays, plus the class count."""
    root = Path(data_dir).expanduser() if data_dir is not None else default_data_dir()
    version_dir, full = find_prepared(name, root)

    import tensorflow_datasets as tfds

    try:
        builder = tfds.builder(full, data_dir=os.fspath(root))
        features = builder.info.features
        splits = set(builder.info.splits.keys())
    except Exception as e:
        raise _not_prepared(
            name, root, f"tensorflow-datasets could not open {version_dir}: {e}"
        ) from None
    for key in (image_key, label_key):
        if key not in features:
            raise ValueError(
                f"dataset {name!r} has no feature {key!r}; its features are "
                f"{sorted(features.keys())} (pass image_key= / label_key=)"
            )
    if "train" not in splits:
        raise ValueError(f"dataset {name!r} has no 'train' split; its splits are {sorted(splits)}")
    num_classes = getattr(features[label_key], "num_classes", None)

    def read(split: str) -> tuple[np.ndarray, np.ndarray]:
        source = builder.as_data_source(split=split)
        getitems = getattr(source, "__getitems__", None)
        xs, ys = [], []
        for start in range(0, len(source), _CHUNK):
            idx = list(range(start, min(len(source), start + _CHUNK)))
            records = getitems(idx) if getitems else [source[i] for i in idx]
            xs.append(_stack_images([r[image_key] for r in records], resize, name))
            ys.append(np.asarray([r[label_key] for r in records]))
        if not xs:
            raise ValueError(f"dataset {name!r} split {split!r} is empty")
        return np.concatenate(xs), np.concatenate(ys)

    return read("train"), (read("test") if "test" in splits else None), num_classes


def _stack_images(images: Sequence[np.ndarray], resize, name: str) -> np.ndarray:
    """``(N, H, W, C)`` from N ``(H, W[, C])`` images, resized if ``resize`` is given."""
    images = [np.asarray(im) for im in images]
    images = [im[..., None] if im.ndim == 2 else im for im in images]
    if len({im.shape for im in images}) == 1:
        batch = np.stack(images)
        return batch if resize is None else resize_images(batch, resize)
    if resize is None:
        raise ValueError(
            f"dataset {name!r} has images of different shapes "
            f"(e.g. {images[0].shape}, {images[-1].shape}); pass resize=(H, W)"
        )
    return np.concatenate([resize_images(im[None], resize) for im in images])
