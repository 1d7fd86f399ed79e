"""dmkit.planning (cases G1, G2): effective revenue by rules, KPI difficulty, the bottom-up build."""
from __future__ import annotations

import numpy as np
import pandas as pd
import pytest
from scipy.stats import norm

import dmkit as dm
from dmkit import planning, published
from dmkit.errors import ParameterError, SchemaError


@pytest.fixture(scope="module")
def guangdong():
    return dm.synth.generate("guangdong", "2009-06", 3000, 7)


G1 = {"operating": 121.9, "new_business": 39.3, "data_vas": 31.9, "promo": 4.51, "promo_effective": 0.97}


# ----------------------------------------------------------------------------- G1

@pytest.mark.parametrize("crbt", [0.0, 0.5, 1.0, 0.97 / 0.7])
def test_g1_shares_from_the_decks_lines_whatever_the_split(crbt):
    e = planning.effective_revenue(published.g1_lines(), split={"promo_crbt_trial": crbt})
    s = e.shares
    # deck: discount rate 14.1 % (new business 11.5 %), effective shares 29.3 % and 22.5 %
    assert round(s["discount_rate"], 3) == 0.141
    assert round(s["new_business_discount_rate"], 3) == 0.115
    assert round(s["effective_new_business_share"], 3) == 0.293
    assert round(s["effective_data_vas_share"], 3) == 0.225
    # the two rules together give the printed effective part, 0.97
    assert e.lines["effective"].sum() == pytest.approx(0.97)
    assert e.lines.at["promo_crbt_trial", "effective"] == pytest.approx(0.7 * crbt)


def test_g1_rules_on_hand_made_lines():
    a = {**G1, "promo": 5.0, "promo_crbt_trial": 2.0, "promo_gprs_trial": 3.0, "gprs_trial_new_tariff": 0.5}
    e = planning.effective_revenue(a)
    assert e.lines["effective"].tolist() == pytest.approx([1.4, 0.5])
    # effective new business = 39.3 - 5.0 + 1.9 over 121.9
    assert e.shares["effective_new_business_share"] == pytest.approx((39.3 - 5.0 + 1.9) / 121.9)
    assert e.shares["new_business_discount_rate"] == pytest.approx(5.0 / 39.3)
    # traffic at the new tariffs worth more than the package: capped at the package
    capped = planning.effective_revenue({**a, "gprs_trial_new_tariff": 9.0})
    assert capped.lines.at["promo_gprs_trial", "effective"] == pytest.approx(3.0)


def test_g1_errors():
    with pytest.raises(ParameterError, match=r"split\['promo_crbt_trial'\]"):
        planning.effective_revenue(G1, split={"promo_crbt_trial": 2.0})       # > 0.97 / 0.7
    with pytest.raises(SchemaError, match="promo_gprs_trial"):
        planning.effective_revenue({**G1, "promo_crbt_trial": 1.0})
    with pytest.raises(SchemaError, match="gprs_trial_new_tariff"):
        planning.effective_revenue({**G1, "promo_crbt_trial": 1.0, "promo_gprs_trial": 3.5})


def test_g1_rules_on_the_simulators_table(guangdong):
    one = planning.effective_revenue(guangdong.revenue, rules=planning.G1_RULES.loc[["promo_crbt_trial"]], year=2008)
    base = dm.forecast.effective_revenue(guangdong.revenue, year=2008)
    assert one.shares["effective_new_business_share"] == pytest.approx(base.shares["effective_new_business_share"])
    assert abs(one.shares["new_business_discount_rate"] - 0.115) < 0.005


# ----------------------------------------------------------------------------- KPI difficulty

def test_reach_probability_one_month_by_hand():
    f = pd.DataFrame({"forecast": [100.0], "lower": [80.0], "upper": [125.0]})
    sigma = np.log(125 / 80) / (2 * norm.ppf(0.975))
    assert planning.reach_probability(f, 110, level=0.95) == pytest.approx(norm.sf(np.log(1.1) / sigma))
    assert planning.reach_probability(f, 100, level=0.95) == pytest.approx(0.5)
    # twelve identical months, fully dependent: the year's sum reaches 12 x 110 as one month reaches 110
    f12 = pd.concat([f] * 12, ignore_index=True)
    assert planning.reach_probability(f12, 12 * 110, level=0.95, aggregate="sum") == pytest.approx(
        norm.sf(np.log(1.1) / sigma))
    with pytest.raises(ParameterError, match="aggregate"):
        planning.reach_probability(f, 110, level=0.95, aggregate="max")


def _planted_kpi(seed=3, growth=0.02, sd=0.02):
    rng = np.random.default_rng(seed)
    months = pd.period_range("2006-01", "2008-12", freq="M").astype(str)
    t = np.arange(len(months))
    y = 1000 * np.exp(growth * t + sd * rng.standard_normal(len(t)))
    # the planted 2009 mean: months 36..47 of the same law (median of the year's mean)
    expected_2009 = 1000 * np.exp(growth * np.arange(36, 48)).mean()
    return pd.DataFrame({"kpi_a": y}, index=months), float(y[-12:].mean()), expected_2009


