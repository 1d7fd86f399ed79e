"""dmkit.spark.propensity: Spark ML AUC close to the pandas model's; pandas models scored on Spark exactly."""
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
MONTH = "2009-06"


@pytest.fixture(scope="module")
def xy():
    d = dm.synth.generate("jiangsu", month=MONTH, n_users=8000, seed=5)
    X = dm.propensity.build_features(d.usage, month=MONTH).astype(float)
    y = dm.propensity.service_target(d.subscriptions, X.index, service="newspaper", month=MONTH)
    return X, y


def test_spark_logit_auc_close_to_pandas(spark, xy):  # noqa: F811
    from dmkit.spark.propensity import fit

    X, y = xy
    assert 30 < y.sum() < len(y) - 30
    ref = dm.propensity.fit(X, y, model="logit", seed=0, calibrate=False)
    got = fit(X, y, model="logit", seed=0, spark=spark)
    assert got.auc > 0.6
    assert abs(got.auc - ref.auc) < 0.05, (got.auc, ref.auc)
    g = got.gains()
    assert g.to_frame().shape[0] > 0
    # the score of a pandas frame comes back on its index, in [0, 1]
    s = got.score(X.head(200))
    assert s.index.equals(X.head(200).index) and s.between(0, 1).all()


def test_pandas_model_scored_on_spark_equals_pandas(spark, xy):  # noqa: F811
    from dmkit.spark.io import from_pandas
    from dmkit.spark.propensity import score_model

    X, y = xy
    model = dm.propensity.fit(X, y, model="hgb", seed=0)
    sdf = from_pandas(X.reset_index(), spark=spark).repartition(3)  # several Arrow batches
    got = score_model(model, sdf).toPandas().set_index("user_id")["score"].sort_index()
    want = model.target_proba(X).sort_index()
    assert got.index.equals(want.index)
    np.testing.assert_allclose(got.to_numpy(), want.to_numpy(), rtol=0, atol=1e-12)


def test_errors(spark, xy):  # noqa: F811
    from dmkit.spark.propensity import fit, score_model

    X, y = xy
    with pytest.raises(ParameterError, match="parameter 'y': expected both classes"):
        fit(X.head(300), np.zeros(300), spark=spark)
    with pytest.raises(ParameterError, match="parameter 'model'"):
        fit(X, y, model="svm", spark=spark)
    model = dm.propensity.fit(X, y, model="logit", seed=0, calibrate=False)
    with pytest.raises(SchemaError, match="column 'sms_p2p'"):
        score_model(model, X.drop(columns="sms_p2p").head(20), spark=spark)
    assert isinstance(X, pd.DataFrame)


def test_spark_fit_aligns_pandas_y_by_index(spark, xy):  # noqa: F811
    from dmkit.spark.propensity import fit

    X, y = xy
    a = fit(X, y, model="logit", seed=0, spark=spark)
    b = fit(X, y.sample(frac=1.0, random_state=2), model="logit", seed=0, spark=spark)  # another order
    assert abs(a.auc - b.auc) < 1e-9
    with pytest.raises(SchemaError, match="have no y value"):
        fit(X, y.set_axis(y.index + 10**9), model="logit", spark=spark)


def test_spark_fit_on_a_stratified_sample_keeps_the_held_out_part(spark, xy):  # noqa: F811
    from dmkit.spark.propensity import fit

    X, y = xy
    full = fit(X, y, model="logit", seed=0, sample_size=None, spark=spark)
    small = fit(X, y, model="logit", seed=0, sample_size=1000, spark=spark)
    assert full.n_train_ > 5000 and 800 < small.n_train_ < 1200
    # the held-out rows are the same (the sample is drawn from the training part only)
    np.testing.assert_array_equal(small.y_test_, full.y_test_)
    # same fraction of each class kept: the training base rate barely moves
    assert abs(small.base_rate_ - full.base_rate_) < 0.02
    assert small.auc > 0.55
    with pytest.raises(ParameterError, match="sample_size"):
        fit(X, y, sample_size=3, spark=spark)
