"""The baseline strategies and their operators, driven by synthetic fitness: no training.

Operators: bit-flip, add/remove-layer, elites, depth genes; strategies: GA (classical,
mlp-ga, binary-cnn), tournament, random population, random search, grid: fixed shapes,
survivors/elites keep their fitness, and the same key gives the same run.
"""

import dataclasses
import hashlib

import jax
import numpy as np
import pytest
from support import PRESETS, STRATEGY

import vlga_jax
from vlga_jax import Config, GAConfig
from vlga_jax.genetics import genome as G
from vlga_jax.genetics import operators as ops
from vlga_jax.genetics.chromosome import chromosome_bits, from_chromosome_bits
from vlga_jax.genetics.space import binary_cnn, mlp_ga, mlp_tournament
from vlga_jax.networks.architecture import from_description
from vlga_jax.strategies import STRATEGIES, Grid, SearchFailed, Tournament


def fake_fitness(population, space) -> np.ndarray:
    """A deterministic fitness per network (equal genomes score alike)."""
    return np.array([hashlib.sha256(G.genome_hash(g, space).encode()).digest()[0] / 255
                     for g in G.unstack(population)], np.float32)


def drive(strategy, space, key, max_steps=10):
    """ask/tell to the end; returns (final state, [(population, needs, fitness), ...])."""
    state = strategy.init(key)
    steps = []
    for i in range(max_steps):
        population, state = strategy.ask(jax.random.fold_in(key, i), state, None)
        if state.done:
            break
        fitness = fake_fitness(population, space)
        steps.append((population, np.asarray(state.needs_eval), fitness,
                      np.asarray(state.fitness)))
        state = strategy.tell(population, fitness, state, None)
    return state, steps


@pytest.fixture(scope="module")
def runs():
    return {name: drive(*STRATEGY[name], jax.random.key(3)) for name in PRESETS}


# -- operators -------------------------------------------------------------------------

def test_binary_chromosome_has_20_bits_globals_first():
    space = binary_cnn()
    assert space.max_blocks == 7 and space.globals_first
    assert ops.chromosome_length(space) == 20
    for gene in (*space.block_genes, *space.global_genes):
        size = gene.size
        assert size & (size - 1) == 0 or gene.name == "stages"  # 1..7 in 3 bits
    assert ops.chromosome_length(binary_cnn(8)) == 21
    with pytest.raises(ValueError, match="max_stages must be a power of two or one less"):
        binary_cnn(5)


def test_binary_chromosome_bit_positions():
    space = binary_cnn()
    zeros = np.zeros(20, np.uint8)
    genome = from_chromosome_bits(zeros, space)
    np.testing.assert_array_equal(chromosome_bits(genome, space), zeros)
    description = G.decode(genome, space)
    assert description["globals"]["filters"] == 8 and len(description["blocks"]) == 1
    assert description["blocks"][0]["one_conv"] is False  # bit 0: two convs
    filters = zeros.copy()
    filters[0] = 1  # bits 0-1, most significant first: index 2
    assert G.decode(from_chromosome_bits(filters, space), space)["globals"]["filters"] == 32
    seven = zeros.copy()
    seven[8:11] = (1, 1, 0)  # stages: index 6, 7 stages
    for k in range(7):
        bits = seven.copy()
        bits[13 + k] = 1
        genome = from_chromosome_bits(bits, space)
        np.testing.assert_array_equal(chromosome_bits(genome, space), bits)
        arch = from_description(G.decode(genome, space), input_shape=(8, 8, 1),
                                num_classes=10)
        assert [len(b.convs) for b in arch.blocks] == [1 if s == k else 2 for s in range(7)]


def test_bitflip_rate_zero_and_one():
    space = binary_cnn()
    genome = G.random_genome(jax.random.key(0), space, space.max_blocks)
    same = ops.bitflip(jax.random.key(1), genome, space, 0.0)
    np.testing.assert_array_equal(same.blocks, genome.blocks)
    np.testing.assert_array_equal(same.globals, genome.globals)
    flipped = ops.bitflip(jax.random.key(1), genome, space, 1.0)
    # Every bit flips: index -> (2**bits - 1) - index, wrapped into the table (stages).
    block_bits, global_bits = ops.gene_bits(space)
    np.testing.assert_array_equal(
        flipped.blocks, ((1 << block_bits) - 1 - genome.blocks) % space.block_sizes)
    np.testing.assert_array_equal(
        flipped.globals, ((1 << global_bits) - 1 - genome.globals) % space.global_sizes)


