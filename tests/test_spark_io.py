"""dmkit.spark.io and session: the data contract read and checked on Spark like in pandas."""
from __future__ import annotations

import re

import numpy as np
import pandas as pd
import pytest

import dmkit as dm
from dmkit import schema
from dmkit.errors import DataNotFoundError, ParameterError, SchemaError

try:  # tests/ as a package (with __init__.py) or as a plain folder on sys.path
    from tests.spark_fixtures import spark  # noqa: F401
except ModuleNotFoundError:
    from spark_fixtures import spark  # noqa: F401

pytestmark = pytest.mark.spark


def _usage(n: int = 6) -> pd.DataFrame:
    rng = np.random.default_rng(0)
    cols = {s.name: s for s in schema.COLUMNS["usage"]}
    df = pd.DataFrame({"user_id": np.arange(n, dtype=np.int64), "month": ["2009-06"] * n})
    for name, s in cols.items():
        if name in df:
            continue
        if s.kind == "int":
            df[name] = rng.integers(0, 20, n)
        else:
            df[name] = rng.uniform(0, 50, n)
    return df


def _subs() -> pd.DataFrame:
    return pd.DataFrame({
        "user_id": [1, 1, 2],
        "service": ["crbt", "fetion", "crbt"],
        "start": pd.to_datetime(["2009-01-05", "2009-02-01", "2009-03-01"]),
        "end": pd.to_datetime([None, "2009-04-01", None]),
        "channel": ["sms", "web", "sms"],
        "source": ["organic"] * 3,
    })


def _same_error(df: pd.DataFrame, table: str, spark) -> str:  # noqa: F811
    """Validate with pandas and Spark; both must raise, with the same column and expectation."""
    from dmkit.spark.io import from_pandas, validate

    with pytest.raises(SchemaError) as pd_err:
        schema.validate(df, table)
    with pytest.raises(SchemaError) as sp_err:
        validate(from_pandas(df, spark=spark), table)
    assert sp_err.value.table == pd_err.value.table == table
    assert sp_err.value.column == pd_err.value.column
    # the part "expected ...; found N ..." is the same wording
    head = re.split(r"; e\.g\. rows", str(pd_err.value))[0]
    head = head.split("; found dtype")[0]  # dtype names differ: object vs string
    assert str(sp_err.value).startswith(head), (str(sp_err.value), head)
    return str(sp_err.value)


def test_valid_tables_pass_unchanged(spark):  # noqa: F811
    from dmkit.spark.io import from_pandas, validate

    for df, table in [(_usage(), "usage"), (_subs(), "subscriptions")]:
        schema.validate(df, table)
        sdf = from_pandas(df, spark=spark)
        assert validate(sdf, table) is sdf


@pytest.mark.parametrize("case", ["range_high", "negative", "month_format", "duplicate",
                                  "missing_column", "null", "dtype"])
def test_violations_raise_same_error_as_pandas(spark, case):  # noqa: F811
    df = _usage()
    if case == "range_high":
        df.loc[3, "call_days"] = 40
        match = "column 'call_days': expected values <= 31; found 1 failing value"
    elif case == "negative":
        df.loc[[1, 4], "sms_p2p"] = -2
        match = "column 'sms_p2p': expected values >= 0; found 2 failing value"
    elif case == "month_format":
        df["month"] = "2009-6"
        match = "column 'month': expected months as 'YYYY-MM'"
    elif case == "duplicate":
        df.loc[2, "user_id"] = 1
        match = r"expected unique keys \['user_id', 'month'\]; found 2 rows sharing a key"
    elif case == "missing_column":
        df = df.drop(columns="gprs_kb")
        match = r"column 'gprs_kb': expected columns .*no column\(s\) \['gprs_kb'\]"
    elif case == "null":
        df["arpu"] = df["arpu"].astype(float)
        df.loc[0, "arpu"] = np.nan
        # Spark turns a pandas NaN into null for a float column built by Arrow
        match = "column 'arpu': expected no missing values; found 1 missing"
    else:
        df["complaints"] = df["complaints"].astype(str)
        match = "column 'complaints': expected an integer dtype"
    msg = _same_error(df, "usage", spark)
    assert re.search(match, msg), msg


def test_offending_rows_named(spark):  # noqa: F811
    from dmkit.spark.io import from_pandas, validate

    df = _usage()
    df.loc[4, "call_days"] = 99
    with pytest.raises(SchemaError, match=r"e\.g\. rows \(user_id=4, month='2009-06'\)") as err:
        validate(from_pandas(df, spark=spark), "usage")
    assert err.value.rows == [{"user_id": 4, "month": "2009-06"}]


def test_allowed_values_and_end_before_start(spark):  # noqa: F811
    df = _subs()
    df.loc[0, "service"] = "no_such_service"
    _same_error(df, "subscriptions", spark)
    df = _subs()
    df.loc[1, "end"] = pd.Timestamp("2008-12-31")
    msg = _same_error(df, "subscriptions", spark)
    assert "end >= start" in msg


def test_empty_table_and_unknown_table(spark):  # noqa: F811
    from dmkit.spark.io import from_pandas, validate

    sdf = from_pandas(_usage(), spark=spark)
    with pytest.raises(SchemaError, match="expected at least one row; found an empty table"):
        validate(sdf.limit(0), "usage")
    with pytest.raises(ParameterError, match="parameter 'table'"):
        validate(sdf, "usagez")


def test_read_table_partitioned_parquet(spark, tmp_path):  # noqa: F811
    from dmkit.spark.io import read_table

    a, b = _usage(5), _usage(7)
    b["month"] = "2009-07"
    dm.io.write_table(pd.concat([a, b], ignore_index=True), "usage", tmp_path, province="jiangsu")
    dm.io.write_table(_subs(), "subscriptions", tmp_path, province="jiangsu", month="2009-07")
    sdf = read_table(tmp_path, "usage")
    assert dict(sdf.dtypes)["month"] == "string"
    assert sdf.count() == 12
    only = read_table(tmp_path / "usage", "usage", months=["2009-07"]).toPandas()
    assert sorted(only["user_id"]) == list(range(7))
    assert set(only["month"]) == {"2009-07"}
    # dmkit writes TIMESTAMP(MICROS): Spark reads them as timestamps, no conversion needed
    raw = spark.read.parquet(str(tmp_path / "subscriptions"))
    # (timestamp_ntz: naive local times, as pandas wrote them)
    assert {f.name: f.dataType.typeName() for f in raw.schema.fields}["start"] in ("timestamp", "timestamp_ntz")
    subs = read_table(tmp_path, "subscriptions").toPandas().sort_values(["user_id", "service"])
    want = _subs()
    np.testing.assert_array_equal(subs["start"].to_numpy(), want["start"].to_numpy())
    assert subs["end"].isna().tolist() == want["end"].isna().tolist()
    assert subs["end"].dropna().tolist() == want["end"].dropna().tolist()
    with pytest.raises(DataNotFoundError, match="table 'users'"):
        read_table(tmp_path / "nowhere", "users")


def test_get_session_reuses_active_and_checks_master(spark):  # noqa: F811
    from dmkit.spark.session import get_session

    assert get_session() is spark
    with pytest.raises(ParameterError, match="parameter 'master'"):
        get_session("  ")
