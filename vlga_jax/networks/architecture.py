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
"""

from __future__ import annotations

import dataclasses
import math

import flax.struct
import jax
import numpy as np

from vlga_jax.core.names import OPTIMIZERS, block_name, bn_name, conv_name
from vlga_jax.genetics.space import BINARY_HEAD

ACTIVATIONS = ("relu", "tanh", "elu", "selu", "leaky_relu", "sigmoid")
POOL_KINDS = ("max", "avg")
MAX_CONVS = 2
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
        kinds = {type(b) for b in self.blocks}
        if len(kinds) > 1:
            raise ValueError("blocks: mixing conv and dense blocks is not supported")
        for b in self.blocks:
            if isinstance(b, ConvBlock):
                if not 1 <= len(b.convs) <= MAX_CONVS:
                    raise ValueError(f"a conv block has 1..{MAX_CONVS} convs, got {len(b.convs)}")
                if b.pool not in (None, *POOL_KINDS):
                    raise ValueError(f"pool must be None or one of {POOL_KINDS}, got {b.pool!r}")
                for c in b.convs:
                    if c.kernel % 2 != 1:
                        raise ValueError(f"kernel sizes must be odd, got {c.kernel}")
            elif b.activation not in (None, *ACTIVATIONS):
                raise ValueError(f"activation must be one of {ACTIVATIONS}, got "
                                 f"{b.activation!r}")
        if self.head_units and not self.is_conv:
            raise ValueError("head_units: a dense head is only for conv networks")

    @property
    def is_conv(self) -> bool:
        return isinstance(self.blocks[0], ConvBlock)

    def shape_key(self) -> ShapeKey:
        if self.is_conv:
            layers = tuple(
                ConvKey(tuple((c.channels, c.kernel) for c in b.convs), b.pool is not None,
                        b.skip)
                for b in self.blocks)
        else:
            layers = tuple(DenseKey(b.units) for b in self.blocks)
        block_dropout = any(isinstance(b, ConvBlock) and b.dropout > 0 for b in self.blocks)
        return ShapeKey(self.input_shape, self.num_classes, layers, self.optimizer,
                        tuple(self.head_units), block_dropout)

    def knobs(self) -> Knobs:
        """Per-candidate arrays; shapes depend only on the number of blocks."""
        n = len(self.blocks)
        bn = np.zeros((n, MAX_CONVS), bool)
        pool_max = np.zeros(n, bool)
        pool_on = np.zeros(n, bool)
        use_b = np.zeros(n, bool)
        dropout = np.zeros(n, np.float32)
        activation = np.full(n, ACTIVATIONS.index(self.activation), np.int32)
        for i, b in enumerate(self.blocks):
            dropout[i] = b.dropout
            if isinstance(b, ConvBlock):
                for j, c in enumerate(b.convs):
                    bn[i, j] = c.batchnorm
                pool_max[i] = b.pool == "max"
                pool_on[i] = b.pool is not None
                use_b[i] = len(b.convs) == 2
            elif b.activation is not None:
                activation[i] = ACTIVATIONS.index(b.activation)
        return Knobs(
            activation=activation,
            batchnorm=bn,
            pool_max=pool_max,
            pool_on=pool_on,
            use_b=use_b,
            block_dropout=dropout,
            head_dropout=np.float32(self.dropout),
            learning_rate=np.float32(self.learning_rate),
            weight_decay=np.float32(self.weight_decay),
        )

    def describe(self) -> list[str]:
        """One readable line per layer."""
        lines = [f"input {self.input_shape}"]
        for i, b in enumerate(self.blocks):
            if isinstance(b, ConvBlock):
                convs = " -> ".join(
                    f"conv {c.channels}x{c.kernel}x{c.kernel}{' +bn' if c.batchnorm else ''}"
                    for c in b.convs)
                extra = (" +skip" if b.skip else "") + (f" -> {b.pool}pool 2x2" if b.pool else "")
                extra += f" -> dropout {b.dropout}" if b.dropout else ""
                lines.append(f"{block_name(i)}: {convs} ({self.activation}){extra}")
            else:
                lines.append(f"{block_name(i)}: dense {b.units} ({b.activation or self.activation})"
                             f"{f' dropout {b.dropout}' if b.dropout else ''}")
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
        return isinstance(self.layers[0], ConvKey)

    def topology(self) -> tuple:
        """What padding cannot bridge: block count, pooling (spatial shapes), optimizer.

        Channels, kernels and units are padded with zeros; a missing skip projection is
        an all-zero one; a missing conv b is computed and discarded (knob ``use_b``). The
        last block's pooling is not part of it: global average pooling follows, so the
        shapes after it are the same either way (knob ``pool_on``).
        """
        if self.is_conv:
            layers = (*(b.pool for b in self.layers[:-1]), None)
        else:
            layers = (len(self.layers),)
        return (self.input_shape, self.num_classes, layers, self.optimizer, self.head_units,
                self.block_dropout)

    def param_shapes(self) -> dict:
        """Nested dict of parameter shapes, named like the model's parameters."""
        shapes = {}
        h, w, c = self.input_shape
        features = h * w * c
        for i, layer in enumerate(self.layers):
            if isinstance(layer, ConvKey):
                block = {}
                cin = c
                for j, (ch, k) in enumerate(layer.convs):
                    block[conv_name(j)] = {"kernel": (k, k, cin, ch), "bias": (ch,)}
                    block[bn_name(j)] = {"scale": (ch,), "bias": (ch,)}
                    cin = ch
                if layer.skip:
                    block["skip"] = {"kernel": (1, 1, c, cin), "bias": (cin,)}
                c = cin
                features = c
            else:
                block = {"dense": {"kernel": (features, layer.units), "bias": (layer.units,)}}
                features = layer.units
            shapes[block_name(i)] = block
        for j, units in enumerate(self.head_units):
            shapes[f"fc_{j}"] = {"kernel": (features, units), "bias": (units,)}
            features = units
        shapes["head"] = {"kernel": (features, self.num_classes), "bias": (self.num_classes,)}
        return shapes

    def stats_shapes(self) -> dict:
        """Nested dict of BatchNorm running-statistics shapes (conv blocks only)."""
        stats = {}
        for i, layer in enumerate(self.layers):
            if isinstance(layer, ConvKey):
                stats[block_name(i)] = {
                    bn_name(j): {"mean": (ch,), "var": (ch,)}
                    for j, (ch, _) in enumerate(layer.convs)}
        return stats

    @property
    def param_count(self) -> int:
        leaves = jax.tree.leaves(self.param_shapes(), is_leaf=lambda x: isinstance(x, tuple))
        return int(sum(math.prod(s) for s in leaves))

    @property
    def train_flops_per_example(self) -> int:
        h, w, c = self.input_shape
        macs = 0
        features = h * w * c
        for layer in self.layers:
            if isinstance(layer, ConvKey):
                cin = c
                for ch, k in layer.convs:
                    macs += h * w * k * k * cin * ch
                    cin = ch
                if layer.skip:
                    macs += h * w * c * cin
                c = cin
                if layer.pool:
                    h, w = -(-h // 2), -(-w // 2)
                features = c
            else:
                macs += features * layer.units
                features = layer.units
        for units in self.head_units:
            macs += features * units
            features = units
        macs += features * self.num_classes
        return int(6 * macs)

    def activations_per_example(self) -> int:
        """Floats of every conv/pool/dense output for one example (a memory estimate)."""
        h, w, c = self.input_shape
        total = h * w * c
        for layer in self.layers:
            if isinstance(layer, ConvKey):
                total += sum(h * w * ch for ch, _ in layer.convs) * 3  # conv, bn, activation
                if layer.pool:
                    h, w = -(-h // 2), -(-w // 2)
                    total += h * w * layer.convs[-1][0]
            else:
                total += 3 * layer.units
        return int(total)

    def output_shapes(self) -> list[tuple[int, ...]]:
        """Activation shape after each block, then the logits shape."""
        h, w, c = self.input_shape
        out = []
        for layer in self.layers:
            if isinstance(layer, ConvKey):
                c = layer.convs[-1][0]
                if layer.pool:
                    h, w = -(-h // 2), -(-w // 2)
                out.append((h, w, c))
            else:
                out.append((layer.units,))
        out.extend((units,) for units in self.head_units)
        out.append((self.num_classes,))
        return out


def pad_key(keys: list[ShapeKey]) -> ShapeKey:
    """The smallest key that every one of ``keys`` (same topology) fits into.

    A block where some keys have conv b and others do not gets both convs with equal
    channels, so that a skipped conv b can pass conv a's output through unchanged.
    """
    first = keys[0]
    if any(k.topology() != first.topology() for k in keys):
        raise ValueError("pad_key: keys of different topologies cannot share a program")
    layers = []
    for i, layer in enumerate(first.layers):
        if isinstance(layer, ConvKey):
            blocks = [k.layers[i] for k in keys]
            n_convs = max(len(b.convs) for b in blocks)
            convs = [(max(b.convs[j][0] for b in blocks if len(b.convs) > j),
                      max(b.convs[j][1] for b in blocks if len(b.convs) > j))
                     for j in range(n_convs)]
            if n_convs == 2 and any(len(b.convs) == 1 for b in blocks):
                width = max(convs[0][0], convs[1][0])
                convs = [(width, convs[0][1]), (width, convs[1][1])]
            layers.append(ConvKey(tuple(convs), any(b.pool for b in blocks),
                                  any(b.skip for b in blocks)))
        else:
            layers.append(DenseKey(max(k.layers[i].units for k in keys)))
    return dataclasses.replace(first, layers=tuple(layers))


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
                     defaults: dict | None = None) -> Architecture:
    """An `Architecture` from a decoded genome (`genome.decode`) of a conv or dense space.

    ``defaults`` supplies training values (activation, optimizer, learning_rate,
    weight_decay, dropout) that the space does not search; a learning rate that is None
    or absent is the optimizer's default (`DEFAULT_LEARNING_RATES`). Dense blocks take
    their width from the block's ``units`` gene or else the global one.
    """
    g = {**(defaults or {}), **description.get("globals", {})}
    if g.get("learning_rate") is None:
        g["learning_rate"] = DEFAULT_LEARNING_RATES[str(g.get("optimizer", "adam"))]
    if description["blocks"] and "two_convs" in description["blocks"][0]:
        return _binary_cnn(description, g, input_shape, num_classes)
    blocks = []
    for b in description["blocks"]:
        if "units" in b or "units" in g:
            act = b.get("activation")
            blocks.append(DenseBlock(int(b.get("units", g.get("units"))),
                                     float(b.get("dropout", 0.0)),
                                     None if act is None else str(act)))
            continue
        convs = [ConvLayer(int(b["channels_a"]), int(b["kernel_a"]),
                           bool(b.get("batchnorm_a", False)))]
        if b.get("include_b", False):
            convs.append(ConvLayer(int(b["channels_b"]), int(b["kernel_b"]),
                                   bool(b.get("batchnorm_b", False))))
        pool = b.get("pool_type", "max") if b.get("include_pool", False) else None
        blocks.append(ConvBlock(tuple(convs), pool, bool(b.get("include_skip", False))))
    dense = blocks and isinstance(blocks[0], DenseBlock)
    return Architecture(
        input_shape=tuple(int(s) for s in input_shape),
        num_classes=int(num_classes),
        blocks=tuple(blocks),
        activation=str(g.get("activation", "relu")),
        dropout=0.0 if dense else float(g.get("dropout", 0.0)),
        optimizer=str(g.get("optimizer", "adam")),
        learning_rate=float(g.get("learning_rate", 1e-3)),
        weight_decay=float(g.get("weight_decay", 0.0)),
    )


BINARY_HEAD_DROPOUT = 0.5
MAX_CHANNELS = 256


def _binary_cnn(description: dict, g: dict, input_shape, num_classes: int) -> Architecture:
    """The network of a decoded `space.binary_cnn` chromosome.

    Stage s: one or two ``kernel`` x ``kernel`` convs of ``filters * filter_scale**s``
    channels (at most 256), batch norm after each, relu, a 2x2 max pool while the image is
    larger than 1x1 (8x8 digits pool in 3 stages at most), dropout. Then the dense head
    (2048, 1024 units, dropout 0.5) and the classifier.

    A kernel wider than 2 * size - 1 on a size x size image only ever reads the 'SAME'
    zero padding with its outer taps: it is stored as that smaller kernel (the same
    function, fewer FLOPs; a 7x7 conv on a 1x1 image is a 1x1 conv).
    """
    h, w = int(input_shape[0]), int(input_shape[1])
    blocks = []
    for s, b in enumerate(description["blocks"]):
        channels = min(MAX_CHANNELS, int(round(g["filters"] * g["filter_scale"] ** s)))
        kernel = min(int(g["kernel"]), 2 * max(h, w) - 1)
        conv = ConvLayer(channels, kernel, True)
        convs = (conv, conv) if b["two_convs"] else (conv,)
        pool = None
        if h > 1 or w > 1:
            pool = "max"
            h, w = -(-h // 2), -(-w // 2)
        blocks.append(ConvBlock(convs, pool, False, float(g["dropout"])))
    return Architecture(
        input_shape=tuple(int(s) for s in input_shape), num_classes=int(num_classes),
        blocks=tuple(blocks), activation="relu", dropout=BINARY_HEAD_DROPOUT,
        optimizer=str(g.get("optimizer", "adam")),
        learning_rate=float(g.get("learning_rate", 1e-3)),
        weight_decay=float(g.get("weight_decay", 0.0)), head_units=BINARY_HEAD)


def layers_label(key) -> str:
    """A short label of a `ShapeKey`'s layers: ``Ck K`` per conv (``32k3``), convs of a
    block joined by ``,``, ``+skip`` and ``/p`` (pooled) after a block, ``dN`` a dense
    block of N units; blocks separated by spaces."""
    parts = []
    for layer in key.layers:
        if hasattr(layer, "convs"):
            text = ",".join(f"{c}k{k}" for c, k in layer.convs)
            parts.append(text + ("+skip" if layer.skip else "") + ("/p" if layer.pool else ""))
        else:
            parts.append(f"d{layer.units}")
    return " ".join(parts)


def architecture_label(arch) -> str:
    """`layers_label` of an `Architecture`, e.g. ``8k3,16k1+skip/p 32k5``."""
    return layers_label(arch.shape_key())
