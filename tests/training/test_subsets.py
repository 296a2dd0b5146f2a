"""A member's fixed subset of training rows (`vlga_jax.training.subsets`,
``train.examples_per_candidate``): it trains on those rows only, in both step modes, and
one key gives one subset bit for bit.

One tiny dense network (fused programs compile in about a second) on the 96-row
``device_data`` with a subset of 64 rows: two minibatches of 32 per epoch.
"""

import dataclasses

import jax
import numpy as np
import pytest

from vlga_jax.config import TrainConfig
from vlga_jax.networks.architecture import Architecture, DenseBlock
from vlga_jax.training import subsets
from vlga_jax.training.trainer import Member, Trainer

BATCH, EXAMPLES = 32, 64
ARCH = Architecture(input_shape=(8, 8, 1), num_classes=10, blocks=(DenseBlock(16),),
                    activation="tanh", learning_rate=1e-2)
KEY, SUBSET_KEY = jax.random.key(5), jax.random.key(9)


def limited(**kw) -> Member:
    return Member(ARCH, KEY, examples=EXAMPLES, examples_key=SUBSET_KEY, **kw)


def same_bits(a, b) -> bool:
    return all(np.array_equal(u, v) for u, v in zip(jax.tree.leaves(a), jax.tree.leaves(b),
                                                    strict=True))


def relabelled(data, row: int):
    """``data`` with training row ``row``'s label moved to another class."""
    labels = np.array(data.train_y)
    labels[row] = (labels[row] + 1) % 10
    return dataclasses.replace(data, train_y=jax.device_put(labels))


@pytest.fixture(scope="module")
def rows(device_data):
    """The rows of the member's subset, as the program draws them."""
    return np.asarray(subsets.subset_rows(SUBSET_KEY, device_data.train_x.shape[0], EXAMPLES))


@pytest.fixture(scope="module")
def fused(device_data):
    trainer = Trainer(device_data, batch_size=BATCH, eval_batch=BATCH, compile_workers=0)
    return trainer, trainer.train([limited()], 2)[0]


def test_subset_rows_are_distinct_and_drawn_from_the_key(device_data, rows):
    n_train = device_data.train_x.shape[0]
    assert len(set(rows.tolist())) == EXAMPLES and rows.min() >= 0 and rows.max() < n_train
    assert np.array_equal(rows, subsets.subset_rows(SUBSET_KEY, n_train, EXAMPLES))
    assert not np.array_equal(rows, subsets.subset_rows(KEY, n_train, EXAMPLES))
    # Each epoch of the chained key stream permutes exactly those rows.
    epoch_keys = jax.jit(subsets.build_epoch_keys(n_train, 2, BATCH, EXAMPLES))
    rng, first, _ = epoch_keys(KEY, SUBSET_KEY)
    _, second, _ = epoch_keys(rng, SUBSET_KEY)
    for perm in (first, second):
        assert sorted(np.asarray(perm).ravel().tolist()) == sorted(rows.tolist())
    assert not np.array_equal(first, second)


def test_limit_at_or_above_the_training_rows_is_no_limit():
    assert subsets.effective_examples(None, 96) is None
    assert subsets.effective_examples(96, 96) is None
    assert subsets.effective_examples(200, 96) is None
    assert subsets.effective_examples(64, 96) == 64


def test_member_trains_on_its_subset_only(device_data, fused, rows):
    trainer, out = fused
    assert not out.failed and out.program == ARCH.shape_key()
    outside = next(r for r in range(device_data.train_x.shape[0]) if r not in set(rows))
    [same] = trainer.train([limited()], 2, data=relabelled(device_data, outside))
    [changed] = trainer.train([limited()], 2, data=relabelled(device_data, int(rows[0])))
    assert same_bits(same.params, out.params)  # an example it never sees changes nothing
    assert not same_bits(changed.params, out.params)
    assert trainer.stats.programs_compiled == 1  # data of the same shapes: one program


def test_same_key_same_bits_other_keys_other_subsets(device_data, fused):
    trainer, out = fused
    again, other = trainer.train(
        [limited(), Member(ARCH, KEY, examples=EXAMPLES, examples_key=jax.random.key(10))], 2)
    [whole] = trainer.train([Member(ARCH, KEY)], 2)
    assert same_bits(again.params, out.params)
    assert (again.val_acc, again.val_loss, again.train_loss) == (
        out.val_acc, out.val_loss, out.train_loss)
    assert not same_bits(other.params, out.params)
    assert not same_bits(whole.params, out.params)


def test_chained_training_uses_the_same_subset(device_data, fused):
    chain = Trainer(device_data, batch_size=BATCH, eval_batch=BATCH, step_mode="chain",
                    compile_workers=0)
    [out] = chain.train([limited()], 2)
    [again] = chain.train([limited()], 2)
    assert same_bits(out.params, again.params)
    for u, v in zip(jax.tree.leaves(out.params), jax.tree.leaves(fused[1].params),
                    strict=True):
        np.testing.assert_allclose(u, v, rtol=1e-4, atol=1e-5)
    assert out.train_loss == pytest.approx(fused[1].train_loss, rel=1e-4)


def test_members_of_one_call_share_their_subset_size(device_data, fused):
    trainer, _ = fused
    with pytest.raises(ValueError, match="must share Member.examples"):
        trainer.train([limited(), Member(ARCH, KEY)], 1)
    with pytest.raises(ValueError, match="Member.examples must be >= the batch size 32"):
        trainer.train([Member(ARCH, KEY, examples=16)], 1)


def test_config_field_is_checked_at_the_border():
    assert TrainConfig().examples_per_candidate is None
    with pytest.raises(ValueError, match="train.examples_per_candidate must be an integer "
                                         ">= 1, got 0"):
        TrainConfig(examples_per_candidate=0)
    with pytest.raises(ValueError, match=r"train.examples_per_candidate must be None \(every "
                                         r"training example\) or >= train.batch_size \(128\)"):
        TrainConfig(examples_per_candidate=100)
    with pytest.raises(ValueError, match="train.examples_per_candidate must be None or an "
                                         "integer, got 2.5"):
        TrainConfig(examples_per_candidate=2.5)
