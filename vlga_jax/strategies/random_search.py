"""Random search: every generation is ``ga.population`` fresh random candidates.

The baseline row of Xiao et al.'s Table 2 on the VLGA space: depth uniform in
1..max_blocks, every gene uniform. It runs ``ga.generations`` batches, or until
``ga.budget_epochs`` candidate-epochs are spent (the comparison's stopping rule).
"""

from __future__ import annotations

import dataclasses

import jax

from vlga_jax.strategies.base import SearchState, Strategy, register


@register("random")
@dataclasses.dataclass(frozen=True)
class RandomSearch(Strategy):
    """Uniformly random candidates, ``ga.population`` per ask."""

    needs_survivors = False

    def _next(self, key: jax.Array, state: SearchState) -> SearchState:
        return self._random_generation(key, state)
