"""Tests of dmkit.survival: durations from subscriptions, Kaplan-Meier retention, Cox hazard ratios."""
from __future__ import annotations

import numpy as np
import pandas as pd
import pytest
from numpy.testing import assert_allclose

from dmkit import survival
from dmkit.errors import ParameterError, SchemaError


def _subs(n=4_000, seed=0, hr_campaign=2.0, base=0.08):
    """Exponential unsubscription with monthly hazard ``base`` (x hr_campaign for campaign orders)."""
    rng = np.random.default_rng(seed)
    campaign = rng.uniform(size=n) < 0.4
    rate = base * np.where(campaign, hr_campaign, 1.0)
    life_days = rng.exponential(1 / rate) * survival.DAYS_PER_MONTH
    start = pd.Timestamp("2008-01-01") + pd.to_timedelta(rng.uniform(0, 500, n), unit="D")
    end = start + pd.to_timedelta(life_days, unit="D")
    return pd.DataFrame({
        "user_id": np.arange(n), "service": "crbt", "start": start,
        "end": end.where(end < pd.Timestamp("2010-01-01")),  # some still open in the extract
        "channel": "sms", "source": np.where(campaign, "JS-2008-camp", "organic"),
    })


def test_durations_censor_at_month_end():
    s = _subs(n=500)
    d = survival.durations(s, month="2009-06")
    cutoff = pd.Timestamp("2009-07-01")
    assert (d["start"] < cutoff).all()
    ended = s.set_index("user_id").loc[d["user_id"], "end"]
    expect_event = (ended.notna() & (ended < cutoff)).to_numpy()
    assert (d["event"].to_numpy() == expect_event).all()
    stop = np.where(expect_event, ended, cutoff)
    exp_dur = (pd.to_datetime(stop) - d["start"].to_numpy()).total_seconds() / 86400 / survival.DAYS_PER_MONTH
    assert_allclose(d["duration"], exp_dur)
    assert (d["duration"] >= 0).all()


def test_retention_matches_exponential_truth_and_logrank():
    s = _subs(n=6_000, hr_campaign=2.0, base=0.08)
    d = survival.covariates(survival.durations(s, month="2009-06"))
    res = survival.retention(d["duration"], d["event"], d["campaign"])
    t = res.table.set_index("group")
    # true S(t) = exp(-rate t)
    for g, rate in ((0, 0.08), (1, 0.16)):
        for m in (1, 3, 6):
            row = t.loc[g]
            assert row[f"retention_{m}m_low"] - 0.01 <= np.exp(-rate * m) <= row[f"retention_{m}m_high"] + 0.01
        assert_allclose(t.loc[g, "median"], np.log(2) / rate, rtol=0.1)
    assert res.logrank["p_value"].iloc[0] < 1e-6
    assert res.plot() is not None


def test_retention_equals_lifelines_directly():
    from lifelines import KaplanMeierFitter

    s = _subs(n=800, seed=4)
    d = survival.durations(s, month="2009-06")
    res = survival.retention(d["duration"], d["event"])
    kmf = KaplanMeierFitter().fit(d["duration"], d["event"])
    assert_allclose(res.table["retention_3m"].iloc[0], kmf.predict(3))
    assert res.logrank is None


def test_units_name_columns_and_are_kept():
    from lifelines import KaplanMeierFitter

    s = _subs(n=800, seed=4)
    months = survival.durations(s, month="2009-06")
    days = survival.durations(s, month="2009-06", unit="days")
    assert months.attrs["duration_unit"] == "months" and days.attrs["duration_unit"] == "days"
    assert_allclose(days["duration"], months["duration"] * survival.DAYS_PER_MONTH)
    # days: the unit is read from the frame; columns in days, values those of lifelines at those days
    res = survival.retention(days["duration"], days["event"], times=(90, 180))
    assert res.unit == "days" and res.column(180) == "retention_180d"
    assert {"retention_90d", "retention_180d_low"} <= set(res.table.columns)
    assert not any(c.endswith("m") or "m_" in c for c in res.table.columns if c.startswith("retention_"))
    kmf = KaplanMeierFitter().fit(days["duration"], days["event"])
    assert_allclose(res.table["retention_180d"].iloc[0], kmf.predict(180))
    # the same curve in months at the same instants
    in_months = survival.retention(months["duration"], months["event"], times=(180 / survival.DAYS_PER_MONTH,))
    assert_allclose(in_months.table.iloc[0, -3], res.table["retention_180d"].iloc[0])
    assert_allclose(res.table["median"].iloc[0], in_months.table["median"].iloc[0] * survival.DAYS_PER_MONTH)
    # default times follow the unit
    assert survival.retention(days["duration"], days["event"]).times == (30, 90, 180, 365)
    assert survival.retention(np.asarray(days["duration"]), days["event"], unit="days").column(30) == "retention_30d"
    assert "days" in str(res.summary()) and res.plot().get_xlabel() == "days since subscription"
    # a plain array with no unit given is in months (the documented default)
    assert "retention_3m" in survival.retention(np.asarray(months["duration"]), months["event"]).table
    # Cox keeps the unit; hazard ratios do not depend on it
    cm = survival.cox(survival.covariates(months), "duration", "event", covariates=["campaign"])
    cd = survival.cox(survival.covariates(days), "duration", "event", covariates=["campaign"])
    assert cm.unit == "months" and cd.unit == "days" and "durations in days" in str(cd.summary())
    assert_allclose(cd.hazard_ratios["hr"], cm.hazard_ratios["hr"], rtol=1e-6)


