"""A run interrupted at several points and resumed ends with the uninterrupted Result.

Interruptions: the trainer raising while phase 1's first generation trains
(mid-generation, so phase 1's parent must come back from the checkpoint); a callback
raising after generation 3 (a generation boundary) followed by damage to the newest
checkpoint (the resume falls back one generation); the trainer raising during final
training. Every
search shares a persistent compilation cache, so only the first one compiles.
"""

import json
import shutil

import jax
import numpy as np
import pytest

from vlga_jax import (
    Config,
    DataConfig,
    GAConfig,
    RunConfig,
    SpaceConfig,
    TrainConfig,
    evolve,
    load_dataset,
    load_model,
    save_model,
)
from vlga_jax import checkpoint as ckpt
from vlga_jax import genome as G
from vlga_jax.runlog import read_jsonl
from vlga_jax.trainer import Trainer

pytestmark = pytest.mark.slow

KEY = 2
CACHE_OPTIONS = ("jax_compilation_cache_dir", "jax_persistent_cache_min_compile_time_secs",
                 "jax_persistent_cache_min_entry_size_bytes")


class Interrupt(Exception):
    pass


def tiny_config(cache_dir) -> Config:
    """Also the CLI tests' config: same data and shapes, so they share compiled programs."""
    return Config(
        space=SpaceConfig(max_blocks=2, channels=(8,), kernels=(1, 3)),
        ga=GAConfig(population=4, generations=2, max_phases=2),
        train=TrainConfig(epochs=1, final_epochs=2, batch_size=32, eval_batch_size=32,
                          learning_rate=1e-2),
        data=DataConfig(subset=30),
        run=RunConfig(compile_cache_dir=cache_dir, verbose=False),
    )


def shared_cache_dir(tmp_path_factory) -> str:
    """A persistent compilation cache shared by every test module of the session."""
    return str(tmp_path_factory.getbasetemp() / "xla_cache")


def raise_on_call(n: int, final: bool = False):
    """An evaluator that raises on its n-th search call (or n-th final-training call)."""
    original = Trainer.train
    calls = {"search": 0, "final": 0}

    def train(self, members, n_epochs, data=None, **kw):
        kind = "final" if members and members[0].program is not None else "search"
        calls[kind] += 1
        if (kind == "final") == final and calls[kind] == n:
            raise Interrupt(f"{kind} call {n}")
        return original(self, members, n_epochs, data=data, **kw)

    return train


def spy_calls(calls: list):
    """An evaluator that records ("search" | "final", members) for every call."""
    original = Trainer.train

    def train(self, members, n_epochs, data=None, **kw):
        final = members and members[0].program is not None
        calls.append(("final" if final else "search", len(members)))
        return original(self, members, n_epochs, data=data, **kw)

    return train


def stop_after(generations: int):
    seen = []

    def callback(record, _):
        seen.append(record)
        if len(seen) == generations:
            raise Interrupt(f"after generation {generations}")

    return callback


@pytest.fixture(scope="module")
def runs(tmp_path_factory):
    saved = {name: getattr(jax.config, name) for name in CACHE_OPTIONS}
    root = tmp_path_factory.mktemp("resume")
    config = tiny_config(shared_cache_dir(tmp_path_factory))
    key = jax.random.key(KEY)
    go = {}
    out = {"config": config, "root": root}
    try:
        out["reference"] = evolve(key, config, checkpoint_dir=root / "reference", **go)
        out["plain"] = evolve(key, config, **go)

        with pytest.raises(Interrupt):  # phase 1, generation 0
            evolve(key, config, checkpoint_dir=root / "mid", evaluator=raise_on_call(3), **go)
        out["mid_checkpoints"] = [p.name for p in ckpt.list_checkpoints(root / "mid/checkpoints")]
        out["mid"] = evolve(key, config, checkpoint_dir=root / "mid", **go)

        # Stopped between generations 3 and 4 (e.g. Ctrl-C in a callback), and the newest
        # checkpoint damaged afterwards: resumes from generation 2.
        with pytest.raises(Interrupt):
            evolve(key, config, checkpoint_dir=root / "boundary", callbacks=[stop_after(3)],
                   **go)
        out["boundary_checkpoints"] = [p.name for p in
                                       ckpt.list_checkpoints(root / "boundary/checkpoints")]
        latest = ckpt.list_checkpoints(root / "boundary/checkpoints")[-1]
        (latest / "state.json").write_text("{ truncated")
        with pytest.warns(RuntimeWarning, match=str(latest / "state.json")):
            out["boundary"] = evolve(key, config, checkpoint_dir=root / "boundary", **go)

        # Killed during final training's second epoch: every generation and the first
        # final epoch are checkpointed, so the resumed run only trains the second epoch.
        shutil.copytree(root / "mid", root / "final")
        with pytest.raises(Interrupt):
            evolve(key, config, checkpoint_dir=root / "final",
                   evaluator=raise_on_call(2, final=True), **go)
        out["final_checkpoints"] = [p.name for p in ckpt.list_checkpoints(root / "final/final")]
        calls = []
        out["final"] = evolve(key, config, checkpoint_dir=root / "final",
                              evaluator=spy_calls(calls), **go)
        out["final_calls"] = calls

        # run.top_k_retrain=2 on the finished search (run options may change on resume):
        # final training of the winner, then of the next best. Then killed in the second
        # one's first epoch (the winner's two epochs and test evaluation were calls 1-3)
        # and resumed.
        top2 = config.override(**{"run.top_k_retrain": 2})
        shutil.copytree(root / "mid", root / "top2")
        out["top2"] = evolve(key, top2, checkpoint_dir=root / "top2", **go)
        shutil.copytree(root / "mid", root / "top2_killed")
        with pytest.raises(Interrupt):
            evolve(key, top2, checkpoint_dir=root / "top2_killed",
                   evaluator=raise_on_call(4, final=True), **go)
        out["top2_killed"] = evolve(key, top2, checkpoint_dir=root / "top2_killed", **go)
        # Whichever validates better is kept: made to be the second here.
        with pytest.MonkeyPatch.context() as patch:
            patch.setattr("vlga_jax.retrain.better_validation", lambda a, b: True)
            out["top2_second"] = evolve(key, top2, **go)
    finally:
        for name, value in saved.items():
            jax.config.update(name, value)
    return out


