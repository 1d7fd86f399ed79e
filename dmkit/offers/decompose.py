"""The province-scale plan: Lagrangian decomposition over customers, subgradient multipliers, repair.

The coupling constraints (contact volumes, budgets, sales) are priced by multipliers
``lambda >= 0``; under prices the problem separates per customer: each picks the subset of
its own candidates of largest adjusted value ``value - prices`` that keeps its per-user
caps and conflicts. Customers are grouped by how many candidates they have (L); for every
group the feasible subsets of L positions are enumerated once (a bool matrix users × 2^L)
and each iteration scores all of them with one matrix product, so the subproblems of
millions of customers cost a few numpy passes. Customers with more candidates than can be
enumerated pick greedily and add the sum of their positive adjusted values to the bound
(still an upper bound). The dual value is an upper bound on every feasible plan; the best
is reported.

Multipliers follow the projected subgradient with Polyak's step toward the best plan found
(the step halves after five iterations without a better bound). Every few iterations the
customers' choices are repaired into a plan that meets every constraint: drop the contacts
of least adjusted value per unit from caps that overflow, add the cheapest contacts per
unit to minimums that fall short, then fill caps that have room in order of adjusted value
(:mod:`dmkit.offers.repair`). The best repaired plan is returned.
"""
from __future__ import annotations

import time

import numpy as np

from dmkit.offers.problem import Problem
from dmkit.offers.repair import add_rounds, drop_for_caps, fill, meet_minimums, ranking, tolerance

__all__ = ["Subproblems", "solve_decompose"]

#: most users × subsets enumerated in one group (memory: 1 byte each, plus 8 per score)
MAX_CELLS = 60_000_000
#: most candidates of one user for which subsets are enumerated
MAX_L = 12


class Subproblems:
    """The per-customer subproblems, grouped by number of candidates, with their feasible subsets."""

    def __init__(self, prob: Problem) -> None:
        self.prob = prob
        sizes = np.diff(prob.starts)
        self.groups = []
        self.big_users = np.zeros(0, dtype=np.int64)
        big = []
        for L in np.unique(sizes):
            users = np.flatnonzero(sizes == L)
            if L > MAX_L or len(users) * (1 << int(L)) > MAX_CELLS:
                big.append(users)
                continue
            idx = prob.starts[users][:, None] + np.arange(L)[None, :]          # (nU, L)
            S = ((np.arange(1 << int(L))[None, :] >> np.arange(L)[:, None]) & 1).astype(np.float64)  # (L, 2^L)
            feas = np.ones((len(users), 1 << int(L)), dtype=bool)
            acts = prob.a[idx]
            for q in range(len(prob.ubound)):
                cnt = prob.umask[q][acts].astype(np.float64) @ S
                feas &= cnt <= prob.ubound[q]
            if prob.conflict.any():
                for j in range(L):
                    for m in range(j + 1, L):
                        cf = prob.conflict[acts[:, j], acts[:, m]]
                        if cf.any():
                            both = (S[j] > 0) & (S[m] > 0)
                            feas[np.ix_(cf, both)] = False
            self.groups.append((idx, S, feas))
        if big:
            self.big_users = np.concatenate(big)
        self.big_mask = np.zeros(prob.n, dtype=bool)
        if len(self.big_users):
            sizes_b = sizes[self.big_users]
            cand = np.repeat(prob.starts[self.big_users], sizes_b) + (
                np.arange(sizes_b.sum()) - np.repeat(np.cumsum(sizes_b) - sizes_b, sizes_b))
            self.big_mask[cand] = True

    def solve(self, r: np.ndarray) -> tuple[np.ndarray, float]:
        """Best subset per customer under adjusted values ``r``: ``(x, upper bound of sum of their values)``."""
        prob = self.prob
        x = np.zeros(prob.n, dtype=bool)
        total = 0.0
        for idx, S, feas in self.groups:
            vals = r[idx] @ S
            vals[~feas] = -np.inf
            best = np.argmax(vals, axis=1)
            total += float(vals[np.arange(len(best)), best].sum())
            x[idx] = S.T[best] > 0
        if len(self.big_users):
            elig = self.big_mask & (r > 0)
            rank, order = ranking(-np.where(elig, r, -np.inf))
            xb, _ = add_rounds(prob, x, np.zeros(prob.K), elig, rank, order, coupling=False)
            x |= xb & self.big_mask
            total += float(r[elig].sum())
        return x, total


