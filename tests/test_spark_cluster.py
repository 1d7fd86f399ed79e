"""On a real cluster manager: a Spark standalone cluster (a master, two one-core workers) on this machine.

The Spark twins and the offers' per-customer step run there and give the pandas figures
within the tolerances of tests/spark_figures.py; a cluster whose workers die under a job
raises :class:`dmkit.spark.cluster.ClusterError` within a bounded time instead of hanging;
no daemon or executor JVM outlives the cluster.

The driver's SparkSession is the process's only one, so these tests run in a process
without a local session: ``pytest -m slow tests/test_spark_cluster.py`` (in a whole-suite
run they skip if an earlier Spark test left its local session active).
"""
from __future__ import annotations

import shutil
import threading
import time

import pytest

pytestmark = [pytest.mark.spark, pytest.mark.slow]

#: seconds a job may take on the cluster before it counts as hung
JOB_TIMEOUT = 600


def _ready() -> None:
    pytest.importorskip("pyspark")
    if shutil.which("java") is None:
        pytest.skip("no Java on PATH: Spark tests need a JDK 17+")
    from pyspark.sql import SparkSession

    if SparkSession.getActiveSession() is not None:
        pytest.skip("a local SparkSession is active in this process; run "
                    "`pytest -m slow tests/test_spark_cluster.py` on its own")


def _tree(pids) -> set[int]:
    """The daemons and every process under them (executor JVMs, Python workers)."""
    import psutil

    out = set()
    for pid in pids:
        try:
            p = psutil.Process(pid)
            out |= {pid} | {c.pid for c in p.children(recursive=True)}
        except psutil.NoSuchProcess:
            pass
    return out


def _gone(pids, within: float = 10.0) -> set[int]:
    import psutil

    deadline = time.monotonic() + within
    alive = set(pids)
    while alive and time.monotonic() < deadline:
        alive = {p for p in alive if psutil.pid_exists(p) and psutil.Process(p).status() != "zombie"}
        time.sleep(0.2)
    return alive


def test_spark_methods_on_a_standalone_cluster_give_the_pandas_figures(tmp_path):
    _ready()
    from dmkit.spark import cluster as spark_cluster
    from tests.spark_figures import compare

    with spark_cluster.standalone(workers=2, cores=1, memory="1g", work_dir=tmp_path) as c:
        assert c.alive_workers() == 2
        state = c.state()
        assert all(w["cores"] == 1 and w["memory"] == 1024 for w in state["workers"])
        spark = c.session("dmkit-test-cluster")
        try:
            assert spark.sparkContext.master == c.master_url
            # two executors, one per worker: tasks run in two JVMs other than the driver
            hosts = c.run(lambda: spark.sparkContext.parallelize(range(8), 8)
                          .map(lambda _: __import__("os").getppid()).distinct().count(), timeout=JOB_TIMEOUT)
            assert hosts == 2
            figures = compare(spark, n_users=8000, n_baskets=20_000,
                              run=lambda job: c.run(job, timeout=JOB_TIMEOUT))
            daemons = _tree(c.pids.values())
        finally:
            spark.stop()
    print("\n" + figures.to_string())
    assert set(figures["method"]) == {"rules.mine", "segment.cluster", "propensity.fit", "health.kpis",
                                      "campaign.funnel", "offers per-customer step"}
    bad = figures[~figures["ok"]]
    assert bad.empty, bad.to_string()
    assert _gone(daemons) == set(), "a daemon or executor outlived the cluster"


def test_workers_dying_mid_job_raise_a_cluster_error_not_a_hang(tmp_path):
    _ready()
    import pandas as pd

    from dmkit.errors import DmkitError
    from dmkit.spark import cluster as spark_cluster

    timeout = 90

    def slow_batches(batches):
        for b in batches:
            time.sleep(4)
            yield pd.DataFrame({"id": b["id"]})

    with spark_cluster.standalone(workers=2, cores=1, memory="1g", work_dir=tmp_path) as c:
        spark = c.session("dmkit-test-dying")
        try:
            job = spark.range(0, 64, numPartitions=16).mapInPandas(slow_batches, "id long")
            assert c.run(lambda: spark.range(10).count(), timeout=JOB_TIMEOUT) == 10  # executors up
            killer = threading.Timer(10, c.kill_workers)
            killer.start()
            t0 = time.monotonic()
            with pytest.raises(spark_cluster.ClusterError, match=r"0 of 2 workers alive") as err:
                c.run(lambda: job.count(), timeout=timeout, what="the slow count")
            elapsed = time.monotonic() - t0
            print(f"\nworkers killed 10 s into the job; ClusterError after {elapsed:.0f} s: {err.value}")
            killer.join()
            daemons = _tree(c.pids.values())
        finally:
            spark.stop()
    assert isinstance(err.value, DmkitError)
    assert "the slow count" in str(err.value) and c.master_url in str(err.value)
    assert elapsed < timeout + 45, elapsed  # the deadline, plus Spark's cancellation
    assert _gone(daemons) == set()


def test_bad_parameters_are_named(tmp_path):
    _ready()
    from dmkit.errors import ParameterError
    from dmkit.spark import cluster as spark_cluster

    with pytest.raises(ParameterError, match="workers"):
        with spark_cluster.standalone(workers=0):
            pass
    with pytest.raises(ParameterError, match="memory"):
        with spark_cluster.standalone(memory="lots"):
            pass


def test_spark_notebooks_on_the_cluster_record_the_pandas_figures(tmp_path, monkeypatch):
    """``engine: spark`` notebooks with ``DMKIT_SPARK_MASTER`` pointing at the cluster: their
    kernels' sessions run there (the master lists them as applications) and record the
    pandas run's figures (the comparisons of tests/test_nb_engine_spark.py)."""
    _ready()
    from dmkit.spark.session import MASTER_ENV
    from tests.test_nb_engine_spark import RULE_FIGURES, _on_both_engines

    (tmp_path / "cluster").mkdir()
    with spark_cluster_standalone(tmp_path / "cluster") as c:
        monkeypatch.setenv(MASTER_ENV, c.master_url)
        (tmp_path / "securities").mkdir()
        pandas, spark = _on_both_engines("yunnan_securities", tmp_path / "securities", province="yunnan",
                                         month="2009-06", n_users=5000)
        assert pandas["n_rules"] > 0
        assert {k: spark[k] for k in RULE_FIGURES} == {k: pandas[k] for k in RULE_FIGURES}
        (tmp_path / "campaign").mkdir()
        pandas, spark = _on_both_engines("jiangsu_campaign", tmp_path / "campaign", province="jiangsu",
                                         month="2009-06", n_users=5000)
        funnel = [k for k in pandas if not isinstance(pandas[k], (float, list))]
        assert pandas["delivered"] > 0
        assert {k: spark[k] for k in funnel} == {k: pandas[k] for k in funnel}
        apps = c.state()["completedapps"] + c.state()["activeapps"]
        assert len(apps) >= 2, apps  # one application per Spark kernel, on this cluster


def spark_cluster_standalone(work_dir):
    from dmkit.spark import cluster as spark_cluster

    return spark_cluster.standalone(workers=2, cores=1, memory="1g", work_dir=work_dir)
