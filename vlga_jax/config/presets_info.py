"""The text of ``vlga presets`` (one line per preset) and ``vlga presets --explain NAME``:
a preset's source, the settings that matter for its strategy, and its departures (the
records are `vlga_jax.config.presets.PRESET_RECORDS`).

Rules that hold for every preset are in `ENGINE_RULES`.
"""

from __future__ import annotations

from vlga_jax.config.config import Config
from vlga_jax.config.presets import preset_record
from vlga_jax.networks.architecture import DEFAULT_LEARNING_RATES

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
    if ga.strategy != "grid":
        out.append(("ga.generations", ga.generations))
    if ga.budget_epochs is not None:
        out.append(("ga.budget_epochs", ga.budget_epochs))
    if ga.strategy in ("vlga", "ga"):
        out += [("ga.fit_survival_rate", ga.fit_survival_rate),
                ("ga.unfit_survival_prob", ga.unfit_survival_prob)]
    if ga.strategy == "tournament":
        out.append(("ga.elites", ga.elites))
    if ga.strategy in ("vlga", "ga", "tournament"):
        out.append(("ga.parent_selection", ga.parent_selection))
        if ga.parent_selection == "tournament":
            out.append(("ga.tournament_size", ga.tournament_size))
        if ga.parent_selection == "softmax":
            out.append(("ga.softmax_temperature", ga.softmax_temperature))
        out.append(("ga.crossover", ga.crossover))
        # Tournament children always mutate gene by gene; the GA does with "per_gene".
        rates = ga.gene_rates if (ga.strategy == "tournament" or (
            ga.strategy == "ga" and ga.mutation_mode == "per_gene")) else ()
        if ga.strategy != "tournament":
            out.append(("ga.mutation_mode", ga.mutation_mode))
        if not rates or set(space.gene_names) - {name for name, _ in rates}:
            out.append(("ga.mutation_rate", ga.mutation_rate))
        if rates:
            out.append(("ga.gene_rates", rates))
        if ga.strategy == "tournament" and space.depth_gene is None:
            out.append(("ga.layer_mutation_rate", ga.layer_mutation_rate))
    if ga.strategy == "vlga":
        out += [("ga.max_phases", ga.max_phases), ("ga.stop_drop", ga.stop_drop),
                ("ga.phase_winner", ga.phase_winner), ("train.transfer", tr.transfer)]
    out += [("train.epochs", tr.epochs), ("train.batch_size", tr.batch_size)]
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
    return out


def summary(name: str) -> str:
    """One line for ``vlga presets``: the preset's strategy and main settings."""
    c = Config.preset(name)
    ga = c.ga
    parts = [f"space {c.space.kind}"]
    if ga.strategy == "grid":
        parts.append(f"{ga.population} per step")
    else:
        parts += [f"population {ga.population}", f"generations {ga.generations}"]
    if ga.budget_epochs is not None:
        parts.append(f"budget {ga.budget_epochs} candidate-epochs")
    if ga.strategy == "vlga":
        parts.append(f"phases {ga.max_phases}")
    if ga.strategy == "tournament":
        parts += [f"tournament size {ga.tournament_size}", f"{ga.elites} elites"]
    if ga.strategy in ("vlga", "ga", "tournament"):
        mode = "per_gene" if ga.strategy == "tournament" else ga.mutation_mode
        cross = "no crossover" if ga.crossover == "none" else f"{ga.crossover} crossover"
        parts += [cross, f"{ga.parent_selection} parents",
                  f"{mode} mutation {ga.mutation_rate}"]
    rungs = c.train.rungs()
    parts.append(f"{c.train.epochs} epochs" if len(rungs) == 1 else
                 f"halving over {'/'.join(map(str, rungs))} epochs (eta {c.train.halving_eta})")
    if ga.strategy == "vlga":
        parts.append(f"{c.train.transfer} transfer")
    return f"{name:17s} {ga.strategy:17s} " + ", ".join(parts)


def _wrap(text: str, first: str, rest: str, width: int = 88) -> list[str]:
    import textwrap

    return textwrap.wrap(text, width=width, initial_indent=first, subsequent_indent=rest,
                         break_on_hyphens=False)


def explain(name: str) -> str:
    """The text of ``vlga presets --explain NAME``: source, settings, departures."""
    info = preset_record(name)
    config = Config.preset(name)
    lines = [f"preset {name}"]
    lines += _wrap(info.source, "source: ", "  ")
    lines.append(f"settings that matter for the {config.ga.strategy} strategy (change any "
                 "with --set KEY=VALUE):")
    settings = preset_settings(config)
    width = max(len(k) for k, _ in settings)
    for key, value in settings:
        shown = value if isinstance(value, str) else repr(value)  # tuples as Python literals
        if key == "train.learning_rate" and value is None:
            shown = "None (each optimizer's Keras 2 default: " + ", ".join(
                f"{k} {v:g}" for k, v in DEFAULT_LEARNING_RATES.items()) + ")"
        lines.append(f"  {key:{width}s}  {shown}")
    if info.departures:
        lines.append("departures from the source:")
        for d in info.departures:
            lines += _wrap(d.what, "  - ", "    ")
            lines += _wrap(f"why: {d.why}", "    ", "      ")
    else:
        lines.append("departures from the source: none recorded")
    lines.append("engine rules (every preset):")
    for rule in ENGINE_RULES:
        lines += _wrap(rule, "  - ", "    ")
    return "\n".join(lines)
