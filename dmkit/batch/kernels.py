"""The Jupyter kernels a batch starts: their environment, IPC sockets, the notebook extra.

:func:`kernel_environment` is what every kernel sees (simulator cache, plot backend, no
progress bars, the Spark master); :func:`kernel_options` gives papermill a kernel manager
on private IPC sockets, each started by :data:`KERNEL_MAIN` (ipykernel, without the
interpreter's teardown at exit); :func:`kernel_env` sets the environment around a run.
"""
from __future__ import annotations

import contextlib
import logging
import os
import sys
import tempfile
from pathlib import Path

from dmkit.errors import DmkitError

__all__ = ["INLINE", "KERNEL_MAIN", "STOPPING", "kernel_command", "kernel_env", "kernel_environment",
           "kernel_options", "notebook_tools", "quiet_when_stopping", "require_notebook_tools"]

INLINE = "module://matplotlib_inline.backend_inline"

STOPPING: list[bool] = []
"""Set (non-empty) once this process stops its notebook on Ctrl-C or SIGTERM
(:mod:`dmkit.batch.pool`): the kernel's death that follows is expected, not news."""

_DEATH_MESSAGES = ("Kernel died", "Task was destroyed but it is pending")


class _QuietWhileStopping(logging.Filter):
    """Drops the records of a kernel shut down by our own interrupt, only while :data:`STOPPING`.

    nbclient logs "Kernel died while waiting for execute reply." (papermill's logger) and the
    interrupted cell's task ends with ``DeadKernelError``, which asyncio logs as "Task
    exception was never retrieved" with its traceback when the task is collected. Outside a
    stop every record passes: a kernel that dies by itself is still reported.
    """

    def filter(self, record: logging.LogRecord) -> bool:
        if not STOPPING:
            return True
        exc = record.exc_info[1] if record.exc_info else None
        if exc is not None:
            import asyncio

            from nbclient.exceptions import DeadKernelError

            return not isinstance(exc, DeadKernelError | asyncio.CancelledError)
        return not record.getMessage().startswith(_DEATH_MESSAGES)


_QUIET = _QuietWhileStopping()


def quiet_when_stopping() -> None:
    """Install :class:`_QuietWhileStopping` on papermill's and asyncio's loggers (once)."""
    for name in ("papermill", "asyncio"):
        logger = logging.getLogger(name)
        if _QUIET not in logger.filters:
            logger.addFilter(_QUIET)


THREAD_VARS = ("OMP_NUM_THREADS", "OPENBLAS_NUM_THREADS", "MKL_NUM_THREADS")
"""The native thread pools' environment variables a batch caps per kernel."""


def kernel_environment(cache_dir: str | Path, *, mplbackend: str = INLINE,
                       spark_master: str | None = None, catalog: str | Path | None = None,
                       mapping: str | Path | None = None, threads: int | None = None) -> dict[str, str]:
    """Environment of the kernels: the simulator cache, the plot backend, no progress bars,
    the params' Spark master (``DMKIT_SPARK_MASTER``), operator catalog (``DMKIT_CATALOG``),
    extract mapping (``DMKIT_MAPPING``) and, with ``threads``, a cap on each kernel's native
    threads.

    Reports do not want tqdm bars (nor tqdm's "IProgress not found" warning in a kernel
    without ipywidgets); ``dm.io.load_province`` reads ``DMKIT_CACHE_DIR`` and
    ``DMKIT_MAPPING``; ``dm.catalog.active_catalog`` reads ``DMKIT_CATALOG``;
    ``dm.spark.session.get_session`` reads ``DMKIT_SPARK_MASTER``. Each is set only when
    given (else the kernels inherit the batch's environment). ``threads`` sets
    ``OMP_NUM_THREADS``, ``OPENBLAS_NUM_THREADS`` and ``MKL_NUM_THREADS`` (OpenMP, BLAS, and
    Arrow's CPU pool, which reads ``OMP_NUM_THREADS``) where the batch's environment does not
    set them already: two kernels on two cores, each spinning two threads, slow each other down.
    """
    from dmkit.spark.session import MASTER_ENV

    warn = "ignore:IProgress not found"
    current = os.environ.get("PYTHONWARNINGS", "")
    env = {"DMKIT_CACHE_DIR": str(Path(cache_dir).resolve()), "MPLBACKEND": mplbackend,
           "TQDM_DISABLE": "1",
           "PYTHONWARNINGS": current if warn in current else ",".join(filter(None, [current, warn]))}
    if spark_master is not None:
        env[MASTER_ENV] = spark_master
    if catalog is not None:
        env["DMKIT_CATALOG"] = str(Path(catalog).resolve())
    if mapping is not None:
        env["DMKIT_MAPPING"] = str(Path(mapping).resolve())
    if threads is not None:
        env.update({var: str(threads) for var in THREAD_VARS if var not in os.environ})
    return env


