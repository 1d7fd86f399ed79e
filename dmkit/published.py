"""The decks' published tables as extracts (``data/published/``): J3's daily tables, G1's revenue lines, G4's counts.

Where a deck prints the inputs of a figure, the figure is recomputed from them the way a
real extract would go: the table is read from ``data/published/`` (provenance in its
README), turned into the contract's table (``contacts``: one row per target and step) and
handed to the same methods as the simulator's data (``dm.campaign.funnel``,
``dm.forecast.effective_revenue``). The deck's own arithmetic is checked on the way: a
printed total that its rows do not give is reported, not hidden (:func:`j3_discrepancies`).

* :func:`read` — one published table as a DataFrame (the CSV, checked).
* :func:`j3_contacts` — J3's step-1 and step-2 daily tables as a ``contacts`` log.
* :func:`j3_discrepancies` — printed vs recomputed figures of J3's step-1 table.
* :func:`g1_lines` — G1's 2008 revenue lines (100M yuan) as amounts by line.
* :func:`g4_contacts` — G4's hall and concert campaigns (covered, succeeded) as a ``contacts`` log.
* :func:`y5_outcomes` — Y5's three results (27.9 %, +10 MOU, +4 pp) by the deck's definitions on
  any usage panel covering June to September.

Example
-------
>>> import dmkit as dm
>>> contacts = dm.published.j3_contacts()              # 6.6M rows: 4,710,081 + 1,887,352
>>> dm.campaign.funnel(contacts).overall               # 1.79 %, 1.49 %, 81.3 %; step 2 1.68 %
>>> dm.published.j3_discrepancies()                    # the 10 June row, the unsubscribed total
"""
from __future__ import annotations

from pathlib import Path

import numpy as np
import pandas as pd

from dmkit import schema
from dmkit.errors import DataNotFoundError, parameter_error, schema_error

__all__ = [
    "FOLDER",
    "J3_CAMPAIGN",
    "TABLES",
    "g1_lines",
    "g4_contacts",
    "j3_contacts",
    "j3_discrepancies",
    "read",
    "Y5_PUBLISHED",
    "Y5_SUBSCRIPTIONS_COLUMNS",
    "Y5_USAGE_COLUMNS",
    "y5_outcomes",
]

FOLDER = Path(__file__).resolve().parent.parent / "data" / "published"
"""The repository's ``data/published/`` folder (README there gives each table's source)."""

J3_CAMPAIGN = "JS-2009-06-worldcup"
"""Campaign id of J3's log (the simulator's id for Jiangsu, June 2009)."""

TABLES: dict[str, tuple[str, ...]] = {
    "j3_step1_daily": ("date", "sent", "delivered", "replied", "subscribed", "unsubscribed",
                       "kept_cumulative_printed"),
    "j3_step2_daily": ("date", "sent", "subscribed"),
    "j3_stated": ("step", "figure", "value", "deck_text"),
    "g1_revenue_2008": ("line", "amount", "deck_text"),
    "g1_stated": ("figure", "value", "deck_text"),
    "g4_campaigns": ("campaign", "kind", "covered", "succeeded", "rate_printed", "deck_text"),
}
"""Published tables and their columns."""

_COUNT_COLUMNS = ("sent", "delivered", "replied", "subscribed", "unsubscribed", "kept_cumulative_printed",
                  "covered", "succeeded")
# J3 step 1 sends in three daily windows (9:30-12:00, 14:00-17:00, 18:00-21:00)
_WINDOWS = ((9.5, 12.0), (14.0, 17.0), (18.0, 21.0))


