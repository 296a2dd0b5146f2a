"""Static network descriptions, the Flax modules built from them, parameters and model files.

Block kinds (`vlga_jax.networks.kinds`) register by name: "conv" and "binary_cnn"
(`conv_blocks`), "dense" (`dense_blocks`); `register` adds one of your own.
"""

from vlga_jax.networks.conv_blocks import BinaryCnnKind, ConvKind
from vlga_jax.networks.dense_blocks import DenseKind
from vlga_jax.networks.kinds import KINDS, BlockKind, kind_named, kind_of, register

__all__ = ["KINDS", "BlockKind", "BinaryCnnKind", "ConvKind", "DenseKind", "kind_named",
           "kind_of", "register"]
