"""A run of several processes, supervised: JAX's native aborts become one error line.

JAX's distributed runtime ends a process whose peers do not connect in time, or stop
sending heartbeats later, with ``LOG(FATAL)``: a fatal log line, a C++ stack trace and
exit status 134, which no Python code in that process can catch. So `vlga run` and
`vlga resume` with several processes run the command itself in a worker process
(``VLGA_WORKER=1`` in its environment) and watch it: the worker's standard output is
passed through untouched, its standard error line by line; a native fatal error and
everything after it are held back and replaced by one ``vlga: error: ...`` line naming
the coordinator's address, the process id and what to check; the status is then 2.
JAX's own log lines (absl's) are shown only if the worker fails without saying why;
every other line is shown: at once, or, after an absl warning or error (whose message
may span lines the fatal error then explains), at the next ``vlga:`` line or at the end.

    code = supervise.run(["run", "--coordinator", "host:1234", ...], address="host:1234",
                         process_id=1, connect_timeout=60, run_dir="DIR")

Ctrl-C reaches the worker (the terminal signals the whole process group; the worker
saves nothing half-written and prints how to resume); SIGTERM to the supervisor is
passed on to it; the worker dies with the supervisor (Linux ``PR_SET_PDEATHSIG``).
"""

from __future__ import annotations

import os
import re
import signal
import subprocess
import sys
from collections.abc import Sequence

WORKER_ENV = "VLGA_WORKER"
# Seconds the processes of a run wait for each other to connect by default (`vlga run
# --connect-timeout`, `vlga_jax.core.distributed.initialize`).
CONNECT_SECONDS = 60
# absl's log prefix: level, MMDD hh:mm:ss.micros, thread, file:line].
_ABSL = re.compile(r"^[IWEF]\d{4} \d\d:\d\d:\d\d\.\d+\s+\d+\s+\S+:\d+\]")
_FATAL = re.compile(r"^F\d{4} \d\d:\d\d:\d\d|^\*\*\* Check failure stack trace")
_STATUS = re.compile(r"absl::Status: ([A-Z_]+)")


def is_worker() -> bool:
    """True inside the worker process `run` starts."""
    return os.environ.get(WORKER_ENV) == "1"


def _die_with_parent() -> None:  # pragma: no cover (runs in the child before exec)
    try:
        import ctypes

        ctypes.CDLL(None, use_errno=True).prctl(1, signal.SIGKILL)  # PR_SET_PDEATHSIG
    except (OSError, AttributeError):
        pass


def explain(fatal: str, *, address: str | None, process_id: int | None,
            connect_timeout: int, run_dir: str | None) -> str:
    """The one error line for JAX's fatal log ``fatal`` (its text and stack trace)."""
    where = address or "the coordinator JAX detected"
    who = "this process" if process_id is None else f"process {process_id}"
    status = _STATUS.search(fatal)
    cause = status.group(1) if status else "fatal error"
    if "RegisterTask" in fatal:
        return (f"{who} could not connect to the run of several processes at {where} within "
                f"{connect_timeout} s (JAX: {cause} while connecting): check that process 0 "
                "runs there with the same --coordinator, that every process has the same "
                "--num-processes and its own --process-id, that the host resolves and the "
                "port is reachable (firewall) and free on process 0's host; or wait longer "
                "with --connect-timeout SECONDS")
    resume = f"vlga resume {run_dir}" if run_dir else "vlga resume DIR"
    return (f"{who} lost contact with the run of several processes at {where} (JAX: "
            f"{cause}; another process stopped, or the network failed): see the other "
            f"processes' output, then continue with {resume} in every process")


def run(argv: Sequence[str], *, address: str | None, process_id: int | None,
        connect_timeout: int, run_dir: str | None,
        command: Sequence[str] = (sys.executable, "-m", "vlga_jax.cli")) -> int:
    """Run ``vlga ARGV`` (``command``: how to start the worker) as a worker and return its
    exit status (2 after a native abort, reported as one ``vlga: error:`` line on
    standard error)."""
    env = {**os.environ, WORKER_ENV: "1", "PYTHONUNBUFFERED": "1"}
    proc = subprocess.Popen([*command, *argv], env=env,
                            stderr=subprocess.PIPE, text=True, errors="replace",
                            preexec_fn=_die_with_parent if sys.platform == "linux" else None)
    previous = {sig: signal.signal(sig, lambda s, _f: proc.send_signal(s))
                for sig in (signal.SIGTERM,)}
    previous[signal.SIGINT] = signal.signal(signal.SIGINT, lambda *_: None)  # the worker's
    fatal: list[str] = []
    kept: list[tuple[str, bool]] = []  # lines held back (and whether absl's): all shown
    # if the worker fails without a word
    held: list[str] = []  # those not absl's: shown unless a native abort follows
    in_absl = False  # the last line was absl's or its stack trace's (indented)
    holding = False  # an absl warning or error came, and no `vlga:` line since
    said_error = False
    try:
        for line in proc.stderr:
            if fatal or _FATAL.match(line):
                fatal.append(line)
            elif _ABSL.match(line) or (in_absl and line[:1] in (" ", "\t")):
                kept.append((line, True))
                in_absl = True
                holding = holding or line[0] in "WE"
            elif holding and not line.startswith("vlga:"):
                kept.append((line, False))  # the absl message's next line, or the worker's
                held.append(line)
                in_absl = False
            else:
                said_error = said_error or line.startswith("vlga: error:")
                sys.stderr.writelines([*held, line])
                sys.stderr.flush()
                kept = [k for k in kept if k[1]]
                held, in_absl, holding = [], False, False
        code = proc.wait()
    finally:
        for sig, handler in previous.items():
            signal.signal(sig, handler)
    if fatal:
        print("vlga: error: " + explain("".join(fatal), address=address,
                                        process_id=process_id,
                                        connect_timeout=connect_timeout, run_dir=run_dir),
              file=sys.stderr, flush=True)
        return 2
    sys.stderr.writelines([k[0] for k in kept] if code != 0 and not said_error else held)
    sys.stderr.flush()
    if code < 0:  # killed by a signal (not JAX's abort)
        who = "this process" if process_id is None else f"process {process_id}"
        if not said_error:
            print(f"vlga: error: the worker of {who} was stopped by "
                  f"{signal.Signals(-code).name}", file=sys.stderr, flush=True)
        return 128 - code
    return code
