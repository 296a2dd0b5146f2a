"""Search spaces: named gene tables.

A gene is a name and the tuple of values it may take; a genome stores the index of
the chosen value. Block genes repeat once per block (a conv block or a dense layer);
global genes appear once per network (activation, optimizer, learning rate, ...).
A gene may be conditional (``requires=("include_pool", True)``): it only matters when
another gene of the same block (or the globals) holds a given value, so the canonical
description and hash of a genome leave it out otherwise.
"""

from __future__ import annotations

import dataclasses
import functools
from collections.abc import Sequence

import numpy as np

GeneValue = bool | int | float | str

_KINDS = (bool, int, float, str)


def _kind_of(value) -> type:
    # bool is a subclass of int: test it first.
    for kind in _KINDS:
        if isinstance(value, kind):
            return kind
    raise TypeError(type(value).__name__)


@dataclasses.dataclass(frozen=True)
class Gene:
    """One gene: ``name`` and its allowed ``values`` (all of one kind)."""

    name: str
    values: tuple[GeneValue, ...]
    requires: tuple[str, GeneValue] | None = None

    def __post_init__(self):
        if not isinstance(self.name, str) or not self.name:
            raise ValueError(f"gene name must be a non-empty string, got {self.name!r}")
        values = tuple(self.values)
        object.__setattr__(self, "values", values)
        if not values:
            raise ValueError(f"gene {self.name!r}: table is empty; give at least one value")
        try:
            kinds = {_kind_of(v) for v in values}
        except TypeError as err:
            raise ValueError(
                f"gene {self.name!r}: value of kind {err} not allowed; "
                "values must be bool, int, float or str"
            ) from None
        if kinds == {int, float}:
            raise ValueError(f"gene {self.name!r}: mixes int and float values {values}")
        if len(kinds) > 1:
            raise ValueError(
                f"gene {self.name!r}: values of mixed kinds {sorted(k.__name__ for k in kinds)}"
            )
        if len(set(values)) != len(values):
            raise ValueError(f"gene {self.name!r}: duplicate values in {values}")
        if self.requires is not None:
            if (isinstance(self.requires, str) or len(self.requires) != 2
                    or not isinstance(self.requires[0], str)):
                raise ValueError(f"gene {self.name!r}: requires must be (gene_name, value)")
            # A tuple (not a list from JSON) keeps the gene, and its space, hashable.
            object.__setattr__(self, "requires", tuple(self.requires))
            if self.requires[0] == self.name:
                raise ValueError(f"gene {self.name!r}: a gene cannot require itself")

    @property
    def kind(self) -> type:
        return _kind_of(self.values[0])

    @property
    def size(self) -> int:
        return len(self.values)

    def index(self, value: GeneValue) -> int:
        """Index of ``value`` in the table; ValueError naming the gene if absent."""
        for i, v in enumerate(self.values):
            if v == value and _kind_of(v) is _kind_of(value):
                return i
        raise ValueError(f"gene {self.name!r}: {value!r} is not one of {self.values}")


