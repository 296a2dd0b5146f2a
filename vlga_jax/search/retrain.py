"""Retrain the search's top k candidates with the final-training recipe
(``run.top_k_retrain``) and keep the one that validates best.

The winner's final training is the usual one (checkpointed in a run directory, so a
resumed run continues it); the next ``k - 1`` best distinct candidates by the search's
ranking (`_Search.top_hashes`, failed ones never) are then trained the same way: the
same epochs, early stopping, start (``train.final_start``) and keys. They are not
checkpointed: a run resumed during them retrains them from their start, with the same
result. The kept network is the one with the best final validation (accuracy, then
loss: `better_validation`), the winner on ties; test accuracy is reported for each and
never chooses. In a multi-objective search the winner (by Pareto rank) stays the result:
final validation accuracy alone does not rank several objectives.
"""

from __future__ import annotations

from vlga_jax.networks.architecture import architecture_label
from vlga_jax.runs.records import Evaluation, Retrained, better_validation
from vlga_jax.training.trainer import Outcome


def retrain_top(search, winner: Evaluation, first: tuple[Outcome, float, float], k: int,
                keep_best: bool = True
                ) -> tuple[Evaluation, tuple[Outcome, float, float], list[Retrained]]:
    """(the kept candidate, its (final outcome, val, test), every retrained one in rank
    order). ``first``: the winner's `_Search.final_training` result; ``search``'s final
    epoch counters end as the kept candidate's. ``keep_best`` False: the winner is kept
    whatever the others validate (several objectives)."""
    runs = [(winner, first, search.final_epochs_run, search.final_best_epoch)]
    for h in [h for h in search.top_hashes(k) if h != winner.hash][:k - 1]:
        ev = search.with_params(h)
        trained = search.final_training(ev)
        runs.append((ev, trained, search.final_epochs_run, search.final_best_epoch))
    kept = 0
    for i, (_, (outcome, _, _), _, _) in enumerate(runs if keep_best else ()):
        if better_validation(outcome, runs[kept][1][0]):  # strictly: the earlier of equals
            kept = i
    ev, trained, epochs, best_epoch = runs[kept]
    search.final_epochs_run, search.final_best_epoch = epochs, best_epoch
    listed = [Retrained(rank=i + 1, hash=e.hash, architecture=architecture_label(e.arch),
                        param_count=e.arch.param_count, search_fitness=float(e.fitness),
                        val_accuracy=float(val), test_accuracy=float(test),
                        final_epochs=n, best_epoch=b, selected=i == kept)
              for i, (e, (_, val, test), n, b) in enumerate(runs)]
    return ev, trained, listed