def history(result):
    candidates = [(c.phase, c.generation, c.hash, c.genome, c.fitness, c.cache_hit, c.failed,
                   c.epochs, c.param_count, c.flops) for c in result.candidates]
    generations = [(g.phase, g.generation, g.best, g.mean, g.median, g.evaluated,
                    g.cache_hits, g.population_fitness) for g in result.generations]
    return candidates, generations


def assert_same_result(a, b):
    assert history(a) == history(b)
    # The plan's counts, not this process's compiles: a resumed run recompiles in memory.
    for count in ("programs_compiled", "program_reuses", "buckets"):
        assert a.totals[count] == b.totals[count], count
    assert a.phase_best == b.phase_best and a.stop_reason == b.stop_reason
    assert a.description == b.description and a.architecture == b.architecture
    for x, y in zip(jax.tree.leaves(a.best_genome), jax.tree.leaves(b.best_genome), strict=True):
        np.testing.assert_array_equal(x, y)
    assert (a.search_fitness, a.val_accuracy, a.test_accuracy) == (
        b.search_fitness, b.val_accuracy, b.test_accuracy)
    for x, y in zip(jax.tree.leaves((a.params, a.batch_stats)),
                    jax.tree.leaves((b.params, b.batch_stats)), strict=True):
        np.testing.assert_array_equal(x, y)


def test_checkpointing_does_not_change_the_result(runs):
    assert len(runs["reference"].generations) == 4
    assert_same_result(runs["reference"], runs["plain"])


@pytest.mark.parametrize("name", ["boundary", "mid", "final"])
def test_resumed_run_ends_with_the_uninterrupted_result(runs, name):
    assert_same_result(runs["reference"], runs[name])


def test_top_k_retrain_keeps_the_best_validation_and_resumes(runs, tmp_path):
    reference, top2 = runs["reference"], runs["top2"]
    assert not reference.retrained
    winner, second = top2.retrained
    assert [winner.rank, second.rank] == [1, 2] and winner.hash != second.hash
    # The winner's final training is the one a k=1 run does.
    assert winner.hash == G.genome_hash(reference.best_genome, top2_space(runs))
    assert (winner.val_accuracy, winner.test_accuracy) == (reference.val_accuracy,
                                                           reference.test_accuracy)
    kept = second if second.val_accuracy > winner.val_accuracy else winner
    assert [r.selected for r in top2.retrained] == [r is kept for r in top2.retrained]
    assert (top2.val_accuracy, top2.test_accuracy) == (kept.val_accuracy, kept.test_accuracy)
    assert G.genome_hash(top2.best_genome, top2_space(runs)) == kept.hash
    assert "retrained the top 2" in top2.summary()
    saved = json.loads((runs["root"] / "top2/result.json").read_text())
    assert [r["hash"] for r in saved["retrained"]] == [winner.hash, second.hash]
    assert "retrained" not in json.loads((runs["root"] / "reference/result.json").read_text())
    # When the second validates better, the result is the second, whole.
    other = runs["top2_second"]
    assert [r.selected for r in other.retrained] == [False, True]
    assert other.retrained[1].hash == second.hash
    assert G.genome_hash(other.best_genome, top2_space(runs)) == second.hash
    assert (other.val_accuracy, other.test_accuracy) == (second.val_accuracy,
                                                         second.test_accuracy)
    from vlga_jax.candidates import architecture_label

    assert architecture_label(other.architecture) == second.architecture
    assert other.search_fitness == second.search_fitness == next(
        c.fitness for c in other.candidates if c.hash == second.hash)
    assert other.as_model().predict(np.zeros((2, 8, 8))).shape == (2,)
    # Killed while retraining the second: the resumed run ends alike.
    assert_same_result(top2, runs["top2_killed"])
    assert top2.retrained == runs["top2_killed"].retrained


