"""What one candidate may cost: the cap ``train.max_candidate_gflop`` and the start-up
warning of a search space whose largest network trains slowly on this machine.

The cap counts FLOPs, never seconds, so which candidates train never depends on the
machine's load: a candidate whose training FLOPs per example (`Architecture.
flops_per_example`: one image's forward and backward pass) exceed the cap is
*infeasible*. `evolve` records it (``reason`` says why, ``infeasible`` is set), trains
nothing and gives it the worst fitness (-inf, as a failed candidate), so a capped run is
as reproducible as an uncapped one.

At start `start_warning` estimates one epoch of the largest network the search can build
(`largest_network`, at the cost model's figure for this platform, `vlga_jax.training.cost`) and,
when that exceeds `WARN_EPOCH_SECONDS`, says so with a cap to pass. The estimate is
arithmetic on shapes: it compiles and times nothing.
"""

from __future__ import annotations

import math
from collections.abc import Callable

from vlga_jax.genetics.space import SearchSpace
from vlga_jax.networks.architecture import Architecture
from vlga_jax.training.cost import EVAL_COST_DIVISOR, FIXED_FLOP_RATE

# Warn when one epoch of the largest network would take longer than this.
WARN_EPOCH_SECONDS = 60.0
# The suggested cap lets one epoch of any candidate take about this long.
SUGGESTED_EPOCH_SECONDS = 5.0
# FLOP/s of one device by platform, for the estimate (the cost model's CPU figure; no
# figure for accelerators, where such spaces train in reasonable time: no warning).
FLOP_RATES = {"cpu": FIXED_FLOP_RATE}


def infeasible_reason(arch: Architecture, cap_gflop: float | None) -> str:
    """Why ``arch`` may not train under the cap (GFLOP per training example), or ""."""
    if cap_gflop is None or arch.flops_per_example <= cap_gflop * 1e9:
        return ""
    return (f"infeasible: {arch.flops_per_example / 1e9:.3g} GFLOP per training example > "
            f"train.max_candidate_gflop={cap_gflop:g}")


def largest_network(space: SearchSpace, depth: int,
                    build: Callable[[dict], Architecture]) -> Architecture:
    """The network of ``space`` (at most ``depth`` blocks) with the most training FLOPs
    per example: every block alike, each gene (and the depth) set to its most costly
    value in turn until none changes. ``build`` maps a description (`genome.decode`'s
    form) to its Architecture. Exact when FLOPs grow with each gene on its own (more
    channels, larger kernels, a second conv, a skip, no pooling: the spaces here)."""
    depths = [d for d in space.depths() if d <= depth] or [min(space.depths())]
    best = None
    for start in (-1, 0):  # from every gene's last value (tables ascend), then its first
        found = _ascend(space, depths, build, start)
        if found is not None and (best is None
                                  or found.flops_per_example > best.flops_per_example):
            best = found
    if best is None:
        raise ValueError("the search space builds no network")
    return best


def _ascend(space: SearchSpace, depths: list[int], build, start: int) -> Architecture | None:
    """Coordinate ascent of `largest_network` from every gene's value at index ``start``."""
    block = {g.name: g.values[start] for g in space.block_genes}
    glob = {g.name: g.values[start] for g in space.global_genes
            if g.name != space.depth_gene}
    depth = max(depths)

    def make(block, glob, d):
        g = dict(glob)
        if space.depth_gene is not None:
            g[space.depth_gene] = d
        try:
            return build({"blocks": [dict(block) for _ in range(d)], "globals": g})
        except (ValueError, KeyError, TypeError):  # a combination that builds no network
            return None

    best = make(block, glob, depth)
    trials = ([("depth", None, d) for d in depths]
              + [("block", gene.name, v) for gene in space.block_genes for v in gene.values]
              + [("global", gene.name, v) for gene in space.global_genes
                 if gene.name != space.depth_gene for v in gene.values])
    for _ in range(4):
        changed = False
        for where, name, value in trials:
            b = {**block, name: value} if where == "block" else block
            g = {**glob, name: value} if where == "global" else glob
            d = value if where == "depth" else depth
            arch = make(b, g, d)
            if arch is not None and (best is None
                                     or arch.flops_per_example > best.flops_per_example):
                best, block, glob, depth, changed = arch, b, g, d, True
        if not changed:
            break
    return best


def suggested_cap(n_train: int, n_eval: int, platform: str) -> float | None:
    """GFLOP per example at which one epoch takes about `SUGGESTED_EPOCH_SECONDS`,
    rounded down to one significant digit (None: no figure for the platform)."""
    rate = FLOP_RATES.get(platform)
    if rate is None:
        return None
    gflop = SUGGESTED_EPOCH_SECONDS * rate / (n_train + n_eval / EVAL_COST_DIVISOR) / 1e9
    scale = 10 ** math.floor(math.log10(gflop))
    return math.floor(gflop / scale) * scale


def duration(seconds: float) -> str:
    """``seconds`` for people: ``45 s``, ``19 min``, ``2.5 h`` (negative: ``0 s``)."""
    seconds = max(0.0, seconds)
    if seconds < 120:
        return f"{seconds:.0f} s"
    if seconds < 7200:
        return f"{seconds / 60:.0f} min"
    return f"{seconds / 3600:.1f} h"


def start_warning(space: SearchSpace, depth: int, build: Callable[[dict], Architecture],
                  cap: float | None, n_train: int, n_eval: int, platform: str) -> str | None:
    """Two lines when one epoch of the largest network of ``space`` with at most
    ``depth`` blocks (under the cap ``train.max_candidate_gflop``, if set) would take over
    `WARN_EPOCH_SECONDS` here; else None."""
    if platform not in FLOP_RATES:
        return None
    largest = largest_network(space, depth, build)
    flops = largest.flops_per_example
    if cap is not None:
        flops = min(flops, cap * 1e9)
    rate = FLOP_RATES[platform]
    seconds = flops * (n_train + n_eval / EVAL_COST_DIVISOR) / rate  # one member, one device
    if seconds <= WARN_EPOCH_SECONDS:
        return None
    suggested = suggested_cap(n_train, n_eval, platform)
    what = (f"a network of {flops / 1e9:.3g} GFLOP per training example (the cap)"
            if cap is not None and flops < largest.flops_per_example else
            f"its largest network ({flops / 1e9:.3g} GFLOP per training example)")
    return (f"vlga: warning: this search may train {what}: one epoch of it on "
            f"{n_train} images takes about {duration(seconds)} here (modelled "
            f"{rate / 1e9:.0f} GFLOP/s on {platform}).\n"
            f"vlga: to skip such candidates (recorded as infeasible), cap them: --set "
            f"train.max_candidate_gflop={suggested:g} (one epoch <= about "
            f"{SUGGESTED_EPOCH_SECONDS:.0f} s)")
