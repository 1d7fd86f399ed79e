"""CRBT customer states (Y3) planted into ``crbt_changes`` / ``music_downloads``.

Active CRBT holders at the data month get one state; each state has its own pattern over
the months of the panel (month index 0 = oldest, last = data month):

* heavy: about 3 tone changes and 4 downloads every month;
* light: about 0.5 changes and 0.8 downloads a month;
* silent: light pattern early, then no change and no download in the last 3 months;
* pre_churn: heavy pattern early, half of it the month before the data month, nothing in
  the data month.

Music holders without CRBT download about 0.8 items a month.
"""
from __future__ import annotations

import numpy as np

__all__ = ["CRBT_STATES", "STATE_NAMES", "plant_crbt_states", "customer_state_truth"]

STATE_NAMES = ("none", "heavy", "light", "silent", "pre_churn")
CRBT_STATES = {"heavy": 0.25, "light": 0.45, "silent": 0.20, "pre_churn": 0.10}
_RATES = {"heavy": (3.0, 4.0), "light": (0.5, 0.8)}   # mean changes, mean downloads per month


def _counts(rng, mean, k):
    # floor(mean * Exp(1) + U) has mean ~= mean + 0.5 - small; cheap Poisson stand-in
    return np.floor(mean * rng.standard_exponential(k, dtype=np.float32)
                    + rng.random(k, dtype=np.float32) * 0.999).astype(np.int16)


def plant_crbt_states(rng: np.random.Generator, panel: dict, crbt_active: np.ndarray,
                      music_ever: np.ndarray, n_months: int) -> np.ndarray:
    """Fill panel crbt_changes / music_downloads in place; return the per-user state code."""
    n = len(crbt_active)
    state = np.zeros(n, dtype=np.int8)
    idx = np.flatnonzero(crbt_active)
    u = rng.random(len(idx))
    cuts = np.cumsum(list(CRBT_STATES.values()))
    state[idx] = 1 + np.searchsorted(cuts, u * cuts[-1]).clip(0, 3)
    ch, dl = panel["crbt_changes"], panel["music_downloads"]
    music_only = np.flatnonzero(music_ever & ~crbt_active)
    by_state = {code: np.flatnonzero(state == code) for code in range(1, len(STATE_NAMES))}
    for k in range(n_months):
        off = k * n
        from_end = n_months - 1 - k     # 0 = data month
        for code, name in enumerate(STATE_NAMES):
            if name == "none":
                continue
            users = by_state[code]
            if name == "heavy":
                mult = 1.0
                base = "heavy"
            elif name == "light":
                mult, base = 1.0, "light"
            elif name == "silent":
                mult, base = (0.0 if from_end < 3 else 1.0), "light"
            else:
                mult = 0.0 if from_end == 0 else (0.5 if from_end == 1 else 1.0)
                base = "heavy"
            if mult == 0.0:
                continue
            mc, md = _RATES[base]
            ch[off + users] = _counts(rng, mc * mult, len(users))
            dl[off + users] = _counts(rng, md * mult, len(users))
        dl[off + music_only] = _counts(rng, 0.5, len(music_only))
    return state


def customer_state_truth() -> dict:
    """What was planted, for Truth.lifecycle['customer_states']."""
    return {
        "service": "crbt",
        "shares_of_active_holders": dict(CRBT_STATES),
        "monthly_means": {"heavy": {"crbt_changes": 3.0, "music_downloads": 4.0},
                          "light": {"crbt_changes": 0.5, "music_downloads": 0.8}},
        "definitions": {
            "heavy": "heavy pattern every month",
            "light": "light pattern every month",
            "silent": "light pattern, then 0 changes and 0 downloads in the last 3 months",
            "pre_churn": "heavy pattern, half of it the month before the data month, 0 in the data month",
        },
        "thresholds": {"growth": "data-month activity >= previous months' mean",
                       "activity": "crbt_changes + music_downloads > 0 in the last 3 months",
                       "loyalty": "subscribed 6+ months"},
    }
