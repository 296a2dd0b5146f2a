"""A bucket of candidates split over several devices (here: 4 forced CPU devices).

The trainer puts the population axis of a bucket on a device mesh (`jax.shard_map`, no
collectives): each device trains its share of the members, and every call's size is a
multiple of the devices. On one machine with several GPUs this happens by itself (a
search takes `--set run.devices=N` to use fewer); here XLA_FLAGS makes the CPU look
like 4 devices, which must be set before jax is imported. Several hosts: see
`vlga_jax.core.distributed`.

    python examples/multi_device.py [--quick] [--devices N]
"""

import argparse
import os
import sys


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--quick", action="store_true", help="fewer images")
    parser.add_argument("--devices", type=int, default=4, help="forced host devices")
    args = parser.parse_args()
    if args.quick:
        print("--quick: tiny settings that only check the code runs; the accuracies it "
              "prints are not meaningful (run without --quick for a real result)")
    if "jax" in sys.modules:
        raise RuntimeError("set XLA_FLAGS before jax is imported")
    os.environ["XLA_FLAGS"] = " ".join([os.environ.get("XLA_FLAGS", ""),
                                        f"--xla_force_host_platform_device_count={args.devices}"])
    os.environ.setdefault("JAX_PLATFORMS", "cpu")

    import jax
    import numpy as np
    from sklearn.datasets import load_digits

    from vlga_jax.core.distributed import describe
    from vlga_jax.networks.architecture import Architecture, ConvBlock, ConvLayer
    from vlga_jax.training.trainer import DeviceData, Member, Trainer

    print(f"{describe()}: {jax.devices()}")
    digits = load_digits()
    x = (digits.images[..., None] / 16.0).astype(np.float32)
    y = digits.target.astype(np.int32)
    n = 256 if args.quick else 1500
    data = DeviceData.create(x[:n], y[:n], x[n:n + 64], y[n:n + 64], 32)
    arch = Architecture((8, 8, 1), 10, (ConvBlock((ConvLayer(8, 3, True),), "max", True),),
                        optimizer="sgd", learning_rate=0.05)
    members = [Member(arch, jax.random.key(i)) for i in range(2 * args.devices)]
    trainer = Trainer(data, batch_size=32, eval_batch=32)  # every device by default
    outcomes = trainer.train(members, 1)
    print(f"mesh: {trainer.mesh}; {len(members)} members, programs compiled "
          f"{trainer.stats.programs_compiled}, calls {trainer.stats.buckets}, member slots "
          f"used {trainer.stats.utilisation:.0%}")
    print("val accuracy per member:", [round(o.val_acc, 3) for o in outcomes])


if __name__ == "__main__":
    main()
