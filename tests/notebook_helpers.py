"""Run a case-study notebook under papermill in a test and return the figures it recorded.

Usage, in ``tests/test_nb_<name>.py``::

    from tests.notebook_helpers import execute_notebook

    def test_funnel_matches_case(tmp_path):
        figures = execute_notebook("jiangsu_campaign", tmp_path, province="jiangsu",
                                   month="2009-06", n_users=5000)
        assert abs(figures["response_rate"] - 0.0179) < 0.005

The notebook runs on the ``python3`` kernel of the interpreter running pytest, with
``out_dir=tmp_path`` (the executed notebook is kept there as ``<name>.ipynb`` for
debugging) and with a simulator cache shared by every notebook of the test session (one
folder per pytest process: the kernel's working directory and ``$DMKIT_CACHE_DIR`` point at
it), so twelve notebooks on the same province generate its data once.
"""
from __future__ import annotations

import atexit
import os
import shutil
import tempfile
from pathlib import Path

from dmkit.batch.kernels import kernel_env, kernel_environment, kernel_options
from dmkit.batch.record import read_record

__all__ = ["NOTEBOOK_DIR", "execute_notebook", "session_cache"]

#: Where the case-study notebooks live.
NOTEBOOK_DIR = Path(__file__).resolve().parent.parent / "notebooks"

_CACHE: list[Path] = []


def session_cache() -> Path:
    """The per-process data folder shared by every notebook test (removed at exit)."""
    if not _CACHE:
        root = Path(tempfile.mkdtemp(prefix="dmkit-nb-cache-"))
        atexit.register(shutil.rmtree, root, ignore_errors=True)
        _CACHE.append(root)
    return _CACHE[0]


def execute_notebook(
    name: str,
    tmp_path: Path,
    *,
    notebook_dir: str | Path = NOTEBOOK_DIR,
    kernel: str = "python3",
    timeout: float = 600,
    **parameters: object,
) -> dict[str, object]:
    """Execute ``notebooks/<name>.ipynb`` with ``parameters`` and return its recorded figures.

    Parameters
    ----------
    name : str
        Notebook name without ``.ipynb``.
    tmp_path : Path
        pytest's ``tmp_path``: becomes the notebook's ``out_dir``.
    notebook_dir : str or Path
        Folder of the notebook (default: the repository's ``notebooks/``).
    kernel : str
        Kernel name; ``python3`` resolves to the interpreter running the tests.
    timeout : float
        Per-cell timeout in seconds.
    **parameters
        Injected by papermill (province, month, n_users, thresholds...). ``out_dir`` is
        always ``tmp_path``.

    Returns
    -------
    dict
        What the notebook's last cell passed to ``dm.runner.record``.

    Raises
    ------
    papermill.PapermillExecutionError
        A cell failed (the message holds the cell's traceback).
    dmkit.errors.DataNotFoundError
        The notebook ran but recorded nothing.
    """
    import papermill as pm

    tmp_path = Path(tmp_path)
    cache = session_cache()
    parameters = {**parameters, "out_dir": str(tmp_path)}
    env = kernel_environment(cache / "data" / "generated",
                             mplbackend=os.environ.get("MPLBACKEND", "Agg"))
    with kernel_env(**env):
        pm.execute_notebook(str(Path(notebook_dir) / f"{name}.ipynb"),
                            str(tmp_path / f"{name}.ipynb"), parameters=parameters,
                            kernel_name=kernel, progress_bar=False, cwd=str(cache),
                            execution_timeout=timeout, **kernel_options())
    return read_record(tmp_path, name)
