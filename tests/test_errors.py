"""Error classes and the standard wording of their messages."""
from __future__ import annotations

import pytest

from dmkit import errors
from dmkit.errors import (
    ConvergenceError,
    DataNotFoundError,
    DmkitError,
    NotebookRunError,
    NotFittedError,
    ParameterError,
    SchemaError,
    parameter_error,
    schema_error,
)


@pytest.mark.parametrize(("cls", "builtin"), [
    (SchemaError, ValueError),
    (ParameterError, ValueError),
    (DataNotFoundError, FileNotFoundError),
    (NotFittedError, AttributeError),
    (ConvergenceError, RuntimeError),
    (NotebookRunError, RuntimeError),
])
def test_every_error_is_a_dmkit_error_and_the_matching_builtin(cls, builtin):
    assert issubclass(cls, DmkitError) and issubclass(cls, builtin)
    with pytest.raises(DmkitError):
        raise cls("x")


def test_all_names_are_exported():
    for name in errors.__all__:
        assert isinstance(getattr(errors, name), type)


def test_schema_error_wording_names_table_column_expected_found_rows_and_fix():
    err = schema_error(table="usage", column="sms_p2p", expected="counts >= 0",
                       found="3 negative values",
                       rows=[{"user_id": 5, "month": "2009-05"}, {"user_id": 9, "month": "2009-06"}],
                       fix="clip or drop them")
    assert isinstance(err, SchemaError)
    assert str(err) == ("table 'usage', column 'sms_p2p': expected counts >= 0; found 3 negative "
                        "values; e.g. rows (user_id=5, month='2009-05'), (user_id=9, month='2009-06')"
                        ". Fix: clip or drop them")
    assert (err.table, err.column) == ("usage", "sms_p2p")
    assert err.rows == [{"user_id": 5, "month": "2009-05"}, {"user_id": 9, "month": "2009-06"}]


def test_schema_error_shows_five_rows_and_counts_the_rest():
    err = schema_error(table="users", column="age", expected="ages <= 120", found="8 values",
                       rows=list(range(100, 108)))
    assert str(err).endswith("e.g. rows 100, 101, 102, 103, 104 and 3 more")
    assert len(err.rows) == 8


def test_schema_error_without_column_or_rows():
    err = schema_error(table="kpis", column=None, expected="at least one row", found="an empty table")
    assert str(err) == "table 'kpis': expected at least one row; found an empty table"
    assert err.column is None and err.rows == []


def test_parameter_error_wording():
    err = parameter_error("k", expected="an integer >= 2", found=1, fix="use k=None to choose by silhouette")
    assert isinstance(err, ParameterError) and err.parameter == "k"
    assert str(err) == ("parameter 'k': expected an integer >= 2; got 1. "
                        "Fix: use k=None to choose by silhouette")
    assert str(parameter_error("month", expected="'YYYY-MM'", found="2009-6")) == \
        "parameter 'month': expected 'YYYY-MM'; got '2009-6'"