def _prices(prob: Problem, mu: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Per-activity price of one contact (alpha) and of one unit of p_response (beta)."""
    A = len(prob.cost)
    alpha = np.zeros(A)
    beta = np.zeros(A)
    for k in np.flatnonzero(mu != 0):
        m = prob.cmask[k]
        w = prob.cweight[k]
        if w == 0:
            alpha += mu[k] * m
        elif w == 1:
            alpha += mu[k] * m * prob.cost
        else:
            beta += mu[k] * m
    return alpha, beta


def _adjusted(prob: Problem, mu: np.ndarray) -> np.ndarray:
    alpha, beta = _prices(prob, mu)
    return prob.v - alpha[prob.a] - beta[prob.a] * prob.p


def _repair(prob: Problem, x: np.ndarray, mu: np.ndarray) -> tuple[np.ndarray, float, float]:
    """A plan near ``x`` meeting every constraint it can: ``(x, value, total relative shortfall)``."""
    r = _adjusted(prob, mu)
    lhs = prob.usage(x)
    x, lhs = drop_for_caps(prob, x, lhs, r)
    x, lhs = meet_minimums(prob, x, lhs, r)
    # fill: contacts of positive value, by value net of the caps' prices only
    mu_caps = np.where(prob.csense > 0, mu, 0.0)
    r_caps = _adjusted(prob, mu_caps)
    elig = prob.v > 0
    rank, order = ranking(-r_caps)
    x, lhs = fill(prob, x, lhs, rank, order, elig)
    short = np.where(prob.csense < 0, prob.cbound - lhs, 0.0)
    short = np.where(short > tolerance(prob.cbound), short, 0.0) / np.maximum(1.0, np.abs(prob.cbound))
    return x, float(prob.v[x].sum()), float(short.sum())


def solve_decompose(prob: Problem, *, time_limit: float | None = None, seed: int = 0, tol: float = 1e-4,
                    max_iter: int = 300, repair_every: int = 5) -> dict:
    """Lagrangian decomposition. Returns a dict: x, bound, feasible, iterations, history.

    ``history`` is a list of (iteration, seconds, dual value, best bound, best plan value).
    ``seed`` is unused (the method is deterministic) and kept for the common signature.
    """
    t0 = time.perf_counter()
    K = prob.K
    sub = Subproblems(prob)
    scale = np.maximum(1.0, np.abs(prob.cbound))
    sense = prob.csense.astype(np.float64)
    lam = np.zeros(K)
    best_bound, best_val, best_short = np.inf, -np.inf, np.inf
    best_x, best_lam = None, lam.copy()
    theta, stall = 1.0, 0
    history = []
    it = 0
    for it in range(max_iter):
        mu = lam * sense / scale                      # price per unit of each row's own quantity
        r = _adjusted(prob, mu)
        x, sub_val = sub.solve(r)
        dual = sub_val + float(mu @ prob.cbound)
        if not np.isfinite(best_bound) or dual < best_bound - 1e-12 * max(1.0, abs(best_bound)):
            best_bound, best_lam, stall = dual, lam.copy(), 0
        else:
            stall += 1
            if stall >= 5:
                theta, stall = max(theta / 2, 1e-6), 0
        lhs = prob.usage(x)
        g = sense * (lhs - prob.cbound) / scale
        g[(lam <= 0) & (g < 0)] = 0.0
        if it % repair_every == 0 or not g.any():
            xr, val, short = _repair(prob, x, mu)
            if (short, -val) < (best_short, -best_val):
                best_x, best_val, best_short = xr, val, short
        elapsed = time.perf_counter() - t0
        history.append((it, elapsed, dual, best_bound, best_val if best_short == 0 else np.nan))
        gap = (best_bound - best_val) / max(abs(best_bound), 1e-9) if best_short == 0 else np.inf
        if gap <= tol or not g.any() or K == 0:
            break
        if time_limit is not None and elapsed > 0.9 * time_limit:
            break
        target = best_val if best_short == 0 else dual - 0.05 * abs(dual) - 1.0
        gg = float(g @ g)
        step = theta * max(dual - target, 1e-9 * max(1.0, abs(dual))) / gg
        lam = np.maximum(0.0, lam + step * g)
    # a last repair from the multipliers of the best bound
    x, _ = sub.solve(_adjusted(prob, best_lam * sense / scale))
    xr, val, short = _repair(prob, x, best_lam * sense / scale)
    if (short, -val) < (best_short, -best_val):
        best_x, best_val, best_short = xr, val, short
    return {"x": best_x, "bound": best_bound, "feasible": best_short == 0, "iterations": it + 1,
            "history": history}
