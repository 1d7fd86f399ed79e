"""One read path for real extracts: bytes to contract columns, never a bad byte as a good number.

:func:`dmkit.io.read_table` reads files through this module:

- **encodings**: explicit (``encoding:`` in the mapping YAML) or detected: a UTF-8 or
  UTF-16 byte-order mark, else strict UTF-8, else GB18030 (the superset of GBK and
  GB2312 that Chinese BI tools export); bytes valid in none are named by file and line;
- **CSV**: every field read as text by pyarrow's CSV reader, then converted by the
  contract's kind (no type guessing); an empty file, a header without rows, a row with
  too many or too few fields (a ragged or truncated file) is named by file and line;
- **Parquet**: each file read with page checksum verification (the files dmkit writes
  carry CRC checksums), so a flipped byte in a data page is refused; a zero-byte,
  truncated or non-Parquet file is named;
- **numbers**: integers outside int64, ``inf``/``-inf`` and text that is not a number
  are refused with the column, the file and line (or row) and a few values;
- **dates**: a ``date_format`` (or per-column ``formats``) from the mapping YAML, else
  detection per value: year-first dates and times, ``YYYYMMDD`` (never epoch
  nanoseconds), and day/month-first dates only when the data decides which (a day
  above 12); ``03/04/2009`` alone is refused as ambiguous;
- **months**: ``2009-06``, ``200906``, ``2009/6``, ``2009.06``, ``2009年6月``, a full
  date; ``2009.1`` is refused as ambiguous (a spreadsheet writes 2009.10 so) unless
  ``month_format: decimal`` says the values are such numbers; ``2009-06-99xyz`` is
  refused.

Options in a mapping YAML (beside the tables)::

    encoding: gb18030           # optional; detected when absent
    date_format: "%d/%m/%Y"     # optional; every datetime column
    month_format: decimal       # optional; every month column ("decimal" or a strptime format)
    formats:                    # optional; per contract column, overrides the two above
      start: "%Y%m%d%H%M%S"
    usage:
      MSISDN: user_id

:func:`load_yaml` reads a YAML file in UTF-8 (with or without BOM), UTF-16 (with BOM) or
GB18030, and refuses a key given twice.
"""
from __future__ import annotations

import codecs
import csv
import re
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np
import pandas as pd

from dmkit.errors import DataNotFoundError, ParameterError, SchemaError

__all__ = [
    "ReadOptions",
    "OPTION_KEYS",
    "read_options",
    "load_yaml",
    "parse_yaml",
    "decode_text",
    "detect_encoding",
    "read_csv_files",
    "read_parquet_files",
    "Provenance",
    "convert",
    "coerce_column",
]

OPTION_KEYS: tuple[str, ...] = ("encoding", "date_format", "month_format", "formats", "catalog")
"""Top-level keys of a mapping YAML that are read options, not tables."""

_INT64_MAX = np.iinfo(np.int64).max
_INT64_MIN = np.iinfo(np.int64).min
_NULLS = ["", "NA", "N/A", "NULL", "null", "NaN", "nan", "None", "\\N"]
_TRUE = {"1", "y", "yes", "t", "true"}
_FALSE = {"0", "n", "no", "f", "false"}
_CHUNK = 1 << 22


# ---------------------------------------------------------------------------------
# options
# ---------------------------------------------------------------------------------
@dataclass(frozen=True)
class ReadOptions:
    """How to read an extract: file encoding and date/month formats.

    Attributes
    ----------
    encoding : str or None
        A Python codec name (``utf-8``, ``gbk``, ``gb18030``, ``utf-16``...); None detects.
    date_format, month_format : str or None
        strptime formats for every datetime / month column (``month_format`` may also be
        ``"decimal"``: spreadsheet numbers, 2009.1 is October 2009).
    formats : mapping
        Contract column -> format, overriding the two above.
    """

    encoding: str | None = None
    date_format: str | None = None
    month_format: str | None = None
    formats: Mapping[str, str] = field(default_factory=dict)

    def format_for(self, column: str, kind: str) -> str | None:
        """The format of ``column`` (of ``kind`` 'datetime' or 'month'), or None."""
        if column in self.formats:
            return self.formats[column]
        return self.date_format if kind == "datetime" else self.month_format if kind == "month" else None


def read_options(mapping: str | Path | Mapping | None) -> ReadOptions:
    """The read options of a mapping YAML file or dict (see the module docstring).

    Raises
    ------
    ParameterError
        An option of the wrong type or an unknown encoding.
    """
    if mapping is None:
        return ReadOptions()
    raw = mapping if isinstance(mapping, Mapping) else load_yaml(mapping, what="mapping file")
    if not isinstance(raw, Mapping):
        return ReadOptions()
    where = "mapping" if isinstance(mapping, Mapping) else f"mapping file {str(mapping)!r}"
    enc = raw.get("encoding")
    if enc is not None:
        if not isinstance(enc, str):
            raise ParameterError(f"{where}: 'encoding' must be a codec name such as 'gbk'; found {enc!r}",
                                 parameter="mapping")
        try:
            codecs.lookup(enc)
        except LookupError as err:
            raise ParameterError(f"{where}: unknown encoding {enc!r}; expected a codec name such as "
                                 "'utf-8', 'gbk', 'gb18030' or 'utf-16'", parameter="mapping") from err
    for key in ("date_format", "month_format"):
        if raw.get(key) is not None and not isinstance(raw[key], str):
            raise ParameterError(f"{where}: {key!r} must be a strptime format such as '%d/%m/%Y'; "
                                 f"found {raw[key]!r}", parameter="mapping")
    formats = raw.get("formats") or {}
    if not isinstance(formats, Mapping) or not all(
            isinstance(k, str) and isinstance(v, str) for k, v in formats.items()):
        raise ParameterError(f"{where}: 'formats' must map contract columns to formats, e.g. "
                             f"{{start: '%d/%m/%Y'}}; found {formats!r}", parameter="mapping")
    return ReadOptions(encoding=enc, date_format=raw.get("date_format"),
                       month_format=raw.get("month_format"), formats=dict(formats))


