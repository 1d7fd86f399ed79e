"""dmkit.io: partitioned Parquet/CSV round trips, mappings, coercion and atomic writes."""
from __future__ import annotations

import os
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from dmkit import io, schema
from dmkit.errors import DataNotFoundError, ParameterError, SchemaError
from tests.contract_frames import frame

FORMATS = ["parquet", "csv"]


def _files(root: Path) -> list[str]:
    return sorted(str(p.relative_to(root)) for p in root.rglob("*") if p.is_file())


# --- round trips -----------------------------------------------------------------
@pytest.mark.parametrize("fmt", FORMATS)
@pytest.mark.parametrize("table", schema.TABLES)
def test_round_trip_keeps_values_and_dtypes(tmp_path, table, fmt):
    df = frame(table)
    paths = io.write_table(df, table, tmp_path, format=fmt, province="jiangsu", month="2009-06")
    back = io.read_table(tmp_path, table)
    sort = list(schema.KEYS[table])
    pd.testing.assert_frame_equal(back.sort_values(sort, ignore_index=True),
                                  df.sort_values(sort, ignore_index=True))
    assert _files(tmp_path) == sorted(str(p.relative_to(tmp_path)) for p in paths)  # no temp file left


def test_layout_monthly_tables_get_a_folder_per_row_month_others_a_snapshot(tmp_path):
    usage = frame("usage")  # rows of 2009-05 and 2009-06
    paths = io.write_table(usage, "usage", tmp_path, province="jiangsu", month="2009-06")
    assert paths == [tmp_path / "usage" / "province=jiangsu" / f"month={m}" / "part.parquet"
                     for m in ("2009-05", "2009-06")]
    for p in paths:  # each folder holds exactly the rows its name says
        assert set(pd.read_parquet(p)["month"]) == {p.parent.name.removeprefix("month=")}
    users = frame("users")
    assert io.write_table(users, "users", tmp_path, month="2009-06") == [
        tmp_path / "users" / "province=jiangsu" / "month=2009-06" / "part.parquet"]
    assert io.write_table(frame("contacts"), "contacts", tmp_path, province="jiangsu",
                          month="2009-06") == [
        tmp_path / "contacts" / "province=jiangsu" / "month=2009-06" / "part.parquet"]
    assert [io.partitioned_by_month(t) for t in schema.TABLES] == [
        False, True, False, True, False, True, False, True]


def test_hive_readers_see_the_same_months_as_the_rows(tmp_path):
    import pyarrow.dataset as ds

    usage = frame("usage")
    io.write_table(usage, "usage", tmp_path, province="jiangsu", month="2009-06")
    hive = ds.dataset(tmp_path / "usage", format="parquet", partitioning="hive").to_table().to_pandas()
    assert sorted(hive["month"]) == sorted(usage["month"])  # partition discovery agrees with the column
    assert set(hive["province"]) == {"jiangsu"}


def test_partitions_are_pruned(tmp_path):
    js, yn = frame("usage"), frame("usage")
    yn["user_id"] += 100
    io.write_table(js, "usage", tmp_path, province="jiangsu", month="2009-06")
    io.write_table(yn, "usage", tmp_path, province="yunnan", month="2009-06")
    got = io.read_table(tmp_path, "usage", province="jiangsu", until="2009-06")
    pd.testing.assert_frame_equal(got.sort_values(["month", "user_id"], ignore_index=True),
                                  js.sort_values(["month", "user_id"], ignore_index=True))
    june = io.read_table(tmp_path, "usage", month="2009-06")
    assert sorted(june["user_id"]) == sorted([1, 2, 3, 101, 102, 103]) and set(june["month"]) == {"2009-06"}
    may = io.read_table(tmp_path, "usage", province="yunnan", until="2009-05")
    assert list(may["user_id"]) == [101] and list(may["month"]) == ["2009-05"]
    # a broken file in a partition that is not asked for is never opened
    bad = tmp_path / "usage" / "province=guangdong" / "month=2009-06" / "part.parquet"
    bad.parent.mkdir(parents=True)
    bad.write_bytes(b"not parquet")
    # nor are temp files and folders of an unfinished write
    for hidden in ("usage/province=yunnan/.tmp-1/part.parquet", "usage/province=yunnan/month=2009-06/.part.parquet.x.tmp",
                   "usage/_SUCCESS.parquet"):
        (tmp_path / hidden).parent.mkdir(parents=True, exist_ok=True)
        (tmp_path / hidden).write_bytes(b"junk")
    assert len(io.read_table(tmp_path, "usage", province="yunnan")) == len(yn)
    assert io.table_files(tmp_path, "usage", province="jiangsu") == [
        tmp_path / "usage" / "province=jiangsu" / "month=2009-05" / "part.parquet",
        tmp_path / "usage" / "province=jiangsu" / "month=2009-06" / "part.parquet",
    ]


