"""The totals of a run (`Result.totals`): candidates, programs, epochs and seconds.

What was evaluated, trained and compiled, and the seconds it took, of every session and
of this one."""

from __future__ import annotations

import dataclasses
import time

from vlga_jax.search.context import Search
from vlga_jax.search.retrain import Winner

__all__ = ["Session", "totals"]


@dataclasses.dataclass
class Session:
    """This session's clock, and the seconds earlier sessions of a resumed run spent up to
    their last checkpoint (wall; compile and train: the trainer's counters restored)."""

    start: float = dataclasses.field(default_factory=time.perf_counter)
    earlier_wall: float = 0.0
    earlier_compile: float = 0.0
    earlier_train: float = 0.0
    resumed: bool = False

    def clock(self) -> float:
        """Wall seconds of every session so far."""
        return self.earlier_wall + time.perf_counter() - self.start


def totals(search: Search, winner: Winner, session: Session) -> dict:
    """The run's totals: candidates (trained, cache hits, failed, infeasible), the
    trainer's programs, seconds and FLOPs, epochs (budget, inherited, final), retained
    parameters, devices, and seconds of every session and of this one (they differ after
    a resume: ``resumed``)."""
    stats, candidates = search.trainer.stats, search.candidates
    seconds = time.perf_counter() - session.start
    wall, compile_before, train_before = (session.earlier_wall, session.earlier_compile,
                                          session.earlier_train)
    if winner.restored is not None:  # earlier sessions reached final training
        wall, restored_compile, restored_train = winner.restored
        compile_before += restored_compile
        train_before += restored_train
    return {
        "candidates": len(candidates),
        "trained": sum(not c.cache_hit and not c.infeasible for c in candidates),
        "cache_hits": sum(c.cache_hit for c in candidates),
        # failed in training (loss NaN/inf); infeasible ones are counted apart
        "failed": sum(c.failed and not c.infeasible for c in candidates),
        "infeasible": sum(c.infeasible and not c.cache_hit for c in candidates),
        "programs_compiled": stats.programs_compiled,
        "compile_seconds": stats.compile_seconds,
        "compile_wait_seconds": stats.compile_wait_seconds,
        "compile_phases": {phase: sum(p[phase] for p in stats.programs)
                           for phase in ("trace", "lower", "backend")},
        "programs": list(stats.programs),
        "train_seconds": stats.train_seconds,
        "buckets": stats.buckets,
        "program_reuses": stats.program_reuses,
        "padded_flop_overhead": stats.padded_overhead,
        "train_flops": stats.real_flops,
        "padded_train_flops": stats.padded_flops,
        "spent_epochs": search.schedule.spent_epochs,
        "inherited_epochs": sum(c.inherited_epochs for c in candidates),
        "retrained": search.cache.retrained,
        "final_epochs": winner.final.epochs,
        "final_best_epoch": winner.final.best_epoch,
        "params_held_max": search.cache.params_held_max,
        "devices": len(search.trainer.devices),
        "processes": search.trainer.processes,
        "member_slots": stats.member_slots,
        "device_utilisation": stats.utilisation,
        "wall_seconds": wall + seconds,
        "session_wall_seconds": seconds,
        "session_compile_seconds": stats.compile_seconds - compile_before,
        "session_train_seconds": stats.train_seconds - train_before,
        "resumed": session.resumed or winner.restored is not None,
    }
