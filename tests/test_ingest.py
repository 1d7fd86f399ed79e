"""dmkit.contract.ingest through dm.io.read_table: every bad byte of a real extract is named.

Each case is one of issue 11's probe findings: encodings (GBK, BOM), empty, ragged,
truncated and non-Parquet files, flipped Parquet bytes, YYYYMMDD and dd/mm dates,
spreadsheet months, integers above int64 and infinities.
"""
from __future__ import annotations

import numpy as np
import pandas as pd
import pyarrow as pa
import pyarrow.parquet as pq
import pytest

from dmkit import io, schema
from dmkit.contract import ingest
from dmkit.errors import DataNotFoundError, ParameterError, SchemaError
from tests.contract_frames import frame

GBK_USERS = (
    "用户号码,省份,地市,品牌,年龄,性别,网龄,学生,彩信,WAP,JAVA,飞信,偏好渠道\n"
    "1,jiangsu,南京,gotone,35,M,60,否,1,1,1,0,hall\n"
    "2,jiangsu,苏州,mzone,19,F,8,是,1,1,0,1,sms\n"
    "3,jiangsu,无锡,easyown,52,M,120,否,0,0,0,0,wap\n"
)
GBK_MAPPING = (
    "users:\n  用户号码: user_id\n  省份: province\n  地市: prefecture\n  品牌: brand\n  年龄: age\n"
    "  性别: gender\n  网龄: tenure_months\n  学生: student\n  彩信: term_mms\n  WAP: term_wap\n"
    "  JAVA: term_java\n  飞信: term_fetion\n  偏好渠道: preferred_channel\n"
)


def _users_csv(tmp_path, text: str, encoding: str, name="users.csv"):
    path = tmp_path / name
    path.write_bytes(text.replace("否", "N").replace("是", "Y").encode(encoding))
    return path


# --- encodings -----------------------------------------------------------------------
@pytest.mark.parametrize("declared", [None, "gbk", "gb18030"])
def test_a_gbk_encoded_chinese_extract_is_read_correctly(tmp_path, declared):
    path = _users_csv(tmp_path, GBK_USERS, "gbk")
    mapping = tmp_path / "mapping.yaml"
    head = f"encoding: {declared}\n" if declared else ""
    mapping.write_bytes((head + GBK_MAPPING).encode("gbk"))  # a GBK mapping YAML too
    got = io.read_table(path, "users", mapping=mapping)
    assert got["prefecture"].tolist() == ["南京", "苏州", "无锡"]
    expected = frame("users").assign(prefecture=["南京", "苏州", "无锡"])
    pd.testing.assert_frame_equal(got, expected)


def test_a_utf8_bom_header_is_not_part_of_the_first_column(tmp_path):
    path = tmp_path / "usage.csv"
    path.write_bytes(b"\xef\xbb\xbf" + frame("usage").to_csv(index=False).encode())
    pd.testing.assert_frame_equal(io.read_table(path, "usage"), frame("usage"))


def test_bytes_valid_in_no_encoding_are_named_by_file_and_line(tmp_path):
    path = tmp_path / "usage.csv"
    text = frame("usage").to_csv(index=False).encode()
    lines = text.split(b"\n")
    lines[3] = lines[3] + b"\xff\xfe"
    path.write_bytes(b"\n".join(lines))
    with pytest.raises(SchemaError, match=r"table 'usage', file '.*usage.csv', line 4: bytes that are not "
                                          r"valid UTF-8 or GB18030 \(GBK\) text.*Fix: give the file's encoding"):
        io.read_table(path, "usage")


def test_a_declared_encoding_that_does_not_fit_is_named(tmp_path):
    path = _users_csv(tmp_path, GBK_USERS, "gbk")
    with pytest.raises(SchemaError, match=r"users.csv', line 1: bytes that are not valid utf-8 text"):
        io.read_table(path, "users", mapping={"encoding": "utf-8", "users": {}})
    with pytest.raises(ParameterError, match=r"unknown encoding 'klingon'"):
        io.read_table(path, "users", mapping={"encoding": "klingon"})


# --- empty, ragged, truncated ----------------------------------------------------------
def test_empty_and_header_only_csv_files_are_named(tmp_path):
    empty = tmp_path / "usage.csv"
    empty.write_bytes(b"")
    with pytest.raises(SchemaError, match=r"file '.*usage.csv': the file is empty \(0 bytes\)"):
        io.read_table(empty, "usage")
    empty.write_text(",".join(frame("usage").columns) + "\n")
    with pytest.raises(SchemaError, match=r"file '.*usage.csv': a header line but no rows"):
        io.read_table(empty, "usage")


