"""The fitness cache: evaluated candidates by genome hash, and which keep their weights.

Memory is bounded by the population, not by the run: the cache keeps every candidate's
`Evaluation` (architecture, outcome with its metrics, and how it was trained: key index,
phase, parent), but trained parameters only for the hashes the search still needs
(`retain`: what the strategy's state holds and the best few). Optimizer states never
outlive their training call. A cache hit on a candidate whose parameters were dropped
keeps its recorded fitness; should its parameters be needed again (it wins a phase, or
is a transfer parent), `with_params` retrains it from its recorded key and parent,
bit for bit as the first time (counted in ``retrained``).
"""

from __future__ import annotations

import dataclasses
import math
from collections.abc import Callable, Iterator

from vlga_jax.networks.architecture import Architecture
from vlga_jax.runs.records import Evaluation
from vlga_jax.strategies import SearchFailed
from vlga_jax.training.members import Outcome

__all__ = ["FitnessCache", "not_trained"]

# retrain(evaluation, its parent with parameters or None) -> the outcome trained again
Retrain = Callable[[Evaluation, Evaluation | None], Outcome]


class FitnessCache:
    """`Evaluation`s by genome hash (insertion order: the order they were trained).

    ``retrain`` trains a cached candidate again from its recorded key and parent (see
    `vlga_jax.search.schedule.Schedule.retrain`). ``retrained`` counts those retrainings,
    ``params_held_max`` the most candidates holding parameters after a `retain`.
    """

    def __init__(self, retrain: Retrain):
        self.entries: dict[str, Evaluation] = {}
        self.retrained = 0
        self.params_held_max = 0
        self._retrain = retrain

    def __contains__(self, h: str) -> bool:
        return h in self.entries

    def __getitem__(self, h: str) -> Evaluation:
        return self.entries[h]

    def __iter__(self) -> Iterator[str]:
        return iter(self.entries)

    def __len__(self) -> int:
        return len(self.entries)

    def get(self, h: str) -> Evaluation | None:
        return self.entries.get(h)

    def add(self, ev: Evaluation) -> None:
        self.entries[ev.hash] = ev

    def retain(self, needed: set[str]) -> None:
        """Drop the parameters (and any optimizer state) of every cached candidate not in
        ``needed``."""
        held = 0
        for h, ev in self.entries.items():
            if h not in needed and ev.outcome.params is not None:
                ev.outcome = dataclasses.replace(ev.outcome, params=None, stats=None,
                                                 opt_state=None)
            held += ev.outcome.params is not None
        self.params_held_max = max(self.params_held_max, held)

    def with_params(self, h: str) -> Evaluation:
        """The cached candidate ``h`` with its trained parameters (retrained from its key
        and parent if they were dropped; a failed one has none to give)."""
        ev = self.entries[h]
        if ev.outcome.params is not None or ev.outcome.failed:
            return ev
        if ev.key_index is None:
            raise SearchFailed(f"candidate {h}: parameters were dropped and it cannot be "
                               "retrained (no training key recorded)")
        parent = None if ev.parent_hash is None else self.with_params(ev.parent_hash)
        again = self._retrain(ev, parent)
        self.retrained += 1
        ev.outcome = dataclasses.replace(ev.outcome, params=again.params, stats=again.stats)
        return ev

    def load(self, evaluations: list[Evaluation], retrained: int,
             params_held_max: int) -> None:
        """Replace the cache by a checkpoint's ``evaluations`` and counters."""
        self.entries = {ev.hash: ev for ev in evaluations}
        self.retrained, self.params_held_max = retrained, params_held_max


def not_trained(arch: Architecture, reason: str) -> Outcome:
    """The outcome of a candidate that was not trained (``reason``: why): failed, with
    the worst fitness and no parameters."""
    return Outcome(params=None, stats=None, val_acc=-math.inf, val_loss=math.nan,
                   train_loss=math.nan, failed=True, reason=reason, seconds=0.0,
                   program=arch.shape_key())
