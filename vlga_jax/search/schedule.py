"""How new candidates train: where their weights start, and the rungs they go through.

Weights start fresh or from the transfer parent's first blocks; the fidelity schedule is
successive halving (`vlga_jax.search.halving`).

A generation's new candidates all train to the first rung of ``train.rungs()``; the
best 1/``halving_eta`` continue, with their parameters, optimizer state and program, to
the next, and so on. Rung k > 0 trains from key ``fold_in(key, k)`` so its epochs draw
fresh minibatch orders. `Schedule.initial_members` is the one place that decides a new
candidate's starting weights.
"""

from __future__ import annotations

import dataclasses
import math
from collections.abc import Callable, Sequence

import jax
import numpy as np

from vlga_jax.config import TrainConfig
from vlga_jax.core import streams
from vlga_jax.networks.architecture import Architecture
from vlga_jax.networks.params import inherit, init_params
from vlga_jax.runs.records import Evaluation
from vlga_jax.search import halving
from vlga_jax.training import growth
from vlga_jax.training.growth import FrozenPrefix
from vlga_jax.training.members import DeviceData, Member, Outcome

__all__ = ["Schedule"]

# train(members, n_epochs, data=None, keep_opt_state=False) -> one Outcome per member
TrainMembers = Callable[..., list[Outcome]]


