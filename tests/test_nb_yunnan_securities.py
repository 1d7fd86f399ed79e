"""notebooks/yunnan_securities.ipynb (case Y7): association and time-ordered rules."""
from __future__ import annotations

from tests.notebook_helpers import execute_notebook
from tests.report_checks import assert_reads_as_report


def test_yunnan_securities_finds_bundles_and_planted_orders(tmp_path):
    fig = execute_notebook("yunnan_securities", tmp_path, province="yunnan", month="2008-06", n_users=5000)
    assert_reads_as_report(tmp_path, "yunnan_securities", province="yunnan", month="2008-06")
    assert fig["n_users"] == 5000
    # identical baskets repeat: far fewer distinct baskets than subscribers
    assert fig["distinct_baskets"] < 0.8 * fig["n_users"]
    assert fig["n_rules"] > 0 and fig["max_lift"] > 5  # planted bundles give lifts far above 1
    assert 0 < fig["target_penetration"] < 0.05        # securities is an introduction product
    # every planted "A then B" order is found, stronger forward than backward, at about its rate
    assert fig["planted_pairs"] >= 1
    assert fig["planted_pairs_found"] == fig["planted_pairs"]
    assert fig["planted_pairs_forward_stronger"] == fig["planted_pairs"]
    assert fig["planted_confidence_max_abs_error"] < 0.08
    # the target's planted drivers (odds x4 per driver held): every one frequent with the target raises its rate,
    # and the strongest single-service rule into the target is a planted driver
    assert fig["planted_drivers"] == 3
    assert fig["planted_drivers_frequent"] >= 1
    assert fig["planted_drivers_above_one"] == fig["planted_drivers_frequent"]
    assert fig["top_driver_planted"]
    assert fig["target_rules"] > 0 and fig["target_top_lift"] >= fig["target_min_lift"]
    assert fig["potential_users"] > 0
