"""``respond``: the simulator answers a contact plan (the closed loop's "respond" step).

Given who is offered which service over which channel on which day, the simulator draws
delivery, replies, valid replies, subscriptions and cancellations from each user's planted
take-up probability, and writes them as the contract's ``contacts`` rows plus the
month's new ``subscriptions``, its ``usage`` and its ``kpis`` rows. Outcomes depend on whom
the plan targets, so a better targeting model sells more, and the planted probability of
every user is known (:func:`take_up_probability`), so the best achievable plan is known.

What is planted (all in :data:`PLANTED`, copied into :attr:`Responses.planted`):

* **True take-up probability** of user *i* for service *s* in month *m* (the probability of
  subscribing when the offer reaches the handset over a neutral channel, never contacted
  before): ``logit p = logit(p_rule) + beta_s * z_s + u_is`` where ``p_rule`` is the J2 rule
  probability of :data:`dmkit.synth.propensity.RULES` on the usage of month *m - 1*,
  ``z_s`` the standardised (log) level of one smooth driver (:data:`SMOOTH`) in month
  *m - 1*, and ``u_is ~ N(0, HETEROGENEITY_SD)`` a fixed per-user effect drawn from the
  world's seed (unobservable: only the oracle knows it).
* **Channel**: delivery rate :data:`DELIVERY` and a multiplier :data:`CHANNEL_EFFECT` of the
  take-up probability given delivery.
* **Fatigue**: the probability is multiplied by ``FATIGUE ** k``, ``k`` = offers sent to the
  user (target group, any service) in the three months before *m*.
* **Control group** (and users not contacted): organic take-up ``CONTROL_FACTOR * p`` over
  the month; holders of the service never take it again.
* Replies: every subscriber replied validly; delivered non-subscribers send an invalid
  reply with probability ``INVALID_REPLY * p_delivered``. Subscribers cancel within three
  days with probability ``1 - RETENTION``.

Same ``seed``, same world and same plan (in any row order) give the same responses.
"""
from __future__ import annotations

import numbers
from dataclasses import dataclass, field

import numpy as np
import pandas as pd

from dmkit import catalog
from dmkit._results import Result, Summary, get_ax
from dmkit._validation import check_frame
from dmkit.contract.months import check_month
from dmkit.errors import parameter_error, schema_error
from dmkit.synth.calendar import DAY_NS, floor_to_microseconds, month_start, shift_month
from dmkit.synth.propensity import RULES, true_propensity

__all__ = ["respond", "take_up_probability", "Responses", "PLANTED", "SERVICES", "CHANNEL_EFFECT",
           "DELIVERY", "campaign_id"]

SERVICES: tuple[str, ...] = tuple(RULES)
"""The services with a planted take-up probability (the loop's offers)."""
CHANNEL_EFFECT: dict[str, float] = {"sms": 1.0, "wap_push": 0.8, "outbound": 1.5, "ivr": 0.6, "mms": 1.1}
"""Multiplier of the take-up probability once the offer is delivered, per contact channel."""
DELIVERY: dict[str, float] = {"sms": 0.92, "wap_push": 0.85, "outbound": 0.55, "ivr": 0.7, "mms": 0.8}
"""Share of offers that reach the user, per channel (an outbound call: answered)."""
SMOOTH: dict[str, tuple[str, float]] = {"newspaper": ("voice_minutes", 0.6),
                                       "mail_notify": ("gprs_kb", 0.6),
                                       "fetion": ("age", -0.6)}
