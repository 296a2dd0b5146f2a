"""Search strategies with an init / ask / tell interface over explicit state."""

from vlga_jax.strategies.vlga import VLGA, SearchFailed, VLGAState

__all__ = ["VLGA", "VLGAState", "SearchFailed"]
