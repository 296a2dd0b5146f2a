"""Genomes: padded integer arrays with masks; a population adds a leading axis.

A genome holds the index of the chosen value for every gene of a `SearchSpace`:

  blocks:     int32[max_blocks, n_block_genes]
  block_mask: bool[max_blocks]        (True for the active blocks, a prefix)
  globals:    int32[n_global_genes]

Array code (init, operators) is jit- and vmap-able. Decoding, JSON and hashing are
host-side and read only the active blocks and the genes that matter, so two genomes
that describe the same network and hyperparameters decode and hash alike.
"""

from __future__ import annotations

import dataclasses
import hashlib
import json

import flax.struct
import jax
import jax.numpy as jnp
import numpy as np

from vlga_jax.genetics.space import SearchSpace


@flax.struct.dataclass
class Genome:
    """Indices into a search space's gene tables (see module docstring for shapes)."""

    blocks: jax.Array
    block_mask: jax.Array
    globals: jax.Array

    @property
    def n_active(self) -> jax.Array:
        """int32[...]: number of active blocks."""
        return jnp.sum(self.block_mask, axis=-1)


@flax.struct.dataclass
class GeneMask:
    """Which genes an operator may change: bool arrays shaped like a genome's."""

    blocks: jax.Array
    globals: jax.Array


def _check_active(space: SearchSpace, n_active: int) -> None:
    if not 1 <= int(n_active) <= space.max_blocks:
        raise ValueError(f"n_active must be in [1, max_blocks={space.max_blocks}], got {n_active}")


def random_genome(key: jax.Array, space: SearchSpace, n_active: int) -> Genome:
    """A uniformly random genome with the first ``n_active`` blocks active.

    Masked block slots are zero so that equal networks have equal arrays.
    """
    _check_active(space, n_active)
    k_blocks, k_globals = jax.random.split(key)
    sizes = jnp.asarray(space.block_sizes)
    # A flat draw reshaped: the same values, but XLA:CPU compiles 2-D shapes such as
    # (4, 10) several times slower.
    n = space.max_blocks * space.n_block_genes
    u = jax.random.uniform(k_blocks, (n,)).reshape(space.max_blocks, space.n_block_genes)
    blocks = jnp.minimum((u * sizes).astype(jnp.int32), sizes - 1)
    mask = jnp.arange(space.max_blocks) < n_active
    blocks = jnp.where(mask[:, None], blocks, 0)
    gsizes = jnp.asarray(space.global_sizes)
    ug = jax.random.uniform(k_globals, (space.n_global_genes,))
    globals_ = jnp.minimum((ug * gsizes).astype(jnp.int32), gsizes - 1)
    return Genome(blocks=blocks, block_mask=mask, globals=globals_)


def random_population(key: jax.Array, space: SearchSpace, size: int, n_active: int) -> Genome:
    """``size`` random genomes stacked on a leading axis."""
    if int(size) < 1:
        raise ValueError(f"population size must be >= 1, got {size}")
    _check_active(space, n_active)
    keys = jax.random.split(key, size)
    return jax.vmap(lambda k: random_genome(k, space, n_active))(keys)


def sync_depth(genome: Genome, space: SearchSpace) -> Genome:
    """``block_mask`` set from the space's ``depth_gene`` (identity when it has none).

    Works on one genome or a population (leading axes); jit-able. Inactive block slots
    keep their genes, so a network that regrows a layer gets its old layer back.
    """
    if space.depth_gene is None:
        return genome
    gene = space.gene(space.depth_gene)
    depths = jnp.asarray(gene.values, jnp.int32)
    depth = depths[genome.globals[..., space.global_column(space.depth_gene)]]
    mask = jnp.arange(space.max_blocks) < depth[..., None]
    return genome.replace(block_mask=mask)


def full_mask(space: SearchSpace, value: bool = True) -> GeneMask:
    """A mask with every gene set to ``value``."""
    return GeneMask(
        blocks=jnp.full((space.max_blocks, space.n_block_genes), value),
        globals=jnp.full((space.n_global_genes,), value),
    )


def block_mutable_mask(space: SearchSpace, block: int, *, globals_mutable: bool,
                       frozen_genes: tuple[str, ...] = ()) -> GeneMask:
    """Only block ``block``'s genes (minus ``frozen_genes``) and optionally the globals."""
    if not 0 <= block < space.max_blocks:
        raise ValueError(f"block must be in [0, {space.max_blocks}), got {block}")
    row = np.ones(space.n_block_genes, bool)
    for name in frozen_genes:
        if space.has(name) and name in {g.name for g in space.block_genes}:
            row[space.block_column(name)] = False
    blocks = np.zeros((space.max_blocks, space.n_block_genes), bool)
    blocks[block] = row
    return GeneMask(blocks=jnp.asarray(blocks),
                    globals=jnp.full((space.n_global_genes,), globals_mutable))


def set_gene(genome: Genome, space: SearchSpace, name: str, value, block: int | None = None):
    """A copy with gene ``name`` set to ``value`` (in ``block``, or all blocks if None)."""
    idx = space.gene(name).index(value)
    if name in {g.name for g in space.global_genes}:
        col = space.global_column(name)
        return genome.replace(globals=genome.globals.at[..., col].set(idx))
    col = space.block_column(name)
    if block is None:
        return genome.replace(blocks=genome.blocks.at[..., :, col].set(idx))
    return genome.replace(blocks=genome.blocks.at[..., block, col].set(idx))