@dataclasses.dataclass(frozen=True)
class SearchSpace:
    """Gene tables for one family of networks.

    Attributes:
      block_genes: genes repeated per block, in array column order.
      global_genes: genes that appear once per network.
      max_blocks: number of block slots in a genome (>= 1).
      block_kind: the block kind that decodes the block genes (`vlga_jax.networks.kinds`):
        "conv" (two-conv blocks of Xiao et al.), "dense" (MLP layers), "binary_cnn"
        (the binary chromosome's stages) or a kind registered there.
      depth_gene: None, or the name of a global gene with values 1..max_blocks that
        sets the number of active blocks (strategies keep ``block_mask`` in step with
        it, see `genome.sync_depth`); None: the depth is ``block_mask`` alone.
      globals_first: the order of the genes in the chromosome that bit-flip mutation
        and one-point crossover see (`flat_genes.flat`): False, the block genes (block
        by block) then the globals; True, the globals then the block genes.
    """

    block_genes: tuple[Gene, ...]
    global_genes: tuple[Gene, ...] = ()
    max_blocks: int = 1
    block_kind: str = "conv"
    depth_gene: str | None = None
    globals_first: bool = False

    def __post_init__(self):
        object.__setattr__(self, "block_genes", tuple(self.block_genes))
        object.__setattr__(self, "global_genes", tuple(self.global_genes))
        if not self.block_genes:
            raise ValueError("block_genes: a search space needs at least one block gene")
        for gene in self.block_genes + self.global_genes:
            if not isinstance(gene, Gene):
                raise ValueError(f"genes must be Gene values, got {gene!r}")
        names = [g.name for g in self.block_genes + self.global_genes]
        seen = set()
        for name in names:
            if name in seen:
                raise ValueError(f"gene {name!r}: duplicate name in search space")
            seen.add(name)
        if not isinstance(self.max_blocks, int) or self.max_blocks < 1:
            raise ValueError(f"max_blocks must be an integer >= 1, got {self.max_blocks!r}")
        if not isinstance(self.globals_first, bool):
            raise ValueError(f"globals_first must be True or False, got {self.globals_first!r}")
        if not isinstance(self.block_kind, str) or not self.block_kind:
            raise ValueError(f"block_kind must be the name of a block kind ('conv', 'dense', "
                             f"... see vlga_jax.networks.kinds), got {self.block_kind!r}")
        block_names = {g.name for g in self.block_genes}
        for gene in self.block_genes + self.global_genes:
            if gene.requires is not None:
                other = gene.requires[0]
                if other not in seen:
                    raise ValueError(f"gene {gene.name!r}: requires unknown gene {other!r}")
                if gene in self.global_genes and other in block_names:
                    raise ValueError(f"gene {gene.name!r}: a global gene cannot require the "
                                     f"block gene {other!r}")
                self.gene(other).index(gene.requires[1])
        if self.depth_gene is not None:
            if self.depth_gene not in {g.name for g in self.global_genes}:
                raise ValueError(f"depth_gene {self.depth_gene!r} must be a global gene")
            values = self.gene(self.depth_gene).values
            if any(not isinstance(v, int) or isinstance(v, bool) or not 1 <= v <= self.max_blocks
                   for v in values):
                raise ValueError(f"depth_gene {self.depth_gene!r}: values must be integers in "
                                 f"[1, max_blocks={self.max_blocks}], got {values}")
        requires = {g.name: g.requires[0] for g in self.block_genes + self.global_genes
                    if g.requires is not None}
        for name in requires:
            chain, current = [name], requires[name]
            while current in requires:
                if current in chain:
                    raise ValueError(f"gene {name!r}: requires form a cycle {chain + [current]}")
                chain.append(current)
                current = requires[current]

    # -- lookups ---------------------------------------------------------------
    @property
    def n_block_genes(self) -> int:
        return len(self.block_genes)

    @property
    def n_global_genes(self) -> int:
        return len(self.global_genes)

    @property
    def block_sizes(self) -> np.ndarray:
        """int32[n_block_genes]: table size of each block gene."""
        return np.array([g.size for g in self.block_genes], np.int32)

    @property
    def global_sizes(self) -> np.ndarray:
        """int32[n_global_genes]: table size of each global gene."""
        return np.array([g.size for g in self.global_genes], np.int32)

    def has(self, name: str) -> bool:
        return any(g.name == name for g in self.block_genes + self.global_genes)

    def gene(self, name: str) -> Gene:
        for gene in self.block_genes + self.global_genes:
            if gene.name == name:
                return gene
        raise ValueError(f"unknown gene {name!r}; known genes: {self.gene_names}")

    @property
    def gene_names(self) -> tuple[str, ...]:
        return tuple(g.name for g in self.block_genes + self.global_genes)

    def block_column(self, name: str) -> int:
        for i, gene in enumerate(self.block_genes):
            if gene.name == name:
                return i
        raise ValueError(f"unknown block gene {name!r}; block genes: "
                         f"{tuple(g.name for g in self.block_genes)}")

    def global_column(self, name: str) -> int:
        for i, gene in enumerate(self.global_genes):
            if gene.name == name:
                return i
        raise ValueError(f"unknown global gene {name!r}; global genes: "
                         f"{tuple(g.name for g in self.global_genes)}")

    # -- counting ------------------------------------------------------------------
    def depths(self) -> tuple[int, ...]:
        """The numbers of active blocks a network of this space may have, ascending."""
        if self.depth_gene is not None:
            return tuple(sorted(self.gene(self.depth_gene).values))
        return tuple(range(1, self.max_blocks + 1))

    def global_settings(self) -> list[dict]:
        """Every distinct assignment of the active global genes but the depth gene, in
        table order with the last gene varying fastest (inactive genes left out)."""
        genes = [g for g in self.global_genes if g.name != self.depth_gene]
        return active_settings(genes, {})

    def block_settings(self, globals_: dict) -> list[dict]:
        """Every distinct assignment of one block's active genes, given the globals (a
        cached list: do not modify it)."""
        needed = {g.requires[0] for g in self.block_genes if g.requires is not None}
        context = tuple(sorted((k, v) for k, v in globals_.items() if k in needed))
        return _block_settings(self, context)

    def size(self) -> int:
        """Number of distinct networks of the space: genomes that decode alike (inactive
        blocks, genes whose ``requires`` does not hold) count once.

        Sum over depths d and global settings g of (block settings given g) ** d.
        """
        total = 0
        for g in self.global_settings():
            blocks = len(self.block_settings(g))
            total += sum(blocks ** d for d in self.depths())
        return total

    # -- derived spaces ----------------------------------------------------------
    def restrict(self, **tables: Sequence[GeneValue]) -> SearchSpace:
        """A copy whose named genes keep only the given values (in the given order)."""
        def replace(gene: Gene) -> Gene:
            if gene.name not in tables:
                return gene
            for value in tables[gene.name]:
                gene.index(value)
            return dataclasses.replace(gene, values=tuple(tables[gene.name]))

        unknown = set(tables) - set(self.gene_names)
        if unknown:
            raise ValueError(f"unknown gene(s) {sorted(unknown)}; known genes: {self.gene_names}")
        return dataclasses.replace(
            self,
            block_genes=tuple(replace(g) for g in self.block_genes),
            global_genes=tuple(replace(g) for g in self.global_genes),
        )

    def to_dict(self) -> dict:
        def gene_dict(g: Gene) -> dict:
            d = {"name": g.name, "values": list(g.values)}
            if g.requires is not None:
                d["requires"] = list(g.requires)
            return d

        return {
            "block_genes": [gene_dict(g) for g in self.block_genes],
            "global_genes": [gene_dict(g) for g in self.global_genes],
            "max_blocks": self.max_blocks,
            "block_kind": self.block_kind,
            "depth_gene": self.depth_gene,
            # Only when set: the dicts of spaces in the default order stay as they were.
            **({"globals_first": True} if self.globals_first else {}),
        }

    @classmethod
    def from_dict(cls, d: dict) -> SearchSpace:
        def gene(g: dict) -> Gene:
            req = g.get("requires")
            return Gene(g["name"], tuple(g["values"]), tuple(req) if req else None)

        return cls(
            block_genes=tuple(gene(g) for g in d["block_genes"]),
            global_genes=tuple(gene(g) for g in d.get("global_genes", ())),
            max_blocks=int(d.get("max_blocks", 1)),
            block_kind=d.get("block_kind", "conv"),
            depth_gene=d.get("depth_gene"),
            globals_first=d.get("globals_first", False),
        )


