"""Fixed-length binary chromosomes: a genome as groups of bits, and bit-flip mutation.

Gene i of a table of size n is the integer of its ceil(log2 n) bits; every block slot,
active or not, is part of the chromosome. Shapes: a genome is ``blocks int32[B, G]``,
``block_mask bool[B]``, ``globals int32[H]``; a population adds a leading axis ``P``.
"""

from __future__ import annotations

import math

import jax
import jax.numpy as jnp
import numpy as np

from vlga_jax.core import checks
from vlga_jax.genetics.flat_genes import (
    check_single,
    flat,
    flat_mutable,
    flat_sizes,
    genes_differ,
    unflat,
)
from vlga_jax.genetics.genome import GeneMask, Genome
from vlga_jax.genetics.space import SearchSpace


def gene_bits(space) -> tuple[np.ndarray, np.ndarray]:
    """Bits per gene ``(block int32[G], global int32[H])``: ceil(log2(table size)).

    A gene with a power-of-two table is exactly a group of bits; a chromosome of
    `space.binary_cnn` has sum(bits) = 20 bits at 8 stages.
    """
    def bits(sizes):
        return np.array([max(0, math.ceil(math.log2(int(s)))) for s in sizes], np.int32)

    return bits(space.block_sizes), bits(space.global_sizes)


def chromosome_length(space: SearchSpace) -> int:
    """Number of bits of a full chromosome (every block slot counted)."""
    block, global_ = gene_bits(space)
    return int(space.max_blocks * block.sum() + global_.sum())


def bitflip(key: jax.Array, genome: Genome, space: SearchSpace, rate,
            mutable: GeneMask | None = None) -> Genome:
    """Flip every bit of the chromosome independently with probability ``rate``.

    Gene index i of a table of size n is the integer of its ceil(log2 n) bits; after the
    flips an index >= n wraps to ``index % n`` (never for power-of-two tables). Every block
    slot is part of the chromosome (fixed length), active or not; only ``mutable`` genes
    (None: all) change. One genome (blocks [B, G]); jit- and vmap-able.
    """
    check_single(genome, "bitflip")
    if checks.is_number(rate):
        checks.rate("rate", rate)
    block_bits, global_bits = gene_bits(space)
    max_bits = int(max(block_bits.max(initial=0), global_bits.max(initial=0), 1))
    values = flat(genome.blocks, genome.globals)
    sizes = flat_sizes(space, genome)
    nbits = flat(jnp.broadcast_to(jnp.asarray(block_bits), genome.blocks.shape),
                  jnp.asarray(global_bits))
    can = flat_mutable(mutable, genome)
    u = jax.random.uniform(key, (values.shape[0], max_bits))
    bit = jnp.arange(max_bits)
    flips = (u < rate) & (bit[None, :] < nbits[:, None]) & can[:, None]
    xor = jnp.sum(jnp.where(flips, 1 << bit, 0), axis=1).astype(values.dtype)
    new = (values ^ xor) % jnp.maximum(sizes, 1)
    return unflat(new, genome)


def bitflip_population(key: jax.Array, population: Genome, space: SearchSpace, rate,
                       mutable: GeneMask | None = None) -> tuple[Genome, jax.Array]:
    """`bitflip` on every individual; returns ``(population, changed bool[P])``."""
    if checks.is_number(rate):
        checks.rate("rate", rate)
    keys = jax.random.split(key, population.blocks.shape[0])
    out = jax.vmap(lambda k, g: bitflip(k, g, space, rate, mutable))(keys, population)
    return out, genes_differ(out, population)
