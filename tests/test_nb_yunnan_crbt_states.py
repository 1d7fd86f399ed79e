"""The Y3 notebook: the combination table places every user, recovers the planted states, moves between months."""
from __future__ import annotations

from tests.notebook_helpers import execute_notebook
from tests.report_checks import assert_reads_as_report


def test_yunnan_crbt_states(tmp_path):
    f = execute_notebook("yunnan_crbt_states", tmp_path, province="yunnan", month="2008-06", n_users=5000)
    assert_reads_as_report(tmp_path, "yunnan_crbt_states", province="yunnan", month="2008-06")
    assert sum(f["state_users"]) == f["n_users_scored"] and f["table_mismatched"] == 0
    assert f["states"] == ["heavy", "light", "silent", "pre_churn", "returned", "churned", "potential",
                           "non_potential"]
    assert f["state_agreement"] >= 0.85                       # planted CRBT states of the holders
    assert f["transition_users"] > 0 and f["heavy_to_pre_churn"] < 0.5
    assert f["stage_crbt"] == "maturity" and f["deck_matrix_cells"] == 16
    assert f["users_with_strategy"] == f["n_users_scored"]
