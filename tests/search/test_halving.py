"""Successive halving inside a generation: the schedule's arithmetic, and a search."""

import jax
import numpy as np
import pytest

from vlga_jax import Config, GAConfig, RunConfig, SpaceConfig, TrainConfig, evolve
from vlga_jax.search import halving as H


def test_rungs_grow_by_eta_up_to_the_epochs():
    assert TrainConfig(epochs=5, halving_min_epochs=1, halving_eta=3).rungs() == (1, 3, 5)
    assert TrainConfig(epochs=9, halving_min_epochs=1, halving_eta=3).rungs() == (1, 3, 9)
    assert TrainConfig(epochs=4, halving_min_epochs=1, halving_eta=2).rungs() == (1, 2, 4)
    assert TrainConfig(epochs=4, halving_min_epochs=3, halving_eta=2).rungs() == (3, 4)
    assert TrainConfig(epochs=5).rungs() == (5,)


@pytest.mark.parametrize("field,value", [("halving_min_epochs", 5), ("halving_min_epochs", -1),
                                         ("halving_eta", 1)])
def test_bad_schedules_name_the_field(field, value):
    with pytest.raises(ValueError, match=f"train.{field}"):
        TrainConfig(epochs=5, **{field: value})


def test_cost_counts_candidate_epochs_and_affordable_is_the_largest_fit():
    assert H.cost((1, 3, 5), 3, 9) == 9 * 1 + 3 * 2 + 1 * 2
    assert H.cost((5,), 3, 4) == 20
    assert H.cost((1, 2), 2, 1) == 2  # a lone candidate goes all the way
    for budget in range(0, 40):
        n = H.affordable((1, 3, 5), 3, budget)
        assert H.cost((1, 3, 5), 3, n) <= budget < H.cost((1, 3, 5), 3, n + 1)


def test_promoted_ranks_by_accuracy_then_loss_then_index_and_skips_failures():
    scores = [(0.5, 1.0), (0.9, 0.4), None, (0.9, 0.3), (0.9, 0.3), (float("nan"), 0.0)]
    assert H.promoted(scores, 3) == [3, 4]  # floor(6 / 3) = 2: equal (acc, loss) by index
    assert H.promoted(scores, 2) == [1, 3, 4]
    assert H.promoted([None, (0.1, 2.0)], 3) == [1]  # at least one continues
    assert H.promoted([None, None], 2) == []


def test_told_fitness_ranks_lower_rungs_below_the_last():
    rungs = (1, 3, 5)
    full_worst = H.told_fitness(0.0, 5, rungs)
    mid_best = H.told_fitness(1.0, 3, rungs)
    first_best = H.told_fitness(1.0, 1, rungs)
    assert first_best <= mid_best <= full_worst
    assert H.told_fitness(0.7, 5, rungs) == 0.7
    assert H.told_fitness(0.7, 5, (5,)) == 0.7


CACHE_OPTIONS = ("jax_compilation_cache_dir", "jax_persistent_cache_min_compile_time_secs",
                 "jax_persistent_cache_min_entry_size_bytes")


@pytest.fixture(scope="module")
def cache_dir(tmp_path_factory):
    """A persistent compilation cache shared by this module's searches (same programs)."""
    saved = {name: getattr(jax.config, name) for name in CACHE_OPTIONS}
    yield str(tmp_path_factory.mktemp("halving-xla-cache"))
    for name, value in saved.items():
        jax.config.update(name, value)


def halving_config(cache_dir, budget=None) -> Config:
    return Config(
        space=SpaceConfig(max_blocks=2, channels=(8, 16), kernels=(1, 3)),
        ga=GAConfig(population=4, generations=2, max_phases=2, budget_epochs=budget),
        train=TrainConfig(epochs=2, halving_min_epochs=1, halving_eta=2, final_epochs=1,
                          batch_size=32, eval_batch_size=32, learning_rate=1e-2),
        run=RunConfig(compile_cache_dir=cache_dir, verbose=False),
    )


@pytest.mark.slow
def test_a_halving_search_charges_what_it_trains_and_wins_at_full_fidelity(digits_dataset,
                                                                           cache_dir):
    config = halving_config(cache_dir, budget=12)
    result = evolve(jax.random.key(1), config, dataset=digits_dataset)
    cands = result.candidates
    trained = [c for c in cands if not c.cache_hit]
    assert result.totals["spent_epochs"] == sum(c.epochs for c in cands) <= 12
    assert {c.fidelity for c in trained} == {1, 2}  # some stopped at rung 1
    for gen in result.generations:
        (r1, n1), (r2, n2) = gen.rung_counts
        assert (r1, r2) == (1, 2) and n2 == H.continuing(n1, 2)
    full = {c.hash: c.fitness for c in cands if c.fidelity == 2}
    for best in result.phase_best:
        assert best in full.values()
    assert result.search_fitness in full.values()


