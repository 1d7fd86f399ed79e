"""Read, check and normalise the inputs of :func:`dmkit.offers.optimize` into a :class:`Problem`.

A :class:`Problem` holds the candidates as flat arrays sorted by user (int32 user and
activity codes, float64 value and response probability), the coupling constraints as
activity masks with a sense and a weight (contacts, cost or sales), the per-user caps as
activity masks, the activity conflict matrix and the within-user conflicting candidate
pairs. Every solver works on this, never on the frames.
"""
from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import pandas as pd

from dmkit._validation import check_frame, check_numeric
from dmkit.errors import parameter_error, schema_error

__all__ = ["KINDS", "Problem", "build_problem", "parse_codes"]

KINDS: tuple[str, ...] = ("min_contacts", "max_contacts", "budget", "min_sales", "max_sales",
                          "max_contacts_per_user")
"""Constraint kinds."""

#: weight of a candidate in a coupling row: 0 one contact, 1 the activity's cost, 2 p_response
_WEIGHT = {"min_contacts": 0, "max_contacts": 0, "budget": 1, "min_sales": 2, "max_sales": 2}
#: +1: sum <= bound; -1: sum >= bound
_SENSE = {"min_contacts": -1, "max_contacts": 1, "budget": 1, "min_sales": -1, "max_sales": 1}


def parse_codes(value: object, *, where: str) -> list[str] | None:
    """A filter of codes: a list, a ";"-joined string, or None / "ALL" / NaN for all (returns None).

    Codes are compared as strings, so ``3`` and ``"3"`` are the same code.
    """
    if value is None:
        return None
    if isinstance(value, float) and np.isnan(value):
        return None
    if isinstance(value, str):
        if value.strip().upper() in ("ALL", ""):
            return None
        return [s.strip() for s in value.split(";") if s.strip()]
    if isinstance(value, (int, np.integer)):
        return [str(value)]
    if isinstance(value, (list, tuple, set, np.ndarray, pd.Series)):
        out = [str(s).strip() for s in value]
        if any(s.upper() == "ALL" for s in out):
            return None
        return out
    raise parameter_error(where, expected='a list of codes, a ";"-joined string, or None / "ALL"',
                          found=value)


@dataclass(frozen=True)
class Problem:
    """The normalised offer problem (candidates sorted by user).

    Attributes
    ----------
    users : ndarray
        The distinct user ids, in code order (``u`` indexes it).
    u, a : ndarray of int32
        User and activity code of each candidate, sorted by (u, a).
    v, p : ndarray of float64
        Value and response probability of each candidate.
    starts : ndarray of int64
        ``starts[k]`` is the first candidate of user k; ``starts[-1] == n``.
    activities : DataFrame
        activity_id, day, channel, services (list of str), cost — in code order.
    cost, day : ndarray
        Per activity.
    rows : DataFrame
        Every constraint as given (kind, start, end, channels, services, bound), one row each.
    cmask : ndarray of bool, shape (K, A)
        Activities counted by each coupling constraint; ``csense`` (+1 <=, -1 >=), ``cweight``
        (0 contacts, 1 cost, 2 sales), ``cbound`` and ``crow`` (its row in ``rows``).
    umask : ndarray of bool, shape (Q, A)
        Activities counted by each per-user cap; ``ubound`` (int) and ``urow``.
    conflict : ndarray of bool, shape (A, A)
        Symmetric: the two activities may not go to the same user.
    pairs : ndarray of int64, shape (P, 2)
        Candidate pairs of one user whose activities conflict.
    priority : ndarray or None
        The candidates' optional ``priority`` column (1 = first), used by the greedy plan only.
    """

    users: np.ndarray
    u: np.ndarray
    a: np.ndarray
    v: np.ndarray
    p: np.ndarray
    starts: np.ndarray
    activities: pd.DataFrame
    cost: np.ndarray
    day: np.ndarray
    rows: pd.DataFrame
    cmask: np.ndarray
    csense: np.ndarray
    cweight: np.ndarray
    cbound: np.ndarray
    crow: np.ndarray
    umask: np.ndarray
    ubound: np.ndarray
    urow: np.ndarray
    conflict: np.ndarray
    pairs: np.ndarray
    priority: np.ndarray | None = None

    @property
    def n(self) -> int:
        """Number of candidates."""
        return len(self.u)

    @property
    def n_users(self) -> int:
        """Number of distinct users among the candidates."""
        return len(self.users)

    @property
    def K(self) -> int:
        """Number of coupling constraints."""
        return len(self.cbound)

    def coef(self, k: int, idx: np.ndarray | None = None) -> np.ndarray:
        """Coefficient of candidates ``idx`` (default all) in coupling constraint ``k`` (>= 0)."""
        a = self.a if idx is None else self.a[idx]
        w = self.cweight[k]
        base = self.cmask[k][a].astype(np.float64)
        if w == 1:
            base *= self.cost[a]
        elif w == 2:
            base *= self.p if idx is None else self.p[idx]
        return base

    def usage(self, x: np.ndarray) -> np.ndarray:
        """Left-hand side of every coupling constraint for the selection ``x`` (bool mask or indices)."""
        A = len(self.cost)
        ax = self.a[x]
        cnt = np.bincount(ax, minlength=A).astype(np.float64)
        sal = np.bincount(ax, weights=self.p[x], minlength=A)
        per = np.stack([cnt, cnt * self.cost, sal])      # (3, A)
        return (self.cmask * per[self.cweight]).sum(axis=1) if self.K else np.zeros(0)

    def per_user_counts(self, x: np.ndarray, q: int) -> np.ndarray:
        """Contacts of every user counted by per-user cap ``q`` under ``x``."""
        sel = x & self.umask[q][self.a]
        return np.bincount(self.u[sel], minlength=self.n_users)


