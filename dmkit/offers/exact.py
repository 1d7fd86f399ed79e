"""The exact plan: the offer problem as a mixed-integer programme solved by HiGHS (``highspy``).

One binary variable per candidate; one row per coupling constraint; one row per user and
per-user cap that the user's candidates could exceed; one row ``x_i + x_j <= 1`` per
conflicting pair of one user's candidates. When the minimums cannot all be met (HiGHS
proves the model infeasible), the plan minimises the total relative shortfall of the
minimums first and then maximises value at that shortfall, and comes back with
``feasible=False``.
"""
from __future__ import annotations

import os
import sys
import time
from contextlib import contextmanager

import numpy as np
import scipy.sparse as sp

from dmkit.errors import ConvergenceError
from dmkit.offers.problem import Problem

__all__ = ["solve_exact", "mip_rows"]

#: relative MIP gap at which HiGHS stops (the plan is optimal to this)
MIP_REL_GAP = 1e-6


def _flush_c_stdout() -> None:
    """Flush the C library's stdio buffers (a banner printed into a pipe sits there until then)."""
    try:
        import ctypes

        ctypes.CDLL(None).fflush(None)
    except (OSError, AttributeError):  # no C library to ask (not POSIX): nothing buffered to lose
        pass


@contextmanager
def _quiet_fd():
    """Silence the process's C-level stdout, file descriptor 1 (HiGHS prints a banner when its
    first instance is created). Not ``sys.stdout.fileno()``: in a Jupyter kernel ``sys.stdout``
    has no descriptor while fd 1 is still captured and shown in the notebook."""
    fd = 1
    try:
        sys.stdout.flush()
        saved = os.dup(fd)
    except (AttributeError, OSError, ValueError):
        yield
        return
    null = os.open(os.devnull, os.O_WRONLY)
    try:
        os.dup2(null, fd)
        yield
    finally:
        _flush_c_stdout()
        os.dup2(saved, fd)
        os.close(null)
        os.close(saved)


def _highs():
    import highspy

    with _quiet_fd():
        h = highspy.Highs()
    h.setOptionValue("output_flag", False)
    return h


def mip_rows(prob: Problem) -> tuple[sp.csr_matrix, np.ndarray, np.ndarray]:
    """The constraint matrix and row bounds ``(A, lower, upper)`` of the offer MIP (coupling rows first)."""
    n = prob.n
    ri, ci, vals, lo, hi = [], [], [], [], []
    row = 0
    for k in range(prob.K):
        idx = np.flatnonzero(prob.cmask[k][prob.a])
        ri.append(np.full(len(idx), row)), ci.append(idx), vals.append(prob.coef(k, idx))
        lo.append(-np.inf if prob.csense[k] > 0 else prob.cbound[k])
        hi.append(prob.cbound[k] if prob.csense[k] > 0 else np.inf)
        row += 1
    lo, hi = [np.array(lo, dtype=float)], [np.array(hi, dtype=float)]
    for q in range(len(prob.ubound)):
        idx = np.flatnonzero(prob.umask[q][prob.a])
        cnt = np.bincount(prob.u[idx], minlength=prob.n_users)
        over = cnt > prob.ubound[q]
        idx = idx[over[prob.u[idx]]]
        if not len(idx):
            continue
        users = np.flatnonzero(over)
        rid = row + np.searchsorted(users, prob.u[idx])
        ri.append(rid), ci.append(idx), vals.append(np.ones(len(idx)))
        lo.append(np.full(len(users), -np.inf)), hi.append(np.full(len(users), float(prob.ubound[q])))
        row += len(users)
    P = len(prob.pairs)
    if P:
        rid = row + np.repeat(np.arange(P), 2)
        ri.append(rid), ci.append(prob.pairs.ravel()), vals.append(np.ones(2 * P))
        lo.append(np.full(P, -np.inf)), hi.append(np.ones(P))
        row += P
    A = sp.csr_matrix((np.concatenate(vals) if vals else np.zeros(0),
                       (np.concatenate(ri) if ri else np.zeros(0, int), np.concatenate(ci) if ci else np.zeros(0, int))),
                      shape=(row, n))
    return A, np.concatenate(lo), np.concatenate(hi)


