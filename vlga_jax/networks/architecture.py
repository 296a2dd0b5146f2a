"""The static description of a candidate network and its training recipe.

`Architecture` is a hashable value decoded from a genome. It splits in two:

* `ShapeKey` (``arch.shape_key()``): exactly what changes array shapes (layer list,
  channels, kernels, pooling and skip structure, optimizer kind). Candidates with equal
  keys train together in one compiled program.
* `Knobs` (``arch.knobs()``): per-candidate arrays for everything else (activation,
  batch norm on/off, pool kind, dropout, learning rate, weight decay), so candidates that
  differ only there still share a program.

Padding (`pad_key`) widens channels and kernels of several keys of one topology to
their maximum, so those candidates can share a program too (see `params.pad_params`).

What a block means (shapes, FLOPs, padding, labels, decoding) is its kind's
(`vlga_jax.networks.kinds`): this module holds the values and asks the kind.
"""

from __future__ import annotations

import dataclasses
import math

import flax.struct
import jax
import numpy as np

from vlga_jax.core.names import OPTIMIZERS, block_name
from vlga_jax.networks.activations import ACTIVATIONS
from vlga_jax.networks.kinds import kind_named, kind_of, kind_reading

POOL_KINDS = ("max", "avg")
MAX_CONVS = 2  # convs per conv block: the width of the ``batchnorm`` knob
# Each optimizer's default learning rate in Keras 2 (tf.keras 2.x, the MLP GA's era),
# used wherever the learning rate is neither a gene nor set (train.learning_rate=None).
# Keras 3 changed only adadelta's, to 1e-3.
DEFAULT_LEARNING_RATES = {"adam": 1e-3, "adamw": 1e-3, "sgd": 1e-2, "rmsprop": 1e-3,
                          "adagrad": 1e-3, "adadelta": 1.0, "adamax": 2e-3, "nadam": 2e-3}


@dataclasses.dataclass(frozen=True)
class ConvLayer:
    channels: int
    kernel: int
    batchnorm: bool = False


@dataclasses.dataclass(frozen=True)
class ConvBlock:
    """conv a [, conv b] [+ 1x1 skip projection of the block input] [, 2x2 pool]."""

    convs: tuple[ConvLayer, ...]
    pool: str | None = None
    skip: bool = False
    dropout: float = 0.0  # after the block (binary-cnn stages); 0 in the VLGA space


@dataclasses.dataclass(frozen=True)
class DenseBlock:
    """A dense layer of ``units``, its activation, then dropout."""

    units: int
    dropout: float = 0.0
    activation: str | None = None  # None: the network's activation


Block = ConvBlock | DenseBlock


@dataclasses.dataclass(frozen=True)
class Architecture:
    """A candidate: network layers plus training recipe (all Python values, hashable)."""

    input_shape: tuple[int, int, int]
    num_classes: int
    blocks: tuple[Block, ...]
    activation: str = "relu"
    dropout: float = 0.0
    optimizer: str = "adam"
    learning_rate: float = 1e-3
    weight_decay: float = 0.0
    # Dense layers between the conv blocks' global average pool and the classifier
    # (relu, each followed by ``dropout``); empty for the VLGA's conv networks.
    head_units: tuple[int, ...] = ()

    def __post_init__(self):
        if not self.blocks:
            raise ValueError("blocks: an architecture needs at least one block")
        if self.activation not in ACTIVATIONS:
            raise ValueError(f"activation must be one of {ACTIVATIONS}, got {self.activation!r}")
        if self.optimizer not in OPTIMIZERS:
            raise ValueError(f"optimizer must be one of {OPTIMIZERS}, got {self.optimizer!r}")
        names = sorted({kind_of(b).name for b in self.blocks})
        if len(names) > 1:
            raise ValueError(f"blocks: mixing {' and '.join(names)} blocks is not supported")
        for b in self.blocks:
            kind_of(b).check(b)
        if self.head_units and not self.is_conv:
            raise ValueError("head_units: a dense head is only for conv networks")

    @property
    def is_conv(self) -> bool:
        """Whether the blocks map images to images (`BlockKind.spatial`)."""
        return kind_of(self.blocks[0]).spatial

    def shape_key(self) -> ShapeKey:
        layers = tuple(kind_of(b).key(b) for b in self.blocks)
        block_dropout = any(kind_of(b).keyed_dropout(b) for b in self.blocks)
        return ShapeKey(self.input_shape, self.num_classes, layers, self.optimizer,
                        tuple(self.head_units), block_dropout)

    def knobs(self) -> Knobs:
        """Per-candidate arrays; shapes depend only on the number of blocks."""
        n = len(self.blocks)
        arrays = {
            "activation": np.full(n, ACTIVATIONS.index(self.activation), np.int32),
            "batchnorm": np.zeros((n, MAX_CONVS), bool),
            "pool_max": np.zeros(n, bool),
            "pool_on": np.zeros(n, bool),
            "use_b": np.zeros(n, bool),
            "block_dropout": np.zeros(n, np.float32),
        }
        for i, b in enumerate(self.blocks):
            kind = kind_of(b)
            arrays["block_dropout"][i] = kind.block_dropout(b)
            kind.fill_knobs(b, i, arrays)
        return Knobs(
            **arrays,
            head_dropout=np.float32(self.dropout),
            learning_rate=np.float32(self.learning_rate),
            weight_decay=np.float32(self.weight_decay),
        )

    def describe(self) -> list[str]:
        """One readable line per layer."""
        lines = [f"input {self.input_shape}"]
        for i, b in enumerate(self.blocks):
            lines.append(f"{block_name(i)}: {kind_of(b).describe(b, self.activation)}")
        pool = "global avg pool -> " if self.is_conv else ""
        drop = f" dropout {self.dropout}" if self.dropout else ""
        pool += "".join(f"dense {u} (relu){drop} -> " for u in self.head_units)
        drop = f"dropout {self.dropout} -> " if self.dropout and not self.head_units else ""
        lines.append(f"head: {pool}{drop}dense {self.num_classes}")
        lines.append(f"train: {self.optimizer} lr={self.learning_rate:g} "
                     f"wd={self.weight_decay:g}")
        return lines

    @property
    def param_count(self) -> int:
        return self.shape_key().param_count

    @property
    def flops_per_example(self) -> int:
        """Training FLOPs per example: forward multiply-adds x 2 x 3 (forward + backward)."""
        return self.shape_key().train_flops_per_example


