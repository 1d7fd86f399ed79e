"""What the batch plans and what it returns: :class:`Job`, :class:`NotebookRun`, :class:`BatchResult`."""
from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Literal

import pandas as pd

from dmkit._results import Result, Summary, get_ax
from dmkit.params import Params

__all__ = ["BatchResult", "Job", "NotebookRun", "Status"]

Status = Literal["passed", "failed", "interrupted", "skipped"]
"""``skipped``: the notebook does not apply to the run (:mod:`dmkit.batch.applies`); the
reason is its ``error`` text. A skipped notebook is neither passed nor failed."""


@dataclass(frozen=True)
class Job:
    """One notebook to run with one params file."""

    notebook: str
    source: Path
    params: Params
    out_dir: Path
    parameters: Mapping[str, object]
    skip: str = ""
    """Why the notebook does not apply to this run ('' when it runs)."""


@dataclass(frozen=True)
class NotebookRun:
    """What happened to one job."""

    notebook: str
    province: str
    month: str
    status: Status
    seconds: float
    error: str = ""
    ipynb: str = ""
    html: str = ""
    finished_at: str = ""


@dataclass(frozen=True)
class BatchResult(Result):
    """The outcome of :func:`run_batch`.

    Attributes
    ----------
    runs : tuple of NotebookRun
    root : Path
        Folder holding the batch ``index.html``.
    seconds : float
        Wall time of the whole batch.
    """

    runs: tuple[NotebookRun, ...]
    root: Path
    seconds: float = 0.0
    indexes: tuple[Path, ...] = field(default=())

    @property
    def failed(self) -> tuple[NotebookRun, ...]:
        """The runs that failed."""
        return tuple(r for r in self.runs if r.status not in ("passed", "skipped"))

    @property
    def skipped(self) -> tuple[NotebookRun, ...]:
        """The runs skipped because the notebook does not apply (their ``error`` says why)."""
        return tuple(r for r in self.runs if r.status == "skipped")

    @property
    def exit_code(self) -> int:
        """0 if every notebook passed or was skipped (and at least one ran), else 1 (what
        ``dmkit run`` exits with)."""
        return 1 if self.failed or len(self.skipped) == len(self.runs) else 0

    def to_frame(self) -> pd.DataFrame:
        """One row per notebook run.

        Columns: notebook, province, month, status ("passed" | "failed" | "interrupted" |
        "skipped"), seconds, error ("" when passed; the reason when skipped), ipynb, html (paths of the executed notebook and its report).
        """
        cols = ["notebook", "province", "month", "status", "seconds", "error", "ipynb", "html"]
        return pd.DataFrame([{c: getattr(r, c) for c in cols} for r in self.runs], columns=cols)

    def summary(self) -> Summary:
        """The pass/fail table, slowest last, with the failures' errors as notes."""
        table = self.to_frame()[["province", "month", "notebook", "status", "seconds", "error"]]
        table = table.assign(seconds=table["seconds"].round(1),
                             error=table["error"].str.slice(0, 80))
        n_fail, n_skip = len(self.failed), len(self.skipped)
        title = (f"dmkit run: {len(self.runs) - n_fail - n_skip} passed, {n_fail} failed"
                 + (f", {n_skip} skipped (not applicable)" if n_skip else "")
                 + f" of {len(self.runs)} notebooks in {self.seconds:.0f} s")
        notes = [f"{r.province}/{r.month}/{r.notebook} failed: {r.error} (see {r.html or r.ipynb})"
                 for r in self.failed]
        notes += [f"{r.province}/{r.month}/{r.notebook} skipped: {r.error}" for r in self.skipped]
        notes.append(f"index: {self.root / 'index.html'}")
        return Summary(title=title, tables=(("", table.reset_index(drop=True)),), notes=tuple(notes))

    def plot(self, ax=None):
        """Horizontal bars of run time per notebook, red when it failed."""
        ax = get_ax(ax)
        frame = self.to_frame()
        labels = frame["province"] + "/" + frame["month"] + "/" + frame["notebook"]
        colors = ["tab:green" if s == "passed" else "tab:gray" if s == "skipped" else "tab:red"
                  for s in frame["status"]]
        ax.barh(labels, frame["seconds"], color=colors)
        ax.set_xlabel("seconds")
        ax.set_title("dmkit run: run time per notebook (red = failed, grey = skipped)")
        return ax
