"""Where each preset comes from: its source, the settings the source gives, and every
departure from it with the reason.

`SOURCES` maps a preset name to ``(source, sourced, departures)``:

- ``source``: one line naming the document (and code) the preset reproduces; "none: ..."
  for the project's own presets, which need no record of settings.
- ``sourced``: {setting: passage}, the settings (dotted config fields, as
  ``vlga presets --explain`` lists them) whose value the source gives, each with the
  passage that gives it.
- ``departures``: `Departure` records, each naming the ``settings`` it covers (none when it
  is about code rather than a setting), what differs, why, and the source passage the
  difference is measured against. A value the source does not give (the source is silent)
  is a departure too: the project chose it.

Every setting ``--explain`` shows is either sourced or covered by a departure
(tests/config/test_presets.py). Where a source's text and its code disagree, the passage
says which says what.
"""

from __future__ import annotations

import dataclasses

from vlga_jax.config.departures import (
    ENGINE_FINAL,
    LEAKY_SLOPE,
    MLP_REPO,
    MLP_SOURCE,
    ONE_GENE,
    PAPER,
    PAPER_FINAL,
    PAPER_SILENT_SETTINGS,
    PAPER_SOURCED,
    REPORT,
    VAL_SHARE,
    XIAO,
    Departure,
    digits,
    gap_head,
    paper_silent,
    silent,
    validation,
)

# -- the records --------------------------------------------------------------------------

_TOURNAMENT_PASSAGE = "the tournament-evolution source's description of its experiment"
_TOURNAMENT_SOURCED = {
    "ga.strategy": f"{_TOURNAMENT_PASSAGE}: winners of tournaments mutated into children",
    "space.kind": f"{_TOURNAMENT_PASSAGE}: units, dropout, activation per layer; learning "
                  "rate, weight decay and optimizer per network",
    "space.max_blocks": f"{_TOURNAMENT_PASSAGE}: up to 4 layers",
    "ga.population": f"{_TOURNAMENT_PASSAGE}: population 50",
    "ga.generations": f"{_TOURNAMENT_PASSAGE}: 10 generations",
    "train.examples_per_candidate": f"{_TOURNAMENT_PASSAGE}: each network trains on 10,000 "
                                    "examples",
}
_TOURNAMENT_DEPARTURES = (
    Departure(
        "the learning-rate gene takes 1e-4, 3e-4, 1e-3, 3e-3 or 1e-2 and the "
        "weight-decay gene 0, 1e-5, 1e-4 or 1e-3",
        "the source names these genes without tables; these are this project's", (),
        f"{_TOURNAMENT_PASSAGE}: the genes it lists"),
    Departure(
        "the add/remove-layer mutation adds or removes with equal probability whatever the "
        "training-set size; the source ties its layer removal to its 10,000-example limit",
        "one add/remove operator (genetics/mutation.py) serves every dense space; the "
        "limit itself is kept (train.examples_per_candidate)", (),
        f"{_TOURNAMENT_PASSAGE}: layer removal"),
    silent(("train.epochs", "train.batch_size"), "5 epochs of batch 128 per candidate",
            f"{_TOURNAMENT_PASSAGE}: training of a candidate"),
    validation("the source's text does not say which split scores a candidate",
                f"{_TOURNAMENT_PASSAGE}: fitness"),
    ENGINE_FINAL,
    digits("the source trains on MNIST (28x28, 60,000 training images); digits has fewer "
            "training images than the 10,000-example limit, so there every candidate "
            "trains on all of them"),
)

