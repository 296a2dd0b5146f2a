"""Contracts every genome operator and every registered strategy keeps, checked alike
for all of them (as optax checks its transformations): an operator gives the same
genome under jit as eagerly and under vmap as in a loop, keeps shapes and dtypes, and
leaves inactive genes alone; a strategy runs on the shared skeleton with fixed shapes
and the same key gives the same populations."""

import jax
import numpy as np
import pytest

from vlga_jax.config import GAConfig
from vlga_jax.genetics import operators as op
from vlga_jax.genetics.space import xiao2020
from vlga_jax.strategies import STRATEGIES, SearchState, Strategy, make_strategy
from vlga_jax.strategies.base import random_depth_population

SPACE = xiao2020(max_blocks=3)
P = 4
POPULATION = random_depth_population(jax.random.key(0), SPACE, P)
PARTNERS = random_depth_population(jax.random.key(1), SPACE, P)
# Partners of each member's depth (crossover mixes genes of equally deep parents).
PARTNERS = PARTNERS.replace(block_mask=POPULATION.block_mask,
                            blocks=np.where(POPULATION.block_mask[..., None],
                                            PARTNERS.blocks, 0))

# name -> (f(key, genome, partner) -> genome, what "inactive genes untouched" means):
# "kept": genes of inactive blocks and the block mask unchanged; "zero": inactive blocks
# of the result are zeros (the operator changes depth); None: every slot is a gene.
OPERATORS = {
    "mutate_one": (lambda k, g, _: op.mutate(k, g, SPACE, mode="one"), "kept"),
    "mutate_per_gene": (lambda k, g, _: op.mutate(k, g, SPACE, mode="per_gene",
                                                  gene_rate=0.5), "kept"),
    "crossover_uniform": (lambda k, g, o: op.crossover(k, g, o, method="uniform"), "kept"),
    "crossover_one_point": (lambda k, g, o: op.crossover(k, g, o, method="one_point"),
                            "kept"),
    "bitflip": (lambda k, g, _: op.bitflip(k, g, SPACE, 0.3), None),
    "add_remove_layer": (lambda k, g, _: op.add_remove_layer(k, g, SPACE, 1.0), "zero"),
}


def member(tree, i):
    return jax.tree.map(lambda a: a[i], tree)


def assert_same(x, y):
    assert jax.tree.structure(x) == jax.tree.structure(y)
    for a, b in zip(jax.tree.leaves(x), jax.tree.leaves(y), strict=True):
        assert np.asarray(a).dtype == np.asarray(b).dtype
        np.testing.assert_array_equal(a, b)


@pytest.mark.parametrize("name", sorted(OPERATORS))
def test_operator_contract(name):
    fn, inactive = OPERATORS[name]
    keys = jax.random.split(jax.random.key(2), P)
    jitted = jax.jit(fn)
    looped = [jitted(keys[i], member(POPULATION, i), member(PARTNERS, i)) for i in range(P)]
    deepest = int(np.argmax(POPULATION.n_active))  # eager is slow: one member, all genes
    assert_same(fn(keys[deepest], member(POPULATION, deepest), member(PARTNERS, deepest)),
                looped[deepest])
    batched = jax.jit(jax.vmap(fn))(keys, POPULATION, PARTNERS)
    assert_same(batched, jax.tree.map(lambda *xs: np.stack(xs), *looped))
    for out, orig in zip(jax.tree.leaves(batched), jax.tree.leaves(POPULATION), strict=True):
        assert out.shape == orig.shape and out.dtype == orig.dtype
    mask = np.asarray(POPULATION.block_mask)
    if inactive == "kept":
        np.testing.assert_array_equal(batched.block_mask, mask)
        np.testing.assert_array_equal(np.asarray(batched.blocks)[~mask],
                                      np.asarray(POPULATION.blocks)[~mask])
    elif inactive == "zero":
        out_mask = np.asarray(batched.block_mask)
        assert not np.any(np.asarray(batched.blocks)[~out_mask])


