"""Case V's viral club (病毒式传播平台) run over months on a simulated province.

Seed users are engaged with a free month of the forward-and-win products (转转赢: SMS, or MMS
when the handset shows MMS); after it each stays and pays with probability ``P_KEEP`` of
their SMS × spend cell, then month by month with :data:`P_STAY`. Every month the platform
pushes ``items_per_month`` seed items (half SMS, half MMS, each with an appeal ~ lognormal,
mean 1) to the members. A member forwards an item with probability ``P_FORWARD[sms row] ×
appeal``; a forward goes to ``1 + Poisson(FANOUT)`` contacts drawn from the sender's
``edges`` (with replacement, so sometimes fewer distinct ones). A contact reached for the
first time forwards it on with the same probability (× :data:`NONMEMBER_FORWARD` for a
non-member), level after level, until nobody new forwards. A non-member reached by ``s``
distinct senders in a month joins the next month with probability ``1 - (1 - P_JOIN)^s``,
credited to the first sender (``invite_join`` plus ``friend_sms`` / ``friend_mms``, and
``friend_crbt`` / ``friend_fetion`` when the friend also opens CRBT or joins Fetion, each with
probability 0.1).

Planted truth (``ViralData.truth``): the keep, forward and join probabilities; per sender
cell, the expected number of secondary forwarders per forwarder (the reproduction number,
summed over each forwarder's newly reached contacts' forwarding probabilities).
"""
from __future__ import annotations

import numbers
from dataclasses import dataclass, field

import numpy as np
import pandas as pd

from dmkit.errors import parameter_error

__all__ = ["simulate_club", "ViralData", "P_KEEP", "P_FORWARD", "P_STAY", "P_JOIN"]

SMS_ROWS = ("low", "normal", "high")
P_KEEP = np.array([[0.10, 0.15, 0.15],
                   [0.30, 0.45, 0.30],
                   [0.40, 0.50, 0.40]])
"""Probability that an engaged seed stays after the free month, by SMS row × spend column of
case V's matrix (rows SMS 0–50, 50–200, 200+; columns spend 0–50, 50–150, 150+)."""
P_STAY = 0.9
P_FORWARD = np.array([0.02, 0.06, 0.12])
"""Probability of forwarding a pushed or received item of appeal 1, by SMS row."""
NONMEMBER_FORWARD = 0.5
FANOUT = 1.5
P_JOIN = 0.04
P_FRIEND_CRBT, P_FRIEND_FETION = 0.10, 0.10
"""Probability that a friend who joins through a forward also opens CRBT / joins Fetion (the
inviter earns friend_crbt +15 / friend_fetion +10)."""
_HOUR = np.int64(3_600 * 10**9)


@dataclass(frozen=True)
class ViralData:
    """What :func:`simulate_club` returns.

    Attributes
    ----------
    members : DataFrame
        user_id, month, product (sms_zzy / mms_zzy), fee (0 in the free month), source
        ("seed" or "forward").
    activity : DataFrame
        user_id, month, action, count (the reward table's actions but retention).
    forwards : DataFrame
        user_id (sender), peer_id, ts, content_id, kind (sms / mms).
    contents : DataFrame
        content_id, month, kind, appeal.
    cells : Series
        The SMS × spend cell name of every user (index user_id).
    truth : dict
        p_keep (DataFrame by cell), p_forward, p_stay, p_join, r_expected (DataFrame: cell,
        forwarders, expected_secondary, r), months, seeds.
    """

    members: pd.DataFrame
    activity: pd.DataFrame
    forwards: pd.DataFrame
    contents: pd.DataFrame
    cells: pd.Series
    truth: dict = field(default_factory=dict)


