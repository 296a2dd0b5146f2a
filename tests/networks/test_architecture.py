"""Architecture: decoding genomes, shape keys vs knobs, parameter counts, output shapes."""

import dataclasses
import math

import jax
import jax.numpy as jnp
import numpy as np
import pytest

from vlga_jax.genetics import genome as G
from vlga_jax.genetics.space import mlp, xiao2020
from vlga_jax.networks.architecture import (
    ACTIVATIONS,
    Architecture,
    ConvBlock,
    ConvLayer,
    DenseBlock,
    fits,
    from_description,
    pad_key,
)
from vlga_jax.networks.model import Network

SPACE = xiao2020(3)
DEFAULTS = {"optimizer": "adam", "learning_rate": 3e-3, "weight_decay": 1e-4, "dropout": 0.1}


def decoded(blocks, activation="elu", space=SPACE, **globals_):
    """A description as `genome.decode` gives it: encoded to a genome, then decoded."""
    return G.decode(G.encode({"blocks": blocks, "globals": {"activation": activation,
                                                            **globals_}}, space), space)


def block(channels_a=16, kernel_a=3, batchnorm_a=False, include_b=False, channels_b=32,
          kernel_b=5, batchnorm_b=True, include_pool=False, pool_type="max",
          include_skip=False):
    return dict(channels_a=channels_a, kernel_a=kernel_a, batchnorm_a=batchnorm_a,
                include_b=include_b, channels_b=channels_b, kernel_b=kernel_b,
                batchnorm_b=batchnorm_b, include_pool=include_pool, pool_type=pool_type,
                include_skip=include_skip)


def arch_of(description, space_defaults=DEFAULTS):
    return from_description(description, input_shape=(8, 8, 1), num_classes=10,
                            defaults=space_defaults)


def test_from_description_one_conv_block():
    desc = decoded([block(channels_a=16, kernel_a=3, batchnorm_a=True)])
    assert "channels_b" not in desc["blocks"][0]  # decode drops genes that do not matter
    arch = arch_of(desc)
    assert arch.blocks == (ConvBlock((ConvLayer(16, 3, True),), pool=None, skip=False),)
    assert arch.activation == "elu"
    assert (arch.optimizer, arch.learning_rate, arch.weight_decay, arch.dropout) == \
        ("adam", 3e-3, 1e-4, 0.1)
    assert arch.input_shape == (8, 8, 1) and arch.num_classes == 10


def test_from_description_two_convs_pool_and_skip():
    desc = decoded([
        block(channels_a=8, kernel_a=1, include_b=True, channels_b=32, kernel_b=5,
              batchnorm_b=True, include_pool=True, pool_type="avg", include_skip=True),
        block(channels_a=64, kernel_a=7, include_pool=True, pool_type="max"),
    ], activation="selu")
    arch = arch_of(desc)
    assert arch.blocks == (
        ConvBlock((ConvLayer(8, 1, False), ConvLayer(32, 5, True)), pool="avg", skip=True),
        ConvBlock((ConvLayer(64, 7, False),), pool="max", skip=False),
    )
    assert arch.activation == "selu"


def test_from_description_training_genes_override_defaults():
    space = xiao2020(2, training_genes=True)
    desc = decoded([block()], activation="tanh", space=space, optimizer="sgd",
                   learning_rate=1e-2, weight_decay=0.0, dropout=0.5)
    arch = arch_of(desc)
    assert (arch.optimizer, arch.learning_rate, arch.weight_decay, arch.dropout) == \
        ("sgd", 1e-2, 0.0, 0.5)


def test_from_description_dense_space():
    space = mlp(3)
    desc = G.decode(G.encode({"blocks": [{"units": 64, "dropout": 0.25}, {"units": 128}],
                              "globals": {"activation": "sigmoid", "optimizer": "rmsprop"}},
                             space), space)
    arch = arch_of(desc)
    assert arch.blocks == (DenseBlock(64, 0.25), DenseBlock(128, 0.0))
    assert (arch.activation, arch.optimizer) == ("sigmoid", "rmsprop")
    assert not arch.is_conv


def test_random_genomes_decode_to_matching_architectures():
    pop = G.random_population(jax.random.key(0), SPACE, 24, 3)
    pop = pop.replace(block_mask=pop.block_mask.at[:8, 1:].set(False).at[8:16, 2].set(False))
    for genome in G.unstack(pop):
        desc = G.decode(genome, SPACE)
        arch = arch_of(desc)
        assert len(arch.blocks) == int(genome.block_mask.sum())
        for b, d in zip(arch.blocks, desc["blocks"], strict=True):
            assert len(b.convs) == 1 + d["include_b"]
            assert b.convs[0] == ConvLayer(d["channels_a"], d["kernel_a"], d["batchnorm_a"])
            assert (b.pool is not None) == d["include_pool"]
            if d["include_pool"]:
                assert b.pool == d["pool_type"]
            assert b.skip == d["include_skip"]


# -- shape keys and knobs -------------------------------------------------------------------

