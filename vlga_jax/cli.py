"""The ``vlga`` command.

    vlga run [--preset NAME] [--config FILE] [--dataset NAME] [--data-dir D] [--out DIR]
             [--seed S] [--set key=value ...]
    vlga resume DIR              continue an interrupted run
    (run and resume: --coordinator HOST:PORT --num-processes N --process-id I, or
     --distributed, join a run of several processes, in a supervised worker process
     that turns JAX's native aborts into one error line; --connect-timeout SECONDS;
     see `vlga_jax.core.distributed`, `vlga_jax.core.supervise`)
    vlga report DIR [--out D [--force]]
                                 summary table and PNG plots (DIR/report/)
    vlga report DIR --csv FILE   every evaluated candidate as CSV
    vlga export DIR --to FILE    the best network and its parameters (.npz)
    vlga predict FILE IMAGES...  predicted classes for raw images (.npy/.npz arrays,
                                 PNG/JPEG files)
    vlga presets [--explain NAME] list the presets; or one preset's source, settings and
                                 departures from its source
    vlga config [--preset NAME] [--set key=value ...]
                                 every config field (the --set keys) with its value and
                                 meaning

Bad arguments and every expected failure (data not prepared, every candidate failed,
unwritable paths, damaged files or run directories) print one ``vlga: error: ...`` line
saying what to do and exit with status 2; an unexpected exception (a bug) keeps its
traceback.
"""

from __future__ import annotations

import argparse
import ast
import contextlib
import os
import signal
import sys
import threading
import time
from pathlib import Path

from vlga_jax.core.supervise import CONNECT_SECONDS


class _Parser(argparse.ArgumentParser):
    def error(self, message):  # one line, exit code 2
        self.exit(2, f"vlga: error: {message}\n")


# The exit status after Ctrl-C (128 + SIGINT), as shells report it.
INTERRUPTED = 130


def _parse_value(text: str):
    """A Python value from ``--set`` text (kept for scripts; `vlga run` passes the text to
    the typed config, which parses it by each field's type)."""
    if text.lower() in ("none", "null"):
        return None
    if text.lower() in ("true", "false"):
        return text.lower() == "true"
    try:
        return ast.literal_eval(text)
    except (ValueError, SyntaxError):
        return text


def _seed(text: str) -> int:
    """A PRNG seed: an integer in [0, 2**32) (larger ones would wrap onto smaller ones)."""
    try:
        seed = int(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"invalid int value: {text!r}") from None
    if not 0 <= seed < 2**32:
        raise argparse.ArgumentTypeError(f"must be in [0, 2**32), got {seed}")
    return seed


def _positive_rank(text: str) -> int:
    """A candidate's rank: an integer >= 1 (1 = the best)."""
    try:
        rank = int(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"invalid int value: {text!r}") from None
    if rank < 1:
        raise argparse.ArgumentTypeError(f"must be >= 1 (1 = the best), got {rank}")
    return rank


def _build_config(args):
    from vlga_jax.config import Config

    if args.config:
        try:
            with open(args.config) as f:
                config = Config.from_json(f.read())
        except OSError as err:
            raise ValueError(f"--config {args.config}: {err.strerror}") from err
        except (ValueError, TypeError) as err:
            raise ValueError(f"--config {args.config}: {err}") from err
    else:
        config = Config.preset(args.preset)
    overrides = {}
    if args.dataset:
        overrides["data.name"] = args.dataset
    if args.data_dir:
        overrides["data.data_dir"] = args.data_dir
    for item in args.set or ():
        key, sep, value = item.partition("=")
        if not sep:
            raise ValueError(f"--set expects key=value, got {item!r}")
        overrides[key.strip()] = _set_text(value)
    return config.override(**overrides) if overrides else config


def _set_text(text: str):
    """``--set`` text for the typed config: None for none/null, else the text itself (one
    pair of surrounding quotes removed); each field parses it by its type."""
    text = text.strip()
    if text.lower() in ("none", "null"):
        return None
    if len(text) >= 2 and text[0] == text[-1] and text[0] in "'\"":
        return text[1:-1]
    return text


