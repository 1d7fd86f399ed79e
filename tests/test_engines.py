"""dmkit.engines: the explicit registry of twins, the same calls on both engines (no Spark
session needed), a clear error where a method has no Spark twin, no signature drift."""
from __future__ import annotations

import inspect

import pytest

import dmkit as dm
from dmkit import engines
from dmkit.errors import NoTwinError, ParameterError
from dmkit.spark import engine


def test_dispatch_gives_the_same_functions_on_both_engines():
    pd_ops, sp_ops = engines.dispatch("pandas"), engines.dispatch("spark")
    assert pd_ops.rules.mine is dm.rules.mine and pd_ops.segment.cluster is dm.segment.cluster
    assert sp_ops.rules.mine is dm.spark.rules.mine and sp_ops.campaign.funnel is dm.spark.campaign.funnel
    for mod, fn in [("rules", "mine"), ("segment", "cluster"), ("campaign", "funnel"), ("propensity", "fit")]:
        a = inspect.signature(getattr(getattr(pd_ops, mod), fn))
        b = inspect.signature(getattr(getattr(sp_ops, mod), fn))
        # every argument a notebook passes to the pandas function is accepted by the Spark one
        missing = [p for p in a.parameters if p not in b.parameters]
        allowed = {"algorithm", "minibatch_threshold", "n_init", "order_by"}  # sklearn-only knobs
        assert set(missing) <= allowed, (mod, missing)


def test_the_old_address_is_the_registry():
    assert engine.dispatch is engines.dispatch and engine.TWINS is engines.TWINS


def test_unknown_engine():
    with pytest.raises(ParameterError, match="parameter 'engine'.*'dask'"):
        engines.dispatch("dask")


@pytest.mark.parametrize("name", ["pandas", "spark"])
def test_a_method_without_a_spark_twin_is_a_clear_error_on_both_engines(name):
    ops = engines.dispatch(name)
    with pytest.raises(NoTwinError, match=r"dm\.campaign\.uplift has no Spark twin.*\['funnel'\]"):
        ops.campaign.uplift  # noqa: B018 - the attribute access raises
    with pytest.raises(NoTwinError, match="no method family 'health'"):
        ops.health  # noqa: B018
    assert "campaign.funnel" in repr(ops) and "pandas only" in repr(ops)


@pytest.mark.parametrize("twin", engines.TWINS, ids=lambda t: f"{t.family}.{t.name}")
def test_twins_do_not_drift(twin):
    """Shared parameters keep kind and default on both engines, except the declared ones;
    the parameters only one engine takes are declared too."""
    a = inspect.signature(twin.function("pandas")).parameters
    b = inspect.signature(twin.function("spark")).parameters
    assert sorted(set(a) - set(b)) == sorted(twin.pandas_only)
    assert sorted(set(b) - set(a)) == sorted(twin.spark_only)
    drift = {p: (a[p].kind, a[p].default, b[p].kind, b[p].default) for p in set(a) & set(b)
             if (a[p].kind, a[p].default) != (b[p].kind, b[p].default) and p not in twin.differs}
    assert drift == {}
    assert all(p in a and p in b for p in twin.differs)  # no stale declaration


def test_registry_table_lists_every_twin():
    table = engines.twins()
    assert list(table["pandas"]) == [t.pandas for t in engines.TWINS]
    assert table.loc[table["name"] == "fit", "differs"].item().startswith("y: ")
