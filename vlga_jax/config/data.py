"""`DataConfig`: the dataset and its splits, validated on construction."""

from __future__ import annotations

import dataclasses

from vlga_jax.config.coerce import coerce_fields
from vlga_jax.core.checks import choice, integer, require
from vlga_jax.data.pixels import SCALINGS


@dataclasses.dataclass(frozen=True)
class DataConfig:
    """The dataset and its splits.

    Attributes:
        name: digits (scikit-learn's, built in) or a tensorflow-datasets name prepared in
            array_record format.
        data_dir: tensorflow-datasets data_dir (None: tfds's default).
        val_fraction: share of the training split held out for validation (the fitness).
        seed: seed of the train/validation split and of data.subset.
        subset: use only this many training images (None: all).
        resize: resize images to (height, width) (None: keep their size).
        scaling: how pixels are normalised: "standardize" (per channel, with the mean
            and std of the training split) or "unit" (divided by the dataset's largest
            raw pixel value, so that they lie in [0, 1], with no mean subtracted: 255 for
            uint8 image datasets such as CIFAR or MNIST, 16 for digits, whose pixels are
            0..16). Exported models apply the same scaling to raw images.
    """

    name: str = "digits"
    data_dir: str | None = None
    val_fraction: float = 0.1
    seed: int = 0
    subset: int | None = None
    resize: tuple[int, int] | None = None
    scaling: str = "standardize"

    def __post_init__(self):
        coerce_fields(self, "data")
        require(bool(self.name.strip()), "data.name", "a dataset name", self.name)
        require(0 < self.val_fraction < 1, "data.val_fraction", "in (0, 1)",
                self.val_fraction)
        integer("data.seed", self.seed, 0)
        choice("data.scaling", self.scaling, SCALINGS)
        if self.resize is not None:
            require(all(s > 0 for s in self.resize), "data.resize",
                    "None or (height, width) with sizes >= 1", self.resize)
        if self.subset is not None:
            integer("data.subset", self.subset)
