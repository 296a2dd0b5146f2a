"""A tiny search run as its own process, for the several-device and several-process tests.

    python tests/distributed_search.py OUT_JSON [--run-dir DIR] [--devices N]
        [--coordinator HOST:PORT --num-processes N --process-id I] [--die-after-checkpoint]
        [--cache-dir DIR]

Prints nothing; writes the Result's comparable parts to OUT_JSON (fitness of every
candidate, best architecture, a sha256 of the final parameters, accuracies, totals).
``--devices N`` forces N host devices (before jax is imported). With
``--die-after-checkpoint`` process 1 exits abruptly once process 0 has written the
first generation's checkpoint (a crashed process).
"""

from __future__ import annotations

import argparse
import hashlib
import json
import os
import sys
import time


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("out")
    parser.add_argument("--run-dir")
    parser.add_argument("--devices", type=int, default=1)
    parser.add_argument("--coordinator")
    parser.add_argument("--num-processes", type=int)
    parser.add_argument("--process-id", type=int)
    parser.add_argument("--die-after-checkpoint", action="store_true")
    parser.add_argument("--cache-dir", help="JAX's persistent compilation cache")
    args = parser.parse_args()
    os.environ["XLA_FLAGS"] = " ".join([os.environ.get("XLA_FLAGS", ""),
                                        f"--xla_force_host_platform_device_count={args.devices}"])
    os.environ["JAX_PLATFORMS"] = "cpu"

    from vlga_jax.core import distributed

    distributed.initialize(args.coordinator, args.num_processes, args.process_id,
                           heartbeat_timeout=5)
    import jax
    import numpy as np
    from sklearn.datasets import load_digits

    from vlga_jax import Config, evolve
    from vlga_jax.config import GAConfig, RunConfig, SpaceConfig, TrainConfig
    from vlga_jax.data.datasets import Dataset

    digits = load_digits()
    dataset = Dataset.from_arrays(digits.images[:300].astype(np.uint8)[..., None],
                                  digits.target[:300], name="digits-300", val_fraction=0.2,
                                  test_fraction=0.2, seed=0)
    config = Config(space=SpaceConfig(max_blocks=1, channels=(8,), kernels=(3,)),
                    ga=GAConfig(population=4, generations=1, max_phases=1),
                    train=TrainConfig(epochs=1, final_epochs=1, batch_size=32,
                                      eval_batch_size=32, learning_rate=1e-2),
                    run=RunConfig(compile_cache_dir=args.cache_dir, verbose=False))
    callbacks = []
    if args.die_after_checkpoint and jax.process_index() == 1:
        def die(record, candidates):
            first = os.path.join(args.run_dir, "checkpoints", "ckpt_000001")
            for _ in range(600):  # process 0 writes it; wait for it
                if os.path.exists(first):
                    os._exit(1)
                time.sleep(0.05)
            os._exit(1)
        callbacks.append(die)
    result = evolve(jax.random.key(0), config, dataset=dataset, checkpoint_dir=args.run_dir,
                    callbacks=callbacks, progress=False)
    leaves = jax.tree.leaves((result.params, result.batch_stats))
    digest = hashlib.sha256(b"".join(np.asarray(x).tobytes() for x in leaves)).hexdigest()
    totals = result.totals
    with open(args.out, "w") as f:
        json.dump({"fitness": [c.fitness for c in result.candidates],
                   "best": result.description, "params_sha256": digest,
                   "params": [np.asarray(x, np.float64).ravel().tolist() for x in leaves],
                   "val": result.val_accuracy, "test": result.test_accuracy,
                   **{k: totals[k] for k in ("devices", "processes", "device_utilisation",
                                             "member_slots", "candidates")}}, f)


if __name__ == "__main__":
    sys.exit(main())
