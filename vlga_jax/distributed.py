"""Several devices and several processes: the device mesh and JAX's distributed runtime.

One search runs as the same host loop on every process (same keys, populations and
bucket plan: the loop is deterministic). Each bucket's population axis is split over
one mesh of every process's devices (`vlga_jax.trainer.Trainer`); process 0 alone
writes the run directory. `initialize` joins a run of several processes (flags, the
environment, or JAX's own detection on SLURM, Open MPI and TPU pods) and must be called
before anything else uses JAX.
"""

from __future__ import annotations

import os
from collections.abc import Sequence

import jax
import numpy as np

__all__ = ["initialize", "select_devices", "describe", "is_main", "process_count",
           "broadcast_flag"]

# Seconds after which a process that stopped sending heartbeats is declared dead and the
# whole run stops (JAX's default is 100).
HEARTBEAT_SECONDS = 60
# Seconds the processes wait for each other to connect at start.
CONNECT_SECONDS = 300


def initialize(coordinator: str | None = None, num_processes: int | None = None,
               process_id: int | None = None, *, auto: bool = False,
               heartbeat_timeout: int = HEARTBEAT_SECONDS,
               connect_timeout: int = CONNECT_SECONDS) -> bool:
    """Join a run of several processes (`jax.distributed.initialize`); True if joined.

    With ``coordinator`` ("host:port" of process 0), ``num_processes`` and
    ``process_id`` given (or ``JAX_COORDINATOR_ADDRESS`` set), those are used; what is
    left None JAX detects on SLURM (``srun``), Open MPI and TPU pods. ``auto`` joins
    with everything detected. Without any of these nothing happens: one process. A
    process that dies stops the others after ``heartbeat_timeout`` seconds (JAX's
    runtime aborts them with a message naming the missing process), never a hang; a
    process that ends (an error, say) waits as long for the others before it exits.
    """
    given = (coordinator, num_processes, process_id)
    if not (auto or any(v is not None for v in given)
            or os.environ.get("JAX_COORDINATOR_ADDRESS")):
        return False
    if num_processes is not None and (not isinstance(num_processes, int) or num_processes < 1):
        raise ValueError(f"--num-processes must be an integer >= 1, got {num_processes!r}")
    if process_id is not None and not (isinstance(process_id, int) and process_id >= 0
                                       and (num_processes is None
                                            or process_id < num_processes)):
        raise ValueError(f"--process-id must be an integer in [0, --num-processes), got "
                         f"{process_id!r}")
    if coordinator is not None and ":" not in coordinator:
        raise ValueError(f"--coordinator must be HOST:PORT (process 0's address), got "
                         f"{coordinator!r}")
    # Cross-process collectives on CPUs (gloo, JAX's default since 0.5; older ones
    # have none unless set).
    if getattr(jax.config, "jax_cpu_collectives_implementation", "gloo") is None:
        jax.config.update("jax_cpu_collectives_implementation", "gloo")
    jax.distributed.initialize(coordinator, num_processes, process_id,
                               initialization_timeout=connect_timeout,
                               heartbeat_timeout_seconds=heartbeat_timeout,
                               shutdown_timeout_seconds=heartbeat_timeout)
    return True


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
