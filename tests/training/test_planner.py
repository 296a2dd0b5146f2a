"""The bucket planner on hand-made architectures: grouping, padding, bucket sizes and the
memory cap, with the fixed cost model (no compile, no device data)."""

from __future__ import annotations

import itertools

from vlga_jax.networks.architecture import Architecture, ConvBlock, ConvLayer, pad_key
from vlga_jax.training.cost import CostModel
from vlga_jax.training.members import Member
from vlga_jax.training.planner import ACTIVATION_BYTES, Planner

BATCH = 8
ROWS = (100, 20)  # rows trained, rows evaluated per epoch


def arch(*channels: int, pool: str | None = "max") -> Architecture:
    """A conv network on 8x8x1 images, one 3x3 conv per block."""
    blocks = tuple(ConvBlock((ConvLayer(c, 3),), pool) for c in channels)
    return Architecture((8, 8, 1), 10, blocks)


def member(a: Architecture, **kwargs) -> Member:
    return Member(arch=a, key=None, **kwargs)


def planner(pad_shapes=True, max_bucket_bytes=2**40, members_per_call=None, n_devices=1,
            cost=None) -> Planner:
    return Planner(cost or CostModel(), pad_shapes, BATCH, max_bucket_bytes, members_per_call,
                   n_devices)


def covered(plan) -> list[int]:
    return sorted(itertools.chain.from_iterable(idx for _, _, idx in plan))


def test_bucket_sizes_are_powers_of_two_per_device():
    one, two = planner(), planner(n_devices=2)
    assert [one._bucket_size(n) for n in (1, 2, 3, 4, 5, 9)] == [1, 2, 4, 4, 8, 16]
    assert [two._bucket_size(n) for n in (1, 2, 3, 4, 5)] == [2, 2, 4, 4, 8]


def test_memory_cap_is_a_power_of_two_per_device_within_the_budget():
    key = arch(4, 8).shape_key()
    per_member = ACTIVATION_BYTES * BATCH * key.activations_per_example()
    assert planner(max_bucket_bytes=5 * per_member).max_members(key) == 4
    assert planner(max_bucket_bytes=5 * per_member, n_devices=2).max_members(key) == 8
    assert planner(max_bucket_bytes=per_member // 2).max_members(key) == 1  # at least one
    # members_per_call rounds up to a multiple of the devices.
    assert planner(members_per_call=3, n_devices=2).max_members(key) == 4
    assert planner(members_per_call=3).max_members(key) == 3


def test_exact_shapes_train_apart_without_padding():
    members = [member(arch(4, 8)), member(arch(6, 8)), member(arch(4, 8))]
    plan = planner(pad_shapes=False).assign(members, 1, ROWS)
    assert covered(plan) == [0, 1, 2]
    for program, size, idx in plan:
        assert all(members[i].arch.shape_key() == program for i in idx)
        assert size >= len(idx)
    assert sorted(len(idx) for _, _, idx in plan) == [1, 2]


def test_one_topology_shares_a_padded_program_when_a_compile_costs_more():
    members = [member(arch(4, 8)), member(arch(6, 8)), member(arch(5, 7))]
    plan = planner().assign(members, 1, ROWS)
    assert len(plan) == 1
    program, size, idx = plan[0]
    assert program == pad_key([m.arch.shape_key() for m in members])
    assert idx == [0, 1, 2] and size in (3, 4)


def test_padding_that_costs_more_than_a_compile_is_not_done():
    small, huge = arch(1, 1), arch(256, 256)
    members = [member(small), member(small), member(huge)]
    rows = (10**6, 0)  # training the small ones padded would take far longer than 8 s
    plan = planner().assign(members, 10, rows)
    assert sorted((idx, program) for program, _, idx in plan) == sorted(
        [([0, 1], small.shape_key()), ([2], huge.shape_key())])


def test_different_topologies_never_share_a_program():
    members = [member(arch(4, 8)), member(arch(4, 8, pool=None)), member(arch(4, 8, 8))]
    plan = planner().assign(members, 1, ROWS)
    assert sorted(idx for _, _, idx in plan) == [[0], [1], [2]]


def test_a_bucket_over_the_memory_cap_runs_as_several_calls_of_one_program():
    a = arch(4, 8)
    per_member = ACTIVATION_BYTES * BATCH * a.shape_key().activations_per_example()
    plan = planner(max_bucket_bytes=2 * per_member).assign([member(a)] * 5, 1, ROWS)
    assert [(size, idx) for _, size, idx in plan] == [(2, [0, 1]), (2, [2, 3]), (2, [4])]
    assert len({program for program, _, _ in plan}) == 1


def test_a_compiled_program_that_fits_is_reused():
    cost = CostModel()
    wide = arch(16, 16).shape_key()
    cost.record(wide, 4, 0)
    plan = planner(cost=cost).assign([member(arch(4, 8)), member(arch(6, 8))], 1, ROWS)
    assert plan == [(wide, 4, [0, 1])]
    # Frozen blocks are another program: nothing compiled to reuse.
    frozen = [member(arch(4, 8), frozen_blocks=1), member(arch(6, 8), frozen_blocks=1)]
    [(program, _, _)] = planner(cost=cost).assign(frozen, 1, ROWS)
    assert program != wide


def test_a_given_program_is_kept_and_calls_split_evenly_over_devices():
    program = arch(16, 16).shape_key()
    members = [member(arch(4, 8), program=program), member(arch(6, 8), program=program),
               member(arch(4, 8))]
    plan = planner(n_devices=2).assign(members, 1, ROWS)
    assert (program, 2, [0, 1]) in plan
    assert covered(plan) == [0, 1, 2]
    assert all(size % 2 == 0 for _, size, _ in plan)
