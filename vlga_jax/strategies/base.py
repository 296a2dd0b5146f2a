"""What every strategy shares: a generic state, population helpers and the ask/tell
skeleton (`Strategy`).

A strategy is a frozen dataclass of a `SearchSpace` and a `GAConfig` (``ga``: any frozen
dataclass with GAConfig's fields; hashable, so its jitted breeding steps take it as a
static argument) with

    init(key) -> state
    ask(key, state, params) -> (population Genome [P, ...], state)
    tell(population, fitness f32[P], state, params) -> state
    transfer_parent(state) -> Genome | None   (whose trained blocks new candidates inherit)
    phase_history(state) -> ((winner Genome, fitness), ...)   one per phase (see below)

ask and tell take their arguments in evosax's order. ``params`` is the strategy's
`GAConfig`: ``strategy.default_params`` (or None) for its own, another one (the same
population size) to ask or tell with other settings. Which members need an evaluation
is ``state.needs_eval`` (bool[P]: False for survivors whose fitness is kept, and for
every member once ``state.done``); tell reads ``fitness`` only there. Fitness: higher is
better (evosax minimises); NaN or -inf marks a failed candidate.

The older order, ``ask(key, state) -> (population, needs_eval, state)`` and
``tell(state, fitness)``, still works with a DeprecationWarning and goes in the next
release.

A phase's winner is ``ga.phase_winner``: the best candidate told in the phase
("best_seen") or the best of its last generation ("last_generation"); the search's
result is the best phase winner (`final_winner`).

States are flax.struct dataclasses of arrays (pytree fields) and Python scalars, strings
and tuples (static fields): checkpoints serialise them by walking their fields. The same
key gives the same sequence of populations.

`make_strategy(name, space, ga)` builds a registered strategy; `registry.register(name)`
adds one. A strategy also owns its parameters, their checks and their text
(`registry.StrategySettings`, which `Strategy` extends), and its breeding step (`breed`,
for `pure`): a new strategy is one module, registered, and one import.
"""

from __future__ import annotations

import dataclasses
import math
import warnings

import flax.struct
import jax
import jax.numpy as jnp
import numpy as np

from vlga_jax.genetics.genome import GeneMask, Genome, random_population, sync_depth
from vlga_jax.genetics.space import SearchSpace
from vlga_jax.strategies.registry import STRATEGIES, StrategySettings, listed, strategy_class


class SearchFailed(RuntimeError):
    """Every candidate of a generation failed: there is nothing to select from.
    ``generation``: which one ("phase 0, generation 2"), "" where none applies."""

    def __init__(self, message: str, generation: str = ""):
        super().__init__(message)
        self.generation = generation


def make_strategy(name: str, space: SearchSpace, ga) -> Strategy:
    """The strategy registered as ``name`` for ``space`` and ``ga`` (a `GAConfig`)."""
    return strategy_class(name)(space, ga)


def no_pure_step(strategy) -> ValueError:
    """The error of a strategy without a pure breeding step (`Strategy.breed`)."""
    name = strategy.name or type(strategy).__name__
    pure = [n for n, cls in STRATEGIES.items() if cls.has_pure_step()]
    return ValueError(f"strategy {name!r} has no pure step (it keeps host-side state); pure "
                      f"steps exist for {listed(pure)}")


@flax.struct.dataclass
class SearchState:
    """State of every strategy (the VLGA's `VLGAState` adds its phase fields).

    population: Genome [P, ...]; fitness: f32[P] (NaN: not evaluated yet);
    needs_eval: bool[P]. ``position`` counts enumerated candidates (grid).
    ``phase_best`` is (best fitness so far,) once something was told.
    """

    population: Genome
    fitness: jax.Array
    needs_eval: jax.Array
    phase: int = flax.struct.field(pytree_node=False, default=0)
    generation: int = flax.struct.field(pytree_node=False, default=0)
    told: bool = flax.struct.field(pytree_node=False, default=False)
    done: bool = flax.struct.field(pytree_node=False, default=False)
    phase_best: tuple = flax.struct.field(pytree_node=False, default=())
    stop_reason: str = flax.struct.field(pytree_node=False, default="")
    position: int = flax.struct.field(pytree_node=False, default=0)
    # The best genome told so far and its fitness (-inf: none yet).
    seen_genome: Genome | None = None
    seen_fitness: float = flax.struct.field(pytree_node=False, default=-math.inf)


_LEGACY = object()  # ask called without params: the deprecated (pop, needs, state) form


def _check_asked(x, state: SearchState) -> None:
    """Refuse a ``tell`` of anything but the population ``state`` was asked with."""
    if x is state.population:
        return
    same = jax.tree.structure(x) == jax.tree.structure(state.population) and all(
        np.shape(a) == np.shape(b) and np.array_equal(a, b)
        for a, b in zip(jax.tree.leaves(x), jax.tree.leaves(state.population), strict=True))
    if not same:
        raise ValueError("tell: x must be the population the last ask returned "
                         "(state.population); evaluate that population and tell its "
                         "fitness")