# ---------------------------------------------------------------------------------
# YAML
# ---------------------------------------------------------------------------------
def _unique_key_loader():
    import yaml

    class UniqueKeyLoader(yaml.SafeLoader):
        """SafeLoader that refuses a mapping key given twice."""

    def construct_mapping(loader, node, deep=False):
        loader.flatten_mapping(node)
        seen: dict = {}
        for key_node, _ in node.value:
            key = loader.construct_object(key_node, deep=deep)
            if key in seen:
                raise _DuplicateKey(key, seen[key] + 1, key_node.start_mark.line + 1)
            seen[key] = key_node.start_mark.line
        return yaml.SafeLoader.construct_mapping(loader, node, deep=deep)

    UniqueKeyLoader.add_constructor(yaml.resolver.BaseResolver.DEFAULT_MAPPING_TAG, construct_mapping)
    return UniqueKeyLoader


class _DuplicateKey(Exception):
    def __init__(self, key, first: int, again: int) -> None:
        super().__init__(key)
        self.key, self.first, self.again = key, first, again


def decode_text(data: bytes, *, where: str) -> str:
    """Text of a small file: UTF-8 (BOM optional), UTF-16 with BOM, else GB18030.

    Raises
    ------
    ParameterError
        Bytes valid in none of them (names the line).
    """
    if data.startswith((codecs.BOM_UTF16_LE, codecs.BOM_UTF16_BE)):
        try:
            return data.decode("utf-16")
        except UnicodeDecodeError as err:
            raise ParameterError(f"{where}: not valid UTF-16 text ({err.reason} at byte {err.start}); "
                                 "save it as UTF-8", parameter="file") from err
    try:
        return data.decode("utf-8-sig")
    except UnicodeDecodeError as err:
        first = err
    try:
        return data.decode("gb18030")
    except UnicodeDecodeError:
        line = data[:first.start].count(b"\n") + 1
        raise ParameterError(f"{where}, line {line}: not UTF-8, UTF-16 or GB18030 text "
                             f"(byte {data[first.start:first.start + 1]!r} at offset {first.start}); "
                             "save the file as UTF-8", parameter="file") from first


def load_yaml(path: str | Path, *, what: str = "YAML file") -> object:
    """Read a YAML file safely: any of the encodings of :func:`decode_text`, no key twice.

    Raises
    ------
    DataNotFoundError
        The file does not exist.
    ParameterError
        Not decodable, not valid YAML, or a key given twice (names the key and lines).
    """
    p = Path(path)
    where = f"{what} {str(p)!r}"
    if not p.is_file():
        raise DataNotFoundError(f"{where} does not exist")
    return parse_yaml(decode_text(p.read_bytes(), where=where), where=where, parameter=what.split()[0])


def parse_yaml(text: str, *, where: str, parameter: str = "file") -> object:
    """Parse YAML text safely, refusing a key given twice.

    Raises
    ------
    ParameterError
        Not valid YAML, or a key given twice (names ``where``, the key and both lines).
    """
    import yaml

    try:
        return yaml.load(text, Loader=_unique_key_loader())  # noqa: S506 - a SafeLoader subclass
    except _DuplicateKey as dup:
        raise ParameterError(f"{where}: key {dup.key!r} is given twice (lines {dup.first} and "
                             f"{dup.again}); keep one", parameter=parameter) from None
    except yaml.YAMLError as err:
        raise ParameterError(f"{where}: not valid YAML ({err.__class__.__name__}: "
                             f"{str(err).splitlines()[0]})", parameter=parameter) from err


# ---------------------------------------------------------------------------------
# where a row came from
# ---------------------------------------------------------------------------------
@dataclass(frozen=True)
class Provenance:
    """The files a frame was read from, to name a row as ``file 'x.csv' line 7``."""

    files: tuple[str, ...] = ()
    starts: tuple[int, ...] = ()
    csv: bool = False

    def describe(self, positions: Sequence[int], *, limit: int = 3) -> str:
        """'file 'a.csv' line 4, line 9' for integer row positions (or 'rows [4, 9]')."""
        pos = [int(p) for p in list(positions)[:limit]]
        if not self.files:
            return f"row(s) {pos}"
        out = []
        for p in pos:
            k = int(np.searchsorted(self.starts, p, side="right")) - 1
            within = p - self.starts[k]
            loc = f"line {within + 2}" if self.csv else f"row {within}"
            out.append(f"file {self.files[k]!r} {loc}")
        return ", ".join(out)