def active_settings(genes: list[Gene], context: dict) -> list[dict]:
    """Every distinct {name: value} of ``genes`` with only their active genes: a gene
    whose ``requires`` (on a gene of ``genes`` or of ``context``) does not hold is left
    out, so settings that differ only in inactive genes appear once. Table order, the
    last gene varying fastest."""
    names = {g.name for g in genes}
    settings: list[dict] = [{}]
    # Required genes first, so a gene's condition is known when it is reached.
    pending, ordered = list(genes), []
    while pending:
        ready = [g for g in pending if g.requires is None or g.requires[0] not in names
                 or any(o.name == g.requires[0] for o in ordered)]
        if not ready:  # unreachable: SearchSpace refuses cycles
            raise ValueError("requires form a cycle")
        ordered += ready
        pending = [g for g in pending if g not in ready]
    for gene in ordered:
        grown = []
        for s in settings:
            if gene.requires is not None:
                other, needed = gene.requires
                held = s if other in names else context
                if other not in held or held[other] != needed:
                    grown.append(s)
                    continue
            grown += [{**s, gene.name: v} for v in gene.values]
        settings = grown
    order = [g.name for g in genes]
    return sorted(settings, key=lambda s: tuple(
        (0, -1) if n not in s else (1, _gene_of(genes, n).index(s[n])) for n in order))


@functools.lru_cache(maxsize=64)
def _block_settings(space: SearchSpace, context: tuple) -> list[dict]:
    return active_settings(list(space.block_genes), dict(context))


def _gene_of(genes: list[Gene], name: str) -> Gene:
    return next(g for g in genes if g.name == name)


# -- presets -------------------------------------------------------------------------

CHANNELS = (8, 16, 32, 64, 128, 256, 512)
KERNELS = (1, 3, 5, 7, 9)
ACTIVATIONS = ("relu", "tanh", "elu", "selu", "leaky_relu")
# Table 1 of Xiao et al. 2020 (and the W&B report's code): ReLU, ELU and LeakyReLU. The
# xiao2020 space keeps every activation; the presets that follow the paper restrict it.
XIAO2020_ACTIVATIONS = ("relu", "elu", "leaky_relu")


