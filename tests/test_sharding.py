"""A search's buckets split over several (forced host) devices with shard_map."""

import json
import os
import subprocess
import sys

import numpy as np
import pytest

SCRIPT = os.path.join(os.path.dirname(__file__), "distributed_search.py")


def start(tmp_path, name: str, *args: str) -> tuple[subprocess.Popen, str]:
    """Start tests/distributed_search.py writing ``tmp_path/name.json``."""
    out = str(tmp_path / f"{name}.json")
    root = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
    env = dict(os.environ, PYTHONPATH=os.pathsep.join([root, os.environ.get("PYTHONPATH", "")]))
    proc = subprocess.Popen([sys.executable, SCRIPT, out, *args], env=env,
                            stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    return proc, out


def finish(started: tuple[subprocess.Popen, str], timeout: float = 300) -> dict:
    """The Result (as written by the script) of a run that must succeed."""
    proc, out = started
    _, err = proc.communicate(timeout=timeout)
    assert proc.returncode == 0, err[-3000:]
    with open(out) as f:
        return json.load(f)


def same_search(a: dict, b: dict) -> None:
    """Same candidates' fitness, best architecture and accuracies."""
    assert a["fitness"] == b["fitness"]
    assert a["best"] == b["best"]
    assert (a["val"], a["test"]) == (b["val"], b["test"])


@pytest.mark.slow
def test_four_devices_match_one(tmp_path):
    runs = [start(tmp_path, "one", "--devices", "1"), start(tmp_path, "four", "--devices", "4")]
    one, four = (finish(r) for r in runs)
    assert (one["devices"], four["devices"]) == (1, 4)
    assert one["device_utilisation"] == 1.0  # one member per call on one CPU device
    # Every call's slots are a multiple of 4; the final model trains alone in 4 slots.
    assert four["member_slots"] % 4 == 0 and four["device_utilisation"] < 1.0
    same_search(one, four)
    # Which members share a padded program depends on the device count (the cost model
    # sees 4 devices training in parallel), and padding changes float rounding: the
    # parameters agree to rounding, not bit for bit.
    assert one["params_sha256"] != four["params_sha256"] or one["params"] == four["params"]
    for a, b in zip(one["params"], four["params"], strict=True):
        np.testing.assert_allclose(a, b, rtol=1e-4, atol=1e-5)


def test_run_devices_is_checked():
    import jax

    from vlga_jax import distributed
    from vlga_jax.config import RunConfig

    with pytest.raises(ValueError, match="run.devices must be an integer >= 1"):
        RunConfig(devices=0)
    n = jax.device_count()
    assert distributed.select_devices(None) == jax.devices()
    assert distributed.select_devices(1) == jax.devices()[:1]
    with pytest.raises(ValueError, match=r"run.devices must be None or an integer in \[1, "):
        distributed.select_devices(n + 1)
    assert distributed.describe(jax.devices()[:1]).endswith("1 device, 1 process")
    assert not distributed.initialize()  # nothing given, no environment: one process
