"""The departures several presets share, and the sources' names (`Departure` records for
`vlga_jax.config.preset_sources`).

A `Departure` names what differs from a preset's source, why, the settings (dotted config
fields) it covers and the source passage it is measured against; `silent` records values
the source does not give (the project chose them).
"""

from __future__ import annotations

import dataclasses

PAPER = ("Xiao, Yan, Basodi, Ji & Pan 2020, \"Efficient Hyperparameter Optimization in "
         "Deep Learning Using a Variable Length Genetic Algorithm\" (arXiv:2006.12703)")
REPORT = ("the W&B report \"Survival of the Fittest CNN Model\" (A. R. Gosthipaty) and its "
          "Keras code, ariG23498/GA-hyper-params (Notebooks/generation.ipynb)")
XIAO = "Xiao et al. 2020"
MLP_REPO = "harvitronix/neural-network-genetic-algorithm"
MLP_SOURCE = (f"Matt Harvey's 2017 blog post on evolving MLPs with a genetic algorithm and "
              f"its code, {MLP_REPO} (main.py, optimizer.py, train.py)")


@dataclasses.dataclass(frozen=True)
class Departure:
    """One difference from a preset's source: ``what`` differs, ``why``, the ``settings``
    (dotted config fields) it covers and the source ``passage`` it is measured against."""

    what: str
    why: str
    settings: tuple[str, ...] = ()
    passage: str = ""


def silent(settings: tuple[str, ...], values: str, passage: str,
            why: str = "the source gives no value for them; these are the engine's "
                       "defaults or sized for small images on CPUs") -> Departure:
    """The values of ``settings`` that the source does not give: the project's choice."""
    return Departure(f"{values}: values this project chose", why, settings, passage)


# -- departures shared by several presets ---------------------------------------------------

def digits(source_data: str) -> Departure:
    return Departure(
        "the default dataset (data.name) is scikit-learn's digits, 1,797 8x8 grey images; "
        f"{source_data}",
        "digits ships inside scikit-learn, so a run needs no download (machines may be "
        "offline); --dataset NAME --data-dir DIR runs a prepared tensorflow-datasets "
        "dataset such as cifar10", ("data.name",), "the source's experiments section")


def validation(source_scores: str, passage: str) -> Departure:
    return Departure(
        "search fitness is validation accuracy on a held-out 10% of the training data "
        f"(data.val_fraction); {source_scores}",
        "choosing networks by their test accuracy makes the reported test accuracy "
        "optimistic; here the test set is read once, by the final model",
        ("data.val_fraction",), passage)


VAL_SHARE = Departure(
    "the validation split is 10% of the training data (data.val_fraction)",
    "the source scores fitness on validation accuracy but its split size is not this "
    "project's to copy onto digits; 10% of digits' training images is 144 images",
    ("data.val_fraction",), f"{XIAO}: fitness is the candidate's validation accuracy")
LEAKY_SLOPE = Departure(
    "leaky_relu has slope 0.01 (flax's and PyTorch's default), not Keras' default 0.3 "
    "(the slope the W&B report's Keras code gets)",
    "one activation table serves every space and preset (networks/activations.py); a "
    "preset cannot change a slope", (), "Table 1 names LeakyReLU without a slope")


def gap_head(phases: bool) -> Departure:
    return Departure(
        "every network ends in global average pooling and one dense classifier (Table 1 "
        "has no head genes; this is the head of the W&B report's Keras code)",
        "the classifier's shape then depends only on the last block's channels, not on the "
        "image size or on whether the last block pools, so candidates share compiled "
        "programs" + (" and a new phase replaces only the head" if phases else ""),
        (), "Table 1 (no head genes)")


ENGINE_FINAL = Departure(
    "final training: the best candidate of the whole search trains up to "
    "train.final_epochs=30 more epochs and keeps its best epoch by validation accuracy "
    "(patience 5); the source has no such step",
    "this engine's rule for every preset: the result is a trained network whose test "
    "accuracy is measured once, after the search, and its length is chosen on validation "
    "data, never on the test set", ("train.final_epochs", "train.patience"),
    "the source's description of its loop (it ends with the search)")
ONE_GENE = Departure(
    "a mutated individual changes exactly one gene that its network reads (a gene of conv "
    "b only where the block has conv b), to another value of its table",
    "a mutation that changes nothing, or only an unread gene, would retrain the same "
    "network (here a cache hit that wastes a slot); one gene is the plainest reading of "
    "'mutate an individual'", ("ga.mutation_mode",), f"{XIAO}: the mutation step")


def paper_silent(settings: tuple[str, ...]) -> Departure:
    return silent(settings, "population 20, 5 generations per phase, fit survival 0.5, unfit "
                   "survival 0.2, mutation 0.2, stop when a phase's best drops more than "
                   "0.01, Adam at 1e-3, batch 128, no weight decay, head dropout 0, up to 5 "
                   "phases, parents drawn uniformly among survivors, a phase's winner the "
                   "best of its last generation", f"{XIAO}: the algorithm's description "
                   "names these steps (survival of the fit and some unfit, mutation, "
                   "crossover, a stop when a phase does worse) but not their values",
                   why="the paper's text gives no values for these steps; these are the "
                   "values this preset has had from the start, Adam and batch 128 the "
                   "engine's defaults")


PAPER_SILENT_SETTINGS = (
    "ga.population", "ga.generations", "ga.fit_survival_rate", "ga.unfit_survival_prob",
    "ga.mutation_rate", "ga.stop_drop", "ga.max_phases", "space.max_blocks",
    "ga.parent_selection", "ga.phase_winner", "train.optimizer", "train.learning_rate",
    "train.batch_size", "train.weight_decay", "train.dropout")
PAPER_FINAL = Departure(
    "final training of the best network: up to train.final_epochs=30 epochs, keeping the "
    "best epoch by validation accuracy (patience 5)",
    "the source trains its best network further without giving a length; an early-stopped "
    "length is chosen on validation data, never on the test set",
    ("train.final_epochs", "train.patience"), f"{XIAO}: the best network is trained "
    "further once the search ends")
PAPER_SOURCED = {
    "ga.strategy": f"{XIAO}: the variable-length GA, one block added per phase",
    "space.kind": "Table 1: a block is conv a, an optional conv b, optional pooling and skip",
    "space.channels": "Table 1: filters 8 to 512", "space.kernels": "Table 1: kernels 1 to 9",
    "space.activations": "Table 1: ReLU, ELU, LeakyReLU",
    "ga.crossover": f"{XIAO}: uniform crossover of two parents",
    "train.transfer": f"{XIAO}: a phase reuses the previous winner's trained blocks",
    "train.epochs": f"{XIAO}: each candidate trains 5 epochs",
}

