"""A run directory: the identity of a run, its checkpoints, logs and final outputs.

Layout of ``DIR`` (``evolve(..., checkpoint_dir=DIR)`` or ``vlga run --out DIR``)::

    run.json                  config, PRNG key and dataset fingerprint of the run
    checkpoints/ckpt_NNNNNN/  one per finished generation (see `vlga_jax.core.checkpoint`)
    final/ckpt_NNNNNN/        final training after NNNNNN epochs (removed when finished)
    logs/candidates.jsonl     one JSON object per candidate record
    logs/generations.jsonl    one JSON object per generation record
    result.json               the final result (no parameters)
    model.npz                 the best network, trained (see `vlga_jax.networks.export`)
    top/rank_N.npz            the N-th best candidate with its search weights (run.top_k)
    lock                      held (flock) by the process running the search; holds its pid

A directory that holds another run (different search config, user search space, key or
dataset) is never written to: opening it raises ValueError naming what differs. Resuming
also checks that run.json still describes the run its checkpoints hold (an edited
run.json is refused).

Only one process runs a directory at a time: `RunDir` takes an exclusive ``flock`` on
``lock`` (released by the kernel when the process dies, so a stale lock file left by a
killed run never blocks) and keeps it until the run finishes.

A run of several processes (`vlga_jax.core.distributed`) opens it with `open_run`: process 0
alone creates, locks and writes it; the others read its checkpoints (to resume alike)
and write nothing, so the directory must be on a file system every process sees.
"""

from __future__ import annotations

import dataclasses
import hashlib
import json
import os
import shutil
import time
import warnings
from pathlib import Path

import jax
import numpy as np

from vlga_jax.config import Config
from vlga_jax.core import checkpoint as ckpt
from vlga_jax.core import distributed
from vlga_jax.runs.lock import lock, unlock
from vlga_jax.runs.records import CandidateRecord, Evaluation, FinalProgress, GenerationRecord
from vlga_jax.runs.runlog import RunLog
from vlga_jax.training.members import Outcome

FORMAT = 1
FINAL = "final"


def dataset_fingerprint(dataset) -> dict:
    """Name, shapes and a sha256 of every split (changes whenever the data does)."""
    h = hashlib.sha256()
    shapes = {}
    for name in ("train_x", "train_y", "val_x", "val_y", "test_x", "test_y"):
        a = np.ascontiguousarray(getattr(dataset, name))
        shapes[name] = list(a.shape)
        h.update(name.encode() + str(a.dtype).encode())
        h.update(memoryview(a).cast("B"))
    return {"name": dataset.name, "shapes": shapes, "sha256": h.hexdigest()}


def _flatten(d, prefix="") -> dict:
    out = {}
    for k, v in d.items():
        if isinstance(v, dict):
            out.update(_flatten(v, f"{prefix}{k}."))
        else:
            out[f"{prefix}{k}"] = v
    return out


def _differences(saved: dict, current: dict) -> list[str]:
    a, b = _flatten(saved), _flatten(current)
    return [f"{k}: {a.get(k, '<absent>')!r} in the directory, {b.get(k, '<absent>')!r} now"
            for k in sorted(set(a) | set(b)) if a.get(k, "<absent>") != b.get(k, "<absent>")]


def _key_json(key) -> dict:
    arrays: list = []
    enc = ckpt.encode(key, arrays)
    return {"data": np.asarray(arrays[0]).tolist(), "impl": enc.get("impl"),
            "typed": "__key__" in enc}


def key_from_json(d: dict):
    """The PRNG key stored by `RunDir` (typed or raw uint32, as it was given)."""
    import jax

    data = np.asarray(d["data"], np.uint32)
    return jax.random.wrap_key_data(data, impl=d["impl"]) if d["typed"] else data


