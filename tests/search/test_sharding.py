"""A search's buckets split over several (forced host) devices with shard_map."""


import numpy as np
import pytest
from support import finish, same_search, start


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

    from vlga_jax.config import RunConfig
    from vlga_jax.core import distributed

    with pytest.raises(ValueError, match="run.devices must be an integer >= 1"):
        RunConfig(devices=0)
    n = jax.device_count()
    assert distributed.select_devices(None) == jax.devices()
    assert distributed.select_devices(1) == jax.devices()[:1]
    with pytest.raises(ValueError, match=r"run.devices must be None or an integer in \[1, "):
        distributed.select_devices(n + 1)
    assert distributed.describe(jax.devices()[:1]).endswith("1 device, 1 process")
    assert not distributed.initialize()  # nothing given, no environment: one process