KERNEL_MAIN = """\
import atexit, os, runpy, sys
status = 1  # an exception escaping the kernel: Python's own status


def exit_now():
    for stream in (sys.stdout, sys.stderr, sys.__stdout__, sys.__stderr__):
        try:
            stream.flush()
        except Exception:
            pass
    os._exit(status)


atexit.register(exit_now)  # registered first, so it runs after every other atexit handler
sys.path[0] = os.getcwd()  # as python -m puts it (-c puts "")
try:
    runpy.run_module("ipykernel_launcher", run_name="__main__", alter_sys=True)
    status = 0
except SystemExit as stop:
    status = stop.code if isinstance(stop.code, int) else int(stop.code is not None)
    raise
"""
"""What the batch's kernels run instead of ``python -m ipykernel_launcher`` (``python -c``).

The kernel is ipykernel's own launcher, run as ``__main__``, and its shutdown is unchanged:
the shutdown request, IPython's reset of the user namespace, every ``atexit`` handler and
``weakref.finalize`` the notebook's libraries registered (temp folders, joblib's, Spark's).
Then ``os._exit`` with the kernel's exit status skips only the interpreter's teardown that
would follow (every module's dict cleared, a last garbage collection): 0.3-1.1 s of CPU and
wall time per kernel that imported pandas, pyarrow and matplotlib, measured on this 2-core
machine (a 1M-user notebook's kernel: shutdown 0.6-1.4 s -> 0.24-0.31 s, kernel CPU 3.0-3.2
-> 2.5-2.7 s). The command line still names ``ipykernel_launcher`` (benchmarks/notebooks.py
finds the kernels by it).
"""


def kernel_command(cmd: list[str]) -> list[str]:
    """``python -m ipykernel_launcher ARGS`` as ``python -c KERNEL_MAIN ARGS``; any other
    kernel's command (another kernelspec) as it is."""
    if len(cmd) >= 3 and cmd[1:3] == ["-m", "ipykernel_launcher"]:
        return [cmd[0], "-c", KERNEL_MAIN, *cmd[3:]]
    return list(cmd)


def kernel_options() -> dict[str, object]:
    """Extra papermill options: kernels talk over private IPC sockets on POSIX.

    Kernels started in parallel over TCP can race for the same free port ("Address already
    in use", then "Kernel died before replying to kernel_info"), which would fail a healthy
    notebook; a Unix socket under a unique name per kernel cannot collide.
    """
    if os.name != "posix":
        return {}
    return {"kernel_manager_class": _ipc_kernel_manager()}


def _ipc_kernel_manager() -> type:
    import uuid

    from jupyter_client.manager import AsyncKernelManager

    class IPCKernelManager(AsyncKernelManager):
        """A kernel manager whose sockets are ``<tmp>/dmkit-kernel-<uuid>-<n>`` files, its
        kernel started by :data:`KERNEL_MAIN`."""

        def __init__(self, **kwargs):
            super().__init__(**kwargs)
            self.transport = "ipc"
            self.ip = os.path.join(tempfile.gettempdir(), f"dmkit-kernel-{uuid.uuid4().hex[:12]}")

        def format_kernel_cmd(self, extra_arguments: list[str] | None = None) -> list[str]:
            return kernel_command(super().format_kernel_cmd(extra_arguments))  # see KERNEL_MAIN

        async def _async_interrupt_kernel(self) -> None:
            # jupyter_client interrupts every kernel before asking it to shut down; an idle
            # kernel then logs "[IPKernelApp] ERROR | KeyboardInterrupt caught in kernel."
            # over the batch's progress bar. The shutdown request alone ends an idle kernel
            # (and escalates to SIGTERM/SIGKILL if it hangs); nbclient interrupts a cell that
            # times out by itself, before shutdown.
            if getattr(self, "shutting_down", False):
                return
            await super()._async_interrupt_kernel()

    return IPCKernelManager


@contextlib.contextmanager
def kernel_env(**values: str):
    """Set environment variables for the kernels started inside the block, then restore them."""
    old = {k: os.environ.get(k) for k in values}
    os.environ.update(values)
    try:
        yield
    finally:
        for k, v in old.items():
            if v is None:
                os.environ.pop(k, None)
            else:
                os.environ[k] = v


def require_notebook_tools() -> None:
    """Fail before any work when the ``notebook`` extra (nbconvert, ipykernel) is missing."""
    import importlib.util

    missing = [m for m in ("nbconvert", "ipykernel") if importlib.util.find_spec(m) is None]
    if missing:
        raise DmkitError(
            f"dmkit run needs {missing} to execute notebooks and write HTML reports; "
            'install the notebook extra: pip install "dmkit[notebook]"')


def notebook_tools() -> None:
    """Import nbformat (papermill's and nbconvert's) without jsonschema's IRI grammars.

    ``jsonschema`` registers an "iri" format check when ``rfc3987_syntax`` is installed,
    and that module compiles 38 lark grammars on import: 3.5-5.5 s in every batch process
    (measured on this 2-core machine, 0.3 s without). Notebook schemas have no IRI
    fields, so the module is marked missing while jsonschema is first imported; it can be
    imported as usual afterwards. Idempotent; does nothing once jsonschema is imported.
    """
    if "jsonschema" in sys.modules or "rfc3987_syntax" in sys.modules:
        import nbformat  # noqa: F401
        return
    sys.modules["rfc3987_syntax"] = None  # type: ignore[assignment]  # ImportError in jsonschema
    try:
        import jsonschema  # noqa: F401
        import nbformat  # noqa: F401
    finally:
        if "rfc3987_syntax" in sys.modules and sys.modules["rfc3987_syntax"] is None:
            del sys.modules["rfc3987_syntax"]
