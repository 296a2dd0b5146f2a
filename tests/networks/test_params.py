"""Parameter pytrees: init, padding into a program, update masks, phase growth."""

import functools

import jax
import jax.numpy as jnp
import numpy as np
import pytest

from vlga_jax.networks import params as P
from vlga_jax.networks.architecture import (
    Architecture,
    ConvBlock,
    ConvLayer,
    DenseBlock,
    pad_key,
)
from vlga_jax.networks.model import Network

CONV = Architecture(
    (8, 8, 1), 10,
    (ConvBlock((ConvLayer(4, 3, True), ConvLayer(8, 1)), pool="max", skip=True),
     ConvBlock((ConvLayer(6, 5),), pool=None)))
DENSE = Architecture((8, 8, 1), 10, (DenseBlock(16), DenseBlock(8, 0.25)))

# SMALL fits into BIG's program: fewer channels, smaller kernels, and block_1 lacks the
# conv b and the skip projection that BIG has.
SMALL = Architecture(
    (8, 8, 1), 10,
    (ConvBlock((ConvLayer(2, 1, True), ConvLayer(4, 3, True)), pool="avg"),
     ConvBlock((ConvLayer(6, 3, True),))),
    activation="sigmoid")
BIG = Architecture(
    (8, 8, 1), 10,
    (ConvBlock((ConvLayer(4, 3), ConvLayer(8, 5)), pool="max", skip=True),
     ConvBlock((ConvLayer(8, 3), ConvLayer(8, 3)), skip=True)))


def shapes_of(tree):
    """The nested dict of leaf shapes of a (numpy, jax or ShapeDtypeStruct) tree."""
    if isinstance(tree, dict):
        return {k: shapes_of(v) for k, v in tree.items()}
    return tuple(tree.shape)


def flax_variables(arch):
    """Shapes of the variables `model.Network(key).init` creates (traced, not run)."""
    net = Network(arch.shape_key(), impl="lax")
    x = jnp.zeros((2, *arch.input_shape), jnp.float32)
    variables = jax.eval_shape(lambda: net.init(jax.random.key(0), x, arch.knobs()))
    return {k: shapes_of(dict(v)) for k, v in variables.items()}


def leaves(tree):
    return [np.asarray(x) for x in jax.tree.leaves(tree)]


@pytest.mark.parametrize("arch", [CONV, DENSE, SMALL, BIG], ids=["conv", "dense", "small", "big"])
def test_init_params_shapes_match_param_shapes_and_flax(arch):
    key = arch.shape_key()
    params, stats = P.init_params(jax.random.key(0), key)
    assert shapes_of(params) == key.param_shapes()
    assert shapes_of(stats) == key.stats_shapes()
    flax = flax_variables(arch)
    assert shapes_of(params) == flax["params"]
    # The trees have the same structure (names and nesting), not only equal shapes.
    assert jax.tree.structure(params) == jax.tree.structure(flax["params"],
                                                            is_leaf=lambda s: isinstance(s, tuple))
    assert shapes_of(stats) == flax.get("batch_stats", {})
    assert all(x.dtype == np.float32 for x in leaves(params) + leaves(stats))


def test_init_params_values():
    key = CONV.shape_key()
    params, stats = P.init_params(jax.random.key(3), key)
    again, _ = P.init_params(jax.random.key(3), key)
    other, _ = P.init_params(jax.random.key(4), key)
    for x, y in zip(leaves(params), leaves(again), strict=True):
        assert np.array_equal(x, y)
    assert not np.array_equal(params["block_0"]["conv_a"]["kernel"],
                              other["block_0"]["conv_a"]["kernel"])
    block = params["block_0"]
    for name in ("conv_a", "conv_b", "skip"):
        assert np.all(block[name]["bias"] == 0)
    assert np.all(block["bn_a"]["scale"] == 1) and np.all(block["bn_a"]["bias"] == 0)
    assert np.all(stats["block_0"]["bn_a"]["mean"] == 0)
    assert np.all(stats["block_0"]["bn_a"]["var"] == 1)
    # lecun normal, truncated at 2 sigma of the unit normal: std sqrt(1 / fan_in).
    w = params["block_1"]["conv_a"]["kernel"]  # 5x5x8 fan-in, 1200 values
    std = np.sqrt(1.0 / (5 * 5 * 8))
    assert abs(w.std() / std - 1) < 0.1
    assert np.abs(w).max() <= 2 * std / 0.87962566103423978 + 1e-6


