"""The per-candidate programs: train-and-evaluate and evaluate-only functions of ONE
candidate (a bucket's program vmaps them), their named arguments, and the optimizers.

`build_train_fn` and `build_eval_fn` return functions of the fields of `TrainArgs` and
`EvalArgs` in order; `ARG_AXES` gives each field's vmap axis (0: stacked per member,
None: shared by the bucket).
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import NamedTuple

import jax
import jax.numpy as jnp
import numpy as np
import optax

from vlga_jax.core import streams
from vlga_jax.core.names import OPTIMIZERS
from vlga_jax.networks.architecture import Knobs, ShapeKey
from vlga_jax.networks.augment import augment as augment_batch
from vlga_jax.networks.augment import canonical as canonical_augment
from vlga_jax.networks.model import Network
from vlga_jax.training.subsets import epoch_rows, subset_rows

# -- optimizers ---------------------------------------------------------------------------

def _l2(opt):
    def make(learning_rate, weight_decay):
        return optax.chain(optax.add_decayed_weights(weight_decay), opt(learning_rate))
    return make


_OPTIMIZERS = {
    "adam": _l2(optax.adam),
    "adamw": lambda learning_rate, weight_decay: optax.adamw(learning_rate,
                                                             weight_decay=weight_decay),
    "sgd": _l2(lambda lr: optax.sgd(lr, momentum=0.9)),
    "rmsprop": _l2(optax.rmsprop),
    "adagrad": _l2(optax.adagrad),
    "adadelta": _l2(optax.adadelta),
    "adamax": _l2(optax.adamax),
    "nadam": _l2(optax.nadam),
}
assert tuple(_OPTIMIZERS) == OPTIMIZERS


def make_optimizer(name: str, learning_rate=1e-3, weight_decay=0.0):
    """An optax transformation whose learning rate and weight decay live in its state."""
    if name not in _OPTIMIZERS:
        raise ValueError(f"optimizer must be one of {tuple(_OPTIMIZERS)}, got {name!r}")
    return optax.inject_hyperparams(_OPTIMIZERS[name])(
        learning_rate=learning_rate, weight_decay=weight_decay)


# -- one candidate, written unbatched ---------------------------------------------------

def _cross_entropy(logits, labels):
    return optax.softmax_cross_entropy_with_integer_labels(logits, labels)


# fold_in constant of a step's augmentation key (`vlga_jax.core.streams.AUGMENT`).
AUGMENT_STREAM = streams.AUGMENT


def build_train_fn(program: ShapeKey, *, batch_size: int, eval_batch: int, impl: str,
                   frozen_blocks: int = 0, augment: Sequence[str] = (), crop_padding: int = 4,
                   examples: int | None = None):
    """The per-candidate function that a program vmaps.

    fn(params, stats, opt_state, fresh_opt, mask, knobs, key, examples_key, n_epochs,
       data arrays...)
      -> (params, stats, opt_state, metrics) with metrics = dict(train_loss, val_loss,
      val_acc, finite) of f32/bool scalars. Where ``fresh_opt`` (bool scalar) the
    optimizer starts afresh from ``knobs``' learning rate and weight decay and
    ``opt_state`` only gives the state's shapes (initialising inside the program saves
    compiling an initialiser per program).

    ``augment`` (names from `vlga_jax.networks.augment`, conv programs only) augments each
    training minibatch f32[batch_size, H, W, C] with a key folded from the step's dropout
    key (`AUGMENT_STREAM`): a function of the member's key and step alone.

    ``examples`` (< the training rows): each epoch permutes the member's fixed subset of
    that many rows, drawn from ``examples_key`` (`vlga_jax.training.subsets`), instead of
    every row; ``examples_key`` is unused without it.
    """
    augment = canonical_augment(augment)
    if augment and not program.is_conv:
        raise ValueError(f"augment {augment}: image augmentation is for conv networks, "
                         f"not dense ones")
    net = Network(program, impl=impl, frozen_blocks=frozen_blocks, activation_impl="family")
    tx = make_optimizer(program.optimizer)
    init_opt = build_init_opt_fn(program)

    def loss_fn(params, stats, knobs, xb, yb, rng):
        logits, updated = net.apply(_variables(params, stats), xb, knobs, train=True,
                                    mutable=["batch_stats"], rngs={"dropout": rng})
        return jnp.mean(_cross_entropy(logits, yb)), updated.get("batch_stats", stats)

    grad_fn = jax.value_and_grad(loss_fn, has_aux=True)

    def train_fn(params, stats, opt_state, fresh_opt, mask, knobs: Knobs, key, examples_key,
                 n_epochs, train_x, train_y, eval_x, eval_y, eval_w, eval_batches):
        fresh = init_opt(params, knobs.learning_rate, knobs.weight_decay)
        opt_state = jax.tree.map(lambda f, o: jnp.where(fresh_opt, f, o), fresh, opt_state)
        n_train = train_x.shape[0]
        subset = None if examples is None else subset_rows(examples_key, n_train, examples)
        steps = (n_train if examples is None else examples) // batch_size
        key = jax.random.fold_in(key, streams.TRAIN_AFTER_INIT)  # the init used the key itself

        def step(carry, batch_idx):
            params, stats, opt_state, rng, loss_sum, finite = carry
            rng, drop_rng = jax.random.split(rng)
            xb = train_x[batch_idx]
            if augment:
                xb = augment_batch(jax.random.fold_in(drop_rng, AUGMENT_STREAM), xb, augment,
                                   crop_padding)
            (loss, new_stats), grads = grad_fn(params, stats, knobs, xb, train_y[batch_idx],
                                               drop_rng)
            updates, opt_state = tx.update(grads, opt_state, params)
            updates = jax.tree.map(lambda u, m: jnp.where(m, u, 0.0), updates, mask)
            params = optax.apply_updates(params, updates)
            finite = finite & jnp.isfinite(loss)
            return (params, new_stats, opt_state, rng, loss_sum + loss, finite), None

        def epoch(_, carry):
            params, stats, opt_state, rng, _, finite = carry
            rng, perm_rng = jax.random.split(rng)
            perm = epoch_rows(perm_rng, n_train, steps * batch_size, subset)
            carry = (params, stats, opt_state, rng, jnp.float32(0.0), finite)
            carry, _ = jax.lax.scan(step, carry, perm.reshape(steps, batch_size))
            return carry

        init = (params, stats, opt_state, key, jnp.float32(0.0), jnp.bool_(True))
        params, stats, opt_state, _, loss_sum, finite = jax.lax.fori_loop(
            0, n_epochs, epoch, init)

        metrics = _evaluate(net, _variables(params, stats), knobs, eval_x, eval_y, eval_w,
                            eval_batches, eval_batch)
        metrics["finite"] = metrics["finite"] & finite
        metrics["train_loss"] = loss_sum / steps
        return params, stats, opt_state, metrics

    return train_fn


def _variables(params, stats) -> dict:
    return {"params": params, "batch_stats": stats} if stats else {"params": params}


def _evaluate(net, variables, knobs, eval_x, eval_y, eval_w, eval_batches,
              eval_batch: int) -> dict:
    """Loss and accuracy over the real rows of the evaluation split (one candidate)."""

    def batch(b, totals):
        start = b * eval_batch
        x = jax.lax.dynamic_slice_in_dim(eval_x, start, eval_batch)
        y = jax.lax.dynamic_slice_in_dim(eval_y, start, eval_batch)
        w = jax.lax.dynamic_slice_in_dim(eval_w, start, eval_batch)
        logits = net.apply(variables, x, knobs, train=False)
        loss = _cross_entropy(logits, y)
        correct = (jnp.argmax(logits, -1) == y).astype(jnp.float32)
        return totals[0] + jnp.sum(loss * w), totals[1] + jnp.sum(correct * w)

    loss_total, correct_total = jax.lax.fori_loop(
        0, eval_batches, batch, (jnp.float32(0.0), jnp.float32(0.0)))
    n_eval = jnp.sum(eval_w)
    val_loss = loss_total / n_eval
    return {"train_loss": jnp.float32(0.0), "val_loss": val_loss,
            "val_acc": correct_total / n_eval, "finite": jnp.isfinite(val_loss)}


def build_eval_fn(program: ShapeKey, *, eval_batch: int, impl: str):
    """The per-candidate function of an evaluation program (forward passes only: a
    smaller program, compiled in a fraction of a training program's time).

    fn(params, stats, knobs, eval_x, eval_y, eval_w, eval_batches) -> metrics as
    `build_train_fn`'s (train_loss 0).
    """
    net = Network(program, impl=impl, activation_impl="family")

    def eval_fn(params, stats, knobs, eval_x, eval_y, eval_w, eval_batches):
        return _evaluate(net, _variables(params, stats), knobs, eval_x, eval_y, eval_w,
                         eval_batches, eval_batch)

    return eval_fn


def build_init_opt_fn(program: ShapeKey):
    """fn(params, learning_rate, weight_decay) -> optimizer state (one candidate)."""
    def init(params, learning_rate, weight_decay):
        return make_optimizer(program.optimizer, learning_rate, weight_decay).init(params)
    return init


# -- program arguments ------------------------------------------------------------------

class TrainArgs(NamedTuple):
    """A training program's arguments, in `build_train_fn`'s order: per member (stacked
    over the population axis P: params, stats, opt_state, mask and knobs pytrees with
    leaves [P, ...], fresh_opt bool[P], key and examples_key [P]), then shared by all
    members (n_epochs int32[] and the `DeviceData` arrays)."""

    params: dict
    stats: dict
    opt_state: object
    fresh_opt: np.ndarray
    mask: dict
    knobs: Knobs
    key: jax.Array
    examples_key: jax.Array
    n_epochs: jax.Array
    train_x: jax.Array
    train_y: jax.Array
    eval_x: jax.Array
    eval_y: jax.Array
    eval_w: jax.Array
    eval_batches: jax.Array


class EvalArgs(NamedTuple):
    """An evaluation program's arguments (`build_eval_fn`): per member params, stats and
    knobs [P, ...], then the shared evaluation arrays."""

    params: dict
    stats: dict
    knobs: Knobs
    eval_x: jax.Array
    eval_y: jax.Array
    eval_w: jax.Array
    eval_batches: jax.Array


# vmap axes: 0 for the per-member arguments, None for the shared ones.
ARG_AXES = {"train": TrainArgs(*(0,) * 8, *(None,) * 7), "eval": EvalArgs(*(0,) * 3, *(None,) * 4)}