BASE = Architecture(
    (8, 8, 1), 10,
    (ConvBlock((ConvLayer(8, 3, False), ConvLayer(16, 1, False)), pool="max", skip=True),
     ConvBlock((ConvLayer(16, 5, False),), pool=None)),
    activation="relu", dropout=0.0, learning_rate=1e-3, weight_decay=0.0)


def with_block(arch, i, **changes):
    blocks = list(arch.blocks)
    blocks[i] = dataclasses.replace(blocks[i], **changes)
    return dataclasses.replace(arch, blocks=tuple(blocks))


def test_shape_key_ignores_knobs():
    knob_variants = [
        dataclasses.replace(BASE, activation="tanh"),
        dataclasses.replace(BASE, learning_rate=0.1, weight_decay=1e-3, dropout=0.5),
        with_block(BASE, 0, pool="avg"),
        with_block(BASE, 0, convs=(ConvLayer(8, 3, True), ConvLayer(16, 1, True))),
    ]
    key = BASE.shape_key()
    for arch in knob_variants:
        assert arch != BASE
        assert arch.shape_key() == key
        assert hash(arch.shape_key()) == hash(key)
        assert arch.param_count == BASE.param_count
    knobs = [a.knobs() for a in knob_variants]
    assert int(knobs[0].activation[0]) == ACTIVATIONS.index("tanh")
    assert float(knobs[1].learning_rate) == pytest.approx(0.1)
    assert float(knobs[1].head_dropout) == pytest.approx(0.5)
    assert not knobs[2].pool_max[0] and BASE.knobs().pool_max[0]
    assert knobs[3].batchnorm[0].tolist() == [True, True]
    assert BASE.knobs().batchnorm[0].tolist() == [False, False]


def test_shape_key_changes_with_shapes():
    variants = [
        with_block(BASE, 0, convs=(ConvLayer(16, 3), ConvLayer(16, 1))),  # channels
        with_block(BASE, 1, convs=(ConvLayer(16, 3),)),  # kernel
        with_block(BASE, 1, pool="max"),  # pooling
        with_block(BASE, 0, skip=False),  # skip projection
        with_block(BASE, 0, convs=(ConvLayer(8, 3),)),  # conv b
        dataclasses.replace(BASE, optimizer="sgd"),
        dataclasses.replace(BASE, blocks=BASE.blocks[:1]),
    ]
    keys = {BASE.shape_key()} | {a.shape_key() for a in variants}
    assert len(keys) == len(variants) + 1


def test_knob_shapes_depend_only_on_block_count():
    a = BASE.knobs()
    b = with_block(dataclasses.replace(BASE, activation="elu"), 0,
                   convs=(ConvLayer(8, 3, True),)).knobs()
    for x, y in zip(jax.tree.leaves(a), jax.tree.leaves(b), strict=True):
        assert np.shape(x) == np.shape(y)
    assert a.use_b.tolist() == [True, False] and b.use_b.tolist() == [False, False]


def flax_param_count(arch) -> int:
    net = Network(arch.shape_key(), impl="lax")
    x = jnp.zeros((1, *arch.input_shape), jnp.float32)
    variables = jax.eval_shape(lambda: net.init(jax.random.key(0), x, arch.knobs()))
    return sum(math.prod(v.shape) for v in jax.tree.leaves(variables["params"]))


@pytest.mark.parametrize("arch", [
    BASE,
    Architecture((8, 8, 1), 10, (ConvBlock((ConvLayer(8, 3),)),)),
    Architecture((8, 8, 3), 7, (ConvBlock((ConvLayer(8, 1), ConvLayer(4, 3)), "avg", True),
                                ConvBlock((ConvLayer(32, 7),), "max", True))),
    Architecture((8, 8, 1), 10, (DenseBlock(32), DenseBlock(16, 0.5))),
], ids=["base", "one_conv", "rgb_skips", "dense"])
def test_param_count_equals_flax(arch):
    assert arch.param_count == flax_param_count(arch)


def test_param_count_by_hand():
    arch = Architecture((8, 8, 1), 10, (ConvBlock((ConvLayer(4, 3),)),))
    # conv 3*3*1*4 + 4, batch norm 4 + 4, head 4*10 + 10
    assert arch.param_count == 40 + 8 + 50
    # 6 x multiply-adds: conv 64 * 9 * 1 * 4, head 4 * 10
    assert arch.flops_per_example == 6 * (64 * 9 * 4 + 40)


