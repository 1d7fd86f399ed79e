"""The data contract on Spark: read tables from Parquet into Spark DataFrames and validate them.

The rules are those of :func:`dmkit.schema.validate` (same :data:`dmkit.schema.COLUMNS`
and :data:`dmkit.schema.KEYS` specs, same :class:`dmkit.errors.SchemaError` wording),
expressed as Spark SQL aggregations so that a table far larger than memory is checked in
two passes (one for dtypes, nulls and ranges, one for duplicate keys) without
collecting it.
"""
from __future__ import annotations

from collections.abc import Mapping
from pathlib import Path

from dmkit.errors import DataNotFoundError, parameter_error, schema_error
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
    if spec.kind == "float":
        checks.append(("finite numbers (no inf)", col.isin([float("inf"), float("-inf")])))
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
    mapping: str | Path | Mapping | None = None,
    ingest: bool | None = None,
    validate_table: bool = True,
    check_keys: bool = True,
):
    """Read one contract table from Parquet (or CSV) into a Spark DataFrame, validated.

    Local extracts go through the same ingest as :func:`dmkit.io.read_table`
    (:mod:`dmkit.contract.ingest`), file by file, so a bad byte is the same
    :class:`~dmkit.errors.SchemaError` on both engines, never a good number: page
    checksums verified, a zero-byte, truncated or corrupt file refused, integers outside
    int64, ``inf``, text that is not a number, ambiguous dates refused, ``YYYYMMDD``
    dates and text months parsed (never read as epoch nanoseconds). Files whose columns
    already hold the contract's kinds are then read by Spark itself (the check is one
    streaming pass; memory on the driver is one file's); a file ingest had to convert
    (text dates, ``YYYYMMDD`` integers, a mapping, CSV) is handed to Spark as its
    converted Arrow table.

    Parameters
    ----------
    path : str or Path
        A Parquet or CSV file or folder, e.g. the ``<root>/<table>`` folder that
        :func:`dmkit.io.write_table` writes (hive-partitioned ``province=.../month=...``),
        or the root itself (``<root>/<table>`` is then used if it exists). Any URL Spark
        reads (``hdfs://``, ``s3a://``) works too (Parquet; no ingest, see ``ingest``).
    table : str
        Contract table name.
    spark : SparkSession, optional
        Defaults to :func:`dmkit.spark.get_session`.
    province, months : optional
        Keep only these partitions (pruned before any file is opened).
    mapping : path or dict, optional
        Column mapping and read options (see :func:`dmkit.io.load_mapping`); local paths only.
    ingest : bool, optional
        Check and convert local files with :mod:`dmkit.contract.ingest` first (default:
        True for local paths). False reads the Parquet with Spark alone: for data dmkit
        wrote itself, or URLs, where only :func:`validate`'s checks (plus non-finite
        floats) apply and a ``YYYYMMDD`` integer in a datetime column is refused.
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
        A file or a value that ingest refuses, or the table breaks the contract.
    """
    from pyspark.sql import functions as F

    schema_for(table)
    spark = spark or get_session()
    p = str(path)
    local = "://" not in p
    if ingest is None:
        ingest = local
    if (ingest or mapping is not None) and not local:
        raise parameter_error("ingest", expected="False for a URL (ingest reads local files; "
                              "mapping needs it)", found=ingest)
    if not ingest and mapping is not None:
        raise parameter_error("mapping", expected="None when ingest=False", found="a mapping")
    if ingest:
        sdf = _read_ingested(Path(p), table, spark=spark, province=province, months=months,
                             mapping=mapping)
    else:
        if local:
            base = Path(p)
            if (base / table).exists():
                base = base / table
            if not base.exists():
                raise DataNotFoundError(f"table {table!r}: no Parquet data at {str(base)!r}. "
                                        "Fix: write it with dmkit.io.write_table or check the path")
            p = str(base)
        sdf = _check_raw(_spark_parquet(spark, [p]), table)
        if province is not None and "province" in sdf.columns:
            sdf = sdf.where(F.col("province") == province)
        if months is not None and "month" in sdf.columns:
            sdf = sdf.where(F.col("month").isin(list(months)))
    if validate_table:
        validate(sdf, table, check_keys=check_keys)
    return sdf


