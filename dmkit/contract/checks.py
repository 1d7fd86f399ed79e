"""Every way a table breaks the contract, at once (pandera's lazy validation).

:func:`check` returns a :class:`ValidationReport`: one :class:`Failure` per failing
column and check, with the number of failing rows, a few failing values and a few
example row keys. :func:`dmkit.schema.validate` raises it as one
:class:`~dmkit.errors.SchemaError` (its message lists every failure; the error's
``report`` attribute holds the report); ``dmkit validate`` prints it, or writes it as
JSON with ``--json``.

Checks, per column: present; no missing values (unless nullable); the dtype kind; then
(for the columns of the right kind) ranges, allowed codes (from the active catalog,
:mod:`dmkit.contract.catalog_yaml`), the ``YYYY-MM`` month pattern and finite numbers;
per table: unique keys and, for subscriptions, ``end >= start``.
"""
from __future__ import annotations

import json
from collections.abc import Sequence
from dataclasses import dataclass, field

import numpy as np
import pandas as pd
import pandera.pandas as pa

from dmkit.errors import SchemaError, schema_error

__all__ = ["Failure", "ValidationReport", "allowed_check", "check", "check_files", "shorten"]

_EXAMPLES = 5


def shorten(items: Sequence, limit: int = 12) -> str:
    """``[a, b, c, ...]``: a list cut at ``limit`` items, with an ellipsis and the count left out."""
    items = list(items)
    if len(items) <= limit:
        return repr(items)
    return "[" + ", ".join(map(repr, items[:limit])) + f", ... ({len(items) - limit} more)]"


@dataclass(frozen=True)
class Failure:
    """One failing check of one column.

    Attributes
    ----------
    column : str or None
        The column (for key checks, the key columns joined by ", "; None for the table).
    check : str
        Short name: ``required``, ``not_null``, ``dtype``, ``ge``, ``le``, ``isin``,
        ``month``, ``finite``, ``unique_key``, ``end_after_start``, ``rows``.
    expected, found : str
        What the contract asks for, what the table has.
    count : int
        Failing rows (or values).
    values : list
        A few failing values.
    rows : list of dict
        A few failing rows, by their key columns.
    """

    column: str | None
    check: str
    expected: str
    found: str
    count: int
    values: tuple = ()
    rows: tuple = ()

    def message(self, table: str) -> str:
        return str(schema_error(table=table, column=self.column, expected=self.expected,
                                found=self.found, rows=list(self.rows)))

    def to_dict(self) -> dict:
        return {"column": self.column, "check": self.check, "expected": self.expected,
                "found": self.found, "count": self.count, "values": [_plain(v) for v in self.values],
                "rows": [{k: _plain(v) for k, v in r.items()} for r in self.rows]}


