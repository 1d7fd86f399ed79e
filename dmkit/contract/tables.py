"""Reading and writing the data contract's tables (Parquet or CSV), atomically.

Layout written by :func:`write_table` (hive-style, so pyarrow, DuckDB and Spark read it
with the same meaning)::

    <root>/<table>/province=<province>/month=<YYYY-MM>/part.parquet   (or part.csv)

A partition folder always holds what its name says:

- tables with a ``month`` column (usage, kpis, edges, revenue) get one folder per month
  *of their rows*, so a six-month usage panel is six folders, and writing a later extract
  replaces the months it holds;
- the other tables (users, subscriptions, contacts, events) are snapshots: one folder for
  the data month they were extracted at;
- ``province=`` is the value of the rows' ``province`` column where the table has one
  (users), otherwise the province the extract belongs to.

The files keep every column (a single ``part`` file is a complete table), and a partition
value never differs from the column of the same name, so no engine's partition discovery
can overwrite a row's month.

:func:`read_table` reads such a folder (or a single ``.parquet`` / ``.csv`` file),
renames a real extract's columns through a YAML mapping (:func:`load_mapping`), coerces
dtypes to the contract (:data:`dmkit.schema.COLUMNS`) and validates it.

Part of the contract (:mod:`dmkit.contract`): imports nothing of dmkit above it.
"""
from __future__ import annotations

import re
from collections.abc import Mapping
from pathlib import Path
from typing import Literal

import pandas as pd

from dmkit import schema
from dmkit.contract.files import atomic_write, check_microseconds, write_parquet_unchecked
from dmkit.contract.months import check_month
from dmkit.errors import DataNotFoundError, ParameterError, parameter_error, schema_error

__all__ = [
    "apply_mapping",
    "check_table",
    "coerce",
    "load_mapping",
    "mapping_for",
    "partitioned_by_month",
    "read_mapped",
    "read_table",
    "table_files",
    "truth_folder",
    "write_table",
]

Format = Literal["parquet", "csv"]


_FORMATS: tuple[str, ...] = ("parquet", "csv")


_SUFFIX = {".parquet": "parquet", ".pq": "parquet", ".csv": "csv"}


_PART_KEY_RE = re.compile(r"^(province|month)=(.+)$")


def _columns(table: str) -> set[str]:
    return {c.name for c in schema.COLUMNS[table]}


def partitioned_by_month(table: str) -> bool:
    """True for tables with a ``month`` column (one partition per row month)."""
    check_table(table)
    return "month" in _columns(table)


def write_table(
    df: pd.DataFrame,
    table: str,
    root: str | Path,
    *,
    format: Format = "parquet",
    province: str | None = None,
    month: str | None = None,
    validate: bool = True,
) -> list[Path]:
    """Write one contract table under ``root``, partitioned by province and month.

    Parameters
    ----------
    df : DataFrame
        The table; it is validated against :mod:`dmkit.schema` first (unless
        ``validate=False``). The index is not written.
    table : str
        One of :data:`dmkit.schema.TABLES`.
    root : path
        Dataset root. Files go to
        ``root/<table>/province=<province>/month=<YYYY-MM>/part.<format>``; a partition
        level is left out when there is nothing to put in it.
    format : {"parquet", "csv"}, default "parquet"
    province : str, optional
        Province of the extract. For ``users`` (which has a ``province`` column) the folders
        come from the column and ``province``, if given, must be its only value.
    month : str, optional
        Data month ``YYYY-MM`` of the extract. Tables with a ``month`` column get one folder
        per month of their rows and ``month``, if given, must not be earlier than any of
        them; the other tables go to the folder ``month=<month>``.
    validate : bool, default True
        Check the contract before writing.

    Returns
    -------
    list of Path
        The files written, in partition order. Each file is written atomically (a temp
        file beside it renamed over it), so an interrupted write leaves every file either
        as it was or complete, never half-written. Parquet timestamps are stored as
        ``TIMESTAMP(MICROS)``, which Spark, Hive and most warehouses read.

    Raises
    ------
    SchemaError
        ``df`` breaks the contract, or (Parquet) a timestamp has sub-microsecond parts
        that the file could not keep; nothing is written then.
    ParameterError
        Unknown table or format, malformed month, a ``province``/``month`` that contradicts
        the rows, or a folder that cannot be written.
    """
    check_table(table)
    if format not in _FORMATS:
        raise parameter_error("format", expected=f"one of {list(_FORMATS)}", found=format)
    if month is not None:
        check_month(month)
    if province is not None and (not isinstance(province, str) or not province or "/" in province):
        raise parameter_error("province", expected="a non-empty name without '/'", found=province)
    if validate:
        schema.validate(df, table)
    if format == "parquet":  # before any partition is written
        check_microseconds(df, table)
    parts = _partitions(df, table, province=province, month=month)
    written = []
    for (prov, mon), sub in parts:
        folder = Path(root) / table
        if prov is not None:
            folder = folder / f"province={prov}"
        if mon is not None:
            folder = folder / f"month={mon}"
        written.append(_write_file(sub, folder / f"part.{format}", format))
    return written


