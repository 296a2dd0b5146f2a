"""benchmarks/compare.py's configurations: every comparison's presets get valid configs,
and budgeted runs plan enough candidates to spend the whole budget."""

import importlib.util
import pathlib

import pytest

from vlga_jax import Config

_PATH = pathlib.Path(__file__).resolve().parents[1] / "benchmarks" / "compare.py"
_spec = importlib.util.spec_from_file_location("compare_benchmark", _PATH)
compare = importlib.util.module_from_spec(_spec)
_spec.loader.exec_module(compare)


@pytest.mark.parametrize("comparison", sorted(compare.COMPARISONS))
def test_every_comparison_gives_valid_configs(comparison):
    spec = compare.COMPARISONS[comparison]
    for name in spec["presets"]:
        overrides = compare.scaled_overrides(name, spec["budget"], spec["epochs"],
                                             spec["final_epochs"])
        config = Config.preset(compare.preset_name(name)).override(**overrides)
        assert config.ga.budget_epochs == spec["budget"]
        if name in compare.UNSCALED:  # the preset as defined but for the budget
            base = Config.preset(name)
            assert (config.ga.population, config.train.epochs) == (
                base.ga.population, base.train.epochs)


@pytest.mark.parametrize("budget", [36, 90, 300])
def test_vlga_plans_more_candidates_than_its_budget(budget):
    epochs, phases = 3, 2
    n = budget // epochs
    overrides = compare.scaled_overrides("vlga", budget, epochs, 10)
    pop, gens = overrides["ga.population"], overrides["ga.generations"]
    # first generation pop, later ones pop // 2 children (survival rate 0.5), per phase
    planned = phases * (pop + (gens - 1) * (pop // 2))
    assert planned > n
    assert phases * (pop + (gens - 2) * (pop // 2)) <= n + pop  # not far more than needed


def test_data_settings_reach_the_dataset():
    plain = compare.dataset_for(Config().data)
    larger = compare.dataset_for(Config().override(**{"data.val_fraction": 0.3}).data)
    assert larger.val_x.shape[0] > 2 * plain.val_x.shape[0]
    assert compare.dataset_for(Config().data) is plain  # loaded once
