"""Forward+backward time of each conv impl under jit(vmap) vs a Python loop over P.

Usage: python benchmarks/conv_impls.py [--repeats 5] [--populations 1 8]

For each shape and population size P it times ``jit(vmap(value_and_grad(loss)))`` with
``loss = sum(conv2d(x, w) ** 2)`` (gradients w.r.t. x and w) for every impl in
``CONV_IMPLS``, and the baseline: a Python loop over the P candidates calling one
jitted single-candidate ``lax.conv_general_dilated`` step each. Times are the best of
``--repeats`` interleaved rounds, in ms per population step; "vs loop" is loop time /
impl time (above 1 = faster than the loop). This table decides ``default_impl("cpu")``.
"""

from __future__ import annotations

import argparse
import os
import time

import jax
import jax.numpy as jnp
import numpy as np

from vlga_jax.networks.conv import CONV_IMPLS, conv2d

SHAPES = {  # name: (x_shape for one candidate, w_shape)
    "digits k3": ((64, 8, 8, 1), (3, 3, 1, 32)),
    "digits k5": ((64, 8, 8, 1), (5, 5, 1, 32)),
    "cifar k3": ((64, 32, 32, 32), (3, 3, 32, 64)),
    "cifar k5": ((64, 32, 32, 32), (5, 5, 32, 64)),
}


def _grad_step(impl: str):
    def loss(x, w):
        return jnp.sum(jnp.square(conv2d(x, w, impl=impl)))

    return jax.value_and_grad(loss, argnums=(0, 1))


def _timed(fn) -> float:
    t0 = time.perf_counter()
    jax.block_until_ready(fn())
    return time.perf_counter() - t0


def bench(x_shape, w_shape, population: int, repeats: int) -> dict[str, tuple[float, float]]:
    """{variant: (best seconds per population step, first call incl. compile)}.

    Variants are timed in interleaved rounds so that load from other processes hits
    them alike; the best of ``repeats`` rounds is reported.
    """
    rng = np.random.default_rng(0)
    x = jnp.asarray(rng.standard_normal((population, *x_shape), dtype=np.float32))
    w = jnp.asarray(rng.standard_normal((population, *w_shape), dtype=np.float32))
    single = jax.jit(_grad_step("lax"))
    xs, ws = list(x), list(w)
    fns = {"loop(lax)": lambda: [single(a, b) for a, b in zip(xs, ws, strict=True)]}
    for name in CONV_IMPLS:
        step = jax.jit(jax.vmap(_grad_step(name)))
        fns[name] = lambda step=step: step(x, w)
    first = {name: _timed(fn) for name, fn in fns.items()}
    for fn in fns.values():  # second warm-up
        _timed(fn)
    rounds = [{name: _timed(fn) for name, fn in fns.items()} for _ in range(repeats)]
    return {name: (min(r[name] for r in rounds), first[name]) for name in fns}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--repeats", type=int, default=5)
    parser.add_argument("--populations", type=int, nargs="+", default=[1, 8])
    parser.add_argument("--shapes", nargs="+", default=list(SHAPES), choices=list(SHAPES))
    args = parser.parse_args()
    load = ", ".join(f"{v:.1f}" for v in os.getloadavg())
    print(f"jax {jax.__version__}, {jax.default_backend()}, {os.cpu_count()} cores, load {load}")
    names = ["loop(lax)", *CONV_IMPLS]
    print(f"{'shape':<10} {'P':>2} " + " ".join(f"{n:>22}" for n in names))
    print(f"{'':<10} {'':>2} " + " ".join(f"{'ms (vs loop)':>22}" for _ in names))
    for shape in args.shapes:
        for population in args.populations:
            res = bench(*SHAPES[shape], population, args.repeats)
            base = res["loop(lax)"][0]
            cells = [f"{res[n][0] * 1e3:10.2f} ({base / res[n][0]:5.2f}x)" for n in names]
            print(f"{shape:<10} {population:>2} " + " ".join(f"{c:>22}" for c in cells))
            comp = ", ".join(f"{n} {res[n][1]:.2f}" for n in names)
            print(f"{'':<14}first call incl. compile, s: {comp}", flush=True)
    print("load average at the end: " + ", ".join(f"{v:.1f}" for v in os.getloadavg()))


if __name__ == "__main__":
    main()