"""Service -> (driver column of usage or users, coefficient on its standardised level)."""
HETEROGENEITY_SD = 0.3
FATIGUE = 0.7
CONTROL_FACTOR = 0.1
INVALID_REPLY = 0.2
RETENTION = 0.85
PLANTED: dict = {
    "services": list(SERVICES), "channel_effect": CHANNEL_EFFECT, "delivery": DELIVERY,
    "smooth": {k: list(v) for k, v in SMOOTH.items()},
    "heterogeneity_sd": HETEROGENEITY_SD, "fatigue": FATIGUE, "fatigue_months": 3,
    "control_factor": CONTROL_FACTOR, "invalid_reply": INVALID_REPLY, "retention": RETENTION,
    "formula": "logit p = logit(p_rule(usage m-1)) + beta * z(driver, m-1) + u; "
               "P(sub | delivered) = min(1, p * channel_effect * fatigue**k); control: control_factor * p",
}
PLAN_COLUMNS = ("user_id", "service", "channel", "group", "day", "window_start", "window_end")
_NAT = np.iinfo(np.int64).min
_HOUR_NS = 3_600 * 10**9


def campaign_id(month: str, service: str) -> str:
    """The ``contacts.campaign_id`` of the loop's offer of ``service`` in ``month``."""
    return f"LOOP-{month}-{service}"


@dataclass(frozen=True)
class Responses(Result):
    """The simulator's answer to one month's plan.

    Attributes
    ----------
    month : str
    contacts : DataFrame
        Contract ``contacts`` rows, one per plan row (campaign id :func:`campaign_id`,
        step 1), plus a ``channel`` column (the plan's channel).
    subscriptions : DataFrame
        The month's new ``subscriptions`` rows (campaign take-ups with the campaign id as
        ``source``; control-group and organic take-ups with source ``organic``), the columns
        and dtypes of the world's table.
    usage : DataFrame
        ``usage`` rows of the month for every user.
    kpis : DataFrame
        ``kpis`` rows of the month: the previous month's, with the penetration and growth of
        the offered services moved by the month's net adds per region.
    truth : DataFrame
        Per plan row: ``user_id, service, channel, group, eligible`` (not a holder),
        ``fatigue_contacts`` (k), ``p_true`` (the user's planted take-up probability) and
        ``p_effective`` (P(subscribe | row): delivery × channel × fatigue for targets,
        ``CONTROL_FACTOR * p_true`` for controls, 0 for holders).
    planted : dict
        :data:`PLANTED`.
    """

    month: str
    contacts: pd.DataFrame
    subscriptions: pd.DataFrame
    usage: pd.DataFrame
    kpis: pd.DataFrame
    truth: pd.DataFrame
    planted: dict = field(default_factory=dict)

    def to_frame(self) -> pd.DataFrame:
        """The contacts rows."""
        return self.contacts

    def counts(self) -> pd.DataFrame:
        """Per service and group: ``n``, ``delivered``, ``replied``, ``subscribed``,
        ``take_up`` (subscribed / n) and ``expected`` (mean ``p_effective``)."""
        c = self.contacts
        df = pd.DataFrame({"service": c["service"].astype(str), "group": c["group"].astype(str),
                           "delivered": c["delivered"].to_numpy(), "replied": c["replied_at"].notna().to_numpy(),
                           "subscribed": c["subscribed_at"].notna().to_numpy(),
                           "p": self.truth["p_effective"].to_numpy()})
        out = df.groupby(["service", "group"]).agg(n=("p", "size"), delivered=("delivered", "sum"),
                                                    replied=("replied", "sum"), subscribed=("subscribed", "sum"),
                                                    expected=("p", "mean"))
        out.insert(4, "take_up", out["subscribed"] / out["n"])
        return out.reset_index()

    def summary(self) -> Summary:
        """Counts per service and group against the planted expectation."""
        return Summary(f"Simulated responses, {self.month}", (("by service and group", self.counts()),),
                       (f"{len(self.subscriptions):,} new subscriptions (campaign, control and organic)",))

    def plot(self, ax=None):
        """Observed take-up against the planted expectation, per service and group."""
        ax = get_ax(ax)
        t = self.counts()
        x = np.arange(len(t))
        ax.bar(x - 0.2, t["take_up"], 0.4, label="observed")
        ax.bar(x + 0.2, t["expected"], 0.4, label="planted")
        ax.set_xticks(x, [f"{s}\n{g}" for s, g in zip(t["service"], t["group"], strict=True)])
        ax.set_ylabel("take-up")
        ax.set_title(f"Responses {self.month}")
        ax.legend()
        return ax