def _check_writable_dir(path: str, what: str) -> None:
    """Refuse ``path`` as a directory to write into: a file, or under one, or unwritable."""
    p = Path(path)
    if p.exists() and not p.is_dir():
        raise ValueError(f"{what} {path} is a file, not a directory: choose a directory")
    existing = p
    while not existing.exists():  # the nearest existing ancestor is created from
        existing = existing.parent
    if not existing.is_dir():
        raise ValueError(f"{what} {path}: {existing} is not a directory")
    if not _can_write_in(existing):
        raise ValueError(f"{what} {path}: {existing} is not writable: choose another "
                         "directory")


def _check_writable_file(path: str, what: str) -> None:
    """Refuse ``path`` as a file to write: a directory, or in an unwritable directory."""
    p = Path(path)
    if p.is_dir():
        raise ValueError(f"{what} {path} is a directory: name a file")
    parent = p.parent
    if not parent.is_dir():
        raise ValueError(f"{what} {path}: {parent} is not a directory")
    if not _can_write_in(parent):
        raise ValueError(f"{what} {path}: {parent} is not writable")


def _can_write_in(directory: Path) -> bool:
    """Whether a file can be created in ``directory`` (tried: permissions alone do not
    tell for root or read-only file systems)."""
    import tempfile

    if not os.access(directory, os.W_OK | os.X_OK):
        return False
    try:
        fd, name = tempfile.mkstemp(dir=directory, prefix=".vlga-probe-")
    except OSError:
        return False
    os.close(fd)
    os.unlink(name)
    return True


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


def _several_processes(args) -> bool:
    """Whether ``run``/``resume`` join a run of several processes (flags or environment)."""
    if getattr(args, "fn", None) not in (cmd_run, cmd_resume):
        return False
    from vlga_jax.core import distributed

    return distributed.requested(args.coordinator, args.num_processes, args.process_id,
                                 auto=args.distributed)


def _supervised(args, argv) -> int:
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
    _check_writable_dir(out, "--out")
    if config.data.data_dir:  # given, though digits, say, do not read it
        check_data_dir(config.data.data_dir)
    if config.run.compile_cache_dir:
        _check_writable_dir(config.run.compile_cache_dir, "run.compile_cache_dir")


def cmd_run(args) -> int:
    _join(args)
    import jax

    config = _build_config(args)
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


def _write_candidates_csv(args) -> int:
    """``vlga report DIR --csv FILE``: every candidate of the run as CSV."""
    from vlga_jax.runs import candidates
    from vlga_jax.runs.report import RunReport

    run = RunReport.load(args.dir)
    _check_writable_file(args.csv, "--csv")
    if os.path.exists(args.csv) and not getattr(args, "force", False):
        raise ValueError(f"--csv {args.csv} exists: choose another file or pass --force")
    names = list(run.result.get("objectives", ())) if run.result else []
    table = candidates.rows(run.candidates, names if len(names) > 1 else ())
    candidates.write_csv(args.csv, table)
    print(f"wrote {args.csv}: {len(table)} candidate evaluations")
    return 0


# Lists the files `vlga report --out DIR` wrote into DIR (those it may overwrite).
REPORT_MANIFEST = ".vlga-report.json"


def cmd_report(args) -> int:
    from vlga_jax.runs.report import write_report

    if args.csv is not None:
        return _write_candidates_csv(args)

    own = os.path.join(args.dir, "report")
    if args.out is None or os.path.realpath(args.out) == os.path.realpath(own):
        table, paths = write_report(args.dir)  # DIR/report: the run directory's own folder
    else:
        table, paths = _report_into(args.dir, Path(args.out), args.force)
    print(table)
    for p in paths:
        print(f"wrote {p}")
    return 0


