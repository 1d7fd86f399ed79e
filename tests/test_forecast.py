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


# --------------------------------------------------------------------------------------
# Model choice by a rolling-origin backtest; explicit holidays
# --------------------------------------------------------------------------------------


def test_candidates_backtest_matches_an_independent_computation():
    y = planted_series(n=60, seed=3)
    fc = forecast.revenue(y, horizon=6)
    c = fc.candidates
    assert list(c.index) == list(forecast.CANDIDATES)
    # three origins 12 months apart, the last one 12 months before the end
    assert list(c.columns) == ["from_2006-07", "from_2007-07", "from_2008-07", "mape", "chosen"]
    # the seasonal naive errors, by hand
    for col in ("from_2006-07", "from_2007-07", "from_2008-07"):
        start = list(y.index).index(col[5:])
        actual = y.iloc[start:start + 12].to_numpy()
        naive = y.iloc[start - 12:start].to_numpy()
        assert c.loc["seasonal_naive", col] == pytest.approx(np.mean(np.abs(naive / actual - 1)), rel=1e-12)
    # the ETS errors: statsmodels' ExponentialSmoothing on log revenue, fitted directly
    from statsmodels.tsa.holtwinters import ExponentialSmoothing

    train, test = y.iloc[:36], y.iloc[36:48].to_numpy()
    z = np.log(train.to_numpy())
    ets = ExponentialSmoothing(z - z.mean(), trend="add", damped_trend=True, seasonal="add",
                               seasonal_periods=12).fit()
    ref = np.exp(np.asarray(ets.forecast(12)) + z.mean())
    assert c.loc["ets", "from_2007-07"] == pytest.approx(np.mean(np.abs(ref / test - 1)), rel=1e-6)
    # the choice is the lowest mean error, reported
    np.testing.assert_allclose(c["mape"], c[["from_2006-07", "from_2007-07", "from_2008-07"]].mean(axis=1))
    assert fc.model == c["mape"].idxmin() and c.loc[fc.model, "chosen"] and c["chosen"].sum() == 1
    assert fc.selection == "backtest" and fc.mape == pytest.approx(c.loc[fc.model, "from_2008-07"])
    assert fc.mape_naive == pytest.approx(c.loc["seasonal_naive", "from_2008-07"])
    text = str(fc.summary())
    assert "candidates (rolling-origin MAPE)" in text and "rolling-origin backtest over 3 origin(s)" in text
    # .mape is out of sample (the last origin's fit never saw those months) but chose the model
    assert "out of sample, but these months also chose the model: optimistic" in text


def test_a_seasonal_random_walk_chooses_the_seasonal_naive_forecast():
    rng = np.random.default_rng(5)
    months = pd.period_range("2001-01", periods=96, freq="M").astype(str)
    season = rng.normal(0, 0.3, 12)
    logy = np.log(1e6) + np.tile(season, 8)
    for t in range(12, 96):               # y_t = y_{t-12} x noise: nothing but last year's month
        logy[t] = logy[t - 12] + rng.normal(0, 0.02)
    fc = forecast.revenue(pd.Series(np.exp(logy), index=months), horizon=12)
    assert fc.model in ("seasonal_naive", "sarimax")   # the airline model nests it
    assert fc.candidates.loc[fc.model, "mape"] <= fc.candidates.loc["regression", "mape"]


def test_a_named_model_is_used_and_the_candidates_still_reported():
    y = planted_series()
    for m in forecast.CANDIDATES:
        fc = forecast.revenue(y, model=m, horizon=12, calendar="chinese")
        assert fc.model == m and fc.selection == "given" and len(fc.candidates) == 4
        assert "out of sample: a holdout figure" in str(fc.summary())  # the months did not choose it
        f = fc.forecast
        assert np.isfinite(f.to_numpy()).all() and (f["lower"] < f["forecast"]).all()
        assert (f["forecast"] < f["upper"]).all()
        # only the models that take regressors report holiday effects
        assert ("spring_festival" in fc.holiday_effects) == (m in forecast.HOLIDAY_MODELS)
        # a series times a constant: the same choice, the forecast times that constant (the models
        # see log revenue less its mean: the same series but for its last bits, which SARIMAX's
        # optimiser turns into forecasts 8.5e-5 apart under statsmodels 0.15, 1e-9 for ETS)
        g = forecast.revenue(y * 1e-5, model=m, horizon=12, calendar="chinese")
        np.testing.assert_allclose(g.forecast.to_numpy(), f.to_numpy() * 1e-5,
                                   rtol=2e-4 if m == "sarimax" else 1e-7)


