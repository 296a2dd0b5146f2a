"""One search over two processes on jax.distributed (localhost, CPU): the same Result as
one process over as many devices, a crashed process ends the run, and it resumes."""

import socket
import time

import pytest
from test_sharding import finish, same_search, start


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def two_processes(tmp_path, name: str, run_dir, *args: str):
    """Start the two processes of a run; they share a compilation cache (process 0
    writes it) with later runs of the test."""
    address = f"127.0.0.1:{free_port()}"
    return [start(tmp_path, f"{name}{i}", "--coordinator", address, "--num-processes", "2",
                  "--process-id", str(i), "--run-dir", str(run_dir),
                  "--cache-dir", str(tmp_path / "xla_cache"), *args) for i in (0, 1)]


@pytest.mark.slow
def test_two_processes_crash_resume_and_match_one_process(tmp_path):
    run_dir = tmp_path / "run"
    single = start(tmp_path, "single", "--devices", "2")
    crashing = two_processes(tmp_path, "crash", run_dir, "--die-after-checkpoint")
    # Process 1 dies once generation 1 is checkpointed; process 0, waiting for it in the
    # next call, is stopped by JAX's runtime (heartbeat timeout 5 s): no hang.
    start_wait = time.perf_counter()
    codes = [proc.wait(timeout=240) for proc, _ in crashing]
    assert codes[1] != 0 and codes[0] != 0
    assert time.perf_counter() - start_wait < 240
    err = crashing[0][0].stderr.read()
    # JAX's runtime names the cause (or gloo, should the collective fail first).
    assert any(s in err.lower() for s in ("another task died", "heartbeat", "gloo::")), err[-2000:]
    assert (run_dir / "checkpoints" / "ckpt_000001").is_dir()
    assert not (run_dir / "result.json").exists()

    resumed = [finish(r) for r in two_processes(tmp_path, "resume", run_dir)]
    one = finish(single)
    assert resumed[0] == resumed[1]  # every process ends with the same Result
    assert (resumed[0]["devices"], resumed[0]["processes"], one["processes"]) == (2, 2, 1)
    # Same mesh size, same plan, same per-device programs: bit for bit.
    same_search(one, resumed[0])
    assert one["params_sha256"] == resumed[0]["params_sha256"]
    assert (run_dir / "result.json").exists() and (run_dir / "model.npz").exists()
    assert not (run_dir / "lock").exists()
