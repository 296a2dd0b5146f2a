"""Tests of the genetic operators: invariants (property-based) and selection laws.

Statistical tests use fixed seeds (so they never flake) and 5-sigma binomial bounds
against exact probabilities computed here independently of the library.

XLA compiles are the slow part (about 0.5-1 s each on CPU), so every jitted entry
point below is called with a few fixed shapes and argument structures, and the
statistical tests reuse the programs the property tests compiled.
"""

from __future__ import annotations

import itertools
import math

import jax
import jax.numpy as jnp
import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from vlga_jax.genetics import operators as ops
from vlga_jax.genetics.genome import GeneMask, Genome, block_mutable_mask, decode
from vlga_jax.genetics.space import Gene, SearchSpace, xiao2020

SPACES = {
    # Table 1 plus training genes: conditional genes, tables of 2 to 7 values.
    "xiao": xiao2020(4, training_genes=True),
    # A table of size 1 (never mutated) and no global genes at all.
    "tiny": SearchSpace((Gene("w", (1, 2, 3)), Gene("fixed", (7,)), Gene("flag", (False, True))),
                        max_blocks=3),
}
XIAO = SPACES["xiao"]

prop = settings(max_examples=25, deadline=None)

# Fixed sizes shared by property and statistical tests (one compile each).
N_DRAWS = 3000  # individuals / children / pairs per batched call
POP = 6  # population of mutate_population tests
N_FIT = 10  # fitness vector of parent selection tests
SURVIVOR_SIZES = (2, 7, 20)
ZERO, HALF, ONE = jnp.float32(0.0), jnp.float32(0.5), jnp.float32(1.0)


def _vmutate(keys, pop, space, mask, mode, gene_rate):
    return jax.vmap(
        lambda k, g: ops.mutate(k, g, space, mask, mode=mode, gene_rate=gene_rate))(keys, pop)


MUTATE = jax.jit(ops.mutate, static_argnames=("space", "mode"))
VMUTATE = jax.jit(_vmutate, static_argnames=("space", "mode"))
MUTATE_POP = jax.jit(ops.mutate_population, static_argnames=("space", "mode"))
CROSS = jax.jit(ops.crossover, static_argnames=("method",))
CROSS_POP = jax.jit(ops.crossover_population, static_argnames=("method",))
PARENTS = jax.jit(ops.select_parents, static_argnames=("n_pairs", "method", "tournament_size"))
SURVIVORS = jax.jit(ops.select_survivors)


@jax.jit
def PROBS(fitness, eligible, temperature):  # noqa: N802 - a constant-like jitted function
    """`parent_probabilities` of every method, one compile."""
    return {m: ops.parent_probabilities(fitness, m, eligible=eligible, temperature=temperature)
            for m in ops.PARENT_METHODS}


def mutate(key, genome, space, mask, mode):
    """Jitted `mutate` with one argument structure per mode."""
    rate = gene_rates(space, 0.5) if mode == "per_gene" else None
    return MUTATE(key, genome, space, mask, mode=mode, gene_rate=rate)


def mutate_rate(key, genome, space, mask, block_rate, global_rate):
    """Jitted per_gene `mutate` with the given rates (same structure as `mutate`)."""
    rates = GeneMask(blocks=np.asarray(block_rate, np.float32),
                     globals=np.full(space.n_global_genes, global_rate, np.float32))
    return MUTATE(key, genome, space, mask, mode="per_gene", gene_rate=rates)


def vmutate(keys, pop, space, mask, mode, rate=None):
    if mode == "per_gene":
        rate = gene_rates(space, 0.5) if rate is None else rate
    return VMUTATE(keys, pop, space, mask, mode, rate)


def parents(key, f, method, eligible=None, temperature=1.0):
    """Jitted `select_parents`: always N_DRAWS pairs from N_FIT candidates."""
    eligible = np.ones(N_FIT, bool) if eligible is None else eligible
    return np.asarray(PARENTS(key, jnp.asarray(f, jnp.float32), N_DRAWS, method,
                              eligible=jnp.asarray(eligible), temperature=temperature))


# -- helpers ---------------------------------------------------------------------------

def sizes_of(space: SearchSpace) -> tuple[np.ndarray, np.ndarray]:
    return (np.broadcast_to(space.block_sizes, (space.max_blocks, space.n_block_genes)),
            space.global_sizes)


def flat_sizes(space: SearchSpace) -> np.ndarray:
    bsizes, gsizes = sizes_of(space)
    return np.concatenate([bsizes.reshape(-1), gsizes])


def gene_rates(space: SearchSpace, value: float) -> GeneMask:
    return GeneMask(blocks=np.full((space.max_blocks, space.n_block_genes), value, np.float32),
                    globals=np.full(space.n_global_genes, value, np.float32))


def make_genome(rng: np.random.Generator, space: SearchSpace, n_active: int) -> Genome:
    """A random genome; masked slots hold arbitrary (non-zero) junk to detect writes."""
    bsizes, gsizes = sizes_of(space)
    blocks = rng.integers(0, bsizes).astype(np.int32)
    junk = rng.integers(10, 99, blocks.shape).astype(np.int32)
    mask = np.arange(space.max_blocks) < n_active
    blocks = np.where(mask[:, None], blocks, junk)
    globals_ = rng.integers(0, np.maximum(gsizes, 1), gsizes.shape).astype(np.int32)
    return Genome(blocks=jnp.asarray(blocks), block_mask=jnp.asarray(mask),
                  globals=jnp.asarray(globals_))


