"""Validation that reports everything at once: dm.schema.validate and `dmkit validate [--json]`."""
from __future__ import annotations

import json

import numpy as np
import pandas as pd
import pytest

from dmkit import schema
from dmkit.contract.checks import check, check_files, shorten
from dmkit.errors import SchemaError
from tests.contract_frames import frame
from tests.test_cli import run


def _broken_usage() -> pd.DataFrame:
    df = pd.concat([frame("usage")] * 3, ignore_index=True)
    df["user_id"] = np.arange(len(df))
    df.loc[[1, 4, 7], "sms_p2p"] = -1          # 3 negative counts
    df.loc[[2, 5], "call_days"] = 40           # 2 days above 31
    df.loc[0, "arpu"] = np.inf                 # 1 infinite spend
    df.loc[[3, 6, 9, 10], "month"] = "2009-13"  # 4 months that do not exist
    return df


def test_every_failing_column_and_check_is_reported_with_counts_and_example_keys():
    report = check(_broken_usage(), "usage")
    got = [(f.column, f.check, f.count) for f in report.failures]
    assert got == [("month", "month", 4), ("arpu", "finite", 1), ("call_days", "le", 2), ("sms_p2p", "ge", 3)]
    sms = report.failures[-1]
    assert [r["user_id"] for r in sms.rows] == [1, 4, 7] and sms.values == (-1, -1, -1)
    assert not report.ok and report.n_rows == 12
    table = report.to_frame()
    assert table["count"].tolist() == [4, 1, 2, 3]
    assert "4 failing checks" in report.plot().get_title()


def test_schema_validate_raises_one_error_listing_every_failure():
    with pytest.raises(SchemaError) as info:
        schema.validate(_broken_usage(), "usage")
    msg = str(info.value)
    assert msg.startswith("table 'usage', column 'month': expected months as 'YYYY-MM'; found 4 failing")
    assert "Also 3 more failing check(s): column 'arpu': expected finite numbers (no inf)" in msg
    assert "column 'call_days': expected values <= 31; found 2 failing value(s)" in msg
    assert "column 'sms_p2p': expected values >= 0; found 3 failing value(s)" in msg
    assert info.value.column == "month" and info.value.report.failures[1].column == "arpu"


def test_missing_nulls_dtypes_and_duplicate_keys_are_all_reported():
    df = frame("subscriptions").drop(columns="source")
    df = pd.concat([df, df.iloc[[0]]], ignore_index=True)
    df["channel"] = df["channel"].astype(object)
    df.loc[1, "channel"] = None
    df["user_id"] = df["user_id"].astype(str)
    report = check(df, "subscriptions")
    assert [(f.column, f.check) for f in report.failures] == [
        ("source", "required"), ("user_id", "dtype"), ("channel", "not_null"), ("user_id, service, start", "unique_key")]


def test_shorten_cuts_a_list_with_an_ellipsis_and_the_count_left_out():
    assert shorten(list("abc"), 5) == "['a', 'b', 'c']"
    assert shorten([f"c{i}" for i in range(20)], 3) == "['c0', 'c1', 'c2', ... (17 more)]"


def test_a_mapped_column_absent_names_the_extract_columns_with_an_ellipsis(tmp_path):
    df = frame("usage").drop(columns="arpu")
    df.to_csv(tmp_path / "u.csv", index=False)
    with pytest.raises(SchemaError, match=r"found neither; the extract has \['user_id', .*'wap_visits', \.\.\. "
                                          r"\(4 more\)\]"):
        check_files(tmp_path / "u.csv", "usage", mapping={"usage": {"NOPE": "arpu"}})


def _write(tmp_path, df, name="usage.csv"):
    df.to_csv(tmp_path / name, index=False)
    return str(tmp_path / name)


def test_dmkit_validate_lists_every_failure_and_exits_1(capsys, tmp_path):
    path = _write(tmp_path, _broken_usage())
    code, out, err = run(capsys, "validate", path, "--table", "usage")
    assert code == 1 and out == ""
    lines = err.strip().splitlines()
    assert lines[0].startswith("dmkit validate: error: table 'usage' breaks the contract: 4 failing checks "
                               "in 12 rows")
    assert [line.split(":")[0] for line in lines[1:]] == [
        "  - table 'usage', column 'month'", "  - table 'usage', column 'arpu'",
        "  - table 'usage', column 'call_days'", "  - table 'usage', column 'sms_p2p'"]
    assert "(user_id=1, month='2009-06')" in lines[4]
    assert "at file" in lines[1] and "line 5" in lines[1]  # the month that cannot be read, by line


