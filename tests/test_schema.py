"""The data contract: every table's valid frame passes, every kind of violation is named."""
from __future__ import annotations

import re

import numpy as np
import pandas as pd
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from dmkit import catalog, schema
from dmkit.errors import ParameterError, SchemaError
from tests.contract_frames import FRAMES, frame

SPECS = [(t, s) for t in schema.TABLES for s in schema.COLUMNS[t]]


def _id(p):
    return f"{p[0]}.{p[1].name}" if isinstance(p, tuple) else str(p)


def _col(name: str) -> str:
    return f"column '{re.escape(name)}'"


def test_the_contract_has_the_eight_tables_of_the_design():
    assert schema.TABLES == ("users", "usage", "subscriptions", "kpis", "contacts", "edges",
                             "events", "revenue")
    assert set(FRAMES) == set(schema.TABLES)
    for t in schema.TABLES:
        names = [s.name for s in schema.COLUMNS[t]]
        assert len(names) == len(set(names)), t
        assert set(schema.KEYS[t]) <= set(names), t


@pytest.mark.parametrize("table", schema.TABLES)
def test_valid_frame_passes_and_is_returned_unchanged(table):
    df = frame(table)
    before = df.copy()
    out = schema.validate(df, table)
    assert out is df
    pd.testing.assert_frame_equal(df, before)


@pytest.mark.parametrize("table", schema.TABLES)
def test_extra_columns_and_narrow_dtypes_are_allowed(table):
    df = frame(table)
    df["analyst_note"] = "x"
    for s in schema.COLUMNS[table]:
        if s.kind == "int":
            df[s.name] = df[s.name].astype("int32")
        elif s.kind == "str" and s.allowed is not None:
            df[s.name] = df[s.name].astype("category")
    schema.validate(df, table)


@pytest.mark.parametrize("table", schema.TABLES)
def test_empty_table_is_refused(table):
    with pytest.raises(SchemaError, match=rf"table '{table}': expected at least one row; found an empty table"):
        schema.validate(frame(table).iloc[:0], table)


@pytest.mark.parametrize(("table", "spec"), SPECS, ids=[_id(p) for p in SPECS])
def test_missing_column_is_named(table, spec):
    df = frame(table).drop(columns=spec.name)
    with pytest.raises(SchemaError, match=_col(spec.name)) as info:
        schema.validate(df, table)
    assert info.value.table == table and info.value.column == spec.name
    assert "no column(s)" in str(info.value)


WRONG = {
    "int": ["a", "b"],               # text in a count
    "float": ["1.5", "x"],
    "bool": [1.5, 2.5],
    "datetime": ["2009-06-01", "2009-06-02"],  # unparsed text is not a datetime
    "str": [1, 2],
    "month": [200906, 200907],
}


@pytest.mark.parametrize(("table", "spec"), SPECS, ids=[_id(p) for p in SPECS])
def test_wrong_dtype_is_named(table, spec):
    df = frame(table)
    vals = WRONG[spec.kind]
    df[spec.name] = (vals * len(df))[: len(df)]
    with pytest.raises(SchemaError, match=_col(spec.name) + r": expected .*; found dtype") as info:
        schema.validate(df, table)
    assert info.value.column == spec.name


LOW0 = [(t, s) for t, s in SPECS if s.low == 0]
RATES = [(t, s) for t, s in SPECS if s.low == 0 and s.high == 1]
ALLOWED = [(t, s) for t, s in SPECS if s.allowed is not None]
MONTHS = [(t, s) for t, s in SPECS if s.kind == "month"]
NOT_NULL = [(t, s) for t, s in SPECS if not s.nullable]


@pytest.mark.parametrize(("table", "spec"), LOW0, ids=[_id(p) for p in LOW0])
def test_negative_count_is_named_with_its_row(table, spec):
    df = frame(table)
    df.loc[1, spec.name] = -1
    with pytest.raises(SchemaError, match=_col(spec.name) + r": expected values >= 0") as info:
        schema.validate(df, table)
    key = {k: df.loc[1, k] for k in schema.KEYS[table]}
    assert info.value.rows == [key]