def read(name: str, *, folder: str | Path | None = None) -> pd.DataFrame:
    """One published table, read from ``<folder>/<name>.csv`` and checked.

    Parameters
    ----------
    name : str
        One of :data:`TABLES`.
    folder : str or Path, optional
        Default :data:`FOLDER`.

    Returns
    -------
    DataFrame
        The table's columns (:data:`TABLES`); counts as int64.

    Raises
    ------
    ParameterError
        Unknown table name.
    DataNotFoundError
        No such file.
    SchemaError
        A missing column, or a count that is not a whole number >= 0.
    """
    if name not in TABLES:
        raise parameter_error("name", expected=f"one of {sorted(TABLES)}", found=name)
    path = Path(FOLDER if folder is None else folder) / f"{name}.csv"
    if not path.is_file():
        raise DataNotFoundError(f"published table {name!r}: expected the file {str(path)!r}; it does not exist")
    df = pd.read_csv(path, dtype={"date": str, "line": str, "figure": str, "campaign": str})
    missing = [c for c in TABLES[name] if c not in df.columns]
    if missing:
        raise schema_error(table=name, column=missing[0], expected=f"columns {list(TABLES[name])}",
                           found=f"columns {list(df.columns)}", fix=f"edit {path}")
    for c in _COUNT_COLUMNS:
        if c in df.columns:
            v = pd.to_numeric(df[c], errors="coerce")
            bad = df.index[v.isna() | (v < 0) | (v != np.floor(v))].tolist()
            if bad:
                raise schema_error(table=name, column=c, expected="whole counts >= 0",
                                   found=f"{len(bad)} bad value(s)", rows=[{"row": i, c: df.at[i, c]} for i in bad])
            df[c] = v.astype("int64")
    return df


# ======================================================================================
# J3
# ======================================================================================

def _day(date: str) -> pd.Timestamp:
    return pd.Timestamp(date)


def _send_times(day: pd.Timestamp, n: int) -> np.ndarray:
    """``n`` send times spread evenly over the day's three windows (ns since epoch)."""
    hours = sum(b - a for a, b in _WINDOWS)
    t = np.arange(n, dtype=np.float64) / max(n, 1) * hours
    out = np.empty(n, dtype=np.float64)
    done = 0.0
    for a, b in _WINDOWS:
        sel = (t >= done) & (t < done + (b - a))
        out[sel] = a + (t[sel] - done)
        done += b - a
    secs = np.floor(out * 3600.0).astype(np.int64)
    return day.value + secs * 1_000_000_000


