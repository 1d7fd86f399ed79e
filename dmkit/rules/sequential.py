"""Time-ordered rules "A then B within a window" (Y7's 时序关联) from ``subscriptions`` or any
(user, item, time) log, counting each user's first time of an item or every occurrence (SPADE)."""
from __future__ import annotations

from dataclasses import dataclass, replace
from typing import Literal

import numpy as np
import pandas as pd

from dmkit._results import Result, Summary, get_ax
from dmkit._validation import check_choice, check_frame, check_scalar
from dmkit.errors import parameter_error, schema_error
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
        ``first`` to ``then`` among the counted users; ``median_gap`` in the time
        column's units when times are numbers); ``reverse_confidence`` (the confidence of
        ``then`` → ``first``, for reading the direction).
    window_days : float
        The window, in days for datetime times (in the time's units for numeric times;
        inf for no limit).
    n_users : int
        The user base the shares are taken of.
    occurrences : str
        "first" (each user's first time of an item) or "all" (every occurrence, SPADE).
    time_unit : str
        "days", or "time units" for numeric times: the unit of the window and the gaps.
    """

    rules: pd.DataFrame
    window_days: float
    n_users: int
    min_support: float
    min_confidence: float
    occurrences: str = "first"
    time_unit: str = "days"

    @property
    def gap_column(self) -> str:
        """``"median_gap_days"``, or ``"median_gap"`` for numeric times."""
        return "median_gap_days" if self.time_unit == "days" else "median_gap"

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
            rule=lambda d: d["first"].astype(str) + " → " + d["then"].astype(str))[
            ["rule", "count", "support", "confidence", "lift", self.gap_column, "reverse_confidence"]]
        overview = pd.DataFrame({"value": [self.n_users, self.window_days, self.min_support,
                                           self.min_confidence, len(self.rules), self.occurrences]},
                                index=["users", f"window ({self.time_unit})", "min_support", "min_confidence",
                                       "rules", "occurrences counted"])
        notes = () if len(self.rules) else ("no ordered pair reaches the thresholds",)
        return Summary(title="Sequential rules (时序关联)",
                       tables=(("overview", overview), (f"top {n} by lift", top)), notes=notes)

    def plot(self, ax=None, *, n: int = 15):
        """Horizontal bars of confidence for the top ``n`` pairs, labelled with the median gap."""
        ax = get_ax(ax)
        top = self.rules.head(n).iloc[::-1]
        labels = top["first"].astype(str) + " → " + top["then"].astype(str)
        ax.barh(labels, top["confidence"], color="tab:blue", label="A then B")
        ax.barh(labels, top["reverse_confidence"], color="tab:orange", alpha=0.6, label="B then A")
        unit = "d" if self.time_unit == "days" else ""
        for y, (c, g) in enumerate(zip(top["confidence"], top[self.gap_column], strict=True)):
            ax.text(c, y, f" {g:.0f} {unit}", va="center", fontsize=8)
        ax.set_xlabel(f"confidence within {self.window_days:.0f} {self.time_unit}")
        ax.legend(loc="lower right")
        return ax


def _window(window: object, *, numeric_time: bool) -> float:
    """The window in days (datetime times) or in the time column's units (numeric times); inf for None."""
    if window is None:
        return float("inf")
    if numeric_time:
        if isinstance(window, bool) or not isinstance(window, (int, float, np.integer, np.floating)) \
                or not window > 0:
            raise parameter_error("window", expected="a positive number in the time column's units (the times "
                                  "are numbers), or None for no limit", found=window)
        return float(window)
    try:
        td = pd.Timedelta(window)
    except (ValueError, TypeError) as err:
        raise parameter_error("window", expected="a duration such as '90D' or pd.Timedelta(days=90), "
                              "or None for no limit", found=window) from err
    if td <= pd.Timedelta(0):
        raise parameter_error("window", expected="a positive duration", found=window)
    return td / pd.Timedelta(days=1)


def _check_events(data: object, user: str, item: str, time: str, table: str) -> tuple[np.ndarray, bool]:
    """Check the (user, item, time) columns; return the times as int64/float64 and whether numeric."""
    check_frame(data, table=table, columns=[user, item, time])
    for col in (user, item, time):
        na = data[col].isna().to_numpy()
        if na.any():
            raise schema_error(table=table, column=col, expected="no missing values",
                               found=f"{int(na.sum())} missing", rows=list(data.index[na][:5]),
                               fix="drop or fill those rows first")
    t = data[time]
    if pd.api.types.is_datetime64_any_dtype(t):
        if isinstance(t.dtype, pd.DatetimeTZDtype):
            t = t.dt.tz_convert("UTC").dt.tz_localize(None)
        return t.to_numpy(dtype="datetime64[ns]").view(np.int64), False
    if pd.api.types.is_numeric_dtype(t) and not pd.api.types.is_bool_dtype(t):
        v = t.to_numpy(dtype=float)
        if not np.isfinite(v).all():
            raise schema_error(table=table, column=time, expected="finite times",
                               found=f"{int((~np.isfinite(v)).sum())} infinite")
        return v, True
    raise schema_error(table=table, column=time, expected="timestamps (datetime64) or numbers (event order)",
                       found=f"dtype {t.dtype}", fix=f"parse it first, e.g. pd.to_datetime(df[{time!r}])")


_CHUNK_ROWS = 10_000_000
"""Rows of (user, item, time) paired at a time by :func:`sequential` (whole users per chunk)."""


def _user_codes(users: pd.Series) -> np.ndarray:
    """Integer user codes >= 0: the ids shifted when they are compact integers, else factorized."""
    if pd.api.types.is_signed_integer_dtype(users.dtype) and len(users):
        v = users.to_numpy(dtype=np.int64)
        lo, hi = int(v.min()), int(v.max())
        if hi - lo < 4 * len(v) + 1024:
            return v - lo
    return pd.factorize(users)[0].astype(np.int64)


def _pairs(u: np.ndarray, code: np.ndarray, t: np.ndarray, k: int, win: float, *,
           first: bool) -> tuple[np.ndarray, np.ndarray]:
    """Pair codes (``a * k + b``) and gaps of every "a then b within ``win``" of rows sorted
    by user then time; with ``first=False`` one per user and pair, with its shortest gap."""
    pair_codes, gaps, pair_users = [], [], []
    i = np.flatnonzero(u[1:] == u[:-1])  # rows with a later row of the same user at offset 1
    d = 1
    while len(i):
        gap = t[i + d] - t[i]
        later = (gap > 0) & (gap <= win) & (code[i] != code[i + d])
        pair_codes.append(code[i[later]] * k + code[i[later] + d])
        gaps.append(gap[later])
        pair_users.append(u[i[later]])
        # rows sorted by time: once past the window, later offsets are further still
        i = i[gap <= win]
        d += 1
        i = i[i + d < len(u)]
        i = i[u[i + d] == u[i]]
    pc = np.concatenate(pair_codes) if pair_codes else np.empty(0, np.int64)
    gp = np.concatenate(gaps) if gaps else np.empty(0, t.dtype)
    if not first and len(pc):
        # one count per user and pair, with the user's shortest gap
        pu = np.concatenate(pair_users)
        short = pd.DataFrame({"u": pu, "pc": pc, "gap": gp}).groupby(["u", "pc"], sort=False)["gap"].min()
        pc = short.index.get_level_values("pc").to_numpy(dtype=np.int64)
        gp = short.to_numpy()
    return pc, gp


def _first_by_user_time(u: np.ndarray, code: np.ndarray, t: np.ndarray,
                        k: int) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """:func:`_user_time_order` with ``first`` for integer times, without sorting the times.

    Each user's first time of each item by one stable argsort of ``user * k + item`` (timsort
    runs on the table's own order) and a ``minimum.reduceat``: the rows come out grouped by
    user. They are then put in time order within each user by one argsort of a key packing
    the user above the time; when the two do not fit in 62 bits the time is coarsened by the
    fewest low bits that make them fit, and the order is checked on the exact times (the rows
    of a user with two in one coarse step the wrong way round are re-sorted exactly, alone).
    """
    g = u * k + code
    order = np.argsort(g, kind="stable")
    gs = g[order]
    del g
    starts = np.flatnonzero(np.concatenate(([True], gs[1:] != gs[:-1])))
    tf = np.minimum.reduceat(t[order], starts)
    del order
    gf = gs[starts]
    del gs, starts
    uf, cf = gf // k, gf % k
    del gf
    u0, t0 = int(uf[0]), int(tf.min())
    ub = (int(uf[-1]) - u0).bit_length()
    tb = (int(tf.max()) - t0).bit_length()
    shift = max(0, ub + tb - 62)
    key = uf - u0
    key <<= tb - shift
    key |= (tf - t0) >> shift
    order = np.argsort(key, kind="stable")
    del key
    us, ts = uf[order], tf[order]
    if shift:
        bad = (us[1:] == us[:-1]) & (ts[1:] < ts[:-1])
        if bad.any():  # only those users' rows (contiguous blocks, in user order) sorted exactly
            at = np.flatnonzero(np.isin(us, np.unique(us[1:][bad])))
            sub = order[at]
            order[at] = sub[np.lexsort((tf[sub], uf[sub]))]
            us, ts = uf[order], tf[order]
    return us, cf[order], ts


def _user_time_order(u: np.ndarray, code: np.ndarray, t: np.ndarray, k: int, *,
                     first: bool) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """The (user, item, time) rows kept for pairing, sorted by user then time.

    ``first``: each user's first time of each item; otherwise the distinct (user, item, time)
    rows. Users are integer codes (:func:`_user_codes`). The times are ranked by one stable
    argsort (a row's rank is its place in time order, ties in row order), so that one int64
    key orders by (user, item, time) and another by (user, time) whatever the resolution of
    the times (microsecond timestamps over years would not fit beside the user in 64 bits):
    three argsorts of int64 keys, no lexsort, no hashed group-by.
    Rows at the same time of one user come in no particular order (the pairing ignores
    them: a pair needs a positive gap).
    """
    n = len(t)
    if n == 0:
        return u, code, t
    if first and t.dtype.kind == "i":
        return _first_by_user_time(u, code, t, k)
    by_t = np.argsort(t, kind="stable")
    rank = np.empty(n, dtype=np.int64)
    rank[by_t] = np.arange(n, dtype=np.int64)
    del by_t
    g = u * k + code
    # temporaries dropped as soon as used: at 12M users these are ~100M-row int64 arrays
    if (int(g.max()) + 1) * n >= 2 ** 62:
        order = np.lexsort((rank, g))  # keys too wide for one int64
    else:
        key = g * n
        key += rank
        order = np.argsort(key, kind="stable")  # timsort: faster than quicksort on these keys
        del key
    gs = g[order]
    del g
    new = np.ones(n, dtype=bool)
    # first: the first row of each (user, item); all: the first of each (user, item, time)
    np.not_equal(gs[1:], gs[:-1], out=new[1:])
    del gs
    if not first:
        ts = t[order]  # equal times of one (user, item) are adjacent in this order
        new[1:] |= ts[1:] != ts[:-1]
        del ts
    keep = order[new]
    del order, new
    u, code, rank, t = u[keep], code[keep], rank[keep], t[keep]
    if (int(u.max()) + 1) * n >= 2 ** 62:
        order = np.lexsort((rank, u))
    else:
        key = u * n
        key += rank
        del rank
        order = np.argsort(key, kind="stable")
        del key
    return u[order], code[order], t[order]


def sequential(
    subscriptions: pd.DataFrame,
    *,
    window: str | pd.Timedelta | float | None = "90D",
    min_support: float,
    min_confidence: float = 0.0,
    min_lift: float | None = None,
    n_users: int | None = None,
    occurrences: Literal["first", "all"] = "first",
    user: str = "user_id",
    item: str = "service",
    time: str = "start",
) -> SequentialRules:
    """Time-ordered rules "A then B within ``window``" over users' event histories.

    Works on any table of (user, item, time) rows: the ``subscriptions`` table (the
    default columns user_id, service, start) or an operator's own log with item codes of
    its own (``item="product_code"``, ``time="order_time"``); nothing is checked against a
    catalog. Two ways to count (``occurrences``):

    * ``"first"`` (default): for each user and item the first time is taken. A user counts
      for A → B when B's first time falls after A's first time (strictly) and at most
      ``window`` later — "users who took A went on to take B", the reading of Y7's
      时序关联 (a user who already had B before A does not count).
    * ``"all"``: every occurrence counts, as SPADE (Zaki 2001) and R's arulesSequences
      do: a user counts for A → B when *some* occurrence of B falls strictly after *some*
      occurrence of A, at most ``window`` later. On SPADE's example database B → A has
      support 2 (``"first"`` gives 1: customer 1's first A and first B are simultaneous).

    In both a user counts once per pair (support is a share of users, as in SPADE), and
    ``n_first`` is the number of users who ever had A. Items at the same time are not
    ordered; A → A (a repeat) is not reported. Computed with sorted arrays: rows are sorted
    by user and time and each is paired with the later rows of the same user.

    Parameters
    ----------
    subscriptions : DataFrame
        One row per (user, item, time): the ``subscriptions`` table or any event log.
    window : str, Timedelta, number or None, default "90D"
        Longest gap from A to B: a duration such as ``"90D"`` for datetime times, a number
        in the time column's units for numeric times (event ids), None for no limit.
    min_support : float in (0, 1]
        Keep pairs done (A then B) by at least this share of users: ``count >=
        min_support * n_users`` on integer counts (1e-9 relative tolerance).
    min_confidence : float in [0, 1]
        Keep pairs with ``count >= min_confidence * n_first``.
    min_lift : float, optional
        Keep pairs with at least this lift.
    n_users : int, optional
        Size of the user base for support and base rates (default: the distinct users
        of the table; pass ``len(users)`` for shares of all subscribers).
    occurrences : {"first", "all"}, default "first"
        Count each user's first time of each item, or every occurrence (SPADE).
    user, item, time : str
        Column names (default ``user_id``, ``service``, ``start``). Users and items may be
        of any hashable type; times are datetime64 or numbers.

    Returns
    -------
    SequentialRules
        ``.rules`` columns: first, then, count, n_first, support, confidence,
        base_rate, lift, median_gap_days (``median_gap`` in the time's units for numeric
        times), reverse_confidence. With ``occurrences="all"`` a user's gap is the
        shortest from an A to a later B within the window.

    Raises
    ------
    SchemaError
        A missing column, missing values, times neither datetimes nor numbers.
    ParameterError
        A threshold, window or ``occurrences`` outside its range.
    """
    defaults = (user, item, time) == ("user_id", "service", "start")
    table = "subscriptions" if defaults else "events"
    t_all, numeric_time = _check_events(subscriptions, user, item, time, table)
    min_support = check_min_support(min_support)
    check_scalar(min_confidence, "min_confidence", low=0.0, high=1.0)
    check_scalar(min_lift, "min_lift", low=0.0, allow_none=True)
    check_choice(occurrences, "occurrences", ("first", "all"))
    w = _window(window, numeric_time=numeric_time)
    win = w if numeric_time else (np.inf if np.isinf(w) else int(round(w * 86400e9)))
    per_day = 1.0 if numeric_time else 86400e9

    codes, uniques = pd.factorize(subscriptions[item], sort=True)
    names = list(uniques)
    k = len(names)
    first = occurrences == "first"
    u_all = _user_codes(subscriptions[user])
    code_all = codes.astype(np.int64)
    # users in chunks of about _CHUNK_ROWS rows: the sort keys and pairs of one chunk at a time
    # (a user's rows are all in one chunk), so the temporaries do not grow with the province
    n_chunks = max(1, -(-len(u_all) // _CHUNK_ROWS))
    cuts = np.linspace(0, int(u_all.max()) + 1 if len(u_all) else 1, n_chunks + 1).astype(np.int64)
    pcs, gps, n_first, base_users = [], [], np.zeros(k, dtype=np.int64), 0
    for lo, hi in zip(cuts[:-1], cuts[1:], strict=True):
        sel = np.flatnonzero((u_all >= lo) & (u_all < hi)) if n_chunks > 1 else slice(None)
        u, code, t = _user_time_order(u_all[sel], code_all[sel], t_all[sel], k, first=first)
        base_users += int(np.count_nonzero(np.diff(u)) + 1) if len(u) else 0
        n_first += np.bincount(code, minlength=k) if first else np.bincount(np.unique(u * k + code) % k, minlength=k)
        pc, gp = _pairs(u, code, t, k, win, first=first)
        pcs.append(pc)
        gps.append(gp)
        del u, code, t, sel
    pc = np.concatenate(pcs)
    gp = np.concatenate(gps)
    if n_users is None:
        n_users = base_users
    check_scalar(n_users, "n_users", kind=int, low=max(1, base_users))
    counts = np.bincount(pc, minlength=k * k).reshape(k, k)

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
        med = pd.Series(gp[sel] / per_day).groupby(pc[sel]).median().reindex(want).to_numpy()
    gap_col = "median_gap" if numeric_time else "median_gap_days"
    item_names = np.empty(k, dtype=object)
    item_names[:] = names
    rules = pd.DataFrame({
        "first": item_names[a_idx],
        "then": item_names[b_idx],
        "count": counts[a_idx, b_idx].astype(np.int64),
        "n_first": n_first[a_idx].astype(np.int64),
        "support": support[a_idx, b_idx],
        "confidence": conf[a_idx, b_idx],
        "base_rate": base[b_idx],
        "lift": lift[a_idx, b_idx],
        gap_col: med,
        "reverse_confidence": conf[b_idx, a_idx],
    }, columns=[gap_col if c == "median_gap_days" else c for c in SEQ_COLUMNS])
    rules = rules.sort_values(["lift", "confidence"], ascending=False, kind="stable").reset_index(drop=True)
    return SequentialRules(rules=rules, window_days=w, n_users=int(n_users),
                           min_support=min_support, min_confidence=float(min_confidence),
                           occurrences=occurrences, time_unit="time units" if numeric_time else "days")