# ---------------------------------------------------------------------------------
# encodings and CSV
# ---------------------------------------------------------------------------------
def _file_error(path: Path, table: str, found: str, fix: str, line: int | None = None) -> SchemaError:
    where = f"table {table!r}, file {str(path)!r}" + (f", line {line}" if line is not None else "")
    return SchemaError(f"{where}: {found}. Fix: {fix}", table=table, column=None,
                       rows=[{"file": str(path), "line": line}] if line is not None else [])


def _decodes(path: Path, encoding: str) -> UnicodeDecodeError | None:
    """None if the whole file decodes in ``encoding``; else the error with ``.line`` set."""
    dec = codecs.getincrementaldecoder(encoding)(errors="strict")
    offset = lines = 0
    with open(path, "rb") as fh:
        while True:
            chunk = fh.read(_CHUNK)
            try:
                dec.decode(chunk, final=not chunk)
            except UnicodeDecodeError as err:
                at = max(0, min(err.start, len(chunk)))
                err.line = lines + chunk[:at].count(b"\n") + 1
                err.offset_in_file = offset + at
                return err
            if not chunk:
                return None
            lines += chunk.count(b"\n")
            offset += len(chunk)


def detect_encoding(path: str | Path, *, table: str = "?", declared: str | None = None) -> str:
    """The encoding to read ``path`` with: the declared one (checked), a BOM's, UTF-8 or GB18030.

    Raises
    ------
    SchemaError
        The bytes are not valid in the declared encoding, or in any of the detected ones;
        names the file and the line.
    """
    path = Path(path)
    with open(path, "rb") as fh:
        head = fh.read(4)
    if head.startswith((codecs.BOM_UTF16_LE, codecs.BOM_UTF16_BE)) and declared is None:
        declared = "utf-16"
    candidates = [declared] if declared else (
        ["utf-8-sig"] if head.startswith(codecs.BOM_UTF8) else ["utf-8", "gb18030"])
    first = None
    for enc in candidates:
        err = _decodes(path, enc)
        if err is None:
            return enc
        first = first or err
    named = declared or "UTF-8 or GB18030 (GBK)"
    raise _file_error(path, table, f"bytes that are not valid {named} text "
                      f"(byte offset {first.offset_in_file})",
                      "give the file's encoding in the mapping YAML (encoding: gbk, gb18030, utf-16, ...) "
                      "or re-export it as UTF-8", line=first.line)


def read_csv_files(files: Sequence[Path], *, table: str, encoding: str | None = None
                   ) -> tuple[pd.DataFrame, Provenance]:
    """Read CSV files as text columns (object dtype, None for empty / NULL fields).

    Raises
    ------
    SchemaError
        Empty file, header without rows, duplicate header names, a row with another number
        of fields than the header (ragged or truncated), undecodable bytes, or a CSV the
        parser cannot read; each names the file (and line).
    """
    frames, starts, n = [], [], 0
    for f in files:
        df = _read_csv_file(Path(f), table=table, encoding=encoding)
        frames.append(df)
        starts.append(n)
        n += len(df)
    df = pd.concat(frames, ignore_index=True) if len(frames) > 1 else frames[0]
    return df, Provenance(tuple(str(f) for f in files), tuple(starts), csv=True)


def _read_csv_file(path: Path, *, table: str, encoding: str | None) -> pd.DataFrame:
    import pyarrow as pa
    import pyarrow.csv as pc

    if path.stat().st_size == 0:
        raise _file_error(path, table, "the file is empty (0 bytes); expected a header line and rows",
                          "re-export the extract (was the copy interrupted?)")
    enc = detect_encoding(path, table=table, declared=encoding)
    with open(path, encoding=enc, newline="") as fh:
        header = next(csv.reader(fh), [])
    if not header or all(not h.strip() for h in header):
        raise _file_error(path, table, "no header line (the first line is empty)",
                          "the first line must name the columns", line=1)
    dup = sorted({h for h in header if header.count(h) > 1})
    if dup:
        raise _file_error(path, table, f"the header names column(s) {dup} more than once",
                          "rename or drop the repeated columns", line=1)
    bad: list = []

    def on_invalid(row) -> str:
        bad.append(row)
        return "error" if len(bad) > 1 else "skip"

    read = pc.ReadOptions(encoding="utf8" if enc in ("utf-8", "utf-8-sig") else enc,
                          use_threads=False, block_size=1 << 24)
    parse = pc.ParseOptions(invalid_row_handler=on_invalid, newlines_in_values=True)
    convert = pc.ConvertOptions(column_types=dict.fromkeys(header, pa.string()),
                                null_values=_NULLS, strings_can_be_null=True, quoted_strings_can_be_null=False)
    try:
        tbl = pc.read_csv(path, read_options=read, parse_options=parse, convert_options=convert)
    except (pa.ArrowInvalid, pa.ArrowException, OSError, UnicodeError) as err:
        if bad:
            raise _ragged(path, table, bad[0], len(header)) from None
        raise _file_error(path, table, f"not a readable CSV ({' '.join(str(err).split())[:200]})",
                          "check the delimiter (a comma), quoting and that the file is complete") from err
    if bad:
        raise _ragged(path, table, bad[0], len(header))
    if tbl.num_rows == 0:
        raise _file_error(path, table, "a header line but no rows",
                          "re-export the extract with its rows (or leave the partition out)")
    df = tbl.to_pandas().astype(object)
    return df.where(df.notna(), np.nan)  # missing text as NaN, as pandas' own CSV reader gives it