def j3_contacts(
    step1: pd.DataFrame | None = None,
    step2: pd.DataFrame | None = None,
    *,
    campaign_id: str = J3_CAMPAIGN,
    folder: str | Path | None = None,
) -> pd.DataFrame:
    """J3's two daily tables as one ``contacts`` log (one row per target and step).

    Step 1 (World Cup MMS, service ``monternet_mms``): each day's ``sent`` targets get
    send times spread over the three windows; the first ``delivered`` of them are
    delivered. A day's ``replied`` come from that day's delivered targets (the 10 and 11
    June replies, on days without sends, from 9 June's); the first ``subscribed`` of a
    day's repliers order (their reply is the valid one: the deck counts no valid replies
    apart, and says the failed replies were wrong numbers or full-width characters), and
    the first ``unsubscribed`` of the day's subscribers cancel that evening.
    Step 2 (随e邮, service ``mail_notify``): the targets are step 1's delivered
    non-responders (1,921,826 − 34,474 = 1,887,352, the deck's figure), sent in order on
    the four send days; all count as delivered (the deck gives no delivery count); each
    day's ``subscribed`` are the earliest-sent targets not yet subscribed, the reply
    ("K20") being the order; the "after 14 June" subscriptions are spread over 15–30 June.

    Which earlier day's target replied on a day without sends is not published; the
    assignment above is ours and changes no count of the deck's table.

    Parameters
    ----------
    step1, step2 : DataFrame, optional
        The daily tables (columns of :data:`TABLES`); default: read from ``folder``.
    campaign_id : str, default :data:`J3_CAMPAIGN`
    folder : str or Path, optional
        Where the published tables are (default :data:`FOLDER`).

    Returns
    -------
    DataFrame
        The ``contacts`` table (valid against :func:`dmkit.schema.validate`, built so
        rather than re-checked: 6.6 million rows), all rows in the ``target`` group.

    Raises
    ------
    SchemaError
        A day with more delivered than sent, replies without delivered targets to come
        from, more subscribed than replied, more unsubscribed than subscribed.
    """
    s1 = read("j3_step1_daily", folder=folder) if step1 is None else step1.copy()
    s2 = read("j3_step2_daily", folder=folder) if step2 is None else step2.copy()
    for name, df, cols in (("j3_step1_daily", s1, TABLES["j3_step1_daily"][:6]),
                           ("j3_step2_daily", s2, TABLES["j3_step2_daily"])):
        missing = [c for c in cols if c not in df.columns]
        if missing:
            raise schema_error(table=name, column=missing[0], expected=f"columns {list(cols)}",
                               found=f"columns {list(df.columns)}")
    for _, r in s1.iterrows():
        for hi, lo in (("sent", "delivered"), ("replied", "subscribed"), ("subscribed", "unsubscribed")):
            if r[lo] > r[hi]:
                raise schema_error(table="j3_step1_daily", column=lo, expected=f"{lo} <= {hi} on each day",
                                   found=f"{r[lo]:,} > {r[hi]:,}", rows=[{"date": r['date']}])

    # ---- step 1
    sent = s1["sent"].to_numpy(np.int64)
    n1 = int(sent.sum())
    day_of = np.repeat(np.arange(len(s1)), sent)
    first = np.concatenate([[0], np.cumsum(sent)[:-1]])          # first user of each send day
    pos = np.arange(n1) - first[day_of]                           # position within the day
    sent_at = np.empty(n1, dtype=np.int64)
    for d in np.flatnonzero(sent):
        sent_at[first[d]:first[d] + sent[d]] = _send_times(_day(s1["date"].iat[d]), int(sent[d]))
    delivered = pos < s1["delivered"].to_numpy(np.int64)[day_of]
    nat = np.iinfo(np.int64).min
    replied_at = np.full(n1, nat, dtype=np.int64)
    subscribed_at = np.full(n1, nat, dtype=np.int64)
    unsub_at = np.full(n1, nat, dtype=np.int64)
    send_days = np.flatnonzero(sent)
    taken = {int(d): 0 for d in send_days}                      # repliers already drawn from each day
    for r in range(len(s1)):
        k = int(s1["replied"].iat[r])
        if k == 0:
            continue
        src = int(r) if sent[r] else int(send_days[send_days < r].max()) if (send_days < r).any() else -1
        avail = int(s1["delivered"].iat[src]) - taken.get(src, 0) if src >= 0 else 0
        if k > avail:
            raise schema_error(table="j3_step1_daily", column="replied",
                               expected="replies that delivered targets of that day or an earlier one can give",
                               found=f"{k:,} replies, {max(avail, 0):,} delivered non-responders left",
                               rows=[{"date": s1['date'].iat[r]}])
        idx = first[src] + taken[src] + np.arange(k)
        taken[src] += k
        day = _day(s1["date"].iat[r])
        rep = sent_at[idx] + 600 * 1_000_000_000 if r == src else np.full(k, day.value + 12 * 3_600_000_000_000)
        replied_at[idx] = rep
        ks = int(s1["subscribed"].iat[r])
        subscribed_at[idx[:ks]] = rep[:ks] + 60 * 1_000_000_000
        ku = int(s1["unsubscribed"].iat[r])
        unsub_at[idx[:ku]] = day.value + (23 * 3600 + 59 * 60) * 1_000_000_000

    # ---- step 2: step 1's delivered non-responders
    targets = np.flatnonzero(delivered & (replied_at == nat)).astype(np.int32)
    sent2 = s2["sent"].to_numpy(np.int64)
    if int(sent2.sum()) > len(targets):
        raise schema_error(table="j3_step2_daily", column="sent",
                           expected=f"at most step 1's {len(targets):,} delivered non-responders",
                           found=f"{int(sent2.sum()):,} sends")
    n2 = int(sent2.sum())
    targets = targets[:n2]
    day2 = np.repeat(np.arange(len(s2)), sent2)
    first2 = np.concatenate([[0], np.cumsum(sent2)[:-1]])
    sent_at2 = np.empty(n2, dtype=np.int64)
    for d in np.flatnonzero(sent2):
        sent_at2[first2[d]:first2[d] + sent2[d]] = _send_times(_day(s2["date"].iat[d]), int(sent2[d]))
    sub2 = np.full(n2, nat, dtype=np.int64)
    ptr = 0
    cum_sent = np.cumsum(sent2)
    for r in range(len(s2)):
        k = int(s2["subscribed"].iat[r])
        if k == 0:
            continue
        label = str(s2["date"].iat[r])
        later = label.startswith("after")
        if ptr + k > int(cum_sent[r]):
            raise schema_error(table="j3_step2_daily", column="subscribed",
                               expected="subscriptions from targets already sent", found=f"{k:,} on {label}",
                               rows=[{"date": label}])
        idx = np.arange(ptr, ptr + k)
        ptr += k
        if later:   # "after 14 June": spread over 15-30 June, 12:00
            start = _day(label.split()[-1]) + pd.Timedelta(days=1)
            days = np.arange(k) * 16 // k
            sub2[idx] = start.value + days * 86_400_000_000_000 + 12 * 3_600_000_000_000
        elif sent2[r]:
            sub2[idx] = sent_at2[idx] + 600 * 1_000_000_000 if (day2[idx] == r).all() else \
                _day(label).value + 12 * 3_600_000_000_000
        else:
            sub2[idx] = _day(label).value + 12 * 3_600_000_000_000
        sub2[idx] = np.maximum(sub2[idx], sent_at2[idx] + 60 * 1_000_000_000)
    # one frame from whole columns (no per-step frames to concatenate, no string column to
    # convert): built valid against the contract, which the tests check with schema.validate.
    # The four times are written into one (4, n) block that the frame takes as it is: a frame
    # of separate datetime columns is consolidated (stacked, then re-sorted) on construction
    # and again on its first row selection, most of this call's time (6.6 million rows).
    n = n1 + n2
    times = ("sent_at", "replied_at", "subscribed_at", "unsubscribed_at")
    block = np.empty((len(times), n), dtype=np.int64)
    for row, (a, b) in enumerate(((sent_at, sent_at2), (replied_at, sub2), (subscribed_at, sub2),
                                  (unsub_at, None))):
        block[row, :n1] = a
        block[row, n1:] = nat if b is None else b
    frame = pd.DataFrame(block.view("datetime64[ns]").T, columns=list(times), copy=False)
    cols = {
        "user_id": np.concatenate([np.arange(n1, dtype=np.int32), targets]),
        "step": np.repeat(np.array([1, 2], np.int8), [n1, n2]),
        "service": pd.Categorical.from_codes(np.repeat(np.array([0, 1], np.int8), [n1, n2]),
                                             categories=["monternet_mms", "mail_notify"]),
        "delivered": np.concatenate([delivered, np.ones(n2, bool)]),
        "reply_valid": np.concatenate([subscribed_at != nat, sub2 != nat]),
        "campaign_id": pd.Categorical.from_codes(np.zeros(n, np.int8), categories=[campaign_id]),
        "group": pd.Categorical.from_codes(np.zeros(n, np.int8), categories=["target"]),
    }
    order = [c.name for c in schema.COLUMNS["contacts"]]
    for i, name in enumerate(order):
        if name in cols:
            frame.insert(i, name, cols.pop(name))
    return frame


