"""Fixed-length binary chromosomes: a genome as groups of bits, and bit-flip mutation.

Gene i of a table of size n is the integer of its ceil(log2 n) bits; every block slot,
active or not, is part of the chromosome, in the space's order (blocks then globals, or
globals first with `SearchSpace.globals_first`). Shapes: a genome is ``blocks int32[B, G]``,
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
from vlga_jax.genetics.genome import GeneMask, Genome, sync_depth
from vlga_jax.genetics.space import SearchSpace


def gene_bits(space) -> tuple[np.ndarray, np.ndarray]:
    """Bits per gene ``(block int32[G], global int32[H])``: ceil(log2(table size)).

    A gene with a power-of-two table is exactly a group of bits; a chromosome of
    `space.binary_cnn` has sum(bits) = 20 bits at 7 stages.
    """
    def bits(sizes):
        return np.array([max(0, math.ceil(math.log2(int(s)))) for s in sizes], np.int32)

    return bits(space.block_sizes), bits(space.global_sizes)


def chromosome_length(space: SearchSpace) -> int:
    """Number of bits of a full chromosome (every block slot counted)."""
    block, global_ = gene_bits(space)
    return int(space.max_blocks * block.sum() + global_.sum())


def _flat_bits(space: SearchSpace) -> np.ndarray:
    """int32[B*G + H]: bits of every gene slot, in the chromosome order."""
    block, global_ = gene_bits(space)
    block = np.broadcast_to(block, (space.max_blocks, space.n_block_genes)).reshape(-1)
    return np.concatenate([global_, block] if space.globals_first else [block, global_])


def chromosome_bits(genome: Genome, space: SearchSpace) -> np.ndarray:
    """uint8[L]: the chromosome of one genome (L = `chromosome_length`), its genes in
    the space's order, each gene's bits most significant first."""
    check_single(genome, "chromosome_bits")
    values = np.asarray(flat(genome.blocks, genome.globals, space.globals_first))
    return np.array([(int(v) >> (n - 1 - i)) & 1
                     for v, n in zip(values, _flat_bits(space), strict=True)
                     for i in range(n)], np.uint8)


def from_chromosome_bits(bits, space: SearchSpace) -> Genome:
    """The genome of a chromosome (0/1 values laid out as `chromosome_bits` returns).

    An index past its table wraps (``index % size``, as in `bitflip`); ``block_mask``
    follows the depth gene (every block active in a space without one).
    """
    bits = np.asarray(bits)
    length = chromosome_length(space)
    checks.require(bits.shape == (length,) and bool(np.isin(bits, (0, 1)).all()), "bits",
                   f"{length} values, each 0 or 1", bits.tolist())
    nbits = _flat_bits(space)
    ends = np.cumsum(nbits)
    values = np.array([int("".join(map(str, bits[end - n:end].tolist())) or "0", 2)
                       for n, end in zip(nbits, ends, strict=True)], np.int32)
    template = Genome(blocks=jnp.zeros((space.max_blocks, space.n_block_genes), jnp.int32),
                      block_mask=jnp.ones(space.max_blocks, bool),
                      globals=jnp.zeros(space.n_global_genes, jnp.int32))
    sizes = np.asarray(flat_sizes(space, template, space.globals_first))
    genome = unflat(jnp.asarray(values % np.maximum(sizes, 1)), template, space.globals_first)
    return sync_depth(genome, space)


def bitflip(key: jax.Array, genome: Genome, space: SearchSpace, rate,
            mutable: GeneMask | None = None) -> Genome:
    """Flip every bit of the chromosome independently with probability ``rate``.

    Gene index i of a table of size n is the integer of its ceil(log2 n) bits; after the
    flips an index >= n wraps to ``index % n`` (never for power-of-two tables). Every block
    slot is part of the chromosome (fixed length), active or not, in the space's order
    (``space.globals_first``); only ``mutable`` genes (None: all) change. One genome
    (blocks [B, G]); jit- and vmap-able.
    """
    check_single(genome, "bitflip")
    if checks.is_number(rate):
        checks.rate("rate", rate)
    block_bits, global_bits = gene_bits(space)
    max_bits = int(max(block_bits.max(initial=0), global_bits.max(initial=0), 1))
    order = space.globals_first
    values = flat(genome.blocks, genome.globals, order)
    sizes = flat_sizes(space, genome, order)
    nbits = flat(jnp.broadcast_to(jnp.asarray(block_bits), genome.blocks.shape),
                  jnp.asarray(global_bits), order)
    can = flat_mutable(mutable, genome, order)
    u = jax.random.uniform(key, (values.shape[0], max_bits))
    bit = jnp.arange(max_bits)
    flips = (u < rate) & (bit[None, :] < nbits[:, None]) & can[:, None]
    xor = jnp.sum(jnp.where(flips, 1 << bit, 0), axis=1).astype(values.dtype)
    new = (values ^ xor) % jnp.maximum(sizes, 1)
    return unflat(new, genome, order)


def bitflip_population(key: jax.Array, population: Genome, space: SearchSpace, rate,
                       mutable: GeneMask | None = None) -> tuple[Genome, jax.Array]:
    """`bitflip` on every individual; returns ``(population, changed bool[P])``."""
    if checks.is_number(rate):
        checks.rate("rate", rate)
    keys = jax.random.split(key, population.blocks.shape[0])
    out = jax.vmap(lambda k, g: bitflip(k, g, space, rate, mutable))(keys, population)
    return out, genes_differ(out, population)