def _report_into(run_dir: str, out: Path, force: bool):
    """`write_report` into a user's ``out``: plots go to a temporary folder first, then
    replace files in ``out`` only if an earlier report wrote them (``REPORT_MANIFEST``)
    or ``force``; else ValueError naming them, and ``out`` is left as it was."""
    import json
    import shutil
    import tempfile

    from vlga_jax.core.checkpoint import write_json_atomic
    from vlga_jax.runs.report import write_report

    _check_writable_dir(str(out), "--out")
    created = not out.exists()
    out.mkdir(parents=True, exist_ok=True)
    manifest = out / REPORT_MANIFEST
    try:
        ours = set(json.loads(manifest.read_text())["files"])
    except (OSError, ValueError, KeyError, TypeError):
        ours = set()
    tmp = Path(tempfile.mkdtemp(prefix=".vlga-report-tmp-", dir=out))
    try:
        table, written = write_report(run_dir, tmp)
        theirs = sorted(p.name for p in written
                        if (out / p.name).exists() and p.name not in ours)
        if theirs and not force:
            raise ValueError(f"--out {out} holds {', '.join(theirs)}, not written by vlga "
                             "report; pass --force to overwrite, or choose another directory")
        paths = []
        for p in written:
            os.replace(p, out / p.name)
            paths.append(out / p.name)
        write_json_atomic(manifest, {"files": sorted(ours | {p.name for p in paths})})
    finally:
        shutil.rmtree(tmp, ignore_errors=True)
        if created and not any(out.iterdir()):
            out.rmdir()
    return table, paths


def cmd_export(args) -> int:
    import shutil

    from vlga_jax.networks.export import load_model

    source = os.path.join(args.dir, "model.npz")
    if args.rank is not None:
        source = os.path.join(args.dir, "top", f"rank_{args.rank}.npz")
        if os.path.exists(os.path.join(args.dir, "result.json")) and not os.path.exists(
                source):
            raise ValueError(f"--rank {args.rank}: {args.dir} kept no candidate of that rank "
                             "(run.top_k sets how many are kept)")
    if not os.path.exists(source):
        if not os.path.exists(os.path.join(args.dir, "run.json")):
            raise ValueError(f"{args.dir}: not a vlga run directory (no run.json)")
        state = ("has finished but its model.npz is missing" if os.path.exists(
            os.path.join(args.dir, "result.json")) else "has not finished (no model.npz)")
        raise ValueError(f"{args.dir} {state}: vlga resume {args.dir} trains it, then "
                         "export again")
    _check_writable_file(args.to, "--to")
    if os.path.exists(args.to) and not args.force:
        raise ValueError(f"--to {args.to} exists; pass --force to overwrite it")
    model = load_model(source)  # refuse to export a damaged file
    tmp = f"{args.to}.tmp-{os.getpid()}"
    shutil.copyfile(source, tmp)
    os.replace(tmp, args.to)
    test = model.metadata["test_accuracy"]
    score = (f"test accuracy {test:.4f}" if test is not None else
             f"validation accuracy {model.metadata['val_accuracy']:.4f} (search weights)")
    print(f"wrote {args.to}: {model.architecture.param_count:,} parameters, {score}; load "
          "it with vlga_jax.load_model")
    return 0


def cmd_predict(args) -> int:
    import numpy as np

    from vlga_jax.networks.export import load_model

    out = args.out
    if out is not None:
        if not out.endswith(".npy"):
            out += ".npy"  # what np.save writes: check and report that file
        _check_writable_file(out, "--out")
        if os.path.exists(out) and not args.force:
            raise ValueError(f"--out {out} exists; pass --force to overwrite it")
    from vlga_jax.data.images import IMAGE_SUFFIXES, read_images

    model = load_model(args.model)
    if args.normalized:
        named = [p for p in args.images if Path(p).suffix.lower() in IMAGE_SUFFIXES]
        if named:
            raise ValueError(f"--normalized applies to arrays, not to image files "
                             f"({named[0]}): leave it out for PNG/JPEG images")
        model.mean = model.std = None
    images, notes = read_images(args.images, model.architecture.input_shape,
                                model.metadata.get("dataset"))
    for note in notes:
        print(f"vlga: {note}", file=sys.stderr)
    classes = model.predict(images)
    if out is not None:
        np.save(out, classes)
        print(f"wrote {out}: {len(classes)} predicted classes")
    else:
        print("\n".join(str(int(c)) for c in classes))
    return 0


def cmd_presets(args) -> int:
    from vlga_jax.config import PRESETS
    from vlga_jax.config.presets_info import explain, summary

    if args.explain is not None:
        print(explain(args.explain))  # ValueError naming the presets if unknown
        return 0
    for name in PRESETS:
        print(summary(name))
    return 0