def _read_run_json(directory: str | os.PathLike) -> dict:
    path = Path(directory) / "run.json"
    try:
        info = json.loads(path.read_text())
    except FileNotFoundError:
        raise ValueError(f"{directory}: not a vlga run directory (no run.json)") from None
    except NotADirectoryError:
        raise ValueError(f"{directory}: not a directory") from None
    except (ValueError, UnicodeDecodeError) as err:
        raise ValueError(f"{path}: unreadable ({err})") from err
    if not isinstance(info, dict):
        raise ValueError(f"{path}: damaged (a JSON {type(info).__name__}, not the object "
                         "vlga writes with config, key and dataset)")
    missing = [k for k in ("config", "key", "dataset") if k not in info]
    if missing:
        raise ValueError(f"{path}: damaged (no {', '.join(missing)}; vlga writes config, key "
                         "and dataset)")
    return info


def read_config(directory: str | os.PathLike) -> tuple[Config, object]:
    """(config, key) of the run stored in ``directory``."""
    info = _read_run_json(directory)
    try:
        key = key_from_json(info["key"])
    except (KeyError, TypeError, ValueError) as err:
        raise ValueError(f"{Path(directory) / 'run.json'}: damaged key ({err})") from err
    return Config.from_dict(info["config"]), key


def _identity(config: Config, key, dataset, space: dict | None) -> dict:
    """What makes a run this run: its search config, key, dataset fingerprint and (when
    `evolve(space=...)` replaced ``config.space``) the user search space."""
    identity = {"config": config.search_config(), "key": _key_json(key),
                "dataset": dataset_fingerprint(dataset)}
    if space is not None:
        identity["space"] = space
    return identity


def _saved_identity(directory: str | os.PathLike) -> dict:
    """`_identity` of the run stored in ``directory`` (ValueError if unreadable)."""
    saved = _read_run_json(directory)
    return {"config": Config.from_dict(saved["config"]).search_config(),
            "key": saved["key"], "dataset": saved["dataset"],
            **({"space": saved["space"]} if "space" in saved else {})}


def same_run(directory: str | os.PathLike, config: Config, key, dataset,
             space: dict | None = None) -> bool:
    """Whether ``directory`` holds this run (what `RunDir` checks: search config, key,
    dataset fingerprint and space); False also where its run.json is missing or
    unreadable (`RunDir` then says what is wrong)."""
    try:
        saved = _saved_identity(directory)
    except ValueError:
        return False
    return not _differences(saved, _identity(config, key, dataset, space))