def test_output_shapes_with_pooling():
    arch = Architecture((8, 8, 1), 10, tuple(
        ConvBlock((ConvLayer(c, 3),), pool="max") for c in (8, 16, 32)))
    assert arch.shape_key().output_shapes() == [(4, 4, 8), (2, 2, 16), (1, 1, 32), (10,)]
    no_pool = Architecture((8, 8, 1), 10, (ConvBlock((ConvLayer(8, 3),)),
                                           ConvBlock((ConvLayer(8, 3), ConvLayer(4, 1)), "avg")))
    assert no_pool.shape_key().output_shapes() == [(8, 8, 8), (4, 4, 4), (10,)]
    dense = Architecture((8, 8, 1), 10, (DenseBlock(32),))
    assert dense.shape_key().output_shapes() == [(32,), (10,)]
    # The Flax model agrees, block by block.
    net = Network(arch.shape_key(), impl="lax")
    x = jnp.zeros((2, 8, 8, 1), jnp.float32)
    variables = jax.eval_shape(lambda: net.init(jax.random.key(0), x, arch.knobs()))
    logits, state = jax.eval_shape(lambda v: net.apply(v, x, arch.knobs(),
                                                       capture_intermediates=True,
                                                       mutable=["intermediates"]), variables)
    blocks = [state["intermediates"][f"block_{i}"]["__call__"][0].shape[1:] for i in range(3)]
    # The last block's pooling is applied by the network (a knob before global pooling).
    assert blocks[:2] == arch.shape_key().output_shapes()[:2]
    assert blocks[2] == (2, 2, 32)
    assert logits.shape == (2, 10)
    features = Network(arch.shape_key(), impl="lax", features=True)
    out = jax.eval_shape(lambda v: features.apply(v, x, arch.knobs()), variables)
    assert out.shape[1:] == arch.shape_key().output_shapes()[2]


@pytest.mark.parametrize("make", [
    lambda: Architecture((8, 8, 1), 10, ()),
    lambda: dataclasses.replace(BASE, activation="swish"),
    lambda: dataclasses.replace(BASE, optimizer="lbfgs"),
    lambda: with_block(BASE, 0, convs=(ConvLayer(8, 4),)),
    lambda: with_block(BASE, 0, convs=()),
    lambda: with_block(BASE, 0, convs=(ConvLayer(8, 3),) * 3),
    lambda: with_block(BASE, 0, pool="min"),
    lambda: Architecture((8, 8, 1), 10, (BASE.blocks[0], DenseBlock(8))),
    lambda: arch_of({"blocks": [block()], "globals": {}}, {"activation": "gelu"}),
    lambda: arch_of({"blocks": [{**block(), "kernel_a": 2}], "globals": {}}),
], ids=["no_blocks", "activation", "optimizer", "even_kernel", "no_convs", "three_convs",
        "pool_kind", "mixed_blocks", "default_activation", "description_kernel"])
def test_invalid_values_raise_value_error(make):
    with pytest.raises(ValueError):
        make()


def test_pad_key_and_fits():
    small = with_block(BASE, 0, convs=(ConvLayer(4, 1), ConvLayer(8, 1)), skip=False).shape_key()
    padded = pad_key([small, BASE.shape_key()])
    assert padded == BASE.shape_key()
    assert fits(small, padded) and not fits(padded, small)
    # Without conv b, block_0 shares the program; both convs get one width so that a
    # skipped conv b can pass conv a through.
    one_conv = with_block(BASE, 0, convs=(ConvLayer(4, 1),)).shape_key()
    merged = pad_key([one_conv, BASE.shape_key()])
    assert merged.layers[0].convs == ((16, 3), (16, 1))
    assert fits(one_conv, merged) and fits(BASE.shape_key(), merged)
    other = with_block(BASE, 0, pool=None).shape_key()  # pooling changes spatial shapes
    with pytest.raises(ValueError):
        pad_key([other, BASE.shape_key()])
    assert not fits(other, BASE.shape_key())
    # ... except in the last block, where global average pooling follows: a knob.
    last_pooled = with_block(BASE, 1, pool="max").shape_key()
    assert pad_key([last_pooled, BASE.shape_key()]) == last_pooled
    assert fits(BASE.shape_key(), last_pooled) and not fits(last_pooled, BASE.shape_key())


def test_learning_rate_defaults_to_the_optimizers_keras_default():
    from vlga_jax.networks.architecture import DEFAULT_LEARNING_RATES

    desc = {"blocks": [{"units": 64}], "globals": {}}
    for optimizer, rate in (("sgd", 1e-2), ("adadelta", 1.0), ("adamax", 2e-3),
                            ("adam", 1e-3)):
        arch = from_description(desc, input_shape=(8, 8, 1), num_classes=10,
                                defaults={"optimizer": optimizer, "learning_rate": None})
        assert arch.learning_rate == rate == DEFAULT_LEARNING_RATES[optimizer]
    # A set train.learning_rate applies to every optimizer; a gene overrides both.
    fixed = from_description(desc, input_shape=(8, 8, 1), num_classes=10,
                             defaults={"optimizer": "sgd", "learning_rate": 3e-3})
    gene = from_description({**desc, "globals": {"learning_rate": 1e-4}}, input_shape=(8, 8, 1),
                            num_classes=10, defaults={"optimizer": "sgd", "learning_rate": None})
    assert (fixed.learning_rate, gene.learning_rate) == (3e-3, 1e-4)


def test_dense_blocks_take_a_global_width():
    arch = from_description({"blocks": [{"dropout": 0.2}, {"dropout": 0.2}],
                             "globals": {"units": 128, "optimizer": "adagrad"}},
                            input_shape=(8, 8, 1), num_classes=10)
    assert [(b.units, b.dropout) for b in arch.blocks] == [(128, 0.2), (128, 0.2)]
    assert arch.learning_rate == 1e-3  # adagrad's Keras default
