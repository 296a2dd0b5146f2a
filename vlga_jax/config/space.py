"""`SpaceConfig`: which search space a run searches, validated on construction."""

from __future__ import annotations

import dataclasses

from vlga_jax.config.coerce import coerce_fields
from vlga_jax.core.checks import choice, integer, require
from vlga_jax.genetics.space import (
    ACTIVATIONS,
    CHANNELS,
    KERNELS,
    SearchSpace,
    build_space,
)

SPACE_KINDS = ("xiao2020", "fixed_cnn", "binary_cnn", "mlp_ga", "mlp_tournament")
CNN_KINDS = ("xiao2020", "fixed_cnn")  # the kinds space.channels/kernels/activations restrict


@dataclasses.dataclass(frozen=True)
class SpaceConfig:
    """A search space: by default the Xiao et al. 2020 block space, optionally restricted.

    ``kind`` picks the gene tables (see `space.build_space`): "xiao2020" (variable-length
    two-conv blocks), "fixed_cnn" (the same blocks at a fixed depth of ``max_blocks``,
    for a classical GA), "binary_cnn" (a 20-bit chromosome at 7 stages, decoded into a
    CNN with a dense head), "mlp_ga" (1-4 dense layers, units, activation, optimizer) and
    "mlp_tournament" (dense layers with units, dropout and activation per layer; learning
    rate, weight decay and optimizer per network).

    Attributes:
        max_blocks: the most blocks a network has (conv blocks, binary-cnn stages or dense
            layers); the VLGA grows one per phase.
        channels: output channels a conv may choose (a subset of 8-512, Table 1).
        kernels: square kernel sizes a conv may choose (a subset of 1, 3, 5, 7, 9).
        activations: activations a block may choose (relu, tanh, elu, selu, leaky_relu).
        training_genes: also search learning rate, weight decay and dropout per network
            (CNN kinds only; otherwise train.* gives them).
        kind: the gene tables: xiao2020, fixed_cnn, binary_cnn, mlp_ga or mlp_tournament.
    """

    max_blocks: int = 2
    channels: tuple[int, ...] = (8, 16, 32)
    kernels: tuple[int, ...] = (1, 3)
    activations: tuple[str, ...] = ACTIVATIONS
    training_genes: bool = False
    kind: str = "xiao2020"

    def __post_init__(self):
        coerce_fields(self, "space")
        integer("space.max_blocks", self.max_blocks)
        choice("space.kind", self.kind, SPACE_KINDS)
        if self.kind == "binary_cnn":
            n = self.max_blocks
            require(n & (n - 1) == 0 or (n + 1) & n == 0, "space.max_blocks",
                    "a power of two or one less (1, 2, 3, 4, 7, 8, 15, ...; 7 for the "
                    "20-bit chromosome) with space.kind='binary_cnn' (its stage count is a "
                    "group of bits)", n)
        for field, table in (("channels", CHANNELS), ("kernels", KERNELS),
                             ("activations", ACTIVATIONS)):
            values = getattr(self, field)
            require(len(values) >= 1, f"space.{field}", "non-empty", values)
            require(all(v in table for v in values), f"space.{field}",
                    f"values from {table}", values)
            require(len(set(values)) == len(values), f"space.{field}",
                    "values without repeats", values)
        if self.kind not in CNN_KINDS:  # these fields restrict the CNN kinds' tables only
            default = SpaceConfig.__dataclass_fields__
            full = {"channels": CHANNELS, "kernels": KERNELS}  # unrestricted also means none
            for field in ("channels", "kernels", "activations", "training_genes"):
                value = getattr(self, field)
                require(value in (default[field].default, full.get(field)), f"space.{field}",
                        f"left at its default with space.kind={self.kind!r} (it applies to "
                        f"the kinds {CNN_KINDS} only)", value)

    def build(self) -> SearchSpace:
        space = build_space(self.kind, self.max_blocks, training_genes=self.training_genes)
        if self.kind not in CNN_KINDS:
            return space
        return space.restrict(channels_a=self.channels, channels_b=self.channels,
                              kernel_a=self.kernels, kernel_b=self.kernels,
                              activation=self.activations)
