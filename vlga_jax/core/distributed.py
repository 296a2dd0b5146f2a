"""Several devices and several processes: the device mesh and JAX's distributed runtime.

One search runs as the same host loop on every process (same keys, populations and
bucket plan: the loop is deterministic). Each bucket's population axis is split over
one mesh of every process's devices (`vlga_jax.training.trainer.Trainer`); process 0 alone
writes the run directory. `initialize` joins a run of several processes (flags, the
environment, or JAX's own detection on SLURM, Open MPI and TPU pods) and must be called
before anything else uses JAX.
"""

from __future__ import annotations

import os
from collections.abc import Sequence

import jax
import numpy as np

from vlga_jax.core import supervise

__all__ = ["initialize", "requested", "check_arguments", "select_devices", "describe", "is_main",
           "process_count", "broadcast_flag", "lost_peers"]

# Seconds after which a process that stopped sending heartbeats is declared dead and the
# whole run stops (JAX's default is 100).
HEARTBEAT_SECONDS = 60
# Seconds the processes wait for each other to connect at start (`vlga run
# --connect-timeout`); past it each process stops with an error naming the address.
CONNECT_SECONDS = supervise.CONNECT_SECONDS


def check_arguments(coordinator: str | None = None, num_processes: int | None = None,
                    process_id: int | None = None, *, auto: bool = False,
                    connect_timeout: int = CONNECT_SECONDS) -> None:
    """ValueError naming the flag unless the several-process arguments can work: a
    ``HOST:PORT`` coordinator with a port in [1, 65535], ``num_processes`` >= 1,
    ``process_id`` in [0, num_processes), and no process id or count without a
    coordinator (given, in ``JAX_COORDINATOR_ADDRESS``, or detected with ``auto``)."""
    if num_processes is not None and (not isinstance(num_processes, int)
                                      or isinstance(num_processes, bool) or num_processes < 1):
        raise ValueError(f"--num-processes must be an integer >= 1, got {num_processes!r}")
    if process_id is not None and not (isinstance(process_id, int) and process_id >= 0
                                       and (num_processes is None
                                            or process_id < num_processes)):
        within = ("" if num_processes is None else
                  f" (0..{num_processes - 1} for --num-processes {num_processes})")
        raise ValueError(f"--process-id must be an integer in [0, --num-processes){within}, "
                         f"got {process_id!r}")
    if not isinstance(connect_timeout, int) or isinstance(connect_timeout, bool) or not (
            1 <= connect_timeout <= 86400):
        raise ValueError(f"--connect-timeout must be whole seconds in [1, 86400], got "
                         f"{connect_timeout!r}")
    address = coordinator or os.environ.get("JAX_COORDINATOR_ADDRESS")
    if address is None:
        if not auto and (process_id is not None or num_processes is not None):
            flag = "--process-id" if process_id is not None else "--num-processes"
            raise ValueError(f"{flag} needs --coordinator HOST:PORT (process 0's address and "
                             "a free port, the same in every process), or --distributed on "
                             "SLURM, Open MPI or a TPU pod")
        return
    what = "--coordinator" if coordinator else "JAX_COORDINATOR_ADDRESS"
    host, sep, port = address.rpartition(":")
    if not sep or not host or not port.isdigit() or not 1 <= int(port) <= 65535:
        raise ValueError(f"{what} must be HOST:PORT (process 0's host and a free port in "
                         f"[1, 65535]), got {address!r}")
    if coordinator and not auto and (num_processes is None or process_id is None):
        missing = "--num-processes" if num_processes is None else "--process-id"
        raise ValueError(f"{what} {address} needs {missing} too (or --distributed to detect "
                         "it on SLURM, Open MPI or a TPU pod)")


def requested(coordinator: str | None = None, num_processes: int | None = None,
              process_id: int | None = None, *, auto: bool = False) -> bool:
    """Whether a run of several processes is asked for: by a coordinator, a process count
    or id, ``auto`` (JAX's detection) or ``JAX_COORDINATOR_ADDRESS``."""
    return bool(coordinator or num_processes is not None or process_id is not None or auto
                or os.environ.get("JAX_COORDINATOR_ADDRESS"))


