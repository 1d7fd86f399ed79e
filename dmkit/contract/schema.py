"""The data contract: the eight tables of DESIGN.md as pandera schemas.

``validate(df, table)`` returns the frame unchanged when it keeps the contract and
raises :class:`dmkit.errors.SchemaError` naming the table, the column, what was
expected and a few offending row keys when it does not.

Dtypes are checked by kind, not exact width (int32 and int64 are both integers) so
that large provinces can be held memory-lean. String columns may be object, pandas
string or categorical. See ``data/README.md`` for every column's unit and meaning.
"""
from __future__ import annotations

import re
import sys
from collections.abc import Iterable
from dataclasses import dataclass
from typing import Literal

import pandas as pd

from dmkit.contract import catalog
from dmkit.contract.errors import schema_error


def _import_pandera():
    """``pandera.pandas``, imported without pandera's eager ``import pyspark.pandas``.

    When pyspark is installed (dmkit's Spark engine), ``import pandera`` imports
    ``pyspark.pandas`` for its pandas-on-Spark type hints: 0.5-0.8 s in every kernel and
    batch process, for types dmkit never uses (it validates pandas frames; the Spark
    engine uses ``pyspark.sql``). The module is marked missing during pandera's import
    only, so pandera skips that support; ``pyspark.pandas`` can be imported as usual later.
    """
    if "pandera" in sys.modules or "pyspark.pandas" in sys.modules:
        import pandera.pandas as pandera_pandas

        return pandera_pandas
    sys.modules["pyspark.pandas"] = None  # type: ignore[assignment]  # ImportError inside pandera
    try:
        import pandera.pandas as pandera_pandas
    finally:
        if "pyspark.pandas" in sys.modules and sys.modules["pyspark.pandas"] is None:
            del sys.modules["pyspark.pandas"]
    return pandera_pandas


pa = _import_pandera()

__all__ = ["TABLES", "OPTIONAL_TABLES", "KEYS", "COLUMNS", "validate", "require_columns", "schema_for", "ColumnSpec"]

Kind = Literal["int", "float", "str", "bool", "datetime", "month"]
MONTH_RE = re.compile(r"^\d{4}-(0[1-9]|1[0-2])$")


@dataclass(frozen=True)
class ColumnSpec:
    """One column of the contract."""

    name: str
    kind: Kind
    unit: str
    meaning: str
    nullable: bool = False
    low: float | None = None
    high: float | None = None
    allowed: tuple[str, ...] | None = None


def _c(name, kind, unit, meaning, **kw) -> ColumnSpec:
    return ColumnSpec(name, kind, unit, meaning, **kw)


COUNT = {"low": 0}
RATE = {"low": 0, "high": 1}

