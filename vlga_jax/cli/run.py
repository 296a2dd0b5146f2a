"""``vlga run`` and ``vlga resume``: a search into a run directory.

In this process, or joining a run of several processes (in a supervised worker); Ctrl-C
leaves at once with a line on how to go on.
"""

from __future__ import annotations

import contextlib
import os
import signal
import sys
import threading
import time

from vlga_jax.cli.arguments import build_config
from vlga_jax.cli.paths import check_writable_dir

# The exit status after Ctrl-C (128 + SIGINT), as shells report it.
INTERRUPTED = 130


def _join(args) -> None:
    """Join a run of several processes if the flags or the environment say so (before
    anything else uses JAX)."""
    from vlga_jax.core import distributed

    try:
        distributed.initialize(args.coordinator, args.num_processes, args.process_id,
                               auto=args.distributed, connect_timeout=args.connect_timeout)
    except ValueError:
        raise
    except Exception as err:  # the runtime's errors: unreachable coordinator, timeout
        raise ValueError(f"could not join the run of several processes: "
                         f"{type(err).__name__}: {err}") from err


def several_processes(args) -> bool:
    """Whether ``run``/``resume`` join a run of several processes (flags or environment)."""
    if getattr(args, "fn", None) not in (cmd_run, cmd_resume):
        return False
    from vlga_jax.core import distributed

    return distributed.requested(args.coordinator, args.num_processes, args.process_id,
                                 auto=args.distributed)


def supervised(args, argv) -> int:
    """Check the several-process flags, then run this command in a supervised worker
    (`vlga_jax.core.supervise`: JAX's native aborts become one error line)."""
    from vlga_jax.core import distributed, supervise

    distributed.check_arguments(args.coordinator, args.num_processes, args.process_id,
                                auto=args.distributed, connect_timeout=args.connect_timeout)
    run_dir = args.dir if args.fn is cmd_resume else args.out
    return supervise.run(argv, address=args.coordinator or os.environ.get(
        "JAX_COORDINATOR_ADDRESS"), process_id=args.process_id,
        connect_timeout=args.connect_timeout, run_dir=run_dir)


@contextlib.contextmanager
def _exit_on_interrupt(out: str):
    """Ctrl-C inside leaves the process at once, status 130, with one line on how to go on.

    Not a KeyboardInterrupt: one raised inside a garbage-collector callback is only
    printed and the search goes on, and after one Python waits at exit for compiles still
    running in background threads (minutes for a large network). Leaving from the signal
    handler is as safe for the run directory as a kill at any point: its checkpoints and
    outputs are written atomically, and `vlga resume` continues bit for bit."""
    if threading.current_thread() is not threading.main_thread():
        yield
        return

    def leave(signum, frame):
        if os.path.exists(os.path.join(out, "run.json")):
            line = f"vlga: interrupted; continue with: vlga resume {out}"
        else:
            line = "vlga: interrupted before the run directory was written: nothing to resume"
        try:
            sys.stdout.flush()
        except Exception:  # a flush interrupted mid-write: leave regardless
            pass
        os.write(2, f"\n{line}\n".encode())
        os._exit(INTERRUPTED)

    previous = signal.signal(signal.SIGINT, leave)
    try:
        yield
    finally:
        signal.signal(signal.SIGINT, previous)


