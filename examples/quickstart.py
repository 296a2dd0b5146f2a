"""Search a small CNN for scikit-learn's digits and use the result in plain JAX code.

    python examples/quickstart.py
"""

import dataclasses

import jax
import numpy as np

import vlga_jax


def main() -> None:
    config = vlga_jax.Config.preset("quick")
    config = dataclasses.replace(config, ga=dataclasses.replace(config.ga, population=6))
    result = vlga_jax.evolve(jax.random.key(0), config,
                             callbacks=[lambda gen, _: print(gen)])
    print(result.summary())

    digits = vlga_jax.load_dataset("digits")  # same seeded splits as the search
    logits = result.predict(digits.test_x)
    accuracy = float(np.mean(np.argmax(logits, -1) == digits.test_y))
    print(f"test accuracy recomputed from the returned parameters: {accuracy:.4f}")


if __name__ == "__main__":
    main()
