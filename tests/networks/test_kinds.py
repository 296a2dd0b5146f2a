"""Block kinds: a kind defined here, outside the package, searches end to end; the
activation table agrees with the model and the spaces; the built-in kinds keep their
shapes, costs and decoding."""

import dataclasses
import math

import flax.linen as nn
import jax
import jax.numpy as jnp
import numpy as np
import pytest
from support import shared_cache_dir

import vlga_jax
from vlga_jax import Config, DataConfig, GAConfig, RunConfig, SpaceConfig, TrainConfig
from vlga_jax.core.names import block_name
from vlga_jax.genetics import genome
from vlga_jax.genetics.space import SPACES, Gene, SearchSpace, binary_cnn, xiao2020
from vlga_jax.networks import activations
from vlga_jax.networks.architecture import (
    Architecture,
    ConvBlock,
    ConvLayer,
    fits,
    from_description,
    layers_label,
    pad_key,
)
from vlga_jax.networks.kinds import (
    KINDS,
    BlockKind,
    check_network_space,
    kind_of,
    register,
)
from vlga_jax.networks.model import Network, activate, activate_family

# -- a kind of this test's own: dense layer plus a dense projection of its input ------------


@dataclasses.dataclass(frozen=True)
class ResidualBlock:
    units: int


@dataclasses.dataclass(frozen=True)
class ResidualKey:
    units: int


class _Residual(nn.Module):
    units: int
    activation_impl: str

    @nn.compact
    def __call__(self, x, act):
        y = activations.ACTIVATE[self.activation_impl](nn.Dense(self.units, name="dense")(x), act)
        return y + nn.Dense(self.units, name="skip")(x)


class ResidualDense(BlockKind):
    """act(x @ dense) + x @ skip, on the flattened input."""

    name = "residual_dense"
    block_type = ResidualBlock
    key_type = ResidualKey
    block_genes = ("units",)
    required_genes = ("units",)
    positive_int_genes = ("units",)

    def key(self, block):
        return ResidualKey(block.units)

    def describe(self, block, activation):
        return f"residual dense {block.units} ({activation})"

    def param_shapes(self, layer, in_shape):
        f = math.prod(in_shape)
        return {name: {"kernel": (f, layer.units), "bias": (layer.units,)}
                for name in ("dense", "skip")}

    def out_shape(self, layer, in_shape):
        return (layer.units,)

    def macs(self, layer, in_shape):
        return 2 * math.prod(in_shape) * layer.units

    def activations(self, layer, in_shape):
        return 4 * layer.units

    def pad(self, layers):
        return ResidualKey(max(layer.units for layer in layers))

    def topology(self, layers):
        return (self.name, len(layers))

    def label(self, layer):
        return f"r{layer.units}"

    def apply(self, network, layer, i, x, knobs, train):
        x = x.reshape(x.shape[0], -1)
        return _Residual(layer.units, network.activation_impl, name=block_name(i))(
            x, knobs.activation[i])

    def decode(self, blocks, genes, input_shape):
        return {"blocks": [ResidualBlock(int(b["units"])) for b in blocks], "dropout": 0.0}


RESIDUAL = KINDS.get("residual_dense") or register(ResidualDense())
SPACE = SearchSpace((Gene("units", (8, 16)),), (Gene("activation", ("relu", "tanh")),),
                    max_blocks=1, block_kind="residual_dense")
ARCH = Architecture((8, 8, 1), 10, (ResidualBlock(16), ResidualBlock(8)), activation="tanh")


def test_the_new_kind_describes_its_blocks():
    key = ARCH.shape_key()
    assert kind_of(ARCH.blocks[0]) is RESIDUAL and kind_of(key.layers[0]) is RESIDUAL
    assert not ARCH.is_conv
    assert layers_label(key) == "r16 r8"
    assert ARCH.describe()[1] == "block_0: residual dense 16 (tanh)"
    assert key.output_shapes() == [(16,), (8,), (10,)]
    assert ARCH.param_count == 2 * (64 * 16 + 16) + 2 * (16 * 8 + 8) + 8 * 10 + 10
    assert ARCH.flops_per_example == 6 * (2 * 64 * 16 + 2 * 16 * 8 + 8 * 10)
    assert key.activations_per_example() == 64 + 4 * 16 + 4 * 8
    net = Network(key)
    variables = jax.eval_shape(lambda: net.init(jax.random.key(0), jnp.zeros((2, 8, 8, 1)),
                                                ARCH.knobs()))
    shapes = jax.tree.map(lambda s: tuple(s.shape), variables["params"])
    assert shapes == key.param_shapes()
    narrow = dataclasses.replace(ARCH, blocks=(ResidualBlock(8), ResidualBlock(8))).shape_key()
    assert pad_key([narrow, key]) == key and fits(narrow, key) and not fits(key, narrow)