@pytest.mark.slow
def test_stopped_and_continued_candidates_are_retrained_identically(digits_dataset, cache_dir):
    from vlga_jax.search.context import Search
    from vlga_jax.search.generation import evaluate
    from vlga_jax.training.trainer import enable_compilation_cache

    config = halving_config(cache_dir).override(**{"run.top_k": 0})  # no parameters kept
    enable_compilation_cache(config.run.compile_cache_dir)  # the search test's programs
    search = Search.create(jax.random.key(3), config, digits_dataset)
    state = search.strategy.init(search.keys.strategy)
    population, state = search.strategy.ask(jax.random.key(0), state, None)
    needs = np.arange(len(state.needs_eval)) < 2  # two candidates: one continues to rung 2
    told, _ = evaluate(search, state.replace(needs_eval=needs), population, None)
    evs = list(search.cache.entries.values())
    assert sorted(ev.fidelity for ev in evs) == [1, 2]
    assert sorted(told[:2]) == sorted(H.told_fitness(ev.fitness, ev.fidelity, (1, 2))
                                      for ev in evs)
    trained = {ev.hash: ev.outcome.params for ev in evs}
    compiled = search.trainer.stats.programs_compiled
    search.cache.retain(search.needed(()))  # a state holding no genome: every parameter is dropped
    for h, params in trained.items():
        again = search.cache.with_params(h).outcome.params
        for x, y in zip(jax.tree.leaves(params), jax.tree.leaves(again), strict=True):
            np.testing.assert_array_equal(x, y)
    assert search.cache.retrained == 2
    assert search.trainer.stats.programs_compiled == compiled  # rungs share programs


def test_report_shows_how_many_candidates_reached_each_rung(tmp_path):
    from vlga_jax.runs.report import RunReport, summary_table

    gen = {"phase": 0, "generation": 0, "best": 0.9, "mean": 0.8, "median": 0.8,
           "evaluated": 8, "cache_hits": 0, "seconds": 1.0}
    halved = RunReport(tmp_path, [{**gen, "rung_counts": [[1, 8], [2, 4], [4, 2]]}], [], None)
    table = summary_table(halved)
    assert "reached rungs of 1/2/4 epochs" in table and table.splitlines()[2].endswith("8/4/2")
    plain = summary_table(RunReport(tmp_path, [{**gen, "rung_counts": [[4, 8]]}], [], None))
    assert "rungs" not in plain


def test_new_candidates_start_fresh_or_from_the_parents_first_blocks(digits_dataset):
    """`Schedule.initial_members` (no training): a fresh candidate is drawn from its key;
    one with a transfer parent takes the parent's first blocks and draws the rest from
    ``fold_in(key, streams.INHERIT_INIT)``; frozen transfer freezes those blocks, or trains
    only the later blocks on the parent's cached features."""
    import dataclasses
    import types

    from vlga_jax.core import streams
    from vlga_jax.networks.architecture import Architecture, ConvBlock, ConvLayer
    from vlga_jax.networks.params import init_params
    from vlga_jax.runs.records import Evaluation
    from vlga_jax.search.context import Search

    def same(a, b):
        for x, y in zip(jax.tree.leaves(a), jax.tree.leaves(b), strict=True):
            np.testing.assert_array_equal(x, y)

    config = Config(space=SpaceConfig(max_blocks=2), ga=GAConfig(population=2, max_phases=2),
                    run=RunConfig(compile_cache_dir=None, verbose=False))
    search = Search.create(jax.random.key(0), config, digits_dataset)
    block = ConvBlock((ConvLayer(8, 3),), pool="max")
    parent_arch = Architecture((8, 8, 1), 10, (block,))
    child = dataclasses.replace(parent_arch, blocks=(block, ConvBlock((ConvLayer(16, 3),))))
    params, stats = init_params(jax.random.key(1), parent_arch.shape_key())
    parent = Evaluation(parent_arch, types.SimpleNamespace(params=params, stats=stats))
    key = search.schedule.key(3)
    (fresh,), prefix, data = search.schedule.initial_members([child], [key], None, 0)
    assert prefix is None and data is None and fresh.frozen_blocks == 0
    same(fresh.params, init_params(key, child.shape_key())[0])
    (inherited,), prefix, _ = search.schedule.initial_members([child], [key], parent, 1)
    drawn = init_params(jax.random.fold_in(key, streams.INHERIT_INIT), child.shape_key())[0]
    assert prefix is None and inherited.frozen_blocks == 0  # finetune: all blocks train
    same(inherited.params["block_0"], params["block_0"])
    same((inherited.params["block_1"], inherited.params["head"]),
         (drawn["block_1"], drawn["head"]))
    search.schedule.config = dataclasses.replace(config.train, transfer="freeze")
    (suffix,), prefix, data = search.schedule.initial_members([child], [key], parent, 1)
    assert prefix is not None and suffix.arch.blocks == child.blocks[1:]
    assert suffix.arch.input_shape == tuple(prefix.feature_shape)
    assert data.train_x.shape[1:] == tuple(prefix.feature_shape)
    same(suffix.params, init_params(key, suffix.arch.shape_key())[0])
