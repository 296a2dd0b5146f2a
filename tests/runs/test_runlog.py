"""Run logs and progress output: JSON lines, optional dashboards (faked), the live bar."""

import importlib
import io
import json
import sys
import time
import types

import pytest

from vlga_jax import Config, RunConfig
from vlga_jax.runs.progress import Progress
from vlga_jax.runs.runlog import RunLog, read_jsonl
from vlga_jax.search.evolve import CandidateRecord, GenerationRecord


def records(phase=0, generation=0, best_so_far=None):
    cands = [CandidateRecord(phase=phase, generation=generation, hash=f"h{i}",
                             genome={"blocks": [{"channels_a": 8}], "globals": {}},
                             fitness=f, epochs=1, seconds=0.5, failed=f == float("-inf"),
                             reason="", cache_hit=False, param_count=100 * (i + 1), flops=10)
             for i, f in enumerate([0.5, float("-inf")])]
    gen = GenerationRecord(phase=phase, generation=generation, best=0.5, mean=0.5,
                           median=0.5, evaluated=2, cache_hits=0, seconds=1.0,
                           population_fitness=[0.5, float("-inf")], best_so_far=best_so_far)
    return gen, cands


def test_json_lines_are_strict_json_and_reset_rewrites_them(tmp_path):
    log = RunLog(tmp_path, Config())
    log.reset([], [])
    gen, cands = records()
    log.write(gen, cands)
    log.write(*records(0, 1, best_so_far=0.75))
    lines = (tmp_path / "logs/candidates.jsonl").read_text().splitlines()
    assert len(lines) == 4
    first = json.loads(lines[1], parse_constant=pytest.fail)  # no Infinity/NaN tokens
    assert first["fitness"] is None and first["failed"] is True
    logged = read_jsonl(tmp_path / "logs/generations.jsonl")
    assert logged[0]["population_fitness"] == [0.5, None]
    # The generation's best beside the best of all generations so far.
    assert [(g["best"], g["best_so_far"]) for g in logged] == [(0.5, None), (0.5, 0.75)]
    log.reset(cands, [gen])  # as on resume from a checkpoint holding one generation
    assert len(read_jsonl(tmp_path / "logs/generations.jsonl")) == 1
    assert len(read_jsonl(tmp_path / "logs/candidates.jsonl")) == 2


def test_a_truncated_last_line_is_ignored_but_not_a_middle_one(tmp_path):
    path = tmp_path / "x.jsonl"
    path.write_text('{"a": 1}\n{"a": 2}\n{"a": ')
    assert read_jsonl(path) == [{"a": 1}, {"a": 2}]
    path.write_text('{"a": 1}\n{"a"\n{"a": 2}\n')
    with pytest.raises(ValueError, match="line 2"):
        read_jsonl(path)


def test_dashboards_get_the_generation_scalars(tmp_path, monkeypatch):
    logged = {"tb": [], "wandb": [], "init": None, "finished": False}

    class Writer:
        def __init__(self, logdir):
            logged["logdir"] = logdir

        def add_scalar(self, tag, value, step):
            logged["tb"].append((tag, value, step))

        def flush(self):
            pass

        def close(self):
            pass

    class Run:
        def log(self, metrics, step):
            logged["wandb"].append((metrics, step))

        def finish(self):
            logged["finished"] = True

    def init(**kwargs):
        logged["init"] = kwargs
        return Run()

    monkeypatch.setitem(sys.modules, "tensorboardX", types.SimpleNamespace(SummaryWriter=Writer))
    monkeypatch.setitem(sys.modules, "wandb", types.SimpleNamespace(init=init))
    config = Config(run=RunConfig(tensorboard=True, wandb=True, wandb_project="p"))
    log = RunLog(tmp_path, config)
    log.reset([], [records()[0]])  # one generation already logged (a resume)
    log.write(*records(0, 1, best_so_far=0.75))
    log.close()
    assert ("generation/best", 0.5, 1) in logged["tb"]
    assert ("generation/best_so_far", 0.75, 1) in logged["tb"]
    metrics, step = logged["wandb"][0]
    assert step == 1 and metrics["generation/mean"] == 0.5 and metrics["generation/phase"] == 0
    assert logged["init"]["project"] == "p" and logged["init"]["resume"] == "allow"
    assert logged["finished"]


def test_enabled_dashboard_that_is_not_installed_is_a_clear_error(tmp_path, monkeypatch):
    monkeypatch.setitem(sys.modules, "wandb", None)  # import fails
    log = RunLog(tmp_path, Config(run=RunConfig(wandb=True)))
    with pytest.raises(ValueError, match=r"run.wandb=True needs wandb \(pip install wandb\)"):
        log.reset([], [])


def test_progress_plain_lines_when_not_a_terminal():
    out = io.StringIO()
    progress = Progress(4, file=out)
    with progress:
        progress.generation_started(0, 0, 2)
        progress(*records())
        progress(*records(0, 1, best_so_far=0.75))
    lines = out.getvalue().splitlines()
    assert lines[0].startswith("phase 0 gen 0: best 0.5000 mean 0.5000")  # an old record
    assert lines[1].startswith("phase 0 gen 1: gen best 0.5000 (best so far 0.7500) mean")


