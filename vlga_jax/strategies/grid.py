"""Exhaustive grid search: every distinct network of the space once, ``ga.population``
per ask, in a fixed order.

The order: depth ascending (the values of the space's depth gene, or block-mask
prefixes 1..max_blocks), then the global genes' settings, then the blocks' settings
(block 0 slowest), each in table order with the last gene varying fastest. Only active
genes are enumerated (`SearchSpace.global_settings` / `block_settings`), so no network
comes twice and the grid has `SearchSpace.size` points: 672 on the mlp-ga space. A
budget (``ga.budget_epochs``) stops it early, as for any strategy.

The key is unused: the grid is the same for every seed (only training noise differs).
"""

from __future__ import annotations

import dataclasses

import jax
import jax.numpy as jnp
import numpy as np

from vlga_jax.core.checks import require
from vlga_jax.genetics.genome import Genome, encode
from vlga_jax.strategies.base import SearchState, Strategy
from vlga_jax.strategies.registry import register


@register("grid")
@dataclasses.dataclass(frozen=True)
class Grid(Strategy):
    """Enumerate the space (see module docstring); done when every network was asked."""

    needs_survivors = False

    # -- settings (``config``: a `Config`; ``config.grid_size()`` is `Grid.size`) --------
    @classmethod
    def check_config(cls, config) -> None:
        """A grid without a budget trains every network: refused unless the grid fits in
        ga.population x ga.generations candidates."""
        ga = config.ga
        if ga.budget_epochs is not None:
            return
        size = config.grid_size()
        asked = ga.population * ga.generations
        require(size <= asked, "ga.budget_epochs",
                f"set with ga.strategy='grid' on this space: its grid holds {size:,} "
                "networks and ga.generations does not bound a grid, so all of them "
                f"would train; e.g. ga.budget_epochs={asked * config.train.epochs} "
                f"(ga.population x ga.generations x train.epochs), or a smaller space",
                ga.budget_epochs)

    @classmethod
    def planned_generations(cls, config) -> int:
        """Batches of ga.population until the grid or the budget is spent (more when
        conditional genes repeat networks: repeats are free)."""
        ga = config.ga
        networks = config.grid_size()
        if ga.budget_epochs is not None:
            networks = min(networks, ga.budget_epochs // config.train.epochs)
        return max(1, -(-networks // ga.population))

    @classmethod
    def settings(cls, config, space) -> list[tuple[str, object]]:
        ga = config.ga  # no ga.generations: the grid's size decides
        return [] if ga.budget_epochs is None else [("ga.budget_epochs", ga.budget_epochs)]

    @classmethod
    def summary(cls, config) -> list[str]:
        ga = config.ga
        parts = [f"{ga.population} per step"]
        if ga.budget_epochs is not None:
            parts.append(f"budget {ga.budget_epochs} candidate-epochs")
        return parts

    # -- enumeration -----------------------------------------------------------------------

    @property
    def size(self) -> int:
        """Number of grid points: the space's distinct networks."""
        return self.space.size()

    def genome_at(self, index: int) -> Genome:
        """The ``index``-th grid point (0 <= index < size) as one genome (numpy arrays).

        Python integers throughout: a grid may exceed 2**63 points.
        """
        space = self.space
        if index < 0:
            raise IndexError(f"grid index must be >= 0, got {index}")
        for depth in space.depths():
            for globals_ in space.global_settings():
                blocks = space.block_settings(globals_)
                count = len(blocks) ** depth
                if index < count:
                    return self._genome(depth, globals_, blocks, index)
                index -= count
        raise IndexError(f"grid index out of range (size {self.size})")

    def _genome(self, depth: int, globals_: dict, blocks: list[dict], index: int) -> Genome:
        space = self.space
        chosen = []
        for _ in range(depth):
            index, i = divmod(index, len(blocks))
            chosen.append(blocks[i])
        chosen.reverse()  # block 0 varies slowest
        gvalues = dict(globals_)
        if space.depth_gene is not None:
            gvalues[space.depth_gene] = depth
        genome = encode({"blocks": chosen, "globals": gvalues}, space)
        return jax.tree.map(np.asarray, genome)

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
