"""The batched trainer: batching, padding and freezing change nothing but speed.

Compiles are the cost here (seconds each on a loaded CPU), so one module-scoped Trainer
serves most tests and results are computed once per module (``runs`` fixture).
"""

import dataclasses

import jax
import numpy as np
import pytest
from support import EPOCHS, assert_outcomes_close, assert_trees_close, dropout_arch

from vlga_jax.networks import params as P
from vlga_jax.networks.architecture import Architecture, ConvBlock, ConvLayer, fits, pad_key
from vlga_jax.networks.conv import CONV_IMPLS
from vlga_jax.training.cost import FIXED_COMPILE_SECONDS, FIXED_FLOP_RATE, CostModel
from vlga_jax.training.members import Member
from vlga_jax.training.trainer import Trainer


def conv_arch(c0=4, k0=3, c1a=8, k1a=3, c1b=8, k1b=3, *, bn=(False, False, False),
              activation="relu", pool="max", lr=1e-2, wd=0.0):
    """Two blocks: conv [+pool]; conv, conv + 1x1 skip. Only sizes change the ShapeKey."""
    return Architecture(
        input_shape=(8, 8, 1), num_classes=10,
        blocks=(ConvBlock((ConvLayer(c0, k0, bn[0]),), pool=pool),
                ConvBlock((ConvLayer(c1a, k1a, bn[1]), ConvLayer(c1b, k1b, bn[2])), skip=True)),
        activation=activation, learning_rate=lr, weight_decay=wd)


# Four candidates with one ShapeKey that differ in every knob and in their keys.
ARCHS = {
    "a": conv_arch(bn=(True, True, False), activation="relu", pool="max", lr=1e-2),
    "b": conv_arch(bn=(False, True, True), activation="tanh", pool="avg", lr=3e-3, wd=1e-4),
    "c": conv_arch(bn=(True, False, True), activation="elu", pool="max", lr=1e-2),
    "d": conv_arch(bn=(False, False, False), activation="sigmoid", pool="avg", lr=5e-3),
}
SEEDS = {"a": 1, "b": 2, "c": 3, "d": 4}


def batched_trainer(data, **kw):
    """A Trainer that vmaps up to 8 members per call (the accelerator default; on CPUs
    the default is one member per call)."""
    return Trainer(data, batch_size=32, eval_batch=32, members_per_call=8, **kw)


def member(name, **kw):
    return Member(ARCHS[name], jax.random.key(SEEDS[name]), **kw)






def trees_differ(x, y) -> bool:
    return any(not np.array_equal(u, v) for u, v in zip(jax.tree.leaves(x), jax.tree.leaves(y),
                                                        strict=True))


@pytest.fixture(scope="module")
def trainer(device_data):
    return batched_trainer(device_data)


@pytest.fixture(scope="module")
def runs(trainer, device_data):
    """Outcomes of [a, b, c] together and of a, b, c each alone.

    The alone runs use their own Trainer: ``trainer`` would (rightly) reuse its compiled
    4-member program for one member, which would not test a population of one.
    """
    before = (trainer.stats.members_trained, trainer.stats.member_slots)
    together = trainer.train([member("a"), member("b"), member("c")], EPOCHS)
    slots = (trainer.stats.members_trained - before[0], trainer.stats.member_slots - before[1])
    solo = batched_trainer(device_data)
    alone = [solo.train([member(n)], EPOCHS)[0] for n in "abc"]
    return {"together": dict(zip("abc", together, strict=True)),
            "alone": dict(zip("abc", alone, strict=True)),
            "compiled_batched": trainer.stats.programs_compiled,
            "compiled_alone": solo.stats.programs_compiled,
            "slots": slots, "alone_utilisation": solo.stats.utilisation}