def simulate_club(pdata, *, seeds, n_months: int = 6, items_per_month: int = 20, seed: int = 0) -> ViralData:
    """Run the viral club for ``n_months`` months from the data month, starting from ``seeds``.

    Parameters
    ----------
    pdata : ProvinceData
        A simulated province with its truth (the matrix cells) and ``edges``.
    seeds : array-like of int
        User ids engaged in the first month.
    n_months : int, default 6
    items_per_month : int, default 20
    seed : int, default 0

    Returns
    -------
    ViralData

    Raises
    ------
    ParameterError
        No seeds, unknown seed ids, a parameter out of range, no truth in ``pdata``.
    """
    for name, v, low in (("n_months", n_months, 1), ("items_per_month", items_per_month, 1), ("seed", seed, 0)):
        if isinstance(v, bool) or not isinstance(v, numbers.Integral) or v < low:
            raise parameter_error(name, expected=f"an integer >= {low}", found=v)
    ut = getattr(getattr(pdata, "truth", None), "user_truth", None)
    if ut is None or not len(ut):
        raise parameter_error("pdata", expected="a simulated province with its truth (matrix cells)", found=None)
    rng = np.random.default_rng(np.random.SeedSequence([int(seed), 5]))
    n = len(pdata.users)
    seeds = np.unique(np.asarray(seeds, dtype=np.int64))
    if not len(seeds) or seeds.min() < 0 or seeds.max() >= n:
        raise parameter_error("seeds", expected=f"user ids in [0, {n})", found=seeds[:5].tolist())
    cell_code = ut["matrix_cell"].cat.codes.to_numpy()
    row, col = cell_code // 3, cell_code % 3
    texts = np.append(np.asarray(ut["matrix_cell"].cat.categories.astype(str), dtype=object), "nan")
    cells = pd.Series(texts[cell_code], index=pd.Index(ut["user_id"], name="user_id"))  # astype(str), one text a cell
    mms_ok = pdata.users["term_mms"].to_numpy(dtype=bool)
    month0 = str(pdata.meta.get("month"))
    months = [str(np.datetime64(month0, "M") + k) for k in range(n_months)]
    # edges as CSR (only the two columns read; rows already in user order are not sorted again)
    e = pdata.read("edges", columns=["user_id", "peer_id"])
    src = e["user_id"].to_numpy()
    if len(src) > 1 and not (src[1:] >= src[:-1]).all():
        peers = e["peer_id"].to_numpy()[np.argsort(src, kind="stable")]
    else:
        peers = e["peer_id"].to_numpy()  # the stable order of sorted rows: as they are
    deg = np.bincount(src, minlength=n)
    off = np.concatenate([[0], np.cumsum(deg)])
    del e, src
    acts_of = _month_activity(pdata, month0, n)  # that month's sms_p2p, mms, crbt_changes by user id
    p_fwd_user = P_FORWARD[row]

    # membership state: -1 none, else product 0 sms / 1 mms; paying flag; source
    product = np.full(n, -1)
    source = np.zeros(n, dtype=np.int8)  # 0 none, 1 seed, 2 forward (SOURCES)
    product[seeds] = np.where(mms_ok[seeds], 1, 0)
    source[seeds] = 1
    free = np.zeros(n, bool)
    free[seeds] = True
    mem_rows, act_rows, content_rows = [], [], []
    fwd_rows: list[tuple[np.ndarray, np.ndarray, np.ndarray, int]] = []  # (sender, peer, ts, content) per level
    fwd_cols: list[tuple[np.ndarray, np.ndarray, np.ndarray]] = []  # (sender, ts, kind) of every forward so far
    r_sum = np.zeros(9)
    r_cnt = np.zeros(9)
    cid = 0
    pending_join = None
    for mi, m in enumerate(months):
        if mi > 0:   # keep / stay, then joins from last month's forwards
            active = np.flatnonzero(product >= 0)
            p = np.where(free[active], P_KEEP[row[active], col[active]], P_STAY)
            leave = active[rng.random(len(active)) >= p]
            product[leave] = -1
            free[:] = False
            if pending_join is not None:
                who, prod, inviter = pending_join
                ok = product[who] < 0
                who, prod, inviter = who[ok], prod[ok], inviter[ok]
                product[who] = prod
                source[who] = 2
                act_rows.append(pd.DataFrame({"user_id": inviter, "month": m, "action": "invite_join", "count": 1}))
                act_rows.append(pd.DataFrame({"user_id": inviter, "month": m,
                                              "action": np.where(prod == 1, "friend_mms", "friend_sms"), "count": 1}))
                for action, p_take in (("friend_crbt", P_FRIEND_CRBT), ("friend_fetion", P_FRIEND_FETION)):
                    took = inviter[rng.random(len(inviter)) < p_take]
                    act_rows.append(pd.DataFrame({"user_id": took, "month": m, "action": action, "count": 1}))
        mem = np.flatnonzero(product >= 0)
        if not len(mem):
            break
        mem_rows.append(pd.DataFrame({"user_id": mem, "month": m,
                                      "product": np.where(product[mem] == 1, "mms_zzy", "sms_zzy"),
                                      "fee": np.where(free[mem], 0, np.where(product[mem] == 1, 3, 2)),
                                      "source": SOURCES[source[mem]]}))
        is_member = product >= 0
        start = np.datetime64(m, "M").astype("datetime64[ns]").astype(np.int64)
        reached: list[tuple[np.ndarray, np.ndarray, int]] = []  # (non-member, sender, kind) as reached
        for _ in range(items_per_month):
            kind = "sms" if cid % 2 == 0 else "mms"
            appeal = float(rng.lognormal(-0.32, 0.8))
            day = int(rng.integers(0, 27))
            content_rows.append((cid, m, kind, appeal))
            holds = np.zeros(n, bool)
            holds[mem] = True
            senders = mem[rng.random(len(mem)) < np.minimum(1.0, p_fwd_user[mem] * appeal)]
            level = 0
            while len(senders):
                k = 1 + rng.poisson(FANOUT, len(senders))
                k = np.where(deg[senders] > 0, k, 0)
                s = np.repeat(senders, k)
                pick = off[s] + (rng.random(len(s)) * deg[s]).astype(np.int64)
                r = peers[pick]
                ts = start + day * 24 * _HOUR + 2 * level * _HOUR + (rng.random(len(s)) * _HOUR).astype(np.int64)
                ts -= ts % 1000
                fwd_rows.append((s, r, ts, cid))
                fwd_cols.append((s, ts, np.full(len(s), kind == "mms")))
                o = np.argsort(ts, kind="stable")
                s, r = s[o], r[o]
                new = ~holds[r]
                s_new, r_new = s[new], r[new]
                r_new, first = np.unique(r_new, return_index=True)
                s_new = s_new[first]
                holds[r_new] = True
                pf = np.minimum(1.0, p_fwd_user[r_new] * appeal * np.where(is_member[r_new], 1.0, NONMEMBER_FORWARD))
                np.add.at(r_sum, cell_code[s_new], pf)
                r_cnt += np.bincount(cell_code[senders], minlength=9)
                out = ~is_member[r_new]
                if out.any():
                    reached.append((r_new[out], s_new[out], int(kind == "mms")))
                senders = r_new[rng.random(len(r_new)) < pf]
                level += 1
            cid += 1
        # joins next month
        if reached:
            who, inviter, kinds, n_snd = _first_reach(reached, n)
            kinds = np.where(mms_ok[who], kinds, 0)
            j = rng.random(len(who)) < 1 - (1 - P_JOIN) ** n_snd
            pending_join = (who[j], kinds[j], inviter[j])
        else:
            pending_join = None
        # activity of the month's members
        acts = {"send_sms": acts_of["sms_p2p"][mem], "send_mms": acts_of["mms"][mem],
                "crbt_change": acts_of["crbt_changes"][mem],
                "on_demand_sms": np.where(product[mem] == 0, rng.poisson(1.0, len(mem)), 0),
                "on_demand_mms": np.where(product[mem] == 1, rng.poisson(1.0, len(mem)), 0),
                "upload_accepted": np.where(product[mem] == 0, rng.random(len(mem)) < 0.05, 0).astype(int),
                "fetion_friend": rng.poisson(0.2, len(mem))}
        for a, c in acts.items():
            act_rows.append(pd.DataFrame({"user_id": mem, "month": m, "action": a, "count": np.asarray(c, np.int64)}))
        if fwd_cols:  # forwards sent by this month's members since its start, per member and kind
            snd, ts_all, mms_all = (np.concatenate(c) for c in zip(*fwd_cols, strict=True))
            fwd_cols = [(snd, ts_all, mms_all)]
            sel = (ts_all >= start) & is_member[snd]
            key, cnt = np.unique(snd[sel].astype(np.int64) * 2 + mms_all[sel], return_counts=True)
            act_rows.append(pd.DataFrame({"user_id": key // 2, "month": m,
                                          "action": np.where(key % 2 == 1, "forward_seed_mms", "forward_seed_sms"),
                                          "count": cnt}))
    members = pd.concat(mem_rows, ignore_index=True)
    activity = pd.concat(act_rows, ignore_index=True)
    activity = activity[activity["count"] > 0].groupby(["user_id", "month", "action"], as_index=False)["count"].sum()
    if fwd_rows:  # one frame at the end, the columns as concatenated arrays
        sizes = [len(x[0]) for x in fwd_rows]
        cids = np.repeat(np.array([x[3] for x in fwd_rows], dtype=np.int64), sizes)
        forwards = pd.DataFrame({"user_id": np.concatenate([x[0] for x in fwd_rows]),
                                 "peer_id": np.concatenate([x[1] for x in fwd_rows]),
                                 "ts": np.concatenate([x[2] for x in fwd_rows]).astype("datetime64[ns]"),
                                 "content_id": cids,
                                 "kind": np.array(["sms", "mms"], dtype=object)[cids % 2]})
    else:
        forwards = pd.DataFrame(columns=["user_id", "peer_id", "ts", "content_id", "kind"])
        forwards["ts"] = forwards["ts"].astype("datetime64[ns]")
    contents = pd.DataFrame(content_rows, columns=["content_id", "month", "kind", "appeal"])
    names = list(ut["matrix_cell"].cat.categories)
    r_exp = pd.DataFrame({"cell": names, "forwarders": r_cnt.astype(int), "expected_secondary": r_sum})
    r_exp["r"] = r_exp["expected_secondary"] / r_exp["forwarders"].where(r_exp["forwarders"] > 0)
    p_keep = pd.DataFrame({"cell": names, "p_keep": P_KEEP.ravel()})
    truth = {"p_keep": p_keep, "p_forward": dict(zip(SMS_ROWS, P_FORWARD.tolist(), strict=True)), "p_stay": P_STAY,
             "p_join": P_JOIN, "nonmember_forward": NONMEMBER_FORWARD, "fanout": FANOUT, "r_expected": r_exp,
             "months": months, "seeds": seeds.tolist()}
    return ViralData(members=members, activity=activity, forwards=forwards, contents=contents, cells=cells,
                     truth=truth)


