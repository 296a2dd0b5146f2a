"""The presets: each one's Config, what it reproduces and where it deliberately departs
from its source.

A `Preset` record holds a preset's ``name``, ``build`` (the function returning its
Config) and, from `vlga_jax.config.preset_sources`, its one-line ``source`` ("none: ..."
for the project's own), the settings the source gives (``sourced``) and its
``departures``: what differs from the source (values the source does not give included),
why, and the passage it is measured against. `PRESETS` (name -> build) is derived from the
records; ``vlga presets --explain NAME`` prints a record (`vlga_jax.config.presets_info`).
"""

from __future__ import annotations

import dataclasses
from collections.abc import Callable

from vlga_jax.config.config import Config, use_presets
from vlga_jax.config.data import DataConfig
from vlga_jax.config.departures import Departure
from vlga_jax.config.ga import GAConfig
from vlga_jax.config.preset_sources import SOURCES
from vlga_jax.config.space import SpaceConfig
from vlga_jax.config.train import TrainConfig
from vlga_jax.genetics.space import CHANNELS, KERNELS, XIAO2020_ACTIVATIONS


@dataclasses.dataclass(frozen=True)
class Preset:
    """A preset: its ``name`` (``--preset NAME``), ``build`` (returns its Config), a
    one-line ``source`` (what it reproduces; "none: ..." for the project's own), the
    ``sourced`` settings ({dotted field: the source passage giving its value}) and the
    ``departures`` from that source (`Departure`, each naming the settings it covers)."""

    name: str
    build: Callable[[], Config]
    source: str
    sourced: dict[str, str] = dataclasses.field(default_factory=dict)
    departures: tuple[Departure, ...] = ()


# -- the presets' Configs ------------------------------------------------------------------

def _quick() -> Config:
    """The default search, ``Config()``: the project's own fast demo (population 8, 3
    generations, up to 2 phases, channels 8-32, kernels 1 and 3, 4 epochs)."""
    return Config()


# Table 1's full gene tables and the longer final training the larger presets keep.
_TABLE1 = {"channels": CHANNELS, "kernels": KERNELS}
_FINAL = {"final_epochs": 30, "patience": 5}
# Phases are the VLGA's alone; the other strategies' presets keep the value their run
# directories recorded, so those stay resumable.
_NO_PHASES = {"max_phases": 3}


def _quick_halving() -> Config:
    """The quick search with successive halving in every generation: twice the population,
    new candidates train 1 epoch, the best half continue to 2, the best half of those to
    4 (32 candidate-epochs per generation of new candidates, as quick's 8 x 4)."""
    config = _quick()
    return dataclasses.replace(
        config, ga=dataclasses.replace(config.ga, population=16),
        train=dataclasses.replace(config.train, halving_min_epochs=1, halving_eta=2))


def _paper() -> Config:
    """Xiao et al. 2020 as the paper ran it: Table 1's space (activations ReLU, ELU,
    LeakyReLU), p=20, g=5, survival 0.5, unfit survival 0.2, mutation 0.2, uniform
    crossover, up to 5 phases, stop when a phase's best drops by more than 0.01; each
    phase trains only its new block (earlier blocks frozen) and its winner is the best of
    its last generation."""
    return Config(
        space=SpaceConfig(max_blocks=5, activations=XIAO2020_ACTIVATIONS, **_TABLE1),
        ga=GAConfig(population=20, generations=5, fit_survival_rate=0.5,
                    unfit_survival_prob=0.2, mutation_rate=0.2, crossover="uniform",
                    parent_selection="uniform", max_phases=5, stop_drop=0.01,
                    phase_winner="last_generation"),
        train=TrainConfig(epochs=5, learning_rate=None, transfer="freeze", **_FINAL),
    )


def _report() -> Config:
    """The W&B report's Keras code: p=10, 3 generations, 5 phases, one-point crossover,
    softmax-of-fitness parents, mutation 0.1, earlier phases frozen, 3 epochs of Adam at
    Keras' default learning rate 1e-3, batch 256, ReLU/ELU/LeakyReLU, no stop rule; a
    phase's winner is the best of its last generation."""
    return Config(
        space=SpaceConfig(max_blocks=5, activations=XIAO2020_ACTIVATIONS, **_TABLE1),
        ga=GAConfig(population=10, generations=3, fit_survival_rate=0.5,
                    unfit_survival_prob=0.2, mutation_rate=0.1, crossover="one_point",
                    parent_selection="softmax", max_phases=5, stop_drop=None,
                    phase_winner="last_generation"),
        train=TrainConfig(epochs=3, batch_size=256, learning_rate=1e-3, transfer="freeze",
                          **_FINAL),
    )


def _binary_cnn() -> Config:
    """The fixed-length binary-encoded CNN GA: the source's 20-bit chromosome (13 bits of
    global genes, then one bit per stage for 7 stages, 1 = one conv), population 4, 20
    generations, bit-flip mutation with rate 1/population, pixels divided by their
    largest value; one-point crossover, survivor selection and 2 epochs of fitness
    training are the project's."""
    return Config(
        space=SpaceConfig(kind="binary_cnn", max_blocks=7, **_TABLE1),
        ga=GAConfig(strategy="ga", population=4, generations=20, fit_survival_rate=0.5,
                    unfit_survival_prob=0.0, mutation_mode="bitflip", mutation_rate=0.25,
                    crossover="one_point", parent_selection="fitness", **_NO_PHASES),
        train=TrainConfig(epochs=2, learning_rate=None, **_FINAL),
        data=DataConfig(scaling="unit"),
    )


