"""The VLGA strategy (init / ask / tell) driven by a fake fitness function: no training."""

import dataclasses
import hashlib

import jax
import numpy as np
import pytest

from vlga_jax.config import GAConfig, SpaceConfig
from vlga_jax.genetics import genome as G
from vlga_jax.strategies import VLGA, SearchFailed

SPACE = SpaceConfig(max_blocks=3, channels=(8, 16, 32), kernels=(1, 3, 5)).build()
GA = GAConfig(population=8, generations=2, max_phases=3, stop_drop=0.01)
STRATEGY = VLGA(SPACE, GA)  # one instance: its jitted steps compile once for the module


def score(genome) -> int:
    """A deterministic 0..5 per network (equal genomes score alike)."""
    digest = hashlib.sha256(G.genome_hash(genome, SPACE).encode()).digest()
    return digest[0] % 6


def fake_fitness(population, base: float) -> np.ndarray:
    """``base`` minus 0.001 * score: every phase's best lies in [base - 0.005, base]."""
    return np.array([base - 0.001 * score(g) for g in G.unstack(population)], np.float32)


def drive(strategy, key, bases, fitness_fn=fake_fitness, max_steps=50):
    """Run ask/tell to the end; returns (final state, steps). A step records the state
    ``ask`` returned (before tell), the fitness told and the state after tell."""
    state = strategy.init(key)
    steps = []
    for i in range(max_steps):
        population, state = strategy.ask(jax.random.fold_in(key, i), state, None)
        if state.done:
            return state, steps
        needs_eval = state.needs_eval
        fitness = fitness_fn(population, bases[state.phase])
        told = strategy.tell(population, fitness, state, None)
        steps.append({"asked": state, "population": population, "needs_eval": needs_eval,
                      "fitness": fitness, "told": told})
        state = told
    raise AssertionError("the search did not finish")


def genomes_equal(a, b) -> bool:
    return all(np.array_equal(x, y) for x, y in zip(jax.tree.leaves(a), jax.tree.leaves(b),
                                                    strict=True))


@pytest.fixture(scope="module")
def full_run():
    """Three phases of two generations; phase bests 0.8, 0.8, 0.8 (no early stop)."""
    return drive(STRATEGY, jax.random.key(0), [0.8, 0.8, 0.8])


def test_phase_zero_population(full_run):
    _, steps = full_run
    first = steps[0]
    state = first["asked"]
    assert (state.phase, state.generation) == (0, 0)
    pop = first["population"]
    assert pop.blocks.shape[0] == GA.population
    assert np.all(np.asarray(first["needs_eval"]))
    assert np.all(np.isnan(np.asarray(state.fitness)))
    for genome in G.unstack(pop):
        desc = G.decode(genome, SPACE)
        assert len(desc["blocks"]) == 1
        assert desc["blocks"][0]["include_b"] is True
    assert np.all(np.asarray(pop.n_active) == 1)
    # Only block 0 (minus include_b) and the globals are mutable in phase 0.
    mask = state.mutable
    assert np.all(np.asarray(mask.blocks)[1:] == 0)
    assert not np.asarray(mask.blocks)[0, SPACE.block_column("include_b")]
    assert np.asarray(mask.blocks)[0].sum() == SPACE.n_block_genes - 1
    assert np.all(np.asarray(mask.globals))


def test_ask_before_tell_repeats_the_population():
    state = STRATEGY.init(jax.random.key(1))
    pop1, state1 = STRATEGY.ask(jax.random.key(2), state, None)
    pop2, state2 = STRATEGY.ask(jax.random.key(3), state1, None)
    needs1, needs2 = state1.needs_eval, state2.needs_eval
    assert genomes_equal(pop1, pop2)
    assert np.array_equal(needs1, needs2)