def cmd_config(args) -> int:
    from vlga_jax.config.doc import describe

    config = _build_config(args)
    print(config.to_json() if args.json else describe(config))
    return 0


def _config_arguments(parser, presets) -> None:
    """The arguments that choose a config, shared by ``run`` and ``config``."""
    parser.add_argument("--preset", default="quick", choices=tuple(presets),
                        help="a preset (default quick: the default search, Config())")
    parser.add_argument("--config", metavar="FILE", help="a config JSON (as in run.json or "
                                                         "Config.to_json); replaces --preset")
    parser.add_argument("--dataset", help="digits (default) or a tensorflow-datasets name")
    parser.add_argument("--data-dir", help="tensorflow-datasets data_dir (array_record)")
    parser.add_argument("--set", action="append", metavar="KEY=VALUE",
                        help="override a config field, e.g. --set ga.population=8 (the keys: "
                             "vlga config)")


def _distributed_arguments(parser) -> None:
    group = parser.add_argument_group(
        "several processes", "one run over the devices of several processes or hosts "
        "(jax.distributed): start the same command in every process; process 0 writes "
        "the run directory")
    group.add_argument("--coordinator", metavar="HOST:PORT",
                       help="process 0's address and a free port (or JAX_COORDINATOR_ADDRESS)")
    group.add_argument("--num-processes", type=int, metavar="N", help="processes in all")
    group.add_argument("--process-id", type=int, metavar="I", help="this process, 0..N-1")
    group.add_argument("--distributed", action="store_true",
                       help="let JAX detect the three on SLURM (srun), Open MPI or a TPU pod")
    group.add_argument("--connect-timeout", type=int, metavar="SECONDS",
                       default=CONNECT_SECONDS,
                       help="how long the processes wait for each other to connect before "
                            f"each stops with an error (default {CONNECT_SECONDS})")


CACHE_HELP = ("Compiled programs are cached on disk across runs, by default (field "
              "run.compile_cache_dir: $XDG_CACHE_HOME/vlga_jax/xla, else "
              "~/.cache/vlga_jax/xla); it only saves compile time. Turn it off with --set "
              "run.compile_cache_dir=none; clear it with rm -rf ~/.cache/vlga_jax/xla "
              "(docs/compilation-cache.md).")


