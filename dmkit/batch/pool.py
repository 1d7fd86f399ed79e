"""The batch's process pool: spawn workers, Ctrl-C handling, the progress bar.

``jobs == 1`` runs in the calling process (:func:`make_pool` returns a stand-in that
yields ``None``). After one Ctrl-C a worker refuses the notebooks still queued to it
(:data:`INTERRUPTED`), and :func:`abort` cancels what has not started and waits for the
workers to stop (killing one that does not within :data:`STOP_SECONDS`).

SIGTERM is handled as Ctrl-C (:func:`terminate_as_interrupt` in the batch process,
:func:`worker_init` in the workers), so temp files are removed, kernels shut down and
``dmkit run`` exits non-zero (143); a worker whose batch process died (kill -9) stops
by itself (a watchdog thread), and its kernels follow it (ipykernel polls its parent).
"""
from __future__ import annotations

import contextlib
import multiprocessing
import os
import signal
import threading
import time
from collections.abc import Iterator
from concurrent.futures import ProcessPoolExecutor

from dmkit.batch.kernels import STOPPING
from dmkit.batch.results import NotebookRun

__all__ = ["INTERRUPTED", "STOP_SECONDS", "Terminated", "abort", "make_pool", "progress_bar",
           "terminate_as_interrupt", "tick", "worker_init"]

STOP_SECONDS = 20.0
"""How long :func:`abort` waits for an interrupted worker before killing it."""


class Terminated(KeyboardInterrupt):
    """SIGTERM, raised as an interrupt so clean-up runs; ``exit_code`` 143 (128 + 15)."""

    exit_code = 128 + signal.SIGTERM


def _raise_terminated(signum, frame):
    STOPPING.append(True)  # the kernel's death that follows is ours (dmkit.batch.kernels)
    raise Terminated("terminated (SIGTERM)")


def _raise_interrupt(signum, frame):
    STOPPING.append(True)
    raise KeyboardInterrupt


@contextlib.contextmanager
def terminate_as_interrupt() -> Iterator[None]:
    """Inside the block, SIGTERM raises :class:`Terminated` (in the main thread only); both it
    and Ctrl-C (when Python's default handler is in place) mark the process as stopping, so
    the kernel shut down by the clean-up is not reported as an error
    (:func:`dmkit.batch.kernels.quiet_when_stopping`)."""
    if threading.current_thread() is not threading.main_thread():
        yield
        return
    STOPPING.clear()  # a new batch in this process
    old = signal.signal(signal.SIGTERM, _raise_terminated)
    old_int = signal.getsignal(signal.SIGINT)
    if old_int is signal.default_int_handler:
        signal.signal(signal.SIGINT, _raise_interrupt)
    try:
        yield
    finally:
        signal.signal(signal.SIGTERM, old)
        if old_int is signal.default_int_handler:
            signal.signal(signal.SIGINT, old_int)

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
    """In each pool worker: after one Ctrl-C (or SIGTERM), refuse the notebooks still queued
    to it; stop when the batch process is gone."""
    def on_sigint(signum, frame):
        first = not INTERRUPTED
        INTERRUPTED.append(True)
        STOPPING.append(True)  # quiet the kernel's death that follows (dmkit.batch.kernels)
        if first:  # a second Ctrl-C must not break the clean-up of the first
            raise KeyboardInterrupt

    signal.signal(signal.SIGINT, on_sigint)
    signal.signal(signal.SIGTERM, on_sigint)
    threading.Thread(target=_watch_parent, args=(os.getppid(),), daemon=True,
                     name="dmkit-parent-watch").start()


def _watch_parent(parent: int, every: float = 1.0) -> None:
    """Interrupt this worker when its batch process has died (killed with -9), then end it."""
    while os.getppid() == parent:
        time.sleep(every)
    with contextlib.suppress(OSError):
        os.kill(os.getpid(), signal.SIGINT)  # the running notebook's clean-up: temp file, kernel
    time.sleep(STOP_SECONDS)
    os._exit(1)


def abort(pool, futures) -> None:
    """Ctrl-C in the batch: cancel what has not started, pass the interrupt to the workers and
    wait for them to stop (each cleans up its notebook and kernel), killing any that hangs."""
    for f in futures:
        f.cancel()
    procs = list((getattr(pool, "_processes", None) or {}).values())
    for proc in procs:
        with contextlib.suppress(OSError):
            os.kill(proc.pid, signal.SIGINT)
    deadline = time.monotonic() + STOP_SECONDS
    for proc in procs:
        proc.join(max(0.0, deadline - time.monotonic()))
        if proc.is_alive():
            with contextlib.suppress(OSError):
                proc.kill()


def progress_bar(total: int, desc: str, progress: bool):
    from tqdm.auto import tqdm

    return tqdm(total=total, desc=desc, unit="nb" if desc == "notebooks" else "run",
                disable=not progress, leave=True)


def tick(bar, runs: list[NotebookRun]) -> None:
    failed = sum(r.status != "passed" for r in runs)
    bar.set_postfix_str(f"{failed} failed" if failed else "all passed", refresh=False)
    bar.update()