def j3_discrepancies(step1: pd.DataFrame | None = None, stated: pd.DataFrame | None = None, *,
                     folder: str | Path | None = None) -> pd.DataFrame:
    """Printed vs recomputed figures of J3's step-1 table (the deck's own arithmetic).

    Returns
    -------
    DataFrame
        One row per figure: ``figure``, ``printed``, ``recomputed`` (from the table's rows),
        ``difference`` (recomputed − printed) and ``agrees`` (equal, or equal once rounded
        to the printed precision for rates). Rows: the kept cumulative of each date
        (previous kept + subscribed − unsubscribed), the unsubscribed, subscribed and kept
        totals, the response, subscription and retention rates.
    """
    s1 = read("j3_step1_daily", folder=folder) if step1 is None else step1
    st = read("j3_stated", folder=folder) if stated is None else stated
    st1 = st[st["step"] == 1].set_index("figure")["value"].astype(float)
    rows = []
    kept = (s1["subscribed"] - s1["unsubscribed"]).cumsum()
    for d, printed, re in zip(s1["date"], s1["kept_cumulative_printed"], kept, strict=True):
        rows.append((f"kept cumulative {d}", float(printed), float(re), 0))
    tot = {"subscribed": float(s1["subscribed"].sum()), "unsubscribed": float(s1["unsubscribed"].sum()),
           "kept": float(kept.iat[-1]), "delivered": float(s1["delivered"].sum())}
    for f in ("subscribed", "unsubscribed", "kept", "delivered"):
        if f in st1:
            rows.append((f"{f} total", float(st1[f]), tot[f], 0))
    rates = {"response_rate": s1["replied"].sum() / tot["delivered"],
             "subscription_rate": tot["subscribed"] / tot["delivered"], "retention": tot["kept"] / tot["subscribed"]}
    for f, v in rates.items():
        if f in st1:
            digits = len(repr(float(st1[f])).split(".")[-1])
            rows.append((f, float(st1[f]), float(v), digits))
    out = pd.DataFrame(rows, columns=["figure", "printed", "recomputed", "digits"])
    out["difference"] = out["recomputed"] - out["printed"]
    out["agrees"] = [round(r, d) == p if d else r == p for p, r, d in
                     zip(out["printed"], out["recomputed"], out["digits"], strict=True)]
    return out.drop(columns="digits")


