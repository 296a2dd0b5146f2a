"""A classical generational GA over fixed-length genomes.

Used by three presets: "classical-ga" (fixed-depth CNNs: every gene of every block is
evolved at once; Table 2 of Xiao et al.), "mlp-ga" (1-4 dense layers, retain the top
40%, keep others with probability 0.1, mutate children with probability 0.2, uniform
crossover) and "binary-cnn" (a 20-bit chromosome, one-point crossover, bit-flip
mutation with rate 1/population).

One generation (`GA.breed`, jitted at fixed shapes): survivors are the
``ga.fit_survival_rate`` best plus each other member with probability
``ga.unfit_survival_prob``; they are kept unchanged, with their fitness. The free slots
are filled with children of two parents drawn among the survivors
(``ga.parent_selection``), crossed over (``ga.crossover``) and mutated
(``ga.mutation_mode``): "one" mutates a child's single random gene with probability
``ga.mutation_rate``; "per_gene" mutates each gene with its own probability
(``ga.gene_rates``, else ``ga.mutation_rate``); "bitflip" flips each bit of the child's
chromosome with probability ``ga.mutation_rate``.
"""

from __future__ import annotations

import dataclasses
import functools

import jax
import jax.numpy as jnp

from vlga_jax.core.names import GA_MUTATION_MODES
from vlga_jax.genetics import operators as ops
from vlga_jax.genetics.genome import Genome, random_population, sync_depth
from vlga_jax.strategies.base import Strategy, gene_rate_mask
from vlga_jax.strategies.breeding import (
    breeding_settings,
    breeding_summary,
    check_survivor_parents,
    survivor_settings,
)
from vlga_jax.strategies.registry import register


@register("ga")
@dataclasses.dataclass(frozen=True)
class GA(Strategy):
    """Classical fixed-length GA (see module docstring)."""

    params = ("fit_survival_rate", "unfit_survival_prob", "parent_selection",
              "tournament_size", "softmax_temperature", "crossover", "mutation_mode",
              "mutation_rate", "gene_rates")
    mutation_modes = GA_MUTATION_MODES  # "bitflip" too

    @classmethod
    def uses_gene_rates(cls, ga) -> bool:
        return ga.mutation_mode == "per_gene"

    @classmethod
    def check(cls, ga) -> None:
        check_survivor_parents(ga)
        super().check(ga)

    @classmethod
    def settings(cls, config, space) -> list[tuple[str, object]]:
        return [*super().settings(config, space), *survivor_settings(config.ga),
                *breeding_settings(cls, config.ga, space)]

    @classmethod
    def summary(cls, config) -> list[str]:
        return [*super().summary(config), *breeding_summary(cls, config.ga)]

    def _initial(self, key: jax.Array) -> Genome:
        # Fixed length: every block slot is part of the chromosome. A depth gene (mlp-ga
        # layers, binary-cnn stages) then decides which blocks the network uses.
        pop = random_population(key, self.space, self.ga.population, self.space.max_blocks)
        return sync_depth(pop, self.space)

    def breed(self, key: jax.Array, population: Genome, fitness: jax.Array):
        """Survivors first (fitness kept), then mutated children (fitness NaN)."""
        return _ga_breed(self, key, population, fitness)


def mutate_children(strategy: Strategy, key: jax.Array, children: Genome) -> Genome:
    """Mutate a population of children by ``strategy.ga.mutation_mode`` (see module doc)."""
    ga, space = strategy.ga, strategy.space
    if ga.mutation_mode == "bitflip":
        children, _ = ops.bitflip_population(key, children, space, ga.mutation_rate)
    elif ga.mutation_mode == "per_gene":
        children, _ = ops.mutate_population(key, children, space, None, 1.0, mode="per_gene",
                                            gene_rate=gene_rate_mask(space, ga))
    else:
        children, _ = ops.mutate_population(key, children, space, None, ga.mutation_rate,
                                            mode="one")
    return sync_depth(children, space)


@functools.partial(jax.jit, static_argnums=0)
def _ga_breed(strategy: GA, key, population: Genome, fitness):
    """Survivors first (fitness kept), then mutated children (fitness NaN, to evaluate)."""
    ga = strategy.ga
    p = fitness.shape[0]
    k_surv, k_par, k_cross, k_mut = jax.random.split(key, 4)
    survive = ops.select_survivors(k_surv, fitness, ga.fit_survival_rate,
                                   ga.unfit_survival_prob)
    pairs = ops.select_parents(k_par, fitness, p, ga.parent_selection, eligible=survive,
                               tournament_size=ga.tournament_size,
                               temperature=ga.softmax_temperature)
    children = ops.crossover_population(k_cross, population, pairs, None, ga.crossover,
                                        strategy.space.globals_first)
    children = mutate_children(strategy, k_mut, children)
    new_pop, order, is_survivor = ops.survivors_then_children(survive, population, children)
    new_fitness = jnp.where(is_survivor, fitness[order], jnp.nan)
    return new_pop, new_fitness, ~is_survivor
