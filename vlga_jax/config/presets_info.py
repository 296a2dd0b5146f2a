"""Where each preset comes from, and where it deliberately departs from its source.

`PRESET_INFO[name]` holds a one-line ``source`` and the ``departures``: what differs from
the source, and why. Only departures checked against this code are listed: for the report
and the MLP GA against their sources' code too, for the others against the source
descriptions in the design notes. A source setting a preset matches is not repeated here.
`explain(name)` is what ``vlga presets --explain NAME`` prints: the source, the settings
that matter for the preset's strategy, and the departures.

Rules that hold for every preset are in `ENGINE_RULES`.
"""

from __future__ import annotations

import dataclasses

from vlga_jax.config import PRESETS, Config
from vlga_jax.networks.architecture import DEFAULT_LEARNING_RATES
from vlga_jax.strategies import strategy_class


@dataclasses.dataclass(frozen=True)
class Departure:
    """One deliberate difference from a preset's source: ``what`` differs and ``why``."""

    what: str
    why: str


@dataclasses.dataclass(frozen=True)
class PresetInfo:
    """A preset's ``source`` (one line; "none" for the project's own) and ``departures``."""

    source: str
    departures: tuple[Departure, ...] = ()


ENGINE_RULES = (
    "fitness is validation accuracy on a seeded, stratified share of the training data "
    "(data.val_fraction); the test set is read once, for the final model",
    "after the search, the best candidate of the whole run trains up to "
    "train.final_epochs more epochs, keeping its best epoch by validation accuracy "
    "(early stopping with train.patience)",
    "equal networks (same genome hash) are trained once; repeats reuse the result",
)

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

