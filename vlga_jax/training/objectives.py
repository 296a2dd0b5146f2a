"""What a search maximises: a trained candidate's metrics -> one or several objectives.

A candidate's metrics (`metrics`) are a dict:

    val_acc            validation accuracy (the default objective)
    val_loss           mean validation cross-entropy
    train_loss         mean training loss of its last epoch
    params             parameter count
    flops              training FLOPs per example
    epochs             epochs it trained in the search (``train.epochs``)
    inherited_epochs   epochs already in the blocks it inherited (VLGA phases > 0)
    phase              its VLGA phase (0 for single-phase strategies)
    seconds            its training seconds (not reproducible: avoid in objectives)

Objectives are maximised. ``ga.objectives`` names them (``"-params"`` minimises the
parameter count); `evolve(..., objective=fn)` takes a function of the metrics dict
that returns a float (one objective) or a sequence of floats (several). One objective is
the fitness every strategy selects on. Several make a multi-objective search: each
generation the population is ranked by non-dominated sorting and crowding distance
(`vlga_jax.core.pareto.rank_fitness`) and that rank is the fitness the strategy sees, while
the objective vectors are recorded (`CandidateRecord.objectives`). Failed candidates
(NaN/inf loss) are never passed to a user function.

A user function must return a finite number, or a non-empty sequence of finite numbers
of the same length for every candidate: anything else (NaN, inf, None, a string, a
nested sequence, another length) raises `ObjectiveError` naming the candidate (hash and
architecture) and the value; with ``evolve(..., objective_errors="fail")`` that
candidate is instead recorded as failed, with reason ``objective returned ...``.
"""

from __future__ import annotations

import dataclasses
import math
from collections.abc import Callable, Sequence
from pathlib import Path

import numpy as np

from vlga_jax.core import pareto
from vlga_jax.networks.architecture import Architecture

# What `evolve(objective_errors=...)` does with a value a user function should not
# return: raise ObjectiveError, or record that candidate as failed.
ON_ERROR = ("raise", "fail")

METRICS = ("val_acc", "val_loss", "train_loss", "params", "flops", "epochs",
           "inherited_epochs", "phase", "seconds")


def check_names(field: str, names: Sequence[str]) -> None:
    """ValueError naming ``field`` unless every name is a metric, optionally "-"-prefixed."""
    for name in names:
        if not isinstance(name, str) or name.removeprefix("-") not in METRICS:
            raise ValueError(f"{field} must name metrics from {METRICS} (a leading '-' "
                             f"minimises), got {name!r}")


class ObjectiveError(ValueError):
    """A user objective returned what it must not; ``reason``: "objective returned ..."."""

    def __init__(self, message: str, reason: str):
        super().__init__(message)
        self.reason = reason


def candidate_label(ev) -> str:
    """``candidate HASH (architecture)`` of a cached `Evaluation`, for messages."""
    arch = " | ".join(ev.arch.describe())
    return f"candidate {ev.hash} ({arch if len(arch) <= 160 else arch[:157] + '...'})"


def _vector(value) -> tuple[np.ndarray | None, str]:
    """(f64[M], "") of a user objective's return value (a number, a sequence of numbers,
    or a NumPy or JAX array of at most one axis), or (None, what is wrong)."""
    wrong = "not a number or a sequence of numbers"
    if value is None or isinstance(value, bool | np.bool_ | str | bytes | dict):
        return None, wrong
    try:
        v = np.asarray(value)
    except (TypeError, ValueError):  # ragged sequences
        return None, wrong
    if v.dtype.kind not in "iuf" or v.ndim > 1:  # bools, complex, objects, strings
        return None, wrong
    v = v.astype(np.float64).reshape(-1)
    if not v.size:
        return None, "an empty sequence"
    if not np.isfinite(v).all():
        return None, "not finite"
    return v, ""


def metrics(ev, epochs: int) -> dict:
    """The metrics dict of a cached `Evaluation` ``ev`` trained for ``epochs`` epochs."""
    out = ev.outcome
    return {"val_acc": float(out.val_acc), "val_loss": float(out.val_loss),
            "train_loss": float(out.train_loss), "params": ev.arch.param_count,
            "flops": ev.arch.flops_per_example, "epochs": epochs,
            "inherited_epochs": ev.inherited_epochs, "phase": ev.phase,
            "seconds": float(out.seconds)}


