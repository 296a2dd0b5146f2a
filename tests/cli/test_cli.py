"""The `vlga` command end to end on digits, each command as a subprocess.

The search uses test_resume's tiny config (same data and shapes) and the session's
shared persistent compilation cache, so after test_resume it compiles nothing new.
"""

import json
import shutil
import signal
import subprocess
import sys
import time
from pathlib import Path

import numpy as np
import pytest
from support import shared_cache_dir, tiny_config

from vlga_jax import load_dataset, load_model
from vlga_jax.cli import main
from vlga_jax.core import checkpoint as ckpt

pytestmark = pytest.mark.slow
ROOT = Path(__file__).resolve().parents[2]
PNG = b"\x89PNG\r\n\x1a\n"


def vlga(*args, check=True):
    proc = subprocess.run([sys.executable, "-m", "vlga_jax.cli", *map(str, args)], cwd=ROOT,
                          capture_output=True, text=True, env={"PYTHONPATH": str(ROOT),
                                                               "PATH": "/usr/bin:/bin"})
    if check and proc.returncode != 0:
        raise AssertionError(f"vlga {args} exited {proc.returncode}:\n{proc.stderr}")
    return proc


@pytest.fixture(scope="module")
def run(tmp_path_factory):
    tmp = tmp_path_factory.mktemp("cli")
    config = tmp / "config.json"
    config.write_text(tiny_config(shared_cache_dir(tmp_path_factory)).to_json())
    out = tmp / "run"
    first = vlga("run", "--config", config, "--seed", 2, "--out", out)
    finished = json.loads((out / "result.json").read_text())
    # Simulate a kill during the last generation: drop its checkpoint and the outputs.
    shutil.copytree(out, tmp / "killed")
    shutil.rmtree(ckpt.list_checkpoints(tmp / "killed/checkpoints")[-1])
    (tmp / "killed/result.json").unlink()
    (tmp / "killed/model.npz").unlink()
    resumed = vlga("resume", tmp / "killed")
    return {"tmp": tmp, "out": out, "config": config, "first": first, "finished": finished,
            "resumed": resumed}


def test_run_writes_the_run_directory_and_prints_progress(run):
    out = run["out"]
    for name in ("run.json", "result.json", "model.npz", "logs/candidates.jsonl",
                 "logs/generations.jsonl"):
        assert (out / name).stat().st_size > 0, name
    stdout = run["first"].stdout
    # Not a terminal: one plain line per generation.
    for phase, gen in ((0, 0), (0, 1), (1, 0), (1, 1)):
        assert f"phase {phase} gen {gen}: gen best" in stdout and "best so far" in stdout
    # Final training: one summary line, not one per epoch.
    assert "best architecture" in stdout and "final epoch" not in stdout
    assert stdout.count("final training: ") == 2 and "final training: 2 epochs in" in stdout
    assert stdout.splitlines()[-2].startswith("wall ")  # one session: no "this session"
    # The startup line names the backend, the devices and the processes.
    assert ", 1 process" in stdout.splitlines()[0] and "backend cpu" in stdout
    # Each generation logs the share of member slots that trained a candidate.
    logged = [json.loads(line) for line in (out / "logs/generations.jsonl").open()]
    assert all(0 < g["utilisation"] <= 1 for g in logged if g["evaluated"])


def test_resume_ends_with_the_same_result(run):
    resumed = json.loads((run["tmp"] / "killed/result.json").read_text())
    finished = dict(run["finished"])
    counts = ("programs_compiled", "program_reuses", "buckets")
    assert [resumed["totals"][c] for c in counts] == [finished["totals"][c] for c in counts]
    for summary in (resumed, finished):
        summary.pop("totals")
    assert resumed == finished
    # The resumed session's seconds and all sessions', named.
    lines = run["resumed"].stdout.splitlines()
    assert "s this session; compile " in run["resumed"].stdout
    assert lines[-2].startswith("wall this session ") and lines[-2].endswith("(all sessions)")
    again = vlga("resume", run["out"])
    assert "nothing to resume" in again.stdout


