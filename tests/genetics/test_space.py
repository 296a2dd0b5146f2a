"""Tests of gene tables and search spaces: validation, lookups, presets, round trips."""

from __future__ import annotations

import json

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from vlga_jax.genetics.space import SPACES, Gene, SearchSpace, mlp, training_gene_tables, xiao2020

# -- Gene validation -------------------------------------------------------------------


def test_gene_basics():
    g = Gene("kernel", (1, 3, 5))
    assert g.size == 3 and g.kind is int
    assert g.index(5) == 2
    assert Gene("flag", (False, True)).kind is bool
    assert Gene("lr", (1e-3, 1e-2)).kind is float
    assert Gene("act", ("relu",)).kind is str
    assert Gene("k", [1, 2]).values == (1, 2)  # lists become tuples (hashable)


def test_gene_empty_table():
    with pytest.raises(ValueError, match="'units'.*empty"):
        Gene("units", ())


@pytest.mark.parametrize("values", [(1, 2.5), (1, "a"), (True, 1), ("a", None), ([1], [2])])
def test_gene_mixed_or_wrong_kinds(values):
    with pytest.raises(ValueError, match="'g'"):
        Gene("g", values)


def test_gene_duplicate_values_and_bad_names():
    with pytest.raises(ValueError, match="'g'.*duplicate"):
        Gene("g", (1, 3, 1))
    with pytest.raises(ValueError, match="non-empty string"):
        Gene("", (1,))
    with pytest.raises(ValueError, match="requires"):
        Gene("g", (1,), requires=("other",))
    with pytest.raises(ValueError, match="require itself"):
        Gene("g", (1, 2), requires=("g", 1))


def test_gene_index_errors_name_the_gene():
    g = Gene("kernel", (1, 3, 5))
    with pytest.raises(ValueError, match="'kernel'.*4"):
        g.index(4)
    with pytest.raises(ValueError, match="'kernel'"):
        g.index(3.0)  # a float is not an int value
    with pytest.raises(ValueError, match="'flag'"):
        Gene("flag", (False, True)).index(1)  # nor is an int a bool


def test_gene_requires_list_is_normalised_and_hashable():
    g = Gene("b", (1, 2), requires=["a", True])
    assert g.requires == ("a", True)
    hash(g)


# -- SearchSpace validation ------------------------------------------------------------

def test_space_validation():
    a = Gene("a", (1, 2))
    with pytest.raises(ValueError, match="'a'.*duplicate name"):
        SearchSpace((a, Gene("a", (3,))))
    with pytest.raises(ValueError, match="'a'.*duplicate name"):
        SearchSpace((a,), (Gene("a", (3,)),))
    with pytest.raises(ValueError, match="max_blocks"):
        SearchSpace((a,), max_blocks=0)
    with pytest.raises(ValueError, match="max_blocks"):
        SearchSpace((a,), max_blocks=2.0)
    with pytest.raises(ValueError, match="block_genes"):
        SearchSpace(())
    with pytest.raises(ValueError, match="block_kind"):
        SearchSpace((a,), block_kind="")
    with pytest.raises(ValueError, match="block_kind"):
        SearchSpace((a,), block_kind=None)
    with pytest.raises(ValueError, match="Gene values"):
        SearchSpace((a, ("b", (1, 2))))
    with pytest.raises(ValueError, match="'c'.*unknown gene 'zz'"):
        SearchSpace((a, Gene("c", (1,), requires=("zz", 1))))
    with pytest.raises(ValueError, match="'a'.*3"):  # required value not in the table
        SearchSpace((a, Gene("c", (1,), requires=("a", 3))))


def test_space_requires_rules():
    x = Gene("x", (1, 2))
    with pytest.raises(ValueError, match="global gene cannot require the block gene 'x'"):
        SearchSpace((x,), (Gene("act", ("a", "b"), requires=("x", 2)),))
    with pytest.raises(ValueError, match="cycle"):
        SearchSpace((Gene("p", (1, 2), requires=("q", 1)), Gene("q", (1, 2), requires=("p", 1))))
    # A block gene may require a global gene.
    SearchSpace((Gene("y", (1, 2), requires=("opt", "sgd")),), (Gene("opt", ("adam", "sgd")),))


