"""The population axis split over several (forced host) devices with shard_map."""

import json
import os
import subprocess
import sys
import textwrap

import pytest

SCRIPT = textwrap.dedent("""
    import json, sys
    import jax, numpy as np
    from sklearn.datasets import load_digits
    from vlga_jax.architecture import Architecture, ConvBlock, ConvLayer
    from vlga_jax.trainer import DeviceData, Member, Trainer

    d = load_digits()
    x = (d.images[..., None] / 16.0).astype(np.float32)[:160]
    y = d.target.astype(np.int32)[:160]
    data = DeviceData.create(x[:128], y[:128], x[128:], y[128:], 32)
    arch = Architecture((8, 8, 1), 10, (ConvBlock((ConvLayer(4, 3, True),), "max", True),),
                        optimizer="sgd", learning_rate=0.05)
    members = [Member(arch, jax.random.key(i)) for i in range(3)]
    trainer = Trainer(data, batch_size=32, eval_batch=32)
    out = trainer.train(members, 1)
    print(json.dumps({"devices": jax.device_count(), "sharded": trainer.mesh is not None,
                      "loss": [o.val_loss for o in out],
                      "w": [float(np.sum(o.params["head"]["kernel"])) for o in out]}))
""")


def _run(devices: int) -> dict:
    env = dict(os.environ, XLA_FLAGS=f"--xla_force_host_platform_device_count={devices}",
               JAX_PLATFORMS="cpu")
    proc = subprocess.run([sys.executable, "-c", SCRIPT], env=env, capture_output=True,
                          text=True, timeout=600)
    assert proc.returncode == 0, proc.stderr[-2000:]
    return json.loads(proc.stdout.strip().splitlines()[-1])


@pytest.mark.slow
def test_two_devices_match_one():
    one, two = _run(1), _run(2)
    assert (one["devices"], one["sharded"]) == (1, False)
    assert (two["devices"], two["sharded"]) == (2, True)
    assert two["loss"] == pytest.approx(one["loss"], rel=1e-4, abs=1e-5)
    assert two["w"] == pytest.approx(one["w"], rel=1e-4, abs=1e-5)
