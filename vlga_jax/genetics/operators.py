"""Pure genetic operators: mutation, crossover, survivor and parent selection.

Every operator takes a PRNG key first, is a pure function of its inputs, and is jit-
and vmap-able. Static (Python) arguments are only the choices of method (``mode``,
``method``), integer counts that fix output shapes (``n_pairs``, ``tournament_size``)
and the `SearchSpace` (a hashable frozen dataclass), e.g.::

    mutate_j = jax.jit(mutate, static_argnames=("space", "mode"))

Wherever a ``space`` is taken, the pair of table sizes
``(block_sizes int32[n_block_genes], global_sizes int32[n_global_genes])`` may be
given instead (then it may be a traced array).

Genes an operator may change are those that are

* mutable: True in the ``mutable`` `GeneMask` (``None`` means every gene); in VLGA
  phase p only block p's genes (and maybe the globals) are mutable, so the inherited
  prefix stays fixed;
* active: globals always, block genes only in slots whose ``block_mask`` is True.
  Masked block slots are never touched.

Shapes: a genome is ``blocks int32[B, G]``, ``block_mask bool[B]``,
``globals int32[H]``; a population adds a leading axis ``P``. Internally a genome's
genes are ordered "flattened blocks (row-major), then globals"; that is the order of
`one_point_crossover`.

Failed candidates (fitness NaN or -inf) are never selected, as survivors or parents.
A fitness of +inf counts as the best possible fitness.

Arguments given as Python numbers are validated at the border (`check_rate`,
`check_population_size`), raising ValueError naming the argument; arrays are used as
they are, so the functions stay jittable when given traced values.
"""

from __future__ import annotations

import math
import numbers

import jax
import jax.numpy as jnp
import numpy as np

from vlga_jax.core.names import CROSSOVERS, MUTATION_MODES, PARENT_SELECTIONS
from vlga_jax.genetics.genome import GeneMask, Genome
from vlga_jax.genetics.space import SearchSpace

__all__ = [
    "add_remove_layer",
    "add_remove_layer_population",
    "bitflip",
    "bitflip_population",
    "chromosome_length",
    "elite_indices",
    "survivors_then_children",
    "gene_bits",
    "CROSSOVER_METHODS",
    "CROSSOVER_METHOD",
    "FITNESS_EPS",
    "FIT_SURVIVAL_RATE",
    "MUTATION_MODES",
    "MUTATION_RATE",
    "PARENT_METHODS",
    "UNFIT_SURVIVAL_PROB",
    "check_population_size",
    "check_rate",
    "crossover",
    "crossover_population",
    "mutate",
    "mutate_population",
    "one_point_crossover",
    "parent_probabilities",
    "select_parents",
    "select_survivors",
    "uniform_crossover",
]

# Defaults of Xiao et al. 2020.
FIT_SURVIVAL_RATE = 0.5
UNFIT_SURVIVAL_PROB = 0.2
MUTATION_RATE = 0.2
CROSSOVER_METHOD = "uniform"

CROSSOVER_METHODS = CROSSOVERS
PARENT_METHODS = PARENT_SELECTIONS

# Added to every eligible weight of fitness-proportional selection, so that the worst
# candidate (or one with fitness 0) keeps a tiny positive probability.
FITNESS_EPS = 1e-6


# -- validation at the border (plain Python) -----------------------------------------

def _is_number(value) -> bool:
    """True for a Python or NumPy scalar (not a JAX array, which may be traced)."""
    return isinstance(value, numbers.Number | np.generic)


def check_rate(name: str, value) -> float:
    """``value`` as a float; ValueError "<name> must be in [0, 1], got X" otherwise."""
    ok = (
        isinstance(value, numbers.Real | np.floating | np.integer)
        and not isinstance(value, bool | np.bool_)
        and 0.0 <= float(value) <= 1.0  # False for NaN
    )
    if not ok:
        raise ValueError(f"{name} must be in [0, 1], got {value!r}")
    return float(value)


