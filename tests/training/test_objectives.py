"""User objectives, multi-objective (Pareto) search, top-k and user search spaces, end to
end through `evolve` on test_resume's tiny config (its shared compilation cache: the
same shapes compile nothing new)."""

import dataclasses
import json

import jax
import numpy as np
import pytest
from support import shared_cache_dir, tiny_config

from vlga_jax import evolve, load_model
from vlga_jax.cli import main
from vlga_jax.core.pareto import dominates
from vlga_jax.genetics.space import Gene, SearchSpace
from vlga_jax.networks.kinds import check_network_space

pytestmark = pytest.mark.slow
KEY = 2


class Interrupt(Exception):
    pass


def config_with(tmp_path_factory, **ga):
    config = tiny_config(shared_cache_dir(tmp_path_factory))
    return dataclasses.replace(config, ga=dataclasses.replace(config.ga, **ga),
                               run=dataclasses.replace(config.run, top_k=3))


def user_space() -> SearchSpace:
    """A conv space of this test's own: 8 channels (test_resume's programs), a pool type
    only where a pool is included, a learning-rate gene; two blocks at most."""
    return SearchSpace(
        block_genes=(Gene("channels_a", (8,)), Gene("kernel_a", (1, 3)),
                     Gene("include_pool", (False, True)),
                     Gene("pool_type", ("max", "avg"), requires=("include_pool", True))),
        global_genes=(Gene("learning_rate", (1e-2, 3e-3)),),
        max_blocks=2)


@pytest.fixture(scope="module")
def custom(tmp_path_factory):
    """The classical GA on the user space, maximising the README's custom objective:
    accuracy, less a penalty per thousand parameters."""
    def objective(metrics):
        return metrics["val_acc"] - 0.01 * metrics["params"] / 1000

    config = config_with(tmp_path_factory, strategy="ga")
    return evolve(jax.random.key(KEY), config, objective=objective, space=user_space())


def test_custom_objective_and_top_k(custom, tmp_path):
    result = custom

    trained = {c.hash: c for c in result.candidates if not c.failed}
    assert len(result.top) == 3 and len({t.hash for t in result.top}) == 3
    for t in result.top:
        expected = t.val_accuracy - 0.01 * t.param_count / 1000
        assert t.objectives[0] == pytest.approx(expected)
        assert trained[t.hash].fitness == pytest.approx(expected)
    scores = [t.objectives[0] for t in result.top]
    assert scores == sorted(scores, reverse=True)
    assert scores[0] == pytest.approx(max(c.fitness for c in trained.values()))
    assert result.search_fitness == pytest.approx(scores[0])
    assert "search fitness (objective_0)" in result.summary()

    # Each of the top k exports with its search weights and predicts raw images.
    path = result.top[1].export(tmp_path / "second.npz")
    model = load_model(path)
    assert model.architecture == result.top[1].architecture
    from sklearn.datasets import load_digits

    logits = model.logits(load_digits().images[:8])  # raw 0..16 pixels
    assert logits.shape == (8, 10) and np.isfinite(logits).all()


def test_objective_must_return_numbers():
    from vlga_jax.networks.architecture import from_description
    from vlga_jax.runs.records import Evaluation
    from vlga_jax.training.objectives import Objective
    from vlga_jax.training.trainer import Outcome

    arch = from_description({"blocks": [{"channels_a": 8, "kernel_a": 3}], "globals": {}},
                            input_shape=(8, 8, 1), num_classes=10)
    ev = Evaluation(arch, Outcome(None, None, 0.5, 1.0, 1.0, False, "", 0.1, None))
    assert Objective(("val_acc", "-params")).values(ev, 1).tolist() == [0.5, -arch.param_count]
    assert Objective(fn=lambda m: (m["val_acc"], m["epochs"])).values(ev, 3).tolist() == [0.5, 3]
    with pytest.raises(ValueError, match="objective returned .high. \\(not a number"):
        Objective(fn=lambda m: "high").values(ev, 1)
    failed = Evaluation(arch, Outcome(None, None, -np.inf, np.nan, np.nan, True, "nan", 0.1,
                                      None))
    assert Objective(fn=lambda m: 1 / 0).values(failed, 1).tolist() == [-np.inf]  # not called


@pytest.fixture(scope="module")
def pareto_run(tmp_path_factory):
    """A two-objective tournament search on the user space into a run directory, and the
    same search interrupted after its first generation and resumed."""
    config = config_with(tmp_path_factory, strategy="tournament", elites=1,
                         objectives=("val_acc", "-params"))
    root = tmp_path_factory.mktemp("pareto")
    key = jax.random.key(KEY)
    space = user_space()
    result = evolve(key, config, checkpoint_dir=root / "run", space=space)

    def stop(record, _):
        raise Interrupt

    with pytest.raises(Interrupt):
        evolve(key, config, checkpoint_dir=root / "resumed", callbacks=[stop], space=space)
    with pytest.raises(ValueError, match="holds a different run"):  # another space
        evolve(key, config, checkpoint_dir=root / "resumed")
    resumed = evolve(key, config, checkpoint_dir=root / "resumed", space=space)
    return {"result": result, "resumed": resumed, "root": root}


