"""dmkit.batch.costs: declared costs, and the batch starting the longest notebooks first."""
from __future__ import annotations

import json
import os
import threading
import time
from concurrent.futures import ThreadPoolExecutor
from types import SimpleNamespace

import pytest

from dmkit.batch import costs
from dmkit.batch import run as batch_run
from dmkit.batch.results import NotebookRun


def _notebook(path, **declared):
    meta = {"dmkit": declared} if declared else {}
    path.write_text(json.dumps({"cells": [], "metadata": meta, "nbformat": 4, "nbformat_minor": 5}))
    return path


def test_estimated_seconds_from_the_declared_seconds_per_user(tmp_path):
    nb = _notebook(tmp_path / "a.ipynb", seconds_per_user=2e-5)
    assert costs.estimated_seconds(nb, 12_000_000) == pytest.approx(240.0)
    assert costs.estimated_seconds(nb, None) == 0.0  # real extracts: size unknown
    assert costs.estimated_seconds(_notebook(tmp_path / "b.ipynb"), 1000) == 0.0
    assert costs.estimated_seconds(_notebook(tmp_path / "c.ipynb", seconds_per_user="x"), 1000) == 0.0
    assert costs.estimated_seconds(tmp_path / "missing.ipynb", 1000) == 0.0
    (tmp_path / "d.ipynb").write_text("{not json")
    assert costs.declared_costs(tmp_path / "d.ipynb") == {}


def test_a_changed_notebook_is_read_again(tmp_path):
    nb = _notebook(tmp_path / "a.ipynb", seconds_per_user=1e-5)
    assert costs.estimated_seconds(nb, 100_000) == pytest.approx(1.0)
    time.sleep(0.01)
    _notebook(nb, seconds_per_user=3e-5)
    assert costs.estimated_seconds(nb, 100_000) == pytest.approx(3.0)


def test_longest_first_keeps_the_order_of_equal_estimates():
    jobs = ["a", "b", "c", "d", "e"]
    est = {"a": 1, "b": 5, "c": 0, "d": 5, "e": 0}
    assert costs.longest_first(jobs, est.get) == ["b", "d", "a", "c", "e"]


def test_the_batch_starts_the_longest_notebooks_first(tmp_path, monkeypatch):
    # declared seconds per user; two lanes: the two longest start first, the shortest last
    per_user = {"short": 1e-6, "long": 9e-6, "middle": 4e-6, "none": None, "longest": 2e-5}
    jobs = [SimpleNamespace(notebook=n, skip="",
                            source=_notebook(tmp_path / f"{n}.ipynb", **({} if s is None else {"seconds_per_user": s})),
                            params=SimpleNamespace(data="synth", n_users=1_000_000, province="p", month="2009-01",
                                                   seed=7, cache_dir=str(tmp_path)))
            for n, s in per_user.items()]
    started, lock = [], threading.Lock()

    shares = []

    def fake_execute(job, *, kernel, timeout, threads):
        with lock:
            started.append(job.notebook)
            shares.append(threads)
        time.sleep(0.05)
        return NotebookRun(job.notebook, "p", "2009-01", "passed", 0.05, finished_at="now")

    monkeypatch.setattr(batch_run, "execute", fake_execute)
    with ThreadPoolExecutor(2) as pool:
        batch_run._execute_all(jobs, {}, pool=pool, kernel="k", timeout=None, progress=False, runs=[],
                               jobs=2, budget=None)
    assert set(started[:2]) == {"longest", "long"}
    assert started[2:] == ["middle", "short", "none"]
    assert set(shares) == {max(1, (os.cpu_count() or 1) // 2)}  # each of the 2 kernels: its share of the cores