def _solve(cost: np.ndarray, A: sp.csr_matrix, lo: np.ndarray, hi: np.ndarray, n_int: int,
           col_hi: np.ndarray, *, time_limit: float | None, seed: int):
    import highspy

    h = _highs()
    lp = highspy.HighsLp()
    m, ncol = A.shape
    lp.num_col_, lp.num_row_ = ncol, m
    lp.col_cost_ = cost
    lp.col_lower_ = np.zeros(ncol)
    lp.col_upper_ = col_hi
    inf = highspy.kHighsInf
    lp.row_lower_ = np.where(np.isfinite(lo), lo, -inf)
    lp.row_upper_ = np.where(np.isfinite(hi), hi, inf)
    lp.a_matrix_.format_ = highspy.MatrixFormat.kRowwise
    lp.a_matrix_.num_col_, lp.a_matrix_.num_row_ = ncol, m
    lp.a_matrix_.start_ = A.indptr.astype(np.int32)
    lp.a_matrix_.index_ = A.indices.astype(np.int32)
    lp.a_matrix_.value_ = A.data.astype(np.float64)
    lp.sense_ = highspy.ObjSense.kMaximize
    lp.integrality_ = ([highspy.HighsVarType.kInteger] * n_int
                       + [highspy.HighsVarType.kContinuous] * (ncol - n_int))
    h.passModel(lp)
    h.setOptionValue("mip_rel_gap", MIP_REL_GAP)
    h.setOptionValue("random_seed", int(seed))
    if time_limit is not None:
        h.setOptionValue("time_limit", float(time_limit))
    h.run()
    status = h.getModelStatus()
    info = h.getInfo()
    has_sol = info.primal_solution_status == highspy.kSolutionStatusFeasible
    sol = np.asarray(h.getSolution().col_value) if has_sol else None
    nodes = int(info.mip_node_count) if info.mip_node_count >= 0 else 0
    return status, sol, float(info.objective_function_value), float(info.mip_dual_bound), nodes


def solve_exact(prob: Problem, *, time_limit: float | None = None, seed: int = 0
                ) -> tuple[np.ndarray, float, bool, int]:
    """Solve the offer MIP. Returns ``(x, bound, feasible, nodes)``.

    ``bound`` is HiGHS's proved dual bound (NaN when the minimums cannot be met).

    Raises
    ------
    ConvergenceError
        HiGHS found no plan within ``time_limit`` (try a longer limit or ``method="decompose"``).
    """
    import highspy

    t0 = time.perf_counter()
    n = prob.n
    A, lo, hi = mip_rows(prob)
    status, sol, obj, bound, nodes = _solve(prob.v, A, lo, hi, n, np.ones(n), time_limit=time_limit, seed=seed)
    if status == highspy.HighsModelStatus.kInfeasible:
        return *_elastic(prob, A, lo, hi, time_limit=_left(time_limit, t0), seed=seed), False, nodes
    if sol is None:
        raise ConvergenceError(f"HiGHS found no offer plan (status {h_status(status)}) within time_limit="
                               f"{time_limit!r} s for {n:,} candidates. Fix: raise time_limit or use "
                               "method='decompose'")
    return sol[:n] > 0.5, bound, True, nodes


def h_status(status) -> str:
    """HiGHS model status as text."""
    return str(status).split(".")[-1]


def _left(time_limit: float | None, t0: float) -> float | None:
    return None if time_limit is None else max(1.0, time_limit - (time.perf_counter() - t0))


def _elastic(prob: Problem, A: sp.csr_matrix, lo: np.ndarray, hi: np.ndarray, *, time_limit, seed):
    """Least total relative shortfall of the minimums, then the most value at that shortfall."""
    n = prob.n
    mins = np.flatnonzero(prob.csense < 0)       # coupling rows are the first K rows of A
    scale = np.maximum(1.0, np.abs(prob.cbound[mins]))
    S = sp.csr_matrix((np.ones(len(mins)), (mins, np.arange(len(mins)))), shape=(A.shape[0], len(mins)))
    A1 = sp.hstack([A, S], format="csr")
    cost1 = np.r_[np.zeros(n), -1.0 / scale]
    col_hi = np.r_[np.ones(n), np.abs(prob.cbound[mins]) + 1.0]
    _, sol, obj, _, _ = _solve(cost1, A1, lo, hi, n, col_hi, time_limit=time_limit, seed=seed)
    if sol is None:
        raise ConvergenceError("HiGHS found no plan of least shortfall within the time limit. Fix: raise "
                               "time_limit or use method='decompose'")
    z = -obj
    row = sp.csr_matrix(np.r_[np.zeros(n), 1.0 / scale][None, :])
    A2 = sp.vstack([A1, row], format="csr")
    lo2, hi2 = np.r_[lo, -np.inf], np.r_[hi, z * (1 + 1e-9) + 1e-9]
    _, sol2, _, _, _ = _solve(np.r_[prob.v, np.zeros(len(mins))], A2, lo2, hi2, n, col_hi,
                              time_limit=time_limit, seed=seed)
    best = sol2 if sol2 is not None else sol
    return best[:n] > 0.5, float("nan")