class Schedule:
    """The rung and transfer schedule of a run's new candidates.

    ``key_train``: the key whose ``fold_in(key_train, i)`` is the i-th new candidate's
    training key; ``val_data``: the data the search trains on (its frozen-prefix
    features are computed from it); ``train_members``: the trainer call (or the
    evaluator given to `evolve`). ``trained`` numbers the new candidates (their key
    indices, infeasible ones included) and ``spent_epochs`` counts the candidate-epochs
    trained (the budget's unit).
    """

    def __init__(self, train: TrainConfig, key_train: jax.Array, val_data: DeviceData,
                 train_members: TrainMembers):
        self.config = train
        self.rungs = train.rungs()
        self.key_train = key_train
        self.val_data = val_data
        self.train_members = train_members
        self.trained = 0
        self.spent_epochs = 0
        self._prefixes: dict[tuple, tuple[FrozenPrefix, DeviceData] | None] = {}

    def key(self, index: int) -> jax.Array:
        """The training key of the ``index``-th new candidate."""
        return jax.random.fold_in(self.key_train, index)

    def number(self, n: int) -> range:
        """Key indices for ``n`` new candidates (the next ones)."""
        first, self.trained = self.trained, self.trained + n
        return range(first, first + n)

    def affordable(self, budget: int | None) -> int | None:
        """How many new candidates the rest of ``ga.budget_epochs`` can take through
        every rung (None: no budget)."""
        if budget is None:
            return None
        return halving.affordable(self.rungs, self.config.halving_eta,
                                  budget - self.spent_epochs)

    def _prefix(self, parent: Evaluation, phase: int) -> tuple[FrozenPrefix, DeviceData] | None:
        """The parent's frozen blocks as cached features (None: too large to cache)."""
        key = (phase, parent.arch)
        if key not in self._prefixes:
            prefix = FrozenPrefix(parent.arch, phase, parent.outcome.params,
                                  parent.outcome.stats)
            self._prefixes = {}  # one phase at a time
            self._prefixes[key] = ((prefix, prefix.device_data(self.val_data))
                                   if prefix.fits_memory(self.val_data) else None)
        return self._prefixes[key]

    def initial_members(self, archs: Sequence[Architecture], keys: Sequence[jax.Array],
                        parent: Evaluation | None, phase: int
                        ) -> tuple[list[Member], FrozenPrefix | None, DeviceData | None]:
        """The members that start training ``archs`` (one key each) in ``phase``, with
        the frozen prefix and data they train on (None, None: whole networks on the
        search's data). Starting weights:

        - no transfer ``parent``: fresh, drawn from the candidate's key;
        - a parent: its first ``phase`` blocks, fresh later blocks and head drawn from
          ``fold_in(key, streams.INHERIT_INIT)``; with ``train.transfer="freeze"`` those
          blocks stay frozen;
        - frozen and the parent's features fit memory (no augmentation, which needs
          images): only the later blocks and head train, drawn fresh from the key, on
          the prefix's cached features (`vlga_jax.training.growth.FrozenPrefix`).
        """
        tc = self.config
        if parent is None:
            return [_fresh(a, k) for a, k in zip(archs, keys, strict=True)], None, None
        frozen = tc.transfer == "freeze"
        cached = self._prefix(parent, phase) if frozen and not tc.augment else None
        if cached is not None:
            prefix, data = cached
            return [_fresh(growth.suffix(a, phase, prefix.feature_shape), k)
                    for a, k in zip(archs, keys, strict=True)], prefix, data
        members = []
        for a, k in zip(archs, keys, strict=True):
            fresh_params, fresh_stats = init_params(
                jax.random.fold_in(k, streams.INHERIT_INIT), a.shape_key())
            members.append(Member(a, k, params=inherit(parent.outcome.params, fresh_params,
                                                       phase),
                                  stats=inherit(parent.outcome.stats, fresh_stats, phase),
                                  frozen_blocks=phase if frozen else 0))
        return members, None, None

    def train(self, archs: Sequence[Architecture], parent: Evaluation | None, phase: int,
              key_indices: Sequence[int], fidelity: int | None = None
              ) -> list[tuple[Outcome, int]]:
        """Train new candidates through the rungs up to ``fidelity`` epochs (default: all
        rungs); (outcome, epochs trained) each, without optimizer state. With
        ``train.examples_per_candidate`` each trains on its subset of the training rows,
        drawn from its key (`vlga_jax.training.subsets`)."""
        if not archs:
            return []
        rungs = [r for r in self.rungs if fidelity is None or r <= fidelity]
        members, prefix, data = self.initial_members(
            archs, [self.key(i) for i in key_indices], parent, phase)
        if self.config.examples_per_candidate is not None:  # one subset through every rung
            members = [dataclasses.replace(m, examples=self.config.examples_per_candidate,
                                           examples_key=m.key) for m in members]
        outcomes: list[Outcome | None] = [None] * len(members)
        epochs = [0] * len(members)
        active, done = list(range(len(members))), 0
        for k, rung in enumerate(rungs):
            last = k == len(rungs) - 1
            batch = [members[i] if k == 0 else dataclasses.replace(
                members[i], key=jax.random.fold_in(members[i].key, k),
                params=outcomes[i].params, stats=outcomes[i].stats,
                opt_state=outcomes[i].opt_state, program=outcomes[i].program)
                for i in active]
            trained = self.train_members(batch, rung - done, data=data,
                                         keep_opt_state=not last)
            for i, out in zip(active, trained, strict=True):
                outcomes[i], epochs[i] = out, rung
            done = rung
            if not last:
                scores = [None if outcomes[i].failed else
                          (outcomes[i].val_acc, outcomes[i].val_loss) for i in active]
                active = [active[j] for j in halving.promoted(scores, self.config.halving_eta)]
        outcomes = [dataclasses.replace(o, opt_state=None) for o in outcomes]
        if prefix is not None:
            outcomes = [prefix.whole(o, phase) for o in outcomes]
        return list(zip(outcomes, epochs, strict=True))

    def retrain(self, ev: Evaluation, parent: Evaluation | None) -> Outcome:
        """``ev`` trained again as the first time: its key, parent, phase and fidelity."""
        return self.train([ev.arch], parent, ev.phase, [ev.key_index], fidelity=ev.fidelity)[0][0]

    def told(self, fitness: float, fidelity: int, multi: bool) -> float:
        """The fitness the strategy sees (`halving.told_fitness`); successive halving
        needs one objective valued in [0, 1] (it ranks lower rungs 1 below)."""
        if len(self.rungs) > 1 and (multi or not (fitness == -math.inf
                                                  or 0.0 <= fitness <= 1.0)):
            raise ValueError("train.halving_min_epochs: successive halving needs one "
                             "objective with values in [0, 1] (an accuracy), got "
                             f"{'several objectives' if multi else fitness}")
        return halving.told_fitness(fitness, fidelity, self.rungs)

    def full_fidelity(self, evaluations: Sequence[Evaluation | None]) -> np.ndarray:
        """bool[P]: which of ``evaluations`` (None: not evaluated) measured their fitness
        at the last rung."""
        last = self.rungs[-1]
        return np.array([getattr(ev, "fidelity", 0) >= last for ev in evaluations])


def _fresh(arch: Architecture, key: jax.Array) -> Member:
    """A member of ``arch`` with fresh weights drawn from its ``key``."""
    return Member(arch, key, *init_params(key, arch.shape_key()))
