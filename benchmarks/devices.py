"""A bucket of 16 members trained on 4 forced host devices against 1 device.

Each setting runs in its own process (``--xla_force_host_platform_device_count`` must be
set before jax is imported) and times `Trainer.train` on 16 members of one digits CNN
for one epoch, compiled programs excluded (a first call compiles; the median of
``--repeats`` later calls is reported). On 1 device a CPU call trains one member
(`train.members_per_call` default: one per device), so the bucket is 16 calls; on 4
devices each call trains 4 members, one per device, in parallel. Prints seconds per
setting, the speed-up, and CPU seconds per wall second (the cores a setting kept busy:
the forced devices share the host's cores, so 2 cores give at most about 2x, and a
machine loaded by other work leaves less).

    python benchmarks/devices.py [--devices 4] [--members 16] [--repeats 5]
"""

from __future__ import annotations

import argparse
import json
import os
import statistics
import subprocess
import sys
import time


def child(devices: int, members: int, repeats: int) -> dict:
    os.environ["XLA_FLAGS"] = " ".join([os.environ.get("XLA_FLAGS", ""),
                                        f"--xla_force_host_platform_device_count={devices}"])
    os.environ.setdefault("JAX_PLATFORMS", "cpu")
    import jax
    import numpy as np
    from sklearn.datasets import load_digits

    from vlga_jax.networks.architecture import Architecture, ConvBlock, ConvLayer
    from vlga_jax.training.trainer import DeviceData, Member, Trainer

    digits = load_digits()
    x = (digits.images[..., None] / 16.0).astype(np.float32)
    y = digits.target.astype(np.int32)
    data = DeviceData.create(x[:1280], y[:1280], x[1280:1536], y[1280:1536], 128)
    arch = Architecture((8, 8, 1), 10, (ConvBlock((ConvLayer(32, 3, True),
                                                   ConvLayer(32, 3, True)), "max", True),),
                        optimizer="adam", learning_rate=1e-3)
    trainer = Trainer(data, batch_size=64, eval_batch=128, compile_workers=0)
    bucket = [Member(arch, jax.random.key(i)) for i in range(members)]
    trainer.train(bucket, 1)  # compiles
    seconds, cpu = [], []
    for _ in range(repeats):
        start, start_cpu = time.perf_counter(), time.process_time()
        trainer.train(bucket, 1)
        seconds.append(time.perf_counter() - start)
        cpu.append(time.process_time() - start_cpu)
    plan = trainer.assign_programs(bucket, 1)
    return {"devices": len(trainer.devices), "calls": len(plan),
            "members_per_call": plan[0][1], "seconds": statistics.median(seconds),
            "cores_used": statistics.median(c / s for c, s in zip(cpu, seconds, strict=True)),
            "utilisation": trainer.stats.utilisation}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--devices", type=int, default=4)
    parser.add_argument("--members", type=int, default=16)
    parser.add_argument("--repeats", type=int, default=5)
    parser.add_argument("--child", type=int, help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.child is not None:
        print(json.dumps(child(args.child, args.members, args.repeats)))
        return
    rows = []
    for devices in (1, args.devices):
        proc = subprocess.run([sys.executable, __file__, "--child", str(devices),
                               "--members", str(args.members), "--repeats", str(args.repeats)],
                              capture_output=True, text=True, check=True)
        rows.append(json.loads(proc.stdout.strip().splitlines()[-1]))
    for r in rows:
        print(f"{r['devices']} device(s): {r['calls']} calls of {r['members_per_call']} "
              f"members, {r['seconds']:.3f} s per bucket of {args.members} (median of "
              f"{args.repeats}), utilisation {r['utilisation']:.2f}, CPU s / wall s "
              f"{r['cores_used']:.2f}")
    print(f"speed-up {args.devices} devices / 1 device: "
          f"{rows[0]['seconds'] / rows[1]['seconds']:.2f}x on {os.cpu_count()} cores")


if __name__ == "__main__":
    main()