def test_province_and_month_must_agree_with_the_rows(tmp_path):
    with pytest.raises(ParameterError, match=r"parameter 'province': expected the only value of users.province; got 'yunnan'"):
        io.write_table(frame("users"), "users", tmp_path, province="yunnan")
    with pytest.raises(ParameterError, match=r"parameter 'month': expected a data month not before the rows' latest month '2009-06'"):
        io.write_table(frame("usage"), "usage", tmp_path, month="2009-05")
    assert _files(tmp_path) == []


def test_a_later_extract_replaces_the_months_it_holds(tmp_path):
    df = frame("revenue")  # 2009-05 (two lines) and 2009-06
    io.write_table(df, "revenue", tmp_path, province="jiangsu", month="2009-06")
    later = pd.DataFrame({"month": ["2009-06", "2009-07"], "line": ["operating", "operating"],
                          "amount": [1.3e9, 1.4e9]})
    io.write_table(later, "revenue", tmp_path, province="jiangsu", month="2009-07")
    got = io.read_table(tmp_path, "revenue")
    expected = pd.concat([df.iloc[:2], later], ignore_index=True)
    pd.testing.assert_frame_equal(got, expected)


@pytest.mark.parametrize("fmt", FORMATS)
def test_single_files_and_table_folders_can_be_read(tmp_path, fmt):
    df = frame("edges")
    [path] = io.write_table(df, "edges", tmp_path, format=fmt)
    assert path == tmp_path / "edges" / "month=2009-06" / f"part.{fmt}"
    pd.testing.assert_frame_equal(io.read_table(path, "edges"), df)
    pd.testing.assert_frame_equal(io.read_table(tmp_path / "edges", "edges"), df)
    flat = tmp_path / "flat"
    flat.mkdir()
    (flat / f"edges.{fmt}").write_bytes(path.read_bytes())
    pd.testing.assert_frame_equal(io.read_table(flat, "edges"), df)
    with pytest.raises(ParameterError, match=r"parameter 'province/month/until': expected None when reading a single file"):
        io.read_table(path, "edges", month="2009-06")


def test_missing_path_table_or_partition_is_named(tmp_path):
    with pytest.raises(DataNotFoundError, match=r"table 'usage': path '.*nowhere' does not exist"):
        io.read_table(tmp_path / "nowhere", "usage")
    io.write_table(frame("usage"), "usage", tmp_path, province="jiangsu", month="2009-06")
    with pytest.raises(DataNotFoundError, match=r"month<=2009-04"):
        io.read_table(tmp_path, "usage", until="2009-04")
    with pytest.raises(DataNotFoundError, match=r"table 'users' not found under '.*'"):
        io.read_table(tmp_path, "users")
    with pytest.raises(DataNotFoundError, match=r"table 'usage': no .parquet or .csv files under '.*usage' for province=yunnan"):
        io.read_table(tmp_path, "usage", province="yunnan")
    with pytest.raises(ParameterError, match=r"parameter 'table': expected one of"):
        io.read_table(tmp_path, "usages")
    with pytest.raises(ParameterError, match=r"parameter 'until': expected a month 'YYYY-MM'"):
        io.read_table(tmp_path, "usage", until="2009-6")
    other = tmp_path / "x.txt"
    other.write_text("a,b\n")
    with pytest.raises(DataNotFoundError, match=r"is not a .parquet or .csv file"):
        io.read_table(other, "usage")


def test_mixed_formats_in_one_table_are_refused(tmp_path):
    io.write_table(frame("usage"), "usage", tmp_path, format="csv", province="a")
    io.write_table(frame("usage"), "usage", tmp_path, format="parquet", province="b")
    with pytest.raises(DataNotFoundError, match=r"mixes Parquet and CSV"):
        io.read_table(tmp_path, "usage")
    assert len(io.read_table(tmp_path, "usage", province="a")) == 4


