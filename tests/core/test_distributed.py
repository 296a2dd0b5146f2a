"""One search over two processes on jax.distributed (localhost, CPU): the same Result as
one process over as many devices, a crashed process ends the run, and it resumes."""

import os
import socket
import subprocess
import sys
import time

import pytest
from support import finish, same_search, start


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


def vlga(*args: str) -> subprocess.Popen:
    """``python -m vlga_jax.cli ARGS`` (this checkout first on the path)."""
    root = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
    env = dict(os.environ, PYTHONPATH=os.pathsep.join([root, os.environ.get("PYTHONPATH", "")]),
               JAX_PLATFORMS="cpu")
    return subprocess.Popen([sys.executable, "-m", "vlga_jax.cli", *args], env=env,
                            stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)


def test_processes_that_never_meet_stop_with_one_line_each(tmp_path):
    """Nobody listening (process 1), and a process 0 whose peer never comes: each stops
    after --connect-timeout with one error line naming the address and its id, no hang
    and no native abort's stack trace. (An unroutable address, 10.255.255.1, ends as the
    first: JAX's connection deadline is the same.)"""
    cases = ((1, "2", f"127.0.0.1:{free_port()}"), (0, "2", f"127.0.0.1:{free_port()}"))
    procs = [vlga("run", "--coordinator", address, "--num-processes", n, "--process-id",
                  str(i), "--connect-timeout", "2", "--out", str(tmp_path / f"run{i}"),
                  "--quiet")
             for i, n, address in cases]
    start_wait = time.perf_counter()
    outs = [proc.communicate(timeout=120) for proc in procs]
    assert time.perf_counter() - start_wait < 120
    for proc, (_, err), (i, _, address) in zip(procs, outs, cases, strict=True):
        assert proc.returncode == 2, err[-2000:]
        lines = err.strip().splitlines()
        assert len(lines) == 1 and lines[0].startswith("vlga: error: "), err[-2000:]
        assert f"process {i} could not connect" in lines[0] and address in lines[0]
        assert "within 2 s" in lines[0] and "--connect-timeout" in lines[0]
        assert "Check failure" not in err and "Traceback" not in err


# What JAX's runtime writes when it aborts a process (abridged from a real one): absl
# log lines whose messages span several lines, the fatal one, a C++ stack trace.
ABORTING_WORKER = """
import os, sys
print("vlga: run directory D", flush=True)
sys.stderr.write("a warning the user should see\\n")
sys.stderr.write(
    "E1206 09:15:15.315983   17686 coordination_service.cc:1549] Use error polling to "
    "propagate the following error to all tasks: {status}:\\n1\\nThe tasks have crashed. "
    "Check the task logs for an earlier error.\\n"
    "E1206 09:15:15.316610   17697 coordination_service_agent.cc:289] Polled an error\\n"
    "F1206 09:15:15.316815   17697 client.h:80] Terminating process because the JAX "
    "distributed service detected fatal errors. absl::Status: {status}:\\n1\\n\\n"
    "RPC: /xla.coordination.CoordinationService/{rpc}\\n"
    "*** Check failure stack trace: ***\\n    @ 0x7f00 xla::Connect()\\n")
sys.stderr.flush()
os.abort()
"""


@pytest.mark.parametrize("status, rpc, fragment", [
    ("DEADLINE_EXCEEDED: Deadline Exceeded", "RegisterTask",
     "process 1 could not connect to the run of several processes at h:1234 within 7 s"),
    ("UNAVAILABLE: The following tasks are unhealthy (stopped sending heartbeats)",
     "PollForError", "process 1 lost contact with the run of several processes at h:1234 "
                  "(JAX: UNAVAILABLE; another process stopped, or the network failed): see "
                  "the other processes' output, then continue with vlga resume D"),
])
def test_supervisor_turns_a_native_abort_into_one_line(status, rpc, fragment, capfd):
    """JAX's LOG(FATAL) (a fatal line, a stack trace, SIGABRT) becomes one error line and
    status 2; the worker's own output and other messages pass through."""
    from vlga_jax.core import supervise

    script = ABORTING_WORKER.format(status=status, rpc=rpc)
    code = supervise.run([], address="h:1234", process_id=1, connect_timeout=7, run_dir="D",
                         command=[sys.executable, "-c", script])
    out, err = capfd.readouterr()
    assert code == 2
    assert "vlga: run directory D" in out
    lines = err.strip().splitlines()
    assert lines[0] == "a warning the user should see"
    assert len(lines) == 2 and lines[1].startswith("vlga: error: ") and fragment in lines[1]
    assert "Check failure" not in err and "crashed" not in err and "Polled" not in err


def test_supervisor_passes_a_normal_exit_through(capfd):
    from vlga_jax.core import supervise

    code = supervise.run([], address="h:1", process_id=0, connect_timeout=1, run_dir=None,
                         command=[sys.executable, "-c", "import sys; print('ok'); "
                                  "sys.stderr.write('vlga: error: x\\n'); sys.exit(2)"])
    out, err = capfd.readouterr()
    assert (code, out, err) == (2, "ok\n", "vlga: error: x\n")


ABSL_LINE = "{}1206 09:15:15.315983   17686 client.cc:80] a message\n"
WARNING = "x.py:3: RuntimeWarning: w\n  warnings.warn(w)\n"


@pytest.mark.parametrize("level, after, code, shown", [
    ("I", WARNING, 0, WARNING),  # the lines after an absl log are the worker's...
    ("W", WARNING, 0, WARNING),  # ...(held to the end: they might be the message's)
    ("E", "1\nvlga: error: x\n", 2, "1\nvlga: error: x\n"),
    ("E", "1\n", 3, ABSL_LINE.format("E") + "1\n"),  # a silent failure shows absl's too
], ids=["info", "warning", "error-said", "error-silent"])
def test_supervisor_shows_the_lines_after_absl_logs(level, after, code, shown, capfd):
    """Whatever the timing, the lines that follow an absl log are shown unless a native
    abort follows; absl's own lines only when the worker fails without a word."""
    from vlga_jax.core import supervise

    text = ABSL_LINE.format(level) + after
    script = f"import sys; sys.stderr.write({text!r}); sys.exit({code})"
    assert supervise.run([], address="h:1", process_id=0, connect_timeout=1, run_dir=None,
                         command=[sys.executable, "-c", script]) == code
    assert capfd.readouterr().err == shown


def test_lost_peers_tells_the_runtime_from_a_bug():
    from vlga_jax.core.distributed import lost_peers

    JaxRuntimeError = type("JaxRuntimeError", (RuntimeError,), {})
    assert lost_peers(JaxRuntimeError("UNAVAILABLE: gloo::EnforceNotMet: connection closed"))
    assert lost_peers(JaxRuntimeError("DEADLINE_EXCEEDED: Barrier timed out"))
    assert not lost_peers(JaxRuntimeError("RESOURCE_EXHAUSTED: out of memory"))
    assert not lost_peers(RuntimeError("gloo"))  # not the runtime's error type
