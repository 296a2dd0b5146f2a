"""Mutation: change the genes or the depth of a genome or of a population.

`mutate` and `mutate_population` change genes, `add_remove_layer` the depth. Every
function takes a PRNG key first, is pure, and is jit- and vmap-able; ``space`` is a
`SearchSpace` (static) or the pair of table sizes ``(block_sizes int32[G],
global_sizes int32[H])`` (then it may be traced). Only mutable genes (``mutable``
`GeneMask`, None: all) that the decoded network reads change: genes of active block
slots and globals, and with a `SearchSpace` only those whose ``requires`` hold.

Shapes: a genome is ``blocks int32[B, G]``, ``block_mask bool[B]``, ``globals
int32[H]``; a population adds a leading axis ``P``.
"""

from __future__ import annotations

import jax
import jax.numpy as jnp
import numpy as np

from vlga_jax.core import checks
from vlga_jax.core.names import MUTATION_MODES
from vlga_jax.genetics.flat_genes import (
    check_single,
    flat,
    flat_expressed,
    flat_mutable,
    flat_sizes,
    genes_differ,
    mask_axis,
    tree_where,
    unflat,
)
from vlga_jax.genetics.genome import GeneMask, Genome
from vlga_jax.genetics.space import SearchSpace

# Default probability that an individual is mutated (Xiao et al. 2020).
MUTATION_RATE = 0.2


def _check_rate_like(name: str, value) -> None:
    """Validate Python/NumPy numbers and NumPy arrays; leave JAX arrays alone."""
    if isinstance(value, GeneMask):
        _check_rate_like(name, value.blocks)
        _check_rate_like(name, value.globals)
    elif checks.is_number(value):
        checks.rate(name, value)
    elif isinstance(value, np.ndarray) and value.size:
        bad = ~((value >= 0) & (value <= 1))
        if bad.any():
            checks.require(False, name, "in [0, 1]", value[bad].flat[0])


def mutate(
    key: jax.Array,
    genome: Genome,
    space,
    mutable: GeneMask | None = None,
    *,
    mode: str = "one",
    gene_rate=None,
) -> Genome:
    """Mutate one genome (blocks int32[B, G], globals int32[H]); returns the same shapes.

    Candidate genes are mutable, expressed (in an active block slot, or global, with their
    ``requires`` holding: `flat_genes.flat_expressed`) and have a table of >= 2 values. A
    mutated gene moves to one of the OTHER values of its table, uniformly: ``new = (old +
    k) % size`` with k uniform in [1, size - 1]; so a mutation always changes the decoded
    network, not only its genes. With ``space`` given as table sizes the ``requires`` are
    unknown and every gene of an active slot is a candidate.

    mode "one": exactly one candidate gene, chosen uniformly, is mutated.
    mode "per_gene": each candidate gene is mutated independently with probability
      ``gene_rate``: a scalar or a float `GeneMask` shaped like the genome; None means
      1 / (number of candidate genes), one mutation per genome on average.
      ``gene_rate`` is ignored in mode "one".
    With no candidate gene the genome is returned unchanged.
    """
    checks.choice("mode", mode, MUTATION_MODES)
    check_single(genome, "mutate")
    if gene_rate is not None:
        _check_rate_like("gene_rate", gene_rate)
    values = flat(genome.blocks, genome.globals)
    sizes = flat_sizes(space, genome)
    can = flat_mutable(mutable, genome) & flat_expressed(space, genome) & (sizes >= 2)
    safe_sizes = jnp.maximum(sizes, 2)
    # One flat draw (cheap to compile): u[:n] picks genes, u[n:] picks offsets.
    n = values.shape[0]
    u = jax.random.uniform(key, (2 * n,))
    offsets = 1 + jnp.minimum((u[n:] * (safe_sizes - 1)).astype(values.dtype), safe_sizes - 2)
    if mode == "one":
        idx = jnp.argmax(jnp.where(can, u[:n], -1.0))
        new = (values[idx] + offsets[idx]) % safe_sizes[idx]
        values = values.at[idx].set(jnp.where(can[idx], new, values[idx]))
    else:
        if gene_rate is None:
            rate = 1.0 / jnp.maximum(jnp.sum(can), 1)
        elif isinstance(gene_rate, GeneMask):
            rate = flat(jnp.asarray(gene_rate.blocks, jnp.float32),
                         jnp.asarray(gene_rate.globals, jnp.float32))
        else:
            rate = jnp.asarray(gene_rate, jnp.float32)
        flip = can & (u[:n] < rate)
        values = jnp.where(flip, (values + offsets) % safe_sizes, values)
    return unflat(values, genome)