def make_population(rng, space, n, n_active=None) -> tuple[Genome, Genome]:
    """``n`` random genomes (as `make_genome`, vectorised): NumPy and JAX copies."""
    bsizes, gsizes = sizes_of(space)
    blocks = rng.integers(0, bsizes, (n,) + bsizes.shape).astype(np.int32)
    junk = rng.integers(10, 99, blocks.shape).astype(np.int32)
    if n_active is None:
        n_active = rng.integers(1, space.max_blocks + 1, (n, 1))
    mask = np.broadcast_to(np.arange(space.max_blocks)[None, :] < n_active, (n, space.max_blocks))
    blocks = np.where(mask[..., None], blocks, junk)
    globals_ = rng.integers(0, np.maximum(gsizes, 1), (n, len(gsizes))).astype(np.int32)
    pop = Genome(blocks=blocks, block_mask=mask, globals=globals_)
    return pop, jax.tree.map(jnp.asarray, pop)


def repeat(genome: Genome, n: int) -> Genome:
    return jax.tree.map(lambda x: jnp.broadcast_to(x, (n,) + x.shape), genome)


def stack(trees):
    return jax.tree.map(lambda *x: np.stack([np.asarray(v) for v in x]), *trees)


def item(tree, i):
    return jax.tree.map(lambda x: jnp.asarray(x[i]), tree)


def make_mask(rng: np.random.Generator, space: SearchSpace, kind: int) -> GeneMask:
    if kind == 0:  # everything
        return GeneMask(blocks=np.ones((space.max_blocks, space.n_block_genes), bool),
                        globals=np.ones(space.n_global_genes, bool))
    if kind == 1:  # a VLGA phase: one block
        block = int(rng.integers(0, space.max_blocks))
        return block_mutable_mask(space, block, globals_mutable=bool(rng.integers(0, 2)))
    return GeneMask(  # random
        blocks=jnp.asarray(rng.random((space.max_blocks, space.n_block_genes)) < 0.4),
        globals=jnp.asarray(rng.random(space.n_global_genes) < 0.4))


def flat(g) -> np.ndarray:
    """[..., B*G + H]: blocks row-major then globals, for one genome or a population."""
    blocks = np.asarray(g.blocks)
    lead = blocks.shape[:-2]
    return np.concatenate([blocks.reshape(lead + (-1,)),
                           np.asarray(g.globals).reshape(lead + (-1,))], axis=-1)


def candidates(space: SearchSpace, genome: Genome, mask: GeneMask) -> np.ndarray:
    """bool[B*G + H]: genes `mutate` may change (mutable, read by `decode`, table >= 2)."""
    described = decode(genome, space)
    active_slots = np.flatnonzero(np.asarray(genome.block_mask))
    read = np.zeros((space.max_blocks, space.n_block_genes), bool)
    for slot, block in zip(active_slots, described["blocks"], strict=True):
        read[slot] = [g.name in block for g in space.block_genes]
    read_globals = [g.name in described["globals"] for g in space.global_genes]
    act = np.concatenate([read.reshape(-1), np.asarray(read_globals, bool)])
    return flat(mask).astype(bool) & act & (flat_sizes(space) >= 2)


def assert_in_tables(space: SearchSpace, genome: Genome) -> None:
    bsizes, gsizes = sizes_of(space)
    blocks = np.asarray(genome.blocks)[np.asarray(genome.block_mask)]
    assert ((blocks >= 0) & (blocks < bsizes[: len(blocks)])).all()
    g = np.asarray(genome.globals)
    assert ((g >= 0) & (g < gsizes)).all()


def assert_same(x, y) -> None:
    for a, b in zip(jax.tree.leaves(x), jax.tree.leaves(y), strict=True):
        np.testing.assert_array_equal(np.asarray(a), np.asarray(b))


def within(count: int, n: int, p: float, sigmas: float = 5.0) -> bool:
    """|count - n p| within ``sigmas`` binomial standard deviations (plus 1 for p ~ 0)."""
    return abs(count - n * p) <= sigmas * math.sqrt(n * p * (1 - p)) + 1


case = st.tuples(st.sampled_from(sorted(SPACES)), st.integers(0, 2**31 - 1),
                 st.integers(0, 2))


def draw_case(space_name, seed, mask_kind):
    space = SPACES[space_name]
    rng = np.random.default_rng(seed)
    n_active = int(rng.integers(1, space.max_blocks + 1))
    genome = make_genome(rng, space, n_active)
    mask = make_mask(rng, space, mask_kind)
    return space, genome, mask, jax.random.key(seed)


# -- validation ------------------------------------------------------------------------

@pytest.mark.parametrize("value", [-0.1, 1.5, float("nan"), "0.2", None, True])
def test_check_rate_rejects(value):
    with pytest.raises(ValueError, match=r"mutation_rate must be in \[0, 1\], got"):
        ops.check_rate("mutation_rate", value)


