"""Layer programs: a network's training step cut into one program per layer operation.

A network is a row of *ops*, each keyed by its own shapes only: a convolution
(`ConvOp`: input shape, output channels, kernel), batch norm with its activation
(`NormAct`), pooling (`Pool`), dropout (`Dropout`), a dense layer (`DenseOp`) and the
head with its loss (`HeadOp`). The 3x3 conv from 16 to 32 channels on 8x8 inputs is the
same program in every network that has one, wherever it sits. On XLA:CPU this makes
programs cheap: a convolution and its gradients compile in 0.01-0.1 s (a library call),
while elementwise work (batch norm, activations, pooling gradients, random draws) costs
0.1-1.5 s per fusion to compile; keyed by activation shape alone, those are shared by
every network whose layers produce that shape. Blocks become ops by their kind.

For one candidate (no population axis) the programs of an op are:

* ``forward``: the op in training mode; returns its output, updated BatchNorm
  statistics and the residuals of its vjp as a flat list of arrays (plain array
  arguments: programs can be serialized);
* ``backward``: the vjp applied to the output gradient from those residuals, then the
  op's optimizer update (ops with parameters); returns the input gradient where needed,
  the new parameters and optimizer state;
* ``frozen``: a forward that needs no gradient (running BN statistics in frozen blocks);
* ``evaluate``: inference mode;
* ``head_train`` and ``head_eval`` for the head; ``init_opt``, ``train_batch``,
  ``eval_batch``, ``add`` for the rest (``epoch_keys``: `vlga_jax.training.subsets`).

Optimizers are per op: every optimizer here is elementwise (`programs.make_optimizer`),
so each op's own state follows the same law as the whole network's.
"""

from __future__ import annotations

import dataclasses
import functools
from collections.abc import Sequence

import flax.linen as nn
import jax
import jax.numpy as jnp

from vlga_jax.core.names import block_name, bn_name, conv_name
from vlga_jax.networks.activations import activate_family
from vlga_jax.networks.architecture import ConvKey, DenseKey, ShapeKey
from vlga_jax.networks.augment import augment as augment_batch
from vlga_jax.networks.conv import conv2d
from vlga_jax.networks.kinds import kind_of
from vlga_jax.networks.model import BN_EPS, BN_MOMENTUM, dropout, head, pool2x2
from vlga_jax.training.programs import AUGMENT_STREAM, _cross_entropy, make_optimizer

# -- ops ----------------------------------------------------------------------------------


@dataclasses.dataclass(frozen=True)
class ConvOp:
    """Stride-1 'SAME' conv + bias: f32[N, *in_shape] -> f32[N, H, W, features]; with
    ``add`` its input is (x, z) and z is added (a block's skip projection)."""

    in_shape: tuple[int, int, int]
    features: int
    kernel: int
    add: bool = False

    @property
    def out_shape(self):
        return (*self.in_shape[:2], self.features)

    def param_shapes(self):
        k, c = self.kernel, self.in_shape[-1]
        return {"kernel": (k, k, c, self.features), "bias": (self.features,)}

    def apply(self, params, stats, knobs, x, rng, train, frozen, impl):
        if self.add:
            x, z = x
            return conv2d(x, params["kernel"], params["bias"], impl=impl) + z, stats
        return conv2d(x, params["kernel"], params["bias"], impl=impl), stats


