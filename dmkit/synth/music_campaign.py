"""Case M's own campaign: a randomised music offer to M's four segments, answered by planted weights.

The wireless-music deck decides, per segment, what to recommend (推荐内容), how many items
(推荐数量), when (推荐时间) and through which channel (推荐渠道), then feeds the responses
back to change the model's key weights (改变模式关键值权重). This plants such a campaign
on a simulated province, in the data month, apart from J3's World Cup campaign:

* segments: M's four, given by the operator's segmentation (e.g.
  :func:`dmkit.offer_design.m_segments`: music holders who downloaded more than the
  holders' median this month — loyal 忠诚 —, up to it — familiar and proactive —, none —
  needs activation —; CRBT holders without music — inclined, needs experience);
* ``share`` of each segment is offered the full-song product (``full_song``) on day ``day``
  in one of 36 cells drawn at random: content (the user's genre / the chart), items (1, 3,
  5), slot (morning 10-12 h / evening 19-21 h), channel (sms, wap_push, ivr). Each cell is
  its own campaign code, ``<code>-<month>-music|<channel>|<content>|<items>|<slot>``, as an
  operator's campaign system writes one code per treatment cell;
* a delivered offer is taken up with ``logit p = base[segment] + weights[segment] . x``
  (treatment coding: chart, 1 item, morning, sms are the baselines) — :data:`WEIGHTS`,
  returned as the truth with each segment's best cell.
"""
from __future__ import annotations

from dataclasses import dataclass, field
from itertools import product

import numpy as np
import pandas as pd

from dmkit import schema
from dmkit.errors import parameter_error

__all__ = ["BASE", "CELLS", "LEVELS", "SEGMENTS", "WEIGHTS", "MusicCampaign", "music_campaign"]

SEGMENTS: tuple[str, ...] = ("loyal", "familiar", "activation", "inclined")
LEVELS: dict[str, tuple] = {"content": ("chart", "genre"), "items": (1, 3, 5), "slot": ("morning", "evening"),
                            "channel": ("sms", "wap_push", "ivr")}
"""Factors of the offer and their levels (the first level of each is the baseline)."""
CELLS = list(product(*LEVELS.values()))
BASE: dict[str, float] = {"loyal": -1.2, "familiar": -1.7, "activation": -2.0, "inclined": -2.2}
"""Log-odds of take-up in the baseline cell (chart, 1 item, morning, sms), per segment."""
WEIGHTS: dict[str, dict[str, float]] = {   # effect of each non-baseline level on the log-odds
    "loyal":      {"content=genre": 0.6, "items=3": 0.3, "items=5": 0.6, "slot=evening": 0.4,
                   "channel=wap_push": 0.5, "channel=ivr": -0.3},
    "familiar":   {"content=genre": 0.6, "items=3": 0.5, "items=5": 0.2, "slot=evening": 0.4,
                   "channel=wap_push": 0.3, "channel=ivr": -0.2},
    "activation": {"content=genre": 0.4, "items=3": -0.3, "items=5": -0.6, "slot=evening": -0.4,
                   "channel=wap_push": -0.3, "channel=ivr": 0.5},
    "inclined":   {"content=genre": 0.9, "items=3": 0.3, "items=5": -0.2, "slot=evening": 0.4,
                   "channel=wap_push": 0.0, "channel=ivr": -0.4},
}
"""The planted key weights (log-odds), per segment."""
DELIVERY = 0.92
SLOT_HOURS = {"morning": (10.0, 12.0), "evening": (19.0, 21.0)}
SERVICE = "full_song"


def _x(cell: tuple) -> dict[str, float]:
    content, items, slot, channel = cell
    return {"content=genre": float(content == "genre"), "items=3": float(items == 3), "items=5": float(items == 5),
            "slot=evening": float(slot == "evening"), "channel=wap_push": float(channel == "wap_push"),
            "channel=ivr": float(channel == "ivr")}


def _logit(segment: str, cell: tuple) -> float:
    x = _x(cell)
    return BASE[segment] + sum(WEIGHTS[segment][k] * v for k, v in x.items())


@dataclass(frozen=True)
class MusicCampaign:
    """The planted music campaign: ``contacts`` (the contract's table, one campaign code per
    cell), ``segments`` (the segmentation it was planned on), ``truth`` (base, weights, each segment's best
    cell and its take-up probability, the design)."""

    contacts: pd.DataFrame
    segments: pd.Series
    truth: dict = field(default_factory=dict)


