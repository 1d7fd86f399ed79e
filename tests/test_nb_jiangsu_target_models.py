"""notebooks/jiangsu_target_models.ipynb (cases J1, J2, G3): target-user rules, scoring, churn warning."""
from __future__ import annotations

import pytest

from tests.notebook_helpers import execute_notebook
from tests.report_checks import assert_reads_as_report


def _close(found, planted, rel):
    return abs(found - planted) <= max(0.5, rel * abs(planted))


def _check(fig):
    # J2's rules come back as the planted splits: small counts exactly (split at .5); large counts
    # and amounts split between the nearest observed values, within a few percent at 5,000 users
    assert fig["newspaper_call_days"] == 28.5
    assert fig["newspaper_monternet_sms"] == 2.5
    assert fig["mail_notify_recharges"] == 1.5
    assert _close(fig["mail_notify_local_incoming_calls"], 74.5, 0.04)
    assert _close(fig["mail_notify_sms_fee"], 9.925, 0.10)
    for s in ("newspaper", "mail_notify"):
        assert fig[f"{s}_rule_lift"] > 3
        assert fig[f"{s}_rule_precision"] > 3 * fig[f"{s}_takeup"]
    # J1: precise or large — the top 5% is several times the take-up but reaches only part of the users
    assert fig["precision_at_5pct"] > 2 * fig["newspaper_takeup"]
    assert fig["recall_at_5pct"] < 0.6
    assert fig["auc"] > 0.65
    assert fig["churn_auc"] > 0.55


def test_jiangsu_target_models(tmp_path):
    fig = execute_notebook("jiangsu_target_models", tmp_path, province="jiangsu", month="2009-06", n_users=5000)
    assert fig["n_users"] == 5000
    _check(fig)


@pytest.mark.slow
def test_jiangsu_target_models_other_province(tmp_path):
    fig = execute_notebook("jiangsu_target_models", tmp_path, province="guangdong", month="2009-06", n_users=5000)
    assert_reads_as_report(tmp_path, "jiangsu_target_models", province="guangdong", month="2009-06")
    _check(fig)
