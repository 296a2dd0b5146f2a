"""Flax Linen networks built from a `ShapeKey`, with per-candidate `Knobs` as inputs.

Parameter names are stable (``block_0``, ``block_1``, ..., ``head``; inside a conv
block ``conv_a``, ``bn_a``, ``conv_b``, ``bn_b``, ``skip``), so a later phase reuses
an earlier phase's trained blocks by name. The module is written for ONE candidate;
the trainer adds the population axis with `jax.vmap`.

`build(arch, key)` gives what a training loop of your own needs for one `Architecture`:

    net, variables, knobs = build(arch, key)
    logits = net.apply(variables, x, knobs)                        # eval: running BN stats
    logits, updates = net.apply(variables, x, knobs, train=True,   # train: batch BN stats,
                                rngs={"dropout": dropout_key},     # dropout (always drawn
                                mutable=["batch_stats"])           # in train mode)
    variables = {**variables, "batch_stats": updates["batch_stats"]}

(docs/own-loop.md walks through it with optax.)
"""

from __future__ import annotations

import flax.linen as nn
import jax
import jax.numpy as jnp
from jax import lax

from vlga_jax.networks.activations import activate, activate_family
from vlga_jax.networks.architecture import Architecture, Knobs, ShapeKey
from vlga_jax.networks.conv import conv2d
from vlga_jax.networks.kinds import kind_of
from vlga_jax.networks.params import init_params

__all__ = ["BN_EPS", "BN_MOMENTUM", "Conv", "Network", "SwitchableBatchNorm", "activate",
           "activate_family", "build", "dropout", "head", "pool2x2"]

BN_MOMENTUM = 0.9
BN_EPS = 1e-5


def dropout(rng: jax.Array, x: jax.Array, rate: jax.Array, train: bool) -> jax.Array:
    """Inverted dropout with a per-candidate ``rate`` (f32 scalar).

    x: f32[..., C]. Channel c's mask is drawn from ``fold_in(rng, c)``, so it does not
    depend on C: a candidate padded with zero channels (to share a program) drops the
    same units of its real channels as when it trains alone.
    """
    if not train:
        return x
    channels = jnp.arange(x.shape[-1], dtype=jnp.uint32)
    draw = jax.vmap(lambda c: jax.random.bernoulli(jax.random.fold_in(rng, c), 1.0 - rate,
                                                   x.shape[:-1]), out_axes=-1)
    keep = draw(channels)
    return jnp.where(keep, x / jnp.maximum(1.0 - rate, 1e-6), 0.0)


class Conv(nn.Module):
    """Stride-1 'SAME' convolution; x: f32[N, H, W, Cin] -> f32[N, H, W, features]."""

    features: int
    kernel: int
    impl: str

    @nn.compact
    def __call__(self, x):
        w = self.param("kernel", nn.initializers.lecun_normal(),
                       (self.kernel, self.kernel, x.shape[-1], self.features))
        b = self.param("bias", nn.initializers.zeros, (self.features,))
        return conv2d(x, w, b, impl=self.impl)


class SwitchableBatchNorm(nn.Module):
    """BatchNorm applied where ``enabled`` (a per-candidate bool scalar), identity elsewhere.

    ``frozen`` blocks normalise with running statistics and leave them unchanged.
    """

    frozen: bool = False

    @nn.compact
    def __call__(self, x, enabled, train: bool):
        c = x.shape[-1]
        scale = self.param("scale", nn.initializers.ones, (c,))
        bias = self.param("bias", nn.initializers.zeros, (c,))
        mean = self.variable("batch_stats", "mean", jnp.zeros, (c,))
        var = self.variable("batch_stats", "var", jnp.ones, (c,))
        axes = tuple(range(x.ndim - 1))
        if train and not self.frozen:
            m = jnp.mean(x, axes)
            v = jnp.mean(jnp.square(x - m), axes)
            if not self.is_initializing():
                keep = BN_MOMENTUM
                mean.value = jnp.where(enabled, keep * mean.value + (1 - keep) * m, mean.value)
                var.value = jnp.where(enabled, keep * var.value + (1 - keep) * v, var.value)
        else:
            m, v = mean.value, var.value
        y = (x - m) * lax.rsqrt(v + BN_EPS) * scale + bias
        return jnp.where(enabled, y, x)


