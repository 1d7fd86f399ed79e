"""Tests of dmkit.forecast: G1 effective revenue, G2 seasonal forecast with holidays."""
from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

from dmkit import forecast
from dmkit.errors import ParameterError, SchemaError
from dmkit.synth import generate as synth_generate

# --------------------------------------------------------------------------------------
# G1 effective revenue
# --------------------------------------------------------------------------------------


def test_g1_published_figures_from_its_inputs():
    res = forecast.effective_revenue({"operating": 121.9, "new_business": 39.3, "data_vas": 31.9,
                                      "promo": 4.51, "promo_crbt_trial": 0.97 / 0.7})
    s = res.shares
    assert round(s["discount_rate"], 3) == 0.141                   # 4.51 / 31.9
    assert round(s["effective_new_business_share"], 3) == 0.293    # (39.3 - 4.51 + 0.97) / 121.9
    assert round(s["effective_data_vas_share"], 3) == 0.225        # (31.9 - 4.51) / 121.9
    assert res.amounts["promo_kept"] == pytest.approx(0.97)
    assert res.to_frame().loc["discount_rate", "published_g1_2008"] == 0.141
    assert "有效收入" in str(res.summary()) and res.plot() is not None


def test_keep_rates_are_editable():
    base = dict(forecast.G1_2008)
    none_kept = forecast.effective_revenue(base, keep_rates={"promo_crbt_trial": 0.0})
    all_kept = forecast.effective_revenue(base, keep_rates={"promo_crbt_trial": 1.0})
    assert none_kept.shares["effective_new_business_share"] == pytest.approx((39.3 - 4.51) / 121.9)
    assert all_kept.amounts["promo_kept"] == pytest.approx(0.97 / 0.7)
    # the data VAS share does not depend on what is kept (it is net of all promotions)
    assert none_kept.shares["effective_data_vas_share"] == all_kept.shares["effective_data_vas_share"]


def test_effective_revenue_errors():
    with pytest.raises(SchemaError, match="no line\\(s\\) \\['promo_crbt_trial'\\]"):
        forecast.effective_revenue({"operating": 1.0, "new_business": 0.3, "data_vas": 0.2, "promo": 0.01})
    with pytest.raises(ParameterError, match="keep_rates\\['promo_crbt_trial'\\]"):
        forecast.effective_revenue(forecast.G1_2008, keep_rates={"promo_crbt_trial": 1.5})
    table = pd.DataFrame({"month": ["2009-01", "2009-02"], "line": ["operating", "operating"],
                          "amount": [1.0, 2.0]})
    with pytest.raises(SchemaError, match="complete calendar year"):
        forecast.effective_revenue(table)
    with pytest.raises(SchemaError, match="table 'revenue'"):
        forecast.effective_revenue([1, 2, 3])


# --------------------------------------------------------------------------------------
# G2 forecast on a hand-made series with known trend, seasonality and holidays
# --------------------------------------------------------------------------------------

SHAPE = np.array([0.02, -0.06, 0.01, -0.01, 0.0, -0.01, 0.01, 0.02, 0.0, 0.01, -0.01, 0.02])


def planted_series(n: int = 60, growth: float = 0.10, sf: float = 0.08, noise: float = 0.01, seed: int = 0):
    months = pd.period_range("2004-07", periods=n, freq="M")
    sfm = {pd.Period(d, freq="M") for d in forecast.HOLIDAY_DATES["spring_festival"]}
    t = np.arange(n)
    logy = (np.log(1e8) + np.log1p(growth) / 12 * t + SHAPE[months.month - 1]
            + np.log1p(sf) * np.array([p in sfm for p in months])
            + np.random.default_rng(seed).normal(0, noise, n))
    return pd.Series(np.exp(logy), index=months.astype(str), name="new_business")


def test_forecast_recovers_trend_and_holiday_and_beats_naive():
    y = planted_series()
    fc = forecast.revenue(y, horizon=12, calendar="chinese")   # a plain Series declares its calendar
    assert fc.model == "regression" and fc.selection == "backtest"  # the planted model wins the backtest
    assert fc.params["trend"] == pytest.approx(np.log1p(0.10) / 12, rel=0.1)
    assert fc.holiday_effects["spring_festival"] == pytest.approx(0.08, abs=0.02)
    assert fc.mape < 0.02 < fc.mape_naive
    assert list(fc.forecast.index[:2]) == ["2009-07", "2009-08"] and len(fc.forecast) == 12
    f = fc.forecast
    assert (f["lower"] < f["forecast"]).all() and (f["forecast"] < f["upper"]).all()
    # the interval covers the held-out truth most of the time
    bt = fc.backtest
    assert ((bt["lower"] <= bt["actual"]) & (bt["actual"] <= bt["upper"])).mean() >= 0.75
    # naive = the same month a year earlier
    assert bt["naive"].iloc[0] == y.iloc[-24]


