"""vlga-jax: batched, JAX-compiled genetic search of CNN architectures and hyperparameters.

The names below are imported with the package; every submodule (``vlga_jax.operators``,
``vlga_jax.trainer``, ``vlga_jax.strategies``, ``vlga_jax.progress``, ``vlga_jax.export``,
``vlga_jax.presets_info``, ...) and `Progress` load on first use.
"""

import importlib

# First: XLA reads its flags when JAX starts a backend, which a later import may do.
from vlga_jax import xla_flags  # noqa: F401  (sets deterministic GPU flags)
from vlga_jax.config import (
    PRESETS,
    Config,
    DataConfig,
    GAConfig,
    RunConfig,
    SpaceConfig,
    TrainConfig,
)
from vlga_jax.data import Dataset, load_dataset
from vlga_jax.evolve import Result, SearchFailed, evolve
from vlga_jax.export import ExportedModel, load_model, save_model
from vlga_jax.genome import Genome
from vlga_jax.model import build
from vlga_jax.space import Gene, SearchSpace

__version__ = "0.1.0"

__all__ = [
    "Config", "DataConfig", "GAConfig", "RunConfig", "SpaceConfig", "TrainConfig", "PRESETS",
    "Dataset", "load_dataset", "Result", "SearchFailed", "evolve", "Genome", "Gene",
    "SearchSpace", "ExportedModel", "load_model", "save_model", "build",
]

_SUBMODULES = frozenset({
    "architecture", "augment", "checkpoint", "cli", "config", "configdoc", "conv", "data",
    "evolve", "export", "genome", "growth", "model", "operators", "params", "presets_info",
    "progress", "records", "report", "rundir", "runlog", "space", "strategies", "trainer",
    "cost", "distributed", "halving", "names", "objectives", "pareto", "planner", "programs",
    "xla_flags", "chain", "layer_programs", "members", "program_store", "supervise",
    "feasibility", "candidates", "images", "retrain",
})


def __getattr__(name: str):
    if name in _SUBMODULES:
        return importlib.import_module(f"vlga_jax.{name}")
    if name == "Progress":
        from vlga_jax.progress import Progress

        return Progress
    raise AttributeError(f"module 'vlga_jax' has no attribute {name!r}")


def __dir__():
    return sorted(set(globals()) | _SUBMODULES | {"Progress"})