def test_training_changes_parameters_and_members_differ(runs):
    out = runs["together"]
    for name in "abc":
        fresh, _ = P.init_params(jax.random.key(SEEDS[name]), ARCHS[name].shape_key())
        assert trees_differ(fresh, out[name].params), name
        assert not out[name].failed and np.isfinite(out[name].val_loss)
        assert 0.0 <= out[name].val_acc <= 1.0
    # Different knobs and keys give different results: a mix-up of members would show.
    assert trees_differ(out["a"].params, out["b"].params)
    assert out["a"].val_loss != out["b"].val_loss != out["c"].val_loss


def test_batched_equals_unbatched(runs):
    for name in "abc":
        assert_outcomes_close(runs["together"][name], runs["alone"][name])


def test_bias_before_batchnorm_stays_put(runs):
    """A conv bias followed by an enabled batch norm has no effect on the training loss.

    Its exact gradient is zero, so it must not move: otherwise Adam, which divides by
    sqrt(v) + 1e-8, turns float noise of ~1e-9 into steps of ~learning_rate, and the
    drifting bias leaks into evaluation through the lagging running mean. Results then
    depend on the order of float operations (batched or not, padded or not, conv impl).
    """
    out = runs["together"]
    for name in "abc":
        bn = ARCHS[name].knobs().batchnorm
        for i, j, conv in ((0, 0, "conv_a"), (1, 0, "conv_a"), (1, 1, "conv_b")):
            bias = out[name].params[f"block_{i}"][conv]["bias"]
            if bn[i, j]:
                assert np.array_equal(bias, np.zeros_like(bias)), (name, i, conv, bias)
            else:
                assert np.any(bias != 0), (name, i, conv)


def test_outcomes_report_real_shapes_and_program(runs):
    for name in "abc":
        o = runs["together"][name]
        shapes = jax.tree.map(lambda a: a.shape, o.params)
        want = ARCHS[name].shape_key().param_shapes()
        assert jax.tree.leaves(shapes, is_leaf=lambda s: isinstance(s, tuple)) == \
            jax.tree.leaves(want, is_leaf=lambda s: isinstance(s, tuple))
        assert o.program == ARCHS[name].shape_key()


def test_padding_members_change_nothing_and_programs_are_cached(trainer, runs):
    # [a, b, c] ran padded to 4 with a dummy member; [a, b, c, d] fills the 4 slots.
    before = trainer.stats.programs_compiled
    full = trainer.train([member("a"), member("b"), member("c"), member("d")], EPOCHS)
    assert trainer.stats.programs_compiled == before, "same shapes must reuse the program"
    for name, o in zip("abc", full, strict=False):
        assert_outcomes_close(o, runs["together"][name])
    assert not full[3].failed
    # A repeat call compiles nothing either; a listener is told of each bucket (for
    # progress output) and changes nothing.
    events = []
    trainer.listener = lambda event, *args: events.append((event, *args))
    try:
        again = trainer.train([member("a"), member("b"), member("c")], EPOCHS)
    finally:
        trainer.listener = None
    assert trainer.stats.programs_compiled == before
    (_, epochs, buckets), *calls = events
    assert events[0][0] == "train_started" and epochs == EPOCHS
    assert sum(members for _, members, _ in buckets) == 3
    assert all(flops > 0 and isinstance(label, str) for label, _, flops in buckets)
    assert [e[:2] for e in calls] == [(kind, k) for k in range(len(buckets))
                                      for kind in ("bucket_started", "bucket_finished")]
    for name, o in zip("abc", again, strict=True):
        assert_outcomes_close(o, runs["together"][name])


def test_one_program_per_shape(runs):
    # [a, b, c] (padded to 4) needs one program; three single-member calls share one.
    assert runs["compiled_batched"] == 1
    assert runs["compiled_alone"] == 1


