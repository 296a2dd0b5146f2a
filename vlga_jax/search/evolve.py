"""`evolve(key, config) -> Result`: the search loop on the batched trainer.

Set up (data, space, strategy, trainer; a run directory, resumed where it stopped),
then per generation ask -> evaluate -> tell -> record and checkpoint, then final
training of the winner, then the `Result`. The steps live in their own modules:
`vlga_jax.search.context` (what the steps share), `vlga_jax.search.generation` (evaluate,
tell, record), `vlga_jax.search.fitness_cache` (the fitness cache and which parameters it
keeps), `vlga_jax.search.scoring` (objective values), `vlga_jax.search.schedule` (rungs of
successive halving and weight transfer), `vlga_jax.search.final` and
`vlga_jax.search.retrain` (final training), `vlga_jax.search.totals` and
`vlga_jax.search.result`.

Fitness is validation accuracy unless an objective says otherwise (see
`vlga_jax.training.objectives`). The strategy is ``config.ga.strategy`` (VLGA by default);
``ga.budget_epochs`` stops any strategy once that many candidate-epochs are spent (cache
hits are free). ``train.max_candidate_gflop`` caps what one candidate may cost:
candidates above it are recorded as infeasible and not trained
(`vlga_jax.training.feasibility`).
"""

from __future__ import annotations

import contextlib
import os
import sys
import warnings
from collections.abc import Callable, Sequence

import jax
import numpy as np

from vlga_jax.config import Config
from vlga_jax.core import distributed, xla_flags
from vlga_jax.data.datasets import Dataset
from vlga_jax.genetics.genome import genome_hash
from vlga_jax.genetics.space import SearchSpace
from vlga_jax.runs.records import CandidateRecord, Evaluation, GenerationRecord
from vlga_jax.runs.rundir import RunDir, open_run
from vlga_jax.search.context import (
    Evaluator,
    Search,
    check_crop_padding,
    check_space,
    configured_dataset,
)
from vlga_jax.search.generation import Mark, evaluate, record_generation, tell
from vlga_jax.search.result import Result, build_result, ranked_lists
from vlga_jax.search.retrain import train_winner
from vlga_jax.search.totals import Session, totals
from vlga_jax.strategies import SearchFailed
from vlga_jax.training.objectives import Objective
from vlga_jax.training.trainer import enable_compilation_cache

__all__ = ["evolve", "Result", "CandidateRecord", "GenerationRecord", "SearchFailed",
           "Evaluator", "GenerationCallback", "check_crop_padding", "configured_dataset"]

GenerationCallback = Callable[[GenerationRecord, list[CandidateRecord]], None]