def test_annual_totals_and_plot():
    y = planted_series(n=54)
    fc = forecast.revenue(y, horizon=12)
    a = fc.annual()
    assert a.loc["2005", "actual"] == pytest.approx(y[y.index.str[:4] == "2005"].sum())
    assert a.loc["2008", "months_observed"] == 12 and a.loc["2009", "months_observed"] == 0
    assert a.loc["2009", "total"] == pytest.approx(fc.forecast["forecast"].sum())  # 2009-01..12
    assert fc.plot() is not None
    assert "seasonal naive" in str(fc.summary())


def test_revenue_table_with_line_selector():
    y = planted_series()
    other = y * 3
    table = pd.concat([
        pd.DataFrame({"month": y.index, "line": "new_business", "amount": y.to_numpy()}),
        pd.DataFrame({"month": y.index, "line": "operating", "amount": other.to_numpy()}),
    ], ignore_index=True)
    a = forecast.revenue(table, horizon=6)                 # default line: new_business
    b = forecast.revenue(table, line="operating", horizon=6)
    assert a.line == "new_business" and b.line == "operating"
    assert np.allclose(b.forecast["forecast"] / a.forecast["forecast"], 3.0, rtol=1e-6)
    with pytest.raises(ParameterError, match="parameter 'line'.*'operating'"):
        forecast.revenue(table, line="roaming")


def test_custom_regressors_and_holiday_handling():
    y = planted_series()
    months = list(y.index) + list(pd.period_range("2009-07", periods=12, freq="M").astype(str))
    cut = pd.DataFrame({"gprs_tariff_cut": [1.0 if m >= "2008-07" else 0.0 for m in months]}, index=months)
    fc = forecast.revenue(y * np.where(y.index >= "2008-07", 0.95, 1.0), holidays=cut)
    assert fc.holiday_effects["gprs_tariff_cut"] == pytest.approx(-0.05, abs=0.02)
    with pytest.warns(UserWarning, match="national_day"):
        forecast.revenue(y, holidays=["spring_festival", "national_day"])
    with pytest.raises(ParameterError, match="parameter 'holidays'"):
        forecast.revenue(y, holidays=["dragon_boat"])
    with pytest.raises(ParameterError, match="parameter 'holidays'.*missing"):
        forecast.revenue(y, holidays=cut.iloc[:30])


def test_forecast_input_errors():
    y = planted_series()
    with pytest.raises(SchemaError, match="at least 24 months"):
        forecast.revenue(y.iloc[:20])
    with pytest.raises(SchemaError, match="without gaps.*2005-01"):
        forecast.revenue(y.drop("2005-01"))
    bad = y.copy()
    bad.iloc[5] = 0.0
    with pytest.raises(SchemaError, match="positive"):
        forecast.revenue(bad)
    with pytest.raises(ParameterError, match="parameter 'horizon'"):
        forecast.revenue(y, horizon=0)
    with pytest.raises(ParameterError, match="parameter 'model'"):
        forecast.revenue(y, model="prophet")
    with pytest.warns(UserWarning, match="backtest skipped"):
        fc = forecast.revenue(y.iloc[:30])
    assert np.isnan(fc.mape) and fc.backtest.empty


def test_holiday_calendar_moves_with_the_lunar_year():
    reg = forecast.holiday_regressors(["2008-02", "2009-01", "2009-02", "2009-10", "2008-09"],
                                      ["spring_festival", "lantern", "mid_autumn"])
    assert reg.loc["2008-02"].tolist() == [1.0, 1.0, 0.0]     # SF 7 Feb, Lantern 21 Feb
    assert reg.loc["2009-01"].tolist() == [1.0, 0.0, 0.0]     # SF 26 Jan
    assert reg.loc["2009-02"].tolist() == [0.0, 1.0, 0.0]     # Lantern 9 Feb
    assert reg.loc["2009-10", "mid_autumn"] == 1.0 and reg.loc["2008-09", "mid_autumn"] == 1.0


# --------------------------------------------------------------------------------------
# The simulator's revenue lines
# --------------------------------------------------------------------------------------


@pytest.fixture(scope="module")
def synth_revenue():
    return synth_generate("guangdong", month="2009-06", n_users=5_000, seed=7).revenue


def test_simulator_g1_shares(synth_revenue):
    s = forecast.effective_revenue(synth_revenue, year=2008).shares
    assert s["discount_rate"] == pytest.approx(0.141, abs=0.005)
    assert s["effective_new_business_share"] == pytest.approx(0.293, abs=0.005)
    assert s["effective_data_vas_share"] == pytest.approx(0.225, abs=0.005)


@pytest.mark.parametrize("line", ["new_business", "data_vas", "operating"])
def test_simulator_forecast_beats_seasonal_naive(synth_revenue, line):
    fc = forecast.revenue(synth_revenue, line=line, horizon=12)
    assert fc.mape < 0.5 * fc.mape_naive, (fc.mape, fc.mape_naive)


@pytest.mark.slow
def test_sarimax_model_beats_naive_too(synth_revenue):
    fc = forecast.revenue(synth_revenue, line="new_business", model="sarimax")
    assert fc.mape < fc.mape_naive
    assert np.isfinite(fc.forecast.to_numpy()).all()