def test_values_that_cannot_be_read_in_several_columns_are_all_reported(capsys, tmp_path):
    df = frame("usage").astype({"sms_p2p": object, "arpu": object})
    df.loc[1, "sms_p2p"] = "lots"
    df.loc[2, "arpu"] = "n/a!"
    df.loc[3, "call_days"] = 40
    code, out, _ = run(capsys, "validate", _write(tmp_path, df), "--table", "usage", "--json")
    report = json.loads(out)
    assert code == 1
    assert [(f["column"], f["check"], f["count"]) for f in report["failures"]] == [
        ("arpu", "parse", 1), ("sms_p2p", "parse", 1), ("call_days", "le", 1)]
    assert "line 4" in report["failures"][0]["found"] and report["failures"][1]["values"] == ["lots"]


def test_dmkit_validate_json_is_machine_readable(capsys, tmp_path):
    path = _write(tmp_path, _broken_usage())
    code, out, err = run(capsys, "validate", path, "--table", "usage", "--json")
    assert code == 1 and err == ""
    report = json.loads(out)
    assert report["table"] == "usage" and report["ok"] is False and report["n_failures"] == 4
    sms = report["failures"][-1]
    assert sms == {"column": "sms_p2p", "check": "ge", "expected": "values >= 0",
                   "found": "3 failing value(s), e.g. [-1, -1, -1]", "count": 3, "values": [-1, -1, -1],
                   "rows": [{"user_id": 1, "month": "2009-06"}, {"user_id": 4, "month": "2009-05"},
                            {"user_id": 7, "month": "2009-06"}]}
    code, out, _ = run(capsys, "validate", _write(tmp_path, frame("usage"), "ok.csv"), "--table", "usage", "--json")
    assert code == 0 and json.loads(out)["ok"] is True


@pytest.mark.parametrize(("content", "code", "error_type", "message"), [
    (b"", 1, "SchemaError", "the file is empty (0 bytes)"),
    (b"user_id,month\n1,2009-06,7\n", 1, "SchemaError", "line 2: 3 field(s) where the header has 2"),
])
def test_dmkit_validate_json_reports_a_file_that_cannot_be_read(capsys, tmp_path, content, code, error_type,
                                                                  message):
    (tmp_path / "usage.csv").write_bytes(content)
    got, out, err = run(capsys, "validate", str(tmp_path / "usage.csv"), "--table", "usage", "--json")
    report = json.loads(out)
    assert got == code and err == ""
    assert report["ok"] is False and report["error_type"] == error_type and message in report["error"]
    got, out, err = run(capsys, "validate", str(tmp_path / "usage.csv"), "--table", "usage")
    assert got == code and out == "" and message in err and "Traceback" not in err


def test_dmkit_validate_json_bad_argument_exits_2(capsys, tmp_path):
    got, out, _ = run(capsys, "validate", str(tmp_path), "--table", "usages", "--json")
    assert got == 2 and json.loads(out)["error_type"] == "ParameterError"


@pytest.mark.parametrize("damage", ["empty_csv", "ragged_csv", "empty_parquet", "truncated_parquet",
                                    "not_parquet", "bad_bytes"])
