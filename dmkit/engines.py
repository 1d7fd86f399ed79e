"""``engine: pandas | spark``: the explicit registry of the methods that run on both engines.

A notebook declares ``engine = "pandas"`` in its parameters cell (the batch injects the
params file's ``engine`` key) and calls the switchable methods through the object
:func:`dispatch` returns::

    ops = dm.engines.dispatch(engine)
    rs = ops.rules.mine(baskets, min_support=0.01, min_confidence=0.3)
    seg = ops.segment.cluster(features, k=3)
    fun = ops.campaign.funnel(pdata.contacts)
    model = ops.propensity.fit(X, y, model="logit")

Only the pairs listed in :data:`TWINS` are there: the pandas method
(``dmkit.<family>.<name>``) and its Spark twin (``dmkit.spark.<family>.<name>``), which
takes pandas or Spark DataFrames and returns the same result type (rules and funnel
identical, segments and AUC within tolerance; see tests/test_spark_*.py). Asking for any
other method (``ops.campaign.uplift``) raises :class:`~dmkit.errors.NoTwinError` on both
engines, so a notebook that runs on pandas never meets it first on Spark: call such a
method on pandas explicitly (``dm.campaign.uplift(...)``) and say so.

The twins share every parameter they both have, with the same defaults, except the ones a
:class:`Twin` lists in ``differs`` with the reason (``tests/test_engines.py`` checks it);
parameters only one engine has (``spark=``, ``items=``; ``algorithm=``) are listed in
``pandas_only`` / ``spark_only``.

Layer 6 of the house (engines over the methods): imports the methods and
:mod:`dmkit.spark` on demand; no method imports it.
"""
from __future__ import annotations

import importlib
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from typing import Literal

import pandas as pd

from dmkit._validation import check_choice
from dmkit.errors import NoTwinError

__all__ = ["ENGINES", "METHODS", "TWINS", "Engine", "Twin", "dispatch", "twins"]

ENGINES: tuple[str, ...] = ("pandas", "spark")


@dataclass(frozen=True)
class Twin:
    """One method on both engines.

    Attributes
    ----------
    family, name : str
        ``dmkit.<family>.<name>`` on pandas, ``dmkit.spark.<family>.<name>`` on Spark.
    differs : mapping of str to str
        Shared parameters whose defaults differ on purpose, with the reason.
    pandas_only, spark_only : tuple of str
        Parameters only one engine's function takes.
    """

    family: str
    name: str
    differs: Mapping[str, str] = field(default_factory=dict)
    pandas_only: tuple[str, ...] = ()
    spark_only: tuple[str, ...] = ("spark",)

    @property
    def pandas(self) -> str:
        """Dotted path of the pandas method."""
        return f"dmkit.{self.family}.{self.name}"

    @property
    def spark(self) -> str:
        """Dotted path of the Spark twin."""
        return f"dmkit.spark.{self.family}.{self.name}"

    def function(self, engine: str) -> Callable:
        """The method of this twin on ``engine`` (imports its module)."""
        module, _, attr = (self.pandas if engine == "pandas" else self.spark).rpartition(".")
        return getattr(importlib.import_module(module), attr)


TWINS: tuple[Twin, ...] = (
    Twin("campaign", "funnel"),
    Twin("propensity", "fit",
         differs={"y": "Spark also takes one DataFrame holding features and label (y=None)",
                  "model": "Spark ML has no histogram gradient boosting: 'logit' by default",
                  "class_weight": "Spark ML weighs classes by a weight column: 'balanced' or None",
                  "calibrate": "isotonic calibration is a pandas-side step: off on Spark by default"},
         spark_only=("features", "label", "id_col", "max_iter", "spark")),
    Twin("rules", "mine", spark_only=("items", "id_col", "method", "spark")),
    Twin("segment", "cluster", pandas_only=("algorithm", "minibatch_threshold", "order_by"),
         spark_only=("max_iter", "id_col", "spark")),
)
"""Every method that runs on both engines."""

METHODS: tuple[str, ...] = tuple(sorted({t.family for t in TWINS}))
"""Method families with at least one twin."""


class _Family:
    """``ops.<family>``: the twins of one family on one engine."""

    def __init__(self, engine: str, family: str) -> None:
        self._engine = engine
        self._family = family
        self._twins = {t.name: t for t in TWINS if t.family == family}

    def __getattr__(self, name: str) -> Callable:
        if name.startswith("__"):
            raise AttributeError(name)
        twin = self._twins.get(name)
        if twin is None:
            raise NoTwinError(
                f"dm.{self._family}.{name} has no Spark twin, so engine {self._engine!r} does "
                f"not offer it: ops.{self._family} has {sorted(self._twins)}. Call "
                f"dm.{self._family}.{name} on pandas DataFrames explicitly (and say so where "
                "the notebook runs on Spark)")
        return twin.function(self._engine)

    def __dir__(self) -> list[str]:
        return sorted(self._twins)

    def __repr__(self) -> str:
        return f"<ops.{self._family} on {self._engine}: {', '.join(sorted(self._twins))}>"


class Engine:
    """The methods of one engine (what :func:`dispatch` returns): ``ops.<family>.<name>``.

    Attributes
    ----------
    engine : {"pandas", "spark"}
    """

    def __init__(self, engine: Literal["pandas", "spark"]) -> None:
        self.engine = engine
        for family in METHODS:
            setattr(self, family, _Family(engine, family))

    def __getattr__(self, name: str):
        if name.startswith("__"):
            raise AttributeError(name)
        raise NoTwinError(f"no method family {name!r} runs on both engines; "
                          f"ops offers {list(METHODS)} (see dm.engines.TWINS)")

    def __repr__(self) -> str:
        names = ", ".join(f"{t.family}.{t.name}" for t in TWINS)
        return f"<dmkit engine {self.engine!r}: {names}; every other method runs on pandas only>"


def dispatch(engine: Literal["pandas", "spark"] = "pandas") -> Engine:
    """The twins of :data:`TWINS` on ``engine``: ``ops.rules.mine``, ``ops.segment.cluster``,
    ``ops.campaign.funnel``, ``ops.propensity.fit`` (and ``ops.engine``, the name).

    Raises
    ------
    ParameterError
        ``engine`` is not "pandas" or "spark".
    DmkitError
        ``engine="spark"`` without pyspark installed.
    NoTwinError
        Later, when a method without a twin is asked of the result (``ops.campaign.uplift``).
    """
    check_choice(engine, "engine", ENGINES)
    if engine == "spark":
        from dmkit.spark.session import require_pyspark

        require_pyspark()
    return Engine(engine)


def twins() -> pd.DataFrame:
    """The registry as a table: family, name, pandas, spark, differs (parameter: reason)."""
    return pd.DataFrame(
        [{"family": t.family, "name": t.name, "pandas": t.pandas, "spark": t.spark,
          "differs": "; ".join(f"{k}: {v}" for k, v in t.differs.items())} for t in TWINS],
        columns=["family", "name", "pandas", "spark", "differs"])
