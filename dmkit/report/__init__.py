"""Report helpers the notebooks import: style, tables, prose, headline figures, summary.

- :mod:`dmkit.report.style` — one matplotlib style with a bundled CJK font (:func:`use`);
- :mod:`dmkit.report.webfont` — the same font's glyphs a page uses, embedded in its HTML (:func:`embed_cjk_font`);
- :mod:`dmkit.report.tables` — tables formatted for a report (:func:`table`);
- :mod:`dmkit.report.prose` — sentences written from the numbers (:func:`comparison`, ...);
- :mod:`dmkit.report.record` — key and headline figures for the tests and the index (:func:`record`);
- :mod:`dmkit.report.summary` — the heading and executive summary of a report (:func:`start`).

The top floor of dmkit, beside :mod:`dmkit.batch`: nothing below imports it.
"""
from __future__ import annotations

from dmkit.report import prose
from dmkit.report.prose import comparison, difference, drivers, empty, listing, share
from dmkit.report.record import Headline, read_headline, read_record, read_title, record
from dmkit.report.style import CJK_FONT, use
from dmkit.report.summary import Report, heading, noting, say, start
from dmkit.report.tables import (
    ReportTable,
    format_count,
    format_money,
    format_number,
    format_percent,
    table,
)

__all__ = [
    "CJK_FONT",
    "Headline",
    "Report",
    "ReportTable",
    "comparison",
    "difference",
    "drivers",
    "empty",
    "format_count",
    "format_money",
    "format_number",
    "format_percent",
    "heading",
    "listing",
    "noting",
    "prose",
    "read_headline",
    "read_record",
    "read_title",
    "record",
    "say",
    "share",
    "start",
    "table",
    "use",
]
