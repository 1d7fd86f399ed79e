"""The customer–service–channel offer plan as an optimisation (case G3, precision marketing 2.0).

- :func:`optimize` — which activity reaches which customer: the most expected value under
  channel volumes, budgets, minimum sales (KPI targets), per-customer contact caps and
  conflicts between contacts too close in time → :class:`OfferPlan`. Exact (HiGHS MIP),
  by Lagrangian decomposition over customers (a province), or greedy (the OCRM baseline).
- :func:`dmkit.loop.simulate_plan` — a plan's contacts sent on the simulator (it lives in the
  loop's floor, which may reach the simulator; the methods stand on the contract alone).
- :class:`InfeasiblePlanError` — raised by :meth:`OfferPlan.require_feasible` when a
  minimum is missed, naming the constraints and their shortfall.
"""
from __future__ import annotations

from dmkit.offers.plan import InfeasiblePlanError, OfferPlan
from dmkit.offers.problem import KINDS
from dmkit.offers.solve import optimize

__all__ = ["KINDS", "InfeasiblePlanError", "OfferPlan", "optimize"]