@dataclasses.dataclass(frozen=True)
class ConvKey:
    convs: tuple[tuple[int, int], ...]  # (channels, kernel) per conv
    pool: bool
    skip: bool


@dataclasses.dataclass(frozen=True)
class DenseKey:
    units: int


@dataclasses.dataclass(frozen=True)
class ShapeKey:
    """Everything that changes array shapes: the key of a compiled program."""

    input_shape: tuple[int, int, int]
    num_classes: int
    layers: tuple[ConvKey | DenseKey, ...]
    optimizer: str
    head_units: tuple[int, ...] = ()  # dense layers fc_0, fc_1, ... before the classifier
    block_dropout: bool = False  # dropout after each conv block (rate: knob block_dropout)

    @property
    def is_conv(self) -> bool:
        """Whether the blocks map images to images (`BlockKind.spatial`)."""
        return kind_of(self.layers[0]).spatial

    def topology(self) -> tuple:
        """What padding cannot bridge (`BlockKind.topology`): for conv blocks the block
        count and pooling (spatial shapes), for dense blocks the block count; and the
        optimizer.

        Channels, kernels and units are padded with zeros; a missing skip projection is
        an all-zero one; a missing conv b is computed and discarded (knob ``use_b``). The
        last block's pooling is not part of it: global average pooling follows, so the
        shapes after it are the same either way (knob ``pool_on``).
        """
        layers = kind_of(self.layers[0]).topology(self.layers)
        return (self.input_shape, self.num_classes, layers, self.optimizer, self.head_units,
                self.block_dropout)

    def _walk(self):
        """(block index, kind, layer, one example's input shape) of each block."""
        shape = tuple(self.input_shape)
        for i, layer in enumerate(self.layers):
            kind = kind_of(layer)
            yield i, kind, layer, shape
            shape = kind.out_shape(layer, shape)

    def _head_features(self) -> int:
        # Spatial blocks' features are global-average-pooled: their channels.
        return self.output_shapes()[len(self.layers) - 1][-1]

    def param_shapes(self) -> dict:
        """Nested dict of parameter shapes, named like the model's parameters."""
        shapes = {}
        for i, kind, layer, in_shape in self._walk():
            block = kind.param_shapes(layer, in_shape)
            if block:
                shapes[block_name(i)] = block
        features = self._head_features()
        for j, units in enumerate(self.head_units):
            shapes[f"fc_{j}"] = {"kernel": (features, units), "bias": (units,)}
            features = units
        shapes["head"] = {"kernel": (features, self.num_classes), "bias": (self.num_classes,)}
        return shapes

    def stats_shapes(self) -> dict:
        """Nested dict of running-statistics shapes (BatchNorm of conv blocks)."""
        stats = {}
        for i, kind, layer, _ in self._walk():
            block = kind.stats_shapes(layer)
            if block:
                stats[block_name(i)] = block
        return stats

    @property
    def param_count(self) -> int:
        leaves = jax.tree.leaves(self.param_shapes(), is_leaf=lambda x: isinstance(x, tuple))
        return int(sum(math.prod(s) for s in leaves))

    @property
    def train_flops_per_example(self) -> int:
        macs = sum(kind.macs(layer, in_shape) for _, kind, layer, in_shape in self._walk())
        features = self._head_features()
        for units in self.head_units:
            macs += features * units
            features = units
        macs += features * self.num_classes
        return int(6 * macs)

    def activations_per_example(self) -> int:
        """Floats of every intermediate value of the blocks for one example (a memory
        estimate; `BlockKind.activations`), the input included."""
        total = math.prod(self.input_shape)
        total += sum(kind.activations(layer, in_shape)
                     for _, kind, layer, in_shape in self._walk())
        return int(total)

    def output_shapes(self) -> list[tuple[int, ...]]:
        """Activation shape after each block, then the logits shape."""
        out = [kind.out_shape(layer, in_shape) for _, kind, layer, in_shape in self._walk()]
        out.extend((units,) for units in self.head_units)
        out.append((self.num_classes,))
        return out