@dataclass(frozen=True)
class ValidationReport:
    """Result of :func:`check`: every failure of one table.

    Attributes
    ----------
    table : str
    n_rows : int
    failures : tuple of Failure
        Empty when the table keeps the contract.
    catalog : str
        The catalog codes were checked against.
    """

    table: str
    n_rows: int
    failures: tuple[Failure, ...] = field(default_factory=tuple)
    catalog: str = "simulator"

    @property
    def ok(self) -> bool:
        """True when nothing failed."""
        return not self.failures

    def to_frame(self) -> pd.DataFrame:
        """One row per failure: ``column, check, count, expected, found, values, rows``."""
        cols = ["column", "check", "count", "expected", "found", "values", "rows"]
        return pd.DataFrame([{c: f.to_dict()[c] for c in cols} for f in self.failures], columns=cols)

    def summary(self) -> str:
        """Readable text: OK, or one line per failure."""
        if self.ok:
            return f"OK: table {self.table!r} keeps the contract: {self.n_rows:,} rows"
        lines = [f"table {self.table!r}: {len(self.failures)} failing check(s) in {self.n_rows:,} rows"]
        lines += [f"  - {f.message(self.table)}" for f in self.failures]
        return "\n".join(lines)

    def to_dict(self) -> dict:
        """A JSON-ready dict (what ``dmkit validate --json`` prints)."""
        return {"table": self.table, "ok": self.ok, "n_rows": self.n_rows, "catalog": self.catalog,
                "n_failures": len(self.failures), "failures": [f.to_dict() for f in self.failures]}

    def to_json(self) -> str:
        return json.dumps(self.to_dict(), indent=1, ensure_ascii=False, default=str)

    def plot(self, ax=None):
        """Bar chart of failing rows per column and check; returns the Axes."""
        import matplotlib.pyplot as plt

        if ax is None:
            _, ax = plt.subplots(figsize=(6, 0.4 * max(len(self.failures), 1) + 1))
        labels = [f"{f.column} ({f.check})" for f in self.failures]
        ax.barh(labels, [f.count for f in self.failures])
        ax.set_xlabel("failing rows")
        ax.set_title(f"{self.table}: {'OK' if self.ok else f'{len(self.failures)} failing checks'}")
        ax.invert_yaxis()
        return ax

    def error(self) -> SchemaError:
        """One SchemaError for every failure (first failure's column and rows as attributes)."""
        first = self.failures[0]
        msg = first.message(self.table)
        if len(self.failures) > 1:
            more = "; ".join(f"column {f.column!r}: expected {f.expected}; found {f.found}"
                             for f in self.failures[1:])
            msg += f". Also {len(self.failures) - 1} more failing check(s): {more}"
        err = SchemaError(msg, table=self.table, column=first.column, rows=list(first.rows))
        err.report = self
        return err


def _plain(v):
    if isinstance(v, np.generic):
        return v.item()
    if isinstance(v, pd.Timestamp):
        return v.isoformat()
    if v is pd.NaT or (isinstance(v, float) and np.isnan(v)):
        return None
    return v


def _kind_ok(kind: str, s: pd.Series) -> bool:
    t = pd.api.types
    text = t.is_string_dtype(s) or isinstance(s.dtype, pd.CategoricalDtype) or s.dtype == object
    return bool({
        "int": t.is_integer_dtype(s),
        "float": t.is_numeric_dtype(s) and not t.is_bool_dtype(s),
        "bool": t.is_bool_dtype(s),
        "datetime": t.is_datetime64_any_dtype(s),
        "str": text,
        "month": text,
    }[kind])


_KIND_LABEL = {"int": "an integer dtype", "float": "a numeric dtype", "bool": "a boolean dtype",
               "datetime": "a datetime64 dtype", "str": "a string dtype", "month": "strings 'YYYY-MM'"}


def allowed_check(spec, catalog=None) -> tuple[tuple[str, ...], str] | None:
    """``(codes, expectation)`` of a column with allowed values, codes from the catalog
    (default the active one) for the catalog's vocabularies; None for a free column.

    The one wording of the check, for the pandas and the Spark validation alike.
    """
    from dmkit import catalog as cat
    from dmkit.contract.catalog_yaml import active_catalog

    if spec.allowed is None:
        return None
    catalog = catalog or active_catalog()
    vocab = {cat.SERVICES: "services", cat.CHANNELS: "channels", cat.BRANDS: "brands",
             cat.GENRES: "genres"}.get(spec.allowed)
    if vocab is None:
        return tuple(spec.allowed), f"one of {shorten(spec.allowed, 12)}"
    codes = catalog.codes(vocab)
    return codes, f"one of {shorten(codes, 12)} (catalog: {catalog.source})"


_SCHEMAS: dict = {}


