"""dmkit.batch.memory: the estimates, the first fit, and the batch starting only what fits."""
from __future__ import annotations

import json
import threading
import time
from concurrent.futures import ThreadPoolExecutor
from types import SimpleNamespace

import pytest

from dmkit.batch import memory
from dmkit.batch import run as batch_run
from dmkit.batch.results import NotebookRun
from dmkit.errors import ParameterError

GIB = 2 ** 30


def _notebook(path, per_user=None):
    meta = {} if per_user is None else {"dmkit": {"peak_bytes_per_user": per_user}}
    path.write_text(json.dumps({"cells": [], "metadata": meta, "nbformat": 4, "nbformat_minor": 5}))
    return path


def test_estimate_is_base_plus_declared_bytes_per_user(tmp_path):
    nb = _notebook(tmp_path / "a.ipynb", per_user=1500)
    assert memory.estimated_peak(nb, 2_000_000) == memory.BASE_BYTES + 3_000_000_000
    plain = _notebook(tmp_path / "b.ipynb")
    assert memory.estimated_peak(plain, 1000) == memory.BASE_BYTES + memory.DEFAULT_BYTES_PER_USER * 1000
    assert memory.estimated_peak(nb, None) == memory.BASE_BYTES      # real extracts: size unknown


@pytest.mark.parametrize("queued, running, budget, expected", [
    ([5, 1], [], 3, 0),          # nothing running: the first, even above the budget
    ([5, 1], [2], 3, 1),         # the first does not fit beside 2, the second does
    ([5, 4], [2], 3, None),      # nothing fits: wait
    ([5, 4], [2], None, 0),      # no budget: in order
    ([], [1], 3, None),
])
def test_first_fit(queued, running, budget, expected):
    assert memory.first_fit(queued, running, budget) == expected


def test_available_bytes_reads_meminfo(tmp_path):
    f = tmp_path / "meminfo"
    f.write_text("MemTotal:       24000000 kB\nMemAvailable:   20000000 kB\n")
    assert memory.available_bytes(f) == 20000000 * 1024
    assert memory.available_bytes(tmp_path / "missing") is None


@pytest.mark.parametrize("bad", [0, -1.5, "lots", True])
def test_bad_budget_is_named(bad):
    with pytest.raises(ParameterError, match="memory_budget"):
        batch_run._memory_budget(bad)


def test_batch_never_runs_two_notebooks_that_do_not_fit_together(tmp_path, monkeypatch):
    # three "big" notebooks (2.4 GiB each at 1M users) and two small ones (0.9 GiB) under a
    # 3.5 GiB budget with two lanes: no two big ones at once, and a small one beside a big one
    per_user = {"big1": 2000, "small1": 500, "big2": 2000, "big3": 2000, "small2": 500}
    jobs = [SimpleNamespace(notebook=n, source=_notebook(tmp_path / f"{n}.ipynb", u), skip="",
                            params=SimpleNamespace(data="synth", n_users=1_000_000, province="p", month="2009-01",
                                                   seed=7, cache_dir=str(tmp_path)))
            for n, u in per_user.items()]
    spans, lock = {}, threading.Lock()

    def fake_execute(job, *, kernel, timeout, threads=None):
        start = time.monotonic()
        time.sleep(0.15)
        with lock:
            spans[job.notebook] = (start, time.monotonic())
        return NotebookRun(job.notebook, "p", "2009-01", "passed", 0.15, finished_at="now")

    monkeypatch.setattr(batch_run, "execute", fake_execute)
    with ThreadPoolExecutor(2) as pool:
        runs = batch_run._execute_all(jobs, {}, pool=pool, kernel="k", timeout=None, progress=False, runs=[],
                                      jobs=2, budget=int(3.5 * GIB))
    assert sorted(r.notebook for r in runs) == sorted(per_user)

    def overlap(a, b):
        return spans[a][0] < spans[b][1] and spans[b][0] < spans[a][1]

    bigs = [n for n in per_user if n.startswith("big")]
    assert not any(overlap(a, b) for a in bigs for b in bigs if a < b)
    assert any(overlap(s, b) for s in ("small1", "small2") for b in bigs)
    # without a budget the first two start together
    spans.clear()
    with ThreadPoolExecutor(2) as pool:
        batch_run._execute_all(jobs, {}, pool=pool, kernel="k", timeout=None, progress=False, runs=[],
                               jobs=2, budget=None)
    assert overlap("big1", "small1") and any(overlap(a, b) for a in bigs for b in bigs if a < b)