def _write_file(df: pd.DataFrame, path: Path, format: str) -> Path:
    if format == "parquet":
        return write_parquet_unchecked(df, path)  # write_table checked the timestamps of all partitions
    # default date format: full precision (sub-second timestamps stay distinct keys)
    return atomic_write(path, lambda tmp: df.to_csv(tmp, index=False))


def _partitions(df: pd.DataFrame, table: str, *, province: str | None, month: str | None):
    """[((province or None, month or None), rows)] in partition order."""
    cols = _columns(table)
    by = []
    if "province" in cols and "province" in df.columns:
        values = pd.unique(df["province"].astype(object))
        if province is not None and list(values) != [province]:
            raise parameter_error("province", expected=f"the only value of {table}.province",
                                  found=province, fix=f"the rows hold {sorted(map(str, values))[:5]}")
        bad = [v for v in values if not isinstance(v, str) or not v or "/" in v]
        if bad:
            raise parameter_error("province", expected=f"{table}.province values without '/'", found=bad[0])
        by.append("province")
    if "month" in cols and "month" in df.columns:
        if month is not None and len(df):
            latest = str(pd.Series(df["month"].astype(object)).max())
            if latest > month:
                raise parameter_error("month", expected=f"a data month not before the rows' "
                                      f"latest month {latest!r}", found=month)
        by.append("month")
    if not by:
        return [((province, month), df)]
    out = []
    for key, sub in df.groupby(by, sort=True, observed=True, dropna=False):
        key = dict(zip(by, key if isinstance(key, tuple) else (key,), strict=True))
        out.append(((key.get("province", province),
                     key.get("month", month)), sub.reset_index(drop=True)))
    return out


def load_mapping(path: str | Path | Mapping) -> dict[str, dict[str, str]]:
    """Read and check a column mapping ``{table: {their_column: our_column}}``.

    The YAML file looks like::

        usage:
          MSISDN: user_id
          STAT_MONTH: month
          ARPU_AMT: arpu

    Parameters
    ----------
    path : path or mapping
        A YAML file (read with ``yaml.safe_load``) or an already-loaded dict.

    Returns
    -------
    dict
        ``{table: {source column: contract column}}``, only the tables that are mapped.

    Raises
    ------
    DataNotFoundError
        The file does not exist.
    ParameterError
        Not valid YAML, not a mapping of mappings, an unknown table, an unknown contract
        column, or two source columns mapped onto the same contract column.
    """
    from dmkit.contract import ingest

    where = "mapping"
    if isinstance(path, Mapping):
        raw = path
    else:
        where = f"mapping file {str(Path(path))!r}"
        raw = ingest.load_yaml(path, what="mapping file")  # any encoding; a key twice is refused
    if raw is None:
        raw = {}
    if not isinstance(raw, Mapping):
        raise ParameterError(f"{where}: expected a mapping {{table: {{their_column: our_column}}}}; "
                             f"found {type(raw).__name__}", parameter="mapping")
    out: dict[str, dict[str, str]] = {}
    ingest.read_options(raw if isinstance(path, Mapping) else path)  # encoding/date options checked
    for table, cols in raw.items():
        if table in ingest.OPTION_KEYS:
            continue
        if table not in schema.COLUMNS:
            raise ParameterError(f"{where}: unknown table {table!r}; expected one of "
                                 f"{list(schema.TABLES)}", parameter="mapping")
        if cols is None:
            cols = {}
        if not isinstance(cols, Mapping):
            raise ParameterError(f"{where}, table {table!r}: expected {{their_column: our_column}}; "
                                 f"found {type(cols).__name__}", parameter="mapping")
        ours = [s.name for s in schema.COLUMNS[table]]
        seen: dict[str, str] = {}
        for theirs, col in cols.items():
            if not isinstance(theirs, str) or not isinstance(col, str):
                raise ParameterError(f"{where}, table {table!r}: column names must be strings; "
                                     f"found {theirs!r}: {col!r}", parameter="mapping")
            if col not in ours:
                raise ParameterError(f"{where}, table {table!r}: unknown column {col!r} "
                                     f"(mapped from {theirs!r}); expected one of {ours}",
                                     parameter="mapping")
            if col in seen:
                raise ParameterError(f"{where}, table {table!r}: columns {seen[col]!r} and "
                                     f"{theirs!r} are both mapped to {col!r}", parameter="mapping")
            seen[col] = theirs
        out[table] = dict(cols)
    return out


