"""Run configuration: frozen dataclasses with visible defaults, presets, JSON round-trip.

``Config()`` is the default search, the one ``evolve(key)`` runs (the "quick" preset:
about a minute on digits with 2 CPU cores); ``Config.preset("paper")`` and the other
presets set their own values. Then ``dataclasses.replace`` (or ``config.override``
with dotted keys, as the command line does) to change any field. Every field is
coerced to its type and validated on construction, however it is set (Python, JSON,
``--set`` text; see "typed fields" below), and combinations the search could not honour
are refused before anything trains; a bad value raises ValueError naming the field, the
value and what is accepted. Every field's meaning is in its class's ``Attributes``
section (`field_docs`; ``vlga config`` prints them with their values).
"""

from __future__ import annotations

import ast
import dataclasses
import functools
import json
import math
import os
import types
import typing
from typing import Any

import numpy as np

from vlga_jax.core.names import (
    AUGMENTATIONS,
    CONV_IMPLS,
    COST_MODELS,
    GA_CROSSOVERS,
    GA_MUTATION_MODES,
    OPTIMIZERS,
    PARENT_SELECTIONS,
    STEP_MODES,
)
from vlga_jax.genetics.space import (
    ACTIVATIONS,
    CHANNELS,
    KERNELS,
    XIAO2020_ACTIVATIONS,
    SearchSpace,
    build_space,
)
from vlga_jax.strategies import strategy_class

SPACE_KINDS = ("xiao2020", "fixed_cnn", "binary_cnn", "mlp_ga", "mlp_tournament")
CNN_KINDS = ("xiao2020", "fixed_cnn")  # the kinds space.channels/kernels/activations restrict
TRANSFERS = ("finetune", "freeze")
# "best_seen": a phase's winner is the best candidate evaluated in any of its generations;
# "last_generation": the best of its last generation (Xiao et al. 2020; survivor mutation
# may have replaced a better one).
PHASE_WINNERS = ("best_seen", "last_generation")
FINAL_STARTS = ("search", "scratch")
# Bounds past which no candidate trains (diverged or decayed to one class): refused.
MAX_LEARNING_RATE = 10.0
MAX_WEIGHT_DECAY = 1.0


# -- typed fields --------------------------------------------------------------------------
#
# Every field is coerced to its annotated type before its range is checked, the same way
# whether it comes from Python, a JSON file or ``--set`` text: numpy scalars become Python
# numbers; an integral float becomes an int; booleans are parsed from true/false, yes/no,
# on/off or 1/0 (anything else is refused: "no" never becomes True); a scalar is accepted
# where a tuple is meant (``channels=16`` -> (16,), ``activations="relu"`` -> ("relu",),
# ``resize=8`` -> (8, 8)); a string where a tuple is meant is split on commas
# (``"8,16"``, ``"crop,flip"``), and a string where a number or tuple is meant is parsed
# (``"1e-3"``, ``"(8, 16)"``, ``"units:0.15,dropout:0.1"`` for gene rates).

_TRUE = ("true", "yes", "on", "1")
_FALSE = ("false", "no", "off", "0")
_NONE = ("none", "null")


def _names(value) -> tuple:
    """A tuple of names from a tuple/list or one comma-separated string ("crop,flip")."""
    if isinstance(value, str):
        return tuple(v.strip() for v in value.split(",") if v.strip())
    return tuple(value)


def _describe(tp) -> str:
    """What a field of type ``tp`` accepts, in words."""
    origin, args = typing.get_origin(tp), typing.get_args(tp)
    if origin in (typing.Union, types.UnionType):
        inner = [a for a in args if a is not type(None)]
        return f"None or {_describe(inner[0])}"
    if tp is bool:
        return "a boolean (true/false, yes/no, 1/0)"
    if tp is int:
        return "an integer"
    if tp is float:
        return "a finite number"
    if tp is str:
        return "a string"
    if origin is tuple:
        if len(args) == 2 and args[1] is Ellipsis:
            return f"{_describe(args[0])} or a list of them (in text: comma-separated)"
        if len(set(args)) == 1:
            return f"{_describe(args[0])} or {len(args)} of them"
        return "(" + ", ".join(_describe(a) for a in args) + ")"
    return str(tp)


# What a field accepts, where the type alone says too little.
_ACCEPTS = {
    "ga.gene_rates": "pairs (gene name, rate in [0, 1]): e.g. (('units', 0.15),), "
                     "{'units': 0.15} or, in text, 'units:0.15,dropout:0.1'",
    "data.resize": "None, one size for both sides (8) or (height, width)",
}


