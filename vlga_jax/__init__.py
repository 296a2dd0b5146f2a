"""vlga-jax: batched, JAX-compiled genetic search of CNN architectures and hyperparameters."""

from vlga_jax.config import Config, DataConfig, GAConfig, RunConfig, SpaceConfig, TrainConfig
from vlga_jax.data import Dataset, load_dataset
from vlga_jax.evolve import Result, SearchFailed, evolve
from vlga_jax.export import ExportedModel, load_model, save_model
from vlga_jax.genome import Genome
from vlga_jax.space import Gene, SearchSpace

__version__ = "0.1.0"

__all__ = [
    "Config", "DataConfig", "GAConfig", "RunConfig", "SpaceConfig", "TrainConfig",
    "Dataset", "load_dataset", "Result", "SearchFailed", "evolve", "Genome", "Gene",
    "SearchSpace", "ExportedModel", "load_model", "save_model",
]
