"""Issue 11 on the Spark path: dm.spark.read_table reads extracts through dmkit's ingest.

Every bad extract that :func:`dmkit.io.read_table` refuses (YYYYMMDD dates read as dates,
inf, integers above int64, zero-byte, truncated, non-Parquet and byte-flipped files) is
the same :class:`~dmkit.errors.SchemaError` — same class, same message — on the Spark
path, never a good-looking number.
"""
from __future__ import annotations

import numpy as np
import pandas as pd
import pyarrow as pa
import pyarrow.parquet as pq
import pytest

from dmkit import io
from dmkit.errors import ParameterError, SchemaError
from tests.contract_frames import frame

try:  # tests/ as a package (with __init__.py) or as a plain folder on sys.path
    from tests.spark_fixtures import spark  # noqa: F401
except ModuleNotFoundError:
    from spark_fixtures import spark  # noqa: F401

pytestmark = pytest.mark.spark


def _bad_extract(tmp_path, case: str):
    """(path, table) of one bad extract."""
    if case in ("inf_parquet", "inf_csv"):
        df = frame("usage")
        df.loc[2, "arpu"] = float("inf")
        path = tmp_path / ("usage.parquet" if case == "inf_parquet" else "usage.csv")
        df.to_parquet(path) if case == "inf_parquet" else df.to_csv(path, index=False)
        return path, "usage"
    if case == "overflow_parquet":
        tbl = pa.Table.from_pandas(frame("usage")).set_column(
            0, "user_id", pa.array([1, 2**63 + 5, 2, 3], pa.uint64()))
        pq.write_table(tbl, tmp_path / "usage.parquet")
        return tmp_path / "usage.parquet", "usage"
    if case == "overflow_csv":
        df = frame("usage").astype({"user_id": object})
        df.loc[1, "user_id"] = "9223372036854775808"  # 2**63
        df.to_csv(tmp_path / "usage.csv", index=False)
        return tmp_path / "usage.csv", "usage"
    if case == "ambiguous_dates":
        df = frame("subscriptions").astype({"start": object, "end": object})
        df["start"], df["end"] = ["03/04/2009", "05/06/2009", "07/08/2009"], [None] * 3
        df.to_csv(tmp_path / "subs.csv", index=False)
        return tmp_path / "subs.csv", "subscriptions"
    good = tmp_path / "good.parquet"
    io.write_parquet_atomic(frame("usage"), good)
    path = tmp_path / "usage.parquet"
    path.write_bytes(DAMAGE[case](good.read_bytes()))
    return path, "usage"