# ======================================================================================
# G1, G4
# ======================================================================================

def g1_lines(*, folder: str | Path | None = None) -> pd.Series:
    """G1's 2008 revenue lines (100M yuan) as amounts by line.

    Returns
    -------
    Series
        operating, new_business, data_vas, promo (the promotional packages' revenue),
        promo_effective (its effective part, 0.97, by the deck's two rules); index ``line``.
    """
    df = read("g1_revenue_2008", folder=folder)
    return pd.Series(df["amount"].to_numpy(float), index=pd.Index(df["line"], name="line"), name="amount")


_G4_SERVICE = {"hall": "game_together", "concert": "crbt"}


def g4_contacts(*, folder: str | Path | None = None) -> pd.DataFrame:
    """G4's campaigns (hall-area game push, concert-linked ringtones) as a ``contacts`` log.

    One row per covered customer and campaign (``campaign_id`` = the table's ``campaign``),
    delivered; the first ``succeeded`` of them subscribed (service ``game_together`` for
    the hall campaign, ``crbt`` for the concerts). The deck gives no dates: sends are put
    on 2008-11-01 and take-up a day later. ``dm.campaign.funnel(...).overall`` gives the
    success rates (subscription_rate).
    """
    df = read("g4_campaigns", folder=folder)
    parts = []
    start = 0
    sent_at = pd.Timestamp("2008-11-01 10:00").value
    for r in df.itertuples(index=False):
        n, k = int(r.covered), int(r.succeeded)
        if k > n:
            raise schema_error(table="g4_campaigns", column="succeeded", expected="succeeded <= covered",
                               found=f"{k:,} > {n:,}", rows=[{"campaign": r.campaign}])
        sub = np.full(n, np.iinfo(np.int64).min, dtype=np.int64)
        sub[:k] = sent_at + 86_400_000_000_000
        parts.append(pd.DataFrame({
            "campaign_id": r.campaign, "user_id": np.arange(start, start + n, dtype=np.int32),
            "step": np.ones(n, np.int8), "service": _G4_SERVICE.get(r.kind, "crbt"), "group": "target",
            "sent_at": np.full(n, sent_at, np.int64), "delivered": np.ones(n, bool),
            "replied_at": sub, "reply_valid": sub != np.iinfo(np.int64).min, "subscribed_at": sub,
            "unsubscribed_at": np.full(n, np.iinfo(np.int64).min, np.int64)}))
        start += n
    out = pd.concat(parts, ignore_index=True)
    for c in ("sent_at", "replied_at", "subscribed_at", "unsubscribed_at"):
        out[c] = out[c].to_numpy().view("datetime64[ns]")
    for c in ("campaign_id", "service", "group"):
        out[c] = out[c].astype("category")
    out = out[[c.name for c in schema.COLUMNS["contacts"]]]
    schema.validate(out, "contacts")
    return out