def _ragged(path: Path, table: str, row, expected: int) -> SchemaError:
    line = row.number if row.number is not None else None
    return _file_error(path, table, f"{row.actual_columns} field(s) where the header has {expected} "
                       f"({row.text[:80]!r}) — a ragged or truncated file",
                       "fix that line (a missing or extra comma, an unquoted comma in a value) or re-export "
                       "the complete file", line=line)


# ---------------------------------------------------------------------------------
# Parquet
# ---------------------------------------------------------------------------------
def read_parquet_files(files: Sequence[Path], *, table: str, columns: Sequence[str] | None = None,
                       months: Sequence[str] | None = None) -> tuple[pd.DataFrame, Provenance]:
    """Read Parquet files with page checksum verification, one at a time, timestamps in ns.

    ``columns``: only these are read (projection). ``months``: only the rows whose
    ``month`` is one of them; the row groups whose ``month`` statistics exclude every one
    are not read (a month-sorted file reads about its share of the rows). The provenance's
    row starts then count the rows kept.

    Raises
    ------
    SchemaError
        A zero-byte, truncated, corrupt (checksum mismatch) or non-Parquet file; the
        files of one table with incompatible schemas. Names the file.
    """
    import pyarrow as pa
    import pyarrow.parquet as pq

    tables, starts, n = [], [], 0
    for f in files:
        f = Path(f)
        if f.stat().st_size == 0:
            raise _file_error(f, table, "the file is empty (0 bytes), not Parquet",
                              "re-export or re-copy the file (was the copy interrupted?)")
        try:
            t = (pq.read_table(f, columns=None if columns is None else list(columns),
                               page_checksum_verification=True) if months is None
                 else _read_months(f, columns, months))
            t.schema.names  # noqa: B018 - a flipped byte in the footer can break the names' UTF-8
            t.schema.pandas_metadata  # noqa: B018 - ... or the pandas metadata's JSON
        except (pa.ArrowException, OSError, ValueError, UnicodeError) as err:
            msg = " ".join(str(err).split())[:200]
            kind = ("corrupt: a page checksum does not match its data" if "checksum" in msg.lower()
                    else "not a readable Parquet file (truncated, corrupt or another format)")
            raise _file_error(f, table, f"{kind} ({msg})",
                              "re-export or re-copy the file; nothing of it was read") from err
        tables.append(t)
        starts.append(n)
        n += t.num_rows
    if len(tables) == 1:
        tbl = tables[0]
    else:
        try:
            tbl = pa.concat_tables(tables, promote_options="permissive")
        except (pa.ArrowInvalid, pa.ArrowTypeError) as err:
            raise SchemaError(f"table {table!r}: the files {[str(f) for f in files][:4]} have "
                              f"incompatible schemas ({err}). Fix: export every partition with the "
                              "same column types", table=table) from err
    del tables
    try:
        # split_blocks + self_destruct: each column's Arrow buffers are freed as it is converted
        # (no whole Arrow table beside the whole frame: the read peaks near the frame's size)
        df = tbl.to_pandas(coerce_temporal_nanoseconds=True, split_blocks=True, self_destruct=True)
    except (pa.ArrowException, ValueError, UnicodeError, KeyError, TypeError) as err:
        raise SchemaError(f"table {table!r}: the files {[str(f) for f in files][:4]} have a corrupt schema "
                          f"({' '.join(str(err).split())[:200]}). Fix: re-export or re-copy them",
                          table=table) from err
    finally:
        del tbl
        pa.default_memory_pool().release_unused()  # hand the freed Arrow memory back to the system
    return df, Provenance(tuple(str(f) for f in files), tuple(starts), csv=False)


def _read_months(path: Path, columns: Sequence[str] | None, months: Sequence[str]):
    """The rows of one Parquet file whose ``month`` is in ``months``: the row groups that
    may hold one (by their min/max statistics), then the rows filtered in Arrow."""
    import pyarrow as pa
    import pyarrow.compute as pc
    import pyarrow.parquet as pq

    pf = pq.ParquetFile(path, page_checksum_verification=True)
    md, at = pf.metadata, pf.schema_arrow.get_field_index("month")
    groups = []
    for i in range(md.num_row_groups):
        st = md.row_group(i).column(at).statistics if at >= 0 else None
        if st is None or not st.has_min_max or any(str(st.min) <= m <= str(st.max) for m in months):
            groups.append(i)
    cols = None if columns is None else list(dict.fromkeys([*columns, "month"]))
    t = pf.read_row_groups(groups, columns=cols)
    t = t.filter(pc.is_in(pc.cast(t.column("month"), pa.string()), value_set=pa.array(list(months), pa.string())))
    return t if columns is None or "month" in columns else t.drop_columns(["month"])