def test_write_table_validates_first_and_writes_nothing_on_failure(tmp_path):
    df = frame("usage")
    df.loc[0, "sms_p2p"] = -5
    with pytest.raises(SchemaError, match=r"column 'sms_p2p'"):
        io.write_table(df, "usage", tmp_path, province="jiangsu", month="2009-06")
    assert _files(tmp_path) == []
    io.write_table(df, "usage", tmp_path, validate=False)
    with pytest.raises(SchemaError, match=r"column 'sms_p2p'"):
        io.read_table(tmp_path, "usage")
    assert io.read_table(tmp_path, "usage", validate=False).loc[0, "sms_p2p"] == -5


def test_parquet_timestamps_are_microseconds_and_nanoseconds_are_refused(tmp_path):
    import pyarrow as pa
    import pyarrow.parquet as pq

    df = frame("subscriptions")
    paths = io.write_table(df, "subscriptions", tmp_path, province="jiangsu", month="2009-06")
    fields = pq.read_schema(paths[0])
    for c in ("start", "end"):  # TIMESTAMP(MICROS): what Spark, Hive and warehouses read
        assert fields.field(c).type == pa.timestamp("us"), c
    back = io.read_table(tmp_path, "subscriptions")
    assert str(back["start"].dtype) == "datetime64[ns]"  # one unit in memory, as written
    # a timestamp with nanoseconds cannot be kept: named, and nothing written
    bad = df.copy()
    bad.loc[bad.index[1], "start"] += pd.Timedelta(1, "ns")
    with pytest.raises(SchemaError, match=r"column 'start'.*whole microseconds.*1 value") as info:
        io.write_table(bad, "subscriptions", tmp_path / "bad", province="jiangsu", month="2009-06")
    assert "dt.floor('us')" in str(info.value)
    assert not (tmp_path / "bad").exists() or _files(tmp_path / "bad") == []
    # CSV keeps full precision, so it takes them
    io.write_table(bad, "subscriptions", tmp_path / "csv", format="csv", province="jiangsu", month="2009-06")


@pytest.mark.parametrize(("kw", "message"), [
    ({"month": "2009-6"}, r"parameter 'month': expected a month 'YYYY-MM'"),
    ({"format": "xlsx"}, r"parameter 'format': expected one of \['parquet', 'csv'\]; got 'xlsx'"),
    ({"province": "a/b"}, r"parameter 'province': expected a non-empty name without '/'"),
])
def test_write_table_refuses_bad_arguments(tmp_path, kw, message):
    with pytest.raises(ParameterError, match=message):
        io.write_table(frame("revenue"), "revenue", tmp_path, **kw)


def test_unwritable_root_is_a_parameter_error(tmp_path):
    blocker = tmp_path / "file"
    blocker.write_text("I am a file")
    with pytest.raises(ParameterError, match=r"parameter 'out': expected a writable folder"):
        io.write_table(frame("revenue"), "revenue", blocker)


# --- atomicity -------------------------------------------------------------------
def _half_write_then_fail(exc):
    def boom(self, path, *args, **kwargs):
        Path(path).write_bytes(b"PAR1 half a file")
        raise exc
    return boom


@pytest.mark.parametrize("exc", [OSError("disk full"), KeyboardInterrupt()])
@pytest.mark.parametrize("fmt", FORMATS)
def test_interrupted_write_leaves_the_old_file_intact_and_no_partial_file(tmp_path, monkeypatch, fmt, exc):
    old = frame("users")
    [path] = io.write_table(old, "users", tmp_path, format=fmt, province="jiangsu", month="2009-05")
    before = path.read_bytes()
    new = old.assign(age=old["age"] + 1)
    method = "to_parquet" if fmt == "parquet" else "to_csv"
    monkeypatch.setattr(pd.DataFrame, method, _half_write_then_fail(exc))
    with pytest.raises(type(exc)):
        io.write_table(new, "users", tmp_path, format=fmt, province="jiangsu", month="2009-05")
    monkeypatch.undo()
    assert path.read_bytes() == before
    assert _files(tmp_path) == [str(path.relative_to(tmp_path))]
    pd.testing.assert_frame_equal(io.read_table(tmp_path, "users"), old)