def test_unit_errors():
    s = _subs(n=200, seed=1)
    days = survival.durations(s, month="2009-06", unit="days")
    with pytest.raises(ParameterError, match=r"parameter 'unit'.*'days'.*recorded"):
        survival.retention(days["duration"], days["event"], unit="months")
    with pytest.raises(ParameterError, match=r"parameter 'unit'.*one of"):
        survival.durations(s, month="2009-06", unit="fortnights")
    with pytest.raises(ParameterError, match=r"parameter 'unit'"):
        survival.cox(survival.covariates(days), "duration", "event", covariates=["campaign"], unit="years")


def test_cox_recovers_planted_hazard_ratio():
    s = _subs(n=5_000, hr_campaign=1.8, seed=2)
    d = survival.covariates(survival.durations(s, month="2009-06"))
    res = survival.cox(d, "duration", "event", covariates=["campaign"])
    h = res.hazard_ratios.loc["campaign"]
    assert h["hr_low"] <= 1.8 <= h["hr_high"]
    assert res.ph_test.loc["campaign", "ph_ok"]
    assert "campaign" in str(res.summary())
    assert res.plot() is not None


def test_errors():
    with pytest.raises(SchemaError, match="durations >= 0"):
        survival.retention([1.0, -0.5, 2.0], [1, 0, 1])
    with pytest.raises(SchemaError, match="0/1"):
        survival.retention([1.0, 0.5, 2.0], [1, 2, 1])
    df = pd.DataFrame({"t": [1.0, 2.0, 3.0, 4.0], "e": [1, 0, 1, 3], "x": [0, 1, 0, 1]})
    with pytest.raises(SchemaError, match=r"column 'e'.*0/1"):
        survival.cox(df, "t", "e")
    with pytest.raises(SchemaError, match=r"column 'x'.*numeric"):
        survival.cox(df.assign(e=[1, 0, 1, 1], x=list("abab")), "t", "e", covariates=["x"])


# --------------------------------------------------------------------------- planted truth (simulator)
@pytest.fixture(scope="module")
def province():
    import dmkit as dm

    return dm.synth.generate("jiangsu", month="2009-06", n_users=20_000, seed=11)


def test_cox_recovers_simulator_hazard_ratios(province):
    planted = province.truth.hazard["crbt"]["hazard_ratios"]
    d = survival.durations(province.subscriptions, month="2009-06", service="crbt")
    d = survival.covariates(d, province.users, province.usage, month="2009-06")
    # 99% intervals: with four covariates a 95% test would fail by chance one run in five
    res = survival.cox(d, "duration", "event", covariates=list(planted), alpha=0.01)
    h = res.hazard_ratios
    for cov, hr in planted.items():
        assert h.loc[cov, "hr_low"] <= hr <= h.loc[cov, "hr_high"], (cov, hr, h.loc[cov].to_dict())
    # exponential hazards are proportional by construction: the PH test should not object
    assert res.ph_test["ph_ok"].all()


def test_retention_campaign_vs_organic_on_simulator(province):
    base = province.truth.hazard["crbt"]["baseline"]
    d = survival.covariates(survival.durations(province.subscriptions, month="2009-06", service="crbt"))
    res = survival.retention(d["duration"], d["event"], np.where(d["campaign"] == 1, "campaign", "organic"))
    t = res.table.set_index("group")
    assert t.loc["campaign", "retention_6m"] < t.loc["organic", "retention_6m"]
    assert res.logrank["p_value"].iloc[0] < 1e-3
    # organic users still carry the other covariates, so their hazard is >= the baseline
    assert t.loc["organic", "retention_1m"] <= np.exp(-base) + 0.01