def test_damaged_files_through_dmkit_validate_are_one_named_line(capsys, tmp_path, damage):
    good = frame("usage")
    suffix = "parquet" if "parquet" in damage else "csv"
    path = tmp_path / f"usage.{suffix}"
    if suffix == "parquet":
        good.to_parquet(path)
        data = path.read_bytes()
        path.write_bytes({"empty_parquet": b"", "truncated_parquet": data[: len(data) // 3],
                          "not_parquet": b"user_id,month\n1,2009-06\n"}[damage])
    else:
        text = good.to_csv(index=False)
        path.write_bytes({"empty_csv": b"", "ragged_csv": (text + "9,2009-06\n").encode(),
                          "bad_bytes": text.encode() + b"\xff\xfe\xfa\n"}[damage])
    code, out, err = run(capsys, "validate", str(path), "--table", "usage")
    assert code == 1 and out == ""
    lines = err.strip().splitlines()
    assert len(lines) == 1 and "Traceback" not in err, err
    assert lines[0].startswith(f"dmkit validate: error: table 'usage', file '{path}'")


def test_a_gbk_extract_with_a_gbk_mapping_passes_dmkit_validate(capsys, tmp_path):
    from tests.test_ingest import GBK_MAPPING, GBK_USERS, _users_csv

    path = _users_csv(tmp_path, GBK_USERS, "gbk")
    mapping = tmp_path / "m.yaml"
    mapping.write_bytes(GBK_MAPPING.encode("gbk"))
    code, out, err = run(capsys, "validate", str(path), "--table", "users", "--mapping", str(mapping))
    assert code == 0 and err == "" and "3 rows" in out
    mapping.write_bytes(GBK_MAPPING.encode("utf-16"))
    code, out, _ = run(capsys, "validate", str(path), "--table", "users", "--mapping", str(mapping))
    assert code == 0 and "3 rows" in out


def _wide_subscriptions(n: int, seed: int = 0) -> pd.DataFrame:
    """Subscriptions in no key order, starts to the millisecond (too wide to pack beside ids)."""
    rng = np.random.default_rng(seed)
    base = frame("subscriptions")
    df = base.iloc[rng.integers(0, len(base), n)].reset_index(drop=True)
    df["user_id"] = rng.integers(0, 50, n)
    df["service"] = pd.Categorical(rng.choice(["mms", "crbt", "wap"], n))
    df["start"] = pd.Timestamp("2004-01-01") + pd.to_timedelta(rng.integers(0, 5 * 365 * 86400 * 1000, n),
                                                                unit="ms")
    df["end"] = pd.NaT
    return df


@pytest.mark.parametrize("table, mutate", [
    ("subscriptions", None),                 # timestamps beside ids: the 64-bit mix
    ("usage", "shuffle"),                    # packs, not sorted: one sort
    ("usage", "sorted_by_month"),            # packs, sorted month-first: no sort
])
def test_duplicate_keys_are_found_as_pandas_finds_them_whatever_the_row_order(table, mutate):
    from dmkit.contract.checks import _duplicated_keys

    keys = list(schema.KEYS[table])
    if table == "subscriptions":
        df = _wide_subscriptions(5000)
    else:
        df = pd.concat([frame("usage")] * 40, ignore_index=True)
        df["user_id"] = np.arange(len(df)) // 2
        df["month"] = pd.Categorical(np.where(np.arange(len(df)) % 2, "2009-06", "2009-05"))
        df = df.sample(frac=1, random_state=1) if mutate == "shuffle" else df.sort_values(["month", "user_id"])
        df = df.reset_index(drop=True)
    assert not df.duplicated(keys).any() and _duplicated_keys(df, keys) is None
    assert check(df, table).ok
    bad = pd.concat([df, df.iloc[[7, 7, 3]]], ignore_index=True)
    got = _duplicated_keys(bad, keys)
    assert got is not None and (got == bad.duplicated(keys, keep=False).to_numpy()).all()
    fail = check(bad, table).failures[-1]
    assert fail.check == "unique_key" and fail.count == 5


def test_colliding_mixes_are_checked_exactly(monkeypatch):
    from dmkit.contract import checks as C

    df = _wide_subscriptions(500)
    keys = list(schema.KEYS["subscriptions"])
    monkeypatch.setattr(C, "_mix", lambda parts: np.zeros(len(parts[0]), dtype=np.uint64))  # all collide
    assert C._duplicated_keys(df, keys) is None
    bad = pd.concat([df, df.iloc[[0]]], ignore_index=True)
    assert C._duplicated_keys(bad, keys).sum() == 2


def test_codes_and_months_are_checked_on_categoricals_and_text_alike():
    df = frame("usage")
    for kind in ("category", object):
        d = df.astype({"month": kind})
        d["month"] = d["month"].astype(object)
        d.loc[[1, 2], "month"] = "2009-13"
        d = d.astype({"month": kind})
        fail = [f for f in check(d, "usage").failures if f.check == "month"]
        assert len(fail) == 1 and fail[0].count == 2 and fail[0].values == ("2009-13", "2009-13")
    subs = frame("subscriptions").astype({"channel": "category"})
    subs["channel"] = subs["channel"].cat.add_categories(["pigeon", "unused_code"])
    subs.loc[0, "channel"] = "pigeon"
    fails = [(f.column, f.check, f.count, f.values) for f in check(subs, "subscriptions").failures]
    assert fails == [("channel", "isin", 1, ("pigeon",))]  # an unused category is no failure


def test_validating_only_the_columns_read_accepts_a_projected_table_and_still_checks_them():
    subs = frame("subscriptions")
    projected = subs[["user_id", "service", "start", "end", "channel"]]
    with pytest.raises(SchemaError, match="column 'source'"):
        schema.validate(projected, "subscriptions")
    assert schema.validate(projected, "subscriptions", columns=list(projected.columns)) is projected
    bad = projected.assign(channel=projected["channel"].astype(object))
    bad.loc[0, "channel"] = "pigeon"
    with pytest.raises(SchemaError, match="column 'channel'"):
        schema.validate(bad, "subscriptions", columns=list(projected.columns))
    with pytest.raises(SchemaError, match=r"column 'end'.*no column\(s\) \['end'\]"):
        schema.validate(projected.drop(columns="end"), "subscriptions", columns=["user_id", "end"])
    dup = pd.concat([frame("users")] * 2, ignore_index=True)[["user_id", "age"]]
    assert not check(dup, "users", columns=["age"]).failures  # keys not listed: not checked
    assert check(dup, "users", columns=["user_id", "age"]).failures[0].check == "unique_key"
    from dmkit.errors import ParameterError

    with pytest.raises(ParameterError, match="columns"):
        check(projected, "subscriptions", columns=["nope"])
