"""Selection: survivors, parents, elites, and the next population from them.

Survivors of a generation (`select_survivors`), parents of the next (`select_parents`,
`parent_probabilities`), elites (`elite_indices`) and the population of survivors then
children (`survivors_then_children`). Failed candidates (fitness NaN or -inf) are never
selected, as survivors or parents; a fitness of +inf counts as the best possible
fitness. Every function is pure and jit- and vmap-able; ``method``, ``n_pairs`` and
``tournament_size`` are static. Fitness is ``[P]``, one value per member of the
population.
"""

from __future__ import annotations

import math
import numbers

import jax
import jax.numpy as jnp
import numpy as np

from vlga_jax.core import checks
from vlga_jax.core.names import PARENT_SELECTIONS
from vlga_jax.genetics.genome import Genome

PARENT_METHODS = PARENT_SELECTIONS

# Defaults of Xiao et al. 2020.
FIT_SURVIVAL_RATE = 0.5
UNFIT_SURVIVAL_PROB = 0.2

# Added to every eligible weight of fitness-proportional selection, so that the worst
# candidate (or one with fitness 0) keeps a tiny positive probability.
FITNESS_EPS = 1e-6


def check_population_size(n) -> int:
    """``n`` as an int; ValueError "population size must be >= 2, got N" otherwise."""
    ok = (isinstance(n, numbers.Integral | np.integer)
          and not isinstance(n, bool | np.bool_) and int(n) >= 2)
    checks.require(ok, "population size", ">= 2", n)
    return int(n)


def _fitness_vector(fitness, what: str) -> tuple[jax.Array, int]:
    fitness = jnp.asarray(fitness)
    if fitness.ndim != 1:
        raise ValueError(f"{what}: fitness must be 1-D [P], got shape {fitness.shape}")
    if not jnp.issubdtype(fitness.dtype, jnp.floating):
        fitness = fitness.astype(jnp.float32)
    return fitness, check_population_size(fitness.shape[0])


def _failed(fitness: jax.Array) -> jax.Array:
    """bool[P]: failed candidates, fitness NaN or -inf."""
    return jnp.isnan(fitness) | (fitness == -jnp.inf)


def select_survivors(
    key: jax.Array,
    fitness: jax.Array,
    fit_survival_rate=FIT_SURVIVAL_RATE,
    unfit_survival_prob=UNFIT_SURVIVAL_PROB,
) -> jax.Array:
    """Survivors of a generation (Xiao et al. 2020, steps 4-5): bool[P].

    Rule: k = ceil(fit_survival_rate * P), P counting every candidate (failed too);
    the k best non-failed candidates by fitness survive (ties: lower index first; if
    fewer than k did not fail, all of them). Every other non-failed candidate survives
    independently with probability ``unfit_survival_prob``. Failed candidates (NaN or
    -inf) never survive. For rates given as arrays, k is computed in float32 with a
    tolerance of 1e-6 * (P + 1) so that e.g. 0.3 * 10 gives 3, not 4.
    """
    fitness, p = _fitness_vector(fitness, "select_survivors")
    if checks.is_number(fit_survival_rate):
        rate = checks.rate("fit_survival_rate", fit_survival_rate)
        k = min(p, max(0, math.ceil(rate * p - 1e-9)))
    else:
        rate = jnp.asarray(fit_survival_rate, jnp.float32)
        k = jnp.clip(jnp.ceil(rate * p - 1e-6 * (p + 1)), 0, p).astype(jnp.int32)
    if checks.is_number(unfit_survival_prob):
        checks.rate("unfit_survival_prob", unfit_survival_prob)
    ok = ~_failed(fitness)
    order = jnp.argsort(jnp.where(ok, -fitness, jnp.inf), stable=True)
    rank = jnp.zeros(p, jnp.int32).at[order].set(jnp.arange(p, dtype=jnp.int32))
    top = ok & (rank < k)
    lucky = ok & ~top & (jax.random.uniform(key, (p,)) < unfit_survival_prob)
    return top | lucky


def _selection_weights(fitness: jax.Array, ok: jax.Array, method: str,
                       temperature) -> jax.Array:
    """float32[P] non-negative weights of one parent draw (0 for non-candidates)."""
    f = fitness.astype(jnp.float32)
    if method == "uniform":
        return ok.astype(jnp.float32)
    if method == "rank":
        # Average linear rank among candidates: worst 1, best n; ties share.
        less = jnp.sum(ok[None, :] & (f[None, :] < f[:, None]), axis=1)
        equal = jnp.sum(ok[None, :] & (f[None, :] == f[:, None]), axis=1)
        return jnp.where(ok, 1.0 + less + (equal - 1) / 2.0, 0.0)
    best = ok & (f == jnp.inf)
    finite = jnp.where(ok & ~best, f, jnp.nan)
    if method == "fitness":
        shift = jnp.minimum(jnp.nanmin(finite), 0.0)
        weights = jnp.where(ok & ~best, f - shift, 0.0) + FITNESS_EPS
    else:  # softmax
        weights = jnp.exp(jnp.where(ok & ~best, f - jnp.nanmax(finite), 0.0) / temperature)
    weights = jnp.where(ok, weights, 0.0)
    # Candidates with fitness +inf take all the weight.
    return jnp.where(jnp.any(best), best.astype(jnp.float32), weights)


