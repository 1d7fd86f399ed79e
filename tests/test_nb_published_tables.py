"""The published-tables notebook: J3's rates from its own daily tables, the deck's slips, G1, G4 and Y5."""
from __future__ import annotations

import pytest

from tests.notebook_helpers import execute_notebook
from tests.report_checks import assert_reads_as_report


def test_published_tables(tmp_path):
    f = execute_notebook("published_tables", tmp_path, province="yunnan", month="2008-09", n_users=3000)
    assert_reads_as_report(tmp_path, "published_tables", province="yunnan", month="2008-09")
    # J3 from its two daily tables: 1.79 % / 1.49 % / 81.3 %, and 31,660 = 1.68 % of the step-2 targets
    assert round(f["j3_response_rate_from_table"], 4) == 0.0179
    assert round(f["j3_subscription_rate_from_table"], 4) == 0.0149
    assert round(f["j3_retention_from_table"], 3) == 0.813
    assert f["j3_step2_subscribed_from_table"] == 31_660 and round(f["j3_step2_rate_from_table"], 4) == 0.0168
    assert f["j3_contacts_rows"] == 4_710_081 + 1_887_352
    # the deck's own slips: kept 23,267 (printed 23,270), unsubscribed 5,355 (stated 5,352)
    assert (f["j3_kept_from_table"], f["j3_unsubscribed_from_table"]) == (23_267, 5_355)
    assert "kept cumulative 2009-06-10" in f["j3_deck_slips"] and "unsubscribed total" in f["j3_deck_slips"]
    assert round(f["g1_discount_rate"], 3) == 0.141 and round(f["g1_new_business_discount_rate"], 3) == 0.115
    assert dict(zip(f["g4_campaigns"], f["g4_rates"], strict=True))["game_together_halls"] == pytest.approx(35 / 126)
    assert 0 <= f["y5_silent_sms_penetration"] <= 1
