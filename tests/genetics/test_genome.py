"""Tests of genome arrays: random init, masks, decode/encode/JSON, canonical hashing."""

from __future__ import annotations

import hashlib
import json

import jax
import jax.numpy as jnp
import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from vlga_jax.genetics import genome as gm
from vlga_jax.genetics.genome import Genome
from vlga_jax.genetics.space import Gene, SearchSpace, mlp, xiao2020

SPACES = {"xiao": xiao2020(4, training_genes=True), "mlp": mlp(3)}
XIAO = SPACES["xiao"]
prop = settings(max_examples=25, deadline=None)

seeds = st.integers(0, 2**31 - 1)


def draw(space_name: str, seed: int) -> tuple[SearchSpace, Genome, int]:
    space = SPACES[space_name]
    n_active = 1 + seed % space.max_blocks
    return space, gm.random_genome(jax.random.key(seed), space, n_active), n_active


def numpy_genome(g: Genome) -> Genome:
    return jax.tree.map(np.asarray, g)


def with_junk(g: Genome, seed: int) -> Genome:
    """The same network with random values written into the masked slots."""
    g = numpy_genome(g)
    junk = np.random.default_rng(seed).integers(0, 2, g.blocks.shape).astype(np.int32)
    return g.replace(blocks=np.where(g.block_mask[:, None], g.blocks, junk))


# -- random init -----------------------------------------------------------------------

@prop
@given(st.sampled_from(sorted(SPACES)), seeds)
def test_random_genome_within_tables(space_name, seed):
    space, g, n_active = draw(space_name, seed)
    g = numpy_genome(g)
    assert g.blocks.shape == (space.max_blocks, space.n_block_genes)
    assert g.blocks.dtype == np.int32 and g.globals.dtype == np.int32
    assert g.block_mask.dtype == np.bool_
    np.testing.assert_array_equal(g.block_mask, np.arange(space.max_blocks) < n_active)
    assert int(gm.Genome.n_active.fget(g)) == n_active
    active = g.blocks[:n_active]
    assert ((active >= 0) & (active < space.block_sizes)).all()
    assert (g.blocks[n_active:] == 0).all(), "masked slots are zero"
    assert ((g.globals >= 0) & (g.globals < space.global_sizes)).all()


def test_random_genome_is_deterministic_and_varied():
    a = gm.random_genome(jax.random.key(3), XIAO, 2)
    b = gm.random_genome(jax.random.key(3), XIAO, 2)
    c = gm.random_genome(jax.random.key(4), XIAO, 2)
    np.testing.assert_array_equal(np.asarray(a.blocks), np.asarray(b.blocks))
    assert gm.genome_hash(a, XIAO) != gm.genome_hash(c, XIAO)


@pytest.fixture(scope="module")
def population() -> Genome:
    return gm.random_population(jax.random.key(1), XIAO, 200, 3)


def test_random_values_cover_tables(population):
    pop = numpy_genome(population)
    assert (pop.blocks[:, 3:] == 0).all()
    pop = pop.replace(blocks=pop.blocks[:, :3])
    for c, gene in enumerate(XIAO.block_genes):
        assert set(np.unique(pop.blocks[:, :, c])) == set(range(gene.size)), gene.name
    for c, gene in enumerate(XIAO.global_genes):
        assert set(np.unique(pop.globals[:, c])) == set(range(gene.size)), gene.name


def test_n_active_and_size_bounds():
    key = jax.random.key(0)
    for bad in (0, XIAO.max_blocks + 1, -1):
        with pytest.raises(ValueError, match="n_active must be in"):
            gm.random_genome(key, XIAO, bad)
        with pytest.raises(ValueError, match="n_active must be in"):
            gm.random_population(key, XIAO, 3, bad)
    with pytest.raises(ValueError, match="population size must be >= 1"):
        gm.random_population(key, XIAO, 0, 1)


def test_random_population_shapes_and_n_active(population):
    pop = population
    assert pop.blocks.shape == (200, XIAO.max_blocks, XIAO.n_block_genes)
    assert pop.block_mask.shape == (200, XIAO.max_blocks)
    assert pop.globals.shape == (200, XIAO.n_global_genes)
    np.testing.assert_array_equal(np.asarray(pop.n_active), [3] * 200)
    genomes = gm.unstack(pop)
    assert len(genomes) == 200 and len({gm.genome_hash(g, XIAO) for g in genomes}) == 200
    back = gm.stack(genomes[:5])
    assert back.blocks.shape == (5, XIAO.max_blocks, XIAO.n_block_genes)
    np.testing.assert_array_equal(np.asarray(back.blocks), np.asarray(pop.blocks[:5]))
    with pytest.raises(ValueError, match="at least one"):
        gm.stack([])


