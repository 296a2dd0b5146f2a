"""The genetic operators in your own jitted loop: a whole GA under jax.jit + lax.scan.

No network is trained: the fitness is synthetic (how close each gene is to the top of
its table, a "OneMax" over gene indices), so the loop shows the operators alone:
survivor selection, parent selection, crossover and mutation, all pure functions of
(key, arrays) that jit and vmap.

    python examples/jitted_operators.py [--quick]
"""

import argparse
import functools

import jax
import jax.numpy as jnp

from vlga_jax.genetics import genome
from vlga_jax.genetics import operators as ops
from vlga_jax.genetics.space import xiao2020


def synthetic_fitness(population: genome.Genome, space) -> jax.Array:
    """f32[P]: mean over active genes of index / (table size - 1); 1.0 is the optimum."""
    top = jnp.maximum(jnp.asarray(space.block_sizes) - 1, 1)
    blocks = jnp.where(population.block_mask[..., None], population.blocks / top, 0.0)
    active = jnp.sum(population.block_mask, axis=1) * space.n_block_genes
    return jnp.sum(blocks, axis=(1, 2)) / active


def generation(space, carry, key):
    """One generation: keep survivors, fill the rest with mutated children."""
    population = carry
    fitness = synthetic_fitness(population, space)
    k_survive, k_parents, k_cross, k_mutate = jax.random.split(key, 4)
    survive = ops.select_survivors(k_survive, fitness, 0.5, 0.2)
    pairs = ops.select_parents(k_parents, fitness, population.blocks.shape[0], "tournament")
    children = ops.crossover_population(k_cross, population, pairs, method="uniform")
    children, _ = ops.mutate_population(k_mutate, children, space, rate=0.3)
    population, _, _ = ops.survivors_then_children(survive, population, children)
    return population, (jnp.max(fitness), jnp.mean(fitness))


@functools.partial(jax.jit, static_argnames=("space", "size", "generations"))
def run(key, space, size: int, generations: int):
    """The best and mean synthetic fitness of every generation, f32[generations] each."""
    k_init, k_loop = jax.random.split(key)
    population = genome.random_population(k_init, space, size, n_active=space.max_blocks)
    keys = jax.random.split(k_loop, generations)
    _, (best, mean) = jax.lax.scan(functools.partial(generation, space), population, keys)
    return best, mean


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--quick", action="store_true", help="fewer generations")
    args = parser.parse_args()
    space = xiao2020(max_blocks=3)  # a SearchSpace is hashable: a static argument
    generations = 20 if args.quick else 200
    best, mean = run(jax.random.key(0), space, size=32, generations=generations)
    for g in range(0, generations, max(1, generations // 10)):
        print(f"generation {g:3d}: best {best[g]:.3f}  mean {mean[g]:.3f}")
    print(f"last: best {best[-1]:.3f}  mean {mean[-1]:.3f} (first mean {mean[0]:.3f})")


if __name__ == "__main__":
    main()