# ---------------------------------------------------------------------------------
# conversion to the contract's kinds
# ---------------------------------------------------------------------------------
def convert(df: pd.DataFrame, table: str, *, options: ReadOptions | None = None,
            provenance: Provenance | None = None, errors: list | None = None) -> pd.DataFrame:
    """Convert the contract columns of ``df`` to their kinds (see :func:`coerce_column`).

    With ``errors`` (a list), a column that cannot be converted is left as read and its
    :class:`~dmkit.errors.SchemaError` appended, so every such column is found at once;
    without it the first one is raised.
    """
    from dmkit import schema

    options = options or ReadOptions()
    out = {}
    for spec in schema.COLUMNS[table]:
        if spec.name in df.columns:
            try:
                new = coerce_column(df[spec.name], spec, table, fmt=options.format_for(spec.name, spec.kind),
                                    provenance=provenance)
            except SchemaError as err:
                if errors is None:
                    raise
                errors.append(err)
                continue
            if new is not df[spec.name]:
                out[spec.name] = new
    if not out:
        return df
    df = df.copy(deep=False)
    for k, v in out.items():
        df[k] = v
    return df


def coerce_column(s: pd.Series, spec, table: str, *, fmt: str | None = None,
                  provenance: Provenance | None = None) -> pd.Series:
    """One column to its contract kind, strictly.

    Integers: whole numbers within int64 (a column with missing values stays float for the
    schema to report them). Floats: finite numbers. Booleans: True/False, 1/0, Y/N, yes/no.
    Datetimes and months: see the module docstring. Strings: unchanged.

    Raises
    ------
    SchemaError
        Values that are not of the kind, out of int64, infinite, or dates that are
        ambiguous; names the column, a few values and where they are.
    """
    kind = spec.kind
    ctx = _Ctx(s, spec.name, table, provenance)
    if kind == "int":
        return _to_int(s, ctx)
    if kind == "float":
        return _to_float(s, ctx)
    if kind == "bool":
        return _to_bool(s, ctx)
    if kind == "datetime":
        return _to_datetime(s, ctx, fmt)
    if kind == "month":
        return _to_month(s, ctx, fmt)
    return s


@dataclass
class _Ctx:
    s: pd.Series
    column: str
    table: str
    provenance: Provenance | None

    def error(self, bad: np.ndarray, expected: str, what: str | None = None, fix: str | None = None,
              values: list | None = None) -> SchemaError:
        from dmkit.errors import schema_error

        pos = np.flatnonzero(bad)
        vals = values if values is not None else self.s.iloc[pos[:3]].tolist()
        where = (f" at {self.provenance.describe(pos)}" if self.provenance is not None and self.provenance.files
                 else "")
        found = f"{len(pos):,} value(s) that are not, e.g. {vals}{where}" if what is None else \
            f"{len(pos):,} {what}, e.g. {vals}{where}"
        err = schema_error(table=self.table, column=self.column, expected=expected, found=found,
                           rows=[{"row": int(i)} for i in pos[:5]],
                           fix=fix or "clean the column or map the right source column onto it")
        err.expected, err.found, err.count, err.values = expected, found, len(pos), list(vals)
        return err


def _is_text(s: pd.Series) -> bool:
    return s.dtype == object or pd.api.types.is_string_dtype(s) or isinstance(s.dtype, pd.CategoricalDtype)


def _text(s: pd.Series) -> pd.Series:
    return s.astype(object).map(lambda v: v if v is None or (isinstance(v, float) and np.isnan(v))
                                else str(v).strip())


def _check_finite(num: np.ndarray, ctx: _Ctx, expected: str) -> None:
    inf = np.isinf(num)
    if inf.any():
        raise ctx.error(inf, expected, what="infinite value(s)",
                        fix="an infinite value is a division by zero upstream: fix or blank it")


_INT_RE = r"^[+-]?\d+(?:\.0*)?$"


def _fast_cast(s: pd.Series, target: str) -> pd.Series | None:
    """Text to int64/float64 by Arrow's strict cast (C speed), or None to take the slow path
    that names what is wrong (bad text, out of int64, a decimal in an integer column...).

    Only plain decimal text is taken here; anything else (e.g. '1e3', ' 12', hex) goes the
    slow, strict way."""
    import pyarrow as pa
    import pyarrow.compute as pc

    if pd.api.types.infer_dtype(s, skipna=True) != "string":
        return None
    try:
        arr = pa.array(s.to_numpy(dtype=object), type=pa.string(), from_pandas=True)
        pattern = r"^[+-]?\d+$" if target == "int64" else r"^[+-]?(\d+\.?\d*|\.\d+)([eE][+-]?\d+)?$"
        present = pc.is_valid(arr)
        plain = pc.match_substring_regex(arr, pattern)
        if not pc.all(pc.or_kleene(pc.invert(present), plain)).as_py():
            return None
        out = pc.cast(arr, pa.int64() if target == "int64" else pa.float64())
    except (pa.ArrowInvalid, pa.ArrowTypeError, pa.ArrowNotImplementedError):
        return None
    values = out.to_numpy(zero_copy_only=False)
    if out.null_count:
        values = out.cast(pa.float64()).to_numpy(zero_copy_only=False)  # the schema reports the missing
    return pd.Series(values, index=s.index, name=s.name)


