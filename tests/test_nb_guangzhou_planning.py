"""The G1/G2 planning notebook: the deck's shares by both rules, the KPI difficulty and the bottom-up gap."""
from __future__ import annotations

import pytest

from tests.notebook_helpers import execute_notebook
from tests.report_checks import assert_reads_as_report


def test_guangzhou_planning(tmp_path):
    f = execute_notebook("guangzhou_planning", tmp_path, province="guangdong", month="2008-12", n_users=5000)
    assert_reads_as_report(tmp_path, "guangzhou_planning", province="guangdong", month="2008-12")
    assert f["plan_year"] == 2009
    # G1 from the deck's own lines: 14.1 %, 11.5 %, 29.3 %, 22.5 %, 0.97 effective
    assert round(f["g1_discount_rate"], 3) == 0.141 and round(f["g1_new_business_discount_rate"], 3) == 0.115
    assert round(f["g1_effective_new_business_share"], 3) == 0.293
    assert round(f["g1_effective_data_vas_share"], 3) == 0.225
    assert f["g1_effective_promo"] == pytest.approx(0.97)
    assert abs(f["sim_new_business_discount_rate"] - 0.115) < 0.005
    # G2: a probability per KPI with a series; the deck's own build 0.98 under its top-down forecast
    assert 0 <= f["kpi_difficulty"] <= 1 and f["kpis_with_probability"] >= 5
    assert f["deck_bottom_up_gap"] == pytest.approx((29.42 - 30.4) / 30.4)
    # the simulated parts (tariff cut, free mailbox, promotions ending) plan below the trend of data VAS
    assert f["bottom_up_gap"] < 0 and f["bottom_up_total"] < f["top_down"]
