"""Checks and text shared by the strategies that breed children from selected parents
("vlga", "ga", "tournament"): which settings they read is each one's ``params``.

    check_survivor_parents(ga)       parents drawn among survivors need survivors
    survivor_settings(ga)            the survival rows of ``vlga presets --explain``
    breeding_settings(cls, ga, space)   the selection, crossover and mutation rows
    breeding_summary(cls, ga)        the same in the ``vlga presets`` line
"""

from __future__ import annotations

from vlga_jax.core.checks import require


def check_survivor_parents(ga) -> None:
    """ValueError unless ``ga`` leaves survivors to breed from and two parents to cross
    (strategies whose children come from the ``ga.fit_survival_rate`` best)."""
    require(ga.fit_survival_rate > 0, "ga.fit_survival_rate",
            f"> 0 with ga.strategy={ga.strategy!r} (0 leaves no parents to breed from)",
            ga.fit_survival_rate)
    require(ga.crossover != "none", "ga.crossover",
            f"'uniform' or 'one_point' with ga.strategy={ga.strategy!r} ('none', children "
            "as mutated copies of one winner, is for 'tournament')", ga.crossover)


def survivor_settings(ga) -> list[tuple[str, object]]:
    return [("ga.fit_survival_rate", ga.fit_survival_rate),
            ("ga.unfit_survival_prob", ga.unfit_survival_prob)]


def breeding_settings(cls, ga, space) -> list[tuple[str, object]]:
    """Parent selection (with its size or temperature), crossover, then mutation: the
    mode where ``cls`` reads it, the rate unless gene rates cover every gene of
    ``space``, the gene rates where ``cls`` reads them, the layer mutation rate where it
    reads it and the space has no depth gene."""
    rows: list[tuple[str, object]] = [("ga.parent_selection", ga.parent_selection)]
    if ga.parent_selection == "tournament":
        rows.append(("ga.tournament_size", ga.tournament_size))
    if ga.parent_selection == "softmax":
        rows.append(("ga.softmax_temperature", ga.softmax_temperature))
    rows.append(("ga.crossover", ga.crossover))
    rates = ga.gene_rates if cls.uses_gene_rates(ga) else ()
    if "mutation_mode" in cls.params:
        rows.append(("ga.mutation_mode", ga.mutation_mode))
    if not rates or set(space.gene_names) - {name for name, _ in rates}:
        rows.append(("ga.mutation_rate", ga.mutation_rate))
    if rates:
        rows.append(("ga.gene_rates", rates))
    if "layer_mutation_rate" in cls.params and space.depth_gene is None:
        rows.append(("ga.layer_mutation_rate", ga.layer_mutation_rate))
    return rows


def breeding_summary(cls, ga) -> list[str]:
    """["uniform crossover", "rank parents", "one mutation 0.2"]: ``cls`` mutates by
    ``ga.mutation_mode`` where it reads it, else gene by gene."""
    mode = ga.mutation_mode if "mutation_mode" in cls.params else "per_gene"
    cross = "no crossover" if ga.crossover == "none" else f"{ga.crossover} crossover"
    return [cross, f"{ga.parent_selection} parents", f"{mode} mutation {ga.mutation_rate}"]
