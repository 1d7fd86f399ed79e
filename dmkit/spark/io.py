"""The data contract on Spark: read tables from Parquet into Spark DataFrames and validate them.

The rules are those of :func:`dmkit.schema.validate` (same :data:`dmkit.schema.COLUMNS`
and :data:`dmkit.schema.KEYS` specs, same :class:`dmkit.errors.SchemaError` wording),
expressed as Spark SQL aggregations so that a table far larger than memory is checked in
two passes (one for dtypes, nulls and ranges, one for duplicate keys) without
collecting it.
"""
from __future__ import annotations

from pathlib import Path

from dmkit.errors import DataNotFoundError, schema_error
from dmkit.schema import COLUMNS, KEYS, MONTH_RE, ColumnSpec, require_columns, schema_for
from dmkit.spark.session import get_session, require_pyspark

__all__ = ["read_table", "validate", "from_pandas", "kind_of"]

_KIND_LABEL = {"int": "an integer dtype", "float": "a numeric dtype", "bool": "a boolean dtype",
               "datetime": "a datetime64 dtype", "str": "a string dtype",
               "month": "strings 'YYYY-MM'"}


def kind_of(data_type) -> str:
    """The contract kind (int, float, bool, datetime, str) of a Spark SQL data type."""
    from pyspark.sql import types as T

    if isinstance(data_type, T.BooleanType):
        return "bool"
    if isinstance(data_type, (T.ByteType, T.ShortType, T.IntegerType, T.LongType)):
        return "int"
    if isinstance(data_type, (T.FloatType, T.DoubleType, T.DecimalType)):
        return "float"
    if isinstance(data_type, (T.TimestampType, T.TimestampNTZType)):
        return "datetime"
    if isinstance(data_type, T.StringType):
        return "str"
    return data_type.simpleString()


def _kind_ok(spec: ColumnSpec, found: str) -> bool:
    if spec.kind == "float":
        return found in ("float", "int")
    if spec.kind == "month":
        return found == "str"
    return found == spec.kind


def _value_checks(spec: ColumnSpec):
    """(label, Spark Column that is True on a failing non-null value) for each range/allowed check."""
    from pyspark.sql import functions as F

    from dmkit.contract.checks import allowed_check

    col = F.col(f"`{spec.name}`")
    checks = []
    if spec.low is not None:
        checks.append((f"values >= {spec.low}", col < F.lit(spec.low)))
    if spec.high is not None:
        checks.append((f"values <= {spec.high}", col > F.lit(spec.high)))
    allowed = allowed_check(spec)  # the active catalog's codes, the pandas wording
    if allowed is not None:
        checks.append((allowed[1], ~col.isin(list(allowed[0]))))
    if spec.kind == "month":
        checks.append(("months as 'YYYY-MM'", ~col.rlike(MONTH_RE.pattern)))
    return checks


def _rows(sdf, condition, keys: list[str]) -> list[dict]:
    """Key values of up to five rows where ``condition`` holds."""
    out = []
    for r in sdf.where(condition).select(*[f"`{k}`" for k in keys]).limit(5).collect():
        out.append({k: r[k] for k in keys})
    return out


def validate(sdf, table: str, *, check_keys: bool = True):
    """Check a Spark DataFrame against the contract of ``table`` and return it unchanged.

    Same rules and wording as :func:`dmkit.schema.validate`: an empty table, a missing
    column, a wrong dtype kind, a null in a non-nullable column, a value out of range or
    not allowed, a duplicate key, or (subscriptions) an end before its start.

    Parameters
    ----------
    sdf : pyspark.sql.DataFrame
        The table. Extra columns are allowed and kept.
    table : str
        One of ``users, usage, subscriptions, kpis, contacts, edges, events, revenue``.
    check_keys : bool, default True
        Also check that the key columns are unique (one extra pass with a shuffle).

    Returns
    -------
    pyspark.sql.DataFrame
        ``sdf`` itself.

    Raises
    ------
    SchemaError
        Naming the table and column, and showing up to five offending row keys.
    """
    require_pyspark()
    from pyspark.sql import DataFrame
    from pyspark.sql import functions as F

    schema_for(table)  # ParameterError for an unknown table, as in pandas
    specs = COLUMNS[table]
    keys = list(KEYS[table])
    if not isinstance(sdf, DataFrame):
        raise schema_error(table=table, column=None, expected="a Spark DataFrame",
                           found=type(sdf).__name__)
    require_columns(table, sdf.columns)
    types = {f.name: f.dataType for f in sdf.schema.fields}

    # one pass: row count, nulls per column, failing values per check
    aggs = [F.count(F.lit(1)).alias("__n")]
    plan: list[tuple[ColumnSpec, str | None, str]] = []  # (spec, check label or None=null, alias)
    for i, s in enumerate(specs):
        if not s.nullable:
            alias = f"__null{i}"
            aggs.append(F.count_if(F.col(f"`{s.name}`").isNull()).alias(alias))
            plan.append((s, None, alias))
    value_plan = []
    for i, s in enumerate(specs):
        if not _kind_ok(s, kind_of(types[s.name])):
            continue
        for j, (label, failing) in enumerate(_value_checks(s)):
            alias = f"__chk{i}_{j}"
            aggs.append(F.count_if(F.coalesce(failing, F.lit(False))).alias(alias))
            value_plan.append((s, label, failing, alias))
    counts = sdf.agg(*aggs).collect()[0].asDict()
    if counts["__n"] == 0:
        raise schema_error(table=table, column=None, expected="at least one row",
                           found="an empty table")
    for s in specs:  # nulls, then dtype kind, column by column (as in pandas)
        for spec, _, alias in plan:
            if spec is s and counts[alias]:
                raise schema_error(table=table, column=s.name, expected="no missing values",
                                   found=f"{counts[alias]} missing",
                                   rows=_rows(sdf, F.col(f"`{s.name}`").isNull(), keys))
        if not _kind_ok(s, kind_of(types[s.name])):
            raise schema_error(table=table, column=s.name, expected=_KIND_LABEL[s.kind],
                               found=f"dtype {types[s.name].simpleString()}")
    for s, label, failing, alias in value_plan:
        n_bad = counts[alias]
        if n_bad:
            sample = [r[0] for r in sdf.where(failing).select(f"`{s.name}`").limit(3).collect()]
            raise schema_error(table=table, column=s.name, expected=label,
                               found=f"{n_bad} failing value(s), e.g. {sample}",
                               rows=_rows(sdf, failing, keys))
    if check_keys:
        key_cols = [f"`{k}`" for k in keys]
        dup = (sdf.groupBy(*key_cols).count().where(F.col("count") > 1))
        stats = dup.agg(F.count(F.lit(1)).alias("k"), F.sum("count").alias("rows")).collect()[0]
        if stats["k"]:
            rows = [{k: r[k] for k in keys} for r in dup.limit(5).collect()]
            raise schema_error(table=table, column=", ".join(keys), expected=f"unique keys {keys}",
                               found=f"{int(stats['rows'])} rows sharing a key", rows=rows,
                               fix="aggregate or deduplicate the extract")
    if table == "subscriptions":
        bad = F.col("end").isNotNull() & (F.col("end") < F.col("start"))
        n_bad = sdf.where(bad).count()
        if n_bad:
            raise schema_error(table=table, column="end", expected="end >= start",
                               found=f"{n_bad} subscriptions ending before they start",
                               rows=_rows(sdf, bad, keys))
    return sdf