def _bad(name: str, value, tp) -> ValueError:
    return ValueError(f"{name} must be {_ACCEPTS.get(name) or _describe(tp)}, got {value!r}")


def _coerce(name: str, value, tp):
    """``value`` as type ``tp`` (see the notes above); ValueError naming ``name``."""
    origin, args = typing.get_origin(tp), typing.get_args(tp)
    if origin in (typing.Union, types.UnionType):  # X | None
        if value is None:
            return None
        inner = next(a for a in args if a is not type(None))
        if isinstance(value, str) and inner is not str and value.strip().lower() in _NONE:
            return None
        try:
            return _coerce(name, value, inner)
        except ValueError:
            raise _bad(name, value, tp) from None
    if isinstance(value, np.ndarray) and value.ndim == 0:
        value = value[()]
    if isinstance(value, np.generic):
        value = value.item()
    if tp is str:
        if not isinstance(value, str):
            raise _bad(name, value, tp)
        return str(value)
    if tp is bool:
        if isinstance(value, bool):
            return value
        if isinstance(value, int) and value in (0, 1):
            return bool(value)
        if isinstance(value, str) and value.strip().lower() in _TRUE + _FALSE:
            return value.strip().lower() in _TRUE
        raise _bad(name, value, tp)
    if tp is int:
        if isinstance(value, str):
            value = _literal(name, value, tp)
        if isinstance(value, bool):
            raise _bad(name, value, tp)
        if isinstance(value, int):
            return value
        if isinstance(value, float) and math.isfinite(value) and value.is_integer():
            return int(value)
        raise _bad(name, value, tp)
    if tp is float:
        if isinstance(value, str):
            value = _literal(name, value, tp)
        if isinstance(value, bool) or not isinstance(value, int | float):
            raise _bad(name, value, tp)
        if not math.isfinite(value):
            raise _bad(name, value, tp)
        return float(value)
    if origin is tuple:
        return _coerce_tuple(name, value, tp, args)
    raise TypeError(f"{name}: no coercion for type {tp}")  # a bug in this module


def _literal(name: str, text: str, tp):
    """A number (or tuple) from text; ValueError naming ``name`` when it is none."""
    text = text.strip()
    try:
        return ast.literal_eval(text)
    except (ValueError, SyntaxError):
        try:
            return float(text)  # "nan", "inf": refused by the caller's range checks
        except ValueError:
            raise _bad(name, text, tp) from None


def _coerce_tuple(name: str, value, tp, args):
    if isinstance(value, str):
        text = value.strip()
        if text and text[0] in "([{":
            try:
                value = ast.literal_eval(text)
            except (ValueError, SyntaxError):
                raise _bad(name, value, tp) from None
        elif typing.get_origin(args[0]) is tuple:  # "units:0.15,dropout:0.1"
            value = [tuple(p.strip().strip("'\"") for p in item.split(":", 1))
                     for item in _names(text)]
        else:
            value = tuple(v.strip("'\"") for v in
                          _names(text.replace("x", ",") if args[0] is int else text))
    if isinstance(value, dict):
        value = tuple(value.items())
    if isinstance(value, np.ndarray):
        value = value.tolist()
    variable = len(args) == 2 and args[1] is Ellipsis
    element = args[0]
    nested = typing.get_origin(element) is tuple
    if not isinstance(value, tuple | list) or (nested and value and not isinstance(
            value[0], tuple | list)):
        value = (value,)  # a scalar (or one pair) where a tuple is meant
    kinds = args if not variable else (element,) * len(value)
    if not variable and len(value) == 1 and len(set(args)) == 1:
        value = tuple(value) * len(args)  # one size for both sides
    if len(value) != len(kinds):
        raise _bad(name, value, tp)
    try:
        return tuple(_coerce(name, v, a) for v, a in zip(value, kinds, strict=True))
    except ValueError:
        raise _bad(name, value, tp) from None


def _coerce_fields(obj, section: str) -> None:
    """Coerce every field of the dataclass ``obj`` to its annotated type, in place."""
    hints = _hints(type(obj))
    for f in dataclasses.fields(obj):
        value = _coerce(f"{section}.{f.name}", getattr(obj, f.name), hints[f.name])
        object.__setattr__(obj, f.name, value)


@functools.cache
def _hints(cls) -> dict:
    return typing.get_type_hints(cls)


def _check(cond: bool, field: str, allowed: str, value) -> None:
    if not cond:
        raise ValueError(f"{field} must be {allowed}, got {value!r}")


