"""Each constraint's achieved value, slack and shortfall for a selection (the table of ``OfferPlan.constraints``)."""
from __future__ import annotations

import numpy as np
import pandas as pd

from dmkit.offers.problem import Problem
from dmkit.offers.repair import tolerance

__all__ = ["constraint_table", "conflict_violations"]


def conflict_violations(prob: Problem, x: np.ndarray) -> int:
    """Number of within-user conflicting pairs both chosen in ``x``."""
    if not len(prob.pairs):
        return 0
    return int((x[prob.pairs[:, 0]] & x[prob.pairs[:, 1]]).sum())


def constraint_table(prob: Problem, x: np.ndarray) -> pd.DataFrame:
    """One row per constraint, in the order given.

    Returns
    -------
    DataFrame
        kind, start, end, channels, services, bound (as given), then achieved (the sum the
        constraint counts; for ``max_contacts_per_user`` the largest count of any user),
        slack (room left: bound - achieved for upper bounds, achieved - bound for minimums),
        shortfall (max(0, -slack)), binding (slack below 0.1% of the bound, or below one
        contact for contact counts) and ok (the constraint holds, to 1e-7 relative).
    """
    rows = prob.rows.copy()
    n = len(rows)
    achieved = np.zeros(n)
    slack = np.zeros(n)
    unit = np.zeros(n, dtype=bool)
    lhs = prob.usage(x)
    for k, r in enumerate(prob.crow):
        achieved[r] = lhs[k]
        slack[r] = (prob.cbound[k] - lhs[k]) if prob.csense[k] > 0 else (lhs[k] - prob.cbound[k])
        unit[r] = prob.cweight[k] == 0
    for q, r in enumerate(prob.urow):
        cnt = prob.per_user_counts(x, q)
        achieved[r] = float(cnt.max()) if len(cnt) else 0.0
        slack[r] = prob.ubound[q] - achieved[r]
        unit[r] = True
    bound = rows["bound"].to_numpy(dtype=float) if n else np.zeros(0)
    tol = tolerance(bound)
    rows["achieved"] = achieved
    rows["slack"] = slack
    rows["shortfall"] = np.maximum(0.0, -slack)
    rows.loc[rows["shortfall"] <= tol, "shortfall"] = 0.0
    rows["binding"] = np.where(unit, slack < 1 - 1e-9, slack <= 1e-3 * np.maximum(np.abs(bound), 1e-9))
    rows["ok"] = slack >= -tol
    return rows
