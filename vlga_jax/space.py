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
      block_kind: "conv" (two-conv blocks of Xiao et al.) or "dense" (MLP layers).
    """

    block_genes: tuple[Gene, ...]
    global_genes: tuple[Gene, ...] = ()
    max_blocks: int = 1
    block_kind: str = "conv"

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
        if self.block_kind not in ("conv", "dense"):
            raise ValueError(f"block_kind must be 'conv' or 'dense', got {self.block_kind!r}")
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
        )


# -- presets -------------------------------------------------------------------------

CHANNELS = (8, 16, 32, 64, 128, 256, 512)
KERNELS = (1, 3, 5, 7, 9)
ACTIVATIONS = ("relu", "tanh", "elu", "selu", "leaky_relu")
OPTIMIZERS = ("adam", "sgd", "rmsprop", "adamw", "adagrad", "adadelta", "adamax", "nadam")


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


SPACES = {"xiao2020": xiao2020, "mlp": mlp}
