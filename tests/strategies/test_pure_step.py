"""Fixed-length strategies stepped inside `jax.lax.scan` with a jitted synthetic fitness
(`vlga_jax.strategies.pure`), against the host ask/tell loop: no training."""

import jax
import jax.numpy as jnp
import numpy as np
import pytest
from support import STRATEGY, small

from vlga_jax.strategies import pure

GENERATIONS = 2  # breeding steps; test_strategies' instances run 3 generations


def synthetic_fitness(population):
    """f32[P]: the sum of the active blocks' gene indices (jittable, higher is better)."""
    blocks = jnp.where(population.block_mask[..., None], population.blocks, 0)
    return jnp.sum(blocks, axis=(1, 2)).astype(jnp.float32) + jnp.sum(population.globals, 1)


def scanned(strategy, key):
    keys = jax.random.split(key, GENERATIONS + 1)

    @jax.jit
    def run(keys):
        def generation(state, k):
            fitness = synthetic_fitness(state.population)
            best = jnp.max(jnp.where(state.needs_eval, fitness, state.fitness))
            return pure.step(strategy, k, state, fitness), (state.population, best)
        return jax.lax.scan(generation, pure.init(strategy, keys[0]), keys[1:])

    return run(keys), keys


@pytest.mark.parametrize("preset", ["classical-ga", "tournament"])
def test_scan_matches_the_host_loop_and_improves(preset):
    strategy, _ = STRATEGY[preset]  # its host breeding program is compiled once
    (final, (populations, best)), keys = scanned(strategy, jax.random.key(5))
    assert int(final.generation) == GENERATIONS
    # The host loop: init with the first key, then ask with the key the scan used.
    state = strategy.init(keys[0])
    for i in range(GENERATIONS):
        population, state = strategy.ask(keys[i], state, None)
        np.testing.assert_array_equal(population.blocks, populations.blocks[i])
        np.testing.assert_array_equal(population.globals, populations.globals[i])
        state = strategy.tell(population, synthetic_fitness(population), state, None)
    population, state = strategy.ask(keys[GENERATIONS], state, None)
    np.testing.assert_array_equal(population.blocks, final.population.blocks)
    np.testing.assert_array_equal(np.asarray(state.fitness), np.asarray(final.fitness))
    # Survivors and elites keep the best: the best fitness never drops.
    assert np.all(np.diff(np.asarray(best)) >= 0)


def test_strategies_with_host_state_have_no_pure_step():
    strategy, _ = small("grid")
    with pytest.raises(ValueError, match="has no pure step"):
        pure.init(strategy, jax.random.key(0))
