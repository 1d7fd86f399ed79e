"""The batch's process pool: spawn workers, Ctrl-C handling, the progress bar.

``jobs == 1`` runs in the calling process (:func:`make_pool` returns a stand-in that
yields ``None``). After one Ctrl-C a worker refuses the notebooks still queued to it
(:data:`INTERRUPTED`), and :func:`abort` cancels what has not started.
"""
from __future__ import annotations

import contextlib
import multiprocessing
import os
import signal
from concurrent.futures import ProcessPoolExecutor

from dmkit.batch.results import NotebookRun

__all__ = ["INTERRUPTED", "abort", "make_pool", "progress_bar", "tick", "worker_init"]

class _InProcess:
    """Stands in for a pool when ``jobs == 1``: nothing to start or shut down."""

    def __enter__(self):
        return None

    def __exit__(self, *exc) -> None:
        return None


def make_pool(jobs: int):
    if jobs == 1:
        return _InProcess()
    return ProcessPoolExecutor(max_workers=jobs, mp_context=multiprocessing.get_context("spawn"),
                               initializer=worker_init)


INTERRUPTED: list[bool] = []  # set in a pool worker once it saw Ctrl-C


def worker_init() -> None:
    """In each pool worker: after one Ctrl-C, refuse the notebooks still queued to it."""
    def on_sigint(signum, frame):
        first = not INTERRUPTED
        INTERRUPTED.append(True)
        if first:  # a second Ctrl-C must not break the clean-up of the first
            raise KeyboardInterrupt

    signal.signal(signal.SIGINT, on_sigint)


def abort(pool, futures) -> None:
    """Ctrl-C in the batch: cancel what has not started and pass the interrupt to the workers."""
    for f in futures:
        f.cancel()
    for proc in list((getattr(pool, "_processes", None) or {}).values()):
        with contextlib.suppress(OSError):
            os.kill(proc.pid, signal.SIGINT)


def progress_bar(total: int, desc: str, progress: bool):
    from tqdm.auto import tqdm

    return tqdm(total=total, desc=desc, unit="nb" if desc == "notebooks" else "run",
                disable=not progress, leave=True)


def tick(bar, runs: list[NotebookRun]) -> None:
    failed = sum(r.status != "passed" for r in runs)
    bar.set_postfix_str(f"{failed} failed" if failed else "all passed", refresh=False)
    bar.update()
