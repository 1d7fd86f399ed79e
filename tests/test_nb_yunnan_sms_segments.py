"""The Y5 segmentation notebook recovers the planted low / normal / high SMS groups."""
from __future__ import annotations

from tests.notebook_helpers import execute_notebook
from tests.report_checks import assert_reads_as_report


def test_yunnan_sms_segments(tmp_path):
    f = execute_notebook("yunnan_sms_segments", tmp_path, province="yunnan", month="2008-06", n_users=5000)
    assert_reads_as_report(tmp_path, "yunnan_sms_segments", province="yunnan", month="2008-06")
    assert f["k"] == 3 and f["n_customers"] == 5000
    assert f["ari_vs_planted"] >= 0.8
    # the simulator plants Y5's groups with shares 23.8% / 42.8% / 33.4% (V's SMS rows)
    assert abs(f["share_low"] - 0.238) < 0.03
    assert abs(f["share_normal"] - 0.428) < 0.03
    assert abs(f["share_high"] - 0.334) < 0.03
    assert f["low_median_contacts"] < 5  # Y5: low users text fewer than 5 people
    assert f["high_median_sms"] > 200
