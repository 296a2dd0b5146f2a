"""The fenced blocks of the pages under docs/ that these tests cover run as written.

Each page runs in its own scratch directory, its blocks in document order: ```python
blocks in one namespace (they build on each other), ```sh blocks in bash with ``vlga``
as ``python -m vlga_jax.cli``. Indented blocks (signatures, output) are not run.
"""

import os
import re
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parent.parent
PAGES = ["own-loop.md", "results.md"]


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
    assert len(ns["df"]) == len(ns["result"].candidates) == 4
    assert len(ns["result"].retrained) == 2
    header = (tmp_path / "candidates.csv").read_text().splitlines()[0]
    assert header.startswith("phase,generation,hash,architecture,fitness")


CHECKS = {"own-loop.md": check_own_loop, "results.md": check_results}


def blocks(page: str) -> list[tuple[str, str]]:
    text = (ROOT / "docs" / page).read_text()
    return re.findall(r"^```(python|sh)\n(.*?)^```$", text, flags=re.M | re.S)


@pytest.mark.slow  # compiles networks (own-loop) or runs a tiny search (results)
@pytest.mark.parametrize("page", PAGES)
def test_page_blocks_run(page, tmp_path, monkeypatch):
    found = blocks(page)
    assert sum(lang == "python" for lang, _ in found) >= 2  # the parser found them
    env = dict(os.environ, PYTHONPATH=os.pathsep.join(
        [str(ROOT), os.environ.get("PYTHONPATH", "")]))
    prelude = f'set -e\nvlga() {{ "{sys.executable}" -m vlga_jax.cli "$@"; }}\n'
    monkeypatch.chdir(tmp_path)
    namespace = {"__name__": f"__{page}__"}
    for lang, code in found:
        if lang == "python":
            exec(compile(code, page, "exec"), namespace)
        else:
            proc = subprocess.run(["bash", "-c", prelude + code], cwd=tmp_path, env=env,
                                  capture_output=True, text=True, timeout=600)
            assert proc.returncode == 0, f"{code}\n{proc.stdout[-2000:]}\n{proc.stderr[-2000:]}"
    CHECKS[page](namespace, tmp_path)