class RunDir:
    """Opens (creating or checking) a run directory; saves and restores a search."""

    def __init__(self, directory: str | os.PathLike, config: Config, key, dataset,
                 space: dict | None = None):
        self.path = Path(directory)
        self.config = config
        self.identity = identity = _identity(config, key, dataset, space)
        run_json = self.path / "run.json"
        if run_json.exists():
            self._check_identity()
        elif self.path.exists() and any(self.path.iterdir()):
            raise ValueError(f"{self.path} is not empty and holds no vlga run (no run.json): "
                             "choose a new or empty directory")
        else:
            self.path.mkdir(parents=True, exist_ok=True)
            ckpt.write_json_atomic(run_json, {"format": FORMAT, "config": config.to_dict(),
                                              **{k: v for k, v in identity.items()
                                                 if k != "config"},
                                              "created": time.strftime("%Y-%m-%dT%H:%M:%S")})
        self._check_layout()
        lock(self.path)
        self.log = RunLog(self.path, config)

    def _check_layout(self) -> None:
        """Refuse, before anything trains, a run directory whose folders are files."""
        for name in ("checkpoints", FINAL, "logs", "top"):
            sub = self.path / name
            if sub.exists() and not sub.is_dir():
                raise ValueError(f"{sub} is a file, not a directory: move it away (the run "
                                 f"keeps its {name} there), then run again")

    def _check_identity(self) -> None:
        """Refuse a directory whose run.json describes another run."""
        diff = _differences(_saved_identity(self.path), self.identity)
        if diff:
            raise ValueError(f"{self.path} holds a different run; refusing to mix or "
                             f"overwrite it. Differences: " + "; ".join(diff[:8])
                             + (f" (and {len(diff) - 8} more)" if len(diff) > 8 else ""))

    @property
    def checkpoints(self) -> Path:
        return self.path / "checkpoints"

    # -- saving ----------------------------------------------------------------------------

    def save(self, search: dict, state, step: int, elapsed: float) -> Path:
        """Checkpoint a search after a finished generation: ``search`` is its plain-data
        ``state_dict`` (counters, ``cache`` of `Evaluation`s whose parameters are kept
        for the hashes in ``with_params``, records, ``trainer``), ``state`` the
        strategy's state."""
        arrays: list = []
        cache, params = [], {}
        for ev in search["cache"]:
            out = ev.outcome
            keep = ev.hash in search["with_params"] and out.params is not None
            cache.append({"hash": ev.hash, "arch": ckpt.encode(ev.arch, arrays),
                          **_outcome_json(out, arrays), "params": keep,
                          "key_index": ev.key_index, "phase": ev.phase,
                          "parent_hash": ev.parent_hash,
                          "inherited_epochs": ev.inherited_epochs,
                          "fidelity": ev.fidelity})
            if keep:
                params[ev.hash] = _weights(out)
        body = {
            "config": self.config.to_dict(), "key": self.identity["key"],
            "step": step, **{k: search[k] for k in _COUNTERS},
            "elapsed": elapsed,
            "strategy": ckpt.encode(state, arrays),
            "cache": cache,
            "candidates": [dataclasses.asdict(c) for c in search["candidates"]],
            "generations": [dataclasses.asdict(g) for g in search["generations"]],
            **_trainer_json(search["trainer"], arrays),
        }
        tree = {"state": {f"a{i}": a for i, a in enumerate(arrays)}, "params": params}
        return ckpt.save(self.checkpoints, len(search["generations"]), body, tree,
                         keep=self.config.run.keep_checkpoints)

    # -- restoring -------------------------------------------------------------------------

    def restore(self):
        """(search state_dict, strategy state, step, elapsed) of the newest intact
        checkpoint (the inverse of `save`), or None."""
        found = ckpt.load_latest(self.checkpoints)
        if found is None:
            self.log.reset([], [])
            return None
        body, tree, path = found
        self._check_same_run(body, path)
        try:
            raw = tree.get("state", {})
            arrays = [raw[f"a{i}"] for i in range(len(raw))]
            state = ckpt.decode(body["strategy"], arrays)
            cache = []
            for e in body["cache"]:
                weights = tree["params"][e["hash"]] if e["params"] else {}
                outcome = _outcome_from(e, weights, arrays)
                cache.append(Evaluation(
                    ckpt.decode(e["arch"], arrays), outcome, key_index=e.get("key_index"),
                    phase=e.get("phase", 0), parent_hash=e.get("parent_hash"), hash=e["hash"],
                    inherited_epochs=e.get("inherited_epochs", 0),
                    fidelity=e.get("fidelity", self.config.train.epochs)))
            search = {
                "trained": body["trained"], "retrained": body.get("retrained", 0),
                "params_held_max": body.get("params_held_max", 0),
                "spent_epochs": body["spent_epochs"], "cache": cache,
                "candidates": [CandidateRecord(**c) for c in body["candidates"]],
                "generations": [GenerationRecord(**g) for g in body["generations"]],
                "trainer": _trainer_from(body, arrays)}
        except (KeyError, TypeError, ValueError, AttributeError, ImportError) as err:
            raise ckpt.CheckpointError(f"{path}: does not match this version of vlga_jax "
                                       f"({type(err).__name__}: {err})") from err
        self.log.reset(search["candidates"], search["generations"])
        if self.config.run.verbose and distributed.is_main():
            print(f"resuming {self.path} from {path.name} ({len(search['generations'])} "
                  "generations done)", flush=True)
        return search, state, body["step"], body["elapsed"]

    def _check_same_run(self, body: dict, path: Path) -> None:
        """Refuse a checkpoint of another search than run.json's (an edited run.json)."""
        try:
            saved = {"config": Config.from_dict(body["config"]).search_config(),
                     "key": body["key"]}
        except (KeyError, TypeError, ValueError) as err:
            raise ckpt.CheckpointError(f"{path}: no readable config ({err})") from err
        diff = _differences(saved, {k: self.identity[k] for k in ("config", "key")})
        if diff:
            diff = [d.replace("in the directory", "in the checkpoints") for d in diff]
            raise ValueError(f"{self.path / 'run.json'} does not match the run its checkpoints "
                             "hold (was it edited?); refusing to resume. Restore run.json, or "
                             "start a new run in another directory. Differences: "
                             + "; ".join(diff[:8])
                             + (f" (and {len(diff) - 8} more)" if len(diff) > 8 else ""))

    def save_final(self, trainer: dict, ev_hash: str, progress) -> Path:
        """Checkpoint final training (a `FinalProgress` of candidate ``ev_hash``) and the
        trainer's ``state_dict``."""
        arrays: list = []
        opt = jax.tree.leaves(progress.current.opt_state)
        body = {"hash": ev_hash, "epoch": progress.epoch, "waited": progress.waited,
                "best_epoch": progress.best_epoch,
                "done": progress.done, "wall_seconds": progress.wall_seconds,
                "best": _outcome_json(progress.best, arrays),
                "current": _outcome_json(progress.current, arrays), "opt_leaves": len(opt),
                **_trainer_json(trainer, arrays)}
        tree = {"state": {f"a{i}": a for i, a in enumerate(arrays)},
                "best": _weights(progress.best), "current": _weights(progress.current),
                "opt": {f"o{i}": np.asarray(leaf) for i, leaf in enumerate(opt)}}
        # Two kept: a damaged newest one falls back to the one before.
        return ckpt.save(self.path / FINAL, progress.epoch, body, tree, keep=2)

    def restore_final(self, ev_hash: str, opt_structure):
        """(`FinalProgress` saved for candidate ``ev_hash``, the trainer's state_dict when
        it was saved), or None (none saved, or none usable: final training then starts
        again from the end of the search, with a warning; it ends the same).
        ``opt_structure(program)``: the pytree structure of the optimizer state to
        rebuild."""
        try:
            return self._restore_final(ev_hash, opt_structure)
        except ckpt.CheckpointError as err:
            warnings.warn(f"{err}; training the final model again from the end of the "
                          "search (the result is the same)", RuntimeWarning, stacklevel=2)
            return None

    def _restore_final(self, ev_hash: str, opt_structure):
        found = ckpt.load_latest(self.path / FINAL)
        if found is None:
            return None
        body, tree, path = found
        try:
            if body["hash"] != ev_hash:
                raise ValueError(f"it trains candidate {body['hash']}, not {ev_hash}")
            raw = tree.get("state", {})
            arrays = [raw[f"a{i}"] for i in range(len(raw))]
            best = _outcome_from(body["best"], tree.get("best", {}), arrays)
            current = _outcome_from(body["current"], tree.get("current", {}), arrays)
            if body["opt_leaves"]:
                opt = tree["opt"]
                structure = opt_structure(current.program)
                current.opt_state = jax.tree.unflatten(
                    structure, [opt[f"o{i}"] for i in range(body["opt_leaves"])])
            trainer = _trainer_from(body, arrays)
        except (KeyError, TypeError, ValueError, AttributeError) as err:
            raise ckpt.CheckpointError(f"{path}: cannot continue final training from it "
                                       f"({type(err).__name__}: {err})") from err
        if self.config.run.verbose and distributed.is_main():
            print(f"resuming final training from {path.name} ({body['epoch']} epochs done)",
                  flush=True)
        return FinalProgress(best=best, current=current,
                             epoch=body["epoch"], waited=body["waited"], done=body["done"],
                             best_epoch=body["best_epoch"],
                             wall_seconds=body.get("wall_seconds", 0.0)), trainer

    def finish(self, result, dataset) -> None:
        """Write result.json and model.npz; drop the final-training checkpoints."""
        from vlga_jax.networks.export import result_summary, save_model

        save_model(self.path / "model.npz", result, dataset=dataset)
        for candidate in result.top:
            (self.path / "top").mkdir(exist_ok=True)
            candidate.export(self.path / "top" / f"rank_{candidate.rank}.npz")
        ckpt.write_json_atomic(self.path / "result.json", result_summary(result))
        shutil.rmtree(self.path / FINAL, ignore_errors=True)
        self.log.close()
        unlock(self.path)


