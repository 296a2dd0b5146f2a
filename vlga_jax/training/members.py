"""What the trainer takes and gives: the data on the device, the members to train, their
outcomes, and a run's training counters (a leaf the trainer, the chain and the search
share)."""

from __future__ import annotations

import dataclasses
import math

import jax
import numpy as np

from vlga_jax.core.names import block_name, conv_name
from vlga_jax.networks.architecture import Architecture, ShapeKey
from vlga_jax.networks.params import init_params

__all__ = ["DeviceData", "Member", "Outcome", "TrainerStats"]

# -- data on device -----------------------------------------------------------------------

@dataclasses.dataclass(frozen=True)
class DeviceData:
    """Training and evaluation arrays resident on the device.

    train_x f32[N, H, W, C], train_y int32[N]; eval_x f32[M', H, W, C] padded to a
    multiple of the evaluation batch, eval_y int32[M'], eval_w f32[M'] (1 real, 0 pad);
    eval_batches int32[]: the batches holding real rows (M' may be padded further, see
    ``create``); eval_batch: the rows per evaluation batch, which a `Trainer` of this
    data evaluates with. Programs depend only on the shapes, so two DeviceData of equal
    shapes (validation and test, say) run through the same compiled programs.
    """

    train_x: jax.Array
    train_y: jax.Array
    eval_x: jax.Array
    eval_y: jax.Array
    eval_w: jax.Array
    eval_batches: jax.Array
    n_eval: int
    eval_batch: int  # rows per evaluation batch; the programs that evaluate it use it too

    @classmethod
    def create(cls, train_x, train_y, eval_x, eval_y, eval_batch: int,
               eval_rows: int | None = None) -> DeviceData:
        """``eval_rows`` pads the evaluation arrays to at least that many rows (so that a
        validation and a test split share programs); only real batches are evaluated."""
        n = len(eval_y)
        if n == 0 or len(train_y) == 0:
            raise ValueError("DeviceData: train and evaluation splits must be non-empty")
        batches = math.ceil(n / eval_batch)
        padded = max(batches, math.ceil((eval_rows or 0) / eval_batch)) * eval_batch
        pad = padded - n
        ex = np.concatenate([eval_x, np.zeros((pad, *eval_x.shape[1:]), eval_x.dtype)])
        ey = np.concatenate([eval_y, np.zeros(pad, eval_y.dtype)])
        ew = np.concatenate([np.ones(n, np.float32), np.zeros(pad, np.float32)])
        put = jax.device_put
        return cls(put(np.asarray(train_x, np.float32)), put(np.asarray(train_y, np.int32)),
                   put(ex.astype(np.float32)), put(ey.astype(np.int32)), put(ew),
                   put(np.int32(batches)), n, int(eval_batch))

    def arrays(self) -> tuple:
        """The program arguments: (train_x, train_y, eval_x, eval_y, eval_w, eval_batches)."""
        return (self.train_x, self.train_y, self.eval_x, self.eval_y, self.eval_w,
                self.eval_batches)


# -- members and outcomes -----------------------------------------------------------------

@dataclasses.dataclass
class Member:
    """One candidate to train.

    ``params``/``stats`` are real-shaped (unpadded) pytrees; None means a fresh init from
    ``init_key``. ``frozen_blocks`` leading blocks keep their parameters and statistics.
    ``opt_state`` (program-shaped) continues an earlier call's optimizer, if given.
    ``examples``: train on a fixed subset of this many training rows, drawn from
    ``examples_key`` (None: ``key``), every epoch a permutation of it (None: every row;
    `vlga_jax.training.subsets`).
    """

    arch: Architecture
    key: jax.Array
    params: dict | None = None
    stats: dict | None = None
    frozen_blocks: int = 0
    opt_state: object | None = None
    program: ShapeKey | None = None
    examples: int | None = None
    examples_key: jax.Array | None = None

    def subset_key(self) -> jax.Array:
        """The key of the member's subset of training rows (``examples``)."""
        return self.key if self.examples_key is None else self.examples_key

    def start_params(self) -> tuple[dict, dict]:
        """(params, stats) training starts from: the given ones, or a fresh draw from
        ``key`` (`vlga_jax.networks.params.init_params`) when ``params`` is None."""
        if self.params is None:
            return init_params(self.key, self.arch.shape_key())
        return self.params, self.stats or {}


@dataclasses.dataclass
class Outcome:
    """What training one member produced (parameters real-shaped, numpy)."""

    params: dict
    stats: dict
    val_acc: float
    val_loss: float
    train_loss: float
    failed: bool
    reason: str
    seconds: float
    program: ShapeKey
    opt_state: object = None


@dataclasses.dataclass
class TrainerStats:
    """Counters of a run. ``programs_compiled`` and ``program_reuses`` count the plan (a
    program is compiled the first time the run needs it), so they survive a resume; the
    seconds count what this run's processes spent. ``compile_seconds`` sums every
    compile's trace + lower + backend, ``compile_wait_seconds`` only the part training
    waited for (compiles run in background threads while earlier buckets train).
    ``programs`` holds one dict per compile: program, size, and the three phases."""

    programs_compiled: int = 0
    compile_seconds: float = 0.0
    compile_wait_seconds: float = 0.0
    train_seconds: float = 0.0
    buckets: int = 0
    program_reuses: int = 0  # bucket calls that ran an already compiled program
    padded_flops: float = 0.0
    real_flops: float = 0.0
    programs: list = dataclasses.field(default_factory=list)
    member_slots: int = 0  # members of every training call, dummies included
    members_trained: int = 0  # real members of every training call
    # Chained training (`vlga_jax.training.chain`): the layer programs the run has needed (their
    # keys' reprs, in first-use order; each counts once in programs_compiled) and the
    # seconds spent loading executables from, and writing them to, the program store.
    layer_programs_met: list = dataclasses.field(default_factory=list)
    # Digests of the compiled programs' cache keys `programs` lists (one entry each).
    program_keys: list = dataclasses.field(default_factory=list)
    load_seconds: float = 0.0

    @property
    def padded_overhead(self) -> float:
        """Padded training FLOPs / real training FLOPs - 1."""
        return self.padded_flops / self.real_flops - 1.0 if self.real_flops else 0.0

    @property
    def utilisation(self) -> float:
        """Real members / member slots of the training calls (1.0: no device trained a
        dummy member; 0.0 before any training)."""
        return self.utilisation_since(0, 0) or 0.0

    def utilisation_since(self, member_slots: int, members_trained: int) -> float | None:
        """`utilisation` of the calls made since the counts were ``member_slots`` and
        ``members_trained`` (None: no training call since)."""
        slots = self.member_slots - member_slots
        return (self.members_trained - members_trained) / slots if slots else None


def _freeze_bias_before_batchnorm(mask: dict, arch: Architecture) -> dict:
    """A conv bias followed by batch norm has a zero gradient up to rounding noise, which
    Adam would scale up to full-size steps: keep it at its initial zero instead."""
    knobs = arch.knobs()
    for i, row in enumerate(knobs.batchnorm):
        for j, enabled in enumerate(row):
            conv = mask.get(block_name(i), {}).get(conv_name(j))
            if enabled and conv is not None:
                conv["bias"] = np.zeros_like(conv["bias"])
    return mask
