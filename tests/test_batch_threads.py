"""Each kernel of a batch gets its share of the cores' native threads, unless the batch's
environment already says how many."""
from __future__ import annotations

import os
import subprocess
import sys

from dmkit.batch.kernels import THREAD_VARS, kernel_env, kernel_environment


def test_threads_capped_where_the_environment_is_silent(tmp_path, monkeypatch):
    for var in THREAD_VARS:
        monkeypatch.delenv(var, raising=False)
    monkeypatch.setenv("MKL_NUM_THREADS", "3")  # the user's choice wins
    env = kernel_environment(tmp_path, threads=1)
    assert env["OMP_NUM_THREADS"] == "1" and env["OPENBLAS_NUM_THREADS"] == "1"
    assert "MKL_NUM_THREADS" not in env
    assert not set(THREAD_VARS) & set(kernel_environment(tmp_path))  # no cap asked: none set


def test_a_kernel_started_with_the_cap_runs_that_many_threads(tmp_path, monkeypatch):
    """What the cap is for: numpy's BLAS and Arrow's CPU pool, started under it, use one thread."""
    for var in THREAD_VARS:
        monkeypatch.delenv(var, raising=False)
    probe = ("import pyarrow, threadpoolctl; "
             "print(pyarrow.cpu_count(), max(p['num_threads'] for p in threadpoolctl.threadpool_info()))")
    with kernel_env(**kernel_environment(tmp_path, threads=1)):
        out = subprocess.run([sys.executable, "-c", "import numpy; " + probe], capture_output=True,
                             text=True, check=True, env=dict(os.environ)).stdout.split()
    assert out == ["1", "1"]