def check_population_size(n) -> int:
    """``n`` as an int; ValueError "population size must be >= 2, got N" otherwise."""
    if (
        isinstance(n, bool | np.bool_)
        or not isinstance(n, numbers.Integral | np.integer)
        or int(n) < 2
    ):
        raise ValueError(f"population size must be >= 2, got {n!r}")
    return int(n)


def _check_choice(name: str, value, choices: tuple[str, ...]) -> None:
    if value not in choices:
        raise ValueError(f"{name} must be one of {choices}, got {value!r}")


def _check_rate_like(name: str, value) -> None:
    """Validate Python/NumPy numbers and NumPy arrays; leave JAX arrays alone."""
    if isinstance(value, GeneMask):
        _check_rate_like(name, value.blocks)
        _check_rate_like(name, value.globals)
    elif _is_number(value):
        check_rate(name, value)
    elif isinstance(value, np.ndarray) and value.size:
        bad = ~((value >= 0) & (value <= 1))
        if bad.any():
            raise ValueError(f"{name} must be in [0, 1], got {value[bad].flat[0]!r}")


def _check_count(name: str, value, minimum: int) -> int:
    if (
        isinstance(value, bool | np.bool_)
        or not isinstance(value, numbers.Integral | np.integer)
        or int(value) < minimum
    ):
        raise ValueError(f"{name} must be an integer >= {minimum}, got {value!r}")
    return int(value)


# -- flat views of a genome ----------------------------------------------------------

def _flat(blocks, globals_) -> jax.Array:
    """[B, G] and [H] -> [B*G + H] (blocks row-major, then globals)."""
    blocks = jnp.asarray(blocks)
    return jnp.concatenate([blocks.reshape(-1), jnp.asarray(globals_).astype(blocks.dtype)])


def _unflat(flat: jax.Array, genome: Genome) -> Genome:
    n = genome.blocks.size
    return genome.replace(
        blocks=flat[:n].reshape(genome.blocks.shape).astype(genome.blocks.dtype),
        globals=flat[n:].astype(genome.globals.dtype),
    )


def _check_single(genome: Genome, what: str) -> None:
    if jnp.ndim(genome.blocks) != 2 or jnp.ndim(genome.globals) != 1:
        raise ValueError(
            f"{what} takes one genome (blocks [B, G], globals [H]); got blocks of shape "
            f"{jnp.shape(genome.blocks)}: use the *_population function or jax.vmap"
        )


def _flat_sizes(space, genome: Genome) -> jax.Array:
    """int32[B*G + H]: table size of every gene of ``genome``."""
    shape = jnp.shape(genome.blocks)
    if isinstance(space, SearchSpace):
        expected = (space.max_blocks, space.n_block_genes)
        if shape != expected or jnp.shape(genome.globals) != (space.n_global_genes,):
            raise ValueError(
                f"genome shapes blocks {shape}, globals {jnp.shape(genome.globals)} do not "
                f"match the space: blocks {expected}, globals ({space.n_global_genes},)"
            )
        block_sizes, global_sizes = space.block_sizes, space.global_sizes
    else:
        block_sizes, global_sizes = space
    block_sizes = jnp.broadcast_to(jnp.asarray(block_sizes, jnp.int32), shape)
    return _flat(block_sizes, jnp.asarray(global_sizes, jnp.int32))


def _flat_active(genome: Genome) -> jax.Array:
    """bool[B*G + H]: genes in active block slots, and all globals."""
    mask = jnp.asarray(genome.block_mask, bool)
    blocks = jnp.broadcast_to(mask[:, None], jnp.shape(genome.blocks))
    return _flat(blocks, jnp.ones(jnp.shape(genome.globals), bool))


