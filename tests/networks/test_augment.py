"""Training-time augmentation: the crop and flip functions against numpy, and augmented
training through the Trainer (a member's augmentation depends on its own key only, not
on its bucket-mates or padded channels).

Two small training programs and one evaluation program are compiled in this module
(module-scoped ``runs``, 15-20 s on 2 CPU cores).
"""

import dataclasses
import types

import jax
import numpy as np
import pytest
from support import EPOCHS, assert_outcomes_close, dropout_arch

from vlga_jax import Config, GAConfig, SpaceConfig, TrainConfig
from vlga_jax.networks import params as P
from vlga_jax.networks.architecture import Architecture, ConvBlock, ConvLayer, DenseBlock, pad_key
from vlga_jax.networks.augment import augment, canonical, random_crop, random_flip
from vlga_jax.runs.records import Evaluation
from vlga_jax.search.context import Search
from vlga_jax.training import programs
from vlga_jax.training.trainer import Member, Outcome, Trainer

PAD = 2


def images(n=64, h=5, w=6, c=2, seed=0):
    return np.random.default_rng(seed).normal(size=(n, h, w, c)).astype(np.float32)


def test_crop_is_a_window_of_the_zero_padded_input():
    x = images()
    out = np.asarray(jax.jit(random_crop, static_argnums=2)(jax.random.key(0), x, PAD))
    assert out.shape == x.shape
    padded = np.pad(x, ((0, 0), (PAD, PAD), (PAD, PAD), (0, 0)))
    offsets = set()
    for i in range(len(x)):
        found = [(dy, dx) for dy in range(2 * PAD + 1) for dx in range(2 * PAD + 1)
                 if np.array_equal(out[i], padded[i, dy:dy + 5, dx:dx + 6])]
        assert found, i
        offsets.add(found[0])
    assert len(offsets) > 10  # offsets differ per example (25 possible)


def test_flip_mirrors_about_half_of_the_examples():
    x = images()
    out = np.asarray(jax.jit(random_flip)(jax.random.key(1), x))
    flipped = [np.array_equal(o, xi[:, ::-1]) for o, xi in zip(out, x, strict=True)]
    kept = [np.array_equal(o, xi) for o, xi in zip(out, x, strict=True)]
    assert all(f != k for f, k in zip(flipped, kept, strict=True))  # exactly one of the two
    assert 10 < sum(flipped) < 54


def test_same_key_same_result_and_names_order_free():
    x = images(n=16)
    key = jax.random.key(2)
    both = jax.jit(lambda k: augment(k, x, ("crop", "flip"), PAD))
    a = both(key)
    np.testing.assert_array_equal(a, both(key))
    assert canonical(("flip", "crop")) == ("crop", "flip")  # what `augment` applies
    assert not np.array_equal(a, both(jax.random.key(3)))
    np.testing.assert_array_equal(augment(key, x, ()), x)
    with pytest.raises(ValueError, match="augmentations"):
        augment(key, x, ("rotate",))


# -- through the Trainer -------------------------------------------------------------------

CONFIG = TrainConfig(batch_size=32, eval_batch_size=32, augment="crop,flip", crop_padding=PAD)


def trainer(data, config=CONFIG, **kw):
    return Trainer(data, batch_size=config.batch_size, eval_batch=config.eval_batch_size,
                   members_per_call=8, augment=config.augment,
                   crop_padding=config.crop_padding, **kw)


@pytest.fixture(scope="module")
def runs(device_data):
    """A small member (key 30) trained with augmentation: padded to a bigger program in a
    bucket of 2 with another member, and alone in its exact program; then evaluated
    only. The programs' calls of the augmentation (at trace time) are recorded."""
    small, big = dropout_arch(3), dropout_arch(8)
    program = big.shape_key()
    assert pad_key([small.shape_key(), program]) == program != small.shape_key()
    m = Member(small, jax.random.key(30))
    other = Member(big, jax.random.key(31), program=program)
    traced = []

    def recorded(key, x, names, crop_padding):
        traced.append((x.shape, names, crop_padding))
        return augment(key, x, names, crop_padding)

    with pytest.MonkeyPatch.context() as mp:
        mp.setattr(programs, "augment_batch", recorded)
        bucket = trainer(device_data)
        together = bucket.train([dataclasses.replace(m, program=program), other], EPOCHS)
        alone_trainer = trainer(device_data, pad_shapes=False)
        alone = alone_trainer.train([m], EPOCHS)[0]
        traced_training = list(traced)
        evaluated = alone_trainer.train([dataclasses.replace(m, params=alone.params,
                                                             stats=alone.stats)], 0)[0]
    return {"together": together, "alone": alone, "evaluated": evaluated,
            "program": program, "small": small, "bucket": bucket,
            "alone_trainer": alone_trainer, "traced_training": traced_training,
            "traced": traced}


