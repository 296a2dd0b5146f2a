"""A strategy written outside the package runs by name: this module defines a
mutation-only hill climber on the shared skeleton, registers it, and then the config
checks it, ``vlga presets``-style text shows its settings, `pure` steps it, and
`evolve` and ``vlga run`` run it as ``ga.strategy``. Nothing in the package names it."""

import dataclasses
import functools
import json

import jax
import jax.numpy as jnp
import numpy as np
import pytest
from support import shared_cache_dir, tiny_config

import vlga_jax
from vlga_jax import GAConfig
from vlga_jax.cli import main
from vlga_jax.config.presets_info import preset_settings
from vlga_jax.core.checks import require
from vlga_jax.genetics import operators
from vlga_jax.genetics.space import xiao2020
from vlga_jax.strategies import STRATEGIES, Strategy, make_strategy, pure, register

NAME = "hill_climb"


@dataclasses.dataclass(frozen=True)
class HillClimb(Strategy):
    """Keep the best member (first, its fitness kept); every other slot is a copy of it
    mutated with probability ``ga.mutation_rate`` (one gene)."""

    params = ("mutation_rate",)

    @classmethod
    def check(cls, ga) -> None:
        super().check(ga)
        require(ga.mutation_rate > 0, "ga.mutation_rate",
                f"> 0 with ga.strategy={ga.strategy!r} (the climber only mutates)",
                ga.mutation_rate)

    @classmethod
    def settings(cls, config, space) -> list[tuple[str, object]]:
        return [*super().settings(config, space), ("ga.mutation_rate", config.ga.mutation_rate)]

    @functools.partial(jax.jit, static_argnums=0)
    def breed(self, key, population, fitness):
        p = fitness.shape[0]
        best = jnp.argmax(fitness)
        copies = jax.tree.map(lambda a: jnp.broadcast_to(a[best], a.shape), population)
        mutated, _ = operators.mutate_population(key, copies, self.space, None,
                                                 self.ga.mutation_rate, mode="one")
        first = jnp.arange(p) == 0
        kept = jax.tree.map(lambda m, c: jnp.where(first.reshape(-1, *[1] * (m.ndim - 1)), c, m),
                            mutated, copies)
        return kept, jnp.where(first, fitness[best], jnp.nan), ~first


@pytest.fixture
def hill_climb():
    """HillClimb registered as NAME for one test (other tests see the usual registry)."""
    register(NAME)(HillClimb)
    yield NAME
    del STRATEGIES[NAME]


def test_the_config_checks_and_shows_a_registered_strategy(hill_climb):
    with pytest.raises(ValueError, match=r"ga.strategy must be one of .*'grid', 'hill_climb'\), "
                                         r"got 'hill_climb_typo'"):
        GAConfig(strategy="hill_climb_typo")
    ga = GAConfig(strategy=NAME, population=4, mutation_rate=0.5)
    assert ga.strategy == NAME and not ga.uses_gene_rates
    with pytest.raises(ValueError, match=r"ga.mutation_rate must be > 0 with "
                                         r"ga.strategy='hill_climb' \(the climber only mutates"):
        GAConfig(strategy=NAME, mutation_rate=0.0)
    with pytest.raises(ValueError, match="ga.elites must be left at 2 with ga.strategy="
                                         "'hill_climb' \\(only 'tournament' and "
                                         "'random_population' keep elites"):
        GAConfig(strategy=NAME, elites=1)
    config = vlga_jax.Config(ga=ga)
    assert config.planned_generations() == ga.generations
    rows = preset_settings(config)
    keys = [key for key, _ in rows]
    assert keys[keys.index("ga.population") + 1:keys.index("train.epochs")] == [
        "ga.generations", "ga.mutation_rate"]
    assert dict(rows)["ga.strategy"] == NAME
    # Its pure step: the best member stays first with its fitness; the rest are new.
    strategy = make_strategy(NAME, xiao2020(max_blocks=2), ga)
    state = pure.init(strategy, jax.random.key(0))
    fitness = jnp.asarray([0.1, 0.7, 0.3, 0.2])
    stepped = pure.step(strategy, jax.random.key(1), state, fitness)
    np.testing.assert_array_equal(stepped.population.blocks[0], state.population.blocks[1])
    np.testing.assert_array_equal(stepped.needs_eval, [False, True, True, True])
    assert float(stepped.fitness[0]) == pytest.approx(0.7) and int(stepped.generation) == 1


@pytest.mark.slow
def test_evolve_and_the_cli_run_it_by_name(hill_climb, tmp_path_factory):
    tiny = tiny_config(shared_cache_dir(tmp_path_factory))
    config = dataclasses.replace(
        tiny, ga=dataclasses.replace(tiny.ga, strategy=NAME, mutation_rate=1.0),
        train=dataclasses.replace(tiny.train, final_epochs=0))
    result = vlga_jax.evolve(jax.random.key(0), config)
    assert result.config.ga.strategy == NAME and result.stop_reason == "reached generations=2"
    first, second = result.generations
    assert (first.evaluated, second.evaluated) == (4, 3)  # the best is kept, not retrained
    assert second.population_fitness[0] == max(first.population_fitness)
    # The same search through the command line, in-process: the same candidates.
    tmp = tmp_path_factory.mktemp("hill_climb")
    base = dataclasses.replace(config, ga=dataclasses.replace(config.ga, strategy="vlga"))
    (tmp / "config.json").write_text(base.to_json())
    out = tmp / "run"
    assert main(["run", "--config", str(tmp / "config.json"), "--set",
                 f"ga.strategy={NAME}", "--seed", "0", "--out", str(out), "--quiet"]) == 0
    saved = json.loads((out / "result.json").read_text())
    assert saved["config"]["ga"]["strategy"] == NAME
    logged = [json.loads(line) for line in (out / "logs/generations.jsonl").open()]
    assert [g["population_fitness"] for g in logged] == [
        g.population_fitness for g in result.generations]
