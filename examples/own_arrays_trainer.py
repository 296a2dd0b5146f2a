"""The batched trainer on your own numpy arrays, without a search.

`DeviceData` puts the arrays on the device once; `Trainer.train` trains a list of
`Member`s (an architecture and a key each) together, one compiled program per shape
bucket, and returns one `Outcome` per member (parameters, validation accuracy and loss).

    python examples/own_arrays_trainer.py [--quick]
"""

import argparse

import jax
import numpy as np
from sklearn.datasets import load_digits

from vlga_jax.networks.architecture import Architecture, ConvBlock, ConvLayer
from vlga_jax.training.trainer import DeviceData, Member, Trainer


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--quick", action="store_true", help="fewer images and epochs")
    args = parser.parse_args()
    if args.quick:
        print("--quick: tiny settings that only check the code runs; the accuracies it "
              "prints are not meaningful (run without --quick for a real result)")

    # Your arrays: images f32[N, H, W, C] (normalise them yourself), labels int[N].
    digits = load_digits()
    x = (digits.images[..., None] / 16.0).astype(np.float32)
    y = digits.target.astype(np.int32)
    n = 640 if args.quick else 1500
    eval_batch = 64
    data = DeviceData.create(x[:n], y[:n], x[n:n + 128], y[n:n + 128], eval_batch)

    # Three networks: two widths of one conv block (they share a program by padding)
    # and a two-block network (a program of its own).
    def cnn(*channels):
        return Architecture((8, 8, 1), 10, tuple(
            ConvBlock((ConvLayer(c, 3, True),), "max", True) for c in channels),
            optimizer="adam", learning_rate=1e-2)

    archs = [cnn(8), cnn(16), cnn(8, 16)]
    members = [Member(arch, jax.random.key(i)) for i, arch in enumerate(archs)]
    trainer = Trainer(data, batch_size=32, eval_batch=eval_batch)
    outcomes = trainer.train(members, 3 if args.quick else 10)
    for arch, out in zip(archs, outcomes, strict=True):
        print(f"{arch.param_count:6,d} parameters: val accuracy {out.val_acc:.3f}, "
              f"val loss {out.val_loss:.3f}")
    # Continue training the first one from its outcome.
    more = trainer.train([Member(archs[0], jax.random.key(9), params=outcomes[0].params,
                                 stats=outcomes[0].stats)], 1)[0]
    print(f"one more epoch: val accuracy {more.val_acc:.3f}")
    print(f"programs compiled: {trainer.stats.programs_compiled}")


if __name__ == "__main__":
    main()