def test_interrupted_first_write_leaves_nothing(tmp_path, monkeypatch):
    monkeypatch.setattr(pd.DataFrame, "to_parquet", _half_write_then_fail(OSError("disk full")))
    with pytest.raises(OSError, match="disk full"):
        io.write_table(frame("users"), "users", tmp_path, province="jiangsu", month="2009-06")
    assert _files(tmp_path) == []


def test_atomic_write_bytes_keeps_the_old_content_when_the_rename_fails(tmp_path, monkeypatch):
    target = tmp_path / "truth.json"
    io.atomic_write_bytes(target, b"old")

    def no_rename(src, dst):
        raise OSError("rename failed")

    monkeypatch.setattr(os, "replace", no_rename)
    with pytest.raises(OSError, match="rename failed"):
        io.atomic_write_bytes(target, b"new")
    monkeypatch.undo()
    assert target.read_bytes() == b"old"
    assert _files(tmp_path) == ["truth.json"]
    io.write_parquet_atomic(frame("revenue"), tmp_path / "r.parquet")
    pd.testing.assert_frame_equal(pd.read_parquet(tmp_path / "r.parquet"), frame("revenue"))


# --- mappings and coercion -------------------------------------------------------
MAPPING_YAML = """\
users:
  MSISDN: user_id
  PROV: province
  CITY: prefecture
  BRAND_NAME: brand
  AGE: age
  SEX: gender
  INNET_MONTHS: tenure_months
  IS_STUDENT: student
  MMS_FLAG: term_mms
  WAP_FLAG: term_wap
  JAVA_FLAG: term_java
  FETION_FLAG: term_fetion
  PREF_CHANNEL: preferred_channel
subscriptions:
  MSISDN: user_id
  SVC: service
  ORDER_TIME: start
  CANCEL_TIME: end
"""


def test_a_real_extract_is_mapped_coerced_and_validated(tmp_path):
    mapping = tmp_path / "m.yaml"
    mapping.write_text(MAPPING_YAML)
    extract = tmp_path / "users.csv"
    extract.write_text(
        "MSISDN,PROV,CITY,BRAND_NAME,AGE,SEX,INNET_MONTHS,IS_STUDENT,MMS_FLAG,WAP_FLAG,JAVA_FLAG,"
        "FETION_FLAG,PREF_CHANNEL,LOCAL_NOTE\n"
        "1,jiangsu,nanjing,gotone,35,M,60,N,1,Y,true,0,hall,a\n"
        "2,jiangsu,suzhou,mzone,19,F,8,Y,1,y,0,1,sms,b\n"
        "3,jiangsu,wuxi,easyown,52,M,120,N,0,N,0,no,wap,c\n")
    got = io.read_table(extract, "users", mapping=mapping)
    expected = frame("users").assign(LOCAL_NOTE=["a", "b", "c"])
    pd.testing.assert_frame_equal(got, expected)


def test_dates_and_months_are_parsed_from_common_extract_formats(tmp_path):
    sub = tmp_path / "subs.csv"
    sub.write_text("MSISDN,SVC,ORDER_TIME,CANCEL_TIME,channel,source\n"
                   "1,newspaper,2009-01-10,,sms,organic\n"
                   "2,crbt,2009-03-02 10:30:00,2009-05-20,wap,JS-2009-03-crbt\n"
                   "2,fetion,2009/06/01,,web,organic\n")
    got = io.read_table(sub, "subscriptions", mapping=io.load_mapping({"subscriptions": {
        "MSISDN": "user_id", "SVC": "service", "ORDER_TIME": "start", "CANCEL_TIME": "end"}}))
    pd.testing.assert_frame_equal(got, frame("subscriptions"), check_dtype=False)
    assert pd.api.types.is_datetime64_any_dtype(got["start"]) and got["end"].isna().sum() == 2
    rev = frame("revenue")
    for raw in (["200905", "200905", "200906"], ["2009-5", "2009/05", "2009-06-01"]):
        pd.DataFrame({"month": raw, "line": rev["line"], "amount": rev["amount"]}).to_csv(
            tmp_path / "rev.csv", index=False)
        pd.testing.assert_frame_equal(io.read_table(tmp_path / "rev.csv", "revenue"), rev)
    as_dates = rev.assign(month=pd.to_datetime(["2009-05-01", "2009-05-01", "2009-06-15"]))
    as_dates.to_parquet(tmp_path / "rev.parquet")
    pd.testing.assert_frame_equal(io.read_table(tmp_path / "rev.parquet", "revenue"), rev)


