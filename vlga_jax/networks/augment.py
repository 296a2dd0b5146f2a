"""Training-time image augmentation, pure JAX, drawn on the device from a PRNG key.

Each function maps a key and a batch f32[B, H, W, C] of (standardised) images to an
augmented batch of the same shape, independently per example. The trainer applies
`augment` to every training minibatch of a conv network, from a key derived from the
member's own step key (so a member's augmentation never depends on its bucket-mates);
evaluation is never augmented.

- "crop": pad H and W by ``padding`` zeros on each side (zero is the channel mean of
  standardised images) and crop back to H x W at a random offset per example
  (``lax.dynamic_slice`` under ``vmap``).
- "flip": mirror left-right (the W axis) per example with probability 1/2.
"""

from __future__ import annotations

import jax
import jax.numpy as jnp

from vlga_jax.core.names import AUGMENTATIONS


def random_crop(key: jax.Array, x: jax.Array, padding: int) -> jax.Array:
    """f32[B, H, W, C] -> f32[B, H, W, C]: each example is the H x W window at offset
    (dy, dx), drawn uniformly from {0..2*padding}^2, of the input padded by ``padding``
    zeros on each spatial side (offset (padding, padding) is the input itself)."""
    if padding < 0:
        raise ValueError(f"padding must be >= 0, got {padding}")
    b, h, w, c = x.shape
    padded = jnp.pad(x, ((0, 0), (padding, padding), (padding, padding), (0, 0)))
    offsets = jax.random.randint(key, (b, 2), 0, 2 * padding + 1)  # int32[B, 2]

    def crop(image, offset):  # f32[H+2p, W+2p, C], int32[2] -> f32[H, W, C]
        return jax.lax.dynamic_slice(image, (offset[0], offset[1], 0), (h, w, c))

    return jax.vmap(crop)(padded, offsets)


def random_flip(key: jax.Array, x: jax.Array) -> jax.Array:
    """f32[B, H, W, C] -> f32[B, H, W, C]: each example mirrored left-right (W reversed)
    with probability 1/2, independently."""
    flip = jax.random.bernoulli(key, 0.5, (x.shape[0],))  # bool[B]
    return jnp.where(flip[:, None, None, None], x[:, :, ::-1, :], x)


def canonical(names) -> tuple[str, ...]:
    """``names`` checked and in the order `augment` applies them (that of AUGMENTATIONS)."""
    names = tuple(names)
    for name in names:
        if name not in AUGMENTATIONS:
            raise ValueError(f"augmentations must be names from {AUGMENTATIONS}, got {name!r}")
    return tuple(n for n in AUGMENTATIONS if n in names)


def augment(key: jax.Array, x: jax.Array, names, crop_padding: int = 4) -> jax.Array:
    """f32[B, H, W, C] -> f32[B, H, W, C]: the augmentations ``names`` (from
    AUGMENTATIONS) applied in AUGMENTATIONS' order ("crop" then "flip"), each drawn from
    ``fold_in(key, its index in AUGMENTATIONS)``: the result depends on the set of names,
    not their order. No names: ``x`` itself."""
    for name in canonical(names):
        sub = jax.random.fold_in(key, AUGMENTATIONS.index(name))
        if name == "crop":
            x = random_crop(sub, x, crop_padding)
        else:
            x = random_flip(sub, x)
    return x
