"""`evolve(key, config) -> Result`: the search loop on the batched trainer.

init; loop ask -> evaluate (cache by genome hash, batched training) -> tell;
then train the search's winner (the best phase winner, see ``ga.phase_winner``) for
``train.final_epochs`` with early stopping on validation and report validation and test
accuracy. Fitness is validation accuracy unless an objective says otherwise (see
`vlga_jax.training.objectives`: a user function, or several objectives ranked by non-dominated
sorting). The strategy is ``config.ga.strategy`` (VLGA
by default); ``ga.budget_epochs`` stops any strategy once that many candidate-epochs are
spent (cache hits are free). ``train.max_candidate_gflop`` caps what one candidate may
cost: candidates above it are recorded as infeasible and not trained
(`vlga_jax.training.feasibility`).

Memory is bounded by the population, not by the run: the fitness cache keeps every
candidate's fitness and metrics, but trained parameters only for the genomes the
strategy's state still holds (population, transfer parent, phase winners, best so far),
and optimizer states never outlive their training call. A cache hit on a genome whose
parameters were dropped keeps its recorded fitness; should it then win a phase, it is
retrained from its recorded key and parent (counted in ``totals["retrained"]``).
"""

from __future__ import annotations

import contextlib
import dataclasses
import functools
import math
import os
import sys
import time
import warnings
from collections.abc import Callable, Sequence

import jax
import numpy as np

from vlga_jax.config import Config
from vlga_jax.core import distributed, xla_flags
from vlga_jax.data.datasets import Dataset, load_dataset
from vlga_jax.genetics import genome as G
from vlga_jax.genetics.space import SearchSpace
from vlga_jax.networks import params as P
from vlga_jax.networks.architecture import Architecture, architecture_label, from_description
from vlga_jax.networks.kinds import check_network_space
from vlga_jax.networks.model import Network
from vlga_jax.runs.records import (
    CandidateRecord,
    Evaluation,
    FinalProgress,
    GenerationRecord,
    Retrained,
    better_validation,
)
from vlga_jax.runs.rundir import RunDir, open_run
from vlga_jax.search import halving
from vlga_jax.search.retrain import retrain_top
from vlga_jax.strategies import SearchFailed, make_strategy
from vlga_jax.strategies.base import final_winner
from vlga_jax.training import feasibility, growth
from vlga_jax.training import objectives as O
from vlga_jax.training.growth import FrozenPrefix
from vlga_jax.training.objectives import Objective, RankedCandidate
from vlga_jax.training.trainer import (
    DeviceData,
    Member,
    Outcome,
    Trainer,
    enable_compilation_cache,
    program_store,
)

__all__ = ["evolve", "Result", "CandidateRecord", "GenerationRecord", "SearchFailed"]


