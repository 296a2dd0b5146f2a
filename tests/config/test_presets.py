"""The presets: their settings and source records (fast), and every preset end to end on
a tiny digits set, from Python and from `vlga run` (slow).

Tiny on purpose: population 2-4, 1 epoch per candidate, a budget of a few
candidate-epochs; the presets' paper numbers are overridden, not changed.
"""

import ast
import inspect
import os
import subprocess
import sys

import jax
import numpy as np
import pytest

from vlga_jax import Config, evolve
from vlga_jax.cli import main
from vlga_jax.config import PRESETS as ALL_PRESETS
from vlga_jax.config import presets as preset_module
from vlga_jax.config.presets import PRESET_RECORDS, Preset, preset_record
from vlga_jax.config.presets_info import explain, preset_settings, provenance, summary
from vlga_jax.strategies.base import STRATEGIES

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


TABLE1_ACTIVATIONS = ("relu", "elu", "leaky_relu")
VLGA_ONLY = ("ga.max_phases", "ga.stop_drop", "ga.phase_winner", "train.transfer")


# -- settings and source records (fast, no training) -------------------------------------

def test_paper_preset_is_the_paper_as_run():
    c = Config.preset("paper")
    assert c.train.transfer == "freeze"
    assert c.space.activations == TABLE1_ACTIVATIONS
    assert c.space.build().gene("activation").values == TABLE1_ACTIVATIONS
    assert c.ga.phase_winner == "last_generation"
    # The paper's other settings, unchanged.
    ga = c.ga
    assert (ga.strategy, ga.population, ga.generations, ga.max_phases) == ("vlga", 20, 5, 5)
    assert (ga.fit_survival_rate, ga.unfit_survival_prob, ga.mutation_rate) == (0.5, 0.2, 0.2)
    assert (ga.crossover, ga.parent_selection, ga.stop_drop) == ("uniform", "uniform", 0.01)
    assert c.train.epochs == 5 and c.space.max_blocks == 5


def test_report_preset_follows_its_keras_code():
    c = Config.preset("report")
    assert c.space.activations == TABLE1_ACTIVATIONS
    assert (c.ga.population, c.ga.generations, c.ga.max_phases) == (10, 3, 5)
    assert (c.ga.crossover, c.ga.parent_selection, c.ga.mutation_rate) == (
        "one_point", "softmax", 0.1)
    assert c.ga.phase_winner == "last_generation" and c.ga.stop_drop is None
    assert (c.train.transfer, c.train.epochs, c.train.batch_size) == ("freeze", 3, 256)
    assert c.train.learning_rate == 1e-3  # Keras' Adam default


@pytest.mark.parametrize("name", ["random", "classical-ga"])
def test_paper_baselines_search_the_papers_activations(name):
    assert Config.preset(name).space.activations == TABLE1_ACTIVATIONS


def test_every_preset_has_a_source_and_reasoned_departures():
    for name in ALL_PRESETS:
        record = preset_record(name)
        assert isinstance(record, Preset) and record.name == name
        assert record.source.strip(), name
        for d in record.departures:
            assert d.what.strip() and d.why.strip(), (name, d)
    assert preset_record("quick").source.startswith("none")
    for name in ("paper", "report", "binary-cnn", "mlp-ga", "grid", "tournament"):
        assert preset_record(name).departures, name
    with pytest.raises(ValueError, match="presets: quick, paper"):
        preset_record("nope")


@pytest.mark.parametrize("name", list(ALL_PRESETS))
def test_every_setting_is_the_sources_or_a_listed_departure(name):
    """0 silent departures: each setting ``--explain`` shows is marked as given by the
    source (with the passage) or covered by a departure (with its reason and passage);
    none is both, and no record names a setting the preset does not show."""
    record = preset_record(name)
    shown = [key for key, _ in preset_settings(Config.preset(name))]
    marks = provenance(name)
    if record.source.startswith("none"):  # the project's own: nothing to depart from
        assert not record.sourced and not record.departures
        assert set(marks.values()) == {""}
        return
    covered = {key for d in record.departures for key in d.settings}
    silent = [key for key in shown if key not in record.sourced and key not in covered]
    assert silent == [], f"{name}: settings neither sourced nor listed as departures"
    assert not set(record.sourced) & covered, "a setting both sourced and departed from"
    assert set(record.sourced) | covered <= set(shown), "a record names an unshown setting"
    assert all(marks[key] for key in shown)
    for passage in record.sourced.values():
        assert passage.strip(), name
    for d in record.departures:
        assert d.what.strip() and d.why.strip() and d.passage.strip(), (name, d)
    assert all(f"[{marks[key]}]" in explain(name) for key in shown)


