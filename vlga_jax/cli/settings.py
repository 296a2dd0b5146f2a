"""``vlga presets`` and ``vlga config``: the presets, and every field of a config."""

from __future__ import annotations

from vlga_jax.cli.arguments import build_config


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

    config = build_config(args)
    print(config.to_json() if args.json else describe(config))
    return 0
