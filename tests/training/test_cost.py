"""The bucket cost model on hand-made shape keys: seconds, compiles, learning, state."""

from __future__ import annotations

import pytest

from vlga_jax.networks.architecture import Architecture, ConvBlock, ConvLayer, pad_key
from vlga_jax.training import cost as cost_module
from vlga_jax.training.cost import CostModel


def conv_key(*channels: int, pool: str | None = "max", optimizer: str = "adam"):
    """The ShapeKey of a conv network on 8x8x1 images, one 3x3 conv per block."""
    blocks = tuple(ConvBlock((ConvLayer(c, 3),), pool) for c in channels)
    return Architecture((8, 8, 1), 10, blocks, optimizer=optimizer).shape_key()


SMALL, WIDE = conv_key(4, 8), conv_key(6, 8)  # one topology, different channels


def test_train_seconds_counts_one_device_share_of_every_row():
    model = CostModel(flop_rate=1e9, devices=2)
    flops = SMALL.train_flops_per_example
    # 3 members on 2 devices: 2 per device; 2 epochs of 100 rows + 30 rows evaluated at
    # a third of the cost.
    assert model.train_seconds(SMALL, 3, 2, 100, 30) == pytest.approx(
        2 * flops * (2 * 100 + 30 / 3) / 1e9)
    # No epoch (evaluation only) still charges one pass over the training rows.
    assert model.train_seconds(SMALL, 3, 0, 100, 30) == model.train_seconds(
        SMALL, 3, 1, 100, 30)


def test_estimate_charges_a_compile_until_the_program_is_recorded():
    model = CostModel()
    train = model.train_seconds(SMALL, 4, 1, 50, 10)
    assert model.estimate(SMALL, 4, 2, 0, 1, 50, 10) == pytest.approx(
        2 * train + cost_module.FIXED_COMPILE_SECONDS)
    assert model.record(SMALL, 4, 0) is True
    assert model.record(SMALL, 4, 0) is False  # known already
    assert model.estimate(SMALL, 4, 2, 0, 1, 50, 10) == pytest.approx(2 * train)
    # Another bucket size, or another frozen prefix, is another program.
    assert model.estimate(SMALL, 8, 1, 0, 1, 50, 10) > model.train_seconds(SMALL, 8, 1, 50, 10)
    assert model.estimate(SMALL, 4, 1, 1, 1, 50, 10) > train


def test_a_size_that_is_not_a_power_of_two_per_device_costs_half_a_compile_more():
    model = CostModel(devices=2)
    compile_seconds = model.compile_seconds
    for size, extra in ((4, 0.0), (6, cost_module.ODD_SIZE_COMPILE_SHARE), (8, 0.0)):
        train = model.train_seconds(SMALL, size, 1, 10, 0)
        assert model.estimate(SMALL, size, 1, 0, 1, 10, 0) == pytest.approx(
            train + compile_seconds * (1 + extra)), size


def test_compiled_programs_are_found_by_topology_and_frozen_blocks():
    model = CostModel()
    padded = pad_key([SMALL, WIDE])
    model.record(padded, 4, 0)
    assert model.compiled(SMALL, 0) == [(padded, 4)]  # same topology, narrower
    assert model.compiled(SMALL, 1) == []
    assert model.compiled(conv_key(4, 8, pool=None), 0) == []  # other pooling
    assert model.compiled(conv_key(4, 8, optimizer="sgd"), 0) == []


def test_fixed_model_ignores_timings_and_measured_model_learns_them():
    fixed = CostModel()
    fixed.update(compile_seconds=1.0, first=True, flops=1e9, seconds=1.0)
    assert (fixed.compile_seconds, fixed.flop_rate) == (
        cost_module.FIXED_COMPILE_SECONDS, cost_module.FIXED_FLOP_RATE)

    measured = CostModel("measured", flop_rate=1e9, compile_seconds=10.0, devices=2)
    measured.update(compile_seconds=2.0, first=True)
    assert measured.compile_seconds == 2.0  # the first compile replaces the guess
    measured.update(compile_seconds=4.0)
    assert measured.compile_seconds == pytest.approx(3.0)  # then they are averaged
    measured.update(flops=6e9, seconds=1.0)  # over 2 devices: 3e9 FLOP/s each
    assert measured.flop_rate == pytest.approx(2e9)
    measured.update(flops=6e9, seconds=0.0)  # no time measured: nothing learnt
    assert measured.flop_rate == pytest.approx(2e9)


def test_state_dict_round_trips_and_none_entries_are_kept():
    model = CostModel("measured", flop_rate=2e9, compile_seconds=5.0)
    model.record(SMALL, 4, 0)
    model.record(WIDE, 2, 1)
    other = CostModel("measured")
    other.load_state_dict(model.state_dict())
    assert (other.known, other.flop_rate, other.compile_seconds) == (
        model.known, 2e9, 5.0)
    other.load_state_dict({"known_programs": None, "flop_rate": None, "compile_estimate": 7.0})
    assert (other.known, other.flop_rate, other.compile_seconds) == (model.known, 2e9, 7.0)


def test_unknown_kind_is_refused():
    with pytest.raises(ValueError, match=r"cost_model must be one of \(.*\), got 'guess'"):
        CostModel("guess")
