"""A fixed-length strategy's generation step as a pure function, for `jax.lax.scan`.

The ask/tell loop keeps Python scalars in its states (generation counters, phase
records), so it runs on the host. The single-phase strategies that breed at fixed shapes
(those that define `Strategy.breed`: "ga", "tournament", "random_population", "random")
also have a pure step over the array-only `PureState`, which a user can scan with their
own jittable fitness:

    strategy = make_strategy("ga", space, ga_config)
    state = pure.init(strategy, key)

    def generation(state, key):
        fitness = my_fitness(state.population)          # f32[P], higher is better
        return pure.step(strategy, key, state, fitness), fitness.max()

    state, best = jax.lax.scan(generation, state, jax.random.split(key, 10))

`step(strategy, key, state, fitness)` is `tell` followed by `ask`: the same key gives
the same next population as the host loop. Members that keep their fitness (survivors,
elites) have ``needs_eval`` False and the fitness given for them is ignored; NaN marks
a failed member (never selected as fit). VLGA phases and grid enumeration stay in the
host loop.
"""

from __future__ import annotations

import functools

import flax.struct
import jax
import jax.numpy as jnp

from vlga_jax.genetics.genome import Genome
from vlga_jax.strategies.base import no_pure_step


@flax.struct.dataclass
class PureState:
    """population: Genome [P, ...]; fitness: f32[P] (NaN: to evaluate); needs_eval:
    bool[P]; generation: int32 scalar (generations told so far)."""

    population: Genome
    fitness: jax.Array
    needs_eval: jax.Array
    generation: jax.Array


def init(strategy, key: jax.Array) -> PureState:
    """The initial population of ``strategy`` (as its ``init(key)``), all to evaluate."""
    if not strategy.has_pure_step():  # refuse strategies without a pure step early
        raise no_pure_step(strategy)
    s = strategy.init(key)
    return PureState(population=s.population, fitness=s.fitness, needs_eval=s.needs_eval,
                     generation=jnp.zeros((), jnp.int32))


@functools.partial(jax.jit, static_argnums=0)
def step(strategy, key: jax.Array, state: PureState, fitness: jax.Array) -> PureState:
    """Tell ``fitness`` (f32[P], read where ``state.needs_eval``) and breed the next
    generation with ``key``. Pure and jittable; ``strategy`` is static."""
    fitness = jnp.asarray(fitness, jnp.float32)
    if fitness.shape != state.fitness.shape:
        raise ValueError(f"step: fitness must have shape {state.fitness.shape}, got "
                         f"{fitness.shape}")
    merged = jnp.where(state.needs_eval, fitness, state.fitness)
    merged = jnp.where(jnp.isnan(merged), -jnp.inf, merged)
    population, new_fitness, needs = strategy.breed(key, state.population, merged)
    return PureState(population=population, fitness=new_fitness, needs_eval=needs,
                     generation=state.generation + 1)
