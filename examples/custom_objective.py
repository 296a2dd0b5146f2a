"""A search for your own fitness: accuracy, penalised by parameter count.

    python examples/custom_objective.py [--quick]

The objective is a function of a trained candidate's metrics (`vlga_jax.training.objectives`:
val_acc, val_loss, train_loss, params, flops, ...) returning a float to maximise.
"""

import argparse

import jax

import vlga_jax


def small_and_accurate(metrics: dict) -> float:
    """Validation accuracy minus 0.01 per 10,000 parameters."""
    return metrics["val_acc"] - 0.01 * metrics["params"] / 10_000


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--quick", action="store_true", help="a tiny search")
    args = parser.parse_args()
    if args.quick:
        print("--quick: tiny settings that only check the code runs; the accuracies it "
              "prints are not meaningful (run without --quick for a real result)")

    config = vlga_jax.Config()
    if args.quick:
        config = config.override(**{"ga.population": 2, "ga.generations": 1,
                                    "ga.max_phases": 1, "train.epochs": 1,
                                    "train.final_epochs": 1, "data.subset": 200})
    result = vlga_jax.evolve(jax.random.key(0), config, objective=small_and_accurate)
    print(result.summary())
    print(f"best: {result.param_count:,} parameters, search fitness "
          f"{result.search_fitness:.4f}, test accuracy {result.test_accuracy:.4f}")


if __name__ == "__main__":
    main()