def _to_int(s: pd.Series, ctx: _Ctx) -> pd.Series:
    expected = "integers"
    if pd.api.types.is_bool_dtype(s):
        raise ctx.error(np.ones(len(s), bool), expected, what="booleans")
    if pd.api.types.is_integer_dtype(s) and not pd.api.types.is_extension_array_dtype(s):
        if s.dtype == np.uint64:
            big = s.to_numpy() > _INT64_MAX
            if big.any():
                raise ctx.error(big, "integers within int64 (±9,223,372,036,854,775,807)",
                                what="value(s) above int64",
                                fix="ids that large do not fit the contract: map them to smaller ids")
            return s.astype("int64")
        return s
    if pd.api.types.is_extension_array_dtype(s) and pd.api.types.is_integer_dtype(s):
        return s.astype("float64") if s.isna().any() else s.astype("int64")
    if pd.api.types.is_float_dtype(s):
        arr = s.to_numpy(dtype=float)
        _check_finite(arr, ctx, expected)
        present = ~np.isnan(arr)
        frac = present & (arr % 1 != 0)
        if frac.any():
            raise ctx.error(frac, expected)
        big = present & ((arr >= 2.0 ** 63) | (arr < -(2.0 ** 63)))
        if big.any():
            raise ctx.error(big, "integers within int64", what="value(s) outside int64")
        return s if not present.all() else s.astype("int64")
    fast = _fast_cast(s, "int64")
    if fast is not None:
        return fast
    text = _text(s)
    missing = text.isna().to_numpy()
    ok = text.str.match(_INT_RE, na=False).to_numpy()
    bad = ~missing & ~ok
    if bad.any():
        raise ctx.error(bad, expected)
    digits = text.str.replace(r"\.0*$", "", regex=True)
    long = ~missing & (digits.str.lstrip("+-").str.lstrip("0").str.len().fillna(0).to_numpy() >= 19)
    if long.any():
        over = np.zeros(len(s), bool)
        for i in np.flatnonzero(long):
            v = int(digits.iloc[i])
            over[i] = v > _INT64_MAX or v < _INT64_MIN
        if over.any():
            raise ctx.error(over, "integers within int64 (±9,223,372,036,854,775,807)",
                            what="value(s) outside int64",
                            fix="ids that large do not fit the contract: map them to smaller ids")
    if missing.any():
        return pd.to_numeric(digits, errors="raise").astype("float64")
    return pd.Series(digits.to_numpy().astype(np.int64), index=s.index, name=s.name)


def _to_float(s: pd.Series, ctx: _Ctx) -> pd.Series:
    expected = "numbers"
    if pd.api.types.is_bool_dtype(s):
        raise ctx.error(np.ones(len(s), bool), expected, what="booleans")
    if pd.api.types.is_numeric_dtype(s):
        out = s.astype("float64") if not pd.api.types.is_float_dtype(s) or \
            pd.api.types.is_extension_array_dtype(s) else s
        _check_finite(out.to_numpy(dtype=float, na_value=np.nan), ctx, expected)
        return out
    fast = _fast_cast(s, "float64")
    if fast is not None:
        _check_finite(fast.to_numpy(), ctx, expected)
        return fast
    text = _text(s)
    missing = text.isna().to_numpy()
    num = pd.to_numeric(text, errors="coerce")
    bad = ~missing & num.isna().to_numpy()
    if bad.any():
        raise ctx.error(bad, expected)
    arr = num.to_numpy(dtype=float)
    _check_finite(arr, ctx, expected)
    return pd.Series(arr, index=s.index, name=s.name)


def _to_bool(s: pd.Series, ctx: _Ctx) -> pd.Series:
    if pd.api.types.is_bool_dtype(s) and not pd.api.types.is_extension_array_dtype(s):
        return s
    if s.isna().any():
        return s  # the schema reports the missing values with their rows
    def read(v: object) -> bool | None:  # once per distinct value, not per row
        t = str(v).strip().lower()
        t = t[:-2] if t.endswith(".0") else t
        return True if t in _TRUE else False if t in _FALSE else None

    values = s.astype(object)
    table = {v: read(v) for v in pd.unique(values)}
    got = values.map(table)
    bad = got.isna().to_numpy()
    if bad.any():
        raise ctx.error(bad, "booleans (True/False, 1/0, Y/N)")
    return pd.Series(got.to_numpy(dtype=bool), index=s.index, name=s.name)


# --- dates ------------------------------------------------------------------------
_TIME = r"(?:[ T]\d{1,2}:\d{2}(?::\d{2}(?:[.,]\d{1,9})?)?)?"
_YMD_RE = r"^\d{4}([-/.])\d{1,2}\1\d{1,2}" + _TIME + "$"
_DM_RE = r"^(\d{1,2})([-/.])(\d{1,2})\2\d{4}" + _TIME + "$"
_COMPACT = {8: "%Y%m%d", 12: "%Y%m%d%H%M", 14: "%Y%m%d%H%M%S"}
_DATE_FIX = "give the column's format in the mapping YAML, e.g. formats: {%s: '%%d/%%m/%%Y'}"


