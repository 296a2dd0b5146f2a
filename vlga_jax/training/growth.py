"""Phase growth: a new phase's candidates start from the previous best's trained blocks.

`inherit` (in `params`) gives a candidate the parent's ``block_0..block_{p-1}`` plus
fresh later blocks and head. With frozen transfer the prefix is a fixed function of the
input (frozen blocks normalise with their running statistics and never change), so
`FrozenPrefix` computes its features once per phase and the candidates of that phase
train only their own blocks on those features: smaller programs, fewer of them (their
shapes no longer depend on the prefix), and no forward pass through the prefix per step.
"""

from __future__ import annotations

import dataclasses

import jax
import jax.numpy as jnp
import numpy as np

from vlga_jax.core.names import block_index, block_name
from vlga_jax.networks.architecture import Architecture
from vlga_jax.networks.model import Network
from vlga_jax.training.members import DeviceData, Outcome

# Features larger than this stay uncached: the candidates run the frozen prefix instead.
MAX_FEATURE_BYTES = 2 << 30


def suffix(arch: Architecture, start: int, input_shape) -> Architecture:
    """``arch`` without its first ``start`` blocks, reading inputs of ``input_shape``."""
    return dataclasses.replace(arch, input_shape=tuple(int(s) for s in input_shape),
                               blocks=arch.blocks[start:])


def shift_blocks(tree: dict, offset: int) -> dict:
    """Rename ``block_i`` to ``block_{i+offset}`` (other entries, e.g. ``head``, kept)."""
    out = {}
    for name, value in tree.items():
        i = block_index(name)
        if i is not None:
            name = block_name(i + offset)
        out[name] = value
    return out


def join(prefix_tree: dict, suffix_tree: dict, start: int) -> dict:
    """The prefix's ``block_0..block_{start-1}`` plus the suffix's blocks (renumbered)
    and head: the whole network's pytree."""
    out = {k: v for k, v in prefix_tree.items()
           if (i := block_index(k)) is not None and i < start}
    out.update(shift_blocks(suffix_tree, start))
    return out


@dataclasses.dataclass
class FrozenPrefix:
    """The first ``blocks`` blocks of ``parent`` (trained) as a feature extractor.

    ``params``/``stats`` are the parent's real-shaped pytrees (extra blocks ignored).
    """

    parent: Architecture
    blocks: int
    params: dict
    stats: dict

    def __post_init__(self):
        if not 0 < self.blocks < len(self.parent.blocks) + 1 or not self.parent.is_conv:
            raise ValueError(f"blocks must be in 1..{len(self.parent.blocks)} of a conv "
                             f"network, got {self.blocks}")
        self.arch = dataclasses.replace(self.parent, blocks=self.parent.blocks[:self.blocks])
        self.key = self.arch.shape_key()
        self.feature_shape = self.key.output_shapes()[self.blocks - 1]
        keep = {block_name(i) for i in range(self.blocks)}
        self._variables = {"params": {k: v for k, v in self.params.items() if k in keep}}
        stats = {k: v for k, v in (self.stats or {}).items() if k in keep}
        if stats:
            self._variables["batch_stats"] = stats
        net = Network(self.key, impl="lax", features=True)
        knobs = self.arch.knobs()
        self._apply = jax.jit(lambda v, x: net.apply(v, x, knobs, train=False))

    def feature_bytes(self, rows: int) -> int:
        return 4 * rows * int(np.prod(self.feature_shape))

    def features(self, x: jax.Array, batch: int = 512) -> jax.Array:
        """f32[N, H, W, C] images -> f32[N, h, w, c] prefix features (in batches)."""
        n = x.shape[0]
        pad = (-n) % batch
        xp = jnp.concatenate([x, jnp.zeros((pad, *x.shape[1:]), x.dtype)]) if pad else x
        out = [self._apply(self._variables, xp[i:i + batch]) for i in range(0, n + pad, batch)]
        return jnp.concatenate(out)[:n]

    def device_data(self, data: DeviceData) -> DeviceData:
        """``data`` with both splits' images replaced by their prefix features."""
        return dataclasses.replace(data, train_x=self.features(data.train_x),
                                   eval_x=self.features(data.eval_x))

    def fits_memory(self, data: DeviceData) -> bool:
        rows = data.train_x.shape[0] + data.eval_x.shape[0]
        return self.feature_bytes(rows) <= MAX_FEATURE_BYTES

    def whole(self, outcome: Outcome, start: int) -> Outcome:
        """An outcome of a suffix network as the whole network's outcome (program None:
        the whole network has not been compiled)."""
        return dataclasses.replace(
            outcome, params=join(self.params, outcome.params, start),
            stats=join(self.stats or {}, outcome.stats or {}, start),
            program=None, opt_state=None)