@pytest.mark.parametrize(("column", "value", "message"), [
    ("sms_p2p", "lots", r"column 'sms_p2p': expected integers; found 1 value\(s\) that are not, e.g. \['lots'\]"),
    ("sms_p2p", "2.5", r"column 'sms_p2p': expected integers"),
    ("arpu", "n/a!", r"column 'arpu': expected numbers"),
])
def test_values_that_cannot_be_coerced_are_named(tmp_path, column, value, message):
    df = frame("usage").astype({column: object})
    df.loc[2, column] = value
    df.to_csv(tmp_path / "usage.csv", index=False)
    with pytest.raises(SchemaError, match=message) as info:
        io.read_table(tmp_path / "usage.csv", "usage")
    assert info.value.rows == [{"row": 2}]


def test_bad_bools_and_dates_are_named(tmp_path):
    df = frame("users").astype({"student": object})
    df.loc[0, "student"] = "maybe"
    df.to_csv(tmp_path / "u.csv", index=False)
    with pytest.raises(SchemaError, match=r"column 'student': expected booleans \(True/False, 1/0, Y/N\)"):
        io.read_table(tmp_path / "u.csv", "users")
    ev = frame("events").astype({"ts": object})
    ev.loc[1, "ts"] = "yesterday-ish"
    ev.to_csv(tmp_path / "e.csv", index=False)
    with pytest.raises(SchemaError, match=r"column 'ts': expected dates or timestamps; found 1"):
        io.read_table(tmp_path / "e.csv", "events")


def test_missing_values_in_an_integer_column_are_reported_as_missing(tmp_path):
    df = frame("usage").astype({"mms": object})
    df.loc[1, "mms"] = None
    df.to_csv(tmp_path / "usage.csv", index=False)
    with pytest.raises(SchemaError, match=r"column 'mms': expected no missing values; found 1 missing; "
                                          r"e.g. rows \(user_id=1, month='2009-06'\)"):
        io.read_table(tmp_path / "usage.csv", "usage")


def test_a_mapped_column_absent_from_the_extract_is_named(tmp_path):
    frame("edges").rename(columns={"sms": "SMS_CNT"}).to_csv(tmp_path / "e.csv", index=False)
    with pytest.raises(SchemaError, match=r"table 'edges', column 'sms': expected column 'SMS_NUM' \(mapped to 'sms'\)"):
        io.read_table(tmp_path / "e.csv", "edges", mapping={"edges": {"SMS_NUM": "sms"}})
    got = io.read_table(tmp_path / "e.csv", "edges", mapping={"edges": {"SMS_CNT": "sms"}})
    pd.testing.assert_frame_equal(got, frame("edges"))


@pytest.mark.parametrize(("text", "message"), [
    ("usage: [a, b]\n", r"table 'usage': expected \{their_column: our_column\}; found list"),
    ("usagez:\n  A: user_id\n", r"unknown table 'usagez'; expected one of \['users'"),
    ("usage:\n  A: userid\n", r"table 'usage': unknown column 'userid' \(mapped from 'A'\)"),
    ("usage:\n  A: user_id\n  B: user_id\n", r"columns 'A' and 'B' are both mapped to 'user_id'"),
    ("usage:\n  A: [user_id\n", r"not valid YAML"),
    ("- usage\n", r"expected a mapping \{table: \{their_column: our_column\}\}; found list"),
    ("usage:\n  1: user_id\n", r"column names must be strings; found 1: 'user_id'"),
])
def test_load_mapping_errors_name_the_file_and_the_entry(tmp_path, text, message):
    path = tmp_path / "m.yaml"
    path.write_text(text)
    with pytest.raises(ParameterError, match=r"mapping file '.*m.yaml'.*" + message):
        io.load_mapping(path)


def test_load_mapping_reads_the_shipped_example_and_refuses_a_missing_file(tmp_path):
    example = Path(__file__).resolve().parents[1] / "data" / "mappings" / "example.yaml"
    mapping = io.load_mapping(example)
    assert set(mapping) <= set(schema.TABLES) and mapping["usage"]
    with pytest.raises(DataNotFoundError, match=r"mapping file '.*none.yaml' does not exist"):
        io.load_mapping(tmp_path / "none.yaml")


def test_empty_mapping_file_maps_nothing(tmp_path):
    path = tmp_path / "m.yaml"
    path.write_text("")
    assert io.load_mapping(path) == {}


