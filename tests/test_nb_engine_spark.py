"""``engine: spark`` runs the case-study notebooks end to end and records the pandas run's figures.

yunnan_securities mines its association rules through ``ops.rules.mine``
(``dm.spark.engine.dispatch(engine)``): on Spark the distinct baskets are counted in Spark
SQL, so every rule figure must be identical to the pandas run's; the other figures
(baskets, time-ordered rules) do not depend on the engine. The Spark session lives in the
notebook's kernel and ends with it.
"""
from __future__ import annotations

import shutil

import nbformat
import pytest

from tests.notebook_helpers import execute_notebook

pytestmark = [pytest.mark.spark, pytest.mark.slow]

#: Figures computed from the RuleSet that ops.rules.mine returns.
RULE_FIGURES = ("distinct_baskets", "n_itemsets", "n_rules", "max_lift", "target_rules",
                "target_top_lift", "potential_users")


def _spark_ready():
    pytest.importorskip("pyspark")
    if shutil.which("java") is None:
        pytest.skip("no Java on PATH: Spark tests need a JDK 17+")


def _on_both_engines(name: str, tmp_path, **parameters) -> tuple[dict, dict]:
    """The figures ``name`` records on pandas, then on Spark (each run in its own folder)."""
    _spark_ready()
    runs = {}
    for engine in ("pandas", "spark"):
        (tmp_path / engine).mkdir()
        runs[engine] = execute_notebook(name, tmp_path / engine, engine=engine, **parameters)
    return runs["pandas"], runs["spark"]


def test_yunnan_securities_on_spark_records_the_pandas_figures(tmp_path):
    pandas, spark = _on_both_engines("yunnan_securities", tmp_path, province="yunnan",
                                     month="2009-06", n_users=5000)
    executed = nbformat.read(tmp_path / "spark" / "yunnan_securities.ipynb", as_version=4)
    source = "\n".join(c.source for c in executed.cells if c.cell_type == "code")
    assert 'engine = "spark"' in source and "ops.rules.mine(" in source  # the Spark path was taken

    assert pandas["n_rules"] > 0  # not a vacuous comparison
    assert {k: spark[k] for k in RULE_FIGURES} == {k: pandas[k] for k in RULE_FIGURES}
    # the rest does not depend on the engine (the second run reads the simulator's cache,
    # whose planted rates may differ from the in-memory ones in the last digits)
    assert spark.keys() == pandas.keys()
    numeric = [k for k, v in pandas.items() if isinstance(v, float)]
    assert {k: v for k, v in spark.items() if k not in numeric} == \
        {k: v for k, v in pandas.items() if k not in numeric}
    assert {k: spark[k] for k in numeric} == pytest.approx({k: pandas[k] for k in numeric}, rel=1e-6)


def test_yunnan_sms_segments_on_spark_recovers_the_planted_groups(tmp_path):
    # 20k users, seed 7: data on which a single k-means|| start lands in a poor optimum
    _spark_ready()
    f = execute_notebook("yunnan_sms_segments", tmp_path, province="yunnan", month="2008-06",
                         n_users=20_000, seed=7, engine="spark")
    assert f["k"] == 3 and f["ari_vs_planted"] >= 0.95
    # the planted shares of Y5's groups: 23.8% / 42.8% / 33.4%
    assert abs(f["share_low"] - 0.238) < 0.02
    assert abs(f["share_normal"] - 0.428) < 0.02
    assert abs(f["share_high"] - 0.334) < 0.02


def test_jiangsu_campaign_on_spark_records_the_pandas_funnel(tmp_path):
    pandas, spark = _on_both_engines("jiangsu_campaign", tmp_path, province="jiangsu",
                                     month="2009-06", n_users=5000)
    assert pandas["delivered"] > 0
    funnel = [k for k in pandas if not isinstance(pandas[k], (float, list))]  # counts, flags
    assert {k: spark[k] for k in funnel} == {k: pandas[k] for k in funnel}
    assert spark["delivery_rate"] == pytest.approx(pandas["delivery_rate"], rel=1e-12)
