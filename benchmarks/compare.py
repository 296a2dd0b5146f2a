"""The seed systems' comparisons on one dataset, over seeds: one command each.

Usage: python benchmarks/compare.py COMPARISON [--seeds 5] [--budget B] [--epochs E]
           [--match-steps [STEPS]] [--presets P ...] [--final-epochs F] [--dataset digits]
           [--data-dir DIR] [--subset N] [--set KEY=VALUE ...] [--out DIR] [--table-only]
       python benchmarks/compare.py custom --presets vlga random ... [options]

COMPARISON is one of (defaults in COMPARISONS; the options override them):

  table2      random search vs classical GA vs VLGA (Xiao et al.'s Table 2 rows) vs the
              modified VLGA (whose write-up compares the same three in its own table), on
              an equal budget of candidate-epochs, every preset at 3 epochs
  grid        the MLP GA (its preset's 20 x 10 generations) vs the exhaustive grid of all
              672 mlp-ga networks (Harvey's brute force): best accuracy and wall time
  tournament  tournament evolution vs a random population every generation (the
              design-by-evolution comparison), on an equal budget
  halving     the default VLGA search (quick) vs the same with successive halving in
              every generation (quick-halving), on an equal budget, presets unscaled

With a budget, every run gets ``ga.budget_epochs = --budget`` candidate-epochs (each
trained candidate costs its ``train.epochs``; a cache hit costs nothing; the last
generation is cut short so every run spends the same budget), and population sizes are
scaled to it (``scaled_overrides``): with N = budget / epochs candidates, a GA's population
is min(preset, max(4, N // 5)) so several generations fit, and its generation count is
lifted so the budget, not the generation count, ends it; VLGA keeps 2 phases with
population min(20, max(4, N // 3)) and gets one generation per phase more than an even
split of N needs (`vlga_generations`), so the budget ends it early in its last phase and
it spends the whole budget like the others. The halving comparison keeps both presets'
populations and epochs (halving trains twice the population at lower fidelity). The CNN
spaces (vlga, modified-vlga, random, classical-ga) are restricted alike (channels 8/16/32,
kernels 1/3, 2 blocks) so they search the same networks. Without a budget (the grid comparison) each
preset runs as defined, at --epochs.

``--match-steps [STEPS]`` gives every candidate the source protocol's number of optimizer
steps instead of a few epochs: Xiao et al. train each candidate 5 epochs of CIFAR-10's
50,000 training images at batch 128, 5 x 390 = 1,950 steps (`SOURCE_STEPS`); on digits
(1,294 training images, 10 steps per epoch at batch 128) that is 195 epochs. The epochs per
candidate become ceil(STEPS / steps per epoch) and the budget keeps its number of candidates
(budget // epochs of the comparison, times the new epochs), so only the training length
changes. ``--presets`` picks a subset of a comparison's presets.

Per run: best validation accuracy of the search (the fitness), test accuracy of the
best network after final training (``--final-epochs``, early stopping on validation),
wall seconds (search + final training, compiles included), candidates trained, and the
best-so-far validation accuracy after every candidate (against candidate-epochs spent).
Prints mean +- standard deviation over seeds; for the grid, per seed, the candidate-epochs
and seconds after which it first reached the GA's best.

Writes ``OUT/compare.json`` after every run (so a cut-short run keeps what finished;
``--table-only`` reprints the table from it) and ``OUT/compare.png`` (best-so-far
accuracy against budget, mean over seeds).
"""

from __future__ import annotations

import argparse
import json
import math
import os
import sys
import time
import warnings

import numpy as np

PRESETS = ("random", "classical-ga", "vlga", "modified-vlga", "mlp-ga", "grid", "tournament",
           "random-population", "binary-cnn", "quick", "quick-halving")