def xiao2020(max_blocks: int = 5, *, training_genes: bool = False) -> SearchSpace:
    """The VLGA space of Xiao et al. 2020, Table 1: one block = conv a, optional conv b.

    Block genes: channels/kernel/batch norm of conv a and b, include layer b, include
    pool, pool type, include skip. Global gene: activation. With ``training_genes``
    the optimizer, learning rate, weight decay and dropout are searched as well.
    """
    block = (
        Gene("channels_a", CHANNELS),
        Gene("kernel_a", KERNELS),
        Gene("batchnorm_a", (False, True)),
        Gene("include_b", (False, True)),
        Gene("channels_b", CHANNELS, requires=("include_b", True)),
        Gene("kernel_b", KERNELS, requires=("include_b", True)),
        Gene("batchnorm_b", (False, True), requires=("include_b", True)),
        Gene("include_pool", (False, True)),
        Gene("pool_type", ("max", "avg"), requires=("include_pool", True)),
        Gene("include_skip", (False, True)),
    )
    globals_ = [Gene("activation", ACTIVATIONS)]
    if training_genes:
        globals_ += training_gene_tables()
    return SearchSpace(block, tuple(globals_), max_blocks=max_blocks, block_kind="conv")


def training_gene_tables() -> list[Gene]:
    """Global genes for the training recipe: optimizer, learning rate, weight decay, dropout."""
    return [
        Gene("optimizer", ("adam", "sgd", "rmsprop", "adamw")),
        Gene("learning_rate", (1e-4, 3e-4, 1e-3, 3e-3, 1e-2)),
        Gene("weight_decay", (0.0, 1e-5, 1e-4, 1e-3)),
        Gene("dropout", (0.0, 0.1, 0.25, 0.5)),
    ]


def mlp(max_layers: int = 4) -> SearchSpace:
    """Dense networks: per layer units and dropout; global activation and optimizer."""
    block = (
        Gene("units", (64, 128, 256, 512, 768, 1024)),
        Gene("dropout", (0.0, 0.1, 0.25, 0.5)),
    )
    globals_ = (
        Gene("activation", ("relu", "elu", "tanh", "sigmoid")),
        Gene("optimizer", ("rmsprop", "adam", "sgd", "adagrad", "adadelta", "adamax", "nadam")),
    )
    return SearchSpace(block, globals_, max_blocks=max_layers, block_kind="dense")


def fixed_cnn(depth: int = 3, *, training_genes: bool = False) -> SearchSpace:
    """The `xiao2020` blocks at a fixed depth: strategies activate all ``depth`` blocks
    (a classical fixed-length GA evolves every gene of every block at once)."""
    return xiao2020(depth, training_genes=training_genes)


# Filters of the first stage: 4 values (2 bits, as in the source), doubling from 8 to 64
# so that the range of the former 8-value table (4-64) is kept, sized for small images.
BINARY_FILTERS = (8, 16, 32, 64)
BINARY_SCALES = (1.0, 1.5, 2.0, 2.5)
BINARY_KERNELS = (1, 3, 5, 7)
# The source's activations are relu and elu (its 2-bit activation field reads relu, elu,
# relu, elu); the two other codes hold two more of the relu family.
BINARY_ACTIVATIONS = ("relu", "elu", "leaky_relu", "selu")
BINARY_DROPOUTS = (0.0, 0.1, 0.25, 0.5)
BINARY_HEAD = (2048, 1024)
BINARY_MAX_STAGES = 7


