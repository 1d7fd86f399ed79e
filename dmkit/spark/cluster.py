"""``dm.spark.cluster``: a Spark standalone cluster on this machine, for tests, benchmarks and demos.

::

    import dmkit as dm
    with dm.spark.cluster.standalone(workers=2, cores=1, memory="1g") as cluster:
        spark = cluster.session()                  # a SparkSession on spark://127.0.0.1:<port>
        rs = dm.spark.rules.mine(baskets, min_support=0.01)
        n = cluster.run(lambda: spark.range(10**6).count(), timeout=120)
    # master, workers and their executors are stopped (by process group), even on an exception

The master and each worker are pyspark's own daemons, started with
``$SPARK_HOME/bin/spark-class org.apache.spark.deploy.master.Master`` and
``org.apache.spark.deploy.worker.Worker spark://127.0.0.1:<port>`` (``SPARK_HOME`` is the
installed pyspark package unless the environment names another), bound to 127.0.0.1 on
free ports (two clusters, or a test and a benchmark, do not collide). Each worker offers
``cores`` cores and ``memory`` to executors; the daemons themselves get
``daemon_memory`` of heap. :func:`standalone` returns once every worker is registered
with the master (read from the master web UI's ``/json/``) and stops every daemon by its
process id at the end: SIGTERM to its process group (the worker's executors and their
Python workers are in it), then SIGKILL after a grace period, so no JVM is left behind.

A cluster that dies under a job
-------------------------------
On a standalone cluster whose workers are gone, Spark does not fail a job: it waits for
resources ("Initial job has not accepted any resources") for ever. :meth:`Cluster.run`
(or :func:`run_with_timeout` for any session) runs the job in a job group with a
deadline; past it the group is cancelled and a :class:`ClusterError` says which
workers are alive. The sessions :meth:`Cluster.session` builds also set
``spark.network.timeout`` (default 30 s) and ``spark.task.maxFailures`` (2), so a lost
executor fails its tasks quickly instead of after Spark's 120 s default.
"""
from __future__ import annotations

import json
import os
import shutil
import signal
import socket
import subprocess
import sys
import tempfile
import threading
import time
import urllib.error
import urllib.request
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path
from typing import TypeVar

from dmkit.errors import DmkitError, parameter_error
from dmkit.spark.session import require_pyspark

__all__ = ["ClusterError", "Cluster", "standalone", "spark_home", "run_with_timeout"]

MASTER_CLASS = "org.apache.spark.deploy.master.Master"
WORKER_CLASS = "org.apache.spark.deploy.worker.Worker"
HOST = "127.0.0.1"

T = TypeVar("T")


class ClusterError(DmkitError, RuntimeError):
    """The standalone cluster did not start, or a job on a cluster did not finish in time."""


def spark_home() -> Path:
    """The Spark installation whose ``bin/spark-class`` starts the daemons.

    ``$SPARK_HOME`` when it holds ``bin/spark-class``, else the installed pyspark package
    (pip's pyspark ships ``bin/``, ``jars/`` and ``sbin/``).

    Raises
    ------
    ClusterError
        Neither has ``bin/spark-class``.
    """
    pyspark = require_pyspark()
    candidates = [Path(os.environ["SPARK_HOME"])] if os.environ.get("SPARK_HOME") else []
    candidates.append(Path(pyspark.__file__).resolve().parent)
    for home in candidates:
        if (home / "bin" / "spark-class").is_file():
            return home
    raise ClusterError(f"no bin/spark-class under {[str(c) for c in candidates]}: cannot start a Spark "
                       "standalone cluster. Fix: install pyspark from pip (it ships bin/) or set "
                       "SPARK_HOME to a Spark distribution")


def free_port() -> int:
    """A TCP port on 127.0.0.1 that nothing listens on right now."""
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as s:
        s.bind((HOST, 0))
        return int(s.getsockname()[1])


@dataclass
class _Daemon:
    name: str
    proc: subprocess.Popen
    log: Path


