"""Batch: run the case-study notebooks with papermill, in parallel, into HTML reports.

The top floor of dmkit (with :mod:`dmkit.params` and :mod:`dmkit.cli`); nothing below imports it.

- :mod:`dmkit.batch.run` — the batch API: :func:`run_batch` = :func:`plan`, :func:`prepare_data`,
  :func:`execute` per notebook, :func:`write_index`;
- :mod:`dmkit.batch.results` — :class:`Job`, :class:`NotebookRun`, :class:`BatchResult`;
- :mod:`dmkit.batch.pool` — the spawn process pool, Ctrl-C handling and the progress bar;
- :mod:`dmkit.batch.kernels` — the kernels' environment and IPC kernel manager;
- :mod:`dmkit.batch.html` — the HTML report of a notebook and the indexes;
- :mod:`dmkit.batch.record` — the figures a notebook records (``dm.runner.record``).

Example
-------
>>> from dmkit.params import select_params
>>> from dmkit.batch import run_batch
>>> result = run_batch(select_params(province="jiangsu", month="2009-06"), jobs=2)  # doctest: +SKIP
>>> print(result.summary())                                                        # doctest: +SKIP

The command line is ``dmkit run`` (:mod:`dmkit.cli`).
"""
from __future__ import annotations

from dmkit.batch.html import to_html, write_index
from dmkit.batch.kernels import kernel_environment, kernel_options
from dmkit.batch.record import read_record, record
from dmkit.batch.results import BatchResult, Job, NotebookRun
from dmkit.batch.run import execute, plan, prepare_data, run_batch

__all__ = [
    "BatchResult",
    "Job",
    "NotebookRun",
    "execute",
    "kernel_environment",
    "kernel_options",
    "plan",
    "prepare_data",
    "read_record",
    "record",
    "run_batch",
    "to_html",
    "write_index",
]
