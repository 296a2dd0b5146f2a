"""Chained training: one candidate's steps driven from the host through layer programs.

Each step runs the minibatch program, every stage's forward (`vlga_jax.training.layer_programs`),
the head's loss-and-update, then every trainable stage's backward-and-update in reverse.
A program is keyed by its stage's shapes alone, so every candidate of every topology
whose layer has those shapes runs it: a search compiles a program per layer shape met,
not per network. Programs compile in the trainer's background threads while other
candidates train, and persist across runs in a `ProgramStore`.

Why the host drives the loop on CPUs: XLA:CPU runs convolution gradients inside
``lax.scan`` 4-5x slower than in a program of their own (measured in issue 25's probe:
340-374 ms against 82-86 ms per step); dispatching a few programs per step from Python
costs about 0.1 ms each.

Results depend only on the member (its key, parameters, knobs) and the data: never on
which other members train in the same call, the order they run in, or whether a program
was compiled now or loaded from the store.
"""

from __future__ import annotations

import dataclasses
import math
import time
from collections import OrderedDict
from collections.abc import Callable
from concurrent.futures import Future

import jax
import jax.numpy as jnp
import numpy as np

from vlga_jax.core import streams
from vlga_jax.networks.params import update_mask
from vlga_jax.training import layer_programs as ops
from vlga_jax.training.members import Outcome, _freeze_bias_before_batchnorm
from vlga_jax.training.program_store import ProgramStore
from vlga_jax.training.subsets import build_epoch_keys, call_examples

# Layer programs kept in memory (least recently used dropped first; one needed again is
# loaded from the store, if on, or recompiled). Each holds well under 1 MB on CPUs.
MAX_LAYER_PROGRAMS = 512


def _spec(shape, dtype=jnp.float32):
    return jax.ShapeDtypeStruct(tuple(shape), dtype)


def _specs(shapes: dict, dtype=jnp.float32):
    return jax.tree.map(lambda s: _spec(s, dtype), shapes,
                        is_leaf=lambda x: isinstance(x, tuple))


# The knobs each kind of op reads, with their dtypes (`layer_programs.network_nodes`).
_KNOB_DTYPES = {"batchnorm": bool, "activation": jnp.int32, "pool_max": bool,
                "rate": jnp.float32, "pool_on": bool, "dropout": jnp.float32}
_OP_KNOBS = {ops.ConvOp: (), ops.DenseOp: (), ops.NormAct: ("batchnorm", "activation"),
             ops.Act: ("activation",), ops.Pool: ("pool_max",), ops.Dropout: ("rate",),
             ops.HeadOp: ("pool_on", "pool_max", "dropout")}


def _op_specs(op) -> tuple[dict, dict, dict]:
    """(params, stats, knobs) argument specs of an op's programs."""
    params = _specs(op.param_shapes()) if hasattr(op, "param_shapes") else {}
    stats = _specs(op.stats_shapes()) if hasattr(op, "stats_shapes") else {}
    knobs = {name: _spec((), _KNOB_DTYPES[name]) for name in _OP_KNOBS[type(op)]}
    return params, stats, knobs


def _input_spec(op, batch: int):
    if isinstance(op, ops.ConvOp):
        x = _spec((batch, *op.in_shape))
        return (x, _spec((batch, *op.out_shape))) if op.add else x
    if isinstance(op, ops.DenseOp | ops.HeadOp):
        return _spec((batch, *op.in_shape))
    return _spec((batch, *op.shape))


def _opt_spec(optimizer, params):
    if optimizer is None:
        return {}, {}
    opt = jax.eval_shape(ops.build_init_opt(optimizer), params, _spec(()), _spec(()))
    return opt, jax.tree.map(lambda a: _spec(a.shape, bool), params)


