"""Block kinds: everything about one kind of block, in one `BlockKind` each.

A network is a row of blocks of one kind. Its `Architecture` holds a block value per
block (`ConvBlock`, `DenseBlock`, ...) and its `ShapeKey` a layer key per block
(`ConvKey`, `DenseKey`, ...); the kind registered for those types says what they mean:
parameter shapes, output shape, FLOPs, activation memory, how keys pad up to a shared
program, the label, the Flax code, the knobs it reads, and how genes become a block.
Architecture, model, parameters and trainer ask the kind (`kind_of`) instead of testing
types. The package's kinds (``conv``, ``dense``, and ``binary_cnn``, which decodes the
binary chromosome into conv blocks) register when `vlga_jax.networks` loads; `register`
adds one of your own, which a user `SearchSpace` then names as its ``block_kind``.

Shapes: ``in_shape`` is one example's input to the block, (H, W, C) or (F,) (the block
flattens what it needs).
"""

from __future__ import annotations

from typing import Any, ClassVar

from vlga_jax.core.names import OPTIMIZERS
from vlga_jax.genetics.space import SearchSpace
from vlga_jax.networks.activations import ACTIVATIONS

# Global genes every kind's networks read (`architecture.from_description`).
GLOBAL_GENES = ("activation", "optimizer", "learning_rate", "weight_decay", "dropout")
_GLOBAL_CHOICES = {"activation": ACTIVATIONS, "optimizer": OPTIMIZERS}


class BlockKind:
    """One kind of block. Subclasses set the class attributes and override the methods
    their blocks need (the defaults suit a block without parameters of its own).

    Attributes:
      name: the kind's name (a `SearchSpace.block_kind`).
      block_type: the `Architecture` block dataclass; key_type: the `ShapeKey` layer
        dataclass (hashable values; a key holds exactly what changes array shapes).
      spatial: blocks map images to images (the head global-average-pools them).
      block_genes: the block genes `decode` reads; required_genes: those a space must
        have; global_genes: global genes read besides `GLOBAL_GENES`.
      positive_int_genes: genes whose values must be positive integers; choice_genes:
        gene name -> the values allowed.
    """

    name: ClassVar[str] = ""
    block_type: ClassVar[type] = type(None)
    key_type: ClassVar[type] = type(None)
    spatial: ClassVar[bool] = False
    block_genes: ClassVar[tuple[str, ...]] = ()
    required_genes: ClassVar[tuple[str, ...]] = ()
    global_genes: ClassVar[tuple[str, ...]] = GLOBAL_GENES
    positive_int_genes: ClassVar[tuple[str, ...]] = ()
    choice_genes: ClassVar[dict[str, tuple]] = {}

    # -- a block of an Architecture -------------------------------------------------------
    def check(self, block) -> None:
        """ValueError naming the field unless ``block`` is valid."""

    def key(self, block):
        """The layer key of ``block`` (its shapes)."""
        raise NotImplementedError

    def block_dropout(self, block) -> float:
        """The dropout rate after ``block`` (knob ``block_dropout``)."""
        return float(getattr(block, "dropout", 0.0))

    def keyed_dropout(self, block) -> bool:
        """Whether ``block``'s dropout is part of the program (`ShapeKey.block_dropout`:
        dropout after every block of the network, at each block's knob rate)."""
        return False

    def fill_knobs(self, block, i: int, knobs: dict) -> None:
        """Write block ``i``'s entries of the `Knobs` arrays (numpy, see `Knobs`):
        ``activation`` holds the network's activation index, ``block_dropout`` the rate
        (`block_dropout`) already."""

    def describe(self, block, activation: str) -> str:
        """A readable line of ``block`` (after ``block_i: ``)."""
        raise NotImplementedError

    # -- a layer key ------------------------------------------------------------------
    def param_shapes(self, layer, in_shape: tuple) -> dict:
        """Nested dict of parameter shapes, named as the Flax module names them."""
        return {}

    def stats_shapes(self, layer) -> dict:
        """Nested dict of running-statistics shapes ({} if none)."""
        return {}

    def out_shape(self, layer, in_shape: tuple) -> tuple:
        """One example's output shape."""
        raise NotImplementedError

    def macs(self, layer, in_shape: tuple) -> int:
        """Forward multiply-adds per example."""
        return 0

    def activations(self, layer, in_shape: tuple) -> int:
        """Floats of the intermediate values one example keeps (a memory estimate)."""
        return 0

    def pad(self, layers: list):
        """The smallest layer key that each of ``layers`` (same kind, same position in
        one topology) fits into; parameters pad with zeros (`params.pad_tree`)."""
        if any(layer != layers[0] for layer in layers):
            raise ValueError(f"pad_key: {self.name} blocks of different shapes cannot "
                             "share a program")
        return layers[0]

    def topology(self, layers: tuple) -> tuple:
        """What padding cannot bridge in a network of these layers."""
        return (self.name, tuple(layers))

    def head_pool(self, layer) -> bool:
        """Whether the head pools 2x2 first (the last block's pool, see `model.head`)."""
        return False

    def label(self, layer) -> str:
        """A short label of ``layer`` (`architecture.layers_label`)."""
        return f"{self.name}{layer}"

    def convs(self, layer, in_shape: tuple) -> list[tuple[tuple, tuple]]:
        """((H, W, Cin), (k, k, Cin, Cout)) of each 'SAME' convolution (the trainer times
        its costliest to choose a conv implementation)."""
        return []

    # -- Flax -----------------------------------------------------------------------------
    def apply(self, network, layer, i: int, x, knobs, train: bool):
        """The block inside `model.Network`'s compact ``__call__``: create its modules
        (named `block_name(i)`, so they sit in the network's scope) and return its output.
        ``network`` holds impl, frozen_blocks, features, activation_impl and key; draw
        dropout with ``network.make_rng("dropout")``. x: f32[N, *in_shape]."""
        raise NotImplementedError

    # -- genes ----------------------------------------------------------------------------
    def decode(self, blocks: list[dict], genes: dict, input_shape: tuple) -> dict:
        """`Architecture` fields from decoded genes: at least ``blocks``; also any of
        activation, dropout, head_units that differ from the globals'. ``blocks``: one
        {gene: value} per active block; ``genes``: the globals, defaults included."""
        raise NotImplementedError

    def reads(self, block_genes: set) -> bool:
        """Whether a description with these block gene names is one of this kind's."""
        return block_genes <= set(self.block_genes)

    def check_space(self, space: SearchSpace) -> None:
        """ValueError unless every gene of ``space`` is one this kind's networks read."""
        allowed = self.block_genes
        for gene in space.block_genes:
            if gene.name not in allowed:
                raise ValueError(f"space: block gene {gene.name!r} is not one a "
                                 f"{space.block_kind} block is built from; allowed: {allowed}")
        for gene in space.global_genes:
            if gene.name not in self.global_genes and gene.name != space.depth_gene:
                raise ValueError(f"space: global gene {gene.name!r} is not one a network is "
                                 f"built from; allowed: {self.global_genes} (and the "
                                 "depth_gene)")
        names = {g.name for g in space.block_genes}
        for name in self.required_genes:
            if name not in names:
                raise ValueError(f"space: {space.block_kind} blocks need the block gene "
                                 f"{name!r}")
        for gene in space.block_genes + space.global_genes:
            if gene.name in self.positive_int_genes and not all(
                    isinstance(v, int) and not isinstance(v, bool) and v > 0
                    for v in gene.values):
                raise ValueError(f"space: gene {gene.name!r} values must be positive "
                                 f"integers, got {gene.values}")
        choices = {**_GLOBAL_CHOICES, **self.choice_genes}
        for gene in space.block_genes + space.global_genes:
            if gene.name in choices and not set(gene.values) <= set(choices[gene.name]):
                raise ValueError(f"space: gene {gene.name!r} values must come from "
                                 f"{choices[gene.name]}, got {gene.values}")


