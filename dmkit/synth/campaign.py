"""The J3 two-step campaign of the data month, with control groups.

Step 1 (days 6–9): the World Cup MMS offer (service ``monternet_mms``) to the users the
news-type model scores highest (score = logit(p_newspaper) + N(0, 1)) among those who do
not hold ``monternet_mms``; 10% of them are held out as a control group. Delivery by day,
replies, valid replies, subscriptions and cancellations follow J3's table.
Step 2 (days 9, 12, 13, 14): the mail-notification offer (``mail_notify``) to step 1's
delivered non-responders; its take-up follows ``p_mail_notify``; 10% held out.
Take-up in the treated groups rises with the score, more steeply than in the control
groups, so uplift is positive and grows with the score.
"""
from __future__ import annotations

import numpy as np
import pandas as pd

from dmkit import catalog
from dmkit.synth.calendar import DAY_NS, floor_to_microseconds, month_start, shift_month
from dmkit.synth.profiles import SP_SERVICES
from dmkit.synth.subscriptions import CHAN, NAT, SubsBuilder, kind_start

__all__ = ["STEP1", "STEP2", "TARGET_SHARE", "CONTROL_SHARE", "draw_campaign"]

TARGET_SHARE = 0.4      # of all users, chosen by the score
CONTROL_SHARE = 0.1     # of the chosen, held out
STEP1 = {
    "service": "monternet_mms", "days": [6, 7, 8, 9],
    "sent_weights": [1_054_915, 1_451_999, 1_540_776, 662_391],
    "delivery_by_day": [521_900 / 1_054_915, 481_760 / 1_451_999, 603_416 / 1_540_776,
                        314_750 / 662_391],
    "delivery_rate": 1_921_826 / 4_710_081,
    "response_rate": 34_474 / 1_921_826,
    "valid_reply_rate": 28_622 / 34_474,
    "subscription_rate": 28_622 / 1_921_826,
    "retention": 23_270 / 28_622,
    "control_rate": 0.0015,
    "windows": [[9.5, 12.0], [14.0, 17.0], [18.0, 21.0]],
    "last_reply_day": 11,
}
STEP2 = {
    "service": "mail_notify", "days": [9, 12, 13, 14],
    "sent_weights": [192_311, 473_476, 850_303, 371_262],
    "delivery_rate": 0.9,
    "subscription_rate_of_targets": 31_660 / 1_887_352,
    "valid_reply_rate": 28_622 / 34_474,
    "retention": 0.99,
    "control_rate": 0.004,
}
STEP2["subscription_rate"] = STEP2["subscription_rate_of_targets"] / STEP2["delivery_rate"]
STEP2["response_rate"] = STEP2["subscription_rate"] / STEP2["valid_reply_rate"]


def _weights(x: np.ndarray) -> np.ndarray:
    z = (x - x.mean()) / (x.std() + 1e-9)
    return np.exp(0.5 * z)


def _bern(rng, rate, w, eligible):
    """Bernoulli with probabilities rate * w normalised so the mean over all rows is ``rate``."""
    tot = w[eligible].sum()
    p = np.where(eligible, rate * w * len(w) / max(tot, 1e-9), 0.0)
    return rng.random(len(w)) < np.minimum(p, 1.0)


def _send_times(rng, month, days, weights, k, windows=None):
    t0 = month_start(month).astype(np.int64)
    wts = np.asarray(weights, float) / np.sum(weights)
    d = rng.choice(len(days), size=k, p=wts)
    if windows is None:
        windows = [[9.0, 18.0]]
    w = rng.integers(0, len(windows), k)
    lo = np.array([a for a, _ in windows])[w]
    hi = np.array([b for _, b in windows])[w]
    hours = lo + (hi - lo) * rng.random(k)
    day = np.asarray(days, dtype=np.int64)[d] - 1
    return t0 + day * DAY_NS + (hours * 3600e9).astype(np.int64), d


