"""The activation table: every activation a network may use, by name and index.

One row per activation: its name (a gene value and `Architecture.activation`), its
function, and its coefficients in the one formula `activate_family` computes. A knob
holds the row's index (`ACTIVATIONS.index(name)`); `activate` branches on it,
`activate_family` evaluates the formula with the row's coefficients.

Every activation is ``s * (x if x > 0 else a * expm1(x) + b * x)`` or
``c2 * tanh(c1 * x) + c3``: coefficients (s, a, b, smooth, c1, c2, c3, tie), where
``smooth`` picks the tanh form and ``tie`` takes the x > 0 branch at x == 0 as well
(leaky_relu's gradient there is 1, as in jax.nn).
"""

from __future__ import annotations

import dataclasses
from collections.abc import Callable

import jax
import jax.numpy as jnp
import numpy as np
from jax import lax

from vlga_jax.genetics import space

_SELU_ALPHA, _SELU_SCALE = 1.6732632423543772, 1.0507009873554805


@dataclasses.dataclass(frozen=True)
class Activation:
    """One activation: ``name``, ``fn`` (f32 array -> same shape) and ``family``, its
    coefficients (s, a, b, smooth, c1, c2, c3, tie) in `activate_family`'s formula."""

    name: str
    fn: Callable[[jax.Array], jax.Array]
    family: tuple[float, ...]


TABLE = (
    Activation("relu", jax.nn.relu, (1, 0, 0, 0, 0, 0, 0, 0)),
    Activation("tanh", jnp.tanh, (0, 0, 0, 1, 1, 1, 0, 0)),
    Activation("elu", jax.nn.elu, (1, 1, 0, 0, 0, 0, 0, 0)),
    Activation("selu", jax.nn.selu, (_SELU_SCALE, _SELU_ALPHA, 0, 0, 0, 0, 0, 0)),
    # Keras' default slope is 0.3; flax and PyTorch use 0.01.
    Activation("leaky_relu", lambda x: jax.nn.leaky_relu(x, 0.01),
               (1, 0, 0.01, 0, 0, 0, 0, 1)),
    # sigmoid(x) = 0.5 * tanh(x / 2) + 0.5
    Activation("sigmoid", jax.nn.sigmoid, (0, 0, 0, 1, 0.5, 0.5, 0.5, 0)),
)
ACTIVATIONS = tuple(a.name for a in TABLE)
FUNCTIONS = tuple(a.fn for a in TABLE)
FAMILY = np.array([a.family for a in TABLE], np.float32)

# Every activation gene table of the preset spaces names a row of the table.
_GENE_TABLES = (space.ACTIVATIONS, space.XIAO2020_ACTIVATIONS, space.MLP_ACTIVATIONS)
if not set().union(*_GENE_TABLES) <= set(ACTIVATIONS):
    raise RuntimeError(f"space activation genes {_GENE_TABLES} name activations missing "
                      f"from the table {ACTIVATIONS}")


def activate(x: jax.Array, index: jax.Array) -> jax.Array:
    """Apply ACTIVATIONS[index] (index: int32 scalar) by branching: one branch runs."""
    return lax.switch(index, FUNCTIONS, x)


def activate_family(x: jax.Array, index: jax.Array) -> jax.Array:
    """`activate` as one formula with per-index coefficients (`FAMILY`).

    Under vmap with a per-candidate index, `lax.switch` becomes a select over all six
    functions (five transcendental passes forward and backward); this costs one expm1
    and one tanh whatever the index.
    """
    s, a, b, smooth, c1, c2, c3, tie = jnp.asarray(FAMILY)[index]
    positive = (x > 0) | ((x == 0) & (tie > 0))
    negative = a * jnp.expm1(jnp.where(positive, 0.0, x)) + b * x
    piecewise = s * jnp.where(positive, x, negative)
    return jnp.where(smooth > 0, c2 * jnp.tanh(c1 * x) + c3, piecewise)


# How a module applies an activation knob: "switch" (one candidate) or "family"
# (vmapped populations with per-candidate activations).
ACTIVATE = {"switch": activate, "family": activate_family}
