"""Checkpoints: a generic codec for state pytrees and atomic, verified checkpoint dirs.

`encode` turns any nesting of dataclasses (flax.struct ones included), tuples, lists,
str-keyed dicts, None, Python scalars, arrays and typed PRNG keys into a JSON-able
object plus a flat list of numpy arrays; `decode` inverts it. Strategy states are
checkpointed through it field by field, so a new strategy needs no checkpoint code.

A checkpoint is a directory ``<root>/<name>/``::

    state.json      the JSON half (written with `json`, non-finite floats allowed)
    arrays/         an orbax-checkpoint PyTree: {"state": {"a0": ..}, "params": {..}}
    manifest.json   sha256 and size of every other file, written last

It is written under a temporary name and renamed into place, so a crash leaves either
the previous checkpoint or the new one, never a half-written one under a final name.
`load_latest` verifies the manifest and falls back, with a warning naming the bad
directory, to the newest checkpoint that reads back intact.
"""

from __future__ import annotations

import dataclasses
import hashlib
import importlib
import json
import os
import shutil
import warnings
from pathlib import Path
from typing import Any

import jax
import numpy as np

FORMAT = 1
PREFIX = "ckpt_"


class CheckpointError(RuntimeError):
    """A checkpoint could not be read; the message names the file or directory."""


# -- generic codec -------------------------------------------------------------------------

# A dataclass is named in files by its module before the package had layer subpackages
# (``vlga_jax.genome:Genome``, not ``vlga_jax.genetics.genome:Genome``): model files and
# checkpoints stay byte for byte what they were, and readable whatever the layout.
_FILE_MODULE_TO_MODULE = {
    "vlga_jax.architecture": "vlga_jax.networks.architecture",
    "vlga_jax.augment": "vlga_jax.networks.augment",
    "vlga_jax.candidates": "vlga_jax.runs.candidates",
    "vlga_jax.chain": "vlga_jax.training.chain",
    "vlga_jax.checkpoint": "vlga_jax.core.checkpoint",
    "vlga_jax.configdoc": "vlga_jax.config.doc", "vlga_jax.conv": "vlga_jax.networks.conv",
    "vlga_jax.cost": "vlga_jax.training.cost", "vlga_jax.data": "vlga_jax.data.datasets",
    "vlga_jax.distributed": "vlga_jax.core.distributed",
    "vlga_jax.evolve": "vlga_jax.search.evolve",
    "vlga_jax.export": "vlga_jax.networks.export",
    "vlga_jax.feasibility": "vlga_jax.training.feasibility",
    "vlga_jax.genome": "vlga_jax.genetics.genome",
    "vlga_jax.growth": "vlga_jax.training.growth",
    "vlga_jax.halving": "vlga_jax.search.halving",
    "vlga_jax.images": "vlga_jax.data.images",
    "vlga_jax.layer_programs": "vlga_jax.training.layer_programs",
    "vlga_jax.members": "vlga_jax.training.members",
    "vlga_jax.model": "vlga_jax.networks.model", "vlga_jax.names": "vlga_jax.core.names",
    "vlga_jax.objectives": "vlga_jax.training.objectives",
    "vlga_jax.operators": "vlga_jax.genetics.operators",
    "vlga_jax.params": "vlga_jax.networks.params",
    "vlga_jax.pareto": "vlga_jax.core.pareto",
    "vlga_jax.planner": "vlga_jax.training.planner",
    "vlga_jax.presets_info": "vlga_jax.config.presets_info",
    "vlga_jax.program_store": "vlga_jax.training.program_store",
    "vlga_jax.programs": "vlga_jax.training.programs",
    "vlga_jax.progress": "vlga_jax.runs.progress",
    "vlga_jax.records": "vlga_jax.runs.records", "vlga_jax.report": "vlga_jax.runs.report",
    "vlga_jax.retrain": "vlga_jax.search.retrain",
    "vlga_jax.rundir": "vlga_jax.runs.rundir", "vlga_jax.runlog": "vlga_jax.runs.runlog",
    "vlga_jax.space": "vlga_jax.genetics.space",
    "vlga_jax.supervise": "vlga_jax.core.supervise",
    "vlga_jax.trainer": "vlga_jax.training.trainer",
    "vlga_jax.xla_flags": "vlga_jax.core.xla_flags",
}
_MODULE_TO_FILE_MODULE = {v: k for k, v in _FILE_MODULE_TO_MODULE.items()}