def _mlp_ga() -> Config:
    """The MLP GA: 1-4 dense layers of one width, activation, optimizer (672 networks),
    each optimizer at its Keras default learning rate; population 20, 10 generations,
    retain the top 40%, keep others with probability 0.1, mutate a child with probability
    0.2, uniform crossover."""
    return Config(
        space=SpaceConfig(kind="mlp_ga", max_blocks=4, **_TABLE1),
        ga=GAConfig(strategy="ga", population=20, generations=10, fit_survival_rate=0.4,
                    unfit_survival_prob=0.1, mutation_rate=0.2, mutation_mode="one",
                    crossover="uniform", parent_selection="uniform", **_NO_PHASES),
        train=TrainConfig(epochs=5, learning_rate=None, **_FINAL),
    )


def _grid() -> Config:
    """The exhaustive search the MLP GA is compared with: every one of the mlp-ga space's
    672 networks once, 20 per step (34 steps)."""
    base = _mlp_ga()
    steps = -(-base.space.build().size() // base.ga.population)
    return dataclasses.replace(base, ga=dataclasses.replace(
        base.ga, strategy="grid", generations=steps))


def _tournament() -> Config:
    """Tournament evolution: population 50, tournament size 3, no elites: each child a
    copy of one tournament winner mutated with per-gene rates and add/remove-layer
    mutation (no crossover); units/dropout/activation per layer, learning rate, weight
    decay and optimizer per network; each candidate trains on 10,000 training examples
    (`train.examples_per_candidate`)."""
    return Config(
        space=SpaceConfig(kind="mlp_tournament", max_blocks=4, **_TABLE1),
        ga=GAConfig(strategy="tournament", population=50, generations=10, **_NO_PHASES,
                    parent_selection="tournament", tournament_size=3, elites=0,
                    crossover="none", mutation_mode="per_gene", mutation_rate=0.1,
                    layer_mutation_rate=0.1,
                    gene_rates=(("units", 0.15), ("dropout", 0.1), ("activation", 0.1),
                                ("learning_rate", 0.2), ("weight_decay", 0.1),
                                ("optimizer", 0.05))),
        train=TrainConfig(epochs=5, examples_per_candidate=10_000, **_FINAL),
    )


def _random_population() -> Config:
    """The tournament preset's loop with the population re-randomised every generation."""
    base = _tournament()
    return dataclasses.replace(base, ga=dataclasses.replace(
        base.ga, strategy="random_population", gene_rates=()))


def _modified_vlga() -> Config:
    """The modified VLGA: the paper preset with fitness-weighted (fitness-proportional)
    choice of crossover parents, 3 epochs of fitness training and frozen transfer."""
    base = _paper()
    return dataclasses.replace(
        base, ga=dataclasses.replace(base.ga, parent_selection="fitness"),
        train=dataclasses.replace(base.train, epochs=3))


def _random() -> Config:
    """Random search over the paper preset's space (paper Table 2's baseline): 20
    candidates per step until the paper preset's budget of 5 phases x 5 generations x 20
    candidates."""
    return Config(
        space=SpaceConfig(max_blocks=5, activations=XIAO2020_ACTIVATIONS, **_TABLE1),
        ga=GAConfig(strategy="random", population=20, generations=25, **_NO_PHASES),
        train=TrainConfig(epochs=5, learning_rate=None, **_FINAL),
    )


def _classical_ga() -> Config:
    """A classical fixed-length GA over fixed-depth CNNs (paper Table 2's "classical GA"):
    3 conv blocks with the paper's gene tables, every gene evolved at once, one-point
    crossover, fitness-proportional parents, per-gene mutation."""
    return Config(
        space=SpaceConfig(kind="fixed_cnn", max_blocks=3, activations=XIAO2020_ACTIVATIONS,
                          **_TABLE1),
        ga=GAConfig(strategy="ga", population=20, generations=25, fit_survival_rate=0.5,
                    unfit_survival_prob=0.2, mutation_rate=0.05, mutation_mode="per_gene",
                    crossover="one_point", parent_selection="fitness", **_NO_PHASES),
        train=TrainConfig(epochs=5, learning_rate=None, **_FINAL),
    )



# -- where they come from (config/preset_sources.py) --------------------------------------

_BUILDS = {"quick": _quick, "paper": _paper, "report": _report, "modified-vlga": _modified_vlga,
           "binary-cnn": _binary_cnn, "mlp-ga": _mlp_ga, "grid": _grid,
           "tournament": _tournament, "random-population": _random_population,
           "random": _random, "classical-ga": _classical_ga, "quick-halving": _quick_halving}
PRESET_RECORDS: dict[str, Preset] = {
    name: Preset(name, build, *SOURCES[name]) for name, build in _BUILDS.items()}

PRESETS: dict[str, Callable[[], Config]] = {
    name: preset.build for name, preset in PRESET_RECORDS.items()}
use_presets(PRESETS)


def preset_record(name: str) -> Preset:
    """The `Preset` record of ``name``; ValueError naming the presets if unknown."""
    if name not in PRESET_RECORDS:
        raise ValueError(f"unknown preset {name!r}; presets: {', '.join(PRESETS)}")
    return PRESET_RECORDS[name]