def test_counts_are_among_the_checked_columns():
    assert {"sms_p2p", "arpu", "call_days", "complaints"} <= {s.name for t, s in LOW0 if t == "usage"}
    assert {s.name for t, s in RATES if t == "kpis"} == {"penetration", "revenue_share", "retention",
                                                         "activity", "loyalty"}


@pytest.mark.parametrize(("table", "spec"), RATES, ids=[_id(p) for p in RATES])
def test_rate_above_one_is_named(table, spec):
    df = frame(table)
    df.loc[0, spec.name] = 1.2
    with pytest.raises(SchemaError, match=_col(spec.name) + r": expected values <= 1"):
        schema.validate(df, table)


@pytest.mark.parametrize("bad", ["2009-13", "2009/06", "200906", "09-06", "2009-6", "2009-06-01"])
@pytest.mark.parametrize(("table", "spec"), MONTHS, ids=[_id(p) for p in MONTHS])
def test_bad_month_is_named(table, spec, bad):
    df = frame(table)
    df.loc[0, spec.name] = bad
    with pytest.raises(SchemaError, match=_col(spec.name) + r": expected months as 'YYYY-MM'") as info:
        schema.validate(df, table)
    assert bad in str(info.value)


@pytest.mark.parametrize(("table", "spec"), ALLOWED, ids=[_id(p) for p in ALLOWED])
def test_unknown_code_is_named(table, spec):
    df = frame(table)
    df[spec.name] = df[spec.name].astype(object)
    df.loc[0, spec.name] = "bogus_code"
    with pytest.raises(SchemaError, match=_col(spec.name) + r": expected one of \[") as info:
        schema.validate(df, table)
    assert "bogus_code" in str(info.value)


def test_brand_and_service_vocabularies_come_from_the_catalog():
    allowed = {s.name: s.allowed for s in schema.COLUMNS["users"]}
    assert allowed["brand"] == catalog.BRANDS == ("gotone", "mzone", "easyown")
    assert {s.allowed for t, s in SPECS if s.name == "service"} == {catalog.SERVICES}
    assert len(catalog.SERVICES) == 35


@pytest.mark.parametrize(("table", "spec"), NOT_NULL, ids=[_id(p) for p in NOT_NULL])
def test_null_in_a_non_null_column_is_named(table, spec):
    df = frame(table)
    df[spec.name] = df[spec.name].astype(object)
    df.loc[2, spec.name] = None
    with pytest.raises(SchemaError, match=_col(spec.name) + r": expected no missing values; found 1 missing"):
        schema.validate(df, table)


def test_nullable_columns_accept_nulls():
    df = frame("contacts")
    for s in schema.COLUMNS["contacts"]:
        if s.nullable:
            df[s.name] = pd.NaT
    schema.validate(df, "contacts")


@pytest.mark.parametrize("table", schema.TABLES)
def test_duplicate_key_is_named_with_the_key_columns(table):
    df = frame(table)
    df = pd.concat([df, df.iloc[[0]]], ignore_index=True)
    keys = ", ".join(schema.KEYS[table])
    with pytest.raises(SchemaError, match=rf"column '{keys}': expected unique keys") as info:
        schema.validate(df, table)
    assert len(info.value.rows) == 2  # both copies of the duplicated key are shown
    schema.validate(df, table, check_keys=False)  # and the check can be skipped


def test_subscription_ending_before_it_starts_is_named():
    df = frame("subscriptions")
    df.loc[0, "end"] = df.loc[0, "start"] - pd.Timedelta(days=1)
    with pytest.raises(SchemaError, match=r"column 'end': expected end >= start; found 1 subscriptions") as info:
        schema.validate(df, "subscriptions")
    assert info.value.rows == [{"user_id": 1, "service": "newspaper", "start": df.loc[0, "start"]}]


def test_row_keys_are_capped_at_five_with_a_count_of_the_rest():
    df = pd.concat([frame("usage")] * 3, ignore_index=True)
    df["user_id"] = np.arange(len(df))
    df["sms_p2p"] = -1
    with pytest.raises(SchemaError, match=r"found 12 failing value\(s\), e.g. \[-1, -1, -1\]") as info:
        schema.validate(df, "usage")
    assert info.value.rows == [{"user_id": i, "month": df.loc[i, "month"]} for i in range(5)]


