"""Search progress for `evolve` callbacks: a live rich bar on a terminal, else plain lines.

`evolve` shows one on stderr by default when stderr is a terminal (``progress=False``
turns it off, ``progress=True`` forces it). By hand:

    with Progress(config.planned_generations()) as progress:
        evolve(key, config, callbacks=[progress], progress=False)

The bar counts generations (an upper bound: a search may stop early) and shows the
generation being trained, candidates done, best and mean fitness, elapsed time and ETA;
then a second bar counts final training's epochs with the validation accuracy. A
`for_search` progress first prints a startup line naming the backend, the devices and
the processes.

Outside a terminal (a file, a pipe, a CI log) it prints plain lines: one per generation
(the generation's best beside the best so far), inside a generation one per finished
bucket at most every ``line_seconds`` with an ETA, one line when final training starts
and one summary when it ends; and a heartbeat thread prints ``still training <program>
..., <seconds> s`` whenever nothing was printed for ``heartbeat`` seconds, so such
output is never silent for long, even while one compiled call runs for minutes. Timing
chooses only when a line is printed, never what the search computes.
"""

from __future__ import annotations

import os
import sys
import threading
import time
from typing import TextIO

from vlga_jax.training.feasibility import duration

# Plain output: a heartbeat line after this many silent seconds; bucket lines at most
# this often.
HEARTBEAT_SECONDS = 30.0
LINE_SECONDS = 10.0


def plain_line(record) -> str:
    so_far = getattr(record, "best_so_far", None)
    best = (f"gen best {record.best:.4f} (best so far {so_far:.4f})" if so_far is not None
            else f"best {record.best:.4f}")
    infeasible = getattr(record, "infeasible", 0)
    over = f" infeasible {infeasible}" if infeasible else ""
    return (f"phase {record.phase} gen {record.generation}: {best} "
            f"mean {record.mean:.4f} median {record.median:.4f} | trained {record.evaluated} "
            f"cached {record.cache_hits}{over} | {record.seconds:.1f}s")


