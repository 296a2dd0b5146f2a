"""The bucket planner: which members train together, in which program and bucket size.

Members of one topology may share a program padded to their largest shapes; a
`CostModel` weighs a compile saved against the padded FLOPs added (`Planner.assign`).
A bucket is capped by an estimate of its activation memory (`Planner.max_members`).
"""

from __future__ import annotations

import dataclasses
import math
from collections.abc import Sequence

from vlga_jax.networks.architecture import ShapeKey, fits, pad_key
from vlga_jax.training.cost import CostModel

# The memory cap's estimate of a training step: each activation is an f32 (4 bytes),
# held about 4 times (forward value, its gradient, and XLA's temporaries).
ACTIVATION_BYTES = 4 * 4


def _next_pow2(n: int) -> int:
    return 1 << max(0, (n - 1).bit_length())


@dataclasses.dataclass
class Planner:
    """Plans buckets for ``n_devices`` devices: ``pad_shapes`` lets one topology share a
    padded program; a call trains at most ``members_per_call`` members (None: only the
    memory cap) of ``batch_size`` examples each within ``max_bucket_bytes`` per device.
    Every call's size is a multiple of ``n_devices``: each device trains an equal share
    (dummy members pad a call where needed; `Trainer` reports the utilisation)."""

    cost: CostModel
    pad_shapes: bool
    batch_size: int
    max_bucket_bytes: int
    members_per_call: int | None
    n_devices: int

    def assign(self, members: Sequence, n_epochs: int,
               sizes: tuple[int, int]) -> list[tuple[ShapeKey, int, list[int]]]:
        """Group member indices into (program, bucket size, member indices).

        Members of one topology and frozen prefix may share a program padded to their
        largest channels and kernels (``pad_shapes``). A cost model partitions each such
        group into buckets (`_partition`): estimated seconds = compile seconds of each new
        program + padded training FLOPs (dummy members included) / measured FLOP rate,
        both measured as the run goes. A bucket larger than its program's memory cap
        (`max_members`) runs as several calls of the same program. ``members`` are
        `vlga_jax.training.trainer.Member`s; ``sizes``: (rows trained, rows evaluated) per epoch.
        """
        groups: dict = {}
        for i, m in enumerate(members):
            key = m.arch.shape_key()
            if m.program is not None:
                group = ("given", m.program, m.frozen_blocks)
            elif self.pad_shapes:
                group = ("topology", key.topology(), m.frozen_blocks)
            else:
                group = ("exact", key, m.frozen_blocks)
            groups.setdefault(group, []).append(i)
        out = []
        for (kind, key, frozen), idx in groups.items():
            if kind == "topology":
                keys = [members[i].arch.shape_key() for i in idx]
                buckets = self._partition(keys, idx, frozen, n_epochs, sizes)
            else:
                _, program, size = self._cheapest([key], len(idx), frozen, n_epochs, sizes)
                buckets = [(program, size, idx)]
            for program, size, bucket in buckets:
                for start in range(0, len(bucket), size):  # over the memory cap: chunks
                    out.append((program, size, bucket[start:start + size]))
        return out

    def _partition(self, keys: list[ShapeKey], idx: list[int], frozen: int, n_epochs: int,
                   sizes: tuple[int, int]) -> list[tuple[ShapeKey, int, list[int]]]:
        """Greedy agglomeration: start with one bucket per exact shape, merge the pair whose
        merge lowers the estimated seconds most (a compile saved against padded FLOPs
        added), until no merge helps. Each bucket runs the cheapest of a new program of
        its padded shapes and the compiled programs it fits."""
        by_key: dict[ShapeKey, list[int]] = {}
        for k, i in zip(keys, idx, strict=True):
            by_key.setdefault(k, []).append(i)
        known = [k for k, _ in self.cost.compiled(keys[0], frozen)]

        memo: dict = {}

        def option(bucket_keys: list[ShapeKey], n: int):
            memo_key = (frozenset(bucket_keys), n)
            if memo_key not in memo:
                needed = pad_key(bucket_keys)
                memo[memo_key] = self._cheapest(
                    [needed, *(k for k in known if fits(needed, k))], n, frozen, n_epochs,
                    sizes)
            return memo[memo_key]

        buckets = [(list(by_key)[j:j + 1], members) for j, members in enumerate(by_key.values())]
        costs = [option(b, len(m)) for b, m in buckets]
        while len(buckets) > 1:
            best = None
            for a in range(len(buckets)):
                for b in range(a + 1, len(buckets)):
                    merged = option(buckets[a][0] + buckets[b][0],
                                    len(buckets[a][1]) + len(buckets[b][1]))
                    gain = costs[a][0] + costs[b][0] - merged[0]
                    if gain > 0 and (best is None or gain > best[0]):
                        best = (gain, a, b, merged)
            if best is None:
                break
            _, a, b, merged = best
            buckets[a] = (buckets[a][0] + buckets[b][0], buckets[a][1] + buckets[b][1])
            costs[a] = merged
            del buckets[b], costs[b]
        return [(program, size, sorted(m))
                for (_, program, size), (_, m) in zip(costs, buckets, strict=True)]

    def _cheapest(self, programs, n: int, frozen: int, n_epochs: int,
                  sizes: tuple[int, int]) -> tuple[float, ShapeKey, int]:
        """(estimated seconds, program, bucket size) of least cost for ``n`` members;
        ``sizes``: (training rows, evaluation rows) of the data.

        A new program may run ``n`` members exactly or padded with dummy members to the
        next power of two; the exact size is charged half a compile more (the recompile a
        later, slightly larger bucket would then need), so dummies are added only while
        their FLOPs cost less than that.
        """
        n_train, n_eval = sizes
        options = []
        for program in dict.fromkeys(programs):
            cap = self.max_members(program)
            n_run = min(n, cap)
            calls = math.ceil(n / n_run)
            known = self.cost.compiled(program, frozen)
            sizes = {min(self._bucket_size(n_run), cap)}
            if n_run % self.n_devices == 0:  # shard_map splits a call evenly
                sizes.add(n_run)
            sizes |= {s for k, s in known
                      if k == program and n_run <= s <= cap and s % self.n_devices == 0}
            for size in sizes:
                cost = self.cost.estimate(program, size, calls, frozen, n_epochs, n_train,
                                          n_eval)
                options.append((cost, program.train_flops_per_example, size, program))
        cost, _, size, program = min(options, key=lambda o: o[:3])
        return cost, program, size


    def max_members(self, program: ShapeKey) -> int:
        """The most members one call of ``program`` may train: a power of two per device
        whose estimated activation memory stays within ``max_bucket_bytes`` (at least
        1) times the devices, and ``members_per_call`` rounded up to a multiple of the
        devices (so that every device gets an equal share)."""
        per_member = ACTIVATION_BYTES * self.batch_size * program.activations_per_example()
        fit = max(1, self.max_bucket_bytes // max(per_member, 1))
        cap = (1 << (fit.bit_length() - 1)) * self.n_devices
        if self.members_per_call:
            cap = min(cap, -(-self.members_per_call // self.n_devices) * self.n_devices)
        return cap

    def _bucket_size(self, n: int) -> int:
        """Members per call for ``n``: a power of two per device (dummy members fill the
        rest, so a new population size rarely recompiles), at least one per device."""
        return _next_pow2(-(-n // self.n_devices)) * self.n_devices
