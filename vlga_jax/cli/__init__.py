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

The commands live by group: `run` (run, resume), `report`, `model_file` (export,
predict), `settings` (presets, config), on the arguments of `arguments` and the path
checks of `paths`.
"""

from __future__ import annotations

import argparse
import sys

from vlga_jax.cli.arguments import (
    CACHE_HELP,
    Parser,
    build_config,
    config_arguments,
    distributed_arguments,
    rank_type,
    seed_type,
)
from vlga_jax.cli.model_file import cmd_export, cmd_predict
from vlga_jax.cli.report import cmd_report
from vlga_jax.cli.run import cmd_resume, cmd_run, several_processes, supervised
from vlga_jax.cli.settings import cmd_config, cmd_presets

__all__ = ["build_config", "main", "make_parser"]


def make_parser() -> argparse.ArgumentParser:
    """The ``vlga`` parser; each command's ``fn`` runs it (``args.fn(args)``)."""
    from vlga_jax.config import PRESETS

    parser = Parser(prog="vlga", description="Batched genetic search of CNN architectures.",
                     epilog=CACHE_HELP)
    sub = parser.add_subparsers(dest="command", required=True, parser_class=Parser)
    run = sub.add_parser("run", help="run a search (resumes DIR if it holds the same run)",
                         description="Run a search; checkpoints, logs, result.json and "
                                     "model.npz go to --out. `vlga config --preset NAME` "
                                     "lists every --set key with its value and meaning. "
                                     "--set train.max_candidate_gflop=G skips (records as "
                                     "infeasible) candidates over G GFLOP per training "
                                     "example; a search that may train networks too slow "
                                     "for this machine says so at start, with a value.",
                         epilog=CACHE_HELP)
    config_arguments(run, PRESETS)
    run.add_argument("--out", metavar="DIR",
                     help="run directory (default runs/<time>-<preset>-seed<S>)")
    run.add_argument("--seed", type=seed_type, default=0, help="an integer in [0, 2**32)")
    run.add_argument("--quiet", action="store_true", help="no progress output")
    distributed_arguments(run)
    run.set_defaults(fn=cmd_run)

    config = sub.add_parser("config", help="print every config field with its value and "
                                           "meaning (the --set keys)",
                            description="Print the config `vlga run` would use with the same "
                                        "--preset/--config/--set arguments: every field as "
                                        "section.field = value (the --set key and its text), "
                                        "then what it means.")
    config_arguments(config, PRESETS)
    config.add_argument("--json", action="store_true", help="print the config JSON instead")
    config.set_defaults(fn=cmd_config)

    resume = sub.add_parser("resume", help="continue an interrupted run",
                            description="Continue the run in DIR from its last checkpoint.")
    resume.add_argument("dir", metavar="DIR")
    resume.add_argument("--quiet", action="store_true", help="no progress output")
    distributed_arguments(resume)
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
    export.add_argument("--rank", type=rank_type, metavar="R",
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
    """Run the ``vlga`` command on ``argv`` (default ``sys.argv[1:]``); the exit status."""
    parser = make_parser()
    argv = sys.argv[1:] if argv is None else [str(a) for a in argv]
    args = parser.parse_args(argv)
    from vlga_jax.core.checkpoint import CheckpointError
    from vlga_jax.core.supervise import is_worker
    from vlga_jax.data.datasets import DatasetNotPrepared
    from vlga_jax.strategies import SearchFailed

    try:
        if several_processes(args) and not is_worker():
            return supervised(args, argv)
        return args.fn(args)
    except (ValueError, CheckpointError, DatasetNotPrepared, SearchFailed) as err:
        print(f"vlga: error: {_one_line(err)}", file=sys.stderr)
        return 2
    except OSError as err:  # a named file that cannot be read or written
        if err.filename is None:
            raise
        print(f"vlga: error: {_one_line(err)}", file=sys.stderr)
        return 2