def initialize(coordinator: str | None = None, num_processes: int | None = None,
               process_id: int | None = None, *, auto: bool = False,
               heartbeat_timeout: int = HEARTBEAT_SECONDS,
               connect_timeout: int = CONNECT_SECONDS) -> bool:
    """Join a run of several processes (`jax.distributed.initialize`); True if joined.

    With ``coordinator`` ("host:port" of process 0), ``num_processes`` and
    ``process_id`` given (or ``JAX_COORDINATOR_ADDRESS`` set), those are used; what is
    left None JAX detects on SLURM (``srun``), Open MPI and TPU pods. ``auto`` joins
    with everything detected. Without any of these nothing happens: one process.
    Arguments are checked first (`check_arguments`: ValueError naming the flag).

    Processes that do not all connect within ``connect_timeout`` seconds, and a process
    that stops sending heartbeats for ``heartbeat_timeout`` seconds later on, end the
    run: JAX's runtime then aborts every process natively (a fatal log and a stack
    trace, exit status 134); `vlga run` supervises its worker and turns that into one
    error line (`vlga_jax.core.supervise`). A process that ends (an error, say) waits as long
    for the others before it exits.
    """
    if not requested(coordinator, num_processes, process_id, auto=auto):
        return False
    check_arguments(coordinator, num_processes, process_id, auto=auto,
                    connect_timeout=connect_timeout)
    # Cross-process collectives on CPUs (gloo, JAX's default since 0.5; older ones
    # have none unless set).
    if getattr(jax.config, "jax_cpu_collectives_implementation", "gloo") is None:
        jax.config.update("jax_cpu_collectives_implementation", "gloo")
    jax.distributed.initialize(coordinator, num_processes, process_id,
                               initialization_timeout=connect_timeout,
                               heartbeat_timeout_seconds=heartbeat_timeout,
                               shutdown_timeout_seconds=heartbeat_timeout)
    return True


def lost_peers(err: BaseException) -> bool:
    """Whether ``err``, raised in a run of several processes, says another process or the
    network went away (JAX's runtime or gloo), rather than a bug."""
    if type(err).__name__ not in ("JaxRuntimeError", "XlaRuntimeError"):
        return False
    text = str(err)
    return any(s in text for s in ("gloo", "UNAVAILABLE", "DEADLINE_EXCEEDED", "heartbeat",
                                   "task died", "Connection reset", "coordination"))


def process_count() -> int:
    return jax.process_count()


def is_main() -> bool:
    """True on process 0, the one that writes the run directory and prints."""
    return jax.process_index() == 0


def select_devices(devices: int | None = None) -> list[jax.Device]:
    """The mesh's devices: every device of every process (None), or ``devices`` of them:
    the first ``devices / processes`` local devices of each process (so that each
    process computes its share). ValueError (naming ``run.devices``) if impossible."""
    every = jax.devices()
    if devices is None:
        return list(every)
    if not isinstance(devices, int) or isinstance(devices, bool) or devices < 1:
        raise ValueError(f"run.devices must be None or an integer >= 1, got {devices!r}")
    processes = jax.process_count()
    if devices > len(every) or devices % processes:
        raise ValueError(f"run.devices must be None or an integer in [1, {len(every)}] "
                         f"(the {jax.default_backend()} devices of {processes} "
                         f"process{'es' if processes > 1 else ''})"
                         + (f" divisible by the {processes} processes" if processes > 1
                            else "") + f", got {devices}")
    per = devices // processes
    by_process: dict[int, list] = {}
    for d in every:
        by_process.setdefault(d.process_index, []).append(d)
    return [d for p in sorted(by_process) for d in by_process[p][:per]]


def describe(devices: Sequence[jax.Device] | None = None) -> str:
    """E.g. ``backend cpu, 4 devices, 1 process``."""
    n = len(devices) if devices is not None else jax.device_count()
    p = jax.process_count()
    return (f"backend {jax.default_backend()}, {n} device{'s' if n != 1 else ''}, {p} "
            f"process{'es' if p != 1 else ''}")


def broadcast_flag(flag: bool) -> bool:
    """Process 0's ``flag`` on every process (a collective: every process must call)."""
    if jax.process_count() == 1:
        return flag
    from jax.experimental import multihost_utils

    return bool(multihost_utils.broadcast_one_to_all(np.int32(flag)))