def music_campaign(pdata, segments: pd.Series, *, seed: int = 0, share: float = 0.5, day: int = 15) -> MusicCampaign:
    """Plant M's music campaign on a simulated (or loaded) province, in its data month.

    Parameters
    ----------
    pdata : ProvinceData
        ``meta['month']`` (the data month) and the J3 campaign's code prefix are used.
    segments : Series
        Segment of each user (index user_id): users in :data:`SEGMENTS` are offered; the
        planted response law of each segment is :data:`BASE` and :data:`WEIGHTS`.
    seed : int, default 0
    share : float, default 0.5
        Share of each segment offered.
    day : int, default 15
        Day of the data month the offers go out.

    Returns
    -------
    MusicCampaign
    """
    if not 0 < share <= 1:
        raise parameter_error("share", expected="a share in (0, 1]", found=share)
    month = str(pdata.meta.get("month") or pdata.usage["month"].astype(str).max())
    ids = pdata.contacts["campaign_id"].astype(str) if len(pdata.contacts) else pd.Series([], dtype=str)
    code = ids.iat[0].split("-")[0] if len(ids) else str(pdata.meta.get("province", "XX"))[:2].upper()
    if not isinstance(segments, pd.Series):
        raise parameter_error("segments", expected="a Series of segments indexed by user_id",
                              found=type(segments).__name__)
    segs = segments
    rng = np.random.default_rng([int(seed), 20_09])
    rows = []
    for name in SEGMENTS:
        users = segs.index[segs.to_numpy() == name].to_numpy()
        k = int(round(share * len(users)))
        if k == 0:
            continue
        chosen = np.sort(rng.choice(users, size=k, replace=False))
        cell_idx = rng.integers(0, len(CELLS), size=k)
        p = 1 / (1 + np.exp(-np.array([_logit(name, c) for c in CELLS])))[cell_idx]
        delivered = rng.random(k) < DELIVERY
        took = delivered & (rng.random(k) < p)
        rows.append(pd.DataFrame({"user_id": chosen, "cell": cell_idx, "delivered": delivered, "took": took,
                                  "u_sent": rng.random(k), "u_lag": rng.random(k)}))
    d = pd.concat(rows, ignore_index=True)
    cells = [CELLS[i] for i in d["cell"]]
    day0 = pd.Timestamp(f"{month}-{day:02d}")
    lo = np.array([SLOT_HOURS[c[2]][0] for c in cells])
    hi = np.array([SLOT_HOURS[c[2]][1] for c in cells])
    sent = day0 + pd.to_timedelta(np.floor((lo + (hi - lo) * d["u_sent"].to_numpy()) * 3600), unit="s")
    took_at = sent + pd.to_timedelta(np.floor(d["u_lag"].to_numpy() * 48 * 3600), unit="s")
    took_at = pd.Series(took_at).where(d["took"].to_numpy())
    ids = [f"{code}-{month}-music|{c[3]}|{c[0]}|{c[1]}|{c[2]}" for c in cells]
    contacts = pd.DataFrame({
        "campaign_id": pd.Categorical(ids), "user_id": d["user_id"].to_numpy(np.int32), "step": np.ones(len(d), np.int8),
        "service": pd.Categorical([SERVICE] * len(d)), "group": pd.Categorical(["target"] * len(d)),
        "sent_at": sent.to_numpy(), "delivered": d["delivered"].to_numpy(), "replied_at": took_at.to_numpy(),
        "reply_valid": d["took"].to_numpy(), "subscribed_at": took_at.to_numpy(),
        "unsubscribed_at": pd.Series(pd.NaT, index=d.index, dtype="datetime64[ns]").to_numpy(),
    })
    contacts = contacts[[c.name for c in schema.COLUMNS["contacts"]]]
    schema.validate(contacts, "contacts")
    best = {}
    for name in SEGMENTS:
        lg = np.array([_logit(name, c) for c in CELLS])
        b = CELLS[int(np.argmax(lg))]
        best[name] = {**dict(zip(LEVELS, b, strict=True)), "p": float(1 / (1 + np.exp(-lg.max())))}
    truth = {"base": dict(BASE), "weights": {k: dict(v) for k, v in WEIGHTS.items()}, "best_cell": best,
             "levels": {k: list(v) for k, v in LEVELS.items()}, "share": share, "delivery": DELIVERY,
             "service": SERVICE, "month": month, "day": day}
    return MusicCampaign(contacts=contacts, segments=segs, truth=truth)
