"""Vectorised moves on a selection of candidates: add in priority order, drop to meet caps, meet minimums.

A selection is a bool array over the candidates of a :class:`~dmkit.offers.problem.Problem`.
Every move keeps the per-user caps and the conflicts (a user gains at most one contact per
round, and only one that neither breaks a cap nor conflicts with what it already has) and
the upper coupling constraints (a round accepts a contact only while every cap it counts in
still has room, in priority order). Rounds repeat until nothing more can be added, so the
result is what a one-at-a-time greedy would reach, computed in numpy over all users at once.
"""
from __future__ import annotations

import numpy as np

from dmkit.offers.problem import Problem

__all__ = ["add_rounds", "blocked", "drop_for_caps", "fill", "meet_minimums", "ranking", "shortfall", "tolerance"]


def tolerance(bound: np.ndarray | float) -> np.ndarray:
    """Feasibility tolerance of a constraint with this bound (1e-7 relative, 1e-9 absolute)."""
    return 1e-7 * np.maximum(1.0, np.abs(bound)) + 1e-9


def ranking(*keys: np.ndarray) -> np.ndarray:
    """Rank (0 first) of candidates sorted by ``keys`` (last key primary, ascending, as np.lexsort)."""
    order = np.lexsort(keys)
    rank = np.empty(len(order), dtype=np.int64)
    rank[order] = np.arange(len(order))
    return rank


def blocked(prob: Problem, x: np.ndarray, cand: np.ndarray | None = None) -> np.ndarray:
    """Which of ``cand`` (default all) cannot join ``x``: a per-user cap is full or a conflict with a chosen one."""
    cand = np.arange(prob.n) if cand is None else cand
    out = np.zeros(len(cand), dtype=bool)
    sel = np.flatnonzero(x)
    uc, ac = prob.u[cand], prob.a[cand]
    for q in range(len(prob.ubound)):
        s = sel[prob.umask[q][prob.a[sel]]]
        cnt = np.bincount(prob.u[s], minlength=prob.n_users)
        out |= prob.umask[q][ac] & (cnt[uc] >= prob.ubound[q])
    if len(prob.pairs):
        i, j = prob.pairs[:, 0], prob.pairs[:, 1]
        bad = np.zeros(prob.n, dtype=bool)
        bad[i[x[j]]] = True
        bad[j[x[i]]] = True
        out |= bad[cand]
    return out


def _full(prob: Problem, lhs: np.ndarray, caps: np.ndarray, cand: np.ndarray) -> np.ndarray:
    """Which of ``cand`` no longer fit the room left in some upper coupling row."""
    A = len(prob.cost)
    dead = np.zeros(A, dtype=bool)
    thr = np.full(A, np.inf)
    for k in caps:
        room = prob.cbound[k] - lhs[k] + tolerance(prob.cbound[k])
        m = prob.cmask[k]
        if prob.cweight[k] == 0:
            if room < 1:
                dead |= m
        elif prob.cweight[k] == 1:
            dead |= m & (prob.cost > room)
        else:
            thr = np.where(m, np.minimum(thr, room), thr)
    ac = prob.a[cand]
    return dead[ac] | (prob.p[cand] > thr[ac])


def add_rounds(prob: Problem, x: np.ndarray, lhs: np.ndarray, eligible: np.ndarray, key: np.ndarray, *,
               need: tuple[int, float] | None = None, coupling: bool = True,
               max_rounds: int = 500) -> tuple[np.ndarray, np.ndarray]:
    """Add eligible candidates in ``key`` order (lowest first) while every constraint allows.

    Parameters
    ----------
    x, lhs : ndarray
        Current selection and its coupling left-hand sides (updated copies are returned).
    eligible : ndarray of bool
        Candidates that may be added.
    key : ndarray
        Priority of each candidate, lowest first (ties: the candidate order).
    need : (k, amount), optional
        Stop once coupling constraint ``k`` has gained ``amount`` (meeting a minimum).
    coupling : bool
        Respect the upper coupling constraints (False: only per-user caps and conflicts).
    """
    x = x.copy()
    lhs = lhs.copy()
    caps = np.flatnonzero(prob.csense > 0) if coupling else np.zeros(0, dtype=np.int64)
    cand = np.flatnonzero(eligible & ~x)             # sorted by candidate, so by user
    gained = 0.0
    for _ in range(max_rounds):
        if len(cand) and len(caps):
            cand = cand[~_full(prob, lhs, caps, cand)]
        if len(cand):
            cand = cand[~blocked(prob, x, cand)]
        if not len(cand):
            break
        uc, kc = prob.u[cand], key[cand]
        seg = np.flatnonzero(np.r_[True, uc[1:] != uc[:-1]])
        lens = np.diff(np.r_[seg, len(cand)])
        eq = kc == np.repeat(np.minimum.reduceat(kc, seg), lens)
        cs = np.cumsum(eq)
        first = eq & ((cs - np.repeat(cs[seg] - eq[seg], lens)) == 1)   # one per user: its best
        idx = cand[first]
        idx = idx[np.argsort(key[idx], kind="stable")]
        ok = np.ones(len(idx), dtype=bool)
        slack = prob.cbound - lhs
        for k in caps:
            c = prob.coef(k, idx)
            room = slack[k] + tolerance(prob.cbound[k])
            if c.sum() <= room:
                continue
            ok &= np.cumsum(c) <= room
        if need is not None:
            k, amount = need
            c = prob.coef(k, idx)
            cs = np.cumsum(c * ok)
            ok &= (cs - c) < amount - gained
        acc = idx[ok]
        if len(acc):
            x[acc] = True
            add = prob.usage(acc)
            lhs += add
            if need is not None:
                gained += add[need[0]]
            cand = cand[~x[cand]]
        if need is not None and gained >= need[1] - tolerance(need[1]):
            break
        if not len(acc) and not len(caps):
            break
    return x, lhs


