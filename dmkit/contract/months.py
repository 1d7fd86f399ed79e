"""The data month: one check of ``'YYYY-MM'`` and one meaning of "month end".

A data month ``'2009-06'`` is the half-open interval ``[2009-06-01 00:00, 2009-07-01 00:00)``.
:func:`month_end` is its **exclusive** end, the midnight that starts the next month, so

- something happened *by the end of the month* when its time is ``< month_end(month)``;
- something is *still going at the month's end* when it ends at or after ``month_end(month)``
  (or never ended).

Every module that cuts tables at a month's end uses these two functions.

Part of the contract (:mod:`dmkit.contract`): imports nothing of dmkit above it.
"""
from __future__ import annotations

import pandas as pd

from dmkit.errors import parameter_error
from dmkit.schema import MONTH_RE

__all__ = ["MONTH_RE", "check_month", "month_end"]


def check_month(month: object, name: str = "month") -> str:
    """``month`` itself when it is a string ``'YYYY-MM'``.

    Raises
    ------
    ParameterError
        Anything else, naming the parameter ``name``: "parameter 'month': expected a
        month 'YYYY-MM' (e.g. '2009-06'); got ...".
    """
    if not isinstance(month, str) or not MONTH_RE.match(month):
        raise parameter_error(name, expected="a month 'YYYY-MM' (e.g. '2009-06')", found=month)
    return month


def month_end(month: object, name: str = "month") -> pd.Timestamp:
    """The exclusive end of ``month``: midnight of the first day of the next month.

    >>> month_end("2009-06")
    Timestamp('2009-07-01 00:00:00')

    Raises
    ------
    ParameterError
        ``month`` is not a string ``'YYYY-MM'`` (see :func:`check_month`).
    """
    check_month(month, name)
    return (pd.Period(month, freq="M") + 1).start_time
