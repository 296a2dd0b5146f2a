"""Training throughput: the batched trainer against a Python loop over a jitted step.

Usage: python benchmarks/throughput.py [--quick] [--configs digits cifar]
           [--populations 1 8 32] [--images N | --steps N] [--epochs 1]
           [--conv-impl NAME ...] [--out results/throughput.json]

For a digits-sized CNN (8x8x1) and a CIFAR-sized CNN (32x32x3, 32-64-128 channels),
and populations P, on synthetic random data (values do not matter for speed):

* (a) batched: `vlga_jax.training.trainer.Trainer` trains P members of one `Architecture` in
  one compiled program. A first ``train(members, 0)`` call compiles the bucket
  (``stats.compile_seconds``, the cold compile: the persistent cache starts empty),
  later calls of ``--epochs`` epochs are timed (steady state). Each call includes
  the trainer's host work (parameter init, stacking, unpadding) and its evaluation;
  "device s" in the JSON is the compiled call alone.
* (b) naive: the same network (`model.Network`, ``impl="lax"``, i.e.
  ``lax.conv_general_dilated``) and optimizer for ONE candidate, ONE jitted train
  step, and a Python loop over candidates and steps, as the seed Keras/PyTorch code
  trains: per candidate init, steps (same batch size, same number), evaluation of
  the same evaluation split, its accuracy fetched to the host.

images/s = P * images per candidate * epochs / seconds (summed over candidates; the
evaluation split is tiny, ``--eval-images``, and evaluated by both (a) and (b)).
GFLOP/s = ``ShapeKey.train_flops_per_example`` * images / seconds, against an f32
matmul (``--matmul-size``, best of several) timed in the same process at the start
and at the end (the better of the two is the reference). Timed calls of (a) and (b)
alternate (``--repeats`` rounds, best kept), so that load from other processes hits
both alike.

Compile seconds per bucket: cold (first compile, persistent cache empty) and from the
persistent cache, measured in a fresh subprocess (empty in-memory caches) that
rebuilds the same buckets with the same cache directory.

Targets (reported, not asserted): batched >= 2x naive at P=8 on the CIFAR-sized CNN
and not slower at P=1; batched >= 30% of the matmul GFLOP/s on the CIFAR-sized CNN; a
repeat compile of a cached bucket under 1 s.

Prints a table; writes JSON to ``--out``.
"""

from __future__ import annotations

import argparse
import json
import math
import os
import platform
import resource
import subprocess
import sys
import tempfile
import time

import jax
import jax.numpy as jnp
import numpy as np
import optax

from vlga_jax.networks.architecture import Architecture, ConvBlock, ConvLayer
from vlga_jax.networks.model import Network
from vlga_jax.networks.params import init_params
from vlga_jax.training.trainer import (
    DeviceData,
    Member,
    Trainer,
    enable_compilation_cache,
    make_optimizer,
)

NUM_CLASSES = 10

# name: (input shape, blocks, default images per candidate)
CONFIGS = {
    "digits": (
        (8, 8, 1),
        (
            ConvBlock((ConvLayer(32, 3), ConvLayer(32, 3)), pool="max"),
            ConvBlock((ConvLayer(64, 3),)),
        ),
        1024,
    ),
    "cifar": (
        (32, 32, 3),
        (
            ConvBlock((ConvLayer(32, 3),), pool="max"),
            ConvBlock((ConvLayer(64, 3),), pool="max"),
            ConvBlock((ConvLayer(128, 3),), pool="max"),
        ),
        512,
    ),
}

TARGET_RATIO_P8 = 2.0
TARGET_MATMUL_FRACTION = 0.30
TARGET_CACHED_COMPILE_S = 1.0


def architecture(name: str) -> Architecture:
    shape, blocks, _ = CONFIGS[name]
    return Architecture(input_shape=shape, num_classes=NUM_CLASSES, blocks=blocks)