def _to_datetime(s: pd.Series, ctx: _Ctx, fmt: str | None) -> pd.Series:
    expected = "dates or timestamps"
    if pd.api.types.is_datetime64_any_dtype(s):
        return s
    if pd.api.types.is_bool_dtype(s) or pd.api.types.is_float_dtype(s):
        if pd.api.types.is_float_dtype(s) and s.isna().all():
            return pd.Series(pd.NaT, index=s.index, name=s.name, dtype="datetime64[ns]")
        raise ctx.error(s.notna().to_numpy(), expected, what=f"{s.dtype} value(s), not dates",
                        fix=_DATE_FIX % ctx.column)
    if pd.api.types.is_integer_dtype(s):  # 20050214, never epoch nanoseconds
        s = s.astype(object).map(lambda v: None if pd.isna(v) else str(int(v)))
    if fmt is None and pd.api.types.infer_dtype(s, skipna=True) == "string":
        iso = s.str.match(r"^\s*\d{4}-\d{2}-\d{2}(?:[ T]\d{2}:\d{2}(?::\d{2}(?:\.\d{1,9})?)?)?\s*$", na=True)
        if iso.all():  # the common export: year-first with dashes, parsed in C
            parsed = pd.to_datetime(s.str.strip(), format="ISO8601", errors="coerce")
            if (parsed.isna() == s.isna()).all():
                return parsed.astype("datetime64[ns]")
    text = _text(s)
    missing = text.isna().to_numpy()
    out = pd.Series(pd.NaT, index=s.index, name=s.name, dtype="datetime64[ns]")
    if missing.all():
        return out
    if fmt is not None:
        parsed = pd.to_datetime(text, format=fmt, errors="coerce", exact=True)
        bad = ~missing & parsed.isna().to_numpy()
        if bad.any():
            raise ctx.error(bad, f"dates in the format {fmt!r} (mapping YAML)")
        return parsed.astype("datetime64[ns]")
    done = missing.copy()
    ymd = ~done & text.str.match(_YMD_RE, na=False).to_numpy()
    if ymd.any():
        norm = text[ymd].str.replace(r"^(\d{4})[/.](\d{1,2})[/.](\d{1,2})", r"\1-\2-\3", regex=True)
        norm = norm.str.replace(r"^(\d{4})-(\d)(?=-)", r"\1-0\2", regex=True)
        norm = norm.str.replace(r"^(\d{4}-\d{2})-(\d)(?!\d)", r"\1-0\2", regex=True).str.replace(",", ".")
        parsed = pd.to_datetime(norm, format="ISO8601", errors="coerce")
        _fill(out, ymd, parsed, ctx, expected)
        done |= ymd
    lengths = text.str.len().fillna(0).to_numpy()
    for n, f in _COMPACT.items():
        sel = ~done & (lengths == n) & text.str.match(r"^\d+$", na=False).to_numpy()
        if sel.any():
            _fill(out, sel, pd.to_datetime(text[sel], format=f, errors="coerce"), ctx, expected)
            done |= sel
    dm = ~done & text.str.match(_DM_RE, na=False).to_numpy()
    if dm.any():
        parts = text[dm].str.extract(_DM_RE)
        first, second = parts[0].astype(int), parts[2].astype(int)
        day_first, month_first = bool((first > 12).any()), bool((second > 12).any())
        if day_first == month_first:
            sample = text[dm].head(3).tolist()
            if day_first:
                raise ctx.error(dm, expected, what="day/month-first dates that fit neither order "
                                "throughout", values=sample, fix=_DATE_FIX % ctx.column)
            raise ctx.error(dm, "dates whose day/month order is known",
                            what="dates ambiguous between dd/mm/yyyy and mm/dd/yyyy (no day above 12)",
                            values=sample, fix=_DATE_FIX % ctx.column)
        norm = text[dm].str.replace(r"[-.]", "/", regex=True, n=2)
        parsed = pd.to_datetime(norm, dayfirst=day_first, format="mixed", errors="coerce")
        _fill(out, dm, parsed, ctx, expected)
        done |= dm
    if not done.all():
        raise ctx.error(~done, expected, fix=_DATE_FIX % ctx.column)
    return out


def _fill(out: pd.Series, sel: np.ndarray, parsed: pd.Series, ctx: _Ctx, expected: str) -> None:
    bad_local = parsed.isna().to_numpy()
    if bad_local.any():
        bad = np.zeros(len(out), bool)
        bad[np.flatnonzero(sel)[bad_local]] = True
        raise ctx.error(bad, expected, fix=_DATE_FIX % ctx.column)
    out.iloc[np.flatnonzero(sel)] = parsed.to_numpy(dtype="datetime64[ns]")