@dataclasses.dataclass(frozen=True)
class NormAct:
    """Batch norm where the knob ``batchnorm`` is on (identity elsewhere), then the
    activation of index ``activation`` (`model.activate_family`), on f32[N, *shape]."""

    shape: tuple[int, ...]

    @property
    def out_shape(self):
        return self.shape

    def param_shapes(self):
        c = self.shape[-1]
        return {"scale": (c,), "bias": (c,)}

    def stats_shapes(self):
        c = self.shape[-1]
        return {"mean": (c,), "var": (c,)}

    def apply(self, params, stats, knobs, x, rng, train, frozen, impl):
        axes = tuple(range(x.ndim - 1))
        enabled = knobs["batchnorm"]
        if train and not frozen:
            m = jnp.mean(x, axes)
            v = jnp.mean(jnp.square(x - m), axes)
            keep = BN_MOMENTUM
            stats = {"mean": jnp.where(enabled, keep * stats["mean"] + (1 - keep) * m,
                                       stats["mean"]),
                     "var": jnp.where(enabled, keep * stats["var"] + (1 - keep) * v,
                                      stats["var"])}
        else:
            m, v = stats["mean"], stats["var"]
        y = (x - m) * jax.lax.rsqrt(v + BN_EPS) * params["scale"] + params["bias"]
        return activate_family(jnp.where(enabled, y, x), knobs["activation"]), stats


@dataclasses.dataclass(frozen=True)
class Act:
    """The activation of index ``activation`` alone (dense blocks)."""

    shape: tuple[int, ...]

    @property
    def out_shape(self):
        return self.shape

    def apply(self, params, stats, knobs, x, rng, train, frozen, impl):
        return activate_family(x, knobs["activation"]), stats


