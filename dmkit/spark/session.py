"""A small SparkSession helper: local mode by default, a cluster master from the caller or the environment.

``get_session()`` returns the active session if there is one, otherwise builds one with
small-memory settings that suit a laptop or a CI runner (2 shuffle partitions, Arrow
transfers on, quiet logs). Point it at a cluster with ``master="spark://host:7077"``
(or ``yarn``) or by exporting ``DMKIT_SPARK_MASTER``.
"""
from __future__ import annotations

import os
import sys

from dmkit.errors import DmkitError, parameter_error

__all__ = ["get_session", "stop_session", "require_pyspark", "MASTER_ENV"]

MASTER_ENV = "DMKIT_SPARK_MASTER"
DEFAULT_MASTER = "local[2]"
#: master URLs of a cluster on this machine, whose executors can run this interpreter
_THIS_MACHINE = ("spark://127.0.0.1:", "spark://localhost:")

# Settings for a small machine; a cluster's own spark-defaults.conf still wins for
# anything not set here, and `config` overrides these.
_DEFAULTS: dict[str, str] = {
    "spark.sql.shuffle.partitions": "4",
    "spark.default.parallelism": "4",
    "spark.driver.memory": "2g",
    "spark.sql.execution.arrow.pyspark.enabled": "true",
    "spark.sql.execution.arrow.pyspark.fallback.enabled": "true",
    "spark.sql.adaptive.enabled": "true",
    "spark.ui.enabled": "false",
    "spark.ui.showConsoleProgress": "false",
    "spark.sql.session.timeZone": "UTC",
    "spark.driver.extraJavaOptions": "-Dlog4j2.level=ERROR",
    # dmkit.io writes TIMESTAMP(MICROS); Parquet written by plain pandas (or by earlier dmkit
    # builds) holds TIMESTAMP(NANOS), which Spark cannot read as a timestamp: read it as a long
    # and let dmkit.spark.io.read_table convert it
    "spark.sql.legacy.parquet.nanosAsLong": "true",
}


def require_pyspark():
    """Import and return :mod:`pyspark`, or raise a :class:`DmkitError` saying how to install it."""
    try:
        import pyspark
    except ImportError as err:  # pragma: no cover - depends on the environment
        raise DmkitError(
            "dmkit.spark needs pyspark and Java 17+; found no pyspark. "
            "Fix: pip install 'dmkit[spark]' (and install a JDK)"
        ) from err
    return pyspark


def get_session(
    master: str | None = None,
    app_name: str = "dmkit",
    *,
    config: dict[str, str] | None = None,
):
    """Return a SparkSession (the active one if any, else a new one).

    Parameters
    ----------
    master : str, optional
        Spark master URL (``local[2]``, ``spark://host:7077``, ``yarn`` ...). When None,
        the environment variable ``DMKIT_SPARK_MASTER`` is used, then ``local[2]``.
        Ignored when a session is already active (Spark allows one per process).
    app_name : str, default "dmkit"
        Application name shown by the cluster manager.
    config : dict, optional
        Extra Spark settings; they override dmkit's small-memory defaults.

    Returns
    -------
    pyspark.sql.SparkSession
    """
    require_pyspark()
    from pyspark.sql import SparkSession

    if master is not None and (not isinstance(master, str) or not master.strip()):
        raise parameter_error("master", expected="a Spark master URL such as 'local[2]'", found=master)
    if not isinstance(app_name, str) or not app_name:
        raise parameter_error("app_name", expected="a non-empty string", found=app_name)
    active = SparkSession.getActiveSession()
    if active is not None:
        return active
    master = master or os.environ.get(MASTER_ENV) or DEFAULT_MASTER
    if master.startswith("local") or master.startswith(_THIS_MACHINE):
        # keeps Spark from warning about the host name resolving to a loopback address
        os.environ.setdefault("SPARK_LOCAL_IP", "127.0.0.1")
        # Python workers (pandas UDFs, mapInPandas) run this interpreter, with dmkit's
        # dependencies, not whatever `python3` is first on PATH (also on a standalone
        # cluster on this machine, dm.spark.cluster.standalone)
        os.environ.setdefault("PYSPARK_PYTHON", sys.executable)
    settings = dict(_DEFAULTS)
    if config:
        settings.update({str(k): str(v) for k, v in config.items()})
    builder = SparkSession.builder.master(master).appName(app_name)
    for key, value in settings.items():
        builder = builder.config(key, value)
    spark = builder.getOrCreate()
    spark.sparkContext.setLogLevel("ERROR")
    return spark


def stop_session() -> None:
    """Stop the active SparkSession, if any (frees the JVM's memory)."""
    require_pyspark()
    from pyspark.sql import SparkSession

    active = SparkSession.getActiveSession()
    if active is not None:
        active.stop()
