"""`Result`: the best network found, trained, and the search's history.

`build_result` assembles it at the end of a run."""

from __future__ import annotations

import dataclasses
import functools
from collections.abc import Sequence

import numpy as np

from vlga_jax.config import Config
from vlga_jax.core.pareto import non_dominated_fronts
from vlga_jax.genetics.genome import Genome, canonical, decode
from vlga_jax.networks.architecture import Architecture
from vlga_jax.networks.model import Network
from vlga_jax.runs.records import CandidateRecord, GenerationRecord, Retrained
from vlga_jax.search.context import Search
from vlga_jax.search.retrain import Winner
from vlga_jax.training.objectives import RankedCandidate, best_first, fitness_label

__all__ = ["Result", "build_result"]


@dataclasses.dataclass
class Result:
    """The best network found, trained, and the search's history.

    ``predict`` and ``logits`` take raw images in the dataset's units, as the exported
    model does (``mean``/``std``: the per-channel normalisation f32[C] of the training
    images, applied for you); ``as_model()`` is that `ExportedModel`.
    """

    config: Config
    best_genome: Genome
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
        lines.append(f"{fitness_label(self.objectives)} {self.search_fitness:.4f}  final val "
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


def ranked(search: Search, hashes: Sequence[str], with_params: bool) -> list[RankedCandidate]:
    """`RankedCandidate` of each hash (rank = position + 1); ``with_params`` retrains any
    whose parameters were dropped."""
    genomes = {c.hash: c.genome for c in search.candidates}
    out = []
    for rank, h in enumerate(hashes, 1):
        ev = search.cache.with_params(h) if with_params else search.cache[h]
        out.append(RankedCandidate(
            rank=rank, hash=h, description=genomes[h], architecture=ev.arch,
            objectives=tuple(float(v) for v in search.scores.score(h)),
            val_accuracy=float(ev.outcome.val_acc), params=ev.outcome.params,
            batch_stats=ev.outcome.stats, config=search.config, dataset=search.dataset))
    return out


def ranked_lists(search: Search) -> tuple[list[RankedCandidate], list[RankedCandidate]]:
    """(the ``run.top_k`` best distinct candidates with their search weights, every
    non-dominated candidate of a multi-objective search (else empty))."""
    top = ranked(search, search.scores.top_hashes(search.config.run.top_k), with_params=True)
    if not search.scores.multi:
        return top, []
    hashes = list(search.cache)
    vectors = np.stack([search.scores.score(h) for h in hashes])
    order = best_first(vectors)
    fronts = non_dominated_fronts(vectors)
    return top, ranked(search, [hashes[i] for i in order if fronts[i] == 0],
                       with_params=False)


def build_result(search: Search, winner: Winner, stop_reason: str, phase_best,
                 top: list[RankedCandidate], pareto: list[RankedCandidate],
                 totals: dict) -> Result:
    """The `Result` of a finished run."""
    best_genome = canonical(winner.genome, search.space)
    ev, final, objective = winner.evaluation, winner.final, search.objective
    return Result(
        config=search.config, best_genome=best_genome,
        description=decode(best_genome, search.space), architecture=ev.arch,
        params=final.outcome.params, batch_stats=final.outcome.stats,
        search_fitness=ev.fitness if objective.default else winner.fitness,
        val_accuracy=float(final.val_acc), test_accuracy=float(final.test_acc),
        candidates=search.candidates, generations=search.generations,
        phase_best=tuple(phase_best), stop_reason=stop_reason, totals=totals,
        mean=search.dataset.mean, std=search.dataset.std, top=top, pareto=pareto,
        top_k_retrained=winner.retrained,
        objectives=objective.labels or tuple(
            f"objective_{i}" for i in range(search.scores.score(ev.hash).size)))