def test_lookups_name_unknown_genes():
    space = xiao2020()
    assert space.gene("kernel_a").values == (1, 3, 5, 7, 9)
    assert space.block_column("include_b") == 3
    assert space.global_column("activation") == 0
    assert space.has("pool_type") and not space.has("nope")
    with pytest.raises(ValueError, match="unknown gene 'nope'"):
        space.gene("nope")
    with pytest.raises(ValueError, match="unknown block gene 'activation'"):
        space.block_column("activation")
    with pytest.raises(ValueError, match="unknown global gene 'kernel_a'"):
        space.global_column("kernel_a")


def test_restrict():
    space = xiao2020()
    small = space.restrict(channels_a=(16, 32), activation=("relu",))
    assert small.gene("channels_a").values == (16, 32)
    assert small.gene("activation").values == ("relu",)
    assert small.gene("channels_b") == space.gene("channels_b")
    assert small.block_sizes[0] == 2 and small.global_sizes[0] == 1
    with pytest.raises(ValueError, match="unknown gene.*'nope'"):
        space.restrict(nope=(1,))
    with pytest.raises(ValueError, match="'channels_a'.*12"):
        space.restrict(channels_a=(12,))
    with pytest.raises(ValueError, match="'kernel_a'.*empty"):
        space.restrict(kernel_a=())
    with pytest.raises(ValueError, match="'include_b'"):  # kernel_b requires include_b=True
        space.restrict(include_b=(False,))


def test_spaces_are_hashable_static_args():
    assert hash(xiao2020()) == hash(xiao2020())
    assert xiao2020() == xiao2020()
    assert xiao2020(4) != xiao2020(5)
    assert len({xiao2020(), xiao2020(), mlp()}) == 2


# -- presets (Table 1 of Xiao et al. 2020) ---------------------------------------------

def test_xiao2020_table1():
    space = xiao2020()
    assert space.block_kind == "conv" and space.max_blocks == 5
    for side in ("a", "b"):
        assert space.gene(f"channels_{side}").values == (8, 16, 32, 64, 128, 256, 512)
        assert space.gene(f"kernel_{side}").values == (1, 3, 5, 7, 9)
        assert set(space.gene(f"batchnorm_{side}").values) == {False, True}
    assert set(space.gene("include_b").values) == {False, True}
    assert set(space.gene("include_pool").values) == {False, True}
    assert set(space.gene("pool_type").values) == {"max", "avg"}
    assert set(space.gene("include_skip").values) == {False, True}
    assert {"relu", "leaky_relu", "elu", "tanh", "selu"} <= set(space.gene("activation").values)
    assert space.gene("kernel_b").requires == ("include_b", True)
    assert space.gene("pool_type").requires == ("include_pool", True)
    channels = space.gene("channels_a").values
    assert all(c == 2 ** int(np.log2(c)) for c in channels)
    assert space.block_sizes.dtype == np.int32 and space.global_sizes.dtype == np.int32
    np.testing.assert_array_equal(space.block_sizes, [7, 5, 2, 2, 7, 5, 2, 2, 2, 2])


def test_xiao2020_training_genes_and_mlp():
    space = xiao2020(3, training_genes=True)
    assert space.max_blocks == 3
    names = [g.name for g in space.global_genes]
    assert names == ["activation"] + [g.name for g in training_gene_tables()]
    assert "adam" in space.gene("optimizer").values
    m = mlp()
    assert m.block_kind == "dense" and m.max_blocks == 4
    assert m.gene("units").values[0] == 64 and m.gene("units").values[-1] == 1024
    assert set(SPACES) == {"xiao2020", "mlp", "fixed_cnn", "binary_cnn", "mlp_ga", "mlp_tournament"}


# -- to_dict / from_dict ---------------------------------------------------------------

def test_globals_first_is_recorded_only_when_set():
    assert "globals_first" not in xiao2020().to_dict()  # recorded spaces stay as they were
    binary = SPACES["binary_cnn"]()
    assert binary.to_dict()["globals_first"] is True
    assert SearchSpace.from_dict(json.loads(json.dumps(binary.to_dict()))) == binary
    old = {**binary.to_dict()}
    del old["globals_first"]
    assert SearchSpace.from_dict(old).globals_first is False
    with pytest.raises(ValueError, match="globals_first must be True or False"):
        SearchSpace((Gene("w", (1, 2)),), globals_first=1)