def _services_list(value: object, where: str) -> list[str]:
    codes = parse_codes(value, where=where)
    if not codes:
        raise parameter_error(where, expected="the services an activity promotes (a list or \"a;b\")",
                              found=value)
    return codes


def _filter_mask(codes: list[str] | None, values: list) -> np.ndarray:
    """Activities whose (channel, or one of whose services) is among ``codes``."""
    if codes is None:
        return np.ones(len(values), dtype=bool)
    wanted = set(codes)
    return np.array([bool(wanted.intersection(v)) if isinstance(v, list) else v in wanted for v in values],
                    dtype=bool)


def _day_bound(value: object, default: float, where: str) -> float:
    if value is None or (isinstance(value, float) and np.isnan(value)):
        return default
    try:
        return float(value)
    except (TypeError, ValueError) as err:
        raise parameter_error(where, expected="a day number or None", found=value) from err


def build_problem(candidates: pd.DataFrame, activities: pd.DataFrame,
                  constraints: pd.DataFrame | None, conflicts: pd.DataFrame | None) -> Problem:
    """Check the four tables and build the :class:`Problem` (see :func:`dmkit.offers.optimize`).

    Raises
    ------
    SchemaError
        A missing column, a non-finite value, p_response outside [0, 1], a negative cost, a
        duplicate (user_id, activity_id) or activity_id, a candidate of an unknown activity.
    ParameterError
        A constraint of unknown kind, a bad filter, bound or lag — naming its row.
    """
    check_frame(candidates, table="candidates", columns=["user_id", "activity_id", "value", "p_response"])
    check_numeric(candidates, ["value", "p_response"], table="candidates")
    check_frame(activities, table="activities", columns=["activity_id", "day", "channel", "services", "cost"])
    check_numeric(activities, ["day", "cost"], table="activities")
    act = activities.reset_index(drop=True)
    if act["activity_id"].duplicated().any():
        dup = act.loc[act["activity_id"].duplicated(), "activity_id"].tolist()
        raise schema_error(table="activities", column="activity_id", expected="one row per activity",
                           found=f"{len(dup)} duplicate ids", rows=dup)
    cost = act["cost"].to_numpy(dtype=np.float64)
    if (cost < 0).any():
        raise schema_error(table="activities", column="cost", expected="costs >= 0",
                           found=f"{int((cost < 0).sum())} negative", rows=act.loc[cost < 0, "activity_id"].tolist())
    dayf = act["day"].to_numpy(dtype=np.float64)
    if (dayf != np.round(dayf)).any():
        raise schema_error(table="activities", column="day", expected="whole days", found="fractional days")
    day = dayf.astype(np.int64)
    services = [_services_list(s, f"activities.services (activity {aid!r})")
                for aid, s in zip(act["activity_id"], act["services"], strict=True)]
    channel = [str(c) for c in act["channel"]]
    act = pd.DataFrame({"activity_id": act["activity_id"].to_numpy(), "day": day, "channel": channel,
                        "services": services, "cost": cost})

    aidx = pd.Index(act["activity_id"]).get_indexer(candidates["activity_id"])
    if (aidx < 0).any():
        bad = candidates.loc[aidx < 0, "activity_id"].unique().tolist()
        raise schema_error(table="candidates", column="activity_id", expected="activities of the activities table",
                           found=f"{int((aidx < 0).sum())} rows of unknown activities", rows=bad)
    p = candidates["p_response"].to_numpy(dtype=np.float64)
    if ((p < 0) | (p > 1)).any():
        raise schema_error(table="candidates", column="p_response", expected="probabilities in [0, 1]",
                           found=f"{int(((p < 0) | (p > 1)).sum())} outside")
    v = candidates["value"].to_numpy(dtype=np.float64)
    prio = None
    if "priority" in candidates.columns:
        check_numeric(candidates, ["priority"], table="candidates")
        prio = candidates["priority"].to_numpy(dtype=np.float64)
    ucodes, users = pd.factorize(candidates["user_id"], sort=True)
    u = ucodes.astype(np.int32)
    a = aidx.astype(np.int32)
    if len(u) > 1 and not (np.all(u[1:] > u[:-1]) or _sorted_pairs(u, a)):
        order = np.lexsort((a, u))
        u, a, v, p = u[order], a[order], v[order], p[order]
        prio = None if prio is None else prio[order]
    same = (u[1:] == u[:-1]) & (a[1:] == a[:-1])
    if same.any():
        i = int(np.flatnonzero(same)[0])
        raise schema_error(table="candidates", column="activity_id",
                           expected="one row per (user_id, activity_id)",
                           found=f"{int(same.sum())} duplicates",
                           rows=[{"user_id": users[u[i]], "activity_id": act["activity_id"].iloc[a[i]]}])
    starts = np.flatnonzero(np.r_[True, u[1:] != u[:-1]]).astype(np.int64)
    starts = np.r_[starts, len(u)]

    rows, cm, cs, cw, cb, cr, um, ub, ur = _constraints(constraints, act)
    conflict = _conflicts(conflicts, act)
    pairs = _pairs(u, a, conflict)
    return Problem(users=np.asarray(users), u=u, a=a, v=v, p=p, starts=starts, activities=act, cost=cost,
                   day=day, rows=rows, cmask=cm, csense=cs, cweight=cw, cbound=cb, crow=cr, umask=um,
                   ubound=ub, urow=ur, conflict=conflict, pairs=pairs,
                   priority=prio)


