"""The variable-length genetic algorithm of Xiao et al. 2020 as an ask/tell strategy.

State lives in `VLGAState` (a pytree); the strategy is a stateless set of functions of
a `GAConfig` and a `SearchSpace`:

    state = strategy.init(key)
    while True:
        population, state = strategy.ask(key, state, strategy.default_params)
        if state.done:
            break
        fitness = ...   # f32[P]; only entries where state.needs_eval are read
        state = strategy.tell(population, fitness, state, strategy.default_params)

Phase p evolves block p of genomes whose blocks 0..p-1 are the previous phase's winner;
only block p's genes are mutable (in phase 0 also the global genes). Fitness is
"higher is better"; NaN or -inf marks a failed candidate.

A phase's winner is ``ga.phase_winner``: "best_seen" (the best candidate told in any of
the phase's generations) or "last_generation" (the best of its last generation, as in
the paper, where survivor mutation may have replaced a better network). The winner is
the next phase's transfer parent, its fitness is the phase's entry in ``phase_best``
and the stop rule's input, and the search's result is the best of the phase winners
(`final_winner`).
"""

from __future__ import annotations

import dataclasses
import functools
import math

import flax.struct
import jax
import jax.numpy as jnp

from vlga_jax.core.checks import require
from vlga_jax.genetics import operators as ops
from vlga_jax.genetics.genome import (
    GeneMask,
    Genome,
    block_mutable_mask,
    random_population,
    set_gene,
)
from vlga_jax.strategies.base import SearchState, Strategy
from vlga_jax.strategies.breeding import (
    breeding_settings,
    breeding_summary,
    check_survivor_parents,
    survivor_settings,
)
from vlga_jax.strategies.registry import register


@flax.struct.dataclass
class VLGAState(SearchState):
    """`SearchState` (``seen_*``: the best told in the current phase; ``phase_best``:
    the fitness of every finished phase's winner) and the VLGA's phase fields."""

    # The genes this phase may change (always set by `VLGA`).
    mutable: GeneMask | None = None
    # The previous phase's winner (the transfer parent), or the last one once done.
    phase_best_genome: Genome | None = None
    # The winner of every finished phase (their fitnesses are ``phase_best``).
    winners: tuple = ()


