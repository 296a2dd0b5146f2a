"""2D convolutions that stay fast under ``jax.vmap`` over a population of weights.

Every function here is written for ONE candidate: ``x`` is f32[N, H, W, Cin] (NHWC),
``w`` is f32[k, k, Cin, Cout] (HWIO) with odd ``k``; stride 1 and 'SAME' padding give
f32[N, H, W, Cout]. The population axis P is added from outside by ``jax.vmap``.

Why several implementations: vmapping ``lax.conv_general_dilated`` over the weights
lowers to a grouped convolution (``feature_group_count=P``) that XLA:CPU runs several
times slower than a Python loop over candidates.

* ``"lax"``: ``lax.conv_general_dilated``; a grouped conv once vmapped.
* ``"lax_unrolled"``: the same conv, but its vmap rule (``custom_vmap``) emits one
  ordinary conv per population member, for the forward and both gradients
  (``custom_vjp``). The loop over candidates, inside one compiled program; program
  size and compile time grow with P. Reverse-mode only (no ``jax.jvp``).
* ``"shift_accumulate"``: k*k matmuls ``x_pad[:, i:i+H, j:j+W] @ w[i, j]`` summed; a
  batched matmul under vmap, no extra activation memory.
* ``"shift_concat"``: im2col, the k*k shifts concatenated on the channel axis and one
  matmul with contraction k*k*Cin; k*k times the activation memory.

Every impl computes k == 1 as a plain matmul. ``conv2d(..., impl="auto")`` never times
anything: it uses ``VLGA_CONV_IMPL`` or ``default_impl()``. Host code that knows a
bucket's shapes calls ``choose_impl`` once (it times the candidates, caches the winner)
and passes the name on: ``conv2d(x, w, impl=name)``. ``benchmarks/conv_impls.py``
prints the measurements behind ``default_impl``.
"""

from __future__ import annotations

import functools
import math
import os
import time
from collections.abc import Callable, Sequence

import jax
import jax.numpy as jnp
import numpy as np
from jax import lax
from jax.custom_batching import custom_vmap

__all__ = ["CONV_IMPLS", "ENV_VAR", "choose_impl", "conv2d", "default_impl"]

ENV_VAR = "VLGA_CONV_IMPL"
_DIMS = ("NHWC", "HWIO", "NHWC")


def _pointwise(x: jax.Array, w: jax.Array) -> jax.Array:
    """k == 1: f32[N, H, W, Cin] @ f32[Cin, Cout] -> f32[N, H, W, Cout]."""
    return x @ w[0, 0]


def _lax_conv(x: jax.Array, w: jax.Array) -> jax.Array:
    return lax.conv_general_dilated(x, w, (1, 1), "SAME", dimension_numbers=_DIMS)


def conv_lax(x: jax.Array, w: jax.Array) -> jax.Array:
    """``lax.conv_general_dilated``, NHWC x HWIO -> NHWC."""
    return _pointwise(x, w) if w.shape[0] == 1 else _lax_conv(x, w)


# ------------------------------------------------------------------- lax_unrolled


def _per_member(single: Callable, fold_batch: bool) -> Callable:
    """``single(a, b)`` whose vmap rule calls it once per member and stacks the results.

    With ``fold_batch`` and only ``a`` batched, the members are folded into a's batch
    axis N instead (valid when ``single`` maps each row of ``a`` independently).
    """

    @custom_vmap
    def f(a, b):
        return single(a, b)

    @f.def_vmap
    def _rule(axis_size, in_batched, a, b):
        a_batched, b_batched = in_batched
        if fold_batch and not b_batched:
            y = f(a.reshape(-1, *a.shape[2:]), b)
            return y.reshape(axis_size, -1, *y.shape[1:]), True
        ys = [f(a[p] if a_batched else a, b[p] if b_batched else b) for p in range(axis_size)]
        return jnp.stack(ys), True

    return f


@functools.cache
def _weight_grad(k: int) -> Callable:
    """(x f32[N, H, W, Cin], dL/dy f32[N, H, W, Cout]) -> dL/dw f32[k, k, Cin, Cout]."""

    def single(x, g):
        w_spec = jax.ShapeDtypeStruct((k, k, x.shape[-1], g.shape[-1]), x.dtype)
        return jax.linear_transpose(lambda w: _lax_conv(x, w), w_spec)(g)[0]

    return _per_member(single, fold_batch=False)


_unrolled_fwd = _per_member(_lax_conv, fold_batch=True)