def test_ets_interval_matches_a_simulation_of_the_fitted_recursions():
    # the analytic ETS(A,Ad,A) variance against 20 000 paths simulated with the component-form
    # recursions statsmodels' ExponentialSmoothing fits (its own simulate() treats
    # smoothing_trend as the error-correction beta, so it is not used as the reference)
    from statsmodels.tsa.holtwinters import ExponentialSmoothing

    y = planted_series(n=72, noise=0.03, seed=9)
    fc = forecast.revenue(y, model="ets", horizon=24, backtest=0, level=0.9)
    z = np.log(y.to_numpy())
    res = ExponentialSmoothing(z - z.mean(), trend="add", damped_trend=True, seasonal="add",
                               seasonal_periods=12).fit()
    p = res.params
    a, b_star, g, phi = p["smoothing_level"], p["smoothing_trend"], p["smoothing_seasonal"], p["damping_trend"]
    sigma = np.sqrt(res.sse / len(z))
    reps, m = 20_000, 12
    rng = np.random.default_rng(0)
    lvl = np.full(reps, res.level[-1])
    tr = np.full(reps, res.trend[-1])
    seas = [np.full(reps, v) for v in res.season[-m:]]
    paths = []
    for _ in range(24):
        s_old = seas[-m]
        l_pred = lvl + phi * tr
        obs = l_pred + s_old + rng.normal(0, sigma, reps)
        new_l = a * (obs - s_old) + (1 - a) * l_pred
        new_b = b_star * (new_l - lvl) + (1 - b_star) * phi * tr
        seas.append(g * (obs - lvl - phi * tr) + (1 - g) * s_old)
        lvl, tr = new_l, new_b
        paths.append(obs)
    sim_sd = np.asarray(paths).std(axis=1)
    ours_sd = (np.log(fc.forecast["upper"]) - np.log(fc.forecast["forecast"])).to_numpy() / 1.6448536269514722
    np.testing.assert_allclose(ours_sd, sim_sd, rtol=0.03)
    # and the median is statsmodels' point forecast
    np.testing.assert_allclose(np.log(fc.forecast["forecast"]), np.asarray(res.forecast(24)) + z.mean(),
                               rtol=1e-9)


def test_holidays_are_explicit():
    y = planted_series()
    # a plain Series declares no calendar: no holiday regressors
    plain = forecast.revenue(y, horizon=12)
    assert plain.calendar == "none" and plain.holidays == () and plain.holiday_effects.empty
    assert "calendar none: no holiday regressors" in str(plain.summary())
    # declared Chinese, by the parameter or by the Series' attrs: Spring Festival and Mid-Autumn
    declared = y.copy()
    declared.attrs["calendar"] = "chinese"
    for fc in (forecast.revenue(y, calendar="chinese"), forecast.revenue(declared)):
        assert fc.calendar == "chinese" and fc.holidays == forecast.DEFAULT_HOLIDAYS
    # holidays named explicitly are used whatever the calendar
    assert forecast.revenue(y, holidays=["spring_festival"], model="regression").holidays == ("spring_festival",)
    # the data contract's revenue table is a Chinese operator's: its default calendar is Chinese
    table = pd.DataFrame({"month": y.index, "line": "new_business", "amount": y.to_numpy()})
    assert forecast.revenue(table).calendar == "chinese"
    off = forecast.revenue(table, calendar="none")
    assert off.calendar == "none" and off.holidays == ()
    with pytest.raises(ParameterError, match="parameter 'calendar'.*'chinese'"):
        forecast.revenue(y, calendar="lunar")
    with pytest.raises(ParameterError, match="parameter 'origins'"):
        forecast.revenue(y, origins=0)


def test_no_warnings_from_the_models(recwarn):
    import warnings

    with warnings.catch_warnings():
        warnings.simplefilter("error")
        forecast.revenue(planted_series(n=40), horizon=12, calendar="chinese")   # 2-year training windows
        forecast.revenue(planted_series(n=60), model="sarimax", horizon=12, calendar="chinese")