def test_kpi_plan_recovers_the_planted_reach_probabilities():
    series, actual_2008, expected = _planted_kpi()
    rows = []
    for name, target in (("easy", 0.8 * expected), ("even", expected), ("hard", 1.3 * expected)):
        rows.append((name, "kpi_a", "mean", actual_2008, target))
    targets = pd.DataFrame(rows, columns=["kpi", "series", "aggregate", "actual_2008", "target_2009"]).set_index("kpi")
    plan = planning.kpi_plan(series, targets, scale=False)
    p = plan.table["p_reach"]
    assert p["easy"] > 0.95 and p["hard"] < 0.05
    assert 0.25 < p["even"] < 0.75              # the target at the planted median of the year: about even
    assert plan.table.at["easy", "difficulty"] == "reachable" and plan.table.at["hard", "difficulty"] == "at risk"
    assert plan.table.at["even", "growth_needed"] == pytest.approx(expected / actual_2008 - 1)
    # scaled targets keep the printed ratio
    scaled = planning.kpi_plan(series, targets.assign(actual_2008=1.0, target_2009=1.25))
    assert scaled.table["target"].iloc[0] == pytest.approx(1.25 * actual_2008)


def test_kpi_plan_notes_what_it_cannot_compute():
    series, _, _ = _planted_kpi()
    series["young"] = 0.0
    series.loc[series.index >= "2008-06", "young"] = 5.0
    targets = pd.DataFrame({"series": ["young", None], "aggregate": ["mean", "mean"],
                            "actual_2008": [1.0, 2.0], "target_2009": [2.0, 3.0]}, index=["a", "b"])
    t = planning.kpi_plan(series, targets).table
    assert np.isnan(t.at["a", "p_reach"]) and "7 positive months" in t.at["a", "note"]
    assert t.at["b", "difficulty"] == "no series"
    with pytest.raises(SchemaError, match="column 'nope'"):
        planning.kpi_plan(series, targets.assign(series=["nope", None]))


def test_g2_kpi_table_on_the_simulator(guangdong):
    users = dm.lifecycle.active_users(guangdong.subscriptions, month="2008-12", n_months=36)
    t = planning.kpi_plan(users).table
    assert list(t.index) == list(planning.G2_KPIS.index)
    done = t.dropna(subset=["p_reach"])
    assert len(done) >= 5 and done["p_reach"].between(0, 1).all()
    # the newspaper target is below its 2008 actual (76 -> 71.8): reachable on a growing service
    assert t.at["newspaper_paying", "growth_needed"] < 0 and t.at["newspaper_paying", "p_reach"] > 0.8
    assert t.at["queries_12580", "difficulty"] == "no series"


# ----------------------------------------------------------------------------- bottom-up build

def test_published_build_sums_to_the_decks_target():
    b = planning.published_build()["amount"]
    assert b["bottom-up total"] == pytest.approx(29.42)
    assert b["gap"] == pytest.approx(29.42 - 30.4) and b["gap without promotions"] == pytest.approx(29.42 - 29.6)


def test_bottom_up_recovers_the_planted_2009_parts(guangdong):
    b = planning.bottom_up(guangdong.revenue, year=2009)
    parts = guangdong.truth.revenue["parts"]
    a = b.build["amount"]
    # monthly fees forecast apart, their holidays added back: the planted 2009 total
    fee_fc = b.forecasts["vas_monthly_fee"].forecast["forecast"].sum()
    assert a["monthly-fee services"] < fee_fc
    assert fee_fc == pytest.approx(parts["vas_monthly_fee"]["expected_total_2009"], rel=0.03)
    # GPRS after the tariff cut: 2008 x 1.085, the planted 2009 total (the trend forecast overshoots)
    gprs = b.forecasts["vas_gprs"].forecast["forecast"].sum() + a["GPRS tariff cut"]
    assert gprs == pytest.approx(parts["vas_gprs"]["expected_total_2009"], rel=0.03)
    assert a["GPRS tariff cut"] < 0
    drop = parts["vas_mailbox"]["expected_total_2009"] - parts["vas_mailbox"]["total_2008"]
    assert a["free mailbox"] == pytest.approx(drop, rel=0.1)
    assert b.bottom_up_total == pytest.approx(a.sum())
    assert b.gap == pytest.approx(b.bottom_up_total - b.top_down)
    assert b.top_down_without_promo < b.top_down
    assert b.relative_gap == pytest.approx(b.gap / b.top_down)


def test_bottom_up_needs_the_base_year(guangdong):
    early = guangdong.revenue[guangdong.revenue["month"].astype(str) <= "2008-10"]
    with pytest.raises(SchemaError, match="observed up to 2008-12"):
        planning.bottom_up(early, year=2009)
    with pytest.raises(SchemaError, match="'vas_cable'"):
        planning.bottom_up(guangdong.revenue, usage="vas_cable")
