"""`Config`: a whole search, its sections checked against each other, by name to and from
dicts and JSON, and the presets by name (`Config.preset`)."""

from __future__ import annotations

import dataclasses
import json
from collections.abc import Callable, Mapping
from typing import Any

from vlga_jax.config.data import DataConfig
from vlga_jax.config.ga import GAConfig
from vlga_jax.config.run import RunConfig
from vlga_jax.config.space import SpaceConfig
from vlga_jax.config.train import TrainConfig
from vlga_jax.core.checks import require
from vlga_jax.strategies import strategy_class

# The sections by name, in the order a config serialises them.
SECTIONS = {"space": SpaceConfig, "ga": GAConfig, "train": TrainConfig, "data": DataConfig,
            "run": RunConfig}


@dataclasses.dataclass(frozen=True)
class Config:
    """A whole search: ``Config()`` is the default one (what ``evolve(key)`` runs).

    Attributes:
        space: the search space (`SpaceConfig`).
        ga: the strategy and its operators (`GAConfig`).
        train: candidate and final training (`TrainConfig`).
        data: the dataset (`DataConfig`).
        run: options that do not change the result (`RunConfig`).
    """

    space: SpaceConfig = SpaceConfig()
    ga: GAConfig = GAConfig()
    train: TrainConfig = TrainConfig()
    data: DataConfig = DataConfig()
    run: RunConfig = RunConfig()

    def __post_init__(self):
        for field, kind in SECTIONS.items():
            value = getattr(self, field)
            if isinstance(value, dict):  # the section's fields by name
                object.__setattr__(self, field, _section(field, value))
            require(isinstance(getattr(self, field), kind), field,
                    f"a {kind.__name__} (or a dict of its fields)", value)
        ga = self.ga
        if self.space.kind in ("mlp_ga", "mlp_tournament"):  # dense networks: no images
            require(not self.train.augment, "train.augment",
                    f"() for space.kind {self.space.kind!r} (augmentation is for conv "
                    f"networks)", self.train.augment)
        if len(self.train.rungs()) > 1:
            require(ga.objectives in ((), ("val_acc",)), "ga.objectives",
                    "() or ('val_acc',) with successive halving (train.halving_min_epochs="
                    f"{self.train.halving_min_epochs}: it compares rungs by an accuracy in "
                    "[0, 1])", ga.objectives)
        if ga.budget_epochs is not None:
            require(ga.budget_epochs >= self.train.epochs, "ga.budget_epochs",
                    f">= train.epochs ({self.train.epochs}: the cost of one candidate)",
                    ga.budget_epochs)
        if ga.gene_rates:
            genes = self.space.build().gene_names
            unknown = [name for name, _ in ga.gene_rates if name not in genes]
            require(not unknown, "ga.gene_rates", f"rates of genes of the space {genes} "
                    f"(unknown: {unknown})", ga.gene_rates)
        strategy_class(ga.strategy).check_config(self)  # its own rules across sections

    def grid_size(self) -> int:
        """How many networks ``ga.strategy='grid'`` enumerates on this space."""
        return self.space.build().size()

    def planned_generations(self) -> int:
        """Generations the search runs (the progress bar's total): at most max_phases x
        generations for the VLGA, generations for the others (a stop rule or the budget
        may end it earlier); the grid's batches of ga.population until the grid or the
        budget is spent (more when conditional genes repeat networks: repeats are free)."""
        return strategy_class(self.ga.strategy).planned_generations(self)

    @staticmethod
    def preset(name: str) -> Config:
        """The preset ``name`` (`vlga_jax.config.presets`: what each one reproduces)."""
        if name not in _PRESETS:
            raise ValueError(f"preset must be one of {tuple(_PRESETS)}, got {name!r}")
        return _PRESETS[name]()

    def to_dict(self) -> dict:
        return dataclasses.asdict(self)

    @classmethod
    def from_dict(cls, d: dict) -> Config:
        if not isinstance(d, dict):
            raise ValueError(f"a config must be an object of sections {tuple(SECTIONS)}, "
                             f"got {type(d).__name__} {_short(d)}")
        unknown = set(d) - set(SECTIONS)
        if unknown:
            raise ValueError(f"unknown config section(s) {sorted(map(str, unknown))}; "
                             f"sections: {', '.join(SECTIONS)}")
        parts = {}
        for name in SECTIONS:
            sub = d.get(name, {})
            if not isinstance(sub, dict):
                raise ValueError(f"config section {name!r} must be an object of fields, "
                                 f"got {type(sub).__name__} {_short(sub)}")
            parts[name] = _section(name, sub)
        return cls(**parts)

    def to_json(self) -> str:
        return json.dumps(self.to_dict(), indent=2, sort_keys=True)

    @classmethod
    def from_json(cls, text: str) -> Config:
        return cls.from_dict(json.loads(text))

    def override(self, **dotted: Any) -> Config:
        """A copy with fields set by dotted name: ``override(**{"ga.population": 8})``."""
        d = self.to_dict()
        for key, value in dotted.items():
            section, _, field = key.partition(".")
            if section not in d or field not in d[section]:
                known = (f"; fields of {section!r}: {', '.join(d[section])}"
                         if section in d else f"; sections: {', '.join(d)}")
                raise ValueError(f"unknown config field {key!r}{known}")
            d[section][field] = value
        return Config.from_dict(d)

    def search_config(self) -> dict:
        """The part of the config that changes a search's result (not run/output options)."""
        d = self.to_dict()
        d.pop("run")
        return d


# `Config.preset`'s table, name -> the function returning that Config. The presets build
# Configs, so this module cannot import them: `vlga_jax.config.presets` hands its table
# over with `use_presets` when imported, which the package does before anything can use
# this class.
_PRESETS: dict[str, Callable[[], Config]] = {}


def use_presets(presets: Mapping[str, Callable[[], Config]]) -> None:
    """Make ``presets`` (name -> function returning a Config) `Config.preset`'s table."""
    _PRESETS.clear()
    _PRESETS.update(presets)


def _section(name: str, fields: dict):
    """Section ``name`` (e.g. GAConfig for "ga") from a dict of its fields."""
    kind = SECTIONS[name]
    unknown = set(fields) - {f.name for f in dataclasses.fields(kind)}
    if unknown:
        raise ValueError(f"{name}: unknown field(s) {sorted(map(str, unknown))}; fields: "
                         f"{', '.join(f.name for f in dataclasses.fields(kind))}")
    return kind(**fields)


def _short(value, limit: int = 60) -> str:
    text = repr(value)
    return text if len(text) <= limit else text[:limit - 3] + "..."