def test_bitflip_flips_each_bit_with_the_rate():
    space = binary_cnn(8)  # every table a power of two: 21 bits
    genome = G.random_genome(jax.random.key(0), space, space.max_blocks)
    keys = jax.random.split(jax.random.key(2), 2000)
    out = jax.jit(jax.vmap(lambda k: ops.bitflip(k, genome, space, 0.25)))(keys)

    def bits(blocks, globals_):
        flat = np.concatenate([np.asarray(blocks).reshape(blocks.shape[0], -1),
                               np.asarray(globals_)], axis=1)
        return flat

    before = bits(genome.blocks[None], genome.globals[None])
    after = bits(out.blocks, out.globals)
    n_flips = np.array([[bin(int(x)).count("1") for x in row] for row in before ^ after])
    mean = n_flips.sum(axis=1).mean()
    assert abs(mean - 21 * 0.25) < 0.2  # 21 bits, each flipped with probability 1/4


def test_add_remove_layer_keeps_a_prefix_and_fills_new_layers():
    space = mlp_tournament(4)
    keys = jax.random.split(jax.random.key(0), 400)
    start = G.random_population(jax.random.key(1), space, 400, 2)
    out = jax.jit(jax.vmap(lambda k, g: ops.add_remove_layer(k, g, space, 1.0)))(keys, start)
    depth = np.asarray(out.block_mask).sum(axis=1)
    assert set(np.unique(depth)) == {1, 3}  # always changes: one more or one fewer
    assert 120 < (depth == 3).sum() < 280
    mask = np.asarray(out.block_mask)
    assert (mask == (np.arange(4)[None] < depth[:, None])).all()
    blocks = np.asarray(out.blocks)
    assert (blocks[~mask] == 0).all()
    assert (blocks < space.block_sizes).all()
    np.testing.assert_array_equal(blocks[:, 0], np.asarray(start.blocks)[:, 0])


def test_add_remove_layer_bounds_and_rate_zero():
    space = mlp_tournament(3)
    one = G.random_genome(jax.random.key(0), space, 1)
    full = G.random_genome(jax.random.key(0), space, 3)
    for seed in range(5):
        key = jax.random.key(seed)
        assert int(ops.add_remove_layer(key, one, space, 1.0).block_mask.sum()) == 2
        assert int(ops.add_remove_layer(key, full, space, 1.0).block_mask.sum()) == 2
        same = ops.add_remove_layer(key, full, space, 0.0)
        np.testing.assert_array_equal(same.blocks, full.blocks)
        np.testing.assert_array_equal(same.block_mask, full.block_mask)


def test_elite_indices_best_first_failed_last():
    fitness = np.array([0.2, np.nan, 0.9, -np.inf, 0.5], np.float32)
    np.testing.assert_array_equal(ops.elite_indices(fitness, 3), [2, 4, 0])
    assert set(np.asarray(ops.elite_indices(fitness, 5))[3:]) == {1, 3}


def test_sync_depth_follows_the_depth_gene():
    space = mlp_ga(4)
    pop = G.sync_depth(G.random_population(jax.random.key(0), space, 50, 4), space)
    layers = np.asarray(pop.globals)[:, space.global_column("layers")] + 1
    np.testing.assert_array_equal(np.asarray(pop.block_mask).sum(axis=1), layers)
    for g in G.unstack(pop)[:5]:
        assert len(G.decode(g, space)["blocks"]) == G.decode(g, space)["globals"]["layers"]


def test_binary_cnn_never_pools_below_1x1():
    space = binary_cnn(8)
    genome = G.random_genome(jax.random.key(0), space, 8)
    genome = G.set_gene(genome, space, "stages", 8)
    genome = G.sync_depth(genome, space)
    arch = from_description(G.decode(genome, space), input_shape=(8, 8, 1), num_classes=10)
    assert len(arch.blocks) == 8
    assert sum(b.pool is not None for b in arch.blocks) == 3  # 8 -> 4 -> 2 -> 1
    assert all(h >= 1 for h, _, _ in arch.shape_key().output_shapes()[:8])
    assert all(all(c.batchnorm for c in b.convs) for b in arch.blocks)
    shapes = arch.shape_key().param_shapes()
    assert shapes["fc_0"]["kernel"][1] == 2048 and shapes["fc_1"]["kernel"] == (2048, 1024)
    assert shapes["head"]["kernel"] == (1024, 10)
    assert arch.dropout == 0.5


# -- strategies --------------------------------------------------------------------------

