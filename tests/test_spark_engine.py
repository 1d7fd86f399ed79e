"""dmkit.spark.engine.dispatch: the same names on both engines (no Spark session needed)."""
from __future__ import annotations

import inspect

import pytest

import dmkit as dm
from dmkit.errors import ParameterError
from dmkit.spark import engine


def test_dispatch_gives_the_same_functions_on_both_engines():
    pd_ops, sp_ops = engine.dispatch("pandas"), engine.dispatch("spark")
    assert pd_ops.rules is dm.rules and pd_ops.segment is dm.segment
    assert sp_ops.rules is dm.spark.rules and sp_ops.campaign is dm.spark.campaign
    for mod, fn in [("rules", "mine"), ("segment", "cluster"), ("campaign", "funnel"), ("propensity", "fit")]:
        a = inspect.signature(getattr(getattr(pd_ops, mod), fn))
        b = inspect.signature(getattr(getattr(sp_ops, mod), fn))
        # every argument a notebook passes to the pandas function is accepted by the Spark one
        missing = [p for p in a.parameters if p not in b.parameters]
        allowed = {"algorithm", "minibatch_threshold", "n_init", "order_by"}  # sklearn-only knobs
        assert set(missing) <= allowed, (mod, missing)


def test_unknown_engine():
    with pytest.raises(ParameterError, match="parameter 'engine'.*'dask'"):
        engine.dispatch("dask")
