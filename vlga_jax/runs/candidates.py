"""Every evaluated candidate as a table: `Result.candidates_frame()` and ``vlga report
--csv``.

One row per candidate evaluation (a cache hit, where the same network came again, is a
row too, with ``cache_hit`` True and 0 epochs), in the order the search told them, with
the columns `COLUMNS`: where it was evaluated (``phase``, ``generation``), which network
(``hash``, ``architecture`` a short label such as ``8k3 16k3,16k1+skip/p``, ``genome``
its decoded genes as JSON), its ``fitness`` (validation accuracy unless an objective
says otherwise; empty/NaN for a failed candidate), ``params`` and ``flops`` (training
FLOPs per example), the ``epochs`` trained for it, the ``fidelity`` (epochs behind the
fitness) and ``inherited_epochs``, the training ``seconds``, ``failed`` with its
``reason``, and ``cache_hit``; with several objectives one more column per objective.

`rows(records)` builds the table from `CandidateRecord`s or from the dicts of
``logs/candidates.jsonl`` alike (no pandas needed); `write_csv` writes it; `frame` is
the pandas DataFrame (pandas is the ``vlga-jax[pandas]`` extra).
"""

from __future__ import annotations

import csv
import dataclasses
import json
import math
import os
from collections.abc import Iterable, Sequence

COLUMNS = ("phase", "generation", "hash", "architecture", "fitness", "params", "flops",
           "epochs", "fidelity", "inherited_epochs", "seconds", "failed", "reason",
           "cache_hit", "genome")


def _number(x):
    """A finite float, or None (failed: NaN or -inf)."""
    return float(x) if x is not None and math.isfinite(x) else None


def rows(records: Iterable, objectives: Sequence[str] = ()) -> list[dict]:
    """One dict per candidate evaluation, keys `COLUMNS` (then ``objectives``' names when
    the records hold several objective values). ``records``: `CandidateRecord`s or the
    dicts of ``logs/candidates.jsonl``."""
    out = []
    for r in records:
        r = dataclasses.asdict(r) if dataclasses.is_dataclass(r) else r
        row = {
            "phase": r["phase"], "generation": r["generation"], "hash": r["hash"],
            "architecture": r.get("architecture", ""), "fitness": _number(r["fitness"]),
            "params": r["param_count"], "flops": r["flops"], "epochs": r["epochs"],
            "fidelity": r.get("fidelity", 0), "inherited_epochs": r.get("inherited_epochs", 0),
            "seconds": r["seconds"], "failed": bool(r["failed"]), "reason": r["reason"],
            "cache_hit": bool(r["cache_hit"]),
            "genome": json.dumps(r["genome"], sort_keys=True, separators=(",", ":")),
        }
        values = r.get("objectives")
        if values:
            names = list(objectives) or [f"objective_{i}" for i in range(len(values))]
            row.update((n, _number(v)) for n, v in zip(names, values, strict=False))
        out.append(row)
    return out


def _columns(table: list[dict]) -> list[str]:
    """`COLUMNS`, then the other keys of ``table``'s rows in first-seen order."""
    columns = list(COLUMNS)
    for row in table:
        columns += [k for k in row if k not in columns]
    return columns


def write_csv(path: str | os.PathLike, table: list[dict]) -> None:
    """Write ``table`` (from `rows`) as CSV with a header (empty cells for None),
    atomically: a temporary file renamed into place."""
    columns = _columns(table)
    tmp = f"{os.fspath(path)}.tmp-{os.getpid()}"
    with open(tmp, "w", newline="") as f:
        writer = csv.DictWriter(f, columns, restval="")
        writer.writeheader()
        writer.writerows(table)
    os.replace(tmp, path)


def frame(table: list[dict]):
    """``table`` (from `rows`) as a pandas DataFrame (columns `COLUMNS` even when empty;
    None as NaN)."""
    try:
        import pandas as pd
    except ImportError as err:
        raise ImportError("candidates_frame() needs pandas: pip install 'vlga-jax[pandas]' "
                          "(or pip install pandas); `vlga report RUN --csv FILE` writes the "
                          "same table without it") from err
    columns = _columns(table)
    df = pd.DataFrame(table, columns=columns)
    for name in ("fitness", *columns[len(COLUMNS):]):
        df[name] = df[name].astype(float)
    return df
