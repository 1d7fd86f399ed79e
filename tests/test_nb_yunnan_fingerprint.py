"""The Y4 fingerprint notebook finds the planted channel and content rules (on Jiangsu's params)."""
from __future__ import annotations

import re

from tests.notebook_helpers import execute_notebook
from tests.report_checks import assert_reads_as_report


def test_yunnan_fingerprint_on_another_province(tmp_path):
    f = execute_notebook("yunnan_fingerprint", tmp_path, province="jiangsu", month="2009-06", n_users=5000)
    assert_reads_as_report(tmp_path, "yunnan_fingerprint", province="jiangsu", month="2009-06")
    assert f["n_customers"] == 5000
    rules = {r.split(": ", 1)[0]: r.split(": ", 1)[1] for r in f["channel_rules"]}
    assert "holds_music_club" in rules["web"] and "brand == 'mzone'" in rules["web"]
    young = re.search(r"age <= (\d+(?:\.\d+)?)", rules["ivr"])  # planted: age < 20
    assert "holds_secretary" in rules["ivr"] and young and abs(float(young.group(1)) - 19.5) <= 1.5
    assert "holds_wap" in rules["wap"]
    genre = {r.split(": ", 1)[0]: r.split(": ", 1)[1] for r in f["genre_rules"]}
    age = re.search(r"age > (\d+(?:\.\d+)?)", genre["classic"])  # planted: age > 42
    assert age and abs(float(age.group(1)) - 42) <= 1.5, genre["classic"]
    assert "crbt_changes > 2.5" in genre["diy"]
    assert f["best_channel_lift"] > 3
    assert 0.5 < f["median_channel_confidence"] <= 1
    assert 0 < f["share_with_downloads"] < 1