@dataclass
class Cluster:
    """A running standalone cluster (what :func:`standalone` yields).

    Attributes
    ----------
    master_url : str
        ``spark://127.0.0.1:<port>``: pass it as ``master=`` or ``DMKIT_SPARK_MASTER``.
    web_url : str
        The master's web UI (``/json/`` lists the workers).
    workers, cores, memory : int, int, str
        As asked: workers, cores per worker, executor memory per worker.
    work_dir : Path
        Logs (``<daemon>.log``) and the workers' scratch folders.
    """

    master_url: str
    web_url: str
    workers: int
    cores: int
    memory: str
    work_dir: Path
    _daemons: list[_Daemon] = field(default_factory=list, repr=False)

    @property
    def pids(self) -> dict[str, int]:
        """Process id of every daemon, by name (``master``, ``worker-1``, ...)."""
        return {d.name: d.proc.pid for d in self._daemons}

    def state(self) -> dict:
        """The master's view (its web UI ``/json/``): ``workers``, ``aliveworkers``, ``activeapps``..."""
        with urllib.request.urlopen(f"{self.web_url}/json/", timeout=5) as resp:
            return json.loads(resp.read().decode("utf-8"))

    def alive_workers(self) -> int:
        """Workers the master counts as ALIVE (0 when the master does not answer)."""
        try:
            st = self.state()
        except (OSError, ValueError):
            return 0
        return sum(1 for w in st.get("workers", []) if w.get("state") == "ALIVE")

    def session(self, app_name: str = "dmkit-cluster", *, config: dict[str, str] | None = None):
        """A SparkSession on this cluster: one executor per worker, ``cores`` cores and
        ``memory`` each (less 25 % for Spark's overhead), network timeout 30 s.

        Python on the executors is this interpreter (``PYSPARK_PYTHON``), so dmkit and its
        dependencies are there. ``config`` overrides the settings. Stop it with
        ``spark.stop()`` (the cluster's exit does not stop the driver's session).
        """
        from dmkit.spark.session import get_session

        os.environ["PYSPARK_PYTHON"] = sys.executable
        os.environ.setdefault("SPARK_LOCAL_IP", HOST)
        settings = {
            "spark.executor.memory": _executor_memory(self.memory),
            "spark.executor.cores": str(self.cores),
            "spark.cores.max": str(self.cores * self.workers),
            "spark.driver.host": HOST,
            "spark.driver.bindAddress": HOST,
            "spark.network.timeout": "30s",
            "spark.network.timeoutInterval": "10s",
            "spark.executor.heartbeatInterval": "5s",
            "spark.task.maxFailures": "2",
            "spark.sql.shuffle.partitions": str(2 * self.cores * self.workers),
            "spark.default.parallelism": str(2 * self.cores * self.workers),
            "spark.driver.memory": "1g",
        }
        settings.update(config or {})
        return get_session(self.master_url, app_name, config=settings)

    def run(self, job: Callable[[], T], *, timeout: float = 300.0, what: str = "Spark job") -> T:
        """``job()`` with a deadline (see :func:`run_with_timeout`); the error names this cluster."""
        return run_with_timeout(job, timeout=timeout, what=what, describe=self._describe)

    def kill_workers(self, sig: int = signal.SIGKILL) -> None:
        """Kill every worker (and its executors) at once: what a lost machine looks like."""
        for d in self._daemons:
            if d.name.startswith("worker"):
                _signal_group(d.proc, sig)

    def kill_master(self, sig: int = signal.SIGKILL) -> None:
        """Kill the master."""
        for d in self._daemons:
            if d.name == "master":
                _signal_group(d.proc, sig)

    def stop(self, grace: float = 10.0) -> None:
        """Stop every daemon: SIGTERM to its process group, SIGKILL after ``grace`` seconds."""
        for d in reversed(self._daemons):  # workers first, then the master
            _signal_group(d.proc, signal.SIGTERM)
        deadline = time.monotonic() + grace
        for d in self._daemons:
            try:
                d.proc.wait(timeout=max(0.1, deadline - time.monotonic()))
            except subprocess.TimeoutExpired:
                pass
            _signal_group(d.proc, signal.SIGKILL)  # anything left in the group (executors)
            try:
                d.proc.wait(timeout=5)
            except subprocess.TimeoutExpired:  # pragma: no cover - a JVM ignoring SIGKILL
                pass

    def _describe(self) -> str:
        alive = self.alive_workers()
        return (f"cluster {self.master_url}: {alive} of {self.workers} workers alive"
                + ("" if alive else " (none: executors cannot start)")
                + f"; daemon logs in {self.work_dir}")


def _executor_memory(memory: str) -> str:
    """Executor heap that fits a worker of ``memory`` with Spark's 384 MiB+ overhead margin."""
    mib = _mebibytes(memory)
    return f"{max(384, int(mib * 0.75))}m"