def test_the_new_kind_checks_its_space_and_decodes():
    check_network_space(SPACE)
    with pytest.raises(ValueError, match="block gene 'channels_a'"):
        check_network_space(dataclasses.replace(SPACE, block_genes=(
            Gene("units", (8,)), Gene("channels_a", (8,)))))
    with pytest.raises(ValueError, match="block_kind 'rnn' is not a registered"):
        check_network_space(dataclasses.replace(SPACE, block_kind="rnn"))
    with pytest.raises(ValueError, match="exists already"):
        register(ResidualDense())
    description = {"blocks": [{"units": 16}, {"units": 8}], "globals": {"activation": "tanh"}}
    arch = from_description(description, input_shape=(8, 8, 1), num_classes=10,
                            kind="residual_dense")
    assert arch == ARCH
    # Without its space, a description reading dense genes is the dense kind's.
    assert type(from_description(description, input_shape=(8, 8, 1), num_classes=10)
                .blocks[0]).__name__ == "DenseBlock"


def test_a_search_with_the_new_kind(digits_dataset, tmp_path_factory):
    """Two candidates, one generation, then the final training: every candidate trains."""
    config = Config(
        space=SpaceConfig(max_blocks=1),
        ga=GAConfig(strategy="random", population=2, generations=1),
        train=TrainConfig(epochs=1, final_epochs=1, batch_size=32, eval_batch_size=32,
                          learning_rate=1e-2),
        data=DataConfig(subset=30),
        run=RunConfig(compile_cache_dir=shared_cache_dir(tmp_path_factory), verbose=False))
    result = vlga_jax.evolve(jax.random.key(0), config, space=SPACE, dataset=digits_dataset)
    assert result.candidates and not any(c.failed for c in result.candidates)
    assert all(isinstance(b, ResidualBlock) for b in result.architecture.blocks)
    assert result.architecture.blocks[0].units in (8, 16)
    assert np.isfinite(result.val_accuracy)


# -- the activation table ---------------------------------------------------------------


def test_model_activations_are_the_table():
    x = jnp.linspace(-4.0, 4.0, 81, dtype=jnp.float32)
    for i, row in enumerate(activations.TABLE):
        assert activations.ACTIVATIONS[i] == row.name
        np.testing.assert_array_equal(activate(x, jnp.int32(i)), row.fn(x))
        np.testing.assert_allclose(activate_family(x, jnp.int32(i)), row.fn(x), rtol=1e-6,
                                   atol=2e-7)


def test_every_activation_gene_names_a_table_row():
    spaces = [build(4) for name, build in SPACES.items() if name != "binary_cnn"]
    for space in [*spaces, xiao2020(2, training_genes=True)]:
        if space.has("activation"):
            assert set(space.gene("activation").values) <= set(activations.ACTIVATIONS)
    assert set(SpaceConfig().activations) <= set(activations.ACTIVATIONS)
    knobs = ARCH.knobs()
    assert activations.ACTIVATIONS[int(knobs.activation[0])] == "tanh"


# -- the built-in kinds -----------------------------------------------------------------


def test_activation_memory_counts_the_skip_projection():
    plain = Architecture((8, 8, 1), 10, (ConvBlock((ConvLayer(4, 3),)),))
    skip = Architecture((8, 8, 1), 10, (ConvBlock((ConvLayer(4, 3),), skip=True),))
    assert plain.shape_key().activations_per_example() == 64 + 3 * 64 * 4
    # The projection's output and the sum, each 8x8x4.
    assert (skip.shape_key().activations_per_example()
            - plain.shape_key().activations_per_example()) == 2 * 64 * 4
    assert "skip" in skip.shape_key().param_shapes()["block_0"]


def test_binary_chromosome_decodes_by_its_kind_not_its_gene_names():
    space = binary_cnn(8)
    assert space.block_kind == "binary_cnn"
    check_network_space(space)
    population = genome.random_population(jax.random.key(3), space, 1, 8)
    description = genome.decode(genome.unstack(population)[0], space)
    by_kind = from_description(description, input_shape=(8, 8, 1), num_classes=10,
                               kind="binary_cnn")
    assert by_kind == from_description(description, input_shape=(8, 8, 1), num_classes=10)
    assert by_kind.head_units == (2048, 1024) and by_kind.dropout == 0.5
    assert all(c.batchnorm for b in by_kind.blocks for c in b.convs)
    assert {kind_of(b).name for b in by_kind.blocks} == {"conv"}