PRESET_INFO: dict[str, PresetInfo] = {
    "quick": PresetInfo(
        source="none: the project's own small VLGA preset (2 phases of 3 generations of 8 "
               "on a reduced space), sized for a demo on 2 CPU cores"),
    "quick-halving": PresetInfo(
        source="none: the quick preset with successive halving in every generation "
               "(population 16; rungs of 1, 2 and 4 epochs, the best half continuing), "
               "the early termination of weak candidates that Xiao et al. 2020 name as "
               "future work; about the same candidate-epochs per generation as quick"),
    "paper": PresetInfo(
        source="Xiao, Yan, Basodi, Ji & Pan 2020, \"Efficient Hyperparameter Optimization "
               "in Deep Learning Using a Variable Length Genetic Algorithm\" "
               "(arXiv:2006.12703): Table 1's space, p=20, g=5, survival 0.5, unfit 0.2, "
               "mutation 0.2, uniform crossover, frozen earlier phases, stop rule 0.01",
        departures=(_VAL_FITNESS, _DIGITS, _gap_head(True), _LEAKY_SLOPE, _FINAL_TRAINING)),
    "report": PresetInfo(
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
    "modified-vlga": PresetInfo(
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
    "binary-cnn": PresetInfo(
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
    "mlp-ga": PresetInfo(
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
    "grid": PresetInfo(
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
    "tournament": PresetInfo(
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
    "random-population": PresetInfo(
        source="the random-population baseline that tournament evolution is compared "
               "with: the same space, a fresh random population every generation"),
    "random": PresetInfo(
        source="the random-search baseline of Xiao et al. 2020 (Table 2), on the paper "
               "preset's space and budget (5 phases x 5 generations x 20 candidates)",
        departures=(_VAL_FITNESS, _DIGITS, _gap_head(False), _LEAKY_SLOPE)),
    "classical-ga": PresetInfo(
        source="the classical-GA baseline of Xiao et al. 2020 (Table 2): a fixed-length GA "
               "over CNNs of 3 blocks from the paper's gene tables; its operators here "
               "(one-point crossover, fitness-proportional parents, per-gene mutation "
               "0.05) are this project's reading of a classical GA",
        departures=(_VAL_FITNESS, _DIGITS, _gap_head(False), _LEAKY_SLOPE)),
}


def preset_info(name: str) -> PresetInfo:
    """The `PresetInfo` of preset ``name``; ValueError naming the presets if unknown."""
    if name not in PRESETS or name not in PRESET_INFO:
        raise ValueError(f"unknown preset {name!r}; presets: {', '.join(PRESETS)}")
    return PRESET_INFO[name]


def preset_settings(config: Config) -> list[tuple[str, object]]:
    """(dotted config field, value) of the settings that matter for ``config``'s strategy.

    VLGA-only fields (phases, stop rule, phase winner, transfer) appear only for the
    "vlga" strategy; selection and variation fields only for the strategies that breed;
    training values only where the space does not search them as genes.
    """
    sp, ga, tr = config.space, config.ga, config.train
    space = sp.build()
    out: list[tuple[str, object]] = [("ga.strategy", ga.strategy), ("space.kind", sp.kind),
                                     ("space.max_blocks", sp.max_blocks)]
    if sp.kind in ("xiao2020", "fixed_cnn"):
        out += [("space.channels", sp.channels), ("space.kernels", sp.kernels),
                ("space.activations", sp.activations)]
        if sp.training_genes:
            out.append(("space.training_genes", True))
    out.append(("ga.population", ga.population))
    out += strategy_class(ga.strategy).settings(config, space)  # its ga.* rows
    out += [("train.epochs", tr.epochs), ("train.batch_size", tr.batch_size)]
    if tr.halving_min_epochs:
        out += [("train.halving_min_epochs", tr.halving_min_epochs),
                ("train.halving_eta", tr.halving_eta)]
    genes = set(space.gene_names)
    for field in ("optimizer", "learning_rate", "weight_decay"):
        if field not in genes:
            out.append((f"train.{field}", getattr(tr, field)))
    if sp.kind in ("xiao2020", "fixed_cnn") and "dropout" not in genes:
        out.append(("train.dropout", tr.dropout))  # the head's dropout
    if tr.augment:
        out.append(("train.augment", tr.augment))
    out += [("train.final_epochs", tr.final_epochs), ("train.patience", tr.patience),
            ("data.name", config.data.name), ("data.val_fraction", config.data.val_fraction)]
    return out


def summary(name: str) -> str:
    """One line for ``vlga presets``: the preset's strategy and main settings."""
    c = Config.preset(name)
    ga = c.ga
    strategy = strategy_class(ga.strategy)
    parts = [f"space {c.space.kind}", *strategy.summary(c)]  # its ga.* parts
    rungs = c.train.rungs()
    parts.append(f"{c.train.epochs} epochs" if len(rungs) == 1 else
                 f"halving over {'/'.join(map(str, rungs))} epochs (eta {c.train.halving_eta})")
    if strategy.has_phases:
        parts.append(f"{c.train.transfer} transfer")
    return f"{name:17s} {ga.strategy:17s} " + ", ".join(parts)


def _wrap(text: str, first: str, rest: str, width: int = 88) -> list[str]:
    import textwrap

    return textwrap.wrap(text, width=width, initial_indent=first, subsequent_indent=rest,
                         break_on_hyphens=False)


def explain(name: str) -> str:
    """The text of ``vlga presets --explain NAME``: source, settings, departures."""
    info = preset_info(name)
    config = Config.preset(name)
    lines = [f"preset {name}"]
    lines += _wrap(info.source, "source: ", "  ")
    lines.append(f"settings that matter for the {config.ga.strategy} strategy (change any "
                 "with --set KEY=VALUE):")
    settings = preset_settings(config)
    width = max(len(k) for k, _ in settings)
    for key, value in settings:
        shown = value if isinstance(value, str) else repr(value)  # tuples as Python literals
        if key == "train.learning_rate" and value is None:
            shown = "None (each optimizer's Keras 2 default: " + ", ".join(
                f"{k} {v:g}" for k, v in DEFAULT_LEARNING_RATES.items()) + ")"
        lines.append(f"  {key:{width}s}  {shown}")
    if info.departures:
        lines.append("departures from the source:")
        for d in info.departures:
            lines += _wrap(d.what, "  - ", "    ")
            lines += _wrap(f"why: {d.why}", "    ", "      ")
    else:
        lines.append("departures from the source: none recorded")
    lines.append("engine rules (every preset):")
    for rule in ENGINE_RULES:
        lines += _wrap(rule, "  - ", "    ")
    return "\n".join(lines)
