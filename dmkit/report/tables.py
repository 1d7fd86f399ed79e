"""Tables in reports: counts with thousands separators, rates as percentages, money with units.

:func:`table` shows a DataFrame (or a Series, or a result's :class:`~dmkit._results.Summary`)
the way a report should: no row-number index, no scientific notation, a count never as a
float, rates as percentages with a precision chosen from the values, money with its unit,
and wide tables in a horizontally scrolling box. Column kinds are read from the column
names (``*_rate``, ``share``, ``retention`` … are rates; ``arpu``, ``amount``, ``revenue`` …
are money; integer columns and whole-number floats are counts) and can be set explicitly.

>>> import pandas as pd
>>> from dmkit.report.tables import format_count, format_percent, format_money
>>> format_count(6497.0), format_percent(0.356063), format_money(1234.5)
('6,497', '35.6%', '1,234.50 yuan')
"""
from __future__ import annotations

import html
import math
import re
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Literal

import numpy as np
import pandas as pd

from dmkit.errors import parameter_error

__all__ = [
    "Kind",
    "ReportTable",
    "column_kinds",
    "format_count",
    "format_money",
    "format_number",
    "format_percent",
    "format_value",
    "table",
]

Kind = Literal["count", "percent", "money", "number", "text"]
KINDS = ("count", "percent", "money", "number", "text")

_RATE = re.compile(r"(^|_)(rate|rates|share|shares|retention|penetration|pct|percent|ratio_pct|"
                   r"conversion|churn_rate|coverage|precision|recall|support|confidence|proportion|explained|cumulative|"
                   r"activity|growth|uplift|take_up|mape)(_|$)|(^|_)rate|%", re.I)
_MONEY = re.compile(r"(^|_)(arpu|amount|revenue|fee|fees|yuan|income|spend|cost|price|value_yuan)(_|$)",
                    re.I)
_NOT_RATE = re.compile(r"(^|_)(lift|p_value|p|auc|hr|coef|z|score|importance|loading|silhouette|ari)(_|$)",
                       re.I)


def format_count(value: object) -> str:
    """A count with thousands separators: ``6497.0 -> '6,497'``; NaN and None as ``''``."""
    if _missing(value):
        return ""
    return f"{round(float(value)):,}"


def format_percent(value: object, *, decimals: int | None = None) -> str:
    """A rate (a fraction) as a percentage: ``0.356063 -> '35.6%'``, ``0.0049 -> '0.49%'``.

    ``decimals`` None picks one decimal for 1% and over, two below 1%, three below 0.1%; a
    rate that is not zero but rounds to it shows as ``'< 0.001%'`` (``1e-7``), never ``'0.000%'``.
    """
    if _missing(value):
        return ""
    v = float(value) * 100
    if decimals is None:
        a = abs(v)
        decimals = 0 if a == 0 else 1 if a >= 1 else 2 if a >= 0.1 else 3
    if 0 < abs(v) < 0.5 * 10.0 ** -decimals:
        bound = f"{10.0 ** -decimals:.{decimals}f}%"
        return f"< {bound}" if v > 0 else f"> -{bound}"
    return f"{v:,.{decimals}f}%"


def format_money(value: object, *, unit: str = "yuan", decimals: int = 2) -> str:
    """Money with its unit: ``1234.5 -> '1,234.50 yuan'``; millions as ``'4.71 million yuan'``;
    an amount below a cent to two significant figures (``0.0024 -> '0.0024 yuan'``, not ``'0.00 yuan'``)."""
    if _missing(value):
        return ""
    v = float(value)
    if 0 < abs(v) < 0.5 * 10.0 ** -decimals:
        return f"{v:.2g} {unit}" if abs(v) >= 1e-4 else f"< 0.0001 {unit}" if v > 0 else f"> -0.0001 {unit}"
    if abs(v) >= 1e8:
        return f"{v / 1e8:,.2f} hundred million {unit}"
    if abs(v) >= 1e6:
        return f"{v / 1e6:,.2f} million {unit}"
    return f"{v:,.{decimals}f} {unit}"


def format_number(value: object) -> str:
    """Any number, never in scientific notation: whole numbers as counts, others to 3 figures.

    ``50000.0 -> '50,000'``, ``0.5861 -> '0.586'``, ``0.00012 -> '0.00012'``, ``123.456 -> '123'``;
    below 0.0001 in size, ``'< 0.0001'`` (a p-value of 3.8e-112 says no more than that).
    """
    if _missing(value):
        return ""
    v = float(value)
    if math.isinf(v):
        return "∞" if v > 0 else "−∞"
    if v == round(v) and abs(v) < 1e15:
        return f"{int(round(v)):,}"
    a = abs(v)
    if a >= 1000:
        return f"{v:,.0f}"
    if a < 1e-4:  # p-values of 1e-112 and the like: what matters is that they are tiny
        return "< 0.0001" if v > 0 else "> −0.0001"
    digits = 3 - int(math.floor(math.log10(a))) - 1 if a > 0 else 0
    text = f"{v:,.{max(digits, 0)}f}"
    return text.rstrip("0").rstrip(".") if "." in text else text