@dataclasses.dataclass(frozen=True)
class Pool:
    """2x2 stride-2 'SAME' pooling, max where the knob ``pool_max`` else average."""

    shape: tuple[int, int, int]

    @property
    def out_shape(self):
        h, w, c = self.shape
        return (-(-h // 2), -(-w // 2), c)

    def apply(self, params, stats, knobs, x, rng, train, frozen, impl):
        return pool2x2(x, knobs["pool_max"]), stats


@dataclasses.dataclass(frozen=True)
class Dropout:
    """Dropout at the knob ``rate`` (`model.dropout`; present only where it is > 0)."""

    shape: tuple[int, ...]

    @property
    def out_shape(self):
        return self.shape

    def apply(self, params, stats, knobs, x, rng, train, frozen, impl):
        return (dropout(rng, x, knobs["rate"], True) if train else x), stats


@dataclasses.dataclass(frozen=True)
class DenseOp:
    """x flattened @ kernel + bias: f32[N, *in_shape] -> f32[N, units]."""

    in_shape: tuple[int, ...]
    units: int

    @property
    def out_shape(self):
        return (self.units,)

    def param_shapes(self):
        n = 1
        for s in self.in_shape:
            n *= s
        return {"kernel": (n, self.units), "bias": (self.units,)}

    def apply(self, params, stats, knobs, x, rng, train, frozen, impl):
        return x.reshape(x.shape[0], -1) @ params["kernel"] + params["bias"], stats


@dataclasses.dataclass(frozen=True)
class HeadOp:
    """The layers after the blocks (`model.head`) on f32[N, *in_shape]; ``dropout``: its
    rate is above 0 (at 0 dropout is the identity and is skipped)."""

    in_shape: tuple[int, ...]
    is_conv: bool
    last_pool: bool
    head_units: tuple[int, ...]
    num_classes: int
    dropout: bool

    def param_shapes(self):
        features = self.in_shape[-1]
        shapes = {}
        for j, units in enumerate(self.head_units):
            shapes[f"fc_{j}"] = {"kernel": (features, units), "bias": (units,)}
            features = units
        shapes["head"] = {"kernel": (features, self.num_classes),
                          "bias": (self.num_classes,)}
        return shapes


Op = ConvOp | NormAct | Act | Pool | Dropout | DenseOp | HeadOp


class _Head(nn.Module):
    """`model.head` as a module of its own (parameters ``fc_j`` and ``head`` at its top)."""

    op: HeadOp

    @nn.compact
    def __call__(self, x, knobs, train: bool):
        # model.head reads ``train`` for its dropout only: skipped at rate 0.
        return head(self, x, self.op.is_conv, self.op.head_units, self.op.num_classes,
                    self.op.last_pool, knobs["pool_on"], knobs["pool_max"], knobs["dropout"],
                    train and self.op.dropout)


# -- a network as a row of nodes ----------------------------------------------------------


@dataclasses.dataclass(frozen=True)
class Node:
    """One op of a network: its parameters (and statistics) at ``path`` in the network's
    trees (None: none), its knobs, the values it reads (indices into the values computed
    so far; value 0 is the network's input) and the block it belongs to (-1: the head)."""

    op: Op
    path: tuple[str, ...] | None
    knobs: tuple[tuple[str, str, tuple], ...]  # (name, Knobs field, index)
    inputs: tuple[int, ...]
    block: int


def _conv_nodes(add, key: ShapeKey, layer: ConvKey, block: int, value: int, shape):
    """conv a, norm-act a [, conv b, norm-act b] [, 1x1 skip conv of the block input
    added] [, pool]; the last block's pool is the head's (`model.head`)."""
    name = block_name(block)
    block_in, in_shape = value, shape
    for j, (channels, kernel) in enumerate(layer.convs):
        op = ConvOp(shape, channels, kernel)
        value = add(op, (name, conv_name(j)), (), (value,))
        shape = op.out_shape
        value = add(NormAct(shape), (name, bn_name(j)),
                    (("batchnorm", "batchnorm", (block, j)),
                     ("activation", "activation", (block,))), (value,))
    if layer.skip:
        op = ConvOp(in_shape, shape[-1], 1, add=True)
        value = add(op, (name, "skip"), (), (block_in, value))
    if layer.pool and block < len(key.layers) - 1:
        op = Pool(shape)
        value = add(op, None, (("pool_max", "pool_max", (block,)),), (value,))
        shape = op.out_shape
    return value, shape


def _dense_nodes(add, key: ShapeKey, layer: DenseKey, block: int, value: int, shape):
    """dense, activation."""
    op = DenseOp(shape, layer.units)
    value = add(op, (block_name(block), "dense"), (), (value,))
    shape = op.out_shape
    value = add(Act(shape), None, (("activation", "activation", (block,)),), (value,))
    return value, shape


BLOCK_NODES = {"conv": _conv_nodes, "dense": _dense_nodes}


def network_nodes(key: ShapeKey, knobs) -> tuple[Node, ...]:
    """The nodes of a network of ``key`` with these `Knobs`, in forward order; the
    output of node j is value j + 1. Dropout is a node only where its rate is above 0.
    Each block: its kind's nodes (`BLOCK_NODES`, by name) [, dropout]; then the head.
    """
    nodes: list[Node] = []
    last = len(key.layers) - 1

    def add(op, path, knob_rows, inputs):
        nodes.append(Node(op, path, tuple(knob_rows), tuple(inputs), block))
        return len(nodes)

    value = 0
    shape: tuple[int, ...] = tuple(key.input_shape)
    for block, layer in enumerate(key.layers):
        kind = kind_of(layer)
        if kind.name not in BLOCK_NODES:
            raise ValueError(f"train.step_mode 'chain' has no layer programs for "
                             f"{kind.name} blocks; train them with step_mode 'fused'")
        value, shape = BLOCK_NODES[kind.name](add, key, layer, block, value, shape)
        if float(knobs.block_dropout[block]) > 0:  # conv: > 0 only with key.block_dropout
            value = add(Dropout(shape), None, (("rate", "block_dropout", (block,)),), (value,))
    block = -1
    last_pool = kind_of(key.layers[last]).head_pool(key.layers[last])
    add(HeadOp(shape, key.is_conv, last_pool, key.head_units, key.num_classes,
               float(knobs.head_dropout) > 0), None,
        (("pool_on", "pool_on", (last,)), ("pool_max", "pool_max", (last,)),
         ("dropout", "head_dropout", ())), (value,))
    return tuple(nodes)


@functools.lru_cache(maxsize=4096)
def nodes_of(arch) -> tuple[Node, ...]:
    """`network_nodes` of an `vlga_jax.networks.architecture.Architecture` (cached: architectures
    are hashable and repeat across a search)."""
    return network_nodes(arch.shape_key(), arch.knobs())


def node_knobs(node: Node, knobs) -> dict:
    """The knob values a node reads (numpy scalars and arrays)."""
    return {name: getattr(knobs, field)[index] if index else getattr(knobs, field)
            for name, field, index in node.knobs}


def node_tree(tree: dict, node: Node) -> dict:
    """A node's part of a network's parameter or statistics tree ({} if none)."""
    if isinstance(node.op, HeadOp):
        return {k: v for k, v in tree.items() if k == "head" or k.startswith("fc_")}
    if node.path is None:
        return {}
    out = tree
    for part in node.path:
        out = out.get(part, {})
    return out


def op_label(op: Op) -> str:
    """A short name of an op's shapes, e.g. ``conv 8x8x1 32k3``."""
    def dims(shape):
        return "x".join(map(str, shape))

    if isinstance(op, ConvOp):
        return f"conv{'+add' if op.add else ''} {dims(op.in_shape)} {op.features}k{op.kernel}"
    if isinstance(op, DenseOp):
        return f"dense {dims(op.in_shape)} {op.units}"
    if isinstance(op, HeadOp):
        units = "".join(f" fc{u}" for u in op.head_units)
        pool = "/p" if op.last_pool else ""
        return (f"head {dims(op.in_shape)}{pool}{units} {op.num_classes}"
                f"{'+drop' if op.dropout else ''}")
    return f"{type(op).__name__.lower()} {dims(op.shape)}"


# -- programs of one op, written for one candidate ----------------------------------------

def _rng(rng, index):
    return jax.random.fold_in(rng, index)


def _fn(op: Op, impl: str, train: bool, frozen: bool):
    def fn(params, stats, knobs, x, rng):
        return op.apply(params, stats, knobs, x, rng, train, frozen, impl)
    return fn


def _vjp(op, impl, params, stats, knobs, x, rng, needs_dx):
    fn = _fn(op, impl, True, False)
    if needs_dx:
        return jax.vjp(lambda p, a: fn(p, stats, knobs, a, rng), params, x, has_aux=True)
    return jax.vjp(lambda p: fn(p, stats, knobs, x, rng), params, has_aux=True)


def build_forward(op: Op, impl: str, needs_dx: bool):
    """fn(params, stats, knobs, x, rng, index) -> (y, stats, residuals: list of arrays)."""

    def forward(params, stats, knobs, x, rng, index):
        y, vjp, new_stats = _vjp(op, impl, params, stats, knobs, x, _rng(rng, index),
                                 needs_dx)
        return y, new_stats, jax.tree.leaves(vjp)

    return forward


def _update(optimizer: str, grads, opt_state, params, mask):
    updates, opt_state = make_optimizer(optimizer).update(grads, opt_state, params)
    updates = jax.tree.map(lambda u, m: jnp.where(m, u, 0.0), updates, mask)
    return jax.tree.map(lambda p, u: p + u, params, updates), opt_state


def build_backward(op: Op, impl: str, needs_dx: bool, optimizer: str | None):
    """fn(residuals, dy, params, stats, knobs, x, rng, index, opt_state, mask) ->
    (dx or None, params, opt_state); ``optimizer`` None: an op without parameters (dx
    only). The primal arguments only give the residuals' tree structure: the probe's
    forward is dead code that XLA removes."""

    def backward(residuals, dy, params, stats, knobs, x, rng, index, opt_state, mask):
        _, probe, _ = _vjp(op, impl, params, stats, knobs, x, _rng(rng, index), needs_dx)
        grads = jax.tree.unflatten(jax.tree.structure(probe), residuals)(dy)
        if optimizer is not None:
            params, opt_state = _update(optimizer, grads[0], opt_state, params, mask)
        return (grads[1] if needs_dx else None), params, opt_state

    return backward


def build_frozen(op: Op, impl: str):
    """fn(params, stats, knobs, x, rng, index) -> y: training mode, nothing trained
    before it (running BN statistics where its block is frozen; dropout draws)."""
    fn = _fn(op, impl, True, True)

    def frozen(params, stats, knobs, x, rng, index):
        return fn(params, stats, knobs, x, _rng(rng, index))[0]

    return frozen


def build_evaluate(op: Op, impl: str):
    """fn(params, stats, knobs, x) -> y: inference mode."""
    fn = _fn(op, impl, False, True)

    def evaluate(params, stats, knobs, x):
        return fn(params, stats, knobs, x, None)[0]

    return evaluate


def build_head_train(op: HeadOp, needs_dx: bool, optimizer: str):
    """fn(params, opt_state, mask, knobs, x, y, rng, index, loss_sum, finite) ->
    (dx or None, params, opt_state, loss_sum + loss, finite & isfinite(loss))."""
    module = _Head(op)

    def loss_fn(params, x, knobs, y, rng):
        logits = module.apply({"params": params}, x, knobs, train=True, rngs={"dropout": rng})
        return jnp.mean(_cross_entropy(logits, y))

    def head_train(params, opt_state, mask, knobs, x, y, rng, index, loss_sum, finite):
        argnums = (0, 1) if needs_dx else 0
        loss, grads = jax.value_and_grad(loss_fn, argnums=argnums)(params, x, knobs, y,
                                                                   _rng(rng, index))
        grads_p, dx = grads if needs_dx else (grads, None)
        params, opt_state = _update(optimizer, grads_p, opt_state, params, mask)
        return dx, params, opt_state, loss_sum + loss, finite & jnp.isfinite(loss)

    return head_train


def build_head_eval(op: HeadOp):
    """fn(params, knobs, x, y, w, totals) -> totals + (sum of w * loss, sum of w * correct)."""
    module = _Head(op)

    def head_eval(params, knobs, x, y, w, totals):
        logits = module.apply({"params": params}, x, knobs, train=False)
        loss = _cross_entropy(logits, y)
        correct = (jnp.argmax(logits, -1) == y).astype(jnp.float32)
        return totals + jnp.stack([jnp.sum(loss * w), jnp.sum(correct * w)])

    return head_eval


def build_init_opt(optimizer: str):
    """fn(params, learning_rate, weight_decay) -> a fresh optimizer state."""
    def init_opt(params, learning_rate, weight_decay):
        return make_optimizer(optimizer, learning_rate, weight_decay).init(params)
    return init_opt


def build_add():
    """fn(a, b) -> a + b (two gradients of one value)."""
    return jnp.add


def build_train_batch(augment: Sequence[str], crop_padding: int):
    """fn(train_x, train_y, perm, step_keys, t) -> (x, y, step key) of minibatch ``t``,
    augmented from the step's key (`programs.AUGMENT_STREAM`)."""

    def train_batch(train_x, train_y, perm, step_keys, t):
        idx = perm[t]
        key = step_keys[t]
        xb = train_x[idx]
        if augment:
            xb = augment_batch(jax.random.fold_in(key, AUGMENT_STREAM), xb, tuple(augment),
                               crop_padding)
        return xb, train_y[idx], key

    return train_batch


def build_eval_batch(eval_batch: int):
    """fn(eval_x, eval_y, eval_w, b) -> rows [b * eval_batch, (b + 1) * eval_batch)."""

    def take(eval_x, eval_y, eval_w, b):
        start = b * eval_batch
        return tuple(jax.lax.dynamic_slice_in_dim(a, start, eval_batch)
                     for a in (eval_x, eval_y, eval_w))

    return take