def test_run_refuses_a_directory_of_another_run(run):
    proc = vlga("run", "--config", run["config"], "--seed", 3, "--out", run["out"],
                check=False)
    assert proc.returncode == 2
    assert "holds a different run" in proc.stderr and "key.data" in proc.stderr
    assert len(proc.stderr.strip().splitlines()) == 1


def test_report_prints_a_table_and_writes_plots(run):
    proc = vlga("report", run["out"])
    assert "phase  gen  gen best  so far" in proc.stdout and "best architecture" in proc.stdout
    plots = sorted((run["out"] / "report").glob("*.png"))
    assert [p.name for p in plots] == ["accuracy_vs_params.png", "architecture.png",
                                       "fitness.png", "population.png"]
    for p in plots:
        data = p.read_bytes()
        assert data.startswith(PNG) and len(data) > 5000, p


def test_report_csv_lists_every_candidate(run):
    import csv

    path = run["tmp"] / "candidates.csv"
    proc = vlga("report", run["out"], "--csv", path)
    logged = [json.loads(line) for line in (run["out"] / "logs/candidates.jsonl").open()]
    assert f"wrote {path}: {len(logged)} candidate evaluations" in proc.stdout
    with open(path, newline="") as f:
        table = list(csv.DictReader(f))
    assert [r["hash"] for r in table] == [c["hash"] for c in logged]
    assert all(r["architecture"] and int(r["params"]) > 0 for r in table)
    again = vlga("report", run["out"], "--csv", path, check=False)
    assert again.returncode == 2 and "exists" in again.stderr