def images_per_candidate(name: str, population: int, args) -> int:
    """Per-candidate training images: --steps/--images/config default, capped so that
    P * images <= --max-total-images, a multiple of the batch size, at least 1 batch."""
    bs = args.batch_size
    if args.steps:
        n = args.steps * bs
    else:
        n = args.images or CONFIGS[name][2]
    if args.max_total_images:
        n = min(n, args.max_total_images // population)
    return max(bs, n // bs * bs)


_PHASES = {  # jax.monitoring duration events -> short names
    "/jax/core/compile/jaxpr_trace_duration": "trace",
    "/jax/core/compile/jaxpr_to_mlir_module_duration": "lower",
    "/jax/core/compile/backend_compile_duration": "backend",
    "/jax/compilation_cache/cache_retrieval_time_sec": "cache_read",
}
_durations: dict[str, float] = {}
_events: dict[str, int] = {}


def _listen() -> None:
    """Sum JAX's compile-phase durations and count cache hits/misses (process-wide)."""
    def duration(event, seconds, **_):
        if event in _PHASES:
            _durations[_PHASES[event]] = _durations.get(_PHASES[event], 0.0) + seconds

    def event(name, **_):
        _events[name] = _events.get(name, 0) + 1

    jax.monitoring.register_event_duration_secs_listener(duration)
    jax.monitoring.register_event_listener(event)


def _compile_with_phases(batched: Batched) -> dict:
    """Compile a bucket; seconds as Trainer.stats reports them, plus JAX's phase sums and
    persistent-cache hits/misses of every jit in that first 0-epoch call."""
    hits = "/jax/compilation_cache/cache_hits"
    misses = "/jax/compilation_cache/cache_misses"
    _durations.clear()
    h0, m0 = _events.get(hits, 0), _events.get(misses, 0)
    seconds, first = batched.compile()
    return {"compile_s": seconds, "first_call_s": first,
            "phases_s": {k: round(v, 3) for k, v in _durations.items()},
            "cache_hits": _events.get(hits, 0) - h0, "cache_misses": _events.get(misses, 0) - m0}


def _next_pow2(n: int) -> int:
    return 1 << max(0, (n - 1).bit_length())


def peak_rss_gb() -> float:
    """Peak resident memory of this process so far (Linux ru_maxrss is in KiB)."""
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 2**20


def load() -> list[float]:
    return [round(v, 2) for v in os.getloadavg()]


# ------------------------------------------------------------------------ data


def synthetic(shape, n_train: int, n_eval: int, eval_batch: int, seed: int = 0):
    rng = np.random.default_rng(seed)
    tx = rng.standard_normal((n_train, *shape), dtype=np.float32)
    ty = rng.integers(0, NUM_CLASSES, n_train).astype(np.int32)
    ex = rng.standard_normal((n_eval, *shape), dtype=np.float32)
    ey = rng.integers(0, NUM_CLASSES, n_eval).astype(np.int32)
    return DeviceData.create(tx, ty, ex, ey, eval_batch=eval_batch)


# --------------------------------------------------------------------- matmul


def matmul_gflops(n: int, repeats: int = 20) -> float:
    """Best f32 (n x n) @ (n x n) GFLOP/s of a jitted matmul."""
    rng = np.random.default_rng(0)
    a = jnp.asarray(rng.standard_normal((n, n), dtype=np.float32))
    b = jnp.asarray(rng.standard_normal((n, n), dtype=np.float32))
    f = jax.jit(jnp.matmul)
    for _ in range(3):
        f(a, b).block_until_ready()
    best = math.inf
    for _ in range(repeats):
        t0 = time.perf_counter()
        f(a, b).block_until_ready()
        best = min(best, time.perf_counter() - t0)
    return 2.0 * n**3 / best / 1e9


# -------------------------------------------------------------- (a) batched


class Batched:
    """One Trainer bucket: P members of one architecture on one DeviceData."""

    def __init__(self, arch: Architecture, population: int, data: DeviceData, args,
                 impl: str | None):
        self.arch, self.population = arch, population
        self.trainer = Trainer(data, batch_size=args.batch_size, eval_batch=args.eval_images,
                               conv_impl=impl)
        self.impl = self.trainer.conv_impl
        self.calls = 0

    def resolved_impl(self) -> str:
        """The impl the compiled program uses ("auto" resolved, after compile())."""
        if self.impl != "auto":
            return self.impl
        try:  # private, but cached: no new measurement
            program = self.trainer.assign_programs(self.members(), 1)[0][0]
            return f"auto:{self.trainer._impl_for(program, _next_pow2(self.population))}"
        except Exception:  # noqa: BLE001 - a label only
            return "auto"

    def members(self) -> list[Member]:
        self.calls += 1
        base = 1000 * self.calls
        return [Member(self.arch, jax.random.key(base + i)) for i in range(self.population)]

    def compile(self) -> tuple[float, float]:
        """(compile seconds, first call wall seconds) of a first 1-epoch call (a 0-epoch
        call would compile the evaluation program only)."""
        t0 = time.perf_counter()
        self.trainer.train(self.members(), 1)
        return self.trainer.stats.compile_seconds, time.perf_counter() - t0

    def run(self, epochs: int) -> tuple[float, float]:
        """(wall seconds of train(), seconds of the compiled call alone)."""
        before = self.trainer.stats.train_seconds
        t0 = time.perf_counter()
        outcomes = self.trainer.train(self.members(), epochs)
        wall = time.perf_counter() - t0
        assert len(outcomes) == self.population
        assert self.trainer.stats.programs_compiled == 1, "steady state must not recompile"
        return wall, self.trainer.stats.train_seconds - before


# ---------------------------------------------------------------- (b) naive


class Naive:
    """A Python loop over candidates and steps of one jitted single-candidate step."""

    def __init__(self, arch: Architecture, population: int, data: DeviceData, args):
        self.arch, self.population, self.data = arch, population, data
        self.key = arch.shape_key()
        self.batch_size = args.batch_size
        self.n_train = int(data.train_x.shape[0])
        self.steps = self.n_train // self.batch_size
        net = Network(self.key, impl="lax")
        self.knobs = jax.tree.map(jnp.asarray, arch.knobs())  # arguments, as in the trainer
        lr, wd = float(arch.learning_rate), float(arch.weight_decay)
        tx = make_optimizer(arch.optimizer, lr, wd)

        def loss_fn(params, stats, knobs, xb, yb, rng):
            logits, updated = net.apply({"params": params, "batch_stats": stats}, xb, knobs,
                                        train=True, mutable=["batch_stats"],
                                        rngs={"dropout": rng})
            loss = optax.softmax_cross_entropy_with_integer_labels(logits, yb).mean()
            return loss, updated["batch_stats"]

        @jax.jit
        def step(params, stats, opt_state, knobs, rng, train_x, train_y, idx):
            rng, drop_rng = jax.random.split(rng)
            (loss, stats), grads = jax.value_and_grad(loss_fn, has_aux=True)(
                params, stats, knobs, train_x[idx], train_y[idx], drop_rng)
            updates, opt_state = tx.update(grads, opt_state, params)
            return optax.apply_updates(params, updates), stats, opt_state, rng, loss

        @jax.jit
        def evaluate(params, stats, knobs, x, y, w):
            logits = net.apply({"params": params, "batch_stats": stats}, x, knobs, train=False)
            return jnp.sum((jnp.argmax(logits, -1) == y) * w) / jnp.sum(w)

        self.step, self.evaluate, self.init_opt = step, evaluate, jax.jit(tx.init)
        self.calls = 0

    def run(self, epochs: int) -> float:
        """Wall seconds to init, train ``epochs`` epochs and evaluate every candidate."""
        self.calls += 1
        d = self.data
        perm_rng = np.random.default_rng(self.calls)
        t0 = time.perf_counter()
        for c in range(self.population):
            key = jax.random.key(1000 * self.calls + c)
            params, stats = init_params(key, self.key)
            opt_state = self.init_opt(params)
            rng = jax.random.fold_in(key, 1)
            for _ in range(epochs):
                perm = perm_rng.permutation(self.n_train)[: self.steps * self.batch_size]
                for idx in perm.reshape(self.steps, self.batch_size).astype(np.int32):
                    params, stats, opt_state, rng, _ = self.step(
                        params, stats, opt_state, self.knobs, rng, d.train_x, d.train_y, idx)
            float(self.evaluate(params, stats, self.knobs, d.eval_x, d.eval_y, d.eval_w))
        return time.perf_counter() - t0

    def compile(self) -> float:
        """Seconds of a first run of one step per candidate (compiles step, init, eval)."""
        steps, self.steps = self.steps, 1
        population, self.population = self.population, 1
        try:
            return self.run(1)
        finally:
            self.steps, self.population = steps, population


# ---------------------------------------------------------- compile from cache


def cached_compile_main(spec_json: str) -> None:
    """Hidden subprocess mode: rebuild each bucket with the persistent cache on, print
    {"compile_s": [...], "hits": n, "misses": n} as the last stdout line."""
    spec = json.loads(spec_json)
    _listen()
    enable_compilation_cache(spec["cache_dir"])
    args = argparse.Namespace(**spec["args"])
    out = []
    for b in spec["buckets"]:
        arch = architecture(b["config"])
        data = synthetic(arch.input_shape, b["n_train"], args.eval_images, args.eval_images)
        out.append(_compile_with_phases(Batched(arch, b["population"], data, args, b["impl"])))
    print(json.dumps(out))


def cached_compiles(buckets: list[dict], cache_dir: str, args) -> list[dict]:
    spec = {"cache_dir": cache_dir, "buckets": buckets,
            "args": {"batch_size": args.batch_size, "eval_images": args.eval_images}}
    proc = subprocess.run([sys.executable, os.path.abspath(__file__), "--_cached-compile",
                           json.dumps(spec)], capture_output=True, text=True, check=False)
    if proc.returncode != 0:
        print(proc.stderr[-3000:], file=sys.stderr)
        raise RuntimeError("cached-compile subprocess failed")
    return json.loads(proc.stdout.strip().splitlines()[-1])


# ----------------------------------------------------------------------- main


def parse_args(argv=None):
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--configs", nargs="+", default=list(CONFIGS), choices=list(CONFIGS))
    p.add_argument("--populations", type=int, nargs="+", default=[1, 8, 32])
    p.add_argument("--images", type=int, default=0,
                   help="training images per candidate (default: digits 1024, cifar 512)")
    p.add_argument("--steps", type=int, default=0,
                   help="training steps per candidate and epoch (overrides --images)")
    p.add_argument("--max-total-images", type=int, default=8192,
                   help="cap on P * images per candidate (0: none); large P gets fewer")
    p.add_argument("--epochs", type=int, default=1, help="epochs per timed call")
    p.add_argument("--batch-size", type=int, default=128)
    p.add_argument("--eval-images", type=int, default=64,
                   help="evaluation split size (one evaluation batch), used by (a) and (b)")
    p.add_argument("--repeats", type=int, default=2, help="timed rounds, best kept")
    p.add_argument("--repeat-under", type=float, default=20.0,
                   help="only repeat a round that took less than this many seconds")
    p.add_argument("--conv-impl", nargs="+", default=[None],
                   help="trainer conv impl(s): 'default' (conv.default_impl), 'auto' "
                        "(Trainer times candidates per program) or a conv.CONV_IMPLS name")
    p.add_argument("--skip", nargs="*", default=[],
                   help="skip config:P pairs, e.g. cifar:32")
    p.add_argument("--no-naive", action="store_true", help="skip the naive loop")
    p.add_argument("--no-cache-check", action="store_true",
                   help="skip the persistent-cache compile subprocess")
    p.add_argument("--cache-dir", default=None,
                   help="persistent compilation cache (default: a fresh temp dir)")
    p.add_argument("--matmul-size", type=int, default=1024)
    p.add_argument("--quick", action="store_true",
                   help="smoke run: P 1 8, 256 images, 1 round")
    p.add_argument("--out", default="results/throughput.json")
    p.add_argument("--_cached-compile", dest="cached_compile", default=None,
                   help=argparse.SUPPRESS)
    args = p.parse_args(argv)
    args.conv_impl = [None if i in (None, "default") else i for i in args.conv_impl]
    if args.quick:
        args.populations = [q for q in args.populations if q <= 8] or [1]
        args.images = args.images or 256
        args.repeats = 1
    return args


def fmt(x, spec: str) -> str:
    return "-" if x is None else format(x, spec)


def main(argv=None) -> None:
    args = parse_args(argv)
    if args.cached_compile:
        cached_compile_main(args.cached_compile)
        return
    start = time.perf_counter()
    cache_dir = args.cache_dir or tempfile.mkdtemp(prefix="vlga_throughput_cache_")
    enable_compilation_cache(cache_dir)
    _listen()
    loads = {"start": load()}
    header = (f"jax {jax.__version__} ({jax.default_backend()}), {os.cpu_count()} cores, "
              f"{platform.processor() or platform.machine()}; load average {loads['start']}")
    print(header, flush=True)
    mm_start = matmul_gflops(args.matmul_size)
    print(f"f32 matmul {args.matmul_size}^3: {mm_start:.1f} GFLOP/s", flush=True)

    rows = []
    for name in args.configs:
        arch = architecture(name)
        flops = arch.shape_key().train_flops_per_example
        print(f"\n{name}: {' | '.join(arch.describe())}; "
              f"{flops / 1e6:.2f} MFLOP/example (train)", flush=True)
        for population in args.populations:
            if f"{name}:{population}" in args.skip:
                continue
            n = images_per_candidate(name, population, args)
            data = synthetic(arch.input_shape, n, args.eval_images, args.eval_images)
            images = population * n * args.epochs
            batched = [Batched(arch, population, data, args, impl) for impl in args.conv_impl]
            compiles = [_compile_with_phases(b) for b in batched]
            labels = [b.resolved_impl() for b in batched]
            naive = None if args.no_naive else Naive(arch, population, data, args)
            naive_first = naive.compile() if naive else None
            times = {"naive": [], **{i: [] for i in range(len(batched))}}
            device = {i: [] for i in range(len(batched))}
            for rep in range(args.repeats):  # alternate (a) and (b)
                if rep and sum(v[-1] for v in times.values() if v) > args.repeat_under:
                    break  # a slow round is measurement enough; keep the run short
                if naive:
                    times["naive"].append(naive.run(args.epochs))
                for i, b in enumerate(batched):
                    wall, dev = b.run(args.epochs)
                    times[i].append(wall)
                    device[i].append(dev)
            naive_s = min(times["naive"]) if naive else None
            for i, (b, cold, label) in enumerate(zip(batched, compiles, labels, strict=True)):
                s = min(times[i])
                compile_s = cold["compile_s"]
                row = {
                    "config": name, "population": population, "impl": label,
                    "trainer_conv_impl": b.impl,
                    "images_per_candidate": n, "epochs": args.epochs,
                    "batch_size": args.batch_size, "steps_per_epoch": n // args.batch_size,
                    "eval_images": args.eval_images, "train_flops_per_example": flops,
                    "batched_s": s, "batched_s_all": times[i],
                    "batched_device_s": min(device[i]),
                    "batched_images_per_s": images / s,
                    "batched_gflops": flops * images / s / 1e9,
                    "naive_s": naive_s, "naive_s_all": times["naive"],
                    "naive_images_per_s": images / naive_s if naive else None,
                    "naive_gflops": flops * images / naive_s / 1e9 if naive else None,
                    "naive_first_call_s": naive_first,
                    "ratio": naive_s / s if naive else None,
                    "compile_cold_s": compile_s, "compile_cold": cold,
                    "compile_cached_s": None, "compile_cached": None,
                    "load": load(), "peak_rss_gb_so_far": round(peak_rss_gb(), 2),
                }
                rows.append(row)
                print(f"  P={population:<3} {label:<18} {n:>5} img/cand  "
                      f"batched {row['batched_images_per_s']:8.1f} img/s  "
                      f"naive {fmt(row['naive_images_per_s'], '8.1f')} img/s  "
                      f"ratio {fmt(row['ratio'], '5.2f')}  compile {compile_s:5.2f} s  "
                      f"(load {row['load'][0]}, peak RSS {row['peak_rss_gb_so_far']:.1f} GB)",
                      flush=True)

    if rows and not args.no_cache_check:
        buckets = [{"config": r["config"], "population": r["population"],
                    "impl": r["trainer_conv_impl"],
                    "n_train": r["images_per_candidate"]} for r in rows]
        print("\ncompiling the same buckets in a fresh process from the persistent cache...",
              flush=True)
        for r, c in zip(rows, cached_compiles(buckets, cache_dir, args), strict=True):
            r["compile_cached_s"], r["compile_cached"] = c["compile_s"], c

    mm_end = matmul_gflops(args.matmul_size)
    mm = max(mm_start, mm_end)
    loads["end"] = load()
    for r in rows:
        r["batched_matmul_fraction"] = r["batched_gflops"] / mm
        r["naive_matmul_fraction"] = r["naive_gflops"] / mm if r["naive_gflops"] else None

    # table
    print(f"\n{header}")
    print(f"f32 matmul {args.matmul_size}^3: start {mm_start:.1f}, end {mm_end:.1f} GFLOP/s "
          f"(reference {mm:.1f}); load average at the end {loads['end']}; "
          f"peak RSS {peak_rss_gb():.1f} GB")
    print(f"batch {args.batch_size}, {args.epochs} epoch(s) per timed call, best of "
          f"{args.repeats}; eval split {args.eval_images} images (both); images/s summed "
          f"over candidates; batched = Trainer.train wall time incl. host work")
    cols = (f"{'config':<7}{'P':>4} {'impl':<18}{'img/cand':>9}{'batched img/s':>14}"
            f"{'naive img/s':>12}{'ratio':>7}{'batched GFLOP/s':>17}{'naive GFLOP/s':>15}"
            f"{'compile cold s':>15}{'cached s':>9}")
    print(cols)
    print("-" * len(cols))
    for r in rows:
        print(f"{r['config']:<7}{r['population']:>4} {r['impl']:<18}"
              f"{r['images_per_candidate']:>9}{r['batched_images_per_s']:>14.1f}"
              f"{fmt(r['naive_images_per_s'], '.1f'):>12}{fmt(r['ratio'], '.2f'):>7}"
              f"{r['batched_gflops']:>8.1f} ({r['batched_matmul_fraction']:>4.0%}) "
              f"{fmt(r['naive_gflops'], '.1f'):>7} ({fmt(r['naive_matmul_fraction'], '4.0%')}) "
              f"{r['compile_cold_s']:>14.2f}{fmt(r['compile_cached_s'], '.2f'):>9}")

    print("\ncompile phases, s (JAX monitoring sums over the 0-epoch first call: "
          "trace / lower / backend compile incl. cache read; persistent-cache hits):")
    for r in rows:
        parts = []
        for label, c in (("cold", r["compile_cold"]), ("cached", r["compile_cached"])):
            if c:
                ph = c["phases_s"]
                parts.append(f"{label} {c['compile_s']:.2f} = trace {ph.get('trace', 0):.2f} / "
                             f"lower {ph.get('lower', 0):.2f} / backend {ph.get('backend', 0):.2f}"
                             f" (read {ph.get('cache_read', 0):.2f}, hits {c['cache_hits']}, "
                             f"misses {c['cache_misses']})")
        print(f"  {r['config']:<7}P={r['population']:<3} {r['impl']:<18} " + "; ".join(parts))

    # targets (reported, not asserted)
    targets = []

    def target(text, values, ok):
        targets.append({"target": text, "values": values, "met": ok})

    for r in rows:
        if r["config"] != "cifar" or r["ratio"] is None:
            continue
        if r["population"] == 8:
            target(f"cifar P=8 {r['impl']}: batched >= {TARGET_RATIO_P8}x naive",
                   r["ratio"], r["ratio"] >= TARGET_RATIO_P8)
        if r["population"] == 1:
            target(f"cifar P=1 {r['impl']}: batched not slower than naive (ratio >= 1)",
                   r["ratio"], r["ratio"] >= 1.0)
    cifar = [r for r in rows if r["config"] == "cifar"]
    if cifar:
        best = max(cifar, key=lambda r: r["batched_matmul_fraction"])
        target(f"cifar: batched >= {TARGET_MATMUL_FRACTION:.0%} of matmul GFLOP/s "
               f"(best row: P={best['population']} {best['impl']})",
               best["batched_matmul_fraction"],
               best["batched_matmul_fraction"] >= TARGET_MATMUL_FRACTION)
    cached = [r["compile_cached_s"] for r in rows if r["compile_cached_s"] is not None]
    if cached:
        target(f"cached bucket compile < {TARGET_CACHED_COMPILE_S} s (worst bucket)",
               max(cached), max(cached) < TARGET_CACHED_COMPILE_S)
    if targets:
        print("\ntargets (not asserted):")
        for t in targets:
            print(f"  [{'met ' if t['met'] else 'MISS'}] {t['target']}: {t['values']:.2f}")

    elapsed = time.perf_counter() - start
    result = {
        "jax": jax.__version__, "backend": jax.default_backend(), "cpu_count": os.cpu_count(),
        "processor": platform.processor() or platform.machine(),
        "argv": sys.argv[1:], "args": {k: v for k, v in vars(args).items()
                                       if k != "cached_compile"},
        "cache_dir": cache_dir, "load_average": loads, "peak_rss_gb": round(peak_rss_gb(), 2),
        "matmul": {"size": args.matmul_size, "gflops_start": mm_start,
                   "gflops_end": mm_end, "gflops_reference": mm},
        "configs": {name: architecture(name).describe() for name in args.configs},
        "rows": rows, "targets": targets, "elapsed_s": elapsed,
    }
    os.makedirs(os.path.dirname(os.path.abspath(args.out)), exist_ok=True)
    with open(args.out, "w") as f:
        json.dump(result, f, indent=2)
    print(f"\nwrote {args.out} ({elapsed:.0f} s)")


if __name__ == "__main__":
    main()
