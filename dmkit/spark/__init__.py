"""dmkit on Apache Spark: the same calls when a province outgrows one machine (extra ``spark``).

::

    import dmkit as dm
    spark = dm.spark.get_session()                 # local[2], or $DMKIT_SPARK_MASTER
    usage = dm.spark.read_table("data/extracts", "usage", months=["2009-06"])
    rs = dm.spark.rules.mine(baskets_sdf, min_support=0.01)   # same RuleSet as dm.rules.mine
    ops = dm.spark.engine.dispatch("spark")        # or "pandas": notebooks call ops.rules.mine(...)

Submodules (imported on first use, so ``import dmkit.spark`` does not start a JVM):
``session``, ``io``, ``rules``, ``segment``, ``propensity``, ``campaign``, ``health``,
``engine``, ``cluster`` (a standalone cluster on this machine), ``offers`` (the offer
decomposition's per-customer step).
"""
from __future__ import annotations

import importlib

from dmkit.spark.session import get_session, stop_session

__all__ = [
    "get_session",
    "stop_session",
    "read_table",
    "validate",
    "from_pandas",
    "session",
    "io",
    "rules",
    "segment",
    "propensity",
    "campaign",
    "health",
    "engine",
    "cluster",
    "offers",
]

_SUBMODULES = {"session", "io", "rules", "segment", "propensity", "campaign", "health", "engine",
               "cluster", "offers"}
_FROM_IO = {"read_table", "validate", "from_pandas"}


def __getattr__(name: str):
    if name in _SUBMODULES:
        module = importlib.import_module(f"dmkit.spark.{name}")
        globals()[name] = module
        return module
    if name in _FROM_IO:
        return getattr(importlib.import_module("dmkit.spark.io"), name)
    raise AttributeError(f"module 'dmkit.spark' has no attribute {name!r}")


def __dir__() -> list[str]:
    return sorted(list(globals()) + __all__)