def format_value(value: object, kind: Kind, *, unit: str = "yuan") -> str:
    """``value`` formatted as ``kind`` (count, percent, money, number or text).

    Timestamps at midnight show as dates (``2009-06-06``), others to the minute.
    """
    if isinstance(value, pd.Timestamp):
        return "" if pd.isna(value) else value.strftime("%Y-%m-%d" if value == value.normalize() else "%Y-%m-%d %H:%M")
    if kind == "count":
        return format_count(value)
    if kind == "percent":
        return format_percent(value)
    if kind == "money":
        return format_money(value, unit=unit)
    if kind == "number":
        return format_number(value) if _is_number(value) else ("" if value is None else str(value))
    if kind == "text":
        return "" if _missing(value) else str(value)
    raise parameter_error("kind", expected=f"one of {KINDS}", found=kind)


def column_kinds(frame: pd.DataFrame, *, counts: Sequence[str] = (), percents: Sequence[str] = (),
                 money: Sequence[str] = (), numbers: Sequence[str] = ()) -> dict[str, Kind]:
    """The kind of each column: the explicit lists first, then guessed from name and values.

    Integer columns and floats holding only whole numbers are counts; float columns named like
    a rate (``response_rate``, ``share``, ``retention`` …) whose values lie in [-1, 1] are
    percents; columns named like money (``arpu``, ``amount`` …) are money; other numbers are
    numbers; everything else is text.
    """
    explicit: dict[str, Kind] = {}
    for names, kind in ((counts, "count"), (percents, "percent"), (money, "money"), (numbers, "number")):
        for name in names:
            if name not in frame.columns:
                raise parameter_error(f"{kind}s" if kind != "money" else "money",
                                      expected=f"columns of the table {list(map(str, frame.columns))}",
                                      found=name)
            explicit[name] = kind
    kinds: dict[str, Kind] = {}
    for col in frame.columns:
        kinds[col] = explicit.get(col) or _guess(str(col), frame[col])
    return kinds


def _guess(name: str, values: pd.Series) -> Kind:
    if pd.api.types.is_bool_dtype(values) or not pd.api.types.is_numeric_dtype(values):
        return "text"
    if _MONEY.search(name):
        return "money"
    finite = values.dropna()
    finite = finite[np.isfinite(finite.astype(float))] if len(finite) else finite
    if _RATE.search(name) and not _NOT_RATE.search(name) and len(finite) and finite.abs().max() <= 1:
        return "percent"
    if pd.api.types.is_integer_dtype(values):
        return "count"
    if len(finite) and (finite == finite.round()).all() and not _NOT_RATE.search(name):
        return "count"
    return "number"


@dataclass(frozen=True)
class ReportTable:
    """A formatted table: renders as HTML in a notebook (scrolling when wide) and as text.

    Attributes
    ----------
    frame : DataFrame
        The formatted cells, all strings (what the report shows).
    title : str
        Shown above the table ("" for none).
    notes : tuple of str
        Shown below the table.
    show_index : bool
        Whether the row labels are shown (False for a plain row-number index).
    """

    frame: pd.DataFrame
    title: str = ""
    notes: tuple[str, ...] = ()
    show_index: bool = True

    def _repr_html_(self) -> str:
        parts = [f"<h4>{html.escape(self.title)}</h4>"] if self.title else []
        body = self.frame.to_html(index=self.show_index, escape=True, border=0,
                                  classes="dmkit-table", na_rep="")
        parts.append('<div class="dmkit-table-wrap" style="overflow-x:auto;max-width:100%">'
                     f'<style>.dmkit-table td{{text-align:right;white-space:nowrap}}'
                     f'.dmkit-table th{{white-space:nowrap}}</style>{body}</div>')
        parts += [f"<p><i>{html.escape(n)}</i></p>" for n in self.notes]
        return "\n".join(parts)

    def __str__(self) -> str:
        text = self.frame.to_string(index=self.show_index)
        head = [self.title, "=" * len(self.title)] if self.title else []
        return "\n".join([*head, text, *[f"note: {n}" for n in self.notes]])

    __repr__ = __str__