def test_pad_unpad_round_trip():
    small, big = SMALL.shape_key(), BIG.shape_key()
    assert pad_key([small, big]) == big
    params, stats = P.init_params(jax.random.key(1), small)
    padded = P.pad_tree(params, big.param_shapes())
    assert shapes_of(padded) == big.param_shapes()
    # Leaves SMALL lacks (block_1 skip) are entirely zero.
    assert not np.any(padded["block_1"]["skip"]["kernel"])
    back = P.unpad_tree(padded, small.param_shapes())
    assert shapes_of(back) == small.param_shapes()
    for x, y in zip(leaves(params), leaves(back), strict=True):
        assert np.array_equal(x, y)
    # Nothing was added: the padded entries are zero.
    total_real = sum(np.abs(x).sum() for x in leaves(params))
    total_padded = sum(np.abs(x).sum() for x in leaves(padded))
    np.testing.assert_allclose(total_padded, total_real, rtol=1e-6)
    # A 1x1 kernel padded to 3x3 sits at the centre tap (so a SAME conv is unchanged).
    k = padded["block_0"]["conv_a"]["kernel"]
    np.testing.assert_array_equal(k[1, 1, :1, :2], params["block_0"]["conv_a"]["kernel"][0, 0])
    assert not np.any(np.delete(k.reshape(9, *k.shape[2:]), 4, axis=0))
    # Statistics pad with a fill value (variance 1 keeps padded channels finite).
    padded_stats = P.pad_tree(stats, big.stats_shapes(), fill=1.0)
    assert np.all(padded_stats["block_0"]["bn_a"]["var"][2:] == 1)
    for x, y in zip(leaves(stats), leaves(P.unpad_tree(padded_stats, small.stats_shapes())),
                    strict=True):
        assert np.array_equal(x, y)


def test_pad_tree_rejects_what_does_not_fit():
    params, _ = P.init_params(jax.random.key(1), BIG.shape_key())
    with pytest.raises(ValueError):
        P.pad_tree(params, SMALL.shape_key().param_shapes())


def count(tree) -> int:
    return int(sum(np.sum(x) for x in leaves(tree)))


def test_update_mask_is_false_on_padding_and_frozen_blocks():
    small, big = SMALL.shape_key(), BIG.shape_key()
    mask = P.update_mask(small, big)
    assert shapes_of(mask) == big.param_shapes()
    assert all(x.dtype == bool for x in leaves(mask))
    assert count(mask) == small.param_count  # True exactly on the real entries
    assert all(np.all(x) for x in leaves(P.unpad_tree(mask, small.param_shapes())))
    assert not np.any(mask["block_1"]["skip"]["kernel"])

    frozen = P.update_mask(small, big, frozen_blocks=1)
    assert not any(np.any(x) for x in leaves(frozen["block_0"]))
    block_0 = sum(int(np.prod(s)) for s in jax.tree.leaves(
        small.param_shapes()["block_0"], is_leaf=lambda s: isinstance(s, tuple)))
    assert count(frozen) == small.param_count - block_0
    for name in ("block_1", "head"):
        for x, y in zip(leaves(frozen[name]), leaves(mask[name]), strict=True):
            assert np.array_equal(x, y)
    # Exact program, nothing frozen: all True.
    assert all(np.all(x) for x in leaves(P.update_mask(small, small)))


