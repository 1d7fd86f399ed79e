"""The result of :func:`dmkit.offers.optimize`: :class:`OfferPlan`, and the error of an unmet minimum."""
from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import pandas as pd

from dmkit._results import Result, Summary, get_ax
from dmkit.contract.labels import label_positions
from dmkit.errors import DmkitError

__all__ = ["InfeasiblePlanError", "OfferPlan"]


class InfeasiblePlanError(DmkitError, ValueError):
    """A plan misses a minimum (raised by :meth:`OfferPlan.require_feasible`).

    Attributes
    ----------
    shortfall : DataFrame
        The constraints that are not met, with their bound, achieved value and shortfall.
    """

    def __init__(self, message: str, *, shortfall: pd.DataFrame) -> None:
        super().__init__(message)
        self.shortfall = shortfall


def _describe(row: pd.Series) -> str:
    parts = [str(row["kind"])]
    for c in ("channels", "services"):
        v = row.get(c)
        if v is not None and not (isinstance(v, float) and np.isnan(v)):
            parts.append(f"{c}={v}")
    if row.get("start") is not None or row.get("end") is not None:
        s, e = row.get("start"), row.get("end")
        if not (pd.isna(s) and pd.isna(e)):
            parts.append(f"days {'' if pd.isna(s) else s}-{'' if pd.isna(e) else e}")
    return " ".join(parts)