def _mebibytes(memory: str) -> int:
    text = str(memory).strip().lower()
    units = {"k": 1 / 1024, "m": 1, "g": 1024, "t": 1024 * 1024}
    try:
        if text[-1] in units:
            return int(float(text[:-1]) * units[text[-1]])
        return int(text)
    except (ValueError, IndexError) as err:
        raise parameter_error("memory", expected="a size such as '1g' or '768m'", found=memory) from err


def _signal_group(proc: subprocess.Popen, sig: int) -> None:
    """Send ``sig`` to the process group led by ``proc`` (started with its own session)."""
    if proc.poll() is not None and sig != signal.SIGKILL:
        return
    try:
        os.killpg(proc.pid, sig)
    except (ProcessLookupError, PermissionError):
        pass


def _spawn(name: str, args: list[str], *, home: Path, work: Path, env: dict[str, str]) -> _Daemon:
    log = work / f"{name}.log"
    with open(log, "wb") as out:
        proc = subprocess.Popen([str(home / "bin" / "spark-class"), *args], stdout=out,
                                stderr=subprocess.STDOUT, stdin=subprocess.DEVNULL, env=env,
                                cwd=str(work), start_new_session=True)
    return _Daemon(name, proc, log)


def _tail(path: Path, n: int = 15) -> str:
    try:
        lines = path.read_text(errors="replace").splitlines()
    except OSError:
        return ""
    return "\n".join(lines[-n:])


@contextmanager
def standalone(
    workers: int = 2,
    cores: int = 1,
    memory: str = "1g",
    *,
    daemon_memory: str = "256m",
    timeout: float = 90.0,
    work_dir: str | Path | None = None,
) -> Iterator[Cluster]:
    """Start a Spark standalone cluster (a master and ``workers`` workers) on 127.0.0.1.

    Parameters
    ----------
    workers : int, default 2
        Number of worker daemons.
    cores : int, default 1
        Cores each worker offers to executors.
    memory : str, default "1g"
        Memory each worker offers to executors (its cap: ``--memory``).
    daemon_memory : str, default "256m"
        Heap of the master and worker daemons themselves (``SPARK_DAEMON_MEMORY``).
    timeout : float, default 90
        Seconds to wait for the master to answer and every worker to register.
    work_dir : path, optional
        Where logs and the workers' scratch folders go; default a temporary folder,
        removed at the end (a given folder is kept).

    Yields
    ------
    Cluster
        ``master_url``, ``web_url``, ``pids``, ``session()``, ``run()``, ``kill_workers()``.

    Raises
    ------
    ParameterError
        ``workers`` or ``cores`` below 1, ``memory`` not a size.
    ClusterError
        A daemon exited or the workers did not register within ``timeout`` (the message
        holds the end of its log). Every daemon started is stopped before it propagates.
    """
    for name, value in (("workers", workers), ("cores", cores)):
        if not isinstance(value, int) or isinstance(value, bool) or value < 1:
            raise parameter_error(name, expected="an integer >= 1", found=value)
    _mebibytes(memory)
    _mebibytes(daemon_memory)
    home = spark_home()
    if shutil.which("java") is None and not os.environ.get("JAVA_HOME"):
        raise ClusterError("no java on PATH and no JAVA_HOME: the Spark daemons need a JDK 17+")
    own_dir = work_dir is None
    work = Path(tempfile.mkdtemp(prefix="dmkit-spark-cluster-")) if own_dir else Path(work_dir)
    work.mkdir(parents=True, exist_ok=True)
    env = dict(os.environ, SPARK_HOME=str(home), SPARK_LOCAL_IP=HOST, SPARK_MASTER_HOST=HOST,
               SPARK_DAEMON_MEMORY=str(daemon_memory), SPARK_LOG_DIR=str(work),
               SPARK_WORKER_DIR=str(work / "work"), SPARK_NO_DAEMONIZE="1",
               PYSPARK_PYTHON=sys.executable)
    port, web = free_port(), free_port()
    cluster = Cluster(master_url=f"spark://{HOST}:{port}", web_url=f"http://{HOST}:{web}",
                      workers=workers, cores=cores, memory=str(memory), work_dir=work)
    try:
        cluster._daemons.append(_spawn("master", [MASTER_CLASS, "--host", HOST, "--port", str(port),
                                                  "--webui-port", str(web)],
                                       home=home, work=work, env=env))
        _wait(cluster, 0, time.monotonic() + timeout)
        for i in range(1, workers + 1):
            wdir = work / "work" / f"worker-{i}"
            wdir.mkdir(parents=True, exist_ok=True)
            cluster._daemons.append(_spawn(
                f"worker-{i}", [WORKER_CLASS, "--host", HOST, "--port", str(free_port()),
                                "--webui-port", str(free_port()), "--cores", str(cores),
                                "--memory", str(memory), "--work-dir", str(wdir), cluster.master_url],
                home=home, work=work, env=env))
        _wait(cluster, workers, time.monotonic() + timeout)
        yield cluster
    finally:
        cluster.stop()
        if own_dir:
            shutil.rmtree(work, ignore_errors=True)


