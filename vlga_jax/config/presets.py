"""The presets: each one's Config, what it reproduces and where it deliberately departs
from its source.

A `Preset` record holds a preset's ``name``, ``build`` (the function returning its
Config), a one-line ``source`` ("none: ..." for the project's own) and its
``departures``: what differs from the source, and why. Only departures checked against
this code are listed: for the report and the MLP GA against their sources' code too, for
the others against the source descriptions in the design notes. A source setting a preset
matches is not repeated there. `PRESETS` (name -> build) is derived from the records;
``vlga presets --explain NAME`` prints a record (`vlga_jax.config.presets_info`).
"""

from __future__ import annotations

import dataclasses
from collections.abc import Callable

from vlga_jax.config.config import Config, use_presets
from vlga_jax.config.ga import GAConfig
from vlga_jax.config.space import SpaceConfig
from vlga_jax.config.train import TrainConfig
from vlga_jax.genetics.space import CHANNELS, KERNELS, XIAO2020_ACTIVATIONS


@dataclasses.dataclass(frozen=True)
class Departure:
    """One deliberate difference from a preset's source: ``what`` differs and ``why``."""

    what: str
    why: str


@dataclasses.dataclass(frozen=True)
class Preset:
    """A preset: its ``name`` (``--preset NAME``), ``build`` (returns its Config), a
    one-line ``source`` (what it reproduces; "none: ..." for the project's own) and the
    ``departures`` from that source."""

    name: str
    build: Callable[[], Config]
    source: str
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



# -- where they come from ------------------------------------------------------------------

# Shared departures (the same code path serves several presets).
_VAL_FITNESS = Departure(
    "search fitness is validation accuracy on a held-out 10% of the training data "
    "(data.val_fraction); the source scores candidates on the test set",
    "choosing networks by their test accuracy makes the reported test accuracy "
    "optimistic; here the test set is read once, by the final model")


def _digits(source_data: str) -> Departure:
    return Departure(
        "the default dataset (data.name) is scikit-learn's digits, 1,797 8x8 grey images; "
        f"{source_data}",
        "digits ships inside scikit-learn, so a run needs no download (machines may be "
        "offline); --dataset NAME --data-dir DIR runs a prepared tensorflow-datasets "
        "dataset such as cifar10")


_DIGITS = _digits("not the source's image benchmark")
_LEAKY_SLOPE = Departure(
    "leaky_relu has slope 0.01 (flax's and PyTorch's default), not Keras' default 0.3 "
    "(the slope the W&B report's Keras code gets)",
    "one activation table serves every space and preset (model.py); a preset cannot "
    "change a slope")


def _gap_head(phases: bool) -> Departure:
    return Departure(
        "every network ends in global average pooling and one dense classifier (Table 1 "
        "has no head genes; this is the head of the W&B report's Keras code)",
        "the classifier's shape then depends only on the last block's channels, not on the "
        "image size or on whether the last block pools, so candidates share compiled "
        "programs" + (" and a new phase replaces only the head" if phases else ""))


_FINAL_TRAINING = Departure(
    "final training: the best candidate of the whole search trains up to "
    "train.final_epochs=30 more epochs and keeps its best epoch by validation accuracy "
    "(patience 5)",
    "this engine's rule for every preset: the final length is chosen on validation data, "
    "never on the test set")
_ALWAYS_CHANGES = Departure(
    "a mutated gene always takes another value of its table; the source redraws it from "
    "the whole table, so a 'mutation' may keep the old value",
    "a mutation that changes nothing would retrain the same network (or, here, be a cache "
    "hit that wastes a slot)")
_NO_FINAL_IN_SOURCE = Departure(
    "a final training of the best candidate is added (train.final_epochs=30, early "
    "stopping on validation accuracy, patience 5); the source reports its best "
    "candidate's search-time accuracy",
    "the result is then a trained network whose test accuracy is measured once, after "
    "the search")
_STANDARDISE = Departure(
    "images are standardised per channel with the training split's mean and std; the "
    "source divides pixels by 255",
    "one input convention for every dataset and for exported models (data.py)")

_MLP_REPO = "harvitronix/neural-network-genetic-algorithm"
_MLP_SOURCE_CODE = f"{_MLP_REPO} (Matt Harvey, 2017: main.py, optimizer.py, train.py)"

