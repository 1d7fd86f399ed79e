"""dm.offers' per-customer step on Spark (dmkit.spark.offers): the numpy step's choice, customer by customer."""
from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

import dmkit.offers.decompose as decompose
from dmkit.errors import ParameterError
from dmkit.offers.problem import build_problem
from tests.test_offers import random_instance

try:  # tests/ as a package (with __init__.py) or as a plain folder on sys.path
    from tests.spark_fixtures import spark  # noqa: F401
except ModuleNotFoundError:
    from spark_fixtures import spark  # noqa: F401

pytestmark = pytest.mark.spark


def instance(seed: int = 1, n_users: int = 300):
    """random_instance plus five customers with 14 candidates each (more than MAX_L: the
    greedy per-customer path), so both kinds of subproblem are exercised."""
    c, a, k, f = random_instance(seed, n_users=n_users, n_acts=16)
    rng = np.random.default_rng(seed)
    big = pd.DataFrame([(f"big{i}", int(aid), round(rng.normal(1, 1), 3), 0.1)
                        for i in range(5) for aid in a["activity_id"][:14]],
                       columns=c.columns)
    c = pd.concat([c, big], ignore_index=True)
    return build_problem(c, activities=a, constraints=k, conflicts=f)


def multipliers(prob, seed: int) -> np.ndarray:
    """Non-negative prices of the coupling rows; seed 0 gives zeros (every positive value)."""
    rng = np.random.default_rng(seed)
    return np.zeros(prob.K) if seed == 0 else rng.exponential(0.3, prob.K)


def test_spark_step_chooses_what_the_numpy_step_chooses(spark):  # noqa: F811
    from dmkit.spark.offers import SparkSubproblems

    prob = instance()
    assert (np.diff(prob.starts) > decompose.MAX_L).sum() == 5 and len(prob.pairs) > 0
    ref = decompose.Subproblems(prob)
    sub = SparkSubproblems(prob, spark=spark, partitions=3)
    try:
        for seed in range(4):
            r = decompose._adjusted(prob, multipliers(prob, seed))
            x_ref, total_ref = ref.solve(r)
            x, total = sub.solve(r)
            assert 0 < x.sum() < prob.n  # not a vacuous comparison
            np.testing.assert_array_equal(x, x_ref)
            assert total == pytest.approx(total_ref, rel=1e-12)
    finally:
        sub.close()


@pytest.mark.slow  # ~40 Spark jobs (one per iteration)
def test_whole_decompose_with_the_spark_step_is_the_numpy_result(spark, monkeypatch):  # noqa: F811
    from dmkit.spark.offers import SparkSubproblems

    prob = instance(seed=2, n_users=200)
    ref = decompose.solve_decompose(prob, max_iter=40)
    monkeypatch.setattr(decompose, "Subproblems",
                        lambda p: SparkSubproblems(p, spark=spark, partitions=2))
    got = decompose.solve_decompose(prob, max_iter=40)
    assert ref["feasible"] and got["feasible"]
    np.testing.assert_array_equal(got["x"], ref["x"])
    assert got["bound"] == pytest.approx(ref["bound"], rel=1e-9)
    assert got["iterations"] == ref["iterations"]


def test_bad_inputs_are_named(spark):  # noqa: F811
    from dmkit.spark.offers import SparkSubproblems

    with pytest.raises(ParameterError, match="prob"):
        SparkSubproblems("not a problem", spark=spark)
    prob = instance(n_users=20)
    sub = SparkSubproblems(prob, spark=spark, partitions=1)
    try:
        with pytest.raises(ParameterError, match="one adjusted value per candidate"):
            sub.solve(np.zeros(3))
    finally:
        sub.close()
