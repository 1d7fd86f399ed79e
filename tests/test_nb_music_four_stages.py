"""notebooks/music_four_stages.ipynb (case M): segments, feedback and SP monitoring."""
from __future__ import annotations

import pytest

from tests.notebook_helpers import execute_notebook
from tests.report_checks import assert_reads_as_report


def _check(fig):
    shares = [v for k, v in fig.items() if k.startswith("segment_")]
    assert abs(sum(shares) - 1) < 1e-9
    assert fig["segment_loyal"] > 0 and fig["segment_inclined"] > 0
    # every planted offender found, at most one false alarm
    assert fig["sp_planted"] >= 1
    assert fig["sp_found"] == fig["sp_planted"]
    assert fig["sp_false_alarms"] <= 1


def test_music_four_stages(tmp_path):
    fig = execute_notebook("music_four_stages", tmp_path, province="jiangsu", month="2009-06", n_users=5000)
    assert_reads_as_report(tmp_path, "music_four_stages", province="jiangsu", month="2009-06")
    assert fig["n_users"] == 5000
    _check(fig)


@pytest.mark.slow
def test_music_four_stages_other_province(tmp_path):
    _check(execute_notebook("music_four_stages", tmp_path, province="national", month="2009-06", n_users=5000))