# --- months -----------------------------------------------------------------------
_MONTH_FORMS = (
    (re.compile(r"^(\d{4})[-/](\d{1,2})$"), None),
    (re.compile(r"^(\d{4})(\d{2})$"), None),
    (re.compile(r"^(\d{4})\.(\d{2})$"), None),
    (re.compile(r"^(\d{4})\.(\d)$"), "dot1"),
    (re.compile(r"^(\d{4})\s*年\s*(\d{1,2})\s*月$"), None),
)
_MONTH_DATE_RE = re.compile(r"^(\d{4})([-/.])(\d{1,2})\2(\d{1,2})" + _TIME + "$")
_MONTH_COMPACT_DATE_RE = re.compile(r"^(\d{4})(\d{2})(\d{2})$")


def _to_month(s: pd.Series, ctx: _Ctx, fmt: str | None) -> pd.Series:
    if pd.api.types.is_datetime64_any_dtype(s) or isinstance(s.dtype, pd.PeriodDtype):
        return s.dt.strftime("%Y-%m")
    if isinstance(s.dtype, pd.CategoricalDtype):
        cats = list(s.cat.categories)
        fixed = _months(pd.Series(cats, dtype=object), _Ctx(pd.Series(cats, dtype=object),
                                                             ctx.column, ctx.table, None), fmt)
        if fixed.tolist() == cats:
            return s
        return s.cat.rename_categories(dict(zip(cats, fixed, strict=True))) \
            if fixed.is_unique else s.astype(object).map(dict(zip(cats, fixed, strict=True)))
    uniq = pd.unique(s.astype(object))
    uniq_s = pd.Series(uniq, dtype=object)
    try:
        fixed = _months(uniq_s, _Ctx(uniq_s, ctx.column, ctx.table, None), fmt)
    except SchemaError:
        _months(s.astype(object), ctx, fmt)  # re-raise with the rows of the whole column
        raise
    table = {k: v for k, v in zip(uniq, fixed, strict=True) if not _missing(k)}
    if s.dtype == object and all(k == v for k, v in table.items()):
        return s
    return s.astype(object).map(lambda v: v if _missing(v) else table[v])


def _missing(v: object) -> bool:
    return v is None or v is pd.NA or v is pd.NaT or (isinstance(v, float) and np.isnan(v))


def _months(s: pd.Series, ctx: _Ctx, fmt: str | None) -> pd.Series:
    """Month strings 'YYYY-MM' for the values of ``s`` (object), strictly."""
    expected = "months (YYYY-MM, YYYYMM, YYYY/M, YYYY.MM, YYYY年M月 or a date)"
    vals = s.tolist()
    out: list = [None] * len(vals)
    bad = np.zeros(len(vals), bool)
    ambiguous = np.zeros(len(vals), bool)
    for i, v in enumerate(vals):
        if _missing(v):
            continue
        if isinstance(v, pd.Timestamp | pd.Period):
            out[i] = v.strftime("%Y-%m")
            continue
        if isinstance(v, bool | np.bool_):
            bad[i] = True
            continue
        if fmt == "decimal":
            try:
                x = float(v)
                year = int(x)
                month = round((x - year) * 100)
            except (TypeError, ValueError):
                bad[i] = True
                continue
            if 1 <= month <= 12 and abs((x - year) * 100 - month) < 1e-6:
                out[i] = f"{year:04d}-{month:02d}"
            else:
                bad[i] = True
            continue
        text = str(v).strip() if not isinstance(v, float) else repr(v)
        if isinstance(v, int | np.integer):
            text = str(int(v))
        if fmt is not None:
            t = pd.to_datetime(text, format=fmt, errors="coerce", exact=True)
            if pd.isna(t):
                bad[i] = True
            else:
                out[i] = t.strftime("%Y-%m")
            continue
        out[i] = _one_month(text)
        if out[i] == "ambiguous":
            ambiguous[i] = True
        elif out[i] is None:
            bad[i] = True
    if ambiguous.any():
        raise ctx.error(ambiguous, "unambiguous months",
                        what="month(s) like '2009.1', which a spreadsheet writes for 2009.10 (October)",
                        fix="write months as YYYY-MM, or say month_format: decimal (2009.1 is October) "
                            "or month_format: '%Y.%m' (2009.1 is January) in the mapping YAML")
    if bad.any():
        raise ctx.error(bad, f"months in the format {fmt!r} (mapping YAML)" if fmt else expected,
                        fix="clean the column, or give its month_format in the mapping YAML")
    return pd.Series(out, index=s.index, dtype=object)


def _one_month(text: str) -> str | None:
    for rx, tag in _MONTH_FORMS:
        m = rx.match(text)
        if m:
            if tag == "dot1" and m.group(2) == "1":
                return "ambiguous"
            mon = int(m.group(2))
            return f"{m.group(1)}-{mon:02d}" if 1 <= mon <= 12 else None
    m = _MONTH_DATE_RE.match(text)
    if m:
        y, mo, d = int(m.group(1)), int(m.group(3)), int(m.group(4))
        return f"{y:04d}-{mo:02d}" if _valid_date(y, mo, d) else None
    m = _MONTH_COMPACT_DATE_RE.match(text)
    if m:
        y, mo, d = (int(g) for g in m.groups())
        return f"{y:04d}-{mo:02d}" if _valid_date(y, mo, d) else None
    return None


def _valid_date(y: int, mo: int, d: int) -> bool:
    import datetime as _dt

    try:
        _dt.date(y, mo, d)
    except ValueError:
        return False
    return True
