"""A run interrupted at several points and resumed ends with the uninterrupted Result.

Interruptions: the trainer raising while phase 1's first generation trains
(mid-generation, so phase 1's parent must come back from the checkpoint); a callback
raising after generation 3 (a generation boundary) followed by damage to the newest
checkpoint (the resume falls back one generation); SIGKILL during final training (and
the same with its final checkpoint damaged). Each resumed run writes result.json (timing
aside) and model.npz byte for byte as the uninterrupted run does. Every
search shares a persistent compilation cache, so only the first one compiles.
"""

import json
import os
import shutil
import signal
import subprocess
import sys

import jax
import numpy as np
import pytest
from support import CACHE_OPTIONS, KEY, shared_cache_dir, tiny_config

from vlga_jax import (
    evolve,
    load_dataset,
    load_model,
    save_model,
)
from vlga_jax.core import checkpoint as ckpt
from vlga_jax.genetics import genome as G
from vlga_jax.runs.runlog import read_jsonl
from vlga_jax.training.trainer import Trainer

pytestmark = pytest.mark.slow



class Interrupt(Exception):
    pass






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

        # Killed (SIGKILL, in a process of its own) during final training's second
        # epoch: every generation and the first final epoch are checkpointed, so the
        # resumed run only trains the second epoch. (A copy of the finished "mid" run,
        # result.json and model.npz removed: only final training runs again.)
        shutil.copytree(root / "mid", root / "final")
        for name in ("result.json", "model.npz"):
            (root / "final" / name).unlink()
        killed = kill_in_final_training(root / "final", config)
        assert killed.returncode == -signal.SIGKILL, killed.stderr[-2000:]
        out["final_checkpoints"] = [p.name for p in ckpt.list_checkpoints(root / "final/final")]
        out["final_checkpoint_body"] = ckpt.load_latest(root / "final/final")[0]
        assert (root / "final/lock").exists()  # left by the killed process: stale
        shutil.copytree(root / "final", root / "damaged")
        calls = []
        out["final"] = evolve(key, config, checkpoint_dir=root / "final",
                              evaluator=spy_calls(calls), **go)
        out["final_calls"] = calls

        # The same, its final checkpoint truncated: final training starts again from
        # the end of the search, with a warning, and ends the same.
        state = root / "damaged/final/ckpt_000001/state.json"
        state.write_bytes(state.read_bytes()[:50])
        with pytest.warns(RuntimeWarning, match="training the final model again"):
            out["damaged"] = evolve(key, config, checkpoint_dir=root / "damaged", **go)
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
            patch.setattr("vlga_jax.search.retrain.better_validation", lambda a, b: True)
            out["top2_second"] = evolve(key, top2, **go)
    finally:
        for name, value in saved.items():
            jax.config.update(name, value)
    return out


KILL_IN_FINAL = """
import os, signal, sys
sys.path.insert(0, {tests!r})
import jax
jax.config.update("jax_default_matmul_precision", "highest")  # as conftest.py
from support import KEY, Config
from vlga_jax import evolve
from vlga_jax.training.trainer import Trainer
original, finals = Trainer.train, []

def train(self, members, n_epochs, data=None, **kw):
    if members and members[0].program is not None:
        finals.append(1)
        if len(finals) == 2:
            os.kill(os.getpid(), signal.SIGKILL)
    return original(self, members, n_epochs, data=data, **kw)

config = Config.from_json(open({config!r}).read())
evolve(jax.random.key(KEY), config, checkpoint_dir={run!r}, evaluator=train)
"""


def kill_in_final_training(run, config) -> subprocess.CompletedProcess:
    """Run ``config`` into ``run`` in a process that SIGKILLs itself at the start of
    final training's second epoch."""
    path = run.parent / f"{run.name}.json"
    path.write_text(config.to_json())
    tests = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
    script = KILL_IN_FINAL.format(tests=tests, config=str(path), run=str(run))
    env = dict(os.environ, PYTHONPATH=os.pathsep.join(
        [os.path.dirname(tests), os.environ.get("PYTHONPATH", "")]))
    return subprocess.run([sys.executable, "-c", script], env=env, capture_output=True,
                          text=True, timeout=600)


# result.json fields that time this process (they differ between any two runs).
# Seconds, and which sessions they came from: everything else is the result.
TIMING = ("compile_seconds", "compile_wait_seconds", "compile_phases", "train_seconds",
          "wall_seconds", "session_wall_seconds", "session_compile_seconds",
          "session_train_seconds", "resumed")


def comparable_result_json(run) -> dict:
    """A run directory's result.json without its timing fields."""
    summary = json.loads((run / "result.json").read_text())
    totals = summary["totals"]
    for name in TIMING:
        totals.pop(name)
    totals["programs"] = [{k: p[k] for k in ("program", "kind", "size")}
                          for p in totals["programs"]]
    return summary


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


@pytest.mark.parametrize("name", ["boundary", "mid", "final", "damaged"])
def test_resumed_run_ends_with_the_uninterrupted_result(runs, name):
    assert_same_result(runs["reference"], runs[name])
    # The files too: result.json (timing aside) and model.npz byte for byte.
    reference, resumed = runs["root"] / "reference", runs["root"] / name
    assert comparable_result_json(resumed) == comparable_result_json(reference)
    assert (resumed / "model.npz").read_bytes() == (reference / "model.npz").read_bytes()
    assert (resumed / "top/rank_1.npz").read_bytes() == (
        reference / "top/rank_1.npz").read_bytes()


