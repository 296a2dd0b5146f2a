"""`GAConfig`: the search strategy and its genetic operators, validated on construction."""

from __future__ import annotations

import dataclasses

from vlga_jax.config.coerce import coerce_fields
from vlga_jax.core.checks import choice, integer, rate, require
from vlga_jax.core.names import (
    GA_CROSSOVERS,
    GA_MUTATION_MODES,
    PARENT_SELECTIONS,
)
from vlga_jax.genetics.operators import FIT_SURVIVAL_RATE, MUTATION_RATE, UNFIT_SURVIVAL_PROB
from vlga_jax.strategies import strategy_class

# "best_seen": a phase's winner is the best candidate evaluated in any of its generations;
# "last_generation": the best of its last generation (Xiao et al. 2020; survivor mutation
# may have replaced a better one).
PHASE_WINNERS = ("best_seen", "last_generation")


@dataclasses.dataclass(frozen=True)
class GAConfig:
    """The search strategy and its genetic operators.

    Attributes:
        population: candidates per generation.
        generations: generations per phase (VLGA) or in all (other strategies).
        fit_survival_rate: share of the population, best first, kept as parents.
        unfit_survival_prob: probability that each other member is kept as a parent too.
        mutation_rate: probability that a child is mutated (per gene with
            mutation_mode=per_gene; per bit with bitflip).
        mutation_mode: one (one random gene of a mutated child), per_gene (each gene
            independently) or bitflip (the binary chromosome, strategy ga only).
        crossover: uniform (each gene from either parent) or one_point.
        parent_selection: how parents are drawn: uniform, fitness (proportional),
            softmax (of fitness / softmax_temperature), rank or tournament.
        tournament_size: members per tournament (parent_selection=tournament).
        softmax_temperature: temperature of parent_selection=softmax.
        max_phases: the most VLGA phases (one block added per phase); <= space.max_blocks.
        stop_drop: end the VLGA when a phase's best falls more than this below the
            previous phase's (None: never).
        strategy: the ask/tell strategy: vlga, ga, tournament, random_population, random
            or grid (`vlga_jax.strategies.STRATEGIES`).
        budget_epochs: stop once this many candidate-epochs are spent (a trained
            candidate costs train.epochs, a cache hit nothing; None: no budget). The last
            generation is cut short so that a run spends exactly its budget.
        elites: tournament strategy: best members copied unchanged into the next
            generation.
        layer_mutation_rate: tournament strategy: probability that a child gains or
            loses a layer.
        gene_rates: per-gene mutation probabilities ((gene, rate), ...) for per-gene
            mutation; genes not named use mutation_rate.
        phase_winner: which candidate wins a VLGA phase (and so becomes the transfer
            parent, the phase's entry in phase_best, the stop rule's input and a candidate
            for the final model): best_seen (the best of any of its generations) or
            last_generation (the best of its last, as the paper).
        objectives: what the search maximises: metric names (`vlga_jax.training.objectives`), a
            leading "-" minimises, e.g. ("val_acc", "-params"); two or more rank by
            NSGA-II; empty: validation accuracy.
    """

    population: int = 8
    generations: int = 3
    fit_survival_rate: float = FIT_SURVIVAL_RATE
    unfit_survival_prob: float = UNFIT_SURVIVAL_PROB
    mutation_rate: float = MUTATION_RATE
    mutation_mode: str = "one"
    crossover: str = "uniform"
    parent_selection: str = "uniform"
    tournament_size: int = 3
    softmax_temperature: float = 1.0
    max_phases: int = 2
    stop_drop: float | None = 0.01
    strategy: str = "vlga"
    budget_epochs: int | None = None
    elites: int = 2
    layer_mutation_rate: float = 0.1
    gene_rates: tuple[tuple[str, float], ...] = ()
    phase_winner: str = "best_seen"
    objectives: tuple[str, ...] = ()

    def __post_init__(self):
        coerce_fields(self, "ga")
        from vlga_jax.training.objectives import check_names

        check_names("ga.objectives", self.objectives)
        constant = [n for n in self.objectives if n.removeprefix("-") == "epochs"]
        require(not constant, "ga.objectives", "metrics that tell candidates apart ('epochs' "
                "is train.epochs for every fully trained candidate)", self.objectives)
        integer("ga.population", self.population, 2)
        integer("ga.generations", self.generations)
        rate("ga.fit_survival_rate", self.fit_survival_rate)
        rate("ga.unfit_survival_prob", self.unfit_survival_prob)
        rate("ga.mutation_rate", self.mutation_rate)
        choice("ga.mutation_mode", self.mutation_mode, GA_MUTATION_MODES)
        choice("ga.crossover", self.crossover, GA_CROSSOVERS)
        choice("ga.parent_selection", self.parent_selection, PARENT_SELECTIONS)
        integer("ga.tournament_size", self.tournament_size)
        if self.parent_selection == "tournament":
            require(self.tournament_size <= self.population, "ga.tournament_size",
                    f"<= ga.population ({self.population}) with ga.parent_selection="
                    "'tournament' (a larger tournament always picks the best)",
                    self.tournament_size)
        require(isinstance(self.softmax_temperature, int | float)
                and self.softmax_temperature > 0,
                "ga.softmax_temperature", "> 0", self.softmax_temperature)
        integer("ga.max_phases", self.max_phases)
        require(self.stop_drop is None or (isinstance(self.stop_drop, int | float)
                                           and self.stop_drop >= 0),
                "ga.stop_drop", "None or >= 0", self.stop_drop)
        if self.budget_epochs is not None:
            integer("ga.budget_epochs", self.budget_epochs)
        integer("ga.elites", self.elites, 0)
        rate("ga.layer_mutation_rate", self.layer_mutation_rate)
        for name, gene_rate in self.gene_rates:
            rate(f"ga.gene_rates[{name!r}]", gene_rate)
        names = [name for name, _ in self.gene_rates]
        require(len(set(names)) == len(names), "ga.gene_rates", "one rate per gene",
                self.gene_rates)
        choice("ga.phase_winner", self.phase_winner, PHASE_WINNERS)
        strategy_class(self.strategy).check(self)  # its own rules (`vlga_jax.strategies`)

    @property
    def uses_gene_rates(self) -> bool:
        """Whether the strategy reads ``gene_rates`` (per-gene mutation)."""
        return strategy_class(self.strategy).uses_gene_rates(self)
