"""notebooks/jiangsu_campaign.ipynb (cases J3, J1 feedback, G4): funnel, uplift, refit, retention."""
from __future__ import annotations

import math

from tests.notebook_helpers import execute_notebook
from tests.report_checks import assert_reads_as_report


def _within(value, expected, n, k=4.0):
    """``value`` is a share of ``n`` trials within k binomial standard errors of ``expected``."""
    return abs(value - expected) <= k * math.sqrt(expected * (1 - expected) / n)


def test_jiangsu_campaign(tmp_path):
    fig = execute_notebook("jiangsu_campaign", tmp_path, province="jiangsu", month="2009-06", n_users=5000)
    assert_reads_as_report(tmp_path, "jiangsu_campaign", province="jiangsu", month="2009-06")
    # J3's funnel, within sampling error of the published rates at this size
    assert _within(fig["delivery_rate"], 1_921_826 / 4_710_081, fig["sent"])
    assert _within(fig["response_rate"], 0.0179, fig["delivered"])
    assert _within(fig["subscription_rate"], 0.0149, fig["delivered"])
    assert fig["valid_reply_rate"] <= 1
    assert fig["kept_cumulative_last"] == fig["kept"]  # the cumulative column ends at the overall kept
    assert fig["n_days"] >= 4  # events on the four send days (6-9 June) and on later reply days
    # uplift's interval brackets the estimate
    assert fig["uplift_low"] <= fig["uplift"]
    # G4's published rates (23.8%, 17.3%, 19.3%, 25.4%) and all above the 3-5% baseline
    for got, pub in zip(fig["g4_rates"], [0.238, 0.1735, 0.193, 0.254], strict=True):
        assert abs(got - pub) < 0.001
    assert fig["g4_all_beat_baseline"]
    # planted CRBT hazard ratios (campaign 1.8, under 25 1.4, M-Zone 1.3, complaints 2.0), 5,000 users
    for cov, hr, tol in (("campaign", 1.8, 0.3), ("age_under_25", 1.4, 0.3), ("brand_mzone", 1.3, 0.3),
                         ("complaints", 2.0, 0.45)):
        assert abs(math.log(fig[f"hr_{cov}"] / hr)) < tol, (cov, fig[f"hr_{cov}"])
    assert fig["hr_campaign_low"] > 1
    assert fig["logrank_p"] < 0.01