def test_presets_are_derived_from_the_records():
    """One list of presets: PRESETS (and Config.preset) hold each record's builder, in
    the records' order, and no preset name is written twice in the module."""
    assert list(ALL_PRESETS) == list(PRESET_RECORDS)
    for name, record in PRESET_RECORDS.items():
        assert ALL_PRESETS[name] is record.build
        assert Config.preset(name) == record.build()
    tree = ast.parse(inspect.getsource(preset_module))
    settings = {id(k.value) for k in ast.walk(tree) if isinstance(k, ast.keyword)}
    literals = [node.value for node in ast.walk(tree)  # not strategy="grid" and the like
                if isinstance(node, ast.Constant) and id(node) not in settings]
    assert {name: literals.count(name) for name in ALL_PRESETS} == dict.fromkeys(
        ALL_PRESETS, 1)


def test_explain_paper_shows_transfer_and_departures_with_reasons(capsys):
    assert main(["presets", "--explain", "paper"]) == 0
    out = capsys.readouterr().out
    assert out == explain("paper") + "\n"
    assert "Xiao" in out and "arXiv:2006.12703" in out
    transfer = next(line for line in out.splitlines() if "train.transfer" in line)
    assert transfer.split() == ["train.transfer", "freeze", "[source]"]
    population = next(line for line in out.splitlines() if "ga.population" in line)
    assert population.split()[:2] == ["ga.population", "20"]
    assert population.split()[2].startswith("[departure")  # the paper gives no value
    assert "('relu', 'elu', 'leaky_relu')" in out and "last_generation" in out
    departures = " ".join(out.split("departures from the source:")[1].split())
    assert "validation accuracy" in departures and "values this project chose" in departures
    assert "why:" in departures and "source passage:" in departures


@pytest.mark.parametrize("name", [n for n in ALL_PRESETS
                                  if Config.preset(n).ga.strategy != "vlga"])
def test_explain_shows_no_phase_fields_outside_the_vlga(name, capsys):
    assert main(["presets", "--explain", name]) == 0
    out = capsys.readouterr().out
    assert f"preset {name}" in out and "source:" in out
    for field in VLGA_ONLY:
        assert field not in out, (name, field)


def test_presets_list_shows_phases_and_transfer_only_for_the_vlga(capsys):
    assert main(["presets"]) == 0
    lines = capsys.readouterr().out.splitlines()
    assert [line.split()[0] for line in lines] == list(ALL_PRESETS)
    for name, line in zip(ALL_PRESETS, lines, strict=True):
        vlga = Config.preset(name).ga.strategy == "vlga"
        assert ("phases" in line) == vlga and ("transfer" in line) == vlga, line
    assert "freeze transfer" in lines[list(ALL_PRESETS).index("paper")]


def test_explain_an_unknown_preset_is_one_line_and_status_2(capsys):
    assert main(["presets", "--explain", "nope"]) == 2
    err = capsys.readouterr().err
    assert len(err.strip().splitlines()) == 1
    assert "'nope'" in err and all(name in err for name in ALL_PRESETS)


# -- end to end (slow) ---------------------------------------------------------------------

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


@pytest.mark.slow
@pytest.mark.parametrize("preset", PRESETS)
def test_preset_runs_and_spends_exactly_its_budget(results, preset):
    result = results[preset]
    assert result.totals["spent_epochs"] == 2
    assert result.totals["trained"] == 2  # population 3: the first generation is cut
    assert "budget" in result.stop_reason
    assert 0.0 <= result.search_fitness <= 1.0 and 0.0 <= result.test_accuracy <= 1.0
    assert np.isfinite(result.search_fitness)
    assert result.logits(np.zeros((2, 8, 8, 1), np.float32)).shape == (2, 10)
    assert result.predict(np.zeros((2, 8, 8))).shape == (2,)


@pytest.mark.slow
def test_binary_cnn_result_has_the_dense_head(results):
    arch = results["binary-cnn"].architecture
    assert arch.head_units == (2048, 1024)
    assert "fc_1" in results["binary-cnn"].params