def top2_space(runs):
    return runs["config"].space.build()


def test_interruptions_left_the_expected_checkpoints(runs):
    assert runs["boundary_checkpoints"] == ["ckpt_000002", "ckpt_000003"]
    # Killed while phase 1 trained: generations 1 and 2 (phase 0) were checkpointed.
    assert runs["mid_checkpoints"] == ["ckpt_000001", "ckpt_000002"]
    # The final run resumed after final training's first epoch: no search call, one
    # training epoch and the test evaluation; its final checkpoints were removed.
    assert runs["final_checkpoints"] == ["ckpt_000001"]
    assert runs["final_calls"] == [("final", 1), ("final", 1)]
    assert not (runs["root"] / "final/final").exists()


def test_run_dir_contents_after_resume(runs):
    run = runs["root"] / "mid"
    result = runs["mid"]
    assert [p.name for p in ckpt.list_checkpoints(run / "checkpoints")] == ["ckpt_000003",
                                                                            "ckpt_000004"]
    generations = read_jsonl(run / "logs/generations.jsonl")
    candidates = read_jsonl(run / "logs/candidates.jsonl")
    assert [(g["phase"], g["generation"]) for g in generations] == [
        (g.phase, g.generation) for g in result.generations]
    assert [c["hash"] for c in candidates] == [c.hash for c in result.candidates]
    summary = json.loads((run / "result.json").read_text())
    assert summary["test_accuracy"] == result.test_accuracy
    assert summary["best"] == result.description
    assert (run / "model.npz").stat().st_size > 0


def test_checkpoints_keep_only_needed_parameters(runs):
    state, tree, _ = ckpt.load_latest(runs["root"] / "reference/checkpoints")
    kept = [e["hash"] for e in state["cache"] if e["params"]]
    assert set(kept) == set(tree["params"])
    assert len(kept) < len(state["cache"])
    assert runs["reference"].candidates  # best genome's parameters are among those kept
    best = max((c for c in runs["reference"].candidates if not c.failed),
               key=lambda c: c.fitness)
    assert best.hash in kept


def test_export_then_load_gives_identical_predictions(runs, tmp_path):
    from sklearn.datasets import load_digits

    result = runs["reference"]
    dataset = load_dataset("digits", subset=30)
    model = load_model(save_model(tmp_path / "model.npz", result, dataset=dataset))
    assert model.architecture == result.architecture
    for x, y in zip(jax.tree.leaves((result.params, result.batch_stats)),
                    jax.tree.leaves((model.params, model.batch_stats)), strict=True):
        np.testing.assert_array_equal(x, y)
    raw = load_digits().images[:64]  # raw pixel units 0..16, (N, 8, 8)
    # Result and the exported model: raw images in, the same logits and classes out.
    normalised = np.asarray(jax.jit(model.apply)(model.variables, dataset.normalize(raw)))
    np.testing.assert_array_equal(result.logits(raw), normalised)
    np.testing.assert_array_equal(model.logits(raw), normalised)
    expected = np.argmax(normalised, -1)
    np.testing.assert_array_equal(result.predict(raw), expected)
    np.testing.assert_array_equal(model.predict(raw), expected)
    # Saved without a dataset, the result's own normalisation is stored.
    own = load_model(save_model(tmp_path / "own.npz", result))
    np.testing.assert_array_equal(own.predict(raw), expected)
    # The run directory's own export holds the same network.
    in_dir = load_model(runs["root"] / "reference/model.npz")
    np.testing.assert_array_equal(in_dir.predict(raw), expected)
    assert in_dir.metadata["test_accuracy"] == result.test_accuracy
    with pytest.raises(ValueError, match="images must be"):
        model.predict(np.zeros((2, 8, 8, 3)))
    (tmp_path / "junk.npz").write_bytes(b"not a zip")
    with pytest.raises(ValueError, match="junk.npz: not a vlga model file"):
        load_model(tmp_path / "junk.npz")


def test_compile_log_gives_three_phases_per_program(runs):
    lines = read_jsonl(runs["root"] / "reference/logs/compiles.jsonl")
    programs = runs["reference"].totals["programs"]  # final training's compiles come last
    assert 1 <= len(lines) <= len(programs)
    training = [p for p in programs if p["kind"] == "train"]  # evaluation programs: no plan
    assert len(training) == runs["reference"].totals["programs_compiled"]
    assert programs[-1]["kind"] == "eval"  # the test split, after final training
    for line, program in zip(lines, programs, strict=False):
        assert {k: line[k] for k in program} == program
        assert line["phase"] in (0, 1) and line["generation"] in (0, 1)
        assert all(line[k] > 0 for k in ("trace", "lower", "backend"))
