"""The ``vlga`` command: ``vlga run`` searches, ``vlga presets`` lists the presets."""

from __future__ import annotations

import argparse
import ast
import json
import os
import sys
import time


class _Parser(argparse.ArgumentParser):
    def error(self, message):  # one line, exit code 2
        self.exit(2, f"vlga: error: {message}\n")


def _parse_value(text: str):
    if text.lower() in ("none", "null"):
        return None
    if text.lower() in ("true", "false"):
        return text.lower() == "true"
    try:
        return ast.literal_eval(text)
    except (ValueError, SyntaxError):
        return text


def _build_config(args):
    from vlga_jax.config import Config

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
        overrides[key.strip()] = _parse_value(value.strip())
    return config.override(**overrides) if overrides else config


def _progress(record, candidates) -> None:
    print(f"phase {record.phase} gen {record.generation}: best {record.best:.4f} "
          f"mean {record.mean:.4f} median {record.median:.4f} | trained {record.evaluated} "
          f"cached {record.cache_hits} | {record.seconds:.1f}s", flush=True)


def cmd_run(args) -> int:
    import jax

    from vlga_jax.evolve import evolve

    config = _build_config(args)
    print(f"vlga: preset {args.preset} ({config.ga.strategy}), dataset {config.data.name}, "
          f"population "
          f"{config.ga.population}, generations {config.ga.generations}, phases <= "
          f"{config.ga.max_phases}, backend {jax.default_backend()}", flush=True)
    start = time.perf_counter()
    result = evolve(jax.random.key(args.seed), config, callbacks=[_progress])
    print(result.summary())
    print(f"total {time.perf_counter() - start:.1f}s")
    if args.out:
        os.makedirs(args.out, exist_ok=True)
        path = os.path.join(args.out, "result.json")
        with open(path + ".tmp", "w") as f:
            json.dump({"config": config.to_dict(), "best": result.description,
                       "architecture": result.architecture.describe(),
                       "val_accuracy": result.val_accuracy,
                       "test_accuracy": result.test_accuracy, "totals": result.totals}, f,
                      indent=2)
        os.replace(path + ".tmp", path)
        print(f"wrote {path}")
    return 0


def cmd_presets(args) -> int:
    from vlga_jax.config import PRESETS, Config

    for name in PRESETS:
        c = Config.preset(name)
        print(f"{name:17s} {c.ga.strategy:17s} space {c.space.kind}, "
              f"population {c.ga.population}, generations {c.ga.generations}, "
              f"phases {c.ga.max_phases}, {c.ga.crossover} crossover, "
              f"{c.ga.parent_selection} parents, mutation {c.ga.mutation_rate}, "
              f"{c.train.epochs} epochs, {c.train.transfer} transfer")
    return 0


def make_parser() -> argparse.ArgumentParser:
    from vlga_jax.config import PRESETS

    parser = _Parser(prog="vlga", description="Batched genetic search of CNN architectures.")
    sub = parser.add_subparsers(dest="command", required=True, parser_class=_Parser)
    run = sub.add_parser("run", help="run a search")
    run.add_argument("--preset", default="quick", choices=tuple(PRESETS))
    run.add_argument("--dataset", help="digits (default) or a tensorflow-datasets name")
    run.add_argument("--data-dir", help="tensorflow-datasets data_dir (array_record)")
    run.add_argument("--out", help="directory for result.json")
    run.add_argument("--seed", type=int, default=0)
    run.add_argument("--set", action="append", metavar="KEY=VALUE",
                     help="override a config field, e.g. --set ga.population=8")
    run.set_defaults(fn=cmd_run)
    presets = sub.add_parser("presets", help="list the presets")
    presets.set_defaults(fn=cmd_presets)
    return parser


def main(argv=None) -> int:
    parser = make_parser()
    args = parser.parse_args(argv)
    try:
        return args.fn(args)
    except ValueError as err:
        print(f"vlga: error: {err}", file=sys.stderr)
        return 2


if __name__ == "__main__":
    sys.exit(main())