@pytest.mark.parametrize("value", [0, 1, 0.2, np.float32(0.5)])
def test_check_rate_accepts(value):
    assert ops.check_rate("r", value) == pytest.approx(float(value))


@pytest.mark.parametrize("n", [1, 0, -3, 2.5, "4", True])
def test_check_population_size_rejects(n):
    with pytest.raises(ValueError, match="population size must be >= 2, got"):
        ops.check_population_size(n)


def test_check_population_size_accepts():
    assert ops.check_population_size(2) == 2
    assert ops.check_population_size(np.int64(20)) == 20


def test_entry_points_validate_arguments():
    """Errors raise before any tracing or compiling, naming the argument."""
    key = jax.random.key(0)
    pop_np, pop = make_population(np.random.default_rng(0), XIAO, 2)
    genomes = [item(pop_np, 0), item(pop_np, 1)]
    fit = jnp.array([0.1, 0.2, 0.3])
    with pytest.raises(ValueError, match="rate must be in"):
        ops.mutate_population(key, pop, XIAO, None, 1.2)
    with pytest.raises(ValueError, match="gene_rate must be in"):
        ops.mutate_population(key, pop, XIAO, None, 0.2, mode="per_gene", gene_rate=-1.0)
    with pytest.raises(ValueError, match="gene_rate must be in"):
        ops.mutate(key, genomes[0], XIAO, mode="per_gene",
                  gene_rate=GeneMask(blocks=np.full((4, 10), 2.0), globals=np.zeros(5)))
    with pytest.raises(ValueError, match="mode must be one of"):
        ops.mutate(key, genomes[0], XIAO, mode="all")
    with pytest.raises(ValueError, match="one genome"):
        ops.mutate(key, pop, XIAO)
    with pytest.raises(ValueError, match="do not match the space"):
        ops.mutate(key, genomes[0], SPACES["tiny"])
    with pytest.raises(ValueError, match="mutable mask shapes"):
        ops.mutate(key, genomes[0], XIAO, make_mask(np.random.default_rng(0), SPACES["tiny"], 0))
    with pytest.raises(ValueError, match="fit_survival_rate must be in"):
        ops.select_survivors(key, fit, 1.5)
    with pytest.raises(ValueError, match="unfit_survival_prob must be in"):
        ops.select_survivors(key, fit, 0.5, -0.2)
    with pytest.raises(ValueError, match="population size must be >= 2, got 1"):
        ops.select_survivors(key, jnp.array([0.5]))
    with pytest.raises(ValueError, match="population size must be >= 2, got 1"):
        ops.select_parents(key, jnp.array([0.5]), 2)
    with pytest.raises(ValueError, match="method must be one of"):
        ops.select_parents(key, fit, 2, "roulette")
    with pytest.raises(ValueError, match="tournament_size"):
        ops.select_parents(key, fit, 2, "tournament", tournament_size=0)
    with pytest.raises(ValueError, match="temperature"):
        ops.select_parents(key, fit, 2, "softmax", temperature=0.0)
    with pytest.raises(ValueError, match="n_pairs"):
        ops.select_parents(key, fit, -1)
    with pytest.raises(ValueError, match="eligible"):
        ops.select_parents(key, fit, 2, eligible=jnp.ones(4, bool))
    with pytest.raises(ValueError, match="method must be one of"):
        ops.crossover(key, genomes[0], genomes[1], None, "two_point")
    with pytest.raises(ValueError, match="pairs"):
        ops.crossover_population(key, pop, jnp.zeros((3,), jnp.int32))


# -- mutation --------------------------------------------------------------------------

@prop
@given(case, st.sampled_from(ops.MUTATION_MODES))
def test_mutate_invariants(c, mode):
    space, genome, mask, key = draw_case(*c)
    out = mutate(key, genome, space, mask, mode)
    assert_in_tables(space, out)
    np.testing.assert_array_equal(np.asarray(out.block_mask), np.asarray(genome.block_mask))
    can = candidates(space, genome, mask)
    changed = flat(out) != flat(genome)
    assert not (changed & ~can).any(), "changed a masked slot or a non-mutable gene"
    if mode == "one":
        assert changed.sum() == (1 if can.any() else 0)
    assert_same(out, mutate(key, genome, space, mask, mode))  # deterministic for a key


@prop
@given(st.integers(0, 2**31 - 1), st.integers(0, 2), st.sampled_from(ops.MUTATION_MODES))
def test_mutate_vmap_matches_unbatched(seed, mask_kind, mode):
    rng = np.random.default_rng(seed)
    mask = make_mask(rng, XIAO, mask_kind)
    pop_np, pop = make_population(rng, XIAO, N_DRAWS)
    keys = jax.random.split(jax.random.key(seed), N_DRAWS)
    batched_np = jax.tree.map(np.asarray, vmutate(keys, pop, XIAO, mask, mode))
    for i in rng.choice(N_DRAWS, 3, replace=False):
        assert_same(item(batched_np, i), mutate(keys[i], item(pop_np, i), XIAO, mask, mode))