def read_table(
    path: str | Path,
    table: str,
    *,
    spark=None,
    province: str | None = None,
    months: list[str] | None = None,
    validate_table: bool = True,
    check_keys: bool = True,
):
    """Read one contract table from Parquet into a Spark DataFrame, validated.

    Parameters
    ----------
    path : str or Path
        A Parquet file or folder, e.g. the ``<root>/<table>`` folder that
        :func:`dmkit.io.write_table` writes (hive-partitioned ``province=.../month=...``),
        or the root itself (``<root>/<table>`` is then used if it exists). Any URL Spark
        reads (``hdfs://``, ``s3a://``) works too.
    table : str
        Contract table name.
    spark : SparkSession, optional
        Defaults to :func:`dmkit.spark.get_session`.
    province, months : optional
        Keep only these partitions (pushed down to the Parquet scan).
    validate_table : bool, default True
        Run :func:`validate` on what was read.
    check_keys : bool, default True
        Passed to :func:`validate`.

    Returns
    -------
    pyspark.sql.DataFrame
        The table's columns (partition columns as strings, e.g. ``month='2009-06'``).

    Raises
    ------
    DataNotFoundError
        No such local path.
    SchemaError
        The table breaks the contract.
    """
    from pyspark.sql import functions as F

    schema_for(table)
    spark = spark or get_session()
    p = str(path)
    if "://" not in p:
        local = Path(p)
        if (local / table).exists():
            local = local / table
        if not local.exists():
            raise DataNotFoundError(f"table {table!r}: no Parquet data at {str(local)!r}. "
                                    "Fix: write it with dmkit.io.write_table or check the path")
        p = str(local)
    reader = spark.read.option("recursiveFileLookup", "false")
    # partition values such as month=2009-06 stay strings (no date/int guessing)
    prev = spark.conf.get("spark.sql.sources.partitionColumnTypeInference.enabled", "true")
    spark.conf.set("spark.sql.sources.partitionColumnTypeInference.enabled", "false")
    try:
        sdf = reader.parquet(p)
    finally:
        spark.conf.set("spark.sql.sources.partitionColumnTypeInference.enabled", prev)
    types = {f.name: kind_of(f.dataType) for f in sdf.schema.fields}
    for spec in COLUMNS[table]:  # TIMESTAMP(NANOS) read as nanoseconds since the epoch
        if spec.kind == "datetime" and types.get(spec.name) == "int":
            sdf = sdf.withColumn(spec.name, F.timestamp_micros(F.floor(F.col(f"`{spec.name}`") / 1000)))
    if province is not None and "province" in sdf.columns:
        sdf = sdf.where(F.col("province") == province)
    if months is not None and "month" in sdf.columns:
        sdf = sdf.where(F.col("month").isin(list(months)))
    if validate_table:
        validate(sdf, table, check_keys=check_keys)
    return sdf


def from_pandas(df, *, spark=None):
    """A pandas DataFrame as a Spark DataFrame (through Arrow).

    Categoricals become strings and timestamps are truncated to microseconds (Spark's
    precision), so Arrow takes the fast path.
    """
    import pandas as pd

    spark = spark or get_session()
    df = df.copy(deep=False)
    for c in df.columns:
        if isinstance(df[c].dtype, pd.CategoricalDtype):
            df[c] = df[c].astype(object)
        elif pd.api.types.is_string_dtype(df[c]) and df[c].dtype != object:
            df[c] = df[c].astype(object)
        elif pd.api.types.is_datetime64_dtype(df[c]) and df[c].dtype != "datetime64[us]":
            # Spark keeps microseconds; Arrow refuses to drop nanoseconds silently
            df[c] = df[c].astype("datetime64[us]")
    return spark.createDataFrame(df)