def test_plain_progress_inside_a_generation_has_bucket_lines_and_a_heartbeat():
    buckets = [("8x8x1 8k3 adam", 1, 10.0), ("8x8x1 16k3 adam", 2, 30.0),
               ("8x8x1 8k1 adam", 1, 10.0)]

    def three_buckets(line_seconds: float) -> str:
        out = io.StringIO()
        with Progress(4, file=out, heartbeat=None, line_seconds=line_seconds) as progress:
            progress.generation_started(0, 1, 4)
            progress.train_started(1, buckets)
            for k in range(3):
                progress.bucket_started(k)
                progress.bucket_finished(k, 0.1)
        return out.getvalue()

    lines = three_buckets(0).splitlines()
    # One line per finished bucket but the last (the generation's line follows it).
    assert len(lines) == 2
    assert lines[0].startswith("  phase 0 gen 1: trained 1/4, ") and "ETA" in lines[0]
    assert lines[1].startswith("  phase 0 gen 1: trained 3/4, ")
    # Lines at most every line_seconds: none within the first 60 s.
    assert three_buckets(60) == ""
    # While one call runs, the heartbeat thread says what and for how long.
    out = io.StringIO()
    with Progress(4, file=out, heartbeat=0.05) as progress:
        progress.generation_started(0, 1, 4)
        progress.train_started(1, buckets)
        progress.bucket_started(1)
        deadline = time.perf_counter() + 5
        while "still" not in out.getvalue() and time.perf_counter() < deadline:
            time.sleep(0.01)
    first = out.getvalue().splitlines()[0]
    assert first.startswith("  still training 8x8x1 16k3 adam (phase 0 gen 1, 1-2/4), ")
    assert first.endswith(" s")


def test_progress_live_bar(monkeypatch):
    monkeypatch.setenv("COLUMNS", "160")
    out = io.StringIO()
    with Progress(5, file=out, live=True, done=1) as progress:
        progress.generation_started(0, 0, 2)
        progress(*records())
    text = out.getvalue()
    assert "2/5" in text and "2 candidates" in text and "best 0.5000" in text
    assert "ETA" in text


def test_report_of_an_unfinished_run(tmp_path):
    from vlga_jax.runs.report import write_report

    log = RunLog(tmp_path, Config())
    log.reset([], [])
    log.write(*records(0, 0))
    log.write(*records(1, 0))
    table, paths = write_report(tmp_path)
    assert "not finished" in table and "best architecture" not in table
    assert len(table.splitlines()) == 2 + 2 + 2  # header, 2 generations, 2 summary lines
    assert sorted(p.name for p in paths) == ["accuracy_vs_params.png", "fitness.png",
                                             "population.png"]
    for p in paths:
        assert p.read_bytes().startswith(b"\x89PNG") and p.stat().st_size > 5000
    with pytest.raises(ValueError, match="not a vlga run directory"):
        write_report(tmp_path / "logs")


def test_progress_follows_final_training(monkeypatch):
    monkeypatch.setenv("COLUMNS", "160")
    out = io.StringIO()
    with Progress(4, file=out) as progress:
        progress(*records())
        progress.final_started(10)
        progress.final_epoch(1, 0.75, 1)
        progress.final_epoch(2, 0.5, 1)
        progress.final_finished(2, 1, 0.75)
    lines = out.getvalue().splitlines()
    # Not a terminal: one line when it starts, one summary (not one line per epoch).
    assert lines[1] == "final training: up to 10 epochs"
    assert lines[2].startswith("final training: 2 epochs in ")
    assert lines[2].endswith("; best: epoch 1, val 0.7500") and len(lines) == 3
    out = io.StringIO()
    with Progress(4, file=out, live=True) as progress:
        progress(*records())
        progress.final_started(10, done=2)
        progress.final_epoch(3, 0.8125, 2)
    text = out.getvalue()
    assert "final training" in text and "3/10" in text and "epochs  val 0.8125" in text


class _Terminal(io.StringIO):
    def isatty(self):
        return True


@pytest.mark.parametrize("stderr, progress, shown", [
    (io.StringIO, None, False), (_Terminal, None, True), (_Terminal, False, False),
    (io.StringIO, True, True)])
def test_evolve_shows_progress_on_a_terminal_unless_turned_off(monkeypatch, stderr,
                                                               progress, shown):
    """evolve's default: a bar on stderr when it is a terminal (the search itself is faked)."""
    E = importlib.import_module("vlga_jax.search.evolve")  # "vlga_jax.evolve" is the function

    seen = {}

    def fake(key, config, callbacks, *rest):
        seen["callbacks"] = callbacks
        for hook in callbacks:
            hook(*records())
        return "result"

    monkeypatch.setattr(E, "_evolve", fake)
    monkeypatch.setattr(sys, "stderr", stderr())
    assert E.evolve(None, Config(), callbacks=[lambda *a: None], progress=progress) == "result"
    bars = [c for c in seen["callbacks"] if isinstance(c, Progress)]
    assert len(seen["callbacks"]) == 1 + shown and len(bars) == shown
    assert ("phase 0 gen 0" in sys.stderr.getvalue()) == shown
    if shown:
        assert bars[0].file is sys.stderr and bars[0].total == Config().planned_generations()
