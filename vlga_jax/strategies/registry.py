"""The registry of strategies and what each owns besides ask/tell: its parameters, their
checks and the text that shows them.

``STRATEGIES`` (name -> class, in registration order) is the one list of strategy names:
`GAConfig` accepts ``ga.strategy`` from it (`strategy_class`) and then asks the class

    check(ga)                      its rules on the GAConfig fields (after each field's own)
    check_config(config)           its rules across the sections of a `Config`
    check_space(ga, space)         its rules against a custom `SearchSpace` (`evolve`)
    planned_generations(config)    generations the search runs (the progress bar's total)
    settings(config, space)        the ga.* rows of ``vlga presets --explain``
    summary(config)                the parts of the ``vlga presets`` line it owns
    params, has_phases, keeps_elites, mutation_modes   (class attributes, see below)

All are classmethods: a config is checked before any space or key exists. ``ga`` and
``config`` are a `GAConfig` and a `Config` (read by field name: this layer sits below
the config, which calls it); a strategy reads them and never changes them.
"""

from __future__ import annotations

import dataclasses

from vlga_jax.core.checks import require
from vlga_jax.core.names import MUTATION_MODES

STRATEGIES: dict[str, type] = {}


def register(name: str, *aliases: str):
    """Class decorator: make a strategy class available as ``ga.strategy = name`` (and
    as each of ``aliases``)."""
    def add(cls):
        for n in (name, *aliases):
            STRATEGIES[n] = cls
        cls.name = name
        return cls
    return add


def strategy_class(name: str) -> type:
    """The class registered as ``name``; ValueError naming the registered ones if none."""
    require(name in STRATEGIES, "ga.strategy", f"one of {tuple(STRATEGIES)}", name)
    return STRATEGIES[name]


def listed(names) -> str:
    """``names`` quoted for a message: 'a', 'b' and 'c'."""
    quoted = [repr(n) for n in names]
    if len(quoted) < 3:
        return " and ".join(quoted)
    return ", ".join(quoted[:-1]) + f" and {quoted[-1]}"


class StrategySettings:
    """A strategy's parameters (GAConfig fields), their checks and their text; the
    defaults suit a strategy that breeds nothing the config can tune (random search)."""

    # The registered name (set by `register`).
    name = ""
    # The GAConfig fields the strategy reads (its parameters, as evosax's ``Params``),
    # besides those of every strategy: population, generations (the grid's batches are
    # its own), phase_winner, and the search loop's budget_epochs and objectives.
    params: tuple[str, ...] = ()
    # The search runs in phases (ga.max_phases; train.transfer hands a phase's winner on).
    has_phases = False
    # ga.elites may differ from its default (the strategy keeps elites, or takes them).
    keeps_elites = False
    # The ga.mutation_mode values the strategy accepts.
    mutation_modes = MUTATION_MODES

    @classmethod
    def uses_gene_rates(cls, ga) -> bool:
        """Whether the strategy reads ``ga.gene_rates`` (per-gene mutation)."""
        return "gene_rates" in cls.params

    @classmethod
    def check(cls, ga) -> None:
        """ValueError naming the field where ``ga`` (its fields each valid on their own)
        sets what this strategy cannot honour or would ignore. Subclasses extend it."""
        if ga.mutation_mode not in cls.mutation_modes:
            why = (" ('bitflip' mutates the chromosome of ga.strategy='ga' only)"
                   if ga.mutation_mode == "bitflip" else "")
            require(False, "ga.mutation_mode", f"{' or '.join(map(repr, cls.mutation_modes))} "
                    f"with ga.strategy={ga.strategy!r}{why}", ga.mutation_mode)
        if cls.keeps_elites:
            require(ga.elites < ga.population, "ga.elites",
                    f"< ga.population ({ga.population})", ga.elites)
        else:
            default = {f.name: f.default for f in dataclasses.fields(ga)}["elites"]
            keeping = [n for n, c in STRATEGIES.items() if c.keeps_elites]
            require(ga.elites == default, "ga.elites",
                    f"left at {default} with ga.strategy={ga.strategy!r} (only "
                    f"{' and '.join(map(repr, keeping))} keep elites: it would be ignored)",
                    ga.elites)
        if ga.gene_rates:
            require(cls.uses_gene_rates(ga), "ga.gene_rates",
                    "empty unless genes mutate one by one (ga.strategy='tournament', or "
                    "'ga' with ga.mutation_mode='per_gene'): with ga.strategy="
                    f"{ga.strategy!r} and ga.mutation_mode={ga.mutation_mode!r} they would "
                    "be ignored", ga.gene_rates)

    @classmethod
    def check_config(cls, config) -> None:
        """ValueError where ``config``'s sections together ask what the strategy cannot
        do (its GAConfig already passed `check`)."""

    @classmethod
    def check_space(cls, ga, space) -> None:
        """ValueError where ``ga`` does not fit ``space`` (a custom `SearchSpace`)."""

    @classmethod
    def deepest(cls, ga, space) -> int:
        """The most blocks a network this strategy asks for on ``space`` may have."""
        return max(space.depths())

    @classmethod
    def planned_generations(cls, config) -> int:
        """Generations the search runs, at most (a stop rule or the budget may end it
        earlier)."""
        return config.ga.generations

    @classmethod
    def settings(cls, config, space) -> list[tuple[str, object]]:
        """(dotted field, value) of the settings that matter for this strategy, after
        ``ga.population`` in ``vlga presets --explain``; ``space`` is the built space."""
        ga = config.ga
        rows: list[tuple[str, object]] = [("ga.generations", ga.generations)]
        if ga.budget_epochs is not None:
            rows.append(("ga.budget_epochs", ga.budget_epochs))
        return rows

    @classmethod
    def summary(cls, config) -> list[str]:
        """The parts of the ``vlga presets`` line after the space ("population 20", ...)."""
        ga = config.ga
        parts = [f"population {ga.population}", f"generations {ga.generations}"]
        if ga.budget_epochs is not None:
            parts.append(f"budget {ga.budget_epochs} candidate-epochs")
        return parts