# --------------------------------------------------------------------------- probabilities
def _world_seed(pdata) -> int:
    truth = getattr(pdata, "truth", None)
    if truth is not None:
        return int(truth.seed)
    return int(pdata.meta.get("seed", 0))


def _month_rows(usage: pd.DataFrame, month: str) -> pd.DataFrame:
    rows = usage[usage["month"].astype(str) == month]
    if len(rows) == 0:
        have = sorted(map(str, usage["month"].unique()))
        raise schema_error(table="usage", column="month", expected=f"rows for the month before the offers, {month!r}",
                           found=f"months {have[-4:]}", fix="respond to month m needs the usage of month m - 1")
    return rows


def _driver(pdata, col: str, rows: pd.DataFrame, n: int) -> np.ndarray:
    src = rows if col in rows.columns else pdata.users
    x = np.zeros(n, dtype=np.float64)
    x[src["user_id"].to_numpy()] = src[col].to_numpy(dtype=np.float64)
    return x


def take_up_probability(pdata, *, month: str) -> pd.DataFrame:
    """Every user's planted take-up probability of each offer service in ``month``.

    Parameters
    ----------
    pdata : ProvinceData
        The simulated world holding the ``usage`` rows of ``month - 1``.
    month : str
        The month of the offers, 'YYYY-MM'.

    Returns
    -------
    DataFrame
        Index ``user_id`` (0..n-1); one float column ``p_<service>`` per :data:`SERVICES`.
    """
    check_month(month)
    prev = shift_month(month, -1)
    n = len(pdata.users)
    rows = _month_rows(pdata.usage, prev)
    feats = {c: _driver(pdata, c, rows, n) for c in {f for s in SERVICES for conj in RULES[s]["rules"]
                                                     for f, _, _ in conj}}
    rng = np.random.default_rng(np.random.SeedSequence([_world_seed(pdata), 0x7E5]))  # fixed per user
    u = rng.standard_normal((len(SERVICES), n)) * HETEROGENEITY_SD
    out = {}
    for i, s in enumerate(SERVICES):
        p0 = true_propensity(s, feats).astype(np.float64)
        col, beta = SMOOTH[s]
        x = _driver(pdata, col, rows, n)
        if col != "age":
            x = np.log1p(np.maximum(x, 0))
        z = np.clip((x - x.mean()) / (x.std() + 1e-9), -3, 3)
        logit = np.log(p0 / (1 - p0)) + beta * z + u[i]
        out[f"p_{s}"] = 1.0 / (1.0 + np.exp(-logit))
    return pd.DataFrame(out, index=pd.RangeIndex(n, name="user_id"))