def _inverse_cdf(weights: jax.Array, u: jax.Array) -> jax.Array:
    """int32[...]: index drawn with probability weights[..., i] / sum, from u ~ U[0, 1).

    ``weights`` is [..., P] (>= 0); ``u`` is [...]. Only indices of positive weight are
    returned when any exists (index 0 otherwise).
    """
    cdf = jnp.cumsum(weights, axis=-1)
    x = u * cdf[..., -1]
    index = jnp.sum(cdf <= x[..., None], axis=-1)  # first i with cdf[i] > x
    p = weights.shape[-1]
    last_positive = p - 1 - jnp.argmax(jnp.flip(weights, axis=-1) > 0, axis=-1)
    return jnp.minimum(index, last_positive).astype(jnp.int32)


def _nth_candidate(ok: jax.Array, n) -> jax.Array:
    """int32[...]: index of the n-th (0-based) True of ``ok`` [P], for n [...]."""
    count = jnp.cumsum(ok.astype(jnp.int32))
    return jnp.searchsorted(count, n, side="right").astype(jnp.int32)


def _check_parent_args(method, tournament_size, temperature) -> None:
    checks.choice("method", method, PARENT_METHODS)
    checks.integer("tournament_size", tournament_size, 1)
    if checks.is_number(temperature):
        checks.require(float(temperature) > 0 and math.isfinite(temperature), "temperature",
                       "a finite number > 0", temperature)


def _eligible(fitness: jax.Array, eligible) -> jax.Array:
    ok = ~_failed(fitness)
    if eligible is not None:
        eligible = jnp.asarray(eligible, bool)
        if eligible.shape != fitness.shape:
            raise ValueError(f"eligible must be bool{list(fitness.shape)}, got shape "
                             f"{eligible.shape}")
        ok = ok & eligible
    return ok


def parent_probabilities(fitness: jax.Array, method: str = "uniform", *, eligible=None,
                         tournament_size: int = 3, temperature=1.0) -> jax.Array:
    """float32[P]: probability that the FIRST parent of a pair is each candidate.

    The exact law `select_parents` draws from (useful for tests and reports). For
    "tournament" with n candidates, a candidate beaten by m of them (strictly greater
    fitness) and tied with t others wins with probability
    ((n - m)^k - (n - m - t - 1)^k) / (n^k (t + 1)) (ties go to the first drawn).
    """
    _check_parent_args(method, tournament_size, temperature)
    fitness, _ = _fitness_vector(fitness, "parent_probabilities")
    ok = _eligible(fitness, eligible)
    if method != "tournament":
        weights = _selection_weights(fitness, ok, method, temperature)
        return weights / jnp.maximum(jnp.sum(weights), jnp.finfo(jnp.float32).tiny)
    f = fitness.astype(jnp.float32)
    n = jnp.sum(ok).astype(jnp.float32)
    greater = jnp.sum(ok[None, :] & (f[None, :] > f[:, None]), axis=1).astype(jnp.float32)
    tied = jnp.sum(ok[None, :] & (f[None, :] == f[:, None]), axis=1).astype(jnp.float32) - 1
    k = tournament_size
    at_most = (n - greater) / jnp.maximum(n, 1)
    below = (n - greater - tied - 1) / jnp.maximum(n, 1)
    prob = (at_most**k - below**k) / (tied + 1)
    return jnp.where(ok, prob, 0.0)


