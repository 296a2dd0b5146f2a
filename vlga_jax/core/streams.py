"""The random streams of a run, in one place: which numbers are folded into which key.

A run draws everything from the key given to `vlga_jax.evolve` (and the data seed):
changing one stream's number changes that stage's draws, and only that stage's. The
values are part of what makes a seed reproduce a run bit for bit: never change one.
"""

from __future__ import annotations

# -- the search (`vlga_jax.search`) -------------------------------------------------------
# ``jax.random.split(key, 3)`` of the run's key, in this order: the strategy's asks
# (``fold_in(strategy key, step)``), the candidates' training keys (``fold_in(train key,
# i)`` for the i-th new candidate) and final training's (``fold_in(final key, epoch)``).
SEARCH_KEYS = ("strategy", "train", "final")
# fold_in of a candidate's key drawing the fresh blocks and head of one that inherits
# its parent's first blocks (a fresh candidate is drawn from its key itself).
INHERIT_INIT = 7
# fold_in of the final key drawing final training's from-scratch initialisation
# (``train.final_start="scratch"``; its epochs use 0, 1, ...).
FINAL_SCRATCH = 1 << 30

# -- training (`vlga_jax.training`) -------------------------------------------------------
# fold_in of a member's key for its training draws (its initialisation used the key
# itself); rung k > 0 of successive halving trains from ``fold_in(key, k)`` instead.
TRAIN_AFTER_INIT = 1
# fold_in of a step's dropout key drawing its augmentation (flax only uses that key
# through fold_ins of hashed module paths): dropout draws stay as they were.
AUGMENT = 0x61756721
# fold_in of a candidate's key drawing its fixed subset of training rows
# (``train.examples_per_candidate``, `vlga_jax.training.subsets`).
EXAMPLES = 0x6578616D

# -- data (`vlga_jax.data.datasets`) ------------------------------------------------------
# Seed streams of the splits, so that changing one stage never reshuffles another.
DATA_TEST, DATA_SUBSET, DATA_VAL = 0, 1, 2
