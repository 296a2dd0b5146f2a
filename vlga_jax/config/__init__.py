"""Run configuration: frozen dataclasses with visible defaults, presets, JSON round-trip.

``Config()`` is the default search, the one ``evolve(key)`` runs (the "quick" preset:
about a minute on digits with 2 CPU cores); ``Config.preset("paper")`` and the other
presets set their own values. Then ``dataclasses.replace`` (or ``config.override``
with dotted keys, as the command line does) to change any field. Every field is
coerced to its type and validated on construction, however it is set (Python, JSON,
``--set`` text; `vlga_jax.config.coerce`), and combinations the search could not honour
are refused before anything trains; a bad value raises ValueError naming the field, the
value and what is accepted. Every field's meaning is in its class's ``Attributes``
section (`field_docs`; ``vlga config`` prints them with their values).

    coerce        typed fields: values from Python, JSON or ``--set`` text to field types
    space         SpaceConfig: the search space
    ga            GAConfig: the strategy and its genetic operators
    train         TrainConfig: candidate and final training
    data          DataConfig: the dataset and its splits
    run           RunConfig: options that do not change the result
    config        Config: the sections together, to and from dicts and JSON
    presets       the presets: their Configs, sources and departures (`PRESETS`)
    presets_info  the text of ``vlga presets`` and ``vlga presets --explain NAME``
    doc           every field with its value and meaning (``vlga config``)
"""

from vlga_jax.config.config import SECTIONS, Config
from vlga_jax.config.data import DataConfig
from vlga_jax.config.ga import GAConfig
from vlga_jax.config.presets import PRESETS
from vlga_jax.config.run import RunConfig
from vlga_jax.config.space import SpaceConfig
from vlga_jax.config.train import TrainConfig

__all__ = ["PRESETS", "SECTIONS", "Config", "DataConfig", "GAConfig", "RunConfig",
           "SpaceConfig", "TrainConfig"]
