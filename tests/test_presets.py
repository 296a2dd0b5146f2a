"""Every preset end to end on a tiny digits set, from Python and from `vlga run` (slow).

Tiny on purpose: population 2-4, 1 epoch per candidate, a budget of a few
candidate-epochs; the presets' paper numbers are overridden, not changed.
"""

import os
import subprocess
import sys

import jax
import numpy as np
import pytest

from vlga_jax import Config, evolve
from vlga_jax.strategies.base import STRATEGIES

pytestmark = pytest.mark.slow

PRESETS = ("binary-cnn", "mlp-ga", "grid", "tournament", "random-population", "random",
           "classical-ga")
TINY = {"train.epochs": 1, "train.final_epochs": 1, "train.batch_size": 32,
        "train.eval_batch_size": 32, "run.verbose": False}


def tiny(preset: str, budget: int = 2, **more) -> Config:
    overrides = {**TINY, "ga.population": 3, "ga.budget_epochs": budget, **more}
    if preset == "tournament" or preset == "random-population":
        overrides["ga.elites"] = 1
    if preset in ("random", "classical-ga"):
        overrides.update({"space.channels": (8,), "space.kernels": (1, 3),
                          "space.max_blocks": 2})
    return Config.preset(preset).override(**overrides)


@pytest.fixture(scope="module")
def results(digits_dataset, tmp_path_factory):
    cache = str(tmp_path_factory.mktemp("xla"))
    out = {}
    for preset in PRESETS:
        config = tiny(preset, **{"run.compile_cache_dir": cache})
        out[preset] = evolve(jax.random.key(0), config, dataset=digits_dataset)
    return out


def test_every_preset_names_a_registered_strategy():
    for name in ("quick", "paper", "report", *PRESETS):
        assert Config.preset(name).ga.strategy in STRATEGIES


@pytest.mark.parametrize("preset", PRESETS)
def test_preset_runs_and_spends_exactly_its_budget(results, preset):
    result = results[preset]
    assert result.totals["spent_epochs"] == 2
    assert result.totals["trained"] == 2  # population 3: the first generation is cut
    assert "budget" in result.stop_reason
    assert 0.0 <= result.search_fitness <= 1.0 and 0.0 <= result.test_accuracy <= 1.0
    assert np.isfinite(result.search_fitness)
    logits = result.predict(np.zeros((2, 8, 8, 1), np.float32))
    assert logits.shape == (2, 10)


def test_binary_cnn_result_has_the_dense_head(results):
    arch = results["binary-cnn"].architecture
    assert arch.head_units == (2048, 1024)
    assert "fc_1" in results["binary-cnn"].params


def test_vlga_budget_cuts_phase_one_and_keeps_weight_transfer(digits_dataset, tmp_path):
    config = Config.preset("quick").override(**{
        **TINY, "ga.population": 3, "ga.generations": 1, "ga.budget_epochs": 4,
        "ga.stop_drop": None, "space.channels": (8,), "space.kernels": (1,),
        "run.compile_cache_dir": str(tmp_path)})
    result = evolve(jax.random.key(1), config, dataset=digits_dataset)
    phases = [c.phase for c in result.candidates if not c.cache_hit]
    assert result.totals["spent_epochs"] == 4 and phases.count(1) >= 1
    assert len(result.architecture.blocks) in (1, 2)


def test_cli_runs_a_new_preset(tmp_path):
    env = {**os.environ, "XDG_CACHE_HOME": str(tmp_path / "cache")}
    cmd = [sys.executable, "-m", "vlga_jax.cli", "run", "--preset", "mlp-ga",
           "--out", str(tmp_path / "out"), "--set", "data.subset=20",
           "--set", "ga.population=2", "--set", "ga.budget_epochs=2",
           "--set", "train.epochs=1", "--set", "train.final_epochs=1"]
    proc = subprocess.run(cmd, capture_output=True, text=True, env=env, timeout=300,
                          cwd=os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
    assert proc.returncode == 0, proc.stderr[-2000:]
    assert "spent the budget of 2 candidate-epochs" in proc.stdout
    assert (tmp_path / "out" / "result.json").exists()
