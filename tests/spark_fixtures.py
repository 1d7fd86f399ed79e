"""One SparkSession (local[2]) for the whole test session, stopped at the end.

Spark test modules do ``from tests.spark_fixtures import spark  # noqa: F401`` and
mark themselves ``pytestmark = pytest.mark.spark``. Skipped when pyspark or Java is
missing, so a plain ``pip install dmkit[dev]`` without a JDK still passes.
"""
from __future__ import annotations

import shutil

import pytest


@pytest.fixture(scope="session")
def spark():
    pytest.importorskip("pyspark")
    if shutil.which("java") is None:
        pytest.skip("no Java on PATH: Spark tests need a JDK 17+")
    from dmkit.spark.session import get_session

    session = get_session("local[2]", "dmkit-tests",
                          config={"spark.sql.shuffle.partitions": "1",
                                  "spark.default.parallelism": "2",
                                  # tiny test tables: compiling generated code costs more
                                  # than it saves
                                  "spark.sql.codegen.wholeStage": "false",
                                  "spark.sql.adaptive.enabled": "false"})
    yield session
    session.stop()