@pytest.mark.parametrize("space", [xiao2020(), xiao2020(2, training_genes=True), mlp(3)])
def test_dict_round_trip_through_json(space):
    d = json.loads(json.dumps(space.to_dict()))
    back = SearchSpace.from_dict(d)
    assert back == space
    assert hash(back) == hash(space)
    for g in back.block_genes + back.global_genes:
        assert all(type(v) is g.kind for v in g.values)


kinds = st.sampled_from(["int", "float", "str", "bool"])


@st.composite
def gene_tables(draw, name):
    kind = draw(kinds)
    if kind == "bool":
        values = draw(st.sampled_from([(False, True), (True,), (True, False)]))
    elif kind == "int":
        values = draw(st.lists(st.integers(-1000, 1000), min_size=1, max_size=6, unique=True))
    elif kind == "float":
        values = draw(st.lists(st.floats(-1e6, 1e6, allow_nan=False), min_size=1,
                               max_size=6, unique=True))
        values = [v + 0.0 for v in values]  # -0.0 and 0.0 are duplicates
        if len(set(values)) != len(values):
            values = [0.5]
    else:
        values = draw(st.lists(st.text(min_size=1, max_size=5), min_size=1, max_size=6,
                               unique=True))
    return Gene(name, tuple(values))


@st.composite
def spaces(draw):
    n_block = draw(st.integers(1, 4))
    n_global = draw(st.integers(0, 3))
    blocks = [draw(gene_tables(f"b{i}")) for i in range(n_block)]
    globals_ = [draw(gene_tables(f"g{i}")) for i in range(n_global)]
    return SearchSpace(tuple(blocks), tuple(globals_), max_blocks=draw(st.integers(1, 6)),
                       block_kind=draw(st.sampled_from(["conv", "dense"])))


@settings(max_examples=25, deadline=None)
@given(spaces())
def test_random_spaces_round_trip(space):
    back = SearchSpace.from_dict(json.loads(json.dumps(space.to_dict())))
    assert back == space
    for g, h in zip(back.block_genes + back.global_genes, space.block_genes + space.global_genes,
                    strict=True):
        assert [type(v) for v in g.values] == [type(v) for v in h.values]
    assert len(space.block_sizes) == space.n_block_genes
    assert (space.block_sizes >= 1).all()


def _all_genomes(space):
    """Every genome of a tiny space (active prefixes, every index of every gene)."""
    import itertools

    from vlga_jax.genetics.genome import Genome

    g = space.n_block_genes
    for depth in space.depths():
        for cells in itertools.product(*[range(s) for s in space.block_sizes] * depth,
                                       *[range(s) for s in space.global_sizes]):
            blocks = np.zeros((space.max_blocks, g), np.int32)
            blocks[:depth] = np.array(cells[:depth * g], np.int32).reshape(depth, g)
            globals_ = np.array(cells[depth * g:], np.int32)
            if space.depth_gene is not None:
                col = space.global_column(space.depth_gene)
                if space.gene(space.depth_gene).values[globals_[col]] != depth:
                    continue
            yield Genome(blocks, np.arange(space.max_blocks) < depth, globals_)


@pytest.mark.parametrize("space", [
    SearchSpace((Gene("c", (1, 2)), Gene("use_b", (False, True)),
                 Gene("b", (3, 4, 5), requires=("use_b", True)),
                 Gene("k", (1, 3), requires=("b", 5))),
                (Gene("act", ("relu", "elu")), Gene("lr", (0.1,), requires=("act", "elu"))),
                max_blocks=2),
    SearchSpace((Gene("units", (8, 16)),), (Gene("layers", (1, 2, 3)), Gene("opt", ("a", "b"))),
                max_blocks=3, block_kind="dense", depth_gene="layers"),
], ids=["conditional", "depth-gene"])
def test_size_counts_distinct_networks_by_brute_force(space):
    from vlga_jax.genetics.genome import genome_hash

    hashes = {genome_hash(genome, space) for genome in _all_genomes(space)}
    assert space.size() == len(hashes)


def test_mlp_ga_space_has_one_width_and_672_networks():
    from vlga_jax.genetics.space import mlp_ga

    space = mlp_ga()
    assert space.size() == 4 * 6 * 4 * 7 == 672
    assert space.gene("units").values == (64, 128, 256, 512, 768, 1024)
    assert "units" in {g.name for g in space.global_genes}
