"""notebooks/guangzhou_revenue.ipynb (cases G1, G2): effective revenue and the revenue forecast."""
from __future__ import annotations

from tests.notebook_helpers import execute_notebook
from tests.report_checks import assert_reads_as_report


def test_guangzhou_revenue(tmp_path):
    f = execute_notebook("guangzhou_revenue", tmp_path, province="guangdong", month="2009-06", n_users=5000)
    assert_reads_as_report(tmp_path, "guangzhou_revenue", province="guangdong", month="2009-06")
    # G1, Guangzhou 2008: 14.1 %, 29.3 %, 22.5 % (the simulator's 2008 lines are G1's, with noise)
    assert abs(f["discount_rate"] - 0.141) < 0.005
    assert abs(f["effective_new_business_share"] - 0.293) < 0.005
    assert abs(f["effective_data_vas_share"] - 0.225) < 0.005
    # G2: the forecast beats the seasonal naive forecast on the last 12 months, every line
    for line in ("operating", "new_business", "data_vas"):
        assert f[f"mape_{line}"] < f[f"mape_naive_{line}"], line
    # 2009 totals near G2's published forecast (133.6, 43.4, 30.4; 100M yuan)
    assert abs(f["total_2009_new_business"] - 43.4) / 43.4 < 0.1
    assert abs(f["total_2009_operating"] - 133.6) / 133.6 < 0.1
    assert f["interval_ok"] and f["forecast_months"] == 12
