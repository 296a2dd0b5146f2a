"""Batched training: candidates that share a program train together, compiled once.

A *program* is ``jit(vmap(train_and_evaluate))`` for one padded `ShapeKey`: it takes the
stacked parameters, BatchNorm statistics, optimizer states, update masks, knobs and PRNG
keys of P candidates plus the device-resident dataset, runs ``n_epochs`` epochs
(``lax.scan`` over minibatches, a fresh permutation per candidate and epoch) and then
evaluates on the validation split; a call of 0 epochs runs a smaller evaluation program
(``jit(vmap(evaluate))``, forward passes only) instead. P is at most
``members_per_call`` (on CPUs one member per device) and may be padded with copies of
the first member to a power of two, where the cost model finds that cheaper than a
later recompile. With several devices the population axis is split over a mesh with
`jax.shard_map` (every call's size is a multiple of the devices, so each trains an equal
share); nothing is communicated. With several processes (`vlga_jax.core.distributed`) the
mesh spans every process's devices: each process builds the same arguments, keeps its
devices' shares, and gathers every output back. Programs compile in background threads while
buckets with ready programs train. With ``augment`` (conv networks only) each training
minibatch is augmented on the device (`vlga_jax.networks.augment`) from the member's own key;
evaluation never is.

In parts: `vlga_jax.training.planner` decides the buckets (with the `vlga_jax.training.cost`
model), `vlga_jax.training.programs` holds the per-candidate functions and their named
arguments, `vlga_jax.training.buckets` builds a bucket's arguments and unpacks its outcomes,
`vlga_jax.training.executables` compiles one program, and `Trainer` keeps the executables
(compiled in threads) and runs them. `vlga_jax.training.members` holds the types it takes
and gives (`DeviceData`, `Member`, `Outcome`).
"""

from __future__ import annotations

import dataclasses
import hashlib
import math
import time
from collections import OrderedDict
from collections.abc import Callable, Sequence
from concurrent.futures import Future, ThreadPoolExecutor

import jax
import numpy as np
from jax.sharding import Mesh

from vlga_jax.core import distributed
from vlga_jax.networks.architecture import Architecture, ShapeKey
from vlga_jax.networks.augment import canonical as canonical_augment
from vlga_jax.networks.conv import CONV_IMPLS, choose_impl, default_impl
from vlga_jax.networks.kinds import kind_of
from vlga_jax.networks.params import init_params, pad_tree
from vlga_jax.training.buckets import Lazy, bucket_args, bucket_outcomes, program_label
from vlga_jax.training.chain import Chain
from vlga_jax.training.cost import CostModel
from vlga_jax.training.executables import Placement, batched_fn, compile_program
from vlga_jax.training.members import DeviceData, Member, Outcome, TrainerStats
from vlga_jax.training.planner import Planner
from vlga_jax.training.program_store import ProgramStore
from vlga_jax.training.programs import EvalArgs, TrainArgs, build_init_opt_fn, make_optimizer
from vlga_jax.training.setup import (
    MAX_EXECUTABLES,
    STEP_MODES,
    default_bucket_bytes,
    default_compile_workers,
    default_members_per_call,
    enable_compilation_cache,
    program_store,
)
from vlga_jax.training.subsets import call_examples, rows_per_epoch

__all__ = ["DeviceData", "Member", "Outcome", "Trainer", "TrainerStats", "make_optimizer",
           "enable_compilation_cache", "program_label", "program_store"]