def binary_cnn(max_stages: int = BINARY_MAX_STAGES) -> SearchSpace:
    """The fixed-length binary chromosome of the binary-encoded CNN GA (20 bits at 7 stages).

    A gene is a group of bits (`operators.bitflip`) holding the index into its table; the
    chromosome holds the global genes first (``globals_first``), then one bit per stage.
    At 7 stages, bit positions (0 = first) and tables (index 0 first): 0-1 ``filters``
    (`BINARY_FILTERS`, channels of the first stage), 2-3 ``filter_scale``
    (`BINARY_SCALES`: stage s has ``filters * scale**s`` channels), 4-5 ``kernel``
    (`BINARY_KERNELS`), 6-7 ``activation`` (`BINARY_ACTIVATIONS`), 8-10 ``stages`` (1..7
    feature-extraction stages: a flip to the unused code 7 wraps to index 0, one stage),
    11-12 ``dropout`` after each stage (`BINARY_DROPOUTS`), 13-19 ``one_conv`` (one bit
    per stage: 1 = one conv, 0 = two convs).

    Decoded by the ``binary_cnn`` block kind: batch norm in every conv, a 2x2 max pool per
    stage while the image is larger than 1x1, then a dense head of 2048 and 1024 units
    with dropout 0.5.

    ``max_stages`` must be a power of two or one less (1, 2, 3, 4, 7, 8, 15, ...): the
    stages gene then fills its bits but for at most one code. The chromosome has
    ``10 + ceil(log2(max_stages)) + max_stages`` bits: 20 at 7 stages, 21 at 8.
    """
    if (not isinstance(max_stages, int) or isinstance(max_stages, bool) or max_stages < 1
            or (max_stages & (max_stages - 1) and (max_stages + 1) & max_stages)):
        raise ValueError(f"max_stages must be a power of two or one less (1, 2, 3, 4, 7, 8, "
                         f"15, ...: the stage count is a group of bits), got {max_stages!r}")
    block = (Gene("one_conv", (False, True)),)
    globals_ = (
        Gene("filters", BINARY_FILTERS),
        Gene("filter_scale", BINARY_SCALES),
        Gene("kernel", BINARY_KERNELS),
        Gene("activation", BINARY_ACTIVATIONS),
        Gene("stages", tuple(range(1, max_stages + 1))),
        Gene("dropout", BINARY_DROPOUTS),
    )
    return SearchSpace(block, globals_, max_blocks=max_stages, block_kind="binary_cnn",
                       depth_gene="stages", globals_first=True)


MLP_UNITS = (64, 128, 256, 512, 768, 1024)
MLP_ACTIVATIONS = ("relu", "elu", "tanh", "sigmoid")
MLP_OPTIMIZERS = ("rmsprop", "adam", "sgd", "adagrad", "adadelta", "adamax", "nadam")
MLP_GA_DROPOUT = 0.2  # the MLP GA's Dropout(0.2) after every dense layer


def mlp_ga(max_layers: int = 4) -> SearchSpace:
    """The MLP GA's space: 1..max_layers dense layers (global gene ``layers``) of ONE
    width (global gene ``units``), one activation and one optimizer per network: 4 x 6 x
    4 x 7 = 672 networks at 4 layers. Each layer is followed by dropout 0.2 (the block
    gene ``dropout`` has that one value: a block needs a gene, and it is the source's)."""
    block = (Gene("dropout", (MLP_GA_DROPOUT,)),)
    globals_ = (
        Gene("layers", tuple(range(1, max_layers + 1))),
        Gene("units", MLP_UNITS),
        Gene("activation", MLP_ACTIVATIONS),
        Gene("optimizer", MLP_OPTIMIZERS),
    )
    return SearchSpace(block, globals_, max_blocks=max_layers, block_kind="dense",
                       depth_gene="layers")


def mlp_tournament(max_layers: int = 4) -> SearchSpace:
    """Tournament evolution's space: per dense layer units, dropout and activation; per
    network learning rate, weight decay and optimizer. Depth is the block mask (changed by
    the add/remove-layer mutation)."""
    block = (
        Gene("units", MLP_UNITS),
        Gene("dropout", (0.0, 0.1, 0.2, 0.3, 0.5)),
        Gene("activation", MLP_ACTIVATIONS),
    )
    globals_ = (
        Gene("learning_rate", (1e-4, 3e-4, 1e-3, 3e-3, 1e-2)),
        Gene("weight_decay", (0.0, 1e-5, 1e-4, 1e-3)),
        Gene("optimizer", MLP_OPTIMIZERS),
    )
    return SearchSpace(block, globals_, max_blocks=max_layers, block_kind="dense")


SPACES = {"xiao2020": xiao2020, "mlp": mlp, "fixed_cnn": fixed_cnn, "binary_cnn": binary_cnn,
          "mlp_ga": mlp_ga, "mlp_tournament": mlp_tournament}


def build_space(kind: str, max_blocks: int, *, training_genes: bool = False) -> SearchSpace:
    """The space of ``kind`` (a key of SPACES) with ``max_blocks`` block slots."""
    if kind not in SPACES:
        raise ValueError(f"space kind must be one of {tuple(SPACES)}, got {kind!r}")
    if kind in ("xiao2020", "fixed_cnn"):
        return SPACES[kind](max_blocks, training_genes=training_genes)
    return SPACES[kind](max_blocks)
