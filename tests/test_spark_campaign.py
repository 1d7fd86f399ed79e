"""dmkit.spark.campaign.funnel counts exactly what dmkit.campaign.funnel counts."""
from __future__ import annotations

import pandas as pd
import pytest

import dmkit as dm
from dmkit.errors import ParameterError, SchemaError

try:  # tests/ as a package (with __init__.py) or as a plain folder on sys.path
    from tests.spark_fixtures import spark  # noqa: F401
except ModuleNotFoundError:
    from spark_fixtures import spark  # noqa: F401

pytestmark = pytest.mark.spark
STEP = 2


@pytest.fixture(scope="module")
def contacts():
    c = dm.synth.generate("jiangsu", month="2009-06", n_users=5000, seed=3).contacts
    # a second campaign on a sample of the users, so the grouping keys matter
    other = c.sample(frac=0.5, random_state=0)
    other["campaign_id"] = "JS-2009-06-other"
    out = pd.concat([c.astype({"campaign_id": str}), other.astype({"campaign_id": str})], ignore_index=True)
    return out.astype({"service": str, "group": str})


@pytest.mark.parametrize("by,as_of", [("event_date", None), ("send_date", "2009-06-14 12:00")])
def test_funnel_identical_to_pandas(spark, contacts, by, as_of):  # noqa: F811
    from dmkit.spark.campaign import funnel
    from dmkit.spark.io import from_pandas

    ref = dm.campaign.funnel(contacts, by=by, as_of=as_of)
    got = funnel(from_pandas(contacts, spark=spark), by=by, as_of=as_of)
    assert ref.overall["subscribed"].sum() > 0
    for a, b in ((got.daily, ref.daily), (got.overall, ref.overall)):
        pd.testing.assert_frame_equal(a, b.reset_index(drop=True), check_dtype=False, check_exact=True)
    assert got.by == by


def test_one_campaign_and_errors(spark, contacts):  # noqa: F811
    from dmkit.spark.campaign import funnel

    ref = dm.campaign.funnel(contacts, campaign_id="JS-2009-06-other", step=STEP)
    got = funnel(contacts, campaign_id="JS-2009-06-other", step=STEP, spark=spark)
    pd.testing.assert_frame_equal(got.overall, ref.overall.reset_index(drop=True), check_dtype=False)
    with pytest.raises(ParameterError, match="parameter 'campaign_id'"):
        funnel(contacts, campaign_id="nope", spark=spark)
    bad = contacts.copy()
    i = bad.index[bad["subscribed_at"].notna()][0]
    bad.loc[i, "subscribed_at"] = bad.loc[i, "sent_at"] - pd.Timedelta(hours=1)
    with pytest.raises(SchemaError, match="column 'subscribed_at': expected subscribed_at >= sent_at; found 1"):
        funnel(bad, spark=spark)