@jax.custom_vjp
def _unrolled(x: jax.Array, w: jax.Array) -> jax.Array:
    return _unrolled_fwd(x, w)


def _unrolled_vjp_fwd(x, w):
    return _unrolled_fwd(x, w), (x, w)


def _unrolled_vjp_bwd(res, g):
    x, w = res
    # 'SAME', stride 1, odd k: dL/dx is the conv of g with the flipped, transposed kernel.
    dx = _unrolled_fwd(g, jnp.flip(w, (0, 1)).swapaxes(2, 3))
    return dx, _weight_grad(w.shape[0])(x, g)


_unrolled.defvjp(_unrolled_vjp_fwd, _unrolled_vjp_bwd)


def conv_lax_unrolled(x: jax.Array, w: jax.Array) -> jax.Array:
    """``lax.conv_general_dilated`` whose vmap is one conv per member, not a grouped conv."""
    return _pointwise(x, w) if w.shape[0] == 1 else _unrolled(x, w)


# ------------------------------------------------------------------- shift impls


def _padded(x: jax.Array, k: int) -> jax.Array:
    """f32[N, H, W, C] -> f32[N, H + k - 1, W + k - 1, C], zero 'SAME' border."""
    p = k // 2
    return jnp.pad(x, ((0, 0), (p, p), (p, p), (0, 0)))


def conv_shift_accumulate(x: jax.Array, w: jax.Array) -> jax.Array:
    """Sum over the k*k taps of ``x_pad[:, i:i+H, j:j+W] @ w[i, j]`` (contraction Cin)."""
    k = w.shape[0]
    if k == 1:
        return _pointwise(x, w)
    _, h, wd, _ = x.shape
    xp = _padded(x, k)
    out = None
    for i in range(k):
        for j in range(k):
            y = xp[:, i : i + h, j : j + wd] @ w[i, j]
            out = y if out is None else out + y
    return out


def conv_shift_concat(x: jax.Array, w: jax.Array) -> jax.Array:
    """im2col: patches f32[N, H, W, k*k*Cin] @ f32[k*k*Cin, Cout] in one matmul."""
    k, _, cin, cout = w.shape
    if k == 1:
        return _pointwise(x, w)
    _, h, wd, _ = x.shape
    xp = _padded(x, k)
    taps = [xp[:, i : i + h, j : j + wd] for i in range(k) for j in range(k)]
    return jnp.concatenate(taps, axis=-1) @ w.reshape(k * k * cin, cout)


CONV_IMPLS: dict[str, Callable[[jax.Array, jax.Array], jax.Array]] = {
    "lax": conv_lax,
    "lax_unrolled": conv_lax_unrolled,
    "shift_accumulate": conv_shift_accumulate,
    "shift_concat": conv_shift_concat,
}


def _check(name: str) -> str:
    if name not in CONV_IMPLS:
        raise ValueError(f"unknown conv impl {name!r}; allowed: {sorted(CONV_IMPLS)} or 'auto'")
    return name


def _env_impl() -> str | None:
    env = os.environ.get(ENV_VAR, "")
    return _check(env) if env and env != "auto" else None


def default_impl(backend: str | None = None) -> str:
    """Static default for a backend ("cpu", "gpu", "tpu"; ``None`` = JAX's default).

    ``VLGA_CONV_IMPL`` overrides it. Never times anything.
    """
    backend = backend or jax.default_backend()
    return _env_impl() or ("lax_unrolled" if backend == "cpu" else "lax")


def conv2d(
    x: jax.Array, w: jax.Array, b: jax.Array | None = None, *, impl: str = "auto"
) -> jax.Array:
    """Stride-1 'SAME' convolution of one candidate.

    Args:
      x: f32[N, H, W, Cin] (NHWC).
      w: f32[k, k, Cin, Cout] (HWIO), k odd.
      b: optional f32[Cout] bias.
      impl: a key of ``CONV_IMPLS``, or "auto" (``VLGA_CONV_IMPL`` if set, else
        ``default_impl()``; nothing is timed at trace time).

    Returns:
      f32[N, H, W, Cout]. Differentiable; vmap it to add a population axis.
    """
    name = default_impl() if impl == "auto" else _check(impl)
    if x.ndim != 4 or w.ndim != 4:
        raise ValueError(f"expected x NHWC and w HWIO, got shapes {x.shape} and {w.shape}")
    k = w.shape[0]
    if w.shape[1] != k or k % 2 == 0 or w.shape[2] != x.shape[3]:
        raise ValueError(f"need w[k, k, Cin, Cout] with odd k and Cin={x.shape[3]}, got {w.shape}")
    y = CONV_IMPLS[name](x, w)
    return y if b is None else y + b


