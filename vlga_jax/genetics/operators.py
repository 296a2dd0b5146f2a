"""Pure genetic operators: mutation, crossover, survivor and parent selection.

This module is their public namespace (``from vlga_jax.genetics import operators as
ops``); they live by job in `mutation`, `chromosome` (binary chromosomes, bit flips),
`crossover` and `selection`, on the flat genome views of `flat_genes`.

Every operator takes a PRNG key first, is a pure function of its inputs, and is jit-
and vmap-able. Static (Python) arguments are only the choices of method (``mode``,
``method``), integer counts that fix output shapes (``n_pairs``, ``tournament_size``)
and the `SearchSpace` (a hashable frozen dataclass), e.g.::

    mutate_j = jax.jit(mutate, static_argnames=("space", "mode"))

Wherever a ``space`` is taken, the pair of table sizes
``(block_sizes int32[n_block_genes], global_sizes int32[n_global_genes])`` may be
given instead (then it may be a traced array).

Genes an operator may change are those that are

* mutable: True in the ``mutable`` `GeneMask` (``None`` means every gene); in VLGA
  phase p only block p's genes (and maybe the globals) are mutable, so the inherited
  prefix stays fixed;
* active: globals always, block genes only in slots whose ``block_mask`` is True.
  Masked block slots are never touched.

Shapes: a genome is ``blocks int32[B, G]``, ``block_mask bool[B]``,
``globals int32[H]``; a population adds a leading axis ``P``. Internally a genome's
genes are ordered "flattened blocks (row-major), then globals"; that is the order of
`one_point_crossover`.

Failed candidates (fitness NaN or -inf) are never selected, as survivors or parents.
A fitness of +inf counts as the best possible fitness.

Arguments given as Python numbers are validated at the border (`check_rate`,
`check_population_size`), raising ValueError naming the argument; arrays are used as
they are, so the functions stay jittable when given traced values.
"""

from __future__ import annotations

from vlga_jax.core import checks
from vlga_jax.core.names import MUTATION_MODES
from vlga_jax.genetics.chromosome import (
    bitflip,
    bitflip_population,
    chromosome_length,
    gene_bits,
)
from vlga_jax.genetics.crossover import (
    CROSSOVER_METHOD,
    CROSSOVER_METHODS,
    crossover,
    crossover_population,
    one_point_crossover,
    uniform_crossover,
)
from vlga_jax.genetics.mutation import (
    MUTATION_RATE,
    add_remove_layer,
    add_remove_layer_population,
    mutate,
    mutate_population,
)
from vlga_jax.genetics.selection import (
    FIT_SURVIVAL_RATE,
    FITNESS_EPS,
    PARENT_METHODS,
    UNFIT_SURVIVAL_PROB,
    check_population_size,
    elite_indices,
    parent_probabilities,
    select_parents,
    select_survivors,
    survivors_then_children,
)

__all__ = [
    "add_remove_layer",
    "add_remove_layer_population",
    "bitflip",
    "bitflip_population",
    "chromosome_length",
    "elite_indices",
    "survivors_then_children",
    "gene_bits",
    "CROSSOVER_METHODS",
    "CROSSOVER_METHOD",
    "FITNESS_EPS",
    "FIT_SURVIVAL_RATE",
    "MUTATION_MODES",
    "MUTATION_RATE",
    "PARENT_METHODS",
    "UNFIT_SURVIVAL_PROB",
    "check_population_size",
    "check_rate",
    "crossover",
    "crossover_population",
    "mutate",
    "mutate_population",
    "one_point_crossover",
    "parent_probabilities",
    "select_parents",
    "select_survivors",
    "uniform_crossover",
]


def check_rate(name: str, value) -> float:
    """``value`` as a float; ValueError "<name> must be in [0, 1], got X" otherwise."""
    return checks.rate(name, value)