def draw_campaign(rng: np.random.Generator, *, profile, month: str, p_news: np.ndarray,
                  p_mail: np.ndarray, subs: SubsBuilder,
                  sp_weights: np.ndarray) -> tuple[pd.DataFrame, dict]:
    """Contacts table rows of both steps; adds the resulting subscriptions to ``subs``."""
    n = len(p_news)
    cid = f"{profile.code}-{month}-worldcup"
    src = subs.source_code(cid)
    t_month_end = month_start(shift_month(month, 1)).astype(np.int64)
    t0 = month_start(month).astype(np.int64)

    # ---- step 1 ----------------------------------------------------------------------
    pool = ~subs.active(STEP1["service"]) & (rng.random(n) >= 0.02)   # 2% sensitive numbers
    score = np.log(p_news / (1 - p_news)) + rng.standard_normal(n)
    cand = np.flatnonzero(pool)
    k = min(len(cand), max(1, int(round(TARGET_SHARE * n))))
    if k < len(cand):
        chosen = np.sort(cand[np.argpartition(-score[cand], k - 1)[:k]])
    else:
        chosen = cand
    control = rng.random(k) < CONTROL_SHARE
    w1 = _weights(score[chosen])
    rows1 = _step(rng, month, chosen, control, w1, STEP1, t0, t_month_end,
                  eligible=np.ones(k, bool), reply_end_day=STEP1["last_reply_day"])

    # ---- step 2: delivered non-responders of step 1 ----------------------------------
    nonresp = (~control) & rows1["delivered"] & (rows1["replied_at"] == NAT)
    users2 = chosen[nonresp]
    k2 = len(users2)
    control2 = rng.random(k2) < CONTROL_SHARE
    w2 = 0.5 + 0.5 * p_mail[users2] / max(float(p_mail[users2].mean()) if k2 else 1.0, 1e-9)
    elig2 = ~subs.active(STEP2["service"])[users2]
    rows2 = _step(rng, month, users2, control2, w2, STEP2, t0, t_month_end, eligible=elig2,
                  reply_end_day=None)

    frames = []
    for step, users, ctrl, rows, spec in ((1, chosen, control, rows1, STEP1),
                                          (2, users2, control2, rows2, STEP2)):
        k_rows = len(users)
        for col in ("sent_at", "replied_at", "subscribed_at", "unsubscribed_at"):
            floor_to_microseconds(rows[col])
        frames.append(pd.DataFrame({
            "campaign_id": pd.Categorical.from_codes(np.zeros(k_rows, np.int8), categories=[cid]),
            "user_id": users.astype(np.int32), "step": np.full(k_rows, step, dtype=np.int8),
            "service": pd.Categorical.from_codes(
                np.full(k_rows, catalog.SERVICES.index(spec["service"]), dtype=np.int8),
                categories=list(catalog.SERVICES)),
            "group": pd.Categorical.from_codes(ctrl.astype(np.int8), categories=["target", "control"]),
            "sent_at": rows["sent_at"].view("datetime64[ns]"),
            "delivered": rows["delivered"],
            "replied_at": rows["replied_at"].view("datetime64[ns]"),
            "reply_valid": rows["reply_valid"],
            "subscribed_at": rows["subscribed_at"].view("datetime64[ns]"),
            "unsubscribed_at": rows["unsubscribed_at"].view("datetime64[ns]"),
        }, copy=False))
        sub = rows["subscribed_at"] != NAT
        ch = np.where(ctrl[sub], CHAN["hall"], CHAN["sms"]).astype(np.int8)
        source = np.where(ctrl[sub], 0, src).astype(np.int16)
        sp = None
        if spec["service"] in SP_SERVICES:   # the campaign's content comes from the largest SP
            sp = np.full(int(sub.sum()), int(np.argmax(sp_weights)), dtype=np.int16)
        subs.add(users[sub], spec["service"], rows["subscribed_at"][sub],
                 rows["unsubscribed_at"][sub], channel=ch, source=source, sp=sp, main=False)
    contacts = pd.concat(frames, ignore_index=True)
    truth = {
        "campaign_id": cid,
        "campaign_ids": [cid],
        "steps": [{"step": 1, **STEP1}, {"step": 2, **STEP2}],
        "target_share": TARGET_SHARE, "control_share": CONTROL_SHARE,
        "score": "logit(p_newspaper) + N(0, 1); top target_share of users not holding monternet_mms",
        "delivery_rate": STEP1["delivery_rate"], "response_rate": STEP1["response_rate"],
        "valid_reply_rate": STEP1["valid_reply_rate"],
        "subscription_rate": STEP1["subscription_rate"], "retention": STEP1["retention"],
        "control_rate": STEP1["control_rate"],
    }
    return contacts, truth


