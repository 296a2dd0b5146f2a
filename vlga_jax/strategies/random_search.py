"""Random search: every generation is ``ga.population`` fresh random candidates.

The baseline row of Xiao et al.'s Table 2 on the VLGA space: depth uniform in
1..max_blocks, every gene uniform. It runs ``ga.generations`` batches, or until
``ga.budget_epochs`` candidate-epochs are spent (the comparison's stopping rule).
Registered as "random" and as "random_population" (the baseline tournament evolution
is compared with: the same loop).
"""

from __future__ import annotations

import dataclasses

import jax
import jax.numpy as jnp

from vlga_jax.strategies.base import (
    SearchState,
    Strategy,
    random_depth_population,
    register,
)


@register("random", "random_population")
@dataclasses.dataclass(frozen=True)
class RandomSearch(Strategy):
    """Uniformly random candidates, ``ga.population`` per ask."""

    needs_survivors = False

    def _next(self, key: jax.Array, state: SearchState) -> SearchState:
        p = self.ga.population
        return state.replace(population=random_depth_population(key, self.space, p),
                             fitness=jnp.full(p, jnp.nan), needs_eval=jnp.ones(p, bool),
                             generation=state.generation + 1, told=False)