@register("vlga")
@dataclasses.dataclass(frozen=True)
class VLGA(Strategy):
    """Init/ask/tell for the VLGA (see module docstring) on the `Strategy` skeleton: the
    next generation, or at a phase's last generation the next phase (or done)."""

    params = ("fit_survival_rate", "unfit_survival_prob", "mutation_rate", "mutation_mode",
              "parent_selection", "tournament_size", "softmax_temperature", "crossover",
              "max_phases", "stop_drop")
    has_phases = True

    # -- settings (``config``: a `Config`) ------------------------------------------------
    @classmethod
    def check(cls, ga) -> None:
        check_survivor_parents(ga)
        super().check(ga)

    @classmethod
    def check_config(cls, config) -> None:
        require(config.ga.max_phases <= config.space.max_blocks, "ga.max_phases",
                f"<= space.max_blocks ({config.space.max_blocks})", config.ga.max_phases)

    @classmethod
    def check_space(cls, ga, space) -> None:
        if ga.max_phases > space.max_blocks:
            raise ValueError(f"ga.max_phases must be <= the space's max_blocks "
                             f"({space.max_blocks}), got {ga.max_phases}")

    @classmethod
    def deepest(cls, ga, space) -> int:
        return min(max(space.depths()), ga.max_phases)  # one more block per phase

    @classmethod
    def planned_generations(cls, config) -> int:
        return config.ga.max_phases * config.ga.generations

    @classmethod
    def settings(cls, config, space) -> list[tuple[str, object]]:
        ga = config.ga
        return [*super().settings(config, space), *survivor_settings(ga),
                *breeding_settings(cls, ga, space), ("ga.max_phases", ga.max_phases),
                ("ga.stop_drop", ga.stop_drop), ("ga.phase_winner", ga.phase_winner),
                ("train.transfer", config.train.transfer)]

    @classmethod
    def summary(cls, config) -> list[str]:
        ga = config.ga
        return [*super().summary(config), f"phases {ga.max_phases}",
                *breeding_summary(cls, ga)]

    # -- ask/tell --------------------------------------------------------------------------
    def phase_mask(self, phase: int) -> GeneMask:
        frozen = ("include_b",) if phase == 0 and self.space.has("include_b") else ()
        return block_mutable_mask(self.space, phase, globals_mutable=phase == 0,
                                  frozen_genes=frozen)

    @functools.partial(jax.jit, static_argnums=(0, 2))
    def _phase_population(self, key, phase: int, parent: Genome | None) -> Genome:
        pop = random_population(key, self.space, self.ga.population, phase + 1)
        if phase == 0:
            if self.space.has("include_b"):
                pop = set_gene(pop, self.space, "include_b", True, block=0)
            return pop
        keep = jnp.arange(self.space.max_blocks) < phase
        blocks = jnp.where(keep[None, :, None], parent.blocks[None], pop.blocks)
        globals_ = jnp.broadcast_to(parent.globals, pop.globals.shape)
        return pop.replace(blocks=blocks, globals=globals_)

    def _fresh_state(self, key, phase, parent, phase_best, winners=()) -> VLGAState:
        pop = self._phase_population(key, phase, parent)
        p = self.ga.population
        return VLGAState(population=pop, fitness=jnp.full(p, jnp.nan),
                         needs_eval=jnp.ones(p, bool), mutable=self.phase_mask(phase),
                         phase=phase, generation=0, phase_best=phase_best,
                         phase_best_genome=parent, winners=winners)

    def transfer_parent(self, state: VLGAState) -> Genome | None:
        """The previous phase's winner, whose trained blocks phase > 0 candidates inherit."""
        return state.phase_best_genome if state.phase > 0 else None

    def init(self, key: jax.Array) -> VLGAState:
        return self._fresh_state(key, 0, None, ())

    def _finished(self, state: VLGAState) -> str:
        return ""  # a phase change decides (`_next_phase`)

    def _next(self, key, state: VLGAState) -> VLGAState:
        if state.generation + 1 < self.ga.generations:
            return self._next_generation(key, state)
        return self._next_phase(key, state)  # done: told, so needs_eval is all False

    def _generation_name(self, state: VLGAState) -> str:
        return f"phase {state.phase}, generation {state.generation}"

    def _record_phase_best(self, state: VLGAState) -> VLGAState:
        return state  # phase_best grows when a phase ends

    def _next_generation(self, key, state: VLGAState) -> VLGAState:
        pop, fit, needs = _breed(self, key, state.population, state.fitness, state.mutable)
        return state.replace(population=pop, fitness=fit, needs_eval=needs,
                             generation=state.generation + 1, told=False)

    def phase_history(self, state: VLGAState) -> tuple[tuple[Genome, float], ...]:
        """(winner, fitness) of every finished phase, and of the current one if it was
        told and not yet closed (a search stopped by its budget mid-phase)."""
        history = tuple(zip(state.winners, state.phase_best, strict=True))
        if state.told and not state.done:
            history += (self.phase_winner(state),)
        return history

    def _next_phase(self, key, state: VLGAState) -> VLGAState:
        winner, best = self.phase_winner(state)
        history = (*state.phase_best, best)
        winners = (*state.winners, winner)
        earlier = max(state.phase_best) if state.phase_best else -math.inf
        stop = ""
        if self.ga.stop_drop is not None and best < earlier - self.ga.stop_drop:
            stop = (f"phase {state.phase} best {best:.4f} fell more than "
                    f"{self.ga.stop_drop} below earlier best {earlier:.4f}")
        elif state.phase + 1 >= self.ga.max_phases:
            stop = f"reached max_phases={self.ga.max_phases}"
        if stop:
            return state.replace(done=True, phase_best=history, stop_reason=stop,
                                 phase_best_genome=winner, winners=winners)
        return self._fresh_state(key, state.phase + 1, winner, history, winners)


@functools.partial(jax.jit, static_argnums=0)
def _breed(strategy: VLGA, key, population: Genome, fitness, mutable: GeneMask):
    """One generation step at fixed shapes (P stays P).

    Survivors (paper steps 4-5) are mutated with probability ``mutation_rate`` and kept
    first; the free slots are filled with children of parents drawn among the
    survivors. Returns (population, fitness with NaN where re-evaluation is needed,
    needs_eval bool[P]).
    """
    ga = strategy.ga
    p = fitness.shape[0]
    k_surv, k_mut, k_par, k_cross = jax.random.split(key, 4)
    survive = ops.select_survivors(k_surv, fitness, ga.fit_survival_rate,
                                   ga.unfit_survival_prob)
    mutated_pop, mutated = ops.mutate_population(
        k_mut, population, strategy.space, mutable, ga.mutation_rate, mode=ga.mutation_mode)
    mutated = mutated & survive
    pairs = ops.select_parents(k_par, fitness, p, ga.parent_selection, eligible=survive,
                               tournament_size=ga.tournament_size,
                               temperature=ga.softmax_temperature)
    kept = jax.tree.map(lambda m, o: jnp.where(
        mutated.reshape(-1, *([1] * (m.ndim - 1))), m, o), mutated_pop, population)
    children = ops.crossover_population(k_cross, kept, pairs, mutable, ga.crossover)
    new_pop, order, is_survivor = ops.survivors_then_children(survive, kept, children)
    was_mutated = mutated[order]
    new_fitness = jnp.where(is_survivor & ~was_mutated, fitness[order], jnp.nan)
    needs = ~is_survivor | was_mutated
    return new_pop, new_fitness, needs
