"""Time-ordered rules "A then B within a window" (Y7's 时序关联) from ``subscriptions``."""
from __future__ import annotations

from dataclasses import dataclass, replace

import numpy as np
import pandas as pd

from dmkit import schema
from dmkit._results import Result, Summary, get_ax
from dmkit._validation import check_scalar
from dmkit.errors import parameter_error
from dmkit.rules.mining import check_min_support, reaches

__all__ = ["SequentialRules", "sequential"]

SEQ_COLUMNS = ("first", "then", "count", "n_first", "support", "confidence", "base_rate", "lift",
               "median_gap_days", "reverse_confidence")


@dataclass(frozen=True)
class SequentialRules(Result):
    """Rules "users who take ``first`` take ``then`` within ``window``".

    Attributes
    ----------
    rules : DataFrame
        One row per ordered pair, sorted by lift: ``first``, ``then``; ``count`` (users
        who started ``then`` within the window after their first ``first``); ``n_first``
        (users with ``first``); ``support`` (count / n_users); ``confidence``
        (count / n_first); ``base_rate`` (share of users who ever took ``then``);
        ``lift`` (confidence / base_rate); ``median_gap_days`` (median days from
        ``first`` to ``then`` among the counted users); ``reverse_confidence`` (the
        confidence of ``then`` → ``first``, for reading the direction).
    window_days : float
        The window.
    n_users : int
        The user base the shares are taken of.
    """

    rules: pd.DataFrame
    window_days: float
    n_users: int
    min_support: float
    min_confidence: float

    def to_frame(self) -> pd.DataFrame:
        """The rules table (a copy)."""
        return self.rules.copy()

    def pair(self, first: str, then: str) -> pd.Series | None:
        """The row of ``first`` → ``then``, or None if it did not reach the thresholds."""
        r = self.rules[(self.rules["first"] == first) & (self.rules["then"] == then)]
        return None if r.empty else r.iloc[0]

    def filter(self, *, first: str | None = None, then: str | None = None,
               min_lift: float | None = None) -> SequentialRules:
        """Rules from ``first`` and/or to ``then`` with at least ``min_lift``, as a new result."""
        r = self.rules
        keep = np.ones(len(r), dtype=bool)
        if first is not None:
            keep &= (r["first"] == first).to_numpy()
        if then is not None:
            keep &= (r["then"] == then).to_numpy()
        check_scalar(min_lift, "min_lift", low=0.0, allow_none=True)
        if min_lift is not None:
            keep &= (r["lift"] >= min_lift).to_numpy()
        return replace(self, rules=r[keep].reset_index(drop=True))

    def summary(self, n: int = 10) -> Summary:
        """Thresholds and the top ``n`` ordered pairs by lift."""
        top = self.rules.head(n).assign(
            rule=lambda d: d["first"] + " → " + d["then"])[
            ["rule", "count", "support", "confidence", "lift", "median_gap_days", "reverse_confidence"]]
        overview = pd.DataFrame({"value": [self.n_users, self.window_days, self.min_support,
                                           self.min_confidence, len(self.rules)]},
                                index=["users", "window (days)", "min_support", "min_confidence", "rules"])
        notes = () if len(self.rules) else ("no ordered pair reaches the thresholds",)
        return Summary(title="Sequential rules (时序关联)",
                       tables=(("overview", overview), (f"top {n} by lift", top)), notes=notes)

    def plot(self, ax=None, *, n: int = 15):
        """Horizontal bars of confidence for the top ``n`` pairs, labelled with the median gap."""
        ax = get_ax(ax)
        top = self.rules.head(n).iloc[::-1]
        labels = top["first"] + " → " + top["then"]
        ax.barh(labels, top["confidence"], color="tab:blue", label="A then B")
        ax.barh(labels, top["reverse_confidence"], color="tab:orange", alpha=0.6, label="B then A")
        for y, (c, g) in enumerate(zip(top["confidence"], top["median_gap_days"], strict=True)):
            ax.text(c, y, f" {g:.0f} d", va="center", fontsize=8)
        ax.set_xlabel(f"confidence within {self.window_days:.0f} days")
        ax.legend(loc="lower right")
        return ax


def _window_days(window: object) -> float:
    try:
        td = pd.Timedelta(window)
    except (ValueError, TypeError) as err:
        raise parameter_error("window", expected="a duration such as '90D' or pd.Timedelta(days=90)",
                              found=window) from err
    if td <= pd.Timedelta(0):
        raise parameter_error("window", expected="a positive duration", found=window)
    return td / pd.Timedelta(days=1)


