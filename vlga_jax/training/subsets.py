"""Which training rows an epoch visits: all of them, or a candidate's fixed subset.

By default every epoch of a member trains on a fresh permutation of the whole training
split. A member with ``examples`` (`vlga_jax.training.members.Member`, set by a search
with ``train.examples_per_candidate``) trains on a fixed subset of that many rows instead:
``permutation(fold_in(examples_key, streams.EXAMPLES), n_train)[:examples]``, drawn inside
the program from the member's own key (so candidates see different subsets, one key the
same subset bit for bit), each epoch a fresh permutation of those rows. The subset size
is static (it sets the shapes of a program); the rows are drawn on the device.
"""

from __future__ import annotations

from collections.abc import Sequence

import jax
import jax.numpy as jnp

from vlga_jax.core import streams


def effective_examples(examples: int | None, n_train: int) -> int | None:
    """The subset size a member trains on (None: every row; a limit at or above the
    ``n_train`` rows changes nothing)."""
    return None if examples is None or examples >= n_train else int(examples)


def call_examples(members: Sequence, n_train: int, batch_size: int) -> int | None:
    """The subset size of a call of ``members`` (`effective_examples`), which every
    member of one program call shares (it is a static shape of the program); ValueError
    for members that differ, or for a subset smaller than a minibatch."""
    sizes = {effective_examples(m.examples, n_train) for m in members}
    if len(sizes) > 1:
        raise ValueError(f"members of one training call must share Member.examples, got "
                         f"{sorted(sizes, key=str)}")
    examples = sizes.pop() if sizes else None
    if examples is not None and examples < batch_size:
        raise ValueError(f"Member.examples must be >= the batch size {batch_size} (an epoch "
                         f"trains examples // batch_size steps), got {examples}")
    return examples


def rows_per_epoch(members: Sequence, n_train: int, batch_size: int) -> int:
    """The training rows an epoch of a call of ``members`` visits: their subset size
    (`call_examples`) or all ``n_train``."""
    return call_examples(members, n_train, batch_size) or n_train


def subset_rows(key: jax.Array, n_train: int, examples: int) -> jax.Array:
    """int[examples]: the distinct training rows of a member whose subset key is ``key``."""
    return jax.random.permutation(jax.random.fold_in(key, streams.EXAMPLES), n_train)[:examples]


def epoch_rows(rng: jax.Array, n_train: int, count: int,
               subset: jax.Array | None = None) -> jax.Array:
    """int[count]: the rows one epoch visits, in order: the first ``count`` of a
    permutation of the ``n_train`` rows, or of the rows of ``subset`` (`subset_rows`)."""
    if subset is None:
        return jax.random.permutation(rng, n_train)[:count]
    return subset[jax.random.permutation(rng, subset.shape[0])[:count]]


def build_epoch_keys(n_train: int, steps: int, batch_size: int, examples: int | None = None):
    """fn(rng) -> (rng, perm int32[steps, batch_size], step keys [steps]), the key stream
    of the fused program (`vlga_jax.training.programs.build_train_fn`), for chained
    training; with ``examples``: fn(rng, examples_key), the epoch drawn from the
    member's subset (`subset_rows`, drawn again each epoch: the same rows)."""

    def epoch_keys(rng, examples_key=None):
        rng, perm_rng = jax.random.split(rng)
        subset = None if examples is None else subset_rows(examples_key, n_train, examples)
        perm = epoch_rows(perm_rng, n_train, steps * batch_size, subset)

        def split(r, _):
            r, step = jax.random.split(r)
            return r, step

        rng, step_keys = jax.lax.scan(split, rng, None, length=steps)
        return rng, perm.reshape(steps, batch_size).astype(jnp.int32), step_keys

    return epoch_keys