@dataclass(frozen=True)
class OfferPlan(Result):
    """Which activity reaches which customer (客户-业务-渠道匹配方案).

    Attributes
    ----------
    assignments : DataFrame
        One row per contact: user_id, activity_id, value, p_response (sorted by user).
    objective : float
        Total value of the contacts.
    bound : float
        An upper bound on the value of any plan meeting every constraint (HiGHS's dual
        bound for ``exact``, the best Lagrangian bound for ``decompose``; NaN for ``greedy``,
        which proves none, and for a plan that misses a minimum).
    gap : float
        ``(bound - objective) / |bound|`` (NaN without a bound).
    constraints : DataFrame
        One row per constraint: kind, start, end, channels, services, bound, achieved,
        slack, shortfall, binding, ok (see :func:`dmkit.offers.check.constraint_table`).
    method : str
        ``exact``, ``decompose`` or ``greedy``.
    feasible : bool
        Every constraint holds. False only when a minimum cannot be met (``exact``: proved;
        ``decompose`` / ``greedy``: not reached); the plan then comes as close as it can and
        ``.constraints["shortfall"]`` says by how much each minimum is missed.
    activities : DataFrame
        The activities (activity_id, day, channel, services, cost).
    n_users, n_candidates : int
        Distinct customers and candidate contacts of the problem.
    iterations : int
        Multiplier updates (decompose), branch-and-bound nodes (exact), rounds (greedy).
    seconds : float
        Solve time.
    """

    assignments: pd.DataFrame
    objective: float
    bound: float
    gap: float
    constraints: pd.DataFrame
    method: str
    feasible: bool
    activities: pd.DataFrame
    n_users: int
    n_candidates: int
    iterations: int = 0
    seconds: float = 0.0

    @property
    def expected_sales(self) -> float:
        """Sum of p_response of the contacts (expected take-ups)."""
        return float(self.assignments["p_response"].sum())

    @property
    def shortfall(self) -> pd.DataFrame:
        """The constraints not met (empty when feasible)."""
        return self.constraints[~self.constraints["ok"]].reset_index(drop=True)

    def require_feasible(self) -> OfferPlan:
        """Return the plan, or raise :class:`InfeasiblePlanError` naming every unmet constraint."""
        if self.feasible:
            return self
        bad = self.shortfall
        what = "; ".join(f"constraints[{i}] ({_describe(r)}): bound {r['bound']:g}, achieved "
                         f"{r['achieved']:g}, short by {r['shortfall']:g}"
                         for i, r in zip(self.constraints.index[~self.constraints["ok"]], bad.to_dict("records"), strict=True))
        proof = "proved infeasible by HiGHS" if self.method == "exact" else f"not reached by {self.method}"
        raise InfeasiblePlanError(f"offer plan misses {len(bad)} constraint(s), {proof}: {what}. Fix: lower the "
                                  "minimum, widen its days, channels or services, or add candidates",
                                  shortfall=bad)

    def _contacts(self) -> pd.DataFrame:
        act = self.activities.set_index("activity_id")
        d = self.assignments.join(act[["day", "channel", "services", "cost"]], on="activity_id")
        d["service"] = d["services"].map(";".join)
        return d

    def with_candidates(self, candidates: pd.DataFrame, columns: list[str]) -> pd.DataFrame:
        """The assignments with columns taken from the candidate row each contact came from.

        Every contact is a candidate (one row per (user_id, activity_id) pair), so each is
        found by its pair: a sorted search over an int64 key, not a two-key merge over every
        candidate.

        Parameters
        ----------
        candidates : DataFrame
            The candidates the plan was built from: user_id, activity_id and ``columns``.
        columns : list of str
            Candidate columns to attach (e.g. service, channel, source).

        Returns
        -------
        DataFrame
            The assignments (same rows, same order) with ``columns`` added.

        Raises
        ------
        DmkitError
            A column is missing, a (user_id, activity_id) pair appears twice in the
            candidates, or a contact is not among them.
        """
        missing = [c for c in ["user_id", "activity_id", *columns] if c not in candidates.columns]
        if missing:
            raise DmkitError(f"candidates: missing column(s) {missing}; expected user_id, activity_id and {columns}")
        acts = pd.Index(self.activities["activity_id"].astype(str).unique())
        n_acts = max(len(acts), 1)
        users = candidates["user_id"]
        as_ints = (pd.api.types.is_integer_dtype(users) and len(users) > 0 and users.min() >= 0
                   and int(users.max()) < np.iinfo(np.int64).max // n_acts)
        user_index = None if as_ints else pd.Index(pd.unique(users.to_numpy()))

        def key(frame: pd.DataFrame) -> np.ndarray:
            code = label_positions(frame["activity_id"], acts)   # one lookup per category (or distinct id), then by code
            if user_index is not None:
                user = user_index.get_indexer(frame["user_id"].to_numpy())
            elif pd.api.types.is_integer_dtype(frame["user_id"]):
                user = frame["user_id"].to_numpy().astype("int64")
            else:
                user = np.full(len(frame), -1, dtype="int64")
            return np.where((code < 0) | (user < 0), -1, user * n_acts + code)

        cand_key = key(candidates)
        order = None if (cand_key[1:] >= cand_key[:-1]).all() else np.argsort(cand_key, kind="stable")
        sorted_key = cand_key if order is None else cand_key[order]
        if len(sorted_key) > 1 and (sorted_key[1:] == sorted_key[:-1]).any():
            raise DmkitError("candidates: a (user_id, activity_id) pair appears more than once; expected one row per pair")
        want = key(self.assignments)
        at = np.minimum(np.searchsorted(sorted_key, want), max(len(sorted_key) - 1, 0))
        found = (want >= 0) & (sorted_key[at] == want) if len(sorted_key) else np.zeros(len(want), bool)
        if not found.all():
            bad = self.assignments.loc[~found, ["user_id", "activity_id"]].iloc[0]
            raise DmkitError(f"candidates: {int((~found).sum())} contact(s) of the plan are not candidates, e.g. "
                             f"user_id {bad['user_id']} with activity_id {bad['activity_id']!r}; "
                             "pass the candidates the plan was built from")
        rows = at if order is None else order[at]
        return self.assignments.assign(**{c: candidates[c].array.take(rows) for c in columns})

    def contact_lists(self) -> dict[str, pd.DataFrame]:
        """One contact list per channel for the campaign systems.

        Returns
        -------
        dict of str to DataFrame
            channel -> DataFrame with user_id, service (the activity's services, ";"-joined),
            day, activity_id, sorted by day then user.
        """
        d = self._contacts()
        return {ch: g[["user_id", "service", "day", "activity_id"]].sort_values(["day", "user_id"], kind="stable")
                .reset_index(drop=True) for ch, g in d.groupby("channel", sort=True)}

    def by_channel(self) -> pd.DataFrame:
        """Contacts, value, expected sales and cost per channel."""
        d = self._contacts()
        out = d.groupby("channel").agg(contacts=("user_id", "size"), value=("value", "sum"),
                                       expected_sales=("p_response", "sum"), cost=("cost", "sum"))
        return out.sort_values("value", ascending=False)

    def to_frame(self) -> pd.DataFrame:
        """The assignments (a copy)."""
        return self.assignments.copy()

    def summary(self) -> Summary:
        """Objective, bound and gap; the constraints; contacts per channel."""
        overview = pd.DataFrame({"value": [self.method, self.feasible, self.objective, self.bound, self.gap,
                                           len(self.assignments), self.expected_sales, self.n_users,
                                           self.n_candidates, self.iterations, self.seconds]},
                                index=["method", "feasible", "objective", "bound", "gap", "contacts",
                                       "expected sales", "customers", "candidates", "iterations", "seconds"])
        notes = []
        if not self.feasible:
            notes.append("minimum(s) not met: " + ", ".join(f"constraints[{i}] short by {s:g}" for i, s in
                                                            self.constraints.loc[~self.constraints["ok"],
                                                                                 "shortfall"].items()))
        nb = int(self.constraints["binding"].sum()) if len(self.constraints) else 0
        notes.append(f"{nb} of {len(self.constraints)} constraints binding")
        return Summary(title=f"Offer plan ({self.method})", tables=(("overview", overview),
                       ("constraints", self.constraints), ("per channel", self.by_channel())),
                       notes=tuple(notes))

    def plot(self, ax=None):
        """Value per channel, split by service; the binding constraints in the title."""
        ax = get_ax(ax)
        d = self._contacts()
        if d.empty:
            ax.set_title("no contacts")
            return ax
        d = d.assign(service=d["services"].map(lambda s: s[0]))
        tab = d.pivot_table(index="channel", columns="service", values="value", aggfunc="sum", fill_value=0.0)
        tab = tab.loc[tab.sum(axis=1).sort_values().index]
        left = np.zeros(len(tab))
        top = tab.sum().sort_values(ascending=False).index[:8]
        rest = tab.drop(columns=top).sum(axis=1)
        for s in top:
            ax.barh(tab.index, tab[s], left=left, label=s)
            left += tab[s].to_numpy()
        if rest.abs().sum() > 0:
            ax.barh(tab.index, rest, left=left, label="other", color="lightgrey")
        ax.set_xlabel("expected value")
        ax.legend(title="service", fontsize=7)
        nb = int(self.constraints["binding"].sum()) if len(self.constraints) else 0
        ax.set_title(f"{self.method}: value {self.objective:,.0f}, gap {self.gap:.2%}, "
                     f"{nb} binding constraints" if np.isfinite(self.gap) else
                     f"{self.method}: value {self.objective:,.0f}, {nb} binding constraints")
        return ax
