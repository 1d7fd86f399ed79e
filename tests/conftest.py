"""Shared test set-up: a headless plotting backend and small cached simulator data."""
from __future__ import annotations

import os

os.environ.setdefault("MPLBACKEND", "Agg")
# pytest -n 2 already fills both cores: one BLAS/OpenMP thread per worker (and per notebook
# kernel, which inherits the environment) avoids oversubscription that made fits 10x slower.
for _var in ("OMP_NUM_THREADS", "OPENBLAS_NUM_THREADS", "MKL_NUM_THREADS"):
    os.environ.setdefault(_var, "1")

import matplotlib  # noqa: E402

matplotlib.use("Agg")

import pytest  # noqa: E402


@pytest.fixture(autouse=True)
def _close_figures():
    yield
    import matplotlib.pyplot as plt

    plt.close("all")