COLUMNS: dict[str, tuple[ColumnSpec, ...]] = {
    "users": (
        _c("user_id", "int", "id", "subscriber id (anonymised MSISDN)", low=0),
        _c("province", "str", "", "province code, e.g. 'jiangsu'"),
        _c("prefecture", "str", "", "prefecture / city (地市, 州市)"),
        _c("brand", "str", "", "gotone (全球通) / mzone (动感地带) / easyown (神州行)", allowed=catalog.BRANDS),
        _c("age", "int", "years", "age at the data month", low=0, high=120),
        _c("gender", "str", "", "M / F", allowed=catalog.GENDERS),
        _c("tenure_months", "int", "months", "months since the number was activated", **COUNT),
        _c("student", "bool", "", "registered as a student (campus package)"),
        _c("term_mms", "bool", "", "terminal can send and receive MMS"),
        _c("term_wap", "bool", "", "terminal can browse WAP"),
        _c("term_java", "bool", "", "terminal runs KJava applications"),
        _c("term_fetion", "bool", "", "terminal supports the Fetion client (by IMEI)"),
        _c("preferred_channel", "str", "", "the channel the user most often uses to order services", allowed=catalog.CHANNELS),
    ),
    "usage": (
        _c("user_id", "int", "id", "subscriber id", low=0),
        _c("month", "month", "YYYY-MM", "billing month"),
        _c("arpu", "float", "yuan/month", "average revenue (spend) in the month", **COUNT),
        _c("voice_minutes", "float", "minutes", "voice minutes of use (MOU)", **COUNT),
        _c("call_days", "int", "days", "days in the month with at least one call", low=0, high=31),
        _c("local_incoming_calls", "int", "calls", "incoming calls from the same city", **COUNT),
        _c("sms_p2p", "int", "messages", "person-to-person SMS sent", **COUNT),
        _c("sms_contacts", "int", "numbers", "distinct recipients of P2P SMS", **COUNT),
        _c("sms_fee", "float", "yuan", "SMS charges in the month", **COUNT),
        _c("monternet_sms", "int", "messages", "Monternet (梦网) SP SMS received/ordered", **COUNT),
        _c("mms", "int", "messages", "MMS sent", **COUNT),
        _c("gprs_kb", "float", "KB", "GPRS data volume", **COUNT),
        _c("wap_visits", "int", "visits", "WAP page visits", **COUNT),
        _c("recharges", "int", "top-ups", "number of top-ups (prepaid)", **COUNT),
        _c("complaints", "int", "complaints", "complaints lodged", **COUNT),
        _c("crbt_changes", "int", "changes", "colour ring-back tone changes", **COUNT),
        _c("music_downloads", "int", "downloads", "music / ringtone / full-song downloads", **COUNT),
    ),
    "subscriptions": (
        _c("user_id", "int", "id", "subscriber id", low=0),
        _c("service", "str", "", "service code (dmkit.catalog.SERVICES)", allowed=catalog.SERVICES),
        _c("start", "datetime", "timestamp", "when the subscription began"),
        _c("end", "datetime", "timestamp", "when it ended; null while active", nullable=True),
        _c("channel", "str", "", "channel it was ordered through", allowed=catalog.CHANNELS),
        _c("source", "str", "", "'organic' or the campaign id that produced it"),
    ),
    "kpis": (
        _c("region", "str", "", "prefecture (or province, for the national profile)"),
        _c("service", "str", "", "service code", allowed=catalog.SERVICES),
        _c("month", "month", "YYYY-MM", "month"),
        _c("penetration", "float", "share", "users of the service / subscribers (普及率)", **RATE),
        _c("revenue_share", "float", "share", "service revenue / total revenue (收入占比)", **RATE),
        _c("usage_per_user", "float", "units/user", "usage per user of the service (人均使用量)", **COUNT),
        _c("retention", "float", "share", "users kept from last month (客户保有)", **RATE),
        _c("activity", "float", "share", "active users / users (活跃度)", **RATE),
        _c("growth", "float", "ratio", "month-on-month user growth (增长度), may be negative", low=-1),
        _c("loyalty", "float", "share", "users of 6+ months / users (忠诚度)", **RATE),
    ),
    "contacts": (
        _c("campaign_id", "str", "", "campaign id, e.g. 'JS-2009-06-worldcup'"),
        _c("user_id", "int", "id", "subscriber id", low=0),
        _c("step", "int", "", "campaign step (1, 2, ...)", low=1),
        _c("service", "str", "", "service offered", allowed=catalog.SERVICES),
        _c("group", "str", "", "target (contacted) or control (held out)", allowed=catalog.CONTACT_GROUPS),
        _c("sent_at", "datetime", "timestamp", "when the offer was sent; null for control", nullable=True),
        _c("delivered", "bool", "", "the message reached the handset"),
        _c("replied_at", "datetime", "timestamp", "when the user replied; null if never", nullable=True),
        _c("reply_valid", "bool", "", "the reply matched the order command"),
        _c("subscribed_at", "datetime", "timestamp", "when the service was ordered; null if never", nullable=True),
        _c("unsubscribed_at", "datetime", "timestamp", "when it was cancelled; null if kept", nullable=True),
    ),
    "edges": (
        _c("user_id", "int", "id", "subscriber id", low=0),
        _c("peer_id", "int", "id", "the contact's number (id; may be off-net)", low=0),
        _c("month", "month", "YYYY-MM", "month"),
        _c("sms", "int", "messages", "SMS from user to peer", **COUNT),
        _c("calls", "int", "calls", "calls from user to peer", **COUNT),
    ),
    "events": (
        _c("user_id", "int", "id", "subscriber id", low=0),
        _c("ts", "datetime", "timestamp", "when the download happened"),
        _c("content_id", "int", "id", "content item", low=0),
        _c("genre", "str", "", "content genre (dmkit.catalog.GENRES)", allowed=catalog.GENRES),
        _c("channel", "str", "", "channel of the download", allowed=catalog.CHANNELS),
        _c("sp_id", "str", "", "service provider (SP) id"),
    ),
    "revenue": (
        _c("month", "month", "YYYY-MM", "month"),
        _c("line", "str", "", "revenue line: operating / new_business / data_vas / promo, or a service line"),
        _c("amount", "float", "yuan", "revenue in the month", **COUNT),
    ),
    "locations": (
        _c("user_id", "int", "id", "subscriber id", low=0),
        _c("month", "month", "YYYY-MM", "month of the observations"),
        _c("cell_id", "int", "id", "cell (小区) or area where the handset was seen (cell-broadcast signalling)", low=0),
        _c("hall_id", "int", "id", "service hall (营业厅) whose radius (辐射区) holds the cell, from the operator's cell-to-hall map", low=0),
        _c("n_night", "int", "sightings", "sightings 22:00-07:00, every day (home circle, 家庭圈)", **COUNT),
        _c("n_workday", "int", "sightings", "sightings 07:00-18:00, Monday to Friday (work circle, 工作圈)", **COUNT),
        _c("n_evening", "int", "sightings", "sightings 18:00-22:00, every day (leisure circle, 休闲圈)", **COUNT),
        _c("n_weekend", "int", "sightings", "sightings 07:00-18:00, Saturday and Sunday (leisure circle, 休闲圈)", **COUNT),
    ),
}

