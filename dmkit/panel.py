"""Multi-month panels that do not fit pandas comfortably: DuckDB over partitioned Parquet.

A province's usage over a year is 5–12 million users × 12 months × 17 columns. These
functions never load that panel: DuckDB scans the hive-partitioned Parquet that
:func:`dmkit.io.write_table` writes (``<root>/<table>/province=<p>/month=<YYYY-MM>/``),
reads only the requested columns of the requested month folders (projection and
partition pruning) and hands pandas the aggregated result — one row per user or per
month.

::

    import dmkit as dm
    X = dm.panel.monthly_features("data/extracts", months=["2009-04", "2009-05", "2009-06"],
                                  columns=["arpu", "sms_p2p"], aggs=("mean", "trend", "last"))
    totals = dm.panel.monthly_totals("data/extracts", columns=["arpu", "gprs_kb"])
"""
from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path
from typing import Literal

import numpy as np
import pandas as pd

from dmkit import schema
from dmkit._validation import check_choice, check_scalar
from dmkit.contract.months import check_month
from dmkit.errors import DataNotFoundError, parameter_error

__all__ = ["AGGS", "KPI_COLUMNS", "connect", "scan_sql", "read_panel", "monthly_features", "monthly_totals",
           "kpi_calendar", "kpi_rates", "service_kpis"]

Agg = Literal["mean", "sum", "min", "max", "std", "last", "first", "trend", "months"]
AGGS: tuple[str, ...] = ("mean", "sum", "min", "max", "std", "last", "first", "trend", "months")
"""Per-user aggregations over the months of a panel. ``std`` is the population standard
deviation (ddof 0); ``last``/``first`` the value in the latest/earliest month the user has;
``trend`` the least-squares slope per month (0 for a user seen in one month only);
``months`` the number of months the user has rows in (one column, ``n_months``)."""


def connect(*, threads: int = 2, memory_limit: str = "4GB"):
    """A DuckDB connection with bounded threads and memory (spills to disk past the limit)."""
    import duckdb

    check_scalar(threads, "threads", kind=int, low=1)
    con = duckdb.connect()
    con.execute(f"SET threads = {int(threads)}")
    con.execute(f"SET memory_limit = '{memory_limit}'")
    con.execute("SET preserve_insertion_order = false")
    return con


def _quote(name: str) -> str:
    return '"' + str(name).replace('"', '""') + '"'


def _lit(value: str) -> str:
    return "'" + str(value).replace("'", "''") + "'"


def _table_files(root: str | Path, table: str, *, months: list[str] | None,
                 province: str | None) -> list[str]:
    """Parquet files of ``table`` under ``root``, pruned by the partition folder names."""
    schema.schema_for(table)  # ParameterError for an unknown table
    folder = Path(root) / table
    files = sorted(folder.glob("**/*.parquet")) if folder.is_dir() else []
    if not files:
        raise DataNotFoundError(f"table {table!r}: no Parquet data under {str(folder)!r}. "
                                "Fix: write it with dmkit.io.write_table(df, table, root)")

    def keep(f: Path) -> bool:
        parts = dict(p.split("=", 1) for p in f.relative_to(folder).parts[:-1] if "=" in p)
        if months is not None and "month" in parts and parts["month"] not in months:
            return False
        return not (province is not None and "province" in parts and parts["province"] != province)

    kept = [str(f) for f in files if keep(f)]
    if not kept:
        raise DataNotFoundError(f"table {table!r}: no partition under {str(folder)!r} for "
                                f"months={months}, province={province!r}")
    return kept


def _check_months(months: Sequence[str] | None) -> list[str] | None:
    if months is None:
        return None
    if isinstance(months, str) or not len(months):
        raise parameter_error("months", expected="a non-empty list of 'YYYY-MM'", found=months)
    for m in months:
        check_month(m, "months")
    return sorted(set(months))


def _check_columns(table: str, columns: Sequence[str] | None, *, numeric: bool) -> list[str]:
    specs = {s.name: s for s in schema.COLUMNS[table]}
    keys = set(schema.KEYS[table])
    if columns is None:
        return [n for n, s in specs.items()
                if n not in keys and (not numeric or s.kind in ("int", "float"))]
    if isinstance(columns, str) or not len(columns):
        raise parameter_error("columns", expected=f"a non-empty list of {table} columns", found=columns)
    for c in columns:
        if c not in specs:
            raise parameter_error("columns", expected=f"columns of the {table} table, e.g. {list(specs)[:6]}",
                                  found=c)
        if numeric and specs[c].kind not in ("int", "float"):
            raise parameter_error("columns", expected="numeric columns to aggregate", found=c)
    return list(columns)


