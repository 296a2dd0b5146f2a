"""Compile economy: programs compiled and seconds per evaluated candidate.

Runs the "report" settings (p=10, 3 generations, one-point crossover, softmax parents,
frozen transfer, 3 epochs, batch 256) with channels {8, 16, 32, 64}, kernels {1, 3, 5}
and 3 phases on digits, and prints candidates evaluated, programs compiled, compile
seconds, padded-FLOP overhead and seconds per evaluated candidate (compile included).
The seed's Keras code spends a median 2.17 s per candidate on these settings.

    python benchmarks/compile_economy.py [--seed 0] [--no-padding] [--cache-dir DIR]
"""

from __future__ import annotations

import argparse
import dataclasses
import json
import os
import tempfile
import time

import jax

from vlga_jax.config import Config
from vlga_jax.evolve import evolve

KERAS_SECONDS_PER_CANDIDATE = 2.17


def report_config(padding: bool, cache_dir: str | None) -> Config:
    c = Config.preset("report")
    return dataclasses.replace(
        c,
        space=dataclasses.replace(c.space, channels=(8, 16, 32, 64), kernels=(1, 3, 5),
                                  max_blocks=3),
        ga=dataclasses.replace(c.ga, max_phases=3),
        train=dataclasses.replace(c.train, final_epochs=0, pad_shapes=padding),
        run=dataclasses.replace(c.run, compile_cache_dir=cache_dir, verbose=False),
    )


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--no-padding", action="store_true",
                        help="one program per exact shape (the baseline)")
    parser.add_argument("--cache-dir", default=None,
                        help="persistent compilation cache (default: a fresh temp dir, cold)")
    parser.add_argument("--out", default="results/compile_economy.json")
    args = parser.parse_args()
    cache_dir = args.cache_dir or tempfile.mkdtemp(prefix="vlga-xla-")
    config = report_config(not args.no_padding, cache_dir)
    start = time.perf_counter()
    result = evolve(jax.random.key(args.seed), config)
    wall = time.perf_counter() - start
    t = result.totals
    per_candidate = wall / max(t["trained"], 1)
    row = {
        "seed": args.seed, "padding": not args.no_padding,
        "candidates": t["candidates"], "trained": t["trained"],
        "cache_hits": t["cache_hits"], "programs_compiled": t["programs_compiled"],
        "program_reuses": t["program_reuses"],
        "compile_seconds": round(t["compile_seconds"], 2),
        "compile_wait_seconds": round(t["compile_wait_seconds"], 2),
        **{f"{k}_seconds": round(v, 2) for k, v in t["compile_phases"].items()},
        "train_seconds": round(t["train_seconds"], 2),
        "padded_flop_overhead": round(t["padded_flop_overhead"], 3),
        "wall_seconds": round(wall, 2),
        "seconds_per_trained_candidate": round(per_candidate, 3),
        "speedup_vs_keras": round(KERAS_SECONDS_PER_CANDIDATE / per_candidate, 2),
        "compile_fraction": round(t["compile_wait_seconds"] / wall, 3),
        "best_val": round(result.search_fitness, 4),
        "backend": jax.default_backend(),
    }
    width = max(len(k) for k in row)
    for key, value in row.items():
        print(f"{key:<{width}}  {value}")
    os.makedirs(os.path.dirname(args.out) or ".", exist_ok=True)
    with open(args.out, "w") as f:
        json.dump(row, f, indent=2)
    print(f"wrote {args.out}")


if __name__ == "__main__":
    main()