@dataclasses.dataclass(frozen=True)
class Objective:
    """``names`` (from ``ga.objectives``) or ``fn`` (a user function), not both; neither:
    validation accuracy."""

    names: tuple[str, ...] = ()
    fn: Callable[[dict], object] | None = None
    on_error: str = "raise"  # one of ON_ERROR (a user function's bad values)

    def __post_init__(self):
        check_names("ga.objectives", self.names)
        if self.on_error not in ON_ERROR:
            raise ValueError(f"objective_errors must be one of {ON_ERROR}, got "
                             f"{self.on_error!r}")
        if self.names and self.fn is not None:
            raise ValueError("objective: pass either evolve(objective=fn) or ga.objectives, "
                             f"not both (ga.objectives={self.names})")
        if self.fn is not None and not callable(self.fn):
            raise ValueError("objective must be a function of a metrics dict returning a "
                             f"float or a sequence of floats, got {type(self.fn).__name__}")

    @property
    def default(self) -> bool:
        return not self.names and self.fn is None

    @property
    def labels(self) -> tuple[str, ...]:
        """Readable objective names (a user function's: ``objective_0``, ...)."""
        if self.names:
            return self.names
        return ("val_acc",) if self.fn is None else ()

    def values(self, ev, epochs: int) -> np.ndarray:
        """f64[M] objective values of ``ev``; NaN (several) or -inf (one) if it failed."""
        if self.default:  # exactly the recorded accuracy: default runs stay bit for bit
            return np.array([ev.outcome.val_acc], np.float64)
        if ev.outcome.failed:
            size = max(len(self.names), 1)
            return np.full(size, np.nan if size > 1 else -np.inf)
        m = metrics(ev, epochs)
        if self.names:
            return np.array([-m[n[1:]] if n.startswith("-") else m[n] for n in self.names],
                            np.float64)
        value = self.fn(m)
        v, problem = _vector(value)
        if v is None:
            shown = repr(value)
            shown = shown if len(shown) <= 80 else shown[:77] + "..."
            raise ObjectiveError(
                f"objective returned {shown} ({problem}) for {candidate_label(ev)}: it must "
                "return a finite number or a sequence of finite numbers; fix the function, "
                "or pass evolve(..., objective_errors='fail') to record such candidates as "
                "failed", reason=f"objective returned {shown} ({problem})")
        return v


def fitness_label(objectives: Sequence[str]) -> str:
    """What a result's ``search_fitness`` is, for summaries: ``search fitness (val)`` for
    validation accuracy, the objective's name for another one, the Pareto-rank score
    (front 0 in [0, 0.5]) for several."""
    objectives = tuple(objectives)
    if objectives in ((), ("val_acc",)):
        return "search fitness (val)"
    if len(objectives) == 1:
        return f"search fitness ({objectives[0]})"
    return f"Pareto-rank fitness ({', '.join(objectives)}; front 0: 0 to 0.5)"


def scalar(values: np.ndarray) -> float:
    """The fitness of one objective's value vector f64[1] (NaN -> -inf: failed)."""
    v = float(values[0])
    return -math.inf if math.isnan(v) else v


def population_fitness(vectors: np.ndarray) -> np.ndarray:
    """f32[P] fitness of a population's objective vectors f64[P, M]: the value itself
    for M = 1, `pareto.rank_fitness` for M > 1 (NaN rows: not trained or failed)."""
    if vectors.shape[1] == 1:
        return vectors[:, 0].astype(np.float32)
    return pareto.rank_fitness(vectors)


def best_first(vectors: np.ndarray) -> np.ndarray:
    """int[N] indices of ``vectors`` f64[N, M] best first, failed (non-finite) dropped;
    ties keep the earlier index."""
    ok = np.isfinite(vectors).all(axis=1)
    if vectors.shape[1] == 1:
        order = np.lexsort((np.arange(len(vectors)), -vectors[:, 0]))
    else:
        order = pareto.order(vectors)
    return order[ok[order]]


@dataclasses.dataclass(eq=False)
class RankedCandidate:
    """One of the search's best candidates (``Result.top``) or a member of its Pareto
    front (``Result.pareto``), with its search-trained weights when they were kept.

    ``export(path)`` writes it as `vlga_jax.networks.export.save_model` does for the best network
    (raw-image normalisation included), to load with `vlga_jax.load_model`.
    """

    rank: int  # 1 = best
    hash: str
    description: dict
    architecture: Architecture
    objectives: tuple[float, ...]
    val_accuracy: float
    params: dict | None
    batch_stats: dict | None
    config: object = dataclasses.field(repr=False, default=None)
    dataset: object = dataclasses.field(repr=False, default=None)

    test_accuracy = None  # measured for the final model only

    @property
    def search_fitness(self) -> float:
        return self.objectives[0]

    @property
    def param_count(self) -> int:
        return self.architecture.param_count

    @property
    def flops(self) -> int:
        return self.architecture.flops_per_example

    def export(self, path) -> Path:
        """Write this network and its search-trained parameters to ``path`` (.npz)."""
        from vlga_jax.networks.export import save_model

        if self.params is None:
            raise ValueError(f"candidate {self.hash}: its parameters were not kept (only "
                             "Result.top holds parameters)")
        return save_model(path, self, dataset=self.dataset)

    def summary(self, labels: Sequence[str] = ()) -> dict:
        """JSON-able description (no parameters)."""
        names = list(labels) if len(labels) == len(self.objectives) else [
            f"objective_{i}" for i in range(len(self.objectives))]
        return {"rank": self.rank, "hash": self.hash, "genome": self.description,
                "architecture": self.architecture.describe(),
                "objectives": dict(zip(names, self.objectives, strict=True)),
                "val_accuracy": self.val_accuracy, "param_count": self.param_count,
                "flops_per_example": self.flops}
