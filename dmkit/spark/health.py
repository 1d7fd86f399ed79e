"""The health score's KPI aggregation in Spark SQL, then the factor analysis on the driver.

The subscription history of a province is tens of millions of rows; the KPI table it
aggregates to (prefecture × service × month) has a few thousand. :func:`kpis` builds that
table in Spark with the rules of :func:`dmkit.panel.service_kpis` (identical numbers);
:func:`score` collects it and runs :func:`dmkit.health.score` unchanged.
"""
from __future__ import annotations

from collections.abc import Sequence

import pandas as pd

from dmkit.health import HealthResult
from dmkit.health import score as pandas_score
from dmkit.panel import KPI_COLUMNS, kpi_calendar, kpi_rates
from dmkit.spark.io import from_pandas, validate
from dmkit.spark.session import get_session, require_pyspark

__all__ = ["kpis", "score", "KPI_INDICATORS"]

KPI_INDICATORS: tuple[str, ...] = ("penetration", "retention", "growth", "loyalty")
"""The indicators :func:`kpis` derives from subscriptions."""


def kpis(subscriptions, users, *, months: Sequence[str], loyalty_months: int = 6,
         spark=None) -> pd.DataFrame:
    """Per prefecture × service × month KPIs, aggregated in Spark SQL.

    Same definitions, rows and numbers as :func:`dmkit.panel.service_kpis` (see there);
    ``subscriptions`` and ``users`` may be Spark or pandas DataFrames.

    Returns
    -------
    DataFrame (pandas)
        Columns ``region``, ``service``, ``month``, ``users``, ``holders``,
        ``penetration``, ``retention``, ``growth``, ``loyalty``.
    """
    require_pyspark()
    from pyspark.sql import functions as F

    spark = spark or get_session()
    if isinstance(subscriptions, pd.DataFrame):
        subscriptions = from_pandas(subscriptions, spark=spark)
    if isinstance(users, pd.DataFrame):
        users = from_pandas(users, spark=spark)
    validate(subscriptions, "subscriptions", check_keys=False)
    validate(users, "users")
    cal = kpi_calendar(months, loyalty_months=loyalty_months)
    cal_sdf = spark.createDataFrame(cal.astype({"t": "datetime64[us]", "t_loyal": "datetime64[us]"}))
    s = subscriptions.select("user_id", "service", "start", "end")
    held = (s.crossJoin(F.broadcast(cal_sdf))
            .where((F.col("start") < F.col("t")) & (F.col("end").isNull() | (F.col("end") >= F.col("t"))))
            .groupBy("user_id", "service", "month", "prev")
            .agg(F.min("start").alias("first"), F.first("t_loyal").alias("t_loyal"))
            .withColumn("loyal", F.col("first") < F.col("t_loyal")))
    before = held.select("user_id", "service", F.col("month").alias("prev"), F.lit(1).alias("kept"))
    region = users.select("user_id", F.col("prefecture").cast("string").alias("region"))
    cur = (held.join(before, ["user_id", "service", "prev"], "left")
           .join(region, "user_id", "inner"))
    agg = (cur.groupBy("region", "service", "month", "prev")
           .agg(F.count(F.lit(1)).alias("holders"), F.count_if("loyal").alias("loyal"),
                F.count("kept").alias("kept")))
    prev_counts = agg.select("region", "service", F.col("month").alias("prev"),
                             F.col("holders").alias("holders_prev"))
    base = region.groupBy("region").agg(F.count(F.lit(1)).alias("users"))
    out = (agg.join(prev_counts, ["region", "service", "prev"], "inner")
           .where(F.col("month").isin(list(cal["month"].iloc[1:])) & (F.col("holders_prev") > 0))
           .join(base, "region", "inner")
           .toPandas())
    if not len(out):
        return pd.DataFrame({c: pd.Series(dtype=float) for c in KPI_COLUMNS})
    return kpi_rates(out)


def score(subscriptions, users, *, months: Sequence[str], indicators: Sequence[str] = KPI_INDICATORS,
          service: str | Sequence[str] | None = None, n_factors=None, loyalty_months: int = 6,
          spark=None) -> HealthResult:
    """KPIs aggregated in Spark (:func:`kpis`), then :func:`dmkit.health.score` on them.

    Returns
    -------
    HealthResult
        As :func:`dmkit.health.score` with ``by="region"``.
    """
    table = kpis(subscriptions, users, months=months, loyalty_months=loyalty_months, spark=spark)
    return pandas_score(table, indicators=list(indicators), by="region", service=service, n_factors=n_factors)
