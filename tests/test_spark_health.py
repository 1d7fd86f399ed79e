"""dmkit.spark.health.kpis aggregates exactly what dmkit.panel.service_kpis aggregates."""
from __future__ import annotations

import pandas as pd
import pytest

import dmkit as dm
from dmkit import panel

try:  # tests/ as a package (with __init__.py) or as a plain folder on sys.path
    from tests.spark_fixtures import spark  # noqa: F401
except ModuleNotFoundError:
    from spark_fixtures import spark  # noqa: F401

pytestmark = pytest.mark.spark
MONTHS = ["2009-04", "2009-05", "2009-06"]


def test_kpis_identical_to_pandas(spark):  # noqa: F811
    from dmkit.spark.health import kpis

    d = dm.synth.generate("jiangsu", month="2009-06", n_users=4000, seed=2)
    ref = panel.service_kpis(d.subscriptions, d.users, months=MONTHS)
    got = kpis(d.subscriptions, d.users, months=MONTHS, spark=spark)
    assert len(ref) > 100
    pd.testing.assert_frame_equal(got, ref, check_exact=False, rtol=1e-12)


def test_kpis_hand_fixture_and_score(spark):  # noqa: F811
    from dmkit.spark.health import kpis
    from tests.test_panel import _kpi_fixture

    s, u = _kpi_fixture()
    got = kpis(s, u, months=["2009-05", "2009-06"], spark=spark)
    want = panel.service_kpis(s, u, months=["2009-05", "2009-06"])
    pd.testing.assert_frame_equal(got, want)
    assert got["holders"].tolist() == [3, 2, 1, 1]