def populations(strategy, key, steps=3):
    """The populations (and needs_eval) of ``steps`` ask/tell rounds with a fixed fitness,
    in evosax's argument order."""
    state = strategy.init(key)
    seen = []
    for i in range(steps):
        population, state = strategy.ask(jax.random.fold_in(key, i), state,
                                         strategy.default_params)
        if state.done:
            assert not np.any(np.asarray(state.needs_eval))
            break
        seen.append((population, state.needs_eval))
        told = strategy.tell(population, np.linspace(0.1, 0.9, P, dtype=np.float32), state,
                             strategy.default_params)
        assert_same(told.population, state.population)  # tell only records
        assert not np.any(np.asarray(told.needs_eval))
        state = told
    return seen


def legacy_populations(strategy, key, steps=3):
    """`populations` through the deprecated order: ask(key, state) -> (population,
    needs_eval, state) and tell(state, fitness), each warning."""
    state = strategy.init(key)
    seen = []
    for i in range(steps):
        with pytest.warns(DeprecationWarning, match="ask"):
            population, needs, state = strategy.ask(jax.random.fold_in(key, i), state)
        if state.done:
            break
        seen.append((population, needs))
        with pytest.warns(DeprecationWarning, match="tell"):
            state = strategy.tell(state, np.linspace(0.1, 0.9, P, dtype=np.float32))
    return seen


@pytest.mark.parametrize("name", sorted(STRATEGIES))
def test_config_offers_every_registered_strategy(name):
    assert GAConfig(strategy=name).strategy == name
    with pytest.raises(ValueError, match=r"ga.strategy must be one of \('vlga', 'ga', "):
        GAConfig(strategy=name + "_unregistered")


@pytest.mark.parametrize("name", sorted(STRATEGIES))
def test_strategy_contract(name):
    strategy = make_strategy(name, SPACE, GAConfig(population=P, generations=3,
                                                   max_phases=2, strategy=name))
    assert isinstance(strategy, Strategy)
    assert isinstance(strategy.init(jax.random.key(0)), SearchState)
    first = populations(strategy, jax.random.key(3))
    assert first
    for population, needs in first:
        for out, ref in zip(jax.tree.leaves(population), jax.tree.leaves(POPULATION),
                            strict=True):
            assert out.shape == ref.shape and np.asarray(out).dtype == ref.dtype
        assert np.asarray(needs).shape == (P,) and np.asarray(needs).dtype == bool
    again = populations(strategy, jax.random.key(3))
    legacy = legacy_populations(strategy, jax.random.key(3))
    assert len(again) == len(first) == len(legacy)
    for (a, na), (b, nb), (c, nc) in zip(first, again, legacy, strict=True):
        assert_same(a, b)
        assert_same(a, c)
        np.testing.assert_array_equal(na, nb)
        np.testing.assert_array_equal(na, nc)


@pytest.mark.parametrize("name", sorted(STRATEGIES))
def test_strategy_refuses_a_wrong_tell(name):
    ga = GAConfig(population=P, generations=3, max_phases=2, strategy=name)
    strategy = make_strategy(name, SPACE, ga)
    assert strategy.default_params is ga
    population, state = strategy.ask(jax.random.key(0), strategy.init(jax.random.key(0)),
                                     None)
    fitness = np.linspace(0.1, 0.9, P, dtype=np.float32)
    other = jax.tree.map(lambda a: a[::-1], population)
    if not all(np.array_equal(a, b) for a, b in zip(jax.tree.leaves(other),
                                                    jax.tree.leaves(population), strict=True)):
        with pytest.raises(ValueError, match="the population the last ask returned"):
            strategy.tell(other, fitness, state, None)
    with pytest.raises(TypeError, match="state must be a SearchState"):
        strategy.tell(population, fitness, "state", None)
    with pytest.raises(TypeError, match="params must be None or a"):
        strategy.ask(jax.random.key(1), state, {"population": P})
    with pytest.raises(ValueError, match="params.population must be"):
        strategy.tell(population, fitness, state, GAConfig(population=P + 1, strategy=name))
    # A copy of the asked population (not the same object) is accepted.
    told = strategy.tell(jax.tree.map(np.array, population), fitness, state, ga)
    assert np.asarray(told.fitness).shape == (P,)
