"""The winner's final training, and with ``run.top_k_retrain`` > 1 the top k retrained.

`train_winner` trains the search's winner; with ``run.top_k_retrain`` > 1 the top k
candidates are retrained with the final-training recipe and the one that validates best
is kept (`retrain_top`).

The winner is the best phase winner of the strategy's history. Its final training is
the usual one (checkpointed in a run directory, so a resumed run continues it); the
next ``k - 1`` best distinct candidates by the search's ranking (`Scores.top_hashes`,
failed ones never) are then trained the same way: the same epochs, early stopping,
start (``train.final_start``) and keys. They are not checkpointed: a run resumed during
them retrains them from their start, with the same result. The kept network is the one
with the best final validation (accuracy, then loss: `better_validation`), the winner
on ties; test accuracy is reported for each and never chooses. In a multi-objective
search the winner (by Pareto rank) stays the result: final validation accuracy alone
does not rank several objectives.
"""

from __future__ import annotations

import dataclasses
from collections.abc import Callable

from vlga_jax.genetics.genome import Genome, encode, genome_hash
from vlga_jax.networks.architecture import architecture_label
from vlga_jax.runs.records import Evaluation, Retrained, better_validation
from vlga_jax.runs.rundir import RunDir
from vlga_jax.search.context import Search
from vlga_jax.search.final import FinalTraining, train_final
from vlga_jax.strategies.base import final_winner
from vlga_jax.training.objectives import scalar

__all__ = ["Winner", "train_winner", "retrain_top"]


@dataclasses.dataclass
class Winner:
    """What the search returns: the candidate kept (its genome, search fitness and cached
    evaluation), its final training, and every candidate retrained (``run.top_k_retrain``
    > 1, else empty)."""

    genome: Genome
    fitness: float
    evaluation: Evaluation
    final: FinalTraining
    retrained: list[Retrained]
    restored: tuple[float, float, float] | None  # the first final training's


def train_winner(search: Search, history, run: RunDir | None,
                 clock: Callable[[], float]) -> Winner:
    """Final training of the best of a strategy's ``phase_history`` (and with
    ``run.top_k_retrain`` > 1 of the next best, keeping the one that validates best)."""
    genome, fitness = final_winner(history)
    ev = search.cache.with_params(genome_hash(genome, search.space))
    final = train_final(search, ev, run, clock)
    restored, retrained = final.restored, []
    k = search.config.run.top_k_retrain
    if k > 1:
        kept, final, retrained = retrain_top(search, ev, final, k,
                                             keep_best=not search.scores.multi)
        if kept is not ev:
            description = next(c.genome for c in search.candidates if c.hash == kept.hash)
            genome = encode(description, search.space)
            fitness = scalar(search.scores.score(kept.hash))
            ev = kept
    return Winner(genome, fitness, ev, final, retrained, restored)




def retrain_top(search: Search, winner: Evaluation, first: FinalTraining, k: int,
                keep_best: bool = True
                ) -> tuple[Evaluation, FinalTraining, list[Retrained]]:
    """(the kept candidate, its final training, every retrained one in rank order).
    ``first``: the winner's `train_final`. ``keep_best`` False: the winner is kept
    whatever the others validate (several objectives)."""
    runs = [(winner, first)]
    for h in [h for h in search.scores.top_hashes(k) if h != winner.hash][:k - 1]:
        ev = search.cache.with_params(h)
        runs.append((ev, train_final(search, ev)))
    kept = 0
    for i, (_, trained) in enumerate(runs if keep_best else ()):
        if better_validation(trained.outcome, runs[kept][1].outcome):  # strictly: earlier
            kept = i                                                  # of equals stays
    listed = [Retrained(rank=i + 1, hash=e.hash, architecture=architecture_label(e.arch),
                        param_count=e.arch.param_count, search_fitness=float(e.fitness),
                        val_accuracy=float(t.val_acc), test_accuracy=float(t.test_acc),
                        final_epochs=t.epochs, best_epoch=t.best_epoch, selected=i == kept)
              for i, (e, t) in enumerate(runs)]
    return *runs[kept], listed
