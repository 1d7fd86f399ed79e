"""notebooks/yunnan_health.ipynb (case Y1): factor-analysis health index, ranks, short plank."""
from __future__ import annotations

from tests.notebook_helpers import execute_notebook
from tests.report_checks import assert_reads_as_report


def test_yunnan_health(tmp_path):
    f = execute_notebook("yunnan_health", tmp_path, province="yunnan", month="2008-06", n_users=5000)
    assert_reads_as_report(tmp_path, "yunnan_health", province="yunnan", month="2008-06")
    assert f["kmo"] > 0.6 and f["bartlett_p"] < 1e-6        # adequate for a factor analysis
    assert f["n_factors"] == f["n_factors_parallel"] == 3    # the simulator plants three factors
    assert f["congruence_min"] >= 0.95                        # planted loadings recovered
    assert f["index_vs_planted_spearman"] > 0.85             # index tracks the planted health
    assert f["n_regions"] == 16 and f["n_units"] == 16 * 35 * 6
    assert f["index_min"] == 0 and f["index_max"] == 100
    assert f["worst_region_gap"] < 0                          # the last-ranked region is below its peers