# Each comparison's presets and defaults (sized for about 20 minutes on 2 CPU cores).
COMPARISONS = {
    "table2": {"presets": ("random", "classical-ga", "vlga", "modified-vlga"),
               "budget": 90, "epochs": 3, "final_epochs": 10},
    "grid": {"presets": ("mlp-ga", "grid"), "budget": None, "epochs": 1,
             "final_epochs": 10},
    "tournament": {"presets": ("tournament", "random-population"), "budget": 120,
                   "epochs": 2, "final_epochs": 10},
    "halving": {"presets": ("quick", "quick-halving"), "budget": 104, "epochs": None,
                "final_epochs": None},
}
UNSCALED = ("quick", "quick-halving")
# Xiao et al.'s fitness training: 5 epochs of CIFAR-10's 50,000 images at batch 128.
SOURCE_STEPS = 5 * (50_000 // 128)  # run as defined but for the budget
CNN_SPACE = {"space.channels": (8, 16, 32), "space.kernels": (1, 3), "space.max_blocks": 2}


def preset_name(name: str) -> str:
    return "paper" if name == "vlga" else name


def vlga_generations(n: int, population: int, phases: int) -> int:
    """Generations per phase for a VLGA to plan more than ``n`` candidates, so a budget of
    ``n`` candidates ends it (early in its last phase) rather than its generation count.
    The first generation trains ``population`` candidates, each later one about half as
    many (the survivors' children, at survival rate 0.5); one generation of slack covers
    cache hits, which cost nothing."""
    per_phase = n / phases
    return 2 + max(0, math.ceil((per_phase - population) / max(1, population // 2)))


def scaled_overrides(name: str, budget: int | None, epochs: int | None,
                     final_epochs: int | None) -> dict:
    """Config overrides that put preset ``name`` on the common budget (see module doc);
    without a budget only the epochs and (for the GAs) more programs kept in memory.
    ``epochs``/``final_epochs`` None keep the preset's."""
    from vlga_jax import Config

    base = Config.preset(preset_name(name))
    if name in UNSCALED:
        out = {} if final_epochs is None else {"train.final_epochs": final_epochs}
        if budget is not None:
            out["ga.budget_epochs"] = budget
        return out
    epochs = base.train.epochs if epochs is None else epochs
    out = {"train.epochs": epochs, "train.patience": 3}
    if final_epochs is not None:
        out["train.final_epochs"] = final_epochs
    if budget is None:
        out["run.max_programs"] = 64  # a GA revisits its programs in any order
        return out
    n = budget // epochs
    out["ga.budget_epochs"] = budget
    if name in ("vlga", "modified-vlga", "random", "classical-ga"):
        out.update(CNN_SPACE)
    if name in ("vlga", "modified-vlga"):
        pop = min(20, max(4, n // 3))
        out.update({"ga.population": pop, "ga.generations": vlga_generations(n, pop, 2),
                    "ga.max_phases": 2})
    elif name in ("random", "grid"):
        out.update({"ga.population": 10, "ga.generations": 10_000})
    else:
        pop = min(base.ga.population, max(4, n // 5))
        out.update({"ga.population": pop, "ga.generations": 10_000})
        if base.ga.strategy == "tournament":
            out["ga.elites"] = min(base.ga.elites, pop - 1)
        if base.ga.mutation_mode == "bitflip":
            out["ga.mutation_rate"] = 1.0 / pop  # the preset's rule: 1 / population
    return out


def matched_epochs(steps: int, n_train: int, batch_size: int) -> int:
    """Epochs that give a candidate at least ``steps`` optimizer steps on ``n_train``
    training images at ``batch_size`` (a step per full batch, as the trainer runs)."""
    per_epoch = max(1, n_train // min(batch_size, n_train))
    return -(-steps // per_epoch)


def match_steps(args) -> None:
    """Rewrite ``args.epochs`` and ``args.budget`` for ``--match-steps`` (module doc)."""
    from vlga_jax import Config

    batch = {Config.preset(preset_name(n)).override(**common_overrides(args)).train.batch_size
             for n in args.presets}
    if len(batch) != 1:
        raise SystemExit(f"--match-steps needs one batch size across presets, got {batch}")
    n_train = dataset_for(Config.preset(preset_name(args.presets[0])).override(
        **common_overrides(args)).data).train_x.shape[0]
    epochs = matched_epochs(args.match_steps, n_train, batch.pop())
    if args.budget is not None:
        args.budget = args.budget // args.epochs * epochs
    print(f"--match-steps {args.match_steps}: {n_train} training images, {epochs} epochs "
          f"per candidate, budget {args.budget} candidate-epochs", flush=True)
    args.epochs = epochs


def best_so_far(candidates) -> list[tuple[int, float]]:
    """[(candidate-epochs spent, best validation accuracy so far)] after each training."""
    spent, best, curve = 0, -np.inf, []
    for c in candidates:
        if c.cache_hit:
            continue
        spent += c.epochs
        if not c.failed and np.isfinite(c.fitness):
            best = max(best, c.fitness)
        curve.append((spent, float(best)))
    return curve


def seconds_so_far(generations) -> list[tuple[float, float]]:
    """[(search seconds spent, best validation accuracy so far)] after each generation."""
    spent, best, curve = 0.0, -np.inf, []
    for g in generations:
        spent += g.seconds
        if np.isfinite(g.best):
            best = max(best, g.best)
        curve.append((spent, float(best)))
    return curve


_DATASETS: dict = {}  # DataConfig -> Dataset: loaded once per data configuration


def dataset_for(data):
    """The dataset of a `DataConfig` (``data.*`` settings, --set ones included)."""
    from vlga_jax import load_dataset

    if data not in _DATASETS:
        _DATASETS[data] = load_dataset(data.name, data_dir=data.data_dir,
                                       val_fraction=data.val_fraction, seed=data.seed,
                                       subset=data.subset, resize=data.resize,
                                       scaling=data.scaling)
    return _DATASETS[data]


def common_overrides(args) -> dict:
    """The overrides every run of a comparison shares: dataset and ``--set`` ones."""
    from vlga_jax.cli.arguments import parse_value

    out = {"data.name": args.dataset}
    if args.data_dir is not None:
        out["data.data_dir"] = args.data_dir
    if args.subset is not None:
        out["data.subset"] = args.subset
    for item in args.set or ():
        key, _, value = item.partition("=")
        out[key.strip()] = parse_value(value.strip())
    return out


def run_one(name: str, seed: int, args) -> dict:
    import jax

    from vlga_jax import Config, evolve

    overrides = scaled_overrides(name, args.budget, args.epochs, args.final_epochs)
    overrides.update(common_overrides(args))
    config = Config.preset(preset_name(name)).override(**overrides)
    dataset = dataset_for(config.data)
    start = time.perf_counter()
    result = evolve(jax.random.key(seed), config, dataset=dataset)
    wall = time.perf_counter() - start
    return {"preset": name, "seed": seed, "best_val": result.search_fitness,
            "final_val": result.val_accuracy, "test": result.test_accuracy,
            "wall_seconds": wall, "trained": result.totals["trained"],
            "cache_hits": result.totals["cache_hits"],
            "spent_epochs": result.totals["spent_epochs"],
            "programs_compiled": result.totals["programs_compiled"],
            "compile_seconds": result.totals["compile_seconds"],
            "stop_reason": result.stop_reason, "best": result.architecture.describe(),
            "search_seconds": sum(g.seconds for g in result.generations),
            "curve": best_so_far(result.candidates),
            "seconds_curve": seconds_so_far(result.generations), "overrides": {
                k: list(v) if isinstance(v, tuple) else v for k, v in overrides.items()}}


def _ms(values) -> str:
    v = np.asarray(values, float)
    return f"{v.mean():.4f} +- {v.std(ddof=1) if v.size > 1 else 0.0:.4f}"


def time_to_reach(curve, target: float) -> int | None:
    for spent, best in curve:
        if best >= target:
            return spent
    return None


# Pairs whose order a source claims: (better by the source, worse by the source).
PAIRS = (("vlga", "classical-ga"), ("classical-ga", "random"), ("vlga", "random"),
         ("modified-vlga", "vlga"), ("tournament", "random-population"),
         ("quick-halving", "quick"))


def paired_lines(runs: list[dict]) -> list[str]:
    """Per pair of presets run on the same seeds: the per-seed difference A - B of best
    validation and of test accuracy, mean +- std, and on how many seeds A came out ahead."""
    lines = []
    for a, b in PAIRS:
        ra = {r["seed"]: r for r in runs if r["preset"] == a}
        rb = {r["seed"]: r for r in runs if r["preset"] == b}
        seeds = sorted(set(ra) & set(rb))
        if not seeds:
            continue
        parts = []
        for field, label in (("best_val", "best val"), ("test", "test")):
            d = np.array([ra[s][field] - rb[s][field] for s in seeds])
            parts.append(f"{label} {_ms(d)} ({a} ahead on {int((d > 0).sum())} of "
                         f"{len(seeds)}, tied on {int((d == 0).sum())})")
        lines.append(f"paired {a} - {b} over seeds {seeds}: " + "; ".join(parts))
    return lines


def table(runs: list[dict], budget: int | None) -> str:
    names = [n for n in PRESETS if any(r["preset"] == n for r in runs)]
    names += sorted({r["preset"] for r in runs} - set(names))
    head = (f"budget {budget} candidate-epochs per run" if budget is not None
            else "each preset as defined (no budget)")
    lines = [f"{head}; mean +- std over seeds",
             f"{'preset':18s} {'seeds':>5s} {'best val acc':>17s} {'test acc (final)':>17s} "
             f"{'wall s':>15s} {'trained':>13s} {'epochs spent':>12s}"]
    for n in names:
        rs = [r for r in runs if r["preset"] == n]
        wall = np.array([r["wall_seconds"] for r in rs])
        trained = np.array([r["trained"] for r in rs], float)
        lines.append(
            f"{n:18s} {len(rs):5d} {_ms([r['best_val'] for r in rs]):>17s} "
            f"{_ms([r['test'] for r in rs]):>17s} "
            f"{wall.mean():7.1f} +- {wall.std(ddof=1) if wall.size > 1 else 0:5.1f} "
            f"{trained.mean():6.1f} +- {trained.std(ddof=1) if trained.size > 1 else 0:4.1f} "
            f"{np.mean([r['spent_epochs'] for r in rs]):12.1f}")
    lines += paired_lines(runs)
    grid = {r["seed"]: r for r in runs if r["preset"] == "grid"}
    ga = {r["seed"]: r for r in runs if r["preset"] == "mlp-ga"}
    for seed in sorted(set(grid) & set(ga)):
        target = ga[seed]["best_val"]
        reached = time_to_reach(grid[seed]["curve"], target)
        spent = grid[seed]["spent_epochs"]
        when = (f"reached it after {reached} candidate-epochs, "
                f"{time_to_reach(grid[seed]['seconds_curve'], target):.0f} s"
                if reached is not None else f"did not reach it in {spent} candidate-epochs")
        lines.append(f"seed {seed}: mlp-ga's best {target:.4f} came after "
                     f"{time_to_reach(ga[seed]['curve'], target)} candidate-epochs, "
                     f"{time_to_reach(ga[seed]['seconds_curve'], target):.0f} s "
                     f"(its search: {ga[seed]['spent_epochs']} candidate-epochs, "
                     f"{ga[seed]['search_seconds']:.0f} s); grid {when} "
                     f"(its best {grid[seed]['best_val']:.4f})")
    return "\n".join(lines)


def plot(runs: list[dict], budget: int | None, path: str) -> None:
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    fig, ax = plt.subplots(figsize=(7, 4.5))
    if budget is None:
        budget = max(r["spent_epochs"] for r in runs)
    grid = np.arange(1, budget + 1)
    for n in PRESETS:
        rs = [r for r in runs if r["preset"] == n]
        if not rs:
            continue
        curves = []
        for r in rs:
            spent = np.array([s for s, _ in r["curve"]])
            best = np.array([b for _, b in r["curve"]])
            idx = np.searchsorted(spent, grid, side="right") - 1
            curves.append(np.where(idx >= 0, best[np.maximum(idx, 0)], np.nan))
        with np.errstate(all="ignore"), warnings.catch_warnings():
            warnings.simplefilter("ignore", RuntimeWarning)  # nothing trained yet: NaN
            mean = np.nanmean(np.array(curves), axis=0)
        ax.step(grid, mean, where="post",
                label=f"{n} ({len(rs)} seeds)")
    ax.set_xlabel("budget spent (candidate-epochs)")
    ax.set_ylabel("best validation accuracy so far")
    ax.set_title("best-so-far accuracy against budget (mean over seeds)")
    ax.grid(alpha=0.3)
    ax.legend(fontsize=8)
    fig.tight_layout()
    fig.savefig(path, dpi=120)


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("comparison", choices=(*COMPARISONS, "custom"),
                        help="which comparison (custom: --presets and the options)")
    parser.add_argument("--presets", nargs="+", choices=PRESETS,
                        help="presets to run (default: the comparison's; a comparison "
                             "takes a subset of its own)")
    parser.add_argument("--seeds", type=int, default=5, help="how many seeds")
    parser.add_argument("--first-seed", type=int, default=0,
                        help="run seeds FIRST_SEED .. FIRST_SEED + SEEDS - 1")
    parser.add_argument("--merge", nargs="+", metavar="DIR", default=(),
                        help="with --table-only: also the runs of DIR/compare.json (runs "
                             "of the same comparison split over processes)")
    parser.add_argument("--budget", type=int,
                        help="candidate-epochs per run (default: the comparison's; custom: 60)")
    parser.add_argument("--no-budget", action="store_true",
                        help="run each preset as defined (custom)")
    parser.add_argument("--epochs", type=int, help="training epochs per candidate")
    parser.add_argument("--match-steps", type=int, nargs="?", const=SOURCE_STEPS,
                        metavar="STEPS", help="give each candidate STEPS optimizer steps "
                        f"(default {SOURCE_STEPS}, the source protocol's); see above")
    parser.add_argument("--final-epochs", type=int)
    parser.add_argument("--dataset", default="digits")
    parser.add_argument("--data-dir")
    parser.add_argument("--subset", type=int)
    parser.add_argument("--set", action="append", metavar="KEY=VALUE",
                        help="extra override for every run, e.g. --set train.batch_size=64")
    parser.add_argument("--out", help="default: benchmarks/results/compare_COMPARISON")
    parser.add_argument("--table-only", action="store_true",
                        help="reprint the table and plot from OUT/compare.json")
    args = parser.parse_args(argv)
    defaults = COMPARISONS.get(args.comparison, {"presets": PRESETS, "budget": 60,
                                                 "epochs": 2, "final_epochs": 10})
    if args.presets is not None and args.comparison != "custom":
        outside = sorted(set(args.presets) - set(defaults["presets"]))
        if outside:
            parser.error(f"--presets: {', '.join(outside)} not in the {args.comparison} "
                         f"comparison ({', '.join(defaults['presets'])}); use custom")
    args.presets = args.presets or list(defaults["presets"])
    if args.budget is None:
        args.budget = None if args.no_budget else defaults["budget"]
    args.epochs = args.epochs or defaults["epochs"]
    args.final_epochs = (defaults["final_epochs"] if args.final_epochs is None
                         else args.final_epochs)
    args.out = args.out or (f"benchmarks/results/compare_{args.comparison}"
                            + ("_match_steps" if args.match_steps else ""))
    if args.match_steps is not None and not args.table_only:
        if args.match_steps < 1 or args.epochs is None:
            parser.error("--match-steps needs a positive step count and scaled epochs")
        match_steps(args)
    if args.budget is not None and args.budget < (args.epochs or 1):
        parser.error("--budget must be at least --epochs")
    os.makedirs(args.out, exist_ok=True)
    path = os.path.join(args.out, "compare.json")
    if args.table_only:
        with open(path) as f:
            saved = json.load(f)
        for other in args.merge:
            with open(os.path.join(other, "compare.json")) as f:
                extra = json.load(f)
            if extra["budget"] != saved["budget"] or extra["epochs"] != saved["epochs"]:
                raise SystemExit(f"--merge {other}: another budget or epochs per candidate")
            saved["runs"] += extra["runs"]
        print(table(saved["runs"], saved["budget"]))
        plot(saved["runs"], saved["budget"], os.path.join(args.out, "compare.png"))
        return 0

    runs = []
    seeds = range(args.first_seed, args.first_seed + args.seeds)
    meta = {"dataset": args.dataset, "budget": args.budget, "epochs": args.epochs,
            "final_epochs": args.final_epochs, "seeds": list(seeds),
            "presets": args.presets, "comparison": args.comparison,
            "match_steps": args.match_steps,
            "command": " ".join(sys.argv)}
    for seed in seeds:  # seeds outermost: a cut-short run keeps whole seeds
        for name in args.presets:
            r = run_one(name, seed, args)
            runs.append(r)
            print(f"{name:18s} seed {seed}: best val {r['best_val']:.4f} test {r['test']:.4f} "
                  f"wall {r['wall_seconds']:.1f}s trained {r['trained']} "
                  f"({r['spent_epochs']} epochs, {r['programs_compiled']} programs)",
                  flush=True)
            with open(path + ".tmp", "w") as f:
                json.dump({**meta, "runs": runs}, f, indent=1)
            os.replace(path + ".tmp", path)
    print(table(runs, args.budget))
    plot(runs, args.budget, os.path.join(args.out, "compare.png"))
    print(f"wrote {path} and {os.path.join(args.out, 'compare.png')}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
