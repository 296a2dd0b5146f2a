"""Compiling one trainer program, and placing its arguments on a mesh of processes.

The member function (`vlga_jax.training.programs`) is vmapped over the population axis,
split over a device mesh with `jax.shard_map` where there is one, then traced, lowered
and compiled, each phase timed."""

from __future__ import annotations

import time
from collections import OrderedDict

import jax
import numpy as np
from jax.sharding import Mesh, NamedSharding, PartitionSpec

from vlga_jax.networks.architecture import ShapeKey
from vlga_jax.training.programs import ARG_AXES, EvalArgs, TrainArgs, build_eval_fn, build_train_fn

__all__ = ["batched_fn", "compile_program", "Placement"]


def batched_fn(program: ShapeKey, kind: str, *, impl: str, batch_size: int, eval_batch: int,
               frozen_blocks: int = 0, augment: tuple = (), mesh: Mesh | None = None,
               examples: int | None = None):
    """``vmap`` (and ``shard_map`` over ``mesh``) of the member function of a "train" or an
    "eval" program; ``augment``: (names, crop padding) or (); ``examples``: the training
    rows of each member's subset (None: all)."""
    if kind == "eval":
        fn = build_eval_fn(program, eval_batch=eval_batch, impl=impl)
    else:
        fn = build_train_fn(program, batch_size=batch_size, eval_batch=eval_batch,
                            impl=impl, frozen_blocks=frozen_blocks,
                            augment=augment[0] if augment else (),
                            crop_padding=augment[1] if augment else 0, examples=examples)
    axes = tuple(ARG_AXES[kind])
    batched = jax.vmap(fn, in_axes=axes)
    if mesh is not None:
        pop, rep = PartitionSpec("pop"), PartitionSpec()
        batched = jax.shard_map(batched, mesh=mesh,
                                in_specs=tuple(rep if a is None else pop for a in axes),
                                out_specs=pop, check_vma=False)
    return batched


def compile_program(batched, args, *, mesh: Mesh | None = None, gather: bool = False):
    """Trace, lower and compile ``batched`` (`batched_fn`) for ``args``' shapes; the
    executable and the seconds of each phase. ``gather``: every output gathered to every
    process, in the program (several processes)."""
    if gather:
        jitted = jax.jit(batched, out_shardings=NamedSharding(mesh, PartitionSpec()))
    else:
        jitted = jax.jit(batched)
    t0 = time.perf_counter()
    traced = jitted.trace(*args)
    t1 = time.perf_counter()
    lowered = traced.lower()
    t2 = time.perf_counter()
    compiled = lowered.compile()
    t3 = time.perf_counter()
    return compiled, {"trace": t1 - t0, "lower": t2 - t1, "backend": t3 - t2}


class Placement:
    """A call's arguments as global arrays on the ``mesh`` of several processes: each
    process holds the same host values and keeps its devices' shares; the shared data
    arrays are placed once (the last 16 are cached)."""

    def __init__(self, mesh: Mesh):
        self.mesh = mesh
        self._cache: OrderedDict = OrderedDict()  # id -> (array, global array)

    def place(self, args: TrainArgs | EvalArgs, kind: str) -> TrainArgs | EvalArgs:
        pop = NamedSharding(self.mesh, PartitionSpec("pop"))
        rep = NamedSharding(self.mesh, PartitionSpec())
        placed = []
        for value, axis in zip(args, ARG_AXES[kind], strict=True):
            if axis is None:
                placed.append(jax.tree.map(lambda a: self._replicated(a, rep), value))
            else:
                placed.append(jax.tree.map(lambda a: jax.make_array_from_callback(
                    np.shape(a), pop, lambda i, a=a: a[i]), value))
        return type(args)(*placed)

    def _replicated(self, a, sharding):
        """``a`` on every device of the mesh, cached for the arrays of a `DeviceData`,
        which every call shares."""
        cached = self._cache.get(id(a))
        if cached is not None and cached[0] is a:
            return cached[1]
        placed = jax.make_array_from_callback(np.shape(a), sharding, lambda i: a[i])
        if isinstance(a, jax.Array) and np.ndim(a):
            self._cache[id(a)] = (a, placed)
            while len(self._cache) > 16:
                self._cache.popitem(last=False)
        return placed