@dataclasses.dataclass
class Result:
    """The best network found, trained, and the search's history.

    ``predict`` and ``logits`` take raw images in the dataset's units, as the exported
    model does (``mean``/``std``: the per-channel normalisation f32[C] of the training
    images, applied for you); ``as_model()`` is that `ExportedModel`.
    """

    config: Config
    best_genome: G.Genome
    description: dict
    architecture: Architecture
    params: dict
    batch_stats: dict
    search_fitness: float
    val_accuracy: float
    test_accuracy: float
    candidates: list[CandidateRecord]
    generations: list[GenerationRecord]
    phase_best: tuple[float, ...]
    stop_reason: str
    totals: dict
    mean: np.ndarray | None = None
    std: np.ndarray | None = None
    # The ``run.top_k`` best distinct candidates, best first, with their search weights.
    top: list[RankedCandidate] = dataclasses.field(default_factory=list)
    # With several objectives: every non-dominated candidate of the search (else empty).
    pareto: list[RankedCandidate] = dataclasses.field(default_factory=list)
    objectives: tuple[str, ...] = ("val_acc",)  # names of the objective values
    # With run.top_k_retrain > 1: every candidate final training retrained, rank order
    # (the result is the one marked ``selected``); else empty.
    top_k_retrained: list[Retrained] = dataclasses.field(default_factory=list)

    @property
    def param_count(self) -> int:
        return self.architecture.param_count

    @property
    def flops(self) -> int:
        return self.architecture.flops_per_example

    def model(self) -> Network:
        """The Flax module for ``params`` (conv implementation: lax)."""
        return Network(self.architecture.shape_key())

    @functools.cached_property
    def _model(self):
        from vlga_jax.networks.export import from_result

        return from_result(self)

    def as_model(self):
        """This network as an `ExportedModel`, what `load_model` returns for its file:
        ``apply(variables, normalised images)``, ``preprocess``, ``logits``, ``predict``."""
        return self._model

    def logits(self, images, batch_size: int = 1024) -> np.ndarray:
        """Logits f32[N, classes] for raw images (N, H, W[, C]) in the dataset's units."""
        return self._model.logits(images, batch_size)

    def predict(self, images, batch_size: int = 1024) -> np.ndarray:
        """int32[N] predicted classes for raw images (N, H, W[, C]) in the dataset's units
        (e.g. 0..16 for digits, 0..255 for CIFAR-10), as `ExportedModel.predict`."""
        return self._model.predict(images, batch_size)

    def candidates_frame(self):
        """Every evaluated candidate as a pandas DataFrame, one row per evaluation in
        the order they were told (columns: `vlga_jax.runs.candidates.COLUMNS`, then one per
        objective in a multi-objective search). Needs pandas (``pip install
        'vlga-jax[pandas]'``); ``vlga report RUN --csv FILE`` writes the same table."""
        from vlga_jax.runs import candidates

        names = self.objectives if len(self.objectives) > 1 else ()
        return candidates.frame(candidates.rows(self.candidates, names))

    def summary(self) -> str:
        lines = ["best architecture:"] + [f"  {s}" for s in self.architecture.describe()]
        lines.append(f"  parameters {self.param_count:,}  training FLOPs/example "
                     f"{self.flops:,}")
        lines.append(f"{O.fitness_label(self.objectives)} {self.search_fitness:.4f}  final val "
                     f"{self.val_accuracy:.4f}  test {self.test_accuracy:.4f}")
        t = self.totals
        infeasible = (f", infeasible {t['infeasible']} (over train.max_candidate_gflop)"
                      if t.get("infeasible") else "")
        times = (f"compile {t['compile_seconds']:.1f}s, train {t['train_seconds']:.1f}s, "
                 f"wall {t['wall_seconds']:.1f}s")
        if t.get("resumed"):  # a resumed run: this session's seconds, then every session's
            times = (f"compile {t['session_compile_seconds']:.1f}s, train "
                     f"{t['session_train_seconds']:.1f}s, wall "
                     f"{t['session_wall_seconds']:.1f}s this session; {times} in all")
        lines.append(f"candidates {t['candidates']} (trained {t['trained']}, cache hits "
                     f"{t['cache_hits']}, failed {t['failed']}{infeasible}); programs compiled "
                     f"{t['programs_compiled']}, reused {t.get('program_reuses', 0)} times, "
                     f"padded FLOPs +{100 * t.get('padded_flop_overhead', 0.0):.0f}%; {times}")
        if "devices" in t:
            lines.append(f"devices {t['devices']} in {t['processes']} process"
                         f"{'es' if t['processes'] > 1 else ''}; member slots that trained a "
                         f"candidate {100 * t['device_utilisation']:.0f}%")
        lines.append(f"phase bests {[round(b, 4) for b in self.phase_best]}; "
                     f"stopped: {self.stop_reason}")
        if self.top_k_retrained:
            lines.append(f"retrained the top {len(self.top_k_retrained)} (final val / test): "
                         + "; ".join(f"{r.rank}: {r.architecture} {r.val_accuracy:.4f} / "
                                     f"{r.test_accuracy:.4f}"
                                     + (" (kept: best val)" if r.selected else "")
                                     for r in self.top_k_retrained))
        for title, kept in (("top", self.top if len(self.top) > 1 else []),
                            ("Pareto front", self.pareto)):
            if kept:
                lines.append(f"{title} ({', '.join(self.objectives)}): " + "; ".join(
                    f"{c.rank}: {tuple(round(v, 4) for v in c.objectives)}" for c in kept))
        return "\n".join(lines)


# fold_in index of final training's from-scratch initialisation (epochs use 0, 1, ...).
SCRATCH_STREAM = 1 << 30

GenerationCallback = Callable[[GenerationRecord, list[CandidateRecord]], None]
# Called in place of `Trainer.train`: evaluator(trainer, members, n_epochs, data=None,
# keep_opt_state=False) -> one Outcome per member (e.g. a wrapper that counts calls or
# injects failures around ``Trainer.train``).
Evaluator = Callable[..., list[Outcome]]


def _notify(callbacks, hook: str, *args) -> None:
    """Call ``hook(*args)`` on every callback that has that method."""
    for callback in callbacks:
        method = getattr(callback, hook, None)
        if method is not None:
            method(*args)