def program_specs(key: tuple, rng_dtype) -> tuple[Callable, tuple]:
    """(function, argument specs) of the layer program ``key`` (see `Chain.keys_for`)."""
    role = key[0]
    rng = _spec((), rng_dtype)
    index = _spec((), jnp.int32)
    if role == "forward":
        _, op, impl, needs_dx, batch = key
        p, s, k = _op_specs(op)
        return ops.build_forward(op, impl, needs_dx), (p, s, k, _input_spec(op, batch), rng,
                                                     index)
    if role == "backward":
        _, op, impl, needs_dx, optimizer, batch = key
        p, s, k = _op_specs(op)
        x = _input_spec(op, batch)
        y, _, residuals = jax.eval_shape(ops.build_forward(op, impl, needs_dx),
                                         p, s, k, x, rng, index)
        opt, mask = _opt_spec(optimizer, p)
        return (ops.build_backward(op, impl, needs_dx, optimizer),
                (residuals, y, p, s, k, x, rng, index, opt, mask))
    if role == "frozen":
        _, op, impl, batch = key
        p, s, k = _op_specs(op)
        return ops.build_frozen(op, impl), (p, s, k, _input_spec(op, batch), rng, index)
    if role == "evaluate":
        _, op, impl, batch = key
        p, s, k = _op_specs(op)
        return ops.build_evaluate(op, impl), (p, s, k, _input_spec(op, batch))
    if role == "init_opt":
        _, op, optimizer = key
        return ops.build_init_opt(optimizer), (_op_specs(op)[0], _spec(()), _spec(()))
    if role == "head_train":
        _, op, needs_dx, optimizer, batch = key
        p, _, k = _op_specs(op)
        opt, mask = _opt_spec(optimizer, p)
        return (ops.build_head_train(op, needs_dx, optimizer),
                (p, opt, mask, k, _input_spec(op, batch), _spec((batch,), jnp.int32), rng,
                 index, _spec(()), _spec((), bool)))
    if role == "head_eval":
        _, op, batch = key
        p, _, k = _op_specs(op)
        return ops.build_head_eval(op), (p, k, _input_spec(op, batch),
                                       _spec((batch,), jnp.int32), _spec((batch,)),
                                       _spec((2,)))
    if role == "add":
        _, shape = key
        return ops.build_add(), (_spec(shape), _spec(shape))
    if role == "epoch_keys":  # (role, n_train, steps, batch[, examples]): `subsets`
        return build_epoch_keys(*key[1:]), (rng,) * (len(key) - 3)
    if role == "train_batch":
        _, x_shape, steps, batch, augment, crop = key
        return (ops.build_train_batch(augment, crop),
                (_spec(x_shape), _spec(x_shape[:1], jnp.int32),
                 _spec((steps, batch), jnp.int32), _spec((steps,), rng_dtype), index))
    if role == "eval_batch":
        _, x_shape, batch = key
        return (ops.build_eval_batch(batch),
                (_spec(x_shape), _spec(x_shape[:1], jnp.int32), _spec(x_shape[:1]), index))
    raise ValueError(f"unknown layer program role {role!r}")


def program_label(key: tuple) -> str:
    """A short name of a layer program, e.g. ``backward conv 8x8x1 32k3``."""
    role = key[0]
    if role in ("epoch_keys", "train_batch", "eval_batch"):
        return role
    if role == "add":
        return "add " + "x".join(map(str, key[1]))
    return f"{role} {ops.op_label(key[1])}"


def _jax_cache_on() -> bool:
    """Whether JAX's persistent compilation cache is on. An executable JAX loaded from it
    fails when serialized again and loaded (XLA:CPU, jax 0.10: "Function ... not found"),
    so the program store then writes nothing."""
    return bool(jax.config.jax_compilation_cache_dir and
                jax.config.jax_enable_compilation_cache)


def _has_params(op) -> bool:
    return hasattr(op, "param_shapes")


def _opt_name(node) -> str:
    return "head" if isinstance(node.op, ops.HeadOp) else "/".join(node.path)