# ======================================================================================
# Y5
# ======================================================================================

Y5_PUBLISHED: dict[str, float] = {"silent_sms_penetration": 0.279, "middle_mou_rise_min": 10.0,
                                  "high_mou_fetion_rise": 0.04}
"""Y5's results June -> September (seed 002): P2P SMS penetration among customers silent for
three months 27.9 %; SMS MOU up more than 10 messages in every middle group; Fetion
penetration among high-MOU customers up about 4 percentage points."""


Y5_USAGE_COLUMNS: tuple[str, ...] = ("user_id", "month", "sms_p2p", "arpu")
"""The ``usage`` columns :func:`y5_outcomes` reads (and checks)."""
Y5_SUBSCRIPTIONS_COLUMNS: tuple[str, ...] = ("user_id", "service", "start", "end")
"""The ``subscriptions`` columns :func:`y5_outcomes` reads (and checks)."""


def y5_outcomes(usage: pd.DataFrame, subscriptions: pd.DataFrame, *, start: str, end: str,
                low: float = 50, high: float = 200, spend_bins: tuple[float, ...] = (50, 150)) -> pd.DataFrame:
    """Y5's three outcomes by the deck's definitions, from ``start`` (the campaign's first
    month, June) to ``end`` (September).

    * silent_sms_penetration: among customers with no P2P SMS in each of the three months
      before ``start`` (连续三个月沉默客户), the share who sent P2P SMS in ``end``;
    * middle_mou_rise_min: the middle SMS groups are the users with ``low`` <= P2P SMS <
      ``high`` in ``start`` (V's 50-200 row), one group per spend bin (0-50, 50-150, 150+
      yuan); the rise of each group's mean P2P SMS (MOU) from ``start`` to ``end``; the
      figure is the smallest rise (the deck: every group rose by more than 10);
    * high_mou_fetion_rise: among users with P2P SMS >= ``high`` in ``start``, Fetion holders
      at the end of ``end`` minus at the end of ``start`` (share of the group).

    Only :data:`Y5_USAGE_COLUMNS` of ``usage`` and :data:`Y5_SUBSCRIPTIONS_COLUMNS` of
    ``subscriptions`` are read and checked against the contract: a projected read of the
    panel (``panel.read("usage", columns=Y5_USAGE_COLUMNS)``) is enough.

    Returns
    -------
    DataFrame
        Index figure; columns value, published, users (the group's size), definition.

    Raises
    ------
    SchemaError
        The panel does not cover the three months before ``start`` through ``end``.
    """
    # only the columns read are checked: a projected read of the panel is enough
    schema.validate(usage, "usage", check_keys=False, columns=list(Y5_USAGE_COLUMNS))
    schema.validate(subscriptions, "subscriptions", check_keys=False, columns=list(Y5_SUBSCRIPTIONS_COLUMNS))
    p0, p1 = pd.Period(start, freq="M"), pd.Period(end, freq="M")
    need = [str(m) for m in pd.period_range(p0 - 3, p1, freq="M")]
    # numpy on factorized users and months (the panel has n_users x n_months rows: no pivot)
    m_codes, m_uniq = pd.factorize(usage["month"])
    m_names = pd.Index(m_uniq).astype(str)
    have = set(m_names)
    missing = [m for m in need if m not in have]
    if missing:
        raise schema_error(table="usage", column="month", expected=f"the months {need[0]}..{need[-1]}",
                           found=f"no rows for {missing}", fix="generate or extract a longer panel (n_months)")
    u_codes, u_uniq = pd.factorize(usage["user_id"], sort=True)  # users in id order
    n_u = len(u_uniq)
    sms = usage["sms_p2p"].to_numpy(dtype=np.float64)

    def month_sum(m: str) -> tuple[np.ndarray, np.ndarray]:
        """Each user's P2P SMS in month m and whether the user has a row in it."""
        rows = m_codes == m_names.get_loc(m)
        c = u_codes[rows]
        return np.bincount(c, weights=sms[rows], minlength=n_u), np.bincount(c, minlength=n_u) > 0

    before = [str(m) for m in pd.period_range(p0 - 3, p0 - 1, freq="M")]
    silent = np.ones(n_u, dtype=bool)  # none in each of the three months (no row counts as none)
    for m in before:
        silent &= month_sum(m)[0] == 0
    sms_end, has_end = month_sum(end)
    sms_start, has_start = month_sum(start)
    pen = float((sms_end[silent] > 0).mean()) if silent.any() else float("nan")
    at_start = m_codes == m_names.get_loc(start)
    first_sms = usage["sms_p2p"].to_numpy()[at_start]
    first_user = u_codes[at_start]
    mid = (first_sms >= low) & (first_sms < high)
    bins = np.digitize(usage["arpu"].to_numpy()[at_start][mid], spend_bins)
    mid_users = first_user[mid]
    rises = []
    for b in range(len(spend_bins) + 1):
        ids = mid_users[bins == b]
        if len(ids):  # means over the group's users with a row in the month
            e, s = ids[has_end[ids]], ids[has_start[ids]]
            rises.append(float(sms_end[e].mean() - sms_start[s].mean()))
    n_mid = int(mid.sum())
    heavy = u_uniq[first_user[first_sms >= high]]
    fet = subscriptions[(subscriptions["service"] == "fetion").to_numpy(dtype=bool)]
    f_start = fet["start"].to_numpy(dtype="datetime64[ns]")
    f_end = fet["end"].to_numpy(dtype="datetime64[ns]")
    f_user = fet["user_id"].to_numpy()

    def fetion_share(month: str) -> float:
        t = np.datetime64((pd.Period(month, freq="M") + 1).to_timestamp(), "ns")
        on = (f_start < t) & (np.isnat(f_end) | (f_end >= t))
        return float(np.isin(heavy, f_user[on]).mean()) if len(heavy) else float("nan")

    rows = [
        ("silent_sms_penetration", pen, int(silent.sum()),
         f"share with P2P SMS in {end} among users with none in {before[0]}..{before[-1]}"),
        ("middle_mou_rise_min", min(rises) if rises else float("nan"), n_mid,
         f"smallest rise {start}->{end} of mean P2P SMS over the {low:g}-{high:g} SMS groups by spend bin"),
        ("high_mou_fetion_rise", fetion_share(end) - fetion_share(start), len(heavy),
         f"Fetion holders' share {end} minus {start} among users with >= {high:g} SMS in {start}"),
    ]
    out = pd.DataFrame(rows, columns=["figure", "value", "users", "definition"]).set_index("figure")
    out.insert(1, "published", pd.Series(Y5_PUBLISHED))
    return out
