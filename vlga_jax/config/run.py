"""`RunConfig`: options that do not change a search's result, validated on construction."""

from __future__ import annotations

import dataclasses
import os

from vlga_jax.config.coerce import coerce_fields
from vlga_jax.core.checks import integer, require


def default_cache_dir() -> str:
    base = os.environ.get("XDG_CACHE_HOME") or os.path.join(os.path.expanduser("~"), ".cache")
    return os.path.join(base, "vlga_jax", "xla")


@dataclasses.dataclass(frozen=True)
class RunConfig:
    """Options that do not change a search's result (resuming may change them).

    Attributes:
        compile_cache_dir: where compiled programs persist across runs; ON by default,
            at $XDG_CACHE_HOME/vlga_jax/xla (else ~/.cache/vlga_jax/xla): JAX's
            persistent compilation cache, and the chained trainer's layer programs in
            DIR/programs (`vlga_jax.training.program_store`). It never changes a result, only how
            long compiling takes. Turn it off with None (--set run.compile_cache_dir=none);
            clear it by deleting the folder (rm -rf ~/.cache/vlga_jax/xla).
        program_cache_mb: the most megabytes of layer programs kept in DIR/programs
            (least recently used deleted first).
        verbose: print what the search does (buckets, compiles) beyond progress.
        keep_checkpoints: checkpoints kept in a run directory.
        tensorboard: also log per-generation metrics to TensorBoard (needs tensorboardX).
        wandb: also log per-generation metrics to Weights & Biases (needs wandb).
        wandb_project: the Weights & Biases project.
        compile_workers: threads compiling programs while others train (None: half the
            cores, 1 to 4; 0: compile inline, before the bucket that needs it).
        max_programs: compiled programs kept in memory (least recently used dropped; one
            needed again recompiles, from the persistent cache if it is on). Each holds
            tens of MB of host memory on CPUs, so this bounds a long search's memory.
        top_k: how many of the best distinct candidates a result keeps with their search
            weights (Result.top, DIR/top/rank_N.npz).
        devices: the devices that train each bucket's members in parallel (None: every
            device of every process; N: the first N, an equal number per process; checked
            against the machine when the search starts). Buckets are sized for them;
            another count may change float rounding.
        top_k_retrain: how many of the search's best distinct candidates final training
            retrains (the winner and the next best); the result is the one with the best
            final validation accuracy (the winner on ties), each one's test accuracy is
            reported (Result.top_k_retrained). 1: the winner only.
    """

    compile_cache_dir: str | None = dataclasses.field(default_factory=default_cache_dir)
    program_cache_mb: int = 1024
    verbose: bool = True
    keep_checkpoints: int = 2
    tensorboard: bool = False
    wandb: bool = False
    wandb_project: str = "vlga-jax"
    compile_workers: int | None = None
    max_programs: int = 16
    top_k: int = 1
    devices: int | None = None
    top_k_retrain: int = 1

    def __post_init__(self):
        coerce_fields(self, "run")
        integer("run.top_k_retrain", self.top_k_retrain)
        if self.devices is not None:
            integer("run.devices", self.devices)
        integer("run.top_k", self.top_k, 0)
        integer("run.keep_checkpoints", self.keep_checkpoints)
        integer("run.max_programs", self.max_programs)
        integer("run.program_cache_mb", self.program_cache_mb)
        if self.compile_workers is not None:
            integer("run.compile_workers", self.compile_workers, 0)
        for field in ("verbose", "tensorboard", "wandb"):
            require(isinstance(getattr(self, field), bool), f"run.{field}", "True or False",
                    getattr(self, field))
        require(isinstance(self.wandb_project, str) and bool(self.wandb_project),
                "run.wandb_project", "a non-empty str", self.wandb_project)