def test_pareto_front_is_non_dominated_and_complete(pareto_run):
    result = pareto_run["result"]
    assert result.objectives == ("val_acc", "-params")
    vectors = {c.hash: c.objectives for c in result.candidates if not c.failed}
    assert all(len(v) == 2 for v in vectors.values())
    front = {p.hash for p in result.pareto}
    assert front
    for h, v in vectors.items():
        dominated = any(dominates(w, v) for w in vectors.values())
        assert (h in front) == (not dominated), h
    for p in result.pareto:
        assert p.objectives == (p.val_accuracy, -p.param_count)
    # The strategy's fitness was a rank: at most 0.5 (front 0), one value per member.
    assert max(result.generations[-1].population_fitness) <= 0.5
    # ... and the summaries say so (not "search fitness (val)").
    assert "Pareto-rank fitness (val_acc, -params; front 0: 0 to 0.5)" in result.summary()
    from vlga_jax.runs.report import RunReport, summary_table

    table = summary_table(RunReport.load(pareto_run["root"] / "run"))
    assert "Pareto-rank fitness" in table and "search fitness (val)" not in table


def test_pareto_run_resumes_bit_for_bit(pareto_run):
    a, b = pareto_run["result"], pareto_run["resumed"]
    assert [(c.hash, c.fitness, c.objectives) for c in a.candidates] == [
        (c.hash, c.fitness, c.objectives) for c in b.candidates]
    assert [g.population_fitness for g in a.generations] == [
        g.population_fitness for g in b.generations]
    assert [p.hash for p in a.pareto] == [p.hash for p in b.pareto]
    assert [t.hash for t in a.top] == [t.hash for t in b.top]
    for x, y in zip(a.top, b.top, strict=True):
        jax.tree.map(np.testing.assert_array_equal, x.params, y.params)


def test_result_json_report_and_export_by_rank(pareto_run, capsys):
    run = pareto_run["root"] / "run"
    summary = json.loads((run / "result.json").read_text())
    assert [t["rank"] for t in summary["top"]] == [1, 2, 3]
    assert {p["hash"] for p in summary["pareto"]} == {p.hash for p in pareto_run["result"].pareto}
    assert main(["report", str(run)]) == 0
    assert (run / "report" / "pareto.png").read_bytes().startswith(b"\x89PNG")
    out = run.parent / "rank2.npz"
    assert main(["export", str(run), "--rank", "2", "--to", str(out)]) == 0
    assert load_model(out).architecture == pareto_run["result"].top[1].architecture
    assert main(["export", str(run), "--rank", "9", "--to", str(out), "--force"]) == 2
    assert "--rank 9" in capsys.readouterr().err


def test_user_space_with_two_strategies(custom, pareto_run):
    for result in (custom, pareto_run["result"], pareto_run["resumed"]):
        assert result.candidates
        for c in result.candidates:
            for block in c.genome["blocks"]:
                assert set(block) <= {"channels_a", "kernel_a", "include_pool", "pool_type"}
                assert block["channels_a"] == 8 and block["kernel_a"] in (1, 3)
                assert ("pool_type" in block) == block["include_pool"]
            assert c.genome["globals"]["learning_rate"] in (1e-2, 3e-3)
        assert result.architecture.learning_rate in (1e-2, 3e-3)
    assert custom.config.ga.strategy == "ga"
    assert pareto_run["result"].config.ga.strategy == "tournament"


def test_user_space_genes_are_checked():
    with pytest.raises(ValueError, match="block gene 'width'"):
        check_network_space(SearchSpace((Gene("channels_a", (4,)), Gene("kernel_a", (1,)),
                                         Gene("width", (1, 2)))))
    with pytest.raises(ValueError, match="need the block gene 'kernel_a'"):
        check_network_space(SearchSpace((Gene("channels_a", (4,)),)))
    with pytest.raises(ValueError, match="'optimizer' values must come from"):
        check_network_space(SearchSpace((Gene("channels_a", (4,)), Gene("kernel_a", (1,))),
                                        (Gene("optimizer", ("lion",)),)))


@pytest.mark.parametrize("value, expected", [
    (0.5, [0.5]), (np.float32(0.25), [0.25]), (3, [3.0]), ((0.5, -2), [0.5, -2.0]),
    (jax.numpy.float32(0.5), [0.5]), (jax.numpy.array([0.5, 2.0]), [0.5, 2.0]),
    ([jax.numpy.float32(0.25), 1], [0.25, 1.0]), (np.array([[0.5]])[0], [0.5])])
def test_objective_values_may_be_numbers_sequences_or_arrays(value, expected):
    """What a user objective may return, JAX arrays included (jnp.mean(...) is common)."""
    from vlga_jax.training.objectives import _vector

    v, problem = _vector(value)
    assert problem == "" and v.dtype == np.float64 and v.tolist() == expected