def test_every_strategy_is_registered():
    assert set(STRATEGIES) == {"vlga", "ga", "tournament", "random_population", "random",
                               "grid"}
    with pytest.raises(ValueError, match="ga.strategy"):
        GAConfig(strategy="nope")


def test_each_strategy_shows_only_the_fields_it_reads():
    """``params`` are GAConfig fields, and a preset's ga.* rows of ``vlga presets
    --explain`` are those plus the fields every strategy reads."""
    fields = {f.name for f in dataclasses.fields(GAConfig)}
    common = {"ga.generations", "ga.budget_epochs", "ga.phase_winner"}
    shown = set()
    for name in vlga_jax.PRESETS:
        config = Config.preset(name)
        cls = STRATEGIES[config.ga.strategy]
        assert set(cls.params) <= fields
        rows = cls.settings(config, config.space.build())
        ga_rows = {key for key, _ in rows if key.startswith("ga.")}
        assert ga_rows <= {f"ga.{field}" for field in cls.params} | common, name
        assert cls.has_phases == any(key == "train.transfer" for key, _ in rows)
        shown.add(config.ga.strategy)
    assert shown == set(STRATEGIES)  # the presets cover every strategy


@pytest.mark.parametrize("name", PRESETS)
def test_runs_to_the_end_at_fixed_shapes(runs, name):
    strategy, space = STRATEGY[name]
    state, steps = runs[name]
    if name != "grid":  # the grid runs until its budget or the end of the space
        assert state.done and state.stop_reason
        assert len(steps) == 3
    for population, needs, _, _ in steps:
        assert population.blocks.shape == (4, space.max_blocks, space.n_block_genes)
        assert needs.shape == (4,)
        mask = np.asarray(population.block_mask)
        depth = mask.sum(axis=1)
        assert (depth >= 1).all() and (mask == (np.arange(space.max_blocks) < depth[:, None])).all()
        assert (np.asarray(population.blocks) < space.block_sizes).all()
        assert (np.asarray(population.globals) < space.global_sizes).all()


@pytest.mark.parametrize("name", ["binary-cnn", "mlp-ga", "classical-ga", "tournament"])
def test_kept_members_keep_their_fitness(runs, name):
    """Survivors (GA) and elites (tournament) come first, need no evaluation and carry
    their fitness; the members after them are new children."""
    _, steps = runs[name]
    for (pop0, _, fit0, _), (pop1, needs1, _, kept1) in zip(steps, steps[1:], strict=False):
        kept = ~needs1
        assert kept.any() and (needs1[kept.sum():]).all()
        if name == "tournament":
            assert kept.sum() == 2
            np.testing.assert_allclose(np.sort(kept1[kept]), np.sort(fit0)[-2:])
        hashes0 = {G.genome_hash(g, STRATEGY[name][1]): f
                   for g, f in zip(G.unstack(pop0), fit0, strict=True)}
        for g, f in zip(G.unstack(pop1)[:kept.sum()], kept1[kept], strict=True):
            assert hashes0[G.genome_hash(g, STRATEGY[name][1])] == f


@pytest.mark.parametrize("name", PRESETS)
def test_same_key_same_run(runs, name):
    strategy, space = STRATEGY[name]
    _, again = drive(strategy, space, jax.random.key(3))
    _, first = runs[name]
    assert len(again) == len(first)
    for (a, *_), (b, *_) in zip(first, again, strict=True):
        np.testing.assert_array_equal(a.blocks, b.blocks)
        np.testing.assert_array_equal(a.globals, b.globals)
        np.testing.assert_array_equal(a.block_mask, b.block_mask)
    if name != "grid":  # the grid ignores the key
        _, other = drive(strategy, space, jax.random.key(4))
        assert any(not (np.array_equal(a.blocks, b.blocks)
                        and np.array_equal(a.globals, b.globals))
                   for (a, *_), (b, *_) in zip(first, other, strict=False))


def test_random_population_is_fresh_every_generation(runs):
    _, steps = runs["random-population"]
    assert all(needs.all() for _, needs, _, _ in steps)


def test_grid_enumerates_a_small_space_exactly_once():
    space = mlp_ga(2).restrict(units=(64, 128), activation=("relu",), optimizer=("adam", "sgd"))
    grid = Grid(space, GAConfig(strategy="grid", population=5))
    assert grid.size == space.size() == 2 * 2 * 2  # depths x widths x optimizers
    state, steps = drive(grid, space, jax.random.key(0))
    assert state.done and "whole grid" in state.stop_reason
    seen = [G.genome_hash(g, space) for pop, needs, _, _ in steps
            for g, n in zip(G.unstack(pop), needs, strict=True) if n]
    assert len(seen) == len(set(seen)) == grid.size
    first = [G.decode(grid.genome_at(i), space) for i in range(3)]
    assert first[0] == {"blocks": [{"dropout": 0.2}], "globals": {
        "layers": 1, "units": 64, "activation": "relu", "optimizer": "adam"}}
    assert first[1]["globals"]["optimizer"] == "sgd"  # last gene fastest
    assert first[2]["globals"]["units"] == 128