class RunReader(RunDir):
    """A run directory as processes other than 0 of a run of several see it: it checks
    and restores like `RunDir` but writes nothing (no lock, logs, checkpoints or
    outputs)."""

    def __init__(self, directory: str | os.PathLike, config: Config, key, dataset,
                 space: dict | None = None):
        self.path = Path(directory)
        self.config = config
        self.identity = _identity(config, key, dataset, space)
        if not (self.path / "run.json").exists():
            raise ValueError(f"{self.path}: process {jax.process_index()} does not see the "
                             "run directory process 0 created; put it on a file system "
                             "every process sees")
        self._check_identity()
        self.log = _NoLog()

    def save(self, *args, **kwargs) -> None:
        return None

    def save_final(self, *args, **kwargs) -> None:
        return None

    def finish(self, result, dataset) -> None:
        return None


class _NoLog:
    """A `RunLog` that writes nothing."""

    def __getattr__(self, name):
        return lambda *args, **kwargs: None


def open_run(directory: str | os.PathLike, config: Config, key, dataset,
             space: dict | None = None) -> RunDir:
    """`RunDir` (one process, or process 0 of several) or `RunReader` (the others, once
    process 0 has created or checked the directory; if it refused it, they raise too)."""
    if jax.process_count() == 1:
        return RunDir(directory, config, key, dataset, space)
    run, error = None, None
    if distributed.is_main():
        try:
            run = RunDir(directory, config, key, dataset, space)
        except (ValueError, OSError, ckpt.CheckpointError) as err:
            error = err
    ok = distributed.broadcast_flag(error is None)
    if error is not None:
        raise error
    if not ok:
        raise ValueError(f"{directory}: process 0 refused the run directory (its error "
                         "says why)")
    return run if run is not None else RunReader(directory, config, key, dataset, space)