# --------------------------------------------------------------------------- checks
def _check_plan(plan: object, n_users: int, month: str) -> pd.DataFrame:
    plan = check_frame(plan, table="plan", columns=PLAN_COLUMNS, min_rows=0)
    svc = plan["service"].astype(str)
    bad = ~svc.isin(SERVICES)
    if bad.any():
        raise schema_error(table="plan", column="service", expected=f"one of {list(SERVICES)}",
                           found=sorted(set(svc[bad]))[:5], rows=plan[bad].head(3).to_dict("records"))
    ch = plan["channel"].astype(str)
    bad = ~ch.isin(list(CHANNEL_EFFECT))
    if bad.any():
        raise schema_error(table="plan", column="channel", expected=f"one of {list(CHANNEL_EFFECT)}",
                           found=sorted(set(ch[bad]))[:5])
    g = plan["group"].astype(str)
    bad = ~g.isin(catalog.CONTACT_GROUPS)
    if bad.any():
        raise schema_error(table="plan", column="group", expected="'target' or 'control'", found=sorted(set(g[bad]))[:5])
    uid = plan["user_id"].to_numpy()
    if not pd.api.types.is_integer_dtype(plan["user_id"]) or (len(uid) and (uid.min() < 0 or uid.max() >= n_users)):
        raise schema_error(table="plan", column="user_id", expected=f"integer user ids in [0, {n_users})",
                           found=f"dtype {plan['user_id'].dtype}, range {uid.min() if len(uid) else None}.."
                                 f"{uid.max() if len(uid) else None}")
    ndays = pd.Period(month, "M").days_in_month
    day = plan["day"].to_numpy()
    if len(day) and (day.min() < 1 or day.max() > ndays):
        raise schema_error(table="plan", column="day", expected=f"days of {month} in [1, {ndays}]",
                           found=f"{day.min()}..{day.max()}")
    ws, we = plan["window_start"].to_numpy(float), plan["window_end"].to_numpy(float)
    if len(ws) and ((ws < 0).any() or (we > 24).any() or (we <= ws).any()):
        raise schema_error(table="plan", column="window_start",
                           expected="send windows in hours with 0 <= window_start < window_end <= 24",
                           found=f"{ws.min()}..{we.max()}")
    dup = plan.duplicated(["user_id", "service"]).to_numpy()
    if dup.any():
        raise schema_error(table="plan", column="user_id", expected="one row per (user_id, service)",
                           found=f"{int(dup.sum())} duplicate rows", rows=plan[dup].head(3).to_dict("records"))
    return plan


def _holders(subs: pd.DataFrame, service: str, t: np.int64, n: int) -> np.ndarray:
    s = subs[(subs["service"] == service).to_numpy()] if len(subs) else subs
    start = s["start"].to_numpy().view(np.int64)
    end = s["end"].to_numpy().view(np.int64)
    ok = (start < t) & ((end == _NAT) | (end >= t))
    out = np.zeros(n, dtype=bool)
    out[s["user_id"].to_numpy()[ok]] = True
    return out


def _fatigue_contacts(contacts: pd.DataFrame, t0: np.int64, t_from: np.int64, n: int) -> np.ndarray:
    if len(contacts) == 0:
        return np.zeros(n, dtype=np.int32)
    sent = contacts["sent_at"].to_numpy().view(np.int64)
    ok = (sent != _NAT) & (sent >= t_from) & (sent < t0) & (contacts["group"].astype(str).to_numpy() == "target")
    return np.bincount(contacts["user_id"].to_numpy()[ok], minlength=n).astype(np.int32)