@dataclasses.dataclass(frozen=True)
class _Plan:
    """How one member's nodes run: per node "frozen" (no gradient through it), "train"
    (forward with residuals, then backward) or "head"; whether it needs its input's
    gradient; and which values need a gradient."""

    modes: tuple[str, ...]
    needs_dx: tuple[bool, ...]
    grad_values: tuple[bool, ...]


def _plan(nodes, frozen_blocks: int) -> _Plan:
    grad = [False]  # value 0: the input
    modes, needs_dx = [], []
    for node in nodes:
        trainable = _has_params(node.op) and (node.block < 0 or node.block >= frozen_blocks)
        dx = any(grad[i] for i in node.inputs)
        needs_dx.append(dx)
        if isinstance(node.op, ops.HeadOp):
            modes.append("head")
        else:
            modes.append("train" if trainable or dx else "frozen")
        grad.append(trainable or dx)
    return _Plan(tuple(modes), tuple(needs_dx), tuple(grad))


class Chain:
    """Trains single members through layer programs for a `vlga_jax.training.trainer.Trainer`
    (its batch sizes, augmentation, statistics, compile threads); ``store``: where
    compiled programs persist across runs (None: nowhere)."""

    def __init__(self, trainer, impl: str, store: ProgramStore | None,
                 max_programs: int = MAX_LAYER_PROGRAMS):
        self.trainer = trainer
        self.impl = impl
        self.store = store
        self.max_programs = max_programs
        self._compiled: OrderedDict = OrderedDict()  # key -> Future
        self._pending: dict = {}  # Future -> key, not yet waited for
        self.blocked = 0.0  # seconds `wait` blocked on compiles (training excludes them)

    # programs ----------------------------------------------------------------------
    def keys_for(self, member, n_epochs: int, data) -> list[tuple]:
        """Every layer program that training ``member`` for ``n_epochs`` on ``data`` (then
        evaluating it) runs, in first-use order."""
        t = self.trainer
        nodes = ops.nodes_of(member.arch)
        optimizer = member.arch.optimizer
        keys = []
        if n_epochs:
            plan = _plan(nodes, member.frozen_blocks)
            n_train = data.train_x.shape[0]
            examples = call_examples([member], n_train, t.batch_size)  # a subset's size
            steps = (examples or n_train) // t.batch_size
            augment = t._augment_key("train")
            subset = (examples,) if examples else ()
            keys += [("epoch_keys", n_train, steps, t.batch_size, *subset),
                     ("train_batch", tuple(data.train_x.shape), steps, t.batch_size,
                      augment[0] if augment else (), augment[1] if augment else 0)]
            for node, mode, dx in zip(nodes, plan.modes, plan.needs_dx, strict=True):
                keys += self._train_keys(node.op, mode, dx, optimizer)
            for value, uses in _fan_out(nodes).items():
                if uses > 1 and plan.grad_values[value]:
                    keys.append(("add", (t.batch_size, *_value_shape(nodes, value))))
        keys.append(("eval_batch", tuple(data.eval_x.shape), t.eval_batch))
        for node in nodes:
            if isinstance(node.op, ops.HeadOp):
                keys.append(("head_eval", node.op, t.eval_batch))
            else:
                keys.append(("evaluate", node.op, self.impl, t.eval_batch))
        return list(dict.fromkeys(keys))

    def _train_keys(self, op, mode: str, needs_dx: bool, optimizer: str) -> list[tuple]:
        batch = self.trainer.batch_size
        if mode == "head":
            return [("init_opt", op, optimizer), ("head_train", op, needs_dx, optimizer, batch)]
        if mode == "frozen":
            return [("frozen", op, self.impl, batch)]
        if not _has_params(op):
            return [("forward", op, self.impl, needs_dx, batch),
                    ("backward", op, self.impl, needs_dx, None, batch)]
        return [("init_opt", op, optimizer), ("forward", op, self.impl, needs_dx, batch),
                ("backward", op, self.impl, needs_dx, optimizer, batch)]

    def submit(self, key: tuple, rng_dtype) -> Future:
        """The executable of ``key``: cached, or loaded or compiled in the background.
        A key the run meets for the first time counts as a compiled program (the plan's
        count, which a resumed run keeps), an earlier one as a reuse."""
        stats = self.trainer.stats
        name = repr(key)
        if name not in stats.layer_programs_met:
            stats.layer_programs_met.append(name)
            stats.programs_compiled += 1
        else:
            stats.program_reuses += 1
        if key not in self._compiled:
            future = self.trainer._start(self._compile, key, rng_dtype)
            self._compiled[key] = future
            self._pending[future] = key
            self._evict()
        self._compiled.move_to_end(key)
        return self._compiled[key]

    def _evict(self) -> None:
        for key in list(self._compiled):
            if len(self._compiled) <= self.max_programs:
                break
            if self._compiled[key] not in self._pending:
                del self._compiled[key]

    def _compile(self, key: tuple, rng_dtype):
        """Load ``key``'s executable from the store, or trace, lower and compile it (and
        store it); the executable and the seconds of each phase."""
        start = time.perf_counter()
        if self.store is not None:
            compiled = self.store.load(key)
            if compiled is not None:
                return compiled, {"trace": 0.0, "lower": 0.0, "backend": 0.0,
                                  "load": time.perf_counter() - start}
        fn, specs = program_specs(key, rng_dtype)
        t0 = time.perf_counter()
        traced = jax.jit(fn).trace(*specs)
        t1 = time.perf_counter()
        lowered = traced.lower()
        t2 = time.perf_counter()
        compiled = lowered.compile()
        t3 = time.perf_counter()
        phases = {"trace": t1 - t0, "lower": t2 - t1, "backend": t3 - t2, "load": 0.0}
        if self.store is not None and not _jax_cache_on():
            self.store.save(key, compiled)
            phases["load"] = time.perf_counter() - t3  # the store's write
        return compiled, phases

    def wait(self, future: Future):
        """The executable of ``future`` (the time waited counts as compile wait)."""
        t = self.trainer
        if future.done() and future not in self._pending:
            return future.result()[0]
        start = time.perf_counter()
        compiled, phases = future.result()
        blocked = time.perf_counter() - start
        self.blocked += blocked
        t.stats.compile_wait_seconds += blocked
        if future in self._pending:
            key = self._pending.pop(future)
            seconds = phases["trace"] + phases["lower"] + phases["backend"]
            if t.compile_workers == 0:
                t.stats.compile_wait_seconds += seconds + phases["load"]
            t.stats.compile_seconds += seconds
            t.stats.load_seconds += phases["load"]
            t.stats.programs.append({"program": program_label(key), "kind": "layer",
                                     "size": 1, "source": "store" if not seconds else
                                     "compiled", **{k: round(v, 4)
                                                    for k, v in phases.items()}})
        return compiled

    # training ----------------------------------------------------------------------
    def train(self, member, n_epochs: int, data, keep_opt_state: bool, futures: dict):
        """Train ``member`` for ``n_epochs`` on ``data`` and evaluate it; an
        `vlga_jax.training.members.Outcome`. ``futures``: key -> Future of `submit`."""

        def prog(key):
            return self.wait(futures[key])

        real = member.arch.shape_key()
        nodes = ops.nodes_of(member.arch)
        plan = _plan(nodes, member.frozen_blocks)
        knobs = member.arch.knobs()
        optimizer = member.arch.optimizer
        params, stats = member.start_params()
        mask = _freeze_bias_before_batchnorm(update_mask(real, real, member.frozen_blocks),
                                             member.arch)
        ps = [ops.node_tree(params, n) for n in nodes]
        ss = [ops.node_tree(stats, n) if isinstance(n.op, ops.NormAct) else {} for n in nodes]
        ks = [ops.node_knobs(n, knobs) for n in nodes]
        ms = [ops.node_tree(mask, n) for n in nodes]
        index = [np.int32(j) for j in range(len(nodes))]
        opt = dict(member.opt_state or {})
        start = time.perf_counter()
        blocked = self.blocked
        loss_sum, finite = jnp.float32(0.0), jnp.bool_(True)
        if n_epochs:
            trained = [j for j, mode in enumerate(plan.modes)
                       if mode != "frozen" and _has_params(nodes[j].op)]
            for j in trained:
                if _opt_name(nodes[j]) not in opt:
                    opt[_opt_name(nodes[j])] = prog(("init_opt", nodes[j].op, optimizer))(
                        ps[j], knobs.learning_rate, knobs.weight_decay)
            run = self._runners(nodes, plan, optimizer, prog)
            names = [_opt_name(n) if j in trained else None for j, n in enumerate(nodes)]
            epoch_key, batch_key = self.keys_for(member, n_epochs, data)[:2]
            epoch_keys, batch_fn = prog(epoch_key), prog(batch_key)
            steps, subset = epoch_key[2], [member.subset_key()] * (len(epoch_key) > 4)
            fan_out = _fan_out(nodes)
            rng = jax.random.fold_in(member.key, streams.TRAIN_AFTER_INIT)  # init used the key
            for _ in range(n_epochs):
                rng, perm, step_keys = epoch_keys(rng, *subset)
                loss_sum = jnp.float32(0.0)
                for step in range(steps):
                    x, y, r = batch_fn(data.train_x, data.train_y, perm, step_keys,
                                       np.int32(step))
                    values, saved = [x], {}
                    for j, node in enumerate(nodes[:-1]):
                        inp = _inputs(values, node)
                        if plan.modes[j] == "frozen":
                            values.append(run[j][0](ps[j], ss[j], ks[j], inp, r, index[j]))
                            continue
                        out, new_stats, residuals = run[j][0](ps[j], ss[j], ks[j], inp, r,
                                                              index[j])
                        saved[j] = (residuals, inp, ss[j])
                        ss[j] = new_stats
                        values.append(out)
                    h = len(nodes) - 1
                    dx, ps[h], opt[names[h]], loss_sum, finite = run[h][0](
                        ps[h], opt[names[h]], ms[h], ks[h], _inputs(values, nodes[h]), y, r,
                        index[h], loss_sum, finite)
                    grads: dict = {}
                    self._give(grads, nodes[h], dx, plan, fan_out, prog)
                    for j in reversed(saved):
                        residuals, inp, s_in = saved[j]
                        dx, ps[j], new_opt = run[j][1](
                            residuals, grads.pop(j + 1), ps[j], s_in, ks[j], inp, r, index[j],
                            opt.get(names[j], {}) if names[j] else {}, ms[j])
                        if names[j]:
                            opt[names[j]] = new_opt
                        self._give(grads, nodes[j], dx, plan, fan_out, prog)
        totals = self._evaluate(nodes, ps, ss, ks, data, prog)
        ps, ss, totals, loss_sum, finite, kept = jax.device_get(
            (ps, ss, totals, loss_sum, finite, opt if keep_opt_state and n_epochs else None))
        seconds = time.perf_counter() - start - (self.blocked - blocked)
        val_loss = float(totals[0]) / data.n_eval
        ok = bool(finite) and math.isfinite(val_loss)
        return Outcome(
            params=_assemble(params, nodes, ps), stats=_assemble(stats, nodes, ss),
            val_acc=float(totals[1]) / data.n_eval if ok else float("-inf"),
            val_loss=val_loss, train_loss=float(loss_sum) / steps if n_epochs else 0.0,
            failed=not ok, reason="" if ok else "loss became NaN or inf during training",
            seconds=seconds, program=real, opt_state=kept)

    def opt_state_structure(self, arch, frozen_blocks: int = 0):
        """The tree structure of the optimizer states `train` keeps for ``arch``."""
        nodes = ops.nodes_of(arch)
        plan = _plan(nodes, frozen_blocks)
        states = {}
        for node, mode in zip(nodes, plan.modes, strict=True):
            if mode != "frozen" and _has_params(node.op):
                params = _op_specs(node.op)[0]
                states[_opt_name(node)] = jax.eval_shape(
                    ops.build_init_opt(arch.optimizer), params, _spec(()), _spec(()))
        return jax.tree.structure(states)

    def _runners(self, nodes, plan: _Plan, optimizer: str, prog) -> list[tuple]:
        """Per node: (forward or frozen or head program, backward program or None)."""
        batch = self.trainer.batch_size
        run = []
        for node, mode, dx in zip(nodes, plan.modes, plan.needs_dx, strict=True):
            if mode == "head":
                run.append((prog(("head_train", node.op, dx, optimizer, batch)), None))
            elif mode == "frozen":
                run.append((prog(("frozen", node.op, self.impl, batch)), None))
            else:
                opt = optimizer if _has_params(node.op) else None
                run.append((prog(("forward", node.op, self.impl, dx, batch)),
                            prog(("backward", node.op, self.impl, dx, opt, batch))))
        return run

    def _give(self, grads: dict, node, dx, plan: _Plan, fan_out: dict, prog) -> None:
        """Add a node's input gradient(s) ``dx`` to ``grads`` (value -> gradient)."""
        if dx is None:
            return
        parts = dx if len(node.inputs) > 1 else (dx,)
        for value, g in zip(node.inputs, parts, strict=True):
            if not plan.grad_values[value]:
                continue
            if value in grads:
                add = prog(("add", (self.trainer.batch_size, *g.shape[1:])))
                grads[value] = add(grads[value], g)
            else:
                grads[value] = g

    def _evaluate(self, nodes, ps, ss, ks, data, prog) -> jax.Array:
        """f32[2]: summed loss and correct count over the real rows of ``data``'s
        evaluation split."""
        t = self.trainer
        take = prog(("eval_batch", tuple(data.eval_x.shape), t.eval_batch))
        layers = [prog(("evaluate", n.op, self.impl, t.eval_batch)) for n in nodes[:-1]]
        head_eval = prog(("head_eval", nodes[-1].op, t.eval_batch))
        totals = jnp.zeros(2, jnp.float32)
        for b in range(math.ceil(data.n_eval / t.eval_batch)):
            x, y, w = take(data.eval_x, data.eval_y, data.eval_w, np.int32(b))
            values = [x]
            for j, layer in enumerate(layers):
                values.append(layer(ps[j], ss[j], ks[j], _inputs(values, nodes[j])))
            totals = head_eval(ps[-1], ks[-1], _inputs(values, nodes[-1]), y, w, totals)
        return totals


def _inputs(values: list, node):
    return values[node.inputs[0]] if len(node.inputs) == 1 else tuple(
        values[i] for i in node.inputs)


def _fan_out(nodes) -> dict[int, int]:
    """value -> how many nodes read it."""
    uses: dict[int, int] = {}
    for node in nodes:
        for i in node.inputs:
            uses[i] = uses.get(i, 0) + 1
    return uses


def _value_shape(nodes, value: int) -> tuple:
    """The per-example shape of value ``value`` (0: the input)."""
    if value == 0:
        op = nodes[0].op
        return tuple(op.in_shape if hasattr(op, "in_shape") else op.shape)
    return tuple(nodes[value - 1].op.out_shape)


def _assemble(tree: dict, nodes, parts: list) -> dict:
    """``tree`` (a network's parameters or statistics) with each node's part replaced."""
    out = {k: (dict(v) if isinstance(v, dict) else v) for k, v in tree.items()}
    for node, part in zip(nodes, parts, strict=True):
        if isinstance(node.op, ops.HeadOp):
            out.update(part)
        elif node.path is not None and part:
            block, name = node.path
            out.setdefault(block, {})[name] = part
    return out