class Trainer:
    """Groups members into programs, compiles each program once, trains them batched.

    ``augment`` (names from `vlga_jax.networks.augment.AUGMENTATIONS`: "crop", "flip") augments
    the training minibatches of conv networks on the device, ``crop_padding`` pixels of
    zeros for "crop"; training dense networks with it raises ValueError (their flattened
    input is no image to crop or flip). Data passed to `train` must then hold images
    (not the cached features of a frozen prefix). Evaluation is never augmented.

    ``devices`` (default: every device of every process, `vlga_jax.core.distributed`) form
    the mesh that splits each call's members; ``stats.utilisation`` reports the share of
    member slots that trained real members rather than padding.
    """

    def __init__(self, data: DeviceData, *, batch_size: int = 128,
                 eval_batch: int | None = None,
                 conv_impl: str | None = None, pad_shapes: bool = True,
                 devices: Sequence[jax.Device] | None = None,
                 max_bucket_bytes: int | None = None, cost_model: str = "fixed",
                 compile_workers: int | None = None, members_per_call: int | None = None,
                 max_programs: int = MAX_EXECUTABLES,
                 augment: Sequence[str] = (), crop_padding: int = 4,
                 step_mode: str = "auto", program_store: ProgramStore | None = None):
        self.data = data
        if isinstance(augment, str):
            raise ValueError(f"augment must be a sequence of names, got {augment!r}")
        self._augment = canonical_augment(augment)
        if (not isinstance(crop_padding, int) or isinstance(crop_padding, bool)
                or crop_padding < 1):
            raise ValueError(f"crop_padding must be an int >= 1, got {crop_padding!r}")
        self._crop_padding = crop_padding
        n_train = data.train_x.shape[0]
        self.batch_size = max(1, min(int(batch_size), n_train))
        # One source: the data's evaluation batch (its eval arrays are padded to it).
        self.eval_batch = data.eval_batch
        if eval_batch is not None and eval_batch != data.eval_batch:
            raise ValueError(f"eval_batch: {eval_batch!r} differs from the data's evaluation "
                             f"batch {data.eval_batch} (DeviceData.create(..., eval_batch)); "
                             "pass the same value or leave it None")
        if conv_impl not in (None, "auto") and conv_impl not in CONV_IMPLS:
            raise ValueError(f"conv_impl must be None, 'auto' or one of {tuple(CONV_IMPLS)}, "
                             f"got {conv_impl!r}")
        self.conv_impl = conv_impl or default_impl(jax.default_backend())
        self.pad_shapes = pad_shapes
        self.max_bucket_bytes = int(max_bucket_bytes or default_bucket_bytes())
        self.devices = list(devices or distributed.select_devices())
        self.processes = len({d.process_index for d in self.devices})
        if self.processes != jax.process_count():
            raise ValueError(f"devices: every process must hold some ({self.processes} of "
                             f"{jax.process_count()} processes do)")
        self.mesh = Mesh(np.array(self.devices), ("pop",)) if len(self.devices) > 1 else None
        self._placement = Placement(self.mesh) if self.mesh is not None else None
        if members_per_call is not None and (not isinstance(members_per_call, int)
                                             or members_per_call < 1):
            raise ValueError(f"members_per_call must be None or an int >= 1, got "
                             f"{members_per_call!r}")
        self.members_per_call = members_per_call or default_members_per_call(self.devices)
        # (kind, program, frozen, augment, arg shapes) -> Future, least recently used first
        self._compiled: OrderedDict = OrderedDict()
        if not isinstance(max_programs, int) or max_programs < 1:
            raise ValueError(f"max_programs must be an int >= 1, got {max_programs!r}")
        self.max_programs = max_programs
        # Future -> (program, size, kind, cache key), not yet waited for.
        self._pending: dict = {}
        self._opt_shapes_cache: dict = {}
        if compile_workers is not None and (not isinstance(compile_workers, int)
                                            or compile_workers < 0):
            raise ValueError(f"compile_workers must be None or an int >= 0, got "
                             f"{compile_workers!r}")
        self.compile_workers = (default_compile_workers() if compile_workers is None
                                else compile_workers)
        self._pool: ThreadPoolExecutor | None = None
        # "fixed" (default): both figures stay constant, so that the choice of programs,
        # which changes float rounding, never depends on timings. "measured": refined as
        # the run goes (after every bucket and compile); faster choices, but two runs of
        # one seed may differ in the last bits and then diverge.
        self.cost = CostModel(cost_model, devices=len(self.devices))
        if cost_model == "measured" and self.processes > 1:
            raise ValueError("train.cost_model must be 'fixed' with several processes (a "
                             "measured model's timings differ between processes, and so "
                             "would their plans)")
        self.planner = Planner(self.cost, pad_shapes, self.batch_size, self.max_bucket_bytes,
                               self.members_per_call, len(self.devices))
        self.stats = TrainerStats()
        if step_mode not in STEP_MODES:
            raise ValueError(f"step_mode must be one of {STEP_MODES}, got {step_mode!r}")
        single = self.mesh is None and self.processes == 1
        if step_mode == "chain" and not single:
            raise ValueError("step_mode 'chain' trains on one device of one process; use "
                             "'fused' or 'auto' with several devices")
        # "auto" is fused everywhere until chained training beats it on a whole search
        # (benchmarks/compile_economy.py --step-mode chain: not yet, see docs/benchmarks.md).
        self.chained = step_mode == "chain"
        # One member per chain: no vmap, so plain lax convolutions (their gradients are
        # fast outside loops) unless an impl was asked for.
        self.chain = Chain(self, conv_impl if conv_impl not in (None, "auto") else "lax",
                           program_store) if self.chained else None
        # Told what `train` does, for progress output: ``listener(event, *args)`` with
        # "train_started" (n_epochs, a sequence of (program label, members, training
        # FLOPs) in the order the calls run, computed when first read), "bucket_started"
        # (index) and "bucket_finished" (index, seconds). It may only observe: nothing
        # it does changes a result.
        self.listener = None

    def _tell(self, event: str, *args) -> None:
        if self.listener is not None:
            self.listener(event, *args)

    # planning (see `vlga_jax.training.planner`) -------------------------------------------------
    def assign_programs(self, members: Sequence[Member], n_epochs: int = 1,
                        data: DeviceData | None = None) -> list[tuple[ShapeKey, int, list[int]]]:
        """(program, bucket size, member indices) of every call that trains ``members``
        on ``data`` (default: the trainer's); see `Planner.assign`. Members with
        ``examples`` train that many rows per epoch, not the whole split."""
        data = self.data if data is None else data
        rows = rows_per_epoch(members if n_epochs else (), data.train_x.shape[0],
                              self.batch_size)
        return self.planner.assign(members, n_epochs, (rows, data.n_eval))

    def max_members(self, program: ShapeKey) -> int:
        """The most members one call of ``program`` may train (`Planner.max_members`)."""
        return self.planner.max_members(program)

    @property
    def flop_rate(self) -> float:
        """The cost model's FLOP/s."""
        return self.cost.flop_rate

    @flop_rate.setter
    def flop_rate(self, value: float) -> None:
        self.cost.flop_rate = value

    @property
    def compile_estimate(self) -> float:
        """The cost model's seconds per new program."""
        return self.cost.compile_seconds

    @compile_estimate.setter
    def compile_estimate(self, value: float) -> None:
        self.cost.compile_seconds = value

    def state_dict(self) -> dict:
        """What a resumed run needs of the trainer, as plain data: its counters
        (``stats``) and its cost model's `CostModel.state_dict`."""
        return {"stats": dataclasses.asdict(self.stats), "cost_model": self.cost.state_dict()}

    def load_state_dict(self, saved: dict) -> None:
        """The inverse of `state_dict`."""
        for name, value in saved["stats"].items():
            setattr(self.stats, name, value)
        self.cost.load_state_dict(saved["cost_model"])

    @property
    def augment(self) -> tuple[str, ...]:
        """The augmentations of training programs (fixed at construction)."""
        return self._augment

    @property
    def crop_padding(self) -> int:
        return self._crop_padding

    # compilation -----------------------------------------------------------------
    def _start(self, fn, *args) -> Future:
        """``fn(*args)`` in a compile thread (inline with ``compile_workers`` 0)."""
        if self.compile_workers == 0:
            future = Future()
            future.set_result(fn(*args))
            return future
        if self._pool is None:
            self._pool = ThreadPoolExecutor(self.compile_workers,
                                            thread_name_prefix="vlga-compile")
        return self._pool.submit(fn, *args)

    def _compile(self, program: ShapeKey, frozen_blocks: int, size: int, kind: str, args,
                 augment: tuple = (), examples: int | None = None):
        """Trace, lower and compile one program (run in a worker thread); the executable
        and the seconds of each phase (`vlga_jax.training.executables`). ``augment``:
        `_augment_key`'s (names, crop padding) or (); ``examples``: rows per subset."""
        batched = batched_fn(program, kind, impl=self._impl_for(program, size),
                             batch_size=self.batch_size, eval_batch=self.eval_batch,
                             frozen_blocks=frozen_blocks, augment=augment, mesh=self.mesh,
                             examples=examples)
        return compile_program(batched, args, mesh=self.mesh, gather=self.processes > 1)

    def _submit(self, program: ShapeKey, frozen_blocks: int, size: int, kind: str,
                args, examples: int | None = None) -> Future:
        """The executable of a "train" or "eval" ``program`` for these argument shapes
        (and subset size ``examples``): cached, or a compile started in the background.
        Training programs count in the plan: a (program, size) the run has not used
        before is a compiled program, else a reuse."""
        if kind == "train":
            if self.cost.record(program, size, frozen_blocks):
                self.stats.programs_compiled += 1
            else:
                self.stats.program_reuses += 1
        signature = str(jax.tree.map(lambda a: (a.shape, a.dtype), args))
        augment = self._augment_key(kind)
        cache_key = (kind, program, frozen_blocks, augment, signature) + (
            (examples,) if examples else ())
        if cache_key not in self._compiled:
            future = self._start(self._compile, program, frozen_blocks, size, kind, args,
                                 augment, examples)
            self._compiled[cache_key] = future
            self._pending[future] = (program, size, kind, cache_key)
            self._evict_executables()
        self._compiled.move_to_end(cache_key)
        return self._compiled[cache_key]

    def _evict_executables(self) -> None:
        """Keep at most ``max_programs`` compiled programs in memory (each holds tens of
        MB on CPUs; a long search may compile hundreds). The least recently used finished
        ones go; one needed again recompiles (from the persistent cache, if on). Results
        never depend on it: which program trains a candidate is the plan's."""
        for key in list(self._compiled):
            if len(self._compiled) <= self.max_programs:
                break
            if self._compiled[key] not in self._pending:
                del self._compiled[key]

    def _augment_key(self, kind: str) -> tuple:
        """What of the augmentation settings a program of ``kind`` compiles in: () or
        (names, crop padding or 0), part of the compiled-program cache's key."""
        if kind != "train" or not self.augment:
            return ()
        return (self.augment, self.crop_padding if "crop" in self.augment else 0)

    def _wait(self, future: Future):
        """The executable of ``future``; the time waited (for an inline compile: all of
        it) is compile on the critical path."""
        start = time.perf_counter()
        compiled, phases = future.result()
        self.stats.compile_wait_seconds += time.perf_counter() - start
        if future in self._pending:  # first wait: record the compile
            program, size, kind, cache_key = self._pending.pop(future)
            seconds = sum(phases.values())
            if self.compile_workers == 0:  # compiled inline: all of it was waited for
                self.stats.compile_wait_seconds += seconds
            self.stats.compile_seconds += seconds
            # One entry per program the run needed: a recompile (evicted, or after a
            # resume) adds none, so a resumed run lists what an uninterrupted one does.
            digest = hashlib.sha256(repr(cache_key).encode()).hexdigest()[:16]
            first = not self.stats.programs  # no compile before (a recompile is not first)
            if digest not in self.stats.program_keys:
                self.stats.program_keys.append(digest)
                self.stats.programs.append({"program": program_label(program), "kind": kind,
                                            "size": size,
                                            **{k: round(v, 3) for k, v in phases.items()}})
            self.cost.update(compile_seconds=seconds, first=first)
        return compiled

    def _impl_for(self, program: ShapeKey, size: int) -> str:
        """The conv implementation of a program; "auto" measures its costliest conv once."""
        if self.conv_impl != "auto" or not program.is_conv:
            return self.conv_impl if self.conv_impl != "auto" else default_impl()
        best, shapes, in_shape = -1, None, program.input_shape
        for layer in program.layers:
            kind = kind_of(layer)
            for (h, w, cin), kernel in kind.convs(layer, in_shape):
                flops = h * w * math.prod(kernel)
                if flops > best:
                    best, shapes = flops, ((self.batch_size, h, w, cin), kernel)
            in_shape = kind.out_shape(layer, in_shape)
        return default_impl() if shapes is None else choose_impl(size, *shapes)

    def _opt_shapes(self, program: ShapeKey, params, knobs):
        """Zeros shaped like the optimizer state of one member (traced, not compiled)."""
        if program not in self._opt_shapes_cache:
            shapes = jax.eval_shape(build_init_opt_fn(program), params, knobs.learning_rate,
                                    knobs.weight_decay)
            self._opt_shapes_cache[program] = jax.tree.map(
                lambda s: np.zeros(s.shape, s.dtype), shapes)
        return self._opt_shapes_cache[program]

    def opt_state_structure(self, program: ShapeKey, arch: Architecture,
                            frozen_blocks: int = 0):
        """The pytree structure of an `Outcome.opt_state` of ``arch`` trained in
        ``program`` (to rebuild a saved state from its leaves)."""
        if self.chained:  # one optimizer state per trained op (`vlga_jax.training.chain`)
            return self.chain.opt_state_structure(arch, frozen_blocks)
        params = pad_tree(init_params(jax.random.key(0), arch.shape_key())[0],
                            program.param_shapes())
        return jax.tree.structure(self._opt_shapes(program, params, arch.knobs()))

    # training --------------------------------------------------------------------------
    def train(self, members: Sequence[Member], n_epochs: int,
              data: DeviceData | None = None, *,
              keep_opt_state: bool = False) -> list[Outcome]:
        """Train every member for ``n_epochs`` and evaluate it; one Outcome per member.

        Outcomes carry the optimizer state (program-shaped, to continue training with
        `Member.opt_state`) only with ``keep_opt_state``: otherwise it never leaves the
        device (it is several times the parameters' size).

        ``data`` replaces the trainer's data for this call (e.g. the test split for a
        final evaluation, or features of a frozen prefix); programs are shared whenever
        its shapes equal those of earlier calls. Every bucket's program is submitted for
        compilation first; buckets whose program is ready train first, while the others
        compile in the background. Results do not depend on that order.
        """
        if n_epochs < 0:
            raise ValueError(f"n_epochs must be >= 0, got {n_epochs}")
        if data is not None and data.eval_batch != self.eval_batch:
            raise ValueError(f"data: evaluation batch {data.eval_batch}, not the trainer's "
                             f"{self.eval_batch}; create it with eval_batch={self.eval_batch}")
        if data is not None and data.train_x.shape[0] < self.batch_size:
            raise ValueError(f"data: {data.train_x.shape[0]} training rows, fewer than the "
                             f"batch size {self.batch_size}")
        if n_epochs and self.augment and not all(m.arch.is_conv for m in members):
            raise ValueError(f"augment {self.augment}: image augmentation is for conv "
                             f"networks; train dense networks with augment=()")
        data = self.data if data is None else data
        if self.chained:
            return self._train_chained(members, n_epochs, data, keep_opt_state)
        outcomes: list[Outcome | None] = [None] * len(members)
        kind = "eval" if n_epochs == 0 else "train"
        n_train = data.train_x.shape[0]
        examples = call_examples(members, n_train, self.batch_size) if n_epochs else None
        jobs = []
        for program, size, idx in self.assign_programs(members, n_epochs, data):
            bucket = [members[i] for i in idx]
            args = self._bucket_args(program, size, bucket, n_epochs, data)
            placed = self._place(args, kind)
            future = self._submit(program, bucket[0].frozen_blocks, size, kind, placed,
                                  examples)
            jobs.append((future, program, size, idx, placed, args))
        if self.processes == 1:  # several processes must run their calls in one order
            jobs.sort(key=lambda job: not job[0].done())  # stable: plan order otherwise
        rows = examples or n_train
        self._tell("train_started", n_epochs, Lazy(lambda: [
            (program_label(job[1]), len(job[3]), n_epochs * rows * sum(
                members[i].arch.shape_key().train_flops_per_example for i in job[3]))
            for job in jobs], len(jobs)))
        for k, (future, program, size, idx, placed, args) in enumerate(jobs):
            bucket = [members[i] for i in idx]
            self._tell("bucket_started", k)
            start = time.perf_counter()
            run = self._run_bucket(self._wait(future), program, size, bucket, n_epochs,
                                   placed, args, keep_opt_state, data)
            self._tell("bucket_finished", k, time.perf_counter() - start)
            for i, outcome in zip(idx, run, strict=True):
                outcomes[i] = outcome
        return outcomes

    def evaluate_test(self, members: Sequence[Member], test_data: DeviceData, *,
                      train: Callable[..., list[Outcome]] | None = None) -> list[float]:
        """Test accuracy of each member: one evaluation call (0 epochs: forward passes
        only, parameters unchanged) on ``test_data``, a `DeviceData` whose evaluation
        arrays hold the test split. ``train`` makes the call in place of `train` (same
        arguments; a search passes its evaluator)."""
        outcomes = (train or self.train)(list(members), 0, data=test_data)
        # An evaluation call measures the split it was given: here the test split.
        return [outcome.val_acc for outcome in outcomes]

    def _train_chained(self, members: Sequence[Member], n_epochs: int, data: DeviceData,
                       keep_opt_state: bool) -> list[Outcome]:
        """`train` through layer programs, one member at a time: every member's programs
        are submitted first; a member whose programs are all ready trains before one
        that would wait (results do not depend on the order)."""
        futures = []
        for m in members:
            keys = self.chain.keys_for(m, n_epochs, data)
            futures.append({key: self.chain.submit(key, m.key.dtype) for key in keys})
        outcomes: list[Outcome | None] = [None] * len(members)
        todo = list(range(len(members)))
        bs = self.batch_size  # chained steps cover rows // bs * bs rows of each epoch
        rows = [rows_per_epoch([m], data.train_x.shape[0], bs) // bs * bs for m in members]
        self._tell("train_started", n_epochs, Lazy(lambda: [
            (program_label(m.arch.shape_key()), 1,
             n_epochs * r * m.arch.shape_key().train_flops_per_example)
            for m, r in zip(members, rows, strict=True)], len(members)))
        while todo:
            i = next((j for j in todo if all(f.done() for f in futures[j].values())), todo[0])
            todo.remove(i)
            self._tell("bucket_started", i)
            out = self.chain.train(members[i], n_epochs, data, keep_opt_state, futures[i])
            self._tell("bucket_finished", i, out.seconds)
            outcomes[i] = out
            self.stats.train_seconds += out.seconds
            self.stats.buckets += 1
            if n_epochs:
                self.stats.member_slots += 1
                self.stats.members_trained += 1
                flops = members[i].arch.shape_key().train_flops_per_example * n_epochs * rows[i]
                self.stats.real_flops += flops
                self.stats.padded_flops += flops
        return outcomes

    def _bucket_args(self, program: ShapeKey, size: int, members: list[Member],
                     n_epochs: int, data: DeviceData) -> TrainArgs | EvalArgs:
        """`vlga_jax.training.buckets.bucket_args` with this trainer's optimizer zeros."""
        return bucket_args(program, size, members, n_epochs, data, self._opt_shapes)

    def _place(self, args: TrainArgs | EvalArgs, kind: str) -> TrainArgs | EvalArgs:
        """With several processes: every argument as a global array on the mesh
        (`Placement`). One process: ``args`` as they are."""
        return args if self.processes == 1 else self._placement.place(args, kind)

    def _run_bucket(self, compiled, program: ShapeKey, size: int, members: list[Member],
                    n_epochs: int, placed: TrainArgs | EvalArgs, args: TrainArgs | EvalArgs,
                    keep_opt_state: bool, data: DeviceData) -> list[Outcome]:
        """Run ``compiled`` on ``placed`` (`_place` of ``args``); one Outcome per member.
        With several processes every output is gathered to every process by the program
        itself (one collective per call, in plan order on every process)."""
        real_keys = [m.arch.shape_key() for m in members]
        n_real = len(members)
        start = time.perf_counter()
        # One transfer back for the whole bucket (per-leaf copies cost ~0.1 ms each on GPU).
        if n_epochs == 0:  # evaluated only: the parameters are the arguments
            new_params, new_stats, metrics = jax.device_get((args.params, args.stats,
                                                             compiled(*placed)))
            new_opt = None
        else:
            new_params, new_stats, new_opt, metrics = compiled(*placed)
            if not keep_opt_state:
                new_opt = None
            new_params, new_stats, new_opt, metrics = jax.device_get(
                (new_params, new_stats, new_opt, metrics))
            self.stats.member_slots += size
            self.stats.members_trained += n_real
        seconds = time.perf_counter() - start
        self.stats.train_seconds += seconds
        self.stats.buckets += 1
        work = n_epochs and n_epochs * rows_per_epoch(members, data.train_x.shape[0],
                                                      self.batch_size)
        bucket_flops = size * program.train_flops_per_example * work
        self.stats.padded_flops += bucket_flops
        self.cost.update(flops=bucket_flops, seconds=seconds)
        self.stats.real_flops += sum(r.train_flops_per_example for r in real_keys) * work
        return bucket_outcomes(program, members, new_params, new_stats, new_opt, metrics,
                               seconds)
