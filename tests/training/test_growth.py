"""Phase growth with a frozen prefix: training on cached features equals training the
whole network with its prefix frozen; evaluation data of padded shapes changes nothing."""

import dataclasses

import jax
import numpy as np
import pytest

from vlga_jax.networks import params as P
from vlga_jax.networks.architecture import Architecture, ConvBlock, ConvLayer
from vlga_jax.training import growth
from vlga_jax.training.growth import FrozenPrefix
from vlga_jax.training.members import DeviceData, Member
from vlga_jax.training.trainer import Trainer

BATCH = 32


def arch(second: ConvBlock) -> Architecture:
    first = ConvBlock((ConvLayer(8, 3, True),), pool="max")
    return Architecture(input_shape=(8, 8, 1), num_classes=10, blocks=(first, second),
                        learning_rate=1e-2, optimizer="sgd")


WHOLE = arch(ConvBlock((ConvLayer(16, 3, True), ConvLayer(8, 1)), skip=True))


@pytest.fixture(scope="module")
def trainer(device_data):
    return Trainer(device_data, batch_size=BATCH, eval_batch=BATCH)


@pytest.fixture(scope="module")
def parent(trainer):
    """A trained one-block parent (its block_0 and BatchNorm statistics are the prefix)."""
    one_block = dataclasses.replace(WHOLE, blocks=WHOLE.blocks[:1])
    return trainer.train([Member(one_block, jax.random.key(0))], 2)[0]


def test_suffix_on_features_equals_whole_network_with_frozen_prefix(trainer, device_data,
                                                                   parent):
    prefix = FrozenPrefix(WHOLE, 1, parent.params, parent.stats)
    assert prefix.feature_shape == (4, 4, 8)
    key = jax.random.key(5)
    tail = growth.suffix(WHOLE, 1, prefix.feature_shape)
    tail_params, tail_stats = P.init_params(jax.random.key(9), tail.shape_key())
    whole_member = Member(WHOLE, key, params=growth.join(parent.params, tail_params, 1),
                          stats=growth.join(parent.stats, tail_stats, 1), frozen_blocks=1)
    tail_member = Member(tail, key, params=tail_params, stats=tail_stats)

    whole = trainer.train([whole_member], 2)[0]
    on_features = trainer.train([tail_member], 2, data=prefix.device_data(device_data))[0]
    joined = prefix.whole(on_features, 1)

    assert on_features.program.input_shape == (4, 4, 8)
    assert joined.program is None
    for a, b in zip(jax.tree.leaves(joined.params), jax.tree.leaves(whole.params), strict=True):
        np.testing.assert_allclose(a, b, rtol=1e-4, atol=1e-5)
    for a, b in zip(jax.tree.leaves(joined.stats), jax.tree.leaves(whole.stats), strict=True):
        np.testing.assert_allclose(a, b, rtol=1e-4, atol=1e-5)
    np.testing.assert_allclose(joined.val_loss, whole.val_loss, rtol=1e-4)
    assert joined.val_acc == pytest.approx(whole.val_acc, abs=1 / 32)
    # The prefix is the parent's, bit for bit.
    for a, b in zip(jax.tree.leaves(joined.params["block_0"]),
                    jax.tree.leaves(parent.params["block_0"]), strict=True):
        np.testing.assert_array_equal(a, b)


def test_join_and_shift_blocks():
    prefix = {"block_0": 0, "block_1": 1, "head": "old"}
    tail = {"block_0": "new", "head": "new head"}
    assert growth.shift_blocks(tail, 2) == {"block_2": "new", "head": "new head"}
    assert growth.join(prefix, tail, 1) == {"block_0": 0, "block_1": "new", "head": "new head"}


def test_frozen_prefix_rejects_bad_block_counts(parent):
    with pytest.raises(ValueError, match="blocks must be in 1..2"):
        FrozenPrefix(WHOLE, 3, parent.params, parent.stats)


def test_padded_evaluation_rows_change_nothing(trainer, digits_dataset, device_data, parent):
    ds = digits_dataset
    n_train = device_data.train_x.shape[0]
    exact = DeviceData.create(ds.train_x[:n_train], ds.train_y[:n_train], ds.val_x[:40],
                              ds.val_y[:40], BATCH)
    padded = DeviceData.create(ds.train_x[:n_train], ds.train_y[:n_train], ds.val_x[:40],
                               ds.val_y[:40], BATCH, eval_rows=100)
    assert exact.eval_x.shape[0] == 64 and padded.eval_x.shape[0] == 128
    assert int(padded.eval_batches) == 2
    one_block = dataclasses.replace(WHOLE, blocks=WHOLE.blocks[:1])
    member = Member(one_block, jax.random.key(1), params=parent.params, stats=parent.stats)
    a = trainer.train([member], 0, data=exact)[0]
    b = trainer.train([member], 0, data=padded)[0]
    assert a.val_acc == b.val_acc
    np.testing.assert_allclose(a.val_loss, b.val_loss, rtol=1e-6)
    # An evaluation of the same parameters on the trainer's own data reads its own split.
    c = trainer.train([member], 0)[0]
    assert c.val_acc == pytest.approx(parent.val_acc)
