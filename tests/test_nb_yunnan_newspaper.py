"""notebooks/yunnan_newspaper.ipynb (case Y6): scoring users vs non-users, candidates, editions."""
from __future__ import annotations

from tests.notebook_helpers import execute_notebook
from tests.report_checks import assert_reads_as_report


def test_yunnan_newspaper(tmp_path):
    fig = execute_notebook("yunnan_newspaper", tmp_path, province="yunnan", month="2008-06", n_users=5000)
    assert_reads_as_report(tmp_path, "yunnan_newspaper", province="yunnan", month="2008-06")
    assert fig["n_users"] == 5000
    assert 0 < fig["penetration"] < 0.3
    # the planted propensity has tree thresholds: boosting separates users from non-users, logit less so
    assert fig["auc_hgb"] > 0.65
    assert fig["auc_hgb"] > fig["auc_logit"] - 0.02
    assert fig["top_decile_lift"] > 2
    # the chosen tenth of the candidates is expected to take the paper far more often than a random candidate
    assert fig["n_chosen"] == max(1, int(0.10 * fig["n_candidates"]))
    assert fig["expected_takeup_chosen"] > 2 * fig["expected_takeup_random_candidate"]
    assert set(fig["editions"]) <= {"news", "sports", "travel", "entertainment", "leisure"}
