"""The README's fenced blocks run as written, at tiny settings.

Fenced ```sh blocks run first (in one scratch directory, in document order), then the
fenced ```python blocks as one script (they build on each other, and on files the shell
blocks wrote, such as best.npz). Indented blocks (long runs, measured output) are not
run. Tiny settings are substituted, not written into the README: every search
(`vlga run`, `vlga_jax.evolve`) gets TINY's overrides on top of its own config.
"""

import os
import re
import subprocess
import sys
from pathlib import Path

import pytest

import vlga_jax

ROOT = Path(__file__).resolve().parent.parent
TINY = {"ga.population": 2, "ga.generations": 1, "ga.max_phases": 1, "train.epochs": 1,
        "train.final_epochs": 1, "data.subset": 200, "run.compile_cache_dir": None}

pytestmark = pytest.mark.slow


def blocks(language: str) -> list[str]:
    text = (ROOT / "README.md").read_text()
    return re.findall(rf"^```{language}\n(.*?)^```$", text, flags=re.M | re.S)


def test_readme_blocks_run(tmp_path, monkeypatch):
    shell, python = blocks("sh"), blocks("python")
    assert len(shell) >= 1 and len(python) >= 3  # the parser found the blocks
    sets = " ".join(f"--set {k}={'none' if v is None else v}" for k, v in TINY.items())
    prelude = f"""set -e
python() {{ "{sys.executable}" "$@"; }}
vlga() {{
    if [ "$1" = run ]; then shift; "{sys.executable}" -m vlga_jax.cli run "$@" {sets}
    else "{sys.executable}" -m vlga_jax.cli "$@"; fi
}}
"""
    env = dict(os.environ, PYTHONPATH=os.pathsep.join(
        [str(ROOT), os.environ.get("PYTHONPATH", "")]))
    for block in shell:
        proc = subprocess.run(["bash", "-c", prelude + block], cwd=tmp_path, env=env,
                              capture_output=True, text=True, timeout=600)
        assert proc.returncode == 0, f"{block}\n{proc.stdout[-2000:]}\n{proc.stderr[-2000:]}"
    assert (tmp_path / "best.npz").exists()

    real = vlga_jax.evolve
    searches = []

    def tiny_evolve(key, config=None, **kwargs):
        config = (config or vlga_jax.Config()).override(**TINY)
        searches.append(config)
        return real(key, config, **kwargs)

    monkeypatch.setattr(vlga_jax, "evolve", tiny_evolve)
    monkeypatch.chdir(tmp_path)
    exec(compile("\n".join(python), "README.md", "exec"), {"__name__": "__readme__"})
    assert searches and all(c.ga.population == 2 for c in searches)