def _pandera_schema(table: str, catalog, columns: tuple[str, ...]) -> pa.DataFrameSchema:
    from dmkit import schema

    key = (table, id(catalog), catalog.source, columns)
    if key in _SCHEMAS:
        return _SCHEMAS[key]
    cols = {}
    for s in schema.COLUMNS[table]:
        if s.name not in columns:
            continue
        checks = []
        if s.low is not None:
            checks.append(pa.Check.ge(s.low, error=f"values >= {s.low}", name="ge"))
        if s.high is not None:
            checks.append(pa.Check.le(s.high, error=f"values <= {s.high}", name="le"))
        allowed = allowed_check(s, catalog)
        if allowed is not None:
            checks.append(pa.Check.isin(list(allowed[0]), error=allowed[1], name="isin"))
        if s.kind == "month":
            checks.append(pa.Check.str_matches(schema.MONTH_RE.pattern, error="months as 'YYYY-MM'",
                                               name="month"))
        if s.kind == "float":
            checks.append(pa.Check(lambda x: pd.Series(~np.isinf(x.to_numpy(dtype=float, na_value=np.nan)),
                                                     index=x.index),
                                   error="finite numbers (no inf)", name="finite"))
        cols[s.name] = pa.Column(None, checks=checks, nullable=True, required=True)
    if len(_SCHEMAS) > 256:
        _SCHEMAS.clear()
    _SCHEMAS[key] = pa.DataFrameSchema(cols, name=table, strict=False)
    return _SCHEMAS[key]


def check(df: pd.DataFrame, table: str, *, check_keys: bool = True, catalog=None) -> ValidationReport:
    """Every failure of ``df`` against the contract of ``table``, at once.

    Parameters
    ----------
    df : DataFrame
    table : str
        A contract table (:data:`dmkit.schema.COLUMNS`).
    check_keys : bool, default True
        Also check that the key columns are unique.
    catalog : Catalog, optional
        Codes to check against; default the active catalog.

    Returns
    -------
    ValidationReport

    Raises
    ------
    ParameterError
        Unknown table.
    SchemaError
        ``df`` is not a DataFrame.
    """
    from dmkit import schema
    from dmkit.contract.catalog_yaml import active_catalog

    schema.schema_for(table)  # ParameterError for an unknown table
    catalog = catalog or active_catalog()
    if not isinstance(df, pd.DataFrame):
        raise schema_error(table=table, column=None, expected="a pandas DataFrame", found=type(df).__name__)
    specs = schema.COLUMNS[table]
    keys = list(schema.KEYS[table])
    fails: list[Failure] = []
    if len(df) == 0:
        return ValidationReport(table, 0, (Failure(None, "rows", "at least one row", "an empty table", 0),),
                                catalog=catalog.source)
    missing = [s.name for s in specs if s.name not in df.columns]
    if missing:
        fails.append(Failure(missing[0], "required", f"columns {[s.name for s in specs]}",
                             f"no column(s) {missing}", len(missing), tuple(missing)))
    keys_ok = [k for k in keys if k in df.columns]
    row_keys = _RowKeys(df, keys_ok)
    typed = []
    for s in specs:
        if s.name not in df.columns:
            continue
        col = df[s.name]
        if not s.nullable:
            na = col.isna().to_numpy()
            if na.any():
                pos = np.flatnonzero(na)
                fails.append(Failure(s.name, "not_null", "no missing values", f"{len(pos)} missing",
                                     len(pos), (), row_keys(pos)))
        if not _kind_ok(s.kind, col):
            fails.append(Failure(s.name, "dtype", _KIND_LABEL[s.kind], f"dtype {col.dtype}", len(col)))
            continue
        typed.append(s.name)
    if typed:
        fails += _pandera_failures(df, table, catalog, tuple(typed), row_keys)
    if check_keys and len(keys_ok) == len(keys):
        dup = df.duplicated(subset=keys, keep=False).to_numpy()
        if dup.any():
            pos = np.flatnonzero(dup)
            fails.append(Failure(", ".join(keys), "unique_key", f"unique keys {keys}",
                                 f"{int(dup.sum())} rows sharing a key", int(dup.sum()), (), row_keys(pos)))
    if table == "subscriptions" and {"start", "end"} <= set(typed):
        ended = df["end"].notna().to_numpy()
        bad = ended & (df["end"].to_numpy() < df["start"].to_numpy())
        if bad.any():
            pos = np.flatnonzero(bad)
            fails.append(Failure("end", "end_after_start", "end >= start",
                                 f"{int(bad.sum())} subscriptions ending before they start", int(bad.sum()),
                                 (), row_keys(pos)))
    return ValidationReport(table, len(df), tuple(fails), catalog=catalog.source)