def _rate(field: str, value) -> None:
    _check(isinstance(value, int | float) and 0.0 <= value <= 1.0, field, "in [0, 1]", value)


def _positive_int(field: str, value, minimum: int = 1) -> None:
    _check(isinstance(value, int) and not isinstance(value, bool) and value >= minimum,
           field, f"an integer >= {minimum}", value)


@dataclasses.dataclass(frozen=True)
class SpaceConfig:
    """A search space: by default the Xiao et al. 2020 block space, optionally restricted.

    ``kind`` picks the gene tables (see `space.build_space`): "xiao2020" (variable-length
    two-conv blocks), "fixed_cnn" (the same blocks at a fixed depth of ``max_blocks``,
    for a classical GA), "binary_cnn" (a 20-bit chromosome decoded into a CNN with a
    dense head), "mlp_ga" (1-4 dense layers, units, activation, optimizer) and
    "mlp_tournament" (dense layers with units, dropout and activation per layer; learning
    rate, weight decay and optimizer per network).

    Attributes:
        max_blocks: the most blocks a network has (conv blocks, binary-cnn stages or dense
            layers); the VLGA grows one per phase.
        channels: output channels a conv may choose (a subset of 8-512, Table 1).
        kernels: square kernel sizes a conv may choose (a subset of 1, 3, 5, 7, 9).
        activations: activations a block may choose (relu, tanh, elu, selu, leaky_relu).
        training_genes: also search learning rate, weight decay and dropout per network
            (CNN kinds only; otherwise train.* gives them).
        kind: the gene tables: xiao2020, fixed_cnn, binary_cnn, mlp_ga or mlp_tournament.
    """

    max_blocks: int = 2
    channels: tuple[int, ...] = (8, 16, 32)
    kernels: tuple[int, ...] = (1, 3)
    activations: tuple[str, ...] = ACTIVATIONS
    training_genes: bool = False
    kind: str = "xiao2020"

    def __post_init__(self):
        _coerce_fields(self, "space")
        _positive_int("space.max_blocks", self.max_blocks)
        _check(self.kind in SPACE_KINDS, "space.kind", f"one of {SPACE_KINDS}", self.kind)
        if self.kind == "binary_cnn":
            _check(self.max_blocks & (self.max_blocks - 1) == 0, "space.max_blocks",
                   "a power of two with space.kind='binary_cnn' (its stage count is a "
                   "group of bits)", self.max_blocks)
        for field, table in (("channels", CHANNELS), ("kernels", KERNELS),
                             ("activations", ACTIVATIONS)):
            values = getattr(self, field)
            _check(len(values) >= 1, f"space.{field}", "non-empty", values)
            _check(all(v in table for v in values), f"space.{field}",
                   f"values from {table}", values)
            _check(len(set(values)) == len(values), f"space.{field}",
                   "values without repeats", values)
        if self.kind not in CNN_KINDS:  # these fields restrict the CNN kinds' tables only
            default = SpaceConfig.__dataclass_fields__
            full = {"channels": CHANNELS, "kernels": KERNELS}  # unrestricted also means none
            for field in ("channels", "kernels", "activations", "training_genes"):
                value = getattr(self, field)
                _check(value in (default[field].default, full.get(field)), f"space.{field}",
                       f"left at its default with space.kind={self.kind!r} (it applies to "
                       f"the kinds {CNN_KINDS} only)", value)

    def build(self) -> SearchSpace:
        space = build_space(self.kind, self.max_blocks, training_genes=self.training_genes)
        if self.kind not in CNN_KINDS:
            return space
        return space.restrict(channels_a=self.channels, channels_b=self.channels,
                              kernel_a=self.kernels, kernel_b=self.kernels,
                              activation=self.activations)