KEYS: dict[str, tuple[str, ...]] = {
    "users": ("user_id",),
    "usage": ("user_id", "month"),
    "subscriptions": ("user_id", "service", "start"),
    "kpis": ("region", "service", "month"),
    "contacts": ("campaign_id", "user_id", "step"),
    "edges": ("user_id", "peer_id", "month"),
    "events": ("user_id", "ts"),
    "revenue": ("month", "line"),
    "locations": ("user_id", "month", "cell_id"),
}
OPTIONAL_TABLES: tuple[str, ...] = ("locations",)
"""Contract tables a province's extracts may lack: ``locations`` (case G4's life-circle
signalling) is read and validated like the others but is not one of :data:`TABLES`."""
TABLES: tuple[str, ...] = tuple(t for t in COLUMNS if t not in OPTIONAL_TABLES)


def _kind_check(kind: Kind) -> pa.Check:
    tests = {
        "int": pd.api.types.is_integer_dtype,
        "float": lambda s: pd.api.types.is_numeric_dtype(s) and not pd.api.types.is_bool_dtype(s),
        "bool": pd.api.types.is_bool_dtype,
        "datetime": pd.api.types.is_datetime64_any_dtype,
        "str": lambda s: pd.api.types.is_string_dtype(s) or isinstance(s.dtype, pd.CategoricalDtype)
        or s.dtype == object,
        "month": lambda s: pd.api.types.is_string_dtype(s) or isinstance(s.dtype, pd.CategoricalDtype)
        or s.dtype == object,
    }
    label = {"int": "an integer dtype", "float": "a numeric dtype", "bool": "a boolean dtype",
             "datetime": "a datetime64 dtype", "str": "a string dtype",
             "month": "strings 'YYYY-MM'"}[kind]
    return pa.Check(lambda s, t=tests[kind]: bool(t(s)), element_wise=False, error=label, name="dtype")


def _value_checks(spec: ColumnSpec) -> list[pa.Check]:
    checks = []
    if spec.low is not None:
        checks.append(pa.Check.ge(spec.low, error=f"values >= {spec.low}"))
    if spec.high is not None:
        checks.append(pa.Check.le(spec.high, error=f"values <= {spec.high}"))
    if spec.allowed is not None:
        checks.append(pa.Check.isin(list(spec.allowed), error=f"one of {list(spec.allowed)}"))
    if spec.kind == "month":
        checks.append(pa.Check.str_matches(MONTH_RE.pattern, error="months as 'YYYY-MM'"))
    return checks


_SCHEMAS: dict[str, pa.DataFrameSchema] = {}


def schema_for(table: str) -> pa.DataFrameSchema:
    """The pandera schema of ``table`` (one of :data:`TABLES`)."""
    if table not in COLUMNS:
        from dmkit.errors import parameter_error

        raise parameter_error("table", expected=f"one of {list(TABLES) + list(OPTIONAL_TABLES)}", found=table)
    if table not in _SCHEMAS:
        cols = {
            s.name: pa.Column(None, checks=_value_checks(s), nullable=s.nullable, required=True)
            for s in COLUMNS[table]
        }
        _SCHEMAS[table] = pa.DataFrameSchema(cols, name=table, strict=False)
    return _SCHEMAS[table]


def require_columns(table: str, columns: Iterable[str]) -> None:
    """Raise :class:`~dmkit.errors.SchemaError` naming the first contract column of ``table``
    missing from ``columns`` (pandas and Spark tables alike)."""
    specs = COLUMNS[table]
    present = set(columns)
    missing = [s.name for s in specs if s.name not in present]
    if missing:
        raise schema_error(table=table, column=missing[0],
                           expected=f"columns {[s.name for s in specs]}",
                           found=f"no column(s) {missing}",
                           fix="rename the extract's columns (dmkit.io mapping YAML) or add them")


def validate(df: pd.DataFrame, table: str, *, check_keys: bool = True,
             columns: Iterable[str] | None = None) -> pd.DataFrame:
    """Check ``df`` against the contract of ``table`` and return it unchanged.

    Parameters
    ----------
    df : DataFrame
        The table. Extra columns are allowed and kept.
    table : str
        One of ``users, usage, subscriptions, kpis, contacts, edges, events, revenue`` or
        an optional table (:data:`OPTIONAL_TABLES`: ``locations``).
    check_keys : bool, default True
        Also check that the key columns (:data:`KEYS`) are unique.
    columns : list of str, optional
        Only these contract columns are required and checked (what the caller reads, so
        that a table loaded with only those columns passes); keys are checked when every
        key column is listed. Default: every column.

    Returns
    -------
    DataFrame
        ``df`` itself.

    Raises
    ------
    SchemaError
        Empty table, missing column, wrong dtype kind, value out of range or not
        allowed, null in a non-nullable column, or duplicate key. Every failing column
        and check is found at once (vectorised checks, no copy of ``df``): the message starts with the
        first (its table, column and up to five offending row keys are the error's
        attributes) and lists the others; ``err.report`` is the whole
        :class:`dmkit.contract.checks.ValidationReport`. Codes are checked against the
        active catalog (:func:`dmkit.catalog.use_catalog`).
    """
    from dmkit.contract.checks import check

    report = check(df, table, check_keys=check_keys, columns=None if columns is None else list(columns))
    if not report.ok:
        raise report.error()
    return df
