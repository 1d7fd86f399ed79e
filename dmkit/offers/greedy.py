"""The baseline plan: greedy by value (or by a rule priority), what a campaign system such as OCRM does.

Contacts are taken best first — by ``priority`` (1 = first) then value when the candidates
have a ``priority`` column, else by value — as long as the customer's caps, the conflicts and
every upper coupling constraint leave room; contacts of value <= 0 are not taken. Minimums
still short afterwards are then topped up with the contacts of most value per unit counted
(:func:`dmkit.offers.repair.meet_minimums`). If that cannot meet them (the caps are used up),
the plan is rebuilt minimums first, then filled in the same order; the plan with the smaller
shortfall (then more value) is kept. No bound is proved.
"""
from __future__ import annotations

import numpy as np

from dmkit.offers.problem import Problem
from dmkit.offers.repair import fill, meet_minimums, ranking, shortfall

__all__ = ["solve_greedy"]


def solve_greedy(prob: Problem, *, priority: np.ndarray | None = None) -> tuple[np.ndarray, bool]:
    """Greedy plan. ``priority`` (per candidate, in the problem's order; lower first) overrides value order.

    Returns ``(x, feasible)``.
    """
    key = -prob.v if priority is None else ranking(-prob.v, priority)
    empty, zero = np.zeros(prob.n, dtype=bool), np.zeros(prob.K)
    x, lhs = fill(prob, empty, zero, key, prob.v > 0)
    x, lhs = meet_minimums(prob, x, lhs, prob.v)
    short = shortfall(prob, lhs)
    if short > 0:
        x2, lhs2 = meet_minimums(prob, empty, zero, prob.v)
        x2, lhs2 = fill(prob, x2, lhs2, key, prob.v > 0)
        short2 = shortfall(prob, lhs2)
        if (short2, -prob.v[x2].sum()) < (short, -prob.v[x].sum()):
            x, short = x2, short2
    return x, short == 0
