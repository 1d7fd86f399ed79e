"""Argument and frame checks shared by every public function.

Table checks against the data contract live in :mod:`dmkit.schema`; these are the
lighter checks for analyst-supplied frames (named columns, numeric features) and
for scalar parameters, all raising :mod:`dmkit.errors` with the standard wording.
"""
from __future__ import annotations

from collections.abc import Iterable, Sequence

import numpy as np
import pandas as pd

from dmkit.errors import parameter_error, schema_error


def check_frame(df: object, *, table: str, columns: Iterable[str] = (), min_rows: int = 1) -> pd.DataFrame:
    """Check that ``df`` is a DataFrame with ``columns`` and at least ``min_rows`` rows.

    Raises
    ------
    SchemaError
        Naming the table and the first missing column.
    """
    if not isinstance(df, pd.DataFrame):
        raise schema_error(table=table, column=None, expected="a pandas DataFrame",
                           found=type(df).__name__)
    missing = [c for c in columns if c not in df.columns]
    if missing:
        raise schema_error(table=table, column=missing[0],
                           expected=f"columns {list(columns)}",
                           found=f"no column(s) {missing}; it has {list(df.columns)[:12]}")
    if len(df) < min_rows:
        raise schema_error(table=table, column=None, expected=f"at least {min_rows} row(s)",
                           found=f"{len(df)} rows", fix="check the filter that built this table")
    return df


def check_numeric(df: pd.DataFrame, columns: Sequence[str], *, table: str, finite: bool = True) -> None:
    """Check that ``columns`` are numeric (bool allowed) and, if ``finite``, free of NaN/inf."""
    check_frame(df, table=table, columns=columns)
    for c in columns:
        s = df[c]
        if not (pd.api.types.is_numeric_dtype(s) or pd.api.types.is_bool_dtype(s)):
            raise schema_error(table=table, column=c, expected="a numeric column",
                               found=f"dtype {s.dtype}",
                               fix="encode it (e.g. pd.get_dummies) or drop it")
        if finite and not pd.api.types.is_bool_dtype(s):
            vals = s.to_numpy(dtype=float, na_value=np.nan)
            bad = ~np.isfinite(vals)
            if bad.any():
                raise schema_error(table=table, column=c, expected="finite values",
                                   found=f"{int(bad.sum())} NaN or infinite values",
                                   rows=list(df.index[bad][:5]),
                                   fix="fill or drop the missing values first")


def check_scalar(
    value: object,
    name: str,
    *,
    kind: type | tuple[type, ...] = (int, float),
    low: float | None = None,
    high: float | None = None,
    low_inclusive: bool = True,
    high_inclusive: bool = True,
    allow_none: bool = False,
) -> None:
    """Check a scalar parameter's type and range; raise :class:`ParameterError` naming it."""
    if value is None and allow_none:
        return
    kinds = kind if isinstance(kind, tuple) else (kind,)
    is_bool = isinstance(value, (bool, np.bool_))
    # numpy scalars count as the Python type they hold (np.float64(2.5) is not an int)
    plain = value.item() if isinstance(value, np.generic) else value
    if (is_bool and bool not in kinds) or not isinstance(plain, kinds):
        names = " or ".join(k.__name__ for k in kinds)
        raise parameter_error(name, expected=names, found=value)
    lo_ok = low is None or (value >= low if low_inclusive else value > low)
    hi_ok = high is None or (value <= high if high_inclusive else value < high)
    if not (lo_ok and hi_ok):
        lb = "" if low is None else ("[" if low_inclusive else "(") + f"{low}"
        hb = "" if high is None else f"{high}" + ("]" if high_inclusive else ")")
        rng = f"a value in {lb or '(-inf'}, {hb or 'inf)'}"
        raise parameter_error(name, expected=rng, found=value)


def check_choice(value: object, name: str, choices: Iterable[object]) -> None:
    """Check that ``value`` is one of ``choices``; raise :class:`ParameterError` listing them."""
    choices = list(choices)
    if value not in choices:
        raise parameter_error(name, expected=f"one of {choices}", found=value)
