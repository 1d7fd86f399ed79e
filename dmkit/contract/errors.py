"""Exceptions raised by dmkit.

Every error says what went wrong, what was expected, what was found and, where it
helps, how to fix it. All inherit from :class:`DmkitError`, so ``except DmkitError``
catches anything dmkit raises on purpose.
"""
from __future__ import annotations

from collections.abc import Iterable

__all__ = [
    "DmkitError",
    "SchemaError",
    "ParameterError",
    "DataNotFoundError",
    "NotFittedError",
    "ConvergenceError",
    "NotebookRunError",
    "NoTwinError",
]


class DmkitError(Exception):
    """Base class of every error dmkit raises on purpose."""


class SchemaError(DmkitError, ValueError):
    """A table breaks the data contract (missing column, wrong dtype, bad value, duplicate key).

    Attributes
    ----------
    table, column : str or None
        Where the problem is.
    rows : list
        A few offending row keys (or index labels).
    """

    def __init__(
        self,
        message: str,
        *,
        table: str | None = None,
        column: str | None = None,
        rows: Iterable | None = None,
    ) -> None:
        super().__init__(message)
        self.table = table
        self.column = column
        self.rows = list(rows) if rows is not None else []


class ParameterError(DmkitError, ValueError):
    """A function argument is outside what is allowed.

    Attributes
    ----------
    parameter : str
        The argument's name.
    """

    def __init__(self, message: str, *, parameter: str | None = None) -> None:
        super().__init__(message)
        self.parameter = parameter


class DataNotFoundError(DmkitError, FileNotFoundError):
    """A table, file or params file that was asked for does not exist."""


class NotFittedError(DmkitError, AttributeError):
    """An estimator was used before ``fit``."""


class ConvergenceError(DmkitError, RuntimeError):
    """A numerical fit did not converge; the message lists what to try."""


class NotebookRunError(DmkitError, RuntimeError):
    """One or more notebooks of a batch failed."""


class NoTwinError(DmkitError, AttributeError):
    """A method was asked of an engine (``dm.engines.dispatch``) that has no twin of it there."""


def schema_error(
    *,
    table: str,
    column: str | None,
    expected: str,
    found: str,
    rows: Iterable | None = None,
    fix: str | None = None,
) -> SchemaError:
    """Build a :class:`SchemaError` with the standard wording.

    ``table 'usage', column 'sms_p2p': expected counts >= 0; found 3 negative values;
    e.g. rows (user_id=5, month='2009-05'). Fix: ...``
    """
    rows = list(rows) if rows is not None else []
    where = f"table {table!r}" + (f", column {column!r}" if column else "")
    msg = f"{where}: expected {expected}; found {found}"
    if rows:
        shown = ", ".join(_fmt_row(r) for r in rows[:5])
        more = f" and {len(rows) - 5} more" if len(rows) > 5 else ""
        msg += f"; e.g. rows {shown}{more}"
    if fix:
        msg += f". Fix: {fix}"
    return SchemaError(msg, table=table, column=column, rows=rows)


def parameter_error(parameter: str, *, expected: str, found: object, fix: str | None = None) -> ParameterError:
    """Build a :class:`ParameterError`: ``parameter 'k': expected ...; got ...``."""
    msg = f"parameter {parameter!r}: expected {expected}; got {found!r}"
    if fix:
        msg += f". Fix: {fix}"
    return ParameterError(msg, parameter=parameter)


def _fmt_row(row: object) -> str:
    if isinstance(row, dict):
        return "(" + ", ".join(f"{k}={v!r}" for k, v in row.items()) + ")"
    return repr(row)
