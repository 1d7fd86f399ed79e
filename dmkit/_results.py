"""The common face of every result object: ``to_frame``, ``summary``, ``plot`` and an HTML repr.

Results are frozen dataclasses that subclass :class:`Result`. They never print by
themselves; a notebook displays them (``_repr_html_`` renders the summary).
"""
from __future__ import annotations

from dataclasses import dataclass, field

import pandas as pd


@dataclass(frozen=True)
class Summary:
    """A readable summary: a title, named tables and notes (warnings, conclusions).

    Renders as text with ``str()`` and as HTML in a notebook.
    """

    title: str
    tables: tuple[tuple[str, pd.DataFrame], ...] = ()
    notes: tuple[str, ...] = field(default=())

    def table(self, name: str) -> pd.DataFrame:
        """Return the table called ``name``."""
        for n, t in self.tables:
            if n == name:
                return t
        raise KeyError(f"no table {name!r} in this summary; it has {[n for n, _ in self.tables]}")

    def __str__(self) -> str:
        parts = [self.title, "=" * len(self.title)]
        for name, t in self.tables:
            if name:
                parts += ["", name, "-" * len(name)]
            with pd.option_context("display.width", 120, "display.max_columns", 20,
                                   "display.float_format", "{:,.4g}".format):
                parts.append(t.to_string())
        if self.notes:
            parts.append("")
            parts += [f"note: {n}" for n in self.notes]
        return "\n".join(parts)

    __repr__ = __str__

    def _repr_html_(self) -> str:
        html = [f"<h4>{self.title}</h4>"]
        for name, t in self.tables:
            if name:
                html.append(f"<b>{name}</b>")
            html.append(t.to_html(float_format=lambda v: f"{v:,.4g}", max_rows=60))
        for n in self.notes:
            html.append(f"<p><i>note: {n}</i></p>")
        return "\n".join(html)


class Result:
    """Mixin for result dataclasses. Subclasses implement the three methods."""

    def to_frame(self) -> pd.DataFrame:  # pragma: no cover - interface
        """The main numbers as one DataFrame."""
        raise NotImplementedError

    def summary(self) -> Summary:  # pragma: no cover - interface
        """A readable :class:`Summary`."""
        raise NotImplementedError

    def plot(self, ax=None):  # pragma: no cover - interface
        """Draw the result on ``ax`` (a new figure if None) and return the Axes."""
        raise NotImplementedError

    def _repr_html_(self) -> str:
        return self.summary()._repr_html_()


def get_ax(ax=None, *, figsize: tuple[float, float] = (7, 4.5)):
    """Return ``ax`` or a fresh Axes on a new figure."""
    if ax is not None:
        return ax
    import matplotlib.pyplot as plt

    _, ax = plt.subplots(figsize=figsize)
    return ax
