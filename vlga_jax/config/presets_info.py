"""The text of ``vlga presets`` (one line per preset) and ``vlga presets --explain NAME``:
a preset's source, the settings that matter for its strategy, and its departures (the
records are `vlga_jax.config.presets.PRESET_RECORDS`).

Rules that hold for every preset are in `ENGINE_RULES`.
"""

from __future__ import annotations

from vlga_jax.config.config import Config
from vlga_jax.config.presets import preset_record
from vlga_jax.networks.architecture import DEFAULT_LEARNING_RATES
from vlga_jax.strategies import strategy_class

ENGINE_RULES = (
    "fitness is validation accuracy on a seeded, stratified share of the training data "
    "(data.val_fraction); the test set is read once, for the final model",
    "after the search, the best candidate of the whole run trains up to "
    "train.final_epochs more epochs, keeping its best epoch by validation accuracy "
    "(early stopping with train.patience)",
    "equal networks (same genome hash) are trained once; repeats reuse the result",
)


def preset_settings(config: Config) -> list[tuple[str, object]]:
    """(dotted config field, value) of the settings that matter for ``config``'s strategy.

    VLGA-only fields (phases, stop rule, phase winner, transfer) appear only for the
    "vlga" strategy; selection and variation fields only for the strategies that breed;
    training values only where the space does not search them as genes.
    """
    sp, ga, tr = config.space, config.ga, config.train
    space = sp.build()
    out: list[tuple[str, object]] = [("ga.strategy", ga.strategy), ("space.kind", sp.kind),
                                     ("space.max_blocks", sp.max_blocks)]
    if sp.kind in ("xiao2020", "fixed_cnn"):
        out += [("space.channels", sp.channels), ("space.kernels", sp.kernels),
                ("space.activations", sp.activations)]
        if sp.training_genes:
            out.append(("space.training_genes", True))
    out.append(("ga.population", ga.population))
    out += strategy_class(ga.strategy).settings(config, space)  # its ga.* rows
    out += [("train.epochs", tr.epochs), ("train.batch_size", tr.batch_size)]
    if tr.examples_per_candidate is not None:
        out.append(("train.examples_per_candidate", tr.examples_per_candidate))
    if tr.halving_min_epochs:
        out += [("train.halving_min_epochs", tr.halving_min_epochs),
                ("train.halving_eta", tr.halving_eta)]
    genes = set(space.gene_names)
    for field in ("optimizer", "learning_rate", "weight_decay"):
        if field not in genes:
            out.append((f"train.{field}", getattr(tr, field)))
    if sp.kind in ("xiao2020", "fixed_cnn") and "dropout" not in genes:
        out.append(("train.dropout", tr.dropout))  # the head's dropout
    if tr.augment:
        out.append(("train.augment", tr.augment))
    out += [("train.final_epochs", tr.final_epochs), ("train.patience", tr.patience),
            ("data.name", config.data.name), ("data.val_fraction", config.data.val_fraction)]
    if config.data.scaling != "standardize":
        out.append(("data.scaling", config.data.scaling))
    return out


def summary(name: str) -> str:
    """One line for ``vlga presets``: the preset's strategy and main settings."""
    c = Config.preset(name)
    ga = c.ga
    strategy = strategy_class(ga.strategy)
    parts = [f"space {c.space.kind}", *strategy.summary(c)]  # its ga.* parts
    rungs = c.train.rungs()
    parts.append(f"{c.train.epochs} epochs" if len(rungs) == 1 else
                 f"halving over {'/'.join(map(str, rungs))} epochs (eta {c.train.halving_eta})")
    if strategy.has_phases:
        parts.append(f"{c.train.transfer} transfer")
    return f"{name:17s} {ga.strategy:17s} " + ", ".join(parts)


def _wrap(text: str, first: str, rest: str, width: int = 88) -> list[str]:
    import textwrap

    return textwrap.wrap(text, width=width, initial_indent=first, subsequent_indent=rest,
                         break_on_hyphens=False)


def provenance(name: str) -> dict[str, str]:
    """{setting: "source" or "departure N"} for every setting ``--explain NAME`` shows;
    "" where neither covers it (a project preset's settings: its source is "none")."""
    info = preset_record(name)
    marks = {}
    for key, _ in preset_settings(Config.preset(name)):
        numbers = [str(i) for i, d in enumerate(info.departures, 1) if key in d.settings]
        marks[key] = ("source" if key in info.sourced else
                      f"departure {', '.join(numbers)}" if numbers else "")
    return marks


def explain(name: str) -> str:
    """The text of ``vlga presets --explain NAME``: source, settings (each marked as the
    source's or by the departure that covers it), where the source gives them, and the
    numbered departures with their reasons and source passages."""
    info = preset_record(name)
    config = Config.preset(name)
    own = info.source.startswith("none")
    lines = [f"preset {name}"]
    lines += _wrap(info.source, "source: ", "  ")
    lines.append(f"settings that matter for the {config.ga.strategy} strategy (change any "
                 "with --set KEY=VALUE)" + ("" if own else "; each marked source (the "
                 "source gives it) or by the departure that covers it") + ":")
    settings = preset_settings(config)
    marks = provenance(name)
    width = max(len(k) for k, _ in settings)
    for key, value in settings:
        shown = value if isinstance(value, str) else repr(value)  # tuples as Python literals
        if key == "train.learning_rate" and value is None:
            shown = "None (each optimizer's Keras 2 default: " + ", ".join(
                f"{k} {v:g}" for k, v in DEFAULT_LEARNING_RATES.items()) + ")"
        mark = f"  [{marks[key]}]" if marks[key] else ""
        lines.append(f"  {key:{width}s}  {shown}{mark}")
    if info.sourced:
        lines.append("where the source gives them:")
        for key, passage in info.sourced.items():
            lines += _wrap(f"{key}: {passage}", "  - ", "    ")
    if info.departures:
        lines.append("departures from the source:")
        for i, d in enumerate(info.departures, 1):
            lines += _wrap(d.what, f"  {i}. ", "     ")
            lines += _wrap(f"why: {d.why}", "     ", "       ")
            if d.passage:
                lines += _wrap(f"source passage: {d.passage}", "     ", "       ")
    else:
        lines.append("departures from the source: none (the project's own preset)" if own
                     else "departures from the source: none recorded")
    lines.append("engine rules (every preset):")
    for rule in ENGINE_RULES:
        lines += _wrap(rule, "  - ", "    ")
    return "\n".join(lines)
