"""dmkit.spark.rules.mine gives exactly the RuleSet of dmkit.rules.mine on the same baskets."""
from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

import dmkit as dm
from dmkit.errors import ParameterError, SchemaError

try:  # tests/ as a package (with __init__.py) or as a plain folder on sys.path
    from tests.spark_fixtures import spark  # noqa: F401
except ModuleNotFoundError:
    from spark_fixtures import spark  # noqa: F401

pytestmark = pytest.mark.spark


def _baskets(n: int, k: int, seed: int) -> pd.DataFrame:
    """Skewed penetrations and two planted bundles, so rules of several sizes exist."""
    rng = np.random.default_rng(seed)
    p = np.sort(rng.uniform(0.01, 0.5, k))[::-1]
    X = rng.random((n, k)) < p
    X[:, 1] |= X[:, 0] & (rng.random(n) < 0.6)
    X[:, 3] |= X[:, 2] & X[:, 1] & (rng.random(n) < 0.7)
    X[:, k - 1] |= X[:, 0] & (rng.random(n) < 0.3)  # past bit 63 when k > 64
    idx = pd.Index(np.arange(n) + 1000, name="user_id")
    return pd.DataFrame(X, columns=[f"svc{j:02d}" for j in range(k)], index=idx)


def _assert_same(a, b) -> None:
    pd.testing.assert_frame_equal(a.itemsets, b.itemsets, check_exact=True)
    pd.testing.assert_frame_equal(a.rules, b.rules, check_exact=True)
    assert (a.n_baskets, a.n_distinct) == (b.n_baskets, b.n_distinct)


@pytest.mark.parametrize("method", ["distinct", "fpgrowth"])
def test_same_ruleset_as_pandas(spark, method):  # noqa: F811
    from dmkit.spark.rules import mine

    b = _baskets(3000, 10, seed=3)
    ref = dm.rules.mine(b, min_support=0.02, min_confidence=0.2)
    sdf = spark.createDataFrame(b.reset_index())  # with a user_id column, left out by default
    got = mine(sdf, min_support=0.02, min_confidence=0.2, method=method)
    assert len(ref.rules) > 20 and ref.itemsets["itemset"].map(len).max() >= 3
    _assert_same(got, ref)


def test_more_than_64_items_and_thresholds(spark):  # noqa: F811
    from dmkit.spark.rules import mine

    b = _baskets(2000, 70, seed=5)
    kw = {"min_support": 0.03, "min_confidence": 0.1, "min_lift": 1.05, "max_len": 3,
          "max_consequent_len": 1}
    ref = dm.rules.mine(b, **kw)
    got = mine(b, spark=spark, **kw)  # a pandas table is moved to Spark
    assert any("svc69" in s for s in ref.itemsets["itemset"])
    _assert_same(got, ref)


def test_bad_input_raises_like_pandas(spark):  # noqa: F811
    from dmkit.spark.rules import mine

    b = _baskets(50, 4, seed=1).reset_index()
    b["svc02"] = b["svc02"].astype(int)
    sdf = spark.createDataFrame(b)
    with pytest.raises(SchemaError, match="column 'svc02': expected a boolean"):
        mine(sdf, min_support=0.1)
    with pytest.raises(SchemaError, match="column 'nope'"):
        mine(sdf, min_support=0.1, items=["svc00", "nope"])
    with pytest.raises(ParameterError, match="parameter 'min_support'"):
        mine(sdf, min_support=0.0, items=["svc00", "svc01"])
    with pytest.raises(ParameterError, match="parameter 'method'"):
        mine(sdf, min_support=0.1, items=["svc00"], method="apriori")
    with pytest.raises(SchemaError, match="empty table"):
        mine(sdf.limit(0), min_support=0.1, items=["svc00", "svc01"])