def _wait(cluster: Cluster, n_workers: int, deadline: float) -> None:
    """Until the master answers and counts ``n_workers`` ALIVE workers; a dead daemon fails at once."""
    while True:
        for d in cluster._daemons:
            if d.proc.poll() is not None:
                raise ClusterError(f"Spark {d.name} exited with code {d.proc.returncode} while the "
                                   f"cluster {cluster.master_url} was starting; end of {d.log}:\n"
                                   f"{_tail(d.log)}")
        try:
            st = cluster.state()
            if sum(1 for w in st.get("workers", []) if w.get("state") == "ALIVE") >= n_workers:
                return
        except (OSError, ValueError, urllib.error.URLError):
            pass
        if time.monotonic() > deadline:
            who = "master" if n_workers == 0 else f"{n_workers} workers"
            logs = "\n".join(f"--- {d.name}:\n{_tail(d.log, 8)}" for d in cluster._daemons)
            raise ClusterError(f"the {who} of {cluster.master_url} did not come up in time "
                               f"({cluster.alive_workers()} workers alive). Fix: see the logs "
                               f"below, raise timeout= or free memory\n{logs}")
        time.sleep(0.5)


def run_with_timeout(job: Callable[[], T], *, timeout: float, what: str = "Spark job",
                     spark=None, describe: Callable[[], str] | None = None) -> T:
    """Run ``job()`` (which starts Spark jobs) and give up after ``timeout`` seconds.

    The job runs in a thread under its own Spark job group; past the deadline the group is
    cancelled (the driver stops waiting for executors that will not come) and
    :class:`ClusterError` is raised. A Spark failure inside the deadline (a lost
    executor failing its tasks ``spark.task.maxFailures`` times, a master that removed
    the application) is raised as a :class:`ClusterError` chained to Spark's error.

    Parameters
    ----------
    job : callable
        No arguments; its return value is returned.
    timeout : float
        Seconds.
    what : str
        Named in the error message.
    spark : SparkSession, optional
        Whose jobs to cancel; default the active session.
    describe : callable, optional
        Returns a sentence on the cluster's state, appended to the message.

    Raises
    ------
    ClusterError
    """
    from pyspark.sql import SparkSession

    if not (isinstance(timeout, (int, float)) and timeout > 0):
        raise parameter_error("timeout", expected="seconds > 0", found=timeout)
    spark = spark or SparkSession.getActiveSession()
    if spark is None:
        raise ClusterError(f"{what}: no active SparkSession to run on")
    sc = spark.sparkContext
    group = f"dmkit-{id(job):x}-{time.monotonic_ns():x}"
    box: dict = {}

    def target() -> None:
        try:
            sc.setJobGroup(group, what, interruptOnCancel=True)
            box["value"] = job()
        except BaseException as err:  # noqa: BLE001 - handed to the caller's thread
            box["error"] = err

    thread = threading.Thread(target=target, name=f"dmkit-{what}", daemon=True)
    t0 = time.monotonic()
    thread.start()
    thread.join(timeout)
    state = f"; {describe()}" if describe is not None else ""
    if thread.is_alive():
        sc.cancelJobGroup(group)
        thread.join(30)
        raise ClusterError(f"{what} did not finish within {timeout:g} s and was cancelled{state}. "
                           "Fix: check that the cluster's workers are alive (a standalone cluster "
                           "without workers waits for them for ever), or raise timeout=")
    if "error" in box:
        err = box["error"]
        if isinstance(err, DmkitError):
            raise err
        msg = " ".join(str(err).split())[:400]
        raise ClusterError(f"{what} failed after {time.monotonic() - t0:.0f} s: "
                           f"{type(err).__name__}: {msg}{state}") from err
    return box["value"]
