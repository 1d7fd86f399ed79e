"""notebooks/yunnan_lifecycle.ipynb (cases Y2, Y3): product stages, CRBT states, strategy matrix."""
from __future__ import annotations

from tests.notebook_helpers import execute_notebook
from tests.report_checks import assert_reads_as_report


def test_yunnan_lifecycle(tmp_path):
    f = execute_notebook("yunnan_lifecycle", tmp_path, province="yunnan", month="2008-06", n_users=5000)
    assert_reads_as_report(tmp_path, "yunnan_lifecycle", province="yunnan", month="2008-06")
    # Y2's published stages of its four services
    assert (f["stage_sms_p2p"], f["stage_crbt"], f["stage_newspaper"], f["stage_securities"]) == (
        "maturity", "maturity", "growth", "introduction")
    assert f["stage_agreement"] >= 0.9                        # planted stages of all 35 services
    assert f["state_agreement"] >= 0.85                       # planted CRBT states of the holders
    # the simulator plants 25 / 45 / 20 / 10 % heavy / light / silent / pre-churn holders
    assert abs(f["share_silent"] - 0.20) < 0.05
    assert abs(f["share_heavy"] + f["share_light"] - 0.70) < 0.07
    assert f["users_with_strategy"] == f["n_users_scored"] == f["transition_users"]