def table_files(
    root_or_file: str | Path,
    table: str,
    *,
    province: str | None = None,
    month: str | None = None,
    until: str | None = None,
) -> list[Path]:
    """The data files of ``table`` under ``root_or_file``, pruned by the partition folders.

    ``root_or_file`` may be a single file, the table's folder (``.../usage``) or the
    dataset root holding ``<table>/`` (or a ``<table>.parquet`` / ``<table>.csv`` file).
    ``province`` and ``month`` keep the folders with exactly that value, ``until`` the
    folders with ``month <= until``.

    Raises
    ------
    DataNotFoundError
        Nothing found; the message names the path and the table.
    """
    check_table(table)
    for name, value in (("month", month), ("until", until)):
        if value is not None:
            check_month(value, name)
    base = Path(root_or_file)
    if not base.exists():
        raise DataNotFoundError(f"table {table!r}: path {str(base)!r} does not exist")
    if base.is_file():
        if base.suffix.lower() not in _SUFFIX:
            raise DataNotFoundError(f"table {table!r}: {str(base)!r} is not a .parquet or .csv file")
        if province is not None or month is not None or until is not None:
            raise parameter_error("province/month/until", expected="None when reading a single "
                                  "file (they select partition folders)", found=(province, month, until))
        return [base]
    if (base / table).is_dir():
        folder = base / table
    elif base.name == table:
        folder = base
    else:
        single = [base / f"{table}{suf}" for suf in _SUFFIX if (base / f"{table}{suf}").is_file()]
        if single and province is None and month is None and until is None:
            return single[:1]
        raise DataNotFoundError(f"table {table!r} not found under {str(base)!r} "
                                f"(expected a folder {str(base / table)!r})")
    wanted = {"province": province, "month": month}
    files = []
    for f in sorted(folder.rglob("*")):
        rel = f.relative_to(folder).parts
        if (any(p.startswith((".", "_")) for p in rel)  # temp files and folders, markers
                or f.suffix.lower() not in _SUFFIX or not f.is_file()):
            continue
        parts = {}
        for seg in rel[:-1]:
            m = _PART_KEY_RE.match(seg)
            if m:
                parts[m.group(1)] = m.group(2)
        if all(v is None or parts.get(k) == v for k, v in wanted.items()) and (
                until is None or parts.get("month", "") <= until):
            files.append(f)
    if not files:
        sel = ", ".join([f"{k}={v}" for k, v in wanted.items() if v is not None]
                        + ([f"month<={until}"] if until is not None else []))
        raise DataNotFoundError(f"table {table!r}: no .parquet or .csv files under {str(folder)!r}"
                                + (f" for {sel}" if sel else ""))
    kinds = {_SUFFIX[f.suffix.lower()] for f in files}
    if len(kinds) > 1:
        raise DataNotFoundError(f"table {table!r}: {str(folder)!r} mixes Parquet and CSV files; "
                                "keep one format per table")
    return files