class Progress:
    """An `evolve` callback (see module docstring).

    ``live``: None = when ``file`` is a TTY; ``done``: generations finished before (resume);
    ``header``: a line printed when it starts. Plain output only: ``heartbeat`` seconds
    of silence before a "still ..." line (None: no heartbeat), ``line_seconds`` between
    two lines on the buckets of a generation.
    """

    def __init__(self, total_generations: int, file: TextIO | None = None,
                 live: bool | None = None, done: int = 0, header: str | None = None,
                 heartbeat: float | None = HEARTBEAT_SECONDS,
                 line_seconds: float = LINE_SECONDS):
        self.file = file or sys.stdout
        self.header = header
        self.total = total_generations
        self.live = self.file.isatty() if live is None else live
        self.candidates = 0
        self.start = time.perf_counter()
        self.heartbeat = heartbeat
        self.line_seconds = line_seconds
        self._lock = threading.Lock()
        self._stop = threading.Event()
        self._thread: threading.Thread | None = None
        self._last_line = self.start
        self._context = ""  # "phase 0 gen 1", "final training"
        self._activity, self._since = "starting (loading data, compiling)", self.start
        self._buckets: list = []
        self._call_start = self.start
        self._done_members = self._done_flops = 0
        self._final_start, self._final_epochs = self.start, 0
        self._bar = self._task = None
        if self.live:
            from rich.console import Console
            from rich.progress import (
                BarColumn,
                MofNCompleteColumn,
                TextColumn,
                TimeElapsedColumn,
                TimeRemainingColumn,
            )
            from rich.progress import Progress as Bar

            console = Console(file=self.file, force_terminal=True)
            self._bar = Bar(TextColumn("{task.description}"), BarColumn(bar_width=24),
                            MofNCompleteColumn(),
                            TextColumn("{task.fields[unit]}  {task.fields[info]}"),
                            TimeElapsedColumn(), TextColumn("ETA"), TimeRemainingColumn(),
                            console=console)
            self._task = self._bar.add_task("search", total=total_generations,
                                            completed=done, info="starting", unit="gens")
        self._final = None

    def __enter__(self) -> Progress:
        if self.header:
            self._print(self.header)
        if self._bar is not None:
            self._bar.start()
        elif self.heartbeat:
            self._stop.clear()
            self._thread = threading.Thread(target=self._beat, name="vlga-heartbeat",
                                            daemon=True)
            self._thread.start()
        return self

    def __exit__(self, *exc) -> None:
        self.close()

    def close(self) -> None:
        self._stop.set()
        if self._thread is not None:
            self._thread.join()
            self._thread = None
        if self._bar is not None:
            self._bar.stop()
            self._bar = None

    # plain output ------------------------------------------------------------------------
    def _print(self, text: str) -> None:
        with self._lock:
            print(text, file=self.file, flush=True)
            self._last_line = time.perf_counter()

    def _beat(self) -> None:
        """The heartbeat thread: a line whenever ``heartbeat`` seconds passed silently."""
        while not self._stop.wait(min(1.0, self.heartbeat / 4)):
            now = time.perf_counter()
            if now - self._last_line >= self.heartbeat:
                self._print(f"  still {self._activity}, {now - self._since:.0f} s")

    def _doing(self, activity: str) -> None:
        self._activity, self._since = activity, time.perf_counter()

    def cost_warning(self, text: str) -> None:
        """The search's start-up warning (`vlga_jax.training.feasibility.start_warning`)."""
        if self._bar is not None:
            self._bar.console.print(text, markup=False, highlight=False)
        else:
            self._print(text)

    # the search --------------------------------------------------------------------------
    def generation_started(self, phase: int, generation: int, n: int) -> None:
        self._context = f"phase {phase} gen {generation}"
        self._doing(f"working on {self._context} ({n} to train)")
        if self._bar is not None:
            self._bar.update(self._task, description=f"phase {phase} gen {generation}: "
                                                     f"training {n}")

    def train_started(self, n_epochs: int, buckets: list) -> None:
        """The trainer starts a call: ``buckets`` of (program label, members, FLOPs)."""
        self._buckets = list(buckets)
        self._call_start = time.perf_counter()
        self._done_members = self._done_flops = 0

    def bucket_started(self, index: int) -> None:
        label, members, _ = self._buckets[index]
        total = sum(m for _, m, _ in self._buckets)
        what = f"{self._context}, " if self._context else ""
        self._doing(f"training {label} ({what}{self._done_members + 1}"
                    f"{f'-{self._done_members + members}' if members > 1 else ''}/{total})")

    def bucket_finished(self, index: int, seconds: float) -> None:
        _, members, flops = self._buckets[index]
        self._done_members += members
        self._done_flops += flops
        total = sum(m for _, m, _ in self._buckets)
        self._doing(f"working on {self._context}" if self._context else "working")
        if self._bar is not None:
            if self._final is None:
                self._bar.update(self._task, info=f"trained {self._done_members}/{total}")
            return
        now = time.perf_counter()
        last = index == len(self._buckets) - 1 or self._done_members >= total
        if (self._final is not None or last or self._context.startswith("final")
                or now - self._last_line < self.line_seconds):
            return
        all_flops = sum(f for _, _, f in self._buckets)
        eta = ""
        if self._done_flops and all_flops:
            left = (now - self._call_start) * (all_flops - self._done_flops) / self._done_flops
            eta = f", ETA {duration(left)}"
        self._print(f"  {self._context}: trained {self._done_members}/{total}, "
                    f"{duration(now - self._call_start)}{eta}")

    def __call__(self, record, candidates) -> None:
        self.candidates += len(candidates)
        if self._bar is None:
            self._print(plain_line(record))
            return
        so_far = getattr(record, "best_so_far", None)
        best = (f"gen best {record.best:.4f}  best so far {so_far:.4f}" if so_far is not None
                else f"best {record.best:.4f}")
        info = f"{self.candidates} candidates  {best}  mean {record.mean:.4f}"
        self._bar.update(self._task, advance=1, info=info,
                         description=f"phase {record.phase} gen {record.generation}: done")

    # final training ----------------------------------------------------------------------
    def final_started(self, epochs: int, done: int = 0) -> None:
        """Final training of the winner starts: at most ``epochs``, ``done`` already run."""
        self._context = "final training"
        self._final_epochs, self._final_start = epochs, time.perf_counter()
        self._doing(f"final training, epoch {done + 1} of at most {epochs}")
        if self._bar is None:
            self._print(f"final training: up to {epochs} epochs")
            return
        self._bar.update(self._task, total=self._bar.tasks[0].completed)  # the search ended
        self._final = self._bar.add_task("final training", total=epochs, completed=done,
                                         info="starting", unit="epochs")

    def final_epoch(self, epoch: int, val_acc: float, best_epoch: int) -> None:
        """Final training finished ``epoch`` (1-based) at ``val_acc``; best so far."""
        text = f"val {val_acc:.4f}  best epoch {best_epoch}"
        if self._bar is None:  # plain output: one summary line at the end
            self._doing(f"final training, epoch {epoch + 1} of at most "
                        f"{self._final_epochs} (epoch {epoch}: {text})")
        elif self._final is not None:
            self._bar.update(self._final, completed=epoch, info=text)

    def final_finished(self, epochs: int, best_epoch: int, val_acc: float) -> None:
        """Final training ended after ``epochs`` epochs; the best is ``best_epoch`` (0:
        the search's weights) at validation accuracy ``val_acc``."""
        self._doing("evaluating the final network")
        if self._bar is None:
            best = f"epoch {best_epoch}" if best_epoch else "the search weights"
            self._print(f"final training: {epochs} epochs in "
                        f"{duration(time.perf_counter() - self._final_start)}; best: "
                        f"{best}, val {val_acc:.4f}")


def for_search(config, checkpoint_dir=None, file: TextIO | None = None,
               header: bool = True) -> Progress:
    """A `Progress` for ``config``'s search, counting the generations a run directory
    ``checkpoint_dir`` already finished (a resumed run); ``header``: start with a line
    such as ``vlga: backend cpu, 4 devices, 1 process``."""
    from vlga_jax.core.distributed import describe, select_devices
    from vlga_jax.runs.runlog import read_jsonl

    done = 0
    if checkpoint_dir is not None:
        logged = os.path.join(checkpoint_dir, "logs", "generations.jsonl")
        done = len(read_jsonl(logged)) if os.path.exists(logged) else 0
    text = f"vlga: {describe(select_devices(config.run.devices))}" if header else None
    return Progress(config.planned_generations(), file=file, done=done, header=text)