SOURCES: dict[str, tuple[str, dict[str, str], tuple[Departure, ...]]] = {
    "quick": (
        "none: the project's own small VLGA preset (2 phases of 3 generations of 8 on a "
        "reduced space), sized for a demo on 2 CPU cores", {}, ()),
    "paper": (
        f"{PAPER}: Table 1's space, the VLGA's phases with weight transfer, uniform "
        "crossover, 5 epochs per candidate, fitness on validation accuracy",
        PAPER_SOURCED,
        (paper_silent(PAPER_SILENT_SETTINGS), ONE_GENE, VAL_SHARE,
         digits("the paper runs CIFAR-10"), gap_head(True), LEAKY_SLOPE, PAPER_FINAL)),
    "report": (
        f"{REPORT}: p=10, g=3, 5 phases, one-point crossover, softmax parents, mutation "
        "0.1, earlier phases frozen, 3 epochs, batch 256",
        {"ga.strategy": "the report's text: the VLGA, phase by phase",
         "space.kind": "the report's code: conv a, optional conv b, pooling and skip",
         "space.max_blocks": "the report's code: 5 phases",
         "ga.max_phases": "the report's code: 5 phases",
         "space.channels": "the report's code: Table 1's filters",
         "space.kernels": "the report's code: Table 1's kernels",
         "space.activations": "the report's code: relu, elu, LeakyReLU",
         "ga.population": "the report's code: population 10",
         "ga.generations": "the report's code: 3 generations per phase",
         "ga.parent_selection": "the report's code: parents drawn by softmax of fitness",
         "ga.softmax_temperature": "the report's code: softmax of the raw fitness",
         "ga.crossover": "the report's code: one-point crossover",
         "ga.mutation_rate": "the report's code: mutation probability 0.1",
         "ga.stop_drop": "the report's code: every phase runs (no stop rule)",
         "ga.phase_winner": "the report's code: the best of a phase's last generation",
         "train.transfer": "the report's code: earlier phases' layers set untrainable",
         "train.epochs": "the report's code: 3 epochs", "train.batch_size":
         "the report's code: batch 256", "train.optimizer": "the report's code: Adam",
         "train.learning_rate": "the report's code: Keras' Adam default, 1e-3"},
        (
            silent(("ga.fit_survival_rate", "ga.unfit_survival_prob", "train.weight_decay",
                     "train.dropout"), "fit survival 0.5, unfit survival 0.2, no weight "
                    "decay, head dropout 0", "the report's code: its selection of parents"),
            validation("the report's code trains on all 50,000 CIFAR-10 training images and "
                        "scores every candidate on the test set (model.evaluate(test_ds))",
                        "the report's notebook, generation.ipynb"),
            digits("the report's code loads CIFAR-10"),
            Departure(
                "a block pools 2x2 with stride 2 at its end (after conv b and the skip); "
                "the report's code pools with stride 1 and 'same' padding right after "
                "conv a, so its pools never lower the resolution",
                "pooling is there to halve the resolution; with stride 1 every block of a "
                "deep network runs at full resolution", (), "the report's code: MaxPool2D"),
            Departure(
                "the skip connection adds a 1x1 projection of the block's input; the "
                "report's code projects the network's input image (`inputs`) whenever "
                "the block has conv b",
                "a residual connection spans its own block; projecting the raw image into "
                "a later block only works there because its pools never downsample", (),
                "the report's code: the skip branch"),
            Departure(
                "every conv has a bias; the report's code sets use_bias=include_BN (a "
                "bias only where batch norm follows and removes it)",
                "the condition reads as inverted: a bias before batch norm is cancelled, "
                "one without batch norm is needed", (), "the report's code: Conv2D"),
            Departure(
                "one-point crossover cuts uniformly in [1, n-1] over the phase's genes "
                "(block genes, then globals), so a child takes genes from both parents; "
                "the report's code cuts after gene i, i uniform in [0, n-1], over its "
                "dict order, so 1 child in n copies its first parent",
                "a copy of a parent is a wasted child (here a cache hit, a slot with no "
                "new network)", (), "the report's code: crossover"),
            dataclasses.replace(
                ONE_GENE, what="a mutated individual changes exactly one gene its network "
                "reads, to another value of its table; the report's code redraws a gene "
                "from its whole table, so a 'mutation' may keep the old value",
                passage="the report's code: mutation"),
            Departure(
                "images are standardised per channel with the training split's mean and "
                "std; the report's code divides pixels by 255",
                "one input convention for the VLGA presets and their exported models", (),
                "the report's code: the dataset pipeline"),
            LEAKY_SLOPE,
            Departure(
                "final training of the best network: up to train.final_epochs=30 epochs, "
                "keeping the best epoch by validation accuracy (patience 5)",
                "the report's text (step 12) trains the best model for more epochs until "
                "convergence, which its notebook does not do; here convergence is judged "
                "on validation data", ("train.final_epochs", "train.patience"),
                "the report's text, step 12: \"train for more epochs until convergence\""),
        )),
    "modified-vlga": (
        "the modified VLGA write-up and its own comparison of random search, a classical GA "
        "and the VLGA (its table is its own results, not the paper's): fitness-weighted "
        "choice of crossover parents, 3 epochs of fitness training, earlier phases frozen",
        {"ga.parent_selection": "the modified-VLGA write-up: fitness-weighted crossover "
                                "parents (here proportional to fitness, a roulette wheel)",
         "train.epochs": "the modified-VLGA write-up: 3 epochs of fitness training",
         "train.transfer": "the modified-VLGA write-up: earlier phases frozen"},
        (
            Departure(
                "every other setting is the paper preset's (vlga presets --explain paper: "
                "Table 1's space, the paper's steps, the project's values where the paper "
                "gives none)",
                "the modified VLGA changes the paper's algorithm only in the parent choice, "
                "fitness length and transfer; the rest is taken from the paper it modifies",
                tuple(k for k in (*PAPER_SOURCED, *PAPER_SILENT_SETTINGS,
                                  "ga.mutation_mode")
                      if k not in ("ga.parent_selection", "train.epochs", "train.transfer")),
                "the modified-VLGA write-up: it starts from Xiao et al.'s algorithm"),
            VAL_SHARE, digits("the write-up runs CIFAR-10"), gap_head(True),
            LEAKY_SLOPE, PAPER_FINAL)),
    "binary-cnn": (
        "a fixed-length binary-encoded CNN GA: 20-bit chromosome (filters in 2 bits, filter "
        "scale, kernel, activation, stages, dropout, then the 13th-19th bits: one per stage, "
        "1 = one conv, 0 = two), dense head, CIFAR-10/100, population 4, 20 generations, "
        "bit-flip mutation at 1/population, pixels divided by 255",
        {"ga.strategy": "the binary GA's text: a fixed-length chromosome evolved whole",
         "space.kind": "the binary GA's text: the 20-bit chromosome and its decoding",
         "space.max_blocks": "the binary GA's text: 7 stage bits, the 13th-19th",
         "ga.population": "the binary GA's text: population 4",
         "ga.generations": "the binary GA's text: 20 generations",
         "ga.mutation_mode": "the binary GA's text: each bit flips independently",
         "ga.mutation_rate": "the binary GA's text: mutation rate 1/population",
         "data.scaling": "the binary GA's text: pixels divided by 255"},
        (
            Departure(
                "survivors: the better half by fitness (ga.fit_survival_rate=0.5, no unfit "
                "survivors); parents drawn in proportion to fitness; one-point crossover, "
                "one child per pair. The source's code (GA.py) replaces the whole "
                "population with children, draws parents by tournaments of size 1 (at "
                "random) and keeps both children of a pair",
                "the project's choices: with 4 networks and no survivor a generation can "
                "lose its best network, and parents drawn at random ignore fitness",
                ("ga.fit_survival_rate", "ga.unfit_survival_prob", "ga.parent_selection",
                 "ga.crossover"),
                "the binary GA's code (GA.py): selection, crossover and the generation "
                "loop"),
            silent(("train.epochs", "train.batch_size", "train.optimizer",
                     "train.learning_rate", "train.weight_decay"), "2 epochs of Adam at "
                    "Keras' default 1e-3, batch 128, no weight decay",
                    "the binary GA's text: training of a candidate"),
            Departure(
                "global average pooling, not flatten, before the Dense(2048)-Dense(1024) "
                "head (on 8x8 digits the two agree once 3 stages have pooled the image to "
                "1x1)",
                "flatten makes the head's input size depend on the image size and the "
                "number of pooled stages; global pooling lets networks of different depths "
                "share head shapes", (), "the binary GA's text: the dense head"),
            Departure(
                "the gene tables are this project's, sized for 8x8 digits on CPUs: filters "
                "8/16/32/64, filter scales x1-x2.5 per stage, kernels 1/3/5/7, activations "
                "relu/elu/leaky_relu/selu (the source's 2-bit field names relu and elu), "
                "stages 1-7 in 3 bits (the unused code wraps to 1 stage), dropout 0-0.5; "
                "the bit widths, the global genes first and the per-stage bits last with "
                "1 = one conv are the source's (genetics/space.py binary_cnn)",
                "the source's widths are sized for CIFAR on a GPU; a fixed 20-bit layout "
                "keeps one-point crossover's linkage as the source has it", (),
                "the binary GA's text: the chromosome table"),
            Departure(
                "the per-stage bits are bits 13-19 counted from 0, the last 7 of the 20; "
                "the source's code reads them from bits 12-18 counted from 0 (its text's "
                "13th-19th bits) and leaves bit 19 unused, which overlaps its dropout "
                "field",
                "13 bits of global genes then 7 stage bits fill the 20 bits without "
                "overlap", (), "the binary GA's text and its code (GA.py): the "
                "13th-19th bits"),
            Departure(
                "one-point crossover cuts between genes; the source's code cuts at any bit",
                "a cut inside a gene makes a value neither parent has; cuts between "
                "genes keep every gene a parent's", (), "the binary GA's code: crossover"),
            Departure(
                "a stage pools 2x2 only while the image is larger than 1x1 (8x8 digits: "
                "at most 3 pooled stages; 32x32: 5)",
                "7 stages of 2x2 pooling would shrink the image below one pixel", (),
                "the binary GA's text: a pool per stage"),
            validation("the source's text does not say which split scores a candidate",
                        "the binary GA's text: fitness"),
            ENGINE_FINAL,
            digits("the source ran CIFAR-10 and CIFAR-100"),
        )),
    "mlp-ga": (
        f"an MLP GA, {MLP_SOURCE}: 1-4 dense layers of one width (64-1024), activation, "
        "optimizer (672 networks); population 20, 10 generations, retain 0.4, random select "
        "0.1, mutate 0.2",
        {"ga.strategy": "main.py: a generational GA over network parameters",
         "space.kind": "main.py: nb_layers, nb_neurons, activation, optimizer choices",
         "space.max_blocks": "main.py: nb_layers 1 to 4",
         "ga.population": "main.py: population 20", "ga.generations": "main.py: 10",
         "ga.parent_selection": "optimizer.py: parents drawn at random among the kept",
         "ga.crossover": "optimizer.py breed: each parameter from either parent",
         "train.learning_rate": "train.py: each optimizer by name, at its Keras default",
         "train.weight_decay": "train.py: no weight decay"},
        (
            Departure(
                "selection and mutation follow the author's code (optimizer.py: keep the "
                "top 40%, keep each other network with probability 0.1, mutate each child "
                "with probability 0.2, one parameter redrawn); the blog text keeps the top "
                "25% plus about 3 random losers and mutates a few of the kept networks",
                "the code is what produced the author's results; the text describes an "
                "earlier version", ("ga.fit_survival_rate", "ga.unfit_survival_prob",
                                    "ga.mutation_rate"),
                "the blog text's description of evolve() against optimizer.py"),
            Departure(
                "each optimizer at its Keras 2 default learning rate, as the source "
                "(train.learning_rate=None), but SGD has momentum 0.9 where Keras' "
                "default has none, and adadelta uses optax's rho 0.9 and eps 1e-6 "
                "(Keras 2: rho 0.95, eps 1e-7)",
                "one optimizer table serves every preset (networks/architecture.py); the "
                "learning rate is the setting that decides whether adadelta and SGD train "
                "at all", (), "train.py: model.compile(optimizer=name)"),
            Departure(
                "every candidate trains a fixed 5 epochs (train.epochs); the source trains "
                "each until its loss on the test set stops improving (Keras "
                "EarlyStopping, patience 5, up to 10,000 epochs)",
                "a fixed length gives every candidate the same cost, so candidates train "
                "batched in one program and ga.budget_epochs counts exactly",
                ("train.epochs",), "train.py: EarlyStopping"),
            validation("the source scores on the test set (also its early-stopping data)",
                        "train.py: model.evaluate(x_test, y_test)"),
            Departure(
                "batch size 128 (train.batch_size); the source uses 64 on CIFAR-10 (128 "
                "on MNIST)",
                "the engine's default; --set train.batch_size=64 gives the source's",
                ("train.batch_size",), "train.py: get_cifar10, get_mnist"),
            Departure(
                "one child per drawn parent pair; the source breeds two children per pair "
                "(each gene from either parent, independently)",
                "each child has the same law; drawing a pair per free slot lets one "
                "fixed-shape step fill any number of slots", (), "optimizer.py: breed"),
            dataclasses.replace(
                ONE_GENE, what="a mutated child changes exactly one parameter to another "
                "value of its table; the source redraws it from the whole table, so a "
                "'mutation' may keep the old value", passage="optimizer.py: mutate"),
            Departure(
                "final training of the best candidate is added (train.final_epochs=30, "
                "early stopping on validation accuracy, patience 5); the source reports "
                "its best candidate's search-time accuracy",
                "the result is then a trained network whose test accuracy is measured "
                "once, after the search", ("train.final_epochs", "train.patience"),
                "main.py: print_networks of the final population"),
            digits("the source's main.py runs CIFAR-10 (MNIST optional)"),
        )),
    "grid": (
        f"the brute-force baseline of the MLP GA, {MLP_REPO} (brute.py): every one of the "
        "672 networks, each trained to early stopping",
        {"ga.strategy": "brute.py: every combination of the parameters",
         "space.kind": "brute.py: the mlp-ga parameter choices",
         "space.max_blocks": "brute.py: nb_layers 1 to 4"},
        (
            Departure(
                "order: depth first (1 layer, then 2, ...), then width, activation and "
                "optimizer, the last varying fastest, 20 networks per step "
                "(ga.population); the source's loops run width, layers, activation, "
                "optimizer, one network at a time",
                "the order does not change an exhaustive search's result; depth first "
                "keeps a budgeted prefix (ga.budget_epochs) on complete small networks; 20 "
                "per step train batched", ("ga.population",), "brute.py: its loops"),
            Departure(
                "training as in the mlp-ga preset: 5 epochs per candidate, Keras default "
                "learning rates, dropout 0.2, batch 128, validation fitness, a final "
                "training (see vlga presets --explain mlp-ga)",
                "the same trainer and space as mlp-ga, so the two compare",
                ("train.epochs", "train.batch_size", "train.learning_rate",
                 "train.weight_decay", "train.final_epochs", "train.patience",
                 "data.val_fraction"), "brute.py: train_and_score"),
            digits("the source's brute.py runs CIFAR-10"),
        )),
    "tournament": (
        "tournament evolution: population 50, tournament size 3, winners mutated into "
        "offspring (no crossover, no elites), per-gene mutation rates, add/remove-layer "
        "mutation, 10,000 training examples per candidate; units, dropout, activation per "
        "layer; learning rate, weight decay and optimizer genes",
        {**_TOURNAMENT_SOURCED,
         "ga.parent_selection": f"{_TOURNAMENT_PASSAGE}: tournament selection",
         "ga.tournament_size": f"{_TOURNAMENT_PASSAGE}: tournaments of 3",
         "ga.elites": f"{_TOURNAMENT_PASSAGE}: every slot is a mutated tournament winner",
         "ga.crossover": f"{_TOURNAMENT_PASSAGE}: no crossover (merging parents is its "
                         "future work)",
         "ga.gene_rates": f"{_TOURNAMENT_PASSAGE}: a mutation probability per gene",
         "ga.layer_mutation_rate": f"{_TOURNAMENT_PASSAGE}: add/remove-layer mutation"},
        _TOURNAMENT_DEPARTURES),
    "random-population": (
        "the random-population baseline that tournament evolution is compared with: the "
        "same space and training, a fresh random population every generation",
        {**_TOURNAMENT_SOURCED,
         "ga.strategy": f"{_TOURNAMENT_PASSAGE}: its baseline, a random population each "
                        "generation"},
        tuple(d for d in _TOURNAMENT_DEPARTURES if "add/remove" not in d.what)),
    "random": (
        f"the random-search baseline of {PAPER} (its comparison with a classical GA), on "
        "the paper preset's space and budget (5 phases x 5 generations x 20 candidates)",
        {"ga.strategy": f"{XIAO}: random search as a baseline",
         **{k: v for k, v in PAPER_SOURCED.items()
            if k in ("space.kind", "space.channels", "space.kernels", "space.activations",
                     "train.epochs")}},
        (silent(("space.max_blocks", "ga.population", "ga.generations", "train.optimizer",
                  "train.learning_rate", "train.batch_size", "train.weight_decay",
                  "train.dropout"), "networks of 1-5 blocks, 20 per step for 25 steps (the "
                 "paper preset's budget), Adam at 1e-3, batch 128, no weight decay, head "
                 "dropout 0", f"{XIAO}: the baselines' description"),
         VAL_SHARE, digits("the paper runs CIFAR-10"), gap_head(False), LEAKY_SLOPE,
         PAPER_FINAL)),
    "classical-ga": (
        f"the classical-GA baseline of {PAPER}: a fixed-length GA over CNNs of 3 blocks "
        "from the paper's gene tables",
        {"ga.strategy": f"{XIAO}: a classical GA as a baseline",
         "space.kind": f"{XIAO}: the classical GA evolves fixed-length CNNs of Table 1 "
                       "blocks",
         **{k: v for k, v in PAPER_SOURCED.items()
            if k in ("space.channels", "space.kernels", "space.activations",
                     "train.epochs")}},
        (Departure(
            "3 blocks, one-point crossover, parents drawn in proportion to fitness, "
            "per-gene mutation 0.05, survival 0.5 and unfit survival 0.2, population 20 "
            "for 25 generations (the paper preset's budget)",
            "the source names a classical GA without its operators or depth; these are this "
            "project's reading of a classical GA", ("space.max_blocks", "ga.population",
            "ga.generations", "ga.fit_survival_rate", "ga.unfit_survival_prob",
            "ga.parent_selection", "ga.crossover", "ga.mutation_mode", "ga.mutation_rate"),
            f"{XIAO}: the baselines' description"),
         silent(("train.optimizer", "train.learning_rate", "train.batch_size",
                  "train.weight_decay", "train.dropout"), "Adam at 1e-3, batch 128, no "
                 "weight decay, head dropout 0", f"{XIAO}: the baselines' description"),
         VAL_SHARE, digits("the paper runs CIFAR-10"), gap_head(False), LEAKY_SLOPE,
         PAPER_FINAL)),
    "quick-halving": (
        "none: the quick preset with successive halving in every generation (population "
        "16; rungs of 1, 2 and 4 epochs, the best half continuing), the early termination "
        "of weak candidates that Xiao et al. 2020 name as future work; about the same "
        "candidate-epochs per generation as quick", {}, ()),
}
