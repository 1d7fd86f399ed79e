"""The V mechanics notebook: seeds found by a test and kept, the coin pool a fifth of the fees, R per cell."""
from __future__ import annotations

import pytest

from tests.notebook_helpers import execute_notebook
from tests.report_checks import assert_reads_as_report


def test_viral_mechanics_on_guangdong(tmp_path):
    f = execute_notebook("viral_mechanics", tmp_path, province="guangdong", month="2008-11", n_users=5000,
                         club_months=4)
    assert_reads_as_report(tmp_path, "viral_mechanics", province="guangdong", month="2008-11")
    assert f["coin_pool_share"] == pytest.approx(0.20)
    assert f["seed_cell"] in {"high-growth SMS user", "high-value SMS user"}   # size x planted keep rate
    assert 0.2 < f["seeds_kept_after_trial"] < 0.7 and f["seeds_kept_last"] <= f["seeds_kept_after_trial"]
    assert 0 < f["viral_reproduction"] < 1                    # every planted cell is subcritical
    assert f["n_forwards"] > 0 and f["max_depth"] >= 1 and f["n_trigger_contacts"] > 0