KINDS: dict[str, BlockKind] = {}
_BY_TYPE: dict[type, BlockKind] = {}


def register(kind: BlockKind) -> BlockKind:
    """Add ``kind`` under its name; blocks and keys of its types are then its. A kind
    whose types another kind holds already must subclass that kind (it decodes genes
    its own way into the same blocks, as ``binary_cnn`` into conv blocks)."""
    if not isinstance(kind, BlockKind) or not kind.name:
        raise ValueError(f"register: a BlockKind with a name, got {kind!r}")
    if kind.name in KINDS:
        raise ValueError(f"register: block kind {kind.name!r} exists already")
    for t in (kind.block_type, kind.key_type):
        owner = _BY_TYPE.get(t)
        if owner is not None and not isinstance(kind, type(owner)):
            raise ValueError(f"register: {t.__name__} is the {owner.name!r} kind's; "
                             f"{kind.name!r} must subclass {type(owner).__name__}")
    KINDS[kind.name] = kind
    for t in (kind.block_type, kind.key_type):
        _BY_TYPE.setdefault(t, kind)
    return kind


def kind_of(value: Any) -> BlockKind:
    """The kind of an `Architecture` block or a `ShapeKey` layer."""
    try:
        return _BY_TYPE[type(value)]
    except KeyError:
        raise ValueError(f"{type(value).__name__} is not a block of a registered kind; "
                         f"registered kinds: {tuple(KINDS)}") from None


def kind_named(name: str) -> BlockKind:
    """The kind registered as ``name``."""
    if name not in KINDS:
        raise ValueError(f"space: block_kind {name!r} is not a registered block kind; "
                         f"registered: {tuple(KINDS)}")
    return KINDS[name]


def kind_reading(description: dict) -> BlockKind:
    """The first registered kind whose block genes cover every block of ``description``
    (`genome.decode` output): for descriptions that come without their space."""
    names = set().union(*(b.keys() for b in description["blocks"]))
    for kind in KINDS.values():
        if kind.reads(names):
            return kind
    raise ValueError(f"blocks: no registered block kind reads the genes {sorted(names)}")


def check_network_space(space: SearchSpace) -> None:
    """ValueError unless every gene of ``space`` is one its kind's networks are built from.

    ``space.block_kind`` names a registered kind (`KINDS`), whose `BlockKind.check_space`
    checks the genes: conv blocks ``channels_a``, ``kernel_a`` (both required),
    ``batchnorm_a``, ``include_b``, ``channels_b``, ``kernel_b``, ``batchnorm_b``,
    ``include_pool``, ``pool_type``, ``include_skip``; dense blocks ``units`` (required),
    ``dropout``, ``activation``; global genes `GLOBAL_GENES` and the ``depth_gene``.
    Values must suit the gene (channels, kernels and units positive integers, pool_type
    "max"/"avg", optimizer and activation names known).
    """
    if not isinstance(space, SearchSpace):
        raise ValueError(f"space must be a vlga_jax.genetics.space.SearchSpace, got "
                         f"{type(space).__name__}")
    kind_named(space.block_kind).check_space(space)