def pad_key(keys: list[ShapeKey]) -> ShapeKey:
    """The smallest key that every one of ``keys`` (same topology) fits into
    (`BlockKind.pad` of each block)."""
    first = keys[0]
    if any(k.topology() != first.topology() for k in keys):
        raise ValueError("pad_key: keys of different topologies cannot share a program")
    layers = tuple(kind_of(layer).pad([k.layers[i] for k in keys])
                   for i, layer in enumerate(first.layers))
    return dataclasses.replace(first, layers=layers)


def fits(key: ShapeKey, program: ShapeKey) -> bool:
    """Whether ``key`` can train inside ``program`` (see `pad_key`)."""
    return key.topology() == program.topology() and pad_key([key, program]) == program


@flax.struct.dataclass
class Knobs:
    """Per-candidate arrays that do not change shapes (n = number of blocks).

    activation: int32[n] index into ACTIVATIONS; batchnorm: bool[n, 2] per conv;
    pool_max: bool[n] (else average pool); pool_on: bool[n] (the block pools; read for
    the last block only, the others' pooling is in the shapes); use_b: bool[n] (conv b);
    block_dropout: f32[n] (dense blocks);
    head_dropout, learning_rate, weight_decay: f32[].
    """

    activation: jax.Array
    batchnorm: jax.Array
    pool_max: jax.Array
    pool_on: jax.Array
    use_b: jax.Array
    block_dropout: jax.Array
    head_dropout: jax.Array
    learning_rate: jax.Array
    weight_decay: jax.Array


def from_description(description: dict, *, input_shape, num_classes: int,
                     defaults: dict | None = None, kind: str | None = None) -> Architecture:
    """An `Architecture` from a decoded genome (`genome.decode`).

    ``kind``: the space's ``block_kind``, whose `BlockKind.decode` turns the genes into
    blocks; None: the first registered kind that reads every block gene of
    ``description`` (`kinds.kind_reading`). ``defaults`` supplies training values
    (activation, optimizer, learning_rate, weight_decay, dropout) that the space does not
    search; a learning rate that is None or absent is the optimizer's default
    (`DEFAULT_LEARNING_RATES`).
    """
    g = {**(defaults or {}), **description.get("globals", {})}
    if g.get("learning_rate") is None:
        g["learning_rate"] = DEFAULT_LEARNING_RATES[str(g.get("optimizer", "adam"))]
    block_kind = kind_reading(description) if kind is None else kind_named(kind)
    fields = {
        "activation": str(g.get("activation", "relu")),
        "dropout": float(g.get("dropout", 0.0)),
        "optimizer": str(g.get("optimizer", "adam")),
        "learning_rate": float(g.get("learning_rate", 1e-3)),
        "weight_decay": float(g.get("weight_decay", 0.0)),
    }
    fields.update(block_kind.decode(list(description["blocks"]), g, tuple(input_shape)))
    fields["blocks"] = tuple(fields["blocks"])
    return Architecture(input_shape=tuple(int(s) for s in input_shape),
                        num_classes=int(num_classes), **fields)


def layers_label(key) -> str:
    """A short label of a `ShapeKey`'s layers, blocks separated by spaces
    (`BlockKind.label`): ``Ck K`` per conv (``32k3``), convs of a block joined by ``,``,
    ``+skip`` and ``/p`` (pooled) after a block, ``dN`` a dense block of N units."""
    return " ".join(kind_of(layer).label(layer) for layer in key.layers)


def architecture_label(arch) -> str:
    """`layers_label` of an `Architecture`, e.g. ``8k3,16k1+skip/p 32k5``."""
    return layers_label(arch.shape_key())