def _run_search(config, key, out: str, quiet: bool) -> int:
    import jax

    from vlga_jax.core import distributed
    from vlga_jax.runs.progress import for_search
    from vlga_jax.search.evolve import SearchFailed, evolve
    from vlga_jax.strategies import strategy_class

    main = distributed.is_main()  # process 0 alone prints (and writes the directory)
    phased = strategy_class(config.ga.strategy).has_phases
    phases = f", phases <= {config.ga.max_phases}" if phased else ""
    if main:
        devices = distributed.describe(distributed.select_devices(config.run.devices))
        print(f"vlga: run directory {out}; strategy {config.ga.strategy}, dataset "
              f"{config.data.name}, population "
              f"{config.ga.population}, generations {config.ga.generations}{phases}; "
              f"{devices}", flush=True)
    start = time.perf_counter()
    progress = for_search(config, out, file=sys.stdout, header=False)
    callbacks = [] if quiet or not main else [progress]
    try:
        with progress, _exit_on_interrupt(out):
            result = evolve(key, config, callbacks=callbacks, checkpoint_dir=out,
                            progress=False)
    except SearchFailed as err:
        raise ValueError(f"{err}. Resuming {out} would repeat this (its config is fixed): "
                         "start a new run (another --out) with e.g. a lower "
                         "--set train.learning_rate=...") from err
    except Exception as err:
        if distributed.process_count() > 1 and distributed.lost_peers(err):
            raise ValueError(f"process {jax.process_index()} lost contact with the other "
                             f"processes of the run ({' '.join(str(err).split())[:200]}): "
                             "see their output, then continue with vlga resume "
                             f"{out} in every process") from err
        raise
    if not main:
        return 0
    print(result.summary())
    session = time.perf_counter() - start
    earlier = result.totals["wall_seconds"] - result.totals["session_wall_seconds"]
    print(f"wall this session {session:.1f}s, total {earlier + session:.1f}s (all sessions)"
          if result.totals["resumed"] else f"wall {session:.1f}s")
    print(f"wrote {os.path.join(out, 'result.json')} and {os.path.join(out, 'model.npz')}; "
          f"plots: vlga report {out}")
    return 0


def _check_paths(config, out: str) -> None:
    """Refuse, before anything is loaded or trained, directories that cannot be written
    (by process 0, the one that writes them)."""
    from vlga_jax.core.distributed import is_main
    from vlga_jax.data.datasets import check_data_dir

    if not is_main():
        return
    check_writable_dir(out, "--out")
    if config.data.data_dir:  # given, though digits, say, do not read it
        check_data_dir(config.data.data_dir)
    if config.run.compile_cache_dir:
        check_writable_dir(config.run.compile_cache_dir, "run.compile_cache_dir")


def cmd_run(args) -> int:
    _join(args)
    import jax

    config = build_config(args)
    out = args.out or os.path.join(
        "runs", f"{time.strftime('%Y%m%d-%H%M%S')}-{args.preset}-seed{args.seed}")
    _check_paths(config, out)
    key = jax.random.key(args.seed)
    if _finished(out, config, key):
        return 0
    return _run_search(config, key, out, args.quiet)


def _finished(out: str, config, key) -> bool:
    """Whether ``out`` holds this very run, finished (result.json and model.npz): then
    say so and print its summary instead of training its final model again."""
    from vlga_jax.runs.report import RunReport, summary_table
    from vlga_jax.runs.rundir import same_run
    from vlga_jax.search.evolve import configured_dataset

    if not all(os.path.exists(os.path.join(out, f)) for f in ("result.json", "model.npz")):
        return False
    if not same_run(out, config, key, configured_dataset(config)):
        return False  # another run or a damaged one: RunDir refuses it, saying why
    print(f"vlga: {out} holds this run, finished; nothing to do (a new run needs another "
          "--out)")
    print(summary_table(RunReport.load(out)))
    return True


def cmd_resume(args) -> int:
    from vlga_jax.runs.report import RunReport, summary_table
    from vlga_jax.runs.rundir import read_config

    _join(args)
    config, key = read_config(args.dir)
    if os.path.exists(os.path.join(args.dir, "result.json")):
        if os.path.exists(os.path.join(args.dir, "model.npz")):
            print(f"vlga: {args.dir} has finished; nothing to resume")
            print(summary_table(RunReport.load(args.dir)))
            return 0
        print(f"vlga: {args.dir} has finished but its model.npz is missing; training the "
              "final model again from the last checkpoint", flush=True)
    _check_paths(config, args.dir)
    return _run_search(config, key, args.dir, args.quiet)