def random_depth_population(key: jax.Array, space: SearchSpace, size: int) -> Genome:
    """``size`` random genomes of random depth (1..max_blocks, uniform).

    With a ``depth_gene`` the depth is that gene (drawn with the others); otherwise the
    block mask is a random prefix and inactive slots are zero.
    """
    k_pop, k_depth = jax.random.split(key)
    pop = random_population(k_pop, space, size, space.max_blocks)
    if space.depth_gene is not None:
        return sync_depth(pop, space)
    u = jax.random.uniform(k_depth, (size,))
    depth = 1 + jnp.minimum((u * space.max_blocks).astype(jnp.int32), space.max_blocks - 1)
    mask = jnp.arange(space.max_blocks)[None, :] < depth[:, None]
    return pop.replace(blocks=jnp.where(mask[..., None], pop.blocks, 0), block_mask=mask)


def gene_rate_mask(space: SearchSpace, ga) -> GeneMask:
    """f32 `GeneMask`: each gene's mutation probability (``ga.gene_rates`` by name, else
    ``ga.mutation_rate``)."""
    rates = dict(ga.gene_rates)
    unknown = set(rates) - set(space.gene_names)
    if unknown:
        raise ValueError(f"ga.gene_rates: unknown gene(s) {sorted(unknown)}; genes of the "
                         f"space: {space.gene_names}")
    block = np.array([rates.get(g.name, ga.mutation_rate) for g in space.block_genes],
                     np.float32)
    globals_ = np.array([rates.get(g.name, ga.mutation_rate) for g in space.global_genes],
                        np.float32)
    return GeneMask(blocks=np.broadcast_to(block, (space.max_blocks, block.size)).copy(),
                    globals=globals_)


def merge_told(state, fitness) -> jax.Array:
    """``state.fitness`` with ``fitness`` (f32[P]) where ``state.needs_eval``; NaN -> -inf
    (failed). Raises ValueError on a wrong shape."""
    fitness = jnp.asarray(fitness, jnp.float32)
    if fitness.shape != state.fitness.shape:
        raise ValueError(f"tell: fitness must have shape {state.fitness.shape}, "
                         f"got {fitness.shape}")
    merged = jnp.where(state.needs_eval, fitness, state.fitness)
    return jnp.where(jnp.isnan(merged), -jnp.inf, merged)


def best_of(fitness) -> float:
    f = np.asarray(fitness, np.float64)
    f = f[np.isfinite(f)]
    return float(f.max()) if f.size else -math.inf


def best_member(population: Genome, fitness) -> tuple[Genome, float]:
    """The member with the highest finite fitness (the first of equals) and its fitness."""
    f = np.where(np.isfinite(np.asarray(fitness)), np.asarray(fitness), -np.inf)
    i = int(np.argmax(f))
    return jax.tree.map(lambda a: a[i], population), float(f[i])


def final_winner(history) -> tuple[Genome, float]:
    """The best (genome, fitness) of a strategy's ``phase_history`` (the earliest of
    equals); raises SearchFailed when no phase has a finite winner."""
    finite = [(g, f) for g, f in history if g is not None and math.isfinite(f)]
    if not finite:
        raise SearchFailed("no candidate trained successfully")
    return max(finite, key=lambda gf: gf[1])  # max keeps the first of equal maxima


