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
"""

from __future__ import annotations

import os
import sys
import time
from typing import TextIO


def plain_line(record) -> str:
    return (f"phase {record.phase} gen {record.generation}: best {record.best:.4f} "
            f"mean {record.mean:.4f} median {record.median:.4f} | trained {record.evaluated} "
            f"cached {record.cache_hits} | {record.seconds:.1f}s")


class Progress:
    """An `evolve` callback (see module docstring).

    ``live``: None = when ``file`` is a TTY; ``done``: generations finished before (resume);
    ``header``: a line printed when it starts.
    """

    def __init__(self, total_generations: int, file: TextIO | None = None,
                 live: bool | None = None, done: int = 0, header: str | None = None):
        self.file = file or sys.stdout
        self.header = header
        self.total = total_generations
        self.live = self.file.isatty() if live is None else live
        self.candidates = 0
        self.start = time.perf_counter()
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
            print(self.header, file=self.file, flush=True)
        if self._bar is not None:
            self._bar.start()
        return self

    def __exit__(self, *exc) -> None:
        self.close()

    def close(self) -> None:
        if self._bar is not None:
            self._bar.stop()
            self._bar = None

    def generation_started(self, phase: int, generation: int, n: int) -> None:
        if self._bar is not None:
            self._bar.update(self._task, description=f"phase {phase} gen {generation}: "
                                                     f"training {n}")

    def __call__(self, record, candidates) -> None:
        self.candidates += len(candidates)
        if self._bar is None:
            print(plain_line(record), file=self.file, flush=True)
            return
        info = (f"{self.candidates} candidates  best {record.best:.4f}  "
                f"mean {record.mean:.4f}")
        self._bar.update(self._task, advance=1, info=info,
                         description=f"phase {record.phase} gen {record.generation}: done")

    def final_started(self, epochs: int, done: int = 0) -> None:
        """Final training of the winner starts: at most ``epochs``, ``done`` already run."""
        if self._bar is None:
            print(f"final training: up to {epochs} epochs", file=self.file, flush=True)
            return
        self._bar.update(self._task, total=self._bar.tasks[0].completed)  # the search ended
        self._final = self._bar.add_task("final training", total=epochs, completed=done,
                                         info="starting", unit="epochs")

    def final_epoch(self, epoch: int, val_acc: float, best_epoch: int) -> None:
        """Final training finished ``epoch`` (1-based) at ``val_acc``; best so far."""
        text = f"val {val_acc:.4f}  best epoch {best_epoch}"
        if self._bar is None:
            print(f"final epoch {epoch}: {text}", file=self.file, flush=True)
        elif self._final is not None:
            self._bar.update(self._final, completed=epoch, info=text)


def for_search(config, checkpoint_dir=None, file: TextIO | None = None,
               header: bool = True) -> Progress:
    """A `Progress` for ``config``'s search, counting the generations a run directory
    ``checkpoint_dir`` already finished (a resumed run); ``header``: start with a line
    such as ``vlga: backend cpu, 4 devices, 1 process``."""
    from vlga_jax.distributed import describe, select_devices
    from vlga_jax.runlog import read_jsonl

    done = 0
    if checkpoint_dir is not None:
        logged = os.path.join(checkpoint_dir, "logs", "generations.jsonl")
        done = len(read_jsonl(logged)) if os.path.exists(logged) else 0
    text = f"vlga: {describe(select_devices(config.run.devices))}" if header else None
    return Progress(config.planned_generations(), file=file, done=done, header=text)
