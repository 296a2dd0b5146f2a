"""The records of a search, shared by `evolve` and `rundir` (no dependency on either).

`CandidateRecord` and `GenerationRecord` are what logs and results hold; `Evaluation` is
a trained candidate in the fitness cache; `FinalProgress` is final training so far.
"""

from __future__ import annotations

import dataclasses

from vlga_jax.networks.architecture import Architecture
from vlga_jax.training.members import Outcome


@dataclasses.dataclass
class CandidateRecord:
    phase: int
    generation: int
    hash: str
    genome: dict
    fitness: float
    epochs: int
    seconds: float
    failed: bool
    reason: str
    cache_hit: bool
    param_count: int
    flops: int
    # Epochs of training already in the weights it started from (a VLGA candidate's
    # inherited blocks), not charged to the budget: reported beside it.
    inherited_epochs: int = 0
    # Epochs of training behind ``fitness`` (below train.epochs: stopped at a lower rung
    # of successive halving); 0 in records written before halving existed.
    fidelity: int = 0
    # With several objectives (`vlga_jax.training.objectives`): their values (None: failed);
    # ``fitness`` is then the first one. None with one objective.
    objectives: list | None = None
    # Over train.max_candidate_gflop: not trained, worst fitness, ``reason`` says why
    # (`vlga_jax.training.feasibility`); also ``failed``.
    infeasible: bool = False
    # A short label of its blocks (`vlga_jax.networks.architecture.architecture_label`); "" in
    # records written before it existed.
    architecture: str = ""


@dataclasses.dataclass
class GenerationRecord:
    phase: int
    generation: int
    best: float
    mean: float
    median: float
    evaluated: int
    cache_hits: int
    seconds: float
    population_fitness: list[float] = dataclasses.field(default_factory=list)
    # [epochs, candidates of this generation trained to at least that many] per rung of
    # the fidelity schedule.
    rung_counts: list[list[int]] = dataclasses.field(default_factory=list)
    # Real members / member slots (dummies padding a call included) of this generation's
    # training calls; None if it trained nothing.
    utilisation: float | None = None
    # The best of every generation so far, this one included (``best`` is this
    # generation's: it may go down, this never does); None in records written before.
    best_so_far: float | None = None
    # Candidates of this generation over train.max_candidate_gflop (not trained).
    infeasible: int = 0


@dataclasses.dataclass
class Evaluation:
    """A trained candidate, cached by genome hash.

    ``outcome.params``/``stats`` are None once dropped (`vlga_jax.search.fitness_cache`);
    the candidate's training key index, phase and parent's hash let it be retrained.
    """

    arch: Architecture
    outcome: Outcome
    key_index: int | None = None
    phase: int = 0
    parent_hash: str | None = None
    hash: str = ""
    inherited_epochs: int = 0
    fidelity: int = 0  # epochs of training behind the fitness (see `vlga_jax.search.halving`)

    @property
    def fitness(self) -> float:
        return self.outcome.val_acc


@dataclasses.dataclass
class Retrained:
    """One of the ``run.top_k_retrain`` candidates final training retrained: ``rank`` 1
    is the search's winner, then the next best by the search's ranking; validation and
    test accuracy of its best final epoch (``best_epoch``, 0: the search weights) of
    ``final_epochs`` run; ``selected``: the one the result keeps (best validation)."""

    rank: int
    hash: str
    architecture: str
    param_count: int
    search_fitness: float
    val_accuracy: float
    test_accuracy: float
    final_epochs: int
    best_epoch: int
    selected: bool = False


@dataclasses.dataclass
class FinalProgress:
    """Final training so far: ``epoch`` epochs run; ``current`` is the newest outcome
    (with its optimizer state), ``best`` the best by validation accuracy; ``done`` once
    early stopping (or a failed epoch) ended it."""

    best: Outcome
    current: Outcome
    epoch: int = 0
    waited: int = 0
    done: bool = False
    best_epoch: int = 0  # 0: the search network
    # Wall seconds of every session up to this checkpoint (search included).
    wall_seconds: float = 0.0


def better_validation(a: Outcome, b: Outcome) -> bool:
    """Whether ``a`` validates better than ``b``: higher accuracy, or equal accuracy and
    lower loss."""
    return (a.val_acc, -a.val_loss) > (b.val_acc, -b.val_loss)
