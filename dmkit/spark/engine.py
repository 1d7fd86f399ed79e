"""``engine: pandas | spark``: one switch so the same notebook runs on either engine.

A notebook declares ``engine = "pandas"`` in its parameters cell (the runner injects the
params file's ``engine`` key) and calls the methods through the namespace this returns::

    ops = dm.spark.engine.dispatch(engine)
    rs = ops.rules.mine(baskets, min_support=0.01, min_confidence=0.3)
    seg = ops.segment.cluster(features, k=3)
    fun = ops.campaign.funnel(pdata.contacts)
    model = ops.propensity.fit(X, y, model="logit")

With ``"pandas"`` these are :mod:`dmkit.rules`, :mod:`dmkit.segment`,
:mod:`dmkit.campaign`, :mod:`dmkit.propensity`; with ``"spark"`` the
:mod:`dmkit.spark` modules of the same names, which take pandas or Spark DataFrames and
return the same result types (rules and funnel identical, segments and AUC within
tolerance; see tests/test_spark_*.py).
"""
from __future__ import annotations

import importlib
from types import SimpleNamespace
from typing import Literal

from dmkit._validation import check_choice

__all__ = ["ENGINES", "METHODS", "dispatch"]

ENGINES: tuple[str, ...] = ("pandas", "spark")
METHODS: tuple[str, ...] = ("rules", "segment", "campaign", "propensity")
"""Method families available on both engines."""


def dispatch(engine: Literal["pandas", "spark"] = "pandas") -> SimpleNamespace:
    """The method modules for ``engine``: a namespace with ``rules``, ``segment``,
    ``campaign`` and ``propensity`` (and ``engine``, the name).

    Raises
    ------
    ParameterError
        ``engine`` is not "pandas" or "spark".
    DmkitError
        ``engine="spark"`` without pyspark installed.
    """
    check_choice(engine, "engine", ENGINES)
    prefix = "dmkit." if engine == "pandas" else "dmkit.spark."
    if engine == "spark":
        from dmkit.spark.session import require_pyspark

        require_pyspark()
    mods = {name: importlib.import_module(prefix + name) for name in METHODS}
    return SimpleNamespace(engine=engine, **mods)
