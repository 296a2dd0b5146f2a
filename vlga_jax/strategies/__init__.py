"""Search strategies with an init / ask / tell interface over explicit state.

Registered by name (``ga.strategy``): "vlga" (`VLGA`), "ga" (`GA`: classical, mlp-ga,
binary-cnn), "tournament" (`Tournament`), "random" and "random_population" (`RandomSearch`) and
"grid" (`Grid`). `make_strategy(name, space, ga)` builds one.
"""

from vlga_jax.strategies.base import (
    STRATEGIES,
    SearchFailed,
    SearchState,
    Strategy,
    make_strategy,
    register,
)
from vlga_jax.strategies.ga import GA
from vlga_jax.strategies.grid import Grid
from vlga_jax.strategies.random_search import RandomSearch
from vlga_jax.strategies.tournament import Tournament
from vlga_jax.strategies.vlga import VLGA, VLGAState

__all__ = ["VLGA", "VLGAState", "SearchFailed", "GA", "Grid", "RandomSearch",
           "Tournament", "SearchState", "Strategy", "STRATEGIES",
           "make_strategy", "register"]