def scan_sql(
    root: str | Path,
    table: str,
    *,
    columns: Sequence[str] | None = None,
    months: Sequence[str] | None = None,
    province: str | None = None,
) -> str:
    """The DuckDB SQL that reads ``table`` lazily: selected columns, pruned partitions.

    The ``month`` and ``province`` filters select the hive partition folders, so DuckDB
    opens only the matching files (and filters rows again, for files not partitioned
    that way).
    """
    months = _check_months(months)
    files = _table_files(root, table, months=months, province=province)
    cols = ", ".join(_quote(c) for c in columns) if columns is not None else "*"
    where = []
    if months is not None:
        where.append(f"month IN ({', '.join(_lit(m) for m in months)})")
    if province is not None:
        where.append(f"province = {_lit(province)}")
    sql = (f"SELECT {cols} FROM read_parquet([{', '.join(_lit(f) for f in files)}], hive_partitioning = true, "
           f"hive_types_autocast = false)")
    if where:
        sql += " WHERE " + " AND ".join(where)
    return sql


def read_panel(
    root: str | Path,
    table: str = "usage",
    *,
    columns: Sequence[str] | None = None,
    months: Sequence[str] | None = None,
    province: str | None = None,
    user_ids: Sequence[int] | None = None,
) -> pd.DataFrame:
    """Rows of ``table`` for some months and columns, read without loading the rest.

    Returns
    -------
    DataFrame
        The key columns of the table (e.g. ``user_id``, ``month``) then ``columns``
        (default: all contract columns), sorted by key.
    """
    keys = list(schema.KEYS[table])
    cols = _check_columns(table, columns, numeric=False)
    wanted = keys + [c for c in cols if c not in keys]
    sql = scan_sql(root, table, columns=wanted, months=months, province=province)
    con = connect()
    try:
        if user_ids is not None:
            con.register("dmkit_ids", pd.DataFrame({"user_id": pd.unique(pd.Series(user_ids))}))
            sql = f"SELECT p.* FROM ({sql}) p SEMI JOIN dmkit_ids USING (user_id)"
        sql += " ORDER BY " + ", ".join(_quote(k) for k in keys)
        return con.execute(sql).df()
    finally:
        con.close()


def _agg_sql(col: str, agg: str) -> str:
    q = _quote(col)
    return {
        "mean": f"avg({q})",
        "sum": f"sum({q})",
        "min": f"min({q})",
        "max": f"max({q})",
        "std": f"coalesce(stddev_pop({q}), 0)",
        "last": f"arg_max({q}, month)",
        "first": f"arg_min({q}, month)",
        "trend": f"CASE WHEN var_pop(month_index) FILTER (WHERE {q} IS NOT NULL) > 0 "
                 f"THEN regr_slope({q}, month_index) ELSE 0 END",
    }[agg]


def monthly_features(
    root: str | Path,
    *,
    months: Sequence[str],
    columns: Sequence[str] | None = None,
    aggs: Sequence[Agg] = ("mean",),
    province: str | None = None,
    table: Literal["usage"] = "usage",
) -> pd.DataFrame:
    """Per-user features over several months, aggregated by DuckDB next to the Parquet files.

    Parameters
    ----------
    root : path
        Dataset root written by :func:`dmkit.io.write_table` (``root/usage/...``).
    months : list of 'YYYY-MM'
        The months of the panel; only their partition folders are read.
    columns : list of str, optional
        Numeric usage columns (default: every numeric usage column).
    aggs : sequence of {"mean", "sum", "min", "max", "std", "last", "first", "trend", "months"}
        Aggregations, see :data:`AGGS`. ``trend`` is the slope per month of a least-squares
        line through the user's months (months numbered from the first of ``months``).
    province : str, optional
        Keep this province's partition only.
    table : "usage"
        The panel table.

    Returns
    -------
    DataFrame
        Index ``user_id`` (sorted); columns ``<column>_<agg>`` in the order of ``columns``
        then ``aggs``, plus ``n_months`` when ``"months"`` is asked.

    Raises
    ------
    DataNotFoundError
        No Parquet data for the table under ``root``.
    ParameterError
        Unknown column, aggregation or malformed month.
    """
    check_choice(table, "table", ["usage"])
    months = _check_months(months)
    if months is None:
        raise parameter_error("months", expected="a non-empty list of 'YYYY-MM'", found=months)
    cols = _check_columns(table, columns, numeric=True)
    if isinstance(aggs, str) or not len(aggs):
        raise parameter_error("aggs", expected=f"a non-empty list among {list(AGGS)}", found=aggs)
    for a in aggs:
        check_choice(a, "aggs", AGGS)
    base = scan_sql(root, table, columns=["user_id", "month"] + cols, months=months, province=province)
    first = pd.Period(months[0], "M")
    # month index: months since the first month of the panel (for the trend slope)
    idx = (f"(CAST(substr(month, 1, 4) AS INTEGER) - {first.year}) * 12 "
           f"+ CAST(substr(month, 6, 2) AS INTEGER) - {first.month}")
    selects = []
    for c in cols:
        for a in aggs:
            if a != "months":
                selects.append(f"{_agg_sql(c, a)} AS {_quote(f'{c}_{a}')}")
    if "months" in aggs:
        selects.append("count(DISTINCT month) AS n_months")
    sql = (f"SELECT user_id, {', '.join(selects)} FROM "
           f"(SELECT *, CAST({idx} AS DOUBLE) AS month_index FROM ({base})) "
           f"GROUP BY user_id ORDER BY user_id")
    con = connect()
    try:
        out = con.execute(sql).df()
    finally:
        con.close()
    return out.set_index("user_id")


