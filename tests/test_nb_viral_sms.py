"""The V notebook reproduces the published SMS × spend shares and the SMS/MMS overlap."""
from __future__ import annotations

from tests.notebook_helpers import execute_notebook
from tests.report_checks import assert_reads_as_report

PUBLISHED = {"high-end SMS-indifferent": 0.04, "thrifty average SMS user": 0.098, "high-growth SMS user": 0.29,
             "thrifty heavy SMS user": 0.062, "high-value SMS user": 0.168, "double-high": 0.104}


def test_viral_sms_on_guangdong(tmp_path):
    f = execute_notebook("viral_sms", tmp_path, province="guangdong", month="2008-12", n_users=5000)
    assert_reads_as_report(tmp_path, "viral_sms", province="guangdong", month="2008-12")
    for name, share in PUBLISHED.items():
        assert abs(f[f"share_{name}"] - share) < 0.01, name
    assert f["max_abs_diff_vs_published"] < 0.01
    assert f["source_cell"] == "high-growth SMS user"  # the largest cell, 29%
    assert f["seed_circle_vs_all"] > 1.2  # seeds have wider circles than the average customer
    assert f["heavy_mms_in_sms_target"] > 0.8  # V: the two groups overlap almost entirely