@pytest.mark.slow
def test_vlga_budget_cuts_phase_one_and_keeps_weight_transfer(digits_dataset, tmp_path):
    config = Config.preset("quick").override(**{
        **TINY, "ga.population": 3, "ga.generations": 1, "ga.budget_epochs": 4,
        "ga.stop_drop": None, "space.channels": (8,), "space.kernels": (1,),
        "run.compile_cache_dir": str(tmp_path)})
    result = evolve(jax.random.key(1), config, dataset=digits_dataset)
    phases = [c.phase for c in result.candidates if not c.cache_hit]
    assert result.totals["spent_epochs"] == 4 and phases.count(1) >= 1
    assert len(result.architecture.blocks) in (1, 2)


@pytest.mark.slow
def test_cli_runs_a_new_preset(tmp_path):
    env = {**os.environ, "XDG_CACHE_HOME": str(tmp_path / "cache")}
    cmd = [sys.executable, "-m", "vlga_jax.cli", "run", "--preset", "mlp-ga",
           "--out", str(tmp_path / "out"), "--set", "data.subset=20",
           "--set", "ga.population=2", "--set", "ga.budget_epochs=2",
           "--set", "train.epochs=1", "--set", "train.final_epochs=1"]
    proc = subprocess.run(cmd, capture_output=True, text=True, env=env, timeout=300,
                          cwd=os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__)))))
    assert proc.returncode == 0, proc.stderr[-2000:]
    assert "spent the budget of 2 candidate-epochs" in proc.stdout
    assert (tmp_path / "out" / "result.json").exists()


def test_seed_presets_follow_their_sources():
    mod = Config.preset("modified-vlga")
    assert (mod.ga.strategy, mod.ga.parent_selection, mod.train.epochs,
            mod.train.transfer) == ("vlga", "fitness", 3, "freeze")
    t = Config.preset("tournament")
    assert t.ga.crossover == "none"  # winners are only mutated
    assert Config.preset("binary-cnn").train.epochs == 2
    mlp = Config.preset("mlp-ga")
    assert mlp.space.build().size() == 672 and mlp.train.learning_rate is None
    assert Config.preset("quick").train.learning_rate == 3e-3
    with pytest.raises(ValueError, match="ga.crossover"):
        Config.preset("mlp-ga").override(**{"ga.crossover": "none"})


def test_presets_show_vlga_fields_only_for_vlga_presets():
    for name in ALL_PRESETS:
        vlga = Config.preset(name).ga.strategy == "vlga"
        text = explain(name).split("departures from the source")[0]
        for field in ("ga.max_phases", "ga.stop_drop", "ga.phase_winner", "train.transfer"):
            assert (field in text) == vlga, (name, field)
        line = summary(name)
        assert ("phases" in line) == vlga and ("transfer" in line) == vlga, line
    assert "adadelta 1" in explain("mlp-ga")  # the per-optimizer learning rates


def test_start_warning_names_the_largest_network_and_a_cap():
    """A search that may train networks too slow for this machine says so at start (the
    largest network's FLOPs, one epoch's modelled time, a cap to pass); the quick preset
    and a capped search do not."""
    from vlga_jax.networks.architecture import from_description
    from vlga_jax.strategies import strategy_class
    from vlga_jax.training.feasibility import largest_network, start_warning

    def warning(config):
        def build(description):
            return from_description(description, input_shape=(8, 8, 1), num_classes=10,
                                    defaults=config.train.defaults())
        space, ga = config.space.build(), config.ga
        return start_warning(space, strategy_class(ga.strategy).deepest(ga, space), build,
                             config.train.max_candidate_gflop, 1294, 359, "cpu")

    paper = Config.preset("paper").override(**{"ga.max_phases": 2})
    text = warning(paper)
    assert text.count("\n") == 1 and "24.6 GFLOP per training example" in text
    assert "one epoch of it on 1294 images takes about 19 min" in text
    assert "--set train.max_candidate_gflop=0.1 " in text
    assert warning(paper.override(**{"train.max_candidate_gflop": 0.1})) is None
    assert warning(Config()) is None and warning(Config.preset("mlp-ga")) is None
    assert warning(paper) == text and start_warning(
        paper.space.build(), 2, lambda d: None, None, 1294, 359, "gpu") is None
    # The largest network: the most FLOPs of every one-block network of the quick space
    # (enumerated), and as deep as allowed.
    quick = Config()
    space = quick.space.build()

    def build(description):
        return from_description(description, input_shape=(8, 8, 1), num_classes=10,
                                defaults=quick.train.defaults())
    glob = space.global_settings()[0]
    most = max(build({"blocks": [b], "globals": glob}).flops_per_example
               for b in space.block_settings(glob))
    assert largest_network(space, 1, build).flops_per_example == most
    assert len(largest_network(space, quick.space.max_blocks, build).blocks) == 2