# --------------------------------------------------------------------------- respond
def respond(pdata, plan: pd.DataFrame, *, month: str, seed: int) -> Responses:
    """Answer ``plan`` in ``month`` on the simulated world ``pdata``.

    Parameters
    ----------
    pdata : ProvinceData
        The world so far: ``users``; ``usage`` up to ``month - 1``; ``subscriptions`` and
        ``contacts`` up to the end of ``month - 1``; ``kpis`` with ``month - 1``.
    plan : DataFrame
        One row per offer: ``user_id``, ``service`` (one of :data:`SERVICES`), ``channel``
        (one of :data:`CHANNEL_EFFECT`), ``group`` (``target``: sent; ``control``: held
        out), ``day`` (day of the month of the send), ``window_start`` / ``window_end``
        (send window, hours of the day). One row per (user_id, service).
    month : str
        The month of the offers, 'YYYY-MM'.
    seed : int
        Seed of the draws (>= 0).

    Returns
    -------
    Responses
        ``contacts``, new ``subscriptions``, ``usage`` and ``kpis`` of the month, and the
        per-row ``truth``.

    Raises
    ------
    SchemaError
        A plan column is missing or holds an unknown service, channel or group, a user id
        outside the world, a day outside the month, a bad window or duplicate rows; no usage
        for ``month - 1``.
    ParameterError
        Malformed month, bad seed.
    """
    check_month(month)
    if isinstance(seed, bool) or not isinstance(seed, numbers.Integral) or seed < 0:
        raise parameter_error("seed", expected="an integer >= 0", found=seed)
    n = len(pdata.users)
    plan = _check_plan(plan, n, month)
    plan = plan.assign(service=plan["service"].astype(str)).sort_values(["service", "user_id"], kind="stable")
    plan = plan.reset_index(drop=True)
    ym = int(month[:4]) * 12 + int(month[5:7])
    rng = np.random.default_rng(np.random.SeedSequence([int(seed), ym]))
    t0 = month_start(month).astype(np.int64)
    t_end = month_start(shift_month(month, 1)).astype(np.int64)
    t_fat = month_start(shift_month(month, -int(PLANTED["fatigue_months"]))).astype(np.int64)
    p_all = take_up_probability(pdata, month=month)
    subs = pdata.subscriptions
    held = {s: _holders(subs, s, t0, n) for s in SERVICES}
    k_fat = _fatigue_contacts(pdata.contacts, t0, t_fat, n)

    uid = plan["user_id"].to_numpy().astype(np.int64)
    svc = plan["service"].to_numpy()
    ch = plan["channel"].astype(str).to_numpy()
    ctrl = plan["group"].astype(str).to_numpy() == "control"
    k = len(plan)
    p_true = np.zeros(k)
    eligible = np.zeros(k, dtype=bool)
    for s in SERVICES:
        m = svc == s
        p_true[m] = p_all[f"p_{s}"].to_numpy()[uid[m]]
        eligible[m] = ~held[s][uid[m]]
    deliv_rate = np.array([DELIVERY[c] for c in ch]) if k else np.zeros(0)
    effect = np.array([CHANNEL_EFFECT[c] for c in ch]) if k else np.zeros(0)
    p_deliv = np.minimum(1.0, p_true * effect * FATIGUE ** k_fat[uid])
    p_eff = np.where(ctrl, CONTROL_FACTOR * p_true, deliv_rate * p_deliv) * eligible

    # ---- draws (fixed order: one vector per quantity over the sorted plan) -----------
    r_del, r_sub, r_inv, r_ret = (rng.random(k) for _ in range(4))
    r_hour, r_lag, r_sec, r_un, r_ctime = (rng.random(k) for _ in range(5))
    delivered = ~ctrl & (r_del < deliv_rate)
    sub_t = delivered & eligible & (r_sub < p_deliv)
    invalid = delivered & ~sub_t & (r_inv < INVALID_REPLY * p_deliv)
    sub_c = ctrl & eligible & (r_sub < CONTROL_FACTOR * p_true)
    day = plan["day"].to_numpy().astype(np.int64)
    ws, we = plan["window_start"].to_numpy(float), plan["window_end"].to_numpy(float)
    sent = t0 + (day - 1) * DAY_NS + ((ws + (we - ws) * r_hour) * _HOUR_NS).astype(np.int64)
    sent = np.where(ctrl, _NAT, sent)
    last = t_end - 10**9
    replied = np.full(k, _NAT, dtype=np.int64)
    rep = sub_t | invalid
    lag = (-np.log1p(-r_lag) * 0.5 * DAY_NS).astype(np.int64)
    replied[rep] = np.minimum(sent[rep] + lag[rep], last - 200 * 10**9)
    subscribed = np.full(k, _NAT, dtype=np.int64)
    subscribed[sub_t] = replied[sub_t] + (5 + 115 * r_sec[sub_t]).astype(np.int64) * 10**9
    subscribed[sub_c] = t0 + (r_ctime[sub_c] * (t_end - t0 - 10 * 10**9)).astype(np.int64)
    has = subscribed != _NAT
    unsub = np.full(k, _NAT, dtype=np.int64)
    drop = has & (r_ret >= RETENTION)
    unsub[drop] = np.minimum(subscribed[drop] + ((0.1 + 2.9 * r_un[drop]) * DAY_NS).astype(np.int64), last)
    for a in (sent, replied, subscribed, unsub):
        floor_to_microseconds(a)

    cids = [campaign_id(month, s) for s in SERVICES]
    code = pd.Series(svc, dtype=object).map({s: i for i, s in enumerate(SERVICES)}).to_numpy(dtype=np.int8)
    contacts = pd.DataFrame({
        "campaign_id": pd.Categorical.from_codes(code.astype(np.int8), categories=cids),
        "user_id": uid.astype(np.int32),
        "step": np.ones(k, dtype=np.int8),
        "service": pd.Categorical(svc, categories=list(catalog.SERVICES)),
        "group": pd.Categorical(np.where(ctrl, "control", "target"), categories=list(catalog.CONTACT_GROUPS)),
        "sent_at": sent.view("datetime64[ns]"),
        "delivered": delivered,
        "replied_at": replied.view("datetime64[ns]"),
        "reply_valid": sub_t.copy(),
        "subscribed_at": subscribed.view("datetime64[ns]"),
        "unsubscribed_at": unsub.view("datetime64[ns]"),
        "channel": pd.Categorical(ch, categories=list(CHANNEL_EFFECT)),
    })
    truth = pd.DataFrame({"user_id": uid.astype(np.int32), "service": svc, "channel": ch,
                          "group": np.where(ctrl, "control", "target"), "eligible": eligible,
                          "fatigue_contacts": k_fat[uid], "p_true": p_true, "p_effective": p_eff})

    # ---- organic take-up of everyone not in the plan -----------------------------------
    org_users, org_svc, org_t = [], [], []
    for s in SERVICES:
        in_plan = np.zeros(n, dtype=bool)
        in_plan[uid[svc == s]] = True
        pool = ~held[s] & ~in_plan
        draw = rng.random(n)
        tt = rng.random(n)
        take = pool & (draw < CONTROL_FACTOR * p_all[f"p_{s}"].to_numpy())
        idx = np.flatnonzero(take)
        org_users.append(idx)
        org_svc.append(np.full(len(idx), s, dtype=object))
        org_t.append(t0 + (tt[idx] * (t_end - t0 - 10 * 10**9)).astype(np.int64))
    o_users = np.concatenate(org_users)
    o_t = floor_to_microseconds(np.concatenate(org_t))
    new_subs = _subscription_rows(pdata, month=month, contacts=contacts, plan_channel=ch,
                                  organic=(o_users, np.concatenate(org_svc), o_t))
    usage = _next_usage(pdata, rng, month)
    kpis = _next_kpis(pdata, rng, month, held, new_subs, t_end)
    return Responses(month=month, contacts=contacts, subscriptions=new_subs, usage=usage, kpis=kpis,
                     truth=truth, planted=PLANTED)