def test_survivors_keep_fitness_and_only_changed_members_need_evaluation(full_run):
    _, steps = full_run
    checked = 0
    for prev, cur in zip(steps, steps[1:], strict=False):
        if cur["asked"].phase != prev["asked"].phase:
            continue  # a new phase starts from scratch
        assert cur["asked"].generation == prev["asked"].generation + 1
        old = G.unstack(prev["population"])
        old_fitness = np.asarray(prev["told"].fitness)
        pop = G.unstack(cur["population"])
        assert len(pop) == GA.population
        needs = np.asarray(cur["needs_eval"])
        fitness = np.asarray(cur["asked"].fitness)
        for i, genome in enumerate(pop):
            same = [j for j, g in enumerate(old) if genomes_equal(g, genome)]
            if not needs[i]:
                # An unchanged survivor: a copy of an old member, with its fitness.
                assert same, "a member without evaluation must be an unchanged survivor"
                assert fitness[i] in old_fitness[same]
            else:
                assert np.isnan(fitness[i])
            if not same:
                assert needs[i], "a new or mutated member must be evaluated"
        assert (~needs).sum() >= 1  # survivors exist (the best half survives)
        best_old = old[int(np.argmax(old_fitness))]
        # The best survives; if it was not mutated it keeps its fitness.
        kept = [i for i, g in enumerate(pop) if genomes_equal(g, best_old) and not needs[i]]
        for i in kept:
            assert fitness[i] == old_fitness.max()
        checked += 1
    assert checked == 3  # one breeding step in each of three phases


def told_in_phase(steps, phase: int) -> list[tuple]:
    """(genome, fitness) of every member told during ``phase``, in order."""
    return [(g, float(f)) for s in steps if s["asked"].phase == phase
            for g, f in zip(G.unstack(s["population"]), np.asarray(s["told"].fitness),
                            strict=True)]


def test_inherited_prefix_equals_phase_winner(full_run):
    # Default ga.phase_winner="best_seen": the best told in any of the phase's generations.
    state, steps = full_run
    phases_seen = set()
    winner = None
    for prev, cur in zip(steps, steps[1:], strict=False):
        phase = cur["asked"].phase
        if phase != prev["asked"].phase:
            winner, fit = STRATEGY.phase_winner(prev["told"])
            told = told_in_phase(steps, prev["asked"].phase)
            assert fit == max(f for _, f in told)
            assert any(genomes_equal(g, winner) and f == fit for g, f in told)
            assert genomes_equal(cur["asked"].phase_best_genome, winner)
        if phase == 0:
            continue
        phases_seen.add(phase)
        w_blocks, w_globals = np.asarray(winner.blocks), np.asarray(winner.globals)
        pop = cur["population"]
        assert np.all(np.asarray(pop.n_active) == phase + 1)
        for genome in G.unstack(pop):
            np.testing.assert_array_equal(genome.blocks[:phase], w_blocks[:phase])
            np.testing.assert_array_equal(genome.globals, w_globals)
        # Only block `phase` is mutable.
        mutable = np.asarray(cur["asked"].mutable.blocks)
        assert mutable[phase].all() and not mutable[:phase].any()
        assert not mutable[phase + 1:].any()
        assert not np.asarray(cur["asked"].mutable.globals).any()
    assert phases_seen == {1, 2}


def test_max_phases_ends_the_run(full_run):
    state, steps = full_run
    assert state.done
    assert [s["asked"].phase for s in steps] == [0, 0, 1, 1, 2, 2]
    assert [s["asked"].generation for s in steps] == [0, 1, 0, 1, 0, 1]
    assert f"max_phases={GA.max_phases}" in state.stop_reason
    assert len(state.phase_best) == 3
    assert state.phase_best == pytest.approx((0.8, 0.8, 0.8), abs=0.0051)