class _RowKeys:
    def __init__(self, df: pd.DataFrame, keys: list[str]) -> None:
        self.df, self.keys = df, keys

    def __call__(self, positions) -> tuple:
        pos = list(positions)[:_EXAMPLES]
        if not pos:
            return ()
        if not self.keys:
            return tuple({"row": int(p)} for p in pos)
        sub = self.df.iloc[pos][self.keys]
        return tuple({k: (v.item() if isinstance(v, np.generic) else v) for k, v in r.items()}
                     for r in sub.to_dict("records"))


def _pandera_failures(df, table, catalog, columns, row_keys) -> list[Failure]:
    schema = _pandera_schema(table, catalog, columns)
    try:
        schema.validate(df[list(columns)], lazy=True)
    except pa.errors.SchemaErrors as errs:
        fc = errs.failure_cases
    else:
        return []
    out = []
    positions = None
    if df.index.is_unique:
        positions = df.index
    checks = {c: {ch.name: ch for ch in schema.columns[c].checks} for c in schema.columns}
    for (column, check_name), grp in fc.groupby(["column", "check"], sort=False, dropna=False):
        name = str(check_name)
        ch = None
        for cand in checks.get(column, {}).values():
            if cand.name == name or name.startswith(str(cand.name)) or cand.error == name:
                ch = cand
        expected = ch.error if ch is not None and ch.error else name
        short = ch.name if ch is not None else name
        labels = [i for i in grp["index"].tolist() if i is not None and not (isinstance(i, float) and np.isnan(i))]
        pos = [p for p in positions.get_indexer(labels[:_EXAMPLES]) if p >= 0] if positions is not None else []
        sample = tuple(_plain(v) for v in grp["failure_case"].head(3).tolist())
        out.append(Failure(str(column), str(short), expected, f"{len(grp)} failing value(s), e.g. {list(sample)}",
                           len(grp), sample, row_keys(pos)))
    order = {c: i for i, c in enumerate(columns)}
    out.sort(key=lambda f: order.get(f.column, len(order)))
    return out


def check_files(path, table: str, *, mapping=None, catalog=None, province: str | None = None,
                month: str | None = None) -> ValidationReport:
    """Read an extract as :func:`dmkit.io.read_table` does and report every failure at once.

    Values that cannot be read as their column's kind (``parse`` failures, naming the file
    and line) and the contract's checks (:func:`check`) are reported together.

    Parameters
    ----------
    path : path
        A file, a table folder or a dataset root.
    table : str
    mapping : path or dict, optional
        The mapping YAML (columns, encoding, date formats, ``catalog:``).
    catalog : path, dict or Catalog, optional
        The catalog to check codes against; default the mapping's, else the active one.
    province, month : str, optional
        Partition folders to read.

    Raises
    ------
    DataNotFoundError
        Nothing to read.
    SchemaError
        A file that cannot be read at all (empty, ragged, corrupt, undecodable).
    ParameterError
        A bad mapping or catalog file.
    """
    from dmkit.contract import ingest
    from dmkit.contract.catalog_yaml import Catalog, load_catalog, mapping_catalog
    from dmkit.contract.tables import read_mapped

    if catalog is not None and not isinstance(catalog, Catalog):
        catalog = load_catalog(catalog)
    catalog = catalog or mapping_catalog(mapping)
    df, options, where = read_mapped(path, table, mapping=mapping, province=province, month=month)
    errors: list[SchemaError] = []
    df = ingest.convert(df, table, options=options, provenance=where, errors=errors)
    report = check(df, table, catalog=catalog)
    parsed = [Failure(e.column, "parse", getattr(e, "expected", "values of the column's kind"),
                      getattr(e, "found", str(e)), getattr(e, "count", len(e.rows)),
                      tuple(_plain(v) for v in getattr(e, "values", [])), tuple(e.rows)) for e in errors]
    bad = {f.column for f in parsed}
    rest = [f for f in report.failures if not (f.column in bad and f.check != "not_null")]  # no double count
    return ValidationReport(table, report.n_rows, tuple(parsed + rest), catalog=report.catalog)