def test_cox_sample_size_fits_a_stratified_sample_and_keeps_the_planted_hazard_ratio():
    rng = np.random.default_rng(3)
    n = 6000
    x = rng.integers(0, 2, n)
    t = rng.exponential(1 / (0.1 * np.exp(0.6 * x)))
    c = rng.exponential(15.0, n)
    df = pd.DataFrame({"d": np.minimum(t, c), "e": (t <= c).astype(int), "x": x})
    full = survival.cox(df, "d", "e", sample_size=None)
    part = survival.cox(df, "d", "e", sample_size=2000, seed=1)
    assert full.n_fitted == full.n == n
    assert part.n == n and part.events == int(df["e"].sum())
    assert abs(part.n_fitted - 2000) <= 2
    assert "sample of" in "\n".join(part.summary().notes)
    hr_full, hr_part = full.hazard_ratios.loc["x", "hr"], part.hazard_ratios.loc["x", "hr"]
    assert part.hazard_ratios.loc["x", "hr_low"] < np.exp(0.6) < part.hazard_ratios.loc["x", "hr_high"]
    assert abs(np.log(hr_part) - np.log(hr_full)) < 2 * part.hazard_ratios.loc["x", "se"]
    with pytest.raises(ParameterError, match="sample_size"):
        survival.cox(df, "d", "e", sample_size=1)


def test_retention_curves_and_logrank_equal_lifelines_on_three_groups_with_ties():
    from lifelines import KaplanMeierFitter
    from lifelines.statistics import multivariate_logrank_test

    rng = np.random.default_rng(3)
    d = np.round(rng.exponential(5, 3000), 1)  # ties, and a few zero durations
    d[:5] = 0.0
    e = rng.integers(0, 2, 3000)
    g = rng.choice(["b", "a", "c"], 3000)
    res = survival.retention(d, e, g, times=(1, 4.05, 100))
    assert list(res.table["group"]) == ["a", "b", "c"]
    for lab in "abc":
        kmf = KaplanMeierFitter().fit(d[g == lab], e[g == lab])
        c = res.curves[lab]
        assert_allclose(c.index.to_numpy(), kmf.survival_function_.index.to_numpy())
        assert_allclose(c["survival"], kmf.survival_function_.iloc[:, 0], rtol=1e-12)
        assert_allclose(c[["low", "high"]], kmf.confidence_interval_survival_function_, rtol=1e-12)
        row = res.table.set_index("group").loc[lab]
        assert_allclose(row["median"], kmf.median_survival_time_)
        assert_allclose(row["retention_4.05m"], kmf.predict(4.05))
    lr = multivariate_logrank_test(d, g, e)
    assert_allclose(res.logrank["statistic"].iloc[0], lr.test_statistic, rtol=1e-9)
    assert_allclose(res.logrank["p_value"].iloc[0], lr.p_value, rtol=1e-9)
    assert res.logrank["df"].iloc[0] == 2


def test_retention_plot_draws_a_fixed_number_of_points():
    import matplotlib

    matplotlib.use("Agg")
    s = _subs(n=4_000, seed=2)
    d = survival.covariates(survival.durations(s, month="2009-06"))
    res = survival.retention(d["duration"], d["event"], d["campaign"])
    ax = res.plot(points=50)
    assert [len(line.get_xdata()) for line in ax.get_lines()] == [50, 50]
    with pytest.raises(ParameterError, match="points"):
        res.plot(points=1)


def test_durations_and_service_target_from_a_lazy_province(tmp_path):
    """From a province (the service column first, each other column cut to the service's
    rows) the same frames as from the projected whole table, checked on a saved and lazily
    reloaded simulator province."""
    import dmkit as dm
    from dmkit.contract.province import ProvinceData

    saved = dm.synth.generate("jiangsu", month="2009-06", n_users=3_000, seed=3).save(tmp_path / "p")
    lazy = ProvinceData.load(saved, lazy=True)
    whole = ProvinceData.load(saved).read("subscriptions", columns=list(survival.DURATION_COLUMNS))
    for service in ("crbt", "newspaper", None):
        want = survival.durations(whole, month="2009-06", service=service)
        got = survival.durations(lazy, month="2009-06", service=service)
        assert len(got) > 0 and got.attrs == want.attrs
        pd.testing.assert_frame_equal(got, want.reset_index(drop=True))
    rows = survival.service_rows(lazy, "crbt", ["user_id", "service", "end"])
    assert list(rows.columns) == ["user_id", "service", "end"]
    assert (rows["service"] == "crbt").all() and len(rows) == int((whole["service"] == "crbt").sum())
    index = pd.Index(np.arange(3_000), name="user_id")
    for service in ("newspaper", "no_such_service"):
        want = dm.propensity.service_target(whole[["user_id", "service", "start", "end"]], index,
                                            service=service, month="2009-05")
        got = dm.propensity.service_target(lazy, index, service=service, month="2009-05")
        pd.testing.assert_series_equal(got, want)
    assert dm.propensity.service_target(lazy, index, service="newspaper", month="2009-05").sum() > 0
    with pytest.raises(SchemaError, match="no_such_service"):
        survival.durations(lazy, month="2009-06", service="no_such_service")
    with pytest.raises(ParameterError, match="columns"):
        survival.service_rows(lazy, "crbt", ["user_id"])
    with pytest.raises(ParameterError, match="subscriptions"):
        survival.durations([1, 2], month="2009-06")