@dataclasses.dataclass(frozen=True)
class GAConfig:
    """The search strategy and its genetic operators.

    Attributes:
        population: candidates per generation.
        generations: generations per phase (VLGA) or in all (other strategies).
        fit_survival_rate: share of the population, best first, kept as parents.
        unfit_survival_prob: probability that each other member is kept as a parent too.
        mutation_rate: probability that a child is mutated (per gene with
            mutation_mode=per_gene; per bit with bitflip).
        mutation_mode: one (one random gene of a mutated child), per_gene (each gene
            independently) or bitflip (the binary chromosome, strategy ga only).
        crossover: uniform (each gene from either parent) or one_point.
        parent_selection: how parents are drawn: uniform, fitness (proportional),
            softmax (of fitness / softmax_temperature), rank or tournament.
        tournament_size: members per tournament (parent_selection=tournament).
        softmax_temperature: temperature of parent_selection=softmax.
        max_phases: the most VLGA phases (one block added per phase); <= space.max_blocks.
        stop_drop: end the VLGA when a phase's best falls more than this below the
            previous phase's (None: never).
        strategy: the ask/tell strategy: vlga, ga, tournament, random_population, random
            or grid (`vlga_jax.strategies.STRATEGIES`).
        budget_epochs: stop once this many candidate-epochs are spent (a trained
            candidate costs train.epochs, a cache hit nothing; None: no budget).
        elites: tournament strategy: best members copied unchanged into the next
            generation.
        layer_mutation_rate: tournament strategy: probability that a child gains or
            loses a layer.
        gene_rates: per-gene mutation probabilities ((gene, rate), ...) for per-gene
            mutation; genes not named use mutation_rate.
        phase_winner: which candidate wins a VLGA phase: best_seen (the best of any of
            its generations) or last_generation (the best of its last, as the paper).
        objectives: what the search maximises: metric names (`vlga_jax.training.objectives`), a
            leading "-" minimises, e.g. ("val_acc", "-params"); two or more rank by
            NSGA-II; empty: validation accuracy.
    """

    population: int = 8
    generations: int = 3
    fit_survival_rate: float = 0.5
    unfit_survival_prob: float = 0.2
    mutation_rate: float = 0.2
    mutation_mode: str = "one"
    crossover: str = "uniform"
    parent_selection: str = "uniform"
    tournament_size: int = 3
    softmax_temperature: float = 1.0
    max_phases: int = 2
    stop_drop: float | None = 0.01
    # Which ask/tell strategy runs (see `vlga_jax.strategies.STRATEGIES`).
    strategy: str = "vlga"
    # Stop once this many candidate-epochs are spent (None: no budget). A trained
    # candidate costs train.epochs; a cache hit costs nothing. The last generation is
    # cut short so that a run spends exactly its budget.
    budget_epochs: int | None = None
    # Tournament strategy: members copied unchanged into the next generation, and the
    # probability that a child gains or loses a layer.
    elites: int = 2
    layer_mutation_rate: float = 0.1
    # Per-gene mutation probabilities ((gene name, rate), ...) for mutation_mode
    # "per_gene"; genes not named use mutation_rate.
    gene_rates: tuple[tuple[str, float], ...] = ()
    # Which candidate wins a phase (and so becomes the transfer parent, the phase's entry
    # in phase_best, the stop rule's input and a candidate for the final model): one of
    # PHASE_WINNERS.
    phase_winner: str = "best_seen"
    # What the search maximises (`vlga_jax.training.objectives`): metric names, "-" minimises
    # (("val_acc", "-params")); two or more: NSGA-II ranking. Empty: validation accuracy.
    objectives: tuple[str, ...] = ()

    def __post_init__(self):
        _coerce_fields(self, "ga")
        from vlga_jax.training.objectives import check_names

        check_names("ga.objectives", self.objectives)
        constant = [n for n in self.objectives if n.removeprefix("-") == "epochs"]
        _check(not constant, "ga.objectives", "metrics that tell candidates apart ('epochs' "
               "is train.epochs for every fully trained candidate)", self.objectives)
        _positive_int("ga.population", self.population, 2)
        _positive_int("ga.generations", self.generations)
        _rate("ga.fit_survival_rate", self.fit_survival_rate)
        _rate("ga.unfit_survival_prob", self.unfit_survival_prob)
        _rate("ga.mutation_rate", self.mutation_rate)
        _check(self.mutation_mode in GA_MUTATION_MODES, "ga.mutation_mode",
               f"one of {GA_MUTATION_MODES}", self.mutation_mode)
        _check(self.crossover in GA_CROSSOVERS, "ga.crossover", f"one of {GA_CROSSOVERS}",
               self.crossover)
        _check(self.parent_selection in PARENT_SELECTIONS, "ga.parent_selection",
               f"one of {PARENT_SELECTIONS}", self.parent_selection)
        _positive_int("ga.tournament_size", self.tournament_size)
        if self.parent_selection == "tournament":
            _check(self.tournament_size <= self.population, "ga.tournament_size",
                   f"<= ga.population ({self.population}) with ga.parent_selection="
                   "'tournament' (a larger tournament always picks the best)",
                   self.tournament_size)
        _check(isinstance(self.softmax_temperature, int | float) and self.softmax_temperature > 0,
               "ga.softmax_temperature", "> 0", self.softmax_temperature)
        _positive_int("ga.max_phases", self.max_phases)
        _check(self.stop_drop is None or (isinstance(self.stop_drop, int | float)
                                          and self.stop_drop >= 0),
               "ga.stop_drop", "None or >= 0", self.stop_drop)
        if self.budget_epochs is not None:
            _positive_int("ga.budget_epochs", self.budget_epochs)
        _positive_int("ga.elites", self.elites, 0)
        _rate("ga.layer_mutation_rate", self.layer_mutation_rate)
        for name, rate in self.gene_rates:
            _rate(f"ga.gene_rates[{name!r}]", rate)
        names = [name for name, _ in self.gene_rates]
        _check(len(set(names)) == len(names), "ga.gene_rates", "one rate per gene",
               self.gene_rates)
        _check(self.phase_winner in PHASE_WINNERS, "ga.phase_winner",
               f"one of {PHASE_WINNERS}", self.phase_winner)
        strategy_class(self.strategy).check(self)  # its own rules (`vlga_jax.strategies`)

    @property
    def uses_gene_rates(self) -> bool:
        """Whether the strategy reads ``gene_rates`` (per-gene mutation)."""
        return strategy_class(self.strategy).uses_gene_rates(self)


