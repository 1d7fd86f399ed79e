"""The G4 life-circle notebook: tags right about as often as the deck says, the hall campaign near 27.8%,
and the deck's concert offers above the 3-5% baseline from its own counts."""
from __future__ import annotations

import pytest

from tests.notebook_helpers import execute_notebook
from tests.report_checks import assert_reads_as_report


def test_guangzhou_life_circle_on_guangdong(tmp_path):
    f = execute_notebook("guangzhou_life_circle", tmp_path, province="guangdong", month="2008-11", n_users=4000)
    assert_reads_as_report(tmp_path, "guangzhou_life_circle", province="guangdong", month="2008-11")
    assert 0.7 < f["tag_accuracy"] <= 1.0                     # the deck: 70-80% of the data right
    assert f["tag_accuracy_home"] > f["signal_accuracy"]      # pooled sightings beat a single one
    assert 0.6 < f["tag_accuracy_music"] <= 1.0
    assert f["n_key_halls"] == 56
    assert f["hall_campaign_ci_low"] < 0.30 and f["hall_campaign_ci_high"] > 0.2   # planted 30% at the true hall
    assert f["deck_hall_campaign_rate"] == pytest.approx(35_000 / 126_000)
    assert f["deck_offer_rates"] == pytest.approx([5921 / 24918, 308 / 1775, 289 / 1497, 1611 / 6341])
    assert f["deck_offers_all_beat_baseline"] and f["deck_offer_min_times_baseline"] > 3
    assert f["sim_offer_rate"] > 0.05
