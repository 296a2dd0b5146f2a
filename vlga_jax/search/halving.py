"""Successive halving inside a generation: the arithmetic, no training.

A generation's new candidates all train to the first rung of the fidelity schedule
(`TrainConfig.rungs`, cumulative epochs such as (1, 3, 5)); the best 1/eta of them
(at least one) continue with their parameters and optimizer state to the next rung, and
so on up to the last. A candidate's fitness is its validation accuracy at the last rung
it reached, and only fitness at equal fidelity is compared: the strategy sees
`told_fitness`, which ranks every candidate that stopped early below every candidate
that reached the last rung, and candidates that stopped at the same rung by accuracy.
"""

from __future__ import annotations

import math
from collections.abc import Sequence


def continuing(n: int, eta: int) -> int:
    """How many of ``n`` candidates at a rung continue to the next: floor(n / eta), at
    least one (none of none)."""
    return max(1, n // eta) if n else 0


def cost(rungs: Sequence[int], eta: int, n: int) -> int:
    """Candidate-epochs to take ``n`` new candidates through the schedule (an upper
    bound: failed candidates stop early)."""
    total, done = 0, 0
    for rung in rungs:
        total += n * (rung - done)
        done, n = rung, continuing(n, eta)
    return total


def affordable(rungs: Sequence[int], eta: int, budget: int) -> int:
    """The most new candidates whose schedule ``cost`` fits ``budget`` candidate-epochs."""
    n = 0
    while cost(rungs, eta, n + 1) <= budget:
        n += 1
    return n


def promoted(scores: Sequence[tuple[float, float] | None], eta: int) -> list[int]:
    """Indices (ascending) of the candidates that continue: ``scores[i]`` is (validation
    accuracy, validation loss) at this rung, None for a failed candidate (never
    continues). Higher accuracy first, then lower loss, then the earlier index."""
    ok = [i for i, s in enumerate(scores) if s is not None and math.isfinite(s[0])]
    ranked = sorted(ok, key=lambda i: (-scores[i][0], scores[i][1], i))
    return sorted(ranked[:continuing(len(scores), eta)])


def told_fitness(fitness: float, fidelity: int, rungs: Sequence[int]) -> float:
    """The fitness a strategy compares: ``fitness`` (an accuracy in [0, 1]) minus one for
    every rung above ``fidelity`` (the epochs behind it), so a candidate that stopped
    early ranks below all that went further. Without halving it is ``fitness`` itself."""
    return fitness - sum(rung > fidelity for rung in rungs)