@pytest.mark.parametrize(("change", "fields"), [(",7", 18), ("DROP", 16)])
def test_a_ragged_csv_is_named_with_its_line(tmp_path, change, fields):
    lines = frame("usage").to_csv(index=False).splitlines()
    lines[3] = lines[3].rsplit(",", 1)[0] if change == "DROP" else lines[3] + change
    path = tmp_path / "usage.csv"
    path.write_text("\n".join(lines) + "\n")
    with pytest.raises(SchemaError, match=rf"file '.*usage.csv', line 4: {fields} field\(s\) where the "
                                          r"header has 17 .* a ragged or truncated file") as info:
        io.read_table(path, "usage")
    assert info.value.rows == [{"file": str(path), "line": 4}]


def test_a_truncated_csv_is_named(tmp_path):
    text = frame("usage").to_csv(index=False)
    path = tmp_path / "usage.csv"
    path.write_text(text[: len(text) - 25])  # cut in the middle of the last row
    with pytest.raises(SchemaError, match=r"file '.*usage.csv', line 5: \d+ field\(s\) where the header has 17"):
        io.read_table(path, "usage")


def test_a_value_error_names_the_file_and_line_of_the_value(tmp_path):
    df = frame("usage").astype({"sms_p2p": object})
    df.loc[2, "sms_p2p"] = "lots"
    path = tmp_path / "usage.csv"
    df.to_csv(path, index=False)
    with pytest.raises(SchemaError, match=r"column 'sms_p2p': expected integers; found 1 value\(s\) that are "
                                          r"not, e.g. \['lots'\] at file '.*usage.csv' line 4"):
        io.read_table(path, "usage")


# --- Parquet ----------------------------------------------------------------------------
def _parquet(tmp_path, table="usage"):
    return io.write_table(frame(table), table, tmp_path / "ds", province="jiangsu", month="2009-06")