#: a written Parquet file's bytes -> a damaged file's bytes
DAMAGE = {
    "empty": lambda data: b"",
    "truncated": lambda data: data[: len(data) // 2],
    "not_parquet": lambda data: b"user_id,month\n1,2009-06\n",
    "garbage": lambda data: data[:4] + bytes(range(256)) * 4 + data[-4:],
}


@pytest.mark.parametrize("case", ["inf_parquet", "inf_csv", "overflow_parquet", "overflow_csv",
                                  "ambiguous_dates", "empty", "truncated", "not_parquet", "garbage"])
def test_a_bad_extract_is_the_same_error_on_spark(spark, tmp_path, case):  # noqa: F811
    from dmkit.spark.io import read_table

    path, table = _bad_extract(tmp_path, case)
    with pytest.raises(SchemaError) as pandas_err:
        io.read_table(path, table)
    with pytest.raises(SchemaError) as spark_err:
        read_table(path, table, spark=spark)
    assert type(spark_err.value) is type(pandas_err.value)
    assert str(spark_err.value) == str(pandas_err.value)
    assert spark_err.value.column == pandas_err.value.column


@pytest.mark.slow  # a dozen reads, some validated by Spark jobs
def test_a_byte_flipped_parquet_file_is_refused_or_read_unchanged_on_spark(spark, tmp_path):  # noqa: F811
    from dmkit.spark.io import read_table

    df = frame("usage")
    path = tmp_path / "usage.parquet"
    io.write_parquet_atomic(df, path)
    data = bytearray(path.read_bytes())
    refused, unchanged = 0, None
    for pos in np.random.default_rng(11).choice(np.arange(4, len(data) - 8), size=12, replace=False):
        bad = bytearray(data)
        bad[pos] ^= 0xFF
        path.write_bytes(bytes(bad))
        try:
            io.read_table(path, "usage")
        except SchemaError as err:
            with pytest.raises(SchemaError) as spark_err:
                read_table(path, "usage", spark=spark)
            assert str(spark_err.value) == str(err)
            refused += 1
        else:
            unchanged = bytes(bad)
    if unchanged is not None:  # a flip in unused bytes: the same values on Spark too
        path.write_bytes(unchanged)
        got = read_table(path, "usage", spark=spark).toPandas()
        pd.testing.assert_frame_equal(got[df.columns], df, check_dtype=False)
    assert refused >= 5


def test_yyyymmdd_dates_are_dates_on_spark_never_epoch_nanoseconds(spark, tmp_path):  # noqa: F811
    from dmkit.spark.io import read_table

    df = frame("subscriptions")
    df["start"] = [20090110, 20090302, 20090601]  # an integer column in Parquet
    df.to_parquet(tmp_path / "subs.parquet")
    want = io.read_table(tmp_path / "subs.parquet", "subscriptions")
    got = read_table(tmp_path / "subs.parquet", "subscriptions", spark=spark).toPandas()
    assert got["start"].tolist() == want["start"].tolist() == [
        pd.Timestamp("2009-01-10"), pd.Timestamp("2009-03-02"), pd.Timestamp("2009-06-01")]
    # Spark's own reader (ingest=False) refuses them instead of reading 1970-01-01 00:00:00.02
    with pytest.raises(SchemaError, match=r"column 'start': expected dates or timestamps; found 3 "
                                          r"integers that are no epoch-nanosecond timestamps"):
        read_table(tmp_path / "subs.parquet", "subscriptions", spark=spark, ingest=False)


def test_infinity_is_refused_by_spark_validate_like_pandas_validate(spark, tmp_path):  # noqa: F811
    from dmkit.spark.io import read_table

    df = frame("usage")
    df.loc[2, "arpu"] = float("inf")
    df.to_parquet(tmp_path / "usage.parquet")
    with pytest.raises(SchemaError, match=r"column 'arpu': expected finite numbers \(no inf\); found 1"):
        read_table(tmp_path / "usage.parquet", "usage", spark=spark, ingest=False)


def test_a_partitioned_dataset_and_a_mapping_read_like_pandas(spark, tmp_path):  # noqa: F811
    from dmkit.spark.io import read_table

    io.write_table(frame("usage"), "usage", tmp_path, province="jiangsu")
    want = io.read_table(tmp_path, "usage", month="2009-06")
    got = read_table(tmp_path, "usage", spark=spark, months=["2009-06"]).toPandas()
    cols = list(want.columns)
    pd.testing.assert_frame_equal(got[cols].sort_values("user_id").reset_index(drop=True),
                                  want.sort_values("user_id").reset_index(drop=True), check_dtype=False)
    # a CSV with the operator's column names and text months, through a mapping
    raw = frame("usage").rename(columns={"user_id": "MSISDN"})
    raw["month"] = ["200905", "200906", "200906", "200906"]
    raw.to_csv(tmp_path / "usage.csv", index=False)
    mapping = {"usage": {"MSISDN": "user_id"}}
    want = io.read_table(tmp_path / "usage.csv", "usage", mapping=mapping)
    got = read_table(tmp_path / "usage.csv", "usage", spark=spark, mapping=mapping).toPandas()
    assert got["month"].tolist() == want["month"].tolist() == ["2009-05", "2009-06", "2009-06", "2009-06"]
    with pytest.raises(ParameterError, match="ingest"):
        read_table("hdfs://nowhere/usage", "usage", spark=spark, mapping=mapping)
