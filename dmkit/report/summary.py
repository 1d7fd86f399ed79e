"""A report's heading and executive summary, written from the run's numbers.

A notebook's first cell after its parameters calls :func:`start`, which applies the report
style, shows the heading — naming the run's province and month and the published case it
reproduces — and keeps a place at the top for the executive summary. The last cell calls
:meth:`Report.summarize` with three to five sentences (built with :mod:`dmkit.report.prose`
from the results) and the headline figures: they replace the placeholder at the top of the
report (a Jupyter display update, which papermill and JupyterLab both apply).

>>> import dmkit as dm
>>> report = dm.report.start("The two-step World Cup campaign", province="jiangsu",   # doctest: +SKIP
...                          month="2009-06", cases="J3, J1, G4", deck="Jiangsu Mobile, June 2009")
>>> report.summarize(["The funnel ...", "..."], figures=figures, headline=headline)  # doctest: +SKIP
"""
from __future__ import annotations

import contextlib
import html
import itertools
import warnings
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field

from dmkit.errors import parameter_error
from dmkit.report.record import Headline, headline_figures
from dmkit.report.tables import Kind

__all__ = ["Report", "heading", "noting", "say", "start", "summary_html"]

_COUNTER = itertools.count()


def heading(title: str, *, province: str, month: str) -> str:
    """The report's first heading: ``"Jiangsu, 2009-06: The two-step World Cup campaign"``."""
    if not province or not month:
        raise parameter_error("province/month", expected="the run's province and month",
                              found=(province, month))
    return f"{province.replace('_', ' ').title()}, {month}: {title}"


def summary_html(sentences: Sequence[str], heads: Sequence[Headline]) -> str:
    """The executive summary block: the sentences, then the headline figures as cards."""
    cards = "".join(
        f'<div style="border:1px solid #d0d7de;border-radius:6px;padding:6px 12px;min-width:150px">'
        f'<div style="font-size:80%;color:#57606a">{html.escape(h.label)}</div>'
        f'<div style="font-size:140%;font-weight:600">{html.escape(h.text)}</div></div>'
        for h in heads)
    text = " ".join(html.escape(s) for s in sentences)
    return ('<div class="dmkit-summary" style="background:#f6f8fa;border-left:4px solid #0969da;'
            'padding:8px 16px;margin:8px 0">'
            '<h2 style="margin-top:4px">Executive summary</h2>'
            f'<p style="font-size:105%;line-height:1.5">{text}</p>'
            f'<div style="display:flex;flex-wrap:wrap;gap:10px;margin-bottom:6px">{cards}</div></div>')


@dataclass
class Report:
    """The report being written: its heading is shown; :meth:`summarize` fills the summary.

    Attributes
    ----------
    title : str
        The heading shown (with province and month).
    display_id : str
        The Jupyter display the executive summary is written into.
    """

    title: str
    display_id: str
    _handle: object = field(default=None, repr=False)

    def summarize(self, sentences: Sequence[str], *, figures: Mapping[str, object],
                  headline: Sequence[tuple[str, str, Kind] | tuple[str, str]]) -> None:
        """Write the executive summary at the top of the report.

        Parameters
        ----------
        sentences : sequence of str
            Three to five sentences, written from the numbers (:mod:`dmkit.report.prose`).
        figures : mapping
            The recorded figures.
        headline : sequence of (key, label, kind)
            The headline figures to show (the same list given to :func:`dmkit.report.record`).

        Raises
        ------
        ParameterError
            Fewer than three or more than five sentences, or a headline key not in ``figures``.
        """
        sentences = [str(s).strip() for s in sentences if str(s).strip()]
        if not 3 <= len(sentences) <= 5:
            raise parameter_error("sentences", expected="three to five sentences",
                                  found=f"{len(sentences)} sentences")
        from IPython.display import HTML

        block = HTML(summary_html(sentences, headline_figures(figures, headline)))
        if self._handle is not None:
            self._handle.update(block)


def start(title: str, *, province: str, month: str, cases: str, deck: str, data: str = "synth",
          n_users: int | None = None) -> Report:
    """Apply the report style, show the heading and keep a place for the executive summary.

    Parameters
    ----------
    title : str
        What the report is about (without province or month).
    province, month : str
        The run's (the notebook's parameters).
    cases : str
        The published cases it reproduces, e.g. ``"J3, J1, G4"``.
    deck : str
        Whose case that is, e.g. ``"Jiangsu Mobile, June 2009"``: published figures quoted
        in the report are that deck's, not this run's.
    data : str
        ``"synth"`` (the simulator) or the folder of real extracts.
    n_users : int, optional
        Simulated subscribers (synth only).

    Returns
    -------
    Report
        Call ``.summarize(...)`` in the last cell.
    """
    from IPython.display import HTML, Markdown, display

    from dmkit.report.style import use

    use()
    text = heading(title, province=province, month=month)
    source = (f"simulated data ({n_users:,} subscribers)" if data == "synth" and n_users
              else "simulated data" if data == "synth" else f"the extracts in {data}")
    display(Markdown(
        f"# {text}\n\n"
        f"Reproduces case{'s' if ',' in cases else ''} {cases} of the published decks on this run's "
        f"{source} for {province.title()}, {month}. Figures marked **published** are the deck's "
        f"({deck}), quoted as that deck's case; every other figure is **reproduced** on this run."))
    display_id = f"dmkit-summary-{next(_COUNTER)}"
    handle = display(HTML(
        '<div class="dmkit-summary"><h2>Executive summary</h2><p><i>Written at the end of the run '
        'from its numbers; if this line is still here, the report stopped before its last cell.'
        '</i></p></div>'), display_id=display_id)
    return Report(text, display_id, handle)


def say(sentence: str) -> None:
    """Show a sentence written from the numbers as a paragraph of the report."""
    from IPython.display import Markdown, display

    display(Markdown(sentence))


@contextlib.contextmanager
def noting(*, category: type[Warning] = UserWarning):
    """Show the method's own warnings raised inside the block as notes of the report.

    A dmkit warning is meant for the analyst (e.g. "few take-ups: the interval is wide");
    in a report it belongs in the prose, not on stderr. Only ``category`` (UserWarning by
    default) is caught; other warnings pass through, so real problems still show.
    """
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always", category)
        yield
    notes = []
    for w in caught:
        if issubclass(w.category, category):
            notes.append(str(w.message))
        else:
            warnings.warn_explicit(w.message, w.category, w.filename, w.lineno)
    for note in dict.fromkeys(notes):
        say(f"*Note from the method:* {note}.")
