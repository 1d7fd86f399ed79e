"""Every notebook runs as an analyst would open it in JupyterLab: its own default parameters,
nothing injected, the notebook's folder as the working directory, no dmkit cache configured.

The simulator data lands in ``data/generated/`` and the figures in the default ``out_dir``
below that working directory; the test checks the defaults hang together (province, month
and size the simulator accepts, a report folder the notebook can create), not the figures,
which the per-notebook tests check.
"""
from __future__ import annotations

import os
import shutil

import pytest

from dmkit.batch.kernels import kernel_env
from dmkit.params import NOTEBOOKS
from dmkit.runner import kernel_options, read_record
from tests.notebook_helpers import NOTEBOOK_DIR

pytestmark = pytest.mark.slow


@pytest.mark.parametrize("name", NOTEBOOKS)
def test_runs_with_its_own_defaults(name, tmp_path, monkeypatch):
    import papermill as pm

    monkeypatch.delenv("DMKIT_CACHE_DIR", raising=False)
    shutil.copy(NOTEBOOK_DIR / f"{name}.ipynb", tmp_path / f"{name}.ipynb")
    with kernel_env(TQDM_DISABLE="1", MPLBACKEND=os.environ.get("MPLBACKEND", "Agg")):
        pm.execute_notebook(str(tmp_path / f"{name}.ipynb"), str(tmp_path / "executed.ipynb"),
                            kernel_name="python3", progress_bar=False, cwd=str(tmp_path),
                            execution_timeout=600, **kernel_options())
    records = sorted((tmp_path / "reports").glob(f"*/*/{name}.json"))
    assert len(records) == 1, "the notebook did not record its figures under its default out_dir"
    assert read_record(records[0].parent, name)  # figures were recorded
    assert any((tmp_path / "data" / "generated").iterdir())  # the simulator cache, relative to cwd