def test_augmented_training_is_independent_of_bucket_and_padding(runs):
    padded, alone = runs["together"][0], runs["alone"]
    assert padded.program == runs["program"] and alone.program == runs["small"].shape_key()
    assert runs["bucket"].stats.buckets == 1  # both members in one call of 2
    assert_outcomes_close(padded, alone, atol=1e-4)


def test_training_minibatches_are_augmented_in_program(runs):
    """Each training program augments its (per-member) minibatch f32[32, 8, 8, 1] once
    per step body; programs are cached under their augmentation."""
    alone = runs["alone"]
    assert not alone.failed and 0.0 <= alone.val_acc <= 1.0
    assert runs["traced_training"] == [((32, 8, 8, 1), ("crop", "flip"), PAD)] * 2
    keys = list(runs["alone_trainer"]._compiled)
    assert [k[3] for k in keys] == [(("crop", "flip"), PAD), ()]  # train, eval


def test_evaluation_is_not_augmented(runs):
    """The evaluation program (0 epochs) augments nothing and reproduces the metrics that
    the training program computed after its last step."""
    assert runs["traced"] == runs["traced_training"]
    evaluated, alone = runs["evaluated"], runs["alone"]
    np.testing.assert_allclose(evaluated.val_acc, alone.val_acc, atol=1e-6)
    np.testing.assert_allclose(evaluated.val_loss, alone.val_loss, rtol=1e-5, atol=1e-6)


def test_dense_networks_are_not_augmented(device_data):
    mlp = Architecture((8, 8, 1), 10, (DenseBlock(16),))
    with pytest.raises(ValueError, match="conv"):
        trainer(device_data).train([Member(mlp, jax.random.key(0))], 1)
    with pytest.raises(ValueError, match="train.augment"):
        Config(space=SpaceConfig(kind="mlp_ga", max_blocks=4), train=CONFIG)


def test_trainer_checks_its_augment_options(device_data):
    with pytest.raises(ValueError, match="augment"):
        Trainer(device_data, augment=("crop", "zoom"))
    with pytest.raises(ValueError, match="augment"):
        Trainer(device_data, augment="crop")
    with pytest.raises(ValueError, match="crop_padding"):
        Trainer(device_data, augment=("crop",), crop_padding=0)
    assert Trainer(device_data, augment=["flip", "crop"]).augment == ("crop", "flip")


def test_frozen_transfer_with_augmentation_runs_the_prefix_in_program(digits_dataset):
    """Cached prefix features cannot be augmented: the search trains whole networks with
    frozen blocks instead (no training here: the trainer is replaced by a recorder)."""
    config = Config(space=SpaceConfig(max_blocks=2), ga=GAConfig(population=2, max_phases=2),
                    train=dataclasses.replace(CONFIG, transfer="freeze"))
    search = Search.create(jax.random.key(0), config, digits_dataset)
    assert (search.trainer.augment, search.trainer.crop_padding) == (("crop", "flip"), PAD)
    block = ConvBlock((ConvLayer(8, 3),), pool="max")
    parent_arch = Architecture((8, 8, 1), 10, (block,))
    child = dataclasses.replace(parent_arch, blocks=(block, block))
    params, stats = P.init_params(jax.random.key(1), parent_arch.shape_key())
    parent = Evaluation(parent_arch, types.SimpleNamespace(params=params, stats=stats))
    calls = []
    search.schedule._prefix = lambda *args: pytest.fail("the feature cache was used")

    def record(members, epochs, data=None, **kw):
        calls.append((members, data))
        return [Outcome(params=None, stats=None, val_acc=0.5, val_loss=1.0, train_loss=1.0,
                        failed=False, reason="", seconds=0.0, program=None)
                for _ in members]

    search.trainer.train = record
    search.schedule.train([child], parent, 1, [0])
    (members, data), = calls
    assert data is None and members[0].arch == child and members[0].frozen_blocks == 1