def encode(obj: Any, arrays: list[np.ndarray], path: str = "state") -> Any:
    """A JSON-able image of ``obj``; its arrays are appended to ``arrays`` (numpy)."""
    if obj is None or isinstance(obj, bool | int | float | str):
        return obj
    if isinstance(obj, np.generic):
        return obj.item()
    if isinstance(obj, jax.Array | np.ndarray):
        if jax.dtypes.issubdtype(obj.dtype, jax.dtypes.prng_key):
            arrays.append(np.asarray(jax.random.key_data(obj)))
            return {"__key__": len(arrays) - 1, "impl": str(jax.random.key_impl(obj))}
        arrays.append(np.asarray(obj))
        return {"__array__": len(arrays) - 1}
    if dataclasses.is_dataclass(obj) and not isinstance(obj, type):
        cls = type(obj)
        fields = {f.name: encode(getattr(obj, f.name), arrays, f"{path}.{f.name}")
                  for f in dataclasses.fields(obj) if f.init}
        module = _MODULE_TO_FILE_MODULE.get(cls.__module__, cls.__module__)
        return {"__dataclass__": f"{module}:{cls.__qualname__}", "fields": fields}
    if isinstance(obj, tuple):
        return {"__tuple__": [encode(v, arrays, f"{path}[{i}]") for i, v in enumerate(obj)]}
    if isinstance(obj, list):
        return [encode(v, arrays, f"{path}[{i}]") for i, v in enumerate(obj)]
    if isinstance(obj, dict):
        if not all(isinstance(k, str) for k in obj):
            raise TypeError(f"cannot checkpoint {path}: dict keys must be str")
        return {"__dict__": {k: encode(v, arrays, f"{path}.{k}") for k, v in obj.items()}}
    raise TypeError(f"cannot checkpoint {path}: unsupported type {type(obj).__name__}")


def _load_class(name: str) -> type:
    module, _, qualname = name.partition(":")
    module = _FILE_MODULE_TO_MODULE.get(module, module)
    obj: Any = importlib.import_module(module)
    for part in qualname.split("."):
        obj = getattr(obj, part)
    if not (isinstance(obj, type) and dataclasses.is_dataclass(obj)):
        raise TypeError(f"{name} is not a dataclass")
    return obj


def decode(obj: Any, arrays: list[np.ndarray] | dict) -> Any:
    """The inverse of `encode` (arrays come back as numpy, keys as typed PRNG keys)."""
    if isinstance(obj, list):
        return [decode(v, arrays) for v in obj]
    if not isinstance(obj, dict):
        return obj
    if "__array__" in obj:
        return arrays[obj["__array__"]]
    if "__key__" in obj:
        return jax.random.wrap_key_data(np.asarray(arrays[obj["__key__"]]), impl=obj["impl"])
    if "__tuple__" in obj:
        return tuple(decode(v, arrays) for v in obj["__tuple__"])
    if "__dict__" in obj:
        return {k: decode(v, arrays) for k, v in obj["__dict__"].items()}
    if "__dataclass__" in obj:
        cls = _load_class(obj["__dataclass__"])
        return cls(**{k: decode(v, arrays) for k, v in obj["fields"].items()})
    raise ValueError(f"unrecognised encoded object with keys {sorted(obj)}")


def to_numpy(tree):
    """``tree`` with every array leaf as numpy (orbax then restores numpy)."""
    return jax.tree.map(np.asarray, tree)


# -- files ---------------------------------------------------------------------------------

def write_json_atomic(path: str | os.PathLike, obj: Any) -> None:
    """Write ``obj`` as JSON to ``path`` through a temporary file and a rename."""
    path = Path(path)
    tmp = path.with_name(f".{path.name}.tmp-{os.getpid()}")
    with open(tmp, "w") as f:
        json.dump(obj, f, indent=1)
        f.flush()
        os.fsync(f.fileno())
    os.replace(tmp, path)


def _sha256(path: Path) -> str:
    h = hashlib.sha256()
    with open(path, "rb") as f:
        for chunk in iter(lambda: f.read(1 << 20), b""):
            h.update(chunk)
    return h.hexdigest()


def _files(root: Path) -> list[Path]:
    return sorted(p for p in root.rglob("*") if p.is_file())


