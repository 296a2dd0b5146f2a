"""Every example runs as written with --quick (tiny settings), in a fresh process."""

import os
import re
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parent.parent

pytestmark = pytest.mark.slow


def run_example(name: str, tmp_path, *args: str) -> str:
    env = dict(os.environ, PYTHONPATH=os.pathsep.join(
        [str(ROOT), os.environ.get("PYTHONPATH", "")]), XDG_CACHE_HOME=str(tmp_path))
    proc = subprocess.run([sys.executable, str(ROOT / "examples" / name), "--quick", *args],
                          env=env, capture_output=True, text=True, timeout=600, cwd=tmp_path)
    assert proc.returncode == 0, proc.stderr[-3000:]
    if name != "jitted_operators.py":  # its synthetic fitness is meaningful at --quick
        assert proc.stdout.startswith("--quick: tiny settings that only check the code runs")
    return proc.stdout


def test_every_example_is_tested():
    tested = {"quickstart.py", "cifar10_paper.py", "custom_objective.py", "pareto_search.py",
              "jitted_operators.py", "own_arrays_trainer.py", "multi_device.py"}
    assert tested == {p.name for p in (ROOT / "examples").glob("*.py")}


def test_quickstart(tmp_path):
    out = run_example("quickstart.py", tmp_path)
    assert "best architecture" in out and "logits (5, 10)" in out
    assert re.search(r"accuracy on the last 100 digits: [01]\.\d\d", out)


def test_cifar10_paper_quick_runs_the_paper_preset_on_digits(tmp_path):
    out = run_example("cifar10_paper.py", tmp_path)
    assert "dataset digits; population 2, generations 1, phases <= 1" in out
    assert "best architecture" in out


def test_custom_objective(tmp_path):
    out = run_example("custom_objective.py", tmp_path)
    assert re.search(r"best: [\d,]+ parameters, search fitness -?\d\.\d{4}", out)


def test_pareto_search_prints_a_non_dominated_front(tmp_path):
    out = run_example("pareto_search.py", tmp_path)
    assert "Pareto front (val_acc, -params)" in out
    front = [(int(n.replace(",", "")), float(a)) for n, a in
             re.findall(r"([\d,]+) parameters  validation accuracy (\d\.\d{4})", out)]
    assert front
    for n, acc in front:  # sorted by size: no network is both larger and no more accurate
        assert not any(m <= n and b >= acc and (m, b) != (n, acc) for m, b in front)


def test_jitted_operators_improve_the_synthetic_fitness(tmp_path):
    out = run_example("jitted_operators.py", tmp_path)
    last, first = re.search(r"last: best ([\d.]+)  mean ([\d.]+) \(first mean ([\d.]+)\)",
                            out).group(2, 3)
    assert float(last) > float(first) + 0.1


def test_own_arrays_trainer(tmp_path):
    out = run_example("own_arrays_trainer.py", tmp_path)
    # Two widths of one block share a program; the two-block network has its own.
    assert "programs compiled: 2" in out
    assert len(re.findall(r"parameters: val accuracy [01]\.\d{3}", out)) == 3


def test_multi_device_splits_a_bucket_over_four_devices(tmp_path):
    out = run_example("multi_device.py", tmp_path)
    assert "mesh: Mesh('pop': 4" in out and "8 members, programs compiled 1" in out
    assert "backend cpu, 4 devices, 1 process" in out
    assert "calls 2, member slots used 100%" in out  # 2 calls of 4, one member per device
    accuracies = re.search(r"val accuracy per member: \[(.*)\]", out).group(1).split(",")
    assert len(accuracies) == 8
