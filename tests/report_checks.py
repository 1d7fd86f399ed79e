"""What every case report must show a reader, checked on a notebook its test executed.

``assert_reads_as_report(tmp_path, name, province=..., month=...)`` after ``execute_notebook``:
the first heading names the run's province and month, the executive summary was written from
the numbers (the placeholder is gone), nothing was printed to stderr (no warning), no table
shows a number in scientific notation, and the headline figures for the index were recorded.
"""
from __future__ import annotations

import re
from pathlib import Path

import nbformat

from dmkit.report.record import read_headline, read_title

__all__ = ["assert_reads_as_report"]

_SCIENTIFIC = re.compile(r"\b\d(?:\.\d+)?e[+-]\d+\b")


def assert_reads_as_report(tmp_path: Path, name: str, *, province: str, month: str) -> None:
    nb = nbformat.read(Path(tmp_path) / f"{name}.ipynb", as_version=4)
    outputs = [o for c in nb.cells if c.cell_type == "code" for o in c.get("outputs", [])]
    shown = [o for o in outputs if o.output_type in ("display_data", "execute_result")]
    headings = [line for o in shown for line in o.get("data", {}).get("text/markdown", "").splitlines()
                if line.startswith("# ")]
    first = f"# {province.replace('_', ' ').title()}, {month}: "
    assert headings and headings[0].startswith(first), f"first heading {headings[:1]} does not start {first!r}"
    summary = [o["data"]["text/html"] for o in shown if "dmkit-summary" in o.get("data", {}).get("text/html", "")]
    assert len(summary) == 1 and "Executive summary" in summary[0]
    assert "if this line is still here" not in summary[0], "the executive summary was not written"
    stderr = [o["text"] for o in outputs if o.output_type == "stream" and o.get("name") == "stderr"]
    assert stderr == [], f"printed to stderr: {stderr[0][:300]}"
    stdout = "".join(o["text"] for o in outputs if o.output_type == "stream" and o.get("name") == "stdout")
    assert "Copyright" not in stdout, f"a library's banner reached the report: {stdout[:300]}"  # e.g. HiGHS's
    for o in shown:
        html = o.get("data", {}).get("text/html", "")
        for cells in re.findall(r"<table.*?</table>", html, flags=re.S):  # notes below may quote a p-value
            found = _SCIENTIFIC.search(cells)
            assert not found, f"scientific notation in a table: {found and found[0]}"
    assert read_title(tmp_path, name).startswith(first[2:])
    assert 2 <= len(read_headline(tmp_path, name)) <= 3