def test_stop_rule_fires_when_a_phase_drops():
    # Phase 1's best is about 0.1 below phase 0's: more than stop_drop = 0.01.
    state, steps = drive(STRATEGY, jax.random.key(0), [0.8, 0.7, 0.9])
    assert state.done
    assert max(s["asked"].phase for s in steps) == 1
    assert "fell more than" in state.stop_reason and "phase 1" in state.stop_reason
    assert len(state.phase_best) == 2
    assert state.phase_best[1] < state.phase_best[0] - GA.stop_drop
    with pytest.raises(ValueError, match="done"):
        STRATEGY.ask(jax.random.key(9), state, None)


def test_stop_rule_tolerates_a_small_drop():
    # Phase 1 is at most 0.005 + 0.004 below phase 0: within stop_drop, so phase 2 runs.
    state, steps = drive(STRATEGY, jax.random.key(0), [0.8, 0.796, 0.8])
    assert max(s["asked"].phase for s in steps) == 2
    assert state.done and "max_phases" in state.stop_reason


def with_failures(population, base):
    """Failed (NaN / -inf) members get what would otherwise be the top fitness slots."""
    fitness = fake_fitness(population, base)
    fitness[0], fitness[1], fitness[5] = np.nan, -np.inf, np.nan
    return fitness


def test_failed_candidates_are_never_the_phase_winner():
    state = STRATEGY.init(jax.random.key(4))
    pop, state = STRATEGY.ask(jax.random.key(5), state, None)
    fitness = np.array([np.nan, -np.inf, 0.2, 0.5, 0.1, np.nan, 0.4, -np.inf], np.float32)
    told = STRATEGY.tell(pop, fitness, state, None)
    assert np.asarray(told.fitness)[0] == -np.inf  # NaN is stored as a failure (-inf)
    winner, best = STRATEGY.phase_winner(told)
    assert best == pytest.approx(0.5)
    assert genomes_equal(winner, jax.tree.map(lambda a: a[3], pop))
    # Through the whole run: phase winners always have finite fitness.
    state, steps = drive(STRATEGY, jax.random.key(6), [0.8, 0.8, 0.8], with_failures)
    assert all(np.isfinite(b) for b in state.phase_best)
    for prev, cur in zip(steps, steps[1:], strict=False):
        if cur["asked"].phase != prev["asked"].phase:
            w = cur["asked"].phase_best_genome
            told = [f for g, f in told_in_phase(steps, prev["asked"].phase)
                    if genomes_equal(g, w)]
            assert told and all(np.isfinite(f) for f in told)
        # Failed members never survive into the next generation without re-evaluation.
        f = np.asarray(cur["asked"].fitness)
        needs = np.asarray(cur["needs_eval"])
        assert np.all(np.isfinite(f[~needs]))


def test_every_candidate_failed_raises_search_failed():
    state = STRATEGY.init(jax.random.key(7))
    pop, state = STRATEGY.ask(jax.random.key(8), state, None)
    for bad in (np.full(GA.population, np.nan), np.full(GA.population, -np.inf)):
        with pytest.raises(SearchFailed, match="every candidate.*failed"):
            STRATEGY.tell(pop, bad.astype(np.float32), state, None)
    assert issubclass(SearchFailed, RuntimeError)
    with pytest.raises(ValueError, match="shape"):
        STRATEGY.tell(pop, np.zeros(GA.population + 1, np.float32), state, None)


def test_same_key_same_populations():
    a_state, a = drive(STRATEGY, jax.random.key(11), [0.8, 0.8, 0.8])
    b_state, b = drive(STRATEGY, jax.random.key(11), [0.8, 0.8, 0.8])
    assert len(a) == len(b)
    for x, y in zip(a, b, strict=True):
        assert genomes_equal(x["population"], y["population"])
        assert np.array_equal(x["needs_eval"], y["needs_eval"])
        np.testing.assert_array_equal(x["told"].fitness, y["told"].fitness)
    assert a_state.phase_best == b_state.phase_best
    _, c = drive(STRATEGY, jax.random.key(12), [0.8, 0.8, 0.8])
    assert not genomes_equal(a[0]["population"], c[0]["population"])


