"""The light argument and frame checks of dmkit._validation."""
from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

from dmkit._validation import check_choice, check_frame, check_numeric, check_scalar
from dmkit.errors import ParameterError, SchemaError


def test_check_frame_accepts_and_returns_the_frame():
    df = pd.DataFrame({"a": [1, 2], "b": ["x", "y"]})
    assert check_frame(df, table="features", columns=["a", "b"], min_rows=2) is df


def test_check_frame_refuses_non_frames_missing_columns_and_short_frames():
    with pytest.raises(SchemaError, match=r"table 'features': expected a pandas DataFrame; found list"):
        check_frame([1, 2], table="features")
    df = pd.DataFrame({"a": [1, 2]})
    with pytest.raises(SchemaError, match=r"table 'features', column 'b': expected columns \['a', 'b'\]; "
                                          r"found no column\(s\) \['b'\]; it has \['a'\]"):
        check_frame(df, table="features", columns=["a", "b"])
    with pytest.raises(SchemaError, match=r"expected at least 3 row\(s\); found 2 rows"):
        check_frame(df, table="features", min_rows=3)


def test_check_numeric_allows_bools_and_refuses_text_and_nan():
    df = pd.DataFrame({"x": [1.0, 2.0, np.nan], "flag": [True, False, True], "s": ["a", "b", "c"]},
                      index=[10, 11, 12])
    check_numeric(df, ["flag"], table="X")
    check_numeric(df, ["x"], table="X", finite=False)
    with pytest.raises(SchemaError, match=r"column 's': expected a numeric column; found dtype object"):
        check_numeric(df, ["flag", "s"], table="X")
    with pytest.raises(SchemaError, match=r"column 'x': expected finite values; found 1 NaN") as info:
        check_numeric(df, ["x"], table="X")
    assert info.value.rows == [12]  # the index label of the offending row
    df.loc[10, "x"] = np.inf
    with pytest.raises(SchemaError, match=r"found 2 NaN or infinite values"):
        check_numeric(df, ["x"], table="X")


@pytest.mark.parametrize(("value", "kw"), [
    (3, {"kind": int, "low": 1}),
    (np.int64(3), {"kind": int, "low": 1, "high": 3}),
    (0.5, {"kind": float, "low": 0, "high": 1, "low_inclusive": False}),
    (np.float64(0.5), {"kind": float}),
    (None, {"allow_none": True}),
    (True, {"kind": bool}),
    ("hgb", {"kind": str}),
])
def test_check_scalar_accepts(value, kw):
    check_scalar(value, "p", **kw)


@pytest.mark.parametrize(("value", "kw", "message"), [
    (0, {"kind": int, "low": 1}, r"parameter 'k': expected a value in \[1, inf\); got 0"),
    (1.0, {"kind": float, "low": 0, "high": 1, "high_inclusive": False},
     r"parameter 'k': expected a value in \[0, 1\); got 1.0"),
    (0.0, {"kind": float, "low": 0, "low_inclusive": False}, r"expected a value in \(0, inf\); got 0.0"),
    (5, {"high": 4}, r"expected a value in \(-inf, 4\]; got 5"),
    (2.5, {"kind": int}, r"parameter 'k': expected int; got 2.5"),
    (np.float64(2.5), {"kind": int}, r"parameter 'k': expected int; got"),
    (True, {"kind": int}, r"parameter 'k': expected int; got True"),
    (np.bool_(True), {}, r"parameter 'k': expected int or float; got"),
    ("3", {}, r"parameter 'k': expected int or float; got '3'"),
    (None, {}, r"parameter 'k': expected int or float; got None"),
    (float("nan"), {"low": 0}, r"expected a value in \[0, inf\); got nan"),
])
def test_check_scalar_refuses_with_the_parameter_name(value, kw, message):
    with pytest.raises(ParameterError, match=message) as info:
        check_scalar(value, "k", **kw)
    assert info.value.parameter == "k"


def test_check_choice_lists_the_choices():
    check_choice("hgb", "model", ["hgb", "logit", "tree"])
    with pytest.raises(ParameterError, match=r"parameter 'model': expected one of \['hgb', 'logit', 'tree'\]; got 'svm'"):
        check_choice("svm", "model", ("hgb", "logit", "tree"))
