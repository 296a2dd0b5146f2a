"""Search strategies with an init / ask / tell interface over explicit state.

Registered by name (``ga.strategy``; the registry is `STRATEGIES`, in this order): "vlga"
(`VLGA`), "ga" (`GA`: classical, mlp-ga, binary-cnn), "tournament" (`Tournament`),
"random_population" (`RandomPopulation`), "random" (`RandomSearch`) and "grid" (`Grid`).
`make_strategy(name, space, ga)` builds one; each owns its parameters, their checks and
text (`registry`) and its breeding step (`Strategy.breed`). A new strategy is a module
that registers its class (`register`), imported here.
"""

from vlga_jax.strategies.base import SearchFailed, SearchState, Strategy, make_strategy
from vlga_jax.strategies.registry import STRATEGIES, register, strategy_class

# Importing a strategy registers it: this order is the registry's (messages list it).
# isort: off
from vlga_jax.strategies.vlga import VLGA, VLGAState
from vlga_jax.strategies.ga import GA
from vlga_jax.strategies.tournament import Tournament
from vlga_jax.strategies.random_search import RandomPopulation, RandomSearch
from vlga_jax.strategies.grid import Grid
# isort: on

__all__ = ["VLGA", "VLGAState", "SearchFailed", "GA", "Grid", "RandomPopulation",
           "RandomSearch", "Tournament", "SearchState", "Strategy", "STRATEGIES",
           "make_strategy", "register", "strategy_class"]
