"""One generation's steps after the ask: evaluate the population, tell, record.

The population is evaluated through the fitness cache (by genome hash; new candidates
train through the `Schedule`), the strategy is told the fitness, and the generation is
recorded.

Every member is decoded once per generation: its description gives its hash, a new
candidate's architecture and its record. ``ga.budget_epochs`` limits how many new
networks a generation trains (cache hits are free); ``train.max_candidate_gflop`` marks
candidates above it infeasible: recorded, never trained (`vlga_jax.training.feasibility`).
"""

from __future__ import annotations

import dataclasses
import math
import time
from collections.abc import Sequence

import numpy as np

from vlga_jax.genetics.genome import decode, description_hash, unstack
from vlga_jax.networks.architecture import architecture_label
from vlga_jax.runs.records import CandidateRecord, Evaluation, GenerationRecord
from vlga_jax.search.context import Search
from vlga_jax.search.fitness_cache import not_trained
from vlga_jax.strategies import SearchFailed
from vlga_jax.training.objectives import scalar

__all__ = ["Mark", "evaluate", "tell", "record_generation"]


@dataclasses.dataclass(frozen=True)
class Mark:
    """Where the run stood when a generation started (to count what it added)."""

    seconds: float
    candidates: int
    programs: int
    member_slots: int
    members_trained: int

    @classmethod
    def now(cls, search: Search) -> Mark:
        stats = search.trainer.stats
        return cls(time.perf_counter(), len(search.candidates), len(stats.programs),
                   stats.member_slots, stats.members_trained)


def evaluate(search: Search, state, population, parent: Evaluation | None,
             limit: int | None = None) -> tuple[np.ndarray, list[str]]:
    """(fitness f32[P] the strategy is told, genome hash of every member) of
    ``population``: the members ``state.needs_eval`` marks are looked up in the fitness
    cache or trained (at most ``limit`` new networks: the rest get NaN and no record,
    the budget ran out) and recorded in ``search.candidates``; ``parent``: the transfer
    parent new candidates inherit from."""
    descriptions = [decode(g, search.space) for g in unstack(population)]
    hashes = [description_hash(d) for d in descriptions]
    needs = np.flatnonzero(np.asarray(state.needs_eval))
    todo: dict[str, tuple[dict, object]] = {}  # new hash -> (description, architecture)
    for i in needs:
        if hashes[i] not in search.cache and hashes[i] not in todo:
            todo[hashes[i]] = (descriptions[i], search.build(descriptions[i]))
    over = {h: search.infeasible(a) for h, (_, a) in todo.items()}  # reason, or ""
    if limit is not None:  # the budget counts trained candidates: infeasible are free
        feasible = set([h for h in todo if not over[h]][:limit])
        todo = {h: v for h, v in todo.items() if h in feasible or over[h]}
    _train_new(search, {h: arch for h, (_, arch) in todo.items()}, over, parent, state.phase)
    fitness = np.full(len(hashes), np.nan, np.float32)
    trained_now = set(todo)
    for i in needs:
        if hashes[i] not in search.cache:  # over the budget: not trained
            continue
        hit = hashes[i] not in trained_now
        trained_now.discard(hashes[i])
        fitness[i] = _record(search, state, hashes[i], descriptions[i], hit)
    return fitness, hashes


def _train_new(search: Search, archs: dict, over: dict[str, str],
               parent: Evaluation | None, phase: int) -> None:
    """Number the new candidates ``archs`` (hash -> architecture), train the feasible
    ones and add every one to the cache (``over[h]``: why h may not train, or "")."""
    indices = dict(zip(archs, search.schedule.number(len(archs)), strict=True))
    train = [h for h in archs if not over[h]]
    outcomes = search.schedule.train([archs[h] for h in train], parent, phase,
                                     [indices[h] for h in train])
    trained = dict(zip(train, outcomes, strict=True))
    search.schedule.spent_epochs += sum(epochs for _, epochs in trained.values())
    parent_hash = None if parent is None else parent.hash
    inherited = 0 if parent is None else parent.inherited_epochs + parent.fidelity
    for h, arch in archs.items():
        outcome, epochs = trained[h] if h in trained else (not_trained(arch, over[h]), 0)
        search.cache.add(Evaluation(arch, outcome, key_index=indices[h], phase=phase,
                                    parent_hash=parent_hash, hash=h,
                                    inherited_epochs=inherited, fidelity=epochs))


