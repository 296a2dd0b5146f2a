"""2D convolutions that stay fast under ``jax.vmap`` over a population of weights.

Every function here is written for ONE candidate: ``x`` is f32[N, H, W, Cin] (NHWC),
``w`` is f32[k, k, Cin, Cout] (HWIO) with odd ``k``; stride 1 and 'SAME' padding give
f32[N, H, W, Cout]. The population axis P is added from outside by ``jax.vmap``.

Why several implementations: vmapping ``lax.conv_general_dilated`` over the weights
lowers to a grouped convolution (``feature_group_count=P``) that XLA:CPU runs several
times slower than a Python loop over candidates.

* ``"lax"``: ``lax.conv_general_dilated``; a grouped conv once vmapped.
* ``"lax_map"``: the same conv, but its vmap rule (``custom_vmap``) runs a ``lax.map``
  over the population members, for the forward and both gradients (``custom_vjp``;
  the weight gradient as k*k matmuls, since XLA:CPU's weight-gradient conv is ~100x
  slower inside a while loop). A loop over candidates inside one program; compile
  time does not grow with P. Reverse-mode only (no ``jax.jvp``), like the next one.
* ``"lax_unrolled"``: as ``"lax_map"`` with the loop unrolled into P convs: a little
  faster for small P, but program size and compile time grow with P.
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

from vlga_jax.core import names

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


def _padded(x: jax.Array, k: int) -> jax.Array:
    """f32[N, H, W, C] -> f32[N, H + k - 1, W + k - 1, C], zero 'SAME' border."""
    p = k // 2
    return jnp.pad(x, ((0, 0), (p, p), (p, p), (0, 0)))


# ------------------------------------------------ lax_unrolled, lax_map: loops over P


def _weight_grad_lax(x: jax.Array, g: jax.Array, k: int) -> jax.Array:
    """dL/dw f32[k, k, Cin, Cout] from x f32[N, H, W, Cin] and dL/dy g f32[N, H, W, Cout]."""
    w_spec = jax.ShapeDtypeStruct((k, k, x.shape[-1], g.shape[-1]), x.dtype)
    return jax.linear_transpose(lambda w: _lax_conv(x, w), w_spec)(g)[0]


def _weight_grad_shift(x: jax.Array, g: jax.Array, k: int) -> jax.Array:
    """``_weight_grad_lax`` as k*k matmuls contracting N*H*W. Inside a while loop
    XLA:CPU runs the weight-gradient conv ~100x slower; these matmuls stay fast."""
    _, h, wd, _ = x.shape
    xp = _padded(x, k)
    taps = [xp[:, i : i + h, j : j + wd] for i in range(k) for j in range(k)]
    dw = jnp.stack([jnp.einsum("nhwc,nhwd->cd", t, g) for t in taps])
    return dw.reshape(k, k, *dw.shape[1:])


def _per_member(
    single: Callable, mode: str, fold_batch: bool, mapped: Callable | None = None
) -> Callable:
    """``single(a, b)`` whose vmap rule runs it once per member: a Python loop unrolled
    into the program (``mode="unroll"``) or a ``lax.map`` (``mode="map"``). Under vmap
    each member calls ``mapped`` (default: ``single``): the trainer runs every step
    inside a while loop, where some functions (the lax weight gradient) are slow.

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
        body = mapped or f
        if mode == "map" and axis_size > 1:
            if a_batched and b_batched:
                return lax.map(lambda ab: body(*ab), (a, b)), True
            if a_batched:
                return lax.map(lambda a: body(a, b), a), True
            return lax.map(lambda b: body(a, b), b), True
        ys = [body(a[p] if a_batched else a, b[p] if b_batched else b)
              for p in range(axis_size)]
        return jnp.stack(ys), True

    return f


@functools.cache
def _looped_conv(mode: str, k: int) -> Callable:
    """A k x k ``_lax_conv`` whose vmap (forward and both gradients) loops over P."""
    forward = _per_member(_lax_conv, mode, fold_batch=True)
    weight_grad = _per_member(
        functools.partial(_weight_grad_lax, k=k),
        mode,
        fold_batch=False,
        mapped=functools.partial(_weight_grad_shift, k=k),
    )

    @jax.custom_vjp
    def conv(x, w):
        return forward(x, w)

    def conv_fwd(x, w):
        return forward(x, w), (x, w)

    def conv_bwd(res, g):
        x, w = res
        # 'SAME', stride 1, odd k: dL/dx is g convolved with the flipped, transposed kernel.
        return forward(g, jnp.flip(w, (0, 1)).swapaxes(2, 3)), weight_grad(x, g)

    conv.defvjp(conv_fwd, conv_bwd)
    return conv


def conv_lax_unrolled(x: jax.Array, w: jax.Array) -> jax.Array:
    """``lax.conv_general_dilated``; under vmap one conv per member, unrolled."""
    k = w.shape[0]
    return _pointwise(x, w) if k == 1 else _looped_conv("unroll", k)(x, w)