def test_nan_candidate_fails_alone(trainer, runs):
    key = ARCHS["c"].shape_key()
    params, stats = P.init_params(jax.random.key(SEEDS["c"]), key)
    params["head"]["bias"] = np.full_like(params["head"]["bias"], np.nan)
    poisoned = Member(ARCHS["c"], jax.random.key(SEEDS["c"]), params=params, stats=stats)
    before = trainer.stats.programs_compiled
    out = trainer.train([member("a"), member("b"), poisoned], EPOCHS)
    assert trainer.stats.programs_compiled == before
    assert out[2].failed
    assert out[2].val_acc == -np.inf
    assert isinstance(out[2].reason, str) and out[2].reason
    for name, o in zip("ab", out, strict=False):
        assert not o.failed
        assert_outcomes_close(o, runs["together"][name])


def test_frozen_blocks_stay_bit_identical(trainer, runs):
    start = runs["together"]["a"]  # trained parameters and (non-trivial) BN statistics
    frozen = trainer.train([member("a", params=start.params, stats=start.stats,
                                   frozen_blocks=1)], EPOCHS)[0]
    assert not frozen.failed
    assert_trees_close(frozen.params["block_0"], start.params["block_0"], exact=True)
    assert_trees_close(frozen.stats["block_0"], start.stats["block_0"], exact=True)
    assert trees_differ(frozen.params["block_1"], start.params["block_1"])
    assert trees_differ(frozen.params["head"], start.params["head"])
    assert trees_differ(frozen.stats["block_1"], start.stats["block_1"])
    # Without freezing, the same fine-tuning does move block_0 (the test can fail).
    free = trainer.train([member("a", params=start.params, stats=start.stats)], EPOCHS)[0]
    assert trees_differ(free.params["block_0"], start.params["block_0"])
    assert trees_differ(free.stats["block_0"], start.stats["block_0"])


# -- padded shapes are exact ------------------------------------------------------------------

# Smaller than ARCHS' key in every way padding must bridge: block_0 conv 2x3x3 (channels),
# block_1 conv_a 6x1x1 (channels and kernel), conv_b 6x3x3 (channels), no skip projection.
# (Not 1x1 on the single input channel with batch norm: that kernel has a zero gradient,
# and Adam turns float noise in a zero gradient into steps of size ~learning_rate.)
SMALL = dict(c0=2, k0=3, c1a=6, k1a=1, c1b=6, k1b=3)


def small_arch(bn, activation, pool):
    arch = conv_arch(**SMALL, bn=bn, activation=activation, pool=pool, lr=1e-2)
    no_skip = dataclasses.replace(arch.blocks[1], skip=False)
    return dataclasses.replace(arch, blocks=(arch.blocks[0], no_skip))


PADDED_ARCHS = {
    "bn_off": small_arch((False, False, False), "relu", "max"),
    # sigmoid(0) = 0.5: padded channels are not zero after the activation.
    "bn_on": small_arch((True, True, True), "sigmoid", "avg"),
}


@pytest.fixture(scope="module")
def padded_runs(trainer, device_data, runs):
    program = ARCHS["a"].shape_key()
    names = list(PADDED_ARCHS)
    for n in names:
        small = PADDED_ARCHS[n].shape_key()
        assert pad_key([small, program]) == program and small != program, n
    members = [Member(PADDED_ARCHS[n], jax.random.key(10 + i)) for i, n in enumerate(names)]
    before = trainer.stats.programs_compiled
    # Inside the big program that [a, b, c] compiled (padded to 4 members: no compile).
    padded = trainer.train([dataclasses.replace(m, program=program) for m in members], EPOCHS)
    compiled = trainer.stats.programs_compiled - before
    # In their exact program.
    exact_trainer = batched_trainer(device_data, pad_shapes=False)
    exact = exact_trainer.train(members, EPOCHS)
    return {"names": names, "padded": padded, "exact": exact, "compiled": compiled,
            "program": program, "exact_compiled": exact_trainer.stats.programs_compiled}