def monthly_totals(
    root: str | Path,
    *,
    columns: Sequence[str] | None = None,
    months: Sequence[str] | None = None,
    province: str | None = None,
    by: Sequence[str] = (),
    table: str = "usage",
) -> pd.DataFrame:
    """Province-level monthly totals: users, sums and means of ``columns`` per month.

    Parameters
    ----------
    by : sequence of str
        Extra grouping columns of the table besides ``month`` (e.g. a partition column
        ``province``).

    Returns
    -------
    DataFrame
        Columns ``month`` (then ``by``), ``users`` (distinct user ids), ``<column>_sum``
        and ``<column>_mean`` for each column; sorted by month.
    """
    if "month" not in {s.name for s in schema.COLUMNS.get(table, ())}:
        raise parameter_error("table", expected="a table with a month column (usage, kpis, edges)",
                              found=table)
    cols = _check_columns(table, columns, numeric=True)
    by = list(by)
    allowed = {s.name for s in schema.COLUMNS[table]} | {"province"}
    bad = [b for b in by if b not in allowed]
    if bad:
        raise parameter_error("by", expected=f"columns of {table}", found=bad[0])
    need = ["month"] + [b for b in by if b != "month"] + cols
    if table in ("usage", "edges"):
        need = ["user_id"] + need
    base = scan_sql(root, table, columns=need, months=months, province=province)
    keys = ["month"] + [b for b in by if b != "month"]
    users = "count(DISTINCT user_id) AS users" if "user_id" in need else "count(*) AS users"
    aggs = [users] + [f"sum({_quote(c)}) AS {_quote(c + '_sum')}, avg({_quote(c)}) AS {_quote(c + '_mean')}"
                      for c in cols]
    gk = ", ".join(_quote(k) for k in keys)
    sql = f"SELECT {gk}, {', '.join(aggs)} FROM ({base}) GROUP BY {gk} ORDER BY {gk}"
    con = connect()
    try:
        return con.execute(sql).df()
    finally:
        con.close()


# --------------------------------------------------------------------------------------
# Service KPIs from the subscription history (the "kpis" indicators that are derivable)
# --------------------------------------------------------------------------------------
KPI_COLUMNS: tuple[str, ...] = ("region", "service", "month", "users", "holders", "penetration",
                                "retention", "growth", "loyalty")
"""Columns of :func:`service_kpis` (and of :func:`dmkit.spark.health.kpis`)."""


def kpi_calendar(months: Sequence[str], *, loyalty_months: int = 6) -> pd.DataFrame:
    """The instants the KPIs are measured at: one row per month (and the month before the first).

    Columns ``month``, ``prev`` (previous month), ``t`` (start of the next month: a
    subscription is held at the end of ``month`` when ``start < t`` and ``end`` is null or
    ``>= t``), ``t_loyal`` (``t`` moved back ``loyalty_months`` months).
    """
    months = _check_months(months)
    if months is None:
        raise parameter_error("months", expected="a non-empty list of 'YYYY-MM'", found=months)
    check_scalar(loyalty_months, "loyalty_months", kind=int, low=1)
    first = pd.Period(months[0], "M")
    rows = []
    for m in [str(first - 1)] + months:
        p = pd.Period(m, "M")
        rows.append({"month": m, "prev": str(p - 1), "t": (p + 1).start_time,
                     "t_loyal": (p + 1 - loyalty_months).start_time})
    return pd.DataFrame(rows)