def evolve(key: jax.Array, config: Config | None = None, *,
           callbacks: Sequence[GenerationCallback] = (),
           dataset: Dataset | None = None,
           checkpoint_dir: str | os.PathLike | None = None,
           evaluator: Evaluator | None = None,
           progress: bool | None = None,
           objective: Callable[[dict], object] | None = None,
           space: SearchSpace | None = None,
           objective_errors: str = "raise") -> Result:
    """Run the search of ``config`` (default: ``Config()``, the "quick" preset) from ``key``.

    ``dataset`` overrides ``config.data`` (e.g. a `Dataset.from_arrays`). Each callback
    is called with every finished generation's record and its candidates; a callback
    with a ``generation_started(phase, generation, n_candidates)`` method is also told
    when a generation starts training, and one with ``final_started(epochs, done)`` /
    ``final_epoch(epoch, val_acc, best_epoch)`` / ``final_finished(epochs, best_epoch,
    val_acc)`` methods follows final training. Methods named after `Trainer.listener`'s
    events (``train_started``, ``bucket_started``, ``bucket_finished``) follow each
    training call, and a ``cost_warning(text)`` method gets the start-up warning of a
    search whose largest network trains slowly here (`vlga_jax.training.feasibility`).

    ``progress``: a progress bar on stderr (`vlga_jax.runs.progress.Progress`) for the search
    and final training; None (default) shows it when stderr is a terminal, False never.

    ``evaluator(trainer, members, n_epochs, data=None, keep_opt_state=False)`` trains
    in place of ``trainer.train`` (one `Outcome` per member): a wrapper of `Trainer.train`
    that counts calls or injects failures, say.

    ``checkpoint_dir`` makes the run durable (see `vlga_jax.runs.rundir`): a checkpoint after
    every generation, JSON-lines logs, and at the end result.json and model.npz. If the
    directory already holds this run (same ``config.search_config()``, key and data) the
    search resumes from its last finished generation and ends with the same Result as an
    uninterrupted run; if it holds another run, ValueError names what differs.

    ``objective`` maps a trained candidate's metrics dict (`vlga_jax.training.objectives.METRICS`)
    to its fitness, a float (higher is better), or to a sequence of floats for a
    multi-objective search; default: ``ga.objectives``, else validation accuracy. Pass
    the same function when resuming. A value that is not a finite number (or a sequence
    of them, always as long) raises `vlga_jax.training.objectives.ObjectiveError` naming the
    candidate; ``objective_errors="fail"`` records that candidate as failed instead
    (reason ``objective returned ...``). ``space`` replaces ``config.space`` by a user
    `SearchSpace` (genes named as in `vlga_jax.networks.kinds.check_network_space`).

    Buckets train on ``config.run.devices``; in a run of several processes (see
    `vlga_jax.core.distributed`) every process calls ``evolve`` alike and gets the same
    Result, and process 0 alone writes ``checkpoint_dir`` and shows progress.
    """
    config = Config() if config is None else config
    if not isinstance(config, Config):
        raise ValueError(f"config must be a vlga_jax.Config, got {type(config).__name__}")
    if progress is None:
        progress = sys.stderr.isatty()
    progress = progress and distributed.is_main()  # one process prints
    bar = None
    if progress:
        from vlga_jax.runs.progress import for_search

        bar = for_search(config, checkpoint_dir, file=sys.stderr)
        callbacks = [*callbacks, bar]
    with bar or contextlib.nullcontext():
        return _evolve(key, config, callbacks, dataset, checkpoint_dir, evaluator,
                       Objective(config.ga.objectives, objective, objective_errors), space)


def _evolve(key, config: Config, callbacks, dataset, checkpoint_dir, evaluator, objective,
            space) -> Result:
    """Set up, then per generation ask -> evaluate -> tell -> record and checkpoint, then
    final training of the winner; the `Result`."""
    session = Session()
    _prepare_backend(config)
    dataset = configured_dataset(config) if dataset is None else dataset
    check_crop_padding(config, dataset.image_shape)
    check_space(config, space)
    search = Search.create(key, config, dataset, evaluator, objective, space, callbacks)
    search.trainer.listener = search.notify  # progress output
    search.warn_cost()
    run = None if checkpoint_dir is None else open_run(
        checkpoint_dir, config, key, dataset, space=None if space is None else space.to_dict())
    strategy, parent = search.strategy, None
    state, step = _start(search, run, session)
    while not (stop_reason := _budget_spent(search)):
        phase = state.phase
        population, state = strategy.ask(jax.random.fold_in(search.keys.strategy, step),
                                         state, strategy.default_params)
        step += 1
        if state.done:
            break
        parent = _transfer_parent(search, state, phase, parent)
        mark = Mark.now(search)
        search.notify("generation_started", state.phase, state.generation,
                      int(np.sum(state.needs_eval)))
        fitness, hashes = evaluate(search, state, population, parent,
                                   search.schedule.affordable(config.ga.budget_epochs))
        if search.scores.multi:  # rank the whole population: survivors' ranks change too
            fitness = search.scores.rank_population(hashes)
            state = state.replace(needs_eval=np.ones(len(fitness), bool))
        new = search.candidates[mark.candidates:]
        state = tell(search, population, fitness, state, new)
        search.cache.retain(search.needed(state))
        record = record_generation(search, state, hashes, mark)
        _checkpoint(search, run, state, step, record, mark, session)
        for callback in callbacks:
            callback(record, new)
    history = strategy.phase_history(state)
    winner = train_winner(search, history, run, session.clock)
    top, pareto = ranked_lists(search)
    result = build_result(search, winner, stop_reason or state.stop_reason,
                          [f for _, f in history], top, pareto, totals(search, winner, session))
    if run is not None:
        run.finish(result, dataset)
    return result