def read_table(
    root_or_file: str | Path,
    table: str,
    *,
    mapping: str | Path | Mapping | None = None,
    province: str | None = None,
    month: str | None = None,
    until: str | None = None,
    validate: bool = True,
    catalog: str | Path | Mapping | None = None,
) -> pd.DataFrame:
    """Read one contract table from Parquet or CSV, mapped, typed and validated.

    Files go through :mod:`dmkit.contract.ingest`: detected or declared encodings (UTF-8,
    GBK/GB18030, UTF-16), every CSV field read as text and converted strictly, Parquet
    page checksums verified; an empty, ragged, truncated or corrupt file, a number out of
    int64 or infinite, an ambiguous date is a :class:`~dmkit.errors.SchemaError` naming the
    file, line or row and column.

    Parameters
    ----------
    root_or_file : path
        A dataset root written by :func:`write_table` (holding ``<table>/``), the table's
        folder, or a single ``.parquet`` / ``.csv`` file.
    table : str
        One of :data:`dmkit.schema.TABLES`.
    mapping : path or dict, optional
        Column mapping ``{table: {their_column: our_column}}`` (see :func:`load_mapping`);
        only this table's entry is used.
    province, month : str, optional
        Read only the partition folders with these values (pruned before any file is
        opened): for tables with a ``month`` column the rows of that month, for the others
        the snapshot extracted at that month. Not allowed with a single file.
    until : str, optional
        Read only the partition folders with ``month <= until`` (e.g. a usage panel up to
        the data month).
    validate : bool, default True
        Validate against the contract (:func:`dmkit.schema.validate`).
    catalog : path or dict, optional
        The operator's catalog YAML to check code columns against (see
        :mod:`dmkit.contract.catalog_yaml`); default the mapping's ``catalog:`` entry,
        else the active catalog.

    Returns
    -------
    DataFrame
        The contract's columns coerced to their kinds: integers, floats, booleans (from
        True/False, 0/1, Y/N, yes/no), datetimes (parsed), months as ``'YYYY-MM'`` strings
        (from dates, ``200906``, ``2009/6``...), then any extra columns as read.
        A fresh RangeIndex.

    Raises
    ------
    DataNotFoundError
        The path or the table does not exist.
    SchemaError
        A value cannot be coerced, or the table breaks the contract.
    """
    from dmkit.contract import ingest
    from dmkit.contract.catalog_yaml import mapping_catalog, use_catalog

    df, options, where = read_mapped(root_or_file, table, mapping=mapping, province=province,
                                     month=month, until=until)
    df = ingest.convert(df, table, options=options, provenance=where)
    if validate:
        cat = catalog if catalog is not None else mapping_catalog(mapping)
        if cat is None:
            schema.validate(df, table)
        else:
            with use_catalog(cat):
                schema.validate(df, table)
    return df


def read_mapped(root_or_file: str | Path, table: str, *, mapping=None, province: str | None = None,
                month: str | None = None, until: str | None = None):
    """The files of ``table`` read and renamed by the mapping, not yet converted.

    Returns ``(frame, read options, provenance)`` for :func:`dmkit.contract.ingest.convert`
    (what :func:`read_table` does next, and ``dmkit validate`` column by column).
    """
    from dmkit.contract import ingest

    files = table_files(root_or_file, table, province=province, month=month, until=until)
    cols = mapping_for(mapping, table)
    options = ingest.read_options(mapping)
    if _SUFFIX[files[0].suffix.lower()] == "parquet":
        df, where = ingest.read_parquet_files(files, table=table)
    else:
        df, where = ingest.read_csv_files(files, table=table, encoding=options.encoding)
    return apply_mapping(df, table, cols), options, where


def mapping_for(mapping: str | Path | Mapping | None, table: str) -> dict[str, str]:
    """This table's ``{their_column: our_column}`` from a mapping file or dict (or ``{}``)."""
    if mapping is None:
        return {}
    return load_mapping(mapping).get(table, {})


def apply_mapping(df: pd.DataFrame, table: str, cols: Mapping[str, str]) -> pd.DataFrame:
    """Rename ``df``'s columns by ``cols``; a mapped column missing from both sides is an error."""
    from dmkit.contract.checks import shorten

    for theirs, ours in cols.items():
        if theirs not in df.columns and ours not in df.columns:
            raise schema_error(table=table, column=ours,
                               expected=f"column {theirs!r} (mapped to {ours!r})",
                               found=f"neither; the extract has {shorten(list(df.columns), 12)}",
                               fix="correct the mapping YAML")
    present = {k: v for k, v in cols.items() if k in df.columns}
    clash = [v for v in present.values() if v in df.columns and v not in present]
    if clash:
        raise schema_error(table=table, column=clash[0],
                           expected="one source column per contract column",
                           found=f"both {clash[0]!r} and a column mapped onto it",
                           fix="drop one of them or remove the mapping entry")
    return df.rename(columns=present) if present else df


def coerce(df: pd.DataFrame, table: str) -> pd.DataFrame:
    """Coerce the contract's columns of ``df`` to their kinds (see :func:`read_table`).

    Columns that are absent are left for :func:`dmkit.schema.validate` to report.

    Raises
    ------
    SchemaError
        A value cannot be read as the column's kind (names the column, a few values).
    """
    from dmkit.contract.ingest import convert

    check_table(table)
    return convert(df, table)  # strict: no int64 wrap, no inf, no guessed dates


def check_table(table: str) -> None:
    """Raise :class:`~dmkit.errors.ParameterError` unless ``table`` is a contract table."""
    if table not in schema.COLUMNS:
        raise parameter_error("table", expected=f"one of {list(schema.TABLES)}", found=table)


def truth_folder(root: str | Path, *, province: str, month: str) -> Path:
    """Where the simulator's planted truth sits beside tables written under ``root``."""
    return Path(root) / "truth" / f"province={province}" / f"month={month}"