def test_not_a_frame_and_unknown_table():
    with pytest.raises(SchemaError, match=r"table 'usage': expected a pandas DataFrame; found dict"):
        schema.validate({"user_id": [1]}, "usage")
    with pytest.raises(ParameterError, match=r"parameter 'table': expected one of \['users'"):
        schema.validate(frame("usage"), "usages")


# --- properties ------------------------------------------------------------------
COUNT_COLS = [s.name for s in schema.COLUMNS["usage"]
              if s.kind == "int" and s.low == 0 and s.high is None and s.name not in schema.KEYS["usage"]]


@settings(max_examples=40, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(
    values=st.lists(st.integers(min_value=0, max_value=10**9), min_size=4, max_size=4),
    col=st.sampled_from(COUNT_COLS),
    negative=st.one_of(st.none(), st.tuples(st.integers(0, 3), st.integers(-(10**9), -1))),
)
def test_property_a_count_fails_exactly_when_some_value_is_negative(values, col, negative):
    df = frame("usage")
    df[col] = values
    if negative is not None:
        df.loc[negative[0], col] = negative[1]
        with pytest.raises(SchemaError, match=_col(col)):
            schema.validate(df, "usage")
    else:
        schema.validate(df, "usage")


@settings(max_examples=60, deadline=None)
@given(text=st.one_of(
    st.tuples(st.integers(1900, 2100), st.integers(1, 12)).map(lambda ym: f"{ym[0]:04d}-{ym[1]:02d}"),
    st.text(min_size=0, max_size=10),
))
def test_property_months_pass_exactly_when_they_read_yyyy_mm(text):
    df = frame("revenue")
    df["month"] = [text, text, text]
    df["line"] = ["operating", "data_vas", "promo"]
    is_month = re.fullmatch(r"\d{4}-(0[1-9]|1[0-2])", text) is not None
    if is_month:
        schema.validate(df, "revenue")
    else:
        with pytest.raises(SchemaError, match=_col("month")):
            schema.validate(df, "revenue")


# --- the documentation of the contract ----------------------------------------------
def _readme_tables() -> dict[str, dict[str, list[str]]]:
    from pathlib import Path

    text = (Path(__file__).resolve().parents[1] / "data" / "README.md").read_text(encoding="utf-8")
    out: dict[str, dict[str, list[str]]] = {}
    current = None
    for line in text.splitlines():
        if line.startswith("### "):
            current = line[4:].strip()
            out[current] = {}
        elif current and line.startswith("| `"):
            cells = [c.strip() for c in line.strip().strip("|").split("|")]
            out[current][cells[0].strip("`")] = cells[1:]
    return out


KIND_WORDS = {"int": "integer", "float": "number", "str": "text", "bool": "boolean",
              "datetime": "timestamp", "month": "month"}


@pytest.mark.parametrize("table", schema.TABLES)
def test_data_readme_documents_every_column_with_type_unit_meaning_and_key(table):
    doc = _readme_tables()[table]
    assert list(doc) == [s.name for s in schema.COLUMNS[table]]
    for s in schema.COLUMNS[table]:
        kind, unit, meaning, allowed, key, empty = doc[s.name]
        assert kind == KIND_WORDS[s.kind], s.name
        assert unit == (s.unit or "—"), s.name
        assert meaning == s.meaning, s.name
        assert (key == "key") == (s.name in schema.KEYS[table]), s.name
        assert (empty == "yes") == s.nullable, s.name
        if s.allowed is not None and len(s.allowed) <= 3:
            assert all(f"`{v}`" in allowed for v in s.allowed), s.name
        if s.low is not None and s.high is not None:
            assert allowed.replace(".0", "") == f"{s.low:g} to {s.high:g}", s.name


def test_data_readme_lists_every_service_code():
    doc = _readme_tables()["Vocabularies"]
    assert list(doc) == list(catalog.SERVICES)