PRESET_RECORDS: dict[str, Preset] = {preset.name: preset for preset in (
    Preset(
        "quick", _quick,
        source="none: the project's own small VLGA preset (2 phases of 3 generations of 8 "
               "on a reduced space), sized for a demo on 2 CPU cores"),
    Preset(
        "paper", _paper,
        source="Xiao, Yan, Basodi, Ji & Pan 2020, \"Efficient Hyperparameter Optimization "
               "in Deep Learning Using a Variable Length Genetic Algorithm\" "
               "(arXiv:2006.12703): Table 1's space, p=20, g=5, survival 0.5, unfit 0.2, "
               "mutation 0.2, uniform crossover, frozen earlier phases, stop rule 0.01",
        departures=(_VAL_FITNESS, _DIGITS, _gap_head(True), _LEAKY_SLOPE, _FINAL_TRAINING)),
    Preset(
        "report", _report,
        source="the W&B report \"Survival of the Fittest CNN Model\" (A. R. Gosthipaty) and "
               "its Keras code, ariG23498/GA-hyper-params (Notebooks/generation.ipynb): "
               "p=10, g=3, 5 phases, one-point crossover, softmax parents, mutation 0.1, "
               "earlier phases frozen, 3 epochs, batch 256",
        departures=(
            Departure(
                "search fitness is validation accuracy on a held-out 10% of the training "
                "data; the report's code trains on all 50,000 CIFAR-10 training images "
                "and scores every candidate on the test set (model.evaluate(test_ds))",
                _VAL_FITNESS.why),
            _digits("the report's code loads CIFAR-10"),
            Departure(
                "a block pools 2x2 with stride 2 at its end (after conv b and the skip); "
                "the report's code pools with stride 1 and 'same' padding right after "
                "conv a, so its pools never lower the resolution",
                "pooling is there to halve the resolution; with stride 1 every block of a "
                "deep network runs at full resolution"),
            Departure(
                "the skip connection adds a 1x1 projection of the block's input; the "
                "report's code projects the network's input image (`inputs`) whenever "
                "the block has conv b",
                "a residual connection spans its own block; projecting the raw image into "
                "a later block only works there because its pools never downsample"),
            Departure(
                "every conv has a bias; the report's code sets use_bias=include_BN (a "
                "bias only where batch norm follows and removes it)",
                "the condition reads as inverted: a bias before batch norm is cancelled, "
                "one without batch norm is needed"),
            Departure(
                "one-point crossover cuts uniformly in [1, n-1] over the phase's genes "
                "(block genes, then globals), so a child takes genes from both parents; "
                "the report's code cuts after gene i, i uniform in [0, n-1], over its "
                "dict order, so 1 child in n copies its first parent",
                "a copy of a parent is a wasted child (here a cache hit, a slot with no "
                "new network)"),
            _ALWAYS_CHANGES,
            _STANDARDISE,
            _LEAKY_SLOPE,
            _NO_FINAL_IN_SOURCE,
        )),
    Preset(
        "modified-vlga", _modified_vlga,
        source="the modified VLGA and its comparison with random search and a classical GA "
               "(Xiao et al.'s Table 2 rows): fitness-weighted choice of crossover parents, "
               "3 epochs of fitness training, earlier phases frozen",
        departures=(
            Departure(
                "every other setting is the paper preset's (Table 1's space, p=20, g=5, "
                "survival 0.5, unfit 0.2, mutation 0.2, uniform crossover, 5 phases, stop "
                "rule 0.01, the best of a phase's last generation as its winner)",
                "the modified VLGA changes the paper's algorithm only in the parent choice, "
                "fitness length and transfer; the rest is taken from the paper it modifies"),
            Departure(
                "fitness-weighted parents are drawn with probability proportional to "
                "fitness (ga.parent_selection='fitness', roulette wheel)",
                "the plainest reading of 'fitness-weighted'; ga.parent_selection=softmax "
                "or rank are the alternatives"),
            _VAL_FITNESS, _DIGITS, _gap_head(True), _LEAKY_SLOPE, _FINAL_TRAINING)),
    Preset(
        "binary-cnn", _binary_cnn,
        source="a fixed-length binary-encoded CNN GA: 20-bit chromosome (filters, filter "
               "scale, kernel, stages, dropout, one or two convs per stage), dense head, "
               "CIFAR-10/100, population 4, 20 generations, bit-flip mutation at "
               "1/population",
        departures=(
            Departure(
                "global average pooling, not flatten, before the Dense(2048)-Dense(1024) "
                "head (on 8x8 digits the two agree once 3 stages have pooled the image to "
                "1x1)",
                "flatten makes the head's input size depend on the image size and the "
                "number of pooled stages; the conv decoder and its shape keys give the "
                "head the last stage's channels only (architecture.py, model.py), and "
                "global pooling lets networks of different depths share head shapes"),
            Departure(
                "the filter table (4-64 filters in the first stage), the filter scales "
                "(x1-x2.5 per stage, at most 256 channels) and the kernel table (1-7) are "
                "this project's, sized for 8x8 digits on CPUs; the source's filter table "
                "and per-stage widths differ",
                "the source's widths are sized for CIFAR on a GPU; every table keeps the "
                "source's bit count, so the chromosome stays 20 bits"),
            Departure(
                "a gene's bits are read as the index into its table in this engine's "
                "order (operators.bitflip: bit groups in gene order, 0 = the first value); "
                "the source's bit meanings are reversed",
                "one bit layout serves every binary space; the meanings are relabellings, "
                "so the search is the same up to the order of each table"),
            Departure(
                "a stage pools 2x2 only while the image is larger than 1x1 (8x8 digits: "
                "at most 3 pooled stages; 32x32: 5)",
                "up to 8 stages of 2x2 pooling would shrink the image below one pixel"),
            _digits("the source ran CIFAR-10 and CIFAR-100"),
        )),
    Preset(
        "mlp-ga", _mlp_ga,
        source=f"an MLP GA, {_MLP_SOURCE_CODE}: 1-4 dense layers of one width (64-1024), "
               "activation, optimizer (672 networks); population 20, 10 generations, "
               "retain 0.4, random select 0.1, mutate 0.2",
        departures=(
            Departure(
                "each optimizer at its Keras 2 default learning rate, as the source "
                "(train.learning_rate=None), but SGD has momentum 0.9 where Keras' "
                "default has none, and adadelta uses optax's rho 0.9 and eps 1e-6 "
                "(Keras 2: rho 0.95, eps 1e-7)",
                "one optimizer table serves every preset (trainer.py); the learning rate "
                "is the setting that decides whether adadelta and SGD train at all"),
            Departure(
                "every candidate trains a fixed 5 epochs (train.epochs); the source trains "
                "each until its loss on the test set stops improving (Keras "
                "EarlyStopping, patience 5, up to 10,000 epochs)",
                "a fixed length gives every candidate the same cost, so candidates train "
                "batched in one program and ga.budget_epochs counts exactly"),
            Departure(
                "search fitness is validation accuracy on a held-out 10% of the training "
                "data; the source scores on the test set (also its early-stopping data)",
                _VAL_FITNESS.why),
            Departure(
                "batch size 128 (train.batch_size); the source uses 64 on CIFAR-10 (128 "
                "on MNIST)",
                "the engine's default; --set train.batch_size=64 gives the source's"),
            Departure(
                "one child per drawn parent pair; the source breeds two children per pair "
                "(each gene from either parent, independently)",
                "each child has the same law; drawing a pair per free slot lets one "
                "fixed-shape step fill any number of slots"),
            _ALWAYS_CHANGES,
            _NO_FINAL_IN_SOURCE,
            _digits("the source's main.py runs CIFAR-10 (MNIST optional)"),
        )),
    Preset(
        "grid", _grid,
        source=f"the brute-force baseline of the MLP GA, {_MLP_REPO} (brute.py): every one "
               "of the 672 networks, each trained to early stopping",
        departures=(
            Departure(
                "order: depth first (1 layer, then 2, ...), then width, activation and "
                "optimizer, the last varying fastest; the source's loops run width, "
                "layers, activation, optimizer",
                "the order does not change an exhaustive search's result; depth first "
                "keeps a budgeted prefix (ga.budget_epochs) on complete small networks"),
            Departure(
                "training as in the mlp-ga preset: 5 epochs per candidate, Keras default "
                "learning rates, dropout 0.2, validation fitness (see vlga presets "
                "--explain mlp-ga)",
                "the same trainer and space as mlp-ga, so the two compare"),
        )),
    Preset(
        "tournament", _tournament,
        source="tournament evolution: population 50, tournament size 3, winners mutated "
               "into offspring, per-gene mutation rates, add/remove-layer mutation; units, "
               "dropout, activation per layer; learning rate, weight decay and optimizer "
               "genes",
        departures=(
            Departure(
                "the learning-rate gene takes 1e-4, 3e-4, 1e-3, 3e-3 or 1e-2 and the "
                "weight-decay gene 0, 1e-5, 1e-4 or 1e-3",
                "the source names these genes without tables; these are this project's"),
        )),
    Preset(
        "random-population", _random_population,
        source="the random-population baseline that tournament evolution is compared "
               "with: the same space, a fresh random population every generation"),
    Preset(
        "random", _random,
        source="the random-search baseline of Xiao et al. 2020 (Table 2), on the paper "
               "preset's space and budget (5 phases x 5 generations x 20 candidates)",
        departures=(_VAL_FITNESS, _DIGITS, _gap_head(False), _LEAKY_SLOPE)),
    Preset(
        "classical-ga", _classical_ga,
        source="the classical-GA baseline of Xiao et al. 2020 (Table 2): a fixed-length GA "
               "over CNNs of 3 blocks from the paper's gene tables; its operators here "
               "(one-point crossover, fitness-proportional parents, per-gene mutation "
               "0.05) are this project's reading of a classical GA",
        departures=(_VAL_FITNESS, _DIGITS, _gap_head(False), _LEAKY_SLOPE)),
    Preset(
        "quick-halving", _quick_halving,
        source="none: the quick preset with successive halving in every generation "
               "(population 16; rungs of 1, 2 and 4 epochs, the best half continuing), "
               "the early termination of weak candidates that Xiao et al. 2020 name as "
               "future work; about the same candidate-epochs per generation as quick"),
)}

PRESETS: dict[str, Callable[[], Config]] = {
    name: preset.build for name, preset in PRESET_RECORDS.items()}
use_presets(PRESETS)


def preset_record(name: str) -> Preset:
    """The `Preset` record of ``name``; ValueError naming the presets if unknown."""
    if name not in PRESET_RECORDS:
        raise ValueError(f"unknown preset {name!r}; presets: {', '.join(PRESETS)}")
    return PRESET_RECORDS[name]