# The search's counters, saved as they are.
_COUNTERS = ("trained", "retrained", "params_held_max", "spent_epochs")


def _trainer_json(trainer: dict, arrays: list) -> dict:
    """A trainer ``state_dict`` as checkpoint entries: ``trainer_stats`` (counters) and
    ``trainer`` (the cost model's state)."""
    return {"trainer_stats": trainer["stats"],
            "trainer": {k: ckpt.encode(v, arrays) for k, v in trainer["cost_model"].items()}}


def _trainer_from(body: dict, arrays: list) -> dict:
    """The inverse of `_trainer_json`."""
    return {"stats": body["trainer_stats"],
            "cost_model": {k: ckpt.decode(v, arrays) for k, v in body["trainer"].items()}}


def _outcome_json(out, arrays: list) -> dict:
    """An Outcome's metrics and program as JSON (its weights go to `_weights`)."""
    return {"program": ckpt.encode(out.program, arrays), "val_acc": out.val_acc,
            "val_loss": out.val_loss, "train_loss": out.train_loss, "failed": out.failed,
            "reason": out.reason, "seconds": out.seconds}


def _weights(out) -> dict:
    return {"params": out.params, "stats": out.stats or {}}


def _outcome_from(meta: dict, weights: dict, arrays: list):
    """The inverse of `_outcome_json` and `_weights` (no weights: parameters dropped)."""
    params = weights.get("params")
    stats = None if params is None else weights.get("stats") or {}
    return Outcome(params=params, stats=stats,
                   val_acc=meta["val_acc"], val_loss=meta["val_loss"],
                   train_loss=meta["train_loss"], failed=meta["failed"],
                   reason=meta["reason"], seconds=meta["seconds"],
                   program=ckpt.decode(meta["program"], arrays))
