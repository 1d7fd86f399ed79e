"""Whom to contact: the policies' scores, and the month's offer plan under J3's practice.

A policy gives every (user, service) a score; the plan then takes, per user, the eligible
service with the best score and the users with the best scores up to the contact budget.

* ``model`` — the target model's calibrated score (from the model store), plus an
  exploration slice (``explore`` of the budget, drawn uniformly at random from all the
  eligible users, each offered one of their eligible services at random, before the top
  of the ranking is taken from the others): the month's unbiased sample of the population
  the model ranks, on which its AUC is measured, and learning data for the revision that
  is not only the top of the last ranking;
* ``random`` — the same number of users chosen at random (the lower bound);
* ``oracle`` — the planted true take-up probability (simulator only: the upper bound).

The plan follows J3's practice: a random ``control_share`` of the chosen users is held
out (``group = control``, never sent), at most one offer per user per month, at most
``max_contacts_90d`` offers per user in three months, numbers on the sensitive list never
contacted, sends on weekdays only (Monday–Friday, no weekend sends), in the send windows
9:30–12:00, 14:00–17:00 and 18:00–21:00, over the user's preferred contact channel when it
is one of the plan's channels and by SMS otherwise.

The plan is chosen by ``dm.offers.optimize`` (the customer–service–channel optimiser:
a contact cap and one offer per user) with ``planner="offers"``, greedily (best scores
first) with ``planner="greedy"``, or ``"auto"``: the optimiser when ``dmkit.offers``
imports, the greedy plan otherwise (the fallback). ``dm.loop.run``'s default is
``"greedy"``: with the loop's two constraints (a contact cap, one offer per user) the
greedy plan is optimal, and the optimiser costs far more for the same plan — measured
at 100,000 users × 3 services, a 5,000-user budget: greedy 0.36 s, ``dm.offers.optimize``
70.8 s a month, identical (user, service) pairs and objective (2026-12-02, shared
machine); at 1,000,000 users it would take the loop past its 10-minute budget.
While the scores are not on one scale (``equal_shares``) the plan takes equal service
shares greedily.
"""
from __future__ import annotations

from typing import Literal

import numpy as np
import pandas as pd

__all__ = ["POLICIES", "WINDOWS", "CHANNEL_OF_PREFERENCE", "business_days", "contact_channel", "plan_month",
           "precision_scale"]

POLICIES: tuple[str, ...] = ("model", "random", "oracle")
WINDOWS: tuple[tuple[float, float], ...] = ((9.5, 12.0), (14.0, 17.0), (18.0, 21.0))
"""J3's send windows (hours)."""
CHANNEL_OF_PREFERENCE: dict[str, str] = {"wap": "wap_push", "ivr": "ivr", "hotline": "outbound"}
"""users.preferred_channel -> contact channel (others: SMS)."""


def contact_channel(preferred: pd.Series, channels: tuple[str, ...]) -> np.ndarray:
    """The channel each user is contacted on: :data:`CHANNEL_OF_PREFERENCE` of the user's
    preferred channel when the plan uses it, ``channels[0]`` otherwise."""
    codes, uniques = pd.factorize(preferred.astype(object), use_na_sentinel=True)
    # one look-up per distinct preference, not per user; missing preferences (-1) -> channels[0]
    of = np.array([CHANNEL_OF_PREFERENCE.get(u, channels[0]) for u in uniques] + [channels[0]], dtype=object)
    of = np.where(np.isin(of, channels), of, channels[0])
    return of[codes] if len(codes) else np.array([], dtype=object)


def business_days(month: str, *, first: int = 1, last: int = 28) -> np.ndarray:
    """The weekdays (Monday–Friday) of ``month`` between days ``first`` and ``last``."""
    p = pd.Period(month, "M")
    days = pd.date_range(p.start_time, periods=p.days_in_month, freq="D")
    keep = (days.dayofweek < 5) & (days.day >= first) & (days.day <= last)
    return days[keep].day.to_numpy()


