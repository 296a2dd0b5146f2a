"""Names and choice lists shared across the package (a leaf: it imports nothing).

Config validation, the operators, the trainer and the model read their allowed values
from here, so a choice is added in one place. The parameter-tree names of a network
(``block_0``, ..., ``head``; ``conv_a``, ``conv_b`` inside a conv block) are built and
parsed with `block_name`, `block_index` and `conv_name`.
"""

from __future__ import annotations

# Optimizers (`vlga_jax.training.trainer.make_optimizer`), in the order of the config's docs.
OPTIMIZERS = ("adam", "adamw", "sgd", "rmsprop", "adagrad", "adadelta", "adamax", "nadam")

# Genetic operators (`vlga_jax.genetics.operators`).
CROSSOVERS = ("uniform", "one_point")
# ga.crossover: "none" (children are mutated copies of one winner) is for tournament only.
GA_CROSSOVERS = (*CROSSOVERS, "none")
PARENT_SELECTIONS = ("uniform", "fitness", "softmax", "rank", "tournament")
# How `operators.mutate` picks genes: one per member, or each with its rate.
MUTATION_MODES = ("one", "per_gene")
# ``ga.mutation_mode``: an operator mode, or "bitflip" (the binary-CNN strategy's own).
GA_MUTATION_MODES = (*MUTATION_MODES, "bitflip")

# Convolution implementations (`vlga_jax.networks.conv.CONV_IMPLS` holds one function per name).
CONV_IMPLS = ("lax", "lax_unrolled", "lax_map", "shift_accumulate", "shift_concat")
# How a training step runs (`vlga_jax.training.trainer.STEP_MODES` documents each).
STEP_MODES = ("auto", "fused", "chain")
# The trainer's bucket cost model (`vlga_jax.training.trainer`): constant figures or measured ones.
COST_MODELS = ("fixed", "measured")
# Training-time augmentations, in the order `vlga_jax.networks.augment.augment` applies them.
AUGMENTATIONS = ("crop", "flip")

_BLOCK = "block_"
_CONVS = "ab"


def block_name(i: int) -> str:
    """The parameter-tree name of block ``i`` (``block_3``)."""
    return f"{_BLOCK}{i}"


def block_index(name: str) -> int | None:
    """``i`` for ``block_i``; None for any other name (``head``)."""
    if name.startswith(_BLOCK) and name[len(_BLOCK):].isdigit():
        return int(name[len(_BLOCK):])
    return None


def conv_name(j: int) -> str:
    """The name of conv ``j`` (0 or 1) inside a conv block: ``conv_a``, ``conv_b``."""
    return f"conv_{_CONVS[j]}"


def bn_name(j: int) -> str:
    """The name of conv ``j``'s batch norm inside a conv block: ``bn_a``, ``bn_b``."""
    return f"bn_{_CONVS[j]}"
