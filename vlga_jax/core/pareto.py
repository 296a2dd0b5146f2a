"""Non-dominated sorting and crowding distance (NSGA-II, Deb et al. 2002), host side.

Every objective is maximised. A row with a NaN anywhere is a failed candidate: it is
dominated by every finite row and gets front -1. Pure numpy functions of an objective
matrix f[N, M]:

    fronts = non_dominated_fronts(F)        # int[N]: 0 = the Pareto front, 1 = next, ...
    crowd = crowding_distance(F, fronts)    # f64[N]: inf at each front's extremes
    fit = rank_fitness(F)                   # f32[N]: one scalar, higher is better

`rank_fitness` is what a strategy sees as "fitness" in a multi-objective search: it
orders by front first, then by crowding distance, so every selection operator works
unchanged.
"""

from __future__ import annotations

import numpy as np


def _matrix(objectives) -> np.ndarray:
    f = np.asarray(objectives, np.float64)
    if f.ndim != 2:
        raise ValueError(f"objectives must be a matrix f[N, M], got shape {f.shape}")
    return f


def dominates(a, b) -> bool:
    """Whether objective vector ``a`` dominates ``b`` (>= everywhere, > somewhere)."""
    a, b = np.asarray(a), np.asarray(b)
    return bool(np.all(a >= b) and np.any(a > b))


def non_dominated_fronts(objectives) -> np.ndarray:
    """int[N]: the front of each row of f[N, M] (0: no row dominates it); -1 for rows
    holding NaN. Equal rows share a front."""
    f = _matrix(objectives)
    n = len(f)
    fronts = np.full(n, -1, np.int64)
    ok = ~np.isnan(f).any(axis=1)
    g = f[ok]
    # beats[i, j]: row i dominates row j.
    ge = (g[:, None, :] >= g[None, :, :]).all(-1)
    gt = (g[:, None, :] > g[None, :, :]).any(-1)
    beats = ge & gt
    count = beats.sum(axis=0)  # how many rows dominate each row
    front = np.full(len(g), -1, np.int64)
    level = 0
    current = np.flatnonzero(count == 0)
    while current.size:
        front[current] = level
        count = count - beats[current].sum(axis=0)
        count[front >= 0] = -1
        current = np.flatnonzero(count == 0)
        level += 1
    fronts[ok] = front
    return fronts


def crowding_distance(objectives, fronts) -> np.ndarray:
    """f64[N]: NSGA-II crowding distance of each row within its front.

    Per objective, a front's rows are sorted; the two extremes get inf, the others the
    gap between their neighbours divided by the front's range of that objective, summed
    over objectives. Fronts of one or two rows: inf. Rows of front -1: 0.
    """
    f = _matrix(objectives)
    fronts = np.asarray(fronts)
    distance = np.zeros(len(f))
    for level in np.unique(fronts[fronts >= 0]):
        rows = np.flatnonzero(fronts == level)
        if rows.size <= 2:
            distance[rows] = np.inf
            continue
        for m in range(f.shape[1]):
            order = rows[np.argsort(f[rows, m], kind="stable")]
            values = f[order, m]
            span = values[-1] - values[0]
            distance[order[0]] = distance[order[-1]] = np.inf
            if span > 0:
                distance[order[1:-1]] += (values[2:] - values[:-2]) / span
    return distance


def rank_fitness(objectives) -> np.ndarray:
    """f32[N]: ``-front + 0.5 * c / (1 + c)`` with c the crowding distance (inf -> 0.5):
    front 0 lies in [0, 0.5], front 1 in [-1, -0.5], ...; NaN for failed rows."""
    f = _matrix(objectives)
    fronts = non_dominated_fronts(f)
    crowd = crowding_distance(f, fronts)
    with np.errstate(invalid="ignore"):
        spread = np.where(np.isinf(crowd), 1.0, crowd / (1.0 + crowd))
    fit = -fronts + 0.5 * spread
    return np.where(fronts >= 0, fit, np.nan).astype(np.float32)


def order(objectives) -> np.ndarray:
    """int[N]: row indices best first (front, then crowding distance descending, then
    index); failed rows last."""
    f = _matrix(objectives)
    fronts = non_dominated_fronts(f)
    crowd = crowding_distance(f, fronts)
    key_front = np.where(fronts >= 0, fronts, np.iinfo(np.int64).max)
    return np.lexsort((np.arange(len(f)), -crowd, key_front))
