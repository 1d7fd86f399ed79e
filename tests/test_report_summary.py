"""dm.report.summary: the heading names the run's province and month; the summary is written from numbers."""
from __future__ import annotations

import pytest

from dmkit.errors import ParameterError
from dmkit.report.record import headline_figures
from dmkit.report.summary import Report, heading, summary_html


def test_heading_names_the_runs_province_and_month():
    assert heading("The World Cup campaign", province="jiangsu", month="2009-06") == \
        "Jiangsu, 2009-06: The World Cup campaign"
    assert heading("x", province="yunnan", month="2008-05").startswith("Yunnan, 2008-05")
    with pytest.raises(ParameterError, match="province"):
        heading("x", province="", month="2009-06")


def test_summary_block_shows_sentences_and_formatted_headline():
    heads = headline_figures({"sent": 4710.0, "rate": 0.0179}, [("sent", "Offers sent", "count"),
                                                                ("rate", "Replied / delivered", "percent")])
    html = summary_html(["One.", "Two <b>.", "Three."], heads)
    assert "Executive summary" in html and "4,710" in html and "1.8%" in html
    assert "Two &lt;b&gt;." in html  # sentences are escaped


def test_summarize_wants_three_to_five_sentences():
    report = Report("t", "id")
    with pytest.raises(ParameterError, match="three to five"):
        report.summarize(["One.", "Two."], figures={}, headline=[])
    with pytest.raises(ParameterError, match="headline"):
        report.summarize(["One.", "Two.", "Three."], figures={"a": 1}, headline=[("b", "B", "count")])


def test_summarize_updates_the_placeholder_display():
    class Handle:
        updated = None

        def update(self, obj):
            self.updated = obj

    handle = Handle()
    Report("t", "id", handle).summarize(["One.", "Two.", "Three."], figures={"a": 1},
                                        headline=[("a", "A figure", "count")])
    assert "A figure" in handle.updated.data and "One. Two. Three." in handle.updated.data


def test_noting_turns_the_methods_warnings_into_notes(monkeypatch):
    import warnings

    from dmkit.report import summary

    said = []
    monkeypatch.setattr(summary, "say", said.append)
    with warnings.catch_warnings(record=True) as outside:
        warnings.simplefilter("always")
        with summary.noting():
            warnings.warn("few take-ups (target 41, control 0)", UserWarning, stacklevel=1)
            warnings.warn("something deprecated", DeprecationWarning, stacklevel=1)
    assert said == ["*Note from the method:* few take-ups (target 41, control 0)."]
    assert [w.category for w in outside] == [DeprecationWarning]  # not swallowed
