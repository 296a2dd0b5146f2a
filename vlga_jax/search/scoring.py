"""Objective scoring: the objective values of cached candidates, and rankings on them.

The rankings: a population's fitness in a multi-objective search, the best few overall.

Fitness is validation accuracy unless an objective says otherwise (see
`vlga_jax.training.objectives`: a user function, or several objectives ranked by
non-dominated sorting). A user function's bad value raises `ObjectiveError`, or with
``objective_errors="fail"`` marks the candidate failed.
"""

from __future__ import annotations

import dataclasses
from collections.abc import Sequence

import numpy as np

from vlga_jax.search.fitness_cache import FitnessCache
from vlga_jax.training.objectives import (
    Objective,
    ObjectiveError,
    best_first,
    candidate_label,
    population_fitness,
)

__all__ = ["Scores"]


class Scores:
    """The objective values f64[M] of the candidates of ``cache``, by genome hash
    (computed when first asked for, then kept)."""

    def __init__(self, objective: Objective, cache: FitnessCache):
        self.objective = objective
        self.cache = cache
        self.values: dict[str, np.ndarray] = {}

    def score(self, h: str) -> np.ndarray:
        """f64[M]: the objective values of cached candidate ``h`` (a failed one: NaN, or
        -inf for one objective)."""
        if h in self.values:
            return self.values[h]
        ev = self.cache[h]
        if ev.outcome.failed and not self.objective.default:
            return self.failed_values()
        try:
            v = self.objective.values(ev, ev.fidelity)
            width = next((s.size for s in self.values.values()), v.size)
            if v.size != width:
                raise ObjectiveError(
                    f"objective returned {v.size} values for {candidate_label(ev)}, "
                    f"{width} for earlier ones: it must always return as many",
                    reason=f"objective returned {v.size} values, not {width}")
        except ObjectiveError as err:
            if self.objective.on_error != "fail":
                raise
            ev.outcome = dataclasses.replace(ev.outcome, failed=True, reason=err.reason)
            return self.failed_values()
        self.values[h] = v
        return v

    def failed_values(self) -> np.ndarray:
        """A failed candidate's objective values: as many NaN as the others have (-inf
        for one objective)."""
        width = next((s.size for s in self.values.values()),
                     max(len(self.objective.names), 1))
        return np.full(width, np.nan if width > 1 else -np.inf)

    @property
    def multi(self) -> bool:
        """Whether the objective has several values (a multi-objective search)."""
        if not self.values and len(self.cache):
            self.score(next(iter(self.cache)))
        return len(self.objective.names) > 1 or any(
            s.size > 1 for s in list(self.values.values())[:1])

    def rank_population(self, hashes: Sequence[str]) -> np.ndarray:
        """f32[P] fitness of the members with genome ``hashes`` (several objectives):
        `pareto.rank_fitness` of their objective vectors; NaN for members not trained."""
        m = self.failed_values().size
        vectors = np.stack([self.score(h) if h in self.cache else np.full(m, np.nan)
                            for h in hashes])
        return population_fitness(vectors)

    def top_hashes(self, k: int) -> list[str]:
        """The ``k`` best distinct candidates trained so far (failed ones never)."""
        hashes = list(self.cache)
        if not hashes or k == 0:
            return []
        vectors = np.stack([self.score(h) for h in hashes])
        return [hashes[i] for i in best_first(vectors)[:k]]