def test_member_program_is_used(padded_runs):
    assert padded_runs["compiled"] == 0
    assert padded_runs["exact_compiled"] == 1  # bn_off and bn_on share one ShapeKey
    for o in padded_runs["padded"]:
        assert o.program == padded_runs["program"]
    for name, o in zip(padded_runs["names"], padded_runs["exact"], strict=True):
        assert o.program == PADDED_ARCHS[name].shape_key()


@pytest.mark.parametrize("name", list(PADDED_ARCHS))
def test_padded_program_trains_like_exact_program(padded_runs, name):
    i = padded_runs["names"].index(name)
    padded, exact = padded_runs["padded"][i], padded_runs["exact"][i]
    assert not exact.failed
    fresh, _ = P.init_params(jax.random.key(10 + i), PADDED_ARCHS[name].shape_key())
    assert trees_differ(fresh, exact.params)
    # atol 3e-4 (not 1e-5): a padded program sums in another order (3x3 convs with zero
    # taps instead of 1x1 matmuls, zero channels), and Adam's per-element normalisation
    # magnifies the float noise of tiny gradients (up to 1.4e-4 seen on one kernel entry
    # of bn_on, on this project's 2-core machines); a padding error moves parameters by
    # ~learning_rate (1e-2) per step.
    assert_outcomes_close(padded, exact, atol=3e-4)


@pytest.fixture(scope="module")
def last_pool_runs(trainer, device_data):
    """A last block without pooling inside a program whose last block pools (a knob)."""
    plain = small_arch((True, False, False), "relu", "max")
    pooled = dataclasses.replace(
        plain, blocks=(plain.blocks[0], dataclasses.replace(plain.blocks[1], pool="avg")))
    program = pooled.shape_key()
    assert plain.shape_key() != program and fits(plain.shape_key(), program)
    members = [Member(plain, jax.random.key(20)), Member(pooled, jax.random.key(20))]
    before = trainer.stats.programs_compiled
    shared = trainer.train([dataclasses.replace(m, program=program) for m in members], EPOCHS)
    compiled = trainer.stats.programs_compiled - before
    alone = batched_trainer(device_data, pad_shapes=False)
    return {"shared": shared, "alone": alone.train(members[:1], EPOCHS)[0],
            "compiled": compiled}


def test_last_block_pooling_is_a_knob(last_pool_runs):
    plain_shared, pooled_shared = last_pool_runs["shared"]
    assert last_pool_runs["compiled"] == 1
    assert plain_shared.program == pooled_shared.program
    assert_outcomes_close(plain_shared, last_pool_runs["alone"], atol=1e-4)
    # Same key and parameters; only the pooling knob differs, and it matters.
    assert trees_differ(plain_shared.params, pooled_shared.params)


def test_pad_shapes_groups_one_topology_into_one_bucket(device_data):
    t = batched_trainer(device_data)
    one_conv = Architecture((8, 8, 1), 10, (ConvBlock((ConvLayer(4, 1),), pool="max"),
                                            ConvBlock((ConvLayer(8, 3),))))
    members = [member("a"), Member(PADDED_ARCHS["bn_off"], jax.random.key(0)),
               Member(one_conv, jax.random.key(1))]
    groups = t.assign_programs(members)
    assert len(groups) == 1
    assert groups[0][0] == ARCHS["a"].shape_key()
    assert groups[0][-1] == [0, 1, 2]
    exact = batched_trainer(device_data, pad_shapes=False)
    assert len(exact.assign_programs(members)) == 3


def test_cost_model_merges_when_compiles_are_dear_and_splits_when_cheap(device_data):
    small = Architecture((8, 8, 1), 10, (ConvBlock((ConvLayer(4, 1),)),))
    large = Architecture((8, 8, 1), 10, (ConvBlock((ConvLayer(64, 5), ConvLayer(64, 5))),))
    members = [Member(small, jax.random.key(0)), Member(small, jax.random.key(1)),
               Member(large, jax.random.key(2))]
    t = batched_trainer(device_data)
    t.flop_rate = 1e9
    t.compile_estimate = 1e4  # compiles dearer than FLOPs
    merged = t.assign_programs(members, 1)
    assert [(p, idx) for p, _, idx in merged] == [(large.shape_key(), [0, 1, 2])]
    t.compile_estimate = 1e-3  # compiles nearly free: no padding
    split = t.assign_programs(members, 1)
    assert sorted((idx, p.layers) for p, _, idx in split) == [
        ([0, 1], small.shape_key().layers), ([2], large.shape_key().layers)]