def test_mutate_jit_matches_eager():
    for mode in ops.MUTATION_MODES:
        space, genome, mask, key = draw_case("xiao", 1, 2)
        rate = gene_rates(space, 0.5) if mode == "per_gene" else None
        assert_same(ops.mutate(key, genome, space, mask, mode=mode, gene_rate=rate),
                    mutate(key, genome, space, mask, mode))


def test_mutate_accepts_table_sizes_instead_of_space():
    space, genome, mask, key = draw_case("xiao", 3, 0)
    # Every conditional gene expressed: table sizes (no requires known) pick the same genes.
    for name in ("include_b", "include_pool"):
        genome = genome.replace(blocks=genome.blocks.at[:, space.block_column(name)].set(1))
    sizes = (jnp.asarray(space.block_sizes), jnp.asarray(space.global_sizes))
    traced = jax.jit(ops.mutate)(key, genome, sizes, mask)  # sizes traced
    assert_same(traced, mutate(key, genome, space, mask, "one"))


def test_mutate_nothing_mutable_is_identity():
    for name, mode in itertools.product(SPACES, ops.MUTATION_MODES):
        space, genome, _, key = draw_case(name, 5, 0)
        none = GeneMask(blocks=np.zeros((space.max_blocks, space.n_block_genes), bool),
                        globals=np.zeros(space.n_global_genes, bool))
        assert_same(mutate(key, genome, space, none, mode), genome)
    # Only the size-1 gene mutable: still nothing to do.
    space, genome, _, key = draw_case("tiny", 6, 0)
    only_fixed = GeneMask(blocks=np.zeros((3, 3), bool), globals=np.zeros(0, bool))
    only_fixed.blocks[:, 1] = True
    assert_same(mutate(key, genome, space, only_fixed, "one"), genome)


def test_mutate_one_is_uniform_over_genes_and_other_values():
    genome = make_genome(np.random.default_rng(7), XIAO, 2)
    pop = repeat(genome, N_DRAWS)
    mask = block_mutable_mask(XIAO, 1, globals_mutable=True)
    can = candidates(XIAO, genome, mask)
    keys = jax.random.split(jax.random.key(11), N_DRAWS)
    after = flat(vmutate(keys, pop, XIAO, mask, "one"))
    before = flat(genome)
    changed = after != before
    assert (changed.sum(axis=1) == 1).all()
    counts = changed.sum(axis=0)
    assert counts[~can].sum() == 0
    for j in np.flatnonzero(can):  # block 1's 10 genes and 5 globals
        assert within(counts[j], N_DRAWS, 1 / can.sum()), (j, counts[j])
    # New values: uniform among the size - 1 others, pooled over the candidate genes.
    sizes = flat_sizes(XIAO)
    for j in np.flatnonzero(can):
        new = after[changed[:, j], j]
        assert (new != before[j]).all() and ((new >= 0) & (new < sizes[j])).all()
    j = int(np.flatnonzero(can)[0])  # channels_a of block 1: 7 values
    new = after[changed[:, j], j]
    for v in range(sizes[j]):
        expected = 0 if v == before[j] else 1 / (sizes[j] - 1)
        assert within((new == v).sum(), len(new), expected), (v, (new == v).sum())


def test_mutate_per_gene_frequencies():
    genome = make_genome(np.random.default_rng(3), XIAO, 3)
    pop = repeat(genome, N_DRAWS)
    mask = make_mask(np.random.default_rng(0), XIAO, 0)
    rng = np.random.default_rng(1)
    rates = GeneMask(blocks=jnp.asarray(rng.choice([0.0, 0.05, 0.3, 0.9, 1.0], (4, 10)),
                                        jnp.float32),
                     globals=jnp.asarray([0.5, 0.0, 1.0, 0.2, 0.7], jnp.float32))
    keys = jax.random.split(jax.random.key(5), N_DRAWS)
    changed = flat(vmutate(keys, pop, XIAO, mask, "per_gene", rates)) != flat(genome)
    can = candidates(XIAO, genome, mask)
    for j, p in enumerate(flat(rates)):
        p = float(p) if can[j] else 0.0
        assert within(changed[:, j].sum(), N_DRAWS, p), (j, changed[:, j].sum(), p)


def test_mutate_per_gene_default_rate_is_one_over_candidates():
    space, genome, mask, _ = draw_case("xiao", 4, 2)
    n_can = candidates(space, genome, mask).sum()
    keys = jax.random.split(jax.random.key(6), 20)
    for i in range(len(keys)):  # the same draws as an explicit rate 1 / n_can
        assert_same(ops.mutate(keys[i], genome, space, mask, mode="per_gene"),
                    mutate_rate(keys[i], genome, space, mask, np.full_like(
                        np.asarray(gene_rates(space, 0.0).blocks), 1 / n_can), 1 / n_can))