def service_kpis(
    subscriptions: pd.DataFrame,
    users: pd.DataFrame,
    *,
    months: Sequence[str],
    loyalty_months: int = 6,
) -> pd.DataFrame:
    """Per prefecture × service × month KPIs computed from ``subscriptions`` and ``users``.

    The derivable indicators of the ``kpis`` table (Y1), at each month's end:

    - ``holders``: distinct users holding the service; ``users``: subscribers of the region;
    - ``penetration`` = holders / users;
    - ``retention`` = holders of the previous month's end still holding it / holders then;
    - ``growth`` = holders / holders of the previous month − 1;
    - ``loyalty`` = holders who have held it since ``loyalty_months`` months before / holders
      (by the earliest start of a subscription active at the month's end).

    Rows where the previous month had no holder are left out (retention and growth are
    undefined there). :func:`dmkit.spark.health.kpis` computes the same table in Spark SQL.

    Parameters
    ----------
    subscriptions, users : DataFrame
        Contract tables (validated).
    months : list of 'YYYY-MM'
    loyalty_months : int, default 6

    Returns
    -------
    DataFrame
        Columns :data:`KPI_COLUMNS`, sorted by region, service, month; ``region`` is the
        users' prefecture.
    """
    schema.validate(subscriptions, "subscriptions", check_keys=False)
    schema.validate(users, "users")
    cal = kpi_calendar(months, loyalty_months=loyalty_months)
    uid = subscriptions["user_id"].to_numpy(np.int64)
    svc = subscriptions["service"].astype(str).to_numpy()
    start = subscriptions["start"].to_numpy()
    end = subscriptions["end"].to_numpy()
    held = []
    for _, r in cal.iterrows():
        t = np.datetime64(r["t"])
        ok = (start < t) & (np.isnat(end) | (end >= t))
        f = pd.DataFrame({"user_id": uid[ok], "service": svc[ok], "start": start[ok]})
        f = f.groupby(["user_id", "service"], sort=False, as_index=False)["start"].min()
        f["loyal"] = f["start"] < np.datetime64(r["t_loyal"])
        f["month"] = r["month"]
        held.append(f.drop(columns="start"))
    held = pd.concat(held, ignore_index=True)
    prev_of = dict(zip(cal["month"], cal["prev"], strict=True))
    prev = held[["user_id", "service", "month"]].rename(columns={"month": "prev"})
    prev["kept"] = 1
    held["prev"] = held["month"].map(prev_of)
    cur = held.merge(prev, on=["user_id", "service", "prev"], how="left")
    cur["kept"] = cur["kept"].notna()
    region = users.set_index("user_id")["prefecture"].astype(str)
    cur["region"] = region.reindex(cur["user_id"].to_numpy()).to_numpy()
    cur = cur[cur["region"].notna()]
    agg = cur.groupby(["region", "service", "month"], sort=True).agg(
        holders=("user_id", "size"), loyal=("loyal", "sum"), kept=("kept", "sum")).reset_index()
    agg["prev"] = agg["month"].map(prev_of)
    before = agg[["region", "service", "month", "holders"]].rename(
        columns={"month": "prev", "holders": "holders_prev"})
    out = agg.merge(before, on=["region", "service", "prev"], how="inner")
    out = out[out["month"].isin(cal["month"].iloc[1:]) & (out["holders_prev"] > 0)]
    base = region.value_counts()
    out["users"] = base.reindex(out["region"].to_numpy()).to_numpy().astype(np.int64)
    return kpi_rates(out)


def kpi_rates(out: pd.DataFrame) -> pd.DataFrame:
    """The KPI ratios from counts: penetration, retention, growth, loyalty (shared by the pandas
    path and :func:`dmkit.spark.health.kpis`, which counts in Spark SQL).

    ``out`` holds region, service, month and the counts holders, loyal, kept, holders_prev,
    users; returns :data:`KPI_COLUMNS`, sorted by region, service, month.
    """
    out = out.copy()
    for c in ("holders", "loyal", "kept", "holders_prev", "users"):
        out[c] = out[c].astype(np.int64)
    out["penetration"] = out["holders"] / out["users"]
    out["retention"] = out["kept"] / out["holders_prev"]
    out["growth"] = out["holders"] / out["holders_prev"] - 1.0
    out["loyalty"] = out["loyal"] / out["holders"]
    out = out.sort_values(["region", "service", "month"], kind="stable").reset_index(drop=True)
    return out[list(KPI_COLUMNS)]
