"""`TrainConfig`: how candidates and the final network train, validated on construction."""

from __future__ import annotations

import dataclasses

from vlga_jax.config.coerce import coerce_fields
from vlga_jax.core.checks import choice, integer, require
from vlga_jax.core.names import (
    AUGMENTATIONS,
    CONV_IMPLS,
    COST_MODELS,
    OPTIMIZERS,
    STEP_MODES,
)

TRANSFERS = ("finetune", "freeze")
FINAL_STARTS = ("search", "scratch")
# Bounds past which no candidate trains (diverged or decayed to one class): refused.
MAX_LEARNING_RATE = 10.0
MAX_WEIGHT_DECAY = 1.0


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
            (`vlga_jax.networks.architecture.DEFAULT_LEARNING_RATES`: adam 1e-3, sgd 1e-2,
            adadelta 1.0, ...), as the seed systems' presets use; a number: that rate for
            every optimizer.
        weight_decay: decoupled weight decay (unless the space searches it).
        dropout: dropout rate before the head (unless the space searches it).
        transfer: how a VLGA phase uses the inherited blocks: finetune (train them too) or
            freeze (train only the new block and the head).
        final_epochs: the most epochs of final training of the winner (0: none).
        patience: final training stops after this many epochs without a better one.
        final_start: final training starts from the winner's search weights (search) or
            from a fresh initialisation (scratch); either way its best epoch is judged on
            its own validation curve (accuracy, ties broken by lower loss).
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
        augment: training-time augmentation (conv networks only), drawn on the device
            from each candidate's key: crop (pad by crop_padding pixels with zeros, crop
            back at a random offset) and/or flip (mirror left-right with probability 1/2).
        crop_padding: pixels of padding before a random crop.
        halving_min_epochs: successive halving inside a generation (0: off): new
            candidates train this many epochs first (see `rungs`, `vlga_jax.search.halving`).
        halving_eta: the best 1/eta of a rung continue (same parameters and optimizer
            state) to eta times its epochs, and so on up to epochs.
        max_candidate_gflop: the most training GFLOP per example (forward and backward
            pass of one image, `Architecture.flops_per_example` / 1e9) a search
            candidate may cost (None: no cap, as the presets run). A candidate above it is
            infeasible: recorded with the reason, not trained, and given the worst
            fitness; the run's start-up warning suggests a value for this machine
            (`vlga_jax.training.feasibility`). A cap on FLOPs, never on seconds: which
            candidates train must not depend on the machine's load.
        examples_per_candidate: the training examples each search candidate trains on
            (None: the whole training split): a fixed subset of min(this, training
            rows) drawn from the candidate's own key (candidates see different subsets;
            one key, one subset, through every rung of halving), each epoch a fresh
            permutation of it, examples // batch_size steps. Validation is on the whole
            validation split; final training of the winner (final_epochs) uses the
            whole training split (`vlga_jax.training.subsets`).
    """

    epochs: int = 4
    batch_size: int = 128
    eval_batch_size: int = 256
    optimizer: str = "adam"
    learning_rate: float | None = 3e-3
    weight_decay: float = 0.0
    dropout: float = 0.0
    transfer: str = "finetune"
    final_epochs: int = 40
    patience: int = 8
    final_start: str = "search"
    conv_impl: str | None = None
    pad_shapes: bool = True
    cost_model: str = "fixed"
    step_mode: str = "auto"
    members_per_call: int | None = None
    augment: tuple[str, ...] = ()
    crop_padding: int = 4
    halving_min_epochs: int = 0
    halving_eta: int = 3
    max_candidate_gflop: float | None = None
    examples_per_candidate: int | None = None

    def __post_init__(self):
        coerce_fields(self, "train")
        integer("train.epochs", self.epochs)
        integer("train.batch_size", self.batch_size)
        integer("train.eval_batch_size", self.eval_batch_size)
        choice("train.optimizer", self.optimizer, OPTIMIZERS)
        require(self.learning_rate is None or (isinstance(self.learning_rate, int | float)
                                               and self.learning_rate > 0),
                "train.learning_rate",
                "None (each optimizer's default) or > 0", self.learning_rate)
        require(self.learning_rate is None or self.learning_rate <= MAX_LEARNING_RATE,
                "train.learning_rate", f"<= {MAX_LEARNING_RATE:g} (SGD trains below ~1, "
                "Adam below ~0.1; larger steps diverge)", self.learning_rate)
        require(isinstance(self.weight_decay, int | float) and self.weight_decay >= 0,
                "train.weight_decay", ">= 0", self.weight_decay)
        require(self.weight_decay <= MAX_WEIGHT_DECAY, "train.weight_decay",
                f"in [0, {MAX_WEIGHT_DECAY:g}] (typical: 1e-5 to 1e-2; above 1 the decay "
                "outweighs the loss and every network predicts one class)", self.weight_decay)
        require(isinstance(self.dropout, int | float) and 0 <= self.dropout < 1,
                "train.dropout", "in [0, 1)", self.dropout)
        choice("train.transfer", self.transfer, TRANSFERS)
        integer("train.final_epochs", self.final_epochs, 0)
        integer("train.patience", self.patience)
        choice("train.final_start", self.final_start, FINAL_STARTS)
        choice("train.conv_impl", self.conv_impl, (None, "auto", *CONV_IMPLS))
        choice("train.cost_model", self.cost_model, COST_MODELS)
        choice("train.step_mode", self.step_mode, STEP_MODES)
        if self.members_per_call is not None:
            integer("train.members_per_call", self.members_per_call)
        for name in self.augment:
            require(name in AUGMENTATIONS, "train.augment",
                    f"names from {AUGMENTATIONS} (e.g. 'crop,flip')", self.augment)
        require(len(set(self.augment)) == len(self.augment), "train.augment",
                "names without repeats", self.augment)
        integer("train.crop_padding", self.crop_padding)
        integer("train.halving_min_epochs", self.halving_min_epochs, 0)
        require(self.halving_min_epochs < self.epochs, "train.halving_min_epochs",
                f"< train.epochs ({self.epochs}), or 0 for no halving",
                self.halving_min_epochs)
        integer("train.halving_eta", self.halving_eta, 2)
        if self.max_candidate_gflop is not None:
            require(self.max_candidate_gflop > 0, "train.max_candidate_gflop",
                    "None (no cap) or > 0 (GFLOP per training example)",
                    self.max_candidate_gflop)
        if self.examples_per_candidate is not None:
            integer("train.examples_per_candidate", self.examples_per_candidate)
            require(self.examples_per_candidate >= self.batch_size,
                    "train.examples_per_candidate", f"None (every training example) or >= "
                    f"train.batch_size ({self.batch_size}): an epoch trains examples // "
                    "batch_size minibatches", self.examples_per_candidate)

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