# ------------------------------------------------------------------------- choice

_CHOICES: dict[tuple, str] = {}
# XLA:CPU's grouped conv lost to a Python loop 4-12x in every measurement; never time it.
_CANDIDATES = {"cpu": ("lax_unrolled", "shift_accumulate", "shift_concat")}
_GFLOP_PER_CALL = {"cpu": 1.0}  # timed problems are shrunk to this size (others: 100)
_MAX_PATCH_BYTES = 1 << 30  # skip shift_concat when its k*k patches would exceed this
_WARMUP, _REPEATS, _BUDGET_S = 2, 5, 2.0


def _measure(name: str, population: int, x_shape, w_shape, backend: str, budget_s: float) -> float:
    """Best seconds of one ``jit(vmap(value_and_grad))`` call of impl ``name``."""
    rng = np.random.default_rng(0)
    x = rng.standard_normal((population, *x_shape), dtype=np.float32)
    w = rng.standard_normal((population, *w_shape), dtype=np.float32)
    x, w = jax.device_put((x, w), jax.devices(backend)[0])

    def loss(x, w):  # squared, so the cotangent is data, not a foldable constant
        return jnp.sum(jnp.square(CONV_IMPLS[name](x, w)))

    step = jax.jit(jax.vmap(jax.value_and_grad(loss, argnums=(0, 1))))
    start = time.perf_counter()
    for _ in range(_WARMUP):
        jax.block_until_ready(step(x, w))
    times: list[float] = []
    while len(times) < _REPEATS and (not times or time.perf_counter() - start < budget_s):
        t0 = time.perf_counter()
        jax.block_until_ready(step(x, w))
        times.append(time.perf_counter() - t0)
    return min(times)


def _measured_shapes(population: int, x_shape, w_shape, backend: str):
    """Shrink P (to 2) then N so that one forward+backward stays near the flop budget."""
    n, h, wd, cin = x_shape
    k, _, _, cout = w_shape
    per_sample = 3 * 2.0 * h * wd * k * k * cin * cout  # backward ~ 2x forward
    budget = _GFLOP_PER_CALL.get(backend, 100.0) * 1e9 / per_sample
    p = max(min(population, 2), min(population, int(budget // n)))
    n = max(1, min(n, int(budget // p)))
    return p, (n, h, wd, cin)


def choose_impl(
    population: int,
    x_shape: Sequence[int],
    w_shape: Sequence[int],
    *,
    backend: str | None = None,
    impl: str | None = None,
) -> str:
    """Fastest impl for ``jit(vmap(conv2d))`` over ``population`` candidates.

    Args:
      population: P, the size of the vmapped axis.
      x_shape: one candidate's input shape (N, H, W, Cin).
      w_shape: one candidate's kernel shape (k, k, Cin, Cout).
      backend: "cpu", "gpu", "tpu" or None (JAX's default backend).
      impl: an explicit name wins and is returned as is; None or "auto" = choose.

    ``VLGA_CONV_IMPL`` wins next. Otherwise the candidates are timed once per
    (backend, population, x_shape, w_shape): forward + backward on random data, a
    problem shrunk to about 1 GFLOP per call on CPU, about 2 s in all plus compiles.
    The winner is cached and returned on later calls without timing.
    """
    if impl not in (None, "auto"):
        return _check(impl)
    if env := _env_impl():
        return env
    backend = backend or jax.default_backend()
    key = (backend, int(population), tuple(x_shape), tuple(w_shape))
    if key not in _CHOICES:
        if w_shape[0] == 1:  # every impl is the same matmul
            _CHOICES[key] = default_impl(backend)
            return _CHOICES[key]
        patch_bytes = 4 * population * math.prod(x_shape) * w_shape[0] ** 2
        names = [
            n
            for n in _CANDIDATES.get(backend, tuple(CONV_IMPLS))
            if n != "shift_concat" or patch_bytes <= _MAX_PATCH_BYTES
        ]
        p, xs = _measured_shapes(population, x_shape, w_shape, backend)
        budget = _BUDGET_S / len(names)
        times = {n: _measure(n, p, xs, tuple(w_shape), backend, budget) for n in names}
        _CHOICES[key] = min(times, key=times.get)
    return _CHOICES[key]