def _best_service(scores: np.ndarray, eligible: np.ndarray, tie: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    s = np.where(eligible, scores, -np.inf)
    best = np.argmax(s + 1e-12 * tie[:, None], axis=1)
    return best, s[np.arange(len(s)), best]


def plan_month(scores: pd.DataFrame, *, eligible: pd.DataFrame, budget: int, month: str,
               rng: np.random.Generator, preferred: pd.Series, channels: tuple[str, ...],
               control_share: float = 0.1, explore: float = 0.0,
               windows: tuple[tuple[float, float], ...] = WINDOWS,
               planner: Literal["greedy", "offers"] = "greedy", equal_shares: bool = False) -> pd.DataFrame:
    """The month's plan from per-(user, service) scores.

    Parameters
    ----------
    scores : DataFrame
        Index user_id, one column per offered service; higher = contact first.
    eligible : DataFrame of bool
        Same shape: may this user be offered this service this month.
    budget : int
        Users chosen (target + control).
    month : str
    rng : Generator
        Draws of the exploration slice, the control group, days and windows.
    preferred : Series
        users.preferred_channel on user_id.
    channels : tuple of str
        The plan's contact channels (the first one is the default).
    control_share, explore : float
    windows : send windows in hours.
    planner : {"greedy", "offers"}
    equal_shares : bool, default False
        Give each service an equal share of the chosen users (best scores first within each
        service) instead of comparing scores across services: for scores that are not on one
        scale (models of who holds a service, before any response calibrated them).

    Returns
    -------
    DataFrame
        ``user_id, service, channel, group, day, window_start, window_end, score, rank``
        (rank 1 = best; exploration rows have ``explore = True``), ``weight`` (the inverse
        of the row's inclusion probability, up to a constant: 1 for the top, the eligible
        users over the slice's size for an exploration row).
    """
    users = scores.index.to_numpy()
    services = list(scores.columns)
    S = scores.to_numpy(dtype=float)
    E = eligible.reindex(index=scores.index, columns=services).fillna(False).to_numpy(dtype=bool)
    tie = rng.random(len(users))
    best, value = _best_service(S, E, tie)
    ok = np.isfinite(value)
    # the exploration slice first: a uniform draw from every eligible user (the population
    # the model ranks, top included), each with one of their eligible services at random
    n_explore = int(round(explore * budget))
    ex = pool = np.zeros(0, dtype=np.int64)
    if n_explore:
        pool = np.flatnonzero(E.any(axis=1))
        ex = np.sort(rng.choice(pool, size=min(n_explore, len(pool)), replace=False)) if len(pool) else pool
        ok = ok.copy()
        ok[ex] = False
        E_top = E.copy()
        E_top[ex] = False
    else:
        E_top = E
    n_top = min(int(ok.sum()), budget - len(ex))
    if equal_shares:
        chosen, picked = _equal_shares(S, E_top, tie, n_top)
        best = best.copy()
        best[chosen] = picked
    elif planner == "offers":
        chosen, picked = _offers_choice(users, services, S, E_top, n_top)
        best = best.copy()
        best[chosen] = picked
    else:
        cand = np.flatnonzero(ok)
        order = cand[np.lexsort((-tie[cand], -value[cand]))]
        chosen = order[:n_top]
    picked_service = best[chosen]
    is_explore = np.zeros(len(chosen), dtype=bool)
    if len(ex):
        r = rng.random((len(ex), len(services)))
        ex_service = np.argmax(np.where(E[ex], r, -1.0), axis=1)
        chosen = np.concatenate([chosen, ex])
        picked_service = np.concatenate([picked_service, ex_service])
        is_explore = np.concatenate([is_explore, np.ones(len(ex), dtype=bool)])
    k = len(chosen)
    uid = users[chosen]
    control = rng.random(k) < control_share
    days = business_days(month)
    slot = rng.permutation(k)
    ch = contact_channel(preferred.reindex(uid), channels)
    w = np.asarray(windows, dtype=float)
    plan = pd.DataFrame({
        "user_id": uid.astype(np.int64),
        "service": np.asarray(services, dtype=object)[picked_service] if k else np.zeros(0, dtype=object),
        "channel": ch,
        "group": np.where(control, "control", "target"),
        "day": days[slot % len(days)].astype(np.int16),
        "window_start": w[slot % len(w), 0] if k else np.zeros(0),
        "window_end": w[slot % len(w), 1] if k else np.zeros(0),
        "score": S[chosen, picked_service] if k else np.zeros(0),
        "rank": np.arange(1, k + 1),
        "explore": is_explore,
        # inverse inclusion probability: a slice row stands for len(pool) / len(ex) eligible users
        "weight": np.where(is_explore, len(pool) / max(len(ex), 1) if len(ex) else 1.0, 1.0),
    })
    return plan


def _equal_shares(S, E, tie, n_top):
    """Round-robin over the services, each taking its best remaining eligible user."""
    n_s = S.shape[1]
    lists = []
    for j in range(n_s):
        cand = np.flatnonzero(E[:, j] & np.isfinite(S[:, j]))
        lists.append(cand[np.lexsort((-tie[cand], -S[cand, j]))])
    taken = np.zeros(len(S), dtype=bool)
    pos = [0] * n_s
    chosen, picked = [], []
    while len(chosen) < n_top and any(pos[j] < len(lists[j]) for j in range(n_s)):
        for j in range(n_s):
            lst = lists[j]
            while pos[j] < len(lst) and taken[lst[pos[j]]]:
                pos[j] += 1
            if pos[j] < len(lst) and len(chosen) < n_top:
                u = lst[pos[j]]
                taken[u] = True
                chosen.append(u)
                picked.append(j)
    return np.asarray(chosen, dtype=np.int64), np.asarray(picked, dtype=np.int64)


def _offers_choice(users, services, S, E, n_top):
    """The top choice through ``dm.offers.optimize``: one activity per service, a cap of
    ``n_top`` contacts and one offer per user, on the ``n_top * len(services)`` best
    (user, service) pairs (they hold every pair an optimal plan can use)."""
    import dmkit as dm

    rows = np.argwhere(E & np.isfinite(S))
    val = S[rows[:, 0], rows[:, 1]]
    k = min(len(val), n_top * len(services))
    if k < len(val):
        keep = np.argpartition(-val, k - 1)[:k]
        rows, val = rows[keep], val[keep]
    cand = pd.DataFrame({"user_id": users[rows[:, 0]], "activity_id": rows[:, 1], "value": val, "p_response": val})
    acts = pd.DataFrame({"activity_id": np.arange(len(services)), "day": 1, "channel": "sms",
                         "services": list(services), "cost": 0.0})
    cons = pd.DataFrame([{"kind": "max_contacts", "start": 1, "end": 1, "channels": None, "services": None,
                          "bound": n_top},
                         {"kind": "max_contacts_per_user", "start": 1, "end": 1, "channels": None, "services": None,
                          "bound": 1}])
    plan = dm.offers.optimize(cand, activities=acts, constraints=cons, conflicts=None, method="auto", seed=0)
    a = plan.assignments.sort_values(["value", "user_id"], ascending=[False, True], kind="stable")
    pos = pd.Series(np.arange(len(users)), index=users)
    return pos.reindex(a["user_id"].to_numpy()).to_numpy(), a["activity_id"].to_numpy(dtype=np.int64)


def precision_scale(value: np.ndarray, expected: np.ndarray, true: np.ndarray | None, *,
                    shares: tuple[float, ...] = (0.01, 0.02, 0.05, 0.1, 0.2, 0.3, 0.5, 1.0)) -> pd.DataFrame:
    """J1's precision-versus-scale trade-off of one month's ranking.

    Parameters
    ----------
    value : the ranking score of each eligible user's best service.
    expected : the model's calibrated take-up probability of that offer.
    true : the planted probability of that offer (simulator), or None.

    Returns
    -------
    DataFrame
        ``share`` (top share of eligible users), ``n_targets``, ``expected_take_up`` (mean
        model probability in the list), ``true_take_up`` (mean planted probability, NaN
        without a simulator).
    """
    order = np.argsort(-value, kind="stable")
    e = np.cumsum(expected[order])
    t = np.cumsum(true[order]) if true is not None else None
    rows = []
    for sh in shares:
        k = max(1, int(round(sh * len(order))))
        if len(order) == 0:
            break
        rows.append({"share": sh, "n_targets": k, "expected_take_up": e[k - 1] / k,
                     "true_take_up": t[k - 1] / k if t is not None else np.nan})
    return pd.DataFrame(rows, columns=["share", "n_targets", "expected_take_up", "true_take_up"])