def table(data: pd.DataFrame | pd.Series | object, *, counts: Sequence[str] = (),
          percents: Sequence[str] = (), money: Sequence[str] = (), numbers: Sequence[str] = (),
          unit: str = "yuan", title: str = "", index: bool | None = None,
          max_rows: int = 60) -> ReportTable | object:
    """Format ``data`` for a report.

    Parameters
    ----------
    data : DataFrame, Series, Summary or result
        A Series becomes a one-column table (its name, or "value"); a
        :class:`~dmkit._results.Summary` (what ``result.summary()`` returns), or a result
        object itself, has each of its tables formatted and keeps its title and notes.
    counts, percents, money, numbers : sequence of str
        Columns of those kinds (the others are guessed, see :func:`column_kinds`). For a
        Series, the row labels whose values are of that kind.
    unit : str
        Unit of the money columns.
    title : str
        Shown above the table.
    index : bool or None
        Show the row labels; None shows them unless they are a plain 0..n-1 row number.
    max_rows : int
        Rows shown; longer tables show their first ``max_rows`` and say how many were left out.

    Returns
    -------
    ReportTable
        (or a :class:`Summary`-like object of ReportTables for a Summary).

    Raises
    ------
    ParameterError
        A column named in ``counts``/``percents``/``money``/``numbers`` is not in the table.
    """
    from dmkit._results import Summary

    summarize = getattr(data, "summary", None)
    if not isinstance(data, (pd.DataFrame, pd.Series, Summary)) and callable(summarize):
        summary = summarize()  # a result object: its readable summary
        if isinstance(summary, Summary):
            data = summary
    if isinstance(data, Summary):
        return _SummaryTables(data.title, tuple(
            (name, table(t, counts=[c for c in counts if c in t.columns],
                         percents=[c for c in percents if c in t.columns],
                         money=[c for c in money if c in t.columns],
                         numbers=[c for c in numbers if c in t.columns], unit=unit, title=name,
                         max_rows=max_rows))
            for name, t in data.tables), tuple(data.notes))
    if isinstance(data, pd.Series):
        return _series_table(data, counts=counts, percents=percents, money=money, numbers=numbers,
                             unit=unit, title=title, index=index)
    if not isinstance(data, pd.DataFrame):
        raise parameter_error("data", expected="a DataFrame, a Series, a result or its summary()",
                              found=type(data).__name__)
    frame = data
    notes: tuple[str, ...] = ()
    if len(frame) > max_rows:
        notes = (f"first {max_rows:,} of {len(frame):,} rows",)
        frame = frame.head(max_rows)
    kinds = column_kinds(frame, counts=counts, percents=percents, money=money, numbers=numbers)
    if _rate_rows(frame.index):  # rows are rates (published beside reproduced): numbers are percents
        explicit = {*counts, *money, *numbers}
        for col in frame.columns:
            vals = pd.to_numeric(frame[col], errors="coerce").dropna()
            if col not in explicit and kinds[col] in ("number", "count") and len(vals) and vals.abs().max() <= 1:
                kinds[col] = "percent"
    out = pd.DataFrame({str(c) if not isinstance(c, str) else c:
                        [format_value(v, kinds[c], unit=unit) for v in frame[c]]
                        for c in frame.columns}, index=_clean_index(frame.index))
    if index is None:
        index = not _is_row_number(frame.index)
    return ReportTable(out, title=title, notes=notes, show_index=index)


def _series_table(s: pd.Series, *, counts, percents, money, numbers, unit, title, index) -> ReportTable:
    explicit = {**{k: "count" for k in counts}, **{k: "percent" for k in percents},
                **{k: "money" for k in money}, **{k: "number" for k in numbers}}
    cells = []
    for label, value in s.items():
        kind = explicit.get(label) or _guess(str(label), pd.Series([value]) if _is_number(value)
                                             else pd.Series([str(value)]))
        cells.append(format_value(value, kind, unit=unit))
    name = s.name if s.name is not None else "value"
    out = pd.DataFrame({name: cells}, index=_clean_index(s.index))
    return ReportTable(out, title=title, show_index=True if index is None else index)


@dataclass(frozen=True)
class _SummaryTables:
    title: str
    tables: tuple[tuple[str, ReportTable], ...]
    notes: tuple[str, ...]

    def _repr_html_(self) -> str:
        parts = [f"<h4>{html.escape(self.title)}</h4>"]
        parts += [t._repr_html_() for _, t in self.tables]
        parts += [f"<p><i>note: {html.escape(n)}</i></p>" for n in self.notes]
        return "\n".join(parts)

    def __str__(self) -> str:
        return "\n\n".join([self.title, *[str(t) for _, t in self.tables],
                            *[f"note: {n}" for n in self.notes]])

    __repr__ = __str__


def _rate_rows(index: pd.Index) -> bool:
    labels = [str(v) for v in index]
    return bool(labels) and not isinstance(index, pd.RangeIndex) and all(
        _RATE.search(v) and not _NOT_RATE.search(v) for v in labels)


def _clean_index(index: pd.Index) -> pd.Index:
    if isinstance(index, pd.DatetimeIndex):
        return pd.Index(index.strftime("%Y-%m-%d"), name=index.name)
    return index


def _is_row_number(index: pd.Index) -> bool:
    if isinstance(index, pd.RangeIndex):
        return index.name is None
    return (index.name is None and pd.api.types.is_integer_dtype(index)
            and len(index) > 0 and (np.diff(np.asarray(index)) == 1).all())


def _missing(value: object) -> bool:
    """None, NaN, NaT or pd.NA (a missing cell: shown blank, never as "nan")."""
    if value is None:
        return True
    try:
        return bool(pd.isna(value))
    except (TypeError, ValueError):
        return False


def _is_number(value: object) -> bool:
    return isinstance(value, (int, float, np.integer, np.floating)) and not isinstance(value, bool)
