"""Flat views of a genome, shared by the genetic operators.

A genome (``blocks int32[B, G]``, ``block_mask bool[B]``, ``globals int32[H]``) is seen
as one vector of ``B*G + H`` genes: flattened blocks (row-major), then globals, or with
``globals_first`` (`SearchSpace.globals_first`, the chromosome order of the binary
spaces) globals then blocks. The operators pick genes on that vector and `unflat` puts
them back; a population adds a leading axis ``P``.
"""

from __future__ import annotations

import jax
import jax.numpy as jnp

from vlga_jax.genetics.genome import GeneMask, Genome
from vlga_jax.genetics.space import SearchSpace


def flat(blocks, globals_, globals_first: bool = False) -> jax.Array:
    """[B, G] and [H] -> [B*G + H]: blocks row-major, then globals (``globals_first``:
    globals, then blocks)."""
    blocks = jnp.asarray(blocks)
    parts = [blocks.reshape(-1), jnp.asarray(globals_).astype(blocks.dtype)]
    return jnp.concatenate(parts[::-1] if globals_first else parts)


def unflat(values: jax.Array, genome: Genome, globals_first: bool = False) -> Genome:
    """The inverse of `flat`: ``values`` [B*G + H] as a genome shaped like ``genome``."""
    n, h = genome.blocks.size, genome.globals.size
    blocks, globals_ = (values[h:], values[:h]) if globals_first else (values[:n], values[n:])
    return genome.replace(
        blocks=blocks.reshape(genome.blocks.shape).astype(genome.blocks.dtype),
        globals=globals_.astype(genome.globals.dtype),
    )


def check_single(genome: Genome, what: str) -> None:
    """ValueError unless ``genome`` is one genome (not a population), naming ``what``."""
    if jnp.ndim(genome.blocks) != 2 or jnp.ndim(genome.globals) != 1:
        raise ValueError(
            f"{what} takes one genome (blocks [B, G], globals [H]); got blocks of shape "
            f"{jnp.shape(genome.blocks)}: use the *_population function or jax.vmap"
        )


def flat_sizes(space, genome: Genome, globals_first: bool = False) -> jax.Array:
    """int32[B*G + H]: table size of every gene of ``genome``."""
    shape = jnp.shape(genome.blocks)
    if isinstance(space, SearchSpace):
        expected = (space.max_blocks, space.n_block_genes)
        if shape != expected or jnp.shape(genome.globals) != (space.n_global_genes,):
            raise ValueError(
                f"genome shapes blocks {shape}, globals {jnp.shape(genome.globals)} do not "
                f"match the space: blocks {expected}, globals ({space.n_global_genes},)"
            )
        block_sizes, global_sizes = space.block_sizes, space.global_sizes
    else:
        block_sizes, global_sizes = space
    block_sizes = jnp.broadcast_to(jnp.asarray(block_sizes, jnp.int32), shape)
    return flat(block_sizes, jnp.asarray(global_sizes, jnp.int32), globals_first)


def flat_active(genome: Genome, globals_first: bool = False) -> jax.Array:
    """bool[B*G + H]: genes in active block slots, and all globals."""
    mask = jnp.asarray(genome.block_mask, bool)
    blocks = jnp.broadcast_to(mask[:, None], jnp.shape(genome.blocks))
    return flat(blocks, jnp.ones(jnp.shape(genome.globals), bool), globals_first)


def flat_expressed(space, genome: Genome) -> jax.Array:
    """bool[B*G + H]: the genes the decoded network reads (`genome.decode`).

    A block gene of an active slot, or a global gene, whose ``requires`` chain holds. With
    ``space`` given as table sizes (no ``requires`` known) this is `flat_active`.
    """
    if not isinstance(space, SearchSpace):
        return flat_active(genome)
    blocks, globals_ = jnp.asarray(genome.blocks), jnp.asarray(genome.globals)
    n_block = space.n_block_genes
    genes = space.block_genes + space.global_genes
    # Per gene: whether it is expressed, [B] for block genes, [] for globals.
    expressed: dict[str, jax.Array] = {}

    def resolve(index: int) -> jax.Array:
        gene = genes[index]
        if gene.name not in expressed:
            holds = jnp.asarray(True)
            if gene.requires is not None:
                other, needed = gene.requires
                j = next(i for i, g in enumerate(genes) if g.name == other)
                value = blocks[:, j] if j < n_block else globals_[j - n_block]
                holds = (value == genes[j].index(needed)) & resolve(j)
            expressed[gene.name] = holds
        return expressed[gene.name]

    mask = jnp.asarray(genome.block_mask, bool)
    block_cols = [jnp.broadcast_to(resolve(i), mask.shape) & mask for i in range(n_block)]
    global_cols = [resolve(n_block + i) for i in range(space.n_global_genes)]
    block_part = (jnp.stack(block_cols, axis=1) if block_cols
                  else jnp.zeros(jnp.shape(blocks), bool))
    global_part = (jnp.stack(global_cols) if global_cols
                   else jnp.zeros(jnp.shape(globals_), bool))
    return flat(block_part, global_part)


def flat_mutable(mutable: GeneMask | None, genome: Genome,
                 globals_first: bool = False) -> jax.Array:
    """bool[B*G + H]: the genes ``mutable`` allows (None: all)."""
    if mutable is None:
        return jnp.ones(genome.blocks.size + genome.globals.size, bool)
    if (jnp.shape(mutable.blocks) != jnp.shape(genome.blocks)
            or jnp.shape(mutable.globals) != jnp.shape(genome.globals)):
        raise ValueError(
            f"mutable mask shapes blocks {jnp.shape(mutable.blocks)}, globals "
            f"{jnp.shape(mutable.globals)} do not match the genome's "
            f"{jnp.shape(genome.blocks)}, {jnp.shape(genome.globals)}"
        )
    return flat(jnp.asarray(mutable.blocks, bool), jnp.asarray(mutable.globals, bool),
                globals_first)


def tree_where(cond: jax.Array, x, y):
    """Per-individual select between two populations (cond bool[P])."""
    def pick(a, b):
        c = cond.reshape(cond.shape + (1,) * (jnp.ndim(a) - 1))
        return jnp.where(c, a, b)

    return jax.tree.map(pick, x, y)


def genes_differ(x: Genome, y: Genome) -> jax.Array:
    """bool[P]: whether individual i's blocks or globals differ."""
    p = x.blocks.shape[0]
    return (jnp.any((x.blocks != y.blocks).reshape(p, -1), axis=1)
            | jnp.any((x.globals != y.globals).reshape(p, -1), axis=1))


def mask_axis(mask: GeneMask | None, what: str) -> int | None:
    """None for a mask shared by the population, 0 for one with a leading axis."""
    if mask is None:
        return None
    ndim = jnp.ndim(mask.blocks)
    if ndim == 2:
        return None
    if ndim == 3:
        return 0
    raise ValueError(
        f"{what}: mask blocks must be [B, G] or [P, B, G], got {jnp.shape(mask.blocks)}")