SOURCES = np.array(["", "seed", "forward"], dtype=object)
"""A member's ``source`` by code (0: not a member)."""


def _month_activity(pdata, month: str, n: int) -> dict[str, np.ndarray]:
    """The month's ``sms_p2p``, ``mms`` and ``crbt_changes`` of user ids ``0..n-1`` (in the
    table's dtypes; 0 for a user without usage that month): only those columns of that month read."""
    u = pdata.read("usage", months=month, columns=["user_id", "month", "sms_p2p", "mms", "crbt_changes"])
    uid = u["user_id"].to_numpy()
    ok = (uid >= 0) & (uid < n)
    out = {}
    for c in ("sms_p2p", "mms", "crbt_changes"):
        col = np.zeros(n, dtype=u[c].dtype)
        col[uid[ok]] = u[c].to_numpy()[ok]
        out[c] = col
    return out


def _first_reach(reached: list[tuple[np.ndarray, np.ndarray, int]], n: int):
    """Non-members reached in a month, in the order they were first reached: the user, the
    first sender reaching them (their inviter), the kind of that first item (1 mms, 0 sms)
    and the number of distinct senders reaching them."""
    user = np.concatenate([r[0] for r in reached]).astype(np.int64)
    sender = np.concatenate([r[1] for r in reached]).astype(np.int64)
    kind = np.concatenate([np.full(len(r[0]), r[2], dtype=np.int64) for r in reached])
    uniq, first = np.unique(user, return_index=True)
    order = np.argsort(first, kind="stable")
    who, first = uniq[order], first[order]
    pairs = np.unique(user * n + sender) // n  # one entry per distinct (user, sender), sorted by user
    n_snd = np.bincount(np.searchsorted(uniq, pairs), minlength=len(uniq))[order]
    return who, sender[first], kind[first], n_snd