@dataclasses.dataclass(frozen=True)
class TrainConfig:
    """How candidates and the final network train.

    Attributes:
        epochs: training epochs of each search candidate.
        batch_size: training minibatch size.
        eval_batch_size: validation and test batch size (the one evaluation batch size:
            the trainer and its device data both take it from here).
        optimizer: adam, adamw, sgd, rmsprop, adagrad, adadelta, adamax or nadam (unless
            the space searches it).
        learning_rate: the optimizer's learning rate (unless the space searches it); None:
            each optimizer's Keras 2 default
            (`vlga_jax.networks.architecture.DEFAULT_LEARNING_RATES`), as the seed systems'
            presets use.
        weight_decay: decoupled weight decay (unless the space searches it).
        dropout: dropout rate before the head (unless the space searches it).
        transfer: how a VLGA phase uses the inherited blocks: finetune (train them too) or
            freeze (train only the new block and the head).
        final_epochs: the most epochs of final training of the winner (0: none).
        patience: final training stops after this many epochs without a better one.
        final_start: final training starts from the winner's search weights (search) or
            from a fresh initialisation (scratch).
        conv_impl: convolution implementation (None or auto: chosen per backend; see
            `vlga_jax.networks.conv.CONV_IMPLS`).
        pad_shapes: let candidates that differ only in channels or kernels share a
            program by exact zero padding.
        cost_model: fixed (constant compile and FLOP-rate figures: bit-for-bit
            reproducible) or measured (refined from timings).
        step_mode: how a training step runs: chain (one compiled program per layer
            shape, shared by every network and persisted across runs, steps driven from
            the host), fused (one program per network shape, the loop compiled, members
            vmapped) or auto (fused for now: chain is slower on a whole cold search;
            docs/benchmarks.md, "Chained training").
        members_per_call: candidates one program call trains (None: one per device on
            CPUs, as many as memory allows on accelerators), rounded up to a multiple of
            the devices (run.devices).
        augment: training-time augmentation: crop and/or flip (conv networks only).
        crop_padding: pixels of padding before a random crop.
        halving_min_epochs: successive halving inside a generation (0: off): new
            candidates train this many epochs first (see `rungs`, `vlga_jax.search.halving`).
        halving_eta: the best 1/eta of a rung continue to eta times its epochs.
        max_candidate_gflop: the most training GFLOP per example (forward and backward
            pass of one image, `Architecture.flops_per_example` / 1e9) a search
            candidate may cost (None: no cap, as the presets run). A candidate above it is
            infeasible: recorded with the reason, not trained, and given the worst
            fitness; the run's start-up warning suggests a value for this machine
            (`vlga_jax.training.feasibility`).
    """

    epochs: int = 4
    batch_size: int = 128
    eval_batch_size: int = 256
    optimizer: str = "adam"
    # None: the optimizer's Keras default (architecture.DEFAULT_LEARNING_RATES: adam
    # 1e-3, sgd 1e-2, adadelta 1.0, ...); a number: that rate for every optimizer. Either
    # way a learning-rate gene of the space overrides it.
    learning_rate: float | None = 3e-3
    weight_decay: float = 0.0
    dropout: float = 0.0
    transfer: str = "finetune"
    final_epochs: int = 40
    patience: int = 8
    # Final training starts from the winner's search weights ("search") or from a fresh
    # initialisation ("scratch"); either way its best epoch is judged on its own
    # validation curve (accuracy, ties broken by lower loss).
    final_start: str = "search"
    conv_impl: str | None = None
    pad_shapes: bool = True
    cost_model: str = "fixed"
    step_mode: str = "auto"
    members_per_call: int | None = None
    # Training-time image augmentation, drawn on the device from each candidate's key:
    # "crop" (pad by crop_padding pixels with zeros, crop back at a random offset) and/or
    # "flip" (mirror left-right with probability 1/2).
    augment: tuple[str, ...] = ()
    crop_padding: int = 4
    # Successive halving inside a generation (0: off): new candidates train
    # halving_min_epochs epochs, the best 1/halving_eta continue (same parameters and
    # optimizer state) to eta times as many, and so on up to `epochs` (see `rungs`).
    halving_min_epochs: int = 0
    halving_eta: int = 3
    # A cost cap on FLOPs, never on seconds: which candidates train must not depend on
    # the machine's load.
    max_candidate_gflop: float | None = None

    def __post_init__(self):
        _coerce_fields(self, "train")
        _positive_int("train.epochs", self.epochs)
        _positive_int("train.batch_size", self.batch_size)
        _positive_int("train.eval_batch_size", self.eval_batch_size)
        _check(self.optimizer in OPTIMIZERS, "train.optimizer", f"one of {OPTIMIZERS}",
               self.optimizer)
        _check(self.learning_rate is None or (isinstance(self.learning_rate, int | float)
                                              and self.learning_rate > 0),
               "train.learning_rate",
               "None (each optimizer's default) or > 0", self.learning_rate)
        _check(self.learning_rate is None or self.learning_rate <= MAX_LEARNING_RATE,
               "train.learning_rate", f"<= {MAX_LEARNING_RATE:g} (SGD trains below ~1, Adam "
               "below ~0.1; larger steps diverge)", self.learning_rate)
        _check(isinstance(self.weight_decay, int | float) and self.weight_decay >= 0,
               "train.weight_decay", ">= 0", self.weight_decay)
        _check(self.weight_decay <= MAX_WEIGHT_DECAY, "train.weight_decay",
               f"in [0, {MAX_WEIGHT_DECAY:g}] (typical: 1e-5 to 1e-2; above 1 the decay "
               "outweighs the loss and every network predicts one class)", self.weight_decay)
        _check(isinstance(self.dropout, int | float) and 0 <= self.dropout < 1,
               "train.dropout", "in [0, 1)", self.dropout)
        _check(self.transfer in TRANSFERS, "train.transfer", f"one of {TRANSFERS}",
               self.transfer)
        _positive_int("train.final_epochs", self.final_epochs, 0)
        _positive_int("train.patience", self.patience)
        _check(self.final_start in FINAL_STARTS, "train.final_start",
               f"one of {FINAL_STARTS}", self.final_start)
        allowed = (None, "auto", *CONV_IMPLS)
        _check(self.conv_impl in allowed, "train.conv_impl", f"one of {allowed}",
               self.conv_impl)
        _check(self.cost_model in COST_MODELS, "train.cost_model", f"one of {COST_MODELS}",
               self.cost_model)
        _check(self.step_mode in STEP_MODES, "train.step_mode", f"one of {STEP_MODES}",
               self.step_mode)
        if self.members_per_call is not None:
            _positive_int("train.members_per_call", self.members_per_call)
        for name in self.augment:
            _check(name in AUGMENTATIONS, "train.augment",
                   f"names from {AUGMENTATIONS} (e.g. 'crop,flip')", self.augment)
        _check(len(set(self.augment)) == len(self.augment), "train.augment",
               "names without repeats", self.augment)
        _positive_int("train.crop_padding", self.crop_padding)
        _positive_int("train.halving_min_epochs", self.halving_min_epochs, 0)
        _check(self.halving_min_epochs < self.epochs, "train.halving_min_epochs",
               f"< train.epochs ({self.epochs}), or 0 for no halving",
               self.halving_min_epochs)
        _positive_int("train.halving_eta", self.halving_eta, 2)
        if self.max_candidate_gflop is not None:
            _check(self.max_candidate_gflop > 0, "train.max_candidate_gflop",
                   "None (no cap) or > 0 (GFLOP per training example)",
                   self.max_candidate_gflop)

    def rungs(self) -> tuple[int, ...]:
        """The fidelity schedule: cumulative epochs after which candidates are compared,
        e.g. (1, 3, 5) for epochs=5, halving_min_epochs=1, halving_eta=3; (epochs,)
        without halving."""
        if not self.halving_min_epochs:
            return (self.epochs,)
        rungs = [self.halving_min_epochs]
        while rungs[-1] * self.halving_eta < self.epochs:
            rungs.append(rungs[-1] * self.halving_eta)
        return (*rungs, self.epochs)

    def defaults(self) -> dict:
        """Training values for genes the search space does not search."""
        return {"optimizer": self.optimizer, "learning_rate": self.learning_rate,
                "weight_decay": self.weight_decay, "dropout": self.dropout}