def _checkpointer():
    """Orbax's checkpointer, acting for this process alone (in a run of several
    processes only process 0 writes, and each reads by itself: no barriers)."""
    import jax
    import orbax.checkpoint as ocp

    if jax.process_count() == 1:
        return ocp.PyTreeCheckpointer()
    i = jax.process_index()
    alone = ocp.options.MultiprocessingOptions(primary_host=i, active_processes={i})
    return ocp.Checkpointer(ocp.PyTreeCheckpointHandler(multiprocessing_options=alone),
                            multiprocessing_options=alone)


def save(root: str | os.PathLike, index: int, state: dict, arrays: dict,
         keep: int = 2) -> Path:
    """Write checkpoint ``index`` under ``root`` atomically; keep the newest ``keep``.

    ``state``: JSON-able dict; ``arrays``: a nested dict of numpy arrays (orbax PyTree).
    """
    root = Path(root)
    root.mkdir(parents=True, exist_ok=True)
    final = root / f"{PREFIX}{index:06d}"
    for stale in root.glob(".tmp-*"):  # left by a process killed while saving
        shutil.rmtree(stale, ignore_errors=True)
    tmp = root / f".tmp-{final.name}-{os.getpid()}"
    tmp.mkdir()
    with open(tmp / "state.json", "w") as f:
        json.dump({"format": FORMAT, "index": index, **state}, f)
    if jax.tree.leaves(arrays):
        _checkpointer().save(str((tmp / "arrays").absolute()), to_numpy(arrays))
    manifest = {str(p.relative_to(tmp)): {"sha256": _sha256(p), "bytes": p.stat().st_size}
                for p in _files(tmp)}
    write_json_atomic(tmp / "manifest.json", {"format": FORMAT, "files": manifest})
    if final.exists():  # a stale or corrupt checkpoint of the same index
        shutil.rmtree(final)
    os.replace(tmp, final)
    for old in list_checkpoints(root)[:-keep]:
        shutil.rmtree(old, ignore_errors=True)
    return final


def list_checkpoints(root: str | os.PathLike) -> list[Path]:
    """Checkpoint directories under ``root``, oldest first."""
    root = Path(root)
    if not root.is_dir():
        return []
    return sorted(p for p in root.iterdir() if p.is_dir() and p.name.startswith(PREFIX)
                  and p.name[len(PREFIX):].isdigit())


def load(path: str | os.PathLike) -> tuple[dict, dict]:
    """(state, arrays) of one checkpoint directory, verified against its manifest."""
    path = Path(path)
    manifest_path = path / "manifest.json"
    try:
        manifest = json.loads(manifest_path.read_text())["files"]
    except (OSError, ValueError, KeyError, TypeError) as err:
        raise CheckpointError(f"{manifest_path}: missing or unreadable ({err})") from err
    for rel, meta in manifest.items():
        file = path / rel
        if not file.is_file():
            raise CheckpointError(f"{file}: missing")
        if file.stat().st_size != meta["bytes"]:
            raise CheckpointError(f"{file}: truncated ({file.stat().st_size} bytes, "
                                  f"expected {meta['bytes']})")
        if _sha256(file) != meta["sha256"]:
            raise CheckpointError(f"{file}: corrupted (checksum mismatch)")
    state_path = path / "state.json"
    try:
        state = json.loads(state_path.read_text())
    except (OSError, ValueError) as err:
        raise CheckpointError(f"{state_path}: unreadable ({err})") from err
    if state.get("format") != FORMAT:
        raise CheckpointError(f"{state_path}: format {state.get('format')!r}, this "
                              f"version reads format {FORMAT}")
    arrays = {}
    if (path / "arrays").exists():
        try:
            arrays = _checkpointer().restore(str((path / "arrays").absolute()))
        except Exception as err:  # orbax raises many kinds; name the directory instead
            raise CheckpointError(f"{path / 'arrays'}: unreadable ({err})") from err
    return state, arrays


def load_latest(root: str | os.PathLike) -> tuple[dict, dict, Path] | None:
    """The newest intact checkpoint under ``root`` as (state, arrays, path), or None.

    A damaged newer checkpoint is skipped with a warning naming it; if every checkpoint
    is damaged, CheckpointError lists them.
    """
    problems = []
    for path in reversed(list_checkpoints(root)):
        try:
            state, arrays = load(path)
        except CheckpointError as err:
            problems.append(str(err))
            continue
        for problem in problems:
            warnings.warn(f"skipping damaged checkpoint: {problem}; resuming from {path}",
                          RuntimeWarning, stacklevel=2)
        return state, arrays, path
    if problems:
        raise CheckpointError("no intact checkpoint: " + "; ".join(problems))
    return None
