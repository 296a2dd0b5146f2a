"""Successive halving against the same search without it, at EQUAL budgets, over seeds.

Usage: python benchmarks/halving.py [--pairs quick:quick-halving ...] [--seeds 5]
           [--budget 104] [--out benchmarks/results/halving] [--table-only]
       python benchmarks/halving.py --rungs-predict [--preset quick-halving] [--seeds 3]

Each pair is (plain preset, halving preset); both get ``ga.budget_epochs = --budget``
candidate-epochs (a cache hit costs nothing, a candidate stopped at rung k costs the
epochs it trained), and the same seeds. Per run: the search's best validation accuracy
at full fidelity (its fitness), the final training's validation and test accuracy,
candidate-epochs spent, inherited epochs (training already in a VLGA candidate's
transferred blocks, not charged), candidates trained, and wall seconds (compiles
included). Prints mean +- std over seeds per preset and the paired difference
(halving - plain) with the seeds it won; writes ``OUT/halving.json`` after every run.
"""

from __future__ import annotations

import argparse
import json
import os
import sys
import time

import numpy as np

sys.path.insert(0, os.path.join(os.path.dirname(__file__), ".."))

FIELDS = ("search_fitness", "val_accuracy", "test_accuracy")


def run_one(preset: str, seed: int, budget: int) -> dict:
    import jax

    import vlga_jax

    config = vlga_jax.Config.preset(preset).override(**{"ga.budget_epochs": budget,
                                                        "run.verbose": False})
    start = time.perf_counter()
    result = vlga_jax.evolve(jax.random.key(seed), config)
    t = result.totals
    return {"preset": preset, "seed": seed, "budget": budget,
            **{f: float(getattr(result, f)) for f in FIELDS},
            "spent_epochs": t["spent_epochs"], "inherited_epochs": t["inherited_epochs"],
            "trained": t["trained"], "wall_seconds": time.perf_counter() - start,
            "architecture": result.architecture.describe()}


def rungs_predict(preset: str, seed: int) -> dict:
    """How well each rung's validation accuracy predicts the last rung's: the preset's
    first population (every member, none stopped) trained rung by rung, continuing
    parameters and optimizer state as halving does; Spearman correlation of each rung's
    accuracies with the last's, and how many of halving's picks at each rung are among
    the true best (by last-rung accuracy) of the same number."""
    import dataclasses

    import jax

    import vlga_jax
    from vlga_jax.data.datasets import load_dataset
    from vlga_jax.genetics import genome
    from vlga_jax.search import halving
    from vlga_jax.search.context import Search

    config = vlga_jax.Config.preset(preset).override(**{"run.verbose": False})
    search = Search.create(jax.random.key(seed), config, load_dataset("digits"))
    state = search.strategy.init(search.keys.strategy)
    population, _ = search.strategy.ask(jax.random.key(0), state, None)
    archs = [search.build(genome.decode(g, search.space)) for g in genome.unstack(population)]
    members, _, _ = search.schedule.initial_members(
        archs, [search.schedule.key(i) for i in range(len(archs))], None, 0)
    rungs, eta = config.train.rungs(), config.train.halving_eta
    accs, done, outs = [], 0, None
    for k, rung in enumerate(rungs):
        batch = members if k == 0 else [dataclasses.replace(
            m, key=jax.random.fold_in(m.key, k), params=o.params, stats=o.stats,
            opt_state=o.opt_state, program=o.program)
            for m, o in zip(members, outs, strict=True)]
        outs = search.trainer.train(batch, rung - done, keep_opt_state=True)
        accs.append(np.array([o.val_acc for o in outs]))
        done = rung
    last = accs[-1]

    def spearman(a, b):
        ra, rb = np.argsort(np.argsort(a)), np.argsort(np.argsort(b))
        return float(np.corrcoef(ra, rb)[0, 1])

    out = {"preset": preset, "seed": seed, "rungs": list(rungs), "n": len(members),
           "accuracies": [a.tolist() for a in accs]}
    n = len(members)
    for k, acc in enumerate(accs[:-1]):
        n = halving.continuing(n, eta)
        picked = set(np.argsort(-acc, kind="stable")[:n])
        best = set(np.argsort(-last, kind="stable")[:n])
        out[f"rung_{rungs[k]}"] = {"spearman_with_last": spearman(acc, last),
                                   "picked_in_true_best": f"{len(picked & best)}/{n}"}
    return out


