"""notebooks/guangzhou_rule_library.ipynb (case G3 2.0): the customer–service–channel plan as an optimisation."""
from __future__ import annotations

from tests.notebook_helpers import execute_notebook
from tests.report_checks import assert_reads_as_report


def test_guangzhou_rule_library_optimised_beside_greedy(tmp_path):
    fig = execute_notebook("guangzhou_rule_library", tmp_path, province="guangdong", month="2009-06",
                           n_users=5000)
    assert_reads_as_report(tmp_path, "guangzhou_rule_library", province="guangdong", month="2009-06")
    # the library: four layers, all 35 services, 27 segments in the 3 brands
    assert fig["n_customers"] == 5000 and fig["n_layers"] == 4
    assert fig["n_services_in_library"] == 35 and fig["n_segment_rules"] == 27
    assert fig["n_candidates"] > 5000 and fig["n_channels"] >= 5
    assert fig["n_conflict_rules"] == 121 and fig["n_min_sales"] >= 1
    # the optimised plan meets every constraint, is proved near-optimal and beats greedy on value
    assert fig["optimised_feasible"]
    assert 0 <= fig["optimised_gap"] < 1e-3
    assert fig["optimised_value"] >= fig["greedy_value"] - 1e-6
    assert fig["optimised_value"] <= fig["optimised_bound"] + 1e-6
    assert 1 <= fig["max_offers_per_customer"] <= 3
    # both plans pick customers who take the offered service more often than chance, even without a campaign
    assert fig["optimised_organic_hit_rate"] > fig["base_rate_all"]
    assert fig["greedy_organic_hit_rate"] > fig["base_rate_all"]
    # sent on the simulator, the contacts sell more than the organic take-up, and the realised take-ups are
    # the simulator's planted expectation within 4 sd (Poisson-binomial, sd <= sqrt(mean))
    for plan in ("optimised", "greedy"):
        assert fig[f"{plan}_hit_rate"] > fig[f"{plan}_organic_hit_rate"]
        mean = fig[f"{plan}_planted_take_ups"]
        assert abs(fig[f"{plan}_hits"] - mean) < 4 * mean ** 0.5 + 1