def test_phase_winner_choices_differ_as_documented():
    """"last_generation" takes the best of the phase's last generation (the paper);
    "best_seen" the best of all its generations. Both feed phase_best, the transfer
    parent and the final winner alike."""
    from vlga_jax.strategies.base import final_winner

    last = VLGA(SPACE, dataclasses.replace(GA, phase_winner="last_generation"))

    for strategy in (STRATEGY, last):
        state, steps = drive(strategy, jax.random.key(0), [0.8, 0.8, 0.8])
        history = strategy.phase_history(state)
        assert [f for _, f in history] == list(state.phase_best)
        for phase, (genome, fit) in enumerate(history):
            told = told_in_phase(steps, phase)
            last_gen = [s for s in steps if s["asked"].phase == phase][-1]
            if strategy is last:
                assert fit == float(np.max(np.asarray(last_gen["told"].fitness)))
            else:
                assert fit == max(f for _, f in told)
            assert any(genomes_equal(g, genome) and f == fit for g, f in told)
            nxt = [s for s in steps if s["asked"].phase == phase + 1]
            if nxt:
                assert genomes_equal(nxt[0]["asked"].phase_best_genome, genome)
        genome, fit = final_winner(history)
        assert fit == max(state.phase_best)
        assert genomes_equal(genome, history[list(state.phase_best).index(fit)][0])


KEY_MUTATING_THE_BEST = 0


def test_best_seen_keeps_a_winner_that_survivor_mutation_replaced():
    # Generation 0: member 2 scores 0.9, the others 0.5; generation 1 mutates member 2
    # (with this key) and every new member scores 0.5. "best_seen" keeps the 0.9 network
    # as phase 0's winner; "last_generation" (the paper) takes a 0.5 one.
    last = VLGA(SPACE, dataclasses.replace(GA, phase_winner="last_generation"))
    for strategy, expected in ((STRATEGY, 0.9), (last, 0.5)):
        state = strategy.init(jax.random.key(3))
        pop, state = strategy.ask(jax.random.key(4), state, None)
        f0 = np.full(GA.population, 0.5, np.float32)
        f0[2] = 0.9
        state = strategy.tell(pop, f0, state, None)
        pop1, state = strategy.ask(jax.random.key(KEY_MUTATING_THE_BEST), state, None)
        state = strategy.tell(pop1, np.full(GA.population, 0.5, np.float32), state, None)
        assert float(np.max(np.asarray(state.fitness))) == 0.5  # the 0.9 network is gone
        winner, fit = strategy.phase_winner(state)
        assert fit == pytest.approx(expected)
        if expected == 0.9:
            assert genomes_equal(winner, jax.tree.map(lambda a: a[2], pop))


def test_every_promised_mutation_changes_the_network():
    """The paper preset's mutation, 400 draws in phase 0 and 400 in phase 1: every one
    changes the decoded network (a draw on an unexpressed gene, e.g. conv b's channels
    when the block has no conv b, would retrain the same network)."""
    from vlga_jax.config import Config
    from vlga_jax.genetics import operators as ops

    config = Config.preset("paper")
    strategy = VLGA(config.space.build(), config.ga)
    space, ga = strategy.space, strategy.ga
    mutate = jax.jit(ops.mutate_population, static_argnames=("space", "mode"))
    parent = None
    for phase in (0, 1):
        population = strategy._phase_population(jax.random.key(phase), phase, parent)
        before = [G.genome_hash(g, space) for g in G.unstack(population)]
        changed = drawn = 0
        for i in range(400 // ga.population):
            out, mutated = mutate(jax.random.key(100 + i), population, space,
                                  strategy.phase_mask(phase), 1.0, mode=ga.mutation_mode)
            after = [G.genome_hash(g, space) for g in G.unstack(out)]
            drawn += int(np.sum(mutated))
            changed += sum(a != b for a, b in zip(after, before, strict=True))
        assert (drawn, changed) == (400, 400), (phase, drawn, changed)
        parent = G.unstack(population)[0]