def _ms(values) -> str:
    v = np.asarray(values, np.float64)
    return f"{v.mean():.4f} +- {v.std(ddof=1) if v.size > 1 else 0.0:.4f}"


def table(runs: list[dict], pairs: list[tuple[str, str]]) -> str:
    lines = []
    for plain, halved in pairs:
        by = {p: {r["seed"]: r for r in runs if r["preset"] == p} for p in (plain, halved)}
        seeds = sorted(set(by[plain]) & set(by[halved]))
        if not seeds:
            continue
        lines.append(f"{plain} vs {halved}: seeds {seeds}, budget "
                     f"{by[plain][seeds[0]]['budget']} candidate-epochs (mean +- std)")
        lines.append(f"  {'preset':15s} {'best val':>17s} {'final val':>17s} "
                     f"{'test':>17s} {'spent':>6s} {'inherit':>7s} {'trained':>7s} "
                     f"{'wall s':>7s}")
        for p in (plain, halved):
            rs = [by[p][s] for s in seeds]
            lines.append(
                f"  {p:15s} " + " ".join(f"{_ms([r[f] for r in rs]):>17s}" for f in FIELDS)
                + f" {np.mean([r['spent_epochs'] for r in rs]):6.1f}"
                f" {np.mean([r['inherited_epochs'] for r in rs]):7.1f}"
                f" {np.mean([r['trained'] for r in rs]):7.1f}"
                f" {np.mean([r['wall_seconds'] for r in rs]):7.1f}")
        diffs = {f: [by[halved][s][f] - by[plain][s][f] for s in seeds] for f in FIELDS}
        lines.append(f"  {'difference':15s} " + " ".join(
            f"{_ms(diffs[f]):>17s}" for f in FIELDS))
        lines.append(f"  {'seeds won':15s} " + " ".join(
            f"{sum(d > 0 for d in diffs[f]):>9d}/{len(seeds)} ({sum(d == 0 for d in diffs[f])}"
            f" tied)" for f in FIELDS))
    return "\n".join(lines)


def main(argv=None) -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--pairs", nargs="+", default=["quick:quick-halving"])
    ap.add_argument("--seeds", type=int, default=5)
    ap.add_argument("--budget", type=int, default=104)
    ap.add_argument("--out", default="benchmarks/results/halving")
    ap.add_argument("--table-only", action="store_true")
    ap.add_argument("--rungs-predict", action="store_true")
    ap.add_argument("--preset", default="quick-halving")
    args = ap.parse_args(argv)
    if args.rungs_predict:
        found = [rungs_predict(args.preset, seed) for seed in range(args.seeds)]
        for f in found:
            print(json.dumps({k: v for k, v in f.items() if k != "accuracies"}))
        os.makedirs(args.out, exist_ok=True)
        with open(os.path.join(args.out, "rungs_predict.json"), "w") as fh:
            json.dump(found, fh, indent=1)
        return
    pairs = [tuple(p.split(":")) for p in args.pairs]
    path = os.path.join(args.out, "halving.json")
    runs = json.load(open(path))["runs"] if os.path.exists(path) else []
    if not args.table_only:
        os.makedirs(args.out, exist_ok=True)
        done = {(r["preset"], r["seed"], r["budget"]) for r in runs}
        for seed in range(args.seeds):
            for pair in pairs:
                for preset in pair:
                    if (preset, seed, args.budget) in done:
                        continue
                    runs.append(run_one(preset, seed, args.budget))
                    r = runs[-1]
                    print(f"{preset} seed {seed}: best val {r['search_fitness']:.4f} test "
                          f"{r['test_accuracy']:.4f} spent {r['spent_epochs']} "
                          f"{r['wall_seconds']:.0f}s", flush=True)
                    with open(path, "w") as f:
                        json.dump({"runs": runs}, f, indent=1)
    print(table([r for r in runs if r["budget"] == args.budget], pairs))


if __name__ == "__main__":
    main()
