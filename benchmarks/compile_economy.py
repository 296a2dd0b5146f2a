"""Whole-search speed: seconds per trained candidate, compile on the critical path.

Runs the "report" settings (p=10, 3 generations, one-point crossover, softmax parents,
frozen transfer, 3 epochs, batch 256) with channels {8, 16, 32, 64}, kernels {1, 3, 5}
and 3 phases on digits, twice in this process, with no persistent compilation cache
(every compile cold) unless ``--cache-dir DIR`` is given (``--clear`` empties it first):

* the engine of ``--step-mode`` (default auto): the default engine (on CPUs one member
  per program call, compiles in background threads, the fixed cost model);
* ``baseline``: the previous engine's settings, run after it (so any warm-up helps the
  baseline): buckets of up to 16 members padded to powers of two, compiles inline
  before the bucket that needs them, the timing-driven ``measured`` cost model.

For each it prints candidates trained, programs compiled, compile seconds (trace, lower,
backend; and the part training waited for), training seconds and FLOPs (real and
padded), wall seconds and seconds per trained candidate; then the ratio. The seed's
Keras code, measured separately on a quiet 2-core machine on these settings, spends
1.90 s per evaluated candidate (``KERAS_SECONDS_PER_CANDIDATE``; it cannot run here).

    python benchmarks/compile_economy.py [--seed 0] [--no-baseline] [--out FILE]
        [--step-mode auto|fused|chain] [--cache-dir DIR [--clear]]

A second search sharing the layer programs of a first (chained training):

    python benchmarks/compile_economy.py --no-baseline --step-mode chain \
        --cache-dir /tmp/vlga-programs --clear
    python benchmarks/compile_economy.py --no-baseline --step-mode chain \
        --cache-dir /tmp/vlga-programs --seed 1
"""

from __future__ import annotations

import argparse
import dataclasses
import json
import os
import shutil
import time

import jax

from vlga_jax.config import Config
from vlga_jax.core.names import STEP_MODES
from vlga_jax.search.evolve import evolve

KERAS_SECONDS_PER_CANDIDATE = 1.90
BASELINE = {"members_per_call": 16, "cost_model": "measured", "compile_workers": 0}


def report_config(*, baseline: bool = False, step_mode: str = "auto",
                  cache_dir: str | None = None) -> Config:
    c = Config.preset("report")
    train = dataclasses.replace(c.train, final_epochs=0, step_mode=step_mode)
    run = dataclasses.replace(c.run, compile_cache_dir=cache_dir, verbose=False)
    if baseline:
        train = dataclasses.replace(train, members_per_call=BASELINE["members_per_call"],
                                    cost_model=BASELINE["cost_model"])
        run = dataclasses.replace(run, compile_workers=BASELINE["compile_workers"])
    return dataclasses.replace(
        c,
        space=dataclasses.replace(c.space, channels=(8, 16, 32, 64), kernels=(1, 3, 5),
                                  max_blocks=3),
        ga=dataclasses.replace(c.ga, max_phases=3),
        train=train, run=run)


def measure(seed: int, baseline: bool, step_mode: str = "auto",
            cache_dir: str | None = None) -> dict:
    start = time.perf_counter()
    result = evolve(jax.random.key(seed), report_config(
        baseline=baseline, step_mode=step_mode, cache_dir=cache_dir))
    wall = time.perf_counter() - start
    t = result.totals
    return {
        "engine": "baseline" if baseline else step_mode,
        "trained": t["trained"], "cache_hits": t["cache_hits"],
        "programs_compiled": t["programs_compiled"], "program_reuses": t["program_reuses"],
        "compile_seconds": round(t["compile_seconds"], 2),
        **{f"{k}_seconds": round(v, 2) for k, v in t["compile_phases"].items()},
        "store_load_seconds": round(sum(p.get("load", 0.0) for p in t["programs"]), 2),
        "programs_from_store": sum(p.get("source") == "store" for p in t["programs"]),
        "compile_wait_seconds": round(t["compile_wait_seconds"], 2),
        "train_seconds": round(t["train_seconds"], 2),
        "train_gflop": round(t["train_flops"] / 1e9, 1),
        "padded_flop_overhead": round(t["padded_flop_overhead"], 3),
        "wall_seconds": round(wall, 2),
        "seconds_per_trained_candidate": round(wall / max(t["trained"], 1), 3),
        "compile_wait_fraction": round(t["compile_wait_seconds"] / wall, 3),
        "best_val": round(result.search_fitness, 4),
    }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--no-baseline", action="store_true",
                        help="run only the current engine")
    parser.add_argument("--out", default="results/compile_economy.json")
    parser.add_argument("--step-mode", default="auto", choices=STEP_MODES,
                        help="train.step_mode of the current engine")
    parser.add_argument("--cache-dir", default=None,
                        help="run.compile_cache_dir (JAX's cache and DIR/programs); "
                             "default: none, every compile cold")
    parser.add_argument("--clear", action="store_true",
                        help="empty --cache-dir first (a cold run that fills it)")
    args = parser.parse_args()
    if args.clear and args.cache_dir:
        shutil.rmtree(args.cache_dir, ignore_errors=True)
    rows = [measure(args.seed, False, args.step_mode, args.cache_dir)]
    if not args.no_baseline:
        rows.append(measure(args.seed, baseline=True))
    width = max(len(k) for k in rows[0])
    print(f"{'':<{width}}  " + "  ".join(f"{r['engine']:>10}" for r in rows))
    for key in rows[0]:
        if key != "engine":
            print(f"{key:<{width}}  " + "  ".join(f"{r[key]:>10}" for r in rows))
    current = rows[0]["seconds_per_trained_candidate"]
    if len(rows) > 1:
        print(f"current vs baseline (same process): "
              f"{rows[1]['seconds_per_trained_candidate'] / current:.2f}x faster per candidate")
    print(f"current vs the seed's Keras code ({KERAS_SECONDS_PER_CANDIDATE} s/candidate, "
          f"measured separately): {KERAS_SECONDS_PER_CANDIDATE / current:.2f}x")
    summary = {"seed": args.seed, "cache_dir": args.cache_dir, "step_mode": args.step_mode,
               "backend": jax.default_backend(),
               "device": str(jax.devices()[0].device_kind), "rows": rows,
               "keras_seconds_per_candidate": KERAS_SECONDS_PER_CANDIDATE}
    os.makedirs(os.path.dirname(args.out) or ".", exist_ok=True)
    with open(args.out, "w") as f:
        json.dump(summary, f, indent=2)
    print(f"wrote {args.out}")


if __name__ == "__main__":
    main()
