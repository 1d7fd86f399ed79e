"""The J3 campaign funnel in Spark SQL: the same :class:`dmkit.campaign.FunnelResult` as pandas.

The contact log of a province-wide campaign has one row per contacted user and step
(tens of millions over a season). Spark counts the events per campaign, step and day;
only the small daily and overall tables come back to the driver, where the rates are
added with the pandas path's own formulas.
"""
from __future__ import annotations

from typing import Literal

import numpy as np
import pandas as pd

from dmkit._validation import check_choice
from dmkit.campaign import FUNNEL_EVENTS, FunnelResult, funnel_rates
from dmkit.errors import parameter_error, schema_error
from dmkit.spark.io import from_pandas, validate
from dmkit.spark.session import get_session, require_pyspark

__all__ = ["check_contacts", "funnel"]

_KEYS = ["campaign_id", "step"]


_STAGES = tuple(FUNNEL_EVENTS)


def check_contacts(sdf):
    """Validate a Spark contact log like :func:`dmkit.campaign.check_contacts` (contract, then event order)."""
    from pyspark.sql import functions as F

    validate(sdf, "contacts")
    c = F.col
    checks = (
        ("subscribed_at", c("subscribed_at") < c("sent_at"), "subscribed_at >= sent_at",
         "subscriptions before sends"),
        ("replied_at", c("replied_at") < c("sent_at"), "replied_at >= sent_at", "replies before sends"),
        ("unsubscribed_at", c("unsubscribed_at") < c("subscribed_at"),
         "unsubscribed_at >= subscribed_at", "unsubscriptions before subscriptions"),
        ("unsubscribed_at", c("unsubscribed_at").isNotNull() & c("subscribed_at").isNull(),
         "an unsubscription only after a subscription", "unsubscriptions without a subscription"),
    )
    conds = [F.coalesce(bad, F.lit(False)) for _, bad, _, _ in checks]
    counts = sdf.agg(*[F.count_if(b).alias(f"c{i}") for i, b in enumerate(conds)]).collect()[0]
    for i, (col, _, expected, what) in enumerate(checks):
        if counts[f"c{i}"]:
            rows = [r.asDict() for r in sdf.where(conds[i]).select("campaign_id", "user_id", "step")
                    .limit(5).collect()]
            raise schema_error(table="contacts", column=col, expected=expected,
                               found=f"{counts[f'c{i}']} {what}", rows=rows,
                               fix="check the time zone and the join of the reply log to the send log")
    return sdf


def funnel(
    contacts,
    *,
    campaign_id: str | None = None,
    step: int | None = None,
    by: Literal["event_date", "send_date"] = "event_date",
    as_of: str | pd.Timestamp | None = None,
    spark=None,
) -> FunnelResult:
    """Sent → delivered → replied → valid → subscribed → unsubscribed → kept, counted in Spark SQL.

    Same parameters, rules and result as :func:`dmkit.campaign.funnel` (see there for
    the columns of ``daily`` and ``overall``); ``contacts`` may be a Spark or a pandas
    DataFrame (moved to Spark).

    Returns
    -------
    FunnelResult

    Raises
    ------
    SchemaError
        Contract violations; subscriptions or replies before sends; unsubscriptions
        before subscriptions; only control rows.
    ParameterError
        Unknown ``by``; no rows for ``campaign_id``/``step``.
    """
    require_pyspark()
    from pyspark.sql import functions as F

    if isinstance(contacts, pd.DataFrame):
        contacts = from_pandas(contacts, spark=spark or get_session())
    check_contacts(contacts)
    check_choice(by, "by", ["event_date", "send_date"])
    c = contacts
    if campaign_id is not None:
        c = c.where(F.col("campaign_id") == campaign_id)
    if step is not None:
        c = c.where(F.col("step") == int(step))
    groups = {r["group"]: r["n"] for r in c.groupBy("group").agg(F.count(F.lit(1)).alias("n")).collect()}
    if not groups:
        ids = sorted(r[0] for r in contacts.select("campaign_id").distinct().limit(50).collect())
        raise parameter_error("campaign_id", expected="a campaign (and step) present in contacts",
                              found=(campaign_id, step), fix=f"choose among {ids[:8]}")
    if not groups.get("target"):
        raise schema_error(table="contacts", column="group", expected="rows of the target group",
                           found="only control rows")
    c = c.where(F.col("group") == "target")
    rep, sub, uns = F.col("replied_at"), F.col("subscribed_at"), F.col("unsubscribed_at")
    if as_of is not None:
        t = F.lit(pd.Timestamp(as_of).to_pydatetime()).cast("timestamp")
        rep, sub, uns = [F.when(x <= t, x) for x in (rep, sub, uns)]
    events = {
        "sent": F.col("sent_at"),
        "delivered": F.when(F.col("delivered"), F.col("sent_at")),
        "replied": rep,
        "valid_replies": F.when(F.col("reply_valid"), rep),
        "subscribed": sub,
        "unsubscribed": uns,
    }
    keys = [F.col(k) for k in _KEYS]
    if by == "send_date":
        day = F.date_trunc("DAY", F.col("sent_at")).alias("date")
        daily = (c.where(F.col("sent_at").isNotNull())
                 .groupBy(*keys, day)
                 .agg(*[F.count(ts).alias(name) for name, ts in events.items()])
                 .orderBy(*_KEYS, "date").toPandas())
        daily = _fix_types(daily, with_date=True)
        daily["kept"] = daily["subscribed"] - daily["unsubscribed"]
        daily = funnel_rates(daily)
    else:
        parts = [c.where(ts.isNotNull()).select(*keys, F.date_trunc("DAY", ts).alias("date"),
                                                 F.lit(name).alias("event"))
                 for name, ts in events.items()]
        long = parts[0]
        for p in parts[1:]:
            long = long.unionByName(p)
        daily = (long.groupBy(*_KEYS, "date").pivot("event", list(events)).count()
                 .fillna(0).orderBy(*_KEYS, "date").toPandas())
        daily = _fix_types(daily, with_date=True)
        daily["kept_cumulative"] = (daily["subscribed"] - daily["unsubscribed"]).groupby(
            [daily[k] for k in _KEYS], observed=True).cumsum()
    overall = (c.groupBy(*keys).agg(*[F.count(ts).alias(name) for name, ts in events.items()])
               .orderBy(*_KEYS).toPandas())
    overall = _fix_types(overall, with_date=False)
    overall["kept"] = overall["subscribed"] - overall["unsubscribed"]
    overall = funnel_rates(overall)
    return FunnelResult(daily=daily, overall=overall, by=by)


def _fix_types(df: pd.DataFrame, *, with_date: bool) -> pd.DataFrame:
    """pandas dtypes of the pandas path: int64 counts and step, datetime64[ns] date."""
    df = df.reset_index(drop=True)
    df["step"] = df["step"].astype(np.int64)
    if with_date:
        df["date"] = pd.to_datetime(df["date"]).astype("datetime64[ns]")
    for k in _STAGES:
        df[k] = df[k].astype(np.int64) if k in df else np.int64(0)
    cols = _KEYS + (["date"] if with_date else []) + list(_STAGES)
    return df[cols]