def test_export_then_predict(run, capsys):
    model_file = run["tmp"] / "best.npz"
    vlga("export", run["out"], "--to", model_file)
    again = vlga("export", run["out"], "--to", model_file, check=False)
    assert again.returncode == 2 and "--force" in again.stderr

    model = load_model(model_file)
    dataset = load_dataset("digits", subset=30)
    assert model.architecture.input_shape == dataset.image_shape
    raw = np.asarray(__import__("sklearn.datasets").datasets.load_digits().images[:40])
    np.testing.assert_array_equal(model.preprocess(raw), dataset.normalize(raw))
    images = run["tmp"] / "images.npy"
    np.save(images, raw)
    printed = vlga("predict", model_file, images).stdout.split()
    assert [int(c) for c in printed] == model.predict(raw).tolist()
    saved = run["tmp"] / "classes.npy"
    vlga("predict", model_file, images, "--out", saved)
    np.testing.assert_array_equal(np.load(saved), model.predict(raw))
    assert main(["predict", str(model_file), str(images), "--out", str(saved)]) == 2
    assert "--force" in capsys.readouterr().err

    # PNG files (one image each, 0..255) and a .npz, in one call.
    from PIL import Image

    pixels = np.round(raw[:3] * 255 / 16).astype(np.uint8)
    pngs = [run["tmp"] / f"digit{i}.png" for i in range(3)]
    for p, image in zip(pngs, pixels, strict=True):
        Image.fromarray(image).save(p)
    np.savez(run["tmp"] / "images.npz", images=raw[:2])
    proc = vlga("predict", model_file, *pngs, run["tmp"] / "images.npz")
    want = model.predict(np.concatenate([pixels * np.float32(16 / 255), raw[:2]]))
    assert [int(c) for c in proc.stdout.split()] == want.tolist()
    assert "3 image files scaled to 0..16 (digits's units)" in proc.stderr
    Image.fromarray(np.stack([pixels[0], pixels[0] // 2, pixels[0]], -1)).save(
        run["tmp"] / "colour.png")
    assert main(["predict", str(model_file), str(pngs[0]), "--normalized"]) == 2
    assert "--normalized applies to arrays, not to image files" in capsys.readouterr().err
    for path, message in ((model_file, "holds"), (run["tmp"] / "colour.png",
                                                  "the model expects 1 channel"),
                          (run["out"] / "run.json", "unsupported format '.json'")):
        proc = vlga("predict", model_file, path, check=False)
        assert proc.returncode == 2 and message in proc.stderr, proc.stderr
        assert len(proc.stderr.strip().splitlines()) == 1


def test_presets_lists_every_preset():
    from vlga_jax.config import PRESETS

    proc = vlga("presets")
    assert [line.split()[0] for line in proc.stdout.splitlines()] == list(PRESETS)


@pytest.mark.parametrize("command", ["run", "resume", "report", "export", "predict",
                                     "presets", "config"])
def test_help(command, capsys):
    with pytest.raises(SystemExit) as exit_:
        main([command, "--help"])
    assert exit_.value.code == 0
    out = capsys.readouterr().out
    assert f"usage: vlga {command}" in out
    if command == "run":  # the compilation cache, on by default: how to clear or turn it off
        assert "run.compile_cache_dir=none" in " ".join(out.split())
        assert "rm -rf ~/.cache/vlga_jax/xla" in " ".join(out.split())


def test_config_explains_the_compilation_cache_and_the_cost_cap(capsys):
    assert main(["config", "--preset", "paper"]) == 0
    text = " ".join(capsys.readouterr().out.split())
    assert "run.compile_cache_dir = " in text and "ON by default" in text
    assert "--set run.compile_cache_dir=none" in text and "rm -rf" in text
    assert "train.max_candidate_gflop = none" in text and "infeasible" in text


@pytest.mark.parametrize("argv, message", [
    (["report"], "the following arguments are required: DIR"),
    (["export", "somewhere"], "--to"),
    (["run", "--preset", "nope"], "invalid choice"),
    (["run", "--set", "ga.population"], "--set expects key=value"),
    (["run", "--set", "ga.nope=3"], "unknown config field 'ga.nope'"),
    (["run", "--set", "ga.population=0", "--out", "unused"], "ga.population must be"),
    (["run", "--config", "/nonexistent.json"], "--config /nonexistent.json"),
    (["resume", "/nonexistent"], "not a vlga run directory"),
    (["report", "/nonexistent"], "not a vlga run directory"),
    (["predict", "/nonexistent.npz", "x.npy"], "no such model file"),
    (["run", "--coordinator", "nohost", "--num-processes", "2", "--process-id", "0"],
     "--coordinator must be HOST:PORT"),
    (["resume", "x", "--coordinator", "h:1", "--num-processes", "2", "--process-id", "2"],
     "--process-id must be an integer in [0, --num-processes)"),
    (["run", "--set", "run.devices=0"], "run.devices must be an integer >= 1"),
    (["run", "--set", "run.top_k_retrain=0"], "run.top_k_retrain must be an integer >= 1"),
    (["report", "somewhere", "--csv"], "--csv: expected one argument"),
    (["run", "--set", "run.devices=4096", "--out", "unused"],
     "run.devices must be None or an integer in [1, "),
])
def test_bad_arguments_give_one_line_and_status_2(argv, message, capsys):
    try:
        code = main(argv)
    except SystemExit as exit_:
        code = exit_.code
    err = capsys.readouterr().err
    assert code == 2
    assert message in err and len(err.strip().splitlines()) == 1, err


def test_ctrl_c_exits_at_once_with_the_resume_command(run, tmp_path):
    """SIGINT while the search starts: status 130 and the resume line (or that there is
    nothing to resume yet), without waiting for the compile threads to finish."""
    out = tmp_path / "interrupted"
    proc = subprocess.Popen(
        [sys.executable, "-m", "vlga_jax.cli", "run", "--config", str(run["config"]), "--seed", "5",
         "--out", out], cwd=ROOT, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True,
        env={"PYTHONPATH": str(ROOT), "PATH": "/usr/bin:/bin"})
    assert proc.stdout.readline().startswith("vlga: run directory")
    time.sleep(3)  # inside the search: loading data, compiling
    proc.send_signal(signal.SIGINT)
    _, err = proc.communicate(timeout=60)
    assert proc.returncode == 130, err
    if (out / "run.json").exists():
        assert f"vlga: interrupted; continue with: vlga resume {out}" in err
    else:
        assert "vlga: interrupted before the run directory was written" in err


def test_bad_arguments_in_a_subprocess():
    proc = vlga("run", "--seed", "x", check=False)
    assert proc.returncode == 2
    assert proc.stderr.strip() == "vlga: error: argument --seed: invalid int value: 'x'"
