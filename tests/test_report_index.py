"""The index page of `dmkit run`: per report its title, status, run time and headline figures, readable."""
from __future__ import annotations

from dmkit.batch.html import write_index
from dmkit.batch.results import NotebookRun
from dmkit.report.record import record


def test_index_shows_titles_run_times_and_labelled_headline_figures(tmp_path):
    folder = tmp_path / "jiangsu" / "2009-06"
    record(folder, "jiangsu_campaign", {"response_rate": 0.01736, "sent": 7183.0, "ari_vs_planted": 0.9},
           headline=[("response_rate", "Replied / delivered", "percent"), ("sent", "Offers sent", "count")],
           title="Jiangsu, 2009-06: The two-step World Cup campaign (营销活动)")
    record(folder, "old_style", {"mape_naive_operating": 0.06741, "n_rules": 33170.0})  # no headline
    runs = [NotebookRun("jiangsu_campaign", "jiangsu", "2009-06", "passed", 147.5,
                        ipynb=str(folder / "jiangsu_campaign.ipynb"), html=str(folder / "jiangsu_campaign.html")),
            NotebookRun("old_style", "jiangsu", "2009-06", "passed", 6.2),
            NotebookRun("broken", "jiangsu", "2009-06", "failed", 3.0, error="cell 4: KeyError: 'x'")]
    write_index([folder], runs=runs, root=tmp_path)
    page = (folder / "index.html").read_text(encoding="utf-8")
    assert "<h1>Jiangsu, 2009-06: case-study reports</h1>" in page
    assert ">The two-step World Cup campaign (营销活动)</a>" in page  # the run's name is not repeated
    assert "Replied / delivered" in page and "1.7%" in page and "7,183" in page
    assert "2 min 28 s" in page and "6 s" in page
    # a notebook without headline figures: its first figures, with readable labels and formats
    assert "Mape naive operating" in page and "6.7%" in page and "33,170" in page
    assert "mape_naive_operating" not in page.replace("old_style", "")
    assert "ari_vs_planted" not in page
    # failures first, with their error
    assert page.index("broken") < page.index("jiangsu_campaign") and "KeyError" in page
    assert "2 of 3 reports passed" in page
