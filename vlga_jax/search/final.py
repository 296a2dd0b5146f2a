"""Final training of one candidate: early stopping on validation, then one test evaluation.

The candidate (the search's winner, see `vlga_jax.search.retrain`) trains for up to
``train.final_epochs`` with early stopping on validation, then its test accuracy is
measured once (`Trainer.evaluate_test`; the test split never chooses anything).

Training starts from the search weights or from scratch (``train.final_start``). The
best epoch is judged on the final training's own validation curve: highest accuracy,
ties broken by lower loss (a small validation split saturates, and the search fitness is
the maximum of many noisy measurements, so comparing against it would keep the
short-trained search network). Without any final epoch the search network is the
result. In a run directory every epoch is checkpointed; a resumed run continues from it.
`vlga_jax.search.retrain` trains the winner (and with ``run.top_k_retrain`` > 1 the next
best candidates) this way.
"""

from __future__ import annotations

import dataclasses
from collections.abc import Callable

import jax

from vlga_jax.core import streams
from vlga_jax.networks.params import init_params
from vlga_jax.runs.records import Evaluation, FinalProgress, better_validation
from vlga_jax.runs.rundir import RunDir
from vlga_jax.search.context import Search
from vlga_jax.training.members import Member, Outcome

__all__ = ["FinalTraining", "train_final"]


@dataclasses.dataclass
class FinalTraining:
    """One candidate's final training: the outcome of its best epoch, that epoch's
    validation accuracy and the test accuracy of its weights, the epochs run and the
    best one (0: the search weights). ``restored``: when it resumed from a checkpoint,
    (wall seconds of every session up to it, compile and train seconds of earlier
    sessions it restored into the trainer)."""

    outcome: Outcome
    val_acc: float
    test_acc: float
    epochs: int
    best_epoch: int
    restored: tuple[float, float, float] | None = None


def train_final(search: Search, ev: Evaluation, run: RunDir | None = None,
                clock: Callable[[], float] = lambda: 0.0) -> FinalTraining:
    """Train ``ev`` for up to ``train.final_epochs`` with early stopping; with ``run``,
    a checkpoint after every epoch (``clock()``: wall seconds of every session so far)."""
    tc, trainer = search.config.train, search.trainer
    key = search.keys.final
    start = ev.outcome
    if tc.final_start == "scratch" and tc.final_epochs:
        params, stats = init_params(jax.random.fold_in(key, streams.FINAL_SCRATCH),
                                    ev.arch.shape_key())
        start = dataclasses.replace(ev.outcome, params=params, stats=stats)
    progress = FinalProgress(best=ev.outcome, current=start)
    restored = None
    if run is not None:
        saved = run.restore_final(
            ev.hash, lambda program: trainer.opt_state_structure(program, ev.arch))
        if saved is not None:
            progress, trainer_state = saved
            before = (trainer.stats.compile_seconds, trainer.stats.train_seconds)
            trainer.load_state_dict(trainer_state)
            # The checkpoint's counters hold earlier sessions' final training too.
            restored = (progress.wall_seconds, trainer.stats.compile_seconds - before[0],
                        trainer.stats.train_seconds - before[1])
    search.notify("final_started", tc.final_epochs, progress.epoch)
    while not progress.done and progress.epoch < tc.final_epochs:
        current = progress.current
        member = Member(ev.arch, jax.random.fold_in(key, progress.epoch),
                        params=current.params, stats=current.stats,
                        opt_state=current.opt_state, program=current.program)
        current = search.train_members([member], 1, keep_opt_state=True)[0]
        progress.epoch += 1
        if current.failed:
            progress.done = True
        else:
            progress.current = current
            if progress.epoch == 1 or better_validation(current, progress.best):
                progress.best, progress.waited = current, 0
                progress.best_epoch = progress.epoch
            else:
                progress.waited += 1
                progress.done = progress.waited >= tc.patience
            search.notify("final_epoch", progress.epoch, current.val_acc, progress.best_epoch)
        if run is not None:
            progress.wall_seconds = clock()
            run.save_final(trainer.state_dict(), ev.hash, progress)
    best = progress.best
    search.notify("final_finished", progress.epoch, progress.best_epoch, float(best.val_acc))
    tested = Member(ev.arch, key, params=best.params, stats=best.stats, program=best.program)
    (test_acc,) = trainer.evaluate_test([tested], search.test_data, train=search.train_members)
    return FinalTraining(best, best.val_acc, test_acc, progress.epoch, progress.best_epoch,
                         restored)
