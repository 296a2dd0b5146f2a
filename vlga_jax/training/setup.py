"""Setting a `Trainer` up: its defaults on this machine and its compilation caches."""

from __future__ import annotations

import os
from collections.abc import Sequence

import jax

from vlga_jax.core import names
from vlga_jax.training.program_store import ProgramStore

# Compiled programs kept in memory by default (see Trainer._evict_executables).
MAX_EXECUTABLES = 16

# How a training step runs (`Trainer` step_mode): "fused", one program per network and
# call (the whole loop compiled, members vmapped); "chain", one program per layer
# operation's shapes, shared by every network and persisted across runs, with the steps
# driven from the host (`vlga_jax.training.chain`; one device, one member at a time); "auto":
# fused for now (chain is slower on a whole cold search, docs/benchmarks.md).
STEP_MODES = names.STEP_MODES


def default_members_per_call(devices: Sequence[jax.Device]) -> int | None:
    """One member per device and call on CPUs, where vmapping brings no speed
    (``benchmarks/throughput.py``, cifar P=8: 1.61x the naive loop this way, 0.85x as one
    bucket of 8) and single-member programs are reused by every later member of their
    shapes; None (only the memory cap) on accelerators, where a bucket trains as one
    wide program."""
    return len(devices) if devices[0].platform == "cpu" else None


def default_compile_workers() -> int:
    """Compile threads: half the host's cores (training keeps the rest), 1 to 4."""
    return max(1, min(4, (os.cpu_count() or 2) // 2))


def default_bucket_bytes() -> int:
    """Activation memory one program call may use per device: a quarter of the
    accelerator's memory, or 4 GiB on CPU (where more members per call bring no speed,
    only memory)."""
    stats = jax.local_devices()[0].memory_stats() or {}
    limit = stats.get("bytes_limit")
    return int(limit // 4) if limit else 4 << 30


def program_store(run) -> ProgramStore | None:
    """The layer-program store of a `vlga_jax.config.RunConfig`: DIR/programs under its
    ``compile_cache_dir`` holding at most ``program_cache_mb`` MB (None: no directory)."""
    if not run.compile_cache_dir:
        return None
    return ProgramStore(os.path.join(run.compile_cache_dir, "programs"),
                        run.program_cache_mb << 20)


def enable_compilation_cache(directory: str | None) -> None:
    """Turn on JAX's persistent compilation cache in ``directory`` (None: leave it off)."""
    if not directory:
        return
    os.makedirs(directory, exist_ok=True)
    jax.config.update("jax_compilation_cache_dir", directory)
    jax.config.update("jax_persistent_cache_min_compile_time_secs", 0.0)
    jax.config.update("jax_persistent_cache_min_entry_size_bytes", 0)