def _subscription_rows(pdata, *, month, contacts, plan_channel, organic) -> pd.DataFrame:
    subs = pdata.subscriptions
    has = contacts["subscribed_at"].notna().to_numpy()
    ctrl = contacts["group"].astype(str).to_numpy() == "control"
    camp = has & ~ctrl
    o_users, o_svc, o_t = organic
    users = np.concatenate([contacts["user_id"].to_numpy()[has], o_users]).astype(np.int32)
    svc = np.concatenate([contacts["service"].astype(str).to_numpy()[has], o_svc])
    start = np.concatenate([contacts["subscribed_at"].to_numpy()[has].view(np.int64), o_t])
    end = np.concatenate([contacts["unsubscribed_at"].to_numpy()[has].view(np.int64),
                          np.full(len(o_users), _NAT, dtype=np.int64)])
    pref = pdata.users["preferred_channel"].astype(str).to_numpy()
    pch = np.where(np.isin(plan_channel, catalog.CHANNELS), plan_channel, "sms")
    channel = np.concatenate([np.where(ctrl[has], pref[contacts["user_id"].to_numpy()[has]], pch[has]),
                              pref[o_users]])
    source = np.concatenate([np.where(camp[has], contacts["campaign_id"].astype(str).to_numpy()[has], "organic"),
                             np.full(len(o_users), "organic", dtype=object)])
    out = pd.DataFrame({
        "user_id": users,
        "service": pd.Categorical(svc, categories=list(catalog.SERVICES)),
        "start": start.view("datetime64[ns]"),
        "end": end.view("datetime64[ns]"),
        "channel": pd.Categorical(channel, categories=list(catalog.CHANNELS)),
        "source": pd.Categorical(source),
    })
    if "sp_id" in subs.columns:
        out["sp_id"] = pd.Categorical([None] * len(out), categories=subs["sp_id"].cat.categories
                                      if isinstance(subs["sp_id"].dtype, pd.CategoricalDtype) else None)
    return out.sort_values(["user_id", "service", "start"], kind="stable").reset_index(drop=True)


