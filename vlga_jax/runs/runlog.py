"""Run logs: JSON lines per candidate and generation; optional TensorBoard and W&B.

``logs/candidates.jsonl`` and ``logs/generations.jsonl`` hold one JSON object per
record (`CandidateRecord`, `GenerationRecord` fields; non-finite floats as null). On
resume they are rewritten from the checkpoint's history, so they never hold a
generation twice. ``logs/compiles.jsonl`` gets one line per program compiled (its
shapes, members per call, and the seconds of trace, lower and backend compile); it
records what the run's processes did, so a resumed run appends its own recompiles.
TensorBoard (``run.tensorboard``, needs ``tensorboardX``) and Weights & Biases
(``run.wandb``, needs ``wandb``) get the same per-generation scalars; neither is
imported unless enabled.
"""

from __future__ import annotations

import dataclasses
import hashlib
import json
import math
import os
from pathlib import Path

# Per-generation scalars for the dashboards: "best" is the generation's best,
# "best_so_far" the best of every generation up to it.
SCALARS = ("best", "best_so_far", "mean", "median", "evaluated", "cache_hits", "seconds")


def _clean(obj):
    """JSON-safe: non-finite floats become None (strict JSON has no inf/NaN)."""
    if isinstance(obj, float):
        return obj if math.isfinite(obj) else None
    if isinstance(obj, dict):
        return {k: _clean(v) for k, v in obj.items()}
    if isinstance(obj, list | tuple):
        return [_clean(v) for v in obj]
    return obj


def to_json_line(record) -> str:
    return json.dumps(_clean(dataclasses.asdict(record)), allow_nan=False)


def read_jsonl(path: str | os.PathLike) -> list[dict]:
    """The objects of a JSON-lines file (a truncated last line is ignored)."""
    out = []
    with open(path) as f:
        lines = f.read().split("\n")
    for i, line in enumerate(lines):
        if not line.strip():
            continue
        try:
            out.append(json.loads(line))
        except ValueError:
            if i == len(lines) - 1:  # a line cut off by a crash
                break
            raise ValueError(f"{path}: line {i + 1} is not valid JSON") from None
    return out


def _run_id(directory: Path) -> str:
    """A W&B run id stable across resumes of one run directory."""
    return "vlga-" + hashlib.sha1(str(directory.resolve()).encode()).hexdigest()[:16]


class RunLog:
    """Appends records to the run's JSON-lines files and the enabled dashboards."""

    def __init__(self, directory: str | os.PathLike, config):
        self.dir = Path(directory) / "logs"
        self.dir.mkdir(parents=True, exist_ok=True)
        self.config = config
        self._tb = self._wandb = None
        self._step = 0

    def reset(self, candidates, generations) -> None:
        """Rewrite both files from the given history (atomically) and open the sinks."""
        for name, records in (("candidates", candidates), ("generations", generations)):
            path = self.dir / f"{name}.jsonl"
            tmp = path.with_name(f".{path.name}.tmp")
            with open(tmp, "w") as f:
                f.writelines(to_json_line(r) + "\n" for r in records)
            os.replace(tmp, path)
        self._step = len(generations)
        self._open_sinks()

    def _open_sinks(self) -> None:
        run = self.config.run
        if run.tensorboard and self._tb is None:
            try:
                from tensorboardX import SummaryWriter
            except ImportError as err:
                raise ValueError("run.tensorboard=True needs tensorboardX "
                                 "(pip install tensorboardX)") from err
            self._tb = SummaryWriter(str(self.dir / "tensorboard"))
        if run.wandb and self._wandb is None:
            try:
                import wandb
            except ImportError as err:
                raise ValueError("run.wandb=True needs wandb (pip install wandb)") from err
            self._wandb = wandb.init(project=run.wandb_project, dir=str(self.dir),
                                     config=self.config.to_dict(),
                                     id=_run_id(self.dir.parent),
                                     resume="allow")

    def write(self, record, candidates) -> None:
        """Append one generation's record and its candidates."""
        with open(self.dir / "candidates.jsonl", "a") as f:
            f.writelines(to_json_line(c) + "\n" for c in candidates)
        with open(self.dir / "generations.jsonl", "a") as f:
            f.write(to_json_line(record) + "\n")
        metrics = {f"generation/{k}": float(getattr(record, k)) for k in SCALARS
                   if getattr(record, k) is not None}
        metrics["generation/phase"] = record.phase
        trained = [c for c in candidates if not c.cache_hit and not c.failed]
        if trained:
            metrics["candidates/best_param_count"] = max(trained, key=lambda c: c.fitness
                                                         ).param_count
        if self._tb is not None:
            for k, v in metrics.items():
                self._tb.add_scalar(k, v, self._step)
            self._tb.flush()
        if self._wandb is not None:
            self._wandb.log(metrics, step=self._step)
        self._step += 1

    def write_compiles(self, compiles: list[dict], **context) -> None:
        """Append one line per compile (``Trainer.stats.programs`` entries)."""
        if compiles:
            with open(self.dir / "compiles.jsonl", "a") as f:
                f.writelines(json.dumps({**context, **c}) + "\n" for c in compiles)

    def close(self) -> None:
        if self._tb is not None:
            self._tb.close()
            self._tb = None
        if self._wandb is not None:
            self._wandb.finish()
            self._wandb = None