# -- host side: decode, JSON, hash -----------------------------------------------------

def _gene_values(genes, row) -> dict:
    chosen = {g.name: g.values[int(i)] for g, i in zip(genes, row, strict=True)}
    return chosen


def _drop_inactive(values: dict, genes, context: dict) -> dict:
    """The genes of ``values`` whose ``requires`` chain holds (``context``: kept globals).

    A gene whose required gene is itself inactive is inactive too (chains of requires).
    """
    by_name = {g.name: g for g in genes}

    def active(name: str) -> bool:
        gene = by_name[name]
        if gene.requires is None:
            return True
        other, needed = gene.requires
        if other in by_name:
            return values[other] == needed and active(other)
        return other in context and context[other] == needed

    return {g.name: values[g.name] for g in genes if active(g.name)}


def _as_numpy(genome: Genome) -> Genome:
    return jax.tree.map(np.asarray, genome)


def decode(genome: Genome, space: SearchSpace) -> dict:
    """A readable dict: ``{"blocks": [{gene: value}, ...], "globals": {gene: value}}``.

    Only active blocks, and only genes whose ``requires`` condition holds.
    """
    g = _as_numpy(genome)
    if g.blocks.ndim != 2:
        raise ValueError(f"decode takes one genome, got blocks of shape {g.blocks.shape}")
    globals_ = _gene_values(space.global_genes, g.globals)
    globals_ = _drop_inactive(globals_, space.global_genes, {})
    blocks = []
    for row, active in zip(g.blocks, g.block_mask, strict=True):
        if active:
            values = _gene_values(space.block_genes, row)
            blocks.append(_drop_inactive(values, space.block_genes, globals_))
    return {"blocks": blocks, "globals": globals_}


def encode(description: dict, space: SearchSpace) -> Genome:
    """Inverse of `decode`: genes missing from a block (inactive ones) get index 0."""
    blocks_desc = description["blocks"]
    if not 1 <= len(blocks_desc) <= space.max_blocks:
        raise ValueError(
            f"blocks: need 1..{space.max_blocks} blocks, got {len(blocks_desc)}")
    blocks = np.zeros((space.max_blocks, space.n_block_genes), np.int32)
    for b, values in enumerate(blocks_desc):
        unknown = set(values) - {g.name for g in space.block_genes}
        if unknown:
            raise ValueError(f"unknown block gene(s) {sorted(unknown)}")
        for c, gene in enumerate(space.block_genes):
            if gene.name in values:
                blocks[b, c] = gene.index(values[gene.name])
    globals_ = np.zeros(space.n_global_genes, np.int32)
    gvalues = description.get("globals", {})
    unknown = set(gvalues) - {g.name for g in space.global_genes}
    if unknown:
        raise ValueError(f"unknown global gene(s) {sorted(unknown)}")
    for c, gene in enumerate(space.global_genes):
        if gene.name in gvalues:
            globals_[c] = gene.index(gvalues[gene.name])
    mask = np.arange(space.max_blocks) < len(blocks_desc)
    return Genome(blocks=jnp.asarray(blocks), block_mask=jnp.asarray(mask),
                  globals=jnp.asarray(globals_))


def canonical(genome: Genome, space: SearchSpace) -> Genome:
    """The same network with every masked slot and unused gene set to index 0."""
    return encode(decode(genome, space), space)


def to_json(genome: Genome, space: SearchSpace) -> str:
    """JSON of the decoded genome (sorted keys, stable across runs)."""
    return json.dumps(decode(genome, space), sort_keys=True)


def from_json(text: str, space: SearchSpace) -> Genome:
    return encode(json.loads(text), space)


def genome_hash(genome: Genome, space: SearchSpace) -> str:
    """A stable 16-hex-digit hash of the network and hyperparameters a genome describes."""
    return description_hash(decode(genome, space))


def description_hash(description: dict) -> str:
    """`genome_hash` of the genome that decodes to ``description`` (`decode`)."""
    return hashlib.sha256(json.dumps(description, sort_keys=True).encode()).hexdigest()[:16]


def unstack(population: Genome) -> list[Genome]:
    """A list of single genomes from a population (host side)."""
    pop = _as_numpy(population)
    n = pop.blocks.shape[0]
    return [jax.tree.map(lambda a, i=i: a[i], pop) for i in range(n)]


def stack(genomes: list[Genome]) -> Genome:
    """A population from a list of genomes of one space."""
    if not genomes:
        raise ValueError("stack needs at least one genome")
    return jax.tree.map(lambda *a: jnp.stack([jnp.asarray(x) for x in a]), *genomes)


def hashes_in(obj, space: SearchSpace) -> set[str]:
    """Hashes of every genome (single or stacked) held anywhere in ``obj`` (a strategy
    state: dataclasses, tuples, lists and dicts are walked)."""
    found: set[str] = set()

    def walk(value):
        if isinstance(value, Genome):
            if np.ndim(value.block_mask) == 2:
                found.update(genome_hash(g, space) for g in unstack(value))
            else:
                found.add(genome_hash(value, space))
        elif dataclasses.is_dataclass(value) and not isinstance(value, type):
            for f in dataclasses.fields(value):
                walk(getattr(value, f.name))
        elif isinstance(value, list | tuple):
            for v in value:
                walk(v)
        elif isinstance(value, dict):
            for v in value.values():
                walk(v)

    walk(obj)
    return found