def make_parser() -> argparse.ArgumentParser:
    from vlga_jax.config import PRESETS

    parser = _Parser(prog="vlga", description="Batched genetic search of CNN architectures.",
                     epilog=CACHE_HELP)
    sub = parser.add_subparsers(dest="command", required=True, parser_class=_Parser)
    run = sub.add_parser("run", help="run a search (resumes DIR if it holds the same run)",
                         description="Run a search; checkpoints, logs, result.json and "
                                     "model.npz go to --out. `vlga config --preset NAME` "
                                     "lists every --set key with its value and meaning. "
                                     "--set train.max_candidate_gflop=G skips (records as "
                                     "infeasible) candidates over G GFLOP per training "
                                     "example; a search that may train networks too slow "
                                     "for this machine says so at start, with a value.",
                         epilog=CACHE_HELP)
    _config_arguments(run, PRESETS)
    run.add_argument("--out", metavar="DIR",
                     help="run directory (default runs/<time>-<preset>-seed<S>)")
    run.add_argument("--seed", type=_seed, default=0, help="an integer in [0, 2**32)")
    run.add_argument("--quiet", action="store_true", help="no progress output")
    _distributed_arguments(run)
    run.set_defaults(fn=cmd_run)

    config = sub.add_parser("config", help="print every config field with its value and "
                                           "meaning (the --set keys)",
                            description="Print the config `vlga run` would use with the same "
                                        "--preset/--config/--set arguments: every field as "
                                        "section.field = value (the --set key and its text), "
                                        "then what it means.")
    _config_arguments(config, PRESETS)
    config.add_argument("--json", action="store_true", help="print the config JSON instead")
    config.set_defaults(fn=cmd_config)

    resume = sub.add_parser("resume", help="continue an interrupted run",
                            description="Continue the run in DIR from its last checkpoint.")
    resume.add_argument("dir", metavar="DIR")
    resume.add_argument("--quiet", action="store_true", help="no progress output")
    _distributed_arguments(resume)
    resume.set_defaults(fn=cmd_resume)

    report = sub.add_parser("report", help="summary table and plots of a run",
                            description="Print a summary table; write PNG plots.")
    report.add_argument("dir", metavar="DIR")
    report.add_argument("--out", metavar="PLOTS", help="plot directory (default DIR/report); "
                                                        "files there that an earlier report "
                                                        "did not write are never replaced "
                                                        "without --force")
    report.add_argument("--force", action="store_true",
                        help="overwrite files in --out that vlga report did not write, "
                             "or an existing --csv FILE")
    report.add_argument("--csv", metavar="FILE",
                        help="write every evaluated candidate (one row each: phase, "
                             "generation, architecture, fitness, parameters, FLOPs, epochs, "
                             "failure, ...) to FILE as CSV instead of the table and plots")
    report.set_defaults(fn=cmd_report)

    export = sub.add_parser("export", help="write the best network and its parameters",
                            description="Copy the run's trained best network (.npz, no "
                                        "pickle) to FILE; load it with vlga_jax.load_model.")
    export.add_argument("dir", metavar="DIR")
    export.add_argument("--to", required=True, metavar="FILE")
    export.add_argument("--force", action="store_true", help="overwrite FILE")
    export.add_argument("--rank", type=_positive_rank, metavar="R",
                        help="the R-th best candidate of the search with its search "
                             "weights (1 = best; run.top_k are kept) instead of the final "
                             "model")
    export.set_defaults(fn=cmd_export)

    predict = sub.add_parser("predict", help="predict classes of images with a model file",
                             description="Print (or save) the predicted class of every "
                                         "image. Arrays (.npy, or the 'images' or only "
                                         "array of a .npz) hold raw images in the dataset's "
                                         "units (e.g. 0..16 for digits), (N, H, W) or (N, "
                                         "H, W, C); PNG/JPEG files hold one image each, "
                                         "scaled to those units, converted to the model's "
                                         "channels and resized to its input. The model "
                                         "normalises them as in training.")
    predict.add_argument("model", metavar="FILE", help="a file written by vlga export")
    predict.add_argument("images", nargs="+", metavar="IMAGES",
                         help=".npy/.npz arrays of images, or .png/.jpg/.jpeg files")
    predict.add_argument("--out", metavar="NPY",
                         help="save classes (int32) here (.npy is appended if missing)")
    predict.add_argument("--force", action="store_true", help="overwrite --out")
    predict.add_argument("--normalized", action="store_true",
                         help="images are already normalised: skip normalisation")
    predict.set_defaults(fn=cmd_predict)

    presets = sub.add_parser("presets", help="list the presets, or explain one",
                             description="List the presets (one line each), or with "
                                         "--explain NAME print a preset's source, the "
                                         "settings that matter for its strategy and its "
                                         "deliberate departures from the source.")
    presets.add_argument("--explain", metavar="NAME",
                         help=f"one of: {', '.join(PRESETS)}")
    presets.set_defaults(fn=cmd_presets)
    return parser


def _one_line(err: BaseException) -> str:
    if isinstance(err, OSError) and err.filename is not None and err.strerror:
        text = f"{err.filename}: {err.strerror}"
    else:
        text = str(err) or type(err).__name__
    return " ".join(text.split())


def main(argv=None) -> int:
    parser = make_parser()
    argv = sys.argv[1:] if argv is None else [str(a) for a in argv]
    args = parser.parse_args(argv)
    from vlga_jax.core.checkpoint import CheckpointError
    from vlga_jax.core.supervise import is_worker
    from vlga_jax.data.datasets import DatasetNotPrepared
    from vlga_jax.strategies import SearchFailed

    try:
        if _several_processes(args) and not is_worker():
            return _supervised(args, argv)
        return args.fn(args)
    except (ValueError, CheckpointError, DatasetNotPrepared, SearchFailed) as err:
        print(f"vlga: error: {_one_line(err)}", file=sys.stderr)
        return 2
    except OSError as err:  # a named file that cannot be read or written
        if err.filename is None:
            raise
        print(f"vlga: error: {_one_line(err)}", file=sys.stderr)
        return 2


if __name__ == "__main__":
    sys.exit(main())