def test_masks():
    full = gm.full_mask(XIAO)
    assert full.blocks.shape == (4, 10) and bool(full.blocks.all()) and bool(full.globals.all())
    assert not bool(gm.full_mask(XIAO, False).blocks.any())
    m = gm.block_mutable_mask(XIAO, 2, globals_mutable=False, frozen_genes=("kernel_a",))
    blocks = np.asarray(m.blocks)
    assert blocks[2].sum() == XIAO.n_block_genes - 1
    assert not blocks[2, XIAO.block_column("kernel_a")]
    assert not blocks[[0, 1, 3]].any() and not np.asarray(m.globals).any()
    assert np.asarray(gm.block_mutable_mask(XIAO, 0, globals_mutable=True).globals).all()
    with pytest.raises(ValueError, match="block must be in"):
        gm.block_mutable_mask(XIAO, 4, globals_mutable=False)


def test_set_gene():
    g = gm.random_genome(jax.random.key(0), XIAO, 3)
    h = gm.set_gene(g, XIAO, "kernel_a", 9, block=1)
    assert gm.decode(h, XIAO)["blocks"][1]["kernel_a"] == 9
    h = gm.set_gene(g, XIAO, "optimizer", "sgd")
    assert gm.decode(h, XIAO)["globals"]["optimizer"] == "sgd"
    h = gm.set_gene(g, XIAO, "include_b", False)
    assert all(not b["include_b"] for b in gm.decode(h, XIAO)["blocks"])
    with pytest.raises(ValueError, match="'kernel_a'"):
        gm.set_gene(g, XIAO, "kernel_a", 4)
    with pytest.raises(ValueError, match="unknown gene 'nope'"):
        gm.set_gene(g, XIAO, "nope", 1)


# -- decode / encode / JSON ------------------------------------------------------------

@prop
@given(st.sampled_from(sorted(SPACES)), seeds)
def test_decode_encode_json_round_trip(space_name, seed):
    space, g, n_active = draw(space_name, seed)
    d = gm.decode(g, space)
    assert len(d["blocks"]) == n_active
    assert gm.decode(gm.encode(d, space), space) == d
    text = gm.to_json(g, space)
    assert json.loads(text) == d
    back = gm.from_json(text, space)
    assert gm.to_json(back, space) == text
    assert gm.genome_hash(back, space) == gm.genome_hash(g, space)
    canon = gm.canonical(g, space)
    assert gm.decode(canon, space) == d
    np.testing.assert_array_equal(np.asarray(canon.block_mask), np.asarray(g.block_mask))
    for block, row in zip(d["blocks"], np.asarray(canon.blocks), strict=False):
        for c, gene in enumerate(space.block_genes):
            if gene.name in block:
                assert gene.values[row[c]] == block[gene.name]
            else:
                assert row[c] == 0, "inactive genes are index 0 in the canonical genome"


def test_decode_values_and_conditional_genes():
    d = {"blocks": [{"channels_a": 32, "kernel_a": 3, "batchnorm_a": True, "include_b": False,
                     "include_pool": True, "pool_type": "avg", "include_skip": False}],
         "globals": {"activation": "leaky_relu"}}
    space = xiao2020()
    g = gm.encode(d, space)
    assert gm.decode(g, space) == d  # channels_b, kernel_b, batchnorm_b are left out
    g2 = gm.set_gene(g, space, "include_pool", False)
    assert "pool_type" not in gm.decode(g2, space)["blocks"][0]


def test_encode_errors():
    space = xiao2020(2)
    block = {"channels_a": 8, "kernel_a": 1, "batchnorm_a": False, "include_b": False,
             "include_pool": False, "include_skip": False}
    with pytest.raises(ValueError, match="blocks: need 1..2"):
        gm.encode({"blocks": [block] * 3, "globals": {}}, space)
    with pytest.raises(ValueError, match="blocks: need 1..2"):
        gm.encode({"blocks": [], "globals": {}}, space)
    with pytest.raises(ValueError, match="unknown block gene.*'units'"):
        gm.encode({"blocks": [{**block, "units": 3}]}, space)
    with pytest.raises(ValueError, match="unknown global gene.*'lr'"):
        gm.encode({"blocks": [block], "globals": {"lr": 3}}, space)
    with pytest.raises(ValueError, match="'channels_a'.*12"):
        gm.encode({"blocks": [{**block, "channels_a": 12}]}, space)
    g = gm.encode({"blocks": [block]}, space)
    with pytest.raises(ValueError, match="one genome"):
        gm.decode(jax.tree.map(lambda x: np.stack([x, x]), g), space)


# -- hashing ---------------------------------------------------------------------------

