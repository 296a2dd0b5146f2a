"""Parameter pytrees: initialisation, padding into a shared program, masks, growth.

Parameters are plain nested dicts named as in `model.Network` (``block_i/conv_a/kernel``
...). A candidate's real parameters are padded with zeros into its program's larger
shapes; an update mask (True where a parameter may change) keeps padded entries at zero
and frozen blocks bit-identical, so a padded candidate trains exactly as it would alone.
"""

from __future__ import annotations

import jax
import numpy as np

from vlga_jax.core.names import block_index
from vlga_jax.networks.architecture import ShapeKey

Params = dict


def _is_shape(x) -> bool:
    return isinstance(x, tuple) and all(isinstance(i, int) for i in x)


def _rng(key: jax.Array) -> np.random.Generator:
    return np.random.default_rng(np.asarray(jax.random.key_data(key)).ravel().tolist())


def _truncated_normal(rng: np.random.Generator, shape, std: float) -> np.ndarray:
    # Same law as flax's lecun_normal: N(0, 1) truncated to [-2, 2], rescaled to unit variance.
    z = rng.standard_normal(shape)
    bad = np.abs(z) > 2
    while bad.any():
        z[bad] = rng.standard_normal(int(bad.sum()))
        bad = np.abs(z) > 2
    return (z * (std / 0.87962566103423978)).astype(np.float32)


def init_params(key: jax.Array, shape_key: ShapeKey) -> tuple[Params, Params]:
    """Fresh (params, batch_stats) for ``shape_key`` (host-side numpy, no compilation).

    Kernels: lecun-normal (truncated) with the real fan-in; biases 0; BN scale 1, bias 0;
    running mean 0, variance 1.
    """
    rng = _rng(key)

    def leaf(path, shape):
        name = path[-1].key
        parent = path[-2].key
        if parent.startswith("bn_"):
            return np.full(shape, 1.0 if name == "scale" else 0.0, np.float32)
        if name == "bias":
            return np.zeros(shape, np.float32)
        fan_in = int(np.prod(shape[:-1]))
        return _truncated_normal(rng, shape, np.sqrt(1.0 / fan_in))

    params = jax.tree_util.tree_map_with_path(leaf, shape_key.param_shapes(), is_leaf=_is_shape)
    stats = jax.tree_util.tree_map_with_path(
        lambda p, s: np.full(s, 1.0 if p[-1].key == "var" else 0.0, np.float32),
        shape_key.stats_shapes(), is_leaf=_is_shape)
    return params, stats


def _pad_widths(path: tuple[str, ...], real: tuple, target: tuple) -> list[tuple[int, int]]:
    if len(real) == 4 and path[-1] == "kernel":  # conv kernel: centre the taps
        widths = []
        for axis, (r, t) in enumerate(zip(real, target, strict=True)):
            extra = t - r
            widths.append((extra // 2, extra - extra // 2) if axis < 2 else (0, extra))
        return widths
    return [(0, t - r) for r, t in zip(real, target, strict=True)]


def pad_tree(tree: Params, target_shapes: dict, fill: float = 0.0) -> Params:
    """Pad every leaf of ``tree`` to ``target_shapes`` with ``fill``.

    Leaves of ``target_shapes`` that ``tree`` lacks (a conv b or skip projection the
    candidate does not have) are filled entirely.
    """
    def walk(node, shapes, path):
        if _is_shape(shapes):
            if node is None:
                return np.full(shapes, fill, np.float32 if fill is not False else bool)
            x = np.asarray(node)
            widths = _pad_widths(path, x.shape, shapes)
            if any(w < 0 for pair in widths for w in pair):
                raise ValueError(f"{'/'.join(path)}: {x.shape} does not fit {shapes}")
            return np.pad(x, widths, constant_values=fill)
        node = node or {}
        extra = set(node) - set(shapes)
        if extra:
            raise ValueError(f"{'/'.join(path) or 'params'}: {sorted(extra)} not in program")
        return {k: walk(node.get(k), v, (*path, k)) for k, v in shapes.items()}

    return walk(tree, target_shapes, ())


def unpad_tree(tree: Params, real_shapes: dict) -> Params:
    """Slice the real region (inverse of `pad_tree`) out of every leaf of ``real_shapes``."""
    def walk(node, shapes, path):
        if _is_shape(shapes):
            x = np.asarray(node)
            widths = _pad_widths(path, shapes, x.shape)
            index = tuple(slice(lo, dim - hi)
                          for (lo, hi), dim in zip(widths, x.shape, strict=True))
            return x[index]
        return {k: walk(node[k], v, (*path, k)) for k, v in shapes.items()}

    return walk(tree, real_shapes, ())


def update_mask(real_key: ShapeKey, program_key: ShapeKey, frozen_blocks: int = 0) -> Params:
    """bool pytree in the program's shapes: True where the candidate's parameters may change."""
    real = real_key.param_shapes()

    def leaf(path, shape):
        i = block_index(path[0].key)
        frozen = i is not None and i < frozen_blocks
        return np.full(shape, not frozen, bool)

    ones = jax.tree_util.tree_map_with_path(leaf, real, is_leaf=_is_shape)
    return pad_tree(ones, program_key.param_shapes(), fill=False)


def inherit(parent_params: Params, fresh_params: Params, n_inherited: int) -> Params:
    """Phase growth: the parent's ``block_0..block_{n-1}`` plus fresh later blocks and head."""
    out = {}
    for name, value in fresh_params.items():
        i = block_index(name)
        if i is not None and i < n_inherited:
            if name not in parent_params:
                raise ValueError(f"inherit: parent has no {name!r} to pass on")
            out[name] = parent_params[name]
        else:
            out[name] = value
    return out


def stack_trees(trees: list[Params]) -> Params:
    """Stack equal-structure pytrees on a new leading axis (as device arrays, one transfer)."""
    return jax.device_put(jax.tree.map(lambda *xs: np.stack([np.asarray(x) for x in xs]),
                                       *trees))


def index_tree(tree: Params, i: int) -> Params:
    """Member ``i`` of a stacked pytree, as numpy arrays."""
    return jax.tree.map(lambda x: np.asarray(x[i]), tree)
