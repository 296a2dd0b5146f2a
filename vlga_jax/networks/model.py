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
import numpy as np
from jax import lax

from vlga_jax.core.names import block_name, bn_name, conv_name
from vlga_jax.networks.architecture import Architecture, ConvKey, Knobs, ShapeKey
from vlga_jax.networks.conv import conv2d
from vlga_jax.networks.params import init_params

BN_MOMENTUM = 0.9
BN_EPS = 1e-5

_ACTIVATION_FNS = (
    jax.nn.relu,
    jnp.tanh,
    jax.nn.elu,
    jax.nn.selu,
    lambda x: jax.nn.leaky_relu(x, 0.01),  # Keras' default slope is 0.3; flax/PyTorch 0.01
    jax.nn.sigmoid,
)


_SELU_ALPHA, _SELU_SCALE = 1.6732632423543772, 1.0507009873554805
# Every activation as s * (x if x > 0 else a * expm1(x) + b * x) or c2 * tanh(c1 * x) + c3:
# rows (s, a, b, smooth, c1, c2, c3, tie) in the order of _ACTIVATION_FNS; ``tie`` takes
# the x > 0 branch at x == 0 as well (leaky_relu's gradient there is 1, as in jax.nn).
_FAMILY = np.array([
    [1, 0, 0, 0, 0, 0, 0, 0],  # relu
    [0, 0, 0, 1, 1, 1, 0, 0],  # tanh
    [1, 1, 0, 0, 0, 0, 0, 0],  # elu
    [_SELU_SCALE, _SELU_ALPHA, 0, 0, 0, 0, 0, 0],  # selu
    [1, 0, 0.01, 0, 0, 0, 0, 1],  # leaky_relu
    [0, 0, 0, 1, 0.5, 0.5, 0.5, 0],  # sigmoid(x) = 0.5 * tanh(x / 2) + 0.5
], np.float32)


def activate(x: jax.Array, index: jax.Array) -> jax.Array:
    """Apply ACTIVATIONS[index] (index: int32 scalar) by branching: one branch runs."""
    return lax.switch(index, _ACTIVATION_FNS, x)


def activate_family(x: jax.Array, index: jax.Array) -> jax.Array:
    """`activate` as one formula with per-index coefficients (`_FAMILY`).

    Under vmap with a per-candidate index, `lax.switch` becomes a select over all six
    functions (five transcendental passes forward and backward); this costs one expm1
    and one tanh whatever the index.
    """
    s, a, b, smooth, c1, c2, c3, tie = jnp.asarray(_FAMILY)[index]
    positive = (x > 0) | ((x == 0) & (tie > 0))
    negative = a * jnp.expm1(jnp.where(positive, 0.0, x)) + b * x
    piecewise = s * jnp.where(positive, x, negative)
    return jnp.where(smooth > 0, c2 * jnp.tanh(c1 * x) + c3, piecewise)


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


_ACTIVATE = {"switch": activate, "family": activate_family}


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


class ConvBlockModule(nn.Module):
    """One conv block; pools when ``layer.pool`` and ``pool`` (the network may pool the
    last block itself)."""

    layer: ConvKey
    impl: str
    frozen: bool = False
    pool: bool = True
    activation_impl: str = "switch"

    @nn.compact
    def __call__(self, x, act, batchnorm, pool_max, use_b, train: bool):
        y = x
        for j, (channels, kernel) in enumerate(self.layer.convs):
            z = Conv(channels, kernel, self.impl, name=conv_name(j))(y)
            z = SwitchableBatchNorm(self.frozen, name=bn_name(j))(z, batchnorm[j], train)
            z = _ACTIVATE[self.activation_impl](z, act)
            # A program shared with candidates that lack conv b passes conv a through.
            y = jnp.where(use_b, z, y) if j == 1 and z.shape == y.shape else z
        if self.layer.skip:
            y = y + Conv(y.shape[-1], 1, self.impl, name="skip")(x)
        if self.layer.pool and self.pool:
            y = pool2x2(y, pool_max)
        return y


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
        last = len(self.key.layers) - 1
        for i, layer in enumerate(self.key.layers):
            name = block_name(i)
            if isinstance(layer, ConvKey):
                # The last block's pooling is a knob: global average pooling follows.
                pool_here = i < last or self.features
                x = ConvBlockModule(layer, self.impl, i < self.frozen_blocks, pool_here,
                                    self.activation_impl, name=name)(
                    x, knobs.activation[i], knobs.batchnorm[i], knobs.pool_max[i],
                    knobs.use_b[i], train)
                if self.key.block_dropout and train:
                    x = dropout(self.make_rng("dropout"), x, knobs.block_dropout[i], train)
            else:
                x = x.reshape(x.shape[0], -1)
                x = _Dense(layer.units, name=name)(x)
                x = _ACTIVATE[self.activation_impl](x, knobs.activation[i])
                if train:
                    x = dropout(self.make_rng("dropout"), x, knobs.block_dropout[i], train)
        if self.features:
            return x
        last_pool = self.key.is_conv and self.key.layers[-1].pool
        return head(self, x, self.key, last_pool, knobs.pool_on[last], knobs.pool_max[last],
                    knobs.head_dropout, train)


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


def head(module: nn.Module, x: jax.Array, key: ShapeKey, last_pool: bool, pool_on, pool_max,
         rate, train: bool) -> jax.Array:
    """The layers after the blocks, created in ``module``'s scope (parameters ``fc_j`` and
    ``head``): for conv networks global average pooling (after the last block's 2x2 pool
    where ``last_pool`` and ``pool_on``, max or average by ``pool_max``), then the dense
    ``head_units`` (relu, dropout ``rate``), dropout and the classifier. x: f32[N, ...] ->
    logits f32[N, num_classes]."""
    if key.is_conv:
        if last_pool:
            pooled = jnp.mean(pool2x2(x, pool_max), axis=(1, 2))
            x = jnp.where(pool_on, pooled, jnp.mean(x, axis=(1, 2)))
        else:
            x = jnp.mean(x, axis=(1, 2))
    for j, units in enumerate(key.head_units):
        x = jax.nn.relu(nn.Dense(units, name=f"fc_{j}")(x))
        if train and j + 1 < len(key.head_units):  # the last one: below
            x = dropout(module.make_rng("dropout"), x, rate, train)
    if train:
        x = dropout(module.make_rng("dropout"), x, rate, train)
    return nn.Dense(key.num_classes, name="head")(x)


class _Dense(nn.Module):
    """A dense layer whose parameters sit under ``dense`` (block_i/dense/kernel)."""

    units: int

    @nn.compact
    def __call__(self, x):
        return nn.Dense(self.units, name="dense")(x)
