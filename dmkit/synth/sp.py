"""Service providers (SPs) and the planted offenders of case M.

Two kinds of offender are planted:

* ``chart_boosting``: bursts of many downloads of a few of the SP's items by a handful of
  users within a day (打榜);
* ``unauthorised_ordering``: the SP orders an SP service for users without consent —
  subscriptions through channel ``sp_push``, most cancelled within 3 days, and a
  complaint in that month from many of the victims.
"""
from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import pandas as pd

__all__ = ["SpPlan", "plan_sps", "N_SPS"]

N_SPS = 40
VICTIM_RATE = 0.004        # share of users ordered without consent, per unauthorised SP
BOOSTER_RATE = 0.0005      # share of users acting as chart boosters, per boosting SP


@dataclass
class SpPlan:
    """Who is who among the SPs, and which users are victims / boosters."""

    sp_ids: np.ndarray            # str, N_SPS
    weights: np.ndarray           # market share of each SP (float64, sums to 1)
    boosting: np.ndarray          # int indices of chart-boosting SPs
    unauthorised: np.ndarray      # int indices of unauthorised-ordering SPs
    victim_sp: np.ndarray         # int8 per user: index into ``unauthorised`` or -1
    victim_month: np.ndarray      # int8 per user: month index of the unauthorised order
    booster_sp: np.ndarray        # int8 per user: index into ``boosting`` or -1

    def offenders(self) -> pd.DataFrame:
        """Truth table: sp_id, kind."""
        return pd.DataFrame({
            "sp_id": list(self.sp_ids[self.boosting]) + list(self.sp_ids[self.unauthorised]),
            "kind": ["chart_boosting"] * len(self.boosting)
            + ["unauthorised_ordering"] * len(self.unauthorised),
        })


def plan_sps(rng: np.random.Generator, n: int, n_months: int) -> SpPlan:
    """Draw SP ids, market shares, the offenders and their victims / boosters."""
    sp_ids = np.array([f"SP{1001 + k}" for k in range(N_SPS)])
    w = 1.0 / np.arange(1, N_SPS + 1) ** 0.7
    w = w[rng.permutation(N_SPS)]
    w /= w.sum()
    small = np.argsort(-w, kind="stable")[N_SPS // 2:]           # offenders are small SPs
    pick = rng.choice(small, size=5, replace=False)
    boosting, unauthorised = np.sort(pick[:2]), np.sort(pick[2:])
    u = rng.random(n, dtype=np.float32)
    victim_sp = np.full(n, -1, dtype=np.int8)
    for k in range(len(unauthorised)):
        victim_sp[(u >= k * VICTIM_RATE) & (u < (k + 1) * VICTIM_RATE)] = k
    victim_month = rng.integers(0, n_months, n, dtype=np.int8)
    booster_sp = np.full(n, -1, dtype=np.int8)
    n_boost = max(3, int(round(BOOSTER_RATE * n)))
    cand = rng.choice(n, size=min(n, 4 * n_boost * len(boosting)), replace=False)
    cand = cand[victim_sp[cand] < 0][: n_boost * len(boosting)]
    booster_sp[cand] = (np.arange(len(cand)) // n_boost).astype(np.int8)
    return SpPlan(sp_ids, w, boosting, unauthorised, victim_sp, victim_month, booster_sp)