def _sorted_pairs(u: np.ndarray, a: np.ndarray) -> bool:
    du = np.diff(u)
    return bool(np.all(du >= 0) and np.all((du > 0) | (np.diff(a) > 0)))


def _nonnegative(value: object, where: str, expected: str) -> float:
    try:
        out = float(value)
    except (TypeError, ValueError) as err:
        raise parameter_error(where, expected=expected, found=value) from err
    if not np.isfinite(out) or out < 0:
        raise parameter_error(where, expected=expected, found=value)
    return out


def _constraints(constraints: pd.DataFrame | None, act: pd.DataFrame):
    cols = ["kind", "start", "end", "channels", "services", "bound"]
    A = len(act)
    if constraints is None or len(constraints) == 0:
        rows = pd.DataFrame({c: pd.Series(dtype=object) for c in cols})
    else:
        check_frame(constraints, table="constraints", columns=["kind", "bound"])
        rows = constraints.reset_index(drop=True).copy()
        for c in ("start", "end", "channels", "services"):
            if c not in rows.columns:
                rows[c] = None
        rows = rows[cols]
    cm, cs, cw, cb, cr, um, ub, ur = [], [], [], [], [], [], [], []
    for i, r in rows.iterrows():
        where = f"constraints[{i}]"
        kind = r["kind"]
        if kind not in KINDS:
            raise parameter_error(f"{where}.kind", expected=f"one of {list(KINDS)}", found=kind)
        bound = _nonnegative(r["bound"], f"{where}.bound", "a finite number >= 0")
        lo = _day_bound(r["start"], -np.inf, f"{where}.start")
        hi = _day_bound(r["end"], np.inf, f"{where}.end")
        ch = parse_codes(r["channels"], where=f"{where}.channels")
        sv = parse_codes(r["services"], where=f"{where}.services")
        mask = ((act["day"].to_numpy() >= lo) & (act["day"].to_numpy() <= hi)
                & _filter_mask(ch, act["channel"].tolist()) & _filter_mask(sv, act["services"].tolist()))
        if kind == "max_contacts_per_user":
            if bound != np.floor(bound):
                raise parameter_error(f"{where}.bound", expected="a whole number of contacts per user",
                                      found=r["bound"])
            um.append(mask), ub.append(int(bound)), ur.append(i)
        else:
            cm.append(mask), cs.append(_SENSE[kind]), cw.append(_WEIGHT[kind]), cb.append(bound), cr.append(i)
    return (rows,
            np.array(cm, dtype=bool).reshape(len(cm), A), np.array(cs, dtype=np.int8),
            np.array(cw, dtype=np.int8), np.array(cb, dtype=np.float64), np.array(cr, dtype=np.int64),
            np.array(um, dtype=bool).reshape(len(um), A), np.array(ub, dtype=np.int64),
            np.array(ur, dtype=np.int64))


