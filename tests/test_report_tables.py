"""dm.report.tables: counts with separators, rates as percentages, money with units, no index noise."""
from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

from dmkit.errors import ParameterError
from dmkit.report.tables import (
    column_kinds,
    format_count,
    format_money,
    format_number,
    format_percent,
    table,
)


def test_counts_never_float_or_scientific():
    assert format_count(6497.0) == "6,497"
    assert format_count(np.int64(4_710_081)) == "4,710,081"
    assert format_number(50000.0) == "50,000"
    assert format_number(33170.0) == "33,170"
    assert format_number(1.2e-05) == "< 0.0001" and format_number(3.76e-112) == "< 0.0001"
    assert format_number(0.00012) == "0.00012" and format_number(-2e-9) == "> −0.0001"
    assert format_number(0.5861) == "0.586" and format_number(123.456) == "123"
    assert "e" not in format_number(123456789.123)
    assert format_count(None) == "" and format_count(float("nan")) == ""


def test_percent_precision_follows_size():
    assert format_percent(0.356063) == "35.6%"
    assert format_percent(0.0049) == "0.49%"
    assert format_percent(0.00049) == "0.049%"
    assert format_percent(0.0179, decimals=2) == "1.79%"
    # not zero but rounding to it: a bound, never "0.000%" (a chance of 1e-7 is not a chance of 0)
    assert format_percent(1e-7) == "< 0.001%" and format_percent(-1e-7) == "> -0.001%"
    assert format_percent(0.001, decimals=0) == "< 1%"
    assert format_percent(0.0) == "0%" and format_percent(0.000005) == "0.001%"


def test_money_has_its_unit():
    assert format_money(1234.5) == "1,234.50 yuan"
    assert format_money(0.0024) == "0.0024 yuan" and format_money(-0.0031) == "-0.0031 yuan"  # below a cent
    assert format_money(0.004) == "0.004 yuan" and format_money(0.006) == "0.01 yuan"
    assert format_money(3e-7) == "< 0.0001 yuan" and format_money(0.0) == "0.00 yuan"
    assert format_money(4_710_081, unit="yuan") == "4.71 million yuan"
    assert format_money(2.5e9) == "25.00 hundred million yuan"


def test_kinds_guessed_from_name_and_values_and_overridden():
    df = pd.DataFrame({"sent": [6497.0, 12.0], "response_rate": [0.0179, 0.3], "arpu": [45.2, 88.0],
                       "auc": [0.586, 0.487], "lift": [2.0, 3.0], "name": ["a", "b"],
                       "holders": [502.0, 3.0]})
    kinds = column_kinds(df)
    assert kinds == {"sent": "count", "response_rate": "percent", "arpu": "money", "auc": "number",
                     "lift": "number", "name": "text", "holders": "count"}
    assert column_kinds(df, percents=["auc"])["auc"] == "percent"
    with pytest.raises(ParameterError, match="percents.*nope"):
        column_kinds(df, percents=["nope"])


def test_a_rate_outside_0_1_is_not_a_percent():
    assert column_kinds(pd.DataFrame({"growth_rate": [12.5, 3.2]}))["growth_rate"] == "number"


def test_table_hides_a_row_number_index_and_keeps_a_real_one():
    df = pd.DataFrame({"sent": [6497.0, 12000.0], "response_rate": [0.0179, 0.356]})
    t = table(df)
    assert not t.show_index
    assert t.frame.to_dict("list") == {"sent": ["6,497", "12,000"], "response_rate": ["1.8%", "35.6%"]}
    html = t._repr_html_()
    assert "overflow-x:auto" in html and "e+0" not in html and "<th></th>" not in html
    named = table(df.set_index(pd.Index(["kunming", "dali"], name="prefecture")))
    assert named.show_index and "kunming" in named._repr_html_()
    # a filtered frame keeps gaps in its row numbers: still noise, still hidden
    assert not table(df.set_index(pd.Index([3, 4]))).show_index


def test_series_and_summary():
    from dmkit._results import Summary

    s = table(pd.Series({"sent": 6497.0, "retention": 0.813, "p_value": 0.03}, name="step 2"))
    assert s.frame["step 2"].tolist() == ["6,497", "81.3%", "0.03"]
    summ = table(Summary("Rules", (("rules", pd.DataFrame({"baskets": [50000.0], "support": [0.0123]})),),
                         ("a note",)))
    html = summ._repr_html_()
    assert "50,000" in html and "1.2%" in html and "a note" in html and "5e+04" not in html


def test_long_tables_say_what_was_left_out():
    t = table(pd.DataFrame({"n": range(100)}), max_rows=10)
    assert len(t.frame) == 10 and t.notes == ("first 10 of 100 rows",)


def test_bad_input_named():
    with pytest.raises(ParameterError, match="data"):
        table([1, 2, 3])


def test_rows_that_are_rates_show_as_percentages():
    df = pd.DataFrame({"published (J3)": [0.408, 0.0179], "reproduced": [0.41, 0.02]},
                      index=["delivery_rate", "response_rate"])
    assert table(df).frame["published (J3)"].tolist() == ["40.8%", "1.8%"]
    mixed = df.rename(index={"delivery_rate": "auc"})
    assert table(mixed).frame["reproduced"].tolist() == ["0.41", "0.02"]


def test_dates_show_as_dates():
    df = pd.DataFrame({"date": pd.to_datetime(["2009-06-06", "2009-06-09"]), "sent": [1592, 2270]})
    assert table(df).frame["date"].tolist() == ["2009-06-06", "2009-06-09"]
    assert table(pd.DataFrame({"t": pd.to_datetime(["2009-06-06 10:30"])})).frame["t"].tolist() == ["2009-06-06 10:30"]


def test_missing_text_cells_are_blank_not_nan():
    frame = pd.DataFrame({"genre": pd.Categorical(["pop", np.nan, "local"]),
                          "channel": ["sms", None, "wap"], "note": ["a", pd.NA, "c"]}, index=pd.Index([7, 8, 9], name="user_id"))
    cells = table(frame).frame
    assert cells.loc[8].tolist() == ["", "", ""]
    assert cells.loc[7].tolist() == ["pop", "sms", "a"]
    assert "nan" not in str(table(frame)).lower()