def _flat_mutable(mutable: GeneMask | None, genome: Genome) -> jax.Array:
    if mutable is None:
        return jnp.ones(genome.blocks.size + genome.globals.size, bool)
    if (jnp.shape(mutable.blocks) != jnp.shape(genome.blocks)
            or jnp.shape(mutable.globals) != jnp.shape(genome.globals)):
        raise ValueError(
            f"mutable mask shapes blocks {jnp.shape(mutable.blocks)}, globals "
            f"{jnp.shape(mutable.globals)} do not match the genome's "
            f"{jnp.shape(genome.blocks)}, {jnp.shape(genome.globals)}"
        )
    return _flat(jnp.asarray(mutable.blocks, bool), jnp.asarray(mutable.globals, bool))


# -- mutation ------------------------------------------------------------------------

def mutate(
    key: jax.Array,
    genome: Genome,
    space,
    mutable: GeneMask | None = None,
    *,
    mode: str = "one",
    gene_rate=None,
) -> Genome:
    """Mutate one genome (blocks int32[B, G], globals int32[H]); returns the same shapes.

    Candidate genes are mutable, active and have a table of >= 2 values. A mutated gene
    moves to one of the OTHER values of its table, uniformly: ``new = (old + k) % size``
    with k uniform in [1, size - 1], so it always changes.

    mode "one": exactly one candidate gene, chosen uniformly, is mutated.
    mode "per_gene": each candidate gene is mutated independently with probability
      ``gene_rate``: a scalar or a float `GeneMask` shaped like the genome; None means
      1 / (number of candidate genes), one mutation per genome on average.
      ``gene_rate`` is ignored in mode "one".
    With no candidate gene the genome is returned unchanged.
    """
    _check_choice("mode", mode, MUTATION_MODES)
    _check_single(genome, "mutate")
    if gene_rate is not None:
        _check_rate_like("gene_rate", gene_rate)
    values = _flat(genome.blocks, genome.globals)
    sizes = _flat_sizes(space, genome)
    can = _flat_mutable(mutable, genome) & _flat_active(genome) & (sizes >= 2)
    safe_sizes = jnp.maximum(sizes, 2)
    # One flat draw (cheap to compile): u[:n] picks genes, u[n:] picks offsets.
    n = values.shape[0]
    u = jax.random.uniform(key, (2 * n,))
    offsets = 1 + jnp.minimum((u[n:] * (safe_sizes - 1)).astype(values.dtype), safe_sizes - 2)
    if mode == "one":
        idx = jnp.argmax(jnp.where(can, u[:n], -1.0))
        new = (values[idx] + offsets[idx]) % safe_sizes[idx]
        values = values.at[idx].set(jnp.where(can[idx], new, values[idx]))
    else:
        if gene_rate is None:
            rate = 1.0 / jnp.maximum(jnp.sum(can), 1)
        elif isinstance(gene_rate, GeneMask):
            rate = _flat(jnp.asarray(gene_rate.blocks, jnp.float32),
                         jnp.asarray(gene_rate.globals, jnp.float32))
        else:
            rate = jnp.asarray(gene_rate, jnp.float32)
        flip = can & (u[:n] < rate)
        values = jnp.where(flip, (values + offsets) % safe_sizes, values)
    return _unflat(values, genome)


def _tree_where(cond: jax.Array, x, y):
    """Per-individual select between two populations (cond bool[P])."""
    def pick(a, b):
        c = cond.reshape(cond.shape + (1,) * (jnp.ndim(a) - 1))
        return jnp.where(c, a, b)

    return jax.tree.map(pick, x, y)


def _genes_differ(x: Genome, y: Genome) -> jax.Array:
    """bool[P]: whether individual i's blocks or globals differ."""
    p = x.blocks.shape[0]
    return (jnp.any((x.blocks != y.blocks).reshape(p, -1), axis=1)
            | jnp.any((x.globals != y.globals).reshape(p, -1), axis=1))


def _mask_axis(mask: GeneMask | None, what: str) -> int | None:
    """None for a mask shared by the population, 0 for one with a leading axis."""
    if mask is None:
        return None
    ndim = jnp.ndim(mask.blocks)
    if ndim == 2:
        return None
    if ndim == 3:
        return 0
    raise ValueError(
        f"{what}: mask blocks must be [B, G] or [P, B, G], got {jnp.shape(mask.blocks)}")