def mutate_population(
    key: jax.Array,
    population: Genome,
    space,
    mutable: GeneMask | None = None,
    rate=MUTATION_RATE,
    *,
    mode: str = "one",
    gene_rate=None,
) -> tuple[Genome, jax.Array]:
    """Mutate each individual of ``population`` (leading axis P) with probability ``rate``.

    ``mutable`` is a `GeneMask` shared by all (blocks [B, G]) or one per individual
    (blocks [P, B, G]); None means every gene. ``mode``/``gene_rate`` as in `mutate`
    (``gene_rate`` shared by all). ``rate`` is a Python number (validated) or an array.
    Returns ``(population, mutated bool[P])``; ``mutated[i]`` is True iff individual i
    was drawn for mutation AND its genes changed (with mode "one" every drawn individual
    that has a candidate gene changes; with "per_gene" it may draw no gene). With a
    `SearchSpace`, a changed individual always decodes to another network.
    """
    checks.choice("mode", mode, MUTATION_MODES)
    if checks.is_number(rate):
        checks.rate("rate", rate)
    if jnp.ndim(population.blocks) != 3:
        raise ValueError(
            f"mutate_population takes a population (blocks [P, B, G]), got blocks of shape "
            f"{jnp.shape(population.blocks)}"
        )
    p = population.blocks.shape[0]
    axis = mask_axis(mutable, "mutable")
    keys = jax.random.split(key, p + 1)
    drawn = jax.random.uniform(keys[p], (p,)) < rate
    keys = keys[:p]
    mutated = jax.vmap(
        lambda k, g, m: mutate(k, g, space, m, mode=mode, gene_rate=gene_rate),
        in_axes=(0, 0, axis),
    )(keys, population, mutable)
    out = tree_where(drawn, mutated, population)
    return out, drawn & genes_differ(out, population)


def add_remove_layer(key: jax.Array, genome: Genome, space: SearchSpace, rate,
                     min_blocks: int = 1) -> Genome:
    """With probability ``rate``, append a random block or drop the last active block.

    Add and remove are equally likely; at ``max_blocks`` the mutation removes, at
    ``min_blocks`` it adds. An added block (at the end of the active prefix) gets
    uniformly random genes; a removed slot is zeroed (as `random_genome` leaves masked
    slots). One genome; jit- and vmap-able.
    """
    check_single(genome, "add_remove_layer")
    if checks.is_number(rate):
        checks.rate("rate", rate)
    k_do, k_dir, k_genes = jax.random.split(key, 3)
    n = jnp.sum(genome.block_mask).astype(jnp.int32)
    do = jax.random.uniform(k_do) < rate
    add = jax.random.uniform(k_dir) < 0.5
    add = jnp.where(n >= space.max_blocks, False, jnp.where(n <= min_blocks, True, add))
    can_change = (n < space.max_blocks) | (n > min_blocks)
    do = do & can_change
    slot = jnp.where(add, n, n - 1)
    sizes = jnp.asarray(space.block_sizes)
    u = jax.random.uniform(k_genes, (space.n_block_genes,))
    fresh = jnp.minimum((u * sizes).astype(genome.blocks.dtype), sizes - 1)
    row = jnp.where(add, fresh, jnp.zeros_like(fresh))
    index = jnp.arange(space.max_blocks)
    at_slot = (index == slot) & do
    blocks = jnp.where(at_slot[:, None], row[None, :], genome.blocks)
    mask = jnp.where(at_slot, add, genome.block_mask)
    return genome.replace(blocks=blocks, block_mask=mask)


def add_remove_layer_population(key: jax.Array, population: Genome, space: SearchSpace,
                                rate, min_blocks: int = 1) -> Genome:
    """`add_remove_layer` on every individual of a population (leading axis P)."""
    keys = jax.random.split(key, population.blocks.shape[0])
    return jax.vmap(lambda k, g: add_remove_layer(k, g, space, rate, min_blocks))(
        keys, population)
