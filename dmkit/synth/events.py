"""Download events: one row per download, consistent with ``usage.music_downloads``.

Genre: the user's preferred genre with probability GENRE_LOYALTY, otherwise any genre.
Channel: the user's preferred channel with probability CHANNEL_LOYALTY, otherwise sms /
wap / web / ivr. Each content item belongs to one SP. Chart-boosting SPs add bursts: a
few users download three of the SP's items dozens of times within three hours.
"""
from __future__ import annotations

import numpy as np
import pandas as pd

from dmkit import catalog
from dmkit.synth.calendar import DAY_NS, month_start

__all__ = ["draw_events", "GENRE_LOYALTY", "CHANNEL_LOYALTY"]

GENRE_LOYALTY = 0.75
CHANNEL_LOYALTY = 0.7
ITEMS_PER_GENRE = 1000
_EVENT_CHANNELS = ("sms", "wap", "web", "ivr")


def draw_events(rng: np.random.Generator, *, months: list[str], downloads: np.ndarray,
                genre_pref: np.ndarray, channel_pref: np.ndarray, sp_plan) -> pd.DataFrame:
    """Events for every month of the panel (``downloads`` is month-major, length n*n_months).

    Returns the events frame; adds the boosters' downloads to ``downloads`` in place.
    """
    n = len(genre_pref)
    n_g = len(catalog.GENRES)
    n_items = n_g * ITEMS_PER_GENRE
    item_sp = np.minimum(np.searchsorted(np.cumsum(sp_plan.weights), rng.random(n_items)),
                         len(sp_plan.weights) - 1).astype(np.int16)
    # each chart-boosting SP owns three pop items near the top of the chart
    boost_items = np.arange(5, 5 + 3 * len(sp_plan.boosting)).reshape(-1, 3)
    for k, s in enumerate(sp_plan.boosting):
        item_sp[boost_items[k]] = s
    n_months = len(months)
    # chart boosting bursts in the data month
    boost_users = np.flatnonzero(sp_plan.booster_sp >= 0)
    n_b = rng.integers(40, 90, len(boost_users)).astype(np.int16)
    downloads[(n_months - 1) * n + boost_users] += n_b

    parts = []
    chan_codes = np.array([catalog.CHANNELS.index(c) for c in _EVENT_CHANNELS], dtype=np.int8)
    for k, m in enumerate(months):
        cnt = downloads[k * n:(k + 1) * n].astype(np.int64)
        if k == n_months - 1:
            cnt[boost_users] -= n_b
        users = np.repeat(np.arange(n, dtype=np.int32), cnt)
        total = len(users)
        if total == 0:
            continue
        first = np.repeat(np.cumsum(cnt) - cnt, cnt)
        rank = np.arange(total, dtype=np.int64) - first
        u = rng.random((3, total), dtype=np.float32)
        genre = np.where(u[0] < GENRE_LOYALTY, genre_pref[users],
                         rng.integers(0, n_g, total, dtype=np.int8)).astype(np.int8)
        item = (genre.astype(np.int32) * ITEMS_PER_GENRE
                + np.floor(ITEMS_PER_GENRE * u[1] ** 3).astype(np.int32))
        channel = np.where(u[2] < CHANNEL_LOYALTY, channel_pref[users],
                           chan_codes[rng.integers(0, len(chan_codes), total)]).astype(np.int8)
        t0 = month_start(m).astype(np.int64)
        days = _days_in(m)
        secs = (rng.random(total) * days * 86_400).astype(np.int64)
        ts = t0 + secs * 10**9 + rank * 1000  # distinct microseconds per user and second
        parts.append((users, ts, item, genre, channel, item_sp[item]))
    if len(boost_users):
        parts.append(_bursts(rng, months[-1], boost_users, n_b, sp_plan, boost_items))
    parts = [list(p) for p in parts]
    cols = []
    for i in range(6):
        cols.append(np.concatenate([p[i] for p in parts]))
        for p in parts:
            p[i] = None
    return pd.DataFrame({
        "user_id": cols[0],
        "ts": cols[1].view("datetime64[ns]"),
        "content_id": cols[2],
        "genre": pd.Categorical.from_codes(cols[3], categories=list(catalog.GENRES)),
        "channel": pd.Categorical.from_codes(cols[4], categories=list(catalog.CHANNELS)),
        "sp_id": pd.Categorical.from_codes(cols[5], categories=list(sp_plan.sp_ids)),
    }, copy=False)


def _days_in(month: str) -> int:
    m = np.datetime64(month, "M")
    return int(((m + 1).astype("datetime64[D]") - m.astype("datetime64[D]")).astype(int))


def _bursts(rng, month, users, n_b, sp_plan, boost_items):
    """Booster rows: three items of the booster's SP, within 3 hours of one day."""
    cnt = n_b.astype(np.int64)
    uu = np.repeat(users.astype(np.int32), cnt)
    total = len(uu)
    first = np.repeat(np.cumsum(cnt) - cnt, cnt)
    rank = np.arange(total, dtype=np.int64) - first
    k = np.repeat(sp_plan.booster_sp[users].astype(np.int64), cnt)
    item = boost_items[k, rng.integers(0, 3, total)].astype(np.int32)
    genre = (item // ITEMS_PER_GENRE).astype(np.int8)
    day = rng.integers(0, _days_in(month), len(users))
    t_user = month_start(month).astype(np.int64) + day * DAY_NS + np.int64(20 * 3600 * 10**9)
    ts = (np.repeat(t_user, cnt) + (rng.random(total) * 3 * 3600).astype(np.int64) * 10**9
          + 500_000_000 + rank * 1000)  # half a second after the same second's regular downloads
    channel = np.full(total, catalog.CHANNELS.index("wap"), dtype=np.int8)
    sp = sp_plan.boosting[k].astype(np.int16)
    return uu, ts, item, genre, channel, sp