def drop_for_caps(prob: Problem, x: np.ndarray, lhs: np.ndarray, score: np.ndarray
                  ) -> tuple[np.ndarray, np.ndarray]:
    """Drop chosen candidates, lowest ``score`` per unit first, until every upper coupling row holds."""
    x = x.copy()
    lhs = lhs.copy()
    for k in np.flatnonzero(prob.csense > 0):
        excess = lhs[k] - prob.cbound[k]
        if excess <= tolerance(prob.cbound[k]):
            continue
        idx = np.flatnonzero(x & prob.cmask[k][prob.a])
        c = prob.coef(k, idx)
        idx, c = idx[c > 0], c[c > 0]
        o = np.argsort(score[idx] / c, kind="stable")
        idx, c = idx[o], c[o]
        cs = np.cumsum(c)
        drop = idx[(cs - c) < excess - tolerance(prob.cbound[k])]
        x[drop] = False
        lhs -= prob.usage(drop)
    return x, lhs


def meet_minimums(prob: Problem, x: np.ndarray, lhs: np.ndarray, score: np.ndarray, *, passes: int = 3
                  ) -> tuple[np.ndarray, np.ndarray]:
    """Add candidates, highest ``score`` per unit first, to every lower coupling row that is short.

    A minimum that cannot be met within the caps' room makes room: its contacts are added
    regardless of the caps, then the caps that overflow drop what counts for no minimum first
    (least ``score`` per unit), contacts that count for a minimum last. Up to ``passes``
    rounds over the minimums, as a drop for one minimum can leave another short.
    """
    mins = np.flatnonzero(prob.csense < 0)
    if not len(mins):
        return x, lhs
    scale = np.maximum(1.0, np.abs(prob.cbound))
    counts = sum(prob.coef(int(j)) / scale[j] for j in mins)
    protect = score + (1e6 * (np.abs(score).max() + 1.0)) * counts
    for _ in range(passes):
        short_any = False
        for k in mins:
            short = prob.cbound[k] - lhs[k]
            if short <= tolerance(prob.cbound[k]):
                continue
            short_any = True
            c = prob.coef(int(k))
            elig = c > 0
            key = -np.where(elig, score / np.where(elig, c, 1.0), -np.inf)
            x, lhs = add_rounds(prob, x, lhs, elig, key, need=(int(k), short))
            short = prob.cbound[k] - lhs[k]
            if short > tolerance(prob.cbound[k]):
                x, lhs = add_rounds(prob, x, lhs, elig, key, need=(int(k), short), coupling=False)
                x, lhs = drop_for_caps(prob, x, lhs, protect)
        if not short_any:
            break
    return x, lhs


def fill(prob: Problem, x: np.ndarray, lhs: np.ndarray, key: np.ndarray,
         eligible: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Add eligible candidates in ``key`` order (lowest first) wherever the caps leave room."""
    return add_rounds(prob, x, lhs, eligible, key)


def shortfall(prob: Problem, lhs: np.ndarray) -> float:
    """Total relative shortfall of the minimums."""
    short = np.where(prob.csense < 0, prob.cbound - lhs, 0.0)
    short = np.where(short > tolerance(prob.cbound), short, 0.0)
    return float((short / np.maximum(1.0, np.abs(prob.cbound))).sum())
