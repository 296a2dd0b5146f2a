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


def test_match_steps_gives_the_source_protocols_steps_and_keeps_the_candidates():
    """Xiao et al.'s 5 epochs of 50,000 images at batch 128 are 1,950 steps: 195 epochs of
    digits' 1,294 training images (10 full batches each); the budget keeps its 30
    candidates."""
    assert compare.SOURCE_STEPS == 1950
    assert compare.matched_epochs(1950, 1294, 128) == 195
    assert compare.matched_epochs(1951, 1294, 128) == 196
    args = compare.argparse.Namespace(
        presets=["vlga", "classical-ga"], set=None, dataset="digits", data_dir=None,
        subset=None, match_steps=1950, epochs=3, budget=90)
    compare.match_steps(args)
    assert (args.epochs, args.budget) == (195, 30 * 195)


def test_paired_differences_are_per_seed():
    runs = [{"preset": p, "seed": s, "best_val": v, "test": t}
            for p, s, v, t in [("vlga", 0, 0.9, 0.8), ("classical-ga", 0, 0.8, 0.8),
                               ("vlga", 1, 0.7, 0.9), ("classical-ga", 1, 0.9, 0.7),
                               ("vlga", 2, 0.5, 0.5)]]  # seed 2 has no pair: left out
    (line,) = compare.paired_lines(runs)
    assert line.startswith("paired vlga - classical-ga over seeds [0, 1]: best val ")
    assert "-0.0500 +- 0.2121 (vlga ahead on 1 of 2, tied on 0)" in line
    assert "test 0.1000 +- 0.1414 (vlga ahead on 1 of 2, tied on 1)" in line


def test_presets_of_a_comparison_must_be_its_own(capsys):
    with pytest.raises(SystemExit):
        compare.main(["table2", "--presets", "mlp-ga", "--table-only"])
    assert "not in the table2 comparison" in capsys.readouterr().err