def _conflicts(conflicts: pd.DataFrame | None, act: pd.DataFrame) -> np.ndarray:
    A = len(act)
    C = np.zeros((A, A), dtype=bool)
    if conflicts is None or len(conflicts) == 0:
        return C
    check_frame(conflicts, table="conflicts", columns=["channel_1", "channel_2", "lag"])
    day = act["day"].to_numpy()
    chans, servs = act["channel"].tolist(), act["services"].tolist()
    for i, r in conflicts.reset_index(drop=True).iterrows():
        where = f"conflicts[{i}]"
        lag = _nonnegative(r["lag"], f"{where}.lag", "a number of days >= 0")
        m1 = (_filter_mask(parse_codes(r["channel_1"], where=f"{where}.channel_1"), chans)
              & _filter_mask(parse_codes(r.get("services_1"), where=f"{where}.services_1"), servs))
        m2 = (_filter_mask(parse_codes(r["channel_2"], where=f"{where}.channel_2"), chans)
              & _filter_mask(parse_codes(r.get("services_2"), where=f"{where}.services_2"), servs))
        d = day[None, :] - day[:, None]          # d[i, j] = day_j - day_i
        hit = m1[:, None] & m2[None, :] & (d >= 0) & (d < lag)
        C |= hit
    C |= C.T
    np.fill_diagonal(C, False)
    return C


def _pairs(u: np.ndarray, a: np.ndarray, C: np.ndarray) -> np.ndarray:
    """Within-user candidate pairs (i < j) whose activities conflict."""
    if not C.any() or len(u) < 2:
        return np.zeros((0, 2), dtype=np.int64)
    out = []
    n = len(u)
    d = 1
    while d < n:
        same = u[d:] == u[:-d]
        if not same.any():
            break
        i = np.flatnonzero(same)
        hit = C[a[i], a[i + d]]
        if hit.any():
            i = i[hit]
            out.append(np.stack([i, i + d], axis=1))
        d += 1
    return np.concatenate(out).astype(np.int64) if out else np.zeros((0, 2), dtype=np.int64)
