"""Crossover: a child of two parent genomes, or one child per pair of a population.

`uniform_crossover`, `one_point_crossover` and `crossover` take one-genome parents;
`crossover_population` breeds the pairs of `select_parents`. Candidate genes are mutable
(``mutable`` `GeneMask`, None: all) and active in both parents; every other gene, and
the block_mask, come from the first parent. Every function takes a PRNG key first, is
pure, and is jit- and vmap-able; ``method`` and ``globals_first`` (the chromosome
order, `SearchSpace.globals_first`: globals before the block genes) are static. Shapes: a
genome is ``blocks int32[B, G]``, ``block_mask bool[B]``, ``globals int32[H]``; a
population adds a leading axis ``P``.
"""

from __future__ import annotations

import jax
import jax.numpy as jnp

from vlga_jax.core import checks
from vlga_jax.core.names import CROSSOVERS
from vlga_jax.genetics.flat_genes import (
    check_single,
    flat,
    flat_active,
    flat_mutable,
    mask_axis,
    unflat,
)
from vlga_jax.genetics.genome import GeneMask, Genome

CROSSOVER_METHODS = CROSSOVERS
# Default method (Xiao et al. 2020).
CROSSOVER_METHOD = "uniform"


def _crossover_genes(a: Genome, b: Genome, mutable: GeneMask | None, what: str,
                     globals_first: bool):
    check_single(a, what)
    check_single(b, what)
    if jnp.shape(a.blocks) != jnp.shape(b.blocks) or jnp.shape(a.globals) != jnp.shape(b.globals):
        raise ValueError(f"{what}: parents have different shapes "
                         f"{jnp.shape(a.blocks)} and {jnp.shape(b.blocks)}")
    va = flat(a.blocks, a.globals, globals_first)
    vb = flat(b.blocks, b.globals, globals_first).astype(va.dtype)
    can = (flat_mutable(mutable, a, globals_first) & flat_active(a, globals_first)
           & flat_active(b, globals_first))
    return va, vb, can


def uniform_crossover(key: jax.Array, a: Genome, b: Genome,
                      mutable: GeneMask | None = None, globals_first: bool = False) -> Genome:
    """Child of one-genome parents ``a`` and ``b``: each candidate gene from either, p=1/2.

    Candidate genes are mutable and active in both parents; every other gene, and the
    block_mask, come from ``a`` (Xiao et al. 2020).
    """
    va, vb, can = _crossover_genes(a, b, mutable, "uniform_crossover", globals_first)
    take_b = can & (jax.random.uniform(key, va.shape) < 0.5)
    return unflat(jnp.where(take_b, vb, va), a, globals_first)


def one_point_crossover(key: jax.Array, a: Genome, b: Genome,
                        mutable: GeneMask | None = None, globals_first: bool = False) -> Genome:
    """Child of one-genome parents ``a`` and ``b`` by one cut point.

    The n candidate genes (mutable and active in both parents) are ordered as
    flattened blocks (row-major) then globals (``globals_first``: globals, then blocks);
    the cut c is uniform in [1, n-1]; the
    first c candidates come from ``a``, the rest from ``b``. With n < 2 the child is
    ``a``. Every other gene, and the block_mask, come from ``a``.
    """
    va, vb, can = _crossover_genes(a, b, mutable, "one_point_crossover", globals_first)
    n = jnp.sum(can)
    position = jnp.cumsum(can) - 1
    # cut uniform in [1, n - 1] (from one uniform draw: randint compiles slowly on CPU).
    cut = 1 + jnp.minimum((jax.random.uniform(key) * (n - 1)).astype(n.dtype),
                          jnp.maximum(n - 2, 0))
    take_b = can & (position >= cut) & (n >= 2)
    return unflat(jnp.where(take_b, vb, va), a, globals_first)


def crossover(key: jax.Array, a: Genome, b: Genome, mutable: GeneMask | None = None,
              method: str = CROSSOVER_METHOD, globals_first: bool = False) -> Genome:
    """Dispatch on ``method`` in {"uniform", "one_point"} (static)."""
    checks.choice("method", method, CROSSOVER_METHODS)
    if method == "uniform":
        return uniform_crossover(key, a, b, mutable, globals_first)
    return one_point_crossover(key, a, b, mutable, globals_first)


def crossover_population(key: jax.Array, population: Genome, pairs: jax.Array,
                         mutable: GeneMask | None = None,
                         method: str = CROSSOVER_METHOD,
                         globals_first: bool = False) -> Genome:
    """One child per row of ``pairs`` (int32[N, 2], e.g. from `select_parents`).

    Child i = crossover(population[pairs[i, 0]], population[pairs[i, 1]]); the result
    has a leading axis N. ``mutable`` is shared (blocks [B, G]) or per individual
    (blocks [P, B, G]; the first parent's mask is used).
    """
    checks.choice("method", method, CROSSOVER_METHODS)
    pairs = jnp.asarray(pairs, jnp.int32)
    if pairs.ndim != 2 or pairs.shape[1] != 2:
        raise ValueError(f"pairs must be int32[N, 2], got shape {pairs.shape}")
    axis = mask_axis(mutable, "mutable")
    a = jax.tree.map(lambda x: x[pairs[:, 0]], population)
    b = jax.tree.map(lambda x: x[pairs[:, 1]], population)
    if axis is not None:
        mutable = jax.tree.map(lambda x: x[pairs[:, 0]], mutable)
    keys = jax.random.split(key, pairs.shape[0])
    return jax.vmap(lambda k, x, y, m: crossover(k, x, y, m, method, globals_first),
                    in_axes=(0, 0, 0, axis))(keys, a, b, mutable)
