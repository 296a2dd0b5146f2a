"""vlga-jax: batched, JAX-compiled genetic search of CNN architectures and hyperparameters.

The names below are imported with the package. The subpackages are layers, each
importing only from the layers before it (``tests/test_imports.py`` checks):

    core        names, XLA flags, checkpoint codec, devices and processes, Pareto ranks
    data        datasets and images
    genetics    gene tables, genomes, genetic operators
    networks    architectures, Flax modules, parameters, model files
    training    cost model, planner, compiled programs, the trainer, objectives
    strategies  ask/tell search strategies (VLGA, GA, tournament, random, grid): the
                registry, each one's parameters, checks and settings text
    config      the validated configuration (checks ga.strategy against the registry)
                and the presets
    runs        records, run directories, logs, progress, reports
    search      `evolve`: the search loop
    cli         the ``vlga`` command

Each loads on first use (``vlga_jax.training``, ...), as does `Progress`.
"""

import importlib

from vlga_jax.config import (
    PRESETS,
    Config,
    DataConfig,
    GAConfig,
    RunConfig,
    SpaceConfig,
    TrainConfig,
)

# First: XLA reads its flags when JAX starts a backend, which a later import may do.
from vlga_jax.core import xla_flags  # noqa: F401  (sets deterministic GPU flags)
from vlga_jax.data.datasets import Dataset, load_dataset
from vlga_jax.genetics.genome import Genome
from vlga_jax.genetics.space import Gene, SearchSpace
from vlga_jax.networks.export import ExportedModel, load_model, save_model
from vlga_jax.networks.model import build
from vlga_jax.search.evolve import Result, SearchFailed, evolve

__version__ = "0.1.0"

__all__ = [
    "Config", "DataConfig", "GAConfig", "RunConfig", "SpaceConfig", "TrainConfig", "PRESETS",
    "Dataset", "load_dataset", "Result", "SearchFailed", "evolve", "Genome", "Gene",
    "SearchSpace", "ExportedModel", "load_model", "save_model", "build",
]

# The layers, bottom first: a module may import from its own layer and those before it.
LAYERS = ("core", "data", "genetics", "networks", "training", "strategies", "config",
          "runs", "search", "cli")
_SUBMODULES = frozenset(LAYERS)


def __getattr__(name: str):
    if name in _SUBMODULES:
        return importlib.import_module(f"vlga_jax.{name}")
    if name == "Progress":
        from vlga_jax.runs.progress import Progress

        return Progress
    raise AttributeError(f"module 'vlga_jax' has no attribute {name!r}")


def __dir__():
    return sorted(set(globals()) | _SUBMODULES | {"Progress"})
