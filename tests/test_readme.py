"""The fenced blocks of README.md and of every page under docs/ run as written, at tiny settings.

Each page runs in its own scratch directory, its blocks in document order: ```sh blocks in
bash, ```python blocks in one namespace (they build on each other, and on files earlier
blocks wrote, such as best.npz). Indented and ```text blocks (long runs, measured output,
transcripts) are not run; a page may have checks of its own on what its blocks built.
Tiny settings are substituted, not written into the pages: every search (`vlga run`,
`vlga_jax.evolve`) gets TINY's overrides on top of its own config.
The set-up lines a page gives for the project's checkout (`. .venv/bin/activate`,
`.venv/bin/vlga`) run as the test's own interpreter.
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
PAGES = ["README.md", *sorted(str(p.relative_to(ROOT)) for p in (ROOT / "docs").glob("*.md"))]

pytestmark = pytest.mark.slow


def blocks(page: str, language: str = "python|sh") -> list[str]:
    """The page's fenced blocks of ``language`` (a regex), in order."""
    return [code for _, code in fenced(page) if re.fullmatch(language, _)]


def fenced(page: str) -> list[tuple[str, str]]:
    """(language, code) of every fenced sh or python block of the page, in order."""
    text = (ROOT / page).read_text()
    return re.findall(r"^```(python|sh)\n(.*?)^```$", text, flags=re.M | re.S)


def check_cli(ns, tmp_path):
    assert (tmp_path / "best.npz").exists() and ns["logits"].shape == (5, 10)


def check_own_loop(ns, tmp_path):
    import numpy as np

    assert ns["logits"].shape == (64, 10) and np.isfinite(ns["loss"])
    assert ns["state"].done and len(ns["strategy"].phase_history(ns["state"])) == 2
    fresh = ns["vlga_jax"].build(ns["arch"], ns["jax"].random.key(0))[1]["batch_stats"]
    trained = ns["variables"]["batch_stats"]
    moved = [not np.array_equal(a, b) for a, b in zip(
        ns["jax"].tree.leaves(fresh), ns["jax"].tree.leaves(trained), strict=True)]
    assert any(moved)  # train mode updated the running statistics


def check_results(ns, tmp_path):
    assert len(ns["df"]) == len(ns["result"].candidates) >= 2
    assert len(ns["result"].top_k_retrained) == 2
    header = (tmp_path / "candidates.csv").read_text().splitlines()[0]
    assert header.startswith("phase,generation,hash,architecture,fitness")


CHECKS = {"docs/cli.md": check_cli, "docs/own-loop.md": check_own_loop,
          "docs/results.md": check_results}


def as_checkout(block: str) -> str:
    """The block with the checkout's venv lines pointing at the test's interpreter."""
    block = re.sub(r"^\. \.venv/bin/activate\b", ":", block, flags=re.M)
    return block.replace(".venv/bin/vlga", "vlga").replace(".venv/bin/python", "python")


def test_every_page_is_covered():
    """Every page with runnable blocks is in PAGES, and README has its first search."""
    assert len(blocks("README.md", "sh")) >= 1 and len(blocks("README.md", "python")) >= 1
    linked = set(re.findall(r"\]\((docs/[\w-]+\.md)", (ROOT / "README.md").read_text()))
    assert linked <= set(PAGES), linked - set(PAGES)
    orphans = {p for p in PAGES[1:] if p not in linked}
    assert not orphans, f"pages not linked from README.md: {orphans}"


@pytest.mark.parametrize("page", [p for p in PAGES if fenced(p)])
def test_page_blocks_run(page, tmp_path, monkeypatch):
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
    real = vlga_jax.evolve
    searches = []

    def tiny_evolve(key, config=None, **kwargs):
        config = (config or vlga_jax.Config()).override(**TINY)
        searches.append(config)
        return real(key, config, **kwargs)

    monkeypatch.setattr(vlga_jax, "evolve", tiny_evolve)
    monkeypatch.chdir(tmp_path)
    namespace = {"__name__": "__readme__"}
    for language, block in fenced(page):
        if language == "python":
            exec(compile(block, page, "exec"), namespace)
            continue
        proc = subprocess.run(["bash", "-c", prelude + as_checkout(block)], cwd=tmp_path,
                              env=env, capture_output=True, text=True, timeout=600)
        assert proc.returncode == 0, f"{block}\n{proc.stdout[-2000:]}\n{proc.stderr[-2000:]}"
    assert all(c.ga.population == 2 for c in searches)
    if page in CHECKS:
        CHECKS[page](namespace, tmp_path)