def sequential(
    subscriptions: pd.DataFrame,
    *,
    window: str | pd.Timedelta = "90D",
    min_support: float,
    min_confidence: float = 0.0,
    min_lift: float | None = None,
    n_users: int | None = None,
) -> SequentialRules:
    """Time-ordered rules "A then B within ``window``" over users' first subscriptions.

    For each user and service the first ``start`` is taken. A user counts for A → B
    when B's first start falls after A's first start (strictly) and at most ``window``
    later. Computed with sorted arrays: users' first starts are sorted by user and
    time, and each subscription is paired with the later ones of the same user.

    Parameters
    ----------
    subscriptions : DataFrame
        The ``subscriptions`` table (user_id, service, start, ...).
    window : str or Timedelta
        Longest gap from A to B, e.g. ``"90D"``.
    min_support : float in (0, 1]
        Keep pairs with at least this share of users doing A then B.
    min_confidence : float in [0, 1]
        Keep pairs with at least this P(B within window after A | A).
    min_lift : float, optional
        Keep pairs with at least this lift.
    n_users : int, optional
        Size of the user base for support and base rates (default: the distinct users
        of ``subscriptions``; pass ``len(users)`` for shares of all subscribers).

    Returns
    -------
    SequentialRules
        ``.rules`` columns: first, then, count, n_first, support, confidence,
        base_rate, lift, median_gap_days, reverse_confidence.
    """
    schema.validate(subscriptions, "subscriptions")
    min_support = check_min_support(min_support)
    check_scalar(min_confidence, "min_confidence", low=0.0, high=1.0)
    check_scalar(min_lift, "min_lift", low=0.0, allow_none=True)
    w_days = _window_days(window)

    codes, uniques = pd.factorize(subscriptions["service"], sort=True)
    names = [str(u) for u in uniques]
    k = len(names)
    user = subscriptions["user_id"].to_numpy(dtype=np.int64)
    t = subscriptions["start"].to_numpy(dtype="datetime64[ns]").view(np.int64)
    code = codes.astype(np.int64)
    # first start per (user, service): a hashed group-by minimum
    firsts = pd.DataFrame({"g": user * k + code, "t": t}).groupby("g", sort=False)["t"].min()
    g = firsts.index.to_numpy(dtype=np.int64)
    user, code, t = g // k, g % k, firsts.to_numpy(dtype=np.int64)
    # sort by user then time (two stable sorts) and pair each row with the later rows of the user
    order = np.argsort(t, kind="stable")
    order = order[np.argsort(user[order], kind="stable")]
    user, code, t = user[order], code[order], t[order]
    base_users = int(np.count_nonzero(np.diff(user)) + 1) if len(user) else 0
    if n_users is None:
        n_users = base_users
    check_scalar(n_users, "n_users", kind=int, low=max(1, base_users))

    win_ns = int(w_days * 86400e9)
    pair_codes, gaps = [], []
    i = np.flatnonzero(user[1:] == user[:-1])  # rows with a later row of the same user at offset 1
    d = 1
    while len(i):
        gap = t[i + d] - t[i]
        later = (gap > 0) & (gap <= win_ns)
        pair_codes.append(code[i[later]] * k + code[i[later] + d])
        gaps.append(gap[later])
        d += 1
        i = i[i + d < len(user)]
        i = i[user[i + d] == user[i]]
    pc = np.concatenate(pair_codes) if pair_codes else np.empty(0, np.int64)
    gp = np.concatenate(gaps) if gaps else np.empty(0, np.int64)
    counts = np.bincount(pc, minlength=k * k).reshape(k, k)
    n_first = np.bincount(code, minlength=k)

    conf = counts / np.maximum(n_first, 1)[:, None]
    base = n_first / float(n_users)
    with np.errstate(divide="ignore", invalid="ignore"):
        lift = conf / base[None, :]
    support = counts / float(n_users)
    # thresholds on the integer counts (up to mining.REL_TOL): count >= min_support * n_users,
    # count >= min_confidence * n_first
    keep = reaches(counts, min_support, n_users) & reaches(counts, min_confidence, n_first[:, None])
    np.fill_diagonal(keep, False)
    if min_lift is not None:
        keep &= reaches(counts * float(n_users), min_lift, n_first[:, None] * n_first[None, :].astype(float))
    a_idx, b_idx = np.nonzero(keep)

    med = np.full(len(a_idx), np.nan)
    if len(a_idx):
        want = a_idx * k + b_idx
        sel = np.isin(pc, want)
        g = pd.Series(gp[sel] / 86400e9).groupby(pc[sel]).median()
        med = g.reindex(want).to_numpy()
    rules = pd.DataFrame({
        "first": np.asarray(names, dtype=object)[a_idx],
        "then": np.asarray(names, dtype=object)[b_idx],
        "count": counts[a_idx, b_idx].astype(np.int64),
        "n_first": n_first[a_idx].astype(np.int64),
        "support": support[a_idx, b_idx],
        "confidence": conf[a_idx, b_idx],
        "base_rate": base[b_idx],
        "lift": lift[a_idx, b_idx],
        "median_gap_days": med,
        "reverse_confidence": conf[b_idx, a_idx],
    }, columns=list(SEQ_COLUMNS))
    rules = rules.sort_values(["lift", "confidence"], ascending=False, kind="stable").reset_index(drop=True)
    return SequentialRules(rules=rules, window_days=w_days, n_users=int(n_users),
                           min_support=min_support, min_confidence=float(min_confidence))
