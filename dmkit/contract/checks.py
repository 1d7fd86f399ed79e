"""Every way a table breaks the contract, at once.

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


def _value_checks(spec, catalog) -> list[tuple[str, str, object]]:
    """``[(name, expectation, argument), ...]``: the value checks of one column, in the order
    they run (the argument: the bound, the allowed codes, the pattern)."""
    from dmkit import schema

    out: list[tuple[str, str, object]] = []
    if spec.low is not None:
        out.append(("ge", f"values >= {spec.low}", spec.low))
    if spec.high is not None:
        out.append(("le", f"values <= {spec.high}", spec.high))
    allowed = allowed_check(spec, catalog)
    if allowed is not None:
        out.append(("isin", allowed[1], allowed[0]))
    if spec.kind == "month":
        out.append(("month", "months as 'YYYY-MM'", schema.MONTH_RE))
    if spec.kind == "float":
        out.append(("finite", "finite numbers (no inf)", None))
    return out


def check(df: pd.DataFrame, table: str, *, check_keys: bool = True, catalog=None,
          columns: Sequence[str] | None = None) -> ValidationReport:
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
    columns : list of str, optional
        Only these contract columns are required and checked (a caller that reads only
        them, so that a table loaded with only those columns can be given); the keys are
        checked when every key column is listed. Default: every column of the table.

    Returns
    -------
    ValidationReport

    Raises
    ------
    ParameterError
        Unknown table, or a name in ``columns`` that is not a column of the table.
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
    if columns is not None:
        from dmkit.errors import parameter_error

        names = [s.name for s in specs]
        unknown = [c for c in columns if c not in names]
        if unknown:
            raise parameter_error("columns", expected=f"columns of the {table!r} contract {names}", found=unknown)
        specs = tuple(s for s in specs if s.name in set(columns))
        if not set(keys) <= set(columns):
            check_keys = False
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
    values: list[Failure] = []
    for s in specs:
        if s.name not in df.columns:
            continue
        col = df[s.name]
        if not s.nullable and _may_hold_missing(col):
            na = col.isna().to_numpy()
            if na.any():
                pos = np.flatnonzero(na)
                fails.append(Failure(s.name, "not_null", "no missing values", f"{len(pos)} missing",
                                     len(pos), (), row_keys(pos)))
        if not _kind_ok(s.kind, col):
            fails.append(Failure(s.name, "dtype", _KIND_LABEL[s.kind], f"dtype {col.dtype}", len(col)))
            continue
        typed.append(s.name)
        values += _column_failures(s, col, _value_checks(s, catalog), row_keys)
    fails += values
    if check_keys and len(keys_ok) == len(keys):
        dup = _duplicated_keys(df, keys)
        if dup is not None:
            pos = np.flatnonzero(dup)
            fails.append(Failure(", ".join(keys), "unique_key", f"unique keys {keys}",
                                 f"{len(pos)} rows sharing a key", len(pos), (), row_keys(pos)))
    if table == "subscriptions" and {"start", "end"} <= set(typed):
        ended = df["end"].notna().to_numpy()
        bad = ended & (df["end"].to_numpy() < df["start"].to_numpy())
        if bad.any():
            pos = np.flatnonzero(bad)
            fails.append(Failure("end", "end_after_start", "end >= start",
                                 f"{int(bad.sum())} subscriptions ending before they start", int(bad.sum()),
                                 (), row_keys(pos)))
    return ValidationReport(table, len(df), tuple(fails), catalog=catalog.source)


def _may_hold_missing(col: pd.Series) -> bool:
    """False for numpy integer and boolean columns, which cannot hold a missing value."""
    return not (isinstance(col.dtype, np.dtype) and col.dtype.kind in "iub")


def _key_codes(col: pd.Series) -> np.ndarray | None:
    """The column as non-negative int64 codes, equal iff the values are equal and, for
    numbers, timestamps and categoricals, in the values' order; None for other kinds."""
    dtype = col.dtype
    if isinstance(dtype, pd.CategoricalDtype):
        return col.cat.codes.to_numpy().astype(np.int64) + 1  # missing (-1) -> 0
    if (isinstance(dtype, np.dtype) and dtype.kind == "O") or pd.api.types.is_string_dtype(dtype):
        return pd.factorize(col, use_na_sentinel=True)[0].astype(np.int64, copy=False) + 1
    if isinstance(dtype, np.dtype) and dtype.kind in "iubM":
        vals = col.to_numpy()
        vals = vals.view(np.int64) if dtype.kind == "M" else vals.astype(np.int64, copy=False)
        return vals - vals.min()
    return None


