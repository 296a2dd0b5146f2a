"""A bucket's host side: its program's arguments, its members' outcomes, labels.

The arguments are the members' pytrees padded to the program's shapes and stacked (with
copies of the first member up to the call's size); the outcomes are unpacked from the
program's outputs; labels name programs in progress output."""

from __future__ import annotations

from collections.abc import Callable, Sequence

import jax.numpy as jnp
import numpy as np

from vlga_jax.networks.architecture import ShapeKey, layers_label
from vlga_jax.networks.params import index_tree, pad_tree, stack_trees, unpad_tree, update_mask
from vlga_jax.training.members import DeviceData, Member, Outcome, _freeze_bias_before_batchnorm
from vlga_jax.training.programs import EvalArgs, TrainArgs

__all__ = ["program_label", "bucket_args", "bucket_outcomes", "Lazy"]

FAILED_REASON = "loss became NaN or inf during training"


def program_label(program: ShapeKey) -> str:
    """A short name of a program's shapes, e.g. ``8x8x1 32k3,64k5+skip/p adam``."""
    shape = "x".join(map(str, program.input_shape))
    return f"{shape} {layers_label(program)} {program.optimizer}"


def bucket_args(program: ShapeKey, size: int, members: Sequence[Member], n_epochs: int,
                data: DeviceData, opt_zeros: Callable) -> TrainArgs | EvalArgs:
    """The program's arguments for ``members`` padded to ``program`` and ``size``
    (`EvalArgs` for ``n_epochs`` 0, else `TrainArgs`). ``opt_zeros(program, params,
    knobs)``: zeros shaped like one member's optimizer state (for members starting a
    fresh optimizer)."""
    frozen = members[0].frozen_blocks
    shapes = program.param_shapes()
    stats_shapes = program.stats_shapes()
    padded_params, padded_stats, masks, knobs = [], [], [], []
    for m in members:
        start_params, start_stats = m.start_params()
        padded_params.append(pad_tree(start_params, shapes))
        padded_stats.append(pad_tree(start_stats, stats_shapes, fill=1.0))
        masks.append(_freeze_bias_before_batchnorm(
            update_mask(m.arch.shape_key(), program, frozen), m.arch))
        knobs.append(m.arch.knobs())
    n_real = len(members)
    fill = [0] * (size - n_real)  # dummy members: copies of the first, results dropped
    order = list(range(n_real)) + fill
    keys = jnp.stack([members[i].key for i in order])  # fold_in(key, 1) runs inside
    # Read only by programs of a subset of the training rows (Member.examples).
    subset_keys = (keys if all(m.examples is None for m in members)
                   else jnp.stack([members[i].subset_key() for i in order]))
    params, stats, mask, knobs_stacked = (stack_trees([t[i] for i in order])
                                          for t in (padded_params, padded_stats, masks, knobs))
    if n_epochs == 0:  # an evaluation program: forward passes only
        return EvalArgs(params, stats, knobs_stacked, *data.arrays()[2:])
    fresh = not all(m.opt_state is not None for m in members)
    if fresh:
        opt_state = stack_trees([opt_zeros(program, padded_params[0], knobs[0])] * size)
    else:
        opt_state = stack_trees([members[i].opt_state for i in order])
    return TrainArgs(params, stats, opt_state, np.full(size, fresh), mask, knobs_stacked,
                     keys, subset_keys, jnp.int32(n_epochs), *data.arrays())


def bucket_outcomes(program: ShapeKey, members: Sequence[Member], new_params, new_stats,
                    new_opt, metrics: dict, seconds: float) -> list[Outcome]:
    """One `Outcome` per real member from a call's outputs (host arrays with a leading
    member axis, program-shaped; ``new_opt`` None: not kept): parameters unpadded to
    each member's real shapes; a member whose loss went non-finite failed."""
    outcomes = []
    for i, m in enumerate(members):
        real = m.arch.shape_key()
        finite = bool(metrics["finite"][i])
        outcomes.append(Outcome(
            params=unpad_tree(index_tree(new_params, i), real.param_shapes()),
            stats=unpad_tree(index_tree(new_stats, i), real.stats_shapes()),
            val_acc=float(metrics["val_acc"][i]) if finite else float("-inf"),
            val_loss=float(metrics["val_loss"][i]),
            train_loss=float(metrics["train_loss"][i]),
            failed=not finite,
            reason="" if finite else FAILED_REASON,
            seconds=seconds / len(members),
            program=program,
            opt_state=None if new_opt is None else index_tree(new_opt, i),
        ))
    return outcomes


class Lazy(Sequence):
    """A sequence of ``n`` items that ``build()`` returns, built when first read: a
    listener that ignores `Trainer.train`'s bucket summaries costs nothing."""

    def __init__(self, build: Callable[[], list], n: int):
        self._build, self._n, self._items = build, n, None

    def __len__(self) -> int:
        return self._n

    def __getitem__(self, index):
        if self._items is None:
            self._items = self._build()
        return self._items[index]