@prop
@given(st.integers(0, 2**31 - 1), st.integers(0, 2), st.booleans())
def test_mutate_population_invariants(seed, mask_kind, per_individual):
    rng = np.random.default_rng(seed)
    pop_np, pop = make_population(rng, XIAO, POP)
    genomes = [item(pop_np, i) for i in range(POP)]
    masks = [make_mask(rng, XIAO, mask_kind) for _ in range(POP)]
    mutable = stack(masks) if per_individual else masks[0]
    masks = masks if per_individual else [masks[0]] * POP
    key = jax.random.key(seed)
    out, mutated = MUTATE_POP(key, pop, XIAO, mutable, 0.5)
    assert_same(MUTATE_POP(key, pop, XIAO, mutable, 0.5), (out, mutated))
    out = jax.tree.map(np.asarray, out)
    for i, g in enumerate(genomes):
        gi = item(out, i)
        assert_in_tables(XIAO, gi)
        changed = flat(gi) != flat(g)
        assert not (changed & ~candidates(XIAO, g, masks[i])).any()
        assert bool(mutated[i]) == bool(changed.any())
        assert changed.sum() <= 1


def test_mutate_population_rate_frequency():
    rng = np.random.default_rng(0)
    _, pop = make_population(rng, XIAO, POP, n_active=3)
    mask = make_mask(rng, XIAO, 0)
    keys = jax.random.split(jax.random.key(3), 500)
    mutated = np.stack([np.asarray(MUTATE_POP(keys[i], pop, XIAO, mask, 0.2)[1])
                        for i in range(len(keys))])
    assert within(int(mutated.sum()), mutated.size, 0.2)  # every candidate can mutate
    _, none = MUTATE_POP(jax.random.key(1), pop, XIAO, mask, 0.0)
    assert not bool(none.any())
    _, every = MUTATE_POP(jax.random.key(1), pop, XIAO, mask, 1.0)
    assert bool(every.all())


# -- crossover -------------------------------------------------------------------------

def pair_case(c):
    space, a, mask, key = draw_case(*c)
    rng = np.random.default_rng(c[1] + 3)
    n_a = int(np.asarray(a.block_mask).sum())
    n_b = int(rng.integers(1, space.max_blocks + 1)) if rng.random() < 0.3 else n_a
    return space, a, make_genome(rng, space, n_b), mask, key


def crossover_candidates(space, a, b, mask) -> np.ndarray:
    """bool[B*G + H]: genes a child may take from b (mutable, active in a and b)."""
    n = min(int(np.asarray(a.block_mask).sum()), int(np.asarray(b.block_mask).sum()))
    both = GeneMask(blocks=np.asarray(mask.blocks) & (np.arange(space.max_blocks) < n)[:, None],
                    globals=np.asarray(mask.globals))
    return flat(both).astype(bool)


def check_child(space, a, b, mask, child, method):
    np.testing.assert_array_equal(np.asarray(child.block_mask), np.asarray(a.block_mask))
    assert_in_tables(space, child)
    can = crossover_candidates(space, a, b, mask)
    fa, fb, fc = flat(a), flat(b), flat(child)
    assert (fc[~can] == fa[~can]).all(), "masked slots and non-mutable genes come from a"
    assert ((fc == fa) | (fc == fb)).all()
    if method == "one_point":
        # Among candidates where the parents differ, those taken from b form a suffix.
        from_b = (fc != fa)[can][(fa != fb)[can]]
        assert (np.diff(from_b.astype(int)) >= 0).all()


@prop
@given(case, st.sampled_from(ops.CROSSOVER_METHODS))
def test_crossover_invariants(c, method):
    space, a, b, mask, key = pair_case(c)
    child = CROSS(key, a, b, mask, method)
    assert_same(child, CROSS(key, a, b, mask, method))
    check_child(space, a, b, mask, child, method)


@prop
@given(st.integers(0, 2**31 - 1), st.integers(0, 2), st.sampled_from(ops.CROSSOVER_METHODS))
def test_crossover_population_matches_unbatched(seed, mask_kind, method):
    space, a, b, mask, key = pair_case(("xiao", seed, mask_kind))
    pop = stack([a, b, a])
    rng = np.random.default_rng(seed)
    pairs = rng.integers(0, 3, (N_DRAWS, 2)).astype(np.int32)
    children = jax.tree.map(np.asarray, CROSS_POP(key, pop, jnp.asarray(pairs), mask, method))
    keys = jax.random.split(key, N_DRAWS)
    members = [a, b, a]
    for i in rng.choice(N_DRAWS, 3, replace=False):
        x, y = members[pairs[i, 0]], members[pairs[i, 1]]
        expected = CROSS(keys[i], x, y, mask, method)
        assert_same(item(children, i), expected)
        check_child(space, x, y, mask, expected, method)



def opposite_children(method, mask, seed):
    """N_DRAWS children of parents that differ in every active gene, and the parents."""
    a = make_genome(np.random.default_rng(seed), XIAO, 3)
    bsizes, gsizes = sizes_of(XIAO)
    blocks, block_mask = np.asarray(a.blocks), np.asarray(a.block_mask)
    b = a.replace(blocks=np.where(block_mask[:, None], (blocks + 1) % bsizes, blocks),
                  globals=(np.asarray(a.globals) + 1) % gsizes)
    pairs = np.tile(np.array([[0, 1]], np.int32), (N_DRAWS, 1))
    kids = CROSS_POP(jax.random.key(seed), stack([a, b, a]), pairs, mask, method)
    return flat(kids), flat(a), flat(b)


