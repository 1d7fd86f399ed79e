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

__all__ = ["add_rounds", "blocked", "drop_for_caps", "fill", "meet_minimums", "ranking", "tolerance"]


def tolerance(bound: np.ndarray | float) -> np.ndarray:
    """Feasibility tolerance of a constraint with this bound (1e-7 relative, 1e-9 absolute)."""
    return 1e-7 * np.maximum(1.0, np.abs(bound)) + 1e-9


def ranking(*keys: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """``(rank, order)`` of candidates sorted by ``keys`` (last key primary, ascending, as np.lexsort)."""
    order = np.lexsort(keys).astype(np.int64)
    rank = np.empty_like(order)
    rank[order] = np.arange(len(order))
    return rank, order


def blocked(prob: Problem, x: np.ndarray) -> np.ndarray:
    """Candidates that cannot be added to ``x``: a per-user cap is full or a conflict with a chosen one."""
    out = np.zeros(prob.n, dtype=bool)
    for q in range(len(prob.ubound)):
        m = prob.umask[q][prob.a]
        full = prob.per_user_counts(x, q) >= prob.ubound[q]
        out |= m & full[prob.u]
    if len(prob.pairs):
        i, j = prob.pairs[:, 0], prob.pairs[:, 1]
        out[i[x[j]]] = True
        out[j[x[i]]] = True
    return out


def add_rounds(prob: Problem, x: np.ndarray, lhs: np.ndarray, eligible: np.ndarray, rank: np.ndarray,
               order: np.ndarray, *, need: tuple[int, float] | None = None, coupling: bool = True,
               max_rounds: int = 200) -> tuple[np.ndarray, np.ndarray]:
    """Add eligible candidates in ``rank`` order (0 first) while every constraint allows.

    Parameters
    ----------
    x, lhs : ndarray
        Current selection and its coupling left-hand sides (updated copies are returned).
    eligible : ndarray of bool
        Candidates that may be added.
    rank, order : ndarray
        From :func:`ranking`: the priority rank of each candidate and its inverse.
    need : (k, amount), optional
        Stop once coupling constraint ``k`` has gained ``amount`` (meeting a minimum).
    coupling : bool
        Respect the upper coupling constraints (False: only per-user caps and conflicts).
    """
    x = x.copy()
    lhs = lhs.copy()
    alive = eligible & ~x
    caps = np.flatnonzero(prob.csense > 0) if coupling else np.zeros(0, dtype=np.int64)
    gained = 0.0
    seg = prob.starts[:-1]
    big = np.iinfo(np.int64).max
    for _ in range(max_rounds):
        elig = alive & ~blocked(prob, x)
        if not elig.any():
            break
        r = np.where(elig, rank, big)
        best = np.minimum.reduceat(r, seg)
        chosen = elig & (r == best[prob.u])
        idx = order[chosen[order]]                         # one per user, in priority order
        ok = np.ones(len(idx), dtype=bool)
        slack = prob.cbound - lhs
        for k in caps:
            c = prob.coef(k, idx)
            if c.sum() <= slack[k] + tolerance(prob.cbound[k]):
                continue
            cs = np.cumsum(c)
            ok &= cs <= slack[k] + tolerance(prob.cbound[k])
        if need is not None:
            k, amount = need
            c = prob.coef(k, idx)
            cs = np.cumsum(c * ok)
            ok &= (cs - c) < amount - gained
        acc = idx[ok]
        if len(acc):
            x[acc] = True
            add = prob.usage(_mask(prob.n, acc))
            lhs += add
            if need is not None:
                gained += add[need[0]]
        # a candidate that no longer fits a cap's remaining room never will: retire it
        rej = idx[~ok]
        dead = np.zeros(len(rej), dtype=bool)
        if len(rej) and len(caps):
            slack = prob.cbound - lhs
            for k in caps:
                dead |= prob.coef(k, rej) > slack[k] + tolerance(prob.cbound[k])
            alive[rej[dead]] = False
        alive[acc] = False
        if need is not None and gained >= need[1] - tolerance(need[1]):
            break
        if not len(acc) and not dead.any():
            break
    return x, lhs


def _mask(n: int, idx: np.ndarray) -> np.ndarray:
    m = np.zeros(n, dtype=bool)
    m[idx] = True
    return m


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
        lhs -= prob.usage(_mask(prob.n, drop))
    return x, lhs


def meet_minimums(prob: Problem, x: np.ndarray, lhs: np.ndarray, score: np.ndarray
                  ) -> tuple[np.ndarray, np.ndarray]:
    """Add candidates, highest ``score`` per unit first, to every lower coupling row that is short."""
    for k in np.flatnonzero(prob.csense < 0):
        short = prob.cbound[k] - lhs[k]
        if short <= tolerance(prob.cbound[k]):
            continue
        c = prob.coef(k)
        elig = c > 0
        rank, order = ranking(-np.where(elig, score / np.where(elig, c, 1.0), -np.inf))
        x, lhs = add_rounds(prob, x, lhs, elig, rank, order, need=(int(k), short))
    return x, lhs


def fill(prob: Problem, x: np.ndarray, lhs: np.ndarray, rank: np.ndarray, order: np.ndarray,
         eligible: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Add eligible candidates in rank order wherever caps leave room."""
    return add_rounds(prob, x, lhs, eligible, rank, order)
