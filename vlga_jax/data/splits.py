"""Seeded, stratified splits of labelled examples, and per-class subsets.

A split takes a share of every class (the test or validation split). Each stage draws
from its own seed stream (`seed_stream`), so changing one stage never reshuffles
another.
"""

from __future__ import annotations

import numpy as np

from vlga_jax.core import streams

# Seed streams, so that changing one stage never reshuffles another (`vlga_jax.core.streams`).
STREAM_TEST, STREAM_SUBSET, STREAM_VAL = streams.DATA_TEST, streams.DATA_SUBSET, streams.DATA_VAL


def seed_stream(seed: int, stream: int) -> np.random.Generator:
    """The generator of ``stream`` (a `STREAM_*`) under ``seed``."""
    return np.random.default_rng([int(seed), stream])


def stratified_split(
    y: np.ndarray, fraction: float, rng: np.random.Generator, what: str, split: str
) -> tuple[np.ndarray, np.ndarray]:
    """Seeded stratified split of ``range(len(y))``: sorted ``(keep, take)`` indices.

    Class ``c`` with ``n_c`` examples gives ``floor(fraction * n_c)`` or one more to
    ``take`` (largest remainders first, ties broken by ``rng``), never all of them.
    """
    classes, counts = np.unique(y, return_counts=True)
    if (counts < 2).any():
        bad = classes[counts < 2]
        raise ValueError(
            f"class {int(bad[0])} has fewer than 2 examples; stratified {split} split "
            f"needs at least 2 per class ({len(bad)} such classes)"
        )
    exact = fraction * counts
    n_take = np.floor(exact).astype(np.int64)
    total = min(int(round(fraction * len(y))), len(y) - len(classes))
    extra = total - int(n_take.sum())
    if extra > 0:
        remainder = exact - n_take
        eligible = n_take + 1 < counts
        order = np.lexsort((rng.random(len(classes)), -remainder))
        order = order[eligible[order]][:extra]
        n_take[order] += 1
    if n_take.sum() == 0:
        raise ValueError(
            f"{what}={fraction} leaves the {split} split empty ({len(y)} examples to split)"
        )
    take = []
    for c, k in zip(classes, n_take, strict=True):
        members = np.flatnonzero(y == c)
        take.append(rng.choice(members, size=int(k), replace=False))
    take = np.sort(np.concatenate(take))
    keep = np.setdiff1d(np.arange(len(y)), take, assume_unique=True)
    return keep, take


def per_class_subset(y: np.ndarray, n: int, rng: np.random.Generator) -> np.ndarray:
    """Sorted indices of a seeded random ``n`` examples per class (all, if fewer)."""
    picks = []
    for c in np.unique(y):
        members = np.flatnonzero(y == c)
        picks.append(rng.choice(members, size=min(n, len(members)), replace=False))
    return np.sort(np.concatenate(picks))