def mutate_population(
    key: jax.Array,
    population: Genome,
    space,
    mutable: GeneMask | None = None,
    rate=MUTATION_RATE,
    *,
    mode: str = "one",
    gene_rate=None,
) -> tuple[Genome, jax.Array]:
    """Mutate each individual of ``population`` (leading axis P) with probability ``rate``.

    ``mutable`` is a `GeneMask` shared by all (blocks [B, G]) or one per individual
    (blocks [P, B, G]); None means every gene. ``mode``/``gene_rate`` as in `mutate`
    (``gene_rate`` shared by all). ``rate`` is a Python number (validated) or an array.
    Returns ``(population, mutated bool[P])``; ``mutated[i]`` is True iff individual i
    was drawn for mutation AND its genes changed (with mode "one" every drawn individual
    that has a candidate gene changes; with "per_gene" it may draw no gene).
    """
    _check_choice("mode", mode, MUTATION_MODES)
    if _is_number(rate):
        check_rate("rate", rate)
    if jnp.ndim(population.blocks) != 3:
        raise ValueError(
            f"mutate_population takes a population (blocks [P, B, G]), got blocks of shape "
            f"{jnp.shape(population.blocks)}"
        )
    p = population.blocks.shape[0]
    axis = _mask_axis(mutable, "mutable")
    keys = jax.random.split(key, p + 1)
    drawn = jax.random.uniform(keys[p], (p,)) < rate
    keys = keys[:p]
    mutated = jax.vmap(
        lambda k, g, m: mutate(k, g, space, m, mode=mode, gene_rate=gene_rate),
        in_axes=(0, 0, axis),
    )(keys, population, mutable)
    out = _tree_where(drawn, mutated, population)
    return out, drawn & _genes_differ(out, population)


# -- crossover -----------------------------------------------------------------------

def _crossover_genes(a: Genome, b: Genome, mutable: GeneMask | None, what: str):
    _check_single(a, what)
    _check_single(b, what)
    if jnp.shape(a.blocks) != jnp.shape(b.blocks) or jnp.shape(a.globals) != jnp.shape(b.globals):
        raise ValueError(f"{what}: parents have different shapes "
                         f"{jnp.shape(a.blocks)} and {jnp.shape(b.blocks)}")
    va = _flat(a.blocks, a.globals)
    vb = _flat(b.blocks, b.globals).astype(va.dtype)
    can = _flat_mutable(mutable, a) & _flat_active(a) & _flat_active(b)
    return va, vb, can


def uniform_crossover(key: jax.Array, a: Genome, b: Genome,
                      mutable: GeneMask | None = None) -> Genome:
    """Child of one-genome parents ``a`` and ``b``: each candidate gene from either, p=1/2.

    Candidate genes are mutable and active in both parents; every other gene, and the
    block_mask, come from ``a`` (Xiao et al. 2020).
    """
    va, vb, can = _crossover_genes(a, b, mutable, "uniform_crossover")
    take_b = can & (jax.random.uniform(key, va.shape) < 0.5)
    return _unflat(jnp.where(take_b, vb, va), a)


def one_point_crossover(key: jax.Array, a: Genome, b: Genome,
                        mutable: GeneMask | None = None) -> Genome:
    """Child of one-genome parents ``a`` and ``b`` by one cut point.

    The n candidate genes (mutable and active in both parents) are ordered as
    flattened blocks (row-major) then globals; the cut c is uniform in [1, n-1]; the
    first c candidates come from ``a``, the rest from ``b``. With n < 2 the child is
    ``a``. Every other gene, and the block_mask, come from ``a``.
    """
    va, vb, can = _crossover_genes(a, b, mutable, "one_point_crossover")
    n = jnp.sum(can)
    position = jnp.cumsum(can) - 1
    # cut uniform in [1, n - 1] (from one uniform draw: randint compiles slowly on CPU).
    cut = 1 + jnp.minimum((jax.random.uniform(key) * (n - 1)).astype(n.dtype),
                          jnp.maximum(n - 2, 0))
    take_b = can & (position >= cut) & (n >= 2)
    return _unflat(jnp.where(take_b, vb, va), a)


