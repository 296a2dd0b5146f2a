"""Dense blocks (`DenseBlock`, `DenseKey`): the ``dense`` kind (MLP layers).

A dense block flattens its input, then: dense layer of ``units`` (parameters
``dense/kernel``, ``dense/bias``), its activation (the block's or the network's), dropout
at the block's rate (knob ``block_dropout``; drawn in train mode even at rate 0).
"""

from __future__ import annotations

import math

import flax.linen as nn

from vlga_jax.core.names import block_name
from vlga_jax.networks.activations import ACTIVATE, ACTIVATIONS
from vlga_jax.networks.architecture import DenseBlock, DenseKey
from vlga_jax.networks.kinds import GLOBAL_GENES, BlockKind, register
from vlga_jax.networks.model import dropout


class DenseModule(nn.Module):
    """A dense layer whose parameters sit under ``dense`` (block_i/dense/kernel)."""

    units: int

    @nn.compact
    def __call__(self, x):
        return nn.Dense(self.units, name="dense")(x)


class DenseKind(BlockKind):
    """MLP layers (genes ``units``, ``dropout``, ``activation``; or one global ``units``
    for every layer)."""

    name = "dense"
    block_type = DenseBlock
    key_type = DenseKey
    block_genes = ("units", "dropout", "activation")
    required_genes = ("units",)
    global_genes = GLOBAL_GENES
    positive_int_genes = ("units",)

    def check(self, block: DenseBlock) -> None:
        if block.activation not in (None, *ACTIVATIONS):
            raise ValueError(f"activation must be one of {ACTIVATIONS}, got "
                             f"{block.activation!r}")

    def key(self, block: DenseBlock) -> DenseKey:
        return DenseKey(block.units)

    def fill_knobs(self, block: DenseBlock, i: int, knobs: dict) -> None:
        if block.activation is not None:
            knobs["activation"][i] = ACTIVATIONS.index(block.activation)

    def describe(self, block: DenseBlock, activation: str) -> str:
        return (f"dense {block.units} ({block.activation or activation})"
                f"{f' dropout {block.dropout}' if block.dropout else ''}")

    def param_shapes(self, layer: DenseKey, in_shape: tuple) -> dict:
        return {"dense": {"kernel": (math.prod(in_shape), layer.units),
                          "bias": (layer.units,)}}

    def out_shape(self, layer: DenseKey, in_shape: tuple) -> tuple:
        return (layer.units,)

    def macs(self, layer: DenseKey, in_shape: tuple) -> int:
        return math.prod(in_shape) * layer.units

    def activations(self, layer: DenseKey, in_shape: tuple) -> int:
        """The dense output, the activation's, the dropout's."""
        return 3 * layer.units

    def pad(self, layers: list[DenseKey]) -> DenseKey:
        return DenseKey(max(layer.units for layer in layers))

    def topology(self, layers: tuple) -> tuple:
        """The block count alone: units pad."""
        return (len(layers),)

    def label(self, layer: DenseKey) -> str:
        return f"d{layer.units}"

    def apply(self, network, layer: DenseKey, i: int, x, knobs, train: bool):
        x = x.reshape(x.shape[0], -1)
        x = DenseModule(layer.units, name=block_name(i))(x)
        x = ACTIVATE[network.activation_impl](x, knobs.activation[i])
        if train:
            x = dropout(network.make_rng("dropout"), x, knobs.block_dropout[i], train)
        return x

    def decode(self, blocks: list[dict], genes: dict, input_shape: tuple) -> dict:
        """Each block's width is its ``units`` gene, else the global one; the network's
        dropout is the blocks' own (the head has none)."""
        out = []
        for b in blocks:
            act = b.get("activation")
            out.append(DenseBlock(int(b.get("units", genes.get("units"))),
                                  float(b.get("dropout", 0.0)),
                                  None if act is None else str(act)))
        return {"blocks": out, "dropout": 0.0}


DENSE = register(DenseKind())