class _Search:
    """Host-side orchestration of one run (state between generations lives here)."""

    def __init__(self, key, config: Config, dataset: Dataset,
                 evaluator: Evaluator | None = None, objective: Objective | None = None,
                 space: SearchSpace | None = None):
        self.config = config
        self.evaluator = evaluator
        self.callbacks: Sequence = ()
        self.space = config.space.build() if space is None else space
        self.objective = objective or Objective(config.ga.objectives)
        self.scores: dict[str, np.ndarray] = {}  # objective values by genome hash
        self.strategy = make_strategy(config.ga.strategy, self.space, config.ga)
        self.dataset = dataset
        tc = config.train
        d = dataset
        rows = max(len(d.val_y), len(d.test_y))  # equal shapes: one program evaluates both
        self.val_data = DeviceData.create(d.train_x, d.train_y, d.val_x, d.val_y,
                                          tc.eval_batch_size, eval_rows=rows)
        self.test_data = DeviceData.create(d.train_x, d.train_y, d.test_x, d.test_y,
                                           tc.eval_batch_size, eval_rows=rows)
        self.trainer = Trainer(self.val_data, batch_size=tc.batch_size,
                               eval_batch=tc.eval_batch_size, conv_impl=tc.conv_impl,
                               pad_shapes=tc.pad_shapes, cost_model=tc.cost_model,
                               members_per_call=tc.members_per_call,
                               compile_workers=config.run.compile_workers,
                               max_programs=config.run.max_programs,
                               augment=tc.augment, crop_padding=tc.crop_padding,
                               step_mode=tc.step_mode, program_store=program_store(config.run),
                               devices=distributed.select_devices(config.run.devices))
        self.prefixes: dict[tuple, tuple[FrozenPrefix, DeviceData]] = {}
        self.key_strategy, self.key_train, self.key_final = jax.random.split(key, 3)
        self.cache: dict[str, Evaluation] = {}
        self.candidates: list[CandidateRecord] = []
        self.generations: list[GenerationRecord] = []
        self.trained = 0
        self.retrained = 0
        self.params_held_max = 0  # the most candidates holding parameters after a tell
        self.final_epochs_run = self.final_best_epoch = 0
        self.spent_epochs = 0
        self.rungs = config.train.rungs()
        # Wall seconds of every session so far (set by the search loop).
        self.clock: Callable[[], float] = lambda: 0.0
        # Final training resumed from a checkpoint: (wall seconds of every session up to
        # it, compile and train seconds of earlier sessions it restored into the trainer).
        self.final_restored: tuple[float, float, float] | None = None

    def state_dict(self, state) -> dict:
        """The search's progress as plain data (what `RunDir.save` writes): counters, the
        fitness cache as `Evaluation`s (parameters needed only for the hashes in
        ``with_params``: those strategy ``state`` holds), the records, and the trainer's
        `Trainer.state_dict`."""
        return {"trained": self.trained, "retrained": self.retrained,
                "params_held_max": self.params_held_max, "spent_epochs": self.spent_epochs,
                "cache": list(self.cache.values()),
                "with_params": self.needed(state),
                "candidates": list(self.candidates), "generations": list(self.generations),
                "trainer": self.trainer.state_dict()}

    def load_state_dict(self, saved: dict) -> None:
        """The inverse of `state_dict` (``with_params`` is not needed)."""
        self.trained, self.retrained = saved["trained"], saved["retrained"]
        self.params_held_max, self.spent_epochs = saved["params_held_max"], saved["spent_epochs"]
        self.cache.clear()
        self.cache.update((ev.hash, ev) for ev in saved["cache"])
        self.candidates[:] = saved["candidates"]
        self.generations[:] = saved["generations"]
        self.trainer.load_state_dict(saved["trainer"])

    def _train_members(self, members, n_epochs: int, **kw) -> list[Outcome]:
        """`Trainer.train`, or the evaluator given to `evolve` in its place."""
        if self.evaluator is None:
            return self.trainer.train(members, n_epochs, **kw)
        return self.evaluator(self.trainer, members, n_epochs, **kw)

    def arch(self, genome: G.Genome) -> Architecture:
        return self.build(G.decode(genome, self.space))

    def build(self, description: dict) -> Architecture:
        """The Architecture of a decoded genome on this run's data."""
        return from_description(description, input_shape=self.dataset.image_shape,
                                num_classes=self.dataset.num_classes,
                                defaults=self.config.train.defaults(),
                                kind=self.space.block_kind)

    def infeasible(self, arch: Architecture) -> str:
        """Why ``arch`` may not train (over ``train.max_candidate_gflop``), or ""."""
        return feasibility.infeasible_reason(arch, self.config.train.max_candidate_gflop)

    def _key(self, index: int) -> jax.Array:
        """The training key of the ``index``-th new candidate."""
        return jax.random.fold_in(self.key_train, index)

    def _member(self, arch: Architecture, key, parent: Evaluation | None, phase: int):
        if parent is None:
            return Member(arch, key)
        fresh_params, fresh_stats = P.init_params(jax.random.fold_in(key, 7), arch.shape_key())
        params = P.inherit(parent.outcome.params, fresh_params, phase)
        stats = P.inherit(parent.outcome.stats, fresh_stats, phase)
        frozen = phase if self.config.train.transfer == "freeze" else 0
        return Member(arch, key, params=params, stats=stats, frozen_blocks=frozen)

    def _prefix(self, parent: Evaluation, phase: int) -> tuple[FrozenPrefix, DeviceData] | None:
        """The parent's frozen blocks as cached features (None: too large to cache)."""
        key = (phase, parent.arch)
        if key not in self.prefixes:
            prefix = FrozenPrefix(parent.arch, phase, parent.outcome.params,
                                  parent.outcome.stats)
            self.prefixes = {}  # one phase at a time
            self.prefixes[key] = ((prefix, prefix.device_data(self.val_data))
                                  if prefix.fits_memory(self.val_data) else None)
        return self.prefixes[key]

    def _train(self, archs: list[Architecture], parent: Evaluation | None,
               phase: int, key_indices: Sequence[int], fidelity: int | None = None
               ) -> list[tuple[Outcome, int]]:
        """Train new candidates through the fidelity schedule (`vlga_jax.search.halving`) up to
        ``fidelity`` epochs (default: all rungs); (outcome, epochs trained) each.

        Members that continue to a rung keep their parameters, optimizer state and
        program; rung k > 0 trains from key ``fold_in(key, k)`` so its epochs draw fresh
        minibatch orders."""
        if not archs:
            return []
        tc = self.config.train
        rungs = [r for r in self.rungs if fidelity is None or r <= fidelity]
        keys = [self._key(i) for i in key_indices]
        frozen = parent is not None and tc.transfer == "freeze"
        cached = self._prefix(parent, phase) if frozen and not tc.augment else None
        if cached is None:
            prefix, data = None, None
            members = [self._member(a, k, parent, phase) for a, k in zip(archs, keys,
                                                                       strict=True)]
        else:
            prefix, data = cached
            members = [Member(growth.suffix(a, phase, prefix.feature_shape), k)
                       for a, k in zip(archs, keys, strict=True)]
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
            trained = self._train_members(batch, rung - done, data=data,
                                          keep_opt_state=not last)
            for i, out in zip(active, trained, strict=True):
                outcomes[i], epochs[i] = out, rung
            done = rung
            if not last:
                scores = [None if outcomes[i].failed else
                          (outcomes[i].val_acc, outcomes[i].val_loss) for i in active]
                active = [active[j] for j in halving.promoted(scores, tc.halving_eta)]
        outcomes = [dataclasses.replace(o, opt_state=None) for o in outcomes]
        if prefix is not None:
            outcomes = [prefix.whole(o, phase) for o in outcomes]
        return list(zip(outcomes, epochs, strict=True))

    def _told(self, fitness: float, fidelity: int) -> float:
        """The fitness the strategy sees (`halving.told_fitness`); successive halving
        needs one objective valued in [0, 1] (it ranks lower rungs 1 below)."""
        if len(self.rungs) > 1 and (self.multi or not (fitness == -math.inf
                                                       or 0.0 <= fitness <= 1.0)):
            raise ValueError("train.halving_min_epochs: successive halving needs one "
                             "objective with values in [0, 1] (an accuracy), got "
                             f"{'several objectives' if self.multi else fitness}")
        return halving.told_fitness(fitness, fidelity, self.rungs)

    def full_fidelity(self, population) -> np.ndarray:
        """bool[P]: members whose fitness was measured at the last rung."""
        last = self.rungs[-1]
        return np.array([getattr(self.cache.get(G.genome_hash(g, self.space)), "fidelity",
                                 0) >= last for g in G.unstack(population)])

    def score(self, h: str) -> np.ndarray:
        """f64[M]: the objective values of cached candidate ``h`` (a failed one: NaN, or
        -inf for one objective). A user function's bad value raises `ObjectiveError`, or
        with ``objective_errors="fail"`` marks the candidate failed."""
        if h in self.scores:
            return self.scores[h]
        ev = self.cache[h]
        if ev.outcome.failed and not self.objective.default:
            return self._failed_values()
        try:
            v = self.objective.values(ev, ev.fidelity)
            width = next((s.size for s in self.scores.values()), v.size)
            if v.size != width:
                raise O.ObjectiveError(
                    f"objective returned {v.size} values for {O.candidate_label(ev)}, "
                    f"{width} for earlier ones: it must always return as many",
                    reason=f"objective returned {v.size} values, not {width}")
        except O.ObjectiveError as err:
            if self.objective.on_error != "fail":
                raise
            ev.outcome = dataclasses.replace(ev.outcome, failed=True, reason=err.reason)
            return self._failed_values()
        self.scores[h] = v
        return v

    def _failed_values(self) -> np.ndarray:
        """A failed candidate's objective values: as many NaN as the others have (-inf
        for one objective)."""
        width = next((s.size for s in self.scores.values()), max(len(self.objective.names), 1))
        return np.full(width, np.nan if width > 1 else -np.inf)

    @property
    def multi(self) -> bool:
        """Whether the objective has several values (a multi-objective search)."""
        if not self.scores and self.cache:
            self.score(next(iter(self.cache)))
        return len(self.objective.names) > 1 or any(
            s.size > 1 for s in list(self.scores.values())[:1])

    def rank_population(self, population) -> np.ndarray:
        """f32[P] fitness of every member (several objectives): `pareto.rank_fitness`
        of their objective vectors; NaN for members not trained."""
        hashes = [G.genome_hash(g, self.space) for g in G.unstack(population)]
        m = self._failed_values().size
        vectors = np.stack([self.score(h) if h in self.cache else np.full(m, np.nan)
                            for h in hashes])
        return O.population_fitness(vectors)

    def top_hashes(self, k: int) -> list[str]:
        """The ``k`` best distinct candidates trained so far (failed ones never)."""
        hashes = list(self.cache)
        if not hashes or k == 0:
            return []
        vectors = np.stack([self.score(h) for h in hashes])
        return [hashes[i] for i in O.best_first(vectors)[:k]]

    def needed(self, state) -> set[str]:
        """Hashes whose parameters are kept: what ``state`` holds and the top
        ``run.top_k`` (and ``run.top_k_retrain`` when final training retrains several:
        the winner alone is in ``state``)."""
        run = self.config.run
        k = run.top_k if run.top_k_retrain == 1 else max(run.top_k, run.top_k_retrain)
        return G.hashes_in(state, self.space) | set(self.top_hashes(k))

    def ranked(self, hashes: Sequence[str], dataset: Dataset,
               with_params: bool) -> list[RankedCandidate]:
        """`RankedCandidate` of each hash (rank = position + 1); ``with_params``
        retrains any whose parameters were dropped."""
        genomes = {c.hash: c.genome for c in self.candidates}
        out = []
        for rank, h in enumerate(hashes, 1):
            ev = self.with_params(h) if with_params else self.cache[h]
            out.append(RankedCandidate(
                rank=rank, hash=h, description=genomes[h], architecture=ev.arch,
                objectives=tuple(float(v) for v in self.score(h)),
                val_accuracy=float(ev.outcome.val_acc), params=ev.outcome.params,
                batch_stats=ev.outcome.stats, config=self.config, dataset=dataset))
        return out

    def retain(self, state) -> None:
        """Drop the parameters of every cached candidate ``state`` no longer holds (the
        top ``run.top_k`` keep theirs)."""
        needed = self.needed(state)
        held = 0
        for h, ev in self.cache.items():
            if h not in needed and ev.outcome.params is not None:
                ev.outcome = dataclasses.replace(ev.outcome, params=None, stats=None,
                                                 opt_state=None)
            held += ev.outcome.params is not None
        self.params_held_max = max(self.params_held_max, held)

    def with_params(self, h: str) -> Evaluation:
        """The cached candidate ``h`` with its trained parameters (retrained from its key
        and parent if they were dropped)."""
        ev = self.cache[h]
        if ev.outcome.params is not None or ev.outcome.failed:
            return ev
        if ev.key_index is None:
            raise SearchFailed(f"candidate {h}: parameters were dropped and it cannot be "
                               "retrained (no training key recorded)")
        parent = None if ev.parent_hash is None else self.with_params(ev.parent_hash)
        again, _ = self._train([ev.arch], parent, ev.phase, [ev.key_index],
                               fidelity=ev.fidelity)[0]
        self.retrained += 1
        ev.outcome = dataclasses.replace(ev.outcome, params=again.params, stats=again.stats)
        return ev

    def evaluate(self, state, population, needs_eval, parent,
                 limit: int | None = None) -> np.ndarray:
        """Fitness f32[P] of the members that need it; with ``limit``, train at most that
        many new networks (the rest get NaN and no record: the budget ran out)."""
        genomes = G.unstack(population)
        needs = np.asarray(needs_eval)
        fitness = np.full(len(genomes), np.nan, np.float32)
        todo: dict[str, tuple[G.Genome, Architecture]] = {}
        hashes = [G.genome_hash(g, self.space) for g in genomes]
        for i in np.flatnonzero(needs):
            if hashes[i] not in self.cache and hashes[i] not in todo:
                todo[hashes[i]] = (genomes[i], self.arch(genomes[i]))
        over = {h: self.infeasible(a) for h, (_, a) in todo.items()}  # reason, or ""
        if limit is not None:  # the budget counts trained candidates: infeasible are free
            feasible = set([h for h in todo if not over[h]][:limit])
            todo = {h: v for h, v in todo.items() if h in feasible or over[h]}
        indices = {h: self.trained + i for i, h in enumerate(todo)}
        self.trained += len(todo)
        train = [h for h in todo if not over[h]]
        outcomes = self._train([todo[h][1] for h in train], parent, state.phase,
                               [indices[h] for h in train])
        trained = dict(zip(train, outcomes, strict=True))
        self.spent_epochs += sum(epochs for _, epochs in trained.values())
        parent_hash = None if parent is None else parent.hash
        inherited = 0 if parent is None else parent.inherited_epochs + parent.fidelity
        for h, (_, arch) in todo.items():
            outcome, epochs = trained[h] if h in trained else (_not_trained(arch, over[h]), 0)
            self.cache[h] = Evaluation(arch, outcome, key_index=indices[h], phase=state.phase,
                                       parent_hash=parent_hash, hash=h,
                                       inherited_epochs=inherited, fidelity=epochs)
        trained_now = set(todo)
        for i in np.flatnonzero(needs):
            if hashes[i] not in self.cache:  # over the budget: not trained
                continue
            ev = self.cache[hashes[i]]
            values = self.score(hashes[i])
            fitness[i] = self._told(O.scalar(values), ev.fidelity)
            hit = hashes[i] not in trained_now
            trained_now.discard(hashes[i])
            self.candidates.append(CandidateRecord(
                phase=state.phase, generation=state.generation, hash=hashes[i],
                genome=G.decode(genomes[i], self.space), fitness=O.scalar(values),
                epochs=0 if hit else ev.fidelity, fidelity=ev.fidelity,
                seconds=0.0 if hit else ev.outcome.seconds, failed=ev.outcome.failed,
                reason=ev.outcome.reason, cache_hit=hit, param_count=ev.arch.param_count,
                flops=ev.arch.flops_per_example,
                inherited_epochs=0 if hit else ev.inherited_epochs,
                objectives=None if values.size == 1 else [
                    None if np.isnan(v) else float(v) for v in values],
                infeasible=bool(self.infeasible(ev.arch)),
                architecture=architecture_label(ev.arch)))
        return fitness

    def final_training(self, ev: Evaluation, run: RunDir | None = None
                       ) -> tuple[Outcome, float, float]:
        """Train ``ev`` for up to final_epochs with early stopping; (best outcome, val, test).

        Training starts from the search weights or from scratch (``train.final_start``).
        The best epoch is judged on the final training's own validation curve: highest
        accuracy, ties broken by lower loss (a small validation split saturates, and the
        search fitness is the maximum of many noisy measurements, so comparing against it
        would keep the short-trained search network). Without any final epoch the search
        network is the result. With ``run``, a checkpoint after every epoch; a resumed
        run continues from it.
        """
        tc = self.config.train
        start = ev.outcome
        if tc.final_start == "scratch" and tc.final_epochs:
            init_key = jax.random.fold_in(self.key_final, SCRATCH_STREAM)
            params, stats = P.init_params(init_key, ev.arch.shape_key())
            start = dataclasses.replace(ev.outcome, params=params, stats=stats)
        progress = FinalProgress(best=ev.outcome, current=start)
        if run is not None:
            restored = run.restore_final(
                ev.hash, lambda program: self.trainer.opt_state_structure(program, ev.arch))
            if restored is not None:
                progress, trainer_state = restored
                before = (self.trainer.stats.compile_seconds, self.trainer.stats.train_seconds)
                self.trainer.load_state_dict(trainer_state)
                # The checkpoint's counters hold earlier sessions' final training too.
                self.final_restored = (
                    progress.wall_seconds,
                    self.trainer.stats.compile_seconds - before[0],
                    self.trainer.stats.train_seconds - before[1])
        _notify(self.callbacks, "final_started", tc.final_epochs, progress.epoch)
        while not progress.done and progress.epoch < tc.final_epochs:
            current = progress.current
            member = Member(ev.arch, jax.random.fold_in(self.key_final, progress.epoch),
                            params=current.params, stats=current.stats,
                            opt_state=current.opt_state, program=current.program)
            current = self._train_members([member], 1, keep_opt_state=True)[0]
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
                _notify(self.callbacks, "final_epoch", progress.epoch, current.val_acc,
                        progress.best_epoch)
            if run is not None:
                progress.wall_seconds = self.clock()
                run.save_final(self.trainer.state_dict(), ev.hash, progress)
        best = progress.best
        self.final_epochs_run, self.final_best_epoch = progress.epoch, progress.best_epoch
        _notify(self.callbacks, "final_finished", progress.epoch, progress.best_epoch,
                float(best.val_acc))
        tested = self._train_members([Member(ev.arch, self.key_final, params=best.params,
                                             stats=best.stats, program=best.program)], 0,
                                     data=self.test_data)[0]
        return best, best.val_acc, tested.val_acc


