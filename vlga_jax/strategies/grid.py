"""Exhaustive grid search in a fixed, deterministic order, ``ga.population`` per ask.

The order: depth ascending (1..max_blocks; the values of the space's depth gene, or
block-mask prefixes), and within a depth the product of the active block genes (block 0
first) and the global genes, in table order, with the LAST gene varying fastest (as
``itertools.product``). The mlp-ga space holds 43,512 networks (6 + 36 + 216 + 1,296
unit choices x 4 activations x 7 optimizers), so the "grid" preset stops at a budget
(``ga.budget_epochs``); the comparison reads the time-to-same-result off it: the budget
at which the grid first reaches the GA's best fitness. Conditional genes may repeat a
network (`genome_hash` equal): repeats are cache hits and cost nothing.

The key is unused: the grid is the same for every seed (only training noise differs).
"""

from __future__ import annotations

import dataclasses
import math

import jax
import jax.numpy as jnp
import numpy as np

from vlga_jax.genome import Genome
from vlga_jax.space import grid_depths, grid_radices, grid_size
from vlga_jax.strategies.base import SearchState, Strategy, register


@register("grid")
@dataclasses.dataclass(frozen=True)
class Grid(Strategy):
    """Enumerate the space (see module docstring); done when every network was asked."""

    needs_survivors = False

    # -- enumeration (host side, Python integers: the grid may exceed 2**63) ---------------
    def depths(self) -> list[int]:
        return grid_depths(self.space)

    def _radices(self, depth: int) -> list[int]:
        return grid_radices(self.space, depth)

    @property
    def size(self) -> int:
        """Number of grid points (networks, counting conditional repeats)."""
        return grid_size(self.space)

    def genome_at(self, index: int) -> Genome:
        """The ``index``-th grid point (0 <= index < size) as one genome (numpy arrays)."""
        space = self.space
        for depth in self.depths():
            radices = self._radices(depth)
            count = math.prod(radices)
            if index < count:
                break
            index -= count
        else:
            raise IndexError(f"grid index out of range (size {self.size})")
        digits = []
        for r in reversed(radices):
            index, d = divmod(index, r)
            digits.append(d)
        digits = digits[::-1]
        g = space.n_block_genes
        blocks = np.zeros((space.max_blocks, g), np.int32)
        blocks[:depth] = np.array(digits[:depth * g], np.int32).reshape(depth, g)
        rest = iter(digits[depth * g:])
        globals_ = np.zeros(space.n_global_genes, np.int32)
        for c, gene in enumerate(space.global_genes):
            globals_[c] = (gene.index(depth) if gene.name == space.depth_gene
                           else next(rest))
        mask = np.arange(space.max_blocks) < depth
        return Genome(blocks=blocks, block_mask=mask, globals=globals_)

    def _batch(self, start: int) -> tuple[Genome, jax.Array]:
        p, size = self.ga.population, self.size
        indices = [min(start + i, size - 1) for i in range(p)]
        genomes = [self.genome_at(i) for i in indices]
        pop = jax.tree.map(lambda *a: jnp.asarray(np.stack(a)), *genomes)
        needs = jnp.asarray([start + i < size for i in range(p)])
        return pop, needs

    # -- ask/tell --------------------------------------------------------------------------
    def init(self, key: jax.Array) -> SearchState:
        pop, needs = self._batch(0)
        p = self.ga.population
        return SearchState(population=pop, fitness=jnp.full(p, jnp.nan), needs_eval=needs,
                           position=min(p, self.size))

    def _finished(self, state: SearchState) -> str:
        if state.position >= self.size:
            return f"enumerated the whole grid ({self.size} networks)"
        return ""

    def _next(self, key: jax.Array, state: SearchState) -> SearchState:
        pop, needs = self._batch(state.position)
        p = self.ga.population
        return state.replace(population=pop, fitness=jnp.full(p, jnp.nan), needs_eval=needs,
                             position=min(state.position + p, self.size),
                             generation=state.generation + 1, told=False)