@dataclasses.dataclass(frozen=True)
class DataConfig:
    """The dataset and its splits.

    Attributes:
        name: digits (scikit-learn's, built in) or a tensorflow-datasets name prepared in
            array_record format.
        data_dir: tensorflow-datasets data_dir (None: tfds's default).
        val_fraction: share of the training split held out for validation (the fitness).
        seed: seed of the train/validation split and of data.subset.
        subset: use only this many training images (None: all).
        resize: resize images to (height, width) (None: keep their size).
    """

    name: str = "digits"
    data_dir: str | None = None
    val_fraction: float = 0.1
    seed: int = 0
    subset: int | None = None
    resize: tuple[int, int] | None = None

    def __post_init__(self):
        _coerce_fields(self, "data")
        _check(bool(self.name.strip()), "data.name", "a dataset name", self.name)
        _check(0 < self.val_fraction < 1, "data.val_fraction", "in (0, 1)", self.val_fraction)
        _positive_int("data.seed", self.seed, 0)
        if self.resize is not None:
            _check(all(s > 0 for s in self.resize), "data.resize",
                   "None or (height, width) with sizes >= 1", self.resize)
        if self.subset is not None:
            _positive_int("data.subset", self.subset)


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
            cores, 1 to 4; 0: compile inline).
        max_programs: compiled programs kept in memory (least recently used dropped).
        top_k: how many of the best distinct candidates a result keeps with their search
            weights (Result.top, DIR/top/rank_N.npz).
        devices: the devices that train each bucket's members in parallel (None: every
            device of every process; N: the first N, an equal number per process). Buckets
            are sized for them; another count may change float rounding.
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
    # Threads that compile programs while others train (None: half the cores, 1 to 4;
    # 0: compile inline, before the bucket that needs it).
    compile_workers: int | None = None
    # Compiled programs kept in memory (least recently used ones are dropped; one needed
    # again recompiles, from the persistent cache if it is on). Each holds tens of MB of
    # host memory on CPUs, so this bounds a long search's memory.
    max_programs: int = 16
    # How many of the best distinct candidates a result keeps, with their search-trained
    # parameters (Result.top, DIR/top/rank_N.npz).
    top_k: int = 1
    # Devices of the mesh that splits each bucket (None: all; N: the first N, N / processes
    # per process; checked against the machine when the search starts).
    devices: int | None = None
    # Candidates retrained with the final-training recipe (1: the search's winner only).
    top_k_retrain: int = 1

    def __post_init__(self):
        _coerce_fields(self, "run")
        _positive_int("run.top_k_retrain", self.top_k_retrain)
        if self.devices is not None:
            _positive_int("run.devices", self.devices)
        _positive_int("run.top_k", self.top_k, 0)
        _positive_int("run.keep_checkpoints", self.keep_checkpoints)
        _positive_int("run.max_programs", self.max_programs)
        _positive_int("run.program_cache_mb", self.program_cache_mb)
        if self.compile_workers is not None:
            _positive_int("run.compile_workers", self.compile_workers, 0)
        for field in ("verbose", "tensorboard", "wandb"):
            _check(isinstance(getattr(self, field), bool), f"run.{field}", "True or False",
                   getattr(self, field))
        _check(isinstance(self.wandb_project, str) and bool(self.wandb_project),
               "run.wandb_project", "a non-empty str", self.wandb_project)


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
        for field, kind in _SUB.items():
            value = getattr(self, field)
            if isinstance(value, dict):  # the section's fields by name
                object.__setattr__(self, field, _section(field, value))
            _check(isinstance(getattr(self, field), kind), field,
                   f"a {kind.__name__} (or a dict of its fields)", value)
        ga = self.ga
        if self.space.kind in ("mlp_ga", "mlp_tournament"):  # dense networks: no images
            _check(not self.train.augment, "train.augment",
                   f"() for space.kind {self.space.kind!r} (augmentation is for conv "
                   f"networks)", self.train.augment)
        if len(self.train.rungs()) > 1:
            _check(ga.objectives in ((), ("val_acc",)), "ga.objectives",
                   "() or ('val_acc',) with successive halving (train.halving_min_epochs="
                   f"{self.train.halving_min_epochs}: it compares rungs by an accuracy in "
                   "[0, 1])", ga.objectives)
        if ga.budget_epochs is not None:
            _check(ga.budget_epochs >= self.train.epochs, "ga.budget_epochs",
                   f">= train.epochs ({self.train.epochs}: the cost of one candidate)",
                   ga.budget_epochs)
        if ga.gene_rates:
            genes = self.space.build().gene_names
            unknown = [name for name, _ in ga.gene_rates if name not in genes]
            _check(not unknown, "ga.gene_rates", f"rates of genes of the space {genes} "
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
        if name not in PRESETS:
            raise ValueError(f"preset must be one of {tuple(PRESETS)}, got {name!r}")
        return PRESETS[name]()

    def to_dict(self) -> dict:
        return dataclasses.asdict(self)

    @classmethod
    def from_dict(cls, d: dict) -> Config:
        if not isinstance(d, dict):
            raise ValueError(f"a config must be an object of sections {tuple(_SUB)}, got "
                             f"{type(d).__name__} {_short(d)}")
        unknown = set(d) - set(_SUB)
        if unknown:
            raise ValueError(f"unknown config section(s) {sorted(map(str, unknown))}; "
                             f"sections: {', '.join(_SUB)}")
        parts = {}
        for name in _SUB:
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


def _section(name: str, fields: dict):
    """Section ``name`` (e.g. GAConfig for "ga") from a dict of its fields."""
    kind = _SUB[name]
    unknown = set(fields) - {f.name for f in dataclasses.fields(kind)}
    if unknown:
        raise ValueError(f"{name}: unknown field(s) {sorted(map(str, unknown))}; fields: "
                         f"{', '.join(f.name for f in dataclasses.fields(kind))}")
    return kind(**fields)


def _short(value, limit: int = 60) -> str:
    text = repr(value)
    return text if len(text) <= limit else text[:limit - 3] + "..."


_SUB = {"space": SpaceConfig, "ga": GAConfig, "train": TrainConfig, "data": DataConfig,
        "run": RunConfig}


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
    its last generation. Departures: `vlga_jax.config.presets_info`."""
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
    """The fixed-length binary-encoded CNN GA: 20-bit chromosome, population 4, 20
    generations, one-point crossover, bit-flip mutation with rate 1/population, 2 epochs
    of fitness training."""
    return Config(
        space=SpaceConfig(kind="binary_cnn", max_blocks=8, **_TABLE1),
        ga=GAConfig(strategy="ga", population=4, generations=20, fit_survival_rate=0.5,
                    unfit_survival_prob=0.0, mutation_mode="bitflip", mutation_rate=0.25,
                    crossover="one_point", parent_selection="fitness", **_NO_PHASES),
        train=TrainConfig(epochs=2, learning_rate=None, **_FINAL),
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
    """Tournament evolution: population 50, tournament size 3, 2 elites, each child a
    copy of one tournament winner mutated with per-gene rates and add/remove-layer
    mutation (no crossover); units/dropout/activation per layer, learning rate, weight
    decay and optimizer per network."""
    return Config(
        space=SpaceConfig(kind="mlp_tournament", max_blocks=4, **_TABLE1),
        ga=GAConfig(strategy="tournament", population=50, generations=10, **_NO_PHASES,
                    parent_selection="tournament", tournament_size=3, elites=2,
                    crossover="none", mutation_mode="per_gene", mutation_rate=0.1,
                    layer_mutation_rate=0.1,
                    gene_rates=(("units", 0.15), ("dropout", 0.1), ("activation", 0.1),
                                ("learning_rate", 0.2), ("weight_decay", 0.1),
                                ("optimizer", 0.05))),
        train=TrainConfig(epochs=5, **_FINAL),
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


PRESETS = {"quick": _quick, "paper": _paper, "report": _report,
           "modified-vlga": _modified_vlga, "binary-cnn": _binary_cnn,
           "mlp-ga": _mlp_ga, "grid": _grid, "tournament": _tournament,
           "random-population": _random_population, "random": _random,
           "classical-ga": _classical_ga, "quick-halving": _quick_halving}