def _pack(parts: list[np.ndarray]) -> np.ndarray | None:
    """One int64 per row from non-negative codes (first part most significant), None on overflow."""
    widths = [int(p.max()) + 1 for p in parts]
    if np.prod([float(w) for w in widths]) >= 2.0 ** 62:
        return None
    packed = parts[0].copy()
    for p, w in zip(parts[1:], widths[1:], strict=True):
        packed *= w
        packed += p
    return packed


def _mix(parts: list[np.ndarray]) -> np.ndarray:
    """A 64-bit mix of the code columns (wrapping multiply-xor): equal keys mix equally."""
    h = np.zeros(len(parts[0]), dtype=np.uint64)
    for p in parts:
        h ^= p.view(np.uint64)
        h *= np.uint64(0x9E3779B97F4A7C15)
        h ^= h >> np.uint64(29)
    return h


def _duplicated_keys(df: pd.DataFrame, keys: list[str]) -> np.ndarray | None:
    """Rows sharing their key with another row (a bool mask), or None when the keys are unique.

    Vectorised, without a hash table of the rows: the key columns as int64 codes
    (:func:`_key_codes`) packed into one int64. A table sorted by its key columns in some
    order (e.g. usage by month, then user) is strictly increasing in that packing and needs
    one comparison of neighbours; otherwise the packed key is sorted once. Keys too wide to
    pack (timestamps beside ids) are mixed into 64 bits (:func:`_mix`) and sorted: equal
    keys give equal mixes, so no equal neighbours means unique keys, and rows whose mixes
    collide are checked exactly. Keys of other kinds, and the rows of a failing key, take
    pandas' ``duplicated``.
    """
    if len(df) < 2:
        return None
    parts = [_key_codes(df[k]) for k in keys]
    if all(p is not None for p in parts):
        from itertools import permutations

        packed = None
        for order in permutations(range(len(parts))):
            cand = _pack([parts[i] for i in order])
            if cand is None:
                continue
            if (cand[1:] > cand[:-1]).all():
                return None  # sorted by the key columns in this order: unique
            packed = cand if packed is None else packed
            if len(parts) > 3:
                break
        if packed is not None:
            packed.sort()
            if (packed[1:] != packed[:-1]).all():
                return None
        else:  # too wide to pack (timestamps beside ids): a 64-bit mix of the codes, sorted
            mixed = _mix(parts)
            srt = np.sort(mixed)
            same = srt[1:] == srt[:-1]
            if not same.any():
                return None  # equal keys mix equally: no equal mix, no equal key
            suspects = np.flatnonzero(np.isin(mixed, srt[1:][same]))
            if not df.iloc[suspects].duplicated(subset=keys, keep=False).any():
                return None  # only mixes colliding, keys unique
    dup = df.duplicated(subset=keys, keep=False).to_numpy()
    return dup if dup.any() else None


class _RowKeys:
    def __init__(self, df: pd.DataFrame, keys: list[str]) -> None:
        self.df, self.keys = df, keys

    def __call__(self, positions) -> tuple:
        pos = list(positions[:_EXAMPLES])
        if not pos:
            return ()
        if not self.keys:
            return tuple({"row": int(p)} for p in pos)
        sub = self.df.iloc[pos][self.keys]
        return tuple({k: (v.item() if isinstance(v, np.generic) else v) for k, v in r.items()}
                     for r in sub.to_dict("records"))


