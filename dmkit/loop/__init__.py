"""The monthly closed loop of deep operations (深度运营闭环): plan → contact → respond → revise::

    import dmkit as dm
    run = dm.loop.run(province="guangdong", start="2009-01", months=6, n_users=100_000,
                      policy="model", seed=7, out="reports/loop")
    run.monthly            # one row per month: funnel, take-up, uplift, model AUC, health index

Layer 5 of the house: above the methods (health, lifecycle, propensity, campaign, offers);
it reaches the simulator only through the data facade and a source object
(:mod:`dmkit.loop.sources`), so the same loop runs on the operator's extracts.

* :mod:`dmkit.loop.runner` — :func:`run`, :class:`LoopRun`, :func:`compare`;
* :mod:`dmkit.loop.policy` — the policies and the month's offer plan;
* :mod:`dmkit.loop.store` — :class:`ModelStore`, versions of the target models (skops);
* :mod:`dmkit.loop.state` — the run's state on disk (resume after a crash);
* :mod:`dmkit.loop.sources` — the simulator or the extracts as the loop's world;
* :mod:`dmkit.loop.send` — :func:`simulate_plan`, one offer plan sent on the simulator (hit rate).
"""
from __future__ import annotations

from dmkit.loop.policy import POLICIES, plan_month
from dmkit.loop.runner import LoopRun, PolicyComparison, compare, run, write_contact_lists
from dmkit.loop.send import SimulatedPlan, simulate_plan
from dmkit.loop.sources import ExtractSource, SimulatedSource
from dmkit.loop.store import ModelStore, UntrustedModelError

__all__ = ["run", "LoopRun", "compare", "PolicyComparison", "ModelStore", "UntrustedModelError",
           "POLICIES", "plan_month", "write_contact_lists", "SimulatedSource", "ExtractSource",
           "SimulatedPlan", "simulate_plan"]