def crossover(key: jax.Array, a: Genome, b: Genome, mutable: GeneMask | None = None,
              method: str = CROSSOVER_METHOD) -> Genome:
    """Dispatch on ``method`` in {"uniform", "one_point"} (static)."""
    _check_choice("method", method, CROSSOVER_METHODS)
    if method == "uniform":
        return uniform_crossover(key, a, b, mutable)
    return one_point_crossover(key, a, b, mutable)


def crossover_population(key: jax.Array, population: Genome, pairs: jax.Array,
                         mutable: GeneMask | None = None,
                         method: str = CROSSOVER_METHOD) -> Genome:
    """One child per row of ``pairs`` (int32[N, 2], e.g. from `select_parents`).

    Child i = crossover(population[pairs[i, 0]], population[pairs[i, 1]]); the result
    has a leading axis N. ``mutable`` is shared (blocks [B, G]) or per individual
    (blocks [P, B, G]; the first parent's mask is used).
    """
    _check_choice("method", method, CROSSOVER_METHODS)
    pairs = jnp.asarray(pairs, jnp.int32)
    if pairs.ndim != 2 or pairs.shape[1] != 2:
        raise ValueError(f"pairs must be int32[N, 2], got shape {pairs.shape}")
    axis = _mask_axis(mutable, "mutable")
    a = jax.tree.map(lambda x: x[pairs[:, 0]], population)
    b = jax.tree.map(lambda x: x[pairs[:, 1]], population)
    if axis is not None:
        mutable = jax.tree.map(lambda x: x[pairs[:, 0]], mutable)
    keys = jax.random.split(key, pairs.shape[0])
    return jax.vmap(lambda k, x, y, m: crossover(k, x, y, m, method),
                    in_axes=(0, 0, 0, axis))(keys, a, b, mutable)


# -- selection -----------------------------------------------------------------------

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
    if _is_number(fit_survival_rate):
        rate = check_rate("fit_survival_rate", fit_survival_rate)
        k = min(p, max(0, math.ceil(rate * p - 1e-9)))
    else:
        rate = jnp.asarray(fit_survival_rate, jnp.float32)
        k = jnp.clip(jnp.ceil(rate * p - 1e-6 * (p + 1)), 0, p).astype(jnp.int32)
    if _is_number(unfit_survival_prob):
        check_rate("unfit_survival_prob", unfit_survival_prob)
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
    _check_choice("method", method, PARENT_METHODS)
    _check_count("tournament_size", tournament_size, 1)
    if _is_number(temperature) and not (float(temperature) > 0 and math.isfinite(temperature)):
        raise ValueError(f"temperature must be a finite number > 0, got {temperature!r}")


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
    n_pairs = _check_count("n_pairs", n_pairs, 0)
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


# -- fixed-length binary chromosomes, variable depth, elitism ----------------------------

def gene_bits(space) -> tuple[np.ndarray, np.ndarray]:
    """Bits per gene ``(block int32[G], global int32[H])``: ceil(log2(table size)).

    A gene with a power-of-two table is exactly a group of bits; a chromosome of
    `space.binary_cnn` has sum(bits) = 20 bits at 8 stages.
    """
    def bits(sizes):
        return np.array([max(0, math.ceil(math.log2(int(s)))) for s in sizes], np.int32)

    return bits(space.block_sizes), bits(space.global_sizes)


def chromosome_length(space: SearchSpace) -> int:
    """Number of bits of a full chromosome (every block slot counted)."""
    block, global_ = gene_bits(space)
    return int(space.max_blocks * block.sum() + global_.sum())