class _Values:
    """One column's non-missing values, read once: numbers as a numpy array (no copy of a
    numpy column), text as its distinct values and a code per row (a categorical's own
    categories and codes; other text factorised once), so that a check of the codes or the
    pattern looks at each distinct value once."""

    def __init__(self, col: pd.Series) -> None:
        self.col = col
        self.cat = isinstance(col.dtype, pd.CategoricalDtype)
        self._num = self._text = None

    def numbers(self) -> tuple[np.ndarray, np.ndarray | None]:
        """``(values, valid)``: the values as a numpy array, ``valid`` the non-missing rows
        (None when none is missing)."""
        if self._num is None:
            col = self.col
            if isinstance(col.dtype, np.dtype) and col.dtype.kind in "iub":
                self._num = (col.to_numpy(), None)
            elif isinstance(col.dtype, np.dtype) and col.dtype.kind == "f":
                vals = col.to_numpy()
                valid = ~np.isnan(vals)
                self._num = (vals, None if valid.all() else valid)
            else:  # nullable extension numbers or objects: missing values masked out
                valid = ~col.isna().to_numpy()
                vals = col.to_numpy(dtype=object if col.dtype == object else float, na_value=np.nan)
                self._num = (vals, None if valid.all() else valid)
        return self._num

    def text(self) -> tuple[np.ndarray, pd.Index]:
        """``(codes, uniques)``: a code per row (-1 missing) into the distinct values."""
        if self._text is None:
            if self.cat:
                self._text = (self.col.cat.codes.to_numpy(), self.col.cat.categories)
            else:
                codes, uniques = pd.factorize(self.col, use_na_sentinel=True)
                self._text = (codes, pd.Index(uniques))
        return self._text


def _bad_rows(vals: np.ndarray, valid: np.ndarray | None, test) -> np.ndarray:
    """Positions of the non-missing values failing ``test`` (a vectorised predicate: True = bad)."""
    with np.errstate(invalid="ignore"):
        bad = np.asarray(test(vals), dtype=bool)
    if valid is not None:
        bad &= valid
    return np.flatnonzero(bad)


def _column_failures(spec, col: pd.Series, checks: list[tuple[str, str, object]], row_keys) -> list[Failure]:
    """The value checks of one typed column, vectorised: a range by the column's min/max first
    (no mask when it holds), codes and patterns on the distinct values, not per row."""
    values = _Values(col)
    out = []
    for name, expected, arg in checks:
        if name in ("ge", "le", "finite"):
            vals, valid = values.numbers()
            if vals.dtype == object:
                vals = pd.to_numeric(pd.Series(vals), errors="coerce").to_numpy(dtype=float)
            if name == "finite":
                if vals.dtype.kind != "f":
                    continue
                pos = _bad_rows(vals, valid, np.isinf)
            else:
                if len(vals) and vals.dtype.kind in "iub" and valid is None:
                    extreme = vals.min() if name == "ge" else vals.max()
                    if (extreme >= arg) if name == "ge" else (extreme <= arg):
                        continue
                pos = _bad_rows(vals, valid, (lambda v, b=arg: v < b) if name == "ge" else (lambda v, b=arg: v > b))
        else:
            codes, uniques = values.text()
            if name == "isin":
                bad_unique = ~uniques.isin(list(arg))
            else:  # month pattern, on the distinct values
                bad_unique = np.array([not (isinstance(u, str) and arg.match(u)) for u in uniques], dtype=bool)
            if not bad_unique.any():
                continue
            lookup = np.append(bad_unique, False)  # code -1 (missing) -> the last entry: not failing
            pos = np.flatnonzero(lookup[codes])
        if len(pos):
            out.append(_failure(spec.name, name, expected, col, pos, row_keys))
    return out


def _failure(column: str, name: str, expected: str, col: pd.Series, pos: np.ndarray, row_keys) -> Failure:
    sample = tuple(_plain(v) for v in col.iloc[pos[:3]].tolist())
    return Failure(column, name, expected, f"{len(pos)} failing value(s), e.g. {list(sample)}", len(pos),
                   sample, row_keys(pos[:_EXAMPLES]))


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
