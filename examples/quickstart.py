"""Search a small CNN for scikit-learn's digits and use the result in plain JAX code.

    python examples/quickstart.py           # the default search, Config(): about a minute
    python examples/quickstart.py --quick   # only checks the code runs (seconds)
"""

import argparse

import jax
import numpy as np
from sklearn.datasets import load_digits

import vlga_jax


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--quick", action="store_true", help="a tiny search")
    args = parser.parse_args()
    if args.quick:
        print("--quick: tiny settings that only check the code runs; the accuracies it "
              "prints are not meaningful (run without --quick for a real result)")

    config = vlga_jax.Config()  # the default search, what evolve(key) runs
    if args.quick:
        config = config.override(**{"ga.population": 2, "ga.generations": 1,
                                    "ga.max_phases": 1, "train.epochs": 1,
                                    "train.final_epochs": 1, "data.subset": 300})
    result = vlga_jax.evolve(jax.random.key(0), config)
    print(result.summary())

    # Result.predict takes raw images in the dataset's units (0..16 for digits) and
    # returns classes, as an exported model does.
    digits = load_digits()
    classes = result.predict(digits.images[-100:])
    accuracy = float(np.mean(classes == digits.target[-100:]))
    print(f"accuracy on the last 100 digits: {accuracy:.2f}")

    # The trained network in plain JAX: a pure function of (variables, normalised images).
    model = result.as_model()
    logits = jax.jit(model.apply)(model.variables, model.preprocess(digits.images[:5]))
    print("logits", logits.shape, "classes", np.argmax(logits, -1).tolist())


if __name__ == "__main__":
    main()