# --- property: any valid usage table survives both formats ------------------------
@settings(max_examples=15, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(
    n=st.integers(1, 30),
    seed=st.integers(0, 2**31 - 1),
    fmt=st.sampled_from(FORMATS),
)
def test_property_round_trip_of_random_usage_tables(tmp_path, n, seed, fmt):
    rng = np.random.default_rng(seed)
    df = pd.DataFrame({"user_id": np.arange(n) * 7 + 1,
                       "month": rng.choice(["2008-12", "2009-01", "2009-06"], n)})
    for s in schema.COLUMNS["usage"][2:]:
        if s.kind == "int":
            df[s.name] = rng.integers(0, int(s.high or 10**9) + 1, n)
        else:
            df[s.name] = rng.exponential(100, n) * rng.integers(0, 2, n)  # zeros and odd floats
    root = tmp_path / f"{fmt}-{seed}-{n}"
    io.write_table(df, "usage", root, format=fmt, province="p", month="2009-06")
    back = io.read_table(root, "usage").sort_values("user_id", ignore_index=True)
    pd.testing.assert_frame_equal(back, df)


# --- load_province -------------------------------------------------------------------
SMALL = {"province": "yunnan", "month": "2009-05", "n_users": 1500, "seed": 11}


@pytest.fixture(scope="module")
def small_province():
    from dmkit import synth

    return synth.generate(SMALL["province"], month=SMALL["month"], n_users=SMALL["n_users"],
                          seed=SMALL["seed"])


def _plain(df: pd.DataFrame) -> pd.DataFrame:
    """Categoricals as text (they sort by category order, text sorts by value)."""
    cats = [c for c in df.columns if isinstance(df[c].dtype, pd.CategoricalDtype)]
    return df.astype(dict.fromkeys(cats, object)) if cats else df


def _assert_same_tables(a, b, *, exact=True):
    for t in schema.TABLES:
        keys = list(schema.KEYS[t])
        x, y = getattr(a, t), getattr(b, t)
        if not exact:
            x, y = _plain(x), _plain(y)
        x = x.sort_values(keys, ignore_index=True)
        y = y.sort_values(keys, ignore_index=True)
        pd.testing.assert_frame_equal(x, y, check_dtype=exact, check_categorical=exact)


def test_load_province_synth_generates_once_then_reads_the_cache(tmp_path, monkeypatch, small_province):
    from dmkit import synth

    calls = []
    monkeypatch.setattr(synth, "generate", lambda *a, **k: calls.append(k) or small_province)
    first = io.load_province("synth", cache_dir=tmp_path, **SMALL)
    assert first is small_province and len(calls) == 1
    folder = io.synth_cache_path(cache_dir=tmp_path, **SMALL)
    assert folder == tmp_path / "yunnan" / "2009-05" / "n1500-s11"
    assert (folder / "_COMPLETE.json").is_file()
    assert [p.name for p in folder.parent.iterdir()] == ["n1500-s11"]  # no temp folder left

    monkeypatch.setattr(synth, "generate", lambda *a, **k: pytest.fail("the cache was not used"))
    again = io.load_province("synth", cache_dir=tmp_path, **SMALL)
    _assert_same_tables(again, small_province)
    assert again.truth.seed == 11 and again.truth.months == small_province.truth.months


def test_load_province_regenerates_an_incomplete_or_stale_cache(tmp_path, monkeypatch, small_province):
    from dmkit import synth

    calls = []
    monkeypatch.setattr(synth, "generate", lambda *a, **k: calls.append(k) or small_province)
    io.load_province("synth", cache_dir=tmp_path, **SMALL)
    folder = io.synth_cache_path(cache_dir=tmp_path, **SMALL)
    (folder / "_COMPLETE.json").unlink()  # as if the process died before the marker
    io.load_province("synth", cache_dir=tmp_path, **SMALL)
    assert len(calls) == 2 and (folder / "_COMPLETE.json").is_file()
    marker = folder / "_COMPLETE.json"
    marker.write_text(marker.read_text().replace('"synth": "', '"synth": "old-'))  # older simulator
    io.load_province("synth", cache_dir=tmp_path, **SMALL)
    assert len(calls) == 3
    (folder / "usage.parquet").unlink()  # damaged cache: regenerated, not an error
    io.load_province("synth", cache_dir=tmp_path, **SMALL)
    assert len(calls) == 4


def test_load_province_interrupted_save_leaves_no_cache(tmp_path, monkeypatch, small_province):
    from dmkit import synth

    monkeypatch.setattr(synth, "generate", lambda *a, **k: small_province)

    def half_save(folder):
        Path(folder).mkdir(parents=True)
        (Path(folder) / "users.parquet").write_bytes(b"half")
        raise KeyboardInterrupt

    monkeypatch.setattr(type(small_province), "save", lambda self, folder: half_save(folder))
    with pytest.raises(KeyboardInterrupt):
        io.load_province("synth", cache_dir=tmp_path, **SMALL)
    assert _files(tmp_path) == []


def test_load_province_uses_the_cache_dir_of_the_environment(tmp_path, monkeypatch, small_province):
    from dmkit import synth

    monkeypatch.setattr(synth, "generate", lambda *a, **k: small_province)
    monkeypatch.setenv("DMKIT_CACHE_DIR", str(tmp_path / "env-cache"))
    io.load_province("synth", **SMALL)
    assert (io.synth_cache_path(cache_dir=tmp_path / "env-cache", **SMALL) / "_COMPLETE.json").is_file()


@pytest.mark.parametrize("fmt", FORMATS)
def test_load_province_reads_a_folder_of_extracts(tmp_path, fmt, small_province):
    for t in schema.TABLES:
        io.write_table(getattr(small_province, t), t, tmp_path, format=fmt,
                       province="yunnan", month="2009-05")
    got = io.load_province(tmp_path, province="yunnan", month="2009-05")
    _assert_same_tables(got, small_province, exact=False)
    assert got.truth is None and got.meta["source"] == str(tmp_path)
    # a later extract does not leak into this month's view
    later = small_province.usage[small_province.usage["month"] == "2009-05"].assign(month="2009-06")
    io.write_table(later, "usage", tmp_path, format=fmt, province="yunnan", month="2009-06")
    again = io.load_province(tmp_path, province="yunnan", month="2009-05")
    assert len(again.usage) == len(small_province.usage)
    assert again.usage["month"].astype(str).max() == "2009-05"
    with pytest.raises(DataNotFoundError, match=r"table 'users': no .parquet or .csv files under .* for "
                                                r"province=yunnan, month=2009-04"):
        io.load_province(tmp_path, province="yunnan", month="2009-04")


def test_load_province_extract_errors(tmp_path, small_province):
    with pytest.raises(DataNotFoundError, match=r"data folder '.*nowhere' does not exist"):
        io.load_province(tmp_path / "nowhere", province="yunnan", month="2009-05")
    io.write_table(small_province.users, "users", tmp_path, month="2009-05")
    with pytest.raises(DataNotFoundError, match=r"has no table\(s\) \['usage', 'subscriptions'"):
        io.load_province(tmp_path, province="yunnan", month="2009-05")
    with pytest.raises(ParameterError, match=r"parameter 'month': expected a month 'YYYY-MM'"):
        io.load_province("synth", province="yunnan", month="May 2009")


@pytest.mark.parametrize("fmt", FORMATS)
def test_sub_second_timestamps_stay_distinct_keys(tmp_path, fmt):
    ev = frame("events")
    ev["user_id"] = 2
    ev["ts"] = pd.to_datetime(["2009-06-01 12:00:00", "2009-06-01 12:00:00.250", "2009-06-01 12:00:00.250001"],
                              format="ISO8601")
    io.write_table(ev, "events", tmp_path, format=fmt, province="jiangsu", month="2009-06")
    pd.testing.assert_frame_equal(io.read_table(tmp_path, "events"), ev)


def test_single_parquet_file_round_trip_and_nanoseconds_refused(tmp_path):
    df = pd.DataFrame({"user_id": [1, 2], "at": pd.to_datetime(["2009-06-01 10:00:00.000001", None])})
    io.write_parquet_atomic(df, tmp_path / "t.parquet")
    back = io.read_parquet_file(tmp_path / "t.parquet")
    pd.testing.assert_frame_equal(back, df)  # same values, ns unit again
    bad = df.assign(at=df["at"] + pd.Timedelta(1, "ns"))
    with pytest.raises(SchemaError, match=r"table 'u'.*column 'at'"):
        io.write_parquet_atomic(bad, tmp_path / "u.parquet")
    assert not (tmp_path / "u.parquet").exists()