def bitflip(key: jax.Array, genome: Genome, space: SearchSpace, rate,
            mutable: GeneMask | None = None) -> Genome:
    """Flip every bit of the chromosome independently with probability ``rate``.

    Gene index i of a table of size n is the integer of its ceil(log2 n) bits; after the
    flips an index >= n wraps to ``index % n`` (never for power-of-two tables). Every block
    slot is part of the chromosome (fixed length), active or not; only ``mutable`` genes
    (None: all) change. One genome (blocks [B, G]); jit- and vmap-able.
    """
    _check_single(genome, "bitflip")
    if _is_number(rate):
        check_rate("rate", rate)
    block_bits, global_bits = gene_bits(space)
    max_bits = int(max(block_bits.max(initial=0), global_bits.max(initial=0), 1))
    values = _flat(genome.blocks, genome.globals)
    sizes = _flat_sizes(space, genome)
    nbits = _flat(jnp.broadcast_to(jnp.asarray(block_bits), genome.blocks.shape),
                  jnp.asarray(global_bits))
    can = _flat_mutable(mutable, genome)
    u = jax.random.uniform(key, (values.shape[0], max_bits))
    bit = jnp.arange(max_bits)
    flips = (u < rate) & (bit[None, :] < nbits[:, None]) & can[:, None]
    xor = jnp.sum(jnp.where(flips, 1 << bit, 0), axis=1).astype(values.dtype)
    new = (values ^ xor) % jnp.maximum(sizes, 1)
    return _unflat(new, genome)


def bitflip_population(key: jax.Array, population: Genome, space: SearchSpace, rate,
                       mutable: GeneMask | None = None) -> tuple[Genome, jax.Array]:
    """`bitflip` on every individual; returns ``(population, changed bool[P])``."""
    if _is_number(rate):
        check_rate("rate", rate)
    keys = jax.random.split(key, population.blocks.shape[0])
    out = jax.vmap(lambda k, g: bitflip(k, g, space, rate, mutable))(keys, population)
    return out, _genes_differ(out, population)


def add_remove_layer(key: jax.Array, genome: Genome, space: SearchSpace, rate,
                     min_blocks: int = 1) -> Genome:
    """With probability ``rate``, append a random block or drop the last active block.

    Add and remove are equally likely; at ``max_blocks`` the mutation removes, at
    ``min_blocks`` it adds. An added block (at the end of the active prefix) gets
    uniformly random genes; a removed slot is zeroed (as `random_genome` leaves masked
    slots). One genome; jit- and vmap-able.
    """
    _check_single(genome, "add_remove_layer")
    if _is_number(rate):
        check_rate("rate", rate)
    k_do, k_dir, k_genes = jax.random.split(key, 3)
    n = jnp.sum(genome.block_mask).astype(jnp.int32)
    do = jax.random.uniform(k_do) < rate
    add = jax.random.uniform(k_dir) < 0.5
    add = jnp.where(n >= space.max_blocks, False, jnp.where(n <= min_blocks, True, add))
    can_change = (n < space.max_blocks) | (n > min_blocks)
    do = do & can_change
    slot = jnp.where(add, n, n - 1)
    sizes = jnp.asarray(space.block_sizes)
    u = jax.random.uniform(k_genes, (space.n_block_genes,))
    fresh = jnp.minimum((u * sizes).astype(genome.blocks.dtype), sizes - 1)
    row = jnp.where(add, fresh, jnp.zeros_like(fresh))
    index = jnp.arange(space.max_blocks)
    at_slot = (index == slot) & do
    blocks = jnp.where(at_slot[:, None], row[None, :], genome.blocks)
    mask = jnp.where(at_slot, add, genome.block_mask)
    return genome.replace(blocks=blocks, block_mask=mask)


def add_remove_layer_population(key: jax.Array, population: Genome, space: SearchSpace,
                                rate, min_blocks: int = 1) -> Genome:
    """`add_remove_layer` on every individual of a population (leading axis P)."""
    keys = jax.random.split(key, population.blocks.shape[0])
    return jax.vmap(lambda k, g: add_remove_layer(k, g, space, rate, min_blocks))(
        keys, population)


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