def test_uniform_crossover_half_from_each():
    mask = make_mask(np.random.default_rng(0), XIAO, 0)
    kids, fa, fb = opposite_children("uniform", mask, 0)
    from_b = (kids == fb) & (fa != fb)
    can = fa != fb  # the active genes: 3 blocks and the globals
    for j in np.flatnonzero(can):
        assert within(from_b[:, j].sum(), N_DRAWS, 0.5)
    assert ((kids == fa) | from_b).all()


def test_one_point_cut_is_uniform():
    mask = GeneMask(blocks=np.arange(4)[:, None] > np.zeros((4, 10)), globals=np.ones(5, bool))
    kids, fa, fb = opposite_children("one_point", mask, 1)
    can = flat(mask).astype(bool) & (fa != fb)  # blocks 1 and 2, and the globals
    n_can = 2 * 10 + 5
    assert can.sum() == n_can
    from_b = (kids == fb)[:, can]
    assert ((kids == fa) | (kids == fb)).all() and (kids[:, ~can] == fa[~can]).all()
    cut = n_can - from_b.sum(axis=1)
    for row, c in zip(from_b, cut, strict=True):  # prefix from a, suffix from b
        assert not row[:c].any() and row[c:].all()
    assert ((cut >= 1) & (cut <= n_can - 1)).all()
    for c in range(1, n_can):
        assert within((cut == c).sum(), N_DRAWS, 1 / (n_can - 1)), (c, (cut == c).sum())


def test_one_point_globals_first_cuts_the_globals_before_the_blocks():
    space = SearchSpace((Gene("w", (0, 1)),), (Gene("g", (0, 1)), Gene("h", (0, 1))),
                        max_blocks=3, globals_first=True)
    a = Genome(blocks=jnp.zeros((3, 1), jnp.int32), block_mask=jnp.ones(3, bool),
               globals=jnp.zeros(2, jnp.int32))
    b = a.replace(blocks=a.blocks + 1, globals=a.globals + 1)
    keys = jax.random.split(jax.random.key(0), 400)
    kids = jax.vmap(lambda k: ops.crossover(k, a, b, None, "one_point",
                                            space.globals_first))(keys)
    # The chromosome order: globals (g, h), then the blocks; a's prefix, b's suffix.
    order = np.concatenate([np.asarray(kids.globals), np.asarray(kids.blocks)[..., 0]], axis=1)
    assert (np.diff(order, axis=1) >= 0).all()
    cuts = 5 - order.sum(axis=1)
    assert set(cuts.tolist()) == {1, 2, 3, 4}


def test_one_point_with_fewer_than_two_candidates_returns_a():
    space, a, _, key = draw_case("xiao", 2, 0)
    b = make_genome(np.random.default_rng(9), space, 4)
    one = GeneMask(blocks=np.zeros((4, 10), bool), globals=np.zeros(5, bool))
    one.blocks[0, 0] = True
    assert_same(CROSS(key, a, b, one, "one_point"), a)


# -- survivor selection ----------------------------------------------------------------

def expected_top(fit: np.ndarray, rate: float) -> list[int]:
    ok = ~np.isnan(fit) & (fit != -np.inf)
    k = math.ceil(round(rate * len(fit), 9))
    return sorted(sorted(np.flatnonzero(ok), key=lambda i: (-fit[i], i))[:k])


@prop
@given(st.sampled_from(SURVIVOR_SIZES), st.integers(0, 2**31 - 1),
       st.sampled_from([0.0, 0.2, 0.3, 0.5, 0.7, 1.0]))
def test_survivors_include_exactly_the_top(p, seed, rate):
    rng = np.random.default_rng(seed)
    fit = (rng.integers(0, 5, p) / 4).astype(np.float32)  # many ties
    fit[rng.random(p) < 0.2] = np.nan
    fit[rng.random(p) < 0.1] = -np.inf
    ok = ~np.isnan(fit) & (fit != -np.inf)
    key = jax.random.key(seed)
    f = jnp.asarray(fit)
    survivors = np.asarray(SURVIVORS(key, f, jnp.float32(rate), jnp.float32(0.0)))
    np.testing.assert_array_equal(np.flatnonzero(survivors), expected_top(fit, rate))
    lucky = np.asarray(SURVIVORS(key, f, jnp.float32(rate), jnp.float32(1.0)))
    np.testing.assert_array_equal(lucky, ok)
    some = np.asarray(SURVIVORS(key, f, jnp.float32(rate), jnp.float32(0.5)))
    assert set(expected_top(fit, rate)) <= set(np.flatnonzero(some)) <= set(np.flatnonzero(ok))


def test_survivors_python_rates_round_up():
    """Python-number rates take the exact (host) path; arrays the float32 one."""
    for p, rate, k in [(20, 0.3, 6), (20, 0.5, 10), (20, 0.33, 7), (20, 0.0, 0), (20, 1, 20),
                       (7, 0.5, 4), (2, 0.5, 1), (7, 0.3, 3)]:
        fit = jnp.arange(p, dtype=jnp.float32)
        if p == 20:
            s = np.asarray(ops.select_survivors(jax.random.key(0), fit, rate, 0.0))
            np.testing.assert_array_equal(np.flatnonzero(s), np.arange(p - k, p))
        s = np.asarray(SURVIVORS(jax.random.key(0), fit, jnp.float32(rate), ZERO))
        np.testing.assert_array_equal(np.flatnonzero(s), np.arange(p - k, p))


