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
(the step halves after five iterations without a better bound). Above ``warm_users``
customers (100,000) they start from the multipliers of a sample of that many, stratified by
the customers' number of candidates (bounds scaled to the sample; the prices per unit carry
over; 300 iterations, a repair every 50), and the full problem then takes ``full_iter`` (10).
Every ten iterations the customers' choices are repaired into a plan that meets every
constraint (:mod:`dmkit.offers.repair`): drop the contacts of least adjusted value per unit
from caps that overflow; top up minimums that fall short with the contacts of most adjusted
value per unit, making room in full caps by dropping contacts that count for no minimum;
fill what has room in order of value net of the caps' prices. When a minimum stays short,
the customers choose again with the minimums' prices raised (x1.5, x3, x10). The best
repaired plan is returned.
"""
from __future__ import annotations

import itertools
import math
import time
from dataclasses import replace

import numpy as np

from dmkit.offers.problem import Problem
from dmkit.offers.repair import add_rounds, drop_for_caps, fill, meet_minimums, shortfall

__all__ = ["Subproblems", "solve_decompose"]

#: most users × subsets checked at once when the subsets are built (1 byte each; kept as bits)
MAX_CELLS = 20_000_000
#: most users × subsets scored at once in one iteration (8 bytes each)
SOLVE_CELLS = 4_000_000
#: most candidates of one user for which subsets are enumerated
MAX_L = 12
#: most subsets enumerated per user (above: the greedy subproblem)
MAX_COLS = 1024


class Subproblems:
    """The per-customer subproblems, grouped by number of candidates, with their feasible subsets.

    Customers for whom every subset of their candidates keeps the caps and conflicts (few
    candidates, no conflict among them) simply take every candidate of positive adjusted
    value; the others choose among the subsets of their candidates that a per-user cap
    covering every activity allows (at most ``bound`` of them: with a cap of 3, 93 subsets of
    8 candidates instead of 256), each user's feasible ones kept as a bit matrix (one bit
    per user and subset), built and scored in chunks of users so that memory stays within
    ``MAX_CELLS`` cells per chunk.
    """

    def __init__(self, prob: Problem) -> None:
        self.prob = prob
        sizes = np.diff(prob.starts)
        self.groups = []
        self.free = np.zeros(prob.n, dtype=bool)
        full_caps = [int(b) for m, b in zip(prob.umask, prob.ubound, strict=True) if m.all()]
        kcap = min(full_caps) if full_caps else None
        big = []
        for L in np.unique(sizes):
            L = int(L)
            users = np.flatnonzero(sizes == L)
            kmax = L if kcap is None else min(L, kcap)
            ncols = sum(math.comb(L, k) for k in range(kmax + 1))
            if L > MAX_L or ncols > MAX_COLS:
                big.append(users)
                continue
            codes = np.array(sorted(sum(1 << i for i in c) for k in range(kmax + 1)
                                    for c in itertools.combinations(range(L), k)), dtype=np.int64)
            S = ((codes[None, :] >> np.arange(L)[:, None]) & 1).astype(np.float64)   # (L, ncols)
            col_of = np.full(1 << L, ncols, dtype=np.int64)          # subset code -> its column
            col_of[codes] = np.arange(ncols)
            step = max(1, MAX_CELLS // ncols)
            kept_idx, kept_feas = [], []
            for lo in range(0, len(users), step):
                us = users[lo:lo + step]
                idx = prob.starts[us][:, None] + np.arange(L)[None, :]          # (nU, L)
                feas = self._feasible(idx, S)
                alltrue = feas.all(axis=1) & (kmax == L)
                self.free[idx[alltrue].ravel()] = True
                if (~alltrue).any():
                    kept_idx.append(idx[~alltrue])
                    kept_feas.append(np.packbits(feas[~alltrue], axis=1))
            if kept_idx:
                self.groups.append((np.concatenate(kept_idx), S, np.concatenate(kept_feas), col_of,
                                    1 << np.arange(L), ncols))
        self.big_users = np.concatenate(big) if big else np.zeros(0, dtype=np.int64)
        self.big_mask = np.zeros(prob.n, dtype=bool)
        if len(self.big_users):
            sizes_b = sizes[self.big_users]
            cand = np.repeat(prob.starts[self.big_users], sizes_b) + (
                np.arange(sizes_b.sum()) - np.repeat(np.cumsum(sizes_b) - sizes_b, sizes_b))
            self.big_mask[cand] = True

    def _feasible(self, idx: np.ndarray, S: np.ndarray) -> np.ndarray:
        """Which subsets (columns of ``S``) keep every per-user cap and conflict, per user (row of ``idx``)."""
        prob = self.prob
        L = idx.shape[1]
        feas = np.ones((len(idx), S.shape[1]), dtype=bool)
        acts = prob.a[idx]
        for q in range(len(prob.ubound)):
            m = prob.umask[q][acts]
            tight = m.sum(axis=1) > prob.ubound[q]
            if tight.any():
                feas[tight] &= (m[tight].astype(np.float64) @ S) <= prob.ubound[q]
        if prob.conflict.any():
            for j in range(L):
                for m in range(j + 1, L):
                    cf = prob.conflict[acts[:, j], acts[:, m]]
                    if cf.any():
                        both = (S[j] > 0) & (S[m] > 0)
                        feas[np.ix_(cf, both)] = False
        return feas

    def solve(self, r: np.ndarray) -> tuple[np.ndarray, float]:
        """Best subset per customer under adjusted values ``r``: ``(x, upper bound of sum of their values)``."""
        prob = self.prob
        x = self.free & (r > 0)
        total = float(r[x].sum())
        for idx, S, packed, col_of, weights, ncols in self.groups:
            rg = r[idx]
            sel = rg > 0
            # a customer whose positive candidates form a feasible subset takes them all: no
            # other subset scores more; only the others score the feasible subsets
            code = col_of[sel @ weights]
            hard = np.ones(len(idx), dtype=bool)
            known = np.flatnonzero(code < ncols)
            ck = code[known]
            hard[known] = ((packed[known, ck >> 3] >> (7 - (ck & 7))) & 1) == 0
            rows = np.flatnonzero(hard)
            step = max(1, SOLVE_CELLS // ncols)
            for lo in range(0, len(rows), step):
                h = rows[lo:lo + step]
                vals = rg[h] @ S
                vals[~np.unpackbits(packed[h], axis=1, count=ncols).view(bool)] = -np.inf
                sel[h] = S.T[np.argmax(vals, axis=1)] > 0
            total += float(rg[sel].sum())
            x[idx] = sel
        if len(self.big_users):
            elig = self.big_mask & (r > 0)
            xb, _ = add_rounds(prob, x, np.zeros(prob.K), elig, -r, coupling=False)
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


def _repair(prob: Problem, x: np.ndarray, mu: np.ndarray, sub: Subproblems) -> tuple[np.ndarray, float, float]:
    """A plan near ``x`` meeting every constraint it can: ``(x, value, total relative shortfall)``.

    From the customers' choices ``x``: drop what overflows the caps (least adjusted value per
    unit first), top up the minimums (most adjusted value per unit first), fill what has room.
    When a minimum is still short, the customers choose again with the minimums' prices
    raised (x1.5, x3, x10), which leaves more of what the minimums count after the drops; the
    best plan is kept.
    """
    mu_caps = np.where(prob.csense > 0, mu, 0.0)
    key = -_adjusted(prob, mu_caps)                       # fill: by value net of the caps' prices
    best = (np.inf, 0.0, x)
    for boost in (1.0, 1.5, 3.0, 10.0):
        m = np.where(prob.csense < 0, mu * boost, mu)
        r = _adjusted(prob, m)
        xs = x if boost == 1.0 else sub.solve(r)[0]
        lhs = prob.usage(xs)
        xs, lhs = drop_for_caps(prob, xs, lhs, r)
        xs, lhs = meet_minimums(prob, xs, lhs, r)
        xs, lhs = fill(prob, xs, lhs, key, prob.v > 0)
        short, val = shortfall(prob, lhs), float(prob.v[xs].sum())
        if (short, -val) < (best[0], -best[1]):
            best = (short, val, xs)
        if short == 0:
            break
    return best[2], best[1], best[0]


def subsample(prob: Problem, share: float, seed: int) -> Problem:
    """The problem on a stratified random ``share`` of the customers, coupling bounds scaled by the share.

    Strata: the customers' number of candidates; each stratum keeps ``round(share * size)``
    customers drawn with ``seed``, so the sample holds the population's mix of small and
    large subproblems and at most about ``share`` of the customers.
    """
    rng = np.random.default_rng(seed)
    sizes = np.diff(prob.starts)
    keep_u = np.zeros(prob.n_users, dtype=bool)
    for L in np.unique(sizes):
        members = np.flatnonzero(sizes == L)
        take = int(round(share * len(members)))
        if take:
            keep_u[rng.choice(members, size=take, replace=False)] = True
    keep = keep_u[prob.u]
    idx = np.flatnonzero(keep)
    new_u = np.cumsum(keep_u) - 1
    u = new_u[prob.u[idx]].astype(np.int32)
    starts = np.r_[np.flatnonzero(np.r_[True, u[1:] != u[:-1]]), len(u)].astype(np.int64)
    pos = np.full(prob.n, -1, dtype=np.int64)
    pos[idx] = np.arange(len(idx))
    pairs = prob.pairs[keep[prob.pairs[:, 0]]] if len(prob.pairs) else prob.pairs
    real = keep_u.sum() / prob.n_users
    return replace(prob, users=prob.users[keep_u], u=u, a=prob.a[idx], v=prob.v[idx], p=prob.p[idx],
                   starts=starts, cbound=prob.cbound * real, pairs=pos[pairs] if len(pairs) else pairs,
                   priority=None if prob.priority is None else prob.priority[idx])


def solve_decompose(prob: Problem, *, time_limit: float | None = None, seed: int = 0, tol: float = 1e-4,
                    max_iter: int = 300, repair_every: int = 10, warm_users: int = 100_000,
                    warm_repair_every: int = 50, full_iter: int = 10) -> dict:
    """Lagrangian decomposition. Returns a dict: x, bound, feasible, iterations, history.

    Above ``warm_users`` customers, the multipliers start from those of the same problem on
    a stratified sample of ``warm_users`` customers (:func:`subsample`; bounds scaled to the
    sample; the prices per unit carry over; a repair every ``warm_repair_every``
    iterations), drawn with ``seed``, and the full problem then takes ``full_iter``
    iterations.
    ``history`` is a list of (iteration, seconds, dual value, best bound, best plan value).
    """
    t0 = time.perf_counter()
    K = prob.K
    scale = np.maximum(1.0, np.abs(prob.cbound))
    sense = prob.csense.astype(np.float64)
    lam = np.zeros(K)
    theta = 1.0
    if prob.n_users > warm_users and K:
        small = subsample(prob, warm_users / prob.n_users, seed)
        warm = solve_decompose(small, time_limit=None if time_limit is None else time_limit / 3, tol=tol,
                               max_iter=max_iter, repair_every=warm_repair_every, warm_users=small.n_users)
        lam = warm["lam"] * scale / np.maximum(1.0, np.abs(small.cbound))
        theta = 0.1
        max_iter = full_iter   # the sample did the work
    sub = Subproblems(prob)
    best_bound, best_val, best_short = np.inf, -np.inf, np.inf
    best_x, best_lam = None, lam.copy()
    stall = 0
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
            xr, val, short = _repair(prob, x, mu, sub)
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
    xr, val, short = _repair(prob, x, best_lam * sense / scale, sub)
    if (short, -val) < (best_short, -best_val):
        best_x, best_val, best_short = xr, val, short
    return {"x": best_x, "bound": best_bound, "feasible": best_short == 0, "iterations": it + 1,
            "history": history, "lam": best_lam}