def test_cost_model_names_are_checked(device_data):
    with pytest.raises(ValueError, match="cost_model must be one of"):
        Trainer(device_data, cost_model="psychic")


def test_cost_model_charges_new_programs_learns_only_when_measured_and_round_trips():
    program = ARCHS["a"].shape_key()
    fixed = CostModel("fixed")
    train = fixed.train_seconds(program, 4, 1, 96, 32)
    assert fixed.estimate(program, 4, 1, 0, 1, 96, 32) == train + FIXED_COMPILE_SECONDS
    assert fixed.estimate(program, 3, 1, 0, 1, 96, 32) > (  # odd size: a recompile later
        fixed.train_seconds(program, 3, 1, 96, 32) + FIXED_COMPILE_SECONDS)
    assert fixed.record(program, 4, 0) and not fixed.record(program, 4, 0)
    assert fixed.estimate(program, 4, 2, 0, 1, 96, 32) == 2 * train  # compiled: no charge
    fixed.update(compile_seconds=1.0, first=True, flops=1e9, seconds=1.0)
    assert (fixed.flop_rate, fixed.compile_seconds) == (FIXED_FLOP_RATE, FIXED_COMPILE_SECONDS)
    measured = CostModel("measured")
    measured.update(compile_seconds=2.0, first=True)
    measured.update(flops=1e9, seconds=1.0)
    assert measured.compile_seconds == 2.0
    assert measured.flop_rate == 0.5 * FIXED_FLOP_RATE + 0.5 * 1e9
    copy = CostModel("measured")
    copy.load_state_dict(fixed.state_dict())
    assert copy.known == fixed.known and copy.flop_rate == fixed.flop_rate


def test_one_evaluation_batch_the_datas(device_data):
    assert Trainer(device_data).eval_batch == device_data.eval_batch
    with pytest.raises(ValueError, match="eval_batch: 16 differs"):
        Trainer(device_data, eval_batch=16)
    other = dataclasses.replace(device_data, eval_batch=16)
    with pytest.raises(ValueError, match="evaluation batch 16, not the trainer's 32"):
        Trainer(device_data).train([], 1, data=other)


def test_memory_cap_splits_a_group_into_calls_of_one_program(device_data):
    program = ARCHS["a"].shape_key()
    per_member = 4 * 4 * 32 * program.activations_per_example()
    t = batched_trainer(device_data, max_bucket_bytes=2 * per_member)
    assert t.max_members(program) == 2
    groups = t.assign_programs([member(n) for n in "abc"])
    assert [(size, idx) for _, size, idx in groups] == [(2, [0, 1]), (2, [2])]
    assert len({p for p, _, _ in groups}) == 1
    assert batched_trainer(device_data, max_bucket_bytes=1).max_members(program) == 1


def test_negative_epochs_rejected(trainer):
    with pytest.raises(ValueError, match="n_epochs"):
        trainer.train([member("a")], -1)


# -- conv implementations ---------------------------------------------------------------------

# No batch norm: this compares convolutions, not test_bias_before_batchnorm_stays_put.
IMPL_ARCHS = {
    "d": ARCHS["d"],
    "e": conv_arch(bn=(False, False, False), activation="selu", pool="max", lr=3e-3),
}


def impl_members():
    return [Member(arch, jax.random.key(20 + i)) for i, arch in enumerate(IMPL_ARCHS.values())]


@pytest.fixture(scope="module")
def impl_reference(device_data):
    return batched_trainer(device_data, conv_impl="lax").train(
        impl_members(), EPOCHS)


