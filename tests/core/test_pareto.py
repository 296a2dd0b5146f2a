"""Non-dominated sorting, crowding distance and the rank fitness (`vlga_jax.core.pareto`)."""

import numpy as np
import pytest

from vlga_jax.core import pareto
from vlga_jax.training.objectives import Objective, best_first, population_fitness


def test_fronts_of_a_known_set():
    # maximise both: (4,1) (3,3) (1,4) are non-dominated; (2,2) (1,1) are fronts 1, 2.
    f = np.array([[2, 2], [4, 1], [3, 3], [1, 1], [1, 4], [2, 2]], float)
    np.testing.assert_array_equal(pareto.non_dominated_fronts(f), [1, 0, 0, 2, 0, 1])


def test_nan_rows_are_failed_and_equal_rows_share_a_front():
    f = np.array([[1, 1], [np.nan, 5], [1, 1], [0, 2]], float)
    np.testing.assert_array_equal(pareto.non_dominated_fronts(f), [0, -1, 0, 0])


def test_fronts_agree_with_pairwise_domination():
    f = np.random.default_rng(0).integers(0, 6, (40, 3)).astype(float)
    fronts = pareto.non_dominated_fronts(f)
    for i in range(len(f)):
        dominators = [j for j in range(len(f)) if pareto.dominates(f[j], f[i])]
        # a row's front is one more than the worst front among those dominating it
        assert fronts[i] == (max(fronts[j] for j in dominators) + 1 if dominators else 0)


def test_crowding_distance_of_a_known_front():
    f = np.array([[0, 4], [1, 3], [3, 1], [4, 0]], float)  # one front, range 4 per objective
    d = pareto.crowding_distance(f, pareto.non_dominated_fronts(f))
    assert np.isinf(d[0]) and np.isinf(d[3])
    np.testing.assert_allclose(d[1:3], [3 / 4 + 3 / 4, 3 / 4 + 3 / 4])
    f2 = np.array([[0, 4], [1, 3], [2, 2], [4, 0]], float)
    d2 = pareto.crowding_distance(f2, pareto.non_dominated_fronts(f2))
    np.testing.assert_allclose(d2[1:3], [2 / 4 + 2 / 4, 3 / 4 + 3 / 4])


def test_rank_fitness_orders_by_front_then_crowding():
    f = np.array([[0, 4], [1, 3], [2, 2], [4, 0], [1, 1], [np.nan, 0]], float)
    fit = pareto.rank_fitness(f)
    assert fit[0] == fit[3] == 0.5  # extremes of front 0
    assert 0 < fit[1] < fit[2] < 0.5  # less crowded ranks higher
    assert -1 <= fit[4] < 0  # front 1
    assert np.isnan(fit[5])
    np.testing.assert_array_equal(pareto.order(f), [0, 3, 2, 1, 4, 5])


def test_population_fitness_and_best_first():
    one = np.array([[0.5], [0.9], [-np.inf], [0.9]])
    np.testing.assert_array_equal(population_fitness(one), np.float32([0.5, 0.9, -np.inf, 0.9]))
    np.testing.assert_array_equal(best_first(one), [1, 3, 0])  # failed dropped, ties by index
    two = np.array([[1, 1], [2, 0], [0, 0], [np.nan, np.nan]], float)
    np.testing.assert_array_equal(best_first(two), [0, 1, 2])


def test_objective_names_are_checked():
    with pytest.raises(ValueError, match="ga.objectives must name metrics"):
        Objective(("val_acc", "-size"))
    with pytest.raises(ValueError, match="not both"):
        Objective(("val_acc",), lambda m: 1.0)
    from vlga_jax import GAConfig

    with pytest.raises(ValueError, match="ga.objectives"):
        GAConfig(objectives=("accuracy",))
    assert GAConfig(objectives="val_acc,-params").objectives == ("val_acc", "-params")