def _prepare_backend(config: Config) -> None:
    """Warn about GPU flags set too late; turn on the persistent compilation cache."""
    if jax.default_backend() == "gpu" and (late := xla_flags.warning()):
        warnings.warn(late, RuntimeWarning, stacklevel=4)
    if config.train.step_mode != "chain":  # chained: layer programs persist in DIR/programs
        enable_compilation_cache(config.run.compile_cache_dir)


def _start(search: Search, run: RunDir | None, session: Session):
    """(the strategy's state, steps asked so far): its initial state, or the state of
    ``run``'s last checkpoint with the search's progress restored into ``search``."""
    state, step = search.strategy.init(search.keys.strategy), 0
    restored = run.restore() if run is not None else None
    if restored is not None:
        saved, state, step, session.earlier_wall = restored
        _check_layout(state, search, run)
        search.load_state_dict(saved)
        session.resumed = True
    stats = search.trainer.stats
    session.earlier_compile, session.earlier_train = stats.compile_seconds, stats.train_seconds
    return state, step


def _check_layout(state, search: Search, run: RunDir) -> None:
    """ValueError unless the restored genomes have the shapes of the search space (an
    earlier version's gene tables, e.g. the binary_cnn chromosome before its genes were
    laid out as the source's, would otherwise fail deep inside an operator)."""
    population, space = getattr(state, "population", None), search.space
    if population is None:
        return
    got = (tuple(np.shape(population.blocks)[1:]), tuple(np.shape(population.globals)[1:]))
    want = ((space.max_blocks, space.n_block_genes), (space.n_global_genes,))
    if got != want:
        raise ValueError(
            f"{run.path}: its checkpoints hold genomes of another layout of the search space "
            f"(blocks {got[0]}, globals {got[1]}; space.kind={search.config.space.kind!r} "
            f"now has blocks {want[0]}, globals {want[1]}): the run was made by an earlier "
            "version whose gene tables differ, and cannot be resumed; start a new run in "
            "another directory")


def _budget_spent(search: Search) -> str:
    """Why the search stops before asking again (``ga.budget_epochs`` cannot pay for
    another generation's epochs), or ""."""
    budget = search.config.ga.budget_epochs
    if budget is not None and budget - search.schedule.spent_epochs < search.config.train.epochs:
        return f"spent the budget of {budget} candidate-epochs"
    return ""


def _transfer_parent(search: Search, state, phase: int,
                     parent: Evaluation | None) -> Evaluation | None:
    """The candidate new ones inherit blocks from (with parameters), if the strategy
    names one: looked up again when the phase changes (``phase``: before the ask)."""
    transfer = search.strategy.transfer_parent(state)
    if transfer is None:
        return None
    if state.phase != phase or parent is None:
        return search.cache.with_params(genome_hash(transfer, search.space))
    return parent


def _checkpoint(search: Search, run: RunDir | None, state, step: int,
                record: GenerationRecord, mark: Mark, session: Session) -> None:
    """Log the generation and its compiles, and checkpoint the run (in a run directory)."""
    if run is None:
        return
    run.log.write(record, search.candidates[mark.candidates:])
    run.log.write_compiles(search.trainer.stats.programs[mark.programs:],
                           phase=state.phase, generation=state.generation)
    run.save(search.state_dict(state), state, step, session.clock())