def select_parents(
    key: jax.Array,
    fitness: jax.Array,
    n_pairs: int,
    method: str = "uniform",
    *,
    eligible: jax.Array | None = None,
    tournament_size: int = 3,
    temperature=1.0,
) -> jax.Array:
    """Indices of parents, int32[n_pairs, 2], drawn independently for each pair.

    Candidates are the eligible (``eligible`` bool[P], default all) non-failed
    (fitness not NaN nor -inf) ones; no other index is ever returned. Methods:

    * "uniform": uniformly among candidates.
    * "fitness": proportional to ``fitness - min(0, min candidate fitness) + FITNESS_EPS``,
      i.e. to the fitness itself (plus 1e-6) when all candidates are >= 0, else shifted
      so the worst has weight 1e-6 (the modified VLGA).
    * "softmax": softmax(fitness / temperature) over candidates (the W&B report).
    * "rank": proportional to the linear rank, worst 1 ... best n (ties share the
      average rank).
    * "tournament": best of ``tournament_size`` candidates drawn uniformly with
      replacement (ties: first drawn).

    For "fitness" and "softmax", candidates with fitness +inf take all the weight.
    The second parent of a pair is drawn by the same rule with the first parent
    removed from the candidates (weights renormalised; for "tournament" the second
    tournament excludes it), so both are the same individual only when there is a
    single candidate. At least one candidate is required: with none, every index is
    argmax(fitness) with NaN read as -inf (a defined index, never NaN).
    ``n_pairs`` and ``tournament_size`` are static. The first parents follow
    `parent_probabilities`.
    """
    _check_parent_args(method, tournament_size, temperature)
    n_pairs = checks.integer("n_pairs", n_pairs, 0)
    fitness, p = _fitness_vector(fitness, "select_parents")
    ok = _eligible(fitness, eligible)
    n_ok = jnp.sum(ok.astype(jnp.int32))
    f = fitness.astype(jnp.float32)
    # One flat draw for everything (cheap to compile), reshaped per use.
    k = tournament_size if method == "tournament" else 1
    u = jax.random.uniform(key, (2 * n_pairs * k,)).reshape(2, n_pairs, k)
    if method == "tournament":
        u1, u2 = u[0], u[1]
        rank1 = jnp.minimum((u1 * n_ok).astype(jnp.int32), jnp.maximum(n_ok - 1, 0))
        entrants = _nth_candidate(ok, rank1)
        first = jnp.take_along_axis(entrants, jnp.argmax(f[entrants], axis=1)[:, None], 1)[:, 0]
        # Second tournament among the candidates but the first parent (if n_ok >= 2):
        # draw a rank among n_ok - 1 and skip the first parent's rank.
        n2 = jnp.where(n_ok >= 2, n_ok - 1, n_ok)
        rank2 = jnp.minimum((u2 * n2).astype(jnp.int32), jnp.maximum(n2 - 1, 0))
        first_rank = jnp.cumsum(ok.astype(jnp.int32))[first] - 1
        rank2 = rank2 + ((n_ok >= 2) & (rank2 >= first_rank[:, None]))
        entrants = _nth_candidate(ok, rank2)
        second = jnp.take_along_axis(entrants, jnp.argmax(f[entrants], axis=1)[:, None], 1)[:, 0]
    else:
        weights = _selection_weights(fitness, ok, method, temperature)
        first = _inverse_cdf(weights, u[0, :, 0])
        is_first = jnp.arange(p)[None, :] == first[:, None]
        rest = jnp.where(is_first, 0.0, weights[None, :])
        # If the rest have no weight (a lone +inf was drawn first): uniform on them.
        others = (ok[None, :] & ~is_first).astype(jnp.float32)
        rest = jnp.where(jnp.any(rest > 0, axis=1, keepdims=True), rest, others)
        rest = jnp.where(n_ok >= 2, rest, weights[None, :])
        second = _inverse_cdf(rest, u[1, :, 0])
    pairs = jnp.stack([first, second], axis=1)
    fallback = jnp.argmax(jnp.where(jnp.isnan(f), -jnp.inf, f))
    return jnp.where(n_ok > 0, pairs, fallback).astype(jnp.int32)


def elite_indices(fitness: jax.Array, n: int) -> jax.Array:
    """int32[n]: the ``n`` best members (ties: lower index first; failed ones last)."""
    fitness, _ = _fitness_vector(fitness, "elite_indices")
    f = jnp.where(_failed(fitness), -jnp.inf, fitness)
    return jnp.argsort(-f, stable=True)[:n].astype(jnp.int32)


def survivors_then_children(survive: jax.Array, survivors: Genome, children: Genome):
    """A population of the survivors (in index order) followed by children.

    survive: bool[P]; survivors, children: Genome [P, ...]. Slot i holds the i-th
    survivor while i < sum(survive), else ``children[i - sum(survive)]``. Returns
    (population Genome [P, ...], order int32[P] (slot -> survivor index; valid where
    is_survivor), is_survivor bool[P]).
    """
    p = survive.shape[0]
    order = jnp.argsort(~survive, stable=True)
    n_survivors = jnp.sum(survive)
    slot = jnp.arange(p)
    is_survivor = slot < n_survivors
    child = jnp.clip(slot - n_survivors, 0, p - 1)

    def pick(a, c):
        cond = is_survivor.reshape(-1, *([1] * (a.ndim - 1)))
        return jnp.where(cond, a[order], c[child])

    return jax.tree.map(pick, survivors, children), order, is_survivor