def test_inherit_copies_leading_blocks_and_takes_the_rest_fresh():
    parent_arch = Architecture((8, 8, 1), 10, (ConvBlock((ConvLayer(4, 3),), pool="max"),))
    child_arch = Architecture((8, 8, 1), 10, (ConvBlock((ConvLayer(4, 3),), pool="max"),
                                             ConvBlock((ConvLayer(8, 3),))))
    parent, parent_stats = P.init_params(jax.random.key(1), parent_arch.shape_key())
    parent = jax.tree.map(lambda x: x + 0.5, parent)  # "trained": unlike any fresh init
    fresh, fresh_stats = P.init_params(jax.random.key(2), child_arch.shape_key())
    out = P.inherit(parent, fresh, 1)
    assert shapes_of(out) == child_arch.shape_key().param_shapes()
    for x, y in zip(leaves(out["block_0"]), leaves(parent["block_0"]), strict=True):
        assert np.array_equal(x, y)
    for name in ("block_1", "head"):
        for x, y in zip(leaves(out[name]), leaves(fresh[name]), strict=True):
            assert np.array_equal(x, y)
    assert not np.array_equal(out["head"]["kernel"], parent["head"]["kernel"])
    stats = P.inherit(parent_stats, fresh_stats, 1)
    assert set(stats) == {"block_0", "block_1"}
    # Nothing inherited: the fresh tree.
    for x, y in zip(leaves(P.inherit(parent, fresh, 0)), leaves(fresh), strict=True):
        assert np.array_equal(x, y)
    with pytest.raises(ValueError, match="block_1"):
        P.inherit(parent, fresh, 2)


def test_stack_and_index_trees():
    trees = [P.init_params(jax.random.key(i), DENSE.shape_key())[0] for i in range(3)]
    stacked = P.stack_trees(trees)
    assert stacked["head"]["kernel"].shape == (3, 8, 10)
    for i, tree in enumerate(trees):
        for x, y in zip(leaves(P.index_tree(stacked, i)), leaves(tree), strict=True):
            assert np.array_equal(x, y)


# -- a padded network computes what the real one does -------------------------------------

@pytest.fixture(scope="module")
def images(digits_dataset):
    return jnp.asarray(digits_dataset.val_x[:16])


@pytest.mark.parametrize("train", [False, True], ids=["eval", "train"])
def test_padded_network_equals_real_network(images, train):
    """SMALL inside BIG's program: channels, kernels, missing conv b and skip, BN, sigmoid."""
    small, big = SMALL.shape_key(), BIG.shape_key()
    params, stats = P.init_params(jax.random.key(5), small)
    params = jax.tree.map(lambda x: x + 0.01, params)  # non-zero biases and BN shifts
    stats = jax.tree.map(lambda x: x + 0.1, stats)
    knobs = SMALL.knobs()

    @functools.partial(jax.jit, static_argnums=2)
    def logits_of(p, s, key):
        net = Network(key, impl="lax")
        out = net.apply({"params": p, "batch_stats": s}, images, knobs, train=train,
                        mutable=["batch_stats"] if train else False,
                        rngs={"dropout": jax.random.key(0)})
        return out[0] if train else out

    real = logits_of(params, stats, small)
    padded = logits_of(P.pad_tree(params, big.param_shapes()),
                       P.pad_tree(stats, big.stats_shapes(), fill=1.0), big)
    assert real.shape == (16, 10)
    np.testing.assert_allclose(padded, real, rtol=1e-5, atol=1e-5)


def test_padded_dense_network_equals_real_network(images):
    big = Architecture((8, 8, 1), 10, (DenseBlock(32), DenseBlock(16))).shape_key()
    params, _ = P.init_params(jax.random.key(6), DENSE.shape_key())
    params = jax.tree.map(lambda x: x + 0.01, params)
    knobs = DENSE.knobs()
    real = Network(DENSE.shape_key()).apply({"params": params}, images, knobs)
    padded = Network(big).apply({"params": P.pad_tree(params, big.param_shapes())}, images,
                                knobs)
    np.testing.assert_allclose(padded, real, rtol=1e-5, atol=1e-5)