def pool2x2(x: jax.Array, use_max: jax.Array) -> jax.Array:
    """2x2 stride-2 'SAME' pooling, max where ``use_max`` else average."""
    pmax = nn.max_pool(x, (2, 2), (2, 2), padding="SAME")
    pavg = nn.avg_pool(x, (2, 2), (2, 2), padding="SAME", count_include_pad=False)
    return jnp.where(use_max, pmax, pavg)


class Network(nn.Module):
    """The network of one `ShapeKey`; ``frozen_blocks`` leading blocks use running BN stats.

    __call__(x: f32[N, H, W, C], knobs: Knobs, train) -> logits f32[N, num_classes]; with
    ``features`` the last block's output instead (no head, no head parameters).
    ``activation_impl``: "switch" (one candidate) or "family" (vmapped populations with
    per-candidate activations; see `activate_family`).
    """

    key: ShapeKey
    impl: str = "lax"
    frozen_blocks: int = 0
    features: bool = False
    activation_impl: str = "switch"

    @nn.compact
    def __call__(self, x, knobs: Knobs, train: bool = False):
        if train and not self.features and not self.has_rng("dropout"):
            raise ValueError("Network in train mode draws dropout: call apply(variables, x, "
                             "knobs, train=True, rngs={'dropout': key}, "
                             "mutable=['batch_stats']) (docs/own-loop.md)")
        for i, layer in enumerate(self.key.layers):
            x = kind_of(layer).apply(self, layer, i, x, knobs, train)
        if self.features:
            return x
        last = len(self.key.layers) - 1
        last_pool = kind_of(self.key.layers[last]).head_pool(self.key.layers[last])
        return head(self, x, self.key.is_conv, self.key.head_units, self.key.num_classes,
                    last_pool, knobs.pool_on[last], knobs.pool_max[last], knobs.head_dropout,
                    train)


def build(arch: Architecture, key: jax.Array, impl: str = "lax"
          ) -> tuple[Network, dict, Knobs]:
    """(network, variables, knobs) for ``arch``: the Flax module of its shapes, fresh
    variables ``{"params": ..., "batch_stats": ...}`` drawn from ``key`` as the search's
    trainer draws them (host-side numpy, nothing compiled), and its per-candidate
    `Knobs` (activation, batch norm, pooling, dropout rates, learning rate).

    Call ``net.apply(variables, x, knobs)`` with x: f32[N, H, W, C] normalised images
    (``arch.input_shape``) -> logits f32[N, num_classes]; in train mode pass
    ``train=True, rngs={"dropout": key}, mutable=["batch_stats"]``. ``impl``: the
    convolution ("lax": `jax.lax.conv_general_dilated`; see `vlga_jax.networks.conv`).
    """
    shape_key = arch.shape_key()
    params, stats = init_params(key, shape_key)
    return Network(shape_key, impl=impl), {"params": params, "batch_stats": stats}, arch.knobs()


def head(module: nn.Module, x: jax.Array, spatial: bool, head_units: tuple[int, ...],
         num_classes: int, last_pool: bool, pool_on, pool_max, rate, train: bool
         ) -> jax.Array:
    """The layers after the blocks, created in ``module``'s scope (parameters ``fc_j`` and
    ``head``): after ``spatial`` blocks global average pooling (after the last block's 2x2
    pool where ``last_pool`` and ``pool_on``, max or average by ``pool_max``), then the
    dense ``head_units`` (relu, dropout ``rate``), dropout and the classifier of
    ``num_classes``. x: f32[N, ...] -> logits f32[N, num_classes]."""
    if spatial:
        if last_pool:
            pooled = jnp.mean(pool2x2(x, pool_max), axis=(1, 2))
            x = jnp.where(pool_on, pooled, jnp.mean(x, axis=(1, 2)))
        else:
            x = jnp.mean(x, axis=(1, 2))
    for j, units in enumerate(head_units):
        x = jax.nn.relu(nn.Dense(units, name=f"fc_{j}")(x))
        if train and j + 1 < len(head_units):  # the last one: below
            x = dropout(module.make_rng("dropout"), x, rate, train)
    if train:
        x = dropout(module.make_rng("dropout"), x, rate, train)
    return nn.Dense(num_classes, name="head")(x)