def _not_trained(arch: Architecture, reason: str) -> Outcome:
    """The outcome of a candidate that was not trained (``reason``: why): failed, with
    the worst fitness and no parameters."""
    return Outcome(params=None, stats=None, val_acc=-math.inf, val_loss=math.nan,
                   train_loss=math.nan, failed=True, reason=reason, seconds=0.0,
                   program=arch.shape_key())


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


def configured_dataset(config: Config) -> Dataset:
    """The dataset ``config.data`` names, as `evolve` loads it when given none."""
    dc = config.data
    return load_dataset(dc.name, data_dir=dc.data_dir, val_fraction=dc.val_fraction,
                        seed=dc.seed, subset=dc.subset, resize=dc.resize)


def _failure_cause(err: SearchFailed, candidates: list[CandidateRecord]) -> SearchFailed:
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


def check_crop_padding(config: Config, image_shape: tuple[int, ...]) -> None:
    """ValueError unless ``train.crop_padding`` is below the images' height and width
    (with "crop" in ``train.augment``: a padding as large as the image makes nearly
    every crop padding)."""
    tc = config.train
    if "crop" not in tc.augment or len(image_shape) != 3:
        return
    h, w = image_shape[:2]
    if tc.crop_padding >= min(h, w):
        raise ValueError(f"train.crop_padding must be < the images' size ({h}x{w}; e.g. "
                         f"{max(1, min(h, w) // 8)}), got {tc.crop_padding}")