def conv_lax_map(x: jax.Array, w: jax.Array) -> jax.Array:
    """``lax.conv_general_dilated``; under vmap a ``lax.map`` over the members."""
    k = w.shape[0]
    return _pointwise(x, w) if k == 1 else _looped_conv("map", k)(x, w)


# ------------------------------------------------------------------- shift impls


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
    "lax_map": conv_lax_map,
    "shift_accumulate": conv_shift_accumulate,
    "shift_concat": conv_shift_concat,
}
assert tuple(CONV_IMPLS) == names.CONV_IMPLS


def _check(name: str) -> str:
    if name not in CONV_IMPLS:
        raise ValueError(f"unknown conv impl {name!r}; allowed: {sorted(CONV_IMPLS)} or 'auto'")
    return name


def _env_impl() -> str | None:
    env = os.environ.get(ENV_VAR, "")
    return _check(env) if env and env != "auto" else None


def default_impl(backend: str | None = None) -> str:
    """Static default for a backend ("cpu", "gpu", "tpu"; ``None`` = JAX's default).

    ``VLGA_CONV_IMPL`` overrides it. Never times anything. CPU: "lax_map", within
    0.7-1.1x of a Python loop of lax convs on every shape measured (P=8), with a
    compile time that does not grow with P; vmapped "lax" was 0.08-0.25x and the
    shift impls 0.3-0.6x on CIFAR-sized layers (``benchmarks/conv_impls.py``).
    GPU/TPU: "lax" (grouped convs are native there; not measured yet).
    """
    backend = backend or jax.default_backend()
    return _env_impl() or ("lax_map" if backend == "cpu" else "lax")


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
# XLA:CPU's grouped conv lost to a Python loop 4-14x in every measurement; never time it.
_CANDIDATES = {"cpu": ("lax_map", "lax_unrolled", "shift_accumulate", "shift_concat")}
_UNROLL_MAX_P = 8  # beyond this, lax_unrolled's compile time (grows with P) is not worth it
_GFLOP_PER_CALL = {"cpu": 2.0}  # timed problems are shrunk to this size (others: 100)
_MAX_PATCH_BYTES = 1 << 30  # skip shift_concat when its k*k patches would exceed this
_WARMUP, _REPEATS, _BUDGET_S = 2, 5, 2.0


def _measure(names, population: int, x_shape, w_shape, backend: str) -> dict[str, float]:
    """Best seconds of one ``jit(vmap(value_and_grad))`` call per impl in ``names``.

    All are compiled and warmed up first, then timed in interleaved rounds (so that load
    from other processes hits them alike) until ``_REPEATS`` rounds or ``_BUDGET_S``.
    """
    rng = np.random.default_rng(0)
    x = rng.standard_normal((population, *x_shape), dtype=np.float32)
    w = rng.standard_normal((population, *w_shape), dtype=np.float32)
    x, w = jax.device_put((x, w), jax.devices(backend)[0])

    def step(name):
        def loss(x, w):  # squared, so the cotangent is data, not a foldable constant
            return jnp.sum(jnp.square(CONV_IMPLS[name](x, w)))

        return jax.jit(jax.vmap(jax.value_and_grad(loss, argnums=(0, 1))))

    steps = {name: step(name) for name in names}
    for _ in range(_WARMUP):
        for f in steps.values():
            jax.block_until_ready(f(x, w))
    best = dict.fromkeys(names, math.inf)
    start = time.perf_counter()
    for _ in range(_REPEATS):
        for name, f in steps.items():
            t0 = time.perf_counter()
            jax.block_until_ready(f(x, w))
            best[name] = min(best[name], time.perf_counter() - t0)
        if time.perf_counter() - start > _BUDGET_S:
            break
    return best


def _measured_shapes(population: int, x_shape, w_shape, backend: str):
    """P capped at 4 (keeps lax_unrolled's compile short), then shrunk to 2 and N cut so
    that one forward+backward stays near the flop budget."""
    n, h, wd, cin = x_shape
    k, _, _, cout = w_shape
    per_sample = 3 * 2.0 * h * wd * k * k * cin * cout  # backward ~ 2x forward
    budget = _GFLOP_PER_CALL.get(backend, 100.0) * 1e9 / per_sample
    p = max(min(population, 2), min(population, 4, int(budget // n)))
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
    (backend, population, x_shape, w_shape): forward + backward on random data, the
    problem shrunk (P to 2, then N) to about 2 GFLOP per call on CPU; at most ~2 s of
    timed calls plus one compile per candidate. The winner is cached and returned on
    later calls without timing. On CPU the grouped-conv "lax" is never a candidate,
    "lax_unrolled" only for P <= 8 (its compile time grows with P), "shift_concat"
    only while its patches fit in 1 GiB.
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
            if (n != "shift_concat" or patch_bytes <= _MAX_PATCH_BYTES)
            and (n != "lax_unrolled" or population <= _UNROLL_MAX_P)
        ]
        p, xs = _measured_shapes(population, x_shape, w_shape, backend)
        times = _measure(names, p, xs, tuple(w_shape), backend)
        _CHOICES[key] = min(times, key=times.get)
    return _CHOICES[key]
