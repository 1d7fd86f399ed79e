"""Case M on its own planted campaign: the feedback changes the key weights and plans each segment."""
from __future__ import annotations

from tests.notebook_helpers import execute_notebook
from tests.report_checks import assert_reads_as_report


def test_music_campaign(tmp_path):
    f = execute_notebook("music_campaign", tmp_path, province="jiangsu", month="2009-06", n_users=20_000)
    assert_reads_as_report(tmp_path, "music_campaign", province="jiangsu", month="2009-06")
    assert f["segments"] == ["activation", "familiar", "inclined", "loyal"]
    plan = dict(zip(f["segments"], zip(f["plan_items"], f["plan_channel"], f["plan_slot"], strict=True), strict=True))
    assert plan["loyal"][0] >= 3 and plan["activation"] == (1, "ivr", "morning")   # the planted best cells
    assert f["plans_equal_planted"] >= 2 and set(f["plan_content"]) == {"genre"}
    assert f["weight_change_max"] > 0.4                        # the feedback moved the weights off 0
    assert f["weights_within_2se"] >= 0.8                      # and towards the planted ones