def _record(search: Search, state, h: str, description: dict, hit: bool) -> float:
    """Record cached candidate ``h`` as evaluated in this generation (``hit``: found in
    the cache, not trained now); the fitness the strategy is told."""
    ev = search.cache[h]
    values = search.scores.score(h)
    told = search.schedule.told(scalar(values), ev.fidelity, search.scores.multi)
    search.candidates.append(CandidateRecord(
        phase=state.phase, generation=state.generation, hash=h, genome=description,
        fitness=scalar(values), epochs=0 if hit else ev.fidelity, fidelity=ev.fidelity,
        seconds=0.0 if hit else ev.outcome.seconds, failed=ev.outcome.failed,
        reason=ev.outcome.reason, cache_hit=hit, param_count=ev.arch.param_count,
        flops=ev.arch.flops_per_example, inherited_epochs=0 if hit else ev.inherited_epochs,
        objectives=None if values.size == 1 else [
            None if np.isnan(v) else float(v) for v in values],
        infeasible=bool(search.infeasible(ev.arch)),
        architecture=architecture_label(ev.arch)))
    return told


def tell(search: Search, population, fitness: np.ndarray, state,
         new: Sequence[CandidateRecord]):
    """The strategy's state after it is told ``fitness``; when every candidate of the
    generation failed, SearchFailed says why (``new``: the generation's records)."""
    strategy = search.strategy
    try:
        return strategy.tell(population, fitness, state, strategy.default_params)
    except SearchFailed as err:
        cause, over = _failure_cause(err, new), sum(c.infeasible for c in new)
        if over:
            cause = SearchFailed(f"{cause}; {over} of them were over "
                                 f"train.max_candidate_gflop="
                                 f"{search.config.train.max_candidate_gflop:g} (not trained): "
                                 "raise the cap")
        raise cause from None


def _failure_cause(err: SearchFailed, candidates: Sequence[CandidateRecord]) -> SearchFailed:
    """``err`` (every candidate of a generation failed) with the candidates' own reasons
    when they are not all the loss's (a user objective's values, say)."""
    reasons = sorted({c.reason for c in candidates if c.failed and c.reason})
    loss = "loss became NaN or inf during training"
    if not reasons or reasons == [loss] or not err.generation:
        return err
    shown = "; ".join(reasons[:3]) + (f" (and {len(reasons) - 3} more)" if len(reasons) > 3
                                       else "")
    return SearchFailed(f"every candidate of {err.generation} failed: {shown}",
                        generation=err.generation)


def record_generation(search: Search, state, hashes: Sequence[str], mark: Mark
                      ) -> GenerationRecord:
    """The record of the generation told into ``state`` (members' genome ``hashes``;
    ``mark``: where the run stood when it started), appended to ``search.generations``.
    Statistics are of the members measured at the last rung."""
    new = search.candidates[mark.candidates:]
    f = np.asarray(state.fitness)
    full = search.schedule.full_fidelity([search.cache.get(h) for h in hashes])
    finite = f[np.isfinite(f) & full]
    if not finite.size:
        finite = np.array([np.nan])
    bests = [g.best for g in search.generations] + [float(finite.max())]
    bests = [b for b in bests if b is not None and math.isfinite(b)]
    record = GenerationRecord(
        phase=state.phase, generation=state.generation, best=float(finite.max()),
        mean=float(finite.mean()), median=float(np.median(finite)),
        evaluated=sum(not c.cache_hit for c in new),
        cache_hits=sum(c.cache_hit for c in new),
        seconds=time.perf_counter() - mark.seconds, population_fitness=f.tolist(),
        rung_counts=[[r, sum(not c.cache_hit and c.fidelity >= r for c in new)]
                     for r in search.schedule.rungs],
        utilisation=search.trainer.stats.utilisation_since(mark.member_slots,
                                                           mark.members_trained),
        best_so_far=max(bests) if bests else None,
        infeasible=sum(c.infeasible and not c.cache_hit for c in new))
    search.generations.append(record)
    return record