REFERENCE = {"blocks": [{"channels_a": 64, "kernel_a": 5, "batchnorm_a": True,
                         "include_b": True, "channels_b": 128, "kernel_b": 3,
                         "batchnorm_b": False, "include_pool": True, "pool_type": "max",
                         "include_skip": True}],
             "globals": {"activation": "relu"}}


def test_hash_is_stable_across_runs():
    g = gm.encode(REFERENCE, xiao2020())
    h = gm.genome_hash(g, xiao2020())
    assert h == gm.genome_hash(gm.encode(REFERENCE, xiao2020()), xiao2020())
    assert len(h) == 16 and int(h, 16) >= 0
    # Pinned: a change of this value breaks every stored result cache and checkpoint.
    assert h == hashlib.sha256(json.dumps(REFERENCE, sort_keys=True).encode()).hexdigest()[:16]
    assert h == "cce28962b619a9db", h


@prop
@given(st.sampled_from(sorted(SPACES)), seeds)
def test_hash_ignores_masked_slots(space_name, seed):
    space, g, _ = draw(space_name, seed)
    assert gm.genome_hash(with_junk(g, seed), space) == gm.genome_hash(g, space)
    assert gm.to_json(with_junk(g, seed), space) == gm.to_json(g, space)


@prop
@given(seeds)
def test_hash_ignores_genes_whose_condition_is_false(seed):
    space = XIAO
    _, g, n_active = draw("xiao", seed)
    g = gm.set_gene(g, space, "include_b", False)
    g = gm.set_gene(g, space, "include_pool", False)
    rng = np.random.default_rng(seed)
    blocks = np.asarray(g.blocks).copy()
    for name in ("channels_b", "kernel_b", "batchnorm_b", "pool_type"):
        c = space.block_column(name)
        blocks[:n_active, c] = rng.integers(0, space.gene(name).size, n_active)
    h = g.replace(blocks=jnp.asarray(blocks))
    assert gm.genome_hash(h, space) == gm.genome_hash(g, space)
    # ... but not once the condition holds.
    on = gm.set_gene(g, space, "include_b", True, block=0)
    c = space.block_column("kernel_b")
    other = on.replace(blocks=on.blocks.at[0, c].set((on.blocks[0, c] + 1) % 5))
    assert gm.genome_hash(on, space) != gm.genome_hash(other, space)


@prop
@given(st.sampled_from(sorted(SPACES)), seeds, st.integers(0, 10**6))
def test_hash_differs_for_different_networks(space_name, seed, pick):
    space, g, n_active = draw(space_name, seed)
    d = gm.decode(g, space)
    # Change one gene that matters: an active block's unconditional gene, or a global.
    names = [(b, n) for b in range(n_active) for n in d["blocks"][b]
             if space.gene(n).size > 1] + [(None, n) for n in d["globals"]]
    b, name = names[pick % len(names)]
    gene = space.gene(name)
    old = d["blocks"][b][name] if b is not None else d["globals"][name]
    new = gene.values[(gene.index(old) + 1) % gene.size]
    h = gm.set_gene(g, space, name, new, block=b)
    assert gm.genome_hash(h, space) != gm.genome_hash(g, space)
    # A different number of blocks is a different network.
    if n_active < space.max_blocks:
        longer = g.replace(block_mask=g.block_mask.at[n_active].set(True))
        assert gm.genome_hash(longer, space) != gm.genome_hash(g, space)


def test_chained_requires_are_inactive_when_any_link_fails():
    space = SearchSpace((Gene("c", (False, True)), Gene("b", (False, True), requires=("c", True)),
                         Gene("a", (1, 2), requires=("b", True))), max_blocks=1)
    g1 = gm.encode({"blocks": [{"c": False}]}, space)
    g2 = g1.replace(blocks=jnp.array([[0, 1, 1]], jnp.int32))  # b=True, a=2, but c=False
    assert gm.decode(g2, space) == {"blocks": [{"c": False}], "globals": {}}
    assert gm.genome_hash(g1, space) == gm.genome_hash(g2, space)
    g3 = g1.replace(blocks=jnp.array([[1, 1, 1]], jnp.int32))
    assert gm.decode(g3, space)["blocks"] == [{"c": True, "b": True, "a": 2}]


def test_block_gene_conditional_on_global():
    space = SearchSpace((Gene("momentum", (0.0, 0.9), requires=("opt", "sgd")),),
                        (Gene("opt", ("adam", "sgd")),), max_blocks=2)
    adam = gm.encode({"blocks": [{}], "globals": {"opt": "adam"}}, space)
    junk = adam.replace(blocks=jnp.array([[1], [0]], jnp.int32))
    assert gm.genome_hash(adam, space) == gm.genome_hash(junk, space)
    sgd = gm.set_gene(junk, space, "opt", "sgd")
    assert gm.decode(sgd, space)["blocks"] == [{"momentum": 0.9}]
