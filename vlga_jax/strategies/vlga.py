"""The variable-length genetic algorithm of Xiao et al. 2020 as an ask/tell strategy.

State lives in `VLGAState` (a pytree); the strategy is a stateless set of functions of
a `GAConfig` and a `SearchSpace`:

    state = strategy.init(key)
    while not state.done:
        population, needs_eval, state = strategy.ask(key, state)
        state = strategy.tell(state, fitness)   # f32[P]; only needs_eval entries are read

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
import numpy as np

from vlga_jax import operators as ops
from vlga_jax.config import GAConfig
from vlga_jax.genome import GeneMask, Genome, block_mutable_mask, random_population, set_gene
from vlga_jax.space import SearchSpace
from vlga_jax.strategies.base import SearchFailed, merge_told, register


@flax.struct.dataclass
class VLGAState:
    """population: Genome [P, ...]; fitness: f32[P] (NaN = not evaluated yet)."""

    population: Genome
    fitness: jax.Array
    needs_eval: jax.Array
    mutable: GeneMask
    phase: int = flax.struct.field(pytree_node=False, default=0)
    generation: int = flax.struct.field(pytree_node=False, default=0)
    told: bool = flax.struct.field(pytree_node=False, default=False)
    done: bool = flax.struct.field(pytree_node=False, default=False)
    phase_best: tuple = flax.struct.field(pytree_node=False, default=())
    phase_best_genome: Genome | None = None
    stop_reason: str = flax.struct.field(pytree_node=False, default="")
    # The best genome told so far in this phase and its fitness (-inf: none yet).
    seen_genome: Genome | None = None
    seen_fitness: float = flax.struct.field(pytree_node=False, default=-math.inf)
    # The winner of every finished phase (their fitnesses are ``phase_best``).
    winners: tuple = ()


def _finite_argmax(fitness: np.ndarray) -> int:
    f = np.where(np.isfinite(fitness), fitness, -np.inf)
    return int(np.argmax(f))


@register("vlga")
@dataclasses.dataclass(frozen=True)
class VLGA:
    """Init/ask/tell for the VLGA (see module docstring)."""

    space: SearchSpace
    ga: GAConfig

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

    def ask(self, key: jax.Array, state: VLGAState) -> tuple[Genome, jax.Array, VLGAState]:
        """The population to evaluate next and which members need an evaluation."""
        if state.done:
            raise ValueError("ask: the search is done (state.done is True)")
        if not state.told:
            return state.population, state.needs_eval, state
        if state.generation + 1 < self.ga.generations:
            state = self._next_generation(key, state)
        else:
            state = self._next_phase(key, state)
            if state.done:
                return state.population, jnp.zeros_like(state.needs_eval), state
        return state.population, state.needs_eval, state

    def tell(self, state: VLGAState, fitness) -> VLGAState:
        """Record fitness (f32[P]) for the members that needed an evaluation."""
        merged = merge_told(state, fitness)
        if not bool(jnp.any(jnp.isfinite(merged))):
            raise SearchFailed(
                f"every candidate of phase {state.phase}, generation {state.generation} "
                "failed (loss NaN/inf): lower the learning rate or check the data")
        i = _finite_argmax(np.asarray(merged))
        best = float(merged[i])
        if best > state.seen_fitness:  # strictly: the earliest of equal bests stays
            state = state.replace(seen_genome=jax.tree.map(lambda a: a[i], state.population),
                                  seen_fitness=best)
        return state.replace(fitness=merged, needs_eval=jnp.zeros_like(state.needs_eval),
                             told=True)

    def _next_generation(self, key, state: VLGAState) -> VLGAState:
        pop, fit, needs = _breed(self, key, state.population, state.fitness, state.mutable)
        return state.replace(population=pop, fitness=fit, needs_eval=needs,
                             generation=state.generation + 1, told=False)

    def phase_winner(self, state: VLGAState) -> tuple[Genome, float]:
        """The current phase's winner (per ``ga.phase_winner``) and its fitness."""
        if self.ga.phase_winner == "best_seen":
            return state.seen_genome, state.seen_fitness
        i = _finite_argmax(np.asarray(state.fitness))
        return jax.tree.map(lambda a: a[i], state.population), float(state.fitness[i])

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
