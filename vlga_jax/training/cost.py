"""The trainer's cost model: estimated seconds of training a bucket in a program.

A value with `estimate` and `update` (like an optax transformation's state): the
trainer asks it which program and bucket size cost least, and tells it what compiles
and buckets took. Its `state_dict` is plain data, saved with a run's checkpoints: which
program and bucket size a candidate trains in changes its float rounding, so a resumed
run must choose alike.
"""

from __future__ import annotations

import dataclasses

from vlga_jax.core.names import COST_MODELS

# The fixed cost model's figures, measured on 2-core CPU machines of this project (a
# whole search's training at 2-5e10 FLOP/s; 7-8 s per training program compiled beside
# training; benchmarks/compile_economy.py ran fastest with these among 5, 8, 12, 25 s).
# They choose which candidates share a program; they never depend on the machine's load.
FIXED_FLOP_RATE = 3e10
FIXED_COMPILE_SECONDS = 8.0
# An evaluation example costs a forward pass, about a third of a training example's
# forward and backward FLOPs.
EVAL_COST_DIVISOR = 3
# A new program of a bucket size that is not a power of two (members per device) is
# charged this share of a compile more: the recompile a later, slightly larger bucket
# would then need.
ODD_SIZE_COMPILE_SHARE = 0.5
# "measured": each new figure is averaged with the previous estimate at this weight.
SMOOTHING = 0.5


@dataclasses.dataclass
class CostModel:
    """``kind`` "fixed" keeps ``flop_rate`` (FLOP/s) and ``compile_seconds`` (per new
    program) constant, so the choice of programs never depends on timings; "measured"
    refines both with `update`. ``known`` holds the programs the run has compiled:
    (topology, frozen blocks) -> [(program ShapeKey, bucket size), ...]. A call's members
    are split evenly over ``devices`` devices that train in parallel, each at
    ``flop_rate``."""

    kind: str = "fixed"
    flop_rate: float = FIXED_FLOP_RATE
    compile_seconds: float = FIXED_COMPILE_SECONDS
    known: dict = dataclasses.field(default_factory=dict)
    devices: int = 1

    def __post_init__(self):
        if self.kind not in COST_MODELS:
            raise ValueError(f"cost_model must be one of {COST_MODELS}, got {self.kind!r}")

    def compiled(self, program, frozen: int) -> list:
        """The (program, size) pairs compiled for ``program``'s topology."""
        return self.known.get((program.topology(), frozen), [])

    def train_seconds(self, program, size: int, n_epochs: int, n_train: int,
                      n_eval: int) -> float:
        """Seconds of one call training ``size`` members for ``n_epochs`` on ``n_train``
        rows and evaluating ``n_eval`` rows (dummy members cost as much as real ones):
        those of the ``ceil(size / devices)`` members of one device."""
        n = n_train * max(n_epochs, 1) + n_eval / EVAL_COST_DIVISOR
        per_device = -(-size // self.devices)
        return per_device * program.train_flops_per_example * n / self.flop_rate

    def estimate(self, program, size: int, calls: int, frozen: int, n_epochs: int,
                 n_train: int, n_eval: int) -> float:
        """Seconds of ``calls`` calls of ``program`` at bucket ``size``, a compile
        included when the run has not compiled that (program, size) yet."""
        cost = calls * self.train_seconds(program, size, n_epochs, n_train, n_eval)
        if (program, size) not in self.compiled(program, frozen):
            cost += self.compile_seconds
            per_device = max(1, size // self.devices)
            if per_device & (per_device - 1):  # not a power of two per device
                cost += ODD_SIZE_COMPILE_SHARE * self.compile_seconds
        return cost

    def record(self, program, size: int, frozen: int) -> bool:
        """Note that the run uses ``program`` at ``size``; True if it is a new program."""
        known = self.known.setdefault((program.topology(), frozen), [])
        if (program, size) in known:
            return False
        known.append((program, size))
        return True

    def update(self, *, compile_seconds: float | None = None, first: bool = False,
               flops: float | None = None, seconds: float | None = None) -> None:
        """Tell the model a compile's seconds (``first``: the run's first compile) or a
        bucket's padded ``flops`` (over all devices) and ``seconds``; only "measured"
        learns from them."""
        if self.kind != "measured":
            return
        if compile_seconds is not None:
            self.compile_seconds = compile_seconds if first else (
                SMOOTHING * self.compile_seconds + (1 - SMOOTHING) * compile_seconds)
        if flops and seconds:  # flops of all devices: the rate of one
            rate = flops / self.devices / seconds
            self.flop_rate = SMOOTHING * self.flop_rate + (1 - SMOOTHING) * rate

    def state_dict(self) -> dict:
        """Plain data: known programs (as a list of items), flop rate, compile seconds."""
        return {"known_programs": list(self.known.items()), "flop_rate": self.flop_rate,
                "compile_estimate": self.compile_seconds}

    def load_state_dict(self, saved: dict) -> None:
        """The inverse of `state_dict` (entries saved as None are left as they are)."""
        if saved.get("known_programs") is not None:
            self.known = {k: list(v) for k, v in saved["known_programs"]}
        if saved.get("flop_rate") is not None:
            self.flop_rate = saved["flop_rate"]
        if saved.get("compile_estimate") is not None:
            self.compile_seconds = saved["compile_estimate"]