def test_survivors_defaults_are_the_papers():
    f = np.random.default_rng(0).permutation(20).astype(np.float32)
    f[3], f[5] = np.nan, -np.inf
    fit = jnp.asarray(f)
    top = expected_top(f, 0.5)
    assert len(top) == 10
    others = [i for i in range(20) if i not in top and i not in (3, 5)]
    keys = jax.random.split(jax.random.key(42), 1000)
    s = np.stack([np.asarray(SURVIVORS(keys[i], fit, HALF, jnp.float32(0.2)))
                  for i in range(len(keys))])
    np.testing.assert_array_equal(s[0], np.asarray(ops.select_survivors(keys[0], fit)))
    assert s[:, top].all()
    assert not s[:, [3, 5]].any()
    assert within(int(s[:, others].sum()), s.shape[0] * len(others), 0.2)
    for i in others:
        assert within(int(s[:, i].sum()), s.shape[0], 0.2)


def test_failed_candidates_never_survive_or_count():
    fit = np.array([np.nan, -np.inf, 0.1, np.nan, 0.05, 0.2, 0.3], np.float32)
    s = SURVIVORS(jax.random.key(0), jnp.asarray(fit), ONE, ONE)
    np.testing.assert_array_equal(np.asarray(s), [0, 0, 1, 0, 1, 1, 1])
    s = SURVIVORS(jax.random.key(0), jnp.asarray(np.full(7, np.nan, np.float32)), HALF, ONE)
    assert not bool(s.any())
    # Fewer non-failed candidates than ceil(0.5 * 7) = 4: all of them are the top.
    fit = np.array([np.nan, 0.4, -np.inf, np.nan, 0.3, np.nan, np.nan], np.float32)
    s = SURVIVORS(jax.random.key(0), jnp.asarray(fit), HALF, ZERO)
    np.testing.assert_array_equal(np.asarray(s), [0, 1, 0, 0, 1, 0, 0])
    # +inf is the best fitness, not a failure.
    fit = np.array([1.0, np.inf, 0.0, 2.0, 0.5, 0.1, 0.2], np.float32)
    s = SURVIVORS(jax.random.key(0), jnp.asarray(fit), jnp.float32(0.2), ZERO)
    np.testing.assert_array_equal(np.asarray(s), [0, 1, 0, 1, 0, 0, 0])


# -- parent selection ------------------------------------------------------------------

def exact_weights(f: np.ndarray, ok: np.ndarray, method: str, temperature=1.0, k=3):
    """First-parent probabilities, computed independently of the library (float64)."""
    f = f.astype(np.float64)
    p = np.zeros(len(f))
    idx = np.flatnonzero(ok)
    if method == "uniform":
        p[idx] = 1.0
    elif method == "fitness":
        p[idx] = f[idx] - min(0.0, f[idx].min()) + ops.FITNESS_EPS
    elif method == "softmax":
        p[idx] = np.exp((f[idx] - f[idx].max()) / temperature)
    elif method == "rank":
        for i in idx:
            p[i] = 1 + (f[idx] < f[i]).sum() + ((f[idx] == f[i]).sum() - 1) / 2
    else:  # tournament: enumerate all n^k equally likely draws; ties go to the first drawn
        for draw in itertools.product(idx, repeat=k):
            p[max(draw, key=lambda i, d=draw: (f[i], -d.index(i)))] += 1
    return p / p.sum()


def exact_second(f, ok, method, **kw):
    """Marginal law of the second parent: the first one removed, weights renormalised."""
    p1 = exact_weights(f, ok, method, **kw)
    p2 = np.zeros(len(f))
    for i in np.flatnonzero(p1):
        if method == "tournament":
            rest = ok.copy()
            rest[i] = False
            q = exact_weights(f, rest, method, **kw)
        else:
            q = p1.copy()
            q[i] = 0
            q = q / q.sum()
        p2 += p1[i] * q
    return p2


FIT = np.array([0.3, np.nan, 0.9, 0.1, -np.inf, 0.5, 0.5, 0.7, 0.2, 0.05], np.float32)
ELIGIBLE = np.array([1, 1, 1, 1, 1, 1, 1, 1, 0, 1], bool)


@pytest.mark.parametrize("method", ops.PARENT_METHODS)
@pytest.mark.parametrize("shift", [0.0, -0.6])
def test_parent_frequencies_match_exact_law(method, shift):
    """Both columns against their exact laws (with NaN, -inf, ineligible and tied fitness)."""
    f = FIT + np.float32(shift)  # -0.6: negative fitness, the shifted "fitness" weights
    ok = ~np.isnan(f) & (f != -np.inf) & ELIGIBLE
    temperature = 0.25 if method == "softmax" else 1.0
    pairs = parents(jax.random.key(123), f, method, ELIGIBLE, temperature)
    assert pairs.shape == (N_DRAWS, 2) and pairs.dtype == np.int32
    assert ok[pairs].all(), "a failed or ineligible candidate was chosen"
    assert (pairs[:, 0] != pairs[:, 1]).all()
    p1 = exact_weights(f, ok, method, temperature=temperature)
    p2 = exact_second(f, ok, method, temperature=temperature)
    for i in range(N_FIT):
        c1, c2 = (pairs[:, 0] == i).sum(), (pairs[:, 1] == i).sum()
        assert within(c1, N_DRAWS, p1[i]), (i, c1, N_DRAWS * p1[i])
        assert within(c2, N_DRAWS, p2[i]), (i, c2, N_DRAWS * p2[i])
    lib = PROBS(jnp.asarray(f), jnp.asarray(ELIGIBLE), temperature)[method]
    np.testing.assert_allclose(np.asarray(lib), p1, atol=1e-5)