def _evolve(key, config: Config, callbacks, dataset, checkpoint_dir, evaluator, objective,
            space) -> Result:
    start = time.perf_counter()
    if jax.default_backend() == "gpu" and (late := xla_flags.warning()):
        warnings.warn(late, RuntimeWarning, stacklevel=3)
    if config.train.step_mode != "chain":  # chained: layer programs persist in DIR/programs
        enable_compilation_cache(config.run.compile_cache_dir)
    if dataset is None:
        dataset = configured_dataset(config)
    check_crop_padding(config, dataset.image_shape)
    if space is not None:
        check_network_space(space)
        if config.ga.strategy == "vlga" and config.ga.max_phases > space.max_blocks:
            raise ValueError(f"ga.max_phases must be <= the space's max_blocks "
                             f"({space.max_blocks}), got {config.ga.max_phases}")
    search = _Search(key, config, dataset, evaluator, objective, space)
    search.callbacks = callbacks
    search.trainer.listener = functools.partial(_notify, callbacks)  # progress output
    if any(hasattr(c, "cost_warning") for c in callbacks):
        warning = feasibility.start_warning(
            config, search.space, search.build, len(dataset.train_y),
            search.val_data.eval_x.shape[0], jax.default_backend())
        if warning:
            _notify(callbacks, "cost_warning", warning)
    run = None if checkpoint_dir is None else open_run(
        checkpoint_dir, config, key, dataset,
        space=None if space is None else space.to_dict())
    strategy = search.strategy
    state = strategy.init(search.key_strategy)
    parent: Evaluation | None = None
    step, earlier_seconds = 0, 0.0
    restored = run.restore() if run is not None else None
    if restored is not None:
        saved, state, step, earlier_seconds = restored
        search.load_state_dict(saved)
    earlier_stats = (search.trainer.stats.compile_seconds, search.trainer.stats.train_seconds)
    search.clock = lambda: earlier_seconds + time.perf_counter() - start
    budget, epochs = config.ga.budget_epochs, config.train.epochs
    stop_reason = ""
    while True:
        if budget is not None and budget - search.spent_epochs < epochs:
            stop_reason = f"spent the budget of {budget} candidate-epochs"
            break
        phase = state.phase
        population, state = strategy.ask(jax.random.fold_in(search.key_strategy, step),
                                         state, strategy.default_params)
        needs_eval = state.needs_eval
        step += 1
        if state.done:
            break
        transfer = strategy.transfer_parent(state)
        if transfer is None:
            parent = None
        elif state.phase != phase or parent is None:
            parent = search.with_params(G.genome_hash(transfer, search.space))
        gen_start = time.perf_counter()
        n_before, compiles_before = len(search.candidates), len(search.trainer.stats.programs)
        slots_before = (search.trainer.stats.member_slots,
                        search.trainer.stats.members_trained)
        _notify(callbacks, "generation_started", state.phase, state.generation,
                int(np.sum(needs_eval)))
        limit = None if budget is None else halving.affordable(
            search.rungs, config.train.halving_eta, budget - search.spent_epochs)
        fitness = search.evaluate(state, population, needs_eval, parent, limit)
        if search.multi:  # rank the whole population: survivors' ranks change too
            fitness = search.rank_population(population)
            state = state.replace(needs_eval=np.ones(len(fitness), bool))
        new = search.candidates[n_before:]
        try:
            state = strategy.tell(population, fitness, state, strategy.default_params)
        except SearchFailed as err:
            cause, over = _failure_cause(err, new), sum(c.infeasible for c in new)
            if over:
                cause = SearchFailed(f"{cause}; {over} of them were over "
                                     f"train.max_candidate_gflop="
                                     f"{config.train.max_candidate_gflop:g} (not trained): "
                                     "raise the cap")
            raise cause from None
        search.retain(state)
        f = np.asarray(state.fitness)
        finite = f[np.isfinite(f) & search.full_fidelity(population)]
        if not finite.size:
            finite = np.array([np.nan])
        bests = [g.best for g in search.generations] + [float(finite.max())]
        bests = [b for b in bests if b is not None and math.isfinite(b)]
        record = GenerationRecord(
            phase=state.phase, generation=state.generation, best=float(finite.max()),
            mean=float(finite.mean()), median=float(np.median(finite)),
            evaluated=sum(not c.cache_hit for c in new),
            cache_hits=sum(c.cache_hit for c in new),
            seconds=time.perf_counter() - gen_start, population_fitness=f.tolist(),
            rung_counts=[[r, sum(not c.cache_hit and c.fidelity >= r for c in new)]
                         for r in search.rungs],
            utilisation=search.trainer.stats.utilisation_since(*slots_before),
            best_so_far=max(bests) if bests else None,
            infeasible=sum(c.infeasible and not c.cache_hit for c in new))
        search.generations.append(record)
        if run is not None:
            run.log.write(record, new)
            run.log.write_compiles(search.trainer.stats.programs[compiles_before:],
                                   phase=state.phase, generation=state.generation)
            run.save(search.state_dict(state), state, step,
                     earlier_seconds + time.perf_counter() - start)
        for callback in callbacks:
            callback(record, new)
    history = strategy.phase_history(state)
    winner, winner_fitness = final_winner(history)
    best_eval = search.with_params(G.genome_hash(winner, search.space))
    final, val_acc, test_acc = search.final_training(best_eval, run)
    retrained = []
    if config.run.top_k_retrain > 1:
        kept, (final, val_acc, test_acc), retrained = retrain_top(
            search, best_eval, (final, val_acc, test_acc), config.run.top_k_retrain,
            keep_best=not search.multi)
        if kept is not best_eval:
            description = next(c.genome for c in search.candidates if c.hash == kept.hash)
            winner = G.encode(description, search.space)
            winner_fitness = O.scalar(search.score(kept.hash))
            best_eval = kept
    top = search.ranked(search.top_hashes(config.run.top_k), dataset, with_params=True)
    pareto = []
    if search.multi:
        hashes = list(search.cache)
        vectors = np.stack([search.score(h) for h in hashes])
        order = O.best_first(vectors)
        fronts = O.pareto.non_dominated_fronts(vectors)
        pareto = search.ranked([hashes[i] for i in order if fronts[i] == 0], dataset,
                               with_params=False)
    best_genome = G.canonical(winner, search.space)
    stats = search.trainer.stats
    session = time.perf_counter() - start
    earlier_wall, (earlier_compile, earlier_train) = earlier_seconds, earlier_stats
    if search.final_restored is not None:  # earlier sessions reached final training
        earlier_wall, restored_compile, restored_train = search.final_restored
        earlier_compile += restored_compile
        earlier_train += restored_train
    totals = {
        "candidates": len(search.candidates),
        "trained": sum(not c.cache_hit and not c.infeasible for c in search.candidates),
        "cache_hits": sum(c.cache_hit for c in search.candidates),
        # failed in training (loss NaN/inf); infeasible ones are counted apart
        "failed": sum(c.failed and not c.infeasible for c in search.candidates),
        "infeasible": sum(c.infeasible and not c.cache_hit for c in search.candidates),
        "programs_compiled": stats.programs_compiled,
        "compile_seconds": stats.compile_seconds,
        "compile_wait_seconds": stats.compile_wait_seconds,
        "compile_phases": {phase: sum(p[phase] for p in stats.programs)
                           for phase in ("trace", "lower", "backend")},
        "programs": list(stats.programs),
        "train_seconds": stats.train_seconds,
        "buckets": stats.buckets,
        "program_reuses": stats.program_reuses,
        "padded_flop_overhead": stats.padded_overhead,
        "train_flops": stats.real_flops,
        "padded_train_flops": stats.padded_flops,
        "spent_epochs": search.spent_epochs,
        "inherited_epochs": sum(c.inherited_epochs for c in search.candidates),
        "retrained": search.retrained,
        "final_epochs": search.final_epochs_run,
        "final_best_epoch": search.final_best_epoch,
        "params_held_max": search.params_held_max,
        "devices": len(search.trainer.devices),
        "processes": search.trainer.processes,
        "member_slots": stats.member_slots,
        "device_utilisation": stats.utilisation,
        # Seconds of every session (each up to its last checkpoint), and of this one:
        # they differ after a resume ("resumed").
        "wall_seconds": earlier_wall + session,
        "session_wall_seconds": session,
        "session_compile_seconds": stats.compile_seconds - earlier_compile,
        "session_train_seconds": stats.train_seconds - earlier_train,
        "resumed": restored is not None or search.final_restored is not None,
    }
    result = Result(
        config=config, best_genome=best_genome,
        description=G.decode(best_genome, search.space), architecture=best_eval.arch,
        params=final.params, batch_stats=final.stats,
        search_fitness=best_eval.fitness if search.objective.default else winner_fitness,
        val_accuracy=float(val_acc), test_accuracy=float(test_acc),
        candidates=search.candidates, generations=search.generations,
        phase_best=tuple(f for _, f in history),
        stop_reason=stop_reason or state.stop_reason,
        totals=totals, mean=dataset.mean, std=dataset.std, top=top, pareto=pareto,
        top_k_retrained=retrained,
        objectives=search.objective.labels or tuple(
            f"objective_{i}" for i in range(search.score(best_eval.hash).size)))
    if run is not None:
        run.finish(result, dataset)
    return result