def _step(rng, month, users, control, w, spec, t0, t_end, *, eligible, reply_end_day):
    k = len(users)
    treated = ~control
    sent = np.full(k, NAT, dtype=np.int64)
    ti, dayi = _send_times(rng, month, spec["days"], spec["sent_weights"], int(treated.sum()),
                           spec.get("windows"))
    sent[treated] = ti
    delivered = np.zeros(k, dtype=bool)
    if "delivery_by_day" in spec:
        p_del = np.asarray(spec["delivery_by_day"])[dayi]
    else:
        p_del = np.full(int(treated.sum()), spec["delivery_rate"])
    delivered[treated] = rng.random(int(treated.sum())) < p_del

    # treated: replies among the delivered, a share of them valid (= subscription)
    resp = np.zeros(k, dtype=bool)
    d_idx = np.flatnonzero(delivered)
    resp[d_idx] = _bern(rng, spec["response_rate"], w[d_idx], eligible[d_idx] | True)
    valid = resp & (rng.random(k) < spec["valid_reply_rate"]) & eligible
    replied = np.full(k, NAT, dtype=np.int64)
    if reply_end_day is not None:   # step 1: replies within hours to a couple of days
        lag = rng.standard_exponential(k) * 0.5 * DAY_NS
        cap = t0 + reply_end_day * DAY_NS - 10**9
    else:                           # step 2: many subscribe after the sends end
        lag = np.where(rng.random(k) < 0.4, rng.standard_exponential(k) * 0.7,
                       rng.random(k) * 20.0) * DAY_NS
        cap = t_end - 3600 * 10**9
    r_time = np.minimum(sent + lag.astype(np.int64), cap)
    r_time = np.maximum(r_time, sent)
    replied[resp] = r_time[resp]
    sub_at = np.full(k, NAT, dtype=np.int64)
    sub_at[valid] = replied[valid] + rng.integers(5, 120, int(valid.sum())) * 10**9
    # control: organic take-up in the same days, lower and flatter in the score
    c_idx = np.flatnonzero(control)
    c_sub = _bern(rng, spec["control_rate"], np.sqrt(w[c_idx]), eligible[c_idx])
    first_day = spec["days"][0] - 1
    c_time = t0 + first_day * DAY_NS + (rng.random(len(c_idx)) * 6 * DAY_NS).astype(np.int64)
    sub_at[c_idx[c_sub]] = c_time[c_sub]
    has = sub_at != NAT
    sub_at[has] = np.minimum(sub_at[has], t_end - 10**9)
    sub_at[has] = kind_start(sub_at[has], kind=1)
    unsub = np.full(k, NAT, dtype=np.int64)
    drop = has & (rng.random(k) >= spec["retention"])
    un_t = sub_at + (rng.uniform(0.1, 3.0, k) * DAY_NS).astype(np.int64)
    unsub[drop] = np.minimum(un_t[drop], t_end - 10**9 + 500)
    return {"sent_at": sent, "delivered": delivered, "replied_at": replied,
            "reply_valid": valid, "subscribed_at": sub_at, "unsubscribed_at": unsub}