@dataclasses.dataclass(frozen=True)
class Strategy(StrategySettings):
    """The ask/tell skeleton every strategy shares; subclasses define `breed` (or
    `_initial`/`_next`, and the VLGA its phases) and their settings
    (`registry.StrategySettings`).

    ask: the first call returns the initial population; after each tell, the next
    generation (``_next``: by default `breed`) until ``_finished`` names a reason to stop
    (by default ``ga.generations`` generations evaluated), then a done state. A budget
    (``ga.budget_epochs``) is enforced by `evolve`, which stops asking when it is spent.
    """

    space: SearchSpace
    ga: object  # a `GAConfig` (this layer is below the config: read by field name)
    # Raise SearchFailed when a whole generation failed (selection has nothing to pick).
    needs_survivors = True

    def breed(self, key: jax.Array, population: Genome, fitness: jax.Array):
        """One generation at fixed shapes, pure and jittable (`pure.step` scans it):
        (population Genome [P, ...], fitness f32[P] with NaN where a member needs an
        evaluation, needs_eval bool[P]) from the told ``population`` and its ``fitness``
        (f32[P], -inf: failed). Strategies with host-side state (phases, enumeration)
        have none: ValueError."""
        raise no_pure_step(self)

    @classmethod
    def has_pure_step(cls) -> bool:
        """Whether the strategy defines `breed` (and so runs in `pure.step`)."""
        return cls.breed is not Strategy.breed

    def _initial(self, key: jax.Array) -> Genome:
        return random_depth_population(key, self.space, self.ga.population)

    def _next(self, key: jax.Array, state: SearchState) -> SearchState:
        population, fitness, needs = self.breed(key, state.population, state.fitness)
        return state.replace(population=population, fitness=fitness, needs_eval=needs,
                             generation=state.generation + 1, told=False)

    def init(self, key: jax.Array) -> SearchState:
        p = self.ga.population
        return SearchState(population=self._initial(key), fitness=jnp.full(p, jnp.nan),
                           needs_eval=jnp.ones(p, bool))

    def transfer_parent(self, state: SearchState) -> Genome | None:
        """No weight transfer: every candidate trains from scratch."""
        return None

    def phase_winner(self, state: SearchState) -> tuple[Genome, float]:
        """The winner so far (per ``ga.phase_winner``) and its fitness."""
        if self.ga.phase_winner == "best_seen":
            return state.seen_genome, state.seen_fitness
        return best_member(state.population, state.fitness)

    def phase_history(self, state: SearchState) -> tuple[tuple[Genome, float], ...]:
        """One phase: ((winner, fitness),) once something was told, else ()."""
        return (self.phase_winner(state),) if state.phase_best else ()

    def _finished(self, state: SearchState) -> str:
        if state.generation + 1 >= self.ga.generations:
            return f"reached generations={self.ga.generations}"
        return ""

    @property
    def default_params(self):
        """The settings ``ask``/``tell`` use when ``params`` is None: ``self.ga``."""
        return self.ga

    def _with_params(self, params) -> Strategy:
        """This strategy with ``params`` (None or a `GAConfig` of the same population
        size) as its settings."""
        if params is None or params is self.ga:
            return self
        if not all(hasattr(params, f.name) for f in dataclasses.fields(self.ga)):
            raise TypeError(f"params must be None or a vlga_jax.config.GAConfig (e.g. "
                            f"strategy.default_params), got {type(params).__name__}")
        if params.population != self.ga.population:
            raise ValueError(f"params.population must be the strategy's population "
                             f"({self.ga.population}), got {params.population}")
        return self if params == self.ga else dataclasses.replace(self, ga=params)

    def ask(self, key: jax.Array, state: SearchState, params=_LEGACY):
        """(population Genome [P, ...], state): the members to evaluate next; which of them
        need an evaluation is ``state.needs_eval`` (bool[P]).

        The first call returns the initial population; each later one (after a tell) the
        next generation, or a done state (``state.done``, ``state.stop_reason``).
        ``params``: None or a `GAConfig` (see the module docstring). Called without
        ``params`` (the deprecated form) it returns (population, needs_eval, state).
        """
        if params is _LEGACY:
            warnings.warn("ask(key, state) -> (population, needs_eval, state) is deprecated: "
                          "call ask(key, state, params) -> (population, state) (params: "
                          "None or strategy.default_params) and read state.needs_eval",
                          DeprecationWarning, stacklevel=2)
            population, state = self._ask(key, state)
            return population, state.needs_eval, state
        return self._with_params(params)._ask(key, state)

    def _ask(self, key: jax.Array, state: SearchState) -> tuple[Genome, SearchState]:
        if not isinstance(state, SearchState):
            raise TypeError(f"ask: state must be a SearchState (from strategy.init), got "
                            f"{type(state).__name__}")
        if state.done:
            raise ValueError("ask: the search is done (state.done is True)")
        if not state.told:
            return state.population, state
        stop = self._finished(state)
        if stop:
            state = state.replace(done=True, stop_reason=stop,
                                  needs_eval=jnp.zeros_like(state.needs_eval))
            return state.population, state
        state = self._next(key, state)
        return state.population, state

    def _generation_name(self, state: SearchState) -> str:
        return f"generation {state.generation}"

    def tell(self, x, fitness, state: SearchState | None = None, params=None) -> SearchState:
        """Record ``fitness`` (f32[P], read where ``state.needs_eval``) of ``x``, the
        population the last ask returned; returns the new state.

        The deprecated form ``tell(state, fitness)`` (a state first) still works, with a
        DeprecationWarning.
        """
        if isinstance(x, SearchState):
            if state is not None:
                raise TypeError("tell(x, fitness, state, params): x is a state; pass the "
                                "population ask returned as x")
            warnings.warn("tell(state, fitness) is deprecated: call tell(population, "
                          "fitness, state, params) (evosax's order)", DeprecationWarning,
                          stacklevel=2)
            x, state = x.population, x
        elif not isinstance(state, SearchState):
            raise TypeError(f"tell: state must be a SearchState (from ask), got "
                            f"{type(state).__name__}")
        _check_asked(x, state)
        return self._with_params(params)._tell(state, fitness)

    def _tell(self, state: SearchState, fitness) -> SearchState:
        merged = merge_told(state, fitness)
        genome, best = best_member(state.population, merged)
        if self.needs_survivors and best == -math.inf:
            name = self._generation_name(state)
            raise SearchFailed(f"every candidate of {name} failed (loss NaN/inf): lower the "
                               "learning rate or check the data", generation=name)
        if best > state.seen_fitness:  # strictly: the earliest of equal bests stays
            state = state.replace(seen_genome=genome, seen_fitness=best)
        state = state.replace(fitness=merged, needs_eval=jnp.zeros_like(state.needs_eval),
                              told=True)
        return self._record_phase_best(state)

    def _record_phase_best(self, state: SearchState) -> SearchState:
        """After a tell: the single phase's best so far is the phase winner's fitness."""
        return state.replace(phase_best=(self.phase_winner(state)[1],))
