"""dmkit.panel: DuckDB aggregation of partitioned Parquet panels matches pandas on the same rows."""
from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

import dmkit as dm
from dmkit import panel, schema
from dmkit.errors import DataNotFoundError, ParameterError

MONTHS = ["2009-04", "2009-05", "2009-06"]


def _usage_panel(n_users: int = 300, seed: int = 0) -> pd.DataFrame:
    rng = np.random.default_rng(seed)
    frames = []
    for i, m in enumerate(MONTHS):
        ids = np.sort(rng.choice(n_users, size=n_users - n_users // 8 * i, replace=False))  # churn: fewer later
        df = pd.DataFrame({"user_id": ids.astype(np.int64), "month": m})
        for s in schema.COLUMNS["usage"]:
            if s.name in df:
                continue
            if s.kind == "int":
                hi = 31 if s.name == "call_days" else 200
                df[s.name] = rng.integers(0, hi, len(ids)) + (i * 3 if s.name == "sms_p2p" else 0)
            else:
                df[s.name] = rng.gamma(2.0, 20.0, len(ids))
        frames.append(df)
    return pd.concat(frames, ignore_index=True)


@pytest.fixture(scope="module")
def root(tmp_path_factory):
    root = tmp_path_factory.mktemp("panel")
    dm.io.write_table(_usage_panel(), "usage", root, province="jiangsu")
    return root


def test_monthly_features_match_pandas(root):
    full = _usage_panel()
    cols = ["arpu", "sms_p2p"]
    got = panel.monthly_features(root, months=MONTHS[1:], columns=cols,
                                 aggs=("mean", "sum", "max", "std", "last", "first", "trend", "months"))
    sub = full[full["month"].isin(MONTHS[1:])].sort_values(["user_id", "month"])
    g = sub.groupby("user_id")
    idx = sub["month"].map({"2009-05": 0.0, "2009-06": 1.0})
    for c in cols:
        np.testing.assert_allclose(got[f"{c}_mean"], g[c].mean(), rtol=1e-12)
        np.testing.assert_allclose(got[f"{c}_sum"], g[c].sum(), rtol=1e-12)
        np.testing.assert_allclose(got[f"{c}_max"], g[c].max(), rtol=1e-12)
        np.testing.assert_allclose(got[f"{c}_std"], g[c].std(ddof=0).fillna(0), rtol=1e-9, atol=1e-9)
        np.testing.assert_allclose(got[f"{c}_last"], g[c].last(), rtol=1e-12)
        np.testing.assert_allclose(got[f"{c}_first"], g[c].first(), rtol=1e-12)
        # slope of a two-point line = difference; one month only -> 0
        diff = sub.assign(i=idx).pivot(index="user_id", columns="i", values=c)
        slope = (diff[1.0] - diff[0.0]).fillna(0)
        np.testing.assert_allclose(got[f"{c}_trend"], slope.reindex(got.index), rtol=1e-9, atol=1e-9)
    assert got.index.equals(pd.Index(sorted(sub["user_id"].unique()), name="user_id"))
    np.testing.assert_array_equal(got["n_months"], g["month"].nunique())


def test_trend_recovers_a_planted_slope(tmp_path):
    df = _usage_panel(50, seed=2)
    df["voice_minutes"] = 10.0 + 2.5 * df["month"].map({m: i for i, m in enumerate(MONTHS)})
    dm.io.write_table(df, "usage", tmp_path, province="yunnan")
    got = panel.monthly_features(tmp_path, months=MONTHS, columns=["voice_minutes"], aggs=("trend",))
    multi = df.groupby("user_id")["month"].nunique() > 1
    np.testing.assert_allclose(got.loc[multi[multi].index, "voice_minutes_trend"], 2.5, rtol=1e-9)


def test_only_requested_partitions_are_read(root, tmp_path):
    """Partition pruning: a corrupt file in a month not asked for is never opened."""
    import shutil

    copy = tmp_path / "copy"
    shutil.copytree(root, copy)
    (copy / "usage" / "province=jiangsu" / "month=2009-04" / "part.parquet").write_bytes(b"not parquet")
    got = panel.monthly_features(copy, months=["2009-05", "2009-06"], columns=["mms"])
    assert len(got) > 0
    with pytest.raises(Exception, match="(?i)parquet|magic|invalid"):
        panel.monthly_features(copy, months=MONTHS, columns=["mms"])


def test_monthly_totals_and_read_panel_match_pandas(root):
    full = _usage_panel()
    tot = panel.monthly_totals(root, columns=["arpu", "gprs_kb"])
    g = full.groupby("month")
    assert tot["month"].tolist() == MONTHS
    np.testing.assert_array_equal(tot["users"], g["user_id"].nunique())
    np.testing.assert_allclose(tot["arpu_sum"], g["arpu"].sum(), rtol=1e-12)
    np.testing.assert_allclose(tot["gprs_kb_mean"], g["gprs_kb"].mean(), rtol=1e-12)
    rows = panel.read_panel(root, columns=["sms_p2p"], months=["2009-06"], user_ids=[5, 7, 9999])
    want = full[(full["month"] == "2009-06") & full["user_id"].isin([5, 7])][["user_id", "month", "sms_p2p"]]
    pd.testing.assert_frame_equal(rows.reset_index(drop=True), want.reset_index(drop=True), check_dtype=False)


def test_bad_arguments(root, tmp_path):
    with pytest.raises(ParameterError, match="parameter 'columns'.*'nope'"):
        panel.monthly_features(root, months=MONTHS, columns=["nope"])
    with pytest.raises(ParameterError, match="parameter 'columns': expected numeric"):
        panel.monthly_features(root, months=MONTHS, columns=["month"])
    with pytest.raises(ParameterError, match="parameter 'aggs'"):
        panel.monthly_features(root, months=MONTHS, aggs=("median",))
    with pytest.raises(ParameterError, match="parameter 'months'"):
        panel.monthly_features(root, months=["2009-13"])
    with pytest.raises(DataNotFoundError, match="table 'usage'"):
        panel.monthly_features(tmp_path / "empty", months=MONTHS)


def _kpi_fixture() -> tuple[pd.DataFrame, pd.DataFrame]:
    """Four users in region A, one in B; crbt held as worked out by hand in the test."""
    from tests.contract_frames import users

    u = pd.concat([users()] * 2, ignore_index=True).head(5)
    u["user_id"] = [1, 2, 3, 4, 5]
    u["prefecture"] = ["A", "A", "A", "A", "B"]
    T = pd.Timestamp
    s = pd.DataFrame({
        "user_id": [1, 2, 3, 5, 4],
        "service": ["crbt", "crbt", "crbt", "crbt", "fetion"],
        "start": [T("2008-01-01"), T("2009-04-15"), T("2009-05-20"), T("2009-03-01"), T("2009-06-30 23:59")],
        "end": [pd.NaT, T("2009-06-10"), pd.NaT, pd.NaT, pd.NaT],
        "channel": ["sms"] * 5,
        "source": ["organic"] * 5,
    })
    return s, u


def test_service_kpis_by_hand():
    s, u = _kpi_fixture()
    k = panel.service_kpis(s, u, months=["2009-05", "2009-06"]).set_index(["region", "service", "month"])
    # fetion: nobody held it at the end of May -> no row (growth undefined)
    assert list(k.index) == [("A", "crbt", "2009-05"), ("A", "crbt", "2009-06"),
                             ("B", "crbt", "2009-05"), ("B", "crbt", "2009-06")]
    a5, a6 = k.loc[("A", "crbt", "2009-05")], k.loc[("A", "crbt", "2009-06")]
    # April end {1, 2}; May end {1, 2, 3}; June end {1, 3}
    assert (a5["users"], a5["holders"]) == (4, 3)
    np.testing.assert_allclose([a5["penetration"], a5["retention"], a5["growth"], a5["loyalty"]],
                               [3 / 4, 1.0, 0.5, 1 / 3])
    np.testing.assert_allclose([a6["penetration"], a6["retention"], a6["growth"], a6["loyalty"]],
                               [2 / 4, 2 / 3, -1 / 3, 1 / 2])
    b6 = k.loc[("B", "crbt", "2009-06")]
    np.testing.assert_allclose([b6["penetration"], b6["retention"], b6["growth"], b6["loyalty"]],
                               [1.0, 1.0, 0.0, 0.0])