def _spark_parquet(spark, paths: list[str], base: str | None = None):
    """Spark's own Parquet read, partition values as strings (TIMESTAMP(NANOS) come as longs)."""
    reader = spark.read.option("recursiveFileLookup", "false")
    if base is not None:
        reader = reader.option("basePath", base)
    # partition values such as month=2009-06 stay strings (no date/int guessing)
    prev = spark.conf.get("spark.sql.sources.partitionColumnTypeInference.enabled", "true")
    spark.conf.set("spark.sql.sources.partitionColumnTypeInference.enabled", "false")
    try:
        sdf = reader.parquet(*paths)
    finally:
        spark.conf.set("spark.sql.sources.partitionColumnTypeInference.enabled", prev)
    return sdf


def _read_ingested(path: Path, table: str, *, spark, province, months, mapping):
    """Every file through dmkit's ingest; Spark reads the files ingest left as they were."""
    from dmkit.contract import ingest as ing
    from dmkit.contract.tables import _PART_KEY_RE, apply_mapping, mapping_for, table_files

    files: list[Path] = []
    for m in (months if months is not None else [None]):
        files += table_files(path, table, province=province, month=m)
    options = ing.read_options(mapping)
    cols = mapping_for(mapping, table)
    as_is: list[Path] = []
    converted = []
    for f in files:
        if f.suffix.lower() == ".parquet":
            raw, where = ing.read_parquet_files([f], table=table)
        else:
            raw, where = ing.read_csv_files([f], table=table, encoding=options.encoding)
        named = apply_mapping(raw, table, cols)
        df = ing.convert(named, table, options=options, provenance=where)
        if df is raw and f.suffix.lower() == ".parquet":
            as_is.append(f)
            continue
        for seg in f.relative_to(path).parts[:-1] if f != path else ():
            m = _PART_KEY_RE.match(seg)
            if m and m.group(1) not in df.columns:
                df = df.assign(**{m.group(1): m.group(2)})
        converted.append(from_pandas(df, spark=spark))
    parts = []
    if as_is:
        base = path / table if (path / table).is_dir() else path
        sdf = _spark_parquet(spark, [str(f) for f in as_is], base=str(base) if base.is_dir() else None)
        parts.append(sdf)
    parts += converted
    out = parts[0]
    for other in parts[1:]:
        out = out.unionByName(other, allowMissingColumns=True)
    return _nanos_as_timestamps(out, table)


#: a datetime column read as a long below this is no epoch-nanosecond timestamp (1970-01-12)
_NANOS_FLOOR = 10 ** 15


def _check_raw(sdf, table: str):
    """Spark's own read (no ingest): refuse a datetime column of longs holding values such as
    ``20090105`` (``YYYYMMDD``, not TIMESTAMP(NANOS)), then read the nanoseconds as timestamps.

    (Infinite floats are refused by :func:`validate`, as by :func:`dmkit.schema.validate`.)
    """
    from pyspark.sql import functions as F

    from dmkit.errors import schema_error

    types = {f.name: kind_of(f.dataType) for f in sdf.schema.fields}
    checks = []
    for spec in COLUMNS[table]:
        col = F.col(f"`{spec.name}`")
        if spec.kind == "datetime" and types.get(spec.name) == "int":
            checks.append((spec, "dates or timestamps", "integers that are no epoch-nanosecond "
                           "timestamps (YYYYMMDD dates?)", F.abs(col) < F.lit(_NANOS_FLOOR),
                           "read the extract with ingest=True (the default for local files), "
                           "which parses YYYYMMDD"))
    if checks:
        counts = sdf.agg(*[F.count_if(F.coalesce(c[3], F.lit(False))).alias(f"c{i}")
                           for i, c in enumerate(checks)]).collect()[0]
        for i, (spec, expected, what, failing, fix) in enumerate(checks):
            if counts[f"c{i}"]:
                vals = [r[0] for r in sdf.where(failing).select(f"`{spec.name}`").limit(3).collect()]
                raise schema_error(table=table, column=spec.name, expected=expected,
                                   found=f"{counts[f'c{i}']:,} {what}, e.g. {vals}", fix=fix)
    return _nanos_as_timestamps(sdf, table)


def _nanos_as_timestamps(sdf, table: str):
    """TIMESTAMP(NANOS) columns (read as longs by Spark) as timestamps."""
    from pyspark.sql import functions as F

    types = {f.name: kind_of(f.dataType) for f in sdf.schema.fields}
    for spec in COLUMNS[table]:
        if spec.kind == "datetime" and types.get(spec.name) == "int":
            sdf = sdf.withColumn(spec.name, F.timestamp_micros(F.floor(F.col(f"`{spec.name}`") / 1000)))
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
