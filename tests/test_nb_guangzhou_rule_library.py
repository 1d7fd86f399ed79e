"""notebooks/guangzhou_rule_library.ipynb (case G3): the customer–service–channel rule library."""
from __future__ import annotations

from tests.notebook_helpers import execute_notebook


def test_guangzhou_rule_library_offers_and_hit_rate(tmp_path):
    fig = execute_notebook("guangzhou_rule_library", tmp_path, province="guangdong", month="2009-06",
                           n_users=5000)
    assert fig["n_customers"] == 5000 and fig["n_rules"] == 5
    assert 0 < fig["coverage_rate"] < 1 and fig["offers"] > 0
    assert 1 <= fig["max_offers_per_customer"] <= 3
    # gates hold: no Fetion client offer without a capable terminal, no offer of a held service
    assert fig["client_offers_without_terminal"] == 0
    assert fig["offers_to_holders"] == 0
    # the offers find next month's takers more often than chance (planted propensity and Fetion → client)
    assert fig["fetion_model_auc"] > 0.6
    assert fig["hit_rate_all"] > fig["base_rate_all"]
    assert fig["lift_all"] > 1.5