def test_selection_laws_are_distinct():
    f = np.nan_to_num(FIT, nan=0.0, neginf=0.0)  # 0.9 is the best of 10, sum 3.25
    ok = np.ones(N_FIT, bool)
    best = int(np.argmax(f))
    probs = {m: exact_weights(f, ok, m)[best] for m in ops.PARENT_METHODS}
    assert probs["uniform"] == pytest.approx(0.1)
    assert probs["fitness"] == pytest.approx(0.9 / 3.25, rel=1e-4)
    assert probs["rank"] == pytest.approx(10 / 55)
    assert probs["tournament"] == pytest.approx(1 - 0.9**3)
    for method in ops.PARENT_METHODS:  # and the sampler follows each of them
        count = (parents(jax.random.key(7), f, method)[:, 0] == best).sum()
        assert within(count, N_DRAWS, probs[method]), (method, count)
    cold = parents(jax.random.key(7), f, "softmax", temperature=0.01)
    assert (cold[:, 0] == best).mean() > 0.99


def test_tournament_size_changes_law():
    f = np.array([0.1, 0.2, 0.3, 0.4], np.float32)
    ok = np.ones(4, bool)
    for k in (1, 2, 5):
        lib = ops.parent_probabilities(jnp.asarray(f), "tournament", tournament_size=k)
        np.testing.assert_allclose(np.asarray(lib), exact_weights(f, ok, "tournament", k=k),
                                   atol=1e-6)
    f = np.full(N_FIT, np.nan, np.float32)
    f[:4] = [0.1, 0.2, 0.3, 0.4]
    pairs = np.asarray(PARENTS(jax.random.key(0), jnp.asarray(f), N_DRAWS, "tournament",
                               eligible=np.ones(N_FIT, bool), temperature=1.0,
                               tournament_size=1))
    for i in range(4):  # best of one draw: uniform
        assert within((pairs[:, 0] == i).sum(), N_DRAWS, 0.25)


@pytest.mark.parametrize("method", ops.PARENT_METHODS)
def test_single_eligible_pairs_with_itself(method):
    f = np.full(N_FIT, np.nan, np.float32)
    f[[1, 3, 4]] = [0.4, 0.9, -np.inf]
    eligible = np.ones(N_FIT, bool)
    eligible[3] = False
    assert (parents(jax.random.key(0), f, method, eligible) == 1).all()


@pytest.mark.parametrize("method", ops.PARENT_METHODS)
def test_no_eligible_gives_defined_indices(method):
    f = np.full(N_FIT, np.nan, np.float32)
    f[[1, 2]] = [-np.inf, 0.2]
    eligible = np.ones(N_FIT, bool)
    eligible[2] = False
    assert (parents(jax.random.key(0), f, method, eligible) == 2).all()
    pairs = parents(jax.random.key(0), np.full(N_FIT, np.nan, np.float32), method)
    assert ((pairs >= 0) & (pairs < N_FIT)).all()


@pytest.mark.parametrize("method", ["fitness", "softmax"])
def test_plus_inf_fitness_takes_all_weight(method):
    f = np.full(N_FIT, np.nan, np.float32)
    f[:3] = [0.1, np.inf, 0.5]
    pairs = parents(jax.random.key(1), f, method)
    assert (pairs[:, 0] == 1).all()
    assert np.isin(pairs[:, 1], [0, 2]).all()


@prop
@given(st.integers(0, 2**31 - 1), st.sampled_from(ops.PARENT_METHODS))
def test_parents_never_failed_and_deterministic(seed, method):
    rng = np.random.default_rng(seed)
    f = rng.normal(size=N_FIT).astype(np.float32)
    f[rng.random(N_FIT) < 0.3] = np.nan
    f[rng.random(N_FIT) < 0.1] = -np.inf
    eligible = rng.random(N_FIT) < 0.8
    ok = ~np.isnan(f) & (f != -np.inf) & eligible
    key = jax.random.key(seed)
    pairs = parents(key, f, method, eligible)
    np.testing.assert_array_equal(pairs, parents(key, f, method, eligible))
    if ok.sum() >= 1:
        assert ok[pairs].all()
    if ok.sum() >= 2:
        assert (pairs[:, 0] != pairs[:, 1]).all()
    else:
        assert (pairs[:, 0] == pairs[:, 1]).all()


def test_select_parents_zero_pairs():
    assert ops.select_parents(jax.random.key(0), jnp.asarray(FIT), 0).shape == (0, 2)