def test_a_finished_run_is_not_trained_again(runs, capsys, monkeypatch):
    from vlga_jax import cli

    monkeypatch.setattr(cli.run, "_run_search", lambda *a: pytest.fail("trained again"))
    config = runs["root"] / "final.json"  # the runs' config, as kill_in_final_training wrote it
    run = runs["root"] / "reference"
    before = (run / "model.npz").read_bytes()
    assert cli.main(["run", "--config", str(config), "--seed", str(KEY), "--out", str(run),
                     "--quiet"]) == 0
    assert "holds this run, finished; nothing to do" in capsys.readouterr().out
    assert (run / "model.npz").read_bytes() == before


def test_top_k_retrain_keeps_the_best_validation_and_resumes(runs, tmp_path):
    reference, top2 = runs["reference"], runs["top2"]
    assert not reference.top_k_retrained
    winner, second = top2.top_k_retrained
    assert [winner.rank, second.rank] == [1, 2] and winner.hash != second.hash
    # The winner's final training is the one a k=1 run does.
    assert winner.hash == G.genome_hash(reference.best_genome, top2_space(runs))
    assert (winner.val_accuracy, winner.test_accuracy) == (reference.val_accuracy,
                                                           reference.test_accuracy)
    kept = second if second.val_accuracy > winner.val_accuracy else winner
    assert [r.selected for r in top2.top_k_retrained] == [r is kept for r in top2.top_k_retrained]
    assert (top2.val_accuracy, top2.test_accuracy) == (kept.val_accuracy, kept.test_accuracy)
    assert G.genome_hash(top2.best_genome, top2_space(runs)) == kept.hash
    assert "retrained the top 2" in top2.summary()
    saved = json.loads((runs["root"] / "top2/result.json").read_text())
    assert [r["hash"] for r in saved["top_k_retrained"]] == [winner.hash, second.hash]
    assert "top_k_retrained" not in json.loads((runs["root"] / "reference/result.json").read_text())
    # When the second validates better, the result is the second, whole.
    other = runs["top2_second"]
    assert [r.selected for r in other.top_k_retrained] == [False, True]
    assert other.top_k_retrained[1].hash == second.hash
    assert G.genome_hash(other.best_genome, top2_space(runs)) == second.hash
    assert (other.val_accuracy, other.test_accuracy) == (second.val_accuracy,
                                                         second.test_accuracy)
    from vlga_jax.networks.architecture import architecture_label

    assert architecture_label(other.architecture) == second.architecture
    assert other.search_fitness == second.search_fitness == next(
        c.fitness for c in other.candidates if c.hash == second.hash)
    assert other.as_model().predict(np.zeros((2, 8, 8))).shape == (2,)
    # Killed while retraining the second: the resumed run ends alike.
    assert_same_result(top2, runs["top2_killed"])
    assert top2.top_k_retrained == runs["top2_killed"].top_k_retrained


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


def test_timings_after_a_resume_name_this_session_and_all(runs):
    once, resumed = runs["reference"].totals, runs["mid"].totals
    assert not once["resumed"] and once["session_wall_seconds"] == once["wall_seconds"]
    assert once["session_train_seconds"] == once["train_seconds"]
    assert "this session" not in runs["reference"].summary()
    # The resumed run's totals hold every session's seconds, its session_* fields its own.
    assert resumed["resumed"] and 0 < resumed["session_wall_seconds"] < resumed["wall_seconds"]
    assert 0 < resumed["session_train_seconds"] < resumed["train_seconds"]
    assert resumed["session_compile_seconds"] <= resumed["compile_seconds"]
    summary = runs["mid"].summary()
    assert (f"wall {resumed['session_wall_seconds']:.1f}s this session; " in summary
            and f"wall {resumed['wall_seconds']:.1f}s in all" in summary)
    saved = json.loads((runs["root"] / "mid/result.json").read_text())["totals"]
    assert saved["wall_seconds"] == resumed["wall_seconds"] and saved["resumed"]
    # Resumed in final training: the earlier sessions' seconds are those its checkpoint
    # recorded (search and final epochs), this session's only what it ran.
    final, body = runs["final"].totals, runs["final_checkpoint_body"]
    assert final["resumed"] and body["wall_seconds"] > 0
    assert final["wall_seconds"] - final["session_wall_seconds"] == pytest.approx(
        body["wall_seconds"])
    earlier_train = body["trainer_stats"]["train_seconds"]
    assert final["session_train_seconds"] == pytest.approx(
        final["train_seconds"] - earlier_train)


def test_checkpoints_of_another_space_layout_are_refused_clearly():
    import types

    from vlga_jax import Config
    from vlga_jax.genetics.space import binary_cnn
    from vlga_jax.search.evolve import _check_layout

    space = binary_cnn()
    search = types.SimpleNamespace(space=space, config=Config.preset("binary-cnn"))
    run = types.SimpleNamespace(path="RUN")
    fresh = G.random_population(jax.random.key(0), space, 4, space.max_blocks)
    _check_layout(types.SimpleNamespace(population=fresh), search, run)
    # The chromosome of earlier versions: 8 stages, 5 global genes.
    old = fresh.replace(blocks=np.zeros((4, 8, 1), np.int32),
                        globals=np.zeros((4, 5), np.int32))
    with pytest.raises(ValueError, match=r"RUN: its checkpoints hold genomes of another "
                       r"layout .* globals \(5,\); space.kind='binary_cnn' now has blocks "
                       r"\(7, 1\), globals \(6,\)"):
        _check_layout(types.SimpleNamespace(population=old), search, run)