@pytest.mark.parametrize("damage", ["empty", "truncated", "not_parquet", "garbage"])
def test_zero_byte_truncated_and_non_parquet_files_are_named(tmp_path, damage):
    path = tmp_path / "usage.parquet"
    frame("usage").to_parquet(path)
    data = path.read_bytes()
    path.write_bytes({"empty": b"", "truncated": data[: len(data) // 2],
                      "not_parquet": frame("usage").to_csv(index=False).encode(),
                      "garbage": b"PAR1" + bytes(range(256)) * 4 + b"PAR1"}[damage])
    with pytest.raises(SchemaError, match=r"table 'usage', file '.*usage.parquet': (the file is empty \(0 bytes\)"
                                          r"|not a readable Parquet file)"):
        io.read_table(path, "usage")


def test_written_parquet_files_carry_page_checksums(tmp_path):
    (path,) = io.write_table(frame("revenue"), "revenue", tmp_path, month="2009-06")[:1]
    meta = pq.ParquetFile(path).metadata
    assert meta.num_row_groups >= 1
    # a page checksum mismatch is refused (checked below by flipping bytes); here: the
    # writer's option is on, so pyarrow reports the pages as checksummed on verification
    pq.read_table(path, page_checksum_verification=True)


def test_a_byte_flipped_parquet_file_is_never_read_with_changed_values(tmp_path):
    df = frame("usage")
    path = tmp_path / "usage.parquet"
    io.write_parquet_atomic(df, path)
    data = bytearray(path.read_bytes())
    rng = np.random.default_rng(11)
    refused = accepted_same = 0
    for pos in rng.choice(np.arange(4, len(data) - 8), size=60, replace=False):
        bad = bytearray(data)
        bad[pos] ^= 0xFF
        path.write_bytes(bytes(bad))
        try:
            got = io.read_table(path, "usage")
        except SchemaError as err:
            assert "usage.parquet" in str(err)
            refused += 1
        else:
            pd.testing.assert_frame_equal(got, df)  # a flip in unused bytes: same values
            accepted_same += 1
    assert refused >= 30, (refused, accepted_same)


# --- dates ------------------------------------------------------------------------------
def _subs_csv(tmp_path, starts, ends=None):
    df = frame("subscriptions").astype({"start": object, "end": object})
    df["start"] = starts
    df["end"] = ends if ends is not None else [None] * len(df)
    path = tmp_path / "subs.csv"
    df.to_csv(path, index=False)
    return path


def test_yyyymmdd_dates_are_dates_never_epoch_nanoseconds(tmp_path):
    path = _subs_csv(tmp_path, ["20090110", "20090302", "20090601"])
    got = io.read_table(path, "subscriptions")
    assert got["start"].tolist() == [pd.Timestamp("2009-01-10"), pd.Timestamp("2009-03-02"),
                                     pd.Timestamp("2009-06-01")]
    df = frame("subscriptions")
    df["start"] = [20090110, 20090302, 20090601]  # an integer column in Parquet
    df.to_parquet(tmp_path / "subs.parquet")
    got = io.read_table(tmp_path / "subs.parquet", "subscriptions")
    assert got["start"].dt.year.tolist() == [2009, 2009, 2009]
    assert got["start"].tolist()[0] == pd.Timestamp("2009-01-10")


def test_day_month_order_is_refused_when_ambiguous_and_read_when_given(tmp_path):
    path = _subs_csv(tmp_path, ["10/01/2009", "02/03/2009", "01/06/2009"])
    with pytest.raises(SchemaError, match=r"column 'start': expected dates whose day/month order is known; "
                                          r"found 3 dates ambiguous between dd/mm/yyyy and mm/dd/yyyy.*"
                                          r"Fix: give the column's format in the mapping YAML"):
        io.read_table(path, "subscriptions")
    got = io.read_table(path, "subscriptions", mapping={"date_format": "%d/%m/%Y"})
    assert got["start"].tolist() == [pd.Timestamp("2009-01-10"), pd.Timestamp("2009-03-02"),
                                     pd.Timestamp("2009-06-01")]
    got = io.read_table(path, "subscriptions", mapping={"formats": {"start": "%m/%d/%Y"}})
    assert got["start"].tolist()[0] == pd.Timestamp("2009-10-01")


def test_a_day_above_twelve_decides_the_order_for_the_whole_column(tmp_path):
    path = _subs_csv(tmp_path, ["10/01/2009", "02/03/2009", "25/06/2009"])
    got = io.read_table(path, "subscriptions")
    assert got["start"].tolist() == [pd.Timestamp("2009-01-10"), pd.Timestamp("2009-03-02"),
                                     pd.Timestamp("2009-06-25")]  # never day/month-swapped
    path = _subs_csv(tmp_path, ["13/01/2009", "02/14/2009", "01/06/2009"])
    with pytest.raises(SchemaError, match=r"fit neither order throughout"):
        io.read_table(path, "subscriptions")


@pytest.mark.parametrize("bad", ["2009-06-99", "2009-02-30", "2009-06-01xyz", "June 1st"])
def test_impossible_or_trailing_junk_dates_are_refused(tmp_path, bad):
    path = _subs_csv(tmp_path, ["2009-01-10", bad, "2009-06-01"])
    with pytest.raises(SchemaError, match=rf"column 'start': expected dates or timestamps; found 1 value\(s\) "
                                          rf"that are not, e.g. \['{bad}'\] at file '.*subs.csv' line 3"):
        io.read_table(path, "subscriptions")


def test_a_wrong_explicit_date_format_is_named(tmp_path):
    path = _subs_csv(tmp_path, ["2009-01-10", "2009-03-02", "2009-06-01"])
    with pytest.raises(SchemaError, match=r"expected dates in the format '%d/%m/%Y' \(mapping YAML\)"):
        io.read_table(path, "subscriptions", mapping={"date_format": "%d/%m/%Y"})


# --- months -----------------------------------------------------------------------------
def _revenue_csv(tmp_path, months):
    rev = frame("revenue")
    path = tmp_path / "rev.csv"
    pd.DataFrame({"month": months, "line": rev["line"], "amount": rev["amount"]}).to_csv(path, index=False)
    return path


def test_a_spreadsheet_month_2009_1_is_refused_as_ambiguous(tmp_path):
    path = _revenue_csv(tmp_path, ["2009.1", "2009.1", "2009.11"])
    with pytest.raises(SchemaError, match=r"column 'month': expected unambiguous months; found 2 month\(s\) "
                                          r"like '2009.1', which a spreadsheet writes for 2009.10"):
        io.read_table(path, "revenue")
    got = io.read_table(path, "revenue", mapping={"month_format": "decimal"})
    assert got["month"].tolist() == ["2009-10", "2009-10", "2009-11"]
    got = io.read_table(_revenue_csv(tmp_path, ["2009.1", "2009.1", "2009.2"]), "revenue",
                        mapping={"month_format": "%Y.%m"})
    assert got["month"].tolist() == ["2009-01", "2009-01", "2009-02"]


@pytest.mark.parametrize("bad", ["2009-06-99xyz", "2009-13", "2009-06-31", "June"])
def test_a_month_with_junk_or_out_of_range_is_refused(tmp_path, bad):
    path = _revenue_csv(tmp_path, ["2009-05", bad, "2009-06"])
    with pytest.raises(SchemaError, match=r"column 'month': expected months \(YYYY-MM, YYYYMM.*found 1 "
                                          rf"value\(s\) that are not, e.g. \['{bad}'\]"):
        io.read_table(path, "revenue")


def test_common_month_spellings_are_read(tmp_path):
    path = _revenue_csv(tmp_path, ["2009年5月", "2009.05", "20090615"])
    assert io.read_table(path, "revenue")["month"].tolist() == ["2009-05", "2009-05", "2009-06"]


# --- numbers ----------------------------------------------------------------------------
def test_integers_above_int64_are_refused_never_wrapped(tmp_path):
    df = frame("usage").astype({"user_id": object})
    df.loc[1, "user_id"] = "9223372036854775808"  # 2**63
    path = tmp_path / "usage.csv"
    df.to_csv(path, index=False)
    with pytest.raises(SchemaError, match=r"column 'user_id': expected integers within int64.*found 1 value\(s\) "
                                          r"outside int64, e.g. \['9223372036854775808'\] at file '.*' line 3"):
        io.read_table(path, "usage")
    df.loc[1, "user_id"] = "9223372036854775807"  # the largest int64 is fine
    df.to_csv(path, index=False)
    assert io.read_table(path, "usage")["user_id"].iloc[1] == np.iinfo(np.int64).max
    tbl = pa.Table.from_pandas(frame("usage")).set_column(
        0, "user_id", pa.array([1, 2**63 + 5, 2, 3], pa.uint64()))
    pq.write_table(tbl, tmp_path / "usage.parquet")
    with pytest.raises(SchemaError, match=r"column 'user_id': expected integers within int64.*above int64"):
        io.read_table(tmp_path / "usage.parquet", "usage")


@pytest.mark.parametrize("value", ["inf", "-inf", "Infinity"])
def test_infinite_numbers_are_refused(tmp_path, value):
    df = frame("usage").astype({"arpu": object})
    df.loc[2, "arpu"] = value
    path = tmp_path / "usage.csv"
    df.to_csv(path, index=False)
    with pytest.raises(SchemaError, match=r"column 'arpu': expected numbers; found 1 infinite value\(s\)"):
        io.read_table(path, "usage")
    bad = frame("usage")
    bad.loc[2, "arpu"] = float(value.replace("Infinity", "inf"))
    bad.to_parquet(tmp_path / "usage.parquet")
    with pytest.raises(SchemaError, match=r"column 'arpu': expected numbers; found 1 infinite value\(s\)"):
        io.read_table(tmp_path / "usage.parquet", "usage")
    with pytest.raises(SchemaError, match=r"column 'arpu': expected finite numbers \(no inf\)"):
        schema.validate(bad, "usage")  # a frame built in memory too


# --- YAML --------------------------------------------------------------------------------
def test_a_key_given_twice_in_a_mapping_is_refused(tmp_path):
    path = tmp_path / "m.yaml"
    path.write_text("usage:\n  MSISDN: user_id\n  ARPU: arpu\n  MSISDN: peer_id\n")
    with pytest.raises(ParameterError, match=r"mapping file '.*m.yaml': key 'MSISDN' is given twice "
                                             r"\(lines 2 and 4\); keep one"):
        io.load_mapping(path)


@pytest.mark.parametrize("encoding", ["utf-16", "utf-8-sig", "gb18030"])
def test_yaml_files_in_utf16_bom_or_gb18030_are_read(tmp_path, encoding):
    path = tmp_path / "m.yaml"
    path.write_bytes("usage:\n  用户: user_id\n".encode(encoding))
    assert io.load_mapping(path) == {"usage": {"用户": "user_id"}}
    assert ingest.load_yaml(path) == {"usage": {"用户": "user_id"}}
    with pytest.raises(DataNotFoundError, match=r"does not exist"):
        ingest.load_yaml(tmp_path / "none.yaml")


def test_a_key_given_twice_in_a_rule_library_is_refused(tmp_path):
    import dmkit as dm

    path = tmp_path / "rules.yaml"
    path.write_text("name: x\nrules:\n  - id: a\n    service: fetion\n    service: crbt\n")
    with pytest.raises(ParameterError, match=r"rule library '.*rules.yaml': key 'service' is given twice "
                                             r"\(lines 4 and 5\)"):
        dm.rules.load_rules(path)


def test_a_bad_value_in_the_second_partition_names_that_file_and_its_line(tmp_path):
    io.write_table(frame("usage"), "usage", tmp_path, format="csv", province="jiangsu")
    files = sorted((tmp_path / "usage").rglob("part.csv"))
    assert len(files) == 2  # months 2009-05 and 2009-06
    lines = files[1].read_text().splitlines()
    lines[2] = lines[2].replace(",", ",x", 1)  # month 'x2009-06' in the second data row
    files[1].write_text("\n".join(lines) + "\n")
    with pytest.raises(SchemaError, match=rf"column 'month': .* at file '{files[1]}' line 3"):
        io.read_table(tmp_path, "usage")