@pytest.mark.parametrize("impl", sorted(set(CONV_IMPLS) - {"lax"}))
def test_conv_impl_trains_like_lax(device_data, trainer, runs, impl_reference, impl):
    if impl == trainer.conv_impl:  # the shared trainer has this program compiled already
        t = trainer
    else:
        t = batched_trainer(device_data, conv_impl=impl)
    assert t.conv_impl == impl
    out = t.train(impl_members(), EPOCHS)
    for o, ref in zip(out, impl_reference, strict=True):
        assert not ref.failed
        assert ref.program == ARCHS["a"].shape_key()
        assert_outcomes_close(o, ref, rtol=1e-4, atol=2e-5)




def test_padding_is_exact_with_dropout(device_data):
    """Dropout masks of the real channels do not depend on padded channels."""
    small, big = dropout_arch(3), dropout_arch(8)
    program = big.shape_key()
    assert pad_key([small.shape_key(), program]) == program != small.shape_key()
    m = Member(small, jax.random.key(30))
    t = Trainer(device_data, batch_size=32, eval_batch=32)
    padded = t.train([dataclasses.replace(m, program=program)], EPOCHS)[0]
    assert padded.program == program
    exact = Trainer(device_data, batch_size=32, eval_batch=32, pad_shapes=False).train(
        [m], EPOCHS)[0]
    assert exact.program == small.shape_key()
    assert_outcomes_close(padded, exact, atol=1e-4)


def test_cpu_default_trains_one_member_per_call_like_a_bucket(device_data, runs):
    t = Trainer(device_data, batch_size=32, eval_batch=32)
    assert t.members_per_call == len(jax.devices())  # CPU: one member per device
    plan = t.assign_programs([member(n) for n in "abc"], EPOCHS)
    assert [(size, idx) for _, size, idx in plan] == [(1, [0]), (1, [1]), (1, [2])]
    out = t.train([member(n) for n in "abc"], EPOCHS)
    assert (t.stats.programs_compiled, t.stats.program_reuses) == (1, 2)
    for name, o in zip("abc", out, strict=True):
        assert_outcomes_close(o, runs["together"][name])


def test_members_per_call_is_checked(device_data):
    with pytest.raises(ValueError, match="members_per_call"):
        Trainer(device_data, members_per_call=0)


def test_buckets_are_sized_for_the_devices():
    from vlga_jax.training.planner import Planner

    program = ARCHS["a"].shape_key()
    members = [member("a") for _ in range(5)]
    for devices, per_call, sizes in ((3, 3, [3, 3]), (4, 1, [4, 4]), (4, None, [8]),
                                     (1, None, [8]), (1, 2, [2, 2, 2])):
        planner = Planner(CostModel("fixed", devices=devices), True, 32, 4 << 30, per_call,
                          devices)
        plan = planner.assign(members, 1, (96, 32))
        # Every call a multiple of the devices (members_per_call rounded up to one).
        assert [size for _, size, _ in plan] == sizes
        assert sorted(i for _, _, idx in plan for i in idx) == list(range(5))
    # A memory cap of one member per device still gives each device one.
    assert Planner(CostModel(), True, 32, 1, None, 4).max_members(program) == 4
    # Devices train their shares in parallel: 4 members on 4 devices cost one on one.
    one, four = CostModel(), CostModel(devices=4)
    assert four.train_seconds(program, 4, 1, 96, 32) == one.train_seconds(program, 1, 1, 96, 32)
    assert four.estimate(program, 12, 1, 0, 1, 96, 32) > (  # 3 per device: charged as odd
        four.train_seconds(program, 12, 1, 96, 32) + FIXED_COMPILE_SECONDS)


def test_utilisation_counts_dummy_members(runs):
    assert runs["slots"] == (3, 4)  # a, b, c and one dummy member in a call of 4
    assert runs["alone_utilisation"] == 1.0