_NOISE_SD = 0.1


def _next_usage(pdata, rng, month: str) -> pd.DataFrame:
    prev = _month_rows(pdata.usage, shift_month(month, -1))
    ndays = pd.Period(month, "M").days_in_month
    cols = {"user_id": prev["user_id"].to_numpy(),
            "month": pd.Categorical([month] * len(prev))}
    for c in prev.columns:
        if c in ("user_id", "month"):
            continue
        x = prev[c].to_numpy()
        f = np.exp(rng.standard_normal(len(x)) * _NOISE_SD)
        if pd.api.types.is_integer_dtype(x.dtype):
            info = np.iinfo(x.dtype)
            hi = ndays if c == "call_days" else info.max
            cols[c] = np.clip(np.rint(x * f), 0, hi).astype(x.dtype)
        else:
            cols[c] = (x * f).astype(x.dtype)
    return pd.DataFrame(cols)


def _next_kpis(pdata, rng, month: str, held: dict, new_subs: pd.DataFrame, t_end) -> pd.DataFrame:
    prev_m = shift_month(month, -1)
    k = pdata.kpis
    prev = k[k["month"].astype(str) == prev_m].copy()
    if len(prev) == 0:
        raise schema_error(table="kpis", column="month", expected=f"rows for {prev_m!r}", found="none")
    n = len(pdata.users)
    pref = pdata.users["prefecture"].astype(str).to_numpy()
    old = pdata.subscriptions
    both = pd.concat([old.loc[old["service"].isin(SERVICES).to_numpy(), ["user_id", "start", "end"]]
                      .assign(service=lambda d: old.loc[d.index, "service"].astype(str)),
                      new_subs[["user_id", "start", "end"]].assign(service=new_subs["service"].astype(str))],
                     ignore_index=True)
    for c in ("activity", "loyalty", "retention", "revenue_share", "usage_per_user"):
        if c in prev.columns:
            v = prev[c].to_numpy(float) * np.exp(rng.standard_normal(len(prev)) * 0.02)
            prev[c] = np.clip(v, 0, 1) if c != "usage_per_user" else v
    for s in SERVICES:
        before = pd.Series(held[s]).groupby(pref).sum()
        after = pd.Series(_holders(both, s, t_end, n)).groupby(pref).sum()
        ratio = (after / before.where(before > 0)).fillna(1.0)
        rows = prev["service"].astype(str) == s
        r = ratio.reindex(prev.loc[rows, "region"].astype(str)).fillna(1.0).to_numpy()
        prev.loc[rows, "penetration"] = np.clip(prev.loc[rows, "penetration"].to_numpy() * r, 0, 1)
        prev.loc[rows, "growth"] = np.maximum(r - 1.0, -1.0)
    prev["month"] = pd.Categorical([month] * len(prev))
    return prev.reset_index(drop=True)
