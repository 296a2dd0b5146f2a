"""Random search: every generation is ``ga.population`` fresh random candidates.

The baseline row of Xiao et al.'s Table 2 on the VLGA space: depth uniform in
1..max_blocks, every gene uniform. It runs ``ga.generations`` batches, or until
``ga.budget_epochs`` candidate-epochs are spent (the comparison's stopping rule).
Registered as "random" (`RandomSearch`) and as "random_population" (`RandomPopulation`:
the same loop, the baseline tournament evolution is compared with; it takes the
tournament preset's ``ga.elites``, which no generation reads).
"""

from __future__ import annotations

import dataclasses

import jax
import jax.numpy as jnp

from vlga_jax.genetics.genome import Genome
from vlga_jax.strategies.base import Strategy, random_depth_population
from vlga_jax.strategies.registry import register


@dataclasses.dataclass(frozen=True)
class RandomSearch(Strategy):
    """Uniformly random candidates, ``ga.population`` per ask."""

    needs_survivors = False

    def breed(self, key: jax.Array, population: Genome, fitness: jax.Array):
        """A fresh random population, every member to evaluate."""
        p = self.ga.population
        return (random_depth_population(key, self.space, p), jnp.full(p, jnp.nan),
                jnp.ones(p, bool))


@register("random_population")
@dataclasses.dataclass(frozen=True)
class RandomPopulation(RandomSearch):
    """`RandomSearch` as tournament evolution's baseline: ``ga.elites`` may keep the
    tournament preset's value."""

    keeps_elites = True


# After "random_population": the registry's order is the order messages list names in.
register("random")(RandomSearch)
