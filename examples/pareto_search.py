"""A multi-objective search: validation accuracy against parameter count (NSGA-II).

    python examples/pareto_search.py [--quick]

`ga.objectives` names metrics to maximise ("-" minimises). Every strategy selects on the
candidates' non-dominated rank and crowding; `Result.pareto` is the front found.
"""

import argparse

import jax

import vlga_jax


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--quick", action="store_true", help="a tiny search")
    args = parser.parse_args()
    if args.quick:
        print("--quick: tiny settings that only check the code runs; the accuracies it "
              "prints are not meaningful (run without --quick for a real result)")

    config = vlga_jax.Config().override(**{"ga.objectives": ("val_acc", "-params")})
    if args.quick:
        config = config.override(**{"ga.population": 4, "ga.generations": 2,
                                    "ga.max_phases": 1, "train.epochs": 1,
                                    "train.final_epochs": 1, "data.subset": 200})
    result = vlga_jax.evolve(jax.random.key(0), config)
    print(f"Pareto front ({', '.join(result.objectives)}), {len(result.pareto)} networks:")
    for c in sorted(result.pareto, key=lambda c: c.param_count):
        print(f"  {c.param_count:>8,} parameters  validation accuracy {c.val_accuracy:.4f}")


if __name__ == "__main__":
    main()