def test_grid_enumerates_conditional_genes_once():
    from vlga_jax.genetics.space import Gene, SearchSpace

    space = SearchSpace((Gene("units", (8, 16)), Gene("extra", (False, True)),
                         Gene("width", (1, 2, 3), requires=("extra", True))),
                        (Gene("act", ("relu", "elu")),), max_blocks=2, block_kind="dense")
    grid = Grid(space, GAConfig(strategy="grid", population=4))
    hashes = [G.genome_hash(grid.genome_at(i), space) for i in range(grid.size)]
    assert len(set(hashes)) == grid.size == 2 * (8 + 8 * 8)  # 8 settings per block
    with pytest.raises(IndexError):
        grid.genome_at(grid.size)


def test_grid_preset_enumerates_all_672_mlp_networks():
    config = Config.preset("grid")
    assert config.grid_size() == 672 and config.ga.budget_epochs is None
    assert config.planned_generations() == 34  # 672 / 20, rounded up


def test_tournament_gene_rates_must_name_genes():
    space = mlp_tournament(4)
    ga = GAConfig(strategy="tournament", population=4, elites=1, gene_rates=(("nope", 0.5),))
    strategy = Tournament(space, ga)
    state = strategy.init(jax.random.key(0))
    state = strategy.tell(state.population, np.ones(4, np.float32), state, None)
    with pytest.raises(ValueError, match="gene_rates"):
        strategy.ask(jax.random.key(1), state, None)


def test_tournament_without_crossover_mutates_copies_of_winners():
    space = mlp_tournament(4)
    ga = GAConfig(strategy="tournament", population=6, elites=1, crossover="none",
                  mutation_rate=0.0, layer_mutation_rate=0.0)
    strategy = Tournament(space, ga)
    state = strategy.init(jax.random.key(0))
    state = strategy.tell(state.population, np.linspace(0.1, 0.6, 6, dtype=np.float32),
                          state, None)
    pop, _ = strategy.ask(jax.random.key(1), state, None)
    parents = {G.genome_hash(g, space) for g in G.unstack(state.population)}
    children = [G.genome_hash(g, space) for g in G.unstack(pop)]
    assert set(children) <= parents  # no mutation, no crossover: copies of members
    ga = GAConfig(strategy="tournament", population=6, elites=1, crossover="uniform",
                  mutation_rate=0.0, layer_mutation_rate=0.0)
    crossed = Tournament(space, ga)
    first = crossed.init(jax.random.key(0))
    told = crossed.tell(first.population, np.linspace(0.1, 0.6, 6), first, None)
    pop, _ = crossed.ask(jax.random.key(1), told, None)
    assert not {G.genome_hash(g, space) for g in G.unstack(pop)} <= parents


def test_ga_every_candidate_failed_raises():
    strategy, _ = STRATEGY["mlp-ga"]
    state = strategy.init(jax.random.key(0))
    with pytest.raises(SearchFailed):
        strategy.tell(state.population, np.full(4, np.nan, np.float32), state, None)


def test_budget_is_validated():
    with pytest.raises(ValueError, match="ga.budget_epochs"):
        GAConfig(budget_epochs=0)
    assert Config.preset("grid").ga.population * Config.preset("grid").ga.generations >= 672


def test_new_spaces_round_trip_and_validate_the_depth_gene():
    from vlga_jax.genetics.space import Gene, SearchSpace

    for space in (binary_cnn(8), mlp_ga(4), mlp_tournament(4)):
        assert SearchSpace.from_dict(space.to_dict()) == space
    with pytest.raises(ValueError, match="depth_gene"):
        SearchSpace((Gene("units", (8, 16)),), (Gene("layers", (1, 2, 3)),), max_blocks=2,
                    block_kind="dense", depth_gene="layers")
    with pytest.raises(ValueError, match="depth_gene"):
        SearchSpace((Gene("units", (8, 16)),), (), max_blocks=2, depth_gene="units")


def test_config_presets_round_trip_through_json():
    for name in PRESETS:
        config = Config.preset(name)
        assert Config.from_json(config.to_json()) == config
