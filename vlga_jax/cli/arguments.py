"""The command line's arguments: parser, value types, and the config they choose.

Also ``--set`` text, and the argument groups several commands share.
"""

from __future__ import annotations

import argparse
import ast

from vlga_jax.core.supervise import CONNECT_SECONDS


class Parser(argparse.ArgumentParser):
    """An argparse parser whose errors are one ``vlga: error: ...`` line, status 2."""

    def error(self, message):  # one line, exit code 2
        self.exit(2, f"vlga: error: {message}\n")


def parse_value(text: str):
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


def seed_type(text: str) -> int:
    """A PRNG seed: an integer in [0, 2**32) (larger ones would wrap onto smaller ones)."""
    try:
        seed = int(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"invalid int value: {text!r}") from None
    if not 0 <= seed < 2**32:
        raise argparse.ArgumentTypeError(f"must be in [0, 2**32), got {seed}")
    return seed


def rank_type(text: str) -> int:
    """A candidate's rank: an integer >= 1 (1 = the best)."""
    try:
        rank = int(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"invalid int value: {text!r}") from None
    if rank < 1:
        raise argparse.ArgumentTypeError(f"must be >= 1 (1 = the best), got {rank}")
    return rank


def build_config(args):
    """The `Config` that ``--preset``/``--config``, ``--dataset``, ``--data-dir`` and
    ``--set`` choose (ValueError naming the argument otherwise)."""
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
        overrides[key.strip()] = set_text(value)
    return config.override(**overrides) if overrides else config


def set_text(text: str):
    """``--set`` text for the typed config: None for none/null, else the text itself (one
    pair of surrounding quotes removed); each field parses it by its type."""
    text = text.strip()
    if text.lower() in ("none", "null"):
        return None
    if len(text) >= 2 and text[0] == text[-1] and text[0] in "'\"":
        return text[1:-1]
    return text


def config_arguments(parser, presets) -> None:
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


def distributed_arguments(parser) -> None:
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
