"""Tournament evolution.

"tournament": each generation keeps the ``ga.elites`` best members unchanged; every
other slot is a child of tournament winners (``ga.tournament_size``, drawn by
`operators.select_parents`): a copy of one winner with ``ga.crossover="none"`` (the
source's rule), else a crossover of two (``ga.crossover``); then mutated gene by gene with
per-gene probabilities (``ga.gene_rates``, else ``ga.mutation_rate``) and, with
probability ``ga.layer_mutation_rate``, given an extra layer or stripped of its last one
(`operators.add_remove_layer`). Its baseline, "random_population" (the population
re-randomised every generation), is `RandomSearch`.
"""

from __future__ import annotations

import dataclasses
import functools

import jax
import jax.numpy as jnp

from vlga_jax.genetics import operators as ops
from vlga_jax.genetics.genome import Genome, sync_depth
from vlga_jax.strategies.base import Strategy, gene_rate_mask
from vlga_jax.strategies.breeding import breeding_settings, breeding_summary
from vlga_jax.strategies.registry import register


@register("tournament")
@dataclasses.dataclass(frozen=True)
class Tournament(Strategy):
    """Elitist tournament GA with per-gene and add/remove-layer mutation."""

    # Children always mutate gene by gene: ga.mutation_mode is not read.
    params = ("elites", "parent_selection", "tournament_size", "softmax_temperature",
              "crossover", "mutation_rate", "gene_rates", "layer_mutation_rate")
    keeps_elites = True

    @classmethod
    def settings(cls, config, space) -> list[tuple[str, object]]:
        return [*super().settings(config, space), ("ga.elites", config.ga.elites),
                *breeding_settings(cls, config.ga, space)]

    @classmethod
    def summary(cls, config) -> list[str]:
        ga = config.ga
        return [*super().summary(config), f"tournament size {ga.tournament_size}",
                f"{ga.elites} elites", *breeding_summary(cls, ga)]

    def breed(self, key: jax.Array, population: Genome, fitness: jax.Array):
        """Elites first (fitness kept), then P - elites children (fitness NaN)."""
        return _tournament_breed(self, key, population, fitness)


@functools.partial(jax.jit, static_argnums=0)
def _tournament_breed(strategy: Tournament, key, population: Genome, fitness):
    """Elites first (fitness kept), then P - elites children (fitness NaN)."""
    ga, space = strategy.ga, strategy.space
    p = fitness.shape[0]
    n_children = p - ga.elites
    k_par, k_cross, k_mut, k_layer = jax.random.split(key, 4)
    elite = ops.elite_indices(fitness, ga.elites)
    pairs = ops.select_parents(k_par, fitness, n_children, ga.parent_selection,
                               tournament_size=ga.tournament_size,
                               temperature=ga.softmax_temperature)
    if ga.crossover == "none":
        children = jax.tree.map(lambda a: a[pairs[:, 0]], population)
    else:
        children = ops.crossover_population(k_cross, population, pairs, None, ga.crossover)
    children, _ = ops.mutate_population(k_mut, children, space, None, 1.0, mode="per_gene",
                                        gene_rate=gene_rate_mask(space, ga))
    if space.depth_gene is None:
        children = ops.add_remove_layer_population(k_layer, children, space,
                                                   ga.layer_mutation_rate)
    children = sync_depth(children, space)
    new_pop = jax.tree.map(lambda a, c: jnp.concatenate([a[elite], c]), population, children)
    new_fitness = jnp.concatenate([fitness[elite], jnp.full(n_children, jnp.nan)])
    needs = jnp.arange(p) >= ga.elites
    return new_pop, new_fitness, needs
